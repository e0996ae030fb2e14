//! The controller: the one owner of the daemon's state. It turns what the
//! detectors see into host routes (inventory -> mobility -> speaker), the
//! speaker's route changes into kernel routes (speaker -> FIB), and the
//! speaker's "your route lost" into departures (speaker -> inventory).
//!
//! ```text
//!  detectors ─ Sighting ─> Inventory ─ Decision ─> originate / withdraw ─> speaker
//!                             ^                                              │
//!                             └──── MovedAway <─ RibEvent::LocalSuperseded ──┤
//!  kernel FIB <─ Delta <─ resolver (local VM interfaces) <─ RouteChange ─────┘
//!                                          └─> Mobility: moves, duplicates
//! ```
//!
//! Every handler runs to completion on the owner task; the speaker and the
//! FIB service are other tasks reached through their handles, so a slow
//! kernel never blocks BGP and the reverse.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ipnet::IpNet;
use proto::bgp::{Mobility as MobilityCommunity, Sequence};
use speaker::SpeakerHandle;
use speaker::handle::SpeakerEvent;
use speaker::rib::attrs::{NextHop, PathAttrs};
use speaker::rib::{Best, RibEvent, RouteChange, SourceId};
use tracing::{debug, error, info, warn};

use crate::detect::{Hook, LinkEvent, Sighting};
use crate::fib::{Delta, FibHandle, Resolver};
use crate::gateway::AnycastGateway;
use crate::inventory::{Decision, Evidence, Input, Inventory, VmRef, VmView};
use crate::mobility::{Frozen, Location, Mobility, Move};

/// A local VM address this host holds.
#[derive(Debug, Clone)]
pub struct LocalRoute {
    pub ifindex: u32,
    pub ifname: String,
    pub vm: Option<String>,
    pub sequence: Sequence,
    pub is_static: bool,
    pub state: LocalState,
    /// When it was last (re)originated or prepared.
    pub since: SystemTime,
}

/// Whether a local address is advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalState {
    Advertised,
    /// `migrate-begin` seen; advertised on the VM's first sign of life.
    Prepared,
    /// Duplicate detection froze the prefix: held here, not advertised.
    Frozen,
}

/// What the controller needs from the rest of the daemon.
pub struct Parts {
    pub speaker: SpeakerHandle,
    pub fib: FibHandle,
    pub gateway: Option<AnycastGateway>,
    pub inventory: Inventory,
    pub mobility: Mobility,
    /// Addresses advertised with the static (pinned) flag.
    pub pinned: Vec<IpNet>,
}

/// The daemon's state and the logic between its parts.
pub struct Controller {
    speaker: SpeakerHandle,
    fib: FibHandle,
    gateway: Option<AnycastGateway>,
    inventory: Inventory,
    mobility: Mobility,
    pinned: Vec<IpNet>,
    locals: HashMap<IpNet, LocalRoute>,
    /// Announcement-to-originate latency of an arrival, until the route
    /// change that makes it the best path records the move.
    arrivals: HashMap<IpNet, Duration>,
    /// Where withdrawn prefixes were last, for a while: a VM that moves
    /// is usually withdrawn by its old host (its interface went) before
    /// the new host sees it, and the move must still count and carry the
    /// next sequence.
    recent: HashMap<IpNet, Recent>,
    decisions: Vec<Decision>,
}

/// The last best path of a withdrawn prefix.
#[derive(Debug, Clone, Copy)]
struct Recent {
    location: Location,
    mobility: MobilityCommunity,
    at: Instant,
}

/// Withdrawn prefixes remembered at most (a peer going down withdraws
/// everything at once; beyond this, moves right after are not counted).
const RECENT_MAX: usize = 65_536;

/// The host route of an address.
pub fn host_prefix(address: IpAddr) -> IpNet {
    IpNet::from(address)
}

