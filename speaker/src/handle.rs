//! The daemon's handle on a running speaker: originate and withdraw host
//! routes, follow route changes, inspect peers and the RIB.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::IpNet;
use proto::bgp::Sequence;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::bgp::PeerSnapshot;
use crate::config::{ConfigError, NeighborConfig};
use crate::rib::attrs::PathAttrs;
use crate::rib::{MemoryReport, RibError, RibEvent, RouteChange, SourceId};

/// What the owner task is asked to do.
#[derive(Debug)]
pub(crate) enum Command {
    Originate {
        prefix: IpNet,
        attrs: PathAttrs,
    },
    Withdraw {
        prefix: IpNet,
    },
    ReleaseEndOfRib,
    OriginateArrival {
        prefix: IpNet,
        is_static: bool,
        remembered: Option<(bool, Sequence)>,
        reply: oneshot::Sender<Sequence>,
    },
    Liveness {
        neighbor: IpAddr,
        up: bool,
    },
    Peers {
        reply: oneshot::Sender<Vec<PeerReport>>,
    },
    Routes {
        filter: Option<IpNet>,
        reply: oneshot::Sender<Vec<RouteReport>>,
    },
    Summary {
        reply: oneshot::Sender<RibSummary>,
    },
    PrefixCount {
        reply: oneshot::Sender<usize>,
    },
    HighestSequence {
        prefix: IpNet,
        reply: oneshot::Sender<Option<Sequence>>,
    },
    SetNeighbors {
        neighbors: Vec<NeighborConfig>,
        reply: oneshot::Sender<Result<Reconfigured, RibError>>,
    },
    Shutdown {
        text: Option<String>,
        reply: oneshot::Sender<()>,
    },
}

/// What [`SpeakerHandle::set_neighbors`] did, by neighbour address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconfigReport {
    /// New neighbours, started.
    pub added: Vec<IpAddr>,
    /// Neighbours no longer configured: closed with Cease / Peer
    /// De-configured (RFC 4486 subcode 3), their routes withdrawn.
    pub removed: Vec<IpAddr>,
    /// Neighbours whose configuration changed: closed with Cease / Other
    /// Configuration Change (subcode 6), routes withdrawn, started again.
    pub changed: Vec<IpAddr>,
    /// Left alone: no NOTIFICATION, no route churn.
    pub unchanged: Vec<IpAddr>,
    /// BFD sessions created (new neighbours, or changed BFD settings).
    pub bfd_added: Vec<IpAddr>,
    /// BFD sessions deleted (the peer is told AdminDown first).
    pub bfd_removed: Vec<IpAddr>,
}

/// What the owner task did; the BFD part is left to the handle, which can
/// wait on the BFD driver.
#[derive(Debug, Default)]
pub(crate) struct Reconfigured {
    pub report: ReconfigReport,
    pub bfd_remove: Vec<crate::bfd::SessionKey>,
    pub bfd_add: Vec<(IpAddr, crate::bfd::SessionConfig)>,
}

/// Why [`SpeakerHandle::set_neighbors`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ReconfigError {
    /// The new neighbour list is invalid; nothing was changed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The RIB has no room for another peer; the neighbours before the
    /// failing one were changed.
    #[error("RIB: {0}")]
    Rib(#[from] RibError),
    /// BGP was reconfigured but a BFD session could not be changed.
    #[error("BFD: {0}")]
    Bfd(#[from] crate::bfd::DriverError),
    /// BFD for `neighbor` needs sockets (multihop, or IPv6) the BFD driver
    /// did not open when the speaker started; BGP was reconfigured.
    #[error(
        "BFD for {neighbor} needs {what} sockets the running BFD driver lacks: restart the speaker"
    )]
    BfdSockets {
        neighbor: IpAddr,
        what: &'static str,
    },
    #[error(transparent)]
    Stopped(#[from] Stopped),
}

