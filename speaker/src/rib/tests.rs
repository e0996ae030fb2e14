//! RIB tests: mobility events, RFC 7606 verdicts, graceful restart, import
//! policy through UPDATEs, Adj-RIB-Out and packing, and the memory target.

use std::net::Ipv4Addr;

use proto::bgp::attribute::AttributeError;
use proto::bgp::notification::UpdateError;
use proto::bgp::{
    Action, AsPath, AttributeProblem, AttributeValue, CeaseReason, Context, DecodedUpdate,
    ErrorCode, MpNextHop, MpReach, Nlri, Origin, PathAttribute, Update,
};

use super::*;
use crate::policy::{ImportPolicy, MaxPrefix};

pub(super) const LOCAL_AS: u32 = 65000;
const ROUTER_ID: &str = "10.255.0.5";

pub(super) fn host(a: Ipv4Addr) -> IpNet {
    IpNet::V4(ipnet::Ipv4Net::from(a))
}

pub(super) fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

pub(super) fn rib() -> Rib {
    Rib::new(RibConfig {
        local_asn: LOCAL_AS,
        router_id: ROUTER_ID.parse().unwrap(),
    })
}

pub(super) fn ibgp_context() -> Context {
    Context {
        external: false,
        ..Context::modern()
    }
}

/// Adds a peer with `policy` and brings its session up.
pub(super) fn peer(
    rib: &mut Rib,
    addr: &str,
    asn: u32,
    router_id: &str,
    policy: PeerPolicy,
) -> SourceId {
    let id = rib
        .add_peer(PeerConfig {
            address: addr.parse().unwrap(),
            asn,
            policy,
        })
        .unwrap();
    let ctx = if asn == LOCAL_AS {
        ibgp_context()
    } else {
        Context::modern()
    };
    let mut s = SessionInfo::new(router_id.parse().unwrap(), ctx);
    s.local_v4 = Some("192.0.2.5".parse().unwrap());
    s.local_v6 = Some("2001:db8:ffff::5".parse().unwrap());
    rib.session_up(id, s).unwrap();
    id
}

/// The route reflector our hypervisor is a client of.
pub(super) fn reflector(rib: &mut Rib) -> SourceId {
    peer(
        rib,
        "192.0.2.1",
        LOCAL_AS,
        "192.0.2.1",
        PeerPolicy::default(),
    )
}

fn mobility_attr(m: Mobility) -> PathAttribute {
    PathAttribute::new(AttributeValue::ExtendedCommunities(vec![m.to_extended()]))
}

/// An UPDATE announcing `prefixes` (IPv4 in the NLRI field, IPv6 in
/// MP_REACH_NLRI) with ORIGIN, AS_PATH `path`, and `extra`.
pub(super) fn announce(
    prefixes: &[IpNet],
    path: &[u32],
    extra: Vec<PathAttribute>,
) -> DecodedUpdate {
    let (v4, v6): (Vec<IpNet>, Vec<IpNet>) =
        prefixes.iter().partition(|p| matches!(p, IpNet::V4(_)));
    let mut attributes = vec![
        PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
        PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(path.to_vec()))),
    ];
    if !v4.is_empty() {
        attributes.push(PathAttribute::new(AttributeValue::NextHop(
            "192.0.2.77".parse().unwrap(),
        )));
    }
    if !v6.is_empty() {
        attributes.insert(
            0,
            PathAttribute::new(AttributeValue::MpReach(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: MpNextHop::Ipv6 {
                    global: "2001:db8::77".parse().unwrap(),
                    link_local: None,
                },
                nlri: v6.iter().map(|p| Nlri::new(*p)).collect(),
            })),
        );
    }
    attributes.extend(extra);
    DecodedUpdate {
        update: Update {
            withdrawn: Vec::new(),
            attributes,
            nlri: v4.iter().map(|p| Nlri::new(*p)).collect(),
        },
        problems: Vec::new(),
    }
}

pub(super) fn withdraw(prefixes: &[IpNet]) -> DecodedUpdate {
    DecodedUpdate {
        update: Update {
            withdrawn: prefixes.iter().map(|p| Nlri::new(*p)).collect(),
            ..Update::default()
        },
        problems: Vec::new(),
    }
}

