//! BFD tied to BGP, against BIRD 2 and FRR (issue: speaker part 2).
//!
//! ```text
//!   ns "hr" (hr-speakerd)  192.0.2.1 ---- veth ---- 192.0.2.2  ns "bird"/"frr"
//!        BGP + BFD 50 ms x 3, require_bfd             BGP + BFD 50 ms x 3
//! ```
//!
//! The peer announces a host route; BFD comes Up and BGP is Established.
//! The peer is frozen (SIGSTOP): BFD goes Down, the speaker closes the
//! session with Cease / BFD Down (RFC 9384) and the route leaves its RIB,
//! long before the 3 s hold timer could. The peer thaws (SIGCONT): BFD and
//! BGP come back on their own and the route returns. Timings are printed,
//! not asserted (benchmarks measure them); the bounds are only there so a
//! broken build fails instead of hanging.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hostroute_tests::speaker::Speaker;
use hostroute_tests::{Pair, assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::Lab;
use lab::peers::{Bfd, Bird, Frr, Neighbor, Peer, PeerConfig, Route};
use speaker::liveness::BfdNeighbor;
use speaker::policy::{ExportPolicy, ImportPolicy, PeerPolicy};
use speaker::{NeighborConfig, SpeakerConfig};

const SPEAKERD: &str = env!("CARGO_BIN_EXE_hr-speakerd");
const POOL: &str = "198.51.100.0/24";
const ROUTE: &str = "198.51.100.9/32";

fn net(s: &str) -> IpNet {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn signal(pids: &[u32], sig: &str) -> Result<()> {
    for pid in pids {
        let status = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()?;
        ensure!(status.success(), "kill {sig} {pid} failed");
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Bird,
    Frr,
}

fn bfd_takes_bgp_down_and_back(test: &str, kind: Kind) {
    if !netns_available(test) {
        return;
    }
    let started = Instant::now();
    let mut leftovers = (Vec::new(), Vec::new(), Vec::new());
    Lab::run(&format!("{kind:?}-bfd"), |lab| -> Result<()> {
        let pair = Pair::new(lab, "hr", &format!("{kind:?}"))?;
        leftovers.0 = pair.names();

        let mut n = NeighborConfig::new(Pair::B4, 65002);
        n.hold_time = 3;
        n.keepalive = Some(1);
        n.connect_retry = 1;
        n.bfd = Some(BfdNeighbor {
            interval_ms: 50,
            multiplier: 3,
            multihop_min_ttl: None,
        });
        n.require_bfd = true;
        n.policy = PeerPolicy {
            import: Some(ImportPolicy::pools(vec![net(POOL)])),
            export: Some(ExportPolicy {
                pools: vec![net(POOL)],
                ..ExportPolicy::default()
            }),
            ..PeerPolicy::default()
        };
        let mut cfg = SpeakerConfig::new("192.0.2.1".parse()?, 65001);
        cfg.neighbors = vec![n];
        let hr = Speaker::start(&pair.a, SPEAKERD, cfg)?;
        leftovers.1.push(hr.pid());

        let bfd = Bfd {
            min_rx_ms: 50,
            min_tx_ms: 50,
            multiplier: 3,
        };
        let config = PeerConfig::new("192.0.2.2".parse()?, 65002)
            .neighbor(Neighbor::new(Pair::A4, 65001).bfd(bfd))
            .pool(net(POOL))
            .originate(Route::new(net(ROUTE)));
        let peer: Box<dyn Peer> = match kind {
            Kind::Bird => Box::new(Bird::start(&pair.b, config).context("starting BIRD")?),
            Kind::Frr => {
                let frr = Frr::start(&pair.b, config).context("starting FRR")?;
                leftovers.2.push(frr.state_dir());
                Box::new(frr)
            }
        };
        leftovers.1.extend(peer.pids());

        hr.wait_established(Pair::B4, Duration::from_secs(20))?;
        hr.wait_path("the peer's route", Duration::from_secs(10), |p| {
            p.prefix == net(ROUTE) && p.from(Pair::B4)
        })?;
        let sessions = hr.request(serde_json::json!({"cmd": "bfd"}))?;
        ensure!(
            sessions.to_string().contains("\"up\""),
            "BFD not Up in show bfd: {sessions}"
        );

        // Freeze the peer: BFD, not the hold timer, must take BGP down.
        let frozen = Instant::now();
        signal(&peer.pids(), "-STOP")?;
        let down = hr.wait_event("peer_down", Duration::from_secs(2), |e| {
            e["event"] == "peer_down" && e["neighbor"] == Pair::B4.to_string()
        });
        let gone = hr.wait_no_path("the peer's route", Duration::from_secs(2), |p| {
            p.prefix == net(ROUTE) && p.from(Pair::B4)
        });
        let detected = frozen.elapsed();
        signal(&peer.pids(), "-CONT")?;
        let down = down?;
        gone?;
        let reason = down["reason"].as_str().unwrap_or_default().to_string();
        ensure!(
            reason.contains("BFD") || reason.contains("6/10") || reason.contains("Bfd"),
            "session went down for another reason: {reason}"
        );
        eprintln!("{test}: frozen -> route gone from the RIB in {detected:?} ({reason})");

        // Thawed: both protocols recover by themselves.
        let thawed = Instant::now();
        hr.wait_path("the peer's route again", Duration::from_secs(30), |p| {
            p.prefix == net(ROUTE) && p.from(Pair::B4)
        })?;
        eprintln!("{test}: thawed -> route back in {:?}", thawed.elapsed());
        ensure!(
            hr.established(Pair::B4 as IpAddr)?,
            "not Established after the thaw"
        );
        let panics: Vec<String> = hr
            .log()
            .lines()
            .filter(|l| l.contains("panicked"))
            .map(String::from)
            .collect();
        ensure!(panics.is_empty(), "speaker panicked: {panics:?}");
        drop(peer);
        drop(hr);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{test}: {e:#}"));
    assert_cleaned_up(&leftovers.0, &leftovers.1, &leftovers.2);
    eprintln!("{test}: {:?}", started.elapsed());
}

#[test]
fn bfd_down_closes_bgp_with_bird_and_recovers() {
    bfd_takes_bgp_down_and_back("bfd_down_closes_bgp_with_bird_and_recovers", Kind::Bird);
}

#[test]
fn bfd_down_closes_bgp_with_frr_and_recovers() {
    bfd_takes_bgp_down_and_back("bfd_down_closes_bgp_with_frr_and_recovers", Kind::Frr);
}
