//! The netlink side of the FIB service: dump our routes, replace and delete
//! them in pipelined batches, and watch route events.
//!
//! ```text
//!   Kernel (request socket, strict check, ext ack)      Monitor (multicast socket)
//!     dump()     RTM_GETROUTE|DUMP per family,            RTNLGRP_IPV4_ROUTE
//!                filtered by protocol + table in the      RTNLGRP_IPV6_ROUTE
//!                kernel; retried on NLM_F_DUMP_INTR         -> Added / Removed: routes of
//!     replace()  RTM_NEWROUTE REPLACE|CREATE  \                ours changed by anyone but
//!     delete()   RTM_DELROUTE (exact key)      > batch         our request socket's port
//!                                                           -> Overrun (ENOBUFS: events
//!                                                              were lost, resync)
//!                `batch_size` messages per datagram,
//!                `in_flight` datagrams pipelined; a NACK
//!                echoes its request, so it maps back to a key
//! ```
//!
//! The request socket is a `netlink-proto` connection driven by its own
//! tokio task; the monitor reads its socket itself, on a task of its own,
//! and drops the events of our own requests by port id before decoding
//! them. The request socket uses the lower-level `ConnectionHandle` (not
//! `rtnetlink::Handle`) because only it sends many messages in one datagram
//! (`request_batch`) and shows header flags (`NLM_F_DUMP_INTR`). The kernel
//! handles a datagram's messages one after another inside `sendmsg`, so a
//! datagram costs one system call to send. What comes back depends on
//! [`AckMode`]: by default only the last message of a datagram asks for an
//! ACK (it marks the datagram done), and the kernel answers any failed
//! message anyway with a NACK that echoes the request, which names the
//! route; the other mode asks for an ACK per message, like `ip -batch`, at
//! one receive per route. Either way the receive buffer must hold the
//! answers of `in_flight` datagrams: it is raised with `SO_RCVBUFFORCE`
//! (through `nix`; no `unsafe`).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::StreamExt;
use futures::channel::mpsc::UnboundedReceiver;
use ipnet::IpNet;
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteMessage, RouteProtocol, RouteScope, RouteType,
    RouteVia,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::packet_core::{
    NLM_F_ACK, NLM_F_ACK_TLVS, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REPLACE,
    NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::proto::{ConnectionHandle, ReplyExpectation};
use rtnetlink::sys::protocols::NETLINK_ROUTE;
use rtnetlink::sys::{AsyncSocket, AsyncSocketExt, Socket, SocketAddr, TokioSocket};
use tokio::task::JoinHandle;

use super::route::{Route, RouteKey, RouteKind, RouteParams};

/// `RT_TABLE_COMPAT`: the header's table byte for tables above 255 (the
/// real id goes in `RTA_TABLE`).
const RT_TABLE_COMPAT: u8 = 252;

/// How many times a dump interrupted by a concurrent change is retried.
const DUMP_ATTEMPTS: u32 = 8;

/// `NLMSGERR_ATTR_MSG`: the extended ACK's error string.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// Netlink socket settings.
#[derive(Debug, Clone)]
pub struct KernelConfig {
    pub params: RouteParams,
    /// Route messages per datagram.
    pub batch_size: usize,
    /// Datagrams whose ACKs may be outstanding at once.
    pub in_flight: usize,
    /// Receive buffer of the request socket (ACKs), in bytes.
    pub request_rcvbuf: usize,
    /// Receive buffer of the monitor socket (events), in bytes.
    pub monitor_rcvbuf: usize,
    /// Longest wait for the answer to one datagram or one dump.
    pub timeout: Duration,
    /// Which messages ask the kernel for an ACK.
    pub ack: AckMode,
}

/// Which route messages carry `NLM_F_ACK`. Failures are answered either
/// way (the kernel always reports an error) and map back to their route
/// through the request the NACK echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    /// Every message: one ACK per route to receive.
    EachMessage,
    /// Only the last message of each datagram, which marks the datagram
    /// done; successes cost no receive at all.
    LastOfDatagram,
}

