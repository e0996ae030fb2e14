//! Link detector: VM-facing interfaces appearing, going up or down, and
//! disappearing, from netlink link events (`RTNLGRP_LINK`).
//!
//! Order of work, so nothing is missed:
//!
//! 1. [`LinkDetector::subscribe`] opens a netlink socket bound to the link
//!    group. From then on the kernel queues every link event for us.
//! 2. The first poll of the stream dumps the links (`RTM_GETLINK`,
//!    retried if the kernel flags the dump as interrupted) and reports the
//!    VM-facing ones.
//! 3. Then it follows the queued and new events. Each `RTM_NEWLINK` carries
//!    the link's whole state, so a [`LinkTable`] of what was reported turns
//!    events into changes and drops repeats: a link created between the
//!    subscription and the dump shows up in both and is reported once.
//! 4. On an overrun it reports [`Sighting::Resync`], dumps again and
//!    reports what differs (links gone meanwhile come as `Removed`).
//!
//! Only `AF_UNSPEC` link messages describe interfaces: `AF_BRIDGE`
//! messages on the same group describe bridge ports, and their `DELLINK`
//! means "left the bridge", not "deleted".

use std::collections::{HashMap, VecDeque};

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{
    NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::sys::{AsyncSocket, SocketAddr};
use rtnetlink::{Handle, MulticastGroup};
use tracing::{debug, warn};

use super::{
    DetectError, Detector, InterfaceMatcher, LinkEvent, LinkSighting, MacAddr, Sighting,
    SightingStream,
};

const NAME: &str = "link";

/// Receive buffer asked for on event sockets by default (the kernel caps it
/// at `rmem_max` unless we may force it, which root may).
pub const EVENT_RCVBUF: usize = 8 << 20;

/// How often an interrupted dump is retried before it is taken as is (the
/// events that follow correct it).
const DUMP_ATTEMPTS: usize = 5;

/// What the link detector last reported about one interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkState {
    pub ifindex: u32,
    pub ifname: String,
    pub mac: Option<MacAddr>,
    /// `IFF_UP` and `IFF_LOWER_UP`.
    pub up: bool,
}

impl LinkState {
    /// The state a link message describes (`None` without a name).
    pub fn from_message(msg: &LinkMessage) -> Option<LinkState> {
        let mut ifname = None;
        let mut mac = None;
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(name) => ifname = Some(name.clone()),
                LinkAttribute::Address(addr) => mac = MacAddr::from_slice(addr),
                _ => {}
            }
        }
        let flags = msg.header.flags;
        Some(LinkState {
            ifindex: msg.header.index,
            ifname: ifname?,
            mac,
            up: flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::LowerUp),
        })
    }

    fn sighting(&self, event: LinkEvent) -> Sighting {
        Sighting::Link(LinkSighting {
            event,
            ifindex: self.ifindex,
            ifname: self.ifname.clone(),
            mac: self.mac,
        })
    }
}

/// Every link of the namespace as last seen, turning full-state link
/// messages into changes of VM-facing interfaces. Pure: no I/O.
#[derive(Debug, Default)]
pub struct LinkTable {
    links: HashMap<u32, LinkState>,
}

impl LinkTable {
    /// The VM-facing link with this index, if any.
    pub fn vm_facing(&self, ifindex: u32, matcher: &InterfaceMatcher) -> Option<&LinkState> {
        self.links
            .get(&ifindex)
            .filter(|l| matcher.matches(&l.ifname))
    }

    /// Records a link's new state; pushes the sightings it implies.
    pub fn update(&mut self, new: LinkState, matcher: &InterfaceMatcher, out: &mut Vec<Sighting>) {
        let new_matches = matcher.matches(&new.ifname);
        match self.links.get(&new.ifindex) {
            None => {
                if new_matches {
                    appeared(&new, out);
                }
            }
            Some(old) => {
                let old_matches = matcher.matches(&old.ifname);
                if old.ifname != new.ifname {
                    if old_matches {
                        out.push(old.sighting(LinkEvent::Removed));
                    }
                    if new_matches {
                        appeared(&new, out);
                    }
                } else if new_matches && old.up != new.up {
                    let event = if new.up {
                        LinkEvent::Up
                    } else {
                        LinkEvent::Down
                    };
                    out.push(new.sighting(event));
                }
            }
        }
        self.links.insert(new.ifindex, new);
    }

