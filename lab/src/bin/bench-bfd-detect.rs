//! BFD failure detection time: a BGP peer freezes, how long until its
//! route is gone from the receiver's RIB. Three receivers see the same
//! failure in the same run: hostroute (`hr-speakerd`), BIRD 2 and FRR.
//!
//! ```text
//!             ns hr (hr-speakerd)   198.18.1.1 --veth-- 198.18.1.2 \
//!   receivers ns rbird (BIRD)       198.18.2.1 --veth-- 198.18.2.2  ns peer: BIRD, AS 65002,
//!             ns rfrr (FRR)         198.18.3.1 --veth-- 198.18.3.2 /  announces 198.51.100.9/32
//!   every session: eBGP (hold 3 s) + single-hop BFD at the interval x 3
//! ```
//!
//! Per trial: wait (bounded) until each receiver has the route and its BFD
//! session is Up; start the three watchers; SIGSTOP the peer (by PID) at
//! t0; each watcher stamps the moment it sees the route gone, on this
//! process's monotonic clock; SIGCONT. Watchers:
//!
//! - hostroute: `{"cmd":"wait_gone"}` blocks on the speaker's route-change
//!   events and answers when the prefix has no best path (exact, no polling;
//!   the reply crosses one Unix socket).
//! - BIRD: `show route <prefix>` over one control-socket connection, in a
//!   loop (granularity: one round trip, printed).
//! - FRR: `vtysh -c 'show bgp ipv4 unicast <prefix> json'` in a loop
//!   (granularity: one vtysh run, printed).
//!
//! `cargo build --release -p hostroute-tests --bin hr-speakerd &&
//!  cargo run --release -p hostroute-lab --bin bench-bfd-detect -- --trials 30 --intervals 10,50,300`

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ipnet::IpNet;
use lab::bfd_bench::{self as bench, Stats, ms};
use lab::peers::bird::BirdCli;
use lab::peers::{Bfd, Bird, Frr, Neighbor, PeerConfig, Route};
use lab::{Child, Lab, Netns, wait_until};
use serde_json::json;
use speaker::liveness::BfdNeighbor;
use speaker::policy::{ExportPolicy, ImportPolicy, PeerPolicy};
use speaker::{NeighborConfig, SpeakerConfig};

const POOL: &str = "198.51.100.0/24";
const ROUTE: &str = "198.51.100.9/32";
/// How long a trial waits for all three receivers to be ready again.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a watcher waits for the route to go.
const GONE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause of the polling watchers between two queries.
const POLL_PAUSE: Duration = Duration::from_micros(500);
const RECEIVERS: [&str; 3] = ["hostroute", "BIRD", "FRR"];

struct Args {
    trials: usize,
    intervals: Vec<u32>,
    multiplier: u8,
}

fn args() -> Result<Args> {
    let mut a = Args {
        trials: 30,
        intervals: vec![10, 50, 300],
        multiplier: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--trials" => a.trials = value.parse()?,
            "--intervals" => {
                a.intervals = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            "--multiplier" => a.multiplier = value.parse()?,
            _ => bail!("unknown flag {flag}; use --trials N --intervals 10,50,300 --multiplier 3"),
        }
    }
    ensure!(a.trials > 0, "--trials must be at least 1");
    Ok(a)
}

fn net(s: &str) -> Result<IpNet> {
    s.parse().with_context(|| format!("prefix {s}"))
}

fn ip(s: &str) -> Result<IpAddr> {
    s.parse().with_context(|| format!("address {s}"))
}

fn signal(pid: u32, sig: &str) -> Result<()> {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()?;
    ensure!(status.success(), "kill {sig} {pid} failed");
    Ok(())
}

/// One interval's topology, torn down (processes by PID, then namespaces)
/// when dropped, in reverse field order of creation.
struct Topology {
    hr: Option<Child>,
    hr_conf: std::path::PathBuf,
    hr_socket: std::path::PathBuf,
    rbird: Bird,
    rfrr: Frr,
    peer: Bird,
    // Namespaces last: dropped after the daemons inside them.
    _ns: Vec<Netns>,
}

