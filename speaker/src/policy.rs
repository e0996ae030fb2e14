//! Import and export policy: plain data that the daemon's configuration
//! builds (serde), and the pure checks the RIB runs with it.
//!
//! ```text
//!  UPDATE from peer --> check_path (loops, first AS, ORIGINATOR_ID)
//!                   --> ImportPolicy::check_prefix (host routes, pools, default)
//!                   --> ImportPolicy::apply (LOCAL_PREF) --> Adj-RIB-In
//!                   --> MaxPrefix::check (warn, then tear down)
//!
//!  Loc-RIB best --> ExportPolicy::allows (local/learned, split horizon,
//!                   iBGP rules, well-known communities, pools) --> Adj-RIB-Out
//! ```
//!
//! Pools are allow-lists: a prefix passes when some pool contains it, so an
//! empty list passes nothing. RFC 8212: an eBGP peer with no import
//! (export) policy configured imports (exports) nothing. An iBGP peer
//! without one gets [`ImportPolicy::permissive`] and
//! [`ExportPolicy::permissive`]: host routes of any address, local routes
//! only.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;
use std::time::Duration;

use ipnet::IpNet;
use proto::bgp::{AfiSafi, Community, LargeCommunity, Notification};
use serde::{Deserialize, Serialize};

use crate::rib::SourceId;
use crate::rib::attrs::{NextHop, PathAttrs};
use crate::rib::best::SourceKind;

/// Everything configured for one peer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PeerPolicy {
    /// `None`: not configured (RFC 8212 for eBGP: import nothing).
    pub import: Option<ImportPolicy>,
    /// `None`: not configured (RFC 8212 for eBGP: export nothing).
    pub export: Option<ExportPolicy>,
    pub max_prefix: Option<MaxPrefix>,
    /// The peer is a route-reflector client of ours (RFC 4456): iBGP-learned
    /// routes may be reflected to it, with ORIGINATOR_ID and CLUSTER_LIST.
    /// A hypervisor is normally a client itself and leaves this off.
    pub rr_client: bool,
}

/// What to accept from a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImportPolicy {
    /// Accept only prefixes inside one of these.
    pub pools: Vec<IpNet>,
    /// Accept only /32 and /128.
    pub host_routes_only: bool,
    /// Set LOCAL_PREF on what is accepted.
    pub local_pref: Option<u32>,
}

impl Default for ImportPolicy {
    fn default() -> Self {
        Self {
            pools: Vec::new(),
            host_routes_only: true,
            local_pref: None,
        }
    }
}

/// What to send to a peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExportPolicy {
    /// Send only prefixes inside one of these.
    pub pools: Vec<IpNet>,
    /// Send our own (locally originated) routes.
    pub local: bool,
    /// Send routes learned from other peers (never back to their source,
    /// and iBGP to iBGP only when one side is our route-reflector client).
    pub learned: bool,
    /// LOCAL_PREF toward iBGP peers (else the route's, else 100).
    pub local_pref: Option<u32>,
    /// MED to set.
    pub med: Option<u32>,
    /// Next hop self for learned routes toward iBGP (always toward eBGP and
    /// for local routes).
    pub next_hop_self: bool,
    pub add_communities: Vec<Community>,
    pub add_large_communities: Vec<LargeCommunity>,
    /// Do not pass on unknown optional transitive attributes (they are
    /// passed, Partial set, by default as RFC 4271 requires; some operators
    /// drop them after the 2023 attribute-28 and CVE-2023-38802 incidents).
    pub drop_unknown_transitive: bool,
}

impl Default for ExportPolicy {
    fn default() -> Self {
        Self {
            pools: Vec::new(),
            local: true,
            learned: false,
            local_pref: None,
            med: None,
            next_hop_self: false,
            add_communities: Vec::new(),
            add_large_communities: Vec::new(),
            drop_unknown_transitive: false,
        }
    }
}

