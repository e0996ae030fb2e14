//! The `lab` command's work, one function per subcommand (the binary only
//! parses arguments).
//!
//! ```text
//!   lab up        ─spawns─> lab up --foreground   (owner: holds the guards,
//!                             │                   state file, control socket)
//!   lab migrate   ──JSON over /run/hostroute-lab/<name>.sock──> owner
//!   lab status / exec  ──read /run/hostroute-lab/<name>.json
//!   lab down      ──SIGTERM to the owner (its guards clean up); if the owner
//!                   is gone: state::force_teardown
//!   Ctrl-C / SIGTERM in any owner: the same clean-up before exiting
//! ```

pub mod control;
pub mod signals;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::demo::{self, DemoOptions};
use crate::error::{Error, Result};
use crate::run::Lab;
use crate::scenario::{Deployment, Mode};
use crate::state::{self, LabState, Recorder};
use crate::topology::Topology;

/// How long `lab up` waits for the owner to report the lab up.
const UP_TIMEOUT: Duration = Duration::from_secs(90);
/// How long `lab down` waits for the owner to clean up.
const DOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// Refuses clearly without root.
pub fn require_root() -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::Config(
            "the lab creates network namespaces and needs root: run it with sudo".into(),
        ));
    }
    Ok(())
}

/// The topology from a file, or the built-in default.
pub fn load_topology(path: Option<&Path>) -> Result<Topology> {
    match path {
        Some(path) => Topology::load(path),
        None => Ok(Topology::default_demo()),
    }
}

