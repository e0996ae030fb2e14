//! The owner's peers, by index. Connection tasks, connect attempts and
//! queued FSM inputs name a peer by its index, so an index is never reused:
//! a removed peer leaves an empty slot behind, and whatever still arrives
//! for it finds nothing and is dropped.

use std::collections::HashMap;
use std::net::IpAddr;

use proto::bgp::{AfiSafi, Context};
use tokio::time::Instant;

use crate::bgp::conn::ConnIo;
use crate::bgp::{ConnId, Peer};
use crate::config::NeighborConfig;
use crate::rib::SourceId;

pub(super) struct PeerSlot {
    pub cfg: NeighborConfig,
    pub fsm: Peer,
    pub source: SourceId,
    pub conns: HashMap<ConnId, ConnIo>,
    pub established: Option<ConnId>,
    pub ctx: Context,
    pub up_since: Option<Instant>,
    pub restart_at: Option<Instant>,
    /// What the established session negotiated: its families, and whether
    /// both sides advertised enhanced route refresh (RFC 7313).
    pub families: Vec<AfiSafi>,
    pub enhanced_refresh: bool,
}

impl PeerSlot {
    pub fn new(cfg: NeighborConfig, fsm: Peer, source: SourceId) -> Self {
        Self {
            cfg,
            fsm,
            source,
            conns: HashMap::new(),
            established: None,
            ctx: Context::default(),
            up_since: None,
            restart_at: None,
            families: Vec::new(),
            enhanced_refresh: false,
        }
    }
}

/// Peers by index; removed ones leave `None`.
#[derive(Default)]
pub(super) struct Slots(Vec<Option<PeerSlot>>);

impl Slots {
    /// Adds a peer under a new index.
    pub fn push(&mut self, slot: PeerSlot) -> usize {
        self.0.push(Some(slot));
        self.0.len() - 1
    }

    /// Removes a peer; its index stays empty.
    pub fn take(&mut self, i: usize) -> Option<PeerSlot> {
        self.0.get_mut(i)?.take()
    }

    pub fn get(&self, i: usize) -> Option<&PeerSlot> {
        self.0.get(i)?.as_ref()
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut PeerSlot> {
        self.0.get_mut(i)?.as_mut()
    }

    /// The index of the configured neighbour `address`.
    pub fn position(&self, address: IpAddr) -> Option<usize> {
        self.indexed()
            .find(|(_, p)| p.cfg.address == address)
            .map(|(i, _)| i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &PeerSlot> {
        self.0.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut PeerSlot> {
        self.0.iter_mut().flatten()
    }

    pub fn indexed(&self) -> impl Iterator<Item = (usize, &PeerSlot)> {
        self.0
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
    }

    pub fn indexed_mut(&mut self) -> impl Iterator<Item = (usize, &mut PeerSlot)> {
        self.0
            .iter_mut()
            .enumerate()
            .filter_map(|(i, p)| p.as_mut().map(|p| (i, p)))
    }

    /// The configuration of every peer, in index order.
    pub fn configs(&self) -> Vec<NeighborConfig> {
        self.iter().map(|p| p.cfg.clone()).collect()
    }
}
