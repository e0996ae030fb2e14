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

/// Routes by key: the desired set, or what the kernel holds of ours.
pub type RouteMap = HashMap<RouteKey, Route>;

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

/// Compares every key of `desired` and `kernel`.
pub fn reconcile(desired: &RouteMap, kernel: &RouteMap, grace: Grace) -> Plan {
    let keys = desired
        .keys()
        .chain(kernel.keys().filter(|k| !desired.contains_key(k)))
        .copied();
    reconcile_keys(desired, kernel, keys, grace)
}

/// Compares only `keys` (for repairing the few routes an event touched).
/// Duplicate keys are compared once.
pub fn reconcile_keys(
    desired: &RouteMap,
    kernel: &RouteMap,
    keys: impl IntoIterator<Item = RouteKey>,
    grace: Grace,
) -> Plan {
    let mut keys: Vec<RouteKey> = keys.into_iter().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut plan = Plan::default();
    for key in keys {
        match (desired.get(&key), kernel.get(&key)) {
            (Some(want), Some(have)) if want.is_satisfied_by(have) => {}
            (Some(want), _) => plan.add_or_replace.push(*want),
            (None, Some(have)) if grace.keeps_stale() => plan.deferred.push(*have),
            (None, Some(have)) => plan.delete.push(*have),
            (None, None) => {}
        }
    }
    if let (false, Grace::Until { deadline, .. }) = (plan.deferred.is_empty(), grace) {
        plan.sweep_at = Some(deadline);
    }
    plan
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

/// Every key of `desired` and `kernel`, compared, sorted by key (for `show
/// fib`). Routes not desired are `Stale` while `in_grace`, else
/// `Unexpected`.
pub fn compare(desired: &RouteMap, kernel: &RouteMap, in_grace: bool) -> Vec<FibEntry> {
    let mut keys: Vec<RouteKey> = desired.keys().chain(kernel.keys()).copied().collect();
    keys.sort_unstable();
    keys.dedup();
    keys.into_iter()
        .map(|key| {
            let (want, have) = (desired.get(&key), kernel.get(&key));
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

    fn map(routes: &[Route]) -> RouteMap {
        routes.iter().map(|r| (r.key(), *r)).collect()
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
        let desired = map(&[right, wrong_want, missing]);
        let kernel = map(&[right_in_kernel, wrong_have, stale]);
        let plan = reconcile(&desired, &kernel, Grace::Over);
        assert_eq!(plan.add_or_replace, vec![wrong_want, missing]);
        assert_eq!(plan.delete, vec![stale]);
        assert!(plan.deferred.is_empty());
        assert_eq!(plan.sweep_at, None);
    }

    #[test]
    fn stale_routes_wait_for_the_deadline() {
        let stale = via("10.0.0.4/32", "192.0.2.2", Some(2));
        let (now, deadline) = later();
        let plan = reconcile(
            &RouteMap::new(),
            &map(&[stale]),
            Grace::at(now, Some(deadline)),
        );
        assert!(plan.delete.is_empty());
        assert_eq!(plan.deferred, vec![stale]);
        assert_eq!(plan.sweep_at, Some(deadline));
        assert!(plan.is_empty());

        let plan = reconcile(
            &RouteMap::new(),
            &map(&[stale]),
            Grace::at(deadline, Some(deadline)),
        );
        assert_eq!(plan.delete, vec![stale]);
        assert_eq!(plan.sweep_at, None);
    }

    #[test]
    fn a_different_metric_is_a_different_route() {
        let want = via("10.0.0.1/32", "192.0.2.2", None);
        let mut old_metric = want;
        old_metric.metric = 7;
        let plan = reconcile(&map(&[want]), &map(&[old_metric]), Grace::Over);
        assert_eq!(plan.add_or_replace, vec![want]);
        assert_eq!(plan.delete, vec![old_metric]);
    }

    #[test]
    fn kernel_routes_of_other_shapes_are_replaced() {
        let want = via("10.0.0.1/32", "192.0.2.2", None);
        let mut multipath = want;
        multipath.kind = RouteKind::Other;
        let plan = reconcile(&map(&[want]), &map(&[multipath]), Grace::Over);
        assert_eq!(plan.add_or_replace, vec![want]);
    }

    #[test]
    fn reconcile_keys_looks_only_at_the_keys_given() {
        let a = via("10.0.0.1/32", "192.0.2.2", None);
        let b = via("10.0.0.2/32", "192.0.2.2", None);
        let plan = reconcile_keys(
            &map(&[a, b]),
            &RouteMap::new(),
            [b.key(), b.key()],
            Grace::Over,
        );
        assert_eq!(plan.add_or_replace, vec![b]);
    }

    #[test]
    fn compare_flags_drift() {
        let synced = via("10.0.0.1/32", "192.0.2.2", None);
        let differs = via("10.0.0.2/32", "192.0.2.2", None);
        let missing = via("10.0.0.3/32", "192.0.2.2", None);
        let extra = via("10.0.0.4/32", "192.0.2.2", Some(2));
        let desired = map(&[synced, differs, missing]);
        let kernel = map(&[synced, via("10.0.0.2/32", "192.0.2.9", Some(2)), extra]);
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

    fn arb_map(desired: bool) -> impl Strategy<Value = RouteMap> {
        proptest::collection::vec(arb_route(), 0..32).prop_map(move |routes| {
            routes
                .into_iter()
                // A desired route is never `Other`.
                .filter(|r| !desired || r.kind != RouteKind::Other)
                .map(|r| (r.key(), r))
                .collect()
        })
    }

    /// What the kernel does with a plan: replace inserts exactly what was
    /// sent, delete removes the key.
    fn apply(kernel: &RouteMap, plan: &Plan) -> RouteMap {
        let mut kernel = kernel.clone();
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
            desired in arb_map(true),
            kernel in arb_map(false),
        ) {
            let plan = reconcile(&desired, &kernel, Grace::Over);
            let after = apply(&kernel, &plan);
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
            prop_assert!(reconcile(&desired, &after, Grace::Over).is_empty());
            // Nothing right is touched.
            for r in &plan.add_or_replace {
                prop_assert!(!kernel.get(&r.key()).is_some_and(|k| r.is_satisfied_by(k)));
            }
            for r in &plan.delete {
                prop_assert!(!desired.contains_key(&r.key()));
            }
        }

        #[test]
        fn within_grace_only_stale_routes_remain(
            desired in arb_map(true),
            kernel in arb_map(false),
        ) {
            let (now, deadline) = later();
            let plan = reconcile(&desired, &kernel, Grace::at(now, Some(deadline)));
            prop_assert!(plan.delete.is_empty());
            let after = apply(&kernel, &plan);
            for (key, want) in &desired {
                prop_assert!(after.get(key).is_some_and(|have| want.is_satisfied_by(have)));
            }
            let stale: RouteMap = after
                .iter()
                .filter(|(k, _)| !desired.contains_key(k))
                .map(|(k, r)| (*k, *r))
                .collect();
            prop_assert_eq!(stale, map(&plan.deferred));
            prop_assert_eq!(plan.sweep_at.is_some(), !plan.deferred.is_empty());
            // At the deadline the sweep removes exactly the deferred routes.
            let sweep = reconcile(&desired, &after, Grace::at(deadline, Some(deadline)));
            prop_assert!(sweep.add_or_replace.is_empty());
            prop_assert_eq!(sweep.delete, plan.deferred);
        }
    }
}
