//! Memory per host route in the `hostroute` daemon, all included: one
//! daemon receives N /32 routes from a feeder and installs them in its
//! kernel FIB; its resident set grows by so much per route. BIRD 2
//! receiving the same feed and exporting it to its kernel table is
//! measured in the same run, the same way.
//!
//! ```text
//!   netns feed (203.0.113.101, AS 65001)          netns dut (203.0.113.102, AS 65002)
//!   hr-feeder --- veth f0 <-> r0 --- eBGP --->  hostroute daemon | bird (protocol kernel)
//!                                                   |  N routes in the RIB, N in the kernel FIB
//!                                                   v
//!              (VmRSS after - VmRSS before the feed) / N, and the same with VmHWM
//! ```
//!
//! `cargo run --release -p hostroute-lab --bin bench-agent-memory -- --routes 100000`
//!
//! Options: `--routes N` (100000), `--only hostroute|bird`, `--timeout-s S`
//! (600), `--settle-ms M` (1000: pause once everything is installed, before
//! memory is read), `--no-build`.
//!
//! "Before the feed": the session is established and the feeder's UPDATEs
//! are encoded, nothing is sent yet. "Installed": the daemon's RIB holds N
//! prefixes (`show status`, or BIRD's `N imported`) and the namespace's
//! kernel table holds N routes of the daemon's protocol (200 for hostroute,
//! 12, `bird`, for BIRD), counted with `ip route show`. Only `show status` is
//! asked of hostroute during the run, so no large answer inflates its
//! memory. Memory is read from `/proc/<pid>/status`: VmRSS (what stays)
//! and VmHWM (the peak, which includes the transient buffers of the feed).
//! The kernel's own memory for the routes is in neither.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use lab::bench::{self, Args};
use lab::daemon::{Daemon, DaemonConfig, Launch, PeerSpec};
use lab::peers::{Bird, Family, Neighbor, PeerConfig};
use lab::{Child, Lab, Netns, veth, wait_until};

const FEED_ADDR: &str = "203.0.113.101";
const RECV_ADDR: &str = "203.0.113.102";
const FEED_AS: u32 = 65001;
const RECV_AS: u32 = 65002;
/// Where the feeder's routes are (it starts at 100.64.0.0).
const POOL: &str = "100.64.0.0/10";
const POLL: Duration = Duration::from_millis(200);

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
    timeout: Duration,
    settle: Duration,
    feeder: PathBuf,
}

/// One receiver's figures.
struct Sample {
    rss0: u64,
    rss: u64,
    hwm: u64,
    rib_s: f64,
    fib_s: f64,
}

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["routes", "only", "timeout-s", "settle-ms"],
        &["no-build"],
    )?;
    let bins = bench::release_binaries(
        &[
            ("hostroute-lab", "hr-feeder"),
            ("hostroute-agent", "hostroute"),
        ],
        !args.flag("no-build"),
    )?;
    let setup = Setup {
        routes: args.get("routes", 100_000)?,
        timeout: Duration::from_secs(args.get("timeout-s", 600)?),
        settle: Duration::from_millis(args.get("settle-ms", 1000)?),
        feeder: bins.first().context("hr-feeder")?.clone(),
    };
    let receivers = match args.opt::<String>("only")?.as_deref() {
        None => vec![Receiver::Hostroute, Receiver::Bird],
        Some("hostroute") => vec![Receiver::Hostroute],
        Some("bird") => vec![Receiver::Bird],
        Some(other) => bail!("--only {other}: hostroute or bird"),
    };
    println!(
        "# bench-agent-memory: {} /32 routes from one eBGP feeder into the RIB and the kernel FIB",
        setup.routes
    );
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-agent-memory -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    for line in bench::machine() {
        println!("# {line}");
    }
    println!();
    println!(
        "| receiver | routes | RSS before MiB | RSS after MiB | VmHWM MiB | RSS bytes/route | VmHWM bytes/route | s to RIB | s to FIB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for receiver in receivers {
        let label = format!("agmem-{}", receiver.name());
        let s = Lab::run(&label, |lab| run_one(lab, &setup, receiver))
            .with_context(|| receiver.name())?;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let per = |b: u64| b.saturating_sub(s.rss0) as f64 / f64::from(setup.routes);
        println!(
            "| {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.2} | {:.2} |",
            receiver.name(),
            setup.routes,
            mib(s.rss0),
            mib(s.rss),
            mib(s.hwm),
            per(s.rss),
            per(s.hwm),
            s.rib_s,
            s.fib_s
        );
    }
    println!();
    println!("target: hostroute at most 150 bytes per route (RSS after - RSS before, over N)");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "load average at the end: {}",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}

fn run_one(lab: &Lab, setup: &Setup, receiver: Receiver) -> Result<Sample> {
    // Namespaces first, so they are dropped after the processes in them.
    let feed_ns = Netns::new(lab, "feed")?;
    let dut_ns = Netns::new(lab, "dut")?;
    let link = veth(&feed_ns, "f0", &dut_ns, "r0")?;
    link.a.add_addr(format!("{FEED_ADDR}/30").parse()?)?;
    link.b.add_addr(format!("{RECV_ADDR}/30").parse()?)?;
    let go = lab.dir().join("go");
    match receiver {
        Receiver::Hostroute => run_hostroute(setup, &feed_ns, &dut_ns, &go),
        Receiver::Bird => run_bird(setup, &feed_ns, &dut_ns, &go),
    }
}