/// `lab up`: starts an owner process in the background and waits until the
/// lab is up.
pub fn up_detached(topology: Option<&Path>, mode: Mode) -> Result<LabState> {
    let topo = load_topology(topology)?;
    let log = Path::new(state::STATE_DIR).join(format!("{}.log", topo.name));
    std::fs::create_dir_all(state::STATE_DIR)
        .map_err(|e| Error::io("creating", state::STATE_DIR, e))?;
    let file = std::fs::File::create(&log).map_err(|e| Error::io("creating", &log, e))?;
    let err = file
        .try_clone()
        .map_err(|e| Error::io("duplicating", &log, e))?;
    let exe = std::env::current_exe().map_err(|e| Error::io("locating", "current_exe", e))?;
    let mut command = Command::new(exe);
    command.args(["up", "--foreground", "--mode", mode.as_str()]);
    if let Some(path) = topology {
        command.arg(path);
    }
    // Its own process group: a Ctrl-C in this shell does not reach it.
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err)
        .spawn()
        .map_err(|source| Error::Spawn {
            command: "lab up --foreground".into(),
            source,
        })?;
    let path = state::state_path(&topo.name);
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Error::Exited {
                command: "lab up --foreground".into(),
                status: status.to_string(),
                log_tail: tail(&text, 20),
            });
        }
        if let Ok(s) = state::read(&path)
            && s.owner_pid == child.id()
            && s.status == "up"
        {
            return Ok(s);
        }
        if start.elapsed() > UP_TIMEOUT {
            return Err(Error::Timeout {
                what: format!("lab {} to come up (log: {})", topo.name, log.display()),
                after: UP_TIMEOUT,
                last_error: None,
            });
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `lab up --foreground`: brings the lab up and holds it until SIGINT,
/// SIGTERM or `lab down`, serving `lab migrate` on the control socket.
pub fn up_foreground(topology: Option<&Path>, mode: Mode) -> Result<()> {
    let topo = load_topology(topology)?;
    let stop = signals::stop_flag()?;
    let lab = Lab::new(&format!("up-{}", topo.name))?;
    let recorder = Recorder::create(&topo.name, mode.as_str(), lab.dir())?;
    let result = (|| {
        let mut deployment = Deployment::up(&lab, &topo, mode, recorder.clone())?;
        eprintln!(
            "lab {}: up in {} mode; `lab status`, `lab exec <node> -- <cmd>`, `lab migrate <vm> <hv>`, `lab down`",
            topo.name,
            mode.as_str()
        );
        control::serve(&topo.name, &mut deployment, &stop)
    })();
    recorder.update(|s| s.status = "stopping".into()).ok();
    if result.is_err() {
        lab.keep();
    }
    // The deployment has dropped (namespaces, processes gone); now the file.
    recorder.remove();
    result
}

/// Picks the lab to act on: `name`, or the only one.
pub fn pick(name: Option<&str>) -> Result<LabState> {
    if let Some(name) = name {
        return state::read(&state::state_path(name))
            .map_err(|_| Error::Config(format!("no lab named {name:?} (see `lab status`)")));
    }
    let mut labs = state::list()?;
    match labs.len() {
        0 => Err(Error::Config("no lab is up (`lab up` starts one)".into())),
        1 => Ok(labs.remove(0)),
        _ => Err(Error::Config(format!(
            "several labs are up ({}); name one with --name",
            labs.iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// `lab down`: asks the owner to stop; removes what is recorded if it is
/// gone or does not finish in time.
pub fn down(name: Option<&str>) -> Result<Vec<String>> {
    let lab = pick(name)?;
    let path = state::state_path(&lab.name);
    if state::owner_alive(&lab) {
        crate::process::run_command(Command::new("kill").args([
            "-s",
            "TERM",
            &lab.owner_pid.to_string(),
        ]))?;
        let start = Instant::now();
        while start.elapsed() < DOWN_TIMEOUT {
            if !path.exists() && !state::owner_alive(&lab) {
                return Ok(vec![format!(
                    "lab {}: owner (pid {}) removed everything",
                    lab.name, lab.owner_pid
                )]);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(state::force_teardown(&lab))
}

/// `lab status`: every lab, or one.
pub fn status(name: Option<&str>) -> Result<String> {
    let labs = match name {
        Some(_) => vec![pick(name)?],
        None => state::list()?,
    };
    if labs.is_empty() {
        return Ok("no lab is up\n".into());
    }
    let mut out = String::new();
    for lab in labs {
        let alive = state::owner_alive(&lab) || lab.owner_pid == std::process::id();
        out.push_str(&format!(
            "lab {} ({} mode, {}), owner pid {}{}\n  run directory {}\n",
            lab.name,
            lab.mode,
            lab.status,
            lab.owner_pid,
            if alive {
                ""
            } else {
                " (GONE: `lab down` removes the rest)"
            },
            lab.run_dir.display()
        ));
        for (node, ns) in &lab.nodes {
            out.push_str(&format!("  {node:<10} netns {ns}\n"));
        }
        for (k, v) in &lab.info {
            out.push_str(&format!("  {k}: {v}\n"));
        }
        let running = lab
            .pids
            .iter()
            .filter(|p| Path::new(&format!("/proc/{p}")).exists())
            .count();
        out.push_str(&format!(
            "  processes: {running} of {} running\n",
            lab.pids.len()
        ));
    }
    Ok(out)
}

/// `lab exec <node> -- <cmd>`: runs the command inside the node's
/// namespace with the terminal attached; returns its exit code.
pub fn exec(name: Option<&str>, node: &str, command: &[String]) -> Result<i32> {
    let lab = pick(name)?;
    let ns = lab.nodes.get(node).ok_or_else(|| {
        Error::Config(format!(
            "no node {node:?} in lab {} (nodes: {})",
            lab.name,
            lab.nodes.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let (program, args) = command
        .split_first()
        .ok_or_else(|| Error::Config("nothing to run: `lab exec <node> -- <cmd>`".into()))?;
    let status = Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .status()
        .map_err(|source| Error::Spawn {
            command: format!("ip netns exec {ns} {program}"),
            source,
        })?;
    Ok(status.code().unwrap_or(1))
}

/// `lab migrate`: asks the owner to move a VM.
pub fn migrate(name: Option<&str>, vm: &str, to: &str, blackout_ms: u64) -> Result<String> {
    let lab = pick(name)?;
    control::request(
        &lab.name,
        &serde_json::json!({"cmd": "migrate", "vm": vm, "to": to, "blackout_ms": blackout_ms}),
    )
    .map(|v| serde_json::to_string_pretty(&v).unwrap_or_default())
}

/// `lab demo`: both modes, the table, and where the files are.
pub fn demo(
    topology: Option<&Path>,
    out: &Path,
    tweak: impl FnOnce(&mut DemoOptions),
) -> Result<String> {
    let topo = load_topology(topology)?;
    let mut options = DemoOptions::for_topology(&topo)?;
    tweak(&mut options);
    signals::cleanup_on_signal()?;
    let report = demo::run(&topo, &options, out)?;
    let mut text = demo::table(&report);
    if !report.results.iter().all(|r| r.wan_delays_applied) {
        text.push_str(
            "\nNote: the WAN links are plain veth pairs without delay (no netem here and the \
             userspace delay line is not wired in yet), so RTTs show hops and VXLAN, not the \
             topology's 20 ms / 1 ms delays.\n",
        );
    }
    text.push_str(&format!(
        "\nmeasurements: {}\nRTT plot:     {}\n({:.0} s)\n",
        report.json.display(),
        report.svg.display(),
        report.seconds
    ));
    Ok(text)
}

/// The default output directory of `lab demo`.
pub fn default_out() -> PathBuf {
    PathBuf::from("target/lab-demo")
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
