//! The RFC 4271 section 8 finite state machine of one BGP session, over
//! one TCP connection at a time, as a sans-IO core: it never reads a
//! clock or touches a socket. The driver feeds [`Input`]s with the time,
//! carries out the [`Output`]s in order, and calls back with
//! [`Input::Timers`] at [`Fsm::next_deadline`].
//!
//! ```text
//!            ManualStart / AutomaticStart / IdleHoldTimer
//!   Idle ---------------------------------------------> Connect (active)
//!    ^  \------------------------------------------------> Active (passive)
//!    |                        Connect <--ConnectRetryTimer-- Active
//!    |                           | TcpCrAcked / TcpConnectionConfirmed
//!    |                           |   (DelayOpen: wait, OPEN when it expires
//!    |                           |    or when the peer's OPEN arrives)
//!    |  errors, NOTIFICATION,    v
//!    +---- hold timer, stop -- OpenSent --BGPOpen--> OpenConfirm
//!    |                                                   | KeepAliveMsg
//!    |                                                   | (and liveness Up
//!    |                                                   v  if required)
//!    +--------------------------------------------- Established
//! ```
//!
//! Liveness (BFD) as a precondition (`require_liveness`, the idea of the
//! BGP BFD strict-mode draft, draft-ietf-idr-bgp-bfd-strict-mode, without
//! its capability): OpenConfirm is entered as usual, but the KEEPALIVE
//! that accepts the peer's OPEN is held back until liveness is Up. The
//! peer goes Established only on that KEEPALIVE, so it cannot send an
//! UPDATE that would reach us in OpenConfirm (an FSM error, RFC 6608) while
//! we wait; that is what made sessions with BIRD flap after a BFD Down
//! when the KEEPALIVE went out at once. The peer waits in its OpenConfirm,
//! bounded by its hold timer; we wait at most `liveness_wait`, then close
//! with Cease / BFD Down (RFC 9384). Refusing TCP until BFD is Up was the
//! other choice, rejected: a peer whose connection is refused waits its
//! connect-retry time (120 s by default in BIRD) before it tries again,
//! and a passive neighbour cannot be called back when BFD comes up.
//!
//! Deliberate departures from the letter of RFC 4271:
//! - A TCP failure before the OPEN exchange goes to Active and retries on
//!   the connect-retry backoff (as FRR and BIRD do) instead of Idle; only
//!   failures after it count towards the idle-hold damping.
//! - A header error is answered with its own NOTIFICATION in every state
//!   (section 6.1), an unexpected message with the RFC 6608 FSM error.
//! - Passive means never connect, not just listen first.
//! - A second connection (events 16 and 17 outside Idle, Connect and
//!   Active) is left to [`super::Peer`], which runs section 6.8.

use std::sync::Arc;
use std::time::{Duration, Instant};

use proto::bgp::{
    CeaseReason, DecodeError, Decoded, ErrorCode, Message, Notification, Open, RouteRefresh, Update,
};
use tracing::{debug, info, warn};

use super::config::SessionConfig;
use super::event::{DownReason, FlushCause, Input, Liveness, Output, State};
use super::session::{Negotiated, check_open, update_reset};
use super::stats::{Counters, Snapshot};
use super::timers::{Jitter, Timer};

mod exchange;
mod teardown;

use teardown::{Then, teardown};

/// The hold timer while waiting for the peer's OPEN: "a large value"
/// (RFC 4271 section 8.2.2), 4 minutes as suggested there.
pub const OPEN_HOLD_TIME: Duration = Duration::from_secs(240);

