//! Processes the lab starts, bounded waits, and running commands with errors
//! that name the command.
//!
//! A [`Child`] is stopped by its PID when dropped: SIGTERM, then SIGKILL if
//! it has not exited after a bounded grace period. Its PID cannot be reused
//! before that, because the guard has not reaped it yet. Signals are sent
//! with `kill(1)` so the lab needs no `unsafe`.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::run::Lab;

/// How long a child gets to exit after SIGTERM before SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// How often a stopping child is checked.
const STOP_POLL: Duration = Duration::from_millis(20);

/// Longest stderr kept in a [`Error::Command`].
const STDERR_MAX: usize = 2000;

/// A signal the lab sends to its own children.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Kill,
    Hup,
    Int,
    /// Freeze the process (a hung peer); [`Signal::Cont`] resumes it.
    Stop,
    Cont,
    Usr1,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Term => "TERM",
            Signal::Kill => "KILL",
            Signal::Hup => "HUP",
            Signal::Int => "INT",
            Signal::Stop => "STOP",
            Signal::Cont => "CONT",
            Signal::Usr1 => "USR1",
        }
    }
}

/// A process started by the lab; stopped by PID when dropped.
///
/// stdout and stderr go to `<run dir>/<name>.log`.
pub struct Child {
    name: String,
    command: String,
    pid: u32,
    child: std::process::Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
    _lab: Lab,
}

impl Child {
    /// Starts `command` with stdin from /dev/null and stdout and stderr
    /// appended to a new log file named after `name` in the run directory.
    pub fn spawn(lab: &Lab, name: &str, mut command: Command) -> Result<Child> {
        let (log, file) = new_log(lab.dir(), name)?;
        let err = file
            .try_clone()
            .map_err(|e| Error::io("duplicating log file", &log, e))?;
        let display = command_line(&command);
        command.stdin(Stdio::null()).stdout(file).stderr(err);
        let child = command.spawn().map_err(|source| Error::Spawn {
            command: display.clone(),
            source,
        })?;
        tracing::debug!(pid = child.id(), name, command = %command_line(&command), "lab: started");
        Ok(Child {
            name: name.to_string(),
            command: display,
            pid: child.id(),
            child,
            log,
            exited: None,
            _lab: lab.clone(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The name the child was started under (its log is `<name>.log`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The command line, for messages.
    pub fn command(&self) -> &str {
        &self.command
    }

    /// Where stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The log so far (empty if unreadable).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Whether the process is still running (reaps it if it has exited).
    pub fn is_running(&mut self) -> Result<bool> {
        if self.exited.is_some() {
            return Ok(false);
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.exited = Some(status);
                Ok(false)
            }
            Ok(None) => Ok(true),
            Err(e) => Err(Error::io("checking process", &self.log, e)),
        }
    }

    /// An error saying the child exited, with the end of its log; for
    /// daemons that die during start-up.
    pub fn exited_error(&mut self) -> Option<Error> {
        if self.is_running().unwrap_or(true) {
            return None;
        }
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Some(Error::Exited {
            command: self.command.clone(),
            status: self
                .exited
                .map_or_else(|| "exited".to_string(), |s| s.to_string()),
            log_tail: tail.join("\n"),
        })
    }

    /// Sends `signal` to the process (by PID). Does nothing once it exited.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        if !self.is_running()? {
            return Ok(());
        }
        let mut kill = Command::new("kill");
        kill.args(["-s", signal.name(), &self.pid.to_string()]);
        run_command(&mut kill).map(drop)
    }

    /// Stops the process: SIGTERM, then SIGKILL after [`STOP_GRACE`].
    /// Returns how it exited.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(status) = self.exited {
            return Ok(status);
        }
        // A frozen process would ignore SIGTERM until resumed.
        self.signal(Signal::Cont)?;
        self.signal(Signal::Term)?;
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if !self.is_running()? {
                break;
            }
            std::thread::sleep(STOP_POLL);
        }
        if self.is_running()? {
            tracing::warn!(pid = self.pid, name = %self.name, "lab: no exit after SIGTERM; SIGKILL");
            self.child
                .kill()
                .map_err(|e| Error::io("killing process of", &self.log, e))?;
        }
        let status = self
            .child
            .wait()
            .map_err(|e| Error::io("waiting for process of", &self.log, e))?;
        self.exited = Some(status);
        Ok(status)
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("lab: stopping {} (pid {}): {e}", self.name, self.pid);
        }
    }
}

