//! The inventory: which VMs (interfaces and addresses) are on this
//! hypervisor, decided from the sightings of every detector. Pure: no I/O,
//! no clock, no logging; the caller carries out and logs the decisions.
//!
//! ```text
//!   Sighting (link, neigh, announce, hook) ──┐
//!   MovedAway (speaker: higher sequence      ├─> Inventory::handle ─> Vec<Decision>
//!              for our address elsewhere) ───┘     Arrive / Prepare / Activate /
//!                                                  Depart / Rejected / Conflict
//! ```
//!
//! Rules (each has a test named after it):
//!
//! - A VM is an interface (one tap per vNIC) and the addresses seen on it.
//!   An address **arrives** when a valid neighbour entry, a gratuitous
//!   ARP / unsolicited NA or an `attach` hook shows it on a VM-facing
//!   interface. An address is held by one local interface at a time.
//! - It **departs** only when its interface is removed, on an explicit
//!   `detach`, or when the speaker reports that it **moved away** (a higher
//!   mobility sequence for it from another host). A quiet VM is never
//!   withdrawn for being quiet: neighbour entries going STALE or FAILED,
//!   or being garbage-collected, change nothing, and neither does the link
//!   going down.
//! - After a detach or a move away, the kernel may still hold neighbour
//!   entries for the address; they do not bring it back. A fresh
//!   announcement (or hook) does.
//! - Addresses outside the pools configured for the interface are never
//!   advertised: **rejected**, reported once per interface and address.
//!   Link-local, multicast, loopback and unspecified addresses are not host
//!   routes and are ignored silently.
//! - Make-before-break: `migrate-begin` **prepares** the destination (the
//!   route can be installed, nothing is advertised); the VM's first sign of
//!   life on that interface (any announcement, RARP included, or a valid
//!   neighbour entry: a paused VM sends nothing) **activates** it.
//! - Hooks may come before their interface exists (libvirt runs them
//!   before the tap is created); they wait for it by name.
//! - An announcement on another local interface takes an address over (the
//!   old interface departs it); a mere neighbour entry there is reported as
//!   a **conflict** and changes nothing.
//!
//! Duplicate detection (M moves in N seconds) and sequence numbers belong
//! to the mobility module, which sits after the inventory and sees every
//! Arrive/Activate/Depart; `Conflict` is where local evidence of a
//! duplicate is surfaced for it.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::SystemTime;

use ipnet::IpNet;
use serde::Serialize;

use crate::detect::{
    Announcement, AnnouncementKind, Hook, InterfaceMatcher, LinkEvent, LinkSighting, MacAddr,
    NeighbourSighting, NudState, Sighting,
};

/// The pools VM-facing interfaces matching `matcher` may carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfacePolicy {
    pub matcher: InterfaceMatcher,
    pub pools: Vec<IpNet>,
}

/// What the inventory is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Something a detector saw.
    Sighting(Sighting),
    /// The speaker saw a higher mobility sequence for this (local) address
    /// from another host: the VM moved away.
    MovedAway { address: IpAddr },
}

/// What convinced the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Evidence {
    Neighbour {
        state: NudState,
    },
    Announcement {
        kind: AnnouncementKind,
        /// The kernel's receive time of the frame.
        received: SystemTime,
    },
    Hook,
}

/// Why addresses departed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DepartReason {
    InterfaceRemoved,
    Detached,
    /// A higher sequence from another host.
    MovedAway,
    /// Announced on another local interface.
    MovedToInterface {
        ifname: String,
    },
}

/// Why an address is not advertised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// Not inside any pool configured for the interface (listed; empty when
    /// the interface has none).
    OutsidePool { pools: Vec<IpNet> },
}

/// Which VM an address belongs to: the interface, and what is known of the
/// VM on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VmRef {
    pub ifindex: u32,
    pub ifname: String,
    /// From a hook, if one named it.
    pub vm: Option<String>,
    /// The VM's MAC, once seen.
    pub mac: Option<MacAddr>,
}

/// What the inventory decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Decision {
    /// These addresses are here now: install and advertise.
    Arrive {
        vm: VmRef,
        addresses: Vec<IpAddr>,
        evidence: Evidence,
    },
    /// A migration toward this host began: install, do not advertise.
    Prepare { vm: VmRef, addresses: Vec<IpAddr> },
    /// The prepared VM showed up: advertise these (installed) addresses.
    Activate {
        vm: VmRef,
        addresses: Vec<IpAddr>,
        evidence: Evidence,
    },
    /// These addresses are no longer here: withdraw and remove.
    Depart {
        vm: VmRef,
        addresses: Vec<IpAddr>,
        reason: DepartReason,
    },
    /// Seen, but never advertised.
    Rejected {
        vm: VmRef,
        address: IpAddr,
        reason: RejectReason,
    },
    /// A neighbour entry for an address another local interface holds.
    Conflict {
        address: IpAddr,
        held_by: String,
        seen_on: String,
    },
}

