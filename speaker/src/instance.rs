//! The owner task: every BGP peer and the RIB, driven by one event loop.
//!
//! ```text
//!  listeners --accepted--> +-----------------------------+ --bytes--> writer task (per conn)
//!  connectors --result---> |  owner task                 |
//!  reader tasks --input--> |  Peer FSMs (sans-IO)        | --events--> subscribers (FIB, agent)
//!  SpeakerHandle --cmd---> |  Rib: in / loc / out, policy|
//!  timers (next_deadline)  +-----------------------------+
//! ```
//!
//! Each turn handles one event, then drains what else is ready (bounded:
//! [`DRAIN`] events or [`BATCH`] route changes, whichever comes first), then
//! flushes: RIB changes are exported to every peer as packed UPDATEs
//! and published to subscribers. That is the "no MRAI, coalesced within one
//! turn" rule: an originate reaches the wire at the end of the turn that
//! handled it.
//!
//! Sockets are prepared before anything reaches the wire (`bgp::sockopt`):
//! each listener carries the TCP-MD5 key of every neighbour of its family
//! before it accepts, and an outgoing socket its neighbour's key, GTSM and
//! interface before it connects. When a session comes up, it carries only
//! the families both OPENs enabled, and next hop self for both families
//! comes from the configuration or the session's interface (`bgp::addrs`).

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use proto::bgp::capability::code;
use proto::bgp::{
    AfiSafi, Capability, Context, DecodedUpdate, Message, Open, RouteRefresh, RouteRefreshSubtype,
};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::bgp::addrs::{self, SelfAddresses};
use crate::bgp::conn::{ConnEvent, ConnIo};
use crate::bgp::sockopt;
use crate::bgp::{ConnId, Input, Output, Peer, PeerInput, PeerOutput};
use crate::config::{ConfigError, NeighborConfig, SpeakerConfig};
use crate::handle::{Command, RibSummary, SpeakerEvent, SpeakerHandle};
use crate::rib::out::SessionInfo;
use crate::rib::{PeerConfig, Rib, RibConfig, SessionAction};

mod reconfig;
mod reports;
mod slots;

use slots::{PeerSlot, Slots};

