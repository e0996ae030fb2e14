//! BFD soak: no false Down while the same process loads routes. hostroute
//! (`hr-speakerd`) and BIRD each run N BFD sessions at the interval x 3 to
//! a peer while a feeder reloads 100,000 /32 routes into their BGP without
//! pause (withdraw all, announce all, again), for `--seconds`.
//!
//! ```text
//!  ns feed: hr-feeder x 2 (--repeat)        ns peer: bench-bfd-soak --peer (BfdHandle,
//!    fh 198.19.0.1 ---- hf 198.19.0.2         2N sessions, no damping, prints every
//!    fb 198.19.1.1 ---- bf 198.19.1.2         liveness change, snapshots every 5 s)
//!                 |                |                     ph             pb
//!           BGP   v          BGP   v                      |              |
//!  ns hr: hr-speakerd (SUT) hp 198.18.0.k/22 ------- 198.18.1.k/22      |
//!  ns bird: bird (SUT)      bp 198.18.4.k/22 ---------------------- 198.18.5.k/22
//! ```
//!
//! hostroute's BFD sessions belong to N passive BGP neighbours that never
//! connect (BFD runs all the same), so its speaker process holds the RIB
//! under load and the N sessions. BIRD runs `protocol bfd` with N static
//! neighbours next to `protocol bgp` from its feeder. The peer is our own
//! BFD driver in its own process, which sees both systems' transmissions.
//!
//! Once every session is Up on every side and both feeders have reloaded
//! once, the window starts. Every transition out of Up during it is a false
//! Down (nothing failed): counted on the system (hostroute's
//! `counters.down_transitions`, BIRD's log) and on the peer (its counters),
//! each listed with its time and diagnostic. Gaps between packets received
//! while Up come from the sessions' `counters.rx_gaps` (1 ms buckets, from
//! each session's Up, so a few seconds before the window too).
//!
//! `cargo build --release -p hostroute-tests --bin hr-speakerd && cargo build --release -p hostroute-lab --bin hr-feeder && cargo run --release -p hostroute-lab --bin bench-bfd-soak -- --seconds 600`

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use ipnet::IpNet;
use lab::bench::{self as lb, Args};
use lab::bfd_bench::{self as bench, BfdSide, cpu_time};
use lab::{Child, Lab, Netns, wait_until};
use serde_json::{Value, json};
use speaker::bfd::{BfdHandle, Damping, DriverConfig, Hop, SessionConfig, Timers};

const REPORT_EVERY: Duration = Duration::from_secs(5);
/// Transitions out of Up listed per system in the report; the logs have all.
const EVENTS_SHOWN: usize = 20;
const SUT_AS: u32 = 65000;
const FEED_AS: u32 = 65001;

/// The systems under test, and where their BFD sessions sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sut {
    Hostroute,
    Bird,
}

impl Sut {
    fn name(self) -> &'static str {
        match self {
            Sut::Hostroute => "hostroute",
            Sut::Bird => "bird",
        }
    }

    fn octet(self) -> u8 {
        match self {
            Sut::Hostroute => 0,
            Sut::Bird => 4,
        }
    }

    /// The system's address of session k.
    fn sut(self, k: u16) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, self.octet(), k as u8))
    }

    /// The peer's address of session k.
    fn peer(self, k: u16) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(198, 18, self.octet() + 1, k as u8))
    }

    /// Interface names: on the system's side, on the peer's side.
    fn ifnames(self) -> (&'static str, &'static str) {
        match self {
            Sut::Hostroute => ("hp", "ph"),
            Sut::Bird => ("bp", "pb"),
        }
    }

    fn of_peer_address(address: IpAddr) -> Option<Sut> {
        [Sut::Hostroute, Sut::Bird]
            .into_iter()
            .find(|s| matches!(address, IpAddr::V4(v4) if v4.octets()[2] == s.octet()))
    }

    /// (feeder, system) addresses of the BGP link.
    fn feed_link(self) -> (Ipv4Addr, Ipv4Addr) {
        let third = match self {
            Sut::Hostroute => 0,
            Sut::Bird => 1,
        };
        (
            Ipv4Addr::new(198, 19, third, 1),
            Ipv4Addr::new(198, 19, third, 2),
        )
    }
}

