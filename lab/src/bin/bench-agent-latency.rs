//! Detection-to-advertise latency of the `hostroute` daemon, measured on
//! the wire: from a VM's gratuitous ARP arriving on its tap to the BGP
//! UPDATE carrying its /32 (with the move's mobility sequence) leaving the
//! hypervisor's uplink, both stamped by the kernel.
//!
//! ```text
//!                      sw: bridge br0 (198.18.0.0/24), full-mesh iBGP, AS 65000
//!           ┌─────────────────────┼─────────────────────┐
//!   hv1 up0 .11              hv2 up0 .12            hv3 up0 .13 (watches: RIB + FIB)
//!   [capture]                [capture]
//!     tap-vm1  <-- vm1 10.1.1.5 moves hv1 <-> hv2 -->  tap-vm1
//!
//!   capture = one AF_PACKET socket (ETH_P_ALL, every interface, SO_TIMESTAMPNS)
//!   in the destination's namespace:
//!     t_in  = gratuitous ARP received on tap-vm1
//!     t_out = the segment completing the first UPDATE out of up0 that
//!             announces 10.1.1.5/32 with sequence n
//!   latency = t_out - t_in
//! ```
//!
//! `cargo run --release -p hostroute-lab --bin bench-agent-latency -- --moves 100`
//!
//! Options: `--moves N` (100), `--settle-ms M` (50: pause after the tap
//! lands and the old host's withdrawal has reached the destination, before
//! the VM announces, so the link event is not what is measured), `--log
//! FILTER` (the daemons' `HOSTROUTE_LOG`, default `info`), `--nice N` (run
//! the daemons under `nice -n N`; a negative N puts them ahead of other
//! work on a shared machine), `--samples` (print every move), `--keep` (keep
//! the run directory with the daemons' logs), `--no-build`.
//!
//! Each move: the tap moves into the destination (`ip link set netns`),
//! the benchmark waits until the destination has no path for the /32 any
//! more (the old host's withdrawal arrived), then the VM sends one
//! gratuitous ARP (a single frame: no doubt which frame was acted on);
//! after the measurement it waits, bounded, until hv3's RIB has the /32
//! via the destination with sequence n and hv3's kernel route points
//! there. Beside the wire figure, the daemon's own: `show moves`
//! `detection_to_advertise_us`, from the frame's kernel timestamp to the
//! route handed to the speaker.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use agent::detect::announce::parse_frame;
use anyhow::{Context as _, Result, bail, ensure};
use ipnet::IpNet;
use lab::bench::{self, Args};
use lab::daemon::{Launch, Vm, kernel_route};
use lab::fabric::{Fabric, fabric_address};
use lab::wire::{BgpStreams, Capture, WireUpdate, tcp_segment};
use lab::{Lab, Netns};
use serde_json::Value;

const VM_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 5);
const VM_MAC: [u8; 6] = [0x52, 0x54, 0, 0, 1, 5];
const PREFIX: &str = "10.1.1.5/32";
const CONVERGE: Duration = Duration::from_secs(15);
/// How long the capture waits for the announcement and the UPDATE.
const EVENT_TIMEOUT: Duration = Duration::from_secs(5);
const CAPTURE_POLL: Duration = Duration::from_millis(50);
/// A kernel timestamp further than this from CLOCK_REALTIME is on another
/// clock: the figures would be meaningless.
const CLOCK_SANITY: Duration = Duration::from_secs(10);

/// What a capture thread reports.
enum Seen {
    Announcement {
        ifindex: u32,
        ip: Option<IpAddr>,
        at_ns: u64,
    },
    Update(WireUpdate),
}

/// A capture thread in one hypervisor's namespace.
struct Watcher {
    rx: Receiver<Seen>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u64>>>,
}

impl Watcher {
    fn start(netns: &Netns) -> Result<Watcher> {
        let mut capture = Capture::open(netns, CAPTURE_POLL)?;
        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || -> Result<u64> {
            let mut streams = BgpStreams::new();
            let mut updates = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                let Some(frame) = capture.receive()? else {
                    continue;
                };
                let now = realtime_ns();
                ensure!(
                    now.abs_diff(frame.at_ns) < CLOCK_SANITY.as_nanos() as u64,
                    "kernel timestamp {} is not CLOCK_REALTIME (now {now})",
                    frame.at_ns
                );
                if frame.outgoing {
                    if let Some(segment) = tcp_segment(frame.data) {
                        streams.push(&segment, frame.at_ns, &mut updates);
                    }
                    for u in updates.drain(..) {
                        if tx.send(Seen::Update(u)).is_err() {
                            return Ok(streams.resyncs);
                        }
                    }
                } else if let Ok(Some(p)) = parse_frame(frame.data) {
                    let seen = Seen::Announcement {
                        ifindex: frame.ifindex,
                        ip: p.ip,
                        at_ns: frame.at_ns,
                    };
                    if tx.send(seen).is_err() {
                        break;
                    }
                }
            }
            Ok(streams.resyncs)
        });
        Ok(Watcher {
            rx,
            stop,
            thread: Some(thread),
        })
    }

    /// Forgets what was seen so far.
    fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }

    /// Stops the thread; returns how often a flow lost its place.
    fn finish(mut self) -> Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| anyhow::anyhow!("capture thread panicked"))?,
            None => Ok(0),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn realtime_ns() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// One move's figures, microseconds.
