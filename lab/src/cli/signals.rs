//! SIGINT and SIGTERM for the lab's owners, without `unsafe`: a thread
//! with a small tokio runtime waits for either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::signal::unix::{SignalKind, signal};

use crate::error::{Error, Result};
use crate::state;

/// Calls `on_signal` (on a thread of its own) at the first SIGINT or
/// SIGTERM.
fn on_signal(on_signal: impl FnOnce() + Send + 'static) -> Result<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("lab-signals".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rt.block_on(async move {
                let (mut int, mut term) = match (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) {
                    (Ok(i), Ok(t)) => (i, t),
                    (Err(e), _) | (_, Err(e)) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                tokio::select! {
                    got = int.recv() => tracing::info!(?got, "lab: SIGINT"),
                    got = term.recv() => tracing::info!(?got, "lab: SIGTERM"),
                }
            });
            on_signal();
        })
        .map_err(|e| Error::io("starting", "the signal thread", e))?;
    ready_rx
        .recv()
        .map_err(|_| Error::Config("the signal thread died".into()))?
        .map_err(|e| Error::Config(format!("installing signal handlers: {e}")))
}

/// A flag set at the first SIGINT or SIGTERM (for owners that stop
/// between steps and let their guards clean up).
pub fn stop_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    on_signal(move || {
        eprintln!("lab: signal received; stopping and cleaning up");
        set.store(true, Ordering::Relaxed);
    })?;
    Ok(flag)
}

/// At the first SIGINT or SIGTERM, removes every lab this process owns
/// (from its state files: recorded PIDs, processes inside its namespaces,
/// the namespaces) and exits with status 130.
pub fn cleanup_on_signal() -> Result<()> {
    on_signal(|| {
        eprintln!("lab: interrupted; removing this run's namespaces and processes");
        let me = std::process::id();
        for lab in state::list().unwrap_or_default() {
            if lab.owner_pid == me {
                for line in state::force_teardown(&lab) {
                    eprintln!("lab: {line}");
                }
            }
        }
        std::process::exit(130);
    })
}
