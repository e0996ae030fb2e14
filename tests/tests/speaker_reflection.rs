//! Route reflection between two hostroute speakers, with mobility
//! decisions: a VM moves between hypervisors that are route-reflector
//! clients of BIRD or FRR (which send all paths, RFC 7911), and an
//! equal-sequence race.
//!
//! ```text
//!   hv1  v0 192.0.2.1/24  <-->  v1 192.0.2.2/24  rr (BIRD or FRR)  v2 203.0.113.2/24  <-->  v3 203.0.113.3/24  hv2
//!   id 192.0.2.1                                 id 192.0.2.2                                          id 203.0.113.3
//!   all AS 65000
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hostroute_tests::Pair;
use hostroute_tests::speaker::{Speaker, SpeakerPath};
use ipnet::IpNet;
use lab::peers::{Community, ExtCommunity, Neighbor, Peer, PeerConfig};
use lab::{Lab, Netns};
use speaker::NeighborConfig;

mod common;
use common::*;

/// Two hypervisors and a reflector, all started and Established.
struct Reflection {
    hv1: Speaker,
    hv2: Speaker,
    rr: Box<dyn Peer>,
    // Declared last: dropped after the processes that run inside.
    _pair: Pair,
    _hv2_ns: Netns,
}

const HV1: IpAddr = Pair::A4;
const RR1: IpAddr = Pair::B4;
const RR2: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2));
const HV2: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 3));

fn reflection(lab: &Lab, kind: Kind, left: &mut Leftovers) -> Result<Reflection> {
    let pair = Pair::new(lab, "hv1", "rr")?;
    let hv2_ns = Netns::new(lab, "hv2")?;
    left.names = pair.names();
    left.names.push(hv2_ns.name().to_string());
    let link = lab::veth(&pair.b, "v2", &hv2_ns, "v3")?;
    link.a.add_addr(net("203.0.113.2/24"))?;
    link.b.add_addr(net("203.0.113.3/24"))?;
    let v4_only = [lab::peers::Family::Ipv4Unicast];
    let Started { peer: rr, paths } = start(
        kind,
        &pair.b,
        peer_pools(PeerConfig::new(v4(RR1), 65000))
            .neighbor(
                Neighbor::new(HV1, 65000)
                    .families(&v4_only)
                    .rr_client()
                    .add_paths_tx(),
            )
            .neighbor(
                Neighbor::new(HV2, 65000)
                    .families(&v4_only)
                    .rr_client()
                    .add_paths_tx(),
            ),
    )?;
    left.pids.extend(rr.pids());
    left.paths.extend(paths);
    // iBGP without policy: host routes of any address, our own only.
    let ibgp = |address| {
        let mut n = NeighborConfig::new(address, 65000);
        n.hold_time = 3;
        n.keepalive = Some(1);
        n.connect_retry = 1;
        n
    };
    let hv1 = Speaker::start(
        &pair.a,
        SPEAKERD,
        speaker_config(HV1, 65000, vec![ibgp(RR1)]),
    )?;
    left.pids.push(hv1.pid());
    let hv2 = Speaker::start(
        &hv2_ns,
        SPEAKERD,
        speaker_config(HV2, 65000, vec![ibgp(RR2)]),
    )?;
    left.pids.push(hv2.pid());
    hv1.wait_established(RR1, ESTABLISH)?;
    hv2.wait_established(RR2, ESTABLISH)?;
    rr.wait_established(HV1, ESTABLISH)?;
    rr.wait_established(HV2, ESTABLISH)?;
    drop(link);
    Ok(Reflection {
        hv1,
        hv2,
        rr,
        _pair: pair,
        _hv2_ns: hv2_ns,
    })
}

/// The best path of `prefix` at `speaker`, once it satisfies `matches`.
fn best(
    speaker: &Speaker,
    what: &str,
    prefix: IpNet,
    matches: impl Fn(&SpeakerPath) -> bool,
) -> Result<SpeakerPath> {
    speaker.wait_path(what, CONVERGE, |p| {
        p.prefix == prefix && p.best && matches(p)
    })
}

