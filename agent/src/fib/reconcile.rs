//! The pure comparison of the desired routes with the kernel's.
//!
//! [`reconcile`] keeps what is right, replaces what differs, adds what is
//! missing and deletes what is stale: routes of our protocol that nobody
//! wants any more. Deleting stale routes waits for a graceful-restart
//! deadline the caller passes ([`Grace`]): after a daemon restart the
//! kernel still forwards on the previous instance's routes while the
//! speaker relearns them (RFC 4724; zebra's `-K`, BIRD's `-R`). No I/O, no
//! clock: the caller reads the time.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use super::route::{Route, RouteKey, RouteKind};
use super::table::{FibTable, Sides};

/// When stale routes may be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grace {
    /// Now.
    Over,
    /// At `deadline`; before it (judged at `now`) they are kept.
    Until { now: Instant, deadline: Instant },
}

impl Grace {
    /// `Until` if `deadline` is set and still ahead of `now`, else `Over`.
    pub fn at(now: Instant, deadline: Option<Instant>) -> Self {
        match deadline {
            Some(deadline) if now < deadline => Self::Until { now, deadline },
            _ => Self::Over,
        }
    }

    fn keeps_stale(&self) -> bool {
        matches!(self, Self::Until { now, deadline } if now < deadline)
    }
}

/// What to do to the kernel. Each list is sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Missing or different: send with `NLM_F_REPLACE | NLM_F_CREATE`.
    pub add_or_replace: Vec<Route>,
    /// Stale and past the deadline: delete with the exact key.
    pub delete: Vec<Route>,
    /// Stale but within the grace period: keep for now.
    pub deferred: Vec<Route>,
    /// When the deferred routes are due, if there are any.
    pub sweep_at: Option<Instant>,
}

impl Plan {
    /// Whether the kernel already is as desired (deferred routes aside).
    pub fn is_empty(&self) -> bool {
        self.add_or_replace.is_empty() && self.delete.is_empty()
    }
}

/// Compares every key of the table.
pub fn reconcile(table: &FibTable, grace: Grace) -> Plan {
    let mut plan = Plan::default();
    for (_, sides) in table.iter() {
        judge(sides, grace, &mut plan);
    }
    plan.add_or_replace.sort_unstable_by_key(Route::key);
    plan.delete.sort_unstable_by_key(Route::key);
    plan.deferred.sort_unstable_by_key(Route::key);
    plan.finish(grace)
}

/// Compares only `keys` (for repairing the few routes an event touched).
/// Duplicate keys are compared once.
pub fn reconcile_keys(
    table: &FibTable,
    keys: impl IntoIterator<Item = RouteKey>,
    grace: Grace,
) -> Plan {
    let mut keys: Vec<RouteKey> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut plan = Plan::default();
    for key in keys {
        judge(table.sides(&key), grace, &mut plan);
    }
    plan.finish(grace)
}

/// What one key needs.
fn judge(sides: Sides, grace: Grace, plan: &mut Plan) {
    match (sides.desired, sides.kernel) {
        (Some(want), Some(have)) if want.is_satisfied_by(&have) => {}
        (Some(want), _) => plan.add_or_replace.push(want),
        (None, Some(have)) if grace.keeps_stale() => plan.deferred.push(have),
        (None, Some(have)) => plan.delete.push(have),
        (None, None) => {}
    }
}

impl Plan {
    fn finish(mut self, grace: Grace) -> Self {
        if let (false, Grace::Until { deadline, .. }) = (self.deferred.is_empty(), grace) {
            self.sweep_at = Some(deadline);
        }
        self
    }
}

/// How one route compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// The kernel has what is desired.
    Synced,
    /// The kernel has a different route for the key (drift).
    Differs,
    /// Desired, not in the kernel (drift, or a refused route).
    Missing,
    /// Not desired, kept until the graceful-restart deadline.
    Stale,
    /// Not desired and past any deadline (drift).
    Unexpected,
}

impl EntryState {
    /// Whether this is drift.
    pub fn is_drift(self) -> bool {
        matches!(self, Self::Differs | Self::Missing | Self::Unexpected)
    }
}

/// One key of `show fib`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FibEntry {
    pub key: RouteKey,
    pub desired: Option<RouteKind>,
    pub kernel: Option<RouteKind>,
    pub state: EntryState,
}

