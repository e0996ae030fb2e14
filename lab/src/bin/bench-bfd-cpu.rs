//! CPU time per BFD session per second: hostroute's BFD driver and BIRD's
//! BFD running the same N sessions against each other in the same run.
//!
//! ```text
//!   ns hr: bench-bfd-cpu --driver (BfdHandle)    ns bird: bird, protocol bfd
//!     198.18.0.1 .. 198.18.0.N /16  v0 ---- veth ---- v1  198.18.1.1 .. 198.18.1.N /16
//!     session k: 198.18.0.k <-> 198.18.1.k, single hop, interval x 3, both sides
//! ```
//!
//! Once every session is Up on our side, `utime + stime` of both processes
//! (`/proc/<pid>/stat`, all threads) is read, again after `--seconds`, and
//! the difference is divided by sessions x seconds. Our driver prints each
//! Down after Up with its diagnostic (on stderr here); any is a flap (a
//! false Down: nothing failed). Only Downs after every session came Up
//! count: not the start-up, not the teardown.
//!
//! `cargo run --release -p hostroute-lab --bin bench-bfd-cpu -- --sessions 10,100 --interval-ms 10 --seconds 20`

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use ipnet::IpNet;
use lab::bfd_bench::{self as bench, cpu_time};
use lab::{Child, Lab, Netns, wait_until};
use speaker::bfd::{BfdHandle, DriverConfig, Hop, Liveness, SessionConfig, Timers};

struct Args {
    sessions: Vec<u16>,
    interval_ms: u32,
    seconds: u64,
}

fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args> {
    let mut a = Args {
        sessions: vec![10, 100],
        interval_ms: 10,
        seconds: 20,
    };
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--sessions" => {
                a.sessions = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            "--interval-ms" => a.interval_ms = value.parse()?,
            "--seconds" => a.seconds = value.parse()?,
            _ => bail!("unknown flag {flag}; use --sessions 10,100 --interval-ms 10 --seconds 20"),
        }
    }
    ensure!(
        a.sessions.iter().all(|n| (1..=250).contains(n)),
        "--sessions: 1 to 250 each"
    );
    Ok(a)
}

fn ours(k: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 0, k as u8))
}

fn theirs(k: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(198, 18, 1, k as u8))
}

/// The driver side, run inside the namespace: N sessions, each Down after
/// Up printed; runs until killed.
fn driver(n: u16, interval_ms: u32) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let bfd = BfdHandle::spawn(DriverConfig {
            multihop: false,
            ipv6: false,
            ..DriverConfig::default()
        })?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for k in 1..=n {
            let mut watch = bfd
                .add_session(SessionConfig {
                    peer: theirs(k),
                    local: Some(ours(k)),
                    interface: Some("v0".into()),
                    hop: Hop::SingleHop,
                    timers: Timers::symmetric(Duration::from_millis(interval_ms.into()), 3),
                    auth: None,
                })
                .await?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut was_up = false;
                loop {
                    let now = *watch.borrow_and_update();
                    let up = now == Liveness::Up;
                    if up != was_up {
                        let _ = tx.send((k, now));
                        was_up = up;
                    }
                    if watch.changed().await.is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut up = std::collections::HashSet::new();
        let mut all_up = false;
        let start = std::time::Instant::now();
        while let Some((k, liveness)) = rx.recv().await {
            if liveness == Liveness::Up {
                up.insert(k);
            } else {
                up.remove(&k);
                // The diagnostic says who saw the failure: detection time
                // expired here, or the peer signalled Down.
                println!(
                    "down {k} after {} ms: {}",
                    start.elapsed().as_millis(),
                    serde_json::to_string(&liveness).unwrap_or_default()
                );
            }
            if !all_up && up.len() == usize::from(n) {
                all_up = true;
                println!("all up");
            }
        }
        Ok(())
    })
}

fn bird_conf(n: u16, interval_ms: u32) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "router id 198.18.1.1;\nlog stderr all;");
    let _ = writeln!(c, "protocol device {{ scan time 10; }}");
    let _ = writeln!(c, "protocol bfd {{");
    let _ = writeln!(
        c,
        "  interface \"v1\" {{ min rx interval {interval_ms} ms; min tx interval {interval_ms} ms; multiplier 3; }};"
    );
    for k in 1..=n {
        let _ = writeln!(c, "  neighbor {} dev \"v1\" local {};", ours(k), theirs(k));
    }
    let _ = writeln!(c, "}}");
    c
}

