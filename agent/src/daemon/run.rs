//! Starting the daemon's parts in order and running the owner loop.
//!
//! Order matters for a restart that must not interrupt forwarding:
//!
//! 1. The FIB service dumps the kernel's routes of our protocol first and
//!    keeps them all as stale for the graceful-restart window; nothing is
//!    deleted before the routes are learned again (or the window ends).
//! 2. If it found any, this is a restart with forwarding state kept: every
//!    neighbour with graceful restart configured is told so (RFC 4724
//!    R-bit and F-bit), so peers keep our routes while we come back.
//! 3. The speaker starts and the owner subscribes to its events before
//!    anything is originated.
//! 4. Detectors subscribe to their kernel events before they dump the
//!    current state, so no VM that appears meanwhile is missed.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use speaker::SpeakerConfig;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc};
use tracing::{error, info, warn};

use crate::daemon::controller::{Controller, Parts};
use crate::detect::{
    AnnounceDetector, DetectError, Detector, InterfaceMatcher, LinkDetector, NeighDetector,
    Sighting,
};
use crate::fib::{FibConfig, FibService, Retention};
use crate::gateway::{AnycastGateway, GatewayConfig};
use crate::inventory::{InterfacePolicy, Inventory};
use crate::mobility::{Mobility, MobilityConfig};

/// Everything the daemon runs with, from the configuration file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub speaker: SpeakerConfig,
    pub fib: FibConfig,
    pub gateway: Option<GatewayConfig>,
    pub policies: Vec<InterfacePolicy>,
    pub mobility: MobilityConfig,
    pub pinned: Vec<IpNet>,
    pub detect_neighbours: bool,
    pub detect_announcements: bool,
    pub control_socket: PathBuf,
}