/// The RFC 4271 section 8.1 events the FSM acts on: inputs, and the
/// expiries [`Input::Timers`] finds.
#[derive(Debug)]
enum Event {
    ManualStart,                     // Event 1
    ManualStop(Option<String>),      // Event 2
    AutomaticStart,                  // Event 3
    AutomaticStop(Notification),     // Event 8
    ConnectRetryTimerExpires,        // Event 9
    HoldTimerExpires,                // Event 10
    KeepaliveTimerExpires,           // Event 11
    DelayOpenTimerExpires,           // Event 12
    IdleHoldTimerExpires,            // Event 13
    TcpCrAcked,                      // Event 16
    TcpConnectionConfirmed,          // Event 17
    TcpConnectionFails,              // Event 18
    BgpOpen(Open),                   // Events 19, 20
    BgpHeaderErr(DecodeError),       // Event 21
    BgpOpenMsgErr(DecodeError),      // Event 22
    OpenCollisionDump,               // Event 23
    NotifMsgVerErr(Notification),    // Event 24
    NotifMsg(Notification),          // Event 25
    KeepAliveMsg,                    // Event 26
    UpdateMsg(Decoded),              // Event 27
    UpdateMsgErr(DecodeError),       // Event 28
    RouteRefreshMsg(Decoded),        // RFC 2918
    RouteRefreshMsgErr(DecodeError), // RFC 7313 section 5
    LivenessUp,                      // hostroute: BFD Up
    LivenessDown,                    // hostroute: BFD Down (RFC 9384)
    LivenessWaitExpires,             // hostroute: BFD strict mode gave up
    SendUpdate(Update),
    SendRouteRefresh(RouteRefresh),
}

/// The event an input is; `None` for [`Input::Timers`], which becomes
/// the expiries that are due.
fn event_of(input: Input) -> Option<Event> {
    use proto::bgp::notification::OpenError;
    Some(match input {
        Input::ManualStart => Event::ManualStart,
        Input::ManualStop { shutdown } => Event::ManualStop(shutdown),
        Input::AutomaticStart => Event::AutomaticStart,
        Input::AutomaticStop { notification } => Event::AutomaticStop(notification),
        Input::Timers => return None,
        Input::TcpCrAcked => Event::TcpCrAcked,
        Input::TcpConnectionConfirmed => Event::TcpConnectionConfirmed,
        Input::TcpConnectionFails => Event::TcpConnectionFails,
        Input::BgpOpen(open) => Event::BgpOpen(open),
        Input::BgpHeaderErr(e) => Event::BgpHeaderErr(e),
        Input::BgpOpenMsgErr(e) => Event::BgpOpenMsgErr(e),
        Input::NotifMsg(n) if n.error == ErrorCode::Open(OpenError::UnsupportedVersionNumber) => {
            Event::NotifMsgVerErr(n)
        }
        Input::NotifMsg(n) => Event::NotifMsg(n),
        Input::KeepAliveMsg => Event::KeepAliveMsg,
        Input::UpdateMsg(d) => Event::UpdateMsg(d),
        Input::UpdateMsgErr(e) => Event::UpdateMsgErr(e),
        Input::RouteRefreshMsg(d) => Event::RouteRefreshMsg(d),
        Input::RouteRefreshMsgErr(e) => Event::RouteRefreshMsgErr(e),
        Input::LivenessUp => Event::LivenessUp,
        Input::LivenessDown => Event::LivenessDown,
        Input::SendUpdate(u) => Event::SendUpdate(u),
        Input::SendRouteRefresh(r) => Event::SendRouteRefresh(r),
    })
}

/// Whether this FSM owns the session or only tracks a colliding
/// connection for [`super::Peer`] (never connects, never restarts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Main,
    Secondary,
}

/// Everything that belongs to the current connection.
#[derive(Debug, Clone, Default)]
struct Conn {
    /// A TCP connection is up.
    tcp: bool,
    connect_retry: Timer,
    hold: Timer,
    keepalive: Timer,
    delay_open: Timer,
    liveness_wait: Timer,
    /// We sent the KEEPALIVE that accepts the peer's OPEN.
    open_confirmed: bool,
    /// The peer's KEEPALIVE came while OpenConfirm waited for liveness.
    peer_confirmed: bool,
    remote: Option<Open>,
    negotiated: Option<Negotiated>,
    established_since: Option<Instant>,
}

/// The FSM of one session.
#[derive(Debug, Clone)]
pub struct Fsm {
    cfg: Arc<SessionConfig>,
    local_open: Open,
    role: Role,
    state: State,
    conn: Conn,
    /// Started (events 1 and 3) and not stopped (event 2).
    started: bool,
    liveness: Liveness,
    /// Failed connection attempts since the last accepted OPEN.
    connect_failures: u32,
    /// Consecutive session failures, for IdleHold damping.
    failures: u32,
    jitter: Jitter,
    idle_hold: Timer,
    /// Restart time of a peer whose routes are kept as stale.
    restart: Timer,
    counters: Counters,
}

