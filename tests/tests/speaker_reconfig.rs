//! Reconfiguring a running speaker (`SpeakerHandle::set_neighbors`, the
//! daemon's SIGHUP, issue 5): a session whose configuration did not change
//! stays up, untouched, while another is removed and a third added.
//!
//! ```text
//!   ns "a" (hr-speakerd, AS 65001)                 ns "b" (hr-speakerd, AS 65002)
//!     192.0.2.1   <---- S1: kept ------------->   192.0.2.2
//!     192.0.2.11  <---- S2: removed from a ---->  192.0.2.21
//!     192.0.2.12  <---- S3: added to a -------->  192.0.2.22
//!                          (one veth)
//! ```
//!
//! b knows all three sessions from the start and originates a host route;
//! a starts with S1 and S2, then is given S1 and S3. b must see S2 closed
//! with Cease / Peer De-configured (6/3); S1 must keep its uptime, with no
//! session down and no UPDATE on either side; S3 must come up and carry the
//! route. S2 and S3 run BFD: a's BFD sessions follow its neighbours.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, ensure};
use hostroute_tests::Pair;
use hostroute_tests::speaker::Speaker;
use ipnet::IpNet;
use serde_json::{Value, json};
use speaker::liveness::BfdNeighbor;

mod common;
use common::*;

const PEER_AS: u32 = 65002;
const ROUTE: &str = "198.51.100.9/32";

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A neighbour at `address`, reached from our `local` address, with BFD.
fn from(address: &str, asn: u32, local: &str) -> speaker::NeighborConfig {
    let mut n = neighbor(ip(address), asn);
    n.local_address = Some(ip(local));
    n.bfd = Some(BfdNeighbor {
        interval_ms: 100,
        multiplier: 3,
        multihop_min_ttl: None,
    });
    n
}

/// The BFD sessions `speaker` runs: (peer, state).
fn bfd_sessions(speaker: &Speaker) -> Result<Vec<(String, String)>> {
    let sessions = speaker.request(json!({"cmd": "bfd"}))?;
    Ok(sessions
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let peer = s["key"].to_string();
            (peer, s["state"].to_string().to_lowercase())
        })
        .collect())
}

/// `neighbor`'s entry in `speaker`'s peer list.
fn peer(speaker: &Speaker, neighbor: IpAddr) -> Result<Value> {
    speaker
        .peers()?
        .into_iter()
        .find(|p| p["neighbor"] == neighbor.to_string())
        .ok_or_else(|| anyhow!("no peer {neighbor}"))
}

/// The `peer_down` reasons `speaker` printed for `neighbor`.
fn downs(speaker: &Speaker, neighbor: IpAddr) -> Vec<String> {
    speaker
        .events()
        .iter()
        .filter(|e| e["event"] == "peer_down" && e["neighbor"] == neighbor.to_string())
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn u64_of(v: &Value, what: &str) -> Result<u64> {
    v.pointer(what)
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow!("no {what} in {v}"))
}

