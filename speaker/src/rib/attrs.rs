//! Path attributes as the RIB keeps them: one immutable value per distinct
//! set, shared through an [`Interner`], so a million routes announced with
//! one attribute set cost one allocation.
//!
//! ```text
//!  DecodedUpdate --Received::from_update--> withdrawals + (PathAttrs, NLRI) groups
//!                                                  | import policy, Interner::intern
//!                                                  v
//!                                       Arc<PathAttrs> in every path
//!                                                  | export(): next-hop-self, prepend,
//!                                                  v LOCAL_PREF, strip iBGP-only
//!                                       Arc<PathAttrs> in the Adj-RIB-Out --> out.rs
//! ```

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use proto::bgp::attribute::flags;
use proto::bgp::iana::{AS_TRANS, attr};
use proto::bgp::{
    Action, AfiSafi, Aggregator, AsPath, AttributeValue, Community, DecodedUpdate,
    ExtendedCommunity, LargeCommunity, Mobility, MpNextHop, Nlri, Notification, Origin, Segment,
    SegmentKind, Sequence,
};
use serde::Serialize;

use super::best::SourceKind;
use crate::policy::ExportPolicy;

/// LOCAL_PREF assumed for a path that has none (RFC 4271 section 5.1.5
/// leaves it to the implementation; 100 is what every router uses).
pub const DEFAULT_LOCAL_PREF: u32 = 100;

/// Where packets for a route go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum NextHop {
    /// This speaker: a locally originated route (the VM's interface), or
    /// "next hop self" still to be filled in with the session's address.
    #[default]
    Local,
    V4(Ipv4Addr),
    /// A global IPv6 address and optionally a link-local one (RFC 2545).
    V6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
}

impl From<MpNextHop> for NextHop {
    fn from(nh: MpNextHop) -> Self {
        match nh {
            MpNextHop::Ipv4(a) => Self::V4(a),
            MpNextHop::Ipv6 { global, link_local } => Self::V6 { global, link_local },
        }
    }
}

impl NextHop {
    /// The address the kernel route points at, if there is one.
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Self::Local => None,
            Self::V4(a) => Some(IpAddr::V4(*a)),
            Self::V6 { global, .. } => Some(IpAddr::V6(*global)),
        }
    }
}

/// An optional transitive attribute this speaker does not understand, kept
/// to pass on (RFC 4271 section 5: with the Partial bit set).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UnknownAttr {
    pub flags: u8,
    pub type_code: u8,
    pub value: Box<[u8]>,
}

/// The attributes of a route, everything except its prefix.
///
/// Built from an UPDATE ([`Received::from_update`]) or for a local route
/// ([`PathAttrs::local`]), then frozen in an [`Interner`]. `mobility` is the
/// parsed mobility community of `extended_communities`; the interner keeps
/// the two in step.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct PathAttrs {
    pub origin: Origin,
    pub as_path: AsPath,
    pub next_hop: NextHop,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Box<[Community]>,
    pub extended_communities: Box<[ExtendedCommunity]>,
    pub large_communities: Box<[LargeCommunity]>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Box<[Ipv4Addr]>,
    pub unknown: Box<[UnknownAttr]>,
    pub mobility: Option<Mobility>,
}

impl Default for PathAttrs {
    fn default() -> Self {
        Self {
            origin: Origin::Igp,
            as_path: AsPath::default(),
            next_hop: NextHop::Local,
            med: None,
            local_pref: None,
            atomic_aggregate: false,
            aggregator: None,
            communities: Box::new([]),
            extended_communities: Box::new([]),
            large_communities: Box::new([]),
            originator_id: None,
            cluster_list: Box::new([]),
            unknown: Box::new([]),
            mobility: None,
        }
    }
}

impl PathAttrs {
    /// A locally originated host route: ORIGIN IGP, empty AS_PATH, next hop
    /// this speaker, carrying `mobility`.
    pub fn local(mobility: Mobility) -> Self {
        let mut attrs = Self::default();
        attrs.set_mobility(Some(mobility));
        attrs
    }