    /// Forgets a deleted link; pushes `Removed` if it was VM-facing.
    pub fn remove(&mut self, ifindex: u32, matcher: &InterfaceMatcher, out: &mut Vec<Sighting>) {
        if let Some(old) = self.links.remove(&ifindex)
            && matcher.matches(&old.ifname)
        {
            out.push(old.sighting(LinkEvent::Removed));
        }
    }

    /// Brings the table to a full dump: links missing from it are removed,
    /// the others updated.
    pub fn reconcile(
        &mut self,
        dump: Vec<LinkState>,
        matcher: &InterfaceMatcher,
        out: &mut Vec<Sighting>,
    ) {
        let present: std::collections::HashSet<u32> = dump.iter().map(|l| l.ifindex).collect();
        let mut gone: Vec<u32> = self
            .links
            .keys()
            .copied()
            .filter(|i| !present.contains(i))
            .collect();
        gone.sort_unstable();
        for ifindex in gone {
            self.remove(ifindex, matcher, out);
        }
        for link in dump {
            self.update(link, matcher, out);
        }
    }
}

fn appeared(link: &LinkState, out: &mut Vec<Sighting>) {
    out.push(link.sighting(LinkEvent::Appeared));
    if link.up {
        out.push(link.sighting(LinkEvent::Up));
    }
}

/// Aborts a spawned task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

type Events = UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>;

/// A netlink connection bound to multicast groups: the request handle and
/// the queue of events. The connection task starts with [`Self::start`].
pub(super) struct Subscription {
    pub handle: Handle,
    pub events: Events,
    connection: Option<rtnetlink::proto::Connection<RouteNetlinkMessage>>,
    task: Option<AbortOnDrop>,
    detector: &'static str,
}

impl Subscription {
    /// Subscribes to `groups` in the calling thread's network namespace,
    /// with a receive buffer of `rcvbuf` bytes. Must run inside a tokio
    /// runtime.
    pub fn new(
        detector: &'static str,
        groups: &[MulticastGroup],
        rcvbuf: usize,
    ) -> Result<Self, DetectError> {
        let io = |what| {
            move |source| DetectError::Io {
                detector,
                what,
                source,
            }
        };
        let (mut connection, handle, events) =
            rtnetlink::new_multicast_connection(groups).map_err(io("subscribing to netlink"))?;
        let socket = connection.socket_mut().socket_mut();
        socket
            .set_rx_buf_sz(rcvbuf)
            .map_err(io("setting SO_RCVBUF"))?;
        // Past rmem_max: allowed for root (CAP_NET_ADMIN), harmless otherwise.
        if let Err(e) =
            nix::sys::socket::setsockopt(&*socket, nix::sys::socket::sockopt::RcvBufForce, &rcvbuf)
        {
            debug!(detector, error = %e, "SO_RCVBUFFORCE refused; keeping SO_RCVBUF");
        }
        Ok(Subscription {
            handle,
            events,
            connection: Some(connection),
            task: None,
            detector,
        })
    }

    /// Starts the connection task (requests and events flow from here on;
    /// events queued since [`Self::new`] are kept).
    pub fn start(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.task = Some(AbortOnDrop(tokio::spawn(connection)));
        }
    }

    /// Dumps with `request` (`NLM_F_DUMP`), retrying while the kernel marks
    /// the dump `NLM_F_DUMP_INTR`. Returns the messages of the dump.
    pub async fn dump(
        &mut self,
        what: &'static str,
        request: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, DetectError> {
        self.start();
        let detector = self.detector;
        let mut last = Vec::new();
        for attempt in 1..=DUMP_ATTEMPTS {
            let mut req = NetlinkMessage::from(request.clone());
            req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
            let mut replies = self
                .handle
                .request(req)
                .map_err(|source| DetectError::Netlink {
                    detector,
                    what,
                    source,
                })?;
            let mut messages = Vec::new();
            let mut interrupted = false;
            while let Some(reply) = replies.next().await {
                interrupted |= reply.header.flags & NLM_F_DUMP_INTR != 0;
                match reply.payload {
                    NetlinkPayload::InnerMessage(m) => messages.push(m),
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(DetectError::Netlink {
                            detector,
                            what,
                            source: rtnetlink::Error::NetlinkError(e),
                        });
                    }
                    _ => {}
                }
            }
            if !interrupted {
                return Ok(messages);
            }
            warn!(
                detector,
                what, attempt, "netlink dump interrupted; dumping again"
            );
            last = messages;
        }
        Ok(last)
    }

    /// The next event (`None`: the connection closed).
    pub async fn next_event(&mut self) -> Option<NetlinkMessage<RouteNetlinkMessage>> {
        self.events.next().await.map(|(msg, _)| msg)
    }
}

