//! A userspace WAN delay line for kernels without netem: forwards every
//! Ethernet frame between two interfaces after a fixed one-way delay, with
//! optional jitter (never reordering) and random loss. See `lab::delay`.
//!
//! ```text
//! hr-delayline --a IF --b IF --delay-ms 20 [--jitter-ms 0] [--loss 0.0]
//!              [--seed N] [--queue-bytes N] [--spin-us 200]
//!              [--socket-buffer BYTES] [--no-mlock]
//! ```
//!
//! Memory is locked (`mlockall`) unless `--no-mlock`: a page fault in a
//! sending thread would hold every queued frame back.
//!
//! Prints `hr-delayline: ready ...` once both sockets are bound, the
//! counters of both directions as one JSON line on SIGUSR1, and again on
//! SIGTERM or SIGINT, after which it exits 0.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use lab::bench::Args;
use lab::delay::line::{self, LineConfig};
use lab::delay::{Impairment, READY_LINE};
use nix::sys::signal::{SigSet, Signal};

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &[
            "a",
            "b",
            "delay-ms",
            "jitter-ms",
            "loss",
            "seed",
            "queue-bytes",
            "spin-us",
            "socket-buffer",
        ],
        &["no-mlock"],
    )?;
    let ms = |name: &str, default: Option<f64>| -> Result<Duration> {
        let v: f64 = match default {
            Some(d) => args.get(name, d)?,
            None => args.need(name)?,
        };
        if !(v.is_finite() && v >= 0.0) {
            bail!("--{name} {v}: must be a non-negative number of milliseconds");
        }
        Ok(Duration::from_secs_f64(v / 1000.0))
    };
    let config = LineConfig {
        a: args.need("a")?,
        b: args.need("b")?,
        impairment: Impairment {
            delay: ms("delay-ms", None)?,
            jitter: ms("jitter-ms", Some(0.0))?,
            loss: args.get("loss", 0.0)?,
            queue_bytes: args.get("queue-bytes", 16 << 20)?,
        },
        seed: args.get("seed", 1)?,
        spin: Duration::from_micros(args.get("spin-us", 200)?),
        socket_buffer: args.get("socket-buffer", 8 << 20)?,
    };
    if let Err(e) = config.impairment.check() {
        bail!("{e}");
    }

    // Block the signals before any thread starts, so every thread inherits
    // the mask and only the sigwait below sees them.
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGUSR1] {
        signals.add(s);
    }
    signals.thread_block().context("blocking signals")?;

    if !args.flag("no-mlock") {
        use nix::sys::mman::{MlockAllFlags, mlockall};
        mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE)
            .context("locking memory (mlockall); --no-mlock runs without")?;
    }
    let running = line::start(&config).context("starting the delay line")?;
    println!(
        "{READY_LINE} a={} b={} delay={:?} jitter={:?} loss={} spin={:?}",
        config.a,
        config.b,
        config.impairment.delay,
        config.impairment.jitter,
        config.impairment.loss,
        config.spin
    );
    // SIGUSR1 prints the counters; SIGTERM or SIGINT ends the loop.
    while signals.wait().context("waiting for signals")? == Signal::SIGUSR1 {
        println!("{}", running.report());
    }
    let mut report = running.stop().context("stopping the delay line")?;
    report["major_faults"] = major_faults().into();
    println!("{report}");
    Ok(())
}

/// Major page faults of this process so far (`/proc/self/stat`, field 12),
/// each a stall of the thread that took it.
fn major_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(9)?.parse().ok()
}