/// Per-peer, per-family prefix limit (RFC 4486 section 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MaxPrefix {
    pub limit: u32,
    /// Warn once when the count reaches this percentage of `limit`.
    pub warn_percent: u8,
    /// Reconnect this long after a teardown; `None`: stay down until an
    /// operator clears it.
    pub restart_secs: Option<u32>,
    /// Only warn, never tear down.
    pub warning_only: bool,
}

impl Default for MaxPrefix {
    fn default() -> Self {
        Self {
            limit: 10_000,
            warn_percent: 75,
            restart_secs: None,
            warning_only: false,
        }
    }
}

/// Why a route was not imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, thiserror::Error)]
pub enum Reject {
    #[error("eBGP peer without import policy (RFC 8212)")]
    NoPolicy,
    #[error("default route")]
    DefaultRoute,
    #[error("not a host route")]
    NotHostRoute,
    #[error("outside the configured pools")]
    OutsidePools,
    #[error("our AS {0} is in the AS_PATH")]
    AsLoop(u32),
    #[error("first AS {got:?} is not the peer's AS {expected}")]
    FirstAs { expected: u32, got: Option<u32> },
    #[error("ORIGINATOR_ID is our router id (RFC 4456)")]
    OriginatorIsUs,
    #[error("our cluster id is in the CLUSTER_LIST (RFC 4456)")]
    ClusterLoop,
    #[error("next hop {0} is not a host address of the peer's (RFC 4271 section 6.3)")]
    NextHop(IpAddr),
}

/// The session facts import checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportContext {
    pub local_asn: u32,
    pub router_id: Ipv4Addr,
    pub peer_asn: u32,
    pub external: bool,
    /// Our addresses on the session: no route may point back at us.
    pub local_v4: Option<Ipv4Addr>,
    pub local_v6: Option<Ipv6Addr>,
}

/// Checks that hold whatever the policy: no AS loop, the first AS of an
/// eBGP route is the peer's and the next hop is a plausible one (RFC 4271
/// section 6.3), no reflection loop (RFC 4456 section 8).
pub fn check_path(attrs: &PathAttrs, cx: &ImportContext) -> Result<(), Reject> {
    // Loops first: a route reflected back to its originator carries our own
    // next hop, and is a (quiet) loop, not a peer's mistake to warn about.
    if attrs.as_path.contains(cx.local_asn) {
        return Err(Reject::AsLoop(cx.local_asn));
    }
    if cx.external {
        let got = attrs.as_path.first_as();
        if got != Some(cx.peer_asn) {
            return Err(Reject::FirstAs {
                expected: cx.peer_asn,
                got,
            });
        }
    }
    if attrs.originator_id == Some(cx.router_id) {
        return Err(Reject::OriginatorIsUs);
    }
    if attrs.cluster_list.contains(&cx.router_id) {
        return Err(Reject::ClusterLoop);
    }
    check_next_hop(&attrs.next_hop, cx)
}

/// RFC 4271 section 6.3: a NEXT_HOP must be a valid host address and
/// not one of the receiving speaker's; a route that breaks this is
/// ignored, without a NOTIFICATION. The same goes for the global next hop
/// of MP_REACH_NLRI (RFC 4760 section 3, RFC 2545 section 3), an
/// IPv4-mapped one judged as the IPv4 address it carries.
fn check_next_hop(next_hop: &NextHop, cx: &ImportContext) -> Result<(), Reject> {
    let bad_v4 = |a: Ipv4Addr| {
        a.is_unspecified()
            || a.is_loopback()
            || a.is_multicast()
            || a.is_broadcast()
            || Some(a) == cx.local_v4
    };
    let bad = match *next_hop {
        // Only local routes have no next hop; a learned route without one
        // never gets this far (RFC 7606 section 3 d).
        NextHop::Local => false,
        NextHop::V4(a) => bad_v4(a),
        NextHop::V6 { global, .. } => match global.to_ipv4_mapped() {
            Some(a) => bad_v4(a),
            None => {
                global.is_unspecified()
                    || global.is_loopback()
                    || global.is_multicast()
                    || Some(global) == cx.local_v6
            }
        },
    };
    match next_hop.address() {
        Some(a) if bad => Err(Reject::NextHop(a)),
        _ => Ok(()),
    }
}