    /// Replaces (or with `None` removes) the mobility community.
    pub fn set_mobility(&mut self, mobility: Option<Mobility>) {
        let mut ext: Vec<ExtendedCommunity> = self
            .extended_communities
            .iter()
            .filter(|c| Mobility::from_extended(c).is_none())
            .copied()
            .collect();
        ext.extend(mobility.map(Mobility::to_extended));
        self.extended_communities = ext.into();
        self.mobility = mobility;
    }

    /// The mobility sequence; a path without the community counts as 0.
    pub fn sequence(&self) -> Sequence {
        self.mobility.map_or(Sequence::ZERO, |m| m.sequence)
    }

    /// Whether the address is pinned (the static mobility flag).
    pub fn is_static(&self) -> bool {
        self.mobility.is_some_and(|m| m.is_static)
    }

    /// LOCAL_PREF for the decision process.
    pub fn effective_local_pref(&self) -> u32 {
        self.local_pref.unwrap_or(DEFAULT_LOCAL_PREF)
    }

    /// MED for the decision process: a missing MED is the lowest value, 0
    /// (RFC 4271 section 9.1.2.2 c).
    pub fn effective_med(&self) -> u32 {
        self.med.unwrap_or(0)
    }

    /// The neighbour AS for MED comparison (RFC 4271 section 9.1.2.2 c,
    /// RFC 5065 section 5.3): the first AS of the first AS_SEQUENCE after any
    /// confederation segments. `None` for a path originated inside our AS
    /// (empty AS_PATH) or one that starts with an AS_SET.
    pub fn neighbor_as(&self) -> Option<u32> {
        let first =
            self.as_path.segments.iter().find(|s| {
                !matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet)
            })?;
        match first.kind {
            SegmentKind::Sequence => first.asns.first().copied(),
            _ => None,
        }
    }

    /// Re-derives the parsed mobility from the extended communities.
    fn normalize(&mut self) {
        self.mobility = Mobility::find(&self.extended_communities);
    }
}

/// Deduplicates attribute sets: equal sets share one `Arc`, so comparing two
/// interned sets is a pointer comparison.
#[derive(Debug, Default)]
pub struct Interner {
    set: HashSet<Arc<PathAttrs>>,
    purge_at: usize,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// The shared copy of `attrs`.
    pub fn intern(&mut self, mut attrs: PathAttrs) -> Arc<PathAttrs> {
        attrs.normalize();
        if let Some(shared) = self.set.get(&attrs) {
            return Arc::clone(shared);
        }
        let shared = Arc::new(attrs);
        self.set.insert(Arc::clone(&shared));
        // Amortized garbage collection: purge when the set has doubled since
        // the last purge, so each purge pays for the inserts before it.
        if self.set.len() > self.purge_at {
            self.purge();
        }
        shared
    }

    /// Drops the sets no route uses any more.
    pub fn purge(&mut self) {
        self.set.retain(|a| Arc::strong_count(a) > 1);
        self.purge_at = (self.set.len() * 2).max(64);
    }

    /// Distinct attribute sets held (including unused ones not yet purged).
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Approximate heap bytes: the set's table plus each attribute set.
    pub fn heap_bytes(&self) -> usize {
        let table = self.set.capacity() * (size_of::<Arc<PathAttrs>>() + 1);
        table
            + self
                .set
                .iter()
                .map(|a| 16 + size_of::<PathAttrs>() + attrs_heap(a))
                .sum::<usize>()
    }
}

fn attrs_heap(a: &PathAttrs) -> usize {
    a.as_path
        .segments
        .iter()
        .map(|s| size_of::<Segment>() + s.asns.len() * 4)
        .sum::<usize>()
        + size_of_val(&*a.communities)
        + size_of_val(&*a.extended_communities)
        + size_of_val(&*a.large_communities)
        + size_of_val(&*a.cluster_list)
        + a.unknown
            .iter()
            .map(|u| size_of::<UnknownAttr>() + u.value.len())
            .sum::<usize>()
}