/// Whether a VM's addresses are advertised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmState {
    Active,
    /// `migrate-begin` seen, no sign of life yet.
    Prepared,
}

/// One local VM interface, for `show vms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VmView {
    #[serde(flatten)]
    pub vm: VmRef,
    pub state: VmState,
    pub up: bool,
    pub addresses: Vec<IpAddr>,
}

#[derive(Clone, Debug)]
struct Iface {
    ifname: String,
    up: bool,
    vm: Option<String>,
    mac: Option<MacAddr>,
    state: VmState,
    addresses: BTreeSet<IpAddr>,
    /// Rejections and conflicts already reported.
    reported: BTreeSet<IpAddr>,
    /// Detached or moved away: neighbour entries do not bring these back.
    gone: BTreeSet<IpAddr>,
}

/// A hook waiting for its interface to appear.
#[derive(Clone, Debug)]
struct PendingHook {
    vm: String,
    addresses: Vec<IpAddr>,
    mac: Option<MacAddr>,
    migrating: bool,
}

/// The inventory (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    policies: Vec<InterfacePolicy>,
    ifaces: BTreeMap<u32, Iface>,
    owners: BTreeMap<IpAddr, u32>,
    pending: BTreeMap<String, PendingHook>,
}

impl Inventory {
    /// An empty inventory with the configured pools.
    pub fn new(policies: Vec<InterfacePolicy>) -> Inventory {
        Inventory {
            policies,
            ..Inventory::default()
        }
    }

    /// Takes one input; pushes the decisions it implies, in order.
    pub fn handle(&mut self, input: Input, out: &mut Vec<Decision>) {
        match input {
            Input::Sighting(Sighting::Link(link)) => self.link(link, out),
            Input::Sighting(Sighting::Neighbour(n)) => self.neighbour(n, out),
            Input::Sighting(Sighting::Announcement(a)) => self.announcement(a, out),
            Input::Sighting(Sighting::Hook(hook)) => self.hook(hook, out),
            // The detector's following sightings carry the changes.
            Input::Sighting(Sighting::Resync { .. }) => {}
            Input::MovedAway { address } => self.moved_away(address, out),
        }
    }

    /// The local VM interfaces, by interface index.
    pub fn vms(&self) -> Vec<VmView> {
        self.ifaces
            .iter()
            .map(|(ifindex, i)| VmView {
                vm: vm_ref(*ifindex, i),
                state: i.state,
                up: i.up,
                addresses: i.addresses.iter().copied().collect(),
            })
            .collect()
    }

    /// The interface holding `address`, if any.
    pub fn owner(&self, address: IpAddr) -> Option<VmView> {
        let ifindex = *self.owners.get(&address)?;
        self.vms().into_iter().find(|v| v.vm.ifindex == ifindex)
    }

    fn link(&mut self, link: LinkSighting, out: &mut Vec<Decision>) {
        match link.event {
            LinkEvent::Appeared => {
                if self
                    .ifaces
                    .get(&link.ifindex)
                    .is_some_and(|i| i.ifname != link.ifname)
                {
                    self.remove_iface(link.ifindex, out);
                }
                self.ensure_iface(link.ifindex, &link.ifname, out);
            }
            LinkEvent::Up | LinkEvent::Down => {
                self.ensure_iface(link.ifindex, &link.ifname, out);
                if let Some(i) = self.ifaces.get_mut(&link.ifindex) {
                    i.up = link.event == LinkEvent::Up;
                }
            }
            LinkEvent::Removed => self.remove_iface(link.ifindex, out),
        }
    }

    fn neighbour(&mut self, n: NeighbourSighting, out: &mut Vec<Decision>) {
        // Quiet VMs stay: entries without a confirmed MAC say nothing.
        if !n.state.is_valid() || !routable(n.ip) {
            return;
        }
        self.ensure_iface(n.ifindex, &n.ifname, out);
        let Some(iface) = self.ifaces.get_mut(&n.ifindex) else {
            return;
        };
        iface.mac.get_or_insert(n.mac);
        if iface.gone.contains(&n.ip) {
            return;
        }
        if let Some(&holder) = self.owners.get(&n.ip)
            && holder != n.ifindex
        {
            self.conflict(n.ip, holder, n.ifindex, out);
            return;
        }
        let evidence = Evidence::Neighbour { state: n.state };
        self.claim(n.ifindex, &[n.ip], evidence, out);
    }