/// What subscribers hear, in the order it happened.
#[derive(Debug, Clone)]
pub enum SpeakerEvent {
    /// Loc-RIB changes of one turn of the event loop, for the kernel FIB.
    Routes(Arc<Vec<RouteChange>>),
    /// A local route lost to another source: the VM moved away.
    Rib(RibEvent),
    PeerUp {
        neighbor: IpAddr,
    },
    PeerDown {
        neighbor: IpAddr,
        reason: String,
    },
}

/// One neighbour as `show peers` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    pub neighbor: IpAddr,
    pub remote_as: u32,
    pub local_address: Option<String>,
    pub prefixes_ipv4: u32,
    pub prefixes_ipv6: u32,
    /// Seconds since the session came up, when it is up.
    pub uptime_secs: Option<u64>,
    #[serde(flatten)]
    pub fsm: PeerSnapshot,
}

/// One path of a prefix.
#[derive(Debug, Clone, Serialize)]
pub struct PathView {
    /// "local" or the neighbour's address.
    pub source: String,
    pub best: bool,
    pub stale: bool,
    pub path_id: u32,
    /// Why this path lost to the best one.
    pub lost_on: Option<String>,
    /// Seconds since it was received or originated, or since its
    /// attributes last changed (an identical re-announcement, as after a
    /// route refresh or graceful restart, is not a change).
    pub age_secs: u32,
    /// The router it comes from: ORIGINATOR_ID if present, else the
    /// neighbour's BGP identifier; `None` for our own routes.
    pub origin_router_id: Option<Ipv4Addr>,
    pub attrs: PathAttrs,
}

/// One prefix with every path, best marked.
#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    pub prefix: IpNet,
    pub paths: Vec<PathView>,
}

/// Sizes of the RIB.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RibSummary {
    pub prefixes: usize,
    pub memory: MemoryReport,
}

/// The speaker is gone (shut down or crashed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the BGP speaker is not running")]
pub struct Stopped;

/// A cheap, cloneable handle on the owner task.
#[derive(Debug, Clone)]
pub struct SpeakerHandle {
    pub(crate) commands: mpsc::Sender<Command>,
    pub(crate) events: broadcast::Sender<SpeakerEvent>,
    /// The BFD driver, started with the first neighbour that needs it.
    pub(crate) bfd: Arc<std::sync::Mutex<Option<crate::liveness::Driver>>>,
}

