//! What the BFD benchmark binaries (bench-bfd-detect, bench-bfd-cpu,
//! bench-bfd-soak) share: percentiles, the machine's description,
//! `hr-speakerd`'s control socket and BFD snapshot sums. BIRD is polled
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

/// Each thread of `pid` as `name (policy, rtprio, nice)` from
/// `/proc/<pid>/task/*/stat`: policy 0 is SCHED_OTHER, 1 SCHED_FIFO.
pub fn threads(pid: u32) -> String {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return "?".into();
    };
    let mut out = Vec::new();
    for task in tasks.flatten() {
        let path = task.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("?");
        let policy = match field(38) {
            "0" => "other",
            "1" => "fifo",
            "2" => "rr",
            other => other,
        };
        out.push(format!(
            "{} ({policy}, rtprio {}, nice {})",
            comm.trim(),
            field(37),
            field(16)
        ));
    }
    out.sort();
    out.join("; ")
}

/// The machine's CPU time so far, in ms, from the first line of
/// `/proc/stat`: (softirq, steal). Steal is time the hypervisor ran
/// something else on our virtual CPUs: nothing inside can run then.
pub fn cpu_stat() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // USER_HZ 100: ticks of 10 ms.
    let ms = |i: usize| fields.get(i).copied().unwrap_or(0) * 10;
    (ms(6), ms(7))
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

/// BFD sessions summed from `show bfd` snapshots (the JSON of
/// `speaker::bfd::SessionSnapshot`, from `hr-speakerd {"cmd":"bfd"}` or a
/// `BfdHandle`): how many are Up, transitions out of Up, and the gaps
/// between packets received while Up (`counters.rx_gaps`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BfdSide {
    pub sessions: usize,
    pub up: usize,
    pub down_transitions: u64,
    /// Gap counts by whole milliseconds, every session together.
    pub gaps_ms: std::collections::BTreeMap<u64, u64>,
    /// The longest gap of any session, microseconds.
    pub gap_max_us: u64,
}

impl BfdSide {
    /// Sums the snapshots in `sessions` (a JSON array).
    pub fn of(sessions: &Value) -> Result<BfdSide> {
        let list = sessions
            .as_array()
            .ok_or_else(|| Error::parse("BFD snapshot", "not an array"))?;
        let mut side = BfdSide::default();
        for s in list {
            side.add(s)?;
        }
        Ok(side)
    }

    /// Adds one session's snapshot.
    pub fn add(&mut self, session: &Value) -> Result<()> {
        let field = |path: &str| {
            session
                .pointer(path)
                .ok_or_else(|| Error::parse("BFD snapshot", format!("no {path}")))
        };
        self.sessions += 1;
        if field("/liveness/state")?.as_str() == Some("up") {
            self.up += 1;
        }
        self.down_transitions += field("/counters/down_transitions")?.as_u64().unwrap_or(0);
        let max = field("/counters/rx_gaps/max_us")?.as_u64().unwrap_or(0);
        self.gap_max_us = self.gap_max_us.max(max);
        if let Some(buckets) = field("/counters/rx_gaps/ms")?.as_object() {
            for (ms, n) in buckets {
                let ms: u64 = ms
                    .parse()
                    .map_err(|_| Error::parse("BFD snapshot", format!("gap bucket {ms:?}")))?;
                *self.gaps_ms.entry(ms).or_default() += n.as_u64().unwrap_or(0);
            }
        }
        Ok(())
    }

    /// Gaps counted.
    pub fn gaps(&self) -> u64 {
        self.gaps_ms.values().sum()
    }

    /// Gaps of at least `ms` milliseconds (whole buckets).
    pub fn gaps_at_least(&self, ms: u64) -> u64 {
        self.gaps_ms.range(ms..).map(|(_, n)| n).sum()
    }

    /// The upper edge of the bucket holding the `p` quantile (0 to 1),
    /// nearest rank, never above the maximum; `None` without gaps.
    pub fn gap_quantile(&self, p: f64) -> Option<Duration> {
        let count = self.gaps();
        if count == 0 {
            return None;
        }
        let rank = ((p * count as f64).ceil() as u64).clamp(1, count);
        let max = Duration::from_micros(self.gap_max_us);
        let mut seen = 0;
        for (ms, n) in &self.gaps_ms {
            seen += n;
            if seen >= rank {
                return Some(Duration::from_millis(ms + 1).min(max));
            }
        }
        Some(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bfd_sides_sum_sessions_and_their_gap_buckets() {
        let snapshot = serde_json::json!([
            {"liveness": {"state": "up"}, "counters": {"down_transitions": 0,
              "rx_gaps": {"max_us": 9_800, "count": 100, "ms": {"8": 60, "9": 40}}}},
            {"liveness": {"state": "down", "diag": "control_detection_time_expired"},
              "counters": {"down_transitions": 2,
              "rx_gaps": {"max_us": 31_200, "count": 100, "ms": {"8": 99, "31": 1}}}}
        ]);
        let side = BfdSide::of(&snapshot).unwrap();
        assert_eq!((side.sessions, side.up, side.down_transitions), (2, 1, 2));
        assert_eq!(side.gaps(), 200);
        assert_eq!(side.gaps_at_least(30), 1);
        assert_eq!(side.gap_max_us, 31_200);
        assert_eq!(side.gap_quantile(0.5), Some(Duration::from_millis(9)));
        assert_eq!(side.gap_quantile(0.99), Some(Duration::from_millis(10)));
        assert_eq!(side.gap_quantile(1.0), Some(Duration::from_micros(31_200)));
        assert!(BfdSide::of(&serde_json::json!([{"liveness": {}}])).is_err());
    }

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

    #[test]
    fn this_process_threads_show_their_scheduling() {
        let threads = threads(std::process::id());
        assert!(threads.contains("(other, rtprio 0, nice "), "{threads}");
    }
}
