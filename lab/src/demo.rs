//! `lab demo`: the same live migration in L2-stretch mode and in hostroute
//! mode, measured the same way, side by side.
//!
//! ```text
//!   for mode in [l2-stretch, hostroute]:
//!     Deployment::up(topology, mode)           (own run directory and state file)
//!     route monitors (every router) + TCP stream + 1 ms ICMP probe start
//!     `pre` later: migrate vm1 hv1 -> hv3 (blackout, announce)
//!     `post` later: stop; paths, RTTs, convergence; tear down
//!   table on stdout, <out>/lab-demo.json, <out>/lab-demo-rtt.svg
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::{Probe, Prober, RouteEvent, RouteMonitor, StreamResult, TcpStreamTest};
use crate::migrate::{MoveRecord, migrate};
use crate::path;
use crate::plot::{Series, rtt_svg};
use crate::run::Lab;
use crate::scenario::{Deployment, Mode};
use crate::state::Recorder;
use crate::topology::Topology;
use crate::wan::WanKind;

/// What to run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    pub vm: String,
    pub to: String,
    pub blackout: Duration,
    /// Measuring before and after the move.
    pub pre: Duration,
    pub post: Duration,
    pub probe_interval: Duration,
    pub modes: Vec<Mode>,
}

impl DemoOptions {
    /// The demo's defaults for `topology`: its first VM to the first
    /// hypervisor of another site.
    pub fn for_topology(topology: &Topology) -> Result<DemoOptions> {
        let vm = topology
            .vms
            .first()
            .ok_or_else(|| Error::Config("the topology has no VM".into()))?;
        let from_site = topology
            .site_of(vm.hypervisor.get_ref())
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let to = topology
            .sites
            .iter()
            .filter(|s| s.name != from_site)
            .find_map(|s| s.hypervisors.first())
            .ok_or_else(|| Error::Config("no hypervisor in another site to move to".into()))?;
        Ok(DemoOptions {
            vm: vm.name.clone(),
            to: to.clone(),
            blackout: Duration::from_millis(20),
            pre: Duration::from_millis(1500),
            post: Duration::from_millis(3000),
            probe_interval: Duration::from_millis(1),
            modes: vec![Mode::L2Stretch, Mode::Hostroute],
        })
    }
}

/// One mode's measurements.
#[derive(Clone, Debug, Serialize)]
pub struct ModeResult {
    pub mode: Mode,
    pub wan: WanKind,
    pub wan_delays_applied: bool,
    #[serde(rename = "move")]
    pub moved: MoveRecord,
    /// When the announcement left, in ms on the probes' clock.
    pub move_ms: f64,
    pub probes_sent: usize,
    pub probes_lost: usize,
    /// Probes sent while the VM was unplugged (the configured blackout plus
    /// the time the move itself took): expected lost.
    pub probes_while_unplugged: usize,
    pub rtt_before_ms: Option<f64>,
    pub rtt_after_ms: Option<f64>,
    pub stream: StreamResult,
    /// Announcement -> the last router's FIB points toward the new place
    /// (hostroute mode; in L2-stretch mode no route changes).
    pub convergence_ms: Option<f64>,
    /// Per node (routers, and hypervisors in hostroute mode).
    pub convergence_per_router_ms: BTreeMap<String, Option<f64>>,
    /// Nodes whose route pointed at the same next hop before and after.
    pub fib_unchanged: Vec<String>,
    pub path_before: Vec<String>,
    pub path_after: Vec<String>,
    pub return_path_after: Vec<String>,
    pub route_events: BTreeMap<String, Vec<RouteEvent>>,
    /// The same events as (ms after the announcement, deleted, gateway).
    pub route_timeline: BTreeMap<String, Vec<(f64, bool, Option<std::net::Ipv4Addr>)>>,
    pub probes: Vec<Probe>,
}

/// Everything the demo wrote.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    pub topology: String,
    pub results: Vec<ModeResult>,
    pub json: PathBuf,
    pub svg: PathBuf,
    pub seconds: f64,
}

