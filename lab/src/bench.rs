//! What the benchmarks share: one clock across processes and namespaces,
//! process memory and CPU from `/proc`, percentiles, the machine's
//! description, and the release binaries they drive.
//!
//! Figures are only compared within one run (hostroute beside BIRD), since
//! the machines are shared and noisy.

use std::path::{Path, PathBuf};
use std::process::Command;

use nix::time::{ClockId, clock_gettime};

use crate::error::{Error, Result};
use crate::process::run_command;

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the
/// machine, whatever its namespace, so timestamps taken by a feeder in one
/// namespace and a benchmark in another can be subtracted.
pub fn mono_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        u64::try_from(t.tv_sec()).unwrap_or(0) * 1_000_000_000
            + u64::try_from(t.tv_nsec()).unwrap_or(0)
    })
}

/// One `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn proc_status_kb(pid: u32, field: &str) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| Error::parse(path, format!("no {field}")))
}

/// User plus system CPU time of a process, in seconds (`/proc/<pid>/stat`).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let path = format!("/proc/{pid}/stat");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after ')'.
    let rest = text.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (ticks(11), ticks(12)) {
        // USER_HZ is 100 on every Linux architecture this runs on.
        (Some(u), Some(s)) => Ok((u + s) as f64 / 100.0),
        _ => Err(Error::parse(path, "utime/stime")),
    }
}

/// The `p`-th percentile (0..=100) of sorted `values`, nearest rank.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted
        .get(rank.clamp(1, sorted.len()) - 1)
        .copied()
        .unwrap_or(0)
}

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v.get(n / 2).copied().unwrap_or(0.0),
        n => {
            (v.get(n / 2 - 1).copied().unwrap_or(0.0) + v.get(n / 2).copied().unwrap_or(0.0)) / 2.0
        }
    }
}

/// `nproc`, the CPU model, the kernel and the load average, one line each.
pub fn machine() -> Vec<String> {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    // BIRD prints its version on stderr.
    let bird = crate::process::output_of(Command::new("bird").arg("--version"))
        .map(|o| {
            String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout)
        })
        .unwrap_or_else(|e| e.to_string());
    vec![
        format!("cpus: {cpus} ({model})"),
        format!("kernel: Linux {kernel}"),
        format!("load average at start: {load}"),
        format!("bird: {}", bird.trim()),
    ]
}

/// The workspace root (this crate's parent directory).
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Builds the release binaries `bins` ((package, binary) pairs) with the
/// cargo that runs this benchmark, unless `build` is false, and returns
/// their paths: they sit beside the running benchmark in the target
/// directory.
pub fn release_binaries(bins: &[(&str, &str)], build: bool) -> Result<Vec<PathBuf>> {
    let exe = std::env::current_exe().map_err(|e| Error::io("locating", "current_exe", e))?;
    let dir = exe
        .parent()
        .ok_or_else(|| Error::Config("the benchmark binary has no directory".into()))?
        .to_path_buf();
    if build {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.arg("build")
            .arg("--release")
            .arg("--manifest-path")
            .arg(workspace().join("Cargo.toml"));
        for (package, bin) in bins {
            cmd.args(["-p", package, "--bin", bin]);
        }
        run_command(&mut cmd)?;
    }
    bins.iter()
        .map(|(_, bin)| {
            let path = dir.join(bin);
            if path.exists() {
                Ok(path)
            } else {
                Err(Error::Config(format!(
                    "{} not found: build it with `cargo build --release --bin {bin}`",
                    path.display()
                )))
            }
        })
        .collect()
}

/// Command-line arguments: `--key value` options and `--flag` switches.
#[derive(Debug, Default)]
pub struct Args {
    values: Vec<(String, String)>,
    flags: Vec<String>,
}

impl Args {
    /// Parses `args` (without the program name) against the option and
    /// switch names a binary knows; anything else is an error naming it.
    pub fn parse(
        args: impl IntoIterator<Item = String>,
        options: &[&str],
        switches: &[&str],
    ) -> Result<Args> {
        let mut out = Args::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let name = arg
                .strip_prefix("--")
                .ok_or_else(|| Error::Config(format!("unexpected argument {arg:?}")))?;
            if switches.contains(&name) {
                out.flags.push(name.to_string());
            } else if options.contains(&name) {
                let value = it
                    .next()
                    .ok_or_else(|| Error::Config(format!("--{name} needs a value")))?;
                out.values.push((name.to_string(), value));
            } else {
                return Err(Error::Config(format!(
                    "unknown option --{name}; options: --{}; switches: --{}",
                    options.join(" --"),
                    switches.join(" --")
                )));
            }
        }
        Ok(out)
    }

    /// The last value of `--name`, parsed, if given.
    pub fn opt<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        self.values
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| {
                v.parse()
                    .map_err(|e| Error::Config(format!("--{name} {v:?}: {e}")))
            })
            .transpose()
    }

    /// `--name`, parsed, or `default`.
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        Ok(self.opt(name)?.unwrap_or(default))
    }

    /// `--name` parsed, required.
    pub fn need<T: std::str::FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        self.opt(name)?
            .ok_or_else(|| Error::Config(format!("--{name} is required")))
    }

    /// Whether the switch `--name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn arguments_are_checked_against_known_names() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let args = Args::parse(a(&["--routes", "10", "--fast"]), &["routes"], &["fast"]).unwrap();
        assert_eq!(args.get("routes", 1u32).unwrap(), 10);
        assert!(args.flag("fast"));
        assert_eq!(args.get("reps", 3u32).unwrap(), 3);
        assert!(Args::parse(a(&["--bogus"]), &["routes"], &[]).is_err());
        assert!(Args::parse(a(&["--routes"]), &["routes"], &[]).is_err());
        let bad = Args::parse(a(&["--routes", "x"]), &["routes"], &[]).unwrap();
        assert!(bad.get("routes", 1u32).is_err());
    }

    #[test]
    fn this_process_has_memory_and_a_clock() {
        let pid = std::process::id();
        assert!(proc_status_kb(pid, "VmRSS").unwrap() > 0);
        assert!(proc_status_kb(pid, "VmHWM").unwrap() >= proc_status_kb(pid, "VmRSS").unwrap() / 2);
        assert!(cpu_seconds(pid).is_ok());
        let a = mono_ns();
        assert!(mono_ns() >= a && a > 0);
    }
}