struct Settings {
    seconds: u64,
    sessions: u16,
    interval_ms: u32,
    routes: u32,
    bird: bool,
}

fn settings() -> Result<Settings> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["seconds", "sessions", "interval-ms", "routes"],
        &["no-bird"],
    )?;
    let s = Settings {
        seconds: args.get("seconds", 600)?,
        sessions: args.get("sessions", 100)?,
        interval_ms: args.get("interval-ms", 10)?,
        routes: args.get("routes", 100_000)?,
        bird: !args.flag("no-bird"),
    };
    ensure!((1..=250).contains(&s.sessions), "--sessions: 1 to 250");
    Ok(s)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The peer side, inside its namespace: 2N sessions (N per system), every
/// liveness change on stdout, a snapshot of every session in `snapshot`
/// every [`REPORT_EVERY`]. Runs until killed.
fn peer(n: u16, interval_ms: u32, suts: &[Sut], snapshot: &Path) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let bfd = BfdHandle::spawn(DriverConfig {
            damping: Damping::DISABLED,
            multihop: false,
            ipv6: false,
            ..DriverConfig::default()
        })?;
        for &sut in suts {
            for k in 1..=n {
                let mut watch = bfd
                    .add_session(SessionConfig {
                        peer: sut.sut(k),
                        local: Some(sut.peer(k)),
                        interface: Some(sut.ifnames().1.into()),
                        hop: Hop::SingleHop,
                        timers: Timers::symmetric(Duration::from_millis(interval_ms.into()), 3),
                        auth: None,
                    })
                    .await?;
                tokio::spawn(async move {
                    loop {
                        let liveness = *watch.borrow_and_update();
                        println!(
                            "{}",
                            json!({"event": "liveness", "system": sut.name(), "k": k,
                                "liveness": liveness, "unix_ms": unix_ms()})
                        );
                        if watch.changed().await.is_err() {
                            return;
                        }
                    }
                });
            }
        }
        let tmp = snapshot.with_extension("tmp");
        loop {
            tokio::time::sleep(REPORT_EVERY).await;
            let mut by_system = serde_json::Map::new();
            for s in bfd.snapshot().await? {
                let Some(sut) = Sut::of_peer_address(s.key.peer()) else {
                    continue;
                };
                let list = by_system
                    .entry(sut.name())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(list) = list {
                    list.push(serde_json::to_value(&s)?);
                }
            }
            by_system.insert("unix_ms".into(), json!(unix_ms()));
            std::fs::write(&tmp, Value::Object(by_system).to_string())?;
            std::fs::rename(&tmp, snapshot)?;
        }
    })
}

fn hr_config(s: &Settings) -> Value {
    let (feeder, own) = Sut::Hostroute.feed_link();
    let mut neighbors = vec![json!({
        "address": feeder.to_string(), "remote_as": FEED_AS, "passive": true, "hold_time": 90,
        "policy": {"import": {"pools": ["100.64.0.0/10"]}}
    })];
    for k in 1..=s.sessions {
        neighbors.push(json!({
            "address": Sut::Hostroute.peer(k).to_string(), "remote_as": 65002, "passive": true,
            "local_address": Sut::Hostroute.sut(k).to_string(), "interface": "hp",
            "bfd": {"interval_ms": s.interval_ms, "multiplier": 3}
        }));
    }
    json!({"router_id": own.to_string(), "asn": SUT_AS,
        "listen": [format!("{own}:179")], "neighbors": neighbors})
}