/// Runs the demo; writes the JSON and SVG into `out`.
pub fn run(topology: &Topology, options: &DemoOptions, out: &Path) -> Result<DemoReport> {
    let started = Instant::now();
    std::fs::create_dir_all(out).map_err(|e| Error::io("creating", out, e))?;
    let mut results = Vec::new();
    for &mode in &options.modes {
        eprintln!("lab demo: {} mode: bringing the topology up", mode.as_str());
        let result = Lab::run(&format!("demo-{}", mode.as_str()), |lab| {
            run_mode(lab, topology, mode, options)
        })?;
        eprintln!("lab demo: {} mode: done", mode.as_str());
        results.push(result);
    }
    let json = out.join("lab-demo.json");
    let svg = out.join("lab-demo-rtt.svg");
    let series: Vec<Series<'_>> = results
        .iter()
        .map(|r| Series {
            label: mode_label(r.mode).into(),
            colour: match r.mode {
                Mode::L2Stretch => "#d62728",
                Mode::Hostroute => "#1f77b4",
            },
            probes: &r.probes,
            move_ms: r.move_ms,
        })
        .collect();
    let wan_note = if results.iter().all(|r| r.wan_delays_applied) {
        "WAN delays applied"
    } else {
        "WAN links without delay (plain veth)"
    };
    let title = format!(
        "RTT client to {} during its move to {} ({wan_note})",
        options.vm, options.to
    );
    std::fs::write(&svg, rtt_svg(&title, &series)).map_err(|e| Error::io("writing", &svg, e))?;
    let mut report = DemoReport {
        topology: topology.name.clone(),
        results,
        json: json.clone(),
        svg,
        seconds: 0.0,
    };
    report.seconds = started.elapsed().as_secs_f64();
    let text = serde_json::to_string_pretty(&report).map_err(|e| Error::parse("demo report", e))?;
    std::fs::write(&json, text).map_err(|e| Error::io("writing", &json, e))?;
    Ok(report)
}

fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::L2Stretch => "L2 stretch (VXLAN)",
        Mode::Hostroute => "hostroute (/32)",
    }
}

/// One mode: up, measure a move, down (when `lab` drops).
pub fn run_mode(
    lab: &Lab,
    topology: &Topology,
    mode: Mode,
    options: &DemoOptions,
) -> Result<ModeResult> {
    let recorder = Recorder::create(
        &format!("demo-{}-{}", std::process::id(), mode.as_str()),
        mode.as_str(),
        lab.dir(),
    )?;
    if std::env::var_os("HR_LAB_KEEP").is_some() {
        // Keep the run directory (daemon and router logs) for a look after.
        lab.keep();
    }
    let result = (|| {
        let mut d = Deployment::up(lab, topology, mode, recorder.clone())?;
        measure_move(&mut d, options)
    })();
    recorder.remove();
    result
}

