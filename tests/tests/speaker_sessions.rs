//! A hostroute session's life with real peers: route refresh (FRR),
//! thousands of host routes (FRR and BIRD), and resets, a hung peer and a
//! restart of hostroute (BIRD).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hostroute_tests::Pair;
use hostroute_tests::speaker::Speaker;
use ipnet::IpNet;
use lab::Netns;
use lab::peers::{Bird, Community, ExtCommunity, Frr, Neighbor, Peer, PeerConfig, Route};

mod common;
use common::*;

/// FRR's route-refresh counters toward `neighbor`: (sent, received).
fn frr_refresh_counters(frr: &Frr, neighbor: IpAddr) -> Result<(u64, u64)> {
    let out = frr.vtysh(&[&format!("show bgp neighbors {neighbor} json")])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let stats = &v[neighbor.to_string()]["messageStats"];
    let count = |name: &str| {
        stats[name]
            .as_u64()
            .with_context(|| format!("{name} in {stats}"))
    };
    Ok((count("routeRefreshSent")?, count("routeRefreshRecv")?))
}

/// FRR asks for a refresh (`clear bgp * soft in`; both sides advertise
/// enhanced route refresh): hostroute answers each request with BoRR, its
/// routes and EoRR (RFC 7313), so FRR, which sweeps at EoRR whatever was
/// not re-sent, keeps our routes.
#[test]
fn hostroute_answers_frr_route_refresh_with_borr_and_eorr() {
    run(
        "hostroute_answers_frr_route_refresh_with_borr_and_eorr",
        "frr-refresh",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "frr")?;
            left.names = pair.names();
            let hr = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(Pair::A4, OUR_AS, vec![neighbor(Pair::B4, 65002)]),
            )?;
            left.pids.push(hr.pid());
            let frr = Frr::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS)),
            )?;
            left.pids.extend(frr.pids());
            left.paths.push(frr.state_dir());
            hr.wait_established(Pair::B4, ESTABLISH)?;
            frr.wait_established(Pair::A4, ESTABLISH)?;
            hr.originate(net("198.51.100.1/32"), 2, &[])?;
            hr.originate(net("2001:db8:100::1/128"), 2, &[])?;
            for prefix in ["198.51.100.1/32", "2001:db8:100::1/128"] {
                let prefix = net(prefix);
                frr.wait_route(&prefix.to_string(), CONVERGE, &|r| r.prefix == prefix)?;
            }
            // FRR asks on its own too (after applying its route maps):
            // wait until it is quiet, then ask.
            std::thread::sleep(Duration::from_secs(2));
            let (sent, recv) = frr_refresh_counters(&frr, Pair::A4)?;
            frr.vtysh(&["clear bgp * soft in"])?;
            let mut last = (sent, recv);
            lab::wait_until(
                "a BoRR and an EoRR for each request",
                CONVERGE,
                lab::peers::POLL,
                || {
                    last = frr_refresh_counters(&frr, Pair::A4)
                        .map_err(|e| lab::Error::Config(format!("{e:#}")))?;
                    let asked = last.0 - sent;
                    Ok(asked > 0 && last.1 - recv == 2 * asked)
                },
            )
            .map_err(|e| {
                anyhow::anyhow!("{e}; (sent, received) {last:?} from {:?}", (sent, recv))
            })?;
            std::thread::sleep(Duration::from_secs(1));
            for prefix in ["198.51.100.1/32", "2001:db8:100::1/128"] {
                let prefix = net(prefix);
                ensure!(
                    frr.routes()?.iter().any(|r| r.prefix == prefix),
                    "FRR swept {prefix} at EoRR"
                );
            }
            Ok(())
        },
    );
}

/// Host routes of `family` ("ipv4" or "ipv6") FRR has from `neighbor`.
fn frr_received(frr: &Frr, family: &str, neighbor: IpAddr) -> Result<u64> {
    let out = frr.vtysh(&[&format!("show bgp {family} unicast summary json")])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    Ok(v["peers"][neighbor.to_string()]["pfxRcd"]
        .as_u64()
        .unwrap_or(0))
}

