//! The lab's demo topology (DESIGN.md, "The lab") end to end: it comes up
//! and goes down leaving nothing behind, and a live migration in hostroute
//! mode keeps the TCP connection and ends on a better path than the same
//! migration in L2-stretch mode.
//!
//! ```text
//!                     client -- rc
//!                   20 ms /        \ 1 ms
//!                     r1 ---- 20 ms ---- r2          (BIRD, eBGP between sites,
//!                    /  \                 |           route reflector for the
//!                  hv1   hv2             hv3          site's hypervisors)
//!                   |                     ^
//!                  vm1  ==== live migration ====
//! ```
//!
//! The WAN links carry their delay only when the lab's delay line is wired
//! in (`WanLink::delays`); on plain veth links the RTT comparison has no
//! delay to show, so the test then compares the paths instead (hostroute:
//! the client enters at r2 and the VM answers through hv3; L2 stretch: both
//! directions still cross r1 and the VXLAN segment). Both are qualitative:
//! no timing thresholds.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, ensure};
use hostroute_tests::{assert_cleaned_up, netns_available};
use lab::Lab;
use lab::demo::{self, DemoOptions};
use lab::scenario::{Deployment, Mode};
use lab::state::{self, Recorder};
use lab::topology::Topology;

#[test]
fn the_demo_topology_comes_up_and_goes_down_leaving_nothing() {
    if !netns_available("the_demo_topology_comes_up_and_goes_down_leaving_nothing") {
        return;
    }
    let topology = Topology::default_demo();
    let mut recorded = state::LabState::default();
    let mut state_file = PathBuf::new();
    Lab::run("lab-updown", |lab| -> anyhow::Result<()> {
        let name = format!("test-updown-{}", std::process::id());
        state_file = state::state_path(&name);
        let recorder = Recorder::create(&name, "hostroute", lab.dir())?;
        let up = Deployment::up(lab, &topology, Mode::Hostroute, recorder.clone());
        let d = match up {
            Ok(d) => d,
            Err(e) => {
                recorder.remove();
                return Err(e.into());
            }
        };
        recorded = recorder.snapshot();
        ensure!(
            recorded.status == "up",
            "state file says {:?}",
            recorded.status
        );
        // Every node of the topology has a namespace, and every recorded
        // process runs.
        for (node, _) in topology.nodes() {
            ensure!(recorded.nodes.contains_key(&node), "{node} not recorded");
        }
        let listed = lab::netns::list()?;
        for ns in recorded.nodes.values().chain(&recorded.extra_namespaces) {
            ensure!(listed.contains(ns), "{ns} not created");
        }
        // The WAN links' delay lines (userspace backend: a namespace and a
        // process each) are recorded, so `lab down` elsewhere finds them.
        ensure!(d.wan_delays(), "WAN links without their delay");
        let lines: Vec<u32> = d.wans().iter().flat_map(|w| w.pids()).collect();
        ensure!(
            lines.iter().all(|p| recorded.pids.contains(p)),
            "delay lines {lines:?} not recorded in {:?}",
            recorded.pids
        );
        ensure!(
            recorded.pids.len() >= 3 + 3,
            "routers and agents: {:?}",
            recorded.pids
        );
        for pid in &recorded.pids {
            ensure!(
                std::path::Path::new(&format!("/proc/{pid}")).exists(),
                "pid {pid} not running"
            );
        }
        drop(d);
        recorder.remove();
        Ok(())
    })
    .expect("the demo topology comes up");
    let namespaces: Vec<String> = recorded
        .nodes
        .values()
        .chain(&recorded.extra_namespaces)
        .cloned()
        .collect();
    assert!(!namespaces.is_empty());
    assert_cleaned_up(&namespaces, &recorded.pids, &[state_file]);
}

#[test]
fn hostroute_migration_keeps_tcp_and_ends_on_a_better_path_than_l2_stretch() {
    if !netns_available("hostroute_migration_keeps_tcp_and_ends_on_a_better_path_than_l2_stretch") {
        return;
    }
    let topology = Topology::default_demo();
    let mut options = DemoOptions::for_topology(&topology).expect("demo options");
    options.pre = Duration::from_millis(800);
    options.post = Duration::from_millis(1500);
    let out = std::env::temp_dir().join(lab::unique_name("lab-demo-test"));
    let report = demo::run(&topology, &options, &out)
        .context("running the demo")
        .unwrap();
    let [stretch, hostroute] = &report.results[..] else {
        panic!("two modes expected, got {}", report.results.len());
    };
    assert_eq!(stretch.mode, Mode::L2Stretch);
    assert_eq!(hostroute.mode, Mode::Hostroute);
    println!("{}", demo::table(&report));

    // The move happened and the TCP connection lived through it.
    assert_eq!(hostroute.moved.to, "hv3");
    assert!(
        hostroute.stream.survived,
        "TCP in hostroute mode: {:?}",
        hostroute.stream
    );
    assert!(hostroute.stream.bytes_received > 0);
    // Every router's FIB moved to the new place.
    assert!(
        hostroute.convergence_ms.is_some(),
        "some router never pointed at hv3: {:?}",
        hostroute.convergence_per_router_ms
    );
    let after = |r: &demo::ModeResult| r.rtt_after_ms.expect("replies after the move");
    if hostroute.wan_delays_applied && stretch.wan_delays_applied {
        assert!(
            after(hostroute) < after(stretch),
            "RTT after the move: hostroute {} ms, L2 stretch {} ms",
            after(hostroute),
            after(stretch)
        );
    } else {
        eprintln!(
            "WAN links without delay: comparing paths instead of RTTs ({} vs {} ms)",
            after(hostroute),
            after(stretch)
        );
    }
    // The path: hostroute enters at the VM's new site; the stretch still
    // trombones through r1 and the VXLAN segment, both ways.
    assert_eq!(hostroute.path_after, ["client", "rc", "r2", "hv3", "vm1"]);
    assert_eq!(
        hostroute.return_path_after,
        ["vm1", "hv3", "r2", "rc", "client"]
    );
    assert!(stretch.path_after.iter().any(|h| h == "r1"));
    assert!(stretch.path_after.iter().any(|h| h.contains("vxlan")));
    assert!(
        stretch
            .return_path_after
            .iter()
            .any(|h| h.contains("vxlan"))
    );
    // The files the demo says it wrote.
    for file in [&report.json, &report.svg] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.len() > 100, "{} is almost empty", file.display());
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report.json).unwrap()).unwrap();
    assert_eq!(json["results"].as_array().map(Vec::len), Some(2));
    std::fs::remove_dir_all(&out).unwrap();
}
