//! Adj-RIB-Out and packing tests: UPDATE counts and sizes, grouping by
//! attribute set, IPv6 and RFC 8950 carriage, withdrawals, export rules.

use std::net::{Ipv4Addr, Ipv6Addr};

use proto::bgp::{
    AsPath, AttributeValue, Community, Context, ExtendedCommunity, MpNextHop, Nlri, PathAttribute,
    Update,
};

use super::tests::{
    LOCAL_AS, announce, host, ibgp_context, net, peer, reflector, rib, seq, tor_policy,
};
use super::*;

// ---- export and packing ------------------------------------------------

fn encode(updates: &[Update], ctx: &Context) -> Vec<Vec<u8>> {
    updates
        .iter()
        .map(|u| {
            let mut out = Vec::new();
            u.emit(ctx, &mut out).unwrap();
            assert!(out.len() <= usize::from(ctx.max_len()));
            // And it reads back as what was packed (a 2-octet session
            // carries AS_TRANS in AS_PATH, so compare only 4-octet ones).
            let decoded = Update::parse_body(&out[19..], ctx).unwrap();
            assert!(decoded.problems.is_empty(), "{:?}", decoded.problems);
            if ctx.four_octet_as {
                assert_eq!(&decoded.update, u);
            }
            out
        })
        .collect()
}

fn announced_prefixes(updates: &[Update]) -> Vec<IpNet> {
    let mut all: Vec<IpNet> = updates
        .iter()
        .flat_map(|u| {
            let mp = u.mp_reach().map(|m| m.nlri.clone()).unwrap_or_default();
            u.nlri
                .iter()
                .chain(mp.iter())
                .map(|n| n.prefix)
                .collect::<Vec<_>>()
        })
        .collect();
    all.sort();
    all
}

#[test]
fn a_thousand_routes_with_one_attribute_set_pack_into_two_updates() {
    let mut rib = rib();
    for i in 0..1000u32 {
        let a = Ipv4Addr::from(0x0a01_0000 + i);
        rib.originate(host(a), PathAttrs::local(Mobility::new(0, false)));
    }
    let rr = reflector(&mut rib);
    let ctx = ibgp_context();
    // The dump happened at session up; do it again through a fresh session.
    rib.session_down(rr, false);
    let updates = rib
        .session_up(
            rr,
            SessionInfo {
                local_v4: Some("192.0.2.5".parse().unwrap()),
                ..SessionInfo::new("192.0.2.1".parse().unwrap(), ctx.clone())
            },
        )
        .unwrap();
    let eor = updates
        .iter()
        .filter(|u| u.end_of_rib_family().is_some())
        .count();
    assert_eq!(eor, 2, "End-of-RIB for IPv4 and IPv6 after the dump");
    let routes: Vec<&Update> = updates.iter().filter(|u| !u.nlri.is_empty()).collect();
    // 5 bytes a /32; about 4000 bytes of room: 800 a message.
    assert_eq!(routes.len(), 2, "{}", routes.len());
    assert_eq!(
        updates.last().unwrap().end_of_rib_family(),
        Some(AfiSafi::IPV6_UNICAST)
    );
    encode(&updates, &ctx);
    assert_eq!(announced_prefixes(&updates).len(), 1000);
    assert_eq!(rib.advertised_to(rr).count(), 1000);
    let u = routes[0];
    assert_eq!(
        u.next_hop(),
        Some("192.0.2.5".parse().unwrap()),
        "next hop self"
    );
    assert!(matches!(
        u.attribute(5),
        Some(AttributeValue::LocalPref(100))
    ));
}

#[test]
fn mixed_attributes_are_grouped_and_unchanged_routes_not_resent() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    for i in 0..30u32 {
        let a = Ipv4Addr::from(0x0a01_0000 + i);
        rib.originate(host(a), PathAttrs::local(Mobility::new(i % 3, false)));
    }
    let changes = rib.take_changes();
    let updates = rib.export(rr, &changes);
    assert_eq!(updates.len(), 3, "one UPDATE per sequence number");
    for u in &updates {
        let m = u.mobility().unwrap();
        assert_eq!(u.nlri.len(), 10);
        assert!(u.nlri.iter().all(|n| {
            let IpNet::V4(p) = n.prefix else { return false };
            (u32::from(p.addr()) - 0x0a01_0000) % 3 == m.sequence.0
        }));
    }
    encode(&updates, &ibgp_context());
    assert!(
        rib.export(rr, &changes).is_empty(),
        "the Adj-RIB-Out has them"
    );
    // Re-originating with identical attributes changes nothing on the wire.
    rib.originate(
        net("10.1.0.0/32"),
        PathAttrs::local(Mobility::new(0, false)),
    );
    let changes = rib.take_changes();
    assert!(rib.export(rr, &changes).is_empty());
}

