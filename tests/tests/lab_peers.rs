//! Smoke tests of the lab's real peers: two daemons in two namespaces reach
//! Established, exchange an IPv4 /32 and an IPv6 /128 each way (also
//! announced and withdrawn at runtime), and leave nothing behind.
//!
//! ```text
//!   a: v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  b: v1 192.0.2.2/24 2001:db8::2/64
//!      one BGP session over IPv4, carrying IPv4 and IPv6 unicast
//! ```

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use hostroute_tests::{Pair, assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::peers::{
    Bfd, Bird, Community, Exabgp, ExtCommunity, Family, Frr, Gobgp, LargeCommunity, Neighbor, Peer,
    PeerConfig, Route, RouteEntry,
};
use lab::{Lab, wait_until};

const ESTABLISH: Duration = Duration::from_secs(20);
const CONVERGE: Duration = Duration::from_secs(10);

fn net(text: &str) -> IpNet {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn pools(config: PeerConfig) -> PeerConfig {
    config
        .pool(net("198.51.100.0/24"))
        .pool(net("2001:db8:100::/48"))
}

/// Waits for `prefix` from `from` and returns it.
fn learned(peer: &dyn Peer, prefix: &str, from: IpAddr) -> anyhow::Result<RouteEntry> {
    let prefix = net(prefix);
    Ok(
        peer.wait_route(&format!("{prefix} from {from}"), CONVERGE, &|r| {
            r.prefix == prefix && r.from == from
        })?,
    )
}

#[test]
fn bird_and_frr_exchange_host_routes() {
    if !netns_available("bird_and_frr_exchange_host_routes") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    let mut paths = Vec::new();
    Lab::run("bird-frr", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "bird", "frr")?;
        names = pair.names();
        let mobility = ExtCommunity::mac_mobility(7, false);
        let mut bird = Bird::start(
            &pair.a,
            pools(PeerConfig::new("192.0.2.1".parse()?, 65001))
                .neighbor(Neighbor::new(Pair::B4, 65002))
                .originate(
                    Route::new(net("198.51.100.1/32"))
                        .community(65001, 1)
                        .large_community(65001, 1, 2)
                        .ext_community(ExtCommunity::route_target(65001, 5))
                        .ext_community(mobility),
                )
                .originate(Route::new(net("2001:db8:100::1/128")).community(65001, 6)),
        )
        .context("starting BIRD")?;
        let mut frr = Frr::start(
            &pair.b,
            pools(PeerConfig::new("192.0.2.2".parse()?, 65002))
                .neighbor(Neighbor::new(Pair::A4, 65001))
                .originate(
                    Route::new(net("198.51.100.2/32"))
                        .community(65002, 1)
                        .large_community(65002, 1, 2)
                        .ext_community(ExtCommunity::route_target(65002, 5)),
                )
                .originate(Route::new(net("2001:db8:100::2/128")).community(65002, 6)),
        )
        .context("starting FRR")?;
        pids.extend(bird.pids());
        pids.extend(frr.pids());
        paths.push(frr.state_dir());

        bird.wait_established(Pair::B4, ESTABLISH)?;
        frr.wait_established(Pair::A4, ESTABLISH)?;

        // FRR's routes at BIRD.
        let r = learned(&bird, "198.51.100.2/32", Pair::B4)?;
        ensure!(r.as_path == [65002], "{r:?}");
        ensure!(r.next_hop == Some(Pair::B4), "{r:?}");
        ensure!(r.communities == [Community(65002, 1)], "{r:?}");
        ensure!(
            r.large_communities == [LargeCommunity(65002, 1, 2)],
            "{r:?}"
        );
        ensure!(
            r.ext_communities == [ExtCommunity::route_target(65002, 5)],
            "{r:?}"
        );
        let r = learned(&bird, "2001:db8:100::2/128", Pair::B4)?;
        ensure!(r.next_hop == Some(Pair::B6), "{r:?}");
        ensure!(r.communities == [Community(65002, 6)], "{r:?}");

        // BIRD's routes at FRR, the MAC Mobility community included.
        let r = learned(&frr, "198.51.100.1/32", Pair::A4)?;
        ensure!(r.as_path == [65001], "{r:?}");
        ensure!(r.communities == [Community(65001, 1)], "{r:?}");
        ensure!(
            r.large_communities == [LargeCommunity(65001, 1, 2)],
            "{r:?}"
        );
        ensure!(
            r.ext_communities == [ExtCommunity::route_target(65001, 5), mobility],
            "{r:?}"
        );
        let r = learned(&frr, "2001:db8:100::1/128", Pair::A4)?;
        ensure!(r.next_hop == Some(Pair::A6), "{r:?}");

        // Outside the pools: never imported.
        ensure!(
            !bird
                .routes()?
                .iter()
                .any(|r| r.prefix.prefix_len() != 32 && r.prefix.prefix_len() != 128),
            "a non-host route was imported"
        );

        // Runtime announce and withdraw, both ways.
        bird.announce(Route::new(net("198.51.100.11/32")).community(65001, 11))?;
        frr.announce(Route::new(net("2001:db8:100::12/128")).community(65002, 12))?;
        let r = learned(&frr, "198.51.100.11/32", Pair::A4)?;
        ensure!(r.communities == [Community(65001, 11)], "{r:?}");
        let r = learned(&bird, "2001:db8:100::12/128", Pair::B4)?;
        ensure!(r.communities == [Community(65002, 12)], "{r:?}");
        bird.withdraw(net("198.51.100.11/32"))?;
        frr.withdraw(net("2001:db8:100::12/128"))?;
        frr.wait_no_route(net("198.51.100.11/32"), CONVERGE)?;
        bird.wait_no_route(net("2001:db8:100::12/128"), CONVERGE)?;
        ensure!(
            frr.routes()?
                .iter()
                .any(|r| r.prefix == net("198.51.100.1/32")),
            "withdrawing one route took another"
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &pids, &paths);
    eprintln!("bird_and_frr_exchange_host_routes: {:?}", started.elapsed());
}

#[test]
fn gobgp_and_exabgp_exchange_host_routes() {
    if !netns_available("gobgp_and_exabgp_exchange_host_routes") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    Lab::run("gobgp-exabgp", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "gobgp", "exabgp")?;
        names = pair.names();
        let mobility = ExtCommunity::mac_mobility(9, false);
        let mut gobgp = Gobgp::start(
            &pair.a,
            pools(PeerConfig::new("192.0.2.1".parse()?, 65003))
                .neighbor(Neighbor::new(Pair::B4, 65004))
                .originate(
                    Route::new(net("198.51.100.3/32"))
                        .community(65003, 1)
                        .large_community(65003, 1, 2)
                        .ext_community(ExtCommunity::route_target(65003, 5)),
                )
                .originate(
                    Route::new(net("2001:db8:100::3/128"))
                        .next_hop(Pair::A6)
                        .community(65003, 6),
                ),
        )
        .context("starting GoBGP")?;
        let mut exabgp = Exabgp::start(
            &pair.b,
            PeerConfig::new("192.0.2.2".parse()?, 65004)
                .neighbor(Neighbor::new(Pair::A4, 65003))
                .originate(
                    Route::new(net("198.51.100.4/32"))
                        .community(65004, 1)
                        .large_community(65004, 1, 2)
                        .ext_community(ExtCommunity::route_target(65004, 5))
                        .ext_community(mobility),
                )
                .originate(
                    Route::new(net("2001:db8:100::4/128"))
                        .next_hop(Pair::B6)
                        .community(65004, 6),
                ),
        )
        .context("starting ExaBGP")?;
        pids.extend(gobgp.pids());
        pids.extend(exabgp.pids());

        gobgp.wait_established(Pair::B4, ESTABLISH)?;
        exabgp.wait_established(Pair::A4, ESTABLISH)?;

        // ExaBGP's routes at GoBGP, with all their communities.
        let r = learned(&gobgp, "198.51.100.4/32", Pair::B4)?;
        ensure!(r.as_path == [65004], "{r:?}");
        ensure!(r.next_hop == Some(Pair::B4), "{r:?}");
        ensure!(r.communities == [Community(65004, 1)], "{r:?}");
        ensure!(
            r.large_communities == [LargeCommunity(65004, 1, 2)],
            "{r:?}"
        );
        ensure!(
            r.ext_communities == [ExtCommunity::route_target(65004, 5), mobility],
            "{r:?}"
        );
        let r = learned(&gobgp, "2001:db8:100::4/128", Pair::B4)?;
        ensure!(r.next_hop == Some(Pair::B6), "{r:?}");
        ensure!(r.communities == [Community(65004, 6)], "{r:?}");

        // GoBGP's routes at ExaBGP.
        let r = learned(&exabgp, "198.51.100.3/32", Pair::A4)?;
        ensure!(r.as_path == [65003], "{r:?}");
        ensure!(r.communities == [Community(65003, 1)], "{r:?}");
        ensure!(
            r.large_communities == [LargeCommunity(65003, 1, 2)],
            "{r:?}"
        );
        ensure!(
            r.ext_communities == [ExtCommunity::route_target(65003, 5)],
            "{r:?}"
        );
        let r = learned(&exabgp, "2001:db8:100::3/128", Pair::A4)?;
        ensure!(r.next_hop == Some(Pair::A6), "{r:?}");

        // Runtime: ExaBGP with a raw optional transitive attribute (GoBGP
        // keeps unknown ones), GoBGP a plain route; then both withdraw.
        exabgp.announce(
            Route::new(net("198.51.100.14/32"))
                .community(65004, 14)
                .raw_attribute(0xf0, 0xc0, &[0xde, 0xad, 0xbe, 0xef]),
        )?;
        gobgp.announce(Route::new(net("198.51.100.13/32")).community(65003, 13))?;
        let r = learned(&gobgp, "198.51.100.14/32", Pair::B4)?;
        ensure!(r.communities == [Community(65004, 14)], "{r:?}");
        let r = learned(&exabgp, "198.51.100.13/32", Pair::A4)?;
        ensure!(r.communities == [Community(65003, 13)], "{r:?}");
        exabgp.withdraw(net("198.51.100.14/32"))?;
        gobgp.withdraw(net("198.51.100.13/32"))?;
        gobgp.wait_no_route(net("198.51.100.14/32"), CONVERGE)?;
        exabgp.wait_no_route(net("198.51.100.13/32"), CONVERGE)?;
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &pids, &[]);
    eprintln!(
        "gobgp_and_exabgp_exchange_host_routes: {:?}",
        started.elapsed()
    );
}

/// Two sessions between the same daemons: over IPv4 with TCP-MD5 and GTSM
/// (IPv4 unicast), over IPv6 with TCP-MD5 and BFD (IPv6 unicast). Both come
/// up, and both BFD sessions are Up. (FRR 8.4 cannot combine BFD with GTSM
/// on one neighbor: the launcher refuses it.)
#[test]
fn bird_and_frr_with_md5_gtsm_and_bfd() {
    if !netns_available("bird_and_frr_with_md5_gtsm_and_bfd") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    let mut paths = Vec::new();
    Lab::run("bird-frr-bfd", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "bird", "frr")?;
        names = pair.names();
        let bfd = Bfd {
            min_rx_ms: 100,
            min_tx_ms: 100,
            multiplier: 3,
        };
        let gtsm = |address, asn| {
            Neighbor::new(address, asn)
                .families(&[Family::Ipv4Unicast])
                .password("s3cret")
                .ttl_security()
        };
        let with_bfd = |address, asn| {
            Neighbor::new(address, asn)
                .families(&[Family::Ipv6Unicast])
                .password("s3cret6")
                .bfd(bfd)
        };
        ensure!(
            matches!(
                Frr::start(
                    &pair.b,
                    PeerConfig::new("192.0.2.2".parse()?, 65002)
                        .neighbor(gtsm(Pair::A4, 65001).bfd(bfd))
                ),
                Err(lab::Error::Unsupported { .. })
            ),
            "FRR accepted BFD with GTSM"
        );
        let bird = Bird::start(
            &pair.a,
            PeerConfig::new("192.0.2.1".parse()?, 65001)
                .neighbor(gtsm(Pair::B4, 65002))
                .neighbor(with_bfd(Pair::B6, 65002)),
        )?;
        let frr = Frr::start(
            &pair.b,
            PeerConfig::new("192.0.2.2".parse()?, 65002)
                .neighbor(gtsm(Pair::A4, 65001))
                .neighbor(with_bfd(Pair::A6, 65001)),
        )?;
        pids.extend(bird.pids());
        pids.extend(frr.pids());
        paths.push(frr.state_dir());
        for (neighbor, of_frr) in [(Pair::B4, Pair::A4), (Pair::B6, Pair::A6)] {
            bird.wait_established(neighbor, ESTABLISH)?;
            frr.wait_established(of_frr, ESTABLISH)?;
        }
        wait_until("BFD Up on both sides", CONVERGE, lab::peers::POLL, || {
            Ok(bird.bfd_up(Pair::B6)? && frr.bfd_up(Pair::A6)?)
        })?;
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &pids, &paths);
    eprintln!(
        "bird_and_frr_with_md5_gtsm_and_bfd: {:?}",
        started.elapsed()
    );
}