/// Every key desired in `table` or found in `kernel` (a fresh dump),
/// compared, sorted by key (for `show fib`). Routes not desired are `Stale`
/// while `in_grace`, else `Unexpected`.
pub fn compare(table: &FibTable, kernel: &[Route], in_grace: bool) -> Vec<FibEntry> {
    let kernel: HashMap<RouteKey, &Route> = kernel.iter().map(|r| (r.key(), r)).collect();
    let mut keys: Vec<RouteKey> = table.desired_keys().chain(kernel.keys().copied()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let want = table.sides(&key).desired;
            let have = kernel.get(&key).copied();
            let state = match (want, have) {
                (Some(d), Some(k)) if d.is_satisfied_by(k) => EntryState::Synced,
                (Some(_), Some(_)) => EntryState::Differs,
                (Some(_), None) => EntryState::Missing,
                (None, _) if in_grace => EntryState::Stale,
                (None, _) => EntryState::Unexpected,
            };
            FibEntry {
                key,
                desired: want.map(|r| r.kind),
                kernel: have.map(|r| r.kind),
                state,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;
    use std::time::Duration;

    use ipnet::IpNet;
    use proptest::prelude::*;

    use super::*;
    use crate::fib::route::{MAIN_TABLE, RouteKind, RouteParams};

    fn params() -> RouteParams {
        RouteParams::default()
    }

    fn via(prefix: &str, gateway: &str, ifindex: Option<u32>) -> Route {
        params().route(
            prefix.parse().unwrap(),
            RouteKind::Via {
                gateway: gateway.parse().unwrap(),
                ifindex,
            },
        )
    }

    /// A table desiring `desired` whose kernel holds `kernel`.
    fn table(desired: &[Route], kernel: &[Route]) -> FibTable {
        let mut table = FibTable::new(params());
        for r in desired {
            table.set_desired(r.prefix, r.kind);
        }
        for r in kernel {
            table.set_kernel(*r);
        }
        table
    }

    fn later() -> (Instant, Instant) {
        let now = Instant::now();
        (now, now + Duration::from_secs(120))
    }

    #[test]
    fn keeps_right_fixes_wrong_adds_missing_deletes_stale() {
        let right = via("10.0.0.1/32", "192.0.2.2", None);
        let wrong_want = via("10.0.0.2/32", "192.0.2.2", None);
        let wrong_have = via("10.0.0.2/32", "192.0.2.3", Some(2));
        let missing = via("10.0.0.3/32", "192.0.2.2", None);
        let stale = via("10.0.0.4/32", "192.0.2.2", Some(2));
        let mut right_in_kernel = right;
        right_in_kernel.kind = RouteKind::Via {
            gateway: "192.0.2.2".parse().unwrap(),
            ifindex: Some(2),
        };
        let t = table(
            &[right, wrong_want, missing],
            &[right_in_kernel, wrong_have, stale],
        );
        let plan = reconcile(&t, Grace::Over);
        assert_eq!(plan.add_or_replace, vec![wrong_want, missing]);
        assert_eq!(plan.delete, vec![stale]);
        assert!(plan.deferred.is_empty());
        assert_eq!(plan.sweep_at, None);
    }

    #[test]
    fn stale_routes_wait_for_the_deadline() {
        let stale = via("10.0.0.4/32", "192.0.2.2", Some(2));
        let (now, deadline) = later();
        let t = table(&[], &[stale]);
        let plan = reconcile(&t, Grace::at(now, Some(deadline)));
        assert!(plan.delete.is_empty());
        assert_eq!(plan.deferred, vec![stale]);
        assert_eq!(plan.sweep_at, Some(deadline));
        assert!(plan.is_empty());

        let plan = reconcile(&t, Grace::at(deadline, Some(deadline)));
        assert_eq!(plan.delete, vec![stale]);
        assert_eq!(plan.sweep_at, None);
    }

    #[test]
    fn a_different_metric_is_a_different_route() {
        let want = via("10.0.0.1/32", "192.0.2.2", None);
        let mut old_metric = want;
        old_metric.metric = 7;
        let plan = reconcile(&table(&[want], &[old_metric]), Grace::Over);
        assert_eq!(plan.add_or_replace, vec![want]);
        assert_eq!(plan.delete, vec![old_metric]);
    }

    #[test]
    fn kernel_routes_of_other_shapes_are_replaced() {
        let want = via("10.0.0.1/32", "192.0.2.2", None);
        let mut multipath = want;
        multipath.kind = RouteKind::Other;
        let plan = reconcile(&table(&[want], &[multipath]), Grace::Over);
        assert_eq!(plan.add_or_replace, vec![want]);
    }

    #[test]
    fn reconcile_keys_looks_only_at_the_keys_given() {
        let a = via("10.0.0.1/32", "192.0.2.2", None);
        let b = via("10.0.0.2/32", "192.0.2.2", None);
        let plan = reconcile_keys(&table(&[a, b], &[]), [b.key(), b.key()], Grace::Over);
        assert_eq!(plan.add_or_replace, vec![b]);
    }

    #[test]
    fn compare_flags_drift() {
        let synced = via("10.0.0.1/32", "192.0.2.2", None);
        let differs = via("10.0.0.2/32", "192.0.2.2", None);
        let missing = via("10.0.0.3/32", "192.0.2.2", None);
        let extra = via("10.0.0.4/32", "192.0.2.2", Some(2));
        let desired = table(&[synced, differs, missing], &[]);
        let kernel = [synced, via("10.0.0.2/32", "192.0.2.9", Some(2)), extra];
        let states = |in_grace| -> Vec<EntryState> {
            compare(&desired, &kernel, in_grace)
                .iter()
                .map(|e| e.state)
                .collect()
        };
        use EntryState::*;
        assert_eq!(states(false), vec![Synced, Differs, Missing, Unexpected]);
        assert_eq!(states(true), vec![Synced, Differs, Missing, Stale]);
        assert!(Unexpected.is_drift() && !Stale.is_drift() && !Synced.is_drift());
    }

    // ---- property: applying the plan to the kernel yields the desired map

    fn arb_kind() -> impl Strategy<Value = RouteKind> {
        prop_oneof![
            (1u32..4).prop_map(|ifindex| RouteKind::Local { ifindex }),
            (1u8..4, proptest::option::of(1u32..4)).prop_map(|(g, ifindex)| RouteKind::Via {
                gateway: IpAddr::from([192, 0, 2, g]),
                ifindex,
            }),
            Just(RouteKind::Other),
        ]
    }

    fn arb_route() -> impl Strategy<Value = Route> {
        // A small key space so desired and kernel overlap often.
        (0u8..24, prop_oneof![Just(50u32), Just(7u32)], arb_kind()).prop_map(
            |(host, metric, kind)| Route {
                prefix: IpNet::from(IpAddr::from([10, 0, 0, host])),
                kind,
                table: MAIN_TABLE,
                protocol: 200,
                metric,
            },
        )
    }

    /// Desired routes always carry the service's parameters (the service
    /// rewrites them so), and are never `Other`; kernel routes may have
    /// another metric and any kind.
    fn arb_routes(desired: bool) -> impl Strategy<Value = Vec<Route>> {
        proptest::collection::vec(arb_route(), 0..32).prop_map(move |routes| {
            routes
                .into_iter()
                .filter(|r| !desired || r.kind != RouteKind::Other)
                .map(|r| {
                    if desired {
                        params().route(r.prefix, r.kind)
                    } else {
                        r
                    }
                })
                .collect()
        })
    }

    /// The routes as a map by key, later ones winning (as in the table).
    fn by_key(routes: &[Route]) -> HashMap<RouteKey, Route> {
        routes.iter().map(|r| (r.key(), *r)).collect()
    }

    /// What the kernel does with a plan: replace inserts exactly what was
    /// sent, delete removes the key.
    fn apply(kernel: &[Route], plan: &Plan) -> HashMap<RouteKey, Route> {
        let mut kernel = by_key(kernel);
        for r in &plan.add_or_replace {
            kernel.insert(r.key(), *r);
        }
        for r in &plan.delete {
            kernel.remove(&r.key());
        }
        kernel
    }

    proptest! {
        #[test]
        fn applying_the_plan_yields_the_desired_map(
            desired in arb_routes(true),
            kernel in arb_routes(false),
        ) {
            let plan = reconcile(&table(&desired, &kernel), Grace::Over);
            let after = apply(&kernel, &plan);
            let desired = by_key(&desired);
            // Same keys, and every desired route satisfied (a desired `Via`
            // without an interface accepts the one the kernel chose).
            let mut keys: Vec<_> = after.keys().collect();
            let mut want: Vec<_> = desired.keys().collect();
            keys.sort();
            want.sort();
            prop_assert_eq!(keys, want);
            for (key, route) in &desired {
                prop_assert!(after.get(key).is_some_and(|have| route.is_satisfied_by(have)));
            }
            prop_assert!(plan.deferred.is_empty());
            let after: Vec<Route> = after.into_values().collect();
            let desired_routes: Vec<Route> = desired.values().copied().collect();
            prop_assert!(reconcile(&table(&desired_routes, &after), Grace::Over).is_empty());
            // Nothing right is touched.
            let kernel = by_key(&kernel);
            for r in &plan.add_or_replace {
                prop_assert!(!kernel.get(&r.key()).is_some_and(|k| r.is_satisfied_by(k)));
            }
            for r in &plan.delete {
                prop_assert!(!desired.contains_key(&r.key()));
            }
        }

        #[test]
        fn within_grace_only_stale_routes_remain(
            desired in arb_routes(true),
            kernel in arb_routes(false),
        ) {
            let (now, deadline) = later();
            let plan = reconcile(&table(&desired, &kernel), Grace::at(now, Some(deadline)));
            prop_assert!(plan.delete.is_empty());
            let after = apply(&kernel, &plan);
            let desired_map = by_key(&desired);
            for (key, want) in &desired_map {
                prop_assert!(after.get(key).is_some_and(|have| want.is_satisfied_by(have)));
            }
            let stale: HashMap<RouteKey, Route> = after
                .iter()
                .filter(|(k, _)| !desired_map.contains_key(k))
                .map(|(k, r)| (*k, *r))
                .collect();
            prop_assert_eq!(stale, by_key(&plan.deferred));
            prop_assert_eq!(plan.sweep_at.is_some(), !plan.deferred.is_empty());
            // At the deadline the sweep removes exactly the deferred routes.
            let after: Vec<Route> = after.into_values().collect();
            let sweep = reconcile(
                &table(&desired, &after),
                Grace::at(deadline, Some(deadline)),
            );
            prop_assert!(sweep.add_or_replace.is_empty());
            prop_assert_eq!(sweep.delete, plan.deferred);
        }
    }
}