impl SpeakerHandle {
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, Stopped> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| Stopped)?;
        rx.await.map_err(|_| Stopped)
    }

    /// Originates (or replaces) a local route; it is advertised at the end
    /// of the event-loop turn that handles it.
    pub async fn originate(&self, prefix: IpNet, attrs: PathAttrs) -> Result<(), Stopped> {
        self.commands
            .send(Command::Originate { prefix, attrs })
            .await
            .map_err(|_| Stopped)
    }

    pub async fn withdraw(&self, prefix: IpNet) -> Result<(), Stopped> {
        self.commands
            .send(Command::Withdraw { prefix })
            .await
            .map_err(|_| Stopped)
    }

    /// Reports BFD state for a neighbour (RFC 9384: Down closes the session).
    pub async fn liveness(&self, neighbor: IpAddr, up: bool) -> Result<(), Stopped> {
        self.commands
            .send(Command::Liveness { neighbor, up })
            .await
            .map_err(|_| Stopped)
    }

    /// Originates the host route of a VM that just arrived here, with the
    /// mobility sequence [`crate::rib::next_sequence`] decides from every
    /// path the RIB holds (and `remembered`, a path the caller saw
    /// withdrawn: `(ours, sequence)`), in one turn of the owner: no round
    /// trip before the UPDATE is written. Returns the sequence used.
    pub async fn originate_arrival(
        &self,
        prefix: IpNet,
        is_static: bool,
        remembered: Option<(bool, Sequence)>,
    ) -> Result<Sequence, Stopped> {
        self.ask(|reply| Command::OriginateArrival {
            prefix,
            is_static,
            remembered,
            reply,
        })
        .await
    }

    /// Sends the End-of-RIB markers held back by
    /// [`crate::SpeakerConfig::defer_end_of_rib`]; later sessions get theirs
    /// at once.
    pub async fn release_end_of_rib(&self) -> Result<(), Stopped> {
        self.commands
            .send(Command::ReleaseEndOfRib)
            .await
            .map_err(|_| Stopped)
    }

    /// Route changes and peer events from now on. A subscriber that falls
    /// more than the channel's capacity behind gets `Lagged` and should
    /// re-read the table with [`SpeakerHandle::routes`].
    pub fn subscribe(&self) -> broadcast::Receiver<SpeakerEvent> {
        self.events.subscribe()
    }

    pub async fn peers(&self) -> Result<Vec<PeerReport>, Stopped> {
        self.ask(|reply| Command::Peers { reply }).await
    }

    /// Every path of every prefix (or of those inside `filter`).
    pub async fn routes(&self, filter: Option<IpNet>) -> Result<Vec<RouteReport>, Stopped> {
        self.ask(|reply| Command::Routes { filter, reply }).await
    }

    pub async fn summary(&self) -> Result<RibSummary, Stopped> {
        self.ask(|reply| Command::Summary { reply }).await
    }

    /// Prefixes in the RIB: what [`SpeakerHandle::summary`] reports as
    /// `prefixes`, without the memory walk, so it can be polled often.
    pub async fn prefix_count(&self) -> Result<usize, Stopped> {
        self.ask(|reply| Command::PrefixCount { reply }).await
    }

    /// The highest mobility sequence seen for `prefix`, local or learned.
    pub async fn highest_sequence(&self, prefix: IpNet) -> Result<Option<Sequence>, Stopped> {
        self.ask(|reply| Command::HighestSequence { prefix, reply })
            .await
    }

    /// Every BFD session (`show bfd`); empty when no neighbour uses BFD.
    pub async fn bfd(&self) -> Result<Vec<crate::bfd::SessionSnapshot>, Stopped> {
        match self.bfd_handle() {
            Some(b) => b.snapshot().await.map_err(|_| Stopped),
            None => Ok(Vec::new()),
        }
    }

    fn bfd_handle(&self) -> Option<crate::bfd::BfdHandle> {
        let driver = self
            .bfd
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        driver.as_ref().map(|d| d.handle.clone())
    }

    /// Replaces the neighbour list at run time (the daemon's SIGHUP):
    /// neighbours not in `neighbors` are closed with Cease / Peer
    /// De-configured and their routes withdrawn, new ones started, changed
    /// ones (any setting differs) restarted with Cease / Other
    /// Configuration Change, and unchanged ones left alone. BFD sessions
    /// follow; a changed neighbour whose BFD settings did not change keeps
    /// its session and its liveness. Calls must not overlap (the daemon
    /// makes them one SIGHUP at a time): each one's BFD part runs after
    /// its BGP part, outside the owner task.
    pub async fn set_neighbors(
        &self,
        neighbors: Vec<NeighborConfig>,
    ) -> Result<ReconfigReport, ReconfigError> {
        crate::config::validate_neighbors(&neighbors)?;
        let done = self
            .ask(|reply| Command::SetNeighbors { neighbors, reply })
            .await??;
        crate::liveness::reconcile(&self.bfd, done.bfd_remove, done.bfd_add, &self.commands)
            .await?;
        Ok(done.report)
    }

    /// Closes every session (Cease / Administrative Shutdown with `text`),
    /// tells BFD peers AdminDown, and stops the owner task.
    pub async fn shutdown(&self, text: Option<String>) -> Result<(), Stopped> {
        self.ask(|reply| Command::Shutdown { text, reply }).await?;
        if let Some(b) = self.bfd_handle() {
            let _ = b.shutdown().await;
        }
        Ok(())
    }
}

/// Names a source for reports.
pub(crate) fn source_name(source: SourceId, neighbors: &[IpAddr]) -> String {
    if source == SourceId::LOCAL {
        return "local".to_string();
    }
    usize::from(source.0)
        .checked_sub(1)
        .and_then(|i| neighbors.get(i))
        .map_or_else(|| format!("source {}", source.0), ToString::to_string)
}