/// One link message's meaning for a [`LinkTable`].
pub(super) enum LinkChange {
    New(LinkState),
    Deleted(u32),
}

/// The change a `RTM_NEWLINK`/`RTM_DELLINK` describes, for `AF_UNSPEC`
/// messages only (see the module docs).
pub(super) fn link_change(msg: &RouteNetlinkMessage) -> Option<LinkChange> {
    match msg {
        RouteNetlinkMessage::NewLink(m) if m.header.interface_family == AddressFamily::Unspec => {
            LinkState::from_message(m).map(LinkChange::New)
        }
        RouteNetlinkMessage::DelLink(m) if m.header.interface_family == AddressFamily::Unspec => {
            Some(LinkChange::Deleted(m.header.index))
        }
        _ => None,
    }
}

/// Dumps every link of the namespace.
pub(super) async fn dump_links(sub: &mut Subscription) -> Result<Vec<LinkState>, DetectError> {
    let dump = sub
        .dump(
            "dumping links",
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
        )
        .await?;
    Ok(dump
        .iter()
        .filter_map(link_change)
        .filter_map(|c| match c {
            LinkChange::New(l) => Some(l),
            LinkChange::Deleted(_) => None,
        })
        .collect())
}

/// Reports VM-facing interfaces appearing, going up or down, and
/// disappearing (see the module docs).
pub struct LinkDetector {
    sub: Subscription,
    matcher: InterfaceMatcher,
}

impl LinkDetector {
    /// Subscribes to link events in the calling thread's network namespace
    /// (call it inside a tokio runtime, on a thread in the namespace to
    /// watch). Events from now on are kept until the stream reads them.
    pub fn subscribe(matcher: InterfaceMatcher) -> Result<LinkDetector, DetectError> {
        Self::subscribe_with_buffer(matcher, EVENT_RCVBUF)
    }

    /// [`Self::subscribe`] with a receive buffer of `rcvbuf` bytes (a tiny
    /// one makes overruns easy to provoke in tests).
    pub fn subscribe_with_buffer(
        matcher: InterfaceMatcher,
        rcvbuf: usize,
    ) -> Result<LinkDetector, DetectError> {
        Ok(LinkDetector {
            sub: Subscription::new(NAME, &[MulticastGroup::Link], rcvbuf)?,
            matcher,
        })
    }
}

