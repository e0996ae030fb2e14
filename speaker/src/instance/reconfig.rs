//! Changing the neighbours of a running speaker (the daemon's SIGHUP)
//! without touching the sessions whose configuration did not change.
//!
//! ```text
//!   old list ─┐            removed:   Cease 6/3 (RFC 4486), routes withdrawn, slot emptied
//!             ├─ plan() ─> changed:   Cease 6/6, routes withdrawn, new slot, ManualStart
//!   new list ─┘            added:     new slot, ManualStart
//!                          unchanged: nothing at all
//! ```
//!
//! A changed neighbour gets a new slot and RIB source rather than its old
//! ones: connection tasks and connect attempts of the old session may still
//! report in, and must find nothing. Its BFD session is kept when its BFD
//! settings are the same, and the new session inherits the old one's
//! liveness (the BFD forwarder only reports changes). The BFD sessions to
//! delete and create are handed back for [`crate::liveness::reconcile`].

use std::net::IpAddr;

use proto::bgp::{CeaseReason, Notification};
use tracing::{info, warn};

use super::{Owner, PeerSlot, secure_listener};
use crate::bgp::{Input, Liveness, Peer, PeerInput};
use crate::config::NeighborConfig;
use crate::handle::Reconfigured;
use crate::liveness::session_of;
use crate::rib::{PeerConfig, RibError};

/// How a new neighbour list differs from the running one.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Plan {
    pub removed: Vec<NeighborConfig>,
    /// (old, new)
    pub changed: Vec<(NeighborConfig, NeighborConfig)>,
    pub added: Vec<NeighborConfig>,
    pub unchanged: Vec<IpAddr>,
}

impl Plan {
    /// Neighbours are matched by address; any other difference is a change.
    pub fn new(old: &[NeighborConfig], new: &[NeighborConfig]) -> Self {
        let mut plan = Self::default();
        for o in old {
            match new.iter().find(|n| n.address == o.address) {
                None => plan.removed.push(o.clone()),
                Some(n) if n == o => plan.unchanged.push(o.address),
                Some(n) => plan.changed.push((o.clone(), n.clone())),
            }
        }
        plan.added = new
            .iter()
            .filter(|n| !old.iter().any(|o| o.address == n.address))
            .cloned()
            .collect();
        plan
    }
}

impl Owner {
    pub(super) fn set_neighbors(
        &mut self,
        neighbors: Vec<NeighborConfig>,
    ) -> Result<Reconfigured, RibError> {
        let plan = Plan::new(&self.peers.configs(), &neighbors);
        let mut done = Reconfigured::default();
        done.report.unchanged.clone_from(&plan.unchanged);
        for old in &plan.removed {
            self.retire(old.address, CeaseReason::PeerDeconfigured);
            done.report.removed.push(old.address);
            if let Some(s) = session_of(old) {
                done.bfd_remove.push(s.key());
                done.report.bfd_removed.push(old.address);
            }
        }
        for (old, new) in &plan.changed {
            let liveness = self.retire(old.address, CeaseReason::OtherConfigurationChange);
            let i = self.add_peer(new)?;
            done.report.changed.push(new.address);
            let (was, now) = (session_of(old), session_of(new));
            if was == now {
                if now.is_some() && liveness == Some(Liveness::Up) {
                    self.work
                        .push_back((i, PeerInput::Session(Input::LivenessUp)));
                }
            } else {
                if let Some(s) = was {
                    done.bfd_remove.push(s.key());
                    done.report.bfd_removed.push(old.address);
                }
                if let Some(s) = now {
                    done.bfd_add.push((new.address, s));
                    done.report.bfd_added.push(new.address);
                }
            }
            self.work
                .push_back((i, PeerInput::Session(Input::ManualStart)));
        }
        for new in &plan.added {
            let i = self.add_peer(new)?;
            done.report.added.push(new.address);
            if let Some(s) = session_of(new) {
                done.bfd_add.push((new.address, s));
                done.report.bfd_added.push(new.address);
            }
            self.work
                .push_back((i, PeerInput::Session(Input::ManualStart)));
        }
        self.process();
        self.resecure_listeners(&plan);
        info!(report = ?done.report, "neighbours reconfigured");
        Ok(done)
    }