impl Default for KernelConfig {
    fn default() -> Self {
        Self {
            params: RouteParams::default(),
            batch_size: 256,
            in_flight: 8,
            request_rcvbuf: 8 << 20,
            monitor_rcvbuf: 32 << 20,
            timeout: Duration::from_secs(30),
            ack: AckMode::LastOfDatagram,
        }
    }
}

/// Netlink failures that are not about one route.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("netlink socket: {0}")]
    Socket(#[from] io::Error),
    #[error("the netlink connection is closed")]
    Closed,
    #[error("no answer from the kernel within {0:?}")]
    Timeout(Duration),
    #[error("route dump failed: errno {errno}{}", detail(.message))]
    Dump { errno: i32, message: Option<String> },
    #[error("route dump interrupted by changes {DUMP_ATTEMPTS} times in a row")]
    DumpInterrupted,
    #[error("ACKs were lost (request socket overrun)")]
    AckOverrun,
}

fn detail(message: &Option<String>) -> String {
    message
        .as_ref()
        .map(|m| format!(" ({m})"))
        .unwrap_or_default()
}

/// One route the kernel refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpFailure {
    pub key: RouteKey,
    /// Positive errno (`ENETUNREACH` = 101, ...).
    pub errno: i32,
    /// The kernel's extended-ACK message, if it sent one.
    pub message: Option<String>,
}

/// What came back for one batch. Every route not in `failed` succeeded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub failed: Vec<OpFailure>,
    /// NACKs whose request could not be decoded (errno, message): the
    /// caller cannot tell which routes they were about and should resync.
    pub unmatched: Vec<(i32, Option<String>)>,
}

/// Our routes as a dump found them.
#[derive(Debug, Clone, Default)]
pub struct Dump {
    pub routes: Vec<Route>,
    /// Dumps thrown away because the kernel flagged them inconsistent.
    pub interrupted: u32,
}