impl Detector for LinkDetector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn sightings(self: Box<Self>) -> SightingStream {
        let run = LinkRun {
            sub: self.sub,
            matcher: self.matcher,
            table: LinkTable::default(),
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

struct LinkRun {
    sub: Subscription,
    matcher: InterfaceMatcher,
    table: LinkTable,
    pending: VecDeque<Sighting>,
    dumped: bool,
}

impl LinkRun {
    async fn next(&mut self) -> Result<Sighting, DetectError> {
        loop {
            if let Some(s) = self.pending.pop_front() {
                return Ok(s);
            }
            let mut out = Vec::new();
            if !self.dumped {
                let dump = dump_links(&mut self.sub).await?;
                self.table.reconcile(dump, &self.matcher, &mut out);
                self.dumped = true;
            } else {
                let msg = self
                    .sub
                    .next_event()
                    .await
                    .ok_or(DetectError::Closed { detector: NAME })?;
                match msg.payload {
                    NetlinkPayload::InnerMessage(m) => match link_change(&m) {
                        Some(LinkChange::New(link)) => {
                            self.table.update(link, &self.matcher, &mut out);
                        }
                        Some(LinkChange::Deleted(ifindex)) => {
                            self.table.remove(ifindex, &self.matcher, &mut out);
                        }
                        None => {}
                    },
                    NetlinkPayload::Overrun(_) => {
                        warn!(
                            detector = NAME,
                            "netlink overrun: events lost; dumping links again"
                        );
                        out.push(Sighting::Resync { detector: NAME });
                        let dump = dump_links(&mut self.sub).await?;
                        self.table.reconcile(dump, &self.matcher, &mut out);
                    }
                    _ => {}
                }
            }
            self.pending.extend(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(ifindex: u32, name: &str, up: bool) -> LinkState {
        LinkState {
            ifindex,
            ifname: name.into(),
            mac: Some(MacAddr([2, 0, 0, 0, 0, ifindex as u8])),
            up,
        }
    }

    fn events(out: &[Sighting]) -> Vec<(LinkEvent, u32, String)> {
        out.iter()
            .map(|s| match s {
                Sighting::Link(l) => (l.event, l.ifindex, l.ifname.clone()),
                other => panic!("not a link sighting: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_link_seen_in_the_dump_and_in_queued_events_is_reported_once() {
        let m = InterfaceMatcher::libvirt_default();
        let mut table = LinkTable::default();
        let mut out = Vec::new();
        table.reconcile(
            vec![link(1, "lo", true), link(7, "vnet0", true)],
            &m,
            &mut out,
        );
        // The same state again, as the queued creation event.
        table.update(link(7, "vnet0", true), &m, &mut out);
        assert_eq!(
            events(&out),
            vec![
                (LinkEvent::Appeared, 7, "vnet0".into()),
                (LinkEvent::Up, 7, "vnet0".into())
            ]
        );
    }

    #[test]
    fn up_down_and_removal_are_reported_in_order_for_vm_facing_links_only() {
        let m = InterfaceMatcher::libvirt_default();
        let mut table = LinkTable::default();
        let mut out = Vec::new();
        for l in [link(3, "eth0", false), link(4, "tap1", false)] {
            table.update(l, &m, &mut out);
        }
        for l in [
            link(3, "eth0", true),
            link(4, "tap1", true),
            link(4, "tap1", false),
        ] {
            table.update(l, &m, &mut out);
        }
        table.remove(3, &m, &mut out);
        table.remove(4, &m, &mut out);
        table.remove(4, &m, &mut out);
        assert_eq!(
            events(&out),
            vec![
                (LinkEvent::Appeared, 4, "tap1".into()),
                (LinkEvent::Up, 4, "tap1".into()),
                (LinkEvent::Down, 4, "tap1".into()),
                (LinkEvent::Removed, 4, "tap1".into()),
            ]
        );
    }

    #[test]
    fn renames_into_and_out_of_the_patterns_appear_and_remove() {
        let m = InterfaceMatcher::libvirt_default();
        let mut table = LinkTable::default();
        let mut out = Vec::new();
        table.update(link(5, "veth-tmp", false), &m, &mut out);
        table.update(link(5, "vnet5", false), &m, &mut out);
        table.update(link(5, "vnet6", false), &m, &mut out);
        table.update(link(5, "parked", false), &m, &mut out);
        assert_eq!(
            events(&out),
            vec![
                (LinkEvent::Appeared, 5, "vnet5".into()),
                (LinkEvent::Removed, 5, "vnet5".into()),
                (LinkEvent::Appeared, 5, "vnet6".into()),
                (LinkEvent::Removed, 5, "vnet6".into()),
            ]
        );
    }

    #[test]
    fn a_resync_removes_links_that_vanished_while_events_were_lost() {
        let m = InterfaceMatcher::libvirt_default();
        let mut table = LinkTable::default();
        let mut out = Vec::new();
        table.reconcile(
            vec![link(7, "vnet0", true), link(8, "vnet1", true)],
            &m,
            &mut out,
        );
        out.clear();
        table.reconcile(
            vec![link(8, "vnet1", false), link(9, "vnet2", false)],
            &m,
            &mut out,
        );
        assert_eq!(
            events(&out),
            vec![
                (LinkEvent::Removed, 7, "vnet0".into()),
                (LinkEvent::Down, 8, "vnet1".into()),
                (LinkEvent::Appeared, 9, "vnet2".into()),
            ]
        );
    }
}
