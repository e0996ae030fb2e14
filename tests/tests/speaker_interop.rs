//! The hostroute BGP speaker (`hr-speakerd`) against BIRD 2, FRR and
//! GoBGP in network namespaces: sessions over IPv4, IPv6 and link-local
//! addresses, eBGP and iBGP, host routes both ways with the mobility
//! community, withdrawals, TCP-MD5 and GTSM. Reflection is in
//! `speaker_reflection.rs`, session life (refresh, bulk, resets) in
//! `speaker_sessions.rs`.
//!
//! Two speakers, one session (carrying IPv4 and IPv6 unicast):
//!
//! ```text
//!   a: hostroute  v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  b: peer  v1 192.0.2.2/24 2001:db8::2/64
//!      AS 65001, id 192.0.2.1                                     AS 65002 (eBGP) or 65001 (iBGP)
//! ```

use std::net::IpAddr;
use std::time::Duration;

use anyhow::ensure;
use hostroute_tests::Pair;
use hostroute_tests::speaker::{Speaker, SpeakerPath};
use ipnet::IpNet;
use lab::peers::{Community, ExtCommunity, Frr, LargeCommunity, Neighbor, Peer, PeerConfig, Route};

mod common;
use common::*;

/// How an exchange test sets up its session.
#[derive(Clone, Copy, Debug)]
struct Session {
    kind: Kind,
    /// The peer's AS; ours is 65001 (iBGP when equal).
    peer_as: u32,
    /// Over IPv6 addresses (else IPv4); either way it carries both families.
    ipv6: bool,
    /// TCP-MD5 on both sides.
    password: Option<&'static str>,
    /// Bind our outgoing connections to the veth (SO_BINDTODEVICE).
    bind_device: bool,
    /// A second address of ours (on the veth) as the session's local
    /// address, instead of 192.0.2.1 / 2001:db8::1.
    local_address: Option<&'static str>,
}

impl Session {
    fn ebgp(kind: Kind) -> Session {
        Session {
            kind,
            peer_as: 65002,
            ipv6: false,
            password: None,
            bind_device: false,
            local_address: None,
        }
    }
}

