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
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::bfd::{BfdHandle, DriverConfig, DriverError, Hop, Liveness, SessionConfig, Timers};
use crate::config::NeighborConfig;
use crate::handle::Command;

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
    fn session(&self, n: &NeighborConfig) -> SessionConfig {
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

/// Starts the BFD driver and one session per neighbour that asks for it;
/// `None` when no neighbour does.
pub(crate) async fn start(
    neighbors: &[NeighborConfig],
    commands: mpsc::Sender<Command>,
) -> Result<Option<BfdHandle>, DriverError> {
    let wanted: Vec<(&NeighborConfig, &BfdNeighbor)> = neighbors
        .iter()
        .filter_map(|n| n.bfd.as_ref().map(|b| (n, b)))
        .collect();
    if wanted.is_empty() {
        return Ok(None);
    }
    let multihop = wanted.iter().any(|(_, b)| b.multihop_min_ttl.is_some());
    let ipv6 = wanted.iter().any(|(n, _)| n.address.is_ipv6());
    let bfd = BfdHandle::spawn(DriverConfig {
        multihop,
        ipv6,
        ..DriverConfig::default()
    })?;
    for (n, b) in wanted {
        let rx = bfd.add_session(b.session(n)).await?;
        tokio::spawn(forward(n.address, rx, commands.clone()));
    }
    Ok(Some(bfd))
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
            warn!(%neighbor, "BFD session gone");
            return;
        }
    }
}