    fn announcement(&mut self, a: Announcement, out: &mut Vec<Decision>) {
        self.ensure_iface(a.ifindex, &a.ifname, out);
        let Some(iface) = self.ifaces.get_mut(&a.ifindex) else {
            return;
        };
        iface.mac.get_or_insert(a.mac);
        let evidence = Evidence::Announcement {
            kind: a.kind,
            received: a.received,
        };
        let Some(ip) = a.ip.filter(|ip| routable(*ip)) else {
            // RARP: the VM lives here; nothing new to route.
            self.activate(a.ifindex, evidence, out);
            return;
        };
        iface.gone.remove(&ip);
        self.take_over(ip, a.ifindex, out);
        self.claim(a.ifindex, &[ip], evidence, out);
    }

    fn hook(&mut self, hook: Hook, out: &mut Vec<Decision>) {
        match hook {
            Hook::Attach {
                vm,
                ifname,
                addresses,
                mac,
            } => self.hook_vm(vm, ifname, addresses, mac, false, out),
            Hook::MigrateBegin {
                vm,
                ifname,
                addresses,
                mac,
            } => self.hook_vm(vm, ifname, addresses, mac, true, out),
            Hook::Detach { vm: _, ifname } => {
                self.pending.remove(&ifname);
                let Some(ifindex) = self.ifindex_of(&ifname) else {
                    return;
                };
                if let Some(i) = self.ifaces.get_mut(&ifindex) {
                    i.gone.extend(i.addresses.iter().copied());
                }
                self.depart_all(ifindex, DepartReason::Detached, out);
                if let Some(i) = self.ifaces.get_mut(&ifindex) {
                    i.vm = None;
                    i.state = VmState::Active;
                }
            }
        }
    }

    fn hook_vm(
        &mut self,
        vm: String,
        ifname: String,
        addresses: Vec<IpAddr>,
        mac: Option<MacAddr>,
        migrating: bool,
        out: &mut Vec<Decision>,
    ) {
        let hook = PendingHook {
            vm,
            addresses,
            mac,
            migrating,
        };
        match self.ifindex_of(&ifname) {
            Some(ifindex) => self.apply_hook(ifindex, hook, out),
            None => {
                self.pending.insert(ifname, hook);
            }
        }
    }

    fn apply_hook(&mut self, ifindex: u32, hook: PendingHook, out: &mut Vec<Decision>) {
        let Some(iface) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        iface.vm = Some(hook.vm);
        if hook.mac.is_some() {
            iface.mac = hook.mac;
        }
        let addresses: Vec<IpAddr> = hook
            .addresses
            .into_iter()
            .filter(|a| routable(*a))
            .collect();
        for a in &addresses {
            iface.gone.remove(a);
        }
        if hook.migrating && iface.addresses.is_empty() {
            iface.state = VmState::Prepared;
            let mut prepared = Vec::new();
            for address in addresses {
                if let Some(&holder) = self.owners.get(&address)
                    && holder != ifindex
                {
                    self.conflict(address, holder, ifindex, out);
                } else if self.admit(ifindex, address, out) {
                    prepared.push(address);
                }
            }
            if let Some(iface) = self.ifaces.get(&ifindex)
                && !prepared.is_empty()
            {
                out.push(Decision::Prepare {
                    vm: vm_ref(ifindex, iface),
                    addresses: prepared,
                });
            }
        } else {
            for address in &addresses {
                self.take_over(*address, ifindex, out);
            }
            self.claim(ifindex, &addresses, Evidence::Hook, out);
        }
    }

    fn moved_away(&mut self, address: IpAddr, out: &mut Vec<Decision>) {
        let Some(ifindex) = self.owners.remove(&address) else {
            return;
        };
        let Some(iface) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        iface.addresses.remove(&address);
        iface.gone.insert(address);
        out.push(Decision::Depart {
            vm: vm_ref(ifindex, iface),
            addresses: vec![address],
            reason: DepartReason::MovedAway,
        });
    }

    /// Creates the interface record on its first sighting (from whichever
    /// detector comes first) and applies a hook waiting for it.
    fn ensure_iface(&mut self, ifindex: u32, ifname: &str, out: &mut Vec<Decision>) {
        if self.ifaces.contains_key(&ifindex) {
            return;
        }
        self.ifaces.insert(
            ifindex,
            Iface {
                ifname: ifname.to_string(),
                up: true,
                vm: None,
                mac: None,
                state: VmState::Active,
                addresses: BTreeSet::new(),
                reported: BTreeSet::new(),
                gone: BTreeSet::new(),
            },
        );
        if let Some(hook) = self.pending.remove(ifname) {
            self.apply_hook(ifindex, hook, out);
        }
    }

    fn remove_iface(&mut self, ifindex: u32, out: &mut Vec<Decision>) {
        self.depart_all(ifindex, DepartReason::InterfaceRemoved, out);
        self.ifaces.remove(&ifindex);
    }