/// FRR reflects BIRD's route to GoBGP (all iBGP, AS 65000) and the MAC
/// Mobility extended community arrives untouched, next hop unchanged.
///
/// ```text
///   bird (client)  v0 192.0.2.1/24 -- v1 192.0.2.2/24  frr (reflector)
///                                     v2 203.0.113.2/24 -- v3 203.0.113.3/24  gobgp (client)
/// ```
#[test]
fn frr_reflects_the_mobility_community_untouched() {
    if !netns_available("frr_reflects_the_mobility_community_untouched") {
        return;
    }
    let started = Instant::now();
    let mut names = Vec::new();
    let mut pids = Vec::new();
    let mut paths = Vec::new();
    Lab::run("rr", |lab| -> anyhow::Result<()> {
        let pair = Pair::new(lab, "bird", "rr")?;
        let gobgp_ns = lab::Netns::new(lab, "gobgp")?;
        names = pair.names();
        names.push(gobgp_ns.name().to_string());
        let link = lab::veth(&pair.b, "v2", &gobgp_ns, "v3")?;
        link.a.add_addr(net("203.0.113.2/24"))?;
        link.b.add_addr(net("203.0.113.3/24"))?;
        let rr_side: IpAddr = "203.0.113.2".parse()?;
        let gobgp_addr: IpAddr = "203.0.113.3".parse()?;
        let v4 = [Family::Ipv4Unicast];

        let mobility = ExtCommunity::mac_mobility(42, false);
        let bird = Bird::start(
            &pair.a,
            pools(PeerConfig::new("192.0.2.1".parse()?, 65000))
                .neighbor(Neighbor::new(Pair::B4, 65000).families(&v4))
                .originate(
                    Route::new(net("198.51.100.21/32"))
                        .community(65000, 21)
                        .ext_community(mobility),
                ),
        )?;
        let rr = Frr::start(
            &pair.b,
            pools(PeerConfig::new("192.0.2.2".parse()?, 65000))
                .neighbor(Neighbor::new(Pair::A4, 65000).families(&v4).rr_client())
                .neighbor(Neighbor::new(gobgp_addr, 65000).families(&v4).rr_client()),
        )?;
        let gobgp = Gobgp::start(
            &gobgp_ns,
            pools(PeerConfig::new("203.0.113.3".parse()?, 65000))
                .neighbor(Neighbor::new(rr_side, 65000).families(&v4)),
        )?;
        pids.extend(bird.pids());
        pids.extend(rr.pids());
        pids.extend(gobgp.pids());
        paths.push(rr.state_dir());

        rr.wait_established(Pair::A4, ESTABLISH)?;
        rr.wait_established(gobgp_addr, ESTABLISH)?;
        let r = learned(&gobgp, "198.51.100.21/32", rr_side)?;
        ensure!(r.as_path.is_empty(), "{r:?}");
        ensure!(r.next_hop == Some(Pair::A4), "{r:?}");
        ensure!(r.communities == [Community(65000, 21)], "{r:?}");
        ensure!(r.ext_communities == [mobility], "{r:?}");
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &pids, &paths);
    eprintln!(
        "frr_reflects_the_mobility_community_untouched: {:?}",
        started.elapsed()
    );
}