pub(super) fn seq(rib: &mut Rib, from: SourceId, prefix: &str, m: Mobility) -> UpdateOutcome {
    rib.apply_update(from, &announce(&[net(prefix)], &[], vec![mobility_attr(m)]))
        .unwrap()
}

// ---- mobility ---------------------------------------------------------

#[test]
fn local_route_superseded_by_newer_sequence_emits_event() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(3, false)));
    assert_eq!(rib.best(&p).unwrap().source, SourceId::LOCAL);
    rib.take_events();
    rib.take_changes();
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(4, false));
    assert_eq!(rib.best(&p).unwrap().source, rr);
    let events = rib.take_events();
    assert_eq!(
        events,
        vec![RibEvent::LocalSuperseded {
            prefix: p,
            by: Superseder {
                source: rr,
                router_id: "192.0.2.1".parse().unwrap(),
                mobility: Mobility::new(4, false),
            },
            reason: Reason::Sequence,
        }]
    );
    let changes = rib.take_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].old.as_ref().unwrap().source, SourceId::LOCAL);
    assert_eq!(changes[0].new.as_ref().unwrap().source, rr);
}

#[test]
fn local_route_superseded_by_static_emits_event() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(9, false)));
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(0, true));
    let events = rib.take_events();
    assert!(matches!(
        events.as_slice(),
        [RibEvent::LocalSuperseded {
            reason: Reason::Static,
            ..
        }]
    ));
}

#[test]
fn equal_sequence_race_is_lost_to_the_lower_originator() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(2, false)));
    // The other hypervisor (10.255.0.3 < our 10.255.0.5) claims it with the
    // same sequence; the reflector adds its ORIGINATOR_ID.
    let reflected = vec![
        mobility_attr(Mobility::new(2, false)),
        PathAttribute::new(AttributeValue::OriginatorId("10.255.0.3".parse().unwrap())),
        PathAttribute::new(AttributeValue::ClusterList(vec![
            "192.0.2.1".parse().unwrap(),
        ])),
    ];
    let _ = rib
        .apply_update(rr, &announce(&[p], &[], reflected))
        .unwrap();
    // Shorter CLUSTER_LIST would favour ours, but the identifier comes first.
    assert_eq!(rib.best(&p).unwrap().source, rr);
    let events = rib.take_events();
    assert!(matches!(
        events.as_slice(),
        [RibEvent::LocalSuperseded { reason: Reason::RouterId, by, .. }]
            if by.router_id == "10.255.0.3".parse::<Ipv4Addr>().unwrap()
    ));
}

#[test]
fn equal_sequence_race_is_won_against_a_higher_originator() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(2, false)));
    let reflected = vec![
        mobility_attr(Mobility::new(2, false)),
        PathAttribute::new(AttributeValue::OriginatorId("10.255.0.9".parse().unwrap())),
    ];
    let _ = rib
        .apply_update(rr, &announce(&[p], &[], reflected))
        .unwrap();
    assert_eq!(rib.best(&p).unwrap().source, SourceId::LOCAL);
    assert!(rib.take_events().is_empty());
}

#[test]
fn originating_below_a_newer_remote_sequence_reports_at_once() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(5, false));
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    assert_eq!(rib.take_events().len(), 1);
    // Arriving properly: max seen + 1 wins and says nothing.
    let next = rib.highest_sequence_seen(&p).unwrap().next();
    assert_eq!(next, Sequence(6));
    rib.originate(p, PathAttrs::local(Mobility::new(next.0, false)));
    assert_eq!(rib.best(&p).unwrap().source, SourceId::LOCAL);
    assert!(rib.take_events().is_empty());
}

#[test]
fn highest_sequence_seen_covers_local_and_learned_paths_with_wrap() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("2001:db8:1::5/128");
    assert_eq!(rib.highest_sequence_seen(&p), None);
    rib.originate(p, PathAttrs::local(Mobility::new(u32::MAX, false)));
    assert_eq!(rib.highest_sequence_seen(&p), Some(Sequence(u32::MAX)));
    seq(&mut rib, rr, "2001:db8:1::5/128", Mobility::new(1, false));
    assert_eq!(
        rib.highest_sequence_seen(&p),
        Some(Sequence(1)),
        "1 is after 2^32-1"
    );
}

