//! One peer's session across its TCP connections: connection collision
//! detection (RFC 4271 section 6.8) around the [`Fsm`].
//!
//! ```text
//!   driver ---PeerInput::Conn(id, ..)---> Peer --+--> main Fsm   (the session)
//!          ---PeerInput::Session(..)--->         '--> second Fsm (a colliding
//!          <--PeerOutput { conn, output }--           inbound connection)
//! ```
//!
//! Both sides of a BGP session may connect at the same time. The main FSM
//! owns the session: its damping, backoff, liveness and counters. An
//! inbound connection that arrives while the main FSM has a connection of
//! its own gets a second FSM until an OPEN decides between them:
//! - when an OPEN arrives on one connection while the other is in
//!   OpenConfirm, the connection initiated by the speaker with the higher
//!   BGP identifier stays (RFC 6286 section 2.3: the higher AS if the
//!   identifiers are equal); the other gets Cease / Connection Collision
//!   Resolution (6/7);
//! - an OPEN on a new connection while the session is Established closes
//!   the new connection with 6/7, unless the peer had advertised graceful
//!   restart: then it restarted, so the old connection is closed and the
//!   new one proceeds (RFC 4724 section 4.2);
//! - when a connection reaches Established, the other one, still before
//!   its OPEN exchange, is closed with 6/7.
//!
//! The survivor always ends up as the main FSM. Connection ids are never
//! reused: events for a connection that is gone are ignored, so a late
//! `TcpConnectionFails` from an abandoned attempt cannot hurt the next.

use std::fmt;
use std::time::Instant;

use proto::bgp::Open;
use serde::Serialize;
use tracing::{debug, info};

use super::config::SessionConfig;
use super::event::{Input, Output, State};
use super::fsm::Fsm;
use super::stats::{Counters, Snapshot};

/// A connection of one peer. Outbound ids are chosen by the [`Peer`]
/// (with [`Output::Connect`]); inbound ids by the driver, one per accepted
/// socket, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ConnId {
    Inbound(u64),
    Outbound(u64),
}

impl ConnId {
    pub fn is_inbound(self) -> bool {
        matches!(self, Self::Inbound(_))
    }
}

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inbound(n) => write!(f, "in#{n}"),
            Self::Outbound(n) => write!(f, "out#{n}"),
        }
    }
}

/// An input for a [`Peer`].
#[derive(Debug, Clone, PartialEq)]
pub enum PeerInput {
    /// For the session: starts and stops, `Timers`, liveness, messages to
    /// send. Connection events here are ignored.
    Session(Input),
    /// From one connection: TCP events and received messages. An inbound
    /// connection begins with `TcpConnectionConfirmed` on a fresh id.
    Conn(ConnId, Input),
}

/// An output of a [`Peer`]: `conn` says which connection `Connect`,
/// `Send` and `Close` are for; session outputs carry the connection they
/// came from, or `None` (restart time expiry).
#[derive(Debug, Clone, PartialEq)]
pub struct PeerOutput {
    pub conn: Option<ConnId>,
    pub output: Output,
}

impl fmt::Display for PeerOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.conn {
            Some(c) => write!(f, "{c} {}", self.output),
            None => write!(f, "{}", self.output),
        }
    }
}

/// `show peers` for one peer: the session and its connections.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerSnapshot {
    #[serde(flatten)]
    pub session: Snapshot,
    pub connections: Vec<(ConnId, State)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Main,
    Second,
}

/// One peer: the session FSM and, during a collision, a second one.
#[derive(Debug, Clone)]
pub struct Peer {
    main: Fsm,
    /// The main FSM's connection, or its pending attempt.
    main_conn: Option<ConnId>,
    second: Option<(ConnId, Fsm)>,
    last_outbound: u64,
    /// Counters of connections that lost.
    retired: Counters,
    buf: Vec<Output>,
}

impl Peer {
    pub fn new(cfg: SessionConfig) -> Self {
        Self {
            main: Fsm::new(cfg),
            main_conn: None,
            second: None,
            last_outbound: 0,
            retired: Counters::default(),
            buf: Vec::new(),
        }
    }

    /// The session's state.
    pub fn state(&self) -> State {
        self.main.state()
    }

    pub fn config(&self) -> &SessionConfig {
        self.main.config()
    }

    /// The session FSM.
    pub fn session(&self) -> &Fsm {
        &self.main
    }

