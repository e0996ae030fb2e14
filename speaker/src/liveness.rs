//! Ties BFD to BGP: each neighbour with `bfd` configured gets a BFD session
//! on the BFD driver's own thread, and every change of its liveness becomes
//! an FSM input of that neighbour's BGP session.
//!
//! ```text
//!  BFD thread (table + UDP sockets) --watch<Liveness>--> forwarder task --Command::Liveness--> owner
//! ```
//!
//! - Up: the session may reach Established (when `require_bfd` holds it back).
//! - Down after Up: the FSM closes the session with Cease / BFD Down
//!   (RFC 9384) and the peer's routes are withdrawn at once.
//! - AdminDown, from the peer or here: not a failure (RFC 5882 section 3.2);
//!   BGP is left alone.
//!
//! Flap storms are damped by the BFD table (`bfd::Damping`) before they get
//! here: a session that keeps failing has its Up reports held back.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tracing::info;

use crate::bfd::{
    BfdHandle, DriverConfig, DriverError, Hop, Liveness, SessionConfig, SessionKey, Timers,
};
use crate::config::NeighborConfig;
use crate::handle::{Command, ReconfigError};

/// BFD for one neighbour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BfdNeighbor {
    /// Desired transmit and required receive interval, milliseconds (>= 10).
    #[serde(default = "default_interval")]
    pub interval_ms: u32,
    /// Detection multiplier.
    #[serde(default = "default_multiplier")]
    pub multiplier: u8,
    /// RFC 5883 multihop (UDP 4784) with this minimum received TTL, for
    /// peers across a WAN; single hop (TTL 255 only) when absent.
    #[serde(default)]
    pub multihop_min_ttl: Option<u8>,
}

fn default_interval() -> u32 {
    300
}
fn default_multiplier() -> u8 {
    3
}

impl BfdNeighbor {
    pub(crate) fn session(&self, n: &NeighborConfig) -> SessionConfig {
        SessionConfig {
            peer: n.address,
            local: n.local_address,
            interface: n.interface.clone(),
            hop: match self.multihop_min_ttl {
                Some(min_ttl) => Hop::Multihop { min_ttl },
                None => Hop::SingleHop,
            },
            timers: Timers::symmetric(
                Duration::from_millis(self.interval_ms.into()),
                self.multiplier,
            ),
            auth: None,
        }
    }
}

/// The running BFD driver and the sockets it opened.
#[derive(Debug, Clone)]
pub(crate) struct Driver {
    pub handle: BfdHandle,
    multihop: bool,
    ipv6: bool,
}

impl Driver {
    /// Starts a driver with the sockets these sessions need.
    fn spawn<'a>(
        sessions: impl Iterator<Item = &'a SessionConfig> + Clone,
    ) -> Result<Self, DriverError> {
        let multihop = sessions
            .clone()
            .any(|s| matches!(s.hop, Hop::Multihop { .. }));
        let ipv6 = sessions.into_iter().any(|s| s.peer.is_ipv6());
        let handle = BfdHandle::spawn(DriverConfig {
            multihop,
            ipv6,
            ..DriverConfig::default()
        })?;
        Ok(Self {
            handle,
            multihop,
            ipv6,
        })
    }

    /// Why this driver cannot serve `s`, if it cannot.
    fn lacks(&self, s: &SessionConfig) -> Option<&'static str> {
        if matches!(s.hop, Hop::Multihop { .. }) && !self.multihop {
            Some("multihop")
        } else if s.peer.is_ipv6() && !self.ipv6 {
            Some("IPv6")
        } else {
            None
        }
    }

    /// Adds a session and forwards its liveness to the owner.
    async fn add(
        &self,
        neighbor: IpAddr,
        session: SessionConfig,
        commands: &mpsc::Sender<Command>,
    ) -> Result<(), DriverError> {
        let rx = self.handle.add_session(session).await?;
        tokio::spawn(forward(neighbor, rx, commands.clone()));
        Ok(())
    }
}

/// The BFD session a neighbour asks for, if any.
pub(crate) fn session_of(n: &NeighborConfig) -> Option<SessionConfig> {
    n.bfd.as_ref().map(|b| b.session(n))
}

/// Starts the BFD driver and one session per neighbour that asks for it;
/// `None` when no neighbour does.
pub(crate) async fn start(
    neighbors: &[NeighborConfig],
    commands: mpsc::Sender<Command>,
) -> Result<Option<Driver>, DriverError> {
    let wanted: Vec<(IpAddr, SessionConfig)> = neighbors
        .iter()
        .filter_map(|n| session_of(n).map(|s| (n.address, s)))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let driver = Driver::spawn(wanted.iter().map(|(_, s)| s))?;
    for (neighbor, session) in wanted {
        driver.add(neighbor, session, &commands).await?;
    }
    Ok(Some(driver))
}

/// Carries out the BFD part of a reconfiguration: deletes the sessions in
/// `remove` (the peer is told AdminDown), then creates those in `add`,
/// starting the driver if none runs yet. The driver's sockets are chosen
/// when it starts; a session needing others is refused.
pub(crate) async fn reconcile(
    shared: &Mutex<Option<Driver>>,
    remove: Vec<SessionKey>,
    add: Vec<(IpAddr, SessionConfig)>,
    commands: &mpsc::Sender<Command>,
) -> Result<(), ReconfigError> {
    let current = shared
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(d) = &current {
        for key in remove {
            d.handle.remove_session(key).await?;
        }
    }
    if add.is_empty() {
        return Ok(());
    }
    let driver = match current {
        Some(d) => d,
        None => {
            let d = Driver::spawn(add.iter().map(|(_, s)| s))?;
            *shared.lock().unwrap_or_else(PoisonError::into_inner) = Some(d.clone());
            d
        }
    };
    for (neighbor, session) in add {
        if let Some(what) = driver.lacks(&session) {
            return Err(ReconfigError::BfdSockets { neighbor, what });
        }
        driver.add(neighbor, session, commands).await?;
    }
    Ok(())
}

/// Turns liveness changes into FSM inputs until either side goes away.
async fn forward(
    neighbor: IpAddr,
    mut rx: watch::Receiver<Liveness>,
    commands: mpsc::Sender<Command>,
) {
    loop {
        let liveness = *rx.borrow_and_update();
        let up = match liveness {
            Liveness::Up => Some(true),
            Liveness::Down { diag } => {
                info!(%neighbor, ?diag, "BFD down");
                Some(false)
            }
            Liveness::AdminDown { by_peer } => {
                info!(%neighbor, by_peer, "BFD AdminDown: not a failure, BGP left alone");
                None
            }
        };
        if let Some(up) = up
            && commands
                .send(Command::Liveness { neighbor, up })
                .await
                .is_err()
        {
            return;
        }
        if rx.changed().await.is_err() {
            // Removed by a reconfiguration, or the driver stopped.
            info!(%neighbor, "BFD session gone");
            return;
        }
    }
}
