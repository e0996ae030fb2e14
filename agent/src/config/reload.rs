//! What a reload (SIGHUP) changes. Peers are compared by address, through
//! the speaker configuration each would get, so a change of a default that
//! reaches them (graceful_restart, the interface pools behind their import
//! and export policies) counts as a change of the peer.

use std::net::IpAddr;

use super::AgentConfig;

/// The difference between the running configuration and a new one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Peers only in the new configuration, in its order.
    pub peers_added: Vec<IpAddr>,
    /// Peers only in the old configuration, in its order.
    pub peers_removed: Vec<IpAddr>,
    /// Peers in both whose settings differ (their sessions restart).
    pub peers_changed: Vec<IpAddr>,
    /// Keys changed that apply without a restart: `interfaces`,
    /// `gateway`, `mobility`, `detection`, `graceful_restart`.
    pub live: Vec<&'static str>,
    /// Keys changed that take effect only when the daemon restarts; they
    /// are reported, not applied: `router_id`, `asn`, `listen`,
    /// `control_socket`, `fib.protocol`, `fib.table`, `fib.metric` (the
    /// FIB service keeps its route parameters for its lifetime; a new
    /// metric is a different kernel route).
    pub restart: Vec<&'static str>,
}

impl ReloadPlan {
    pub fn needs_restart(&self) -> bool {
        !self.restart.is_empty()
    }

    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        *self == ReloadPlan::default()
    }
}

/// Compares the running configuration with a newly read one.
pub fn reload_plan(old: &AgentConfig, new: &AgentConfig) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    let restart: [(&'static str, bool); 7] = [
        ("router_id", old.router_id != new.router_id),
        ("asn", old.asn != new.asn),
        ("listen", old.listen != new.listen),
        ("control_socket", old.control_socket != new.control_socket),
        ("fib.protocol", old.fib.protocol != new.fib.protocol),
        ("fib.table", old.fib.table != new.fib.table),
        ("fib.metric", old.fib.metric != new.fib.metric),
    ];
    plan.restart = restart
        .iter()
        .filter(|(_, c)| *c)
        .map(|(k, _)| *k)
        .collect();
    let live: [(&'static str, bool); 5] = [
        ("interfaces", old.interfaces != new.interfaces),
        ("gateway", old.gateway != new.gateway),
        ("mobility", old.mobility != new.mobility),
        ("detection", old.detection != new.detection),
        (
            "graceful_restart",
            old.graceful_restart != new.graceful_restart,
        ),
    ];
    plan.live = live.iter().filter(|(_, c)| *c).map(|(k, _)| *k).collect();
    for peer in &new.peers {
        match old.peers.iter().find(|p| p.address == peer.address) {
            None => plan.peers_added.push(peer.address),
            Some(was) if old.neighbor(was) != new.neighbor(peer) => {
                plan.peers_changed.push(peer.address);
            }
            Some(_) => {}
        }
    }
    plan.peers_removed = old
        .peers
        .iter()
        .filter(|p| !new.peers.iter().any(|q| q.address == p.address))
        .map(|p| p.address)
        .collect();
    plan
}
