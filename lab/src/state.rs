//! What a running lab leaves for other processes: one JSON file per lab in
//! `/run/hostroute-lab/<name>.json`, written as each namespace and process
//! is created, so `lab status`, `lab exec` and `lab down` work from another
//! shell, and a lab whose owner was killed can still be removed.
//!
//! `lab down` removes exactly what the file records: it asks the owner to
//! stop (SIGTERM to the recorded owner PID), and if the owner is gone, kills
//! the recorded PIDs and whatever still runs inside the recorded namespaces
//! (all created for this lab, so only the lab's processes can be there),
//! then deletes those namespaces. Nothing is ever killed by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::process::output_of;

/// Where state files live.
pub const STATE_DIR: &str = "/run/hostroute-lab";

/// A lab's state file contents.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LabState {
    pub name: String,
    /// The process that owns the lab (its guards clean up when it exits).
    pub owner_pid: u32,
    /// "starting", "up", "stopping".
    pub status: String,
    /// "hostroute" or "l2-stretch".
    pub mode: String,
    pub run_dir: PathBuf,
    /// Topology node -> namespace name.
    pub nodes: BTreeMap<String, String>,
    /// Namespaces without a topology node (delay lines).
    pub extra_namespaces: Vec<String>,
    /// Processes started for the lab (daemons, speakers).
    pub pids: Vec<u32>,
    /// Free-form facts for `lab status` (link addresses, VM locations).
    pub info: BTreeMap<String, String>,
}

/// A state file kept current by the lab that owns it; removed on drop.
#[derive(Clone)]
pub struct Recorder {
    inner: Arc<Mutex<(PathBuf, LabState)>>,
}

impl Recorder {
    /// Creates `<STATE_DIR>/<name>.json`; refuses if another live lab of
    /// that name exists.
    pub fn create(name: &str, mode: &str, run_dir: &Path) -> Result<Recorder> {
        let dir = Path::new(STATE_DIR);
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        let path = state_path(name);
        if let Ok(existing) = read(&path) {
            if Path::new(&format!("/proc/{}", existing.owner_pid)).exists() {
                return Err(Error::Config(format!(
                    "lab {name:?} is already up (owner pid {}); run `lab down --name {name}` first",
                    existing.owner_pid
                )));
            }
            // A lab whose owner died: remove what it left before reusing
            // the name.
            for line in force_teardown(&existing) {
                eprintln!("lab {name}: left by a dead owner: {line}");
            }
        }
        let state = LabState {
            name: name.to_string(),
            owner_pid: std::process::id(),
            status: "starting".into(),
            mode: mode.into(),
            run_dir: run_dir.to_path_buf(),
            ..LabState::default()
        };
        let recorder = Recorder {
            inner: Arc::new(Mutex::new((path, state))),
        };
        recorder.update(|_| {})?;
        Ok(recorder)
    }

    /// Changes the state and writes the file (atomically: write, rename).
    pub fn update(&self, change: impl FnOnce(&mut LabState)) -> Result<()> {
        let mut guard = self
            .inner
            .lock()
            .map_err(|_| Error::Config("state recorder poisoned".into()))?;
        let (path, state) = &mut *guard;
        change(state);
        let text = serde_json::to_string_pretty(state).map_err(|e| Error::parse("lab state", e))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(|e| Error::io("writing", &tmp, e))?;
        std::fs::rename(&tmp, &*path).map_err(|e| Error::io("renaming", &*path, e))
    }

    /// A copy of the state.
    pub fn snapshot(&self) -> LabState {
        self.inner.lock().map(|g| g.1.clone()).unwrap_or_default()
    }

    /// Removes the state file (the lab is gone).
    pub fn remove(&self) {
        if let Ok(guard) = self.inner.lock() {
            let _ = std::fs::remove_file(&guard.0);
        }
    }
}

/// `<STATE_DIR>/<name>.json`.
pub fn state_path(name: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{name}.json"))
}

/// Reads a state file.
pub fn read(path: &Path) -> Result<LabState> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("reading", path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::parse(path.display().to_string(), e))
}

/// Every lab with a state file.
pub fn list() -> Result<Vec<LabState>> {
    let dir = Path::new(STATE_DIR);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut labs = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Ok(state) = read(&path)
        {
            labs.push(state);
        }
    }
    labs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(labs)
}

/// Whether the lab's owner process still runs.
pub fn owner_alive(state: &LabState) -> bool {
    state.owner_pid != std::process::id()
        && Path::new(&format!("/proc/{}", state.owner_pid)).exists()
}

/// Removes what `state` records, without its owner: kills the recorded
/// PIDs and everything inside the recorded namespaces, deletes the
/// namespaces and the state file. Returns what it removed, for the user.
pub fn force_teardown(state: &LabState) -> Vec<String> {
    let mut done = Vec::new();
    let namespaces: Vec<&String> = state
        .nodes
        .values()
        .chain(state.extra_namespaces.iter())
        .collect();
    let mut pids: Vec<u32> = state.pids.clone();
    for ns in &namespaces {
        if let Ok(out) = output_of(Command::new("ip").args(["netns", "pids", ns])) {
            pids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    pids.sort_unstable();
    pids.dedup();
    for pid in pids {
        if pid == std::process::id() || !Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let _ = output_of(Command::new("kill").args(["-s", "KILL", &pid.to_string()]));
        done.push(format!("killed pid {pid}"));
    }
    for ns in namespaces {
        if let Ok(out) = output_of(Command::new("ip").args(["netns", "del", ns]))
            && out.status.success()
        {
            done.push(format!("deleted namespace {ns}"));
        }
    }
    let _ = std::fs::remove_file(state_path(&state.name));
    done
}
