//! One lab run: a process-unique id and a temporary directory that holds
//! every configuration file, socket and log of the run.
//!
//! The directory is removed when the last handle to the run goes away, unless
//! the run failed: during a panic, or after [`Lab::keep`] (which
//! [`Lab::run`] calls when its closure returns an error), it stays, and its
//! path and the tail of every log in it are printed, so a CI failure shows
//! the daemons' side of the story.

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Lines of each log printed when a failed run keeps its directory.
const LOG_TAIL_LINES: usize = 40;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call: `hr-<pid>-<counter>-<label>`.
///
/// Namespaces, run directories and FRR path spaces all take their names from
/// here, so test functions running in parallel threads (or parallel test
/// binaries) never collide. Characters other than ASCII letters, digits, `-`
/// and `_` in `label` become `-`.
pub fn unique_name(label: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("hr-{}-{n}-{label}", std::process::id())
}

/// A lab run. Cheap to clone: namespaces and processes hold a clone, so the
/// directory outlives every log writer.
#[derive(Clone)]
pub struct Lab {
    inner: Arc<Inner>,
}

struct Inner {
    id: String,
    dir: PathBuf,
    keep: AtomicBool,
}

impl Lab {
    /// Starts a run: creates `$TMPDIR/hr-<pid>-<n>-<label>/`.
    pub fn new(label: &str) -> Result<Lab> {
        let id = unique_name(label);
        let dir = std::env::temp_dir().join(&id);
        std::fs::create_dir(&dir).map_err(|e| Error::io("creating run directory", &dir, e))?;
        Ok(Lab {
            inner: Arc::new(Inner {
                id,
                dir,
                keep: AtomicBool::new(false),
            }),
        })
    }

    /// Runs `body` in a fresh lab and keeps the run directory if it fails
    /// (returns an error or panics). Guards created inside `body` are dropped
    /// (namespaces deleted, processes stopped) before this returns.
    pub fn run<T, E>(label: &str, body: impl FnOnce(&Lab) -> Result<T, E>) -> Result<T, E>
    where
        E: From<Error> + Display,
    {
        let lab = Lab::new(label)?;
        let result = body(&lab);
        if let Err(e) = &result {
            eprintln!("lab {}: failed: {e}", lab.id());
            lab.keep();
        }
        result
    }

    /// The run's unique id (`hr-<pid>-<n>-<label>`).
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Creates (if needed) and returns a subdirectory of the run directory.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let path = self.inner.dir.join(name);
        std::fs::create_dir_all(&path).map_err(|e| Error::io("creating directory", &path, e))?;
        Ok(path)
    }

    /// Keeps the run directory when the run ends (it is printed then).
    pub fn keep(&self) {
        self.inner.keep.store(true, Ordering::Relaxed);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.keep.load(Ordering::Relaxed) || std::thread::panicking() {
            eprintln!(
                "lab {}: run failed; kept its files in {}",
                self.id,
                self.dir.display()
            );
            print_log_tails(&self.dir);
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!(
                "lab {}: could not remove {}: {e}",
                self.id,
                self.dir.display()
            );
        }
    }
}

/// Prints the end of every `*.log` in `dir` and its direct subdirectories.
fn print_log_tails(dir: &Path) {
    let mut logs = Vec::new();
    let mut dirs = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 1 {
                dirs.push((path, depth + 1));
            } else if path.extension().is_some_and(|e| e == "log" || e == "jsonl") {
                logs.push(path);
            }
        }
    }
    logs.sort();
    for log in logs {
        let Ok(text) = std::fs::read_to_string(&log) else {
            continue;
        };
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(LOG_TAIL_LINES);
        eprintln!(
            "---- {} (last {} lines)",
            log.display(),
            lines.len() - start
        );
        for line in lines.iter().skip(start) {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_are_sanitized() {
        let a = unique_name("a b/c");
        let b = unique_name("a b/c");
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("hr-{}-", std::process::id())));
        assert!(a.ends_with("-a-b-c"), "{a}");
    }

    #[test]
    fn run_directory_is_removed_on_success_and_kept_on_error() {
        let mut ok_dir = PathBuf::new();
        Lab::run("ok", |lab| -> Result<()> {
            ok_dir = lab.dir().to_path_buf();
            std::fs::write(lab.dir().join("x.log"), "hello").map_err(|e| Error::io("w", "x", e))
        })
        .unwrap();
        assert!(!ok_dir.exists());

        let mut kept = PathBuf::new();
        let result = Lab::run("fails", |lab| -> Result<()> {
            kept = lab.dir().to_path_buf();
            Err(Error::Config("on purpose".into()))
        });
        assert!(result.is_err());
        assert!(kept.exists());
        std::fs::remove_dir_all(&kept).unwrap();
    }
}
