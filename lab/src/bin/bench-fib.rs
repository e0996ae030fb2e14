//! FIB install rate: hostroute's FIB service against `ip -batch`.
//!
//! `bench-fib [--routes N] [--reps R] [--batch-size B] [--in-flight F] [--ack-each]`
//!
//! Each repetition creates two fresh namespaces, each with one veth pair
//! (`v0` 192.0.2.1/24, the gateway 192.0.2.2 on its connected subnet):
//!
//! ```text
//!   hr-<pid>-<n>-fib:  FibService (its event monitor running) --netlink--> N x /32 via 192.0.2.2
//!   hr-<pid>-<n>-ipb:  ip -batch <file of N "route add ... via 192.0.2.2 proto 200 metric 50">
//! ```
//!
//! The same routes, the same next hop, protocol and metric on both sides;
//! the order alternates between repetitions. The FIB service runs on a
//! thread that `setns`-ed into its namespace before building its runtime
//! and sockets. Its time is `apply` of one batch of N deltas until `flush`
//! returns (every route ACKed); `ip -batch` is timed from spawn to exit.
//! Afterwards the routes of protocol 200 in each namespace are counted, so
//! a lost route fails the run. Namespaces are deleted when the repetition
//! ends, on success or failure.
//!
//! Memory of the FIB service, per route, with the routes installed and the
//! service still running: "own" is the service's accounting of its route
//! state (`FibHandle::memory`: hash tables by capacity, control bytes,
//! interned next hops); "RSS" is this process's resident set after the
//! install minus before the service started; "peak" is the high-water mark
//! during the install (the batch of deltas, the plan, the netlink messages)
//! minus the same start. RSS and peak are clean in repetition 1 only (the
//! first FIB run of the process); later runs reuse memory the allocator
//! kept from earlier ones.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use agent::fib::{Delta, FibConfig, FibMemory, FibService, Retention, RouteKind, RouteParams};
use anyhow::{Context, bail, ensure};
use ipnet::IpNet;
use lab::{Lab, Netns};

const PROTO: u8 = 200;
const METRIC: u32 = 50;
const GATEWAY: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

struct Args {
    routes: u32,
    reps: u32,
    batch_size: Option<usize>,
    in_flight: Option<usize>,
    ack_each: bool,
}

fn args() -> anyhow::Result<Args> {
    let mut args = Args {
        routes: 100_000,
        reps: 3,
        batch_size: None,
        in_flight: None,
        ack_each: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--routes" => args.routes = value()?.parse()?,
            "--reps" => args.reps = value()?.parse()?,
            "--batch-size" => args.batch_size = Some(value()?.parse()?),
            "--in-flight" => args.in_flight = Some(value()?.parse()?),
            "--ack-each" => args.ack_each = true,
            "-h" | "--help" => {
                println!(
                    "bench-fib [--routes N] [--reps R] [--batch-size B] [--in-flight F] [--ack-each]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    ensure!(
        args.routes > 0 && args.routes <= 1 << 24,
        "--routes: 1 to 2^24"
    );
    ensure!(args.reps > 0, "--reps: at least 1");
    Ok(args)
}

fn host(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + i)
}

/// A fresh namespace with `v0` 192.0.2.1/24 (veth, peer `v1` alongside).
fn namespace(lab: &Lab, label: &str) -> anyhow::Result<Netns> {
    let netns = Netns::new(lab, label)?;
    netns.ip(&["link", "add", "v0", "type", "veth", "peer", "name", "v1"])?;
    netns.ip(&["link", "set", "v0", "up"])?;
    netns.ip(&["link", "set", "v1", "up"])?;
    netns.ip(&["addr", "add", "192.0.2.1/24", "dev", "v0"])?;
    Ok(netns)
}

/// Routes of our protocol in the namespace.
fn count(netns: &Netns) -> anyhow::Result<usize> {
    let out = netns.ip(&["route", "show", "proto", &PROTO.to_string()])?;
    Ok(out.lines().count())
}

struct Run {
    elapsed: Duration,
    /// Including socket set-up and the start dump.
    total: Duration,
    counted: usize,
    memory: Option<Memory>,
}

/// The FIB service's memory with every route installed.
struct Memory {
    own: FibMemory,
    /// Resident set growth from before the service started.
    rss: u64,
    /// High-water mark growth from the same point.
    peak: u64,
}

/// `VmRSS` and `VmHWM` of this process, in bytes.
fn resident() -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} not in /proc/self/status"))?;
        let kib: u64 = line
            .trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()?;
        Ok(kib * 1024)
    };
    Ok((field("VmRSS:")?, field("VmHWM:")?))
}

/// Starts a new high-water mark at the current resident set.
fn reset_peak() -> anyhow::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5").context("/proc/self/clear_refs")
}