/// Where a best path comes from (see [`Location::Remote`]).
pub fn location_of(source: SourceId, attrs: &PathAttrs) -> Location {
    if source == SourceId::LOCAL {
        return Location::Local;
    }
    if let Some(id) = attrs.originator_id {
        return Location::Remote(IpAddr::V4(id));
    }
    match attrs.next_hop {
        NextHop::V4(a) => Location::Remote(IpAddr::V4(a)),
        NextHop::V6 { global, .. } => Location::Remote(IpAddr::V6(global)),
        // A learned path always has a next hop; keep the source visible.
        NextHop::Local => Location::Remote(IpAddr::from([0, 0, 0, 0])),
    }
}

/// Local routes resolve to their VM's interface.
struct Locals<'a>(&'a HashMap<IpNet, LocalRoute>);

impl Resolver for Locals<'_> {
    fn local_interface(&self, prefix: &IpNet) -> Option<u32> {
        self.0.get(prefix).map(|l| l.ifindex)
    }

    fn gateway_interface(&self, _gateway: IpAddr) -> Option<u32> {
        None
    }
}

impl Controller {
    pub fn new(parts: Parts) -> Self {
        Self {
            speaker: parts.speaker,
            fib: parts.fib,
            gateway: parts.gateway,
            inventory: parts.inventory,
            mobility: parts.mobility,
            pinned: parts.pinned,
            locals: HashMap::new(),
            arrivals: HashMap::new(),
            recent: HashMap::new(),
            decisions: Vec::new(),
        }
    }

    pub fn speaker(&self) -> &SpeakerHandle {
        &self.speaker
    }

    pub fn fib(&self) -> &FibHandle {
        &self.fib
    }

    /// One detector sighting (or a hook from the control socket).
    pub async fn sighting(&mut self, sighting: Sighting) {
        if let Sighting::Link(link) = &sighting
            && link.event == LinkEvent::Appeared
            && let Some(gateway) = &self.gateway
        {
            match gateway.apply(link.ifindex, &link.ifname).await {
                Ok(()) => debug!(ifname = %link.ifname, "anycast gateway applied"),
                Err(e) => error!(ifname = %link.ifname, error = %e,
                    "cannot make the interface an anycast gateway port"),
            }
        }
        self.input(Input::Sighting(sighting)).await;
    }

    /// A hook from the control socket.
    pub async fn hook(&mut self, hook: Hook) {
        self.sighting(Sighting::Hook(hook)).await;
    }

    async fn input(&mut self, input: Input) {
        let mut decisions = std::mem::take(&mut self.decisions);
        self.inventory.handle(input, &mut decisions);
        for decision in decisions.drain(..) {
            self.decide(decision).await;
        }
        self.decisions = decisions;
    }

    async fn decide(&mut self, decision: Decision) {
        match decision {
            Decision::Arrive {
                vm,
                addresses,
                evidence,
            }
            | Decision::Activate {
                vm,
                addresses,
                evidence,
            } => {
                let received = received_at(&evidence);
                info!(ifname = %vm.ifname, vm = ?vm.vm, ?addresses, ?evidence, "VM addresses here");
                for address in addresses {
                    self.arrive(&vm, address, received).await;
                }
            }
            Decision::Prepare { vm, addresses } => {
                info!(ifname = %vm.ifname, vm = ?vm.vm, ?addresses,
                    "migration toward this host: prepared, not advertised");
                for address in addresses {
                    self.locals.insert(
                        host_prefix(address),
                        local_route(&vm, Sequence::ZERO, false, LocalState::Prepared),
                    );
                }
            }
            Decision::Depart {
                vm,
                addresses,
                reason,
            } => {
                info!(ifname = %vm.ifname, vm = ?vm.vm, ?addresses, ?reason, "VM addresses gone");
                for address in addresses {
                    let prefix = host_prefix(address);
                    if let Some(local) = self.locals.remove(&prefix)
                        && local.state == LocalState::Advertised
                    {
                        self.withdraw(prefix).await;
                    }
                    self.arrivals.remove(&prefix);
                }
            }
            Decision::Rejected {
                vm,
                address,
                reason,
            } => {
                warn!(ifname = %vm.ifname, %address, ?reason,
                    "address outside the interface's pools: not advertised");
            }
            Decision::Conflict {
                address,
                held_by,
                seen_on,
            } => {
                warn!(%address, %held_by, %seen_on,
                    "address seen on two local interfaces: possible duplicate");
            }
        }
    }

