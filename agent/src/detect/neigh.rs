//! Neighbour detector: ARP (IPv4) and ND (IPv6) entries the kernel learns
//! on VM-facing interfaces, from `RTNLGRP_NEIGH`.
//!
//! A VM that talks to its gateway (or answers the hypervisor's ARP/ND)
//! leaves an entry `ip -> mac` on its interface: that is a sighting of the
//! VM's address. Only entries with a confirmed link-layer address
//! (`NUD_VALID`: reachable, stale, delay, probe, permanent, noarp) are
//! reported; incomplete and failed entries, deletions and garbage
//! collection are not (a quiet VM is never withdrawn for being quiet: the
//! inventory ignores them anyway). Repeats of the same (address, MAC,
//! state) are dropped.
//!
//! Filtered out: families other than `AF_INET`/`AF_INET6` (the same group
//! carries bridge FDB entries, `AF_BRIDGE`), proxy entries (`NTF_PROXY`:
//! those are our own anycast gateway's), and interfaces that are not
//! VM-facing. The detector follows links on the same socket (subscribed
//! to `RTNLGRP_LINK` too) to know interface names; as for links, it
//! subscribes before it dumps, and an overrun makes it report
//! [`Sighting::Resync`] and dump again.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::MulticastGroup;
use rtnetlink::packet_core::NetlinkPayload;
use tracing::warn;

use super::link::{EVENT_RCVBUF, LinkChange, LinkTable, Subscription, dump_links, link_change};
use super::{
    DetectError, Detector, InterfaceMatcher, MacAddr, NeighbourSighting, NudState, Sighting,
    SightingStream,
};

const NAME: &str = "neigh";

/// What a neighbour message says, before interface filtering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourEntry {
    pub ifindex: u32,
    pub ip: IpAddr,
    pub mac: Option<MacAddr>,
    pub state: NudState,
}

impl NeighbourEntry {
    /// The IPv4/IPv6 entry a message describes; `None` for other families
    /// (bridge FDB), proxy entries and messages without a destination.
    pub fn from_message(msg: &NeighbourMessage) -> Option<NeighbourEntry> {
        let header = &msg.header;
        if !matches!(header.family, AddressFamily::Inet | AddressFamily::Inet6) {
            return None;
        }
        if header.flags.contains(NeighbourFlags::Proxy) {
            return None;
        }
        let mut ip = None;
        let mut mac = None;
        for attr in &msg.attributes {
            match attr {
                NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                    ip = Some(IpAddr::V4(*v4));
                }
                NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                    ip = Some(IpAddr::V6(*v6));
                }
                NeighbourAttribute::LinkLayerAddress(lla) => mac = MacAddr::from_slice(lla),
                _ => {}
            }
        }
        Some(NeighbourEntry {
            ifindex: header.ifindex,
            ip: ip?,
            mac,
            state: nud_state(header.state),
        })
    }
}

fn nud_state(state: NeighbourState) -> NudState {
    match state {
        NeighbourState::Incomplete => NudState::Incomplete,
        NeighbourState::Reachable => NudState::Reachable,
        NeighbourState::Stale => NudState::Stale,
        NeighbourState::Delay => NudState::Delay,
        NeighbourState::Probe => NudState::Probe,
        NeighbourState::Failed => NudState::Failed,
        NeighbourState::Noarp => NudState::Noarp,
        NeighbourState::Permanent => NudState::Permanent,
        NeighbourState::None => NudState::None,
        NeighbourState::Other(v) => NudState::Other(v),
        _ => NudState::Other(u16::from(state)),
    }
}

/// Neighbour entries as last reported, keyed by (interface, address).
/// Pure: turns entries into sightings, dropping repeats.
#[derive(Debug, Default)]
pub struct NeighbourTable {
    reported: HashMap<(u32, IpAddr), (MacAddr, NudState)>,
}

impl NeighbourTable {
    /// A new or refreshed entry: pushes a sighting if it is on a VM-facing
    /// interface, valid, not a repeat, and its MAC a unicast one.
    pub fn update(
        &mut self,
        entry: NeighbourEntry,
        links: &LinkTable,
        matcher: &InterfaceMatcher,
        out: &mut Vec<Sighting>,
    ) {
        let key = (entry.ifindex, entry.ip);
        let Some(link) = links.vm_facing(entry.ifindex, matcher) else {
            self.reported.remove(&key);
            return;
        };
        let Some(mac) = entry.mac.filter(|m| !m.is_multicast() && !m.is_zero()) else {
            return;
        };
        if !entry.state.is_valid() {
            return;
        }
        if self.reported.get(&key) == Some(&(mac, entry.state)) {
            return;
        }
        self.reported.insert(key, (mac, entry.state));
        out.push(Sighting::Neighbour(NeighbourSighting {
            ifindex: entry.ifindex,
            ifname: link.ifname.clone(),
            ip: entry.ip,
            mac,
            state: entry.state,
        }));
    }