/// The request socket.
pub struct Kernel {
    handle: ConnectionHandle<RouteNetlinkMessage>,
    unsolicited: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    task: JoinHandle<()>,
    port: u32,
    config: KernelConfig,
}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Kernel {
    /// Opens a strict-checking, extended-ACK route socket in the calling
    /// thread's network namespace and spawns its connection task.
    pub fn connect(config: &KernelConfig) -> Result<Kernel, KernelError> {
        let (mut conn, handle, unsolicited) =
            rtnetlink::proto::new_connection::<RouteNetlinkMessage>(NETLINK_ROUTE)?;
        let socket = conn.socket_mut().socket_mut();
        socket.set_netlink_get_strict_chk(true)?;
        socket.set_ext_ack(true)?;
        set_receive_buffer(socket, config.request_rcvbuf)?;
        // Bound now (not on the first send) so the monitor can tell the
        // events our own requests cause by this port id.
        let port = socket.bind_auto()?.port_number();
        // The dump reads NLM_F_DUMP_INTR on the final NLMSG_DONE too.
        conn.set_forward_done(true);
        let task = tokio::spawn(conn);
        Ok(Kernel {
            handle,
            unsolicited,
            task,
            port,
            config: config.clone(),
        })
    }

    /// The request socket's netlink port id: the `nlmsg_pid` of the route
    /// events our own requests cause.
    pub fn port(&self) -> u32 {
        self.port
    }

    /// Routes of our protocol in our table, both families, from one
    /// consistent pair of dumps (retried while `NLM_F_DUMP_INTR` says a
    /// change raced the dump).
    pub async fn dump(&mut self) -> Result<Dump, KernelError> {
        let mut interrupted = 0;
        while interrupted < DUMP_ATTEMPTS {
            let mut routes = Vec::new();
            let mut consistent = true;
            for family in [AddressFamily::Inet, AddressFamily::Inet6] {
                consistent &= self.dump_family(family, &mut routes).await?;
            }
            if consistent {
                return Ok(Dump {
                    routes,
                    interrupted,
                });
            }
            interrupted += 1;
            tracing::debug!(interrupted, "route dump interrupted; dumping again");
        }
        Err(KernelError::DumpInterrupted)
    }

    async fn dump_family(
        &mut self,
        family: AddressFamily,
        routes: &mut Vec<Route>,
    ) -> Result<bool, KernelError> {
        let params = self.config.params;
        let mut request = RouteMessage::default();
        request.header.address_family = family;
        request.header.table = compat_table(params.table);
        request.header.protocol = RouteProtocol::from(params.protocol);
        request.attributes.push(RouteAttribute::Table(params.table));
        let mut message = NetlinkMessage::from(RouteNetlinkMessage::GetRoute(request));
        message.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut responses = self
            .handle
            .request(message, SocketAddr::new(0, 0))
            .map_err(|_| KernelError::Closed)?;
        let collect = async {
            let mut consistent = true;
            while let Some(message) = responses.next().await {
                if message.header.flags & NLM_F_DUMP_INTR != 0 {
                    consistent = false;
                }
                match message.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => {
                        if let Some(route) = route_from_message(&m)
                            && route.protocol == params.protocol
                            && route.table == params.table
                        {
                            routes.push(route);
                        }
                    }
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        let (errno, message) = nack(message.header.flags, &e);
                        return Err(KernelError::Dump { errno, message });
                    }
                    _ => {}
                }
            }
            Ok(consistent)
        };
        tokio::time::timeout(self.config.timeout, collect)
            .await
            .map_err(|_| KernelError::Timeout(self.config.timeout))?
    }

    /// Installs or replaces each route (`NLM_F_REPLACE | NLM_F_CREATE`).
    pub async fn replace(&mut self, routes: &[Route]) -> Result<BatchOutcome, KernelError> {
        self.batch(routes, false, |r| {
            let mut m = NetlinkMessage::from(RouteNetlinkMessage::NewRoute(route_message(r)));
            m.header.flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE | NLM_F_CREATE;
            m
        })
        .await
    }

    /// Deletes each route by its exact key, and only if it is of our
    /// protocol; a route already gone (`ESRCH`, `ENOENT`) is a success.
    pub async fn delete(&mut self, routes: &[Route]) -> Result<BatchOutcome, KernelError> {
        self.batch(routes, true, |r| {
            let mut m = NetlinkMessage::from(RouteNetlinkMessage::DelRoute(delete_message(r)));
            m.header.flags = NLM_F_REQUEST | NLM_F_ACK;
            m
        })
        .await
    }

    /// Sends `routes` as datagrams of `batch_size` messages, `in_flight` at
    /// a time. Each datagram's messages are built only when it is sent, so
    /// at most `in_flight` datagrams of messages exist at once, however
    /// many routes there are.
    async fn batch(
        &mut self,
        routes: &[Route],
        delete: bool,
        message: impl Fn(&Route) -> NetlinkMessage<RouteNetlinkMessage>,
    ) -> Result<BatchOutcome, KernelError> {
        let size = self.config.batch_size.max(1);
        let timeout = self.config.timeout;
        let ack_each = self.config.ack == AckMode::EachMessage;
        let handle = self.handle.clone();
        let mut answers = futures::stream::iter((0..routes.len()).step_by(size))
            .map(|start| {
                let end = routes.len().min(start + size);
                let chunk = datagram(
                    routes.get(start..end).unwrap_or_default(),
                    &message,
                    ack_each,
                );
                let handle = handle.clone();
                async move {
                    let mut responses = handle
                        .request_batch_with_expectation(chunk, SocketAddr::new(0, 0))
                        .map_err(|_| KernelError::Closed)?;
                    let collect = async {
                        let mut nacks = Vec::new();
                        while let Some(message) = responses.next().await {
                            if let NetlinkPayload::Error(e) = message.payload
                                && e.code.is_some()
                            {
                                nacks.push((message.header.flags, e));
                            }
                        }
                        nacks
                    };
                    tokio::time::timeout(timeout, collect)
                        .await
                        .map_err(|_| KernelError::Timeout(timeout))
                }
            })
            .buffer_unordered(self.config.in_flight.max(1));
        let mut nacks = Vec::new();
        while let Some(chunk_nacks) = answers.next().await {
            nacks.extend(chunk_nacks?);
        }
        drop(answers);
        // Unsolicited on the request socket: NACKs of messages that did
        // not ask for an ACK, or an overrun (the kernel dropped answers, so
        // some of the above may be missing).
        while let Ok((message, _)) = self.unsolicited.try_recv() {
            match message.payload {
                NetlinkPayload::Overrun(_) => return Err(KernelError::AckOverrun),
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    nacks.push((message.header.flags, e));
                }
                _ => {}
            }
        }
        let mut outcome = BatchOutcome::default();
        for (flags, e) in nacks {
            let (code, message) = nack(flags, &e);
            if delete && (code == errno::ESRCH || code == errno::ENOENT) {
                continue;
            }
            match echoed_route(&e.header) {
                Some(route) => outcome.failed.push(OpFailure {
                    key: route.key(),
                    errno: code,
                    message,
                }),
                None => outcome.unmatched.push((code, message)),
            }
        }
        Ok(outcome)
    }
}