/// Routes announced with one attribute set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub attrs: PathAttrs,
    pub nlri: Vec<Nlri>,
}

/// An UPDATE turned into per-prefix operations, with the RFC 7606 verdict
/// applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Received {
    /// Withdrawn prefixes: the withdrawn field, MP_UNREACH_NLRI, and every
    /// announced prefix when the verdict is treat-as-withdraw.
    pub withdrawn: Vec<Nlri>,
    /// At most two groups: the classic NLRI (with NEXT_HOP) and the
    /// MP_REACH_NLRI prefixes (with its next hop).
    pub announced: Vec<Announced>,
    /// The UPDATE is an End-of-RIB marker for this family.
    pub end_of_rib: Option<AfiSafi>,
    /// RFC 7606 treat-as-withdraw was applied.
    pub treat_as_withdraw: bool,
    /// Families to disable (RFC 7606 section 7.11): their routes in this
    /// UPDATE are ignored and the caller decides whether to reset.
    pub disabled: Vec<(AfiSafi, Notification)>,
}

/// The unicast family of a prefix.
pub fn family_of(prefix: &IpNet) -> AfiSafi {
    match prefix {
        IpNet::V4(_) => AfiSafi::IPV4_UNICAST,
        IpNet::V6(_) => AfiSafi::IPV6_UNICAST,
    }
}

impl Received {
    /// Converts a decoded UPDATE. `four_octet_as` is the session's RFC 6793
    /// state: a 2-octet session's AS4_PATH and AS4_AGGREGATOR are merged in.
    /// `Err` carries the NOTIFICATION for a session-reset verdict.
    pub fn from_update(decoded: &DecodedUpdate, four_octet_as: bool) -> Result<Self, Notification> {
        let mut out = Received::default();
        for problem in &decoded.problems {
            match &problem.action {
                Action::SessionReset(n) => return Err(n.clone()),
                Action::AfiSafiDisable {
                    family,
                    notification,
                } => out.disabled.push((*family, notification.clone())),
                Action::TreatAsWithdraw => out.treat_as_withdraw = true,
                Action::AttributeDiscard => {}
            }
        }
        let update = &decoded.update;
        out.end_of_rib = update.end_of_rib_family();

        let mut attrs = PathAttrs::default();
        let mut classic_next_hop = None;
        let mut reach = None;
        let mut as4_path = None;
        let mut as4_aggregator = None;
        let mut unknown = Vec::new();
        for a in &update.attributes {
            match &a.value {
                AttributeValue::Origin(o) => attrs.origin = *o,
                AttributeValue::AsPath(p) => attrs.as_path = p.clone(),
                AttributeValue::NextHop(nh) => classic_next_hop = Some(*nh),
                AttributeValue::MultiExitDisc(m) => attrs.med = Some(*m),
                AttributeValue::LocalPref(l) => attrs.local_pref = Some(*l),
                AttributeValue::AtomicAggregate => attrs.atomic_aggregate = true,
                AttributeValue::Aggregator(g) => attrs.aggregator = Some(*g),
                AttributeValue::Communities(c) => attrs.communities = c.as_slice().into(),
                AttributeValue::OriginatorId(o) => attrs.originator_id = Some(*o),
                AttributeValue::ClusterList(c) => attrs.cluster_list = c.as_slice().into(),
                AttributeValue::MpReach(m) => reach = Some(m),
                AttributeValue::MpUnreach(m) => out.withdrawn.extend_from_slice(&m.withdrawn),
                AttributeValue::ExtendedCommunities(c) => {
                    attrs.extended_communities = c.as_slice().into();
                }
                AttributeValue::As4Path(p) => as4_path = Some(p),
                AttributeValue::As4Aggregator(g) => as4_aggregator = Some(*g),
                AttributeValue::LargeCommunities(c) => {
                    attrs.large_communities = c.as_slice().into();
                }
                AttributeValue::Raw { type_code, value } => {
                    // Optional transitive attributes travel on; optional
                    // non-transitive ones are quietly dropped (RFC 4271
                    // section 5), as are MP attributes of other families.
                    let transitive = a.flags & flags::TRANSITIVE != 0;
                    let mp = matches!(*type_code, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI);
                    if transitive && !mp {
                        unknown.push(UnknownAttr {
                            flags: a.flags,
                            type_code: *type_code,
                            value: value.as_slice().into(),
                        });
                    }
                }
            }
        }
        // RFC 6793 section 4.2.3: only a 2-octet session carries AS4_*; a
        // 4-octet speaker that sends them has them ignored.
        if !four_octet_as {
            if let Some(p) = as4_path {
                attrs.as_path = attrs.as_path.merge_as4(p);
            }
            if let (Some(g), Some(g4)) = (attrs.aggregator, as4_aggregator)
                && g.asn == u32::from(AS_TRANS)
            {
                attrs.aggregator = Some(g4);
            }
        }
        unknown.sort_by_key(|u| u.type_code);
        attrs.unknown = unknown.into();
        attrs.normalize();

        out.withdrawn.extend_from_slice(&update.withdrawn);
        let mut groups = Vec::new();
        match classic_next_hop {
            _ if update.nlri.is_empty() => {}
            Some(nh) => {
                let mut classic = attrs.clone();
                classic.next_hop = NextHop::V4(nh);
                groups.push(Announced {
                    attrs: classic,
                    nlri: update.nlri.clone(),
                });
            }
            // RFC 7606 section 3 d (the codec reports it too): a learned
            // route must never look locally originated.
            None => out.withdrawn.extend_from_slice(&update.nlri),
        }
        if let Some(m) = reach.filter(|m| !m.nlri.is_empty()) {
            let mut mp = attrs;
            mp.next_hop = m.next_hop.into();
            groups.push(Announced {
                attrs: mp,
                nlri: m.nlri.clone(),
            });
        }
        if out.treat_as_withdraw {
            for g in groups {
                out.withdrawn.extend(g.nlri);
            }
        } else {
            out.announced = groups;
        }
        if !out.disabled.is_empty() {
            let disabled: Vec<AfiSafi> = out.disabled.iter().map(|d| d.0).collect();
            let keep = |n: &Nlri| !disabled.contains(&family_of(&n.prefix));
            out.withdrawn.retain(keep);
            for g in &mut out.announced {
                g.nlri.retain(keep);
            }
            out.announced.retain(|g| !g.nlri.is_empty());
        }
        Ok(out)
    }
}