/// Why the daemon could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("kernel FIB: {0}")]
    Fib(#[from] crate::fib::FibError),
    #[error("BGP speaker: {0}")]
    Speaker(#[from] speaker::instance::StartError),
    #[error("netlink: {0}")]
    Netlink(std::io::Error),
    #[error("detector: {0}")]
    Detect(#[from] DetectError),
    #[error("signals: {0}")]
    Signal(std::io::Error),
    #[error("control socket: {0}")]
    Control(String),
    #[error("interface patterns: {0}")]
    Pattern(#[from] crate::detect::BadPattern),
}

/// What ends the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGTERM / SIGINT, or a shutdown request: keep forwarding state
    /// (graceful restart) unless `flush`.
    Shutdown { flush: bool },
}

/// Starts the FIB, the speaker, the gateway and the detectors.
pub async fn start(mut settings: Settings) -> Result<(Controller, Inputs), DaemonError> {
    let fib = FibService::start(settings.fib.clone(), std::iter::empty()).await?;
    fib.flush().await?;
    let restarting = fib.snapshot().await?.grace_remaining_ms.is_some();
    if restarting {
        info!("routes of ours found in the kernel: restarting with forwarding state kept");
        for n in &mut settings.speaker.neighbors {
            if n.graceful_restart.is_some() {
                n.restarting = true;
            }
        }
        // Peers sweep our stale routes on End-of-RIB: hold it until the
        // detectors' first report of the VMs here has been advertised.
        settings.speaker.defer_end_of_rib = true;
    }
    let speaker = speaker::spawn(settings.speaker.clone()).await?;
    let events = speaker.subscribe();

    let gateway = match &settings.gateway {
        Some(config) => {
            let (conn, handle, _) = rtnetlink::new_connection().map_err(DaemonError::Netlink)?;
            tokio::spawn(conn);
            Some(AnycastGateway::new(handle, config.clone()))
        }
        None => None,
    };

    let matcher = InterfaceMatcher::new(
        settings
            .policies
            .iter()
            .flat_map(|p| p.matcher.patterns().iter().cloned())
            .collect::<Vec<_>>(),
    )?;
    let (tx, sightings) = mpsc::channel(4096);
    spawn_detector("link", matcher.clone(), tx.clone(), |m| {
        Ok(Box::new(LinkDetector::subscribe(m)?))
    })?;
    if settings.detect_neighbours {
        spawn_detector("neigh", matcher.clone(), tx.clone(), |m| {
            Ok(Box::new(NeighDetector::subscribe(m)?))
        })?;
    }
    if settings.detect_announcements {
        spawn_detector("announce", matcher.clone(), tx.clone(), |m| {
            Ok(Box::new(AnnounceDetector::open(m)?))
        })?;
    }

    let controller = Controller::new(Parts {
        speaker,
        fib,
        gateway,
        inventory: Inventory::new(settings.policies.clone()),
        mobility: Mobility::new(settings.mobility),
        pinned: settings.pinned.clone(),
    });
    Ok((
        controller,
        Inputs {
            sightings,
            events,
            restarting,
        },
    ))
}

/// The streams the owner loop reads.
pub struct Inputs {
    pub sightings: mpsc::Receiver<Sighting>,
    pub events: broadcast::Receiver<speaker::SpeakerEvent>,
    /// Routes of ours were in the kernel at start: End-of-RIB is held
    /// until the VMs found here have been advertised.
    pub restarting: bool,
}

type MakeDetector = fn(InterfaceMatcher) -> Result<Box<dyn Detector>, DetectError>;

/// Runs a detector on its own task, forwarding its sightings; if its
/// event source fails it is subscribed again (its fresh dump restates the
/// current state) after a pause. The first subscription must succeed.
fn spawn_detector(
    name: &'static str,
    matcher: InterfaceMatcher,
    tx: mpsc::Sender<Sighting>,
    make: MakeDetector,
) -> Result<(), DetectError> {
    use futures::StreamExt;
    let first = make(matcher.clone())?;
    tokio::spawn(async move {
        let mut detector = Some(first);
        loop {
            let current = match detector.take() {
                Some(d) => d,
                None => match make(matcher.clone()) {
                    Ok(d) => d,
                    Err(e) => {
                        error!(detector = name, error = %e, "cannot subscribe again; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                },
            };
            let mut stream = current.sightings();
            while let Some(item) = stream.next().await {
                match item {
                    Ok(s) => {
                        if tx.send(s).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        error!(detector = name, error = %e, "detector failed; subscribing again");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    Ok(())
}

/// Signals the loop acts on.
pub struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

/// One signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Terminate,
    Reload,
}

impl Signals {
    pub fn install() -> Result<Self, DaemonError> {
        let s = |k| signal(k).map_err(DaemonError::Signal);
        Ok(Self {
            term: s(SignalKind::terminate())?,
            int: s(SignalKind::interrupt())?,
            hup: s(SignalKind::hangup())?,
        })
    }

    pub async fn next(&mut self) -> Sig {
        tokio::select! {
            _ = self.term.recv() => Sig::Terminate,
            _ = self.int.recv() => Sig::Terminate,
            _ = self.hup.recv() => Sig::Reload,
        }
    }
}

/// Shuts the speaker and the FIB down: with `flush`, our local routes are
/// withdrawn and every kernel route of ours deleted; otherwise peers keep
/// our routes for the graceful-restart time and the kernel keeps
/// forwarding.
pub async fn shutdown(controller: &mut Controller, flush: bool) {
    if flush {
        let prefixes: Vec<IpNet> = controller.locals().map(|(p, _)| *p).collect();
        for prefix in prefixes {
            let _ = controller.speaker().withdraw(prefix).await;
        }
    }
    let text = if flush {
        "hostroute: administrative shutdown"
    } else {
        "hostroute: restarting"
    };
    if controller
        .speaker()
        .shutdown(Some(text.to_owned()))
        .await
        .is_err()
    {
        warn!("the speaker had already stopped");
    }
    let retention = if flush {
        Retention::Flush
    } else {
        Retention::Keep
    };
    if let Err(e) = controller.fib().clone().shutdown(retention).await {
        warn!(error = %e, "the FIB service had already stopped");
    }
    info!(flush, "stopped");
}

/// A neighbour's address, for logs.
pub fn neighbours(settings: &Settings) -> Vec<IpAddr> {
    settings
        .speaker
        .neighbors
        .iter()
        .map(|n| n.address)
        .collect()
}