impl Fsm {
    /// A stopped session in Idle.
    pub fn new(cfg: SessionConfig) -> Self {
        Self::with_config(Arc::new(cfg), Role::Main)
    }

    fn with_config(cfg: Arc<SessionConfig>, role: Role) -> Self {
        Self {
            local_open: cfg.local_open(),
            jitter: Jitter::new(cfg.jitter_seed),
            cfg,
            role,
            state: State::Idle,
            conn: Conn::default(),
            started: false,
            liveness: Liveness::Unknown,
            connect_failures: 0,
            failures: 0,
            idle_hold: Timer::default(),
            restart: Timer::default(),
            counters: Counters::default(),
        }
    }

    /// An FSM for a second, inbound connection (RFC 4271 section 6.8),
    /// waiting in Active for its TcpConnectionConfirmed.
    pub(crate) fn secondary(cfg: Arc<SessionConfig>, liveness: Liveness) -> Self {
        let mut fsm = Self::with_config(cfg, Role::Secondary);
        fsm.started = true;
        fsm.liveness = liveness;
        fsm.state = State::Active;
        fsm
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &SessionConfig {
        &self.cfg
    }

    pub(crate) fn shared_config(&self) -> Arc<SessionConfig> {
        Arc::clone(&self.cfg)
    }

    pub fn local_open(&self) -> &Open {
        &self.local_open
    }

    /// The peer's OPEN, from OpenConfirm on.
    pub fn remote_open(&self) -> Option<&Open> {
        self.conn.remote.as_ref()
    }

    pub fn liveness(&self) -> Liveness {
        self.liveness
    }

    /// A TCP connection is up.
    pub fn has_connection(&self) -> bool {
        self.conn.tcp
    }

    /// Whether an OPEN now would be taken (OpenSent, or DelayOpen running).
    pub(crate) fn awaits_open(&self) -> bool {
        self.state == State::OpenSent
            || (matches!(self.state, State::Connect | State::Active) && self.conn.tcp)
    }

    /// We are the helper of a peer that advertised graceful restart.
    pub(crate) fn graceful_helper(&self) -> bool {
        self.conn
            .negotiated
            .as_ref()
            .is_some_and(|n| n.peer_gr.is_some())
    }

    /// Whether the OPEN passes the checks of RFC 4271 section 6.2.
    pub(crate) fn open_acceptable(&self, open: &Open) -> bool {
        check_open(&self.cfg, open).is_ok()
    }

    /// Consecutive failures the idle-hold damping counts.
    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The earliest armed timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        let c = &self.conn;
        [
            c.connect_retry,
            c.hold,
            c.keepalive,
            c.delay_open,
            c.liveness_wait,
            self.idle_hold,
            self.restart,
        ]
        .iter()
        .filter_map(Timer::deadline)
        .min()
    }

    /// Takes one input at `now` and appends what to do to `out`.
    pub fn handle(&mut self, now: Instant, input: Input, out: &mut Vec<Output>) {
        let counts = &mut self.counters.messages_in;
        match &input {
            Input::BgpOpen(_) => counts.open = counts.open.saturating_add(1),
            Input::NotifMsg(_) => counts.notification = counts.notification.saturating_add(1),
            Input::KeepAliveMsg => counts.count(&Message::Keepalive),
            Input::UpdateMsg(d) | Input::RouteRefreshMsg(d) => counts.count(&d.message),
            Input::BgpHeaderErr(_)
            | Input::BgpOpenMsgErr(_)
            | Input::UpdateMsgErr(_)
            | Input::RouteRefreshMsgErr(_) => counts.malformed = counts.malformed.saturating_add(1),
            _ => {}
        }
        match event_of(input) {
            Some(event) => self.step(now, event, out),
            None => self.fire_timers(now, out),
        }
    }

    /// Counts an OPEN that [`super::Peer`] answered with a collision dump.
    pub(crate) fn note_open_received(&mut self) {
        let counts = &mut self.counters.messages_in;
        counts.open = counts.open.saturating_add(1);
    }

    /// Event 23: this connection lost a collision (or, Established, the
    /// peer restarted on a new one).
    pub(crate) fn collision_dump(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.step(now, Event::OpenCollisionDump, out);
    }

