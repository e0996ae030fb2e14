//! Threads that live in a lab namespace: a socket opened by such a thread
//! belongs to that namespace for good, so probes, TCP streams, netlink
//! monitors and frame senders run inside the lab's namespaces without a
//! helper binary (`setns(2)` affects only the calling thread).

use std::fs::File;
use std::path::Path;
use std::thread::JoinHandle;

use nix::sched::{CloneFlags, setns};

use crate::error::{Error, Result};

/// Moves the calling thread into network namespace `netns` (a name under
/// `/run/netns`). Call it only on a thread of its own.
pub fn enter(netns: &str) -> Result<()> {
    let path = Path::new("/run/netns").join(netns);
    let file = File::open(&path).map_err(|e| Error::io("opening namespace", &path, e))?;
    setns(&file, CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::io("entering namespace", &path, e.into()))
}

/// Runs `body` on a new thread inside `netns`.
pub fn spawn<T, F>(netns: &str, name: &str, body: F) -> Result<JoinHandle<Result<T>>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let netns = netns.to_string();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            enter(&netns)?;
            body()
        })
        .map_err(|e| Error::io("starting a thread for", name.to_string(), e))
}

/// Runs `body` inside `netns` and waits for it.
pub fn run<T, F>(netns: &str, body: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    spawn(netns, "lab-netns", body)?
        .join()
        .map_err(|_| Error::Config(format!("a thread inside {netns} panicked")))?
}
