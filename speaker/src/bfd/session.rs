//! One BFD session, sans-IO: the RFC 5880 asynchronous mode state machine.
//!
//! The caller owns the clock, the socket and the random source: it feeds
//! [`Input`]s with the current time to [`Session::handle`], carries out the
//! [`Output`]s, and calls `handle(now, Input::Timer, ..)` when
//! [`Session::next_deadline`] has passed. Demand mode and the Echo function
//! are not implemented: the D bit is never set and Required Min Echo RX is
//! always zero.
//!
//! Timer rules, with the RFC sections they come from:
//!
//! - transmit interval = max(DesiredMinTx in effect, remote RequiredMinRx),
//!   with DesiredMinTx at least 1 s while the session is not Up (6.8.3),
//!   each interval reduced by a random 0 to 25 % (10 to 25 % when
//!   DetectMult is 1) (6.8.7);
//! - detection time = remote DetectMult x max(RequiredMinRx in effect,
//!   remote DesiredMinTx) (6.8.4);
//! - a change of DesiredMinTx or RequiredMinRx while Up starts a Poll
//!   Sequence (6.5); a faster transmit rate and a longer detection time take
//!   effect at once, a slower transmit rate and a shorter detection time
//!   only when the Final arrives (6.8.3).
//!
//! Packets are sent on every timer expiry, at once on every state change,
//! at once with the Final bit when a Poll arrives (6.8.7), and at once when
//! a Poll Sequence starts.

use std::time::{Duration, Instant};

use proto::bfd::{
    Auth, AuthType, ControlPacket, Diagnostic, Discriminator, Password, State, check_auth_policy,
    check_sequence, sign, verify,
};
use serde::Serialize;

pub use super::config::{AuthConfig, MAX_INTERVAL, MIN_INTERVAL, Timers};
use super::gaps::GapHistogram;
use super::{ConfigError, DropReason, Drops, SplitMix64};

/// DesiredMinTx floor while the session is not Up, RFC 5880 section 6.8.3.
pub const SLOW_TX_INTERVAL: Duration = Duration::from_secs(1);

/// What happens to a session.
#[derive(Debug, Clone, Copy)]
pub enum Input<'a> {
    /// A Control packet for this session, already parsed (so it passed the
    /// receive checks that need no session) and demultiplexed; `bytes` is
    /// the UDP payload it came from, for authentication.
    Received {
        /// The parsed packet.
        packet: &'a ControlPacket,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// `next_deadline()` has passed: transmit or detection timer.
    Timer,
    /// An operator disables the session (RFC 5880 section 6.8.16).
    AdminDown,
    /// An operator enables it again.
    AdminUp,
    /// The path to the peer is known to be broken (the interface went
    /// down): Down with Diag 5, Path Down.
    PathDown,
    /// New timer parameters.
    SetTimers(Timers),
}

/// What the caller must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send this UDP payload to the peer.
    Transmit(Vec<u8>),
    /// The session state changed.
    StateChange {
        /// The old state.
        from: State,
        /// The new state.
        to: State,
        /// bfd.LocalDiag after the change.
        diag: Diagnostic,
        /// The peer went AdminDown: the session is Down but the path did
        /// not fail, and the client must not treat it as a failure (RFC 5882
        /// section 3.2).
        admin_down_by_peer: bool,
    },
}

/// A receive step that discarded a packet.
type Received = Result<(), DropReason>;

/// State of the Poll Sequence we started (RFC 5880 section 6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Poll {
    Idle,
    /// P is set on every packet until a Final arrives; `again` when the
    /// parameters changed once more after the Poll was first sent.
    Active {
        again: bool,
    },
}

/// Counters of one session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Packets accepted (authenticated, for this session).
    pub packets_in: u64,
    /// Packets transmitted.
    pub packets_out: u64,
    /// Packets discarded, by reason.
    pub dropped: Drops,
    /// Transitions to Up.
    pub up_transitions: u64,
    /// Transitions from Up to any other state.
    pub down_transitions: u64,
    /// Gaps after packets accepted while Up, up to the next packet
    /// accepted (the gap that made the session fail included).
    pub rx_gaps: GapHistogram,
}