#[test]
fn ipv6_goes_in_mp_reach_placed_first_and_withdrawals_in_mp_unreach() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let p = net("2001:db8:1::5/128");
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    let changes = rib.take_changes();
    let updates = rib.export(rr, &changes);
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert_eq!(u.attributes[0].type_code(), 14, "MP_REACH_NLRI first");
    let m = u.mp_reach().unwrap();
    assert_eq!(m.family, AfiSafi::IPV6_UNICAST);
    assert_eq!(m.nlri, vec![Nlri::new(p)]);
    assert_eq!(
        m.next_hop,
        MpNextHop::Ipv6 {
            global: "2001:db8:ffff::5".parse::<Ipv6Addr>().unwrap(),
            link_local: None
        }
    );
    assert!(u.attribute(3).is_none(), "no NEXT_HOP attribute");
    encode(&updates, &ibgp_context());
    rib.withdraw_local(p);
    let changes = rib.take_changes();
    let updates = rib.export(rr, &changes);
    assert_eq!(updates.len(), 1);
    assert_eq!(
        updates[0].mp_unreach().unwrap().withdrawn,
        vec![Nlri::new(p)]
    );
    encode(&updates, &ibgp_context());
}

#[test]
fn ipv4_goes_in_mp_reach_with_ipv6_next_hop_on_an_rfc8950_session() {
    let mut rib = rib();
    let id = rib
        .add_peer(PeerConfig {
            address: "fe80::1".parse().unwrap(),
            asn: LOCAL_AS,
            policy: PeerPolicy::default(),
        })
        .unwrap();
    let mut s = SessionInfo::new("192.0.2.1".parse().unwrap(), ibgp_context());
    s.local_v6 = Some("2001:db8:ffff::5".parse().unwrap());
    s.local_link_local = Some("fe80::5".parse().unwrap());
    rib.session_up(id, s).unwrap();
    rib.originate(
        net("10.1.1.5/32"),
        PathAttrs::local(Mobility::new(1, false)),
    );
    let changes = rib.take_changes();
    let updates = rib.export(id, &changes);
    let m = updates[0].mp_reach().unwrap();
    assert_eq!(m.family, AfiSafi::IPV4_UNICAST);
    assert!(matches!(
        m.next_hop,
        MpNextHop::Ipv6 {
            link_local: Some(_),
            ..
        }
    ));
    assert!(updates[0].nlri.is_empty());
    encode(&updates, &ibgp_context());
}

#[test]
fn withdrawals_pack_many_per_update() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let prefixes: Vec<IpNet> = (0..2000u32)
        .map(|i| host(Ipv4Addr::from(0x0a01_0000 + i)))
        .collect();
    for p in &prefixes {
        rib.originate(*p, PathAttrs::local(Mobility::new(0, false)));
    }
    let changes = rib.take_changes();
    rib.export(rr, &changes);
    for p in &prefixes {
        rib.withdraw_local(*p);
    }
    let changes = rib.take_changes();
    let updates = rib.export(rr, &changes);
    assert_eq!(updates.len(), 3, "2000 x 5 bytes in 4073-byte bodies");
    assert_eq!(
        updates.iter().map(|u| u.withdrawn.len()).sum::<usize>(),
        2000
    );
    encode(&updates, &ibgp_context());
    assert_eq!(rib.advertised_to(rr).count(), 0);
    assert!(rib.is_empty(), "entries go once the withdrawals are sent");
}