fn start_feeder(setup: &Setup, ns: &Netns, go: &Path) -> Result<Child> {
    let routes = setup.routes.to_string();
    let connect = format!("{RECV_ADDR}:179");
    let feeder = setup.feeder.to_string_lossy().into_owned();
    let go = go.to_string_lossy().into_owned();
    let local_as = FEED_AS.to_string();
    let args = [
        "--connect",
        &connect,
        "--local-as",
        &local_as,
        "--router-id",
        FEED_ADDR,
        "--routes",
        &routes,
        "--go-file",
        &go,
    ];
    let mut child = ns.spawn("hr-feeder", &feeder, &args)?;
    wait_until(
        "feeder session and UPDATEs prepared",
        Duration::from_secs(120),
        Duration::from_millis(20),
        || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            Ok(child.log().contains("\"prepared\""))
        },
    )?;
    Ok(child)
}

/// Routes of `protocol` in the namespace's main table.
fn kernel_count(ns: &Netns, protocol: &str) -> Result<u64> {
    let out = ns.ip(&["-4", "route", "show", "proto", protocol])?;
    Ok(out.lines().filter(|l| !l.trim().is_empty()).count() as u64)
}

/// Polls `count` until it reaches the feed's size; seconds since `start`.
fn wait_count(
    what: &str,
    setup: &Setup,
    start: Instant,
    mut count: impl FnMut() -> Result<u64>,
) -> Result<f64> {
    let mut last = 0;
    loop {
        last = count().unwrap_or(last);
        if last >= u64::from(setup.routes) {
            return Ok(start.elapsed().as_secs_f64());
        }
        if start.elapsed() > setup.timeout {
            bail!(
                "{what}: {last} of {} after {:?}",
                setup.routes,
                setup.timeout
            );
        }
        std::thread::sleep(POLL);
    }
}

fn run_hostroute(setup: &Setup, feed_ns: &Netns, dut_ns: &Netns, go: &Path) -> Result<Sample> {
    let mut config = DaemonConfig::new(RECV_ADDR.parse()?, RECV_AS);
    config.pools.push(POOL.into());
    let mut peer = PeerSpec::new(FEED_ADDR.parse()?, FEED_AS);
    // The feeder connects; long timers so a busy machine does not drop the
    // session in the middle of the feed.
    peer.passive = true;
    peer.hold_time = 90;
    peer.keepalive = 30;
    config.peers.push(peer);
    let launch = Launch {
        log: "info".into(),
        nice: None,
    };
    let daemon = Daemon::start_with(dut_ns, &config, &launch)?;
    let pid = daemon.pid().context("the daemon has no pid")?;
    let _feeder = start_feeder(setup, feed_ns, go)?;
    let rss0 = bench::proc_status_kb(pid, "VmRSS")?;
    let start = Instant::now();
    std::fs::write(go, b"go")?;
    let rib_s = wait_count("hostroute's RIB", setup, start, || {
        let status = daemon.show(&["status"])?;
        Ok(status["routes"].as_u64().unwrap_or(0))
    })?;
    let fib_s = wait_count("hostroute's kernel routes", setup, start, || {
        kernel_count(dut_ns, "200")
    })?;
    std::thread::sleep(setup.settle);
    let rss = bench::proc_status_kb(pid, "VmRSS")?;
    let hwm = bench::proc_status_kb(pid, "VmHWM")?;
    Ok(Sample {
        rss0,
        rss,
        hwm,
        rib_s,
        fib_s,
    })
}

fn run_bird(setup: &Setup, feed_ns: &Netns, dut_ns: &Netns, go: &Path) -> Result<Sample> {
    let pool: IpNet = POOL.parse()?;
    let config = PeerConfig::new(RECV_ADDR.parse()?, RECV_AS)
        .neighbor(
            Neighbor::new(FEED_ADDR.parse()?, FEED_AS)
                .passive()
                .timers(90, 30)
                .families(&[Family::Ipv4Unicast]),
        )
        .import(pool)
        .kernel();
    let mut bird = Bird::start(dut_ns, config)?;
    let _feeder = start_feeder(setup, feed_ns, go)?;
    let protocol = bird.protocol_name(FEED_ADDR.parse()?)?.to_string();
    let mut cli = bird.cli()?;
    let pid = bird.child().pid();
    let rss0 = bench::proc_status_kb(pid, "VmRSS")?;
    let start = Instant::now();
    std::fs::write(go, b"go")?;
    let rib_s = wait_count(
        "BIRD's table",
        setup,
        start,
        || Ok(cli.imported(&protocol)?),
    )?;
    let fib_s = wait_count("BIRD's kernel routes", setup, start, || {
        kernel_count(dut_ns, "12")
    })?;
    std::thread::sleep(setup.settle);
    let rss = bench::proc_status_kb(pid, "VmRSS")?;
    let hwm = bench::proc_status_kb(pid, "VmHWM")?;
    Ok(Sample {
        rss0,
        rss,
        hwm,
        rib_s,
        fib_s,
    })
}
