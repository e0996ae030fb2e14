//! Event-to-wire latency: from the call that originates or withdraws a
//! host route until a raw BGP peer socket reads the UPDATE carrying it,
//! hostroute's speaker beside BIRD 2 in the same run.
//!
//! ```text
//!  this process (root namespace: main thread only)
//!   ├─ thread in netns spk:   tokio runtime + speaker::spawn  --veth-->  thread in netns probe-h:
//!   │   main: t0, handle.originate(P) / handle.withdraw(P)                raw peer, t1 = read() returns
//!   └─ bird in netns brd (process) --veth-->  thread in netns probe-b: raw peer, t1
//!       main: t0, `enable originate4` / `disable originate4` on BIRD's control socket
//! ```
//!
//! `cargo run --release -p hostroute-lab --bin bench-speaker-latency -- --events 1000`
//!
//! Options: `--events N` (1000, half announcements, half withdrawals),
//! `--pause-us U` (2000 between events, so each one is measured alone),
//! `--only hostroute|bird`.
//!
//! The speaker runs in-process, as the agent runs it: the agent calls
//! `SpeakerHandle::originate` directly, so a control-socket hop (JSON, a
//! Unix socket, a task per request) would measure a path production never
//! takes. Each thread that needs a namespace enters it with setns(2); the
//! speaker's runtime threads are created inside, so its sockets are too.
//! Both timestamps come from `Instant` (CLOCK_MONOTONIC) in this process.
//! BIRD has no call that originates one route, so its event is the nearest
//! thing: enabling or disabling a static protocol holding P over its
//! control socket (a persistent connection, no `birdc` process).

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use lab::bench::{self, Args};
use lab::peers::{Bird, Family, Neighbor, PeerConfig, Route};
use lab::rawbgp::{self, Params};
use lab::{Lab, Netns, veth};
use nix::sched::{CloneFlags, setns};
use proto::bgp::{AttributeValue, Message, Mobility};
use speaker::config::{NeighborConfig, SpeakerConfig};
use speaker::policy::ExportPolicy;
use speaker::rib::PathAttrs;

const PREFIX: &str = "100.64.7.7/32";
const POOL: &str = "100.64.0.0/10";
const SEEN_TIMEOUT: Duration = Duration::from_secs(2);
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the probe read: the prefix announced (true) or withdrawn, and when
/// the read that brought it returned.
#[derive(Debug, Clone, Copy)]
struct Seen {
    announce: bool,
    at: Instant,
}

/// Latencies in nanoseconds of announcements and withdrawals.
#[derive(Debug, Default)]
struct Latencies {
    announce: Vec<u64>,
    withdraw: Vec<u64>,
}

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &["events", "pause-us", "only"],
        &[],
    )?;
    let events: u32 = args.get("events", 1000)?;
    let pause = Duration::from_micros(args.get("pause-us", 2000)?);
    let only: Option<String> = args.opt("only")?;
    println!(
        "# bench-speaker-latency: {events} events, event call -> UPDATE read by a raw peer socket"
    );
    println!(
        "# command: cargo run --release -p hostroute-lab --bin bench-speaker-latency -- {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    for line in bench::machine() {
        println!("# {line}");
    }
    println!("# pause between events: {} us", pause.as_micros());
    let mut results = Vec::new();
    if only.as_deref() != Some("bird") {
        let l = Lab::run("splat-hostroute", |lab| hostroute(lab, events, pause))?;
        results.push(("hostroute", l));
    }
    if only.as_deref() != Some("hostroute") {
        let l = Lab::run("splat-bird", |lab| bird(lab, events, pause))?;
        results.push(("bird", l));
    }
    println!();
    println!("| daemon | event | n | p50 us | p90 us | p99 us | max us |");
    println!("|---|---|---|---|---|---|---|");
    let mut p = Vec::new();
    for (name, l) in &results {
        let mut all: Vec<u64> = l.announce.iter().chain(&l.withdraw).copied().collect();
        let mut a = l.announce.clone();
        let mut w = l.withdraw.clone();
        for (event, v) in [
            ("announce", &mut a),
            ("withdraw", &mut w),
            ("all", &mut all),
        ] {
            v.sort_unstable();
            let us = |q: f64| bench::percentile(v, q) as f64 / 1000.0;
            println!(
                "| {name} | {event} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
                v.len(),
                us(50.0),
                us(90.0),
                us(99.0),
                us(100.0)
            );
            if event == "all" {
                p.push((us(50.0), us(99.0)));
            }
        }
    }
    if let [(h50, h99), (b50, b99)] = p.as_slice() {
        println!();
        println!(
            "ratio hostroute/BIRD: p50 {:.2}, p99 {:.2}; hostroute p99 {h99:.1} us (target < 100 us)",
            h50 / b50,
            h99 / b99
        );
    }
    Ok(())
}