    /// Fires every timer due by `now`, the hold timer first.
    fn fire_timers(&mut self, now: Instant, out: &mut Vec<Output>) {
        // Each round fires one timer; a zero-length timer can fire again.
        for _ in 0..16 {
            let c = &mut self.conn;
            let event = if c.hold.fire(now) {
                Event::HoldTimerExpires
            } else if c.delay_open.fire(now) {
                Event::DelayOpenTimerExpires
            } else if c.connect_retry.fire(now) {
                Event::ConnectRetryTimerExpires
            } else if c.liveness_wait.fire(now) {
                Event::LivenessWaitExpires
            } else if c.keepalive.fire(now) {
                Event::KeepaliveTimerExpires
            } else if self.idle_hold.fire(now) {
                Event::IdleHoldTimerExpires
            } else if self.restart.fire(now) {
                if self.state != State::Established {
                    info!("peer did not come back within its restart time; flushing");
                    out.push(Output::FlushRoutes {
                        cause: FlushCause::RestartTimeExpired,
                    });
                }
                continue;
            } else {
                return;
            };
            self.step(now, event, out);
        }
    }

    /// The transition table: one arm per (state, event) group.
    fn step(&mut self, now: Instant, event: Event, out: &mut Vec<Output>) {
        use Event as E;
        use State as S;
        let was_live = self.liveness == Liveness::Up;
        match event {
            E::LivenessUp => self.liveness = Liveness::Up,
            E::LivenessDown => self.liveness = Liveness::Down,
            _ => {}
        }
        let tcp = self.conn.tcp;
        match (self.state, event) {
            // Starting (events 1, 3, 13): only Idle acts on them.
            (S::Idle, E::ManualStart) => {
                self.started = true;
                self.failures = 0;
                self.idle_hold.stop();
                self.start(now, out);
            }
            (S::Idle, E::AutomaticStart) => {
                self.started = true;
                if !self.idle_hold.is_running() {
                    self.start(now, out);
                }
            }
            (S::Idle, E::IdleHoldTimerExpires) => {
                if self.started {
                    self.start(now, out);
                }
            }
            (_, E::ManualStart | E::AutomaticStart | E::IdleHoldTimerExpires) => {}

            // Event 2: ManualStop, with a Cease / Administrative Shutdown
            // once the OPEN exchange has begun.
            (S::Idle, E::ManualStop(_)) => {
                self.started = false;
                self.idle_hold.stop();
                self.flush_stale(FlushCause::ManualStop, out);
            }
            (S::Connect | S::Active, E::ManualStop(_)) => {
                self.end(now, teardown(None, DownReason::Dropped, Then::Stop), out);
                self.flush_stale(FlushCause::ManualStop, out);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::ManualStop(text)) => {
                let reason = CeaseReason::AdministrativeShutdown;
                let n = match text {
                    Some(text) => Notification::shutdown(reason, &text),
                    None => Notification::cease(reason),
                };
                let n = self.hard_reset_if_negotiated(n);
                let mut td = teardown(Some(n.clone()), DownReason::Sent(n), Then::Stop);
                td.flush = Some(FlushCause::ManualStop);
                self.end(now, td, out);
                self.flush_stale(FlushCause::ManualStop, out);
            }

            // Event 8: AutomaticStop.
            (S::Idle, E::AutomaticStop(_)) => {}
            (S::Connect | S::Active, E::AutomaticStop(_)) => {
                self.end(now, teardown(None, DownReason::Dropped, Then::Fail), out);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::AutomaticStop(n)) => {
                let n = self.hard_reset_if_negotiated(n);
                self.end(
                    now,
                    teardown(Some(n.clone()), DownReason::Sent(n), Then::Fail),
                    out,
                );
            }

            // Event 9: ConnectRetryTimer_Expires.
            (S::Connect, E::ConnectRetryTimerExpires) => {
                // The attempt took too long: abandon it and try again.
                out.push(Output::Close);
                self.connect_failures = self.connect_failures.saturating_add(1);
                self.connect(now, out);
            }
            (S::Active, E::ConnectRetryTimerExpires) => self.start(now, out),
            (_, E::ConnectRetryTimerExpires) => {}

            // Event 10: HoldTimer_Expires.
            (S::OpenSent | S::OpenConfirm | S::Established, E::HoldTimerExpires) => {
                warn!(state = %self.state, "hold timer expired");
                let n = Notification::new(ErrorCode::HoldTimerExpired(0), Vec::new());
                self.end(
                    now,
                    teardown(Some(n), DownReason::HoldTimerExpired, Then::Fail),
                    out,
                );
            }
            (_, E::HoldTimerExpires) => {}

            // Event 11: KeepaliveTimer_Expires.
            (S::OpenConfirm | S::Established, E::KeepaliveTimerExpires) => {
                self.send_keepalive(now, out);
            }
            (_, E::KeepaliveTimerExpires) => {}

            // Event 12: DelayOpenTimer_Expires: now send our OPEN.
            (S::Connect | S::Active, E::DelayOpenTimerExpires) if tcp => self.send_open(now, out),
            (_, E::DelayOpenTimerExpires) => {}

            // Liveness strict mode: BFD never came up.
            (S::OpenConfirm, E::LivenessWaitExpires) => {
                warn!("liveness did not come up in time");
                let n = Notification::cease(CeaseReason::BfdDown);
                self.end(
                    now,
                    teardown(Some(n.clone()), DownReason::Sent(n), Then::Fail),
                    out,
                );
            }
            (_, E::LivenessWaitExpires) => {}

            // Events 16 and 17: a TCP connection is up. Idle refuses it.
            (S::Idle, E::TcpCrAcked | E::TcpConnectionConfirmed) => out.push(Output::Close),
            (S::Connect | S::Active, E::TcpCrAcked | E::TcpConnectionConfirmed) if !tcp => {
                self.tcp_up(now, out);
            }
            (_, E::TcpCrAcked | E::TcpConnectionConfirmed) => {
                debug!(state = %self.state, "second connection left to collision detection");
            }

            // Event 18: TcpConnectionFails.
            (S::Idle, E::TcpConnectionFails) => {}
            (S::Connect | S::Active, E::TcpConnectionFails) => {
                if tcp || self.state == S::Connect {
                    self.end(now, teardown(None, DownReason::TcpFailed, Then::Retry), out);
                }
            }
            (S::OpenSent, E::TcpConnectionFails) => {
                self.end(now, teardown(None, DownReason::TcpFailed, Then::Retry), out);
            }
            (S::OpenConfirm | S::Established, E::TcpConnectionFails) => {
                self.end(now, teardown(None, DownReason::TcpFailed, Then::Fail), out);
            }

            // Events 19 and 20: BGPOpen (20: while DelayOpen runs).
            (S::Connect | S::Active, E::BgpOpen(open)) if tcp => {
                self.receive_open(now, open, true, out);
            }
            (S::OpenSent, E::BgpOpen(open)) => self.receive_open(now, open, false, out),
            (S::OpenConfirm | S::Established, E::BgpOpen(_)) => self.fsm_error(now, out),
            (S::Idle | S::Connect | S::Active, E::BgpOpen(_)) => {}

            // Events 21 and 22: a header or OPEN that does not decode.
            (S::Connect | S::Active, E::BgpHeaderErr(e) | E::BgpOpenMsgErr(e)) if tcp => {
                self.decode_error(now, &e, out);
            }
            (S::OpenSent | S::OpenConfirm | S::Established, E::BgpHeaderErr(e)) => {
                self.decode_error(now, &e, out);
            }
            (S::OpenSent | S::OpenConfirm, E::BgpOpenMsgErr(e)) => self.decode_error(now, &e, out),
            (S::Established, E::BgpOpenMsgErr(_)) => self.fsm_error(now, out),
            (S::Idle | S::Connect | S::Active, E::BgpHeaderErr(_) | E::BgpOpenMsgErr(_)) => {}

            // Event 23: OpenCollisionDump.
            (S::Connect | S::Active, E::OpenCollisionDump) => {
                if tcp {
                    self.end(now, teardown(None, DownReason::Dropped, Then::Quiet), out);
                }
            }
            (S::OpenSent | S::OpenConfirm, E::OpenCollisionDump) => {
                let n = Notification::cease(CeaseReason::ConnectionCollisionResolution);
                self.end(
                    now,
                    teardown(Some(n.clone()), DownReason::Sent(n), Then::Quiet),
                    out,
                );
            }
            (S::Established, E::OpenCollisionDump) if self.graceful_helper() => {
                // RFC 4724 section 4.2: the peer restarted and is back on a
                // new connection; this one is dead, so close it quietly.
                self.end(
                    now,
                    teardown(None, DownReason::PeerRestarted, Then::Quiet),
                    out,
                );
            }
            (S::Established, E::OpenCollisionDump) => {
                let n = Notification::cease(CeaseReason::ConnectionCollisionResolution);
                self.end(
                    now,
                    teardown(Some(n.clone()), DownReason::Sent(n), Then::Quiet),
                    out,
                );
            }
            (S::Idle, E::OpenCollisionDump) => {}

            // Events 24 and 25: NOTIFICATION received; never answered.
            (S::Connect | S::Active | S::OpenSent | S::OpenConfirm, E::NotifMsgVerErr(n))
                if tcp =>
            {
                self.end(
                    now,
                    teardown(None, DownReason::Received(n), Then::Quiet),
                    out,
                );
            }
            (S::Connect | S::Active, E::NotifMsg(n)) if tcp => {
                self.end(
                    now,
                    teardown(None, DownReason::Received(n), Then::Fail),
                    out,
                );
            }
            (
                S::OpenSent | S::OpenConfirm | S::Established,
                E::NotifMsg(n) | E::NotifMsgVerErr(n),
            ) => {
                warn!(notification = %n, "NOTIFICATION received");
                self.end(
                    now,
                    teardown(None, DownReason::Received(n), Then::Fail),
                    out,
                );
            }
            (S::Idle | S::Connect | S::Active, E::NotifMsg(_) | E::NotifMsgVerErr(_)) => {}

            // Event 26: KeepAliveMsg.
            (S::OpenConfirm, E::KeepAliveMsg) => {
                self.restart_hold(now);
                if self.waits_for_liveness() {
                    debug!("peer confirmed; waiting for liveness");
                    self.conn.peer_confirmed = true;
                } else {
                    self.establish(now, out);
                }
            }
            (S::Established, E::KeepAliveMsg) => self.restart_hold(now),

            // Event 27 and ROUTE-REFRESH: delivered upward only when
            // Established, unless RFC 7606 says to reset the session.
            (S::Established, E::UpdateMsg(d) | E::RouteRefreshMsg(d)) => {
                if let Some(n) = update_reset(&d) {
                    warn!(notification = %n, "UPDATE error resets the session (RFC 7606)");
                    let td = teardown(Some(n.clone()), DownReason::Sent(n), Then::Fail);
                    self.end(now, td, out);
                } else {
                    self.restart_hold(now);
                    out.push(Output::Received(d));
                }
            }
            // Event 28 and its ROUTE-REFRESH twin.
            (S::Established, E::UpdateMsgErr(e) | E::RouteRefreshMsgErr(e)) => {
                self.decode_error(now, &e, out);
            }
            // Any of these before Established is an FSM error (RFC 6608;
            // subcode 0 while DelayOpen still holds our OPEN back).
            (
                S::OpenSent | S::OpenConfirm,
                E::KeepAliveMsg
                | E::UpdateMsg(_)
                | E::UpdateMsgErr(_)
                | E::RouteRefreshMsg(_)
                | E::RouteRefreshMsgErr(_),
            ) => self.fsm_error(now, out),
            (
                S::Connect | S::Active,
                E::KeepAliveMsg
                | E::UpdateMsg(_)
                | E::UpdateMsgErr(_)
                | E::RouteRefreshMsg(_)
                | E::RouteRefreshMsgErr(_),
            ) if tcp => self.fsm_error(now, out),
            (
                S::Idle | S::Connect | S::Active,
                E::KeepAliveMsg
                | E::UpdateMsg(_)
                | E::UpdateMsgErr(_)
                | E::RouteRefreshMsg(_)
                | E::RouteRefreshMsgErr(_),
            ) => {}

            // Liveness (BFD). Up releases the KEEPALIVE OpenConfirm held
            // back, and completes the session if the peer's came already.
            (S::OpenConfirm, E::LivenessUp) => {
                if !self.conn.open_confirmed {
                    self.confirm_open(now, out);
                }
                if self.conn.peer_confirmed {
                    self.establish(now, out);
                }
            }
            // A Down after an Up: the forwarding path failed (RFC 9384).
            (S::OpenSent | S::OpenConfirm | S::Established, E::LivenessDown) if was_live => {
                warn!("liveness down");
                let n = Notification::cease(CeaseReason::BfdDown);
                let mut td = teardown(Some(n.clone()), DownReason::Sent(n), Then::Fail);
                td.flush = Some(FlushCause::LivenessDown);
                self.end(now, td, out);
            }
            (_, E::LivenessUp | E::LivenessDown) => {}

            // Local messages, only on an Established session.
            (S::Established, E::SendUpdate(u)) => {
                self.send(Message::Update(u), out);
                self.restart_keepalive(now);
            }
            (S::Established, E::SendRouteRefresh(r)) => {
                self.send(Message::RouteRefresh(r), out);
                self.restart_keepalive(now);
            }
            (_, E::SendUpdate(_) | E::SendRouteRefresh(_)) => {
                debug!(state = %self.state, "not Established; message not sent");
            }
        }
    }