/// Why the speaker could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("RIB: {0}")]
    Rib(#[from] crate::rib::RibError),
    #[error("BFD: {0}")]
    Bfd(#[from] crate::bfd::DriverError),
}

/// Starts the speaker on the current tokio runtime.
pub async fn spawn(config: SpeakerConfig) -> Result<SpeakerHandle, StartError> {
    config.validate()?;
    let (accept_tx, accept_rx) = mpsc::channel(64);
    let mut listeners = Vec::new();
    for addr in &config.listen {
        let listener =
            bind_listener(*addr, &config.neighbors).map_err(|source| StartError::Listen {
                addr: *addr,
                source,
            })?;
        let listener = Arc::new(listener);
        tokio::spawn(accept_loop(Arc::clone(&listener), accept_tx.clone()));
        listeners.push(listener);
    }
    let (commands, cmd_rx) = mpsc::channel(1024);
    let bfd = crate::liveness::start(&config.neighbors, commands.clone()).await?;
    let (events, _) = broadcast::channel(4096);
    let mut rib = Rib::new(RibConfig {
        local_asn: config.asn,
        router_id: config.router_id,
    });
    if config.defer_end_of_rib {
        rib.hold_end_of_rib();
    }
    let mut peers = Slots::default();
    for n in &config.neighbors {
        let source = rib.add_peer(PeerConfig {
            address: n.address,
            asn: n.remote_as,
            policy: n.policy.clone(),
        })?;
        let fsm = Peer::new(n.session(config.asn, config.router_id));
        peers.push(PeerSlot::new(n.clone(), fsm, source));
    }
    let (conn_tx, conn_rx) = mpsc::channel(256);
    let (connect_tx, connect_rx) = mpsc::channel(64);
    let owner = Owner {
        neighbors: config.neighbors.iter().map(|n| n.address).collect(),
        peers,
        rib,
        conn_tx,
        connect_tx,
        events: events.clone(),
        listeners,
        started: Instant::now(),
        next_inbound: 0,
        work: VecDeque::new(),
        scratch: Vec::new(),
    };
    tokio::spawn(owner.run(cmd_rx, conn_rx, accept_rx, connect_rx));
    Ok(SpeakerHandle {
        commands,
        events,
        bfd: Arc::new(std::sync::Mutex::new(bfd)),
    })
}

/// A listener for `addr` with the TCP-MD5 key of every neighbour of its
/// family installed before it accepts anything. GTSM: TTL 255 on what it
/// sends (the SYN-ACK must reach a peer that checks) when any neighbour of
/// the family uses GTSM, and the minimum TTL on the listener itself only when
/// all of them do; each accepted connection gets its own neighbour's check
/// in [`Owner::accepted`].
fn bind_listener(addr: SocketAddr, neighbors: &[NeighborConfig]) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let domain = if addr.is_ipv4() {
        Domain::IPV4
    } else {
        Domain::IPV6
    };
    let socket = Socket::new(domain, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        // IPv4 has its own listener; without this [::]:179 would clash with it.
        socket.set_only_v6(true)?;
    }
    secure_listener(&socket, addr.is_ipv4(), neighbors)?;
    socket.bind(&addr.into())?;
    socket.listen(128)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

/// Installs the TCP-MD5 key of every neighbour of the listener's family
/// (IPv4 or not) and sets its GTSM as [`bind_listener`] describes; on a
/// reconfiguration, turns the listener's minimum TTL off again when no
/// longer every neighbour uses GTSM.
fn secure_listener(
    socket: &impl std::os::fd::AsFd,
    ipv4: bool,
    neighbors: &[NeighborConfig],
) -> std::io::Result<()> {
    let served: Vec<&NeighborConfig> = neighbors
        .iter()
        .filter(|n| n.address.is_ipv4() == ipv4)
        .collect();
    for n in &served {
        if let Some(password) = &n.password {
            sockopt::set_md5_key(socket, n.address, password.as_bytes())?;
        }
    }
    if served.iter().any(|n| n.ttl_security_hops.is_some()) {
        sockopt::set_outgoing_ttl(socket, 255)?;
    }
    let hops: Option<Vec<u8>> = served.iter().map(|n| n.ttl_security_hops).collect();
    match hops.and_then(|h| h.into_iter().max()) {
        Some(farthest) => sockopt::set_gtsm(socket, farthest),
        None => sockopt::set_min_ttl(socket, 0),
    }
}

async fn accept_loop(listener: Arc<TcpListener>, tx: mpsc::Sender<(TcpStream, SocketAddr)>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                if tx.send((stream, remote)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

struct ConnectResult {
    peer: usize,
    conn: ConnId,
    result: std::io::Result<TcpStream>,
}

struct Owner {
    neighbors: Vec<IpAddr>,
    peers: Slots,
    rib: Rib,
    conn_tx: mpsc::Sender<ConnEvent>,
    connect_tx: mpsc::Sender<ConnectResult>,
    events: broadcast::Sender<SpeakerEvent>,
    /// The listening sockets, for the TCP-MD5 keys and GTSM of neighbours
    /// added or removed at run time.
    listeners: Vec<Arc<TcpListener>>,
    /// The RIB's clock counts from here.
    started: Instant,
    next_inbound: u64,
    /// FSM inputs waiting to be fed, so outputs never recurse.
    work: VecDeque<(usize, PeerInput)>,
    scratch: Vec<PeerOutput>,
}

/// Events handled per turn before flushing, so a busy feed still flushes.
const DRAIN: usize = 512;

/// Route changes after which a turn stops draining and flushes. An UPDATE
/// carries up to ~800 host routes, so 512 of them could queue 400,000
/// changes (tens of MB, and a turn of a few hundred ms before a timer or
/// command is served); this keeps a batch to a few MB and milliseconds.
const BATCH: usize = 16_384;

impl Owner {
    async fn run(
        mut self,
        mut cmd_rx: mpsc::Receiver<Command>,
        mut conn_rx: mpsc::Receiver<ConnEvent>,
        mut accept_rx: mpsc::Receiver<(TcpStream, SocketAddr)>,
        mut connect_rx: mpsc::Receiver<ConnectResult>,
    ) {
        let all: Vec<usize> = self.peers.indexed().map(|(i, _)| i).collect();
        for i in all {
            self.work
                .push_back((i, PeerInput::Session(Input::ManualStart)));
        }
        self.process();
        loop {
            self.flush();
            let deadline = self.next_deadline();
            tokio::select! {
                cmd = cmd_rx.recv() => match cmd {
                    Some(Command::Shutdown { text, reply }) => {
                        self.shutdown(text);
                        let _ = reply.send(());
                        return;
                    }
                    Some(cmd) => self.command(cmd),
                    None => { self.shutdown(None); return; }
                },
                Some(ev) = conn_rx.recv() => self.conn_event(ev),
                Some((stream, remote)) = accept_rx.recv() => self.accepted(stream, remote),
                Some(res) = connect_rx.recv() => self.connected(res),
                () = sleep_until(deadline) => self.timers(),
            }
            for _ in 0..DRAIN {
                if self.rib.pending_changes() >= BATCH {
                    break;
                }
                if let Ok(ev) = conn_rx.try_recv() {
                    self.conn_event(ev);
                } else if let Ok(cmd) = cmd_rx.try_recv() {
                    if let Command::Shutdown { text, reply } = cmd {
                        self.shutdown(text);
                        let _ = reply.send(());
                        return;
                    }
                    self.command(cmd);
                } else {
                    break;
                }
            }
            self.process();
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.peers
            .iter()
            .flat_map(|p| [p.fsm.next_deadline().map(Instant::from_std), p.restart_at])
            .flatten()
            .min()
    }

    fn timers(&mut self) {
        let now = Instant::now();
        for (i, p) in self.peers.indexed_mut() {
            if p.fsm
                .next_deadline()
                .is_some_and(|d| Instant::from_std(d) <= now)
            {
                self.work.push_back((i, PeerInput::Session(Input::Timers)));
            }
            if p.restart_at.is_some_and(|t| t <= now) {
                p.restart_at = None;
                self.work
                    .push_back((i, PeerInput::Session(Input::AutomaticStart)));
            }
        }
        self.process();
    }

    /// Sets the RIB's clock, which stamps each path it sets: whole
    /// seconds since the speaker started (a `u32` lasts 136 years).
    fn tick(&mut self) {
        let secs = self.started.elapsed().as_secs();
        self.rib.set_clock(u32::try_from(secs).unwrap_or(u32::MAX));
    }

    /// Feeds queued inputs to the FSMs and carries out their outputs.
    fn process(&mut self) {
        self.tick();
        loop {
            while let Some((i, input)) = self.work.pop_front() {
                let Some(slot) = self.peers.get_mut(i) else {
                    continue;
                };
                let mut out = std::mem::take(&mut self.scratch);
                slot.fsm.handle(Instant::now().into_std(), input, &mut out);
                for o in out.drain(..) {
                    self.output(i, o);
                }
                self.scratch = out;
            }
            // One write per connection per turn.
            for (i, slot) in self.peers.indexed_mut() {
                for (conn, io) in &mut slot.conns {
                    if !io.flush() {
                        debug!(neighbor = %slot.cfg.address, "peer not reading: closing");
                        self.work
                            .push_back((i, PeerInput::Conn(*conn, Input::TcpConnectionFails)));
                    }
                }
            }
            if self.work.is_empty() {
                return;
            }
        }
    }

    fn output(&mut self, i: usize, PeerOutput { conn, output }: PeerOutput) {
        let Some(slot) = self.peers.get_mut(i) else {
            return;
        };
        let neighbor = slot.cfg.address;
        match output {
            Output::Connect => {
                if let Some(conn) = conn {
                    tokio::spawn(connect(i, conn, slot.cfg.clone(), self.connect_tx.clone()));
                }
            }
            Output::Close => {
                if let Some(conn) = conn {
                    // What this turn queued (a NOTIFICATION) still goes out:
                    // the writer drains its queue before it closes.
                    if let Some(mut io) = slot.conns.remove(&conn) {
                        io.flush();
                    }
                    if slot.established == Some(conn) {
                        slot.established = None;
                    }
                }
            }
            Output::Send(message) => {
                let Some(conn) = conn else { return };
                let ctx = if slot.established == Some(conn) {
                    &slot.ctx
                } else {
                    &Context::default()
                };
                let Some(io) = slot.conns.get_mut(&conn) else {
                    return;
                };
                if let Err(e) = message.emit(ctx, io.outbox()) {
                    warn!(%neighbor, error = %e, "message not sent");
                }
            }
            Output::Established {
                ctx,
                remote,
                hold_time,
            } => {
                info!(%neighbor, remote_as = remote.asn(), hold = hold_time.seconds(), "session established");
                slot.established = conn;
                slot.ctx = ctx.clone();
                slot.up_since = Some(Instant::now());
                let io = conn.and_then(|c| slot.conns.get(&c));
                let mut info = SessionInfo::new(remote.bgp_id, ctx);
                let local_open = slot.fsm.config().local_open();
                info.families = negotiated_families(&local_open, &remote);
                slot.families.clone_from(&info.families);
                slot.enhanced_refresh = local_open.has_capability(code::ENHANCED_ROUTE_REFRESH)
                    && remote.has_capability(code::ENHANCED_ROUTE_REFRESH);
                // Next hop self for both families, whichever one the
                // session runs over: configured, else from its interface.
                let found = io.map_or_else(SelfAddresses::default, |c| {
                    addrs::self_addresses(c.local.ip(), &addrs::interface_addresses())
                });
                info.local_v4 = slot.cfg.next_hop_v4.or(found.v4);
                info.local_v6 = slot.cfg.next_hop_v6.or(found.v6);
                info.local_link_local = found.link_local;
                if info.local_v6.is_none() && info.families.contains(&AfiSafi::IPV6_UNICAST) {
                    warn!(%neighbor, "no global IPv6 address on the session's interface: set next_hop_v6 to send IPv6 routes");
                }
                let source = slot.source;
                match self.rib.session_up(source, info) {
                    Ok(updates) => {
                        for u in updates {
                            self.work
                                .push_back((i, PeerInput::Session(Input::SendUpdate(u))));
                        }
                    }
                    Err(e) => warn!(%neighbor, error = %e, "RIB refused the session"),
                }
                let _ = self.events.send(SpeakerEvent::PeerUp { neighbor });
            }
            Output::SessionDown { reason } => {
                info!(%neighbor, %reason, "session down");
                slot.up_since = None;
                slot.established = None;
                let _ = self.events.send(SpeakerEvent::PeerDown {
                    neighbor,
                    reason: reason.to_string(),
                });
            }
            Output::PeerRestarting { restart_time, .. } => {
                info!(%neighbor, restart_secs = restart_time.as_secs(), "peer restarting: routes kept as stale");
                self.rib.session_down(slot.source, true);
            }
            Output::FlushRoutes { cause } => {
                let n = self.rib.session_down(slot.source, false);
                debug!(%neighbor, ?cause, routes = n, "routes flushed");
            }
            Output::Received(decoded) => self.received(i, decoded),
        }
    }

    fn received(&mut self, i: usize, decoded: proto::bgp::Decoded) {
        let Some(slot) = self.peers.get_mut(i) else {
            return;
        };
        let (neighbor, source) = (slot.cfg.address, slot.source);
        match decoded.message {
            Message::Update(update) => {
                let d = DecodedUpdate {
                    update,
                    problems: decoded.problems,
                };
                for p in &d.problems {
                    warn!(%neighbor, type_code = p.type_code, error = %p.error, action = ?p.action,
                        "malformed attribute (RFC 7606)");
                }
                match self.rib.apply_update(source, &d) {
                    Ok(outcome) => {
                        if let Some(SessionAction::MaxPrefix(t)) = outcome.session {
                            warn!(%neighbor, family = %t.family, "maximum prefixes exceeded: closing");
                            slot.restart_at = t.restart_after.map(|d| Instant::now() + d);
                            let notification = t.notification;
                            self.work.push_back((
                                i,
                                PeerInput::Session(Input::AutomaticStop { notification }),
                            ));
                        }
                    }
                    Err(e) => warn!(%neighbor, error = %e, "UPDATE not applied"),
                }
            }
            Message::RouteRefresh(rr) => {
                debug!(%neighbor, family = %rr.afi_safi, subtype = ?rr.subtype, "ROUTE-REFRESH received");
                self.route_refresh(i, rr);
            }
            _ => {}
        }
    }

    /// A ROUTE-REFRESH from peer `i`: a request (RFC 2918), or the BoRR and
    /// EoRR around the peer's own re-advertisement (RFC 7313).
    fn route_refresh(&mut self, i: usize, rr: RouteRefresh) {
        let Some(slot) = self.peers.get_mut(i) else {
            return;
        };
        let (neighbor, source) = (slot.cfg.address, slot.source);
        match rr.subtype {
            RouteRefreshSubtype::BeginningOfRouteRefresh => {
                self.rib.mark_stale(source, Some(rr.afi_safi));
            }
            RouteRefreshSubtype::EndOfRouteRefresh => {
                self.rib.sweep_stale(source, Some(rr.afi_safi));
            }
            RouteRefreshSubtype::Normal => {
                if !slot.families.contains(&rr.afi_safi) {
                    // RFC 2918 section 4: a family not negotiated.
                    debug!(%neighbor, family = %rr.afi_safi, "route refresh for a family not negotiated: ignored");
                    return;
                }
                // RFC 7313 section 4: bracketed by BoRR and EoRR when
                // enhanced route refresh was negotiated.
                let marker = |subtype| {
                    PeerInput::Session(Input::SendRouteRefresh(RouteRefresh {
                        afi_safi: rr.afi_safi,
                        subtype,
                    }))
                };
                let enhanced = slot.enhanced_refresh;
                if enhanced {
                    self.work
                        .push_back((i, marker(RouteRefreshSubtype::BeginningOfRouteRefresh)));
                }
                for u in self.rib.resend(source, Some(rr.afi_safi)) {
                    self.work
                        .push_back((i, PeerInput::Session(Input::SendUpdate(u))));
                }
                if enhanced {
                    self.work
                        .push_back((i, marker(RouteRefreshSubtype::EndOfRouteRefresh)));
                }
            }
            // RFC 7313 section 5: other subtypes are ignored.
            RouteRefreshSubtype::Other(_) => {}
        }
    }

    /// Exports this turn's RIB changes and publishes them.
    fn flush(&mut self) {
        self.process();
        let changes = self.rib.take_changes();
        if !changes.is_empty() {
            for (source, updates) in self.rib.export_all(&changes) {
                let Some(i) = usize::from(source.0).checked_sub(1) else {
                    continue;
                };
                for u in updates {
                    self.work
                        .push_back((i, PeerInput::Session(Input::SendUpdate(u))));
                }
            }
            let _ = self.events.send(SpeakerEvent::Routes(Arc::new(changes)));
        }
        for ev in self.rib.take_events() {
            info!(event = ?ev, "RIB event");
            let _ = self.events.send(SpeakerEvent::Rib(ev));
        }
        self.process();
    }

    fn conn_event(&mut self, ev: ConnEvent) {
        match ev {
            ConnEvent::Input { peer, conn, input } => {
                if self
                    .peers
                    .get(peer)
                    .is_some_and(|p| p.conns.contains_key(&conn))
                {
                    self.work.push_back((peer, PeerInput::Conn(conn, *input)));
                }
            }
            ConnEvent::Closed { peer, conn, error } => {
                if let Some(p) = self.peers.get_mut(peer)
                    && p.conns.remove(&conn).is_some()
                {
                    debug!(neighbor = %p.cfg.address, ?error, "connection closed");
                    self.work
                        .push_back((peer, PeerInput::Conn(conn, Input::TcpConnectionFails)));
                }
            }
        }
        self.process();
    }

    fn accepted(&mut self, stream: TcpStream, remote: SocketAddr) {
        let ip = canonical(remote.ip());
        let Some(i) = self.peers.position(ip) else {
            warn!(%remote, "connection from an unconfigured address refused");
            return;
        };
        // The neighbour's own GTSM check and interface, as on its outgoing
        // connections (the listener serves every neighbour).
        let cfg = self.peers.get(i).map(|p| &p.cfg);
        if let Some(hops) = cfg.and_then(|c| c.ttl_security_hops)
            && let Err(e) = sockopt::set_gtsm(&stream, hops)
        {
            warn!(%remote, error = %e, "cannot set GTSM on an accepted connection: refused");
            return;
        }
        if let Some(interface) = cfg.and_then(|c| c.interface.as_deref())
            && let Err(e) = sockopt::bind_device(&stream, interface)
        {
            warn!(%remote, interface, error = %e, "cannot bind an accepted connection to its interface: refused");
            return;
        }
        let conn = ConnId::Inbound(self.next_inbound);
        self.next_inbound += 1;
        self.start_conn(i, conn, stream, Input::TcpConnectionConfirmed);
    }

    fn connected(&mut self, res: ConnectResult) {
        match res.result {
            Ok(stream) => self.start_conn(res.peer, res.conn, stream, Input::TcpCrAcked),
            Err(e) => {
                if let Some(p) = self.peers.get(res.peer) {
                    debug!(neighbor = %p.cfg.address, error = %e, "connect failed");
                }
                self.work.push_back((
                    res.peer,
                    PeerInput::Conn(res.conn, Input::TcpConnectionFails),
                ));
                self.process();
            }
        }
    }

    fn start_conn(&mut self, i: usize, conn: ConnId, stream: TcpStream, input: Input) {
        let Some(slot) = self.peers.get_mut(i) else {
            return;
        };
        let local_open = slot.fsm.config().local_open();
        let external = !slot.fsm.config().is_ibgp();
        match ConnIo::start(stream, i, conn, local_open, external, self.conn_tx.clone()) {
            Ok(io) => {
                slot.conns.insert(conn, io);
                self.work.push_back((i, PeerInput::Conn(conn, input)));
            }
            Err(e) => {
                warn!(neighbor = %slot.cfg.address, error = %e, "connection unusable");
                self.work
                    .push_back((i, PeerInput::Conn(conn, Input::TcpConnectionFails)));
            }
        }
        self.process();
    }

    fn command(&mut self, cmd: Command) {
        self.tick();
        match cmd {
            Command::Originate { prefix, attrs } => {
                self.rib.originate(prefix, attrs);
            }
            Command::Withdraw { prefix } => {
                self.rib.withdraw_local(prefix);
            }
            Command::OriginateArrival {
                prefix,
                is_static,
                remembered,
                reply,
            } => {
                let sequence = self.rib.arrival_sequence(&prefix, remembered);
                self.rib.originate(
                    prefix,
                    crate::rib::PathAttrs::local(proto::bgp::Mobility::new(sequence.0, is_static)),
                );
                let _ = reply.send(sequence);
            }
            Command::ReleaseEndOfRib => {
                // What was originated before goes out first.
                self.flush();
                for (source, updates) in self.rib.release_end_of_rib() {
                    let Some(i) = usize::from(source.0).checked_sub(1) else {
                        continue;
                    };
                    for u in updates {
                        self.work
                            .push_back((i, PeerInput::Session(Input::SendUpdate(u))));
                    }
                }
                info!("End-of-RIB released to every session");
            }
            Command::Liveness { neighbor, up } => {
                if let Some(i) = self.peers.position(neighbor) {
                    let input = if up {
                        Input::LivenessUp
                    } else {
                        Input::LivenessDown
                    };
                    self.work.push_back((i, PeerInput::Session(input)));
                    self.process();
                }
            }
            Command::Peers { reply } => {
                let _ = reply.send(self.peer_reports());
            }
            Command::Routes { filter, reply } => {
                let _ = reply.send(self.route_reports(filter));
            }
            Command::Summary { reply } => {
                let _ = reply.send(RibSummary {
                    prefixes: self.rib.len(),
                    memory: self.rib.memory(),
                });
            }
            Command::PrefixCount { reply } => {
                let _ = reply.send(self.rib.len());
            }
            Command::HighestSequence { prefix, reply } => {
                let _ = reply.send(self.rib.highest_sequence_seen(&prefix));
            }
            Command::SetNeighbors { neighbors, reply } => {
                let _ = reply.send(self.set_neighbors(neighbors));
            }
            Command::Shutdown { .. } => {}
        }
    }

    fn shutdown(&mut self, text: Option<String>) {
        let all: Vec<usize> = self.peers.indexed().map(|(i, _)| i).collect();
        for i in all {
            self.work.push_back((
                i,
                PeerInput::Session(Input::ManualStop {
                    shutdown: text.clone(),
                }),
            ));
        }
        self.process();
        // Dropping the connections lets each writer send what is queued
        // (the NOTIFICATION) and close.
        for p in self.peers.iter_mut() {
            for (_, mut io) in p.conns.drain() {
                io.flush();
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

async fn connect(peer: usize, conn: ConnId, cfg: NeighborConfig, tx: mpsc::Sender<ConnectResult>) {
    let remote = SocketAddr::new(cfg.address, cfg.port);
    let result = async {
        let socket = if remote.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // Everything the SYN must carry or obey is set before connect.
        if let Some(interface) = &cfg.interface {
            sockopt::bind_device(&socket, interface)?;
        }
        if let Some(password) = &cfg.password {
            sockopt::set_md5_key(&socket, cfg.address, password.as_bytes())?;
        }
        if let Some(hops) = cfg.ttl_security_hops {
            sockopt::set_gtsm(&socket, hops)?;
        }
        if let Some(local) = cfg.local_address {
            socket.bind(SocketAddr::new(local, 0))?;
        }
        let timeout = Duration::from_secs(u64::from(cfg.connect_retry.max(1)) * 2);
        tokio::time::timeout(timeout, socket.connect(remote))
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))?
    }
    .await;
    let _ = tx.send(ConnectResult { peer, conn, result }).await;
}

/// The families both OPENs enabled: only those get routes and End-of-RIB.
/// A speaker without any multiprotocol capability carries IPv4 unicast only
/// (RFC 4760 section 8).
fn negotiated_families(local: &Open, remote: &Open) -> Vec<AfiSafi> {
    let enabled = |open: &Open| -> Vec<AfiSafi> {
        let mp: Vec<AfiSafi> = open
            .capabilities()
            .filter_map(|c| match c {
                Capability::MultiProtocol(f) => Some(*f),
                _ => None,
            })
            .collect();
        if mp.is_empty() {
            vec![AfiSafi::IPV4_UNICAST]
        } else {
            mp
        }
    };
    let theirs = enabled(remote);
    enabled(local)
        .into_iter()
        .filter(|f| theirs.contains(f))
        .collect()
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(all(test, target_os = "linux"))]
#[path = "instance_tests.rs"]
mod tests;