struct Sample {
    wire_us: f64,
    daemon_us: Option<u64>,
}

struct Setup {
    moves: u32,
    settle: Duration,
    launch: Launch,
    samples: bool,
    keep: bool,
}

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["moves", "settle-ms", "log", "nice"],
        &["no-build", "samples", "keep"],
    )?;
    let setup = Setup {
        moves: args.get("moves", 100)?,
        settle: Duration::from_millis(args.get("settle-ms", 50)?),
        launch: Launch {
            log: args.get("log", "info".to_string())?,
            nice: args.opt("nice")?,
        },
        samples: args.flag("samples"),
        keep: args.flag("keep"),
    };
    bench::release_binaries(&[("hostroute-agent", "hostroute")], !args.flag("no-build"))?;
    println!(
        "# bench-agent-latency: VM announcement in -> UPDATE out, {} moves hv1 <-> hv2, hv3 watching",
        setup.moves
    );
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-agent-latency -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    for line in bench::machine() {
        if !line.starts_with("bird") {
            println!("# {line}");
        }
    }
    println!(
        "# daemons: log filter {}, nice {}; settle after the tap lands: {} ms",
        setup.launch.log,
        setup.launch.nice.unwrap_or(0),
        setup.settle.as_millis()
    );
    let (samples, resyncs) = Lab::run("agent-latency", |lab| run(lab, &setup))?;
    report(&samples, resyncs);
    Ok(())
}

fn run(lab: &Lab, setup: &Setup) -> Result<(Vec<Sample>, u64)> {
    if setup.keep {
        lab.keep();
        println!("# run directory (kept): {}", lab.dir().display());
    }
    // More moves than the run makes before duplicate detection freezes
    // the address.
    let extra = format!("[mobility]\nduplicate_moves = {}\n", setup.moves + 10);
    let fabric = Fabric::start(lab, 3, &setup.launch, CONVERGE, |_, mut config| {
        config.extra = extra.clone();
        config
    })?;
    let mut vm = Vm::create(lab, "vm1", &fabric.hv[0], VM_ADDRESS, VM_MAC)?;
    vm.gratuitous_arp()?;
    converge(&fabric, 0, 0)?;
    let watchers = [
        Watcher::start(&fabric.hv[0])?,
        Watcher::start(&fabric.hv[1])?,
    ];
    let mut samples = Vec::new();
    for n in 1..=setup.moves {
        // Odd moves go to hv2, even ones back to hv1.
        let dest = if n % 2 == 1 { 1 } else { 0 };
        let sample = one_move(&fabric, &mut vm, &watchers[dest], dest, n, setup)
            .with_context(|| format!("move {n} to hv{}", dest + 1))?;
        if setup.samples {
            println!(
                "move {n:>4} -> hv{}: wire {:>8.1} us, daemon {} us",
                dest + 1,
                sample.wire_us,
                sample
                    .daemon_us
                    .map_or_else(|| "-".to_string(), |d| d.to_string())
            );
        }
        samples.push(sample);
    }
    let mut resyncs = 0;
    for w in watchers {
        resyncs += w.finish()?;
    }
    Ok((samples, resyncs))
}