/// Measures one move in a deployment that is up.
pub fn measure_move(d: &mut Deployment, options: &DemoOptions) -> Result<ModeResult> {
    let vm = d.vm(&options.vm)?;
    let vm_addr = vm.ipv4.addr();
    let vm_ns = vm.netns.name().to_string();
    let vm_prefix = ipnet::Ipv4Net::new(vm_addr, 32).map_err(|e| Error::Config(e.to_string()))?;
    let (client, client_addr) = d.client()?;
    let client = client.to_string();
    let client_ns = d.netns(&client)?.name().to_string();
    let path_before = path::walk(d, &client, vm_addr)?;

    // Every FIB that may have to change: the routers', and in hostroute
    // mode the hypervisors' other than the destination (they hold the
    // daemon's learned routes), with where each pointed before the move.
    let mut watched = d.routers();
    if d.mode == Mode::Hostroute {
        watched.extend(d.agents.keys().filter(|h| **h != options.to).cloned());
    }
    let mut monitors = Vec::new();
    let mut via_before = BTreeMap::new();
    for node in watched {
        let ns = d.netns(&node)?.name().to_string();
        monitors.push((node.clone(), RouteMonitor::start(&ns, vm_prefix)?));
        via_before.insert(node.clone(), route_via(d, &node, vm_addr)?);
    }
    let stream = TcpStreamTest::start(&client_ns, &vm_ns, vm_addr)?;
    let prober = Prober::start(&client_ns, vm_addr, options.probe_interval)?;
    let probe_start = prober.start_instant();
    std::thread::sleep(options.pre);
    let moved = migrate(d, &options.vm, &options.to, options.blackout)?;
    std::thread::sleep(options.post);
    let probes = prober.finish()?;
    let stream = stream.finish(Duration::from_secs(5))?;
    let mut route_events = BTreeMap::new();
    for (router, monitor) in monitors {
        route_events.insert(router, monitor.finish()?);
    }

    let announced = moved.announced();
    let move_ms = announced.duration_since(probe_start).as_secs_f64() * 1000.0;
    let blackout_start_ms = moved.started.map_or(move_ms, |s| {
        s.duration_since(probe_start).as_secs_f64() * 1000.0
    });
    let end_ms = probes.last().map_or(0.0, |p| p.sent_ms);
    let rtt_before_ms = median_rtt(&probes, 200.0, blackout_start_ms);
    let rtt_after_ms = median_rtt(&probes, end_ms - 1000.0, end_ms + 1.0);
    let probes_while_unplugged = probes
        .iter()
        .filter(|p| p.sent_ms >= blackout_start_ms && p.sent_ms < move_ms)
        .count();

    let since = |at: Instant| {
        at.checked_duration_since(announced).map_or_else(
            || -(announced.duration_since(at).as_secs_f64() * 1000.0),
            |d| d.as_secs_f64() * 1000.0,
        )
    };
    let route_timeline = route_events
        .iter()
        .map(|(node, events)| {
            let line = events
                .iter()
                .filter_map(|e| e.at.map(|at| (since(at), e.deleted, e.gateway)))
                .collect();
            (node.clone(), line)
        })
        .collect();
    let mut convergence_per_router_ms = BTreeMap::new();
    let mut fib_unchanged = Vec::new();
    if d.mode == Mode::Hostroute {
        for (node, events) in &route_events {
            let final_via = route_via(d, node, vm_addr)?;
            let changed = events
                .iter()
                .any(|e| e.at.is_some_and(|at| at >= announced));
            if !changed && via_before.get(node) == Some(&final_via) {
                // Pointed at the same next hop before and after (a
                // hypervisor whose router is its next hop either way).
                fib_unchanged.push(node.clone());
                continue;
            }
            let converged = settled_at(events, announced, final_via.gateway)
                .map(|at| at.duration_since(announced).as_secs_f64() * 1000.0);
            convergence_per_router_ms.insert(node.clone(), converged);
        }
    }
    let convergence_ms = if convergence_per_router_ms.is_empty()
        || convergence_per_router_ms.values().any(Option::is_none)
    {
        None
    } else {
        convergence_per_router_ms
            .values()
            .flatten()
            .copied()
            .reduce(f64::max)
    };
    let path_after = path::walk(d, &client, vm_addr)?;
    let return_path_after = path::walk(d, &options.vm, client_addr)?;
    Ok(ModeResult {
        mode: d.mode,
        wan: d.wans.first().map_or(WanKind::Veth, |w| w.kind()),
        wan_delays_applied: d.wan_delays(),
        moved,
        move_ms,
        probes_sent: probes.len(),
        probes_lost: probes.iter().filter(|p| p.rtt_ms.is_none()).count(),
        probes_while_unplugged,
        rtt_before_ms,
        rtt_after_ms,
        stream,
        convergence_ms,
        convergence_per_router_ms,
        fib_unchanged,
        route_timeline,
        path_before,
        path_after,
        return_path_after,
        route_events,
        probes,
    })
}

/// Where `node` sends packets for `addr` now (`ip route get`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Via {
    gateway: Option<std::net::Ipv4Addr>,
    dev: Option<String>,
}

fn route_via(d: &Deployment, node: &str, addr: std::net::Ipv4Addr) -> Result<Via> {
    let out = d
        .netns(node)?
        .exec("ip", &["-o", "route", "get", &addr.to_string()])?;
    let text = String::from_utf8_lossy(&out.stdout);
    let after = |key: &str| {
        text.split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .map(str::to_string)
    };
    Ok(Via {
        gateway: after("via").and_then(|v| v.parse().ok()),
        dev: after("dev"),
    })
}

/// When a router's route settled on `final_via` after `announced`: the
/// first change to it after the last change to anything else (a route that
/// flaps through an older path converges when it stops flapping).
fn settled_at(
    events: &[RouteEvent],
    announced: Instant,
    final_via: Option<std::net::Ipv4Addr>,
) -> Option<Instant> {
    let after: Vec<&RouteEvent> = events
        .iter()
        .filter(|e| e.at.is_some_and(|at| at >= announced))
        .collect();
    let is_final = |e: &RouteEvent| !e.deleted && e.gateway == final_via;
    let start = after
        .iter()
        .rposition(|e| !is_final(e))
        .map_or(0, |i| i + 1);
    after.get(start).and_then(|e| e.at)
}