#[test]
fn show_paths_explains_why_each_lost() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(2, false));
    let report = rib.paths(&p);
    assert_eq!(report.len(), 2);
    assert!(report[0].best && report[0].source == rr);
    assert_eq!(report[1].lost_on, Some(Reason::Sequence));
}

#[test]
fn show_paths_tells_when_each_path_came_and_from_which_router() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.set_clock(5);
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    rib.set_clock(10);
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(2, false));
    rib.set_clock(20);
    // Re-announced unchanged: not a change; the local path is untouched.
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(2, false));
    let report = rib.paths(&p);
    let got: Vec<(SourceId, u32, Option<Ipv4Addr>)> = report
        .iter()
        .map(|r| (r.source, r.since, r.router_id))
        .collect();
    assert_eq!(
        got,
        [
            (rr, 10, Some("192.0.2.1".parse().unwrap())),
            (SourceId::LOCAL, 5, None)
        ]
    );
    // A newer sequence is a change; ORIGINATOR_ID names the router.
    rib.set_clock(30);
    let mut attrs = vec![mobility_attr(Mobility::new(3, false))];
    attrs.push(PathAttribute::new(AttributeValue::OriginatorId(
        "192.0.2.77".parse().unwrap(),
    )));
    rib.apply_update(rr, &announce(&[p], &[], attrs)).unwrap();
    let r = &rib.paths(&p)[0];
    assert_eq!((r.source, r.since), (rr, 30));
    assert_eq!(r.router_id, Some("192.0.2.77".parse().unwrap()));
}

// ---- RFC 7606 ---------------------------------------------------------

#[test]
fn treat_as_withdraw_removes_the_previously_accepted_route() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(1, false));
    assert!(rib.best(&p).is_some());
    let mut bad = announce(&[p], &[], vec![]);
    bad.problems.push(AttributeProblem {
        type_code: 8,
        error: AttributeError::Length {
            got: 3,
            expected: "a non-zero multiple of 4",
        },
        action: Action::TreatAsWithdraw,
    });
    let out = rib.apply_update(rr, &bad).unwrap();
    assert!(out.treat_as_withdraw);
    assert_eq!((out.accepted, out.withdrawn), (0, 1));
    assert!(rib.best(&p).is_none());
}

#[test]
fn session_reset_verdict_changes_nothing_and_returns_the_notification() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let n = Notification::new(
        ErrorCode::Update(UpdateError::MalformedAttributeList),
        vec![],
    );
    let mut bad = announce(&[net("10.1.1.5/32")], &[], vec![]);
    bad.problems.push(AttributeProblem {
        type_code: 14,
        error: AttributeError::DuplicateMp,
        action: Action::SessionReset(n.clone()),
    });
    let out = rib.apply_update(rr, &bad).unwrap();
    assert_eq!(out.session, Some(SessionAction::Reset(n)));
    assert!(rib.is_empty());
}

#[test]
fn afi_safi_disable_flushes_that_family_and_ignores_more_of_it() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let v6 = net("2001:db8:1::5/128");
    let v4 = net("10.1.1.5/32");
    rib.apply_update(rr, &announce(&[v4, v6], &[], vec![]))
        .unwrap();
    let n = Notification::new(
        ErrorCode::Update(UpdateError::OptionalAttributeError),
        vec![],
    );
    let mut bad = announce(&[net("10.1.1.6/32")], &[], vec![]);
    bad.problems.push(AttributeProblem {
        type_code: 14,
        error: AttributeError::Mp(proto::bgp::mp::MpError::NoReserved),
        action: Action::AfiSafiDisable {
            family: AfiSafi::IPV6_UNICAST,
            notification: n.clone(),
        },
    });
    let out = rib.apply_update(rr, &bad).unwrap();
    assert!(matches!(
        out.session,
        Some(SessionAction::DisableFamily { .. })
    ));
    assert!(rib.best(&v6).is_none());
    assert!(rib.best(&v4).is_some());
    assert!(rib.best(&net("10.1.1.6/32")).is_some(), "IPv4 goes on");
    rib.apply_update(rr, &announce(&[v6], &[], vec![])).unwrap();
    assert!(
        rib.best(&v6).is_none(),
        "IPv6 ignored until the session resets"
    );
}

// ---- graceful restart and route refresh -----------------------------

