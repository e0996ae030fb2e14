//! How closely the userspace WAN delay line (`hr-delayline`) holds its
//! delay, and what it sustains.
//!
//! ```text
//! bench-delayline [--pings 2000] [--delays 0,1,5,20] [--spins 0,200]
//!                 [--stream-delay 20] [--rates 10,50,100,200,0] [--stream-secs 10]
//!                 [--no-build]
//! ```
//!
//! Every measurement builds a fresh link (see `lab::delay`):
//!
//! ```text
//!   a: wan0 198.18.0.1/24 ── veth ── d: la ─ hr-delayline ─ lb ── veth ── b: wan0 198.18.0.2/24
//! ```
//!
//! 1. Baseline: `ping -i 0.001` over a plain veth (what ping itself costs).
//! 2. Ping: for each spin setting and one-way delay, `--pings` pings at
//!    1 ms intervals; RTT percentiles and their deviation from twice the
//!    delay, the line's own lateness histogram, its CPU use.
//! 3. TCP: for each rate (Mbit/s; 0 = unpaced), a TCP stream from a to b
//!    over a `--stream-delay` link for `--stream-secs`, with pings at 1 ms
//!    intervals alongside; goodput, RTT deviation under load, frames the
//!    line dropped (its queue, or its socket buffer: the interface's
//!    received count minus the line's), TCP retransmissions, CPU.
//!
//! Release build: `cargo run --release -p hostroute-lab --bin bench-delayline`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use ipnet::IpNet;
use lab::bench::{Args, cpu_seconds, machine, percentile, release_binaries};
use lab::delay::probe::{Pings, StreamSpec, ping, tcp_stream, udp_echo};
use lab::delay::{Backend, DelayLink, LinkSpec};
use lab::{Lab, Netns};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2));
const PING_INTERVAL: Duration = Duration::from_millis(1);
/// TCP buffers up to 32 MiB: a 200 Mbit/s stream over 40 ms holds 1 MB in
/// flight, and autotuning wants twice that and more.
const TCP_MEM: &str = "4096 131072 33554432";

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &[
            "pings",
            "delays",
            "spins",
            "priorities",
            "stream-delay",
            "rates",
            "stream-secs",
            "timer-probe",
        ],
        &["no-build"],
    )?;
    if let Some(n) = args.opt::<usize>("timer-probe")? {
        return timer_probe(n);
    }
    let list = |name: &str, default: &str| -> Result<Vec<u64>> {
        let text: String = args.get(name, default.to_string())?;
        text.split(',')
            .map(|v| v.trim().parse().with_context(|| format!("--{name} {v:?}")))
            .collect()
    };
    let pings: usize = args.get("pings", 2000)?;
    let delays = list("delays", "0,1,5,20")?;
    let spins = list("spins", "0,200")?;
    let priorities = list("priorities", "0,10")?;
    let rates = list("rates", "10,50,100,200,0")?;
    let stream_delay: u64 = args.get("stream-delay", 20)?;
    let stream_secs: u64 = args.get("stream-secs", 10)?;
    release_binaries(&[("hostroute-lab", "hr-delayline")], !args.flag("no-build"))?;

    println!("# bench-delayline");
    println!(
        "command: {}",
        std::env::args().collect::<Vec<_>>().join(" ")
    );
    for line in machine() {
        println!("{line}");
    }

    let lab = Lab::new("bench-delay")?;
    machine_timers("at start")?;
    baseline(&lab, pings)?;

    println!("\n## ping at 1 ms intervals ({pings} pings per row)");
    println!(
        "| SCHED_FIFO | spin µs | one-way ms | ping replies | ping RTT min / p50 / p99 / max ms | ping − 2×delay p50 / p99 / max µs | UDP replies | UDP − 2×delay min / p50 / p99 / max µs | line late ≤50µs / ≤200µs / ≤1ms / >1ms, max µs | line CPU % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for &priority in &priorities {
        for &spin in &spins {
            for &delay in &delays {
                ping_row(&lab, priority, spin, delay, pings)?;
            }
        }
    }

    println!(
        "\n## TCP stream over {stream_delay} ms one way ({stream_secs} s per row, pings at 1 ms alongside)"
    );
    println!(
        "| SCHED_FIFO | spin µs | target Mbit/s | goodput Mbit/s | intact | ping replies | ping − 2×delay p50 / p99 / max µs | UDP replies | UDP − 2×delay min / p50 / p99 / max µs | line late ≤50µs / ≤200µs / ≤1ms / >1ms, max µs | queue drops | socket drops | TCP retrans | line CPU % |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for &priority in &priorities {
        for &spin in &spins {
            for &rate in &rates {
                stream_row(&lab, (priority, spin), stream_delay, rate, stream_secs)?;
            }
        }
    }
    machine_timers("at end")?;
    println!(
        "\nload average at end: {}",
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
    Ok(())
}