fn bird_config(s: &Settings) -> String {
    let (feeder, own) = Sut::Bird.feed_link();
    let mut c = String::new();
    let _ = writeln!(
        c,
        "router id {own};\nlog stderr all;\ntimeformat log iso long ms;"
    );
    let _ = writeln!(c, "protocol device {{ scan time 10; }}");
    let _ = writeln!(c, "protocol bfd {{\n  debug {{ states, events }};");
    let _ = writeln!(
        c,
        "  interface \"bp\" {{ min rx interval {i} ms; min tx interval {i} ms; multiplier 3; }};",
        i = s.interval_ms
    );
    for k in 1..=s.sessions {
        let (ours, theirs) = (Sut::Bird.sut(k), Sut::Bird.peer(k));
        let _ = writeln!(c, "  neighbor {theirs} dev \"bp\" local {ours};");
    }
    let _ = writeln!(c, "}}");
    let _ = writeln!(
        c,
        "protocol bgp feed {{\n  local {own} as {SUT_AS};\n  neighbor {feeder} as {FEED_AS};\n  passive on;\n  ipv4 {{ import all; export none; }};\n}}"
    );
    c
}

/// BIRD's sessions Up, from `birdc show bfd sessions`.
fn bird_up(ctl: &Path) -> Result<usize> {
    let out = Command::new("birdc")
        .arg("-s")
        .arg(ctl)
        .args(["show", "bfd", "sessions"])
        .output()?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.split_whitespace().nth(2) == Some("Up"))
        .count())
}

/// The part of a log between two byte offsets.
fn log_between(child: &Child, from: usize, to: usize) -> String {
    let log = child.log();
    log.get(from..to.min(log.len()))
        .unwrap_or_default()
        .to_string()
}

/// The last `reload` line of a feeder's log: (total routes sent, mono_ns).
fn feeder_total(log: &str) -> Option<(u64, u64)> {
    log.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["event"] == "reload")
        .and_then(|v| Some((v["total"].as_u64()?, v["mono_ns"].as_u64()?)))
}

/// Every session Up on the peer, per its last liveness line per session.
fn peer_all_up(log: &str, expected: usize) -> bool {
    let mut last = std::collections::HashMap::new();
    for v in log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
    {
        if v["event"] == "liveness" {
            let key = (v["system"].to_string(), v["k"].as_u64());
            last.insert(key, v["liveness"]["state"] == "up");
        }
    }
    last.len() == expected && last.values().all(|up| *up)
}