#[test]
fn graceful_restart_keeps_stale_paths_refresh_clears_end_of_rib_sweeps() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let (a, b) = (net("10.1.1.5/32"), net("10.1.1.6/32"));
    rib.apply_update(rr, &announce(&[a, b], &[], vec![]))
        .unwrap();
    rib.take_changes();
    assert_eq!(rib.session_down(rr, true), 2);
    assert!(
        rib.take_changes().is_empty(),
        "stale routes keep forwarding"
    );
    assert!(rib.received_from(rr).all(|(_, _, _, stale)| stale));
    let s = SessionInfo::new("192.0.2.1".parse().unwrap(), ibgp_context());
    rib.session_up(rr, s).unwrap();
    rib.apply_update(rr, &announce(&[a], &[], vec![])).unwrap();
    assert!(
        rib.paths(&a).iter().all(|p| !p.stale),
        "re-announced: fresh"
    );
    let out = rib.apply_update(
        rr,
        &DecodedUpdate {
            update: Update::end_of_rib(AfiSafi::IPV4_UNICAST),
            problems: vec![],
        },
    );
    let out = out.unwrap();
    assert_eq!(
        (out.end_of_rib, out.swept),
        (Some(AfiSafi::IPV4_UNICAST), 1)
    );
    assert!(rib.best(&a).is_some());
    assert!(rib.best(&b).is_none());
    let changes = rib.take_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!((changes[0].prefix, changes[0].new.clone()), (b, None));
}

#[test]
fn enhanced_route_refresh_marks_and_sweeps_one_family() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let (v4, v6) = (net("10.1.1.5/32"), net("2001:db8::5/128"));
    rib.apply_update(rr, &announce(&[v4, v6], &[], vec![]))
        .unwrap();
    assert_eq!(rib.mark_stale(rr, Some(AfiSafi::IPV6_UNICAST)), 1);
    assert_eq!(rib.sweep_stale(rr, Some(AfiSafi::IPV6_UNICAST)), 1);
    assert!(rib.best(&v6).is_none());
    assert!(rib.best(&v4).is_some());
    assert_eq!(rib.sweep_stale(rr, None), 0, "IPv4 was never marked");
}

#[test]
fn session_down_without_graceful_restart_removes_paths() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    rib.apply_update(rr, &announce(&[net("10.1.1.5/32")], &[], vec![]))
        .unwrap();
    rib.take_changes();
    assert_eq!(rib.session_down(rr, false), 1);
    assert!(rib.is_empty());
    assert_eq!(rib.take_changes().len(), 1);
    assert_eq!(rib.prefix_count(rr, AfiSafi::IPV4_UNICAST), 0);
}

#[test]
fn a_removed_peer_loses_its_stale_and_fresh_paths_and_is_never_exported_to() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let (a, b) = (net("10.1.1.5/32"), net("10.1.1.6/32"));
    rib.apply_update(rr, &announce(&[a], &[], vec![])).unwrap();
    rib.session_down(rr, true);
    let s = SessionInfo::new("192.0.2.1".parse().unwrap(), ibgp_context());
    rib.session_up(rr, s).unwrap();
    rib.apply_update(rr, &announce(&[b], &[], vec![])).unwrap();
    rib.take_changes();
    assert_eq!(rib.remove_peer(rr), 2, "the stale path and the fresh one");
    assert!(rib.is_empty());
    assert_eq!(rib.take_changes().len(), 2);
    assert!(rib.peer(rr).is_none());
    assert_eq!(rib.prefix_count(rr, AfiSafi::IPV4_UNICAST), 0);
    rib.originate(a, PathAttrs::local(Mobility::new(1, false)));
    let changes = rib.take_changes();
    assert!(rib.export_all(&changes).iter().all(|(id, _)| *id != rr));
}

#[test]
fn local_routes_reconcile_with_mark_and_sweep_after_a_daemon_restart() {
    let mut rib = rib();
    let (a, b) = (net("10.1.1.5/32"), net("10.1.1.6/32"));
    rib.originate(a, PathAttrs::local(Mobility::new(1, false)));
    rib.originate(b, PathAttrs::local(Mobility::new(1, false)));
    assert_eq!(rib.mark_stale(SourceId::LOCAL, None), 2);
    rib.originate(a, PathAttrs::local(Mobility::new(1, false)));
    assert_eq!(rib.sweep_stale(SourceId::LOCAL, None), 1);
    assert!(rib.best(&a).is_some());
    assert!(rib.best(&b).is_none());
    assert_eq!(rib.session_down(SourceId::LOCAL, false), 0, "not a peer");
}