/// Routes BIRD imported per channel of its first protocol: (ipv4, ipv6).
fn bird_imported(bird: &Bird) -> Result<(u64, u64)> {
    let out = bird.birdc(&["show", "protocols", "all", "n1"])?;
    let mut counts = Vec::new();
    for line in out
        .lines()
        .filter(|l| l.trim_start().starts_with("Routes:"))
    {
        let n = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("BIRD routes line {line:?}"))?;
        counts.push(n);
    }
    match counts.as_slice() {
        [v4, v6] => Ok((*v4, *v6)),
        _ => anyhow::bail!("BIRD channels: {out}"),
    }
}

/// 1500 IPv4 and 500 IPv6 host routes to FRR (which negotiates RFC 8654
/// extended messages, so UPDATEs up to 64 KiB) and to BIRD (which does not:
/// 4 KiB), then all withdrawn.
///
/// ```text
///   frr  v1 192.0.2.2  <-->  v0 192.0.2.1  hostroute  v2 203.0.113.1  <-->  v3 203.0.113.3  bird
/// ```
#[test]
fn hostroute_sends_thousands_of_host_routes_to_frr_and_bird() {
    run(
        "hostroute_sends_thousands_of_host_routes_to_frr_and_bird",
        "bulk",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "frr")?;
            let bird_ns = Netns::new(lab, "bird")?;
            left.names = pair.names();
            left.names.push(bird_ns.name().to_string());
            let link = lab::veth(&pair.a, "v2", &bird_ns, "v3")?;
            for (end, v4, v6) in [
                (&link.a, "203.0.113.1/24", "2001:db8:1::1/64"),
                (&link.b, "203.0.113.3/24", "2001:db8:1::3/64"),
            ] {
                end.add_addr(net(v4))?;
                end.add_addr(net(v6))?;
            }
            let bird_addr: IpAddr = "203.0.113.3".parse()?;
            let hr_side: IpAddr = "203.0.113.1".parse()?;
            let hr = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(
                    Pair::A4,
                    OUR_AS,
                    vec![neighbor(Pair::B4, 65002), neighbor(bird_addr, 65003)],
                ),
            )?;
            left.pids.push(hr.pid());
            let frr = Frr::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS)),
            )?;
            left.pids.extend(frr.pids());
            left.paths.push(frr.state_dir());
            let bird = Bird::start(
                &bird_ns,
                peer_pools(PeerConfig::new(v4(bird_addr), 65003))
                    .neighbor(Neighbor::new(hr_side, OUR_AS)),
            )?;
            left.pids.extend(bird.pids());
            hr.wait_established(Pair::B4, ESTABLISH)?;
            hr.wait_established(bird_addr, ESTABLISH)?;

            // 198.18.0.0/15 (RFC 2544) and 2001:db8:100::/48, counting up.
            let first4 = u32::from(Ipv4Addr::new(198, 18, 0, 1));
            let first6 = u128::from("2001:db8:100::1".parse::<std::net::Ipv6Addr>()?);
            let prefixes: Vec<IpNet> = (0..1500u32)
                .map(|i| IpAddr::from(Ipv4Addr::from(first4 + i)))
                .chain((0..500u128).map(|i| IpAddr::from(std::net::Ipv6Addr::from(first6 + i))))
                .map(IpNet::from)
                .collect();
            let started = Instant::now();
            for (i, p) in prefixes.iter().enumerate() {
                hr.originate(
                    *p,
                    u32::try_from(i % 7).unwrap_or(0),
                    &[Community(65001, 1)],
                )?;
            }
            eprintln!("originated {} in {:?}", prefixes.len(), started.elapsed());
            let want = |v4: u64, v6: u64| {
                lab::wait_until(
                    &format!("FRR and BIRD to hold {v4} IPv4 and {v6} IPv6 routes"),
                    Duration::from_secs(20),
                    Duration::from_millis(250),
                    || {
                        let e = |e: anyhow::Error| lab::Error::Config(format!("{e:#}"));
                        Ok(frr_received(&frr, "ipv4", Pair::A4).map_err(e)? == v4
                            && frr_received(&frr, "ipv6", Pair::A4).map_err(e)? == v6
                            && bird_imported(&bird).map_err(e)? == (v4, v6))
                    },
                )
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{e}; FRR {:?} {:?}, BIRD {:?}",
                        frr_received(&frr, "ipv4", Pair::A4).ok(),
                        frr_received(&frr, "ipv6", Pair::A4).ok(),
                        bird_imported(&bird).ok()
                    )
                })
            };
            want(1500, 500)?;
            eprintln!("both peers hold them after {:?}", started.elapsed());
            for p in &prefixes {
                hr.withdraw(*p)?;
            }
            want(0, 0)?;
            let peers = hr.peers()?;
            ensure!(
                peers.iter().all(|p| p["flaps"] == 0),
                "a session flapped: {peers:?}"
            );
            ensure!(
                hr.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hr.warnings()
            );
            Ok(())
        },
    );
}

