//! Network namespaces owned by the lab.
//!
//! A [`Netns`] is created with `ip netns add` under a process-unique name
//! ([`crate::unique_name`]) and deleted when dropped. Before deleting it, the
//! guard kills (by PID, SIGKILL) whatever still runs inside: only processes
//! the lab started can be there, since the namespace is new and named for
//! this run. Every namespace starts with `lo` up and forwarding on.

use std::process::{Command, Output};
use std::time::Duration;

use crate::error::Result;
use crate::process::{self, Child, run_command};
use crate::run::{Lab, unique_name};

/// How long a dropped namespace waits for its leftover processes to die.
const LEFTOVER_WAIT: Duration = Duration::from_secs(2);

/// A network namespace, deleted on drop.
pub struct Netns {
    name: String,
    lab: Lab,
}

impl Netns {
    /// Creates `hr-<pid>-<n>-<label>` with `lo` up and IPv4 and IPv6
    /// forwarding on.
    pub fn new(lab: &Lab, label: &str) -> Result<Netns> {
        let name = unique_name(label);
        run_command(Command::new("ip").args(["netns", "add", &name]))?;
        // From here on, Drop deletes it even if the set-up below fails.
        let netns = Netns {
            name,
            lab: lab.clone(),
        };
        netns.ip(&["link", "set", "lo", "up"])?;
        netns.set_forwarding(true)?;
        Ok(netns)
    }

    /// The namespace's name (as `ip netns list` shows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The run this namespace belongs to.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// `ip netns exec <name> <program>`, ready for arguments.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// Runs `program args` inside; `Ok(stdout)` if it succeeded, otherwise an
    /// error naming the command with its status and stderr.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String> {
        run_command(self.command(program).args(args))
    }

    /// Runs `program args` inside and returns its output whatever its status.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        process::output_of(self.command(program).args(args))
    }

    /// Starts `program args` inside as a [`Child`] logging to
    /// `<run dir>/<name>.log`.
    pub fn spawn(&self, name: &str, program: &str, args: &[&str]) -> Result<Child> {
        let mut command = self.command(program);
        command.args(args);
        Child::spawn(&self.lab, name, command)
    }

    /// `ip -n <name> args...` (no process is started inside).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        run_command(Command::new("ip").args(["-n", &self.name]).args(args))
    }

    /// Sets a sysctl inside, e.g. `("net.ipv4.ip_forward", "1")`.
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.run("sysctl", &["-q", "-w", &format!("{key}={value}")])
            .map(drop)
    }

    /// Turns IPv4 and IPv6 forwarding on or off.
    pub fn set_forwarding(&self, on: bool) -> Result<()> {
        let value = if on { "1" } else { "0" };
        self.sysctl("net.ipv4.ip_forward", value)?;
        self.sysctl("net.ipv6.conf.all.forwarding", value)
    }

    /// Runs `f` on a new thread that has entered this namespace (setns(2)
    /// on `/run/netns/<name>`); sockets it opens live here. The thread's
    /// result comes back through the handle, after any error entering.
    pub fn thread<T, E>(
        &self,
        name: &str,
        f: impl FnOnce() -> Result<T, E> + Send + 'static,
    ) -> Result<std::thread::JoinHandle<Result<T, E>>>
    where
        T: Send + 'static,
        E: From<crate::Error> + Send + 'static,
    {
        let path = std::path::PathBuf::from(format!("/run/netns/{}", self.name));
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                let file = std::fs::File::open(&path)
                    .map_err(|e| crate::Error::io("opening", &path, e))?;
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| crate::Error::io("entering (setns)", &path, e.into()))?;
                f()
            })
            .map_err(|e| crate::Error::io("starting a thread for", self.name.clone(), e))
    }

    /// PIDs of the processes running inside.
    pub fn pids(&self) -> Result<Vec<u32>> {
        let out = run_command(Command::new("ip").args(["netns", "pids", &self.name]))?;
        Ok(out
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    /// The source address the namespace would use to reach `dest`.
    pub fn source_for(&self, dest: std::net::IpAddr) -> Result<std::net::IpAddr> {
        let out = self.ip(&["route", "get", &dest.to_string()])?;
        let mut words = out.split_whitespace();
        while let Some(word) = words.next() {
            if word == "src"
                && let Some(src) = words.next().and_then(|s| s.parse().ok())
            {
                return Ok(src);
            }
        }
        Err(crate::Error::parse(
            format!("`ip -n {} route get {dest}`", self.name),
            format!("no src in {out:?}"),
        ))
    }

    fn kill_leftovers(&self) {
        let Ok(pids) = self.pids() else {
            return;
        };
        if pids.is_empty() {
            return;
        }
        eprintln!(
            "lab: namespace {} still runs {pids:?}; killing them",
            self.name
        );
        for pid in &pids {
            let _ = process::output_of(Command::new("kill").args(["-s", "KILL", &pid.to_string()]));
        }
        let _ = process::wait_until(
            "leftover processes to exit",
            LEFTOVER_WAIT,
            Duration::from_millis(20),
            || Ok(self.pids()?.is_empty()),
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_leftovers();
        if let Err(e) = run_command(Command::new("ip").args(["netns", "del", &self.name])) {
            eprintln!("lab: deleting namespace {}: {e}", self.name);
        }
    }
}

impl std::fmt::Debug for Netns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Netns").field(&self.name).finish()
    }
}

/// Names of all namespaces `ip netns list` shows (ours and anyone else's).
pub fn list() -> Result<Vec<String>> {
    let out = run_command(Command::new("ip").args(["netns", "list"]))?;
    Ok(out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect())
}