    async fn arrive(&mut self, vm: &VmRef, address: IpAddr, received: Option<SystemTime>) {
        let prefix = host_prefix(address);
        let is_static = self.pinned.iter().any(|p| p.contains(&address));
        if self.mobility.is_frozen(&prefix) {
            warn!(%prefix, ifname = %vm.ifname,
                "duplicate detection froze this prefix: held here, not advertised");
            self.locals.insert(
                prefix,
                local_route(vm, Sequence::ZERO, is_static, LocalState::Frozen),
            );
            return;
        }
        // The speaker decides the sequence from every path it holds, in
        // the same turn as it originates (no round trip first); what we
        // saw withdrawn a moment ago (the old host often withdraws before
        // the VM shows up here) counts too.
        let remembered = self
            .recent
            .get(&prefix)
            .map(|r| (r.location == Location::Local, r.mobility.sequence));
        let Ok(sequence) = self
            .speaker
            .originate_arrival(prefix, is_static, remembered)
            .await
        else {
            error!(%prefix, "the speaker has stopped: cannot advertise");
            return;
        };
        self.locals.insert(
            prefix,
            local_route(vm, sequence, is_static, LocalState::Advertised),
        );
        // The frame's kernel receive time to the route handed to the
        // speaker, which writes the UPDATE at the end of its current turn.
        let latency = received.and_then(|r| SystemTime::now().duration_since(r).ok());
        if let Some(latency) = latency {
            self.arrivals.insert(prefix, latency);
        }
        info!(%prefix, sequence = sequence.0, is_static, latency_us = latency.map(|l| l.as_micros() as u64),
            "advertised");
    }

    async fn withdraw(&mut self, prefix: IpNet) {
        if self.speaker.withdraw(prefix).await.is_err() {
            error!(%prefix, "the speaker has stopped: cannot withdraw");
        } else {
            info!(%prefix, "withdrawn");
        }
    }

    /// One speaker event.
    pub async fn speaker_event(&mut self, event: SpeakerEvent) {
        match event {
            SpeakerEvent::Routes(changes) => self.routes(&changes).await,
            SpeakerEvent::Rib(RibEvent::LocalSuperseded { prefix, by, reason }) => {
                info!(%prefix, by = %by.router_id, sequence = %by.mobility.sequence, ?reason,
                    "our route lost: the VM moved away");
                self.input(Input::MovedAway {
                    address: prefix.addr(),
                })
                .await;
            }
            SpeakerEvent::PeerUp { neighbor } => info!(%neighbor, "BGP session up"),
            SpeakerEvent::PeerDown { neighbor, reason } => {
                warn!(%neighbor, %reason, "BGP session down");
            }
        }
    }

    async fn routes(&mut self, changes: &[RouteChange]) {
        let deltas = self.fib.deltas(changes, &Locals(&self.locals));
        if self.fib.apply(deltas).await.is_err() {
            error!("the FIB service has stopped: kernel routes are not updated");
        }
        let now = Instant::now();
        let wall = SystemTime::now();
        for change in changes {
            let new = match (&change.old, &change.new) {
                (Some(old), None) => {
                    if self.recent.len() < RECENT_MAX {
                        self.recent.insert(
                            change.prefix,
                            Recent {
                                location: location_of(old.source, &old.attrs),
                                mobility: old.attrs.mobility.unwrap_or_default(),
                                at: now,
                            },
                        );
                    }
                    continue;
                }
                (_, None) => continue,
                (_, Some(new)) => new,
            };
            let from = match &change.old {
                Some(old) => location_of(old.source, &old.attrs),
                None => match self.recent.remove(&change.prefix) {
                    Some(recent) => recent.location,
                    None => continue,
                },
            };
            let to = location_of(new.source, &new.attrs);
            if from == to {
                continue;
            }
            let sequence = new.attrs.mobility.unwrap_or_default().sequence.0;
            let latency = if to == Location::Local {
                self.arrivals.remove(&change.prefix)
            } else {
                None
            };
            info!(prefix = %change.prefix, %from, %to, sequence, "move");
            let record = Move {
                prefix: change.prefix,
                at: wall,
                from,
                to,
                sequence,
                detection_to_advertise: latency,
            };
            if let Some(frozen) = self.mobility.moved(record, now) {
                self.froze(&frozen);
            }
        }
    }