/// The fields of a session for `show bfd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStatus {
    /// bfd.SessionState.
    pub state: State,
    /// bfd.RemoteSessionState.
    pub remote_state: State,
    /// bfd.LocalDiscr.
    pub local_discriminator: Discriminator,
    /// bfd.RemoteDiscr, `None` while unknown.
    pub remote_discriminator: Option<Discriminator>,
    /// bfd.LocalDiag.
    pub local_diag: Diagnostic,
    /// The Diag field last received.
    pub remote_diag: Diagnostic,
    /// Configured timers.
    pub timers: Timers,
    /// Interval between our packets, before jitter, in microseconds.
    pub tx_interval_us: u64,
    /// Interval the peer sends at, in microseconds.
    pub rx_interval_us: u64,
    /// The detection time, `None` while no packet arrived.
    pub detection_time_us: Option<u64>,
    /// The peer's Detect Mult.
    pub remote_detect_mult: u8,
    /// The peer's Desired Min TX, in microseconds.
    pub remote_desired_min_tx_us: u64,
    /// The peer's Required Min RX, in microseconds.
    pub remote_required_min_rx_us: u64,
    /// A Poll Sequence of ours awaits its Final.
    pub poll_active: bool,
    /// The authentication type, if any.
    pub auth: Option<AuthType>,
    /// Milliseconds since the last state change.
    pub since_transition_ms: Option<u64>,
    /// Milliseconds since the last packet accepted.
    pub since_rx_ms: Option<u64>,
    /// Counters.
    pub counters: Counters,
}

/// One BFD session (RFC 5880 section 6.8.1 state variables and more).
#[derive(Debug, Clone)]
pub struct Session {
    local_discr: Discriminator,
    timers: Timers,
    auth: Option<AuthConfig>,
    password: Option<Password>,

    state: State,
    remote_state: State,
    remote_discr: Option<Discriminator>,
    local_diag: Diagnostic,
    remote_diag: Diagnostic,
    remote_demand: bool,
    remote_min_rx: Duration,
    remote_desired_min_tx: Duration,
    remote_detect_mult: u8,

    /// DesiredMinTx that sets our transmit rate (lags an increase in Up).
    active_tx: Duration,
    /// RequiredMinRx that sets the detection time (lags a decrease in Up).
    active_rx: Duration,
    poll: Poll,

    next_tx: Option<Instant>,
    detect_at: Option<Instant>,
    last_rx: Option<Instant>,
    /// The last packet was accepted while Up: the next one ends a gap,
    /// even if the detection time expired in between.
    last_rx_up: bool,
    last_transition: Option<Instant>,

    xmit_auth_seq: u32,
    /// What the last packet said, for the keyed (non-meticulous) sequence
    /// rule: the number moves on only when the content does.
    last_sent: Option<[u32; 4]>,
    rcv_auth_seq: Option<u32>,

    rng: SplitMix64,
    counters: Counters,
}

impl Session {
    /// A new session in state Down with our discriminator `local`, which the
    /// caller keeps unique. `seed` feeds the jitter and the initial
    /// authentication sequence number. The first packet is due at `now`.
    pub fn new(
        now: Instant,
        local: Discriminator,
        timers: Timers,
        auth: Option<AuthConfig>,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        timers.validate()?;
        let password = match &auth {
            Some(auth) => {
                auth.validate()?;
                match auth.kind {
                    AuthType::SimplePassword => Password::try_from(auth.key.as_slice()).ok(),
                    _ => None,
                }
            }
            None => None,
        };
        let mut rng = SplitMix64(seed);
        let xmit_auth_seq = rng.next_u32();
        let active_tx = timers.desired_min_tx.max(SLOW_TX_INTERVAL);
        Ok(Self {
            local_discr: local,
            timers,
            auth,
            password,
            state: State::Down,
            remote_state: State::Down,
            remote_discr: None,
            local_diag: Diagnostic::NoDiagnostic,
            remote_diag: Diagnostic::NoDiagnostic,
            remote_demand: false,
            // RFC 5880 section 6.8.1: bfd.RemoteMinRxInterval starts at 1 us.
            remote_min_rx: Duration::from_micros(1),
            remote_desired_min_tx: Duration::ZERO,
            remote_detect_mult: 0,
            active_tx,
            active_rx: timers.required_min_rx,
            poll: Poll::Idle,
            next_tx: Some(now),
            detect_at: None,
            last_rx: None,
            last_rx_up: false,
            last_transition: None,
            xmit_auth_seq,
            last_sent: None,
            rcv_auth_seq: None,
            rng,
            counters: Counters::default(),
        })
    }