/// One datagram's messages for `routes`. With `AckMode::LastOfDatagram`
/// (`ack_each` false), only the last message asks for an ACK; the kernel
/// still answers every failure, and the NACKs reach the unsolicited stream
/// before that ACK (they precede it on the socket).
fn datagram(
    routes: &[Route],
    message: impl Fn(&Route) -> NetlinkMessage<RouteNetlinkMessage>,
    ack_each: bool,
) -> Vec<(NetlinkMessage<RouteNetlinkMessage>, ReplyExpectation)> {
    let last = routes.len().saturating_sub(1);
    routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            let mut m = message(route);
            if ack_each || i == last {
                (m, ReplyExpectation::Expected)
            } else {
                m.header.flags &= !NLM_F_ACK;
                (m, ReplyExpectation::NotExpected)
            }
        })
        .collect()
}

/// The errno values the service tells apart.
pub mod errno {
    pub const ENOENT: i32 = 2;
    pub const ESRCH: i32 = 3;
    pub const ENOBUFS: i32 = 105;
}

/// A route event of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelEvent {
    /// A route of our protocol and table was added or changed.
    Added(Route),
    /// A route of our protocol and table was deleted (by us or anyone).
    Removed(Route),
    /// The socket overflowed and events were lost: resync.
    Overrun,
}

