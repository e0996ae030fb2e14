//! What the BFD benchmark binaries (bench-bfd-detect, bench-bfd-cpu) share: percentiles, the
//! machine's description and `hr-speakerd`'s control socket. BIRD is polled
//! through `lab::peers::bird::BirdCli`.
//!
//! ```text
//!   bench-bfd-detect / bench-bfd-cpu (root netns, one monotonic clock)
//!     ├── request(control.sock)   one JSON line per connection (hr-speakerd)
//!     ├── peers::bird::BirdCli    one long-lived connection, BIRD's CLI protocol
//!     └── /proc/<pid>/stat        utime + stime of the daemons
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

/// p50, p99 and max of a sample (nearest rank).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub n: usize,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Stats {
    /// `None` for an empty sample.
    pub fn of(sample: &[Duration]) -> Option<Stats> {
        let mut sorted = sample.to_vec();
        sorted.sort();
        let rank = |p: f64| {
            let r = (p * sorted.len() as f64).ceil() as usize;
            sorted.get(r.saturating_sub(1)).copied()
        };
        Some(Stats {
            n: sorted.len(),
            p50: rank(0.50)?,
            p99: rank(0.99)?,
            max: *sorted.last()?,
        })
    }
}

/// Milliseconds with two decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// `nproc`, CPU model, kernel and load average, one line.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "nproc {cpus}, CPU {model}, kernel {}, load average {}",
        kernel.trim(),
        load_average()
    )
}

/// The three load averages of `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// utime + stime of `pid` (all its threads), from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    // The command name (field 2) may hold spaces: count from its ')'.
    let after = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| Error::parse(&path, "no ')'"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 overall are 12 and 13 after the name.
    let tick = |i: usize| -> Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| Error::parse(&path, format!("field {}", i + 3)))
    };
    let ticks = tick(11)? + tick(12)?;
    // USER_HZ is 100 on every Linux the lab runs on.
    Ok(Duration::from_millis(ticks * 10))
}

/// Where `hr-speakerd` is: `$HR_SPEAKERD`, or beside the running binary
/// (Cargo puts both in the same target directory).
pub fn speakerd_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HR_SPEAKERD") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("locating", "current_exe", e))?;
    let path = exe.with_file_name("hr-speakerd");
    if path.exists() {
        Ok(path)
    } else {
        Err(Error::Config(format!(
            "{} not found: run `cargo build --release -p hostroute-tests --bin hr-speakerd` first, or set HR_SPEAKERD",
            path.display()
        )))
    }
}

/// Sends one request line to `hr-speakerd` and returns the `ok` value.
pub fn request(socket: &Path, request: &Value, timeout: Duration) -> Result<Value> {
    let io = |e| Error::io("talking to", socket, e);
    let mut stream = UnixStream::connect(socket).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(io)?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(io)?;
    let reply: Value =
        serde_json::from_str(&line).map_err(|e| Error::parse("hr-speakerd reply", e))?;
    match (reply.get("ok"), reply.get("error")) {
        (Some(ok), _) => Ok(ok.clone()),
        (_, Some(e)) => Err(Error::Config(format!("hr-speakerd refused {request}: {e}"))),
        _ => Err(Error::parse("hr-speakerd reply", line)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let sample: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let s = Stats::of(&sample).unwrap();
        assert_eq!(
            (s.n, s.p50, s.p99, s.max),
            (
                100,
                Duration::from_millis(50),
                Duration::from_millis(99),
                Duration::from_millis(100)
            )
        );
        assert_eq!(Stats::of(&[]), None);
    }

    #[test]
    fn cpu_time_of_self_is_readable() {
        assert!(cpu_time(std::process::id()).is_ok());
    }
}