    fn depart_all(&mut self, ifindex: u32, reason: DepartReason, out: &mut Vec<Decision>) {
        let Some(iface) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        let addresses: Vec<IpAddr> = std::mem::take(&mut iface.addresses).into_iter().collect();
        for a in &addresses {
            self.owners.remove(a);
        }
        if !addresses.is_empty() {
            out.push(Decision::Depart {
                vm: vm_ref(ifindex, iface),
                addresses,
                reason,
            });
        }
    }

    /// An address announced on `ifindex` leaves any other local interface.
    fn take_over(&mut self, address: IpAddr, ifindex: u32, out: &mut Vec<Decision>) {
        let Some(&holder) = self.owners.get(&address) else {
            return;
        };
        if holder == ifindex {
            return;
        }
        let ifname = self
            .ifaces
            .get(&ifindex)
            .map(|i| i.ifname.clone())
            .unwrap_or_default();
        self.owners.remove(&address);
        if let Some(old) = self.ifaces.get_mut(&holder) {
            old.addresses.remove(&address);
            out.push(Decision::Depart {
                vm: vm_ref(holder, old),
                addresses: vec![address],
                reason: DepartReason::MovedToInterface { ifname },
            });
        }
    }

    /// Adds addresses to `ifindex` (pool-checked): an active interface
    /// arrives with the new ones, a prepared one activates with all.
    fn claim(
        &mut self,
        ifindex: u32,
        addresses: &[IpAddr],
        evidence: Evidence,
        out: &mut Vec<Decision>,
    ) {
        let mut new = Vec::new();
        for &address in addresses {
            let held = self
                .ifaces
                .get(&ifindex)
                .is_some_and(|i| i.addresses.contains(&address));
            if !held && self.admit(ifindex, address, out) {
                new.push(address);
            }
        }
        let Some(iface) = self.ifaces.get(&ifindex) else {
            return;
        };
        match iface.state {
            VmState::Prepared => self.activate(ifindex, evidence, out),
            VmState::Active if !new.is_empty() => out.push(Decision::Arrive {
                vm: vm_ref(ifindex, iface),
                addresses: new,
                evidence,
            }),
            VmState::Active => {}
        }
    }

    /// Checks the pools and records the address on the interface; reports a
    /// rejection once.
    fn admit(&mut self, ifindex: u32, address: IpAddr, out: &mut Vec<Decision>) -> bool {
        let Some(iface) = self.ifaces.get_mut(&ifindex) else {
            return false;
        };
        let pools: Vec<IpNet> = self
            .policies
            .iter()
            .filter(|p| p.matcher.matches(&iface.ifname))
            .flat_map(|p| p.pools.iter().copied())
            .collect();
        if !pools.iter().any(|p| p.contains(&address)) {
            if iface.reported.insert(address) {
                out.push(Decision::Rejected {
                    vm: vm_ref(ifindex, iface),
                    address,
                    reason: RejectReason::OutsidePool { pools },
                });
            }
            return false;
        }
        iface.addresses.insert(address);
        self.owners.insert(address, ifindex);
        true
    }

    fn activate(&mut self, ifindex: u32, evidence: Evidence, out: &mut Vec<Decision>) {
        let Some(iface) = self.ifaces.get_mut(&ifindex) else {
            return;
        };
        if iface.state != VmState::Prepared {
            return;
        }
        iface.state = VmState::Active;
        out.push(Decision::Activate {
            vm: vm_ref(ifindex, iface),
            addresses: iface.addresses.iter().copied().collect(),
            evidence,
        });
    }

    fn conflict(&mut self, address: IpAddr, holder: u32, seen_on: u32, out: &mut Vec<Decision>) {
        let held_by = self.ifaces.get(&holder).map(|i| i.ifname.clone());
        let Some(iface) = self.ifaces.get_mut(&seen_on) else {
            return;
        };
        if iface.reported.insert(address) {
            out.push(Decision::Conflict {
                address,
                held_by: held_by.unwrap_or_default(),
                seen_on: iface.ifname.clone(),
            });
        }
    }

    fn ifindex_of(&self, ifname: &str) -> Option<u32> {
        self.ifaces
            .iter()
            .find(|(_, i)| i.ifname == ifname)
            .map(|(ifindex, _)| *ifindex)
    }
}

fn vm_ref(ifindex: u32, iface: &Iface) -> VmRef {
    VmRef {
        ifindex,
        ifname: iface.ifname.clone(),
        vm: iface.vm.clone(),
        mac: iface.mac,
    }
}

/// Whether a host route for `ip` makes sense (not link-local, multicast,
/// loopback or unspecified).
fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            !(v4.is_link_local()
                || v4.is_multicast()
                || v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_broadcast())
        }
        IpAddr::V6(v6) => {
            !(v6.is_unicast_link_local()
                || v6.is_multicast()
                || v6.is_loopback()
                || v6.is_unspecified())
        }
    }
}

#[cfg(test)]
mod tests;
