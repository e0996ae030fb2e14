//! Receive benchmark: N /32 routes over one BGP session into the Loc-RIB,
//! hostroute's speaker (`hr-speakerd`) beside BIRD 2, in the same run.
//!
//! ```text
//!   netns feed (203.0.113.101)                   netns recv (203.0.113.102)
//!   hr-feeder --- veth f0 <-> r0 --- BGP ---> hr-speakerd | bird (passive)
//!      |  first UPDATE byte: CLOCK_MONOTONIC        |  holds N routes: CLOCK_MONOTONIC
//!      '--------------- seconds = difference -------'
//! ```
//!
//! `cargo run --release -p hostroute-lab --bin bench-speaker-receive -- --routes 1000000`
//!
//! Options: `--routes N` (100000), `--reps R` (3; the receivers alternate
//! which goes first), `--poll-us U` (1000: how often each receiver's count
//! is polled), `--timeout-s S` (600), `--only hostroute|bird`, `--shuffle`
//! (the feeder sends in a pseudo-random order instead of address order),
//! `--no-build` (use the release binaries already beside this one).
//!
//! Each run gets fresh namespaces, a fresh receiver and a fresh feeder.
//! "Holds N routes": hostroute answers `wait_prefixes` (its Loc-RIB size,
//! polled inside the daemon); BIRD's `Routes: N imported` (routes of the
//! channel stored in its table) is polled over one persistent control
//! socket connection. Memory per route: the receiver's peak RSS (`VmHWM`)
//! minus its RSS just before the feed, over N; each daemon's own
//! accounting is printed beside it.

use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use lab::bench::{self, Args, mono_ns};
use lab::peers::{Bird, Family, Neighbor, PeerConfig};
use lab::{Child, Lab, Netns, veth, wait_until};
use serde_json::{Value, json};

const FEED_ADDR: &str = "203.0.113.101";
const RECV_ADDR: &str = "203.0.113.102";
const FEED_AS: u32 = 65001;
const RECV_AS: u32 = 65002;
const POOL: &str = "100.64.0.0/10";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Receiver {
    Hostroute,
    Bird,
}

impl Receiver {
    fn name(self) -> &'static str {
        match self {
            Self::Hostroute => "hostroute",
            Self::Bird => "bird",
        }
    }
}

struct Setup {
    routes: u32,
    poll: Duration,
    timeout: Duration,
    feeder: PathBuf,
    speakerd: PathBuf,
    shuffle: bool,
}

#[derive(Debug, Clone)]
struct Sample {
    receiver: Receiver,
    rep: u32,
    seconds: f64,
    cpu_seconds: f64,
    peak_per_route: f64,
    own_per_route: f64,
    own_note: String,
    poll_ms: f64,
}

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["routes", "reps", "poll-us", "timeout-s", "only"],
        &["no-build", "shuffle"],
    )?;
    let routes: u32 = args.get("routes", 100_000)?;
    let reps: u32 = args.get("reps", 3)?;
    let only: Option<String> = args.opt("only")?;
    let bins = bench::release_binaries(
        &[
            ("hostroute-lab", "hr-feeder"),
            ("hostroute-tests", "hr-speakerd"),
        ],
        !args.flag("no-build"),
    )?;
    let [feeder, speakerd] =
        <[PathBuf; 2]>::try_from(bins).map_err(|_| anyhow::anyhow!("binaries"))?;
    let setup = Setup {
        routes,
        poll: Duration::from_micros(args.get("poll-us", 1000)?),
        timeout: Duration::from_secs(args.get("timeout-s", 600)?),
        feeder,
        speakerd,
        shuffle: args.flag("shuffle"),
    };
    let receivers: Vec<Receiver> = match only.as_deref() {
        None => vec![Receiver::Hostroute, Receiver::Bird],
        Some("hostroute") => vec![Receiver::Hostroute],
        Some("bird") => vec![Receiver::Bird],
        Some(other) => bail!("--only {other}: hostroute or bird"),
    };

    println!("# bench-speaker-receive: {routes} /32 routes over one session into the Loc-RIB");
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-speaker-receive -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    for line in bench::machine() {
        println!("# {line}");
    }
    println!(
        "# poll interval: {} us (both receivers)",
        setup.poll.as_micros()
    );
    println!();
    println!(
        "| routes | receiver | rep | seconds | routes/s | peak bytes/route | own bytes/route | cpu s | poll ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut samples = Vec::new();
    for rep in 1..=reps {
        let mut order = receivers.clone();
        if rep % 2 == 0 {
            order.reverse();
        }
        for receiver in order {
            let label = format!("spbench-{}", receiver.name());
            let s = Lab::run(&label, |lab| run_one(lab, &setup, receiver, rep))
                .with_context(|| format!("{} run {rep}", receiver.name()))?;
            println!(
                "| {routes} | {} | {rep} | {:.3} | {:.0} | {:.1} | {:.1} ({}) | {:.2} | {:.2} |",
                receiver.name(),
                s.seconds,
                f64::from(routes) / s.seconds,
                s.peak_per_route,
                s.own_per_route,
                s.own_note,
                s.cpu_seconds,
                s.poll_ms
            );
            samples.push(s);
        }
    }
    summarize(routes, &samples);
    Ok(())
}

