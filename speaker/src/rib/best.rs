//! The decision process: which path to a prefix is best, and why.
//!
//! One comparison, [`compare`], in this order:
//!
//! 1. a static (pinned) mobility flag wins;
//! 2. the newer mobility sequence wins, compared with RFC 1982 serial
//!    arithmetic; a path without the community counts as sequence 0, not
//!    static (exactly 2^31 apart is undefined in RFC 1982 and falls through);
//! 3. then RFC 4271 section 9.1.2.2: highest LOCAL_PREF, shortest AS_PATH
//!    (an AS_SET counts one, confederation segments nothing), lowest ORIGIN,
//!    lowest MED between paths from the same neighbour AS, eBGP over iBGP,
//!    lowest BGP identifier (the ORIGINATOR_ID when present, RFC 4456
//!    section 9), shortest CLUSTER_LIST, lowest peer address;
//! 4. last, the lowest (source, path id), so the order is total.
//!
//! # Equal sequences (RFC 7432 section 15)
//!
//! "Equal sequence numbers: the lower router id wins" is *not* a step of its
//! own: after the sequence, the RFC 4271 steps run, and the identifier step
//! settles a tie only when LOCAL_PREF, AS_PATH length, ORIGIN, MED and the
//! eBGP/iBGP kind are equal too. That is the normal case in our deployment
//! (hypervisors are iBGP route-reflector clients; a reflected route and our
//! own both have LOCAL_PREF 100, an empty AS_PATH, ORIGIN IGP, no MED). To
//! keep it so, a locally originated path counts as iBGP at the eBGP-over-iBGP
//! step and compares with the local router id, while a reflected path
//! compares with its ORIGINATOR_ID, which is the originating hypervisor. When
//! policy makes LOCAL_PREF or AS_PATH differ, those decide, as an operator
//! who set them would expect. Equal sequences only arise from a race: the
//! daemon originates with `highest_sequence_seen + 1`.
//!
//! # MED
//!
//! MED is compared only between paths from the same neighbour AS (RFC 4271
//! section 9.1.2.2 c); paths whose AS_PATH is empty (originated in our AS)
//! form one group. Comparing MED only within a group makes the pairwise
//! order intransitive, so [`select`] works like "deterministic MED": it picks
//! the best path of each neighbour-AS group, then the best of those, which
//! no longer compares MED. The result does not depend on the order paths
//! arrived in. A missing MED is 0.

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use super::SourceId;
use super::attrs::PathAttrs;

/// Where a path came from, as far as the decision process cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SourceKind {
    /// Originated by this speaker (a VM on this hypervisor).
    Local,
    /// Learned from a peer in our AS.
    Internal,
    /// Learned from a peer in another AS.
    External,
}

/// The step of the decision process that ordered two paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Reason {
    Static,
    Sequence,
    LocalPref,
    AsPathLength,
    Origin,
    Med,
    External,
    RouterId,
    ClusterListLength,
    PeerAddress,
    /// The final tie-break: lower source index, then lower path id.
    SourceOrder,
    /// The same path.
    Identical,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Static => "static mobility flag",
            Self::Sequence => "newer mobility sequence",
            Self::LocalPref => "higher LOCAL_PREF",
            Self::AsPathLength => "shorter AS_PATH",
            Self::Origin => "lower ORIGIN",
            Self::Med => "lower MED",
            Self::External => "eBGP over iBGP",
            Self::RouterId => "lower BGP identifier",
            Self::ClusterListLength => "shorter CLUSTER_LIST",
            Self::PeerAddress => "lower peer address",
            Self::SourceOrder => "source order",
            Self::Identical => "identical",
        })
    }
}

/// A path as the decision process sees it.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub attrs: &'a PathAttrs,
    pub kind: SourceKind,
    /// The BGP identifier of the peer, or ours for a local path.
    pub router_id: Ipv4Addr,
    /// The peer's address; unspecified for a local path.
    pub address: IpAddr,
    pub source: SourceId,
    pub path_id: u32,
}