    /// Open connections (and the pending attempt) with their states.
    pub fn connections(&self) -> Vec<(ConnId, State)> {
        let main = self.main_conn.map(|id| (id, self.main.state()));
        let second = self.second.as_ref().map(|(id, f)| (*id, f.state()));
        main.into_iter().chain(second).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let second = self.second.as_ref().and_then(|(_, f)| f.next_deadline());
        [self.main.next_deadline(), second]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn snapshot(&self) -> PeerSnapshot {
        let mut total = self.main.counters().clone();
        total.absorb(&self.retired);
        if let Some((_, f)) = &self.second {
            total.absorb(f.counters());
        }
        let mut session = self.main.snapshot();
        session.messages_in = total.messages_in;
        session.messages_out = total.messages_out;
        session.updates_received = total.messages_in.update;
        session.transitions = total.transitions;
        session.flaps = total.flaps;
        PeerSnapshot {
            session,
            connections: self.connections(),
        }
    }

    /// Takes one input at `now` and appends what to do to `out`.
    pub fn handle(&mut self, now: Instant, input: PeerInput, out: &mut Vec<PeerOutput>) {
        let main_before = self.main.state();
        match input {
            PeerInput::Session(input) => self.session_input(now, input, out),
            PeerInput::Conn(id, input) => self.conn_input(now, id, input, out),
        }
        self.settle(now, main_before, out);
    }

    fn session_input(&mut self, now: Instant, input: Input, out: &mut Vec<PeerOutput>) {
        match input {
            Input::ManualStart
            | Input::AutomaticStart
            | Input::SendUpdate(_)
            | Input::SendRouteRefresh(_) => self.run(now, Slot::Main, input, out),
            Input::ManualStop { .. }
            | Input::AutomaticStop { .. }
            | Input::Timers
            | Input::LivenessUp
            | Input::LivenessDown => {
                if self.second.is_some() {
                    self.run(now, Slot::Second, input.clone(), out);
                }
                self.run(now, Slot::Main, input, out);
            }
            Input::TcpCrAcked
            | Input::TcpConnectionConfirmed
            | Input::TcpConnectionFails
            | Input::BgpOpen(_)
            | Input::BgpHeaderErr(_)
            | Input::BgpOpenMsgErr(_)
            | Input::NotifMsg(_)
            | Input::KeepAliveMsg
            | Input::UpdateMsg(_)
            | Input::UpdateMsgErr(_)
            | Input::RouteRefreshMsg(_)
            | Input::RouteRefreshMsgErr(_) => {
                debug!("connection input without a connection id; ignored");
            }
        }
    }

    fn slot_of(&self, id: ConnId) -> Option<Slot> {
        if self.main_conn == Some(id) {
            Some(Slot::Main)
        } else if self.second.as_ref().is_some_and(|(s, _)| *s == id) {
            Some(Slot::Second)
        } else {
            None
        }
    }

    fn conn_input(&mut self, now: Instant, id: ConnId, input: Input, out: &mut Vec<PeerOutput>) {
        match (self.slot_of(id), input) {
            (None, Input::TcpConnectionConfirmed) if id.is_inbound() => self.accept(now, id, out),
            (None, Input::TcpCrAcked) => {
                debug!(conn = %id, "connection for an abandoned attempt; closing");
                close(id, out);
            }
            (None, _) => debug!(conn = %id, "input for a connection that is gone; ignored"),
            (Some(slot), Input::BgpOpen(open)) => self.open_received(now, slot, open, out),
            (Some(slot), input) => self.run(now, slot, input, out),
        }
    }

    /// Event 17 for a new inbound connection.
    fn accept(&mut self, now: Instant, id: ConnId, out: &mut Vec<PeerOutput>) {
        if self.main.state() == State::Idle {
            info!(conn = %id, "connection refused in Idle");
            close(id, out);
        } else if !self.main.has_connection() {
            // Connect or Active: the session takes this connection and
            // abandons its own attempt, if any.
            if let Some(attempt) = self.main_conn.take() {
                close(attempt, out);
            }
            self.main_conn = Some(id);
            self.run(now, Slot::Main, Input::TcpConnectionConfirmed, out);
        } else if self.second.is_none() {
            info!(conn = %id, state = %self.main.state(), "second connection; tracking it");
            let fsm = Fsm::secondary(self.main.shared_config(), self.main.liveness());
            self.second = Some((id, fsm));
            self.run(now, Slot::Second, Input::TcpConnectionConfirmed, out);
        } else {
            info!(conn = %id, "third connection refused");
            close(id, out);
        }
    }

    /// An OPEN on one connection: collision detection first (section 6.8).
    fn open_received(&mut self, now: Instant, slot: Slot, open: Open, out: &mut Vec<PeerOutput>) {
        let other = other_slot(slot);
        let (Some(this), Some(that)) = (self.fsm(slot), self.fsm(other)) else {
            return self.run(now, slot, Input::BgpOpen(open), out);
        };
        let collides = this.awaits_open()
            && this.open_acceptable(&open)
            && matches!(that.state(), State::OpenConfirm | State::Established);
        if !collides {
            return self.run(now, slot, Input::BgpOpen(open), out);
        }
        let keep_this = if that.state() == State::Established {
            that.graceful_helper()
        } else {
            self.keeps(slot, &open)
        };
        info!(
            remote_id = %open.bgp_id,
            other = %that.state(),
            keep_new = keep_this,
            "connection collision"
        );
        if keep_this {
            self.dump(now, other, out);
            self.run(now, slot, Input::BgpOpen(open), out);
        } else {
            if let Some(f) = self.fsm_mut(slot) {
                f.note_open_received();
            }
            self.dump(now, slot, out);
        }
    }

    /// Whether the connection in `slot` survives a collision with the
    /// other one, in OpenConfirm: the one initiated by the higher BGP
    /// identifier, or the newer one if both came from the same side.
    fn keeps(&self, slot: Slot, open: &Open) -> bool {
        let (Some(this), Some(that)) = (self.id(slot), self.id(other_slot(slot))) else {
            return true;
        };
        if this.is_inbound() == that.is_inbound() {
            return slot == Slot::Second;
        }
        let cfg = self.main.config();
        let local = u32::from(cfg.router_id);
        let remote = u32::from(open.bgp_id);
        let keep_outbound = match local.cmp(&remote) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => cfg.local_as > cfg.remote_as,
        };
        this.is_inbound() != keep_outbound
    }