/// The event socket, subscribed to IPv4 and IPv6 route changes.
///
/// A task of its own reads the socket and decodes only the events about
/// our routes that our own requests did not cause: a notification's
/// sender port is read from its header first, so the notifications of a
/// large batch of ours are dropped undecoded as they arrive (while the
/// service still waits for its ACKs) instead of queueing until it reads
/// them.
pub struct Monitor {
    events: tokio::sync::mpsc::UnboundedReceiver<KernelEvent>,
    task: JoinHandle<()>,
    /// The port id whose requests' events are ignored; 0 for none (the
    /// kernel's own changes come from port 0, ours never do).
    own_port: Arc<AtomicU32>,
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Receive buffer for one notification datagram (a route notification is
/// one message of at most a page or two).
const MONITOR_DATAGRAM: usize = 64 << 10;

impl Monitor {
    /// Subscribes to route events in the calling thread's namespace. Open
    /// it before dumping, so no change between the dump and the
    /// subscription is missed.
    pub fn open(config: &KernelConfig) -> Result<Monitor, KernelError> {
        use rtnetlink::MulticastGroup;
        let mut socket = TokioSocket::new(NETLINK_ROUTE)?;
        let groups = [MulticastGroup::Ipv4Route, MulticastGroup::Ipv6Route]
            .iter()
            .fold(0u32, |mask, group| mask | 1 << (*group as u32 - 1));
        socket.socket_mut().bind(&SocketAddr::new(0, groups))?;
        set_receive_buffer(socket.socket_mut(), config.monitor_rcvbuf)?;
        let own_port = Arc::new(AtomicU32::new(0));
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let params = config.params;
        let port = Arc::clone(&own_port);
        // When the socket fails the task ends and drops its sender, which
        // ends `recv`.
        let task = tokio::spawn(async move {
            let mut datagram = Vec::with_capacity(MONITOR_DATAGRAM);
            loop {
                datagram.clear();
                let sent = match socket.recv_from(&mut datagram).await {
                    Ok(_) => {
                        let own = port.load(Ordering::Relaxed);
                        events_in(&datagram, &params, own, |event| tx.send(event).is_ok())
                    }
                    // The receive buffer overflowed: events were lost.
                    Err(e) if e.raw_os_error() == Some(errno::ENOBUFS) => {
                        tx.send(KernelEvent::Overrun).is_ok()
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "route event socket failed");
                        false
                    }
                };
                if !sent {
                    break;
                }
            }
        });
        Ok(Monitor {
            events,
            task,
            own_port,
        })
    }

    /// Ignores the events caused by requests from this netlink port (our
    /// own [`Kernel`]): their outcome is known from the answers already,
    /// and an echo that arrives after a newer request of ours for the same
    /// route would look like a change by someone else.
    pub fn ignore_requests_from(&mut self, port: u32) {
        self.own_port.store(port, Ordering::Relaxed);
    }

    /// The next event about our routes (waits); `None` once the socket is
    /// gone.
    pub async fn recv(&mut self) -> Option<KernelEvent> {
        self.events.recv().await
    }

    /// The next event already received, without waiting.
    pub fn try_recv(&mut self) -> Option<KernelEvent> {
        self.events.try_recv().ok()
    }
}

/// Calls `emit` with each event of one notification datagram that is
/// about a route of ours (`params`' protocol and table) and not caused by
/// `own_port` (0: none), skipping the latter before decoding them. Stops
/// at a malformed message, and when `emit` returns `false` (then returns
/// `false`).
fn events_in(
    datagram: &[u8],
    params: &RouteParams,
    own_port: u32,
    mut emit: impl FnMut(KernelEvent) -> bool,
) -> bool {
    let mut rest = datagram;
    // nlmsghdr: length u32, type u16, flags u16, sequence u32, port id u32.
    while let (Some(len), Some(port)) = (rest.get(0..4), rest.get(12..16)) {
        let len = u32::from_ne_bytes(len.try_into().unwrap_or_default());
        let port = u32::from_ne_bytes(port.try_into().unwrap_or_default());
        let Some(message) = usize::try_from(len)
            .ok()
            .filter(|len| *len >= 16)
            .and_then(|len| rest.get(..len))
        else {
            break;
        };
        if own_port == 0 || port != own_port {
            let event = NetlinkMessage::<RouteNetlinkMessage>::deserialize(message)
                .ok()
                .and_then(|m| classify(params, m));
            if let Some(event) = event
                && !emit(event)
            {
                return false;
            }
        }
        rest = rest
            .get(message.len().next_multiple_of(4)..)
            .unwrap_or_default();
    }
    true
}

/// The event a route notification is, if it is about a route of ours.
fn classify(
    params: &RouteParams,
    message: NetlinkMessage<RouteNetlinkMessage>,
) -> Option<KernelEvent> {
    let (added, m) = match message.payload {
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(m)) => (true, m),
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelRoute(m)) => (false, m),
        _ => return None,
    };
    if m.header.flags.contains(RouteFlags::Cloned) {
        return None;
    }
    let route = route_from_message(&m)?;
    if route.protocol != params.protocol || route.table != params.table {
        return None;
    }
    Some(if added {
        KernelEvent::Added(route)
    } else {
        KernelEvent::Removed(route)
    })
}