/// Sleeps of 1 ms taken by a SCHED_FIFO thread: how late the machine
/// wakes a real-time thread, the floor under the line's own lateness.
fn machine_timers(when: &str) -> Result<()> {
    let exe = std::env::current_exe()?;
    let out = lab::process::run_command(
        std::process::Command::new("chrt")
            .args(["-f", "10"])
            .arg(exe)
            .args(["--timer-probe", "5000"]),
    )?;
    println!("SCHED_FIFO 1 ms sleeps {when}: {}", out.trim());
    Ok(())
}

/// The `--timer-probe N` sub-mode: N sleeps of 1 ms, lateness
/// percentiles.
fn timer_probe(n: usize) -> Result<()> {
    nix::sys::prctl::set_timerslack(1000)?;
    let mut late: Vec<u64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            std::thread::sleep(PING_INTERVAL);
            let over = start.elapsed().saturating_sub(PING_INTERVAL);
            u64::try_from(over.as_micros()).unwrap_or(u64::MAX)
        })
        .collect();
    late.sort_unstable();
    println!(
        "{n} sleeps, late p50 {} / p99 {} / p99.9 {} / max {} µs, {} over 1 ms",
        percentile(&late, 50.0),
        percentile(&late, 99.0),
        percentile(&late, 99.9),
        late.last().copied().unwrap_or(0),
        late.iter().filter(|l| **l > 1000).count()
    );
    Ok(())
}

/// Two namespaces and a link as `spec` says, addressed, with big TCP
/// buffers.
fn topology(lab: &Lab, spec: &LinkSpec) -> Result<(Netns, Netns, DelayLink)> {
    let a = Netns::new(lab, "a")?;
    let b = Netns::new(lab, "b")?;
    let link = DelayLink::create(lab, &a, &b, spec)?;
    link.a.add_addr(IpNet::new(A, 24)?)?;
    link.b.add_addr(IpNet::new(B, 24)?)?;
    for ns in [&a, &b] {
        ns.sysctl("net.ipv4.tcp_rmem", TCP_MEM)?;
        ns.sysctl("net.ipv4.tcp_wmem", TCP_MEM)?;
    }
    // Resolve ARP before measuring, so no ping waits for it.
    ping(&a, B, 1, PING_INTERVAL)?;
    Ok((a, b, link))
}

/// `(p50, p99, max)` and min of sorted µs values, as ms text.
fn rtt_text(sorted: &[u64]) -> String {
    let ms = |v: u64| format!("{:.3}", v as f64 / 1000.0);
    format!(
        "{} / {} / {} / {}",
        ms(sorted.first().copied().unwrap_or(0)),
        ms(percentile(sorted, 50.0)),
        ms(percentile(sorted, 99.0)),
        ms(sorted.last().copied().unwrap_or(0))
    )
}

/// Deviation of the RTTs from `2 × delay` in µs: p50 / p99 / max, with
/// the minimum first if `with_min`.
fn deviation_text(p: &Pings, delay_ms: u64, with_min: bool) -> String {
    let sorted = p.sorted_us();
    let base = i64::try_from(2 * delay_ms * 1000).unwrap_or(i64::MAX);
    let dev = |v: u64| i64::try_from(v).unwrap_or(i64::MAX) - base;
    let min = if with_min {
        format!("{} / ", dev(sorted.first().copied().unwrap_or(0)))
    } else {
        String::new()
    };
    format!(
        "{min}{} / {} / {}",
        dev(percentile(&sorted, 50.0)),
        dev(percentile(&sorted, 99.0)),
        dev(sorted.last().copied().unwrap_or(0))
    )
}