    /// Puts the connections back in order after an input: a finished
    /// second FSM is retired, a connection left behind by one that went
    /// Established is closed, and a live second connection becomes the
    /// session when the main FSM has none.
    fn settle(&mut self, now: Instant, main_before: State, out: &mut Vec<PeerOutput>) {
        for _ in 0..4 {
            let Some((second_id, second)) = &self.second else {
                return;
            };
            let second_id = *second_id;
            let second_state = second.state();
            let main_state = self.main.state();
            if second_state == State::Idle {
                if let Some((_, f)) = self.second.take() {
                    self.retired.absorb(f.counters());
                }
            } else if second_state == State::Established
                && main_state != State::Established
                && self.main.has_connection()
            {
                self.dump(now, Slot::Main, out);
            } else if main_state == State::Established && main_before != State::Established {
                self.dump(now, Slot::Second, out);
            } else if !self.main.has_connection() && main_state != State::Established {
                if let Some(attempt) = self.main_conn.take() {
                    close(attempt, out);
                }
                if let Some((_, f)) = self.second.take() {
                    info!(conn = %second_id, state = %second_state, "connection carries on as the session");
                    self.main.adopt(f);
                    self.main_conn = Some(second_id);
                }
            } else {
                return;
            }
        }
    }

    fn id(&self, slot: Slot) -> Option<ConnId> {
        match slot {
            Slot::Main => self.main_conn,
            Slot::Second => self.second.as_ref().map(|(id, _)| *id),
        }
    }

    fn fsm(&self, slot: Slot) -> Option<&Fsm> {
        match slot {
            Slot::Main => Some(&self.main),
            Slot::Second => self.second.as_ref().map(|(_, f)| f),
        }
    }

    fn fsm_mut(&mut self, slot: Slot) -> Option<&mut Fsm> {
        match slot {
            Slot::Main => Some(&mut self.main),
            Slot::Second => self.second.as_mut().map(|(_, f)| f),
        }
    }

    fn run(&mut self, now: Instant, slot: Slot, input: Input, out: &mut Vec<PeerOutput>) {
        let mut buf = std::mem::take(&mut self.buf);
        if let Some(f) = self.fsm_mut(slot) {
            f.handle(now, input, &mut buf);
        }
        self.tag(slot, &mut buf, out);
        self.buf = buf;
    }

    fn dump(&mut self, now: Instant, slot: Slot, out: &mut Vec<PeerOutput>) {
        let mut buf = std::mem::take(&mut self.buf);
        if let Some(f) = self.fsm_mut(slot) {
            f.collision_dump(now, &mut buf);
        }
        self.tag(slot, &mut buf, out);
        self.buf = buf;
    }

    /// Names the connection of each output, allocating an id for each new
    /// attempt and releasing it on Close.
    fn tag(&mut self, slot: Slot, buf: &mut Vec<Output>, out: &mut Vec<PeerOutput>) {
        for output in buf.drain(..) {
            let conn = match (slot, &output) {
                (Slot::Second, _) => self.id(Slot::Second),
                (Slot::Main, Output::Connect) => {
                    self.last_outbound = self.last_outbound.wrapping_add(1);
                    self.main_conn = Some(ConnId::Outbound(self.last_outbound));
                    self.main_conn
                }
                (Slot::Main, Output::Close) => match self.main_conn.take() {
                    Some(id) => Some(id),
                    // Nothing to close (a refusal the Peer already made).
                    None => continue,
                },
                (Slot::Main, _) => self.main_conn,
            };
            out.push(PeerOutput { conn, output });
        }
    }
}

fn other_slot(slot: Slot) -> Slot {
    match slot {
        Slot::Main => Slot::Second,
        Slot::Second => Slot::Main,
    }
}

fn close(id: ConnId, out: &mut Vec<PeerOutput>) {
    out.push(PeerOutput {
        conn: Some(id),
        output: Output::Close,
    });
}