fn read_snapshot(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

/// Everything measured over the window, for one system.
struct Outcome {
    sut: Sut,
    /// Transitions out of Up on the system (None: not counted there).
    system_downs: Option<u64>,
    peer_downs: u64,
    /// Gaps the system saw (hostroute only) and the peer saw of it.
    system_gaps: Option<BfdSide>,
    peer_gaps: BfdSide,
    up_at_end: usize,
    cpu_core_pct: f64,
    routes_per_s: f64,
    events: Vec<String>,
}

fn gap_cells(side: Option<&BfdSide>) -> String {
    let Some(side) = side else {
        return "n/a | n/a | n/a | n/a | n/a".into();
    };
    let q = |p: f64| side.gap_quantile(p).map_or("-".into(), bench::ms);
    format!(
        "{} | {} | {} | {} | {}",
        q(0.5),
        q(0.99),
        q(0.999),
        bench::ms(Duration::from_micros(side.gap_max_us)),
        side.gaps_at_least(30)
    )
}

fn main() -> Result<()> {
    let mut raw = std::env::args().skip(1).peekable();
    if raw.peek().map(String::as_str) == Some("--peer") {
        let v: Vec<String> = raw.skip(1).collect();
        let [n, interval, suts, snapshot] = v.as_slice() else {
            bail!("--peer N INTERVAL_MS hostroute[,bird] SNAPSHOT_PATH");
        };
        let suts: Vec<Sut> = suts
            .split(',')
            .map(|s| match s {
                "hostroute" => Ok(Sut::Hostroute),
                "bird" => Ok(Sut::Bird),
                other => Err(anyhow::anyhow!("unknown system {other}")),
            })
            .collect::<Result<_>>()?;
        return peer(n.parse()?, interval.parse()?, &suts, Path::new(snapshot));
    }
    let s = settings()?;
    let bins = lb::release_binaries(
        &[
            ("hostroute-tests", "hr-speakerd"),
            ("hostroute-lab", "hr-feeder"),
        ],
        false,
    )?;
    println!(
        "# bench-bfd-soak: {} BFD sessions at {} ms x 3 per system while {} routes reload, {} s",
        s.sessions, s.interval_ms, s.routes, s.seconds
    );
    println!("# machine at start: {}", bench::machine());
    let report = Lab::run("bfd-soak", |lab| soak(lab, &s, &bins))?;
    print_report(&s, &report);
    Ok(())
}

struct Report {
    outcomes: Vec<Outcome>,
    load: Vec<f64>,
    load_end: String,
    window: Duration,
    /// Machine-wide softirq and steal time over the window, and the most
    /// steal in one 5 s sample.
    softirq_ms: u64,
    steal_ms: u64,
    worst_steal_ms: u64,
}

fn print_report(s: &Settings, r: &Report) {
    let loads = &r.load;
    let mean = loads.iter().sum::<f64>() / loads.len().max(1) as f64;
    let min = loads.iter().copied().fold(f64::INFINITY, f64::min);
    let max = loads.iter().copied().fold(0.0, f64::max);
    println!();
    println!(
        "window {:.0} s; 1-minute load average every 5 s: min {min:.2}, mean {mean:.2}, max {max:.2}; at the end {}",
        r.window.as_secs_f64(),
        r.load_end
    );
    println!(
        "machine-wide over the window (2 CPUs): softirq {:.1} s, hypervisor steal {:.2} s (at most {} ms in one 5 s sample)",
        r.softirq_ms as f64 / 1000.0,
        r.steal_ms as f64 / 1000.0,
        r.worst_steal_ms
    );
    println!();
    println!(
        "| system | sessions Up at end | Downs on the system | Downs on the peer | routes/s loaded | CPU (% of one core) |"
    );
    println!("|---|---|---|---|---|---|");
    for o in &r.outcomes {
        println!(
            "| {} | {}/{} | {} | {} | {:.0} | {:.1} |",
            o.sut.name(),
            o.up_at_end,
            s.sessions,
            o.system_downs.map_or("n/a".into(), |d| d.to_string()),
            o.peer_downs,
            o.routes_per_s,
            o.cpu_core_pct
        );
    }
    println!();
    println!("| gaps between received packets (ms) | p50 | p99 | p99.9 | max | gaps >= 30 ms |");
    println!("|---|---|---|---|---|---|");
    for o in &r.outcomes {
        println!(
            "| peer -> {} (seen by {}) | {} |",
            o.sut.name(),
            o.sut.name(),
            gap_cells(o.system_gaps.as_ref())
        );
        println!(
            "| {} -> peer (seen by the peer) | {} |",
            o.sut.name(),
            gap_cells(Some(&o.peer_gaps))
        );
    }
    for o in &r.outcomes {
        for e in o.events.iter().take(EVENTS_SHOWN) {
            println!("# {}: {e}", o.sut.name());
        }
        if o.events.len() > EVENTS_SHOWN {
            println!(
                "# {}: ... and {} more transitions out of Up (logs)",
                o.sut.name(),
                o.events.len() - EVENTS_SHOWN
            );
        }
    }
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-bfd-soak -- --seconds {} --sessions {} --interval-ms {} --routes {}{}",
        s.seconds,
        s.sessions,
        s.interval_ms,
        s.routes,
        if s.bird { "" } else { " --no-bird" }
    );
}

fn net(address: IpAddr, len: u8) -> Result<IpNet> {
    Ok(IpNet::new(address, len)?)
}