fn run_fib(lab: &Lab, args: &Args) -> anyhow::Result<Run> {
    let netns = namespace(lab, "fib")?;
    let path = format!("/var/run/netns/{}", netns.name());
    let (elapsed, total, memory) = std::thread::scope(|scope| {
        scope
            .spawn(|| -> anyhow::Result<(Duration, Duration, Memory)> {
                let own = "/proc/thread-self/ns/net";
                let before = std::fs::read_link(own)?;
                let file = std::fs::File::open(&path).with_context(|| path.clone())?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)?;
                ensure!(
                    std::fs::read_link(own)? != before,
                    "setns did not move the thread"
                );
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()?;
                runtime.block_on(async {
                    let mut config = FibConfig::with_params(RouteParams {
                        protocol: PROTO,
                        metric: METRIC,
                        ..RouteParams::default()
                    });
                    config.audit_interval = None;
                    if let Some(b) = args.batch_size {
                        config.kernel.batch_size = b;
                    }
                    if let Some(f) = args.in_flight {
                        config.kernel.in_flight = f;
                    }
                    if args.ack_each {
                        config.kernel.ack = agent::fib::kernel::AckMode::EachMessage;
                    }
                    let params = config.kernel.params;
                    reset_peak()?;
                    let (start_rss, _) = resident()?;
                    let batch: Vec<Delta> = (0..args.routes)
                        .map(|i| {
                            Delta::Set(params.route(
                                IpNet::from(IpAddr::V4(host(i))),
                                RouteKind::Via {
                                    gateway: IpAddr::V4(GATEWAY),
                                    ifindex: None,
                                },
                            ))
                        })
                        .collect();
                    let started = Instant::now();
                    let fib = FibService::start(config, []).await?;
                    fib.flush().await?;
                    let applying = Instant::now();
                    fib.apply(batch).await?;
                    fib.flush().await?;
                    let elapsed = applying.elapsed();
                    let total = started.elapsed();
                    let own = fib.memory().await?;
                    let (rss, peak) = resident()?;
                    let memory = Memory {
                        own,
                        rss: rss.saturating_sub(start_rss),
                        peak: peak.saturating_sub(start_rss),
                    };
                    let c = fib.counters();
                    ensure!(
                        c.installed == u64::from(args.routes) && c.failures.is_empty(),
                        "counters: {c:?}"
                    );
                    fib.shutdown(Retention::Keep).await?;
                    Ok((elapsed, total, memory))
                })
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the FIB thread panicked"))?
    })?;
    let counted = count(&netns)?;
    Ok(Run {
        elapsed,
        total,
        counted,
        memory: Some(memory),
    })
}

fn run_ip_batch(lab: &Lab, args: &Args, file: &str) -> anyhow::Result<Run> {
    let netns = namespace(lab, "ipb")?;
    let started = Instant::now();
    let out = Command::new("ip")
        .args(["-n", netns.name(), "-batch", file])
        .output()?;
    let elapsed = started.elapsed();
    ensure!(
        out.status.success(),
        "ip -batch: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counted = count(&netns)?;
    ensure!(
        counted == args.routes as usize,
        "ip -batch installed {counted}"
    );
    Ok(Run {
        elapsed,
        total: elapsed,
        counted,
        memory: None,
    })
}

fn rate(n: u32, d: Duration) -> f64 {
    f64::from(n) / d.as_secs_f64()
}

fn main() -> anyhow::Result<()> {
    let args = args()?;
    let lab = Lab::new("bench-fib")?;
    let mut script = String::with_capacity(args.routes as usize * 64);
    for i in 0..args.routes {
        writeln!(
            script,
            "route add {}/32 via {GATEWAY} proto {PROTO} metric {METRIC}",
            host(i)
        )?;
    }
    let file = lab.dir().join("routes.batch");
    std::fs::write(&file, script)?;
    let file = file.to_string_lossy().into_owned();

    println!(
        "FIB install: {} IPv4 /32 routes via one gateway, {} repetitions",
        args.routes, args.reps
    );
    println!(
        "| rep | order | hostroute FIB | routes/s | (incl. start) | ip -batch | routes/s | ratio \
         | own B/route | RSS B/route | peak B/route |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    let (mut fib_rates, mut ip_rates) = (Vec::new(), Vec::new());
    for rep in 1..=args.reps {
        let fib_first = rep % 2 == 1;
        let (fib, ip) = if fib_first {
            let fib = run_fib(&lab, &args)?;
            (fib, run_ip_batch(&lab, &args, &file)?)
        } else {
            let ip = run_ip_batch(&lab, &args, &file)?;
            (run_fib(&lab, &args)?, ip)
        };
        ensure!(
            fib.counted == args.routes as usize,
            "routes lost: the kernel holds {} of {} after the FIB service",
            fib.counted,
            args.routes
        );
        let (f, i) = (
            rate(args.routes, fib.elapsed),
            rate(args.routes, ip.elapsed),
        );
        fib_rates.push(f);
        ip_rates.push(i);
        ratios.push(f / i);
        let per_route = |bytes: u64| bytes as f64 / f64::from(args.routes);
        let memory = fib.memory.as_ref().context("no memory figures")?;
        ensure!(
            memory.own.desired == args.routes as usize
                && memory.own.installed == args.routes as usize,
            "the service holds {:?}",
            memory.own
        );
        println!(
            "| {rep} | {} | {:.3} s | {:.0} | {:.3} s | {:.3} s | {:.0} | {:.2}x | {:.1} | {:.1} | {:.1} |",
            if fib_first { "fib, ip" } else { "ip, fib" },
            fib.elapsed.as_secs_f64(),
            f,
            fib.total.as_secs_f64(),
            ip.elapsed.as_secs_f64(),
            i,
            f / i,
            per_route(memory.own.bytes as u64),
            per_route(memory.rss),
            per_route(memory.peak),
        );
        let _ = ip.total;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or_default()
    };
    println!(
        "median: hostroute {:.0} routes/s, ip -batch {:.0} routes/s, ratio {:.2}x (target >= 0.9x); \
         no route lost ({} counted in the kernel after every run)",
        median(&mut fib_rates),
        median(&mut ip_rates),
        median(&mut ratios),
        args.routes
    );
    Ok(())
}