/// Sets a socket's receive buffer: `SO_RCVBUFFORCE` (past `rmem_max`;
/// needs `CAP_NET_ADMIN`), else `SO_RCVBUF` (capped by `rmem_max`).
/// Returns the size the kernel reports (twice the request: bookkeeping).
pub fn set_receive_buffer(socket: &Socket, bytes: usize) -> io::Result<usize> {
    use nix::sys::socket::{setsockopt, sockopt};
    if let Err(errno) = setsockopt(socket, sockopt::RcvBufForce, &bytes) {
        tracing::debug!(%errno, "SO_RCVBUFFORCE refused; falling back to SO_RCVBUF");
        let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
        socket.set_rx_buf_sz(bytes)?;
    }
    socket.get_rx_buf_sz()
}

fn compat_table(table: u32) -> u8 {
    u8::try_from(table).unwrap_or(RT_TABLE_COMPAT)
}

fn family_of(prefix: &IpNet) -> AddressFamily {
    match prefix {
        IpNet::V4(_) => AddressFamily::Inet,
        IpNet::V6(_) => AddressFamily::Inet6,
    }
}

/// The `RTM_NEWROUTE` body for a route.
pub fn route_message(route: &Route) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family_of(&route.prefix);
    m.header.destination_prefix_length = route.prefix.prefix_len();
    m.header.table = compat_table(route.table);
    m.header.protocol = RouteProtocol::from(route.protocol);
    m.header.kind = RouteType::Unicast;
    m.header.scope = match (route.prefix, route.kind) {
        (IpNet::V4(_), RouteKind::Local { .. }) => RouteScope::Link,
        _ => RouteScope::Universe,
    };
    m.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(
            route.prefix.addr(),
        )));
    m.attributes.push(RouteAttribute::Table(route.table));
    m.attributes.push(RouteAttribute::Priority(route.metric));
    match route.kind {
        RouteKind::Local { ifindex } => m.attributes.push(RouteAttribute::Oif(ifindex)),
        RouteKind::Via { gateway, ifindex } => {
            match (route.prefix, gateway) {
                // RFC 8950: an IPv4 route via an IPv6 gateway is RTA_VIA.
                (IpNet::V4(_), IpAddr::V6(g)) => {
                    m.attributes.push(RouteAttribute::Via(RouteVia::Inet6(g)));
                }
                _ => m
                    .attributes
                    .push(RouteAttribute::Gateway(RouteAddress::from(gateway))),
            }
            if let Some(ifindex) = ifindex {
                m.attributes.push(RouteAttribute::Oif(ifindex));
            }
        }
        // Never sent: `Route::validate` refuses it and the service never
        // desires one. An empty unicast route would be refused anyway.
        RouteKind::Other => {}
    }
    m
}

/// The `RTM_DELROUTE` body for a route: the exact key (table, dst, tos 0,
/// priority) and our protocol, so the kernel never deletes another
/// protocol's route; any scope (`RT_SCOPE_NOWHERE`) and any next hop.
pub fn delete_message(route: &Route) -> RouteMessage {
    let mut m = RouteMessage::default();
    m.header.address_family = family_of(&route.prefix);
    m.header.destination_prefix_length = route.prefix.prefix_len();
    m.header.table = compat_table(route.table);
    m.header.protocol = RouteProtocol::from(route.protocol);
    m.header.scope = RouteScope::NoWhere;
    m.attributes
        .push(RouteAttribute::Destination(RouteAddress::from(
            route.prefix.addr(),
        )));
    m.attributes.push(RouteAttribute::Table(route.table));
    m.attributes.push(RouteAttribute::Priority(route.metric));
    m
}