// ---- import policy through UPDATEs ----------------------------------

pub(super) fn tor_policy() -> PeerPolicy {
    PeerPolicy {
        import: Some(ImportPolicy::pools([net("10.1.0.0/16")])),
        export: Some(crate::policy::ExportPolicy {
            pools: vec![net("10.1.0.0/16"), net("2001:db8::/32")],
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn rfc8212_ebgp_peer_without_policy_imports_nothing() {
    let mut rib = rib();
    let tor = peer(
        &mut rib,
        "192.0.2.9",
        65100,
        "192.0.2.9",
        PeerPolicy::default(),
    );
    let out = rib
        .apply_update(tor, &announce(&[net("10.1.1.5/32")], &[65100], vec![]))
        .unwrap();
    assert_eq!((out.accepted, out.rejected), (0, 1));
    assert!(rib.is_empty());
}

#[test]
fn import_rejects_outside_pools_loops_and_wrong_first_as() {
    let mut rib = rib();
    let tor = peer(&mut rib, "192.0.2.9", 65100, "192.0.2.9", tor_policy());
    let ok = net("10.1.1.5/32");
    let cases = [
        (
            announce(&[net("10.9.1.5/32")], &[65100], vec![]),
            "outside pools",
        ),
        (
            announce(&[net("10.1.0.0/24")], &[65100], vec![]),
            "not a host route",
        ),
        (announce(&[ok], &[65100, 65000], vec![]), "our AS: loop"),
        (
            announce(&[ok], &[65101], vec![]),
            "first AS is not the peer",
        ),
    ];
    for (u, why) in cases {
        let out = rib.apply_update(tor, &u).unwrap();
        assert_eq!((out.accepted, out.rejected), (0, 1), "{why}");
    }
    assert!(rib.is_empty());
    let out = rib
        .apply_update(tor, &announce(&[ok], &[65100], vec![]))
        .unwrap();
    assert_eq!(out.accepted, 1);
    // A later rejected announcement of the same prefix withdraws it.
    rib.apply_update(tor, &announce(&[ok], &[65100, 65000], vec![]))
        .unwrap();
    assert!(rib.best(&ok).is_none());
}

#[test]
fn rfc4271_a_next_hop_of_ours_or_not_a_host_ignores_the_route() {
    let mut rib = rib();
    let tor = peer(&mut rib, "192.0.2.9", 65100, "192.0.2.9", tor_policy());
    let ok = net("10.1.1.5/32");
    for bad in ["192.0.2.5", "0.0.0.0", "224.0.0.5", "127.0.0.1"] {
        rib.apply_update(tor, &announce(&[ok], &[65100], vec![]))
            .unwrap();
        assert!(rib.best(&ok).is_some());
        let mut u = announce(&[ok], &[65100], vec![]);
        for a in &mut u.update.attributes {
            if let AttributeValue::NextHop(nh) = &mut a.value {
                *nh = bad.parse().unwrap();
            }
        }
        let out = rib.apply_update(tor, &u).unwrap();
        assert_eq!((out.accepted, out.rejected), (0, 1), "{bad}");
        assert!(rib.best(&ok).is_none(), "{bad}: the earlier path goes too");
    }
}

#[test]
fn max_prefix_warns_then_returns_a_teardown() {
    let mut rib = rib();
    let policy = PeerPolicy {
        max_prefix: Some(MaxPrefix {
            limit: 3,
            warn_percent: 50,
            restart_secs: Some(60),
            warning_only: false,
        }),
        ..tor_policy()
    };
    let tor = peer(&mut rib, "192.0.2.9", 65100, "192.0.2.9", policy);
    let four: Vec<IpNet> = (1..=4).map(|i| net(&format!("10.1.1.{i}/32"))).collect();
    let out = rib
        .apply_update(tor, &announce(&four[..3], &[65100], vec![]))
        .unwrap();
    assert_eq!((out.accepted, out.session.clone()), (3, None));
    // Re-announcing what it has is not growth.
    let out = rib
        .apply_update(tor, &announce(&four[..3], &[65100], vec![]))
        .unwrap();
    assert_eq!(out.session, None);
    let out = rib
        .apply_update(tor, &announce(&four, &[65100], vec![]))
        .unwrap();
    let Some(SessionAction::MaxPrefix(t)) = out.session else {
        panic!("{out:?}");
    };
    assert_eq!(
        t.notification,
        Notification::max_prefix(AfiSafi::IPV4_UNICAST, 3)
    );
    assert_eq!(
        t.notification.error,
        ErrorCode::Cease(CeaseReason::MaximumPrefixesReached)
    );
    assert_eq!(t.restart_after, Some(std::time::Duration::from_secs(60)));
    assert!(
        rib.best(&four[3]).is_none(),
        "the prefix over the limit is not taken"
    );
    assert_eq!(rib.prefix_count(tor, AfiSafi::IPV4_UNICAST), 3);
}

#[test]
fn changes_are_coalesced_per_prefix() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(2, false));
    rib.withdraw_local(p);
    let changes = rib.take_changes();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].old, None);
    assert_eq!(changes[0].new.as_ref().unwrap().source, rr);
    rib.apply_update(rr, &withdraw(&[p])).unwrap();
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    rib.withdraw_local(p);
    let changes = rib.take_changes();
    assert_eq!(changes.len(), 1, "withdrawn: {changes:?}");
    assert_eq!(changes[0].new, None);
}