/// hostroute and a peer exchange an IPv4 /32 and an IPv6 /128 each way over
/// one session, with communities and the mobility community; then withdraw
/// one each way; the session never flapped.
fn exchange(test: &str, s: Session) {
    run(test, &format!("{:?}-exchange", s.kind), |lab, left| {
        let pair = Pair::new(lab, "hr", &format!("{:?}", s.kind))?;
        left.names = pair.names();
        let ibgp = s.peer_as == OUR_AS;
        let (mut ours, theirs) = if s.ipv6 {
            (Pair::A6, Pair::B6)
        } else {
            (Pair::A4, Pair::B4)
        };
        if let Some(local) = s.local_address {
            ours = local.parse()?;
            let len = if ours.is_ipv4() { 24 } else { 64 };
            pair.link.a.add_addr(IpNet::new(ours, len)?)?;
        }
        // Our next hops: the session's address for its own family.
        let (nh4, nh6) = match ours {
            IpAddr::V4(_) => (ours, Pair::A6),
            IpAddr::V6(_) => (Pair::A4, ours),
        };

        // No next_hop_v4/v6: the other family's next hop comes from the
        // interface.
        let mut n = neighbor(theirs, s.peer_as);
        n.password = s.password.map(str::to_string);
        if s.local_address.is_some() {
            n.local_address = Some(ours);
        }
        if s.bind_device {
            n.interface = Some(pair.link.a.name().to_string());
        }
        let hr = Speaker::start(&pair.a, SPEAKERD, speaker_config(Pair::A4, OUR_AS, vec![n]))?;
        left.pids.push(hr.pid());

        let mut v4_route = Route::new(net("198.51.100.2/32"))
            .community(65002, 1)
            .large_community(65002, 1, 2);
        if matches!(s.kind, Kind::Bird) {
            // Only BIRD can originate a MAC Mobility community.
            v4_route = v4_route.ext_community(ExtCommunity::mac_mobility(9, false));
        }
        let mut v6_route = Route::new(net("2001:db8:100::2/128")).community(65002, 6);
        if matches!(s.kind, Kind::Gobgp) {
            // GoBGP does not pick an IPv6 next hop for an IPv4 session.
            v6_route = v6_route.next_hop(Pair::B6);
        }
        let mut our_side = Neighbor::new(ours, OUR_AS);
        if let Some(p) = s.password {
            our_side = our_side.password(p);
        }
        let Started { peer, paths } = start(
            s.kind,
            &pair.b,
            peer_pools(PeerConfig::new(v4(Pair::B4), s.peer_as))
                .neighbor(our_side)
                .originate(v4_route)
                .originate(v6_route),
        )?;
        let mut peer = peer;
        left.pids.extend(peer.pids());
        left.paths.extend(paths);

        hr.wait_established(theirs, ESTABLISH)?;
        peer.wait_established(ours, ESTABLISH)?;

        hr.originate(net("198.51.100.1/32"), 5, &[Community(65001, 1)])?;
        hr.originate(net("2001:db8:100::1/128"), 3, &[Community(65001, 6)])?;
        let our_path: Vec<u32> = if ibgp { vec![] } else { vec![OUR_AS] };
        let peer_path: Vec<u32> = if ibgp { vec![] } else { vec![s.peer_as] };

        // Ours at the peer, with the mobility community intact.
        for (prefix, next_hop, community, seq) in [
            ("198.51.100.1/32", nh4, Community(65001, 1), 5),
            ("2001:db8:100::1/128", nh6, Community(65001, 6), 3),
        ] {
            let prefix = net(prefix);
            let r = peer.wait_route(&format!("{prefix} from hostroute"), CONVERGE, &|r| {
                r.prefix == prefix && r.from == ours
            })?;
            ensure!(r.as_path == our_path, "{r:?}");
            ensure!(r.next_hop == Some(next_hop), "{r:?}");
            ensure!(r.communities == [community], "{r:?}");
            ensure!(
                mobility_of(&r.ext_communities) == [ExtCommunity::mac_mobility(seq, false)],
                "mobility community changed: {r:?}"
            );
            ensure!(r.other_ext_communities.is_empty(), "{r:?}");
        }

        // The peer's at hostroute, with its next hops and attributes.
        let from_peer = |prefix: IpNet| move |p: &SpeakerPath| p.prefix == prefix && p.from(theirs);
        let p = hr.wait_path(
            "198.51.100.2/32 from the peer",
            CONVERGE,
            from_peer(net("198.51.100.2/32")),
        )?;
        ensure!(p.best, "{p:?}");
        ensure!(p.next_hop == Some(Pair::B4), "{p:?}");
        ensure!(p.as_path == peer_path, "{p:?}");
        ensure!(p.communities == [Community(65002, 1)], "{p:?}");
        ensure!(
            p.large_communities == [LargeCommunity(65002, 1, 2)],
            "{p:?}"
        );
        if matches!(s.kind, Kind::Bird) {
            ensure!(p.sequence() == Some(9), "{p:?}");
        }
        if ibgp {
            ensure!(p.local_pref == Some(100), "{p:?}");
        }
        let p = hr.wait_path(
            "2001:db8:100::2/128 from the peer",
            CONVERGE,
            from_peer(net("2001:db8:100::2/128")),
        )?;
        ensure!(p.best, "{p:?}");
        ensure!(p.next_hop == Some(Pair::B6), "{p:?}");
        ensure!(p.as_path == peer_path, "{p:?}");
        ensure!(p.communities == [Community(65002, 6)], "{p:?}");

        // Withdraw one route each way; the others stay.
        hr.withdraw(net("198.51.100.1/32"))?;
        peer.withdraw(net("2001:db8:100::2/128"))?;
        peer.wait_no_route(net("198.51.100.1/32"), CONVERGE)?;
        hr.wait_no_path(
            "2001:db8:100::2/128",
            CONVERGE,
            from_peer(net("2001:db8:100::2/128")),
        )?;
        ensure!(
            peer.routes()?
                .iter()
                .any(|r| r.prefix == net("2001:db8:100::1/128")),
            "withdrawing one route took another"
        );
        ensure!(
            hr.routes()?
                .iter()
                .any(|p| p.prefix == net("198.51.100.2/32") && p.from(theirs)),
            "withdrawing one route took another"
        );
        let peers = hr.peers()?;
        ensure!(
            peers
                .iter()
                .all(|p| p["flaps"] == 0 && p["state"] == "Established"),
            "the session flapped: {peers:?}"
        );
        ensure!(
            hr.warnings().is_empty(),
            "hostroute warned: {:#?}",
            hr.warnings()
        );
        Ok(())
    });
}

#[test]
fn hostroute_and_bird_exchange_host_routes() {
    exchange(
        "hostroute_and_bird_exchange_host_routes",
        Session {
            bind_device: true,
            ..Session::ebgp(Kind::Bird)
        },
    );
}

#[test]
fn hostroute_and_frr_exchange_host_routes() {
    exchange(
        "hostroute_and_frr_exchange_host_routes",
        Session::ebgp(Kind::Frr),
    );
}

