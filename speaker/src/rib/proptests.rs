//! Property test: after any sequence of operations, the Loc-RIB equals a
//! brute-force recomputation from the surviving paths, the stream of
//! RouteChanges replays to the same table, LocalSuperseded fires exactly
//! when our best path is lost, and what two peers were sent adds up to what
//! they should have.
//!
//! The brute force is written independently of `best.rs`, as RFC 4271
//! section 9.1.2.2 describes it: eliminate step by step over the whole set
//! (MED only among paths from the same neighbour AS).

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use proptest::prelude::*;
use proto::bgp::{AsPath, AttributeValue, Context, DecodedUpdate, Origin, PathAttribute};

use super::tests::{announce, ibgp_context, net, rib, withdraw};
use super::*;
use crate::policy::{ExportPolicy, ImportPolicy};

const PREFIXES: [&str; 4] = [
    "10.1.1.1/32",
    "10.1.1.2/32",
    "2001:db8::1/128",
    "2001:db8::2/128",
];

/// (address and router id, AS) of each peer; sources 1..=5.
const PEERS: [(&str, u32); 5] = [
    ("192.0.2.1", 65000),
    ("192.0.2.2", 65000),
    ("192.0.2.3", 65100),
    ("192.0.2.4", 65100),
    ("192.0.2.5", 65200),
];
const OUR_ID: &str = "10.255.0.5";

#[derive(Debug, Clone)]
struct Route {
    seq: Option<u32>,
    pinned: bool,
    local_pref: Option<u32>,
    tail: Vec<u32>,
    med: Option<u32>,
    originator: Option<u8>,
    clusters: usize,
    origin: u8,
}

#[derive(Debug, Clone)]
enum Op {
    Announce {
        peer: usize,
        prefix: usize,
        route: Route,
    },
    Withdraw {
        peer: usize,
        prefix: usize,
    },
    Originate {
        prefix: usize,
        seq: u32,
        pinned: bool,
    },
    WithdrawLocal {
        prefix: usize,
    },
    Down {
        peer: usize,
        graceful: bool,
    },
    MarkStale {
        peer: usize,
    },
    Sweep {
        peer: usize,
    },
}

/// Sequences in a window of five across the wrap, so serial order is total.
fn sequence() -> impl Strategy<Value = u32> {
    prop::sample::select(vec![u32::MAX - 1, u32::MAX, 0, 1, 2])
}