    fn enter(&mut self, state: State) {
        if state == self.state {
            return;
        }
        info!(from = %self.state, to = %state, remote_as = self.cfg.remote_as, "BGP state change");
        if self.state == State::Established {
            self.counters.flaps = self.counters.flaps.saturating_add(1);
        }
        self.counters.transitions = self.counters.transitions.saturating_add(1);
        self.state = state;
    }

    /// Takes over the connection of a secondary FSM that won a collision,
    /// keeping this session's damping, liveness and counters.
    pub(crate) fn adopt(&mut self, other: Fsm) {
        self.counters.absorb(&other.counters);
        self.conn = other.conn;
        self.idle_hold.stop();
        if other.state >= State::OpenConfirm {
            self.connect_failures = 0;
        }
        if other.state == State::Established {
            self.restart.stop();
        }
        self.enter(other.state);
    }

    /// What `show peers` prints.
    pub fn snapshot(&self) -> Snapshot {
        let negotiated = self.conn.negotiated.as_ref();
        Snapshot {
            state: self.state,
            local_as: self.cfg.local_as,
            remote_as: self.cfg.remote_as,
            remote_id: self.conn.remote.as_ref().map(|o| o.bgp_id),
            hold_time: negotiated.map(|n| n.hold_time.seconds()),
            keepalive_interval: negotiated.and_then(|n| n.keepalive),
            messages_in: self.counters.messages_in,
            messages_out: self.counters.messages_out,
            updates_received: self.counters.messages_in.update,
            transitions: self.counters.transitions,
            flaps: self.counters.flaps,
            last_error: self.counters.last_error.clone(),
            established_since: self.conn.established_since,
            consecutive_failures: self.failures,
            liveness: self.liveness,
            stale_routes_kept: self.restart.is_running(),
            capabilities: self
                .conn
                .remote
                .as_ref()
                .zip(negotiated)
                .map(|(remote, n)| agreed_capabilities(&self.local_open, remote, n))
                .unwrap_or_default(),
        }
    }
}