fn one_move(
    fabric: &Fabric,
    vm: &mut Vm,
    watcher: &Watcher,
    dest: usize,
    n: u32,
    setup: &Setup,
) -> Result<Sample> {
    let dest_ns = &fabric.hv[dest];
    let dest_daemon = &fabric.daemons[dest];
    let dest_addr = IpAddr::V4(fabric_address(u8::try_from(dest + 1)?));
    let prefix: IpNet = PREFIX.parse()?;
    vm.move_tap(dest_ns)?;
    dest_daemon.wait_best(
        "the old host's withdrawal at the destination",
        PREFIX,
        CONVERGE,
        |p| p.is_none(),
    )?;
    std::thread::sleep(setup.settle);
    let tap = vm.tap.index()?;
    watcher.drain();
    let before = realtime_ns();
    vm.gratuitous_arp()?;
    let deadline = Instant::now() + EVENT_TIMEOUT;
    let (mut arrived, mut sent) = (None, None);
    while arrived.is_none() || sent.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let seen = match watcher.rx.recv_timeout(left) {
            Ok(seen) => seen,
            Err(RecvTimeoutError::Timeout) => bail!(
                "within {EVENT_TIMEOUT:?}: announcement seen: {}, UPDATE with sequence {n} seen: {}\n{}",
                arrived.is_some(),
                sent.is_some(),
                dest_daemon.failure("the move was not advertised".into())
            ),
            Err(RecvTimeoutError::Disconnected) => bail!("the capture thread stopped"),
        };
        match seen {
            Seen::Announcement { ifindex, ip, at_ns }
                if ifindex == tap && ip == Some(IpAddr::V4(VM_ADDRESS)) && at_ns >= before =>
            {
                arrived.get_or_insert(at_ns);
            }
            Seen::Update(u)
                if u.flow.src.ip() == dest_addr
                    && u.announced.contains(&prefix)
                    && u.mobility.map(|m| m.sequence.0) == Some(n) =>
            {
                sent.get_or_insert(u.at_ns);
            }
            _ => {}
        }
    }
    let (Some(t_in), Some(t_out)) = (arrived, sent) else {
        bail!("unreachable: both timestamps are set");
    };
    ensure!(
        t_out >= t_in,
        "the UPDATE left {} us before the announcement arrived: something else triggered it",
        (t_in - t_out) / 1000
    );
    converge(fabric, dest, n)?;
    let moves = dest_daemon.show(&["moves", PREFIX])?;
    let daemon_us = moves["moves"].as_array().and_then(|m| {
        m.iter()
            .rev()
            .find(|m| m["to"] == "local" && m["sequence"] == n)
            .and_then(|m| m["detection_to_advertise_us"].as_u64())
    });
    Ok(Sample {
        wire_us: (t_out - t_in) as f64 / 1000.0,
        daemon_us,
    })
}

/// Waits until hv3's RIB has the /32 via hypervisor `at` (0-based) with
/// `sequence`, and hv3's kernel route points there.
fn converge(fabric: &Fabric, at: usize, sequence: u32) -> Result<()> {
    let host = fabric_address(u8::try_from(at + 1)?).to_string();
    let watcher = &fabric.daemons[2];
    watcher.wait_best("hv3's RIB to follow", PREFIX, CONVERGE, |p| {
        p.is_some_and(|p| p["next_hop"] == host.as_str() && p["sequence"] == sequence)
    })?;
    lab::wait_until("hv3's FIB to follow", CONVERGE, lab::daemon::POLL, || {
        Ok(kernel_route(&fabric.hv[2], PREFIX)?
            .is_some_and(|r: Value| r["gateway"] == host.as_str()))
    })?;
    Ok(())
}

fn report(samples: &[Sample], resyncs: u64) {
    let stats = |values: &mut Vec<u64>| -> Option<String> {
        if values.is_empty() {
            return None;
        }
        values.sort_unstable();
        let mean = values.iter().sum::<u64>() as f64 / values.len() as f64;
        let us = |ns: u64| ns as f64 / 1000.0;
        Some(format!(
            "{} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            values.len(),
            us(bench::percentile(values, 50.0)),
            us(bench::percentile(values, 90.0)),
            us(bench::percentile(values, 99.0)),
            us(values.last().copied().unwrap_or(0)),
            mean / 1000.0
        ))
    };
    let mut wire: Vec<u64> = samples
        .iter()
        .map(|s| (s.wire_us * 1000.0).round() as u64)
        .collect();
    let mut own: Vec<u64> = samples
        .iter()
        .filter_map(|s| s.daemon_us.map(|d| d * 1000))
        .collect();
    println!();
    println!("| measure | moves | p50 us | p90 us | p99 us | max us | mean us |");
    println!("|---|---|---|---|---|---|---|");
    if let Some(row) = stats(&mut wire) {
        println!("| wire: announcement in (tap) -> UPDATE out (uplink) | {row}");
    }
    if let Some(row) = stats(&mut own) {
        println!("| daemon: frame timestamp -> route handed to the speaker (show moves) | {row}");
    }
    let p99 = bench::percentile(&wire, 99.0) as f64 / 1000.0;
    println!();
    println!(
        "target: wire p99 under 200 us: {} (p99 {p99:.1} us)",
        if p99 < 200.0 { "met" } else { "NOT met" }
    );
    println!("capture: {resyncs} stream resyncs (gaps or undecodable messages)");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