impl Candidate<'_> {
    /// The identifier compared at the router-id step (RFC 4456 section 9).
    pub fn identifier(&self) -> Ipv4Addr {
        self.attrs.originator_id.unwrap_or(self.router_id)
    }

    fn is_external(&self) -> bool {
        self.kind == SourceKind::External
    }
}

/// Orders two paths: `Greater` means `a` is better. The reason names the
/// step that decided.
pub fn compare(a: &Candidate<'_>, b: &Candidate<'_>) -> (Ordering, Reason) {
    let (x, y) = (a.attrs, b.attrs);
    let steps: [(&dyn Fn() -> Ordering, Reason); 11] = [
        (&|| x.is_static().cmp(&y.is_static()), Reason::Static),
        (
            &|| {
                x.sequence()
                    .serial_cmp(y.sequence())
                    .unwrap_or(Ordering::Equal)
            },
            Reason::Sequence,
        ),
        (
            &|| x.effective_local_pref().cmp(&y.effective_local_pref()),
            Reason::LocalPref,
        ),
        (
            &|| y.as_path.length().cmp(&x.as_path.length()),
            Reason::AsPathLength,
        ),
        (&|| y.origin.cmp(&x.origin), Reason::Origin),
        (
            &|| {
                if x.neighbor_as() == y.neighbor_as() {
                    y.effective_med().cmp(&x.effective_med())
                } else {
                    Ordering::Equal
                }
            },
            Reason::Med,
        ),
        (&|| a.is_external().cmp(&b.is_external()), Reason::External),
        (&|| b.identifier().cmp(&a.identifier()), Reason::RouterId),
        (
            &|| y.cluster_list.len().cmp(&x.cluster_list.len()),
            Reason::ClusterListLength,
        ),
        (&|| b.address.cmp(&a.address), Reason::PeerAddress),
        (
            &|| (b.source, b.path_id).cmp(&(a.source, a.path_id)),
            Reason::SourceOrder,
        ),
    ];
    steps
        .iter()
        .map(|(step, reason)| (step(), *reason))
        .find(|(o, _)| o.is_ne())
        .unwrap_or((Ordering::Equal, Reason::Identical))
}

