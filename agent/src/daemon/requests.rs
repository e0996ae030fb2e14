//! Answers to control-socket requests, built by the owner task from its own
//! state and from the speaker's and the FIB's reports.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use crate::control::api::{
    AddressRow, FrozenRow, HookView, MoveRow, MovesView, StatusView, VmRow, VmState,
};
use crate::control::convert::{bfd_row, fib_view, peer_row, route_row};
use crate::control::{ControlError, ErrorKind, Reply, Request};
use crate::daemon::controller::{Controller, LocalState, host_prefix};
use crate::inventory;

/// Who this daemon is, for `status`.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub started: Instant,
}

fn unavailable(what: &str) -> ControlError {
    ControlError::new(ErrorKind::Unavailable, format!("the {what} is not running"))
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Controller {
    /// One control request.
    pub async fn request(
        &mut self,
        request: Request,
        identity: &Identity,
    ) -> Result<Reply, ControlError> {
        request.validate()?;
        match request {
            Request::Status {} => {
                let peers = self
                    .speaker()
                    .peers()
                    .await
                    .map_err(|_| unavailable("BGP speaker"))?;
                let routes = self
                    .speaker()
                    .prefix_count()
                    .await
                    .map_err(|_| unavailable("BGP speaker"))?;
                Ok(Reply::Status(StatusView {
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                    router_id: identity.router_id,
                    asn: identity.asn,
                    pid: std::process::id(),
                    uptime_secs: identity.started.elapsed().as_secs(),
                    peers_up: peers.iter().filter(|p| p.uptime_secs.is_some()).count(),
                    peers_total: peers.len(),
                    routes,
                    local_vms: self.vms().len(),
                }))
            }
            Request::ShowPeers {} => {
                let peers = self
                    .speaker()
                    .peers()
                    .await
                    .map_err(|_| unavailable("BGP speaker"))?;
                let bfd = self.bfd_states().await;
                Ok(Reply::Peers(
                    peers
                        .iter()
                        .map(|p| {
                            peer_row(
                                p,
                                bfd.get(&p.neighbor).cloned(),
                                p.fsm.session.capabilities.clone(),
                            )
                        })
                        .collect(),
                ))
            }
            Request::ShowRoutes { prefix } => {
                let reports = self
                    .speaker()
                    .routes(prefix)
                    .await
                    .map_err(|_| unavailable("BGP speaker"))?;
                let ids = self.router_ids().await;
                Ok(Reply::Routes(
                    reports
                        .iter()
                        .map(|r| {
                            route_row(r, |source| {
                                source
                                    .parse::<IpAddr>()
                                    .ok()
                                    .and_then(|a| ids.get(&a).copied())
                            })
                        })
                        .collect(),
                ))
            }
            Request::ShowVms {} => Ok(Reply::Vms(self.vm_rows())),
            Request::ShowBfd {} => {
                let sessions = self
                    .speaker()
                    .bfd()
                    .await
                    .map_err(|_| unavailable("BGP speaker"))?;
                Ok(Reply::Bfd(sessions.iter().map(bfd_row).collect()))
            }
            Request::ShowFib {} => {
                let snapshot = self
                    .fib()
                    .snapshot()
                    .await
                    .map_err(|e| ControlError::new(ErrorKind::Unavailable, e.to_string()))?;
                let names: HashMap<u32, String> = self
                    .vms()
                    .into_iter()
                    .map(|v| (v.vm.ifindex, v.vm.ifname))
                    .collect();
                Ok(Reply::Fib(fib_view(&snapshot, |i| names.get(&i).cloned())))
            }
            Request::ShowMoves { prefix } => Ok(Reply::Moves(self.moves_view(prefix))),
            hook @ (Request::VmAttach { .. }
            | Request::VmDetach { .. }
            | Request::VmMigrateBegin { .. }) => {
                let (vm, interface) = match &hook {
                    Request::VmAttach { vm, interface, .. }
                    | Request::VmDetach { vm, interface }
                    | Request::VmMigrateBegin { vm, interface, .. } => {
                        (vm.clone(), interface.clone())
                    }
                    _ => unreachable!("matched above"),
                };
                let name = hook.name();
                let Some(h) = hook.hook() else {
                    return Err(ControlError::internal("not a hook"));
                };
                self.hook(h).await;
                let present = self.vms().iter().any(|v| v.vm.ifname == interface);
                let message = match (name, present) {
                    ("vm-detach", _) => "detached: its addresses are withdrawn".to_owned(),
                    ("vm-migrate-begin", true) => {
                        "prepared: advertised on the VM's first announcement".to_owned()
                    }
                    (_, true) => "attached".to_owned(),
                    (_, false) => format!(
                        "recorded: waiting for interface {interface} to appear (it is not here yet, or not VM-facing)"
                    ),
                };
                Ok(Reply::Hook(HookView {
                    vm,
                    interface,
                    message,
                }))
            }
        }
    }

    async fn bfd_states(&self) -> HashMap<IpAddr, String> {
        let Ok(sessions) = self.speaker().bfd().await else {
            return HashMap::new();
        };
        sessions
            .iter()
            .map(bfd_row)
            .map(|row| (row.peer, row.state))
            .collect()
    }

    async fn router_ids(&self) -> HashMap<IpAddr, Ipv4Addr> {
        let Ok(peers) = self.speaker().peers().await else {
            return HashMap::new();
        };
        peers
            .iter()
            .filter_map(|p| Some((p.neighbor, p.fsm.session.remote_id?)))
            .collect()
    }

    fn vm_rows(&self) -> Vec<VmRow> {
        self.vms()
            .into_iter()
            .map(|v| VmRow {
                vm: v.vm.vm.clone(),
                interface: v.vm.ifname.clone(),
                ifindex: v.vm.ifindex,
                mac: v.vm.mac,
                state: match v.state {
                    inventory::VmState::Active => VmState::Active,
                    inventory::VmState::Prepared => VmState::Prepared,
                },
                up: v.up,
                addresses: v
                    .addresses
                    .iter()
                    .map(|a| {
                        let local = self.local(&host_prefix(*a));
                        AddressRow {
                            address: *a,
                            sequence: local
                                .filter(|l| l.state == LocalState::Advertised)
                                .map(|l| l.sequence.0),
                            static_flag: local.is_some_and(|l| l.is_static),
                            advertised: local.is_some_and(|l| l.state == LocalState::Advertised),
                            frozen: self.mobility().is_frozen(&host_prefix(*a)),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    fn moves_view(&self, prefix: Option<IpNet>) -> MovesView {
        let inside = |p: &IpNet| prefix.is_none_or(|q| q.contains(p));
        let window = self.mobility().config().duplicate_window.as_secs();
        MovesView {
            moves: self
                .mobility()
                .moves(None)
                .into_iter()
                .filter(|m| inside(&m.prefix))
                .map(|m| MoveRow {
                    prefix: m.prefix,
                    at_unix_ms: unix_ms(m.at),
                    from: m.from.to_string(),
                    to: m.to.to_string(),
                    sequence: m.sequence,
                    detection_to_advertise_us: m
                        .detection_to_advertise
                        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
                })
                .collect(),
            frozen: self
                .mobility()
                .frozen()
                .into_iter()
                .filter(|f| inside(&f.prefix))
                .map(|f| FrozenRow {
                    prefix: f.prefix,
                    moves: f.moves,
                    window_secs: window,
                    since_unix_ms: unix_ms(f.since),
                })
                .collect(),
        }
    }
}