fn summarize(routes: u32, samples: &[Sample]) {
    let med = |r: Receiver, f: fn(&Sample) -> f64| {
        let v: Vec<f64> = samples.iter().filter(|s| s.receiver == r).map(f).collect();
        (!v.is_empty()).then(|| bench::median(&v))
    };
    println!();
    println!(
        "| routes | receiver | median seconds | routes/s | median peak bytes/route | median cpu s |"
    );
    println!("|---|---|---|---|---|---|");
    for r in [Receiver::Hostroute, Receiver::Bird] {
        if let (Some(t), Some(m), Some(c)) = (
            med(r, |s| s.seconds),
            med(r, |s| s.peak_per_route),
            med(r, |s| s.cpu_seconds),
        ) {
            println!(
                "| {routes} | {} | {t:.3} | {:.0} | {m:.1} | {c:.2} |",
                r.name(),
                f64::from(routes) / t
            );
        }
    }
    if let (Some(ht), Some(bt), Some(hm), Some(bm)) = (
        med(Receiver::Hostroute, |s| s.seconds),
        med(Receiver::Bird, |s| s.seconds),
        med(Receiver::Hostroute, |s| s.peak_per_route),
        med(Receiver::Bird, |s| s.peak_per_route),
    ) {
        // Per repetition: same run, neighbouring in time.
        let per_rep: Vec<String> = samples
            .iter()
            .filter(|s| s.receiver == Receiver::Hostroute)
            .filter_map(|h| {
                let b = samples
                    .iter()
                    .find(|b| b.receiver == Receiver::Bird && b.rep == h.rep)?;
                Some(format!("{:.2}", h.seconds / b.seconds))
            })
            .collect();
        println!();
        println!(
            "ratio hostroute/BIRD: time {:.2} (BIRD takes {:.2}x as long; target >= 2), per repetition [{}]; peak memory per route {:.2} (target <= 1)",
            ht / bt,
            bt / ht,
            per_rep.join(", "),
            hm / bm
        );
    }
}

fn run_one(lab: &Lab, setup: &Setup, receiver: Receiver, rep: u32) -> Result<Sample> {
    // Namespaces first, so they are dropped after the processes in them.
    let feed_ns = Netns::new(lab, "feed")?;
    let recv_ns = Netns::new(lab, "recv")?;
    let link = veth(&feed_ns, "f0", &recv_ns, "r0")?;
    link.a.add_addr(format!("{FEED_ADDR}/30").parse()?)?;
    link.b.add_addr(format!("{RECV_ADDR}/30").parse()?)?;
    let go = lab.dir().join("go");
    match receiver {
        Receiver::Hostroute => run_hostroute(lab, setup, &feed_ns, &recv_ns, &go, rep),
        Receiver::Bird => run_bird(setup, &feed_ns, &recv_ns, &go, rep),
    }
}