impl std::fmt::Debug for Child {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Child")
            .field("name", &self.name)
            .field("pid", &self.pid)
            .field("log", &self.log)
            .finish()
    }
}

/// Opens `<dir>/<name>.log`, or `<name>-2.log`, ... if taken.
fn new_log(dir: &Path, name: &str) -> Result<(PathBuf, File)> {
    for n in 1..1000 {
        let file_name = if n == 1 {
            format!("{name}.log")
        } else {
            format!("{name}-{n}.log")
        };
        let path = dir.join(file_name);
        match OpenOptions::new().append(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io("creating log", path, e)),
        }
    }
    Err(Error::Config(format!(
        "too many logs named {name} in {}",
        dir.display()
    )))
}

/// Polls `check` every `poll` until it returns `Ok(true)`, for at most
/// `timeout` (and so at most `timeout / poll + 1` times). Errors from
/// `check` count as "not yet" (daemons refuse queries while starting); the
/// last one is reported if time runs out. [`Error::Exited`] ends the wait
/// at once: a dead daemon will not come up.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    poll: Duration,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let mut last_error = None;
    loop {
        match check() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e @ Error::Exited { .. }) => return Err(e),
            Err(e) => last_error = Some(e.to_string()),
        }
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(Error::Timeout {
                what: what.to_string(),
                after: timeout,
                last_error,
            });
        }
        std::thread::sleep(poll.min(timeout - elapsed));
    }
}

/// `program arg arg ...` for messages.
pub fn command_line(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&arg.to_string_lossy());
    }
    line
}

/// Runs `command` to completion; `Ok(stdout)` if it succeeded, otherwise an
/// error naming the command, its exit status and stderr.
pub fn run_command(command: &mut Command) -> Result<String> {
    let output = output_of(command)?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(command_error(command, &output))
}

/// Runs `command` to completion and returns its output, whatever its status.
pub fn output_of(command: &mut Command) -> Result<Output> {
    command.stdin(Stdio::null());
    command.output().map_err(|source| Error::Spawn {
        command: command_line(command),
        source,
    })
}

pub(crate) fn command_error(command: &Command, output: &Output) -> Error {
    let mut stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    if stderr.is_empty() {
        stderr = String::from_utf8_lossy(&output.stdout).trim().to_string();
    }
    if stderr.len() > STDERR_MAX {
        let mut cut = stderr.len() - STDERR_MAX;
        while !stderr.is_char_boundary(cut) {
            cut += 1;
        }
        stderr = format!("...{}", &stderr[cut..]);
    }
    Error::Command {
        command: command_line(command),
        status: output.status.to_string(),
        stderr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_until_is_bounded_and_reports_the_last_error() {
        let mut calls = 0;
        let err = wait_until(
            "never",
            Duration::from_millis(50),
            Duration::from_millis(10),
            || {
                calls += 1;
                Err(Error::Config(format!("attempt {calls}")))
            },
        )
        .unwrap_err();
        assert!((2..=7).contains(&calls), "{calls}");
        let text = err.to_string();
        assert!(text.contains("never") && text.contains("attempt"), "{text}");
    }

    #[test]
    fn wait_until_returns_once_true() {
        let mut n = 0;
        wait_until(
            "third",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                Ok(n == 3)
            },
        )
        .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn failed_command_names_itself() {
        let err = run_command(Command::new("sh").args(["-c", "echo oops >&2; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sh -c") && err.contains("oops"), "{err}");
    }

    #[test]
    fn child_is_stopped_on_drop_and_logs_stay() {
        let lab = Lab::new("child").unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; exec sleep 30"]);
        let mut child = Child::spawn(&lab, "sleeper", cmd).unwrap();
        let pid = child.pid();
        wait_until(
            "log",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || Ok(child.log().contains("started")),
        )
        .unwrap();
        assert!(child.is_running().unwrap());
        drop(child);
        assert!(!Path::new(&format!("/proc/{pid}")).exists());
    }
}