fn baseline(lab: &Lab, pings: usize) -> Result<()> {
    let a = Netns::new(lab, "base-a")?;
    let b = Netns::new(lab, "base-b")?;
    let link = lab::veth(&a, "wan0", &b, "wan0")?;
    link.a.add_addr(IpNet::new(A, 24)?)?;
    link.b.add_addr(IpNet::new(B, 24)?)?;
    ping(&a, B, 1, PING_INTERVAL)?;
    let p = ping(&a, B, pings, PING_INTERVAL)?;
    println!(
        "\nbaseline, plain veth, no delay line: {} of {} replies, RTT min / p50 / p99 / max ms: {}",
        p.rtts.len(),
        p.sent,
        rtt_text(&p.sorted_us())
    );
    Ok(())
}

/// A userspace link; `priority` 0 runs the line as an ordinary process.
fn spec(priority: u64, delay_ms: u64, spin_us: u64) -> Result<LinkSpec> {
    let mut spec = LinkSpec::new(Duration::from_millis(delay_ms));
    spec.backend = Backend::Userspace;
    spec.spin = Duration::from_micros(spin_us);
    spec.rt_priority = match priority {
        0 => None,
        p => Some(u8::try_from(p).context("--priorities: 1 to 99")?),
    };
    Ok(spec)
}

/// "no" or the priority.
fn priority_text(priority: u64) -> String {
    if priority == 0 {
        "no".into()
    } else {
        priority.to_string()
    }
}

/// CPU seconds of a process over the time `f` takes, as a percentage of
/// one CPU, with `f`'s result.
fn with_cpu<T>(pid: u32, f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let (cpu0, t0) = (cpu_seconds(pid)?, Instant::now());
    let out = f()?;
    let (cpu1, wall) = (cpu_seconds(pid)?, t0.elapsed().as_secs_f64());
    Ok((out, 100.0 * (cpu1 - cpu0) / wall))
}

fn ping_row(lab: &Lab, priority: u64, spin: u64, delay: u64, pings: usize) -> Result<()> {
    let (a, b, mut link) = topology(lab, &spec(priority, delay, spin)?)?;
    let pid = link.pid().context("the userspace line has a PID")?;
    let ((p, u), cpu) = with_cpu(pid, || {
        let p = ping(&a, B, pings, PING_INTERVAL)?;
        let u = udp_echo(&a, &b, SocketAddr::new(B, 7), pings, PING_INTERVAL)?;
        Ok((p, u))
    })?;
    let report = link.stop()?.context("no counters from the line")?;
    println!(
        "| {} | {spin} | {delay} | {}/{} | {} | {} | {}/{} | {} | {} | {cpu:.1} |",
        priority_text(priority),
        p.rtts.len(),
        p.sent,
        rtt_text(&p.sorted_us()),
        deviation_text(&p, delay, false),
        u.rtts.len(),
        u.sent,
        deviation_text(&u, delay, true),
        lateness_text(&report),
    );
    Ok(())
}