fn in_pools(pools: &[IpNet], prefix: &IpNet) -> bool {
    pools.iter().any(|pool| pool.contains(prefix))
}

fn is_host_route(prefix: &IpNet) -> bool {
    prefix.prefix_len() == prefix.max_prefix_len()
}

static PERMISSIVE_IMPORT: LazyLock<ImportPolicy> = LazyLock::new(|| ImportPolicy {
    pools: everywhere(),
    ..ImportPolicy::default()
});

static PERMISSIVE_EXPORT: LazyLock<ExportPolicy> = LazyLock::new(|| ExportPolicy {
    pools: everywhere(),
    ..ExportPolicy::default()
});

fn everywhere() -> Vec<IpNet> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .filter_map(|s| s.parse().ok())
        .collect()
}

impl ImportPolicy {
    /// Host routes of any address: what an iBGP peer without a configured
    /// policy gets.
    pub fn permissive() -> &'static Self {
        &PERMISSIVE_IMPORT
    }

    /// Accept only host routes inside `pools`.
    pub fn pools(pools: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            pools: pools.into_iter().collect(),
            ..Self::default()
        }
    }

    pub fn check_prefix(&self, prefix: &IpNet) -> Result<(), Reject> {
        if prefix.prefix_len() == 0 {
            return Err(Reject::DefaultRoute);
        }
        if self.host_routes_only && !is_host_route(prefix) {
            return Err(Reject::NotHostRoute);
        }
        if !in_pools(&self.pools, prefix) {
            return Err(Reject::OutsidePools);
        }
        Ok(())
    }

    /// Changes accepted attributes as configured.
    pub fn apply(&self, attrs: &mut PathAttrs) {
        if let Some(lp) = self.local_pref {
            attrs.local_pref = Some(lp);
        }
    }
}

/// Who sends what to whom, for [`ExportPolicy::allows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportCheck {
    pub target: SourceId,
    pub target_external: bool,
    pub target_rr_client: bool,
    pub route_source: SourceId,
    pub route_kind: SourceKind,
    pub route_from_rr_client: bool,
}

impl ExportPolicy {
    /// Local routes to any address: what an iBGP peer without a configured
    /// policy gets.
    pub fn permissive() -> &'static Self {
        &PERMISSIVE_EXPORT
    }

    /// Whether the route goes to the target at all.
    pub fn allows(&self, prefix: &IpNet, attrs: &PathAttrs, c: &ExportCheck) -> bool {
        if c.route_source == c.target {
            return false;
        }
        let communities = &attrs.communities;
        if communities.contains(&Community::NO_ADVERTISE) {
            return false;
        }
        if c.target_external
            && (communities.contains(&Community::NO_EXPORT)
                || communities.contains(&Community::NO_EXPORT_SUBCONFED))
        {
            return false;
        }
        let kind_allowed = match c.route_kind {
            SourceKind::Local => self.local,
            SourceKind::External => self.learned,
            // RFC 4456 section 6: iBGP to iBGP only through a reflector.
            SourceKind::Internal => {
                self.learned && (c.target_external || c.target_rr_client || c.route_from_rr_client)
            }
        };
        kind_allowed && prefix.prefix_len() != 0 && in_pools(&self.pools, prefix)
    }
}

impl PeerPolicy {
    /// The import policy in force; `None` means import nothing (RFC 8212).
    pub fn import_policy(&self, external: bool) -> Option<&ImportPolicy> {
        match (&self.import, external) {
            (Some(p), _) => Some(p),
            (None, true) => None,
            (None, false) => Some(ImportPolicy::permissive()),
        }
    }

