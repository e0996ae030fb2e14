//! The hypervisor daemon: its owner task ([`controller`]), the start-up
//! order ([`run`]), the control-socket answers ([`requests`]) and the loop
//! that feeds the owner ([`serve`]).
//!
//! One loop, one owner: detector sightings, speaker events, control
//! requests, signals and a one-second tick are taken one at a time and
//! handled to completion by the [`Controller`]. The speaker, its BFD task
//! and the FIB service run on their own tasks.
pub mod controller;
pub mod requests;
pub mod run;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tracing::{error, info, warn};

use crate::config::{self, AgentConfig};
use crate::control::Server;
use controller::Controller;
use requests::Identity;
use run::{DaemonError, Sig, Signals};

/// After a restart, End-of-RIB waits for this long without a sighting...
const EOR_QUIET: Duration = Duration::from_millis(500);
/// ...and never longer than this.
const EOR_LONGEST: Duration = Duration::from_secs(10);

/// How the daemon was started.
#[derive(Debug, Clone)]
pub struct Options {
    /// The configuration file (read again on SIGHUP).
    pub config_path: PathBuf,
    /// On SIGTERM, withdraw everything and delete our kernel routes
    /// instead of keeping them for a graceful restart.
    pub flush_on_exit: bool,
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn serve(options: Options, config: AgentConfig) -> Result<(), DaemonError> {
    let identity = Identity {
        router_id: config.router_id,
        asn: config.asn,
        started: Instant::now(),
    };
    // The socket first: a second daemon on the same socket stops here,
    // before it touches the kernel's routes.
    let (server, mut control) = Server::bind(&config.control_socket)
        .await
        .map_err(|e| DaemonError::Control(e.to_string()))?;
    let server = server.spawn();
    let settings = config.settings();
    let (mut controller, mut inputs) = run::start(settings).await?;
    let mut signals = Signals::install()?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut config = config;
    // A restart holds End-of-RIB back (run::start) until the detectors'
    // first report has been advertised: released once no sighting came
    // for EOR_QUIET, and after EOR_LONGEST at the latest.
    let started = tokio::time::Instant::now();
    let mut eor_pending = inputs.restarting;
    let mut last_sighting = started;
    info!(router_id = %identity.router_id, asn = identity.asn,
        socket = %server.path().display(), "hostroute daemon running");

    loop {
        tokio::select! {
            Some(sighting) = inputs.sightings.recv() => {
                last_sighting = tokio::time::Instant::now();
                controller.sighting(sighting).await;
            }
            () = tokio::time::sleep_until(
                (last_sighting + EOR_QUIET).max(started + EOR_QUIET).min(started + EOR_LONGEST)
            ), if eor_pending => {
                eor_pending = false;
                info!(after_ms = started.elapsed().as_millis() as u64,
                    "local routes advertised: sending End-of-RIB");
                if controller.speaker().release_end_of_rib().await.is_err() {
                    error!("the BGP speaker stopped");
                    break;
                }
            }
            event = inputs.events.recv() => match event {
                Ok(event) => controller.speaker_event(event).await,
                Err(RecvError::Lagged(lost)) => {
                    warn!(lost, "route change events lost");
                    controller.resync_fib().await;
                }
                Err(RecvError::Closed) => {
                    error!("the BGP speaker stopped");
                    break;
                }
            },
            Some(request) = control.recv() => {
                let name = request.request.name();
                let answer = controller.request(request.request, &identity).await;
                if let Err(e) = &answer {
                    info!(request = name, error = %e, "control request refused");
                }
                // The client may have gone; nothing to do then.
                let _ = request.reply.send(answer.into());
            }
            signal = signals.next() => match signal {
                Sig::Terminate => {
                    info!(flush = options.flush_on_exit, "terminating");
                    break;
                }
                Sig::Reload => reload(&options.config_path, &mut config, &controller).await,
            },
            _ = tick.tick() => controller.tick().await,
        }
    }
    run::shutdown(&mut controller, options.flush_on_exit).await;
    server.shutdown().await;
    Ok(())
}

/// SIGHUP: read the file again; apply what can change while running
/// (peers: added, removed, changed; unchanged ones stay up), report the
/// rest. A bad file changes nothing.
async fn reload(path: &Path, current: &mut AgentConfig, controller: &Controller) {
    let new = match config::load(path) {
        Ok(new) => new,
        Err(e) => {
            error!(error = %e, "SIGHUP: configuration not reloaded");
            return;
        }
    };
    let plan = config::reload_plan(current, &new);
    if plan.is_empty() {
        info!("SIGHUP: configuration unchanged");
        return;
    }
    if plan.needs_restart() {
        warn!(keys = ?plan.restart, "SIGHUP: these changes take effect when the daemon restarts");
    }
    if !plan.live.is_empty() {
        warn!(keys = ?plan.live, "SIGHUP: these changes take effect when the daemon restarts (not applied live yet)");
    }
    match controller
        .speaker()
        .set_neighbors(new.speaker_config().neighbors)
        .await
    {
        Ok(report) => info!(added = ?report.added, removed = ?report.removed,
            changed = ?report.changed, unchanged = ?report.unchanged, "SIGHUP: peers reconfigured"),
        Err(e) => {
            error!(error = %e, "SIGHUP: peers not reconfigured");
            return;
        }
    }
    *current = new;
}