struct Row {
    sessions: u16,
    ours_ms: f64,
    bird_ms: f64,
    flaps: usize,
    load: String,
}

fn measure(n: u16, args: &Args) -> Result<Row> {
    Lab::run(&format!("bfd-cpu-{n}"), |lab| -> Result<Row> {
        let hr = Netns::new(lab, "hr")?;
        let bird_ns = Netns::new(lab, "bird")?;
        let link = lab::veth(&hr, "v0", &bird_ns, "v1")?;
        for k in 1..=n {
            link.a.add_addr(IpNet::new(ours(k), 16)?)?;
            link.b.add_addr(IpNet::new(theirs(k), 16)?)?;
        }
        let dir = lab.subdir("bird")?;
        let conf = dir.join("bird.conf");
        let ctl = dir.join("bird.ctl");
        std::fs::write(&conf, bird_conf(n, args.interval_ms))?;
        let mut cmd = bird_ns.command("bird");
        cmd.arg("-f").arg("-c").arg(&conf).arg("-s").arg(&ctl);
        let mut bird = Child::spawn(lab, "bird", cmd)?;
        wait_until(
            "BIRD control socket",
            Duration::from_secs(15),
            Duration::from_millis(50),
            || {
                if let Some(e) = bird.exited_error() {
                    return Err(e);
                }
                Ok(ctl.exists())
            },
        )?;
        let exe = std::env::current_exe()?;
        let mut cmd = hr.command(&exe.to_string_lossy());
        cmd.args(["--driver", &n.to_string(), &args.interval_ms.to_string()])
            .env("RUST_LOG", "warn");
        let mut ours_child = Child::spawn(lab, "hr-bfd", cmd)?;
        wait_until(
            "every session Up",
            Duration::from_secs(60),
            Duration::from_millis(50),
            || {
                if let Some(e) = ours_child.exited_error() {
                    return Err(e);
                }
                Ok(ours_child.log().contains("all up"))
            },
        )?;
        let downs_before = ours_child.log().matches("down ").count();
        let (o0, b0, t0) = (
            cpu_time(ours_child.pid())?,
            cpu_time(bird.pid())?,
            Instant::now(),
        );
        std::thread::sleep(Duration::from_secs(args.seconds));
        let (o1, b1, t1) = (
            cpu_time(ours_child.pid())?,
            cpu_time(bird.pid())?,
            Instant::now(),
        );
        let load = bench::load_average();
        let log = ours_child.log();
        let flaps = log.matches("down ").count() - downs_before;
        for line in log
            .lines()
            .filter(|l| l.starts_with("down "))
            .skip(downs_before)
        {
            eprintln!("{n} sessions: {line}");
        }
        let per = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(n) / (t1 - t0).as_secs_f64();
        let sessions = Command::new("birdc")
            .arg("-s")
            .arg(&ctl)
            .args(["show", "bfd", "sessions"])
            .output()?;
        let bird_up = String::from_utf8_lossy(&sessions.stdout)
            .lines()
            .filter(|l| l.contains(" Up "))
            .count();
        eprintln!("{n} sessions: BIRD shows {bird_up} Up at the end");
        Ok(Row {
            sessions: n,
            ours_ms: per(o1 - o0),
            bird_ms: per(b1 - b0),
            flaps,
            load,
        })
    })
}

fn main() -> Result<()> {
    let mut raw = std::env::args().skip(1).peekable();
    if raw.peek().map(String::as_str) == Some("--driver") {
        raw.next();
        let n = raw.next().context("--driver N INTERVAL_MS")?.parse()?;
        let interval = raw.next().context("--driver N INTERVAL_MS")?.parse()?;
        return driver(n, interval);
    }
    let args = parse_args(raw)?;
    println!(
        "# bench-bfd-cpu: CPU ms per BFD session per second, {} ms x 3",
        args.interval_ms
    );
    println!("# machine at start: {}", bench::machine());
    println!();
    println!(
        "| sessions | seconds | hostroute driver | BIRD | ratio | flaps (Down after Up) | load average |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &n in &args.sessions {
        let r = measure(n, &args)?;
        println!(
            "| {} | {} | {:.3} | {:.3} | {:.2} | {} | {} |",
            r.sessions,
            args.seconds,
            r.ours_ms,
            r.bird_ms,
            r.ours_ms / r.bird_ms,
            r.flaps,
            r.load
        );
    }
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-bfd-cpu -- --sessions {} --interval-ms {} --seconds {}",
        args.sessions
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.interval_ms,
        args.seconds
    );
    Ok(())
}