fn build(lab: &Lab, speakerd: &Path, interval: u32, mult: u8) -> Result<Topology> {
    let peer_ns = Netns::new(lab, "peer")?;
    let names = ["hr", "rbird", "rfrr"];
    let mut ns = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let r = Netns::new(lab, name)?;
        let link = lab::veth(&r, "v0", &peer_ns, &format!("v{}", i + 1))?;
        link.a.add_addr(net(&format!("198.18.{}.1/24", i + 1))?)?;
        link.b.add_addr(net(&format!("198.18.{}.2/24", i + 1))?)?;
        ns.push(r);
    }
    let bfd = Bfd {
        min_rx_ms: interval,
        min_tx_ms: interval,
        multiplier: mult,
    };
    let mut peer_cfg = PeerConfig::new("198.18.1.2".parse()?, 65002)
        .pool(net(POOL)?)
        .originate(Route::new(net(ROUTE)?));
    for i in 1..=3 {
        peer_cfg = peer_cfg.neighbor(
            Neighbor::new(ip(&format!("198.18.{i}.1"))?, 65001)
                .families(&[lab::peers::Family::Ipv4Unicast])
                .bfd(bfd),
        );
    }
    let receiver = |i: u8| -> Result<PeerConfig> {
        Ok(PeerConfig::new(format!("198.18.{i}.1").parse()?, 65001)
            .pool(net(POOL)?)
            .neighbor(
                Neighbor::new(ip(&format!("198.18.{i}.2"))?, 65002)
                    .families(&[lab::peers::Family::Ipv4Unicast])
                    .bfd(bfd),
            ))
    };
    let [hr_ns, rbird_ns, rfrr_ns] = [&ns[0], &ns[1], &ns[2]];

    let mut n = NeighborConfig::new(ip("198.18.1.2")?, 65002);
    n.hold_time = 3;
    n.keepalive = Some(1);
    n.connect_retry = 1;
    n.bfd = Some(BfdNeighbor {
        interval_ms: interval,
        multiplier: mult,
        multihop_min_ttl: None,
    });
    // Like the BIRD and FRR receivers, BGP does not wait for BFD: with
    // `require_bfd` a re-established session can stall in OpenConfirm
    // (the peer's UPDATE arrives before BFD is Up: "Unexpected message in
    // OpenConfirm state"), which costs retries, not detection time.
    n.require_bfd = false;
    n.policy = PeerPolicy {
        import: Some(ImportPolicy::pools(vec![net(POOL)?])),
        export: Some(ExportPolicy {
            pools: vec![net(POOL)?],
            ..ExportPolicy::default()
        }),
        ..PeerPolicy::default()
    };
    let mut cfg = SpeakerConfig::new("198.18.1.1".parse()?, 65001);
    cfg.neighbors = vec![n];
    let dir = lab.subdir("speaker")?;
    let hr_conf = dir.join("config.json");
    let hr_socket = dir.join("control.sock");
    std::fs::write(&hr_conf, serde_json::to_string_pretty(&cfg)?)?;
    let hr = start_hr(lab, hr_ns, speakerd, &hr_conf, &hr_socket)?;
    let rbird = Bird::start(rbird_ns, receiver(2)?).context("starting the BIRD receiver")?;
    let rfrr = Frr::start(rfrr_ns, receiver(3)?).context("starting the FRR receiver")?;
    let peer = Bird::start(&peer_ns, peer_cfg).context("starting the BIRD peer")?;
    ns.push(peer_ns);
    Ok(Topology {
        hr: Some(hr),
        hr_conf,
        hr_socket,
        rbird,
        rfrr,
        peer,
        _ns: ns,
    })
}

/// Starts `hr-speakerd` in `netns` and waits for its control socket.
fn start_hr(
    lab: &Lab,
    netns: &Netns,
    speakerd: &Path,
    conf: &Path,
    socket: &Path,
) -> Result<Child> {
    let _ = std::fs::remove_file(socket);
    let mut command = netns.command(&speakerd.to_string_lossy());
    command
        .arg(conf)
        .arg(socket)
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1");
    let mut hr = Child::spawn(lab, "hr-speakerd", command)?;
    wait_until(
        "hr-speakerd control socket",
        Duration::from_secs(10),
        Duration::from_millis(20),
        || {
            if let Some(e) = hr.exited_error() {
                return Err(e);
            }
            Ok(socket.exists())
        },
    )?;
    Ok(hr)
}

fn hr_ready(t: &Topology) -> Result<bool> {
    let routes = bench::request(
        &t.hr_socket,
        &json!({"cmd": "routes", "prefix": ROUTE}),
        Duration::from_secs(5),
    )?;
    let bfd = bench::request(&t.hr_socket, &json!({"cmd": "bfd"}), Duration::from_secs(5))?;
    Ok(routes.to_string().contains("\"best\":true") && bfd.to_string().contains("\"up\""))
}

fn bird_has_route(cli: &mut BirdCli) -> Result<bool> {
    Ok(cli
        .command(&format!("show route {ROUTE}"))?
        .contains(" [n1 "))
}

