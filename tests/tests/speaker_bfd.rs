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
//! BGP come back on their own and the route returns. Three times, with
//! `require_bfd`: the session must not stall or hit an FSM error while it
//! waits for BFD (issue 4). Timings are printed,
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

/// Freeze-and-thaw rounds per test.
const CYCLES: usize = 3;

/// How long the session may take to come back after a thaw. Each round
/// costs BFD one or two failures (the detection, and often a short Up
/// then Down while both sides resynchronise after the thaw), so by the
/// third round the BFD table's flap damping holds Up back for up to its
/// 30 s maximum; meanwhile the peer's 3 s hold timer may end the waiting
/// OpenConfirm and BGP's own idle hold grows.
const RECOVERY: Duration = Duration::from_secs(75);

/// How long the peer stays frozen each round: longer than the speaker's
/// idle hold (1, 2, then 4 s after consecutive failures).
const FROZEN: Duration = Duration::from_secs(5);

/// The reasons of every `peer_down` event for the peer so far.
fn peer_downs(hr: &Speaker) -> Vec<String> {
    hr.events()
        .iter()
        .filter(|e| e["event"] == "peer_down" && e["neighbor"] == Pair::B4.to_string())
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// SIGSTOP: BFD Down closes the session and withdraws the route; SIGCONT:
/// BFD, BGP and the route come back by themselves.
fn freeze_and_thaw(test: &str, hr: &Speaker, peer: &dyn Peer, cycle: usize) -> Result<()> {
    let theirs =
        |p: &hostroute_tests::speaker::SpeakerPath| p.prefix == net(ROUTE) && p.from(Pair::B4);
    let before = peer_downs(hr).len();
    let frozen = Instant::now();
    signal(&peer.pids(), "-STOP")?;
    let down = wait_until_ok(Duration::from_secs(2), || {
        let downs = peer_downs(hr);
        (downs.len() > before).then(|| downs.last().cloned().unwrap_or_default())
    });
    let gone = hr.wait_no_path("the peer's route", Duration::from_secs(2), theirs);
    let detected = frozen.elapsed();
    // Stay frozen past our idle hold: the speaker reconnects meanwhile (the
    // frozen peer's kernel still completes the TCP handshake), so on the
    // thaw the OPEN exchange finishes before BFD, slow while Down (1 s
    // packets), is Up again. That is the order that used to stall.
    std::thread::sleep(FROZEN.saturating_sub(detected));
    signal(&peer.pids(), "-CONT")?;
    let reason = down.with_context(|| format!("cycle {cycle}: no peer_down after SIGSTOP"))?;
    gone?;
    ensure!(
        reason.contains("6/10"),
        "cycle {cycle}: session went down for another reason: {reason}"
    );
    eprintln!("{test}: cycle {cycle}: frozen -> route gone in {detected:?} ({reason})");

    let thawed = Instant::now();
    hr.wait_path("the peer's route again", RECOVERY, theirs)
        .with_context(|| format!("cycle {cycle}: route not back after SIGCONT"))?;
    eprintln!(
        "{test}: cycle {cycle}: thawed -> route back in {:?}",
        thawed.elapsed()
    );
    ensure!(
        hr.established(Pair::B4 as IpAddr)?,
        "cycle {cycle}: not Established after the thaw"
    );
    Ok(())
}

/// Polls `f` every 10 ms until it returns a value or `timeout` passes.
fn wait_until_ok<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        ensure!(Instant::now() < deadline, "timed out after {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
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

        // Freeze and thaw the peer, three times: BFD, not the hold timer,
        // must take BGP down, and the session must come back each time
        // (issue 4: it stalled in OpenConfirm and flapped on the peer's
        // first UPDATE, FSM error 5/2).
        // FRR may already have closed one session at the start (its BFD
        // reporting Down once before it settles): count from here.
        let before = peer_downs(&hr).len();
        for cycle in 1..=CYCLES {
            freeze_and_thaw(test, &hr, &*peer, cycle)?;
        }
        let fsm_errors: Vec<String> = hr
            .log()
            .lines()
            .filter(|l| l.contains("unexpected message from peer"))
            .map(String::from)
            .collect();
        ensure!(fsm_errors.is_empty(), "FSM errors: {fsm_errors:?}");
        let downs = peer_downs(&hr).split_off(before);
        ensure!(
            downs.len() == CYCLES,
            "expected {CYCLES} session downs (one per freeze), got {downs:?}"
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