fn start_feeder(setup: &Setup, ns: &Netns, go: &Path) -> Result<Child> {
    let routes = setup.routes.to_string();
    let connect = format!("{RECV_ADDR}:179");
    let feeder = setup.feeder.to_string_lossy().into_owned();
    let go = go.to_string_lossy().into_owned();
    let las = FEED_AS.to_string();
    let mut args = vec![
        "--connect",
        &connect,
        "--local-as",
        &las,
        "--router-id",
        FEED_ADDR,
        "--routes",
        &routes,
        "--go-file",
        &go,
    ];
    if setup.shuffle {
        args.push("--shuffle");
    }
    let mut child = ns.spawn("hr-feeder", &feeder, &args)?;
    wait_until(
        "feeder session and UPDATEs prepared",
        Duration::from_secs(60),
        Duration::from_millis(10),
        || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            Ok(child.log().contains("\"prepared\""))
        },
    )?;
    Ok(child)
}

/// The feeder's `first_update` timestamp, once it has printed it.
fn first_update_ns(feeder: &mut Child) -> Result<u64> {
    let mut found = None;
    wait_until(
        "feeder first_update line",
        Duration::from_secs(30),
        Duration::from_millis(5),
        || {
            found = feeder.log().lines().find_map(|l| {
                let v: Value = serde_json::from_str(l).ok()?;
                (v["event"] == "first_update").then(|| v["mono_ns"].as_u64())?
            });
            if found.is_none()
                && let Some(e) = feeder.exited_error()
            {
                return Err(e);
            }
            Ok(found.is_some())
        },
    )?;
    found.context("first_update")
}