    /// Runs one input.
    pub fn handle(&mut self, now: Instant, input: Input<'_>, out: &mut Vec<Output>) {
        match input {
            Input::Received { packet, bytes } => {
                if let Err(reason) = self.receive(now, packet, bytes, out) {
                    self.counters.dropped.count(reason);
                }
            }
            Input::Timer => self.on_timer(now, out),
            Input::AdminDown => self.admin_down(now, out),
            Input::AdminUp => self.admin_up(now, out),
            Input::PathDown => self.path_down(now, out),
            Input::SetTimers(timers) => self.set_timers(now, timers, out),
        }
    }

    /// When the caller must call `handle(.., Input::Timer, ..)` next.
    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.next_tx, self.detect_at) {
            (Some(tx), Some(detect)) => Some(tx.min(detect)),
            (tx, detect) => tx.or(detect),
        }
    }

    /// RFC 5880 section 6.8.6, after the checks `ControlPacket::parse` and
    /// the demultiplexer made.
    fn receive(
        &mut self,
        now: Instant,
        packet: &ControlPacket,
        bytes: &[u8],
        out: &mut Vec<Output>,
    ) -> Received {
        if packet.your_discriminator != 0 && packet.your_discriminator != self.local_discr.get() {
            return Err(DropReason::Discriminator);
        }
        self.authenticate(now, packet, bytes)?;
        self.counters.packets_in += 1;
        if let Some(last) = self.last_rx
            && self.last_rx_up
        {
            self.counters
                .rx_gaps
                .record(now.saturating_duration_since(last));
        }
        let was_up = self.state == State::Up;
        self.last_rx_up = false;
        self.last_rx = Some(now);

        self.remote_discr = Discriminator::new(packet.my_discriminator);
        self.remote_state = packet.state;
        self.remote_diag = packet.diagnostic;
        self.remote_demand = packet.demand;
        self.remote_min_rx = packet.required_min_rx();
        self.remote_desired_min_tx = packet.desired_min_tx();
        self.remote_detect_mult = packet.detect_mult;
        if packet.final_ {
            self.poll_terminated(now, out);
        }

        // The state machine of section 6.8.6, one arm per (local state,
        // received state) pair.
        use State::{AdminDown, Down, Init, Up};
        let next = match (self.state, packet.state) {
            // Discarded, after the remote variables were updated.
            (AdminDown, AdminDown | Down | Init | Up) => None,
            (Down, AdminDown) => None,
            (Down, Down) => Some((Init, Diagnostic::NoDiagnostic, false)),
            (Down, Init) => Some((Up, Diagnostic::NoDiagnostic, false)),
            (Down, Up) => None,
            (Init, AdminDown) => Some((Down, Diagnostic::NeighborSignaledSessionDown, true)),
            (Init, Down) => None,
            (Init, Init | Up) => Some((Up, Diagnostic::NoDiagnostic, false)),
            (Up, AdminDown) => Some((Down, Diagnostic::NeighborSignaledSessionDown, true)),
            (Up, Down) => Some((Down, Diagnostic::NeighborSignaledSessionDown, false)),
            (Up, Init | Up) => None,
        };
        if self.state == AdminDown {
            self.reschedule(now);
            return Ok(());
        }
        let changed = match next {
            Some((to, diag, by_peer)) => {
                self.set_state(now, to, diag, by_peer, out);
                true
            }
            None => false,
        };
        self.last_rx_up = was_up && self.state == Up;
        // The packet counts for the detection time, whatever the state: in
        // Down it only keeps bfd.RemoteDiscr alive.
        self.detect_at = Some(now + self.detection_time());
        self.reschedule(now);
        if packet.poll {
            self.transmit(now, true, out);
        } else if changed {
            self.transmit(now, false, out);
        }
        Ok(())
    }

    /// The A-bit checks of section 6.8.6 and the authentication of 6.7.
    fn authenticate(&mut self, now: Instant, packet: &ControlPacket, bytes: &[u8]) -> Received {
        let expected = self.auth.as_ref().map(|auth| auth.kind);
        check_auth_policy(packet, expected).map_err(|_| DropReason::AuthPolicy)?;
        let (Some(config), Some(received)) = (&self.auth, &packet.auth) else {
            return Ok(());
        };
        if received.key_id() != Some(config.key_id) {
            return Err(DropReason::AuthKeyId);
        }
        verify(bytes, &config.key).map_err(|_| DropReason::AuthDigest)?;
        // Section 6.8.1: bfd.AuthSeqKnown goes back to 0 after twice the
        // detection time without a packet.
        if let Some(last) = self.last_rx {
            let quiet = now.saturating_duration_since(last);
            if quiet >= self.detection_time().saturating_mul(2) {
                self.rcv_auth_seq = None;
            }
        }
        check_sequence(packet, self.rcv_auth_seq).map_err(|_| DropReason::AuthSequence)?;
        if let Some(sequence) = received.sequence() {
            self.rcv_auth_seq = Some(sequence);
        }
        Ok(())
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.detect_at.is_some_and(|at| at <= now) {
            self.detect_at = None;
            // Section 6.8.1: bfd.RemoteDiscr is zeroed when the detection
            // time passes without a packet.
            self.remote_discr = None;
            self.remote_state = State::Down;
            match self.state {
                State::Init | State::Up => {
                    self.set_state(
                        now,
                        State::Down,
                        Diagnostic::ControlDetectionTimeExpired,
                        false,
                        out,
                    );
                    self.transmit(now, false, out);
                }
                State::AdminDown | State::Down => {}
            }
        }
        if self.next_tx.is_some_and(|at| at <= now) {
            self.transmit(now, false, out);
        }
    }

    fn admin_down(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.state == State::AdminDown {
            return;
        }
        self.set_state(
            now,
            State::AdminDown,
            Diagnostic::AdministrativelyDown,
            false,
            out,
        );
        self.detect_at = None;
        self.transmit(now, false, out);
    }

    fn admin_up(&mut self, now: Instant, out: &mut Vec<Output>) {
        if self.state != State::AdminDown {
            return;
        }
        self.set_state(now, State::Down, Diagnostic::NoDiagnostic, false, out);
        self.transmit(now, false, out);
    }

    fn path_down(&mut self, now: Instant, out: &mut Vec<Output>) {
        match self.state {
            State::AdminDown => {}
            State::Down => self.local_diag = Diagnostic::PathDown,
            State::Init | State::Up => {
                self.set_state(now, State::Down, Diagnostic::PathDown, false, out);
                self.transmit(now, false, out);
            }
        }
    }

    fn set_timers(&mut self, now: Instant, timers: Timers, out: &mut Vec<Output>) {
        if timers.validate().is_err() || timers == self.timers {
            return;
        }
        let before = self.advertised();
        self.timers = timers;
        if self.parameters_changed(now, before) {
            self.transmit(now, false, out);
        }
    }

    /// Changes bfd.SessionState, reports it, and applies the 1 s floor of
    /// section 6.8.3 that depends on it.
    fn set_state(
        &mut self,
        now: Instant,
        to: State,
        diag: Diagnostic,
        admin_down_by_peer: bool,
        out: &mut Vec<Output>,
    ) {
        let from = self.state;
        if from == to {
            return;
        }
        let before = self.advertised();
        self.state = to;
        self.local_diag = diag;
        self.last_transition = Some(now);
        if to == State::Up {
            self.counters.up_transitions += 1;
        }
        if from == State::Up {
            self.counters.down_transitions += 1;
        }
        out.push(Output::StateChange {
            from,
            to,
            diag,
            admin_down_by_peer,
        });
        // Every caller sends a packet after a state change, which carries
        // the Poll bit if one started.
        self.parameters_changed(now, before);
    }

    /// DesiredMinTx and RequiredMinRx as advertised now.
    fn advertised(&self) -> (Duration, Duration) {
        let tx = match self.state {
            State::Up => self.timers.desired_min_tx,
            State::AdminDown | State::Down | State::Init => {
                self.timers.desired_min_tx.max(SLOW_TX_INTERVAL)
            }
        };
        (tx, self.timers.required_min_rx)
    }

    /// Sections 6.5 and 6.8.3: the advertised intervals were `before`; what
    /// changes now, and what waits for a Final. True when a Poll Sequence
    /// started, whose first packet should go out at once.
    fn parameters_changed(&mut self, now: Instant, before: (Duration, Duration)) -> bool {
        let (tx, rx) = self.advertised();
        let mut started = false;
        if self.state != State::Up {
            // Nothing to negotiate: the new values hold at once.
            self.poll = Poll::Idle;
            self.active_tx = tx;
            self.active_rx = rx;
        } else if (tx, rx) != before {
            // Sending faster and accepting slower packets are safe now;
            // the rest waits for the Final.
            self.active_tx = self.active_tx.min(tx);
            self.active_rx = self.active_rx.max(rx);
            match self.poll {
                Poll::Idle => {
                    self.poll = Poll::Active { again: false };
                    started = true;
                }
                Poll::Active { .. } => self.poll = Poll::Active { again: true },
            }
        }
        self.rearm_detection();
        self.reschedule(now);
        started
    }

    /// A Final arrived: the Poll Sequence is over and the advertised values
    /// hold (sections 6.5 and 6.8.3).
    fn poll_terminated(&mut self, now: Instant, out: &mut Vec<Output>) {
        let Poll::Active { again } = self.poll else {
            return;
        };
        (self.active_tx, self.active_rx) = self.advertised();
        self.poll = Poll::Idle;
        self.rearm_detection();
        self.reschedule(now);
        if again {
            self.poll = Poll::Active { again: false };
            self.transmit(now, false, out);
        }
    }

    /// The detection timer runs from the last packet; a new detection time
    /// moves it.
    fn rearm_detection(&mut self) {
        if let (Some(_), Some(last)) = (self.detect_at, self.last_rx) {
            self.detect_at = Some(last + self.detection_time());
        }
    }

    /// Section 6.8.4, asynchronous mode.
    pub fn detection_time(&self) -> Duration {
        self.rx_interval()
            .saturating_mul(u32::from(self.remote_detect_mult))
    }

    /// The interval the peer sends at: max(RequiredMinRx in effect, remote
    /// DesiredMinTx).
    pub fn rx_interval(&self) -> Duration {
        self.active_rx.max(self.remote_desired_min_tx)
    }

    /// The interval we send at, before jitter: max(DesiredMinTx in effect,
    /// remote RequiredMinRx) (section 6.8.2).
    pub fn tx_interval(&self) -> Duration {
        self.active_tx.max(self.remote_min_rx)
    }

    /// Section 6.8.7: no periodic packets when the peer asks for none, or
    /// runs Demand mode with both sides Up.
    fn periodic(&self) -> bool {
        let demand =
            self.remote_demand && self.state == State::Up && self.remote_state == State::Up;
        !self.remote_min_rx.is_zero() && !demand
    }

    /// Brings the next transmission forward when the interval shrank, so the
    /// peer's detection time, already computed from the new values, holds.
    fn reschedule(&mut self, now: Instant) {
        if !self.periodic() {
            self.next_tx = None;
            return;
        }
        let interval = self.tx_interval();
        match self.next_tx {
            Some(at) if at <= now + interval => {}
            _ => self.next_tx = Some(now + self.jittered(interval)),
        }
    }

    /// Section 6.8.7: 75 to 100 % of the interval, 75 to 90 % when
    /// bfd.DetectMult is 1.
    fn jittered(&mut self, interval: Duration) -> Duration {
        let span = if self.timers.detect_mult == 1 {
            150
        } else {
            250
        };
        let permille = 750 + self.rng.next_u32() % span;
        interval * permille / 1000
    }

    /// Sends a Control packet now (section 6.8.7) and restarts the transmit
    /// timer. `final_` answers a Poll.
    fn transmit(&mut self, now: Instant, final_: bool, out: &mut Vec<Output>) {
        let (desired_min_tx, required_min_rx) = self.advertised();
        let mut packet = ControlPacket {
            diagnostic: self.local_diag,
            state: self.state,
            poll: !final_ && self.poll != Poll::Idle,
            final_,
            control_plane_independent: false,
            demand: false,
            multipoint: false,
            detect_mult: self.timers.detect_mult,
            my_discriminator: self.local_discr.get(),
            your_discriminator: self.remote_discr.map_or(0, Discriminator::get),
            desired_min_tx_us: micros(desired_min_tx),
            required_min_rx_us: micros(required_min_rx),
            required_min_echo_rx_us: 0,
            auth: None,
        };
        packet.auth = self.next_auth(&packet);
        let bytes = match packet.to_bytes() {
            Ok(mut bytes) => {
                if let Some(auth) = &self.auth
                    && !matches!(auth.kind, AuthType::SimplePassword)
                    && sign(&mut bytes, &auth.key).is_err()
                {
                    // Validated keys always sign; never send unsigned.
                    return;
                }
                bytes
            }
            Err(_) => return,
        };
        self.counters.packets_out += 1;
        out.push(Output::Transmit(bytes));
        self.next_tx = None;
        self.reschedule(now);
    }

    /// The authentication section for `packet`, with the sequence number
    /// rules of sections 6.7.3 and 6.7.4: meticulous types move on with
    /// every packet; keyed types when the packet's content changes, so
    /// repeated keepalives repeat it.
    fn next_auth(&mut self, packet: &ControlPacket) -> Option<Auth> {
        let config = self.auth.as_ref()?;
        let content = [
            u32::from(u8::from(packet.state)) << 8 | u32::from(u8::from(packet.diagnostic)),
            u32::from(packet.poll) << 1 | u32::from(packet.final_),
            packet.your_discriminator,
            packet.desired_min_tx_us ^ packet.required_min_rx_us.rotate_left(16),
        ];
        let advance = config.meticulous() || self.last_sent.is_some_and(|last| last != content);
        if advance {
            self.xmit_auth_seq = self.xmit_auth_seq.wrapping_add(1);
        }
        self.last_sent = Some(content);
        let (key_id, sequence) = (config.key_id, self.xmit_auth_seq);
        match config.kind {
            AuthType::SimplePassword => self
                .password
                .clone()
                .map(|password| Auth::SimplePassword { key_id, password }),
            AuthType::KeyedMd5 => Some(Auth::KeyedMd5 {
                key_id,
                sequence,
                digest: [0; 16],
            }),
            AuthType::MeticulousKeyedMd5 => Some(Auth::MeticulousKeyedMd5 {
                key_id,
                sequence,
                digest: [0; 16],
            }),
            AuthType::KeyedSha1 => Some(Auth::KeyedSha1 {
                key_id,
                sequence,
                hash: [0; 20],
            }),
            AuthType::MeticulousKeyedSha1 => Some(Auth::MeticulousKeyedSha1 {
                key_id,
                sequence,
                hash: [0; 20],
            }),
            AuthType::Other(_) => None,
        }
    }

    /// bfd.SessionState.
    pub fn state(&self) -> State {
        self.state
    }

    /// bfd.RemoteSessionState.
    pub fn remote_state(&self) -> State {
        self.remote_state
    }

    /// bfd.LocalDiscr.
    pub fn local_discriminator(&self) -> Discriminator {
        self.local_discr
    }

    /// bfd.RemoteDiscr, `None` while unknown.
    pub fn remote_discriminator(&self) -> Option<Discriminator> {
        self.remote_discr
    }

    /// bfd.LocalDiag.
    pub fn local_diag(&self) -> Diagnostic {
        self.local_diag
    }

    /// The Diag field last received.
    pub fn remote_diag(&self) -> Diagnostic {
        self.remote_diag
    }

    /// The peer's Detect Mult, 0 before the first packet.
    pub fn remote_detect_mult(&self) -> u8 {
        self.remote_detect_mult
    }

    /// Configured timers.
    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// Whether our Poll Sequence awaits its Final.
    pub fn poll_active(&self) -> bool {
        self.poll != Poll::Idle
    }

    /// When the state last changed.
    pub fn last_transition(&self) -> Option<Instant> {
        self.last_transition
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Counts a packet the demultiplexer discarded for this session.
    pub fn count_drop(&mut self, reason: DropReason) {
        self.counters.dropped.count(reason);
    }

    /// Everything `show bfd` prints about the session, at `now`.
    pub fn status(&self, now: Instant) -> SessionStatus {
        let ago = |at: Option<Instant>| at.map(|at| millis(now.saturating_duration_since(at)));
        SessionStatus {
            state: self.state,
            remote_state: self.remote_state,
            local_discriminator: self.local_discr,
            remote_discriminator: self.remote_discr,
            local_diag: self.local_diag,
            remote_diag: self.remote_diag,
            timers: self.timers,
            tx_interval_us: micros_u64(self.tx_interval()),
            rx_interval_us: micros_u64(self.rx_interval()),
            detection_time_us: self.last_rx.map(|_| micros_u64(self.detection_time())),
            remote_detect_mult: self.remote_detect_mult,
            remote_desired_min_tx_us: micros_u64(self.remote_desired_min_tx),
            remote_required_min_rx_us: micros_u64(self.remote_min_rx),
            poll_active: self.poll_active(),
            auth: self.auth.as_ref().map(|auth| auth.kind),
            since_transition_ms: ago(self.last_transition),
            since_rx_ms: ago(self.last_rx),
            counters: self.counters.clone(),
        }
    }
}

fn micros(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

fn micros_u64(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "session_auth_tests.rs"]
mod auth_tests;

#[cfg(test)]
#[path = "capture_tests.rs"]
mod capture_tests;