/// A system's daemon, its feeder and where they log.
struct Running {
    sut: Sut,
    daemon: Child,
    feeder: Child,
    bird_ctl: Option<PathBuf>,
}

fn start_feeder(
    lab: &Lab,
    feed_ns: &Netns,
    feeder: &Path,
    sut: Sut,
    s: &Settings,
) -> Result<Child> {
    let (from, to) = sut.feed_link();
    let mut cmd = feed_ns.command(&feeder.to_string_lossy());
    cmd.args(["--connect", &format!("{to}:179")])
        .args(["--local-as", &FEED_AS.to_string()])
        .args(["--router-id", &from.to_string()])
        .args(["--next-hop", &from.to_string()])
        .args(["--routes", &s.routes.to_string()])
        .args(["--shuffle", "--repeat"]);
    Ok(Child::spawn(lab, &format!("feeder-{}", sut.name()), cmd)?)
}

fn soak(lab: &Lab, s: &Settings, bins: &[PathBuf]) -> Result<Report> {
    let [speakerd, feeder] = bins else {
        bail!("hr-speakerd and hr-feeder expected");
    };
    let suts: Vec<Sut> = if s.bird {
        vec![Sut::Hostroute, Sut::Bird]
    } else {
        vec![Sut::Hostroute]
    };
    let peer_ns = Netns::new(lab, "peer")?;
    let feed_ns = Netns::new(lab, "feed")?;
    let mut namespaces = Vec::new();
    for &sut in &suts {
        let ns = Netns::new(lab, sut.name())?;
        let (own_if, peer_if) = sut.ifnames();
        let link = lab::veth(&ns, own_if, &peer_ns, peer_if)?;
        for k in 1..=s.sessions {
            link.a.add_addr(net(sut.sut(k), 22)?)?;
            link.b.add_addr(net(sut.peer(k), 22)?)?;
        }
        let (from, to) = sut.feed_link();
        let names = match sut {
            Sut::Hostroute => ("fh", "hf"),
            Sut::Bird => ("fb", "bf"),
        };
        let feed = lab::veth(&feed_ns, names.0, &ns, names.1)?;
        feed.a.add_addr(net(from.into(), 24)?)?;
        feed.b.add_addr(net(to.into(), 24)?)?;
        namespaces.push(ns);
    }

    // The peer first: its sessions wait in Down for the systems.
    let snapshot = lab.dir().join("peer-snapshot.json");
    let exe = std::env::current_exe()?;
    let mut cmd = peer_ns.command(&exe.to_string_lossy());
    let names: Vec<&str> = suts.iter().map(|s| s.name()).collect();
    cmd.args([
        "--peer",
        &s.sessions.to_string(),
        &s.interval_ms.to_string(),
    ])
    .arg(names.join(","))
    .arg(&snapshot)
    .env("RUST_LOG", "warn");
    let mut peer_child = Child::spawn(lab, "peer", cmd)?;

    let mut running = Vec::new();
    let dir = lab.subdir("systems")?;
    let hr_socket = dir.join("hr.sock");
    for (&sut, ns) in suts.iter().zip(&namespaces) {
        let (daemon, bird_ctl) = match sut {
            Sut::Hostroute => {
                let conf = dir.join("hr.json");
                std::fs::write(&conf, serde_json::to_vec_pretty(&hr_config(s))?)?;
                let mut cmd = ns.command(&speakerd.to_string_lossy());
                cmd.arg(&conf)
                    .arg(&hr_socket)
                    .env("RUST_LOG", "warn,speaker::bfd=info")
                    .env("NO_COLOR", "1");
                (Child::spawn(lab, "hr-speakerd", cmd)?, None)
            }
            Sut::Bird => {
                let conf = dir.join("bird.conf");
                let ctl = dir.join("bird.ctl");
                std::fs::write(&conf, bird_config(s))?;
                let mut cmd = ns.command("bird");
                cmd.arg("-f").arg("-c").arg(&conf).arg("-s").arg(&ctl);
                (Child::spawn(lab, "bird", cmd)?, Some(ctl))
            }
        };
        let mut daemon = daemon;
        wait_until(
            "control socket",
            Duration::from_secs(15),
            Duration::from_millis(50),
            || {
                if let Some(e) = daemon.exited_error() {
                    return Err(e);
                }
                Ok(bird_ctl.as_ref().unwrap_or(&hr_socket).exists())
            },
        )?;
        let feeder = start_feeder(lab, &feed_ns, feeder, sut, s)?;
        running.push(Running {
            sut,
            daemon,
            feeder,
            bird_ctl,
        });
    }

    let hr_side = || -> Result<BfdSide> {
        let v = bench::request(&hr_socket, &json!({"cmd": "bfd"}), Duration::from_secs(10))?;
        Ok(BfdSide::of(&v)?)
    };
    let n = usize::from(s.sessions);
    wait_until(
        "every BFD session Up on every side and every feed reloading",
        Duration::from_secs(180),
        Duration::from_millis(500),
        || {
            for r in &mut running {
                for child in [&mut r.daemon, &mut r.feeder] {
                    if let Some(e) = child.exited_error() {
                        return Err(e);
                    }
                }
                let up = match &r.bird_ctl {
                    Some(ctl) => bird_up(ctl).map_err(|e| lab::Error::Config(e.to_string()))?,
                    None => hr_side().map_err(|e| lab::Error::Config(e.to_string()))?.up,
                };
                if up < n || feeder_total(&r.feeder.log()).is_none() {
                    return Ok(false);
                }
            }
            if let Some(e) = peer_child.exited_error() {
                return Err(e);
            }
            Ok(peer_all_up(&peer_child.log(), n * suts.len()) && snapshot.exists())
        },
    )?;

    // The window.
    let marks = |running: &[Running]| -> Vec<(usize, usize)> {
        running
            .iter()
            .map(|r| (r.daemon.log().len(), r.feeder.log().len()))
            .collect()
    };
    let start_marks = marks(&running);
    let peer_start = peer_child.log().len();
    let peer_snapshot0 = read_snapshot(&snapshot)?;
    let hr0 = hr_side()?;
    let cpu0: Vec<Duration> = running
        .iter()
        .map(|r| cpu_time(r.daemon.pid()))
        .collect::<Result<_, _>>()?;
    for r in &running {
        println!(
            "# {} threads: {}",
            r.sut.name(),
            bench::threads(r.daemon.pid())
        );
    }
    println!("# peer threads: {}", bench::threads(peer_child.pid()));
    let t0 = Instant::now();
    let start_ms = unix_ms();
    let stat0 = bench::cpu_stat();
    let mut last_stat = stat0;
    let mut worst_steal = 0;
    let mut load = Vec::new();
    while t0.elapsed() < Duration::from_secs(s.seconds) {
        std::thread::sleep(
            REPORT_EVERY.min(Duration::from_secs(s.seconds).saturating_sub(t0.elapsed())),
        );
        load.push(
            std::fs::read_to_string("/proc/loadavg")?
                .split_whitespace()
                .next()
                .and_then(|l| l.parse().ok())
                .unwrap_or(0.0),
        );
        let stat = bench::cpu_stat();
        worst_steal = worst_steal.max(stat.1 - last_stat.1);
        last_stat = stat;
        for r in &mut running {
            for child in [&mut r.daemon, &mut r.feeder] {
                if let Some(e) = child.exited_error() {
                    bail!("{} stopped during the soak: {e}", child.name());
                }
            }
        }
        if t0.elapsed().as_secs() % 60 < REPORT_EVERY.as_secs() {
            eprintln!(
                "soak: {} s of {}, load {}",
                t0.elapsed().as_secs(),
                s.seconds,
                bench::load_average()
            );
        }
    }
    let window = t0.elapsed();
    let stat1 = bench::cpu_stat();
    let end_marks = marks(&running);
    let peer_end = peer_child.log().len();
    let cpu1: Vec<Duration> = running
        .iter()
        .map(|r| cpu_time(r.daemon.pid()))
        .collect::<Result<_, _>>()?;
    let hr1 = hr_side()?;
    let load_end = bench::load_average();
    // A peer snapshot taken after the window closed.
    let end_ms = unix_ms();
    wait_until(
        "a peer snapshot after the window",
        REPORT_EVERY * 3,
        Duration::from_millis(200),
        || Ok(read_snapshot(&snapshot).is_ok_and(|v| v["unix_ms"].as_u64() >= Some(end_ms))),
    )?;
    let peer_snapshot1 = read_snapshot(&snapshot)?;
    let peer_events = log_between(&peer_child, peer_start, peer_end);

    let mut outcomes = Vec::new();
    for (i, r) in running.iter().enumerate() {
        let ((d0, f0), (d1, f1)) = (start_marks[i], end_marks[i]);
        let daemon_log = log_between(&r.daemon, d0, d1);
        let feeder_log = r.feeder.log();
        let rate = match (
            feeder_total(feeder_log.get(..f0).unwrap_or_default()),
            feeder_total(feeder_log.get(..f1).unwrap_or_default()),
        ) {
            (Some((a, ta)), Some((b, tb))) if tb > ta => (b - a) as f64 / ((tb - ta) as f64 / 1e9),
            _ => 0.0,
        };
        let peer0 = BfdSide::of(&peer_snapshot0[r.sut.name()])?;
        let peer1 = BfdSide::of(&peer_snapshot1[r.sut.name()])?;
        let mut events: Vec<String> = daemon_log
            .lines()
            .filter(|l| {
                (l.contains("BFD state change") && l.contains("from=Up"))
                    || l.contains("from Up to")
            })
            .map(|l| format!("system: {}", l.trim()))
            .collect();
        events.extend(
            peer_events
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|v| v["system"] == r.sut.name() && v["liveness"]["state"] != "up")
                .map(|v| {
                    format!(
                        "peer saw session {} leave Up at unix_ms {}: {}",
                        v["k"], v["unix_ms"], v["liveness"]
                    )
                }),
        );
        let (system_downs, system_gaps, up_at_end) = match (r.sut, &r.bird_ctl) {
            (Sut::Bird, Some(ctl)) => (
                Some(
                    daemon_log
                        .lines()
                        .filter(|l| l.contains("from Up to"))
                        .count() as u64,
                ),
                None,
                bird_up(ctl)?,
            ),
            _ => (
                Some(hr1.down_transitions - hr0.down_transitions),
                Some(hr1.clone()),
                hr1.up,
            ),
        };
        outcomes.push(Outcome {
            sut: r.sut,
            system_downs,
            peer_downs: peer1.down_transitions - peer0.down_transitions,
            system_gaps,
            peer_gaps: peer1,
            up_at_end,
            cpu_core_pct: (cpu1[i] - cpu0[i]).as_secs_f64() / window.as_secs_f64() * 100.0,
            routes_per_s: rate,
            events,
        });
    }
    // The logs outlive the lab: every transition is in them.
    let keep = std::env::temp_dir().join(format!("bfd-soak-{start_ms}"));
    std::fs::create_dir_all(&keep)?;
    let logs = running
        .iter()
        .flat_map(|r| [&r.daemon, &r.feeder])
        .chain([&peer_child]);
    for child in logs {
        if let Some(name) = child.log_path().file_name() {
            std::fs::copy(child.log_path(), keep.join(name))?;
        }
    }
    println!(
        "# window {start_ms}..{end_ms} unix ms; logs copied to {}",
        keep.display()
    );
    Ok(Report {
        outcomes,
        load,
        load_end,
        window,
        softirq_ms: stat1.0 - stat0.0,
        steal_ms: stat1.1 - stat0.1,
        worst_steal_ms: worst_steal,
    })
}