    /// An entry deleted by the kernel: forgotten, not reported.
    pub fn remove(&mut self, ifindex: u32, ip: IpAddr) {
        self.reported.remove(&(ifindex, ip));
    }

    /// An interface gone: its entries are forgotten.
    pub fn remove_link(&mut self, ifindex: u32) {
        self.reported.retain(|(i, _), _| *i != ifindex);
    }

    /// Brings the table to a full dump: entries missing from it are
    /// forgotten, the others updated.
    pub fn reconcile(
        &mut self,
        dump: Vec<NeighbourEntry>,
        links: &LinkTable,
        matcher: &InterfaceMatcher,
        out: &mut Vec<Sighting>,
    ) {
        let present: std::collections::HashSet<(u32, IpAddr)> =
            dump.iter().map(|e| (e.ifindex, e.ip)).collect();
        self.reported.retain(|k, _| present.contains(k));
        for entry in dump {
            self.update(entry, links, matcher, out);
        }
    }
}

/// Reports ARP and ND entries on VM-facing interfaces (see the module
/// docs).
pub struct NeighDetector {
    sub: Subscription,
    matcher: InterfaceMatcher,
}

impl NeighDetector {
    /// Subscribes to link and neighbour events in the calling thread's
    /// network namespace (inside a tokio runtime).
    pub fn subscribe(matcher: InterfaceMatcher) -> Result<NeighDetector, DetectError> {
        Self::subscribe_with_buffer(matcher, EVENT_RCVBUF)
    }

    /// [`Self::subscribe`] with a receive buffer of `rcvbuf` bytes.
    pub fn subscribe_with_buffer(
        matcher: InterfaceMatcher,
        rcvbuf: usize,
    ) -> Result<NeighDetector, DetectError> {
        let groups = [MulticastGroup::Link, MulticastGroup::Neigh];
        Ok(NeighDetector {
            sub: Subscription::new(NAME, &groups, rcvbuf)?,
            matcher,
        })
    }
}

impl Detector for NeighDetector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn sightings(self: Box<Self>) -> SightingStream {
        let run = NeighRun {
            sub: self.sub,
            matcher: self.matcher,
            links: LinkTable::default(),
            neighbours: NeighbourTable::default(),
            pending: VecDeque::new(),
            dumped: false,
        };
        Box::pin(futures::stream::unfold(Some(run), |run| async move {
            let mut run = run?;
            match run.next().await {
                Ok(s) => Some((Ok(s), Some(run))),
                Err(e) => Some((Err(e), None)),
            }
        }))
    }
}

struct NeighRun {
    sub: Subscription,
    matcher: InterfaceMatcher,
    links: LinkTable,
    neighbours: NeighbourTable,
    pending: VecDeque<Sighting>,
    dumped: bool,
}