/// The capabilities both OPENs carry, by name, with what was negotiated.
fn agreed_capabilities(local: &Open, remote: &Open, n: &Negotiated) -> Vec<String> {
    use proto::bgp::Capability as C;
    let both = |want: &dyn Fn(&C) -> bool| {
        local.capabilities().any(want) && remote.capabilities().any(want)
    };
    let mut out: Vec<String> = local
        .capabilities()
        .filter_map(|c| match c {
            C::MultiProtocol(f) if remote.capabilities().any(|r| r == c) => {
                Some(format!("multiprotocol {f:?}"))
            }
            _ => None,
        })
        .collect();
    if both(&|c| matches!(c, C::RouteRefresh)) {
        out.push("route-refresh".into());
    }
    if both(&|c| matches!(c, C::EnhancedRouteRefresh)) {
        out.push("enhanced-route-refresh".into());
    }
    if n.ctx.four_octet_as {
        out.push("4-octet-as".into());
    }
    if n.ctx.max_message_len > proto::bgp::MAX_MESSAGE_LEN {
        out.push("extended-message".into());
    }
    for (family, nh) in &n.ctx.extended_next_hop {
        out.push(format!("extended-next-hop {family:?} via {nh:?}"));
    }
    for f in &n.ctx.add_path_rx {
        out.push(format!("add-path receive {f:?}"));
    }
    for f in &n.ctx.add_path_tx {
        out.push(format!("add-path send {f:?}"));
    }
    if n.peer_gr.is_some() {
        out.push(if n.n_bit {
            "graceful-restart (N-bit)".into()
        } else {
            "graceful-restart".into()
        });
    }
    out
}