/// What export needs to know to turn a best path into what one peer gets.
#[derive(Debug, Clone, Copy)]
pub struct ExportContext<'a> {
    pub local_asn: u32,
    /// Our BGP identifier, also our cluster id when reflecting.
    pub router_id: Ipv4Addr,
    /// The receiving peer is in another AS.
    pub external: bool,
    /// Where the route came from.
    pub source: SourceKind,
    /// For an iBGP route reflected to an iBGP peer: the BGP identifier of
    /// the peer it came from, the ORIGINATOR_ID if it has none (RFC 4456).
    pub reflect_from: Option<Ipv4Addr>,
    /// Our address on the session, for next-hop-self.
    pub self_next_hop: NextHop,
    pub policy: &'a ExportPolicy,
}

/// The attributes one peer receives for a best path (RFC 4271 section 5.1,
/// RFC 4456 section 8): next-hop-self toward eBGP and for our own routes,
/// our AS prepended toward eBGP, LOCAL_PREF toward iBGP, iBGP-only and
/// non-transitive attributes stripped toward eBGP, unknown transitive ones
/// passed with the Partial bit.
pub fn export(attrs: &PathAttrs, cx: &ExportContext<'_>) -> PathAttrs {
    let mut out = attrs.clone();
    let local = cx.source == SourceKind::Local;
    if cx.external || local || cx.policy.next_hop_self {
        out.next_hop = cx.self_next_hop;
    }
    if cx.external {
        prepend(&mut out.as_path, cx.local_asn);
        out.local_pref = None;
        out.originator_id = None;
        out.cluster_list = Box::new([]);
        // MED learned from a neighbouring AS stays in our AS (RFC 4271
        // section 5.1.4); ours, from policy, goes out.
        if !local {
            out.med = None;
        }
        out.extended_communities = out
            .extended_communities
            .iter()
            .filter(|c| c.is_transitive())
            .copied()
            .collect();
    } else {
        out.local_pref = Some(
            cx.policy
                .local_pref
                .unwrap_or_else(|| attrs.effective_local_pref()),
        );
        if let Some(from) = cx.reflect_from {
            out.originator_id = Some(attrs.originator_id.unwrap_or(from));
            let mut list = vec![cx.router_id];
            list.extend_from_slice(&attrs.cluster_list);
            out.cluster_list = list.into();
        }
    }
    if let Some(med) = cx.policy.med {
        out.med = Some(med);
    }
    if !cx.policy.add_communities.is_empty() {
        out.communities = merge(&out.communities, &cx.policy.add_communities);
    }
    if !cx.policy.add_large_communities.is_empty() {
        out.large_communities = merge(&out.large_communities, &cx.policy.add_large_communities);
    }
    out.unknown = if cx.policy.drop_unknown_transitive {
        Box::new([])
    } else {
        out.unknown
            .iter()
            .map(|u| UnknownAttr {
                flags: u.flags | flags::PARTIAL,
                ..u.clone()
            })
            .collect()
    };
    out
}