/// Median RTT of the answered probes sent in `[from_ms, to_ms)`.
fn median_rtt(probes: &[Probe], from_ms: f64, to_ms: f64) -> Option<f64> {
    let mut rtts: Vec<f64> = probes
        .iter()
        .filter(|p| p.sent_ms >= from_ms && p.sent_ms < to_ms)
        .filter_map(|p| p.rtt_ms)
        .collect();
    if rtts.is_empty() {
        return None;
    }
    rtts.sort_by(f64::total_cmp);
    Some(rtts[rtts.len() / 2])
}

/// The side-by-side table.
pub fn table(report: &DemoReport) -> String {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.2} ms"));
    let rows: Vec<(&str, Vec<String>)> = vec![
        (
            "WAN links",
            report
                .results
                .iter()
                .map(|r| {
                    if r.wan_delays_applied {
                        "delayed as configured".into()
                    } else {
                        "veth, NO delay".into()
                    }
                })
                .collect(),
        ),
        (
            "packets lost (1 ms ping)",
            report
                .results
                .iter()
                .map(|r| {
                    format!(
                        "{} of {} ({} while unplugged)",
                        r.probes_lost, r.probes_sent, r.probes_while_unplugged
                    )
                })
                .collect(),
        ),
        (
            "longest TCP stall",
            report
                .results
                .iter()
                .map(|r| ms(Some(r.stream.longest_stall_ms)))
                .collect(),
        ),
        (
            "TCP retransmission timeouts",
            report
                .results
                .iter()
                .map(|r| match (r.stream.rto_timeouts, r.stream.loss_probes) {
                    (Some(rto), Some(tlp)) => format!("{rto} (tail loss probes: {tlp})"),
                    _ => "-".into(),
                })
                .collect(),
        ),
        (
            "TCP connection",
            report
                .results
                .iter()
                .map(|r| {
                    if r.stream.survived {
                        "survived".to_string()
                    } else {
                        format!(
                            "BROKEN: {}",
                            r.stream.error.as_deref().unwrap_or("bytes missing")
                        )
                    }
                })
                .collect(),
        ),
        (
            "convergence (announce -> all FIBs)",
            report
                .results
                .iter()
                .map(|r| match r.mode {
                    Mode::L2Stretch => "n/a (no route changes)".into(),
                    Mode::Hostroute => ms(r.convergence_ms),
                })
                .collect(),
        ),
        (
            "RTT before the move",
            report.results.iter().map(|r| ms(r.rtt_before_ms)).collect(),
        ),
        (
            "RTT after the move",
            report.results.iter().map(|r| ms(r.rtt_after_ms)).collect(),
        ),
    ];
    let mut out = String::new();
    let _ = write!(out, "{:<36}", "");
    for r in &report.results {
        let _ = write!(out, "{:<32}", mode_label(r.mode));
    }
    out.push('\n');
    for (name, cells) in rows {
        let _ = write!(out, "{name:<36}");
        for cell in cells {
            let _ = write!(out, "{cell:<32}");
        }
        out.push('\n');
    }
    for r in &report.results {
        let _ = writeln!(out, "\n{}:", mode_label(r.mode));
        let _ = writeln!(out, "  path before:       {}", path::render(&r.path_before));
        let _ = writeln!(out, "  path after:        {}", path::render(&r.path_after));
        let _ = writeln!(
            out,
            "  reply path after:  {}",
            path::render(&r.return_path_after)
        );
        if !r.convergence_per_router_ms.is_empty() {
            let per: Vec<String> = r
                .convergence_per_router_ms
                .iter()
                .map(|(k, v)| format!("{k} {}", ms(*v)))
                .collect();
            let _ = writeln!(out, "  FIB per node:      {}", per.join(", "));
        }
        if !r.fib_unchanged.is_empty() {
            let _ = writeln!(
                out,
                "  FIB unchanged:     {} (same next hop before and after)",
                r.fib_unchanged.join(", ")
            );
        }
    }
    out
}