/// Sessions that go away and come back, with BIRD: an administrative
/// disable and enable, a hung BIRD (SIGSTOP: our hold timer expires, its
/// routes are flushed; SIGCONT: back), and a restart of hostroute. Routes
/// flow again both ways each time.
#[test]
fn hostroute_recovers_from_resets_and_a_hung_peer() {
    run(
        "hostroute_recovers_from_resets_and_a_hung_peer",
        "resets",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "bird")?;
            left.names = pair.names();
            let config = || speaker_config(Pair::A4, OUR_AS, vec![neighbor(Pair::B4, 65002)]);
            let mut bird = Bird::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS))
                    .originate(Route::new(net("198.51.100.2/32")).community(65002, 1)),
            )?;
            left.pids.extend(bird.pids());
            let ours = net("198.51.100.1/32");
            let theirs = net("198.51.100.2/32");
            let both_ways = |hr: &Speaker, bird: &Bird| -> Result<()> {
                hr.wait_established(Pair::B4, ESTABLISH)?;
                bird.wait_route("hostroute's route", CONVERGE, &|r| {
                    r.prefix == ours
                        && mobility_of(&r.ext_communities) == [ExtCommunity::mac_mobility(1, false)]
                })?;
                hr.wait_path("BIRD's route", CONVERGE, |p| {
                    p.prefix == theirs && p.from(Pair::B4) && p.best
                })?;
                Ok(())
            };

            let hr = Speaker::start(&pair.a, SPEAKERD, config())?;
            left.pids.push(hr.pid());
            hr.originate(ours, 1, &[])?;
            both_ways(&hr, &bird)?;

            // Administrative disable: BIRD sends Cease, we flush its routes.
            bird.birdc(&["disable", "n1"])?;
            hr.wait_no_path("BIRD's route after disable", CONVERGE, |p| {
                p.prefix == theirs
            })?;
            hr.wait_event("peer_down", CONVERGE, |e| e["event"] == "peer_down")?;
            bird.birdc(&["enable", "n1"])?;
            both_ways(&hr, &bird)?;

            // BIRD hangs: no KEEPALIVE for 3 s, our hold timer expires.
            bird.child().signal(lab::Signal::Stop)?;
            let hung = Instant::now();
            hr.wait_no_path("BIRD's route after the hold time", CONVERGE, |p| {
                p.prefix == theirs
            })?;
            ensure!(
                hung.elapsed() >= Duration::from_secs(2),
                "routes flushed before the hold time: {:?}",
                hung.elapsed()
            );
            let down = hr
                .events()
                .into_iter()
                .rev()
                .find(|e| e["event"] == "peer_down")
                .context("no peer_down after the hang")?;
            ensure!(
                down["reason"].as_str().is_some_and(|r| r.contains("hold")),
                "{down}"
            );
            bird.child().signal(lab::Signal::Cont)?;
            both_ways(&hr, &bird)?;

            // hostroute restarts: BIRD loses our route, then learns it again.
            drop(hr);
            bird.wait_no_route(ours, CONVERGE)?;
            let hr = Speaker::start(&pair.a, SPEAKERD, config())?;
            left.pids.push(hr.pid());
            hr.originate(ours, 1, &[])?;
            both_ways(&hr, &bird)?;
            ensure!(
                hr.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hr.warnings()
            );
            Ok(())
        },
    );
}