fn merge<T: Copy + PartialEq>(have: &[T], add: &[T]) -> Box<[T]> {
    let mut v = have.to_vec();
    v.extend(add.iter().filter(|c| !have.contains(c)));
    v.into()
}

/// Puts `asn` in front of the path (RFC 4271 section 5.1.2), dropping
/// confederation segments, which never leave the confederation.
fn prepend(path: &mut AsPath, asn: u32) {
    path.segments
        .retain(|s| !matches!(s.kind, SegmentKind::ConfedSequence | SegmentKind::ConfedSet));
    match path.segments.first_mut() {
        Some(s) if s.kind == SegmentKind::Sequence => s.asns.insert(0, asn),
        _ => path.segments.insert(
            0,
            Segment {
                kind: SegmentKind::Sequence,
                asns: vec![asn],
            },
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::bgp::{AttributeProblem, MpReach, PathAttribute, Update};

    fn v4(s: &str) -> Nlri {
        Nlri::new(s.parse().unwrap())
    }

    fn base_attributes() -> Vec<PathAttribute> {
        vec![
            PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
            PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(vec![65001]))),
            PathAttribute::new(AttributeValue::NextHop("192.0.2.1".parse().unwrap())),
            PathAttribute::new(AttributeValue::ExtendedCommunities(vec![
                Mobility::new(7, false).to_extended(),
            ])),
        ]
    }

    fn decoded(update: Update, problems: Vec<AttributeProblem>) -> DecodedUpdate {
        DecodedUpdate { update, problems }
    }

    #[test]
    fn classic_and_mp_nlri_become_two_groups_with_their_next_hops() {
        let mut attributes = base_attributes();
        attributes.insert(
            0,
            PathAttribute::new(AttributeValue::MpReach(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: MpNextHop::Ipv6 {
                    global: "2001:db8::1".parse().unwrap(),
                    link_local: Some("fe80::1".parse().unwrap()),
                },
                nlri: vec![v4("2001:db8:1::5/128")],
            })),
        );
        let update = Update {
            withdrawn: vec![v4("10.0.0.9/32")],
            attributes,
            nlri: vec![v4("10.0.0.1/32"), v4("10.0.0.2/32")],
        };
        let r = Received::from_update(&decoded(update, vec![]), true).unwrap();
        assert_eq!(r.withdrawn, vec![v4("10.0.0.9/32")]);
        assert_eq!(r.announced.len(), 2);
        assert_eq!(
            r.announced[0].attrs.next_hop,
            NextHop::V4("192.0.2.1".parse().unwrap())
        );
        assert!(matches!(
            r.announced[1].attrs.next_hop,
            NextHop::V6 {
                link_local: Some(_),
                ..
            }
        ));
        assert_eq!(r.announced[0].attrs.mobility, Some(Mobility::new(7, false)));
    }

    #[test]
    fn treat_as_withdraw_turns_announcements_into_withdrawals() {
        let update = Update {
            withdrawn: vec![v4("10.0.0.9/32")],
            attributes: base_attributes(),
            nlri: vec![v4("10.0.0.1/32")],
        };
        let problem = AttributeProblem {
            type_code: attr::COMMUNITIES,
            error: proto::bgp::attribute::AttributeError::Length {
                got: 3,
                expected: "a non-zero multiple of 4",
            },
            action: Action::TreatAsWithdraw,
        };
        let r = Received::from_update(&decoded(update, vec![problem]), true).unwrap();
        assert!(r.treat_as_withdraw);
        assert!(r.announced.is_empty());
        assert_eq!(r.withdrawn, vec![v4("10.0.0.9/32"), v4("10.0.0.1/32")]);
    }

    #[test]
    fn classic_nlri_without_next_hop_are_withdrawn() {
        let mut attributes = base_attributes();
        attributes.retain(|a| a.type_code() != attr::NEXT_HOP);
        let update = Update {
            attributes,
            nlri: vec![v4("10.0.0.1/32")],
            ..Update::default()
        };
        let r = Received::from_update(&decoded(update, vec![]), true).unwrap();
        assert!(r.announced.is_empty());
        assert_eq!(r.withdrawn, vec![v4("10.0.0.1/32")]);
    }

    #[test]
    fn session_reset_verdict_is_an_error() {
        let n = Notification::cease(proto::bgp::CeaseReason::AdministrativeReset);
        let problem = AttributeProblem {
            type_code: 14,
            error: proto::bgp::attribute::AttributeError::DuplicateMp,
            action: Action::SessionReset(n.clone()),
        };
        let r = Received::from_update(&decoded(Update::default(), vec![problem]), true);
        assert_eq!(r, Err(n));
    }

    #[test]
    fn unknown_transitive_kept_non_transitive_dropped() {
        let mut attributes = base_attributes();
        attributes.push(PathAttribute {
            flags: flags::OPTIONAL | flags::TRANSITIVE,
            value: AttributeValue::Raw {
                type_code: 99,
                value: vec![1, 2],
            },
        });
        attributes.push(PathAttribute {
            flags: flags::OPTIONAL,
            value: AttributeValue::Raw {
                type_code: 98,
                value: vec![3],
            },
        });
        let update = Update {
            attributes,
            nlri: vec![v4("10.0.0.1/32")],
            ..Update::default()
        };
        let r = Received::from_update(&decoded(update, vec![]), true).unwrap();
        let unknown = &r.announced[0].attrs.unknown;
        assert_eq!(unknown.len(), 1);
        assert_eq!(unknown[0].type_code, 99);
    }

    #[test]
    fn as4_path_merged_only_on_two_octet_sessions() {
        let mut attributes = base_attributes();
        attributes[1] =
            PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(vec![65001, 23456])));
        attributes.push(PathAttribute::new(AttributeValue::As4Path(
            AsPath::sequence(vec![4_200_000_001]),
        )));
        let update = Update {
            attributes,
            nlri: vec![v4("10.0.0.1/32")],
            ..Update::default()
        };
        let two = Received::from_update(&decoded(update.clone(), vec![]), false).unwrap();
        assert!(two.announced[0].attrs.as_path.contains(4_200_000_001));
        let four = Received::from_update(&decoded(update, vec![]), true).unwrap();
        assert!(!four.announced[0].attrs.as_path.contains(4_200_000_001));
    }

    #[test]
    fn interner_shares_equal_sets_and_purges_unused() {
        let mut i = Interner::new();
        let a = i.intern(PathAttrs::local(Mobility::new(1, false)));
        let b = i.intern(PathAttrs::local(Mobility::new(1, false)));
        assert!(Arc::ptr_eq(&a, &b));
        let c = i.intern(PathAttrs::local(Mobility::new(2, false)));
        assert!(!Arc::ptr_eq(&a, &c));
        drop(c);
        i.purge();
        assert_eq!(i.len(), 1);
    }

    #[test]
    fn interner_keeps_mobility_in_step_with_the_communities() {
        let mut i = Interner::new();
        let attrs = PathAttrs {
            extended_communities: vec![Mobility::new(5, true).to_extended()].into(),
            ..PathAttrs::default()
        };
        assert_eq!(i.intern(attrs).mobility, Some(Mobility::new(5, true)));
    }

    #[test]
    fn export_to_ebgp_prepends_sets_next_hop_and_strips_ibgp_attributes() {
        let learned = PathAttrs {
            as_path: AsPath::sequence(vec![65001]),
            next_hop: NextHop::V4("192.0.2.1".parse().unwrap()),
            med: Some(5),
            local_pref: Some(200),
            originator_id: Some("192.0.2.9".parse().unwrap()),
            cluster_list: vec!["192.0.2.10".parse().unwrap()].into(),
            extended_communities: vec![
                ExtendedCommunity([0x40, 0, 0, 0, 0, 0, 0, 1]),
                Mobility::new(3, false).to_extended(),
            ]
            .into(),
            unknown: vec![UnknownAttr {
                flags: flags::OPTIONAL | flags::TRANSITIVE,
                type_code: 99,
                value: vec![1].into(),
            }]
            .into(),
            ..PathAttrs::default()
        };
        let policy = ExportPolicy::default();
        let cx = ExportContext {
            local_asn: 65000,
            router_id: "192.0.2.100".parse().unwrap(),
            external: true,
            source: SourceKind::Internal,
            reflect_from: None,
            self_next_hop: NextHop::V4("198.51.100.1".parse().unwrap()),
            policy: &policy,
        };
        let out = export(&learned, &cx);
        assert_eq!(out.as_path, AsPath::sequence(vec![65000, 65001]));
        assert_eq!(out.next_hop, cx.self_next_hop);
        assert_eq!(out.local_pref, None);
        assert_eq!(out.med, None);
        assert_eq!(out.originator_id, None);
        assert!(out.cluster_list.is_empty());
        assert_eq!(
            &*out.extended_communities,
            &[Mobility::new(3, false).to_extended()]
        );
        assert_eq!(
            out.unknown[0].flags & flags::PARTIAL,
            flags::PARTIAL,
            "unknown transitive passed on with Partial"
        );
    }

    #[test]
    fn export_to_ibgp_sets_local_pref_and_reflection_attributes() {
        let learned = PathAttrs {
            next_hop: NextHop::V4("192.0.2.1".parse().unwrap()),
            ..PathAttrs::default()
        };
        let policy = ExportPolicy::default();
        let cx = ExportContext {
            local_asn: 65000,
            router_id: "192.0.2.100".parse().unwrap(),
            external: false,
            source: SourceKind::Internal,
            reflect_from: Some("192.0.2.7".parse().unwrap()),
            self_next_hop: NextHop::V4("198.51.100.1".parse().unwrap()),
            policy: &policy,
        };
        let out = export(&learned, &cx);
        assert_eq!(out.local_pref, Some(DEFAULT_LOCAL_PREF));
        assert_eq!(
            out.next_hop, learned.next_hop,
            "reflection keeps the next hop"
        );
        assert_eq!(out.originator_id, Some("192.0.2.7".parse().unwrap()));
        assert_eq!(&*out.cluster_list, &[cx.router_id]);
        assert!(out.as_path.segments.is_empty());
    }

    #[test]
    fn neighbor_as_skips_confederation_segments() {
        let attrs = PathAttrs {
            as_path: AsPath {
                segments: vec![
                    Segment {
                        kind: SegmentKind::ConfedSequence,
                        asns: vec![1],
                    },
                    Segment {
                        kind: SegmentKind::Sequence,
                        asns: vec![2, 3],
                    },
                ],
            },
            ..PathAttrs::default()
        };
        assert_eq!(attrs.neighbor_as(), Some(2));
        assert_eq!(PathAttrs::default().neighbor_as(), None);
    }
}