    /// A new peer under a new index and RIB source (the two grow together:
    /// index `i` is source `i + 1`).
    fn add_peer(&mut self, n: &NeighborConfig) -> Result<usize, RibError> {
        let (asn, router_id) = (self.rib.config().local_asn, self.rib.config().router_id);
        let source = self.rib.add_peer(PeerConfig {
            address: n.address,
            asn: n.remote_as,
            policy: n.policy.clone(),
        })?;
        self.neighbors.push(n.address);
        let fsm = Peer::new(n.session(asn, router_id));
        Ok(self.peers.push(PeerSlot::new(n.clone(), fsm, source)))
    }

    /// Closes a neighbour's session with Cease / `reason` (as Hard Reset
    /// when the N bit was negotiated, RFC 8538 section 5), withdraws its
    /// routes, and empties its slot. Returns the liveness it had.
    fn retire(&mut self, address: IpAddr, reason: CeaseReason) -> Option<Liveness> {
        let i = self.peers.position(address)?;
        let notification = Notification::cease(reason);
        self.work
            .push_back((i, PeerInput::Session(Input::AutomaticStop { notification })));
        self.process();
        let mut slot = self.peers.take(i)?;
        // The writers send what is queued (the NOTIFICATION) and close.
        for (_, mut io) in slot.conns.drain() {
            io.flush();
        }
        let withdrawn = self.rib.remove_peer(slot.source);
        info!(neighbor = %address, ?reason, routes = withdrawn, "neighbour retired");
        Some(slot.fsm.snapshot().session.liveness)
    }

    /// TCP-MD5 keys and GTSM of the listeners for the new neighbour list;
    /// removed neighbours' keys are deleted.
    fn resecure_listeners(&self, plan: &Plan) {
        let neighbors = self.peers.configs();
        let dropped = plan
            .removed
            .iter()
            .chain(plan.changed.iter().map(|(old, _)| old))
            .filter(|n| n.password.is_some());
        for listener in &self.listeners {
            let Ok(local) = listener.local_addr() else {
                continue;
            };
            let ipv4 = local.is_ipv4();
            for n in dropped.clone().filter(|n| n.address.is_ipv4() == ipv4) {
                if let Err(e) = crate::bgp::sockopt::remove_md5_key(&**listener, n.address) {
                    warn!(neighbor = %n.address, error = %e, "cannot remove the TCP-MD5 key");
                }
            }
            if let Err(e) = secure_listener(&**listener, ipv4, &neighbors) {
                warn!(%local, error = %e, "cannot update the listener's TCP-MD5 keys or GTSM");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(address: &str, asn: u32) -> NeighborConfig {
        NeighborConfig::new(address.parse().unwrap(), asn)
    }

    #[test]
    fn plan_matches_by_address_and_any_difference_is_a_change() {
        let old = vec![
            n("192.0.2.2", 65002),
            n("192.0.2.3", 65003),
            n("192.0.2.4", 65004),
        ];
        let mut changed = n("192.0.2.3", 65003);
        changed.hold_time = 9;
        let new = vec![
            n("192.0.2.2", 65002),
            changed.clone(),
            n("192.0.2.5", 65005),
        ];
        let plan = Plan::new(&old, &new);
        assert_eq!(plan.unchanged, vec!["192.0.2.2".parse::<IpAddr>().unwrap()]);
        assert_eq!(plan.changed, vec![(n("192.0.2.3", 65003), changed)]);
        assert_eq!(plan.removed, vec![n("192.0.2.4", 65004)]);
        assert_eq!(plan.added, vec![n("192.0.2.5", 65005)]);
        assert_eq!(Plan::new(&old, &old).unchanged.len(), 3);
    }
}