/// With 4-octet AS numbers on the peer's side (RFC 6793).
#[test]
fn hostroute_and_gobgp_exchange_host_routes() {
    exchange(
        "hostroute_and_gobgp_exchange_host_routes",
        Session {
            peer_as: 4_200_000_002,
            ..Session::ebgp(Kind::Gobgp)
        },
    );
}

#[test]
fn hostroute_and_bird_exchange_host_routes_over_ibgp() {
    exchange(
        "hostroute_and_bird_exchange_host_routes_over_ibgp",
        Session {
            peer_as: OUR_AS,
            ..Session::ebgp(Kind::Bird)
        },
    );
}

/// From a second address of ours (`local_address`), which is also the
/// next hop.
#[test]
fn hostroute_and_gobgp_exchange_host_routes_over_ibgp() {
    exchange(
        "hostroute_and_gobgp_exchange_host_routes_over_ibgp",
        Session {
            peer_as: OUR_AS,
            local_address: Some("192.0.2.11"),
            ..Session::ebgp(Kind::Gobgp)
        },
    );
}

/// One IPv6 session carrying both families (the IPv4 next hop comes from
/// the interface), signed with TCP-MD5: the key sits on the IPv6 listener.
#[test]
fn hostroute_and_frr_exchange_over_an_ipv6_session_with_md5() {
    exchange(
        "hostroute_and_frr_exchange_over_an_ipv6_session_with_md5",
        Session {
            ipv6: true,
            password: Some("s3cret6"),
            ..Session::ebgp(Kind::Frr)
        },
    );
}

#[test]
fn hostroute_and_bird_exchange_over_an_ipv6_session() {
    exchange(
        "hostroute_and_bird_exchange_over_an_ipv6_session",
        Session {
            ipv6: true,
            ..Session::ebgp(Kind::Bird)
        },
    );
}

/// TCP-MD5 and GTSM between hostroute and `kind`: with the right key and
/// GTSM the session comes up and routes flow; first, with a wrong key (and,
/// against FRR, with the right key but without GTSM on our side), it does
/// not.
fn md5(test: &str, kind: Kind) {
    run(test, &format!("{kind:?}-md5"), |lab, left| {
        let pair = Pair::new(lab, "hr", &format!("{kind:?}"))?;
        left.names = pair.names();
        let Started { peer, paths } = start(
            kind,
            &pair.b,
            peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                .neighbor(
                    Neighbor::new(Pair::A4, 65001)
                        .password("s3cret")
                        .ttl_security(),
                )
                .originate(Route::new(net("198.51.100.2/32")).community(65002, 1)),
        )?;
        left.pids.extend(peer.pids());
        left.paths.extend(paths);

        let with = |password: &str, gtsm: bool, passive: bool| {
            let mut n = neighbor(Pair::B4, 65002);
            n.password = Some(password.to_string());
            n.ttl_security_hops = gtsm.then_some(1);
            n.passive = passive;
            speaker_config(Pair::A4, 65001, vec![n])
        };
        // A wrong key: no session. Then, against FRR, no GTSM on our side:
        // FRR sets its minimum TTL before connecting, so our SYN-ACK (TTL
        // 64) is dropped and there is no session. BIRD 2.0.12 sets it only
        // once the connection is up, in either direction, so our OPEN and
        // first KEEPALIVE get through and the session comes up until BIRD's
        // hold timer expires: not a check a snapshot can make.
        let mut negative = vec![("wrong", true, "mismatched TCP-MD5 keys")];
        if matches!(kind, Kind::Frr) {
            negative.push(("s3cret", false, "GTSM on one side only"));
        }
        for (password, gtsm, what) in negative {
            let hr = Speaker::start(&pair.a, SPEAKERD, with(password, gtsm, true))?;
            left.pids.push(hr.pid());
            std::thread::sleep(Duration::from_secs(3));
            ensure!(
                !hr.established(Pair::B4)? && !peer.established(Pair::A4)?,
                "a session came up with {what}"
            );
        }
        let hr = Speaker::start(&pair.a, SPEAKERD, with("s3cret", true, false))?;
        left.pids.push(hr.pid());
        hr.wait_established(Pair::B4, ESTABLISH)?;
        peer.wait_established(Pair::A4, ESTABLISH)?;
        hr.originate(net("198.51.100.1/32"), 1, &[])?;
        let r = peer.wait_route("198.51.100.1/32 from hostroute", CONVERGE, &|r| {
            r.prefix == net("198.51.100.1/32") && r.from == Pair::A4
        })?;
        ensure!(
            mobility_of(&r.ext_communities) == [ExtCommunity::mac_mobility(1, false)],
            "{r:?}"
        );
        hr.wait_path("198.51.100.2/32 from the peer", CONVERGE, |p| {
            p.prefix == net("198.51.100.2/32") && p.from(Pair::B4) && p.best
        })?;
        Ok(())
    });
}