/// hv1 originates with sequence 0; hv2 learns it through the reflector,
/// mobility community untouched, ORIGINATOR_ID hv1. The VM moves: hv2
/// originates with sequence 1, and everyone's best path is hv2's; hv1
/// reports its local route superseded and stops advertising it. Then it
/// moves back (sequence 2) and everything points to hv1 again.
fn move_through_reflector(test: &str, kind: Kind) {
    run(test, &format!("{kind:?}-rr"), |lab, left| {
        let r = reflection(lab, kind, left)?;
        let vm = net("198.51.100.7/32");

        r.hv1.originate(vm, 0, &[Community(65000, 7)])?;
        let p = best(&r.hv2, "hv1's route via the reflector", vm, |p| p.from(RR2))?;
        ensure!(p.sequence() == Some(0), "mobility community changed: {p:?}");
        ensure!(
            mobility_of(&p.ext_communities) == [ExtCommunity::mac_mobility(0, false)],
            "{p:?}"
        );
        ensure!(p.originator_id == Some(v4(HV1)), "{p:?}");
        ensure!(p.cluster_list == [v4(RR1)], "{p:?}");
        ensure!(p.next_hop == Some(HV1), "{p:?}");
        ensure!(p.as_path.is_empty(), "{p:?}");
        ensure!(p.communities == [Community(65000, 7)], "{p:?}");

        // The VM moves to hv2.
        r.hv2.originate(vm, 1, &[Community(65000, 7)])?;
        let p = best(&r.hv2, "hv2's own route as best", vm, SpeakerPath::is_local)?;
        ensure!(p.sequence() == Some(1), "{p:?}");
        let p = best(&r.hv1, "hv2's route as best at hv1", vm, |p| p.from(RR1))?;
        ensure!(p.sequence() == Some(1), "{p:?}");
        ensure!(p.originator_id == Some(v4(HV2)), "{p:?}");
        ensure!(p.next_hop == Some(HV2), "{p:?}");
        // hv1 keeps its local path, not best (withdrawing it is the
        // daemon's decision on the event below).
        let local = r
            .hv1
            .routes()?
            .into_iter()
            .find(|p| p.prefix == vm && p.is_local())
            .context("hv1 dropped its local path")?;
        ensure!(!local.best, "hv1 still prefers its own path: {local:?}");
        ensure!(local.lost_on.as_deref() == Some("Sequence"), "{local:?}");
        let event = r.hv1.wait_event("LocalSuperseded", CONVERGE, |e| {
            e["event"] == "rib" && e["detail"]["LocalSuperseded"]["prefix"] == vm.to_string()
        })?;
        let by = &event["detail"]["LocalSuperseded"];
        ensure!(by["reason"] == "Sequence", "{event}");
        ensure!(by["by"]["router_id"] == HV2.to_string(), "{event}");
        ensure!(by["by"]["mobility"]["sequence"] == 1, "{event}");
        // hv1 no longer advertises it: the reflector's only, best, path is
        // hv2's.
        lab::wait_until(
            "the reflector to prefer hv2's path alone",
            CONVERGE,
            lab::peers::POLL,
            || {
                let paths: Vec<_> =
                    r.rr.routes()?
                        .into_iter()
                        .filter(|p| p.prefix == vm)
                        .collect();
                Ok(paths.len() == 1
                    && paths.iter().all(|p| {
                        p.best
                            && p.from == HV2
                            && mobility_of(&p.ext_communities)
                                == [ExtCommunity::mac_mobility(1, false)]
                    }))
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}; reflector: {:#?}", r.rr.routes().ok()))?;
        // ... so hv2 no longer has hv1's path.
        r.hv2.wait_no_path("hv1's withdrawn path", CONVERGE, |p| {
            p.prefix == vm && p.from(RR2)
        })?;

        // The VM moves back to hv1, with the next sequence.
        r.hv1.originate(vm, 2, &[Community(65000, 7)])?;
        best(
            &r.hv1,
            "hv1's own route as best again",
            vm,
            SpeakerPath::is_local,
        )?;
        let p = best(&r.hv2, "hv1's route as best at hv2", vm, |p| p.from(RR2))?;
        ensure!(
            p.sequence() == Some(2) && p.originator_id == Some(v4(HV1)),
            "{p:?}"
        );
        r.hv2.wait_event("LocalSuperseded at hv2", CONVERGE, |e| {
            let ev = &e["detail"]["LocalSuperseded"];
            ev["prefix"] == vm.to_string() && ev["by"]["mobility"]["sequence"] == 2
        })?;
        lab::wait_until(
            "the reflector to prefer hv1's path alone",
            CONVERGE,
            lab::peers::POLL,
            || {
                let paths: Vec<_> =
                    r.rr.routes()?
                        .into_iter()
                        .filter(|p| p.prefix == vm)
                        .collect();
                Ok(paths.len() == 1 && paths.iter().all(|p| p.best && p.from == HV1))
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}; reflector: {:#?}", r.rr.routes().ok()))?;
        for hv in [&r.hv1, &r.hv2] {
            ensure!(
                hv.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hv.warnings()
            );
        }
        Ok(())
    });
}

#[test]
fn bird_reflects_a_move_between_hostroute_speakers() {
    move_through_reflector(
        "bird_reflects_a_move_between_hostroute_speakers",
        Kind::Bird,
    );
}

#[test]
fn frr_reflects_a_move_between_hostroute_speakers() {
    move_through_reflector("frr_reflects_a_move_between_hostroute_speakers", Kind::Frr);
}

/// Both hypervisors originate with the same sequence at once: on both, the
/// path of the lower router id (hv1, 192.0.2.1) wins; hv2 reports its local
/// route superseded and stops advertising it.
fn equal_sequence_race(test: &str, kind: Kind) {
    run(test, &format!("{kind:?}-race"), |lab, left| {
        let r = reflection(lab, kind, left)?;
        let vm = net("198.51.100.8/32");
        r.hv1.originate(vm, 4, &[])?;
        r.hv2.originate(vm, 4, &[])?;
        best(&r.hv1, "hv1's own route as best", vm, SpeakerPath::is_local)?;
        let p = best(&r.hv2, "hv1's route as best at hv2", vm, |p| p.from(RR2))?;
        ensure!(p.originator_id == Some(v4(HV1)), "{p:?}");
        ensure!(p.sequence() == Some(4), "{p:?}");
        let event = r.hv2.wait_event("LocalSuperseded", CONVERGE, |e| {
            e["detail"]["LocalSuperseded"]["prefix"] == vm.to_string()
        })?;
        ensure!(
            event["detail"]["LocalSuperseded"]["reason"] == "RouterId",
            "{event}"
        );
        lab::wait_until(
            "the reflector to hold hv1's path alone",
            CONVERGE,
            lab::peers::POLL,
            || {
                let paths: Vec<_> =
                    r.rr.routes()?
                        .into_iter()
                        .filter(|p| p.prefix == vm)
                        .collect();
                Ok(paths.len() == 1 && paths.iter().all(|p| p.best && p.from == HV1))
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}; reflector: {:#?}", r.rr.routes().ok()))?;
        // And it stays so: hv1 still best on both a moment later.
        std::thread::sleep(Duration::from_secs(1));
        ensure!(
            r.hv2
                .routes()?
                .iter()
                .any(|p| p.prefix == vm && p.best && p.from(RR2)),
            "hv2 flipped back"
        );
        for hv in [&r.hv1, &r.hv2] {
            ensure!(
                hv.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hv.warnings()
            );
        }
        Ok(())
    });
}

#[test]
fn equal_sequence_race_through_bird_lower_router_id_wins() {
    equal_sequence_race(
        "equal_sequence_race_through_bird_lower_router_id_wins",
        Kind::Bird,
    );
}

#[test]
fn equal_sequence_race_through_frr_lower_router_id_wins() {
    equal_sequence_race(
        "equal_sequence_race_through_frr_lower_router_id_wins",
        Kind::Frr,
    );
}