fn route() -> impl Strategy<Value = Route> {
    (
        prop::option::of(sequence()),
        prop::bool::weighted(0.1),
        prop::option::of(prop::sample::select(vec![100u32, 200])),
        prop::collection::vec(prop::sample::select(vec![65100u32, 65200, 65300]), 0..3),
        prop::option::of(prop::sample::select(vec![0u32, 10])),
        prop::option::of(0u8..2),
        0usize..3,
        0u8..3,
    )
        .prop_map(
            |(seq, pinned, local_pref, tail, med, originator, clusters, origin)| Route {
                seq,
                pinned,
                local_pref,
                tail,
                med,
                originator,
                clusters,
                origin,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let peer = 0..PEERS.len();
    let prefix = 0..PREFIXES.len();
    prop_oneof![
        6 => (peer.clone(), prefix.clone(), route())
            .prop_map(|(peer, prefix, route)| Op::Announce { peer, prefix, route }),
        2 => (peer.clone(), prefix.clone()).prop_map(|(peer, prefix)| Op::Withdraw { peer, prefix }),
        3 => (prefix.clone(), sequence(), prop::bool::weighted(0.1))
            .prop_map(|(prefix, seq, pinned)| Op::Originate { prefix, seq, pinned }),
        1 => prefix.prop_map(|prefix| Op::WithdrawLocal { prefix }),
        1 => (peer.clone(), any::<bool>()).prop_map(|(peer, graceful)| Op::Down { peer, graceful }),
        1 => peer.clone().prop_map(|peer| Op::MarkStale { peer }),
        1 => peer.prop_map(|peer| Op::Sweep { peer }),
    ]
}

fn source(peer: usize) -> SourceId {
    SourceId(u16::try_from(peer + 1).unwrap())
}

fn session(peer: usize) -> SessionInfo {
    let (addr, asn) = PEERS[peer];
    let ctx = if asn == 65000 {
        ibgp_context()
    } else {
        Context::modern()
    };
    let mut s = SessionInfo::new(addr.parse().unwrap(), ctx);
    s.local_v4 = Some("192.0.2.200".parse().unwrap());
    s.local_v6 = Some("2001:db8:ffff::200".parse().unwrap());
    s
}

/// The UPDATE for a generated route and the attributes the RIB should
/// keep (LOCAL_PREF from eBGP is dropped).
fn build(peer: usize, prefix: IpNet, r: &Route) -> (DecodedUpdate, PathAttrs) {
    let (_, asn) = PEERS[peer];
    let ebgp = asn != 65000;
    let mut path = if ebgp { vec![asn] } else { vec![] };
    path.extend(&r.tail);
    let mut extra = Vec::new();
    if let Some(s) = r.seq {
        let m = Mobility::new(s, r.pinned);
        extra.push(PathAttribute::new(AttributeValue::ExtendedCommunities(
            vec![m.to_extended()],
        )));
    }
    if let Some(lp) = r.local_pref {
        extra.push(PathAttribute::new(AttributeValue::LocalPref(lp)));
    }
    if let Some(m) = r.med {
        extra.push(PathAttribute::new(AttributeValue::MultiExitDisc(m)));
    }
    if !ebgp {
        if let Some(o) = r.originator {
            let id = Ipv4Addr::new(10, 255, 0, if o == 0 { 1 } else { 9 });
            extra.push(PathAttribute::new(AttributeValue::OriginatorId(id)));
        }
        if r.clusters > 0 {
            let list = vec!["192.0.2.100".parse().unwrap(); r.clusters];
            extra.push(PathAttribute::new(AttributeValue::ClusterList(list)));
        }
    }
    let mut update = announce(&[prefix], &path, extra);
    let origin = [Origin::Igp, Origin::Egp, Origin::Incomplete][usize::from(r.origin)];
    update.update.attributes.retain(|a| a.type_code() != 1);
    update
        .update
        .attributes
        .push(PathAttribute::new(AttributeValue::Origin(origin)));
    let received = Received::from_update(&update, true).unwrap();
    let mut attrs = received.announced[0].attrs.clone();
    if ebgp {
        attrs.local_pref = None;
    }
    (update, attrs)
}

struct SourceFacts {
    kind: SourceKind,
    id: Ipv4Addr,
    address: IpAddr,
}

fn facts(s: SourceId) -> SourceFacts {
    if s == SourceId::LOCAL {
        return SourceFacts {
            kind: SourceKind::Local,
            id: OUR_ID.parse().unwrap(),
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
    }
    let (addr, asn) = PEERS[usize::from(s.0) - 1];
    SourceFacts {
        kind: if asn == 65000 {
            SourceKind::Internal
        } else {
            SourceKind::External
        },
        id: addr.parse().unwrap(),
        address: addr.parse().unwrap(),
    }
}

/// RFC 4271 section 9.1.2.2 as elimination, mobility steps first.
fn brute_force(paths: &[(SourceId, PathAttrs)]) -> Option<SourceId> {
    fn keep_best<K: Ord>(
        set: &mut Vec<&(SourceId, PathAttrs)>,
        key: impl Fn(&(SourceId, PathAttrs)) -> K,
    ) {
        if let Some(best) = set.iter().map(|p| key(p)).max() {
            set.retain(|p| key(p) == best);
        }
    }
    let mut set: Vec<&(SourceId, PathAttrs)> = paths.iter().collect();
    keep_best(&mut set, |(_, a)| a.mobility.is_some_and(|m| m.is_static));
    // The window never spans half the space: shift it to compare as integers.
    keep_best(&mut set, |(_, a)| {
        a.mobility.map_or(0, |m| m.sequence.0).wrapping_add(2)
    });
    keep_best(&mut set, |(_, a)| a.local_pref.unwrap_or(100));
    keep_best(&mut set, |(_, a)| std::cmp::Reverse(a.as_path.length()));
    keep_best(&mut set, |(_, a)| std::cmp::Reverse(a.origin));
    let snapshot = set.clone();
    set.retain(|(_, a)| {
        !snapshot.iter().any(|(_, b)| {
            b.neighbor_as() == a.neighbor_as() && b.med.unwrap_or(0) < a.med.unwrap_or(0)
        })
    });
    keep_best(&mut set, |(s, _)| facts(*s).kind == SourceKind::External);
    keep_best(&mut set, |(s, a)| {
        std::cmp::Reverse(a.originator_id.unwrap_or(facts(*s).id))
    });
    keep_best(&mut set, |(_, a)| std::cmp::Reverse(a.cluster_list.len()));
    keep_best(&mut set, |(s, _)| std::cmp::Reverse(facts(*s).address));
    keep_best(&mut set, |(s, _)| std::cmp::Reverse(*s));
    set.first().map(|(s, _)| *s)
}

/// What a peer holds, replayed from the UPDATEs it was sent.
fn replay(
    table: &mut BTreeMap<IpNet, Arc<PathAttrs>>,
    updates: &[proto::bgp::Update],
    ctx: &Context,
) {
    for u in updates {
        let mut bytes = Vec::new();
        u.emit(ctx, &mut bytes).unwrap();
        assert!(bytes.len() <= usize::from(ctx.max_len()));
        let d = DecodedUpdate {
            update: u.clone(),
            problems: Vec::new(),
        };
        let r = Received::from_update(&d, ctx.four_octet_as).unwrap();
        for n in &r.withdrawn {
            table.remove(&n.prefix);
        }
        for g in r.announced {
            for n in g.nlri {
                table.insert(n.prefix, Arc::new(g.attrs.clone()));
            }
        }
    }
}

/// Peer 0 (iBGP) gets our routes only; peer 3 (eBGP) gets learned ones too.
const WATCHED: [usize; 2] = [0, 3];

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut rib = rib();
    let everywhere = vec![net("0.0.0.0/0"), net("::/0")];
    for (i, (addr, asn)) in PEERS.iter().enumerate() {
        let policy = if *asn == 65000 {
            PeerPolicy::default()
        } else {
            PeerPolicy {
                import: Some(ImportPolicy::pools(everywhere.clone())),
                export: Some(ExportPolicy {
                    pools: everywhere.clone(),
                    learned: true,
                    ..ExportPolicy::default()
                }),
                ..PeerPolicy::default()
            }
        };
        let id = rib
            .add_peer(PeerConfig {
                address: addr.parse().unwrap(),
                asn: *asn,
                policy,
            })
            .unwrap();
        prop_assert_eq!(id, source(i));
        rib.session_up(id, session(i)).unwrap();
    }
    let prefixes: Vec<IpNet> = PREFIXES.iter().map(|p| net(p)).collect();
    // (prefix, source) -> (attributes, stale)
    let mut model: BTreeMap<(IpNet, SourceId), (PathAttrs, bool)> = BTreeMap::new();
    let mut fib: BTreeMap<IpNet, (SourceId, Arc<PathAttrs>)> = BTreeMap::new();
    let mut sent: [BTreeMap<IpNet, Arc<PathAttrs>>; 2] = Default::default();

    for op in ops {
        let before: Vec<Option<SourceId>> = prefixes
            .iter()
            .map(|p| rib.best(p).map(|b| b.source))
            .collect();
        let mut touched_local = None;
        match &op {
            Op::Announce {
                peer,
                prefix,
                route,
            } => {
                let p = prefixes[*prefix];
                let (update, attrs) = build(*peer, p, route);
                let out = rib.apply_update(source(*peer), &update).unwrap();
                prop_assert_eq!(out.accepted, 1);
                model.insert((p, source(*peer)), (attrs, false));
            }
            Op::Withdraw { peer, prefix } => {
                let p = prefixes[*prefix];
                rib.apply_update(source(*peer), &withdraw(&[p])).unwrap();
                model.remove(&(p, source(*peer)));
            }
            Op::Originate {
                prefix,
                seq,
                pinned,
            } => {
                let p = prefixes[*prefix];
                let attrs = PathAttrs::local(Mobility::new(*seq, *pinned));
                rib.originate(p, attrs.clone());
                model.insert((p, SourceId::LOCAL), (attrs, false));
                touched_local = Some(p);
            }
            Op::WithdrawLocal { prefix } => {
                let p = prefixes[*prefix];
                rib.withdraw_local(p);
                model.remove(&(p, SourceId::LOCAL));
            }
            Op::Down { peer, graceful } => {
                let s = source(*peer);
                rib.session_down(s, *graceful);
                if *graceful {
                    model
                        .iter_mut()
                        .filter(|((_, src), _)| *src == s)
                        .for_each(|(_, v)| v.1 = true);
                } else {
                    model.retain(|(_, src), _| *src != s);
                }
                if let Some(w) = WATCHED.iter().position(|w| w == peer) {
                    sent[w].clear();
                }
                let dump = rib.session_up(s, session(*peer)).unwrap();
                if let Some(w) = WATCHED.iter().position(|w| w == peer) {
                    replay(&mut sent[w], &dump, &session(*peer).context);
                }
            }
            Op::MarkStale { peer } => {
                let s = source(*peer);
                rib.mark_stale(s, None);
                model
                    .iter_mut()
                    .filter(|((_, src), _)| *src == s)
                    .for_each(|(_, v)| v.1 = true);
            }
            Op::Sweep { peer } => {
                let s = source(*peer);
                rib.sweep_stale(s, None);
                model.retain(|(_, src), v| *src != s || !v.1);
            }
        }

        // The change stream replays to the Loc-RIB.
        let changes = rib.take_changes();
        for c in &changes {
            let had = fib.get(&c.prefix).map(|(s, a)| (*s, Arc::clone(a)));
            prop_assert_eq!(
                had,
                c.old.as_ref().map(|b| (b.source, Arc::clone(&b.attrs))),
                "{:?}",
                c
            );
            match &c.new {
                Some(b) => fib.insert(c.prefix, (b.source, Arc::clone(&b.attrs))),
                None => fib.remove(&c.prefix),
            };
        }

        let events = rib.take_events();
        for (i, p) in prefixes.iter().enumerate() {
            let paths: Vec<(SourceId, PathAttrs)> = model
                .iter()
                .filter(|((q, _), _)| q == p)
                .map(|((_, s), (a, _))| (*s, a.clone()))
                .collect();
            let want = brute_force(&paths);
            let best = rib.best(p);
            prop_assert_eq!(
                best.as_ref().map(|b| b.source),
                want,
                "{} after {:?}",
                p,
                op
            );
            if let Some(b) = &best {
                let (_, a) = paths.iter().find(|(s, _)| *s == b.source).unwrap();
                prop_assert_eq!(&*b.attrs, a);
            }
            prop_assert_eq!(fib.get(p).map(|(s, _)| *s), want);
            let local_lost = paths.iter().any(|(s, _)| *s == SourceId::LOCAL)
                && want != Some(SourceId::LOCAL)
                && (before[i] == Some(SourceId::LOCAL) || touched_local == Some(*p));
            let fired = events
                .iter()
                .filter(|RibEvent::LocalSuperseded { prefix, .. }| prefix == p)
                .count();
            prop_assert_eq!(fired, usize::from(local_lost), "{} after {:?}", p, op);
        }
        // Stale flags match the model.
        for ((p, s), (_, stale)) in &model {
            let r = rib.paths(p);
            let path = r.iter().find(|r| r.source == *s).unwrap();
            prop_assert_eq!(path.stale, *stale);
        }

        // What the watched peers hold after this turn's export.
        for (w, peer) in WATCHED.iter().enumerate() {
            let id = source(*peer);
            let updates = rib.export(id, &changes);
            replay(&mut sent[w], &updates, &session(*peer).context);
            let expect: BTreeSet<IpNet> = prefixes
                .iter()
                .filter(|p| {
                    rib.best(p).is_some_and(|b| {
                        if *peer == 0 {
                            b.source == SourceId::LOCAL
                        } else {
                            b.source != id
                        }
                    })
                })
                .copied()
                .collect();
            let have: BTreeSet<IpNet> = sent[w].keys().copied().collect();
            prop_assert_eq!(&have, &expect, "peer {} after {:?}", peer, op);
            for (p, a) in &sent[w] {
                let best = rib.best(p).unwrap();
                prop_assert_eq!(a.mobility, best.attrs.mobility, "mobility travels");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn loc_rib_equals_brute_force_after_random_operations(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}

#[test]
fn brute_force_agrees_on_a_hand_picked_case() {
    let a = PathAttrs {
        as_path: AsPath::sequence(vec![65100]),
        med: Some(10),
        ..PathAttrs::default()
    };
    let b = PathAttrs {
        med: Some(0),
        ..a.clone()
    };
    assert_eq!(
        brute_force(&[(SourceId(3), a), (SourceId(4), b)]),
        Some(SourceId(4))
    );
}