/// The index of the best candidate, `None` only when there are none.
///
/// Deterministic MED (see the module docs): a candidate beaten by another
/// from the same neighbour AS is out; the best of the rest wins.
pub fn select(candidates: &[Candidate<'_>]) -> Option<usize> {
    if candidates.len() <= 1 {
        return (!candidates.is_empty()).then_some(0);
    }
    let mut best: Option<usize> = None;
    for (i, c) in candidates.iter().enumerate() {
        let group = c.attrs.neighbor_as();
        let beaten = candidates.iter().enumerate().any(|(j, o)| {
            j != i && o.attrs.neighbor_as() == group && compare(o, c).0 == Ordering::Greater
        });
        if beaten {
            continue;
        }
        best = match best.and_then(|b| candidates.get(b).map(|bc| (b, bc))) {
            Some((b, bc)) if compare(bc, c).0 != Ordering::Less => Some(b),
            _ => Some(i),
        };
    }
    // Only a cycle of serial numbers spread over half the number space can
    // beat every path of a group; fall back to a plain scan.
    best.or_else(|| {
        (0..candidates.len()).reduce(|b, i| match (candidates.get(b), candidates.get(i)) {
            (Some(bc), Some(c)) if compare(c, bc).0 == Ordering::Greater => i,
            _ => b,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::bgp::{AsPath, Mobility, Origin, Segment, SegmentKind};

    fn attrs() -> PathAttrs {
        PathAttrs::default()
    }

    fn cand(attrs: &PathAttrs) -> Candidate<'_> {
        Candidate {
            attrs,
            kind: SourceKind::Internal,
            router_id: "10.0.0.5".parse().unwrap(),
            address: "10.0.0.5".parse().unwrap(),
            source: SourceId(1),
            path_id: 0,
        }
    }

    fn with_mobility(mut a: PathAttrs, m: Mobility) -> PathAttrs {
        a.set_mobility(Some(m));
        a
    }

    /// `better` beats `worse` at `reason`, in both argument orders.
    fn wins(better: &Candidate<'_>, worse: &Candidate<'_>, reason: Reason) {
        assert_eq!(compare(better, worse), (Ordering::Greater, reason));
        assert_eq!(compare(worse, better), (Ordering::Less, reason));
        let both = [*worse, *better];
        assert_eq!(select(&both), Some(1));
    }

    #[test]
    fn static_beats_higher_sequence() {
        let s = with_mobility(attrs(), Mobility::new(1, true));
        let n = with_mobility(attrs(), Mobility::new(100, false));
        wins(&cand(&s), &cand(&n), Reason::Static);
    }

    #[test]
    fn higher_sequence_beats_better_local_pref() {
        let newer = with_mobility(attrs(), Mobility::new(2, false));
        let mut older = with_mobility(attrs(), Mobility::new(1, false));
        older.local_pref = Some(500);
        wins(&cand(&newer), &cand(&older), Reason::Sequence);
    }

    #[test]
    fn missing_mobility_counts_as_sequence_zero() {
        let one = with_mobility(attrs(), Mobility::new(1, false));
        let mut none = attrs();
        none.local_pref = Some(500);
        wins(&cand(&one), &cand(&none), Reason::Sequence);
        let zero = with_mobility(attrs(), Mobility::new(0, false));
        assert_eq!(compare(&cand(&zero), &cand(&attrs())).1, Reason::Identical);
    }

    #[test]
    fn sequence_wraps_with_serial_arithmetic() {
        let wrapped = with_mobility(attrs(), Mobility::new(2, false));
        let old = with_mobility(attrs(), Mobility::new(u32::MAX - 1, false));
        wins(&cand(&wrapped), &cand(&old), Reason::Sequence);
    }

    #[test]
    fn equal_sequence_lower_router_id_wins() {
        let m = Mobility::new(4, false);
        let a = with_mobility(attrs(), m);
        let mut b = with_mobility(attrs(), m);
        // A path reflected by a route reflector: the originating
        // hypervisor's identifier is the ORIGINATOR_ID, not the reflector's.
        b.originator_id = Some("10.0.0.1".parse().unwrap());
        let local = Candidate {
            kind: SourceKind::Local,
            router_id: "10.0.0.9".parse().unwrap(),
            address: "0.0.0.0".parse().unwrap(),
            source: SourceId::LOCAL,
            ..cand(&a)
        };
        wins(&cand(&b), &local, Reason::RouterId);
    }

    #[test]
    fn equal_sequence_with_different_local_pref_is_decided_by_local_pref() {
        let m = Mobility::new(4, false);
        let mut a = with_mobility(attrs(), m);
        a.local_pref = Some(200);
        let mut b = with_mobility(attrs(), m);
        b.originator_id = Some("10.0.0.1".parse().unwrap());
        wins(&cand(&a), &cand(&b), Reason::LocalPref);
    }

    #[test]
    fn higher_local_pref_wins() {
        let mut a = attrs();
        a.local_pref = Some(200);
        wins(&cand(&a), &cand(&attrs()), Reason::LocalPref);
    }

    #[test]
    fn shorter_as_path_wins_with_set_as_one_and_confed_as_zero() {
        let short = PathAttrs {
            as_path: AsPath {
                segments: vec![
                    Segment {
                        kind: SegmentKind::ConfedSequence,
                        asns: vec![1, 2, 3],
                    },
                    Segment {
                        kind: SegmentKind::Sequence,
                        asns: vec![10],
                    },
                    Segment {
                        kind: SegmentKind::Set,
                        asns: vec![20, 21, 22],
                    },
                ],
            },
            ..attrs()
        };
        let long = PathAttrs {
            as_path: AsPath::sequence(vec![10, 11, 12]),
            ..attrs()
        };
        wins(&cand(&short), &cand(&long), Reason::AsPathLength);
    }

    #[test]
    fn lower_origin_wins() {
        let igp = attrs();
        let incomplete = PathAttrs {
            origin: Origin::Incomplete,
            ..attrs()
        };
        wins(&cand(&igp), &cand(&incomplete), Reason::Origin);
    }

    #[test]
    fn lower_med_wins_between_routes_from_the_same_neighbour_as() {
        let low = PathAttrs {
            as_path: AsPath::sequence(vec![65001]),
            med: Some(5),
            ..attrs()
        };
        let high = PathAttrs {
            med: Some(10),
            ..low.clone()
        };
        wins(&cand(&low), &cand(&high), Reason::Med);
        let none = PathAttrs {
            med: None,
            ..low.clone()
        };
        wins(&cand(&none), &cand(&low), Reason::Med);
    }

    #[test]
    fn med_is_ignored_between_different_neighbour_ases() {
        let a = PathAttrs {
            as_path: AsPath::sequence(vec![65001]),
            med: Some(50),
            ..attrs()
        };
        let b = PathAttrs {
            as_path: AsPath::sequence(vec![65002]),
            med: Some(10),
            ..attrs()
        };
        let mut ca = cand(&a);
        ca.router_id = "10.0.0.1".parse().unwrap();
        wins(&ca, &cand(&b), Reason::RouterId);
    }

    #[test]
    fn deterministic_med_does_not_depend_on_arrival_order() {
        // The classic intransitive triple: x beats y on MED (same AS 1),
        // y beats z on router id, z beats x on router id.
        let x = PathAttrs {
            as_path: AsPath::sequence(vec![1]),
            med: Some(0),
            ..attrs()
        };
        let y = PathAttrs {
            as_path: AsPath::sequence(vec![1]),
            med: Some(10),
            ..attrs()
        };
        let z = PathAttrs {
            as_path: AsPath::sequence(vec![2]),
            med: Some(0),
            ..attrs()
        };
        let mk = |a, id: &str, s| Candidate {
            router_id: id.parse().unwrap(),
            source: SourceId(s),
            ..cand(a)
        };
        let c = [
            mk(&x, "10.0.0.3", 1),
            mk(&y, "10.0.0.1", 2),
            mk(&z, "10.0.0.2", 3),
        ];
        let want = c.get(select(&c).unwrap()).unwrap().source;
        for perm in [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ] {
            let p: Vec<_> = perm.iter().map(|&i| c[i]).collect();
            assert_eq!(p[select(&p).unwrap()].source, want, "{perm:?}");
        }
        assert_eq!(want, SourceId(3), "z: x knocks y out, then z beats x");
    }

    #[test]
    fn ebgp_beats_ibgp() {
        let a = attrs();
        let mut e = cand(&a);
        e.kind = SourceKind::External;
        e.router_id = "10.0.0.200".parse().unwrap();
        wins(&e, &cand(&a), Reason::External);
    }

    #[test]
    fn lower_router_id_wins_using_originator_id() {
        let reflected = PathAttrs {
            originator_id: Some("10.0.0.1".parse().unwrap()),
            ..attrs()
        };
        let direct = attrs();
        let mut c = cand(&direct);
        c.router_id = "10.0.0.2".parse().unwrap();
        let mut r = cand(&reflected);
        r.router_id = "10.0.0.99".parse().unwrap();
        wins(&r, &c, Reason::RouterId);
    }

    #[test]
    fn shorter_cluster_list_wins() {
        let short = attrs();
        let long = PathAttrs {
            cluster_list: vec!["10.9.9.9".parse().unwrap()].into(),
            ..attrs()
        };
        wins(&cand(&short), &cand(&long), Reason::ClusterListLength);
    }

    #[test]
    fn lower_peer_address_wins() {
        let a = attrs();
        let mut low = cand(&a);
        low.address = "10.0.0.1".parse().unwrap();
        low.source = SourceId(2);
        wins(&low, &cand(&a), Reason::PeerAddress);
    }

    #[test]
    fn source_order_breaks_the_last_tie() {
        let a = attrs();
        let mut other = cand(&a);
        other.source = SourceId(2);
        wins(&cand(&a), &other, Reason::SourceOrder);
        assert_eq!(
            compare(&cand(&a), &cand(&a)),
            (Ordering::Equal, Reason::Identical)
        );
    }

    #[test]
    fn select_of_none_and_one() {
        assert_eq!(select(&[]), None);
        let a = attrs();
        assert_eq!(select(&[cand(&a)]), Some(0));
    }
}