/// Runs `f` on a new thread inside namespace `ns`.
fn in_netns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> JoinHandle<Result<T>> {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).with_context(|| format!("opening {path}"))?;
        setns(&file, CloneFlags::CLONE_NEWNET).with_context(|| format!("setns {path}"))?;
        f()
    })
}

/// The raw peer: listens on `addr`, accepts one session, then reports
/// every announcement or withdrawal of `prefix` with the time the read
/// that brought it returned.
fn probe(
    ns: &Netns,
    addr: SocketAddr,
    local_as: u32,
    prefix: IpNet,
    seen: mpsc::Sender<Seen>,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Result<()>> {
    in_netns(ns, move || {
        let listener = TcpListener::bind(addr).with_context(|| format!("binding {addr}"))?;
        let stream = rawbgp::accept(&listener, SETUP_TIMEOUT).context("accepting the session")?;
        let IpAddr::V4(router_id) = addr.ip() else {
            bail!("IPv4 probe address expected");
        };
        let params = Params {
            local_as,
            router_id,
            hold_time: 90,
            extended_message: false,
        };
        let mut s = rawbgp::establish(stream, &params, SETUP_TIMEOUT)?;
        let keepalive = Message::Keepalive.to_bytes(&s.ctx)?;
        let every = s.keepalive_interval();
        let mut last_keepalive = Instant::now();
        s.stream
            .set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut step = || -> Result<bool> {
            match s.reader.fill(&mut s.stream) {
                Ok(0) => return Ok(false),
                Ok(_) => {}
                // The read timeout: nothing came, time to check `stop`.
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
            let at = Instant::now();
            if every.is_some_and(|e| last_keepalive.elapsed() >= e) {
                std::io::Write::write_all(&mut s.stream, &keepalive)?;
                last_keepalive = Instant::now();
            }
            while let Some(frame) = s.reader.next_frame()? {
                let Message::Update(u) = rawbgp::decode(frame, &s.ctx)?.message else {
                    continue;
                };
                let mut announced = u.nlri.iter().any(|n| n.prefix == prefix);
                let mut withdrawn = u.withdrawn.iter().any(|n| n.prefix == prefix);
                for a in &u.attributes {
                    match &a.value {
                        AttributeValue::MpReach(m) => {
                            announced |= m.nlri.iter().any(|n| n.prefix == prefix)
                        }
                        AttributeValue::MpUnreach(m) => {
                            withdrawn |= m.withdrawn.iter().any(|n| n.prefix == prefix)
                        }
                        _ => {}
                    }
                }
                for (hit, announce) in [(withdrawn, false), (announced, true)] {
                    if hit && seen.send(Seen { announce, at }).is_err() {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        };
        while !stop.load(Ordering::Relaxed) {
            match step() {
                Ok(true) => {}
                // The session ended (the benchmark stops the daemon).
                Ok(false) => break,
                // A NOTIFICATION (Cease when the daemon stops) ends the
                // session; a lost event shows as a timeout on the other side.
                Err(_) if stop.load(Ordering::Relaxed) => break,
                Err(e) if e.to_string().contains("NOTIFICATION") => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    })
}

/// Waits for the probe's report of one event.
fn expect(rx: &mpsc::Receiver<Seen>, announce: bool, t0: Instant) -> Result<u64> {
    let s = rx.recv_timeout(SEEN_TIMEOUT).with_context(|| {
        format!(
            "no {} within {SEEN_TIMEOUT:?}",
            if announce {
                "announcement"
            } else {
                "withdrawal"
            }
        )
    })?;
    if s.announce != announce {
        bail!(
            "expected announce={announce}, the probe saw announce={}",
            s.announce
        );
    }
    Ok(u64::try_from(s.at.saturating_duration_since(t0).as_nanos()).unwrap_or(u64::MAX))
}

/// Two namespaces joined by a veth: (.1 in `a`, .2 in `b`) of `net`/30.
fn pair(lab: &Lab, a: &str, b: &str, net: [u8; 3]) -> Result<(Netns, Netns, Ipv4Addr, Ipv4Addr)> {
    let na = Netns::new(lab, a)?;
    let nb = Netns::new(lab, b)?;
    let link = veth(&na, "a0", &nb, "b0")?;
    let [x, y, z] = net;
    let (ia, ib) = (Ipv4Addr::new(x, y, z, 1), Ipv4Addr::new(x, y, z, 2));
    link.a.add_addr(format!("{ia}/30").parse()?)?;
    link.b.add_addr(format!("{ib}/30").parse()?)?;
    Ok((na, nb, ia, ib))
}

fn hostroute(lab: &Lab, events: u32, pause: Duration) -> Result<Latencies> {
    let (spk_ns, probe_ns, spk_addr, probe_addr) = pair(lab, "spk", "probe-h", [198, 18, 254])?;
    let prefix: IpNet = PREFIX.parse()?;
    let (seen_tx, seen_rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(
        &probe_ns,
        SocketAddr::new(probe_addr.into(), 179),
        65011,
        prefix,
        seen_tx,
        Arc::clone(&stop),
    );

    let mut cfg = SpeakerConfig::new(spk_addr, 65010);
    cfg.listen = Vec::new();
    let mut n = NeighborConfig::new(probe_addr.into(), 65011);
    n.connect_retry = 1;
    n.policy.export = Some(ExportPolicy {
        pools: vec![POOL.parse()?],
        ..ExportPolicy::default()
    });
    cfg.neighbors.push(n);
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let speaker = in_netns(&spk_ns, move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let handle = rt.block_on(speaker::spawn(cfg))?;
        let _ = ready_tx.send((handle.clone(), rt.handle().clone()));
        rt.block_on(async {
            let _ = stop_rx.await;
            let _ = handle.shutdown(None).await;
        });
        Ok(())
    });
    let (handle, rt) = ready_rx
        .recv_timeout(SETUP_TIMEOUT)
        .context("speaker start")?;

    let result = (|| -> Result<Latencies> {
        // Wait for the session (the probe reports nothing until then, and
        // the speaker has nothing to send).
        let start = Instant::now();
        while !rt
            .block_on(handle.peers())?
            .iter()
            .any(|p| p.uptime_secs.is_some())
        {
            if start.elapsed() > SETUP_TIMEOUT {
                bail!("session with the probe not up in {SETUP_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        let mut l = Latencies::default();
        for i in 0..events {
            let announce = i % 2 == 0;
            let t0 = Instant::now();
            if announce {
                rt.block_on(
                    handle.originate(prefix, PathAttrs::local(Mobility::new(i / 2 + 1, false))),
                )?;
            } else {
                rt.block_on(handle.withdraw(prefix))?;
            }
            let ns = expect(&seen_rx, announce, t0)?;
            if announce {
                &mut l.announce
            } else {
                &mut l.withdraw
            }
            .push(ns);
            std::thread::sleep(pause);
        }
        Ok(l)
    })();
    stop.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(());
    let stopped = speaker
        .join()
        .map_err(|_| anyhow::anyhow!("speaker thread panicked"))?;
    let probed = probe
        .join()
        .map_err(|_| anyhow::anyhow!("probe thread panicked"))?;
    let l = result?;
    stopped?;
    probed?;
    Ok(l)
}

fn bird(lab: &Lab, events: u32, pause: Duration) -> Result<Latencies> {
    let (bird_ns, probe_ns, bird_addr, probe_addr) = pair(lab, "brd", "probe-b", [198, 18, 253])?;
    let prefix: IpNet = PREFIX.parse()?;
    let (seen_tx, seen_rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = probe(
        &probe_ns,
        SocketAddr::new(probe_addr.into(), 179),
        65021,
        prefix,
        seen_tx,
        Arc::clone(&stop),
    );
    let config = PeerConfig::new(bird_addr, 65020)
        .neighbor(
            Neighbor::new(probe_addr.into(), 65021)
                .timers(90, 30)
                .families(&[Family::Ipv4Unicast]),
        )
        .export(POOL.parse()?)
        .originate(Route::new(prefix));
    let result = (|| -> Result<Latencies> {
        let bird = Bird::start(&bird_ns, config)?;
        let mut cli = bird.cli()?;
        // BIRD announces P when the session comes up.
        expect(&seen_rx, true, Instant::now()).context("BIRD's initial announcement")?;
        std::thread::sleep(Duration::from_millis(100));
        let mut l = Latencies::default();
        for i in 0..events {
            let announce = i % 2 == 1;
            let t0 = Instant::now();
            cli.send(if announce {
                "enable originate4"
            } else {
                "disable originate4"
            })?;
            let ns = expect(&seen_rx, announce, t0)?;
            let reply = cli.reply()?;
            if !reply.contains("originate4") {
                bail!("BIRD: {}", reply.trim());
            }
            if announce {
                &mut l.announce
            } else {
                &mut l.withdraw
            }
            .push(ns);
            std::thread::sleep(pause);
        }
        Ok(l)
    })();
    stop.store(true, Ordering::Relaxed);
    let probed = probe
        .join()
        .map_err(|_| anyhow::anyhow!("probe thread panicked"))?;
    let l = result?;
    probed?;
    Ok(l)
}