#[test]
fn changes_come_out_sorted_by_prefix_whatever_the_order_they_happened_in() {
    let mut rib = rib();
    let (p, q, r) = (net("10.1.1.1/32"), net("10.1.1.2/32"), net("10.1.1.3/32"));
    rib.originate(r, PathAttrs::local(Mobility::new(1, false)));
    rib.originate(q, PathAttrs::local(Mobility::new(1, false)));
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    rib.originate(r, PathAttrs::local(Mobility::new(2, false)));
    let changes = rib.take_changes();
    let prefixes: Vec<IpNet> = changes.iter().map(|c| c.prefix).collect();
    assert_eq!(prefixes, [p, q, r]);
    let last = changes[2].new.as_ref().unwrap();
    assert_eq!(last.attrs.sequence(), Sequence(2), "the last state wins");
    assert_eq!(changes[2].old, None, "the first state is kept");
    // In order and each once (a table dump): taken as they are.
    for x in [p, q, r] {
        rib.withdraw_local(x);
    }
    let changes = rib.take_changes();
    assert!(changes.iter().all(|c| c.new.is_none()) && changes.len() == 3);
}

// ---- memory ------------------------------------------------------------

/// Resident set size of this process, from /proc (Linux).
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Run alone, in release:
/// `cargo test -p hostroute-speaker --release -- --ignored --nocapture memory_per_route`
#[test]
#[ignore = "measurement: a million routes"]
fn memory_per_route_one_million_host_routes_from_one_peer() {
    const N: u32 = 1_000_000;
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let attrs = vec![mobility_attr(Mobility::new(0, false))];
    let before = rss_bytes();
    let mut start = 0u32;
    while start < N {
        let end = (start + 800).min(N);
        let prefixes: Vec<IpNet> = (start..end)
            .map(|i| host(Ipv4Addr::from(0x0a00_0000 + i)))
            .collect();
        let out = rib
            .apply_update(rr, &announce(&prefixes, &[], attrs.clone()))
            .unwrap();
        assert_eq!(out.accepted, prefixes.len());
        rib.take_changes();
        start = end;
    }
    let after = rss_bytes();
    let m = rib.memory();
    assert_eq!(m.prefixes, N as usize);
    assert_eq!(m.attribute_sets, 1);
    let per_route = (m.table_bytes + m.attribute_bytes) as f64 / f64::from(N);
    println!(
        "1M /32 from one peer: table {} B + attributes {} B = {per_route:.1} B/route (accounted)",
        m.table_bytes, m.attribute_bytes
    );
    if let (Some(b), Some(a)) = (before, after) {
        println!(
            "resident set grew {} B = {:.1} B/route",
            a - b,
            (a - b) as f64 / f64::from(N)
        );
    }
    assert!(per_route < 100.0, "{per_route} B/route");
}