/// Reads a kernel route message as a [`Route`]; `None` for families other
/// than IPv4 and IPv6 or a malformed destination.
pub fn route_from_message(m: &RouteMessage) -> Option<Route> {
    let len = m.header.destination_prefix_length;
    let mut destination = None;
    let mut table = u32::from(m.header.table);
    let mut metric = 0;
    let mut gateway = None;
    let mut oif = None;
    let mut multipath = false;
    for attribute in &m.attributes {
        match attribute {
            RouteAttribute::Destination(a) => destination = ip_of(a),
            RouteAttribute::Table(t) => table = *t,
            RouteAttribute::Priority(p) => metric = *p,
            RouteAttribute::Gateway(a) => gateway = ip_of(a),
            RouteAttribute::Via(RouteVia::Inet6(a)) => gateway = Some(IpAddr::V6(*a)),
            RouteAttribute::Via(RouteVia::Inet(a)) => gateway = Some(IpAddr::V4(*a)),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::MultiPath(_) | RouteAttribute::NhId(_) => multipath = true,
            _ => {}
        }
    }
    let prefix = match (m.header.address_family, destination) {
        (AddressFamily::Inet, None) => IpNet::new(IpAddr::from([0u8; 4]), len).ok()?,
        (AddressFamily::Inet6, None) => IpNet::new(IpAddr::from([0u16; 8]), len).ok()?,
        (AddressFamily::Inet | AddressFamily::Inet6, Some(addr)) => IpNet::new(addr, len).ok()?,
        _ => return None,
    };
    let kind = match (m.header.kind, gateway, oif) {
        _ if multipath => RouteKind::Other,
        (RouteType::Unicast, Some(gateway), ifindex) => RouteKind::Via { gateway, ifindex },
        (RouteType::Unicast, None, Some(ifindex)) => RouteKind::Local { ifindex },
        _ => RouteKind::Other,
    };
    Some(Route {
        prefix: prefix.trunc(),
        kind,
        table,
        protocol: u8::from(m.header.protocol),
        metric,
    })
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(a) => Some(IpAddr::V4(*a)),
        RouteAddress::Inet6(a) => Some(IpAddr::V6(*a)),
        _ => None,
    }
}

/// Errno and extended-ACK message of a NACK.
fn nack(flags: u16, e: &rtnetlink::packet_core::ErrorMessage) -> (i32, Option<String>) {
    let errno = e.code.map_or(0, |c| c.get().saturating_neg());
    let message = (flags & NLM_F_ACK_TLVS != 0)
        .then(|| ack_message(&e.header))
        .flatten();
    (errno, message)
}

/// The request a NACK echoes (the kernel copies the whole request into the
/// error unless `NETLINK_CAP_ACK` is set, which we never set).
fn echoed_request(echo: &[u8]) -> Option<&[u8]> {
    let len = u32::from_ne_bytes(echo.get(0..4)?.try_into().ok()?);
    echo.get(..usize::try_from(len).ok()?)
}

fn echoed_route(echo: &[u8]) -> Option<Route> {
    let request = echoed_request(echo)?;
    let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(request).ok()?;
    match message.payload {
        NetlinkPayload::InnerMessage(
            RouteNetlinkMessage::NewRoute(m) | RouteNetlinkMessage::DelRoute(m),
        ) => route_from_message(&m),
        _ => None,
    }
}

/// `NLMSGERR_ATTR_MSG` from the TLVs after the echoed request.
fn ack_message(echo: &[u8]) -> Option<String> {
    let request_len = echoed_request(echo)?.len();
    let mut tlvs = echo.get(request_len.next_multiple_of(4)..)?;
    while tlvs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([*tlvs.first()?, *tlvs.get(1)?]));
        let kind = u16::from_ne_bytes([*tlvs.get(2)?, *tlvs.get(3)?]) & 0x3fff;
        let value = tlvs.get(4..len.max(4))?;
        if kind == NLMSGERR_ATTR_MSG {
            let text = value.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = tlvs
            .get(len.max(4).next_multiple_of(4)..)
            .unwrap_or_default();
    }
    None
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;