/// One request to hr-speakerd's control socket.
fn request(sock: &Path, req: &Value) -> Result<Value> {
    let mut s =
        UnixStream::connect(sock).with_context(|| format!("connecting to {}", sock.display()))?;
    s.write_all(format!("{req}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line)?;
    let v: Value = serde_json::from_str(&line).with_context(|| format!("reply {line:?}"))?;
    if let Some(e) = v.get("error") {
        bail!("hr-speakerd: {e}");
    }
    Ok(v["ok"].clone())
}

fn run_hostroute(
    lab: &Lab,
    setup: &Setup,
    feed_ns: &Netns,
    recv_ns: &Netns,
    go: &Path,
    rep: u32,
) -> Result<Sample> {
    let dir = lab.subdir("speakerd")?;
    let config = dir.join("speaker.json");
    let sock = dir.join("ctl.sock");
    let cfg = json!({
        "router_id": RECV_ADDR,
        "asn": RECV_AS,
        "listen": [format!("{RECV_ADDR}:179")],
        "neighbors": [{
            "address": FEED_ADDR,
            "remote_as": FEED_AS,
            "passive": true,
            "hold_time": 90,
            "policy": {"import": {"pools": [POOL]}}
        }]
    });
    std::fs::write(&config, serde_json::to_vec_pretty(&cfg)?)?;
    let bin = setup.speakerd.to_string_lossy().into_owned();
    let mut daemon = recv_ns.spawn(
        "hr-speakerd",
        &bin,
        &[&config.to_string_lossy(), &sock.to_string_lossy()],
    )?;
    wait_until(
        "hr-speakerd control socket",
        Duration::from_secs(15),
        Duration::from_millis(10),
        || {
            if let Some(e) = daemon.exited_error() {
                return Err(e);
            }
            Ok(request(&sock, &json!({"cmd": "summary"})).is_ok())
        },
    )?;
    let mut feeder = start_feeder(setup, feed_ns, go)?;
    let pid = daemon.pid();
    let rss0 = bench::proc_status_kb(pid, "VmRSS")?;
    let cpu0 = bench::cpu_seconds(pid)?;
    let routes = setup.routes;
    let timeout_ms = setup.timeout.as_millis();
    let poll_us = setup.poll.as_micros();
    let waiter = {
        let sock = sock.clone();
        std::thread::spawn(move || -> Result<(Value, u64)> {
            let v = request(
                &sock,
                &json!({"cmd": "wait_prefixes", "count": routes, "timeout_ms": timeout_ms, "poll_us": poll_us}),
            )?;
            Ok((v, mono_ns()))
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    std::fs::write(go, b"go")?;
    let (waited, end_ns) = waiter
        .join()
        .map_err(|_| anyhow::anyhow!("waiter panicked"))??;
    let first_ns = first_update_ns(&mut feeder)?;
    let hwm = bench::proc_status_kb(pid, "VmHWM")?;
    let cpu = bench::cpu_seconds(pid)? - cpu0;
    let summary = request(&sock, &json!({"cmd": "summary"}))?;
    let prefixes = summary["prefixes"].as_u64().unwrap_or(0);
    if prefixes != u64::from(routes) {
        bail!("hostroute holds {prefixes} prefixes, expected {routes}");
    }
    let mem = &summary["memory"];
    let own =
        mem["table_bytes"].as_u64().unwrap_or(0) + mem["attribute_bytes"].as_u64().unwrap_or(0);
    let polls = waited["polls"].as_u64().unwrap_or(1).max(1);
    let waited_ms = waited["waited_ms"].as_f64().unwrap_or(0.0);
    Ok(Sample {
        receiver: Receiver::Hostroute,
        rep,
        seconds: end_ns.saturating_sub(first_ns) as f64 / 1e9,
        cpu_seconds: cpu,
        peak_per_route: hwm.saturating_sub(rss0) as f64 / f64::from(routes),
        own_per_route: own as f64 / f64::from(routes),
        own_note: "RIB table + attributes".into(),
        poll_ms: waited_ms / polls as f64,
    })
}

fn run_bird(
    setup: &Setup,
    feed_ns: &Netns,
    recv_ns: &Netns,
    go: &Path,
    rep: u32,
) -> Result<Sample> {
    let feed: IpAddr = FEED_ADDR.parse()?;
    let pool: IpNet = POOL.parse()?;
    let config = PeerConfig::new(RECV_ADDR.parse()?, RECV_AS)
        .neighbor(
            Neighbor::new(feed, FEED_AS)
                .passive()
                .timers(90, 30)
                .families(&[Family::Ipv4Unicast]),
        )
        .import(pool);
    let mut bird = Bird::start(recv_ns, config)?;
    let mut feeder = start_feeder(setup, feed_ns, go)?;
    let protocol = bird.protocol_name(feed)?.to_string();
    let mut cli = bird.cli()?;
    let pid = bird.child().pid();
    let rss0 = bench::proc_status_kb(pid, "VmRSS")?;
    let cpu0 = bench::cpu_seconds(pid)?;
    std::fs::write(go, b"go")?;
    let start = Instant::now();
    let mut polls = 0u64;
    let end_ns = loop {
        let n = cli.imported(&protocol)?;
        polls += 1;
        if n >= u64::from(setup.routes) {
            break mono_ns();
        }
        if start.elapsed() > setup.timeout {
            bail!(
                "BIRD imported only {n} of {} routes in {:?}",
                setup.routes,
                setup.timeout
            );
        }
        std::thread::sleep(setup.poll);
    };
    let waited = start.elapsed();
    let first_ns = first_update_ns(&mut feeder)?;
    let hwm = bench::proc_status_kb(pid, "VmHWM")?;
    let cpu = bench::cpu_seconds(pid)? - cpu0;
    let count = cli.command(&format!("show route protocol {protocol} count"))?;
    if !count.contains(&format!("{} of ", setup.routes)) {
        bail!(
            "BIRD's table does not hold {} routes: {}",
            setup.routes,
            count.trim()
        );
    }
    let memory = cli.command("show memory")?;
    let tables = memory_line(&memory, "Routing tables:");
    let attrs = memory_line(&memory, "Route attributes:");
    Ok(Sample {
        receiver: Receiver::Bird,
        rep,
        seconds: end_ns.saturating_sub(first_ns) as f64 / 1e9,
        cpu_seconds: cpu,
        peak_per_route: hwm.saturating_sub(rss0) as f64 / f64::from(setup.routes),
        own_per_route: (tables + attrs) as f64 / f64::from(setup.routes),
        own_note: "show memory: tables + attributes".into(),
        poll_ms: waited.as_secs_f64() * 1000.0 / polls as f64,
    })
}

/// The first size on a `show memory` line (`Routing tables:  85 MB ...`),
/// in bytes; 0 if absent.
fn memory_line(text: &str, label: &str) -> u64 {
    let Some(rest) = text.lines().find_map(|l| l.trim().strip_prefix(label)) else {
        return 0;
    };
    let mut words = rest.split_whitespace();
    let (Some(num), Some(unit)) = (words.next(), words.next()) else {
        return 0;
    };
    let n: f64 = num.parse().unwrap_or(0.0);
    let scale = match unit {
        "B" => 1.0,
        "kB" => 1024.0,
        "MB" => 1024.0 * 1024.0,
        "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => 0.0,
    };
    (n * scale) as u64
}