#[test]
fn superseded_local_route_is_withdrawn_from_peers_and_learned_not_echoed() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let tor = peer(&mut rib, "192.0.2.9", 65100, "192.0.2.9", tor_policy());
    let p = net("10.1.1.5/32");
    rib.originate(p, PathAttrs::local(Mobility::new(1, false)));
    let changes = rib.take_changes();
    assert_eq!(rib.export(rr, &changes).len(), 1);
    let to_tor = rib.export(tor, &changes);
    assert_eq!(to_tor.len(), 1);
    assert_eq!(
        to_tor[0].as_path(),
        Some(&AsPath::sequence(vec![LOCAL_AS])),
        "prepended"
    );
    assert!(
        to_tor[0].attribute(5).is_none(),
        "no LOCAL_PREF toward eBGP"
    );
    encode(&to_tor, &Context::modern());
    // The VM moved: the reflector brings a newer sequence.
    seq(&mut rib, rr, "10.1.1.5/32", Mobility::new(2, false));
    let changes = rib.take_changes();
    let back = rib.export(rr, &changes);
    assert_eq!(back.len(), 1);
    assert_eq!(
        back[0].withdrawn,
        vec![Nlri::new(p)],
        "not echoed to its source"
    );
    let tor_out = rib.export(tor, &changes);
    assert_eq!(
        tor_out[0].withdrawn,
        vec![Nlri::new(p)],
        "learned: not exported by default"
    );
}

#[test]
fn ebgp_peer_without_export_policy_gets_only_end_of_rib() {
    let mut rib = rib();
    rib.originate(
        net("10.1.1.5/32"),
        PathAttrs::local(Mobility::new(1, false)),
    );
    let id = rib
        .add_peer(PeerConfig {
            address: "192.0.2.9".parse().unwrap(),
            asn: 65100,
            policy: PeerPolicy::default(),
        })
        .unwrap();
    let updates = rib
        .session_up(
            id,
            SessionInfo::new("192.0.2.9".parse().unwrap(), Context::modern()),
        )
        .unwrap();
    assert!(updates.iter().all(|u| u.end_of_rib_family().is_some()));
}

#[test]
fn learned_routes_export_with_policy_and_as4_path_on_two_octet_sessions() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let policy = PeerPolicy {
        export: Some(crate::policy::ExportPolicy {
            learned: true,
            add_communities: vec![Community::new(65000, 7)],
            ..tor_policy().export.unwrap()
        }),
        ..tor_policy()
    };
    let id = rib
        .add_peer(PeerConfig {
            address: "192.0.2.9".parse().unwrap(),
            asn: 65100,
            policy,
        })
        .unwrap();
    let ctx = Context::default(); // 2-octet AS
    let mut s = SessionInfo::new("192.0.2.9".parse().unwrap(), ctx.clone());
    s.local_v4 = Some("192.0.2.5".parse().unwrap());
    rib.session_up(id, s).unwrap();
    let p = net("10.1.1.5/32");
    let big_as = vec![PathAttribute::new(AttributeValue::ExtendedCommunities(
        vec![
            Mobility::new(1, false).to_extended(),
            ExtendedCommunity([0x40, 0, 0, 0, 0, 0, 0, 1]),
        ],
    ))];
    rib.apply_update(rr, &announce(&[p], &[4_200_000_001], big_as))
        .unwrap();
    let changes = rib.take_changes();
    let updates = rib.export(id, &changes);
    assert_eq!(updates.len(), 1);
    let u = &updates[0];
    assert!(
        matches!(u.attribute(17), Some(AttributeValue::As4Path(p)) if p.contains(4_200_000_001))
    );
    assert_eq!(u.communities(), &[Community::new(65000, 7)]);
    assert_eq!(
        u.extended_communities(),
        &[Mobility::new(1, false).to_extended()]
    );
    encode(&updates, &ctx);
}

#[test]
fn route_refresh_resends_the_adj_rib_out() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    rib.originate(
        net("10.1.1.5/32"),
        PathAttrs::local(Mobility::new(1, false)),
    );
    rib.originate(
        net("2001:db8::5/128"),
        PathAttrs::local(Mobility::new(1, false)),
    );
    let changes = rib.take_changes();
    rib.export(rr, &changes);
    assert_eq!(rib.resend(rr, None).len(), 2);
    let v6 = rib.resend(rr, Some(AfiSafi::IPV6_UNICAST));
    assert_eq!(v6.len(), 1);
    assert!(v6[0].mp_reach().is_some());
}