fn frr_has_route(frr: &Frr) -> Result<bool> {
    let out = frr.vtysh(&[&format!("show bgp ipv4 unicast {ROUTE} json")])?;
    let v: serde_json::Value = serde_json::from_str(&out).context("FRR prefix json")?;
    Ok(v["paths"].as_array().is_some_and(|p| !p.is_empty()))
}

fn ready(t: &Topology, bird: &mut BirdCli) -> Result<()> {
    let mut state = String::new();
    wait_until(
        "all three receivers to hold the route with BFD Up",
        READY_TIMEOUT,
        Duration::from_millis(50),
        || {
            let e = |e: anyhow::Error| lab::Error::Config(format!("{e:#}"));
            if !t.hr_socket.exists() {
                return Err(lab::Error::Config("hr-speakerd is gone".into()));
            }
            let now = [
                hr_ready(t).map_err(e)?,
                bird_has_route(bird).map_err(e)?,
                t.rbird.bfd_up(ip("198.18.2.2").map_err(e)?)?,
                frr_has_route(&t.rfrr).map_err(e)?,
                t.rfrr.bfd_up(ip("198.18.3.2").map_err(e)?)?,
            ];
            state = format!(
                "hostroute route+BFD {}, BIRD route {} BFD {}, FRR route {} BFD {}",
                now[0], now[1], now[2], now[3], now[4]
            );
            Ok(now.iter().all(|x| *x))
        },
    )
    .with_context(|| format!("last seen: {state}"))?;
    Ok(())
}

/// Polls `present` until it says no; returns when that was seen and the
/// mean time of one query.
fn poll_gone(mut present: impl FnMut() -> Result<bool>) -> Result<(Instant, Duration)> {
    let start = Instant::now();
    let mut queries = 0u32;
    loop {
        let gone = !present()?;
        let now = Instant::now();
        queries += 1;
        if gone {
            return Ok((now, (now - start) / queries));
        }
        ensure!(
            now - start < GONE_TIMEOUT,
            "route still there after {GONE_TIMEOUT:?}"
        );
        std::thread::sleep(POLL_PAUSE);
    }
}

/// One freeze: detection time per receiver and polling granularity of BIRD
/// and FRR.
fn trial(t: &Topology, bird: &mut BirdCli) -> Result<Option<([Duration; 3], [Duration; 2])>> {
    // Ready twice, a second apart: BFD must be steady, not just come Up.
    ready(t, bird)?;
    std::thread::sleep(Duration::from_secs(1));
    ready(t, bird)?;
    let socket = t.hr_socket.clone();
    let rbird_ctl = t.rbird.ctl().to_path_buf();
    let peer_pid = t.peer.child_pid();
    let (t0, hr, rb, rf) = std::thread::scope(|s| -> Result<_> {
        let hr = s.spawn(move || {
            bench::request(
                &socket,
                &json!({"cmd": "wait_gone", "prefix": ROUTE, "timeout_ms": GONE_TIMEOUT.as_millis() as u64}),
                GONE_TIMEOUT + Duration::from_secs(1),
            )
            .map(|_| Instant::now())
        });
        let rb = s.spawn(move || -> Result<_> {
            let mut cli = BirdCli::connect(&rbird_ctl)?;
            poll_gone(|| bird_has_route(&mut cli))
        });
        let frr = &t.rfrr;
        let rf = s.spawn(move || poll_gone(|| frr_has_route(frr)));
        // Let the watchers start (the hostroute one subscribes).
        std::thread::sleep(Duration::from_millis(100));
        let t0 = Instant::now();
        let frozen = signal(peer_pid, "-STOP");
        let hr = hr.join().map_err(|_| anyhow::anyhow!("watcher panicked"))?;
        let rb = rb.join().map_err(|_| anyhow::anyhow!("watcher panicked"))?;
        let rf = rf.join().map_err(|_| anyhow::anyhow!("watcher panicked"))?;
        signal(peer_pid, "-CONT")?;
        frozen?;
        Ok((t0, hr, rb, rf))
    })?;
    let hr = hr.context("hostroute watcher")?;
    let (rb, rb_poll) = rb.context("BIRD watcher")?;
    let (rf, rf_poll) = rf.context("FRR watcher")?;
    for (name, at) in [("hostroute", hr), ("BIRD", rb), ("FRR", rf)] {
        if at <= t0 {
            // A session flapped on its own between the readiness check
            // and the freeze: not a detection of this failure.
            eprintln!("trial discarded: {name} lost the route before the freeze");
            return Ok(None);
        }
    }
    Ok(Some(([hr - t0, rb - t0, rf - t0], [rb_poll, rf_poll])))
}