impl NeighRun {
    async fn dump(&mut self, out: &mut Vec<Sighting>) -> Result<(), DetectError> {
        let links = dump_links(&mut self.sub).await?;
        // Link changes are not ours to report: only names matter here.
        self.links.reconcile(links, &self.matcher, &mut Vec::new());
        let mut entries = Vec::new();
        for family in [AddressFamily::Inet, AddressFamily::Inet6] {
            let mut request = NeighbourMessage::default();
            request.header.family = family;
            let dump = self
                .sub
                .dump(
                    "dumping neighbours",
                    RouteNetlinkMessage::GetNeighbour(request),
                )
                .await?;
            entries.extend(dump.iter().filter_map(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => NeighbourEntry::from_message(n),
                _ => None,
            }));
        }
        self.neighbours
            .reconcile(entries, &self.links, &self.matcher, out);
        Ok(())
    }

    async fn next(&mut self) -> Result<Sighting, DetectError> {
        loop {
            if let Some(s) = self.pending.pop_front() {
                return Ok(s);
            }
            let mut out = Vec::new();
            if !self.dumped {
                self.dump(&mut out).await?;
                self.dumped = true;
            } else {
                let msg = self
                    .sub
                    .next_event()
                    .await
                    .ok_or(DetectError::Closed { detector: NAME })?;
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => self.event(&m, &mut out),
                    NetlinkPayload::Overrun(_) => {
                        warn!(
                            detector = NAME,
                            "netlink overrun: events lost; dumping again"
                        );
                        out.push(Sighting::Resync { detector: NAME });
                        self.dump(&mut out).await?;
                    }
                    _ => {}
                }
            }
            self.pending.extend(out);
        }
    }

    fn event(&mut self, msg: &RouteNetlinkMessage, out: &mut Vec<Sighting>) {
        match msg {
            RouteNetlinkMessage::NewNeighbour(n) => {
                if let Some(entry) = NeighbourEntry::from_message(n) {
                    self.neighbours
                        .update(entry, &self.links, &self.matcher, out);
                }
            }
            RouteNetlinkMessage::DelNeighbour(n) => {
                if let Some(entry) = NeighbourEntry::from_message(n) {
                    self.neighbours.remove(entry.ifindex, entry.ip);
                }
            }
            _ => match link_change(msg) {
                Some(LinkChange::New(link)) => {
                    let ifindex = link.ifindex;
                    self.links.update(link, &self.matcher, &mut Vec::new());
                    if self.links.vm_facing(ifindex, &self.matcher).is_none() {
                        self.neighbours.remove_link(ifindex);
                    }
                }
                Some(LinkChange::Deleted(ifindex)) => {
                    self.links.remove(ifindex, &self.matcher, &mut Vec::new());
                    self.neighbours.remove_link(ifindex);
                }
                None => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::link::LinkState;
    use super::*;

    fn links() -> LinkTable {
        let mut t = LinkTable::default();
        let m = InterfaceMatcher::libvirt_default();
        for (i, name) in [(2, "eth0"), (7, "vnet0")] {
            let link = LinkState {
                ifindex: i,
                ifname: name.into(),
                mac: None,
                up: true,
            };
            t.update(link, &m, &mut Vec::new());
        }
        t
    }

    fn entry(ifindex: u32, ip: &str, state: NudState) -> NeighbourEntry {
        NeighbourEntry {
            ifindex,
            ip: ip.parse().unwrap(),
            mac: Some(MacAddr([2, 0, 0, 0, 0, 5])),
            state,
        }
    }

    #[test]
    fn valid_entries_on_vm_facing_links_are_reported_once_per_state() {
        let (links, m) = (links(), InterfaceMatcher::libvirt_default());
        let mut t = NeighbourTable::default();
        let mut out = Vec::new();
        t.update(
            entry(7, "10.1.1.5", NudState::Reachable),
            &links,
            &m,
            &mut out,
        );
        t.update(
            entry(7, "10.1.1.5", NudState::Reachable),
            &links,
            &m,
            &mut out,
        );
        t.update(entry(7, "10.1.1.5", NudState::Stale), &links, &m, &mut out);
        t.update(
            entry(7, "10.1.1.6", NudState::Incomplete),
            &links,
            &m,
            &mut out,
        );
        t.update(entry(7, "10.1.1.7", NudState::Failed), &links, &m, &mut out);
        t.update(
            entry(2, "192.0.2.1", NudState::Reachable),
            &links,
            &m,
            &mut out,
        );
        t.update(
            entry(9, "10.1.1.9", NudState::Reachable),
            &links,
            &m,
            &mut out,
        );
        let seen: Vec<(String, NudState)> = out
            .iter()
            .map(|s| match s {
                Sighting::Neighbour(n) => (format!("{}@{}", n.ip, n.ifname), n.state),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                ("10.1.1.5@vnet0".to_string(), NudState::Reachable),
                ("10.1.1.5@vnet0".to_string(), NudState::Stale),
            ]
        );
    }

    #[test]
    fn fdb_and_proxy_entries_are_not_neighbours() {
        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Bridge;
        msg.header.ifindex = 7;
        msg.header.state = NeighbourState::Reachable;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(vec![2, 0, 0, 0, 0, 5]));
        assert_eq!(NeighbourEntry::from_message(&msg), None);

        let mut msg = NeighbourMessage::default();
        msg.header.family = AddressFamily::Inet6;
        msg.header.ifindex = 7;
        msg.header.flags = NeighbourFlags::Proxy;
        msg.attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet6(
                "2001:db8::1".parse().unwrap(),
            )));
        assert_eq!(NeighbourEntry::from_message(&msg), None);

        msg.header.flags = NeighbourFlags::empty();
        msg.header.state = NeighbourState::Stale;
        msg.attributes
            .push(NeighbourAttribute::LinkLayerAddress(vec![2, 0, 0, 0, 0, 5]));
        assert_eq!(
            NeighbourEntry::from_message(&msg),
            Some(NeighbourEntry {
                ifindex: 7,
                ip: "2001:db8::1".parse().unwrap(),
                mac: Some(MacAddr([2, 0, 0, 0, 0, 5])),
                state: NudState::Stale,
            })
        );
    }

    #[test]
    fn a_resync_reports_only_what_changed() {
        let (links, m) = (links(), InterfaceMatcher::libvirt_default());
        let mut t = NeighbourTable::default();
        let mut out = Vec::new();
        t.reconcile(
            vec![entry(7, "10.1.1.5", NudState::Stale)],
            &links,
            &m,
            &mut out,
        );
        out.clear();
        t.reconcile(
            vec![
                entry(7, "10.1.1.5", NudState::Stale),
                entry(7, "10.1.1.8", NudState::Reachable),
            ],
            &links,
            &m,
            &mut out,
        );
        assert_eq!(out.len(), 1, "{out:?}");
    }
}
