//! The WAN delay line: a delayed link between two namespaces holds at
//! least its configured delay, carries TCP intact, drops what it is told
//! to drop, and leaves nothing behind.
//!
//! ```text
//!   a: wan0 192.0.2.1/24 ── veth ── d: la ─ hr-delayline ─ lb ── veth ── b: wan0 192.0.2.2/24
//!                                   (10 ms each way: RTT >= 20 ms)
//! ```
//!
//! Timing assertions are one-sided (a delay line can only add delay); the
//! figures of how closely it holds the delay are in docs/BENCHMARKS.md
//! (`bench-delayline`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, ensure};
use hostroute_tests::{assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::delay::probe::{StreamSpec, ping, tcp_stream};
use lab::delay::{Backend, DelayLink, LinkSpec, netem_available};
use lab::{Lab, Netns};

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
const DELAY: Duration = Duration::from_millis(10);

/// Namespaces a and b joined by a delayed link as `spec` says, addressed.
fn delayed_pair(lab: &Lab, spec: &LinkSpec) -> anyhow::Result<(Netns, Netns, DelayLink)> {
    let a = Netns::new(lab, "wan-a")?;
    let b = Netns::new(lab, "wan-b")?;
    let link = DelayLink::create(lab, &a, &b, spec).context("creating the delayed link")?;
    link.a.add_addr(IpNet::new(A, 24)?)?;
    link.b.add_addr(IpNet::new(B, 24)?)?;
    Ok((a, b, link))
}

/// Names and PIDs the run created, to check they are gone afterwards.
fn leftovers(a: &Netns, b: &Netns, link: &DelayLink) -> (Vec<String>, Vec<u32>) {
    let mut names = vec![a.name().to_string(), b.name().to_string()];
    names.extend(link.middle().map(|m| m.name().to_string()));
    (names, link.pid().into_iter().collect())
}

#[test]
fn ten_ms_link_delays_pings_and_carries_tcp_intact() {
    if !netns_available("ten_ms_link_delays_pings_and_carries_tcp_intact") {
        return;
    }
    let mut created = (Vec::new(), Vec::new());
    Lab::run("delay", |lab| -> anyhow::Result<()> {
        let mut spec = LinkSpec::new(DELAY);
        spec.backend = Backend::Userspace;
        let (a, b, mut link) = delayed_pair(lab, &spec)?;
        created = leftovers(&a, &b, &link);
        ensure!(link.backend() == Backend::Userspace);

        let pings = ping(&a, B, 20, Duration::from_millis(10))?;
        ensure!(
            pings.rtts.len() == pings.sent,
            "{} of {} pings answered",
            pings.rtts.len(),
            pings.sent
        );
        let min = pings.rtts.iter().min().copied().unwrap_or_default();
        ensure!(
            min >= 2 * DELAY,
            "RTT {min:?} below twice the one-way delay"
        );

        let stream = tcp_stream(
            &a,
            &b,
            SocketAddr::new(B, 5001),
            StreamSpec {
                bytes: 4 << 20,
                duration: Duration::from_secs(60),
                rate_bps: None,
            },
        )?;
        ensure!(stream.sent == 4 << 20, "sent {} bytes", stream.sent);
        ensure!(stream.intact(), "the stream arrived changed: {stream:?}");

        let report = link.stop()?.context("no counters from the line")?;
        for dir in ["a_to_b", "b_to_a"] {
            let c = &report[dir];
            ensure!(c["forwarded"].as_u64() > Some(20), "{dir}: {c}");
            for zero in ["lost", "queue_full", "truncated", "send_errors"] {
                ensure!(c[zero] == 0, "{dir}: {zero} in {c}");
            }
        }
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&created.0, &created.1, &[]);
}

#[test]
fn loss_one_drops_everything() {
    if !netns_available("loss_one_drops_everything") {
        return;
    }
    let mut created = (Vec::new(), Vec::new());
    Lab::run("delay-loss", |lab| -> anyhow::Result<()> {
        let mut spec = LinkSpec::new(Duration::from_millis(1));
        spec.impairment.loss = 1.0;
        spec.backend = Backend::Userspace;
        let (a, b, mut link) = delayed_pair(lab, &spec)?;
        created = leftovers(&a, &b, &link);
        let pings = ping(&a, B, 5, Duration::from_millis(20))?;
        ensure!(
            pings.rtts.is_empty(),
            "replies through a dead link: {pings:?}"
        );
        let report = link.stop()?.context("no counters from the line")?;
        let ab = &report["a_to_b"];
        ensure!(ab["received"].as_u64() >= Some(1), "{report}");
        ensure!(ab["lost"] == ab["received"], "{report}");
        ensure!(ab["forwarded"] == 0, "{report}");
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&created.0, &created.1, &[]);
}

/// `Backend::Auto` takes netem where the kernel has it and the userspace
/// line where it has not; the link is delayed either way.
#[test]
fn auto_backend_follows_the_kernel_and_delays() {
    if !netns_available("auto_backend_follows_the_kernel_and_delays") {
        return;
    }
    let mut created = (Vec::new(), Vec::new());
    Lab::run("delay-auto", |lab| -> anyhow::Result<()> {
        let netem = netem_available(lab)?;
        let (a, b, link) = delayed_pair(lab, &LinkSpec::new(DELAY))?;
        created = leftovers(&a, &b, &link);
        let expected = if netem {
            Backend::Netem
        } else {
            Backend::Userspace
        };
        ensure!(link.backend() == expected, "netem available: {netem}");
        ensure!(link.middle().is_some() == !netem);
        let pings = ping(&a, B, 5, Duration::from_millis(20))?;
        ensure!(!pings.rtts.is_empty(), "no replies");
        ensure!(
            pings.rtts.iter().all(|r| *r >= 2 * DELAY),
            "{:?}",
            pings.rtts
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&created.0, &created.1, &[]);
}

/// The guard stops the line and deletes its namespace even when the test
/// body panics.
#[test]
fn a_panic_removes_the_line_and_its_namespace() {
    if !netns_available("a_panic_removes_the_line_and_its_namespace") {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let lab = Lab::new("delay-panic").unwrap_or_else(|e| panic!("{e}"));
        let mut spec = LinkSpec::new(DELAY);
        spec.backend = Backend::Userspace;
        let (a, b, link) = delayed_pair(&lab, &spec).unwrap_or_else(|e| panic!("{e:#}"));
        let _ = tx.send(leftovers(&a, &b, &link));
        let dir = lab.dir().to_path_buf();
        let _ = tx.send((vec![dir.to_string_lossy().into_owned()], Vec::new()));
        panic!("on purpose, with the delay line running");
    })
    .join();
    assert!(outcome.is_err(), "the thread should have panicked");
    let (names, pids) = rx.recv().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(names.len(), 3, "{names:?}");
    assert_eq!(pids.len(), 1, "{pids:?}");
    assert_cleaned_up(&names, &pids, &[]);
    // A failed run keeps its directory for inspection; this one failed on
    // purpose.
    let (dir, _) = rx.recv().unwrap_or_else(|e| panic!("{e}"));
    for d in dir {
        std::fs::remove_dir_all(&d).unwrap_or_else(|e| panic!("{d}: {e}"));
    }
}