#[test]
fn hostroute_and_bird_with_md5_and_gtsm() {
    md5("hostroute_and_bird_with_md5_and_gtsm", Kind::Bird);
}

#[test]
fn hostroute_and_frr_with_md5_and_gtsm() {
    md5("hostroute_and_frr_with_md5_and_gtsm", Kind::Frr);
}

/// Our GTSM check: FRR without ttl-security sends with TTL 1 (eBGP), which
/// hostroute with `ttl_security_hops = 1` (minimum TTL 255) drops, on the
/// listener and on its own connection attempts: no session. Without GTSM on
/// our side the same pair comes up.
#[test]
fn hostroute_gtsm_drops_a_peer_that_sends_ttl_1() {
    run(
        "hostroute_gtsm_drops_a_peer_that_sends_ttl_1",
        "gtsm",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "frr")?;
            left.names = pair.names();
            let frr = Frr::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS)),
            )?;
            left.pids.extend(frr.pids());
            left.paths.push(frr.state_dir());
            let config = |gtsm: Option<u8>| {
                let mut n = neighbor(Pair::B4, 65002);
                n.ttl_security_hops = gtsm;
                speaker_config(Pair::A4, OUR_AS, vec![n])
            };
            {
                let hr = Speaker::start(&pair.a, SPEAKERD, config(Some(1)))?;
                left.pids.push(hr.pid());
                std::thread::sleep(Duration::from_secs(3));
                ensure!(
                    !hr.established(Pair::B4)? && !frr.established(Pair::A4)?,
                    "a session came up although FRR sends TTL 1"
                );
                let opens = hr.peers()?[0]["messages_in"]["open"].as_u64();
                ensure!(opens == Some(0), "an OPEN got through: {:?}", hr.peers()?);
            }
            let hr = Speaker::start(&pair.a, SPEAKERD, config(None))?;
            left.pids.push(hr.pid());
            hr.wait_established(Pair::B4, ESTABLISH)?;
            Ok(())
        },
    );
}

/// Two hostroute speakers over IPv6 link-local addresses (the session is
/// bound to the veth with `interface`, without which a link-local connect
/// has no scope): both families flow, IPv4 with the interface's IPv4
/// address as next hop, IPv6 with the global one.
///
/// ```text
///   a: v0 fe80::a 192.0.2.1 2001:db8::1  <-- veth -->  b: v1 fe80::b 192.0.2.2 2001:db8::2
/// ```
#[test]
fn hostroute_speakers_peer_over_link_local_addresses() {
    run(
        "hostroute_speakers_peer_over_link_local_addresses",
        "link-local",
        |lab, left| {
            let pair = Pair::new(lab, "a", "b")?;
            left.names = pair.names();
            let (lla, llb): (IpAddr, IpAddr) = ("fe80::a".parse()?, "fe80::b".parse()?);
            pair.link.a.add_addr(net("fe80::a/64"))?;
            pair.link.b.add_addr(net("fe80::b/64"))?;
            let side = |peer: IpAddr, asn: u32, interface: &str| {
                let mut n = neighbor(peer, asn);
                n.interface = Some(interface.to_string());
                n
            };
            let a = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(Pair::A4, OUR_AS, vec![side(llb, 65002, pair.link.a.name())]),
            )?;
            left.pids.push(a.pid());
            // b waits for a's connection: one outgoing, one accepted socket,
            // both bound to their veth.
            let mut passive = side(lla, OUR_AS, pair.link.b.name());
            passive.passive = true;
            let b = Speaker::start(
                &pair.b,
                SPEAKERD,
                speaker_config(Pair::B4, 65002, vec![passive]),
            )?;
            left.pids.push(b.pid());
            a.wait_established(llb, ESTABLISH)?;
            b.wait_established(lla, ESTABLISH)?;
            a.originate(net("198.51.100.1/32"), 1, &[])?;
            a.originate(net("2001:db8:100::1/128"), 1, &[])?;
            for (prefix, next_hop) in [
                ("198.51.100.1/32", Pair::A4),
                ("2001:db8:100::1/128", Pair::A6),
            ] {
                let prefix = net(prefix);
                let p = b.wait_path(&prefix.to_string(), CONVERGE, |p| p.prefix == prefix)?;
                ensure!(p.best && p.from(lla), "{p:?}");
                ensure!(p.next_hop == Some(next_hop), "{p:?}");
                ensure!(p.as_path == [OUR_AS] && p.sequence() == Some(1), "{p:?}");
            }
            for s in [&a, &b] {
                ensure!(
                    s.warnings().is_empty(),
                    "hostroute warned: {:#?}",
                    s.warnings()
                );
            }
            Ok(())
        },
    );
}