    fn froze(&mut self, frozen: &Frozen) {
        error!(prefix = %frozen.prefix, moves = frozen.moves,
            window_secs = self.mobility.config().duplicate_window.as_secs(),
            "duplicate address: too many moves, prefix frozen");
    }

    /// The broadcast of route changes overflowed: make the FIB match the
    /// RIB again from a full view.
    pub async fn resync_fib(&mut self) {
        warn!("route change events were lost: resynchronising the kernel FIB from the RIB");
        let Ok(reports) = self.speaker.routes(None).await else {
            return;
        };
        let mut changes = Vec::with_capacity(reports.len());
        for report in reports {
            if let Some(best) = report.paths.into_iter().find(|p| p.best) {
                let source = if best.source == "local" {
                    SourceId::LOCAL
                } else {
                    SourceId(1)
                };
                changes.push(RouteChange {
                    prefix: report.prefix,
                    old: None,
                    new: Some(Best {
                        source,
                        path_id: best.path_id,
                        attrs: Arc::new(best.attrs),
                    }),
                });
            }
        }
        let mut deltas = self.fib.deltas(&changes, &Locals(&self.locals));
        let keep: std::collections::HashSet<IpNet> = changes.iter().map(|c| c.prefix).collect();
        if let Ok(snapshot) = self.fib.snapshot().await {
            for entry in snapshot.entries {
                if entry.desired.is_some() && !keep.contains(&entry.key.prefix) {
                    deltas.push(Delta::Remove(entry.key));
                }
            }
        }
        if self.fib.apply(deltas).await.is_err() {
            error!("the FIB service has stopped");
        }
    }

    /// Ends freezes whose time is up and advertises what they held.
    pub async fn tick(&mut self) {
        let now = Instant::now();
        let window = self.mobility.config().duplicate_window;
        self.recent
            .retain(|_, r| now.saturating_duration_since(r.at) <= window);
        for prefix in self.mobility.thaw(now) {
            info!(%prefix, "duplicate-detection freeze ended");
            if let Some(local) = self.locals.get(&prefix).cloned()
                && local.state == LocalState::Frozen
            {
                let vm = VmRef {
                    ifindex: local.ifindex,
                    ifname: local.ifname.clone(),
                    vm: local.vm.clone(),
                    mac: None,
                };
                self.arrive(&vm, prefix.addr(), None).await;
            }
        }
    }

    pub fn vms(&self) -> Vec<VmView> {
        self.inventory.vms()
    }

    pub fn local(&self, prefix: &IpNet) -> Option<&LocalRoute> {
        self.locals.get(prefix)
    }

    pub fn locals(&self) -> impl Iterator<Item = (&IpNet, &LocalRoute)> {
        self.locals.iter()
    }

    pub fn mobility(&self) -> &Mobility {
        &self.mobility
    }
}

fn local_route(vm: &VmRef, sequence: Sequence, is_static: bool, state: LocalState) -> LocalRoute {
    LocalRoute {
        ifindex: vm.ifindex,
        ifname: vm.ifname.clone(),
        vm: vm.vm.clone(),
        sequence,
        is_static,
        state,
        since: SystemTime::now(),
    }
}

/// The kernel's receive time of the announcement that showed the VM.
fn received_at(evidence: &Evidence) -> Option<SystemTime> {
    match evidence {
        Evidence::Announcement { received, .. } => Some(*received),
        Evidence::Neighbour { .. } | Evidence::Hook => None,
    }
}