/// The line's lateness histogram (both directions) and its maximum.
fn lateness_text(report: &serde_json::Value) -> String {
    let dirs = ["a_to_b", "b_to_a"];
    let hist = |k: &str| {
        dirs.iter()
            .map(|d| report[d]["late_hist_us"][k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    let max = dirs
        .iter()
        .filter_map(|d| report[d]["late_max_us"].as_u64())
        .max()
        .unwrap_or(0);
    let faults = report["major_faults"].as_u64().unwrap_or(0);
    let rx_lag = dirs
        .iter()
        .filter_map(|d| report[d]["rx_lag_over_1ms"].as_u64())
        .sum::<u64>();
    format!(
        "{} / {} / {} / {}, {max} ({rx_lag} read >1 ms after arrival; {faults} major faults)",
        hist("le50"),
        hist("le100") + hist("le200"),
        hist("le500") + hist("le1000"),
        hist("over1000"),
    )
}

/// Frames the kernel received on `iface` in `ns` (`ip -s -j link`).
fn rx_packets(ns: &Netns, iface: &str) -> Result<u64> {
    let out = ns.ip(&["-s", "-j", "link", "show", "dev", iface])?;
    let json: serde_json::Value = serde_json::from_str(&out)?;
    json[0]["stats64"]["rx"]["packets"]
        .as_u64()
        .with_context(|| format!("no rx packets for {iface} in {out}"))
}

/// TCP segments retransmitted so far in `ns` (`/proc/net/snmp`).
fn retransmits(ns: &Netns) -> Result<u64> {
    let snmp = ns.run("cat", &["/proc/net/snmp"])?;
    let mut tcp = snmp.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap_or(""), tcp.next().unwrap_or(""));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RetransSegs")
        .and_then(|(_, v)| v.parse().ok())
        .context("no Tcp RetransSegs in /proc/net/snmp")
}

fn stream_row(
    lab: &Lab,
    (priority, spin): (u64, u64),
    delay: u64,
    rate_mbit: u64,
    secs: u64,
) -> Result<()> {
    let (a, b, mut link) = topology(lab, &spec(priority, delay, spin)?)?;
    let pid = link.pid().context("the userspace line has a PID")?;
    let middle = link
        .middle()
        .context("the userspace line has a namespace")?;
    let kernel_rx0 = rx_packets(middle, "la")? + rx_packets(middle, "lb")?;
    let retrans0 = retransmits(&a)?;
    let duration = Duration::from_secs(secs);
    let count = usize::try_from(duration.as_millis()).unwrap_or(usize::MAX);
    let ((stream, p, u), cpu) = with_cpu(pid, || {
        std::thread::scope(|scope| {
            let pinger = scope.spawn(|| ping(&a, B, count, PING_INTERVAL));
            let udp = scope.spawn(|| udp_echo(&a, &b, SocketAddr::new(B, 7), count, PING_INTERVAL));
            let stream = tcp_stream(
                &a,
                &b,
                SocketAddr::new(B, 5001),
                StreamSpec {
                    bytes: u64::MAX,
                    duration,
                    rate_bps: (rate_mbit > 0).then_some(rate_mbit * 1_000_000),
                },
            );
            let panicked = |_| anyhow::anyhow!("a probe thread panicked");
            let pings = pinger.join().map_err(panicked)?;
            let udp = udp.join().map_err(panicked)?;
            Ok((stream?, pings?, udp?))
        })
    })?;
    let kernel_rx1 = rx_packets(middle, "la")? + rx_packets(middle, "lb")?;
    let retrans = retransmits(&a)?.saturating_sub(retrans0);
    let report = link.stop()?.context("no counters from the line")?;
    let sum = |k: &str| {
        ["a_to_b", "b_to_a"]
            .iter()
            .map(|d| report[d][k].as_u64().unwrap_or(0))
            .sum::<u64>()
    };
    // Every frame the kernel took in that the line never read was dropped
    // at its socket (buffer full).
    let socket_drops = (kernel_rx1 - kernel_rx0).saturating_sub(sum("received"));
    ensure!(
        stream.received > 0,
        "the stream carried nothing: {stream:?}"
    );
    let target = if rate_mbit == 0 {
        "unpaced".to_string()
    } else {
        rate_mbit.to_string()
    };
    println!(
        "| {} | {spin} | {target} | {:.1} | {} | {}/{} | {} | {}/{} | {} | {} | {} | {socket_drops} | {retrans} | {cpu:.1} |",
        priority_text(priority),
        stream.mbit_per_s(),
        if stream.intact() { "yes" } else { "NO" },
        p.rtts.len(),
        p.sent,
        deviation_text(&p, delay, false),
        u.rtts.len(),
        u.sent,
        deviation_text(&u, delay, true),
        lateness_text(&report),
        sum("queue_full"),
    );
    Ok(())
}