    /// The export policy in force; `None` means export nothing (RFC 8212).
    pub fn export_policy(&self, external: bool) -> Option<&ExportPolicy> {
        match (&self.export, external) {
            (Some(p), _) => Some(p),
            (None, true) => None,
            (None, false) => Some(ExportPolicy::permissive()),
        }
    }
}

/// The session must close: too many prefixes (RFC 4486 Cease subcode 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Teardown {
    pub family: AfiSafi,
    pub notification: Notification,
    /// Reconnect after this long; `None`: wait for an operator.
    pub restart_after: Option<Duration>,
}

/// The outcome of counting one more prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixLimit {
    Within,
    /// The warning threshold was just reached (or the limit passed in
    /// warning-only mode); said once until the count drops below it again.
    Warn {
        count: u32,
        limit: u32,
    },
    /// Over the limit: do not accept the prefix; tear the session down.
    Exceeded(Teardown),
}

impl MaxPrefix {
    /// Judges a peer's prefix count for `family` if one more prefix were
    /// accepted. `warned` is the peer's memory of having warned already.
    pub fn check(&self, family: AfiSafi, count: u32, warned: &mut bool) -> PrefixLimit {
        let threshold =
            (u64::from(self.limit) * u64::from(self.warn_percent.min(100))).div_ceil(100);
        if count > self.limit && !self.warning_only {
            return PrefixLimit::Exceeded(Teardown {
                family,
                notification: Notification::max_prefix(family, self.limit),
                restart_after: self.restart_secs.map(|s| Duration::from_secs(u64::from(s))),
            });
        }
        if u64::from(count) < threshold {
            *warned = false;
            return PrefixLimit::Within;
        }
        if *warned {
            return PrefixLimit::Within;
        }
        *warned = true;
        PrefixLimit::Warn {
            count,
            limit: self.limit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::bgp::{AsPath, CeaseReason, ErrorCode};

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn cx(external: bool) -> ImportContext {
        ImportContext {
            local_asn: 65000,
            router_id: "10.255.0.1".parse().unwrap(),
            peer_asn: if external { 65001 } else { 65000 },
            external,
            local_v4: Some("192.0.2.1".parse().unwrap()),
            local_v6: Some("2001:db8::1".parse().unwrap()),
        }
    }

    #[test]
    fn import_accepts_only_host_routes_inside_pools() {
        let p = ImportPolicy::pools([net("10.1.0.0/16"), net("2001:db8:1::/48")]);
        assert_eq!(p.check_prefix(&net("10.1.1.5/32")), Ok(()));
        assert_eq!(p.check_prefix(&net("2001:db8:1::5/128")), Ok(()));
        assert_eq!(
            p.check_prefix(&net("10.2.1.5/32")),
            Err(Reject::OutsidePools)
        );
        assert_eq!(
            p.check_prefix(&net("10.1.1.0/24")),
            Err(Reject::NotHostRoute)
        );
        assert_eq!(
            ImportPolicy::default().check_prefix(&net("10.1.1.5/32")),
            Err(Reject::OutsidePools),
            "no pools, nothing accepted"
        );
    }

    #[test]
    fn import_rejects_the_default_route_even_when_everything_else_passes() {
        let p = ImportPolicy {
            pools: vec![net("0.0.0.0/0"), net("::/0")],
            host_routes_only: false,
            local_pref: None,
        };
        assert_eq!(p.check_prefix(&net("0.0.0.0/0")), Err(Reject::DefaultRoute));
        assert_eq!(p.check_prefix(&net("::/0")), Err(Reject::DefaultRoute));
        assert_eq!(p.check_prefix(&net("10.0.0.0/8")), Ok(()));
    }

    #[test]
    fn import_rejects_our_asn_in_the_path() {
        let attrs = PathAttrs {
            as_path: AsPath::sequence(vec![65001, 65000, 65002]),
            ..PathAttrs::default()
        };
        assert_eq!(check_path(&attrs, &cx(true)), Err(Reject::AsLoop(65000)));
    }

    #[test]
    fn import_rejects_ebgp_route_whose_first_as_is_not_the_peer() {
        let attrs = PathAttrs {
            as_path: AsPath::sequence(vec![65002]),
            ..PathAttrs::default()
        };
        assert_eq!(
            check_path(&attrs, &cx(true)),
            Err(Reject::FirstAs {
                expected: 65001,
                got: Some(65002)
            })
        );
        assert_eq!(check_path(&attrs, &cx(false)), Ok(()), "iBGP: no check");
    }

    #[test]
    fn import_ignores_routes_whose_next_hop_is_not_a_host_of_the_peers() {
        let with = |next_hop: NextHop| PathAttrs {
            as_path: AsPath::sequence(vec![65001]),
            next_hop,
            ..PathAttrs::default()
        };
        let v4 = |s: &str| NextHop::V4(s.parse().unwrap());
        let v6 = |s: &str| NextHop::V6 {
            global: s.parse().unwrap(),
            link_local: None,
        };
        for good in [v4("192.0.2.2"), v6("2001:db8::2"), v6("::ffff:192.0.2.2")] {
            assert_eq!(check_path(&with(good), &cx(true)), Ok(()), "{good:?}");
        }
        let bad = [
            v4("192.0.2.1"),
            v4("0.0.0.0"),
            v4("127.0.0.1"),
            v4("224.0.0.5"),
            v4("255.255.255.255"),
            v6("2001:db8::1"),
            v6("::"),
            v6("::1"),
            v6("ff02::5"),
            v6("::ffff:192.0.2.1"),
        ];
        for nh in bad {
            let address = nh.address().unwrap();
            for external in [true, false] {
                let attrs = PathAttrs {
                    as_path: AsPath::sequence(if external { vec![65001] } else { vec![] }),
                    ..with(nh)
                };
                assert_eq!(
                    check_path(&attrs, &cx(external)),
                    Err(Reject::NextHop(address)),
                    "{nh:?}"
                );
            }
        }
    }

    #[test]
    fn import_rejects_our_own_route_reflected_back() {
        let attrs = PathAttrs {
            originator_id: Some("10.255.0.1".parse().unwrap()),
            ..PathAttrs::default()
        };
        assert_eq!(check_path(&attrs, &cx(false)), Err(Reject::OriginatorIsUs));
        // Reflected back with our own next hop: still the quiet loop, not
        // the next-hop error that is logged as a peer's mistake.
        let ours = PathAttrs {
            next_hop: NextHop::V4("192.0.2.1".parse().unwrap()),
            ..attrs
        };
        assert_eq!(check_path(&ours, &cx(false)), Err(Reject::OriginatorIsUs));
    }

    #[test]
    fn rfc8212_ebgp_without_policy_imports_and_exports_nothing() {
        let none = PeerPolicy::default();
        assert!(none.import_policy(true).is_none());
        assert!(none.export_policy(true).is_none());
        assert!(none.import_policy(false).is_some(), "iBGP keeps working");
        assert!(none.export_policy(false).is_some());
    }

    fn check(kind: SourceKind, target_external: bool) -> ExportCheck {
        ExportCheck {
            target: SourceId(2),
            target_external,
            target_rr_client: false,
            route_source: SourceId(if kind == SourceKind::Local { 0 } else { 1 }),
            route_kind: kind,
            route_from_rr_client: false,
        }
    }

    #[test]
    fn export_local_always_learned_only_when_asked() {
        let p = ExportPolicy::permissive();
        let a = PathAttrs::default();
        let n = net("10.1.1.5/32");
        assert!(p.allows(&n, &a, &check(SourceKind::Local, false)));
        assert!(!p.allows(&n, &a, &check(SourceKind::External, false)));
        let learned = ExportPolicy {
            learned: true,
            ..p.clone()
        };
        assert!(learned.allows(&n, &a, &check(SourceKind::External, false)));
        assert!(learned.allows(&n, &a, &check(SourceKind::Internal, true)));
        assert!(
            !learned.allows(&n, &a, &check(SourceKind::Internal, false)),
            "iBGP to iBGP needs a reflector"
        );
        let client = ExportCheck {
            target_rr_client: true,
            ..check(SourceKind::Internal, false)
        };
        assert!(learned.allows(&n, &a, &client));
    }

    #[test]
    fn export_never_back_to_the_source() {
        let p = ExportPolicy {
            learned: true,
            ..ExportPolicy::permissive().clone()
        };
        let c = ExportCheck {
            route_source: SourceId(2),
            ..check(SourceKind::External, true)
        };
        assert!(!p.allows(&net("10.1.1.5/32"), &PathAttrs::default(), &c));
    }

    #[test]
    fn export_honours_well_known_communities() {
        let p = ExportPolicy::permissive();
        let n = net("10.1.1.5/32");
        let no_export = PathAttrs {
            communities: vec![Community::NO_EXPORT].into(),
            ..PathAttrs::default()
        };
        assert!(!p.allows(&n, &no_export, &check(SourceKind::Local, true)));
        assert!(p.allows(&n, &no_export, &check(SourceKind::Local, false)));
        let no_adv = PathAttrs {
            communities: vec![Community::NO_ADVERTISE].into(),
            ..PathAttrs::default()
        };
        assert!(!p.allows(&n, &no_adv, &check(SourceKind::Local, false)));
    }

    #[test]
    fn max_prefix_warns_once_at_threshold_then_tears_down() {
        let m = MaxPrefix {
            limit: 10,
            warn_percent: 80,
            restart_secs: Some(30),
            warning_only: false,
        };
        let v4 = AfiSafi::IPV4_UNICAST;
        let mut warned = false;
        let verdicts: Vec<PrefixLimit> = (1..=11).map(|n| m.check(v4, n, &mut warned)).collect();
        assert!(verdicts[..7].iter().all(|v| *v == PrefixLimit::Within));
        assert_eq!(
            verdicts[7],
            PrefixLimit::Warn {
                count: 8,
                limit: 10
            }
        );
        assert_eq!(verdicts[8], PrefixLimit::Within, "warned once");
        assert_eq!(
            verdicts[9],
            PrefixLimit::Within,
            "the limit itself is allowed"
        );
        let PrefixLimit::Exceeded(t) = &verdicts[10] else {
            panic!("{:?}", verdicts[10]);
        };
        assert_eq!(t.restart_after, Some(Duration::from_secs(30)));
        assert_eq!(
            t.notification.error,
            ErrorCode::Cease(CeaseReason::MaximumPrefixesReached)
        );
        assert_eq!(t.notification, Notification::max_prefix(v4, 10));
    }

    #[test]
    fn max_prefix_warning_only_never_tears_down() {
        let m = MaxPrefix {
            limit: 2,
            warning_only: true,
            ..MaxPrefix::default()
        };
        let mut warned = false;
        let v6 = AfiSafi::IPV6_UNICAST;
        assert_eq!(m.check(v6, 1, &mut warned), PrefixLimit::Within);
        assert_eq!(
            m.check(v6, 2, &mut warned),
            PrefixLimit::Warn { count: 2, limit: 2 }
        );
        assert_eq!(m.check(v6, 3, &mut warned), PrefixLimit::Within);
    }

    #[test]
    fn policies_read_from_config_data() {
        let p: PeerPolicy = serde_json::from_str(
            r#"{"import": {"pools": ["10.1.0.0/16"], "local_pref": 200},
                "export": {"pools": ["10.1.0.0/16"]},
                "max_prefix": {"limit": 5000, "restart_secs": 60}}"#,
        )
        .unwrap();
        let import = p.import.unwrap();
        assert!(import.host_routes_only);
        assert_eq!(import.local_pref, Some(200));
        assert!(p.export.unwrap().local);
        assert_eq!(p.max_prefix.unwrap().warn_percent, 75);
        assert!(serde_json::from_str::<PeerPolicy>(r#"{"imports": {}}"#).is_err());
    }
}