/// Detection times per receiver and query times of the BIRD and FRR
/// watchers.
type Samples = ([Vec<Duration>; 3], [Vec<Duration>; 2]);

fn run_interval(speakerd: &Path, interval: u32, args: &Args) -> Result<Samples> {
    Lab::run(&format!("bfd-detect-{interval}"), |lab| -> Result<_> {
        let mut t = build(lab, speakerd, interval, args.multiplier)?;
        let mut bird = BirdCli::connect(t.rbird.ctl())?;
        let mut times: [Vec<Duration>; 3] = Default::default();
        let mut polls: [Vec<Duration>; 2] = Default::default();
        let mut discarded = 0;
        // Bounded: at most as many discarded trials as wanted ones.
        for i in 0..2 * args.trials {
            if times[0].len() == args.trials {
                break;
            }
            let Some((d, p)) = trial(&t, &mut bird).with_context(|| format!("trial {}", i + 1))?
            else {
                discarded += 1;
                continue;
            };
            eprintln!(
                "{interval} ms x {}: trial {:>2}: hostroute {} ms, BIRD {} ms, FRR {} ms",
                args.multiplier,
                i + 1,
                ms(d[0]),
                ms(d[1]),
                ms(d[2])
            );
            for (v, x) in times.iter_mut().zip(d) {
                v.push(x);
            }
            for (v, x) in polls.iter_mut().zip(p) {
                v.push(x);
            }
            // A fresh hostroute process per trial: its BFD flap damping
            // (3 failures in 60 s hold the next Up back, 1 s doubling to
            // 30 s) would otherwise stretch every trial after the second.
            if let Some(mut old) = t.hr.take() {
                if let Some(e) = old.exited_error() {
                    return Err(e.into());
                }
                drop(old);
            }
            t.hr = Some(start_hr(
                lab,
                &t._ns[0],
                speakerd,
                &t.hr_conf,
                &t.hr_socket,
            )?);
        }
        eprintln!(
            "{interval} ms: {discarded} trials discarded (a session flapped before the freeze)"
        );
        Ok((times, polls))
    })
}

fn main() -> Result<()> {
    let args = args()?;
    let speakerd = bench::speakerd_path()?;
    println!("# bench-bfd-detect: peer frozen (SIGSTOP) -> its route gone from the receiver's RIB");
    println!("# machine at start: {}", bench::machine());
    let mut rows = Vec::new();
    for &interval in &args.intervals {
        let (times, polls) = run_interval(&speakerd, interval, &args)?;
        let mean = |v: &[Duration]| v.iter().sum::<Duration>() / v.len().max(1) as u32;
        rows.push((interval, times, [mean(&polls[0]), mean(&polls[1])]));
        eprintln!(
            "load average after {interval} ms: {}",
            bench::load_average()
        );
    }
    println!();
    println!("| interval | receiver | trials | p50 ms | p99 ms | max ms | watcher |");
    println!("|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for (interval, times, polls) in &rows {
        let stats: Vec<Option<Stats>> = times.iter().map(|t| Stats::of(t)).collect();
        for (i, name) in RECEIVERS.iter().enumerate() {
            let Some(Some(s)) = stats.get(i) else {
                continue;
            };
            let watcher = match i {
                0 => "wait_gone (events)".to_string(),
                1 => format!("birdc socket, {} ms/query", ms(polls[0])),
                _ => format!("vtysh, {} ms/query", ms(polls[1])),
            };
            println!(
                "| {interval} ms x {} | {name} | {} | {} | {} | {} | {watcher} |",
                args.multiplier,
                s.n,
                ms(s.p50),
                ms(s.p99),
                ms(s.max)
            );
        }
        if let (Some(Some(h)), Some(Some(b)), Some(Some(f))) =
            (stats.first(), stats.get(1), stats.get(2))
        {
            ratios.push(format!(
                "{interval} ms: hostroute p99 / BIRD p99 = {:.2}, hostroute p99 / FRR p99 = {:.2}",
                h.p99.as_secs_f64() / b.p99.as_secs_f64(),
                h.p99.as_secs_f64() / f.p99.as_secs_f64()
            ));
        }
    }
    println!();
    for r in ratios {
        println!("{r}");
    }
    println!("# machine at end: {}", bench::machine());
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-bfd-detect -- --trials {} --intervals {} --multiplier {}",
        args.trials,
        args.intervals
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.multiplier
    );
    Ok(())
}