#[test]
fn unchanged_session_keeps_its_uptime_while_another_is_removed_and_one_added() {
    run(
        "unchanged_session_keeps_its_uptime_while_another_is_removed_and_one_added",
        "reconfig",
        |lab, left| {
            let pair = Pair::new(lab, "a", "b")?;
            left.names = pair.names();
            for (end, addr) in [
                (&pair.link.a, "192.0.2.11/24"),
                (&pair.link.a, "192.0.2.12/24"),
                (&pair.link.b, "192.0.2.21/24"),
                (&pair.link.b, "192.0.2.22/24"),
            ] {
                end.add_addr(addr.parse::<IpNet>()?)?;
            }
            let (s1_a, s1_b) = (Pair::A4, Pair::B4);
            let (s2_a, s2_b) = (ip("192.0.2.11"), ip("192.0.2.21"));
            let s3_b = ip("192.0.2.22");

            let a_before = vec![
                neighbor(s1_b, PEER_AS),
                from("192.0.2.21", PEER_AS, "192.0.2.11"),
            ];
            let a = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(Pair::A4, OUR_AS, a_before),
            )?;
            left.pids.push(a.pid());
            let b_neighbors = vec![
                neighbor(s1_a, OUR_AS),
                from("192.0.2.11", OUR_AS, "192.0.2.21"),
                from("192.0.2.12", OUR_AS, "192.0.2.22"),
            ];
            let b = Speaker::start(
                &pair.b,
                SPEAKERD,
                speaker_config(Pair::B4, PEER_AS, b_neighbors),
            )?;
            left.pids.push(b.pid());

            a.wait_established(s1_b, ESTABLISH)?;
            a.wait_established(s2_b, ESTABLISH)?;
            b.originate(net(ROUTE), 1, &[])?;
            for via in [s1_b, s2_b] {
                a.wait_path(&format!("{ROUTE} from {via}"), CONVERGE, |p| {
                    p.prefix == net(ROUTE) && p.from(via)
                })?;
            }
            // Let the initial exchange settle before taking the counts.
            std::thread::sleep(Duration::from_secs(1));
            let kept_a = peer(&a, s1_b)?;
            let kept_b = peer(&b, s1_a)?;

            let changed_at = Instant::now();
            let report = a.request(json!({
                "cmd": "set_neighbors",
                "neighbors": [
                    neighbor(s1_b, PEER_AS),
                    from("192.0.2.22", PEER_AS, "192.0.2.12"),
                ],
            }))?;
            eprintln!("reconfigure report: {report}");
            ensure!(
                report["unchanged"] == json!([s1_b])
                    && report["removed"] == json!([s2_b])
                    && report["added"] == json!([s3_b])
                    && report["changed"] == json!([])
                    && report["bfd_removed"] == json!([s2_b])
                    && report["bfd_added"] == json!([s3_b]),
                "unexpected report {report}"
            );

            // S2: b is told why.
            let reason = b.wait_event("S2 down", CONVERGE, |e| {
                e["event"] == "peer_down" && e["neighbor"] == s2_a.to_string()
            })?["reason"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            ensure!(
                reason == "received 6/3",
                "S2 closed with {reason}, not Cease / Peer De-configured"
            );
            a.wait_no_path("the route over S2", CONVERGE, |p| {
                p.prefix == net(ROUTE) && p.from(s2_b)
            })?;
            // S3 comes up and carries the route.
            a.wait_established(s3_b, ESTABLISH)?;
            a.wait_path(&format!("{ROUTE} over S3"), CONVERGE, |p| {
                p.prefix == net(ROUTE) && p.from(s3_b)
            })?;
            std::thread::sleep(Duration::from_secs(2).saturating_sub(changed_at.elapsed()));
            // BFD followed: S3's session is Up, S2's gone.
            lab::wait_until("S3's BFD session Up", CONVERGE, lab::peers::POLL, || {
                let sessions =
                    bfd_sessions(&a).map_err(|e| lab::Error::Config(format!("{e:#}")))?;
                Ok(sessions.len() == 1
                    && sessions
                        .iter()
                        .all(|(k, st)| k.contains("192.0.2.22") && st.contains("up")))
            })
            .map_err(|e| anyhow!("{e}; a's BFD: {:?}", bfd_sessions(&a).ok()))?;

            // S1: untouched on both sides.
            let elapsed = changed_at.elapsed().as_secs();
            for (who, speaker, neighbor, before) in
                [("a", &a, s1_b, &kept_a), ("b", &b, s1_a, &kept_b)]
            {
                let now = peer(speaker, neighbor)?;
                let context = || format!("{who}'s S1: before {before}, after {now}");
                ensure!(now["state"] == "Established", "{}", context());
                ensure!(downs(speaker, neighbor).is_empty(), "{}", context());
                ensure!(
                    u64_of(&now, "/flaps")? == u64_of(before, "/flaps")?,
                    "{}",
                    context()
                );
                // Uptime only grew (whole seconds, so allow one for rounding).
                let (up0, up1) = (
                    u64_of(before, "/uptime_secs")?,
                    u64_of(&now, "/uptime_secs")?,
                );
                ensure!(
                    up1 + 1 >= up0 + elapsed,
                    "uptime {up0} -> {up1}; {}",
                    context()
                );
                for counter in ["/messages_in/notification", "/messages_in/update"] {
                    ensure!(
                        u64_of(&now, counter)? == u64_of(before, counter)?,
                        "{counter} moved: {}",
                        context()
                    );
                }
            }
            ensure!(
                a.warnings().iter().all(|w| !w.contains("panicked")),
                "a panicked"
            );
            eprintln!(
                "S1 kept its session; S2 removed and S3 up within {:?}",
                changed_at.elapsed()
            );
            Ok(())
        },
    );
}