#[test]
fn a_new_session_gets_the_full_table_even_without_session_down() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    rib.originate(
        net("10.1.1.5/32"),
        PathAttrs::local(Mobility::new(1, false)),
    );
    let changes = rib.take_changes();
    assert_eq!(rib.export(rr, &changes).len(), 1);
    let s = SessionInfo {
        local_v4: Some("192.0.2.5".parse().unwrap()),
        ..SessionInfo::new("192.0.2.1".parse().unwrap(), ibgp_context())
    };
    let dump = rib.session_up(rr, s).unwrap();
    assert_eq!(announced_prefixes(&dump), vec![net("10.1.1.5/32")]);
}

#[test]
fn export_all_skips_what_a_peer_is_never_sent_yet_withdraws_a_fresh_dump() {
    let mut rib = rib();
    let rr = reflector(&mut rib);
    let tor = peer(&mut rib, "192.0.2.9", 65100, "192.0.2.9", tor_policy());
    let changes = rib.take_changes();
    rib.export_all(&changes);
    // Learned from the ToR: never back to it, and the reflector's default
    // policy exports local routes only.
    let p = net("10.1.1.5/32");
    let from_tor = |rib: &mut Rib, sequence| {
        let m = PathAttribute::new(AttributeValue::ExtendedCommunities(vec![
            Mobility::new(sequence, false).to_extended(),
        ]));
        let outcome = rib.apply_update(tor, &announce(&[p], &[65100], vec![m]));
        assert_eq!(outcome.unwrap().accepted, 1);
    };
    from_tor(&mut rib, 1);
    let changes = rib.take_changes();
    assert_eq!(changes.len(), 1);
    assert!(rib.export_all(&changes).is_empty());
    // Within one batch: our VM appears (seq 2), the reflector's session
    // comes up and is dumped the local route, then the ToR brings seq 3.
    // The batch's change (ToR seq 1 -> ToR seq 3) is one the reflector is
    // never sent, but its dump must still be withdrawn.
    rib.originate(p, PathAttrs::local(Mobility::new(2, false)));
    rib.session_down(rr, false);
    let mut s = SessionInfo::new("192.0.2.1".parse().unwrap(), ibgp_context());
    s.local_v4 = Some("192.0.2.5".parse().unwrap());
    let dump = rib.session_up(rr, s).unwrap();
    assert_eq!(announced_prefixes(&dump), vec![p]);
    from_tor(&mut rib, 3);
    let changes = rib.take_changes();
    let out = rib.export_all(&changes);
    let to_rr: Vec<&Update> = out
        .iter()
        .filter(|(id, _)| *id == rr)
        .flat_map(|(_, u)| u)
        .collect();
    assert_eq!(to_rr.len(), 1, "{out:?}");
    assert_eq!(to_rr[0].withdrawn, vec![Nlri::new(p)]);
    assert!(out.iter().all(|(id, _)| *id != tor), "{out:?}");
    assert!(rib.advertised_to(rr).next().is_none());
}

#[test]
fn a_held_end_of_rib_follows_the_routes_originated_before_its_release() {
    let mut rib = rib();
    rib.hold_end_of_rib();
    let id = rib
        .add_peer(PeerConfig {
            address: "192.0.2.9".parse().unwrap(),
            asn: LOCAL_AS,
            policy: PeerPolicy::default(),
        })
        .unwrap();
    let session = || {
        let mut s = SessionInfo::new("192.0.2.9".parse().unwrap(), ibgp_context());
        s.local_v4 = Some("192.0.2.5".parse().unwrap());
        s
    };
    let dump = rib.session_up(id, session()).unwrap();
    assert!(
        dump.iter().all(|u| u.end_of_rib_family().is_none()),
        "End-of-RIB sent while held: {dump:?}"
    );
    // The restarted daemon finds its VM and originates it...
    rib.originate(
        net("10.1.1.5/32"),
        PathAttrs::local(Mobility::new(4, false)),
    );
    let changes = rib.take_changes();
    let routes = rib.export(id, &changes);
    assert_eq!(announced_prefixes(&routes), vec![net("10.1.1.5/32")]);
    // ...then releases End-of-RIB: one per family of the session, once.
    let released = rib.release_end_of_rib();
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].0, id);
    assert!(!released[0].1.is_empty());
    assert!(
        released[0]
            .1
            .iter()
            .all(|u| u.end_of_rib_family().is_some())
    );
    assert!(rib.release_end_of_rib().is_empty(), "released twice");
    // Sessions coming up afterwards get theirs at once.
    let again = rib.session_up(id, session()).unwrap();
    assert!(again.iter().any(|u| u.end_of_rib_family().is_some()));
}
