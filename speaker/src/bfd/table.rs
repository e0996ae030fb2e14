//! Every BFD session of the speaker, sans-IO: demultiplexing, TTL checks,
//! discriminator allocation, flap damping and liveness reports.
//!
//! # Demultiplexing (RFC 5880 section 6.8.6, RFC 5881 section 3, RFC 5883
//! section 4)
//!
//! A packet with a non-zero Your Discriminator belongs to the session with
//! that local discriminator, or to none. With Your Discriminator zero (only
//! in Down and AdminDown, which `ControlPacket::parse` enforces) the path
//! selects it: single-hop by (interface, peer address), falling back to a
//! session bound to no interface; multihop by (local address, peer
//! address). Either way the packet must come from the session's peer, on
//! its port (3784 single-hop, 4784 multihop), on its interface when it has
//! one, to its local address when it has one.
//!
//! # TTL (RFC 5881 section 5, RFC 5883 section 5)
//!
//! Single-hop packets must arrive with TTL (hop limit) 255, proof that they
//! were not routed. Multihop packets must arrive with at least the
//! session's `min_ttl`: `255 - hops` for a peer `hops` routers away (note:
//! BIRD sends multihop packets with TTL 64, FRR with 255).
//!
//! # Flap damping
//!
//! A link that flaps must not reset BGP over and over. Down is always
//! reported at once; an Up that follows repeated failures is held back:
//!
//! - a failure is a transition from Up to Down that is not administrative
//!   (neither ours nor the peer's AdminDown);
//! - failures are remembered for [`Damping::window`] (default 60 s);
//! - with `n` failures remembered and `n >=` [`Damping::threshold`]
//!   (default 3), the next Up is reported only after the session has stayed
//!   Up for `initial_hold x 2^(n - threshold)` (default 1 s, 2 s, 4 s, ...),
//!   at most [`Damping::max_hold`] (default 30 s). Going down during the
//!   hold cancels the report.
//!
//! So the first three failures within a minute are reported as they happen
//! (a reboot or two costs nothing extra); in a storm the client stays down,
//! each Up waiting twice as long as the one before, and a session that stays
//! up for the window is forgiven completely.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use proto::bfd::{ControlPacket, Diagnostic, Discriminator, State};
use serde::{Deserialize, Serialize};

pub use super::config::{Hop, SessionConfig, SessionKey};
use super::session::{self, Session, SessionStatus, Timers};
use super::{ConfigError, DropReason, Drops, SplitMix64};

impl SessionConfig {
    /// Whether a packet with Your Discriminator zero, received on `meta`,
    /// is for this session.
    fn selects(&self, meta: &RxMeta<'_>) -> bool {
        match self.hop {
            Hop::SingleHop => !meta.multihop && meta.interface == self.interface.as_deref(),
            Hop::Multihop { .. } => meta.multihop && meta.destination == self.local,
        }
    }

    /// Whether a packet received on `meta` may belong to this session.
    /// `None` in `meta` means the driver could not tell: not checked.
    fn admits(&self, meta: &RxMeta<'_>) -> Result<(), DropReason> {
        let interface_ok = match (self.interface.as_deref(), meta.interface) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        };
        let local_ok = match (self.local, meta.destination) {
            (Some(ours), Some(theirs)) => ours == theirs,
            _ => true,
        };
        if meta.source != self.peer
            || meta.multihop != self.is_multihop()
            || !interface_ok
            || !local_ok
        {
            return Err(DropReason::Path);
        }
        let min_ttl = match self.hop {
            Hop::SingleHop => u8::MAX,
            Hop::Multihop { min_ttl } => min_ttl,
        };
        if meta.ttl < min_ttl {
            return Err(DropReason::Ttl);
        }
        Ok(())
    }
}

/// How a received datagram arrived, from the socket's control messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta<'a> {
    /// Source address.
    pub source: IpAddr,
    /// Destination address (IP_PKTINFO), if known.
    pub destination: Option<IpAddr>,
    /// Name of the receiving interface (IP_PKTINFO), if known.
    pub interface: Option<&'a str>,
    /// Received TTL or hop limit.
    pub ttl: u8,
    /// Arrived on the multihop port 4784.
    pub multihop: bool,
}

/// What a client (a BGP peer) needs to know about a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Liveness {
    /// Not up: not yet, or it failed (`diag` says why; tear down BGP with
    /// Cease / BFD Down when coming from Up).
    Down {
        /// bfd.LocalDiag.
        diag: Diagnostic,
    },
    /// Up: the path works.
    Up,
    /// Administratively down, here or at the peer (`by_peer`): not a
    /// failure (RFC 5882 section 3.2), the client keeps its session.
    AdminDown {
        /// The peer sent AdminDown.
        by_peer: bool,
    },
}

impl Liveness {
    /// What a new session reports.
    pub const INITIAL: Self = Self::Down {
        diag: Diagnostic::NoDiagnostic,
    };
}

/// Flap damping parameters; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Damping {
    /// Failures remembered before an Up is held back.
    pub threshold: u32,
    /// How long a failure is remembered.
    pub window: Duration,
    /// The first hold.
    pub initial_hold: Duration,
    /// The longest hold.
    pub max_hold: Duration,
}

impl Damping {
    /// No damping: every Up is reported at once.
    pub const DISABLED: Self = Self {
        threshold: u32::MAX,
        window: Duration::ZERO,
        initial_hold: Duration::ZERO,
        max_hold: Duration::ZERO,
    };

    /// How long to hold an Up after `failures` recent failures.
    pub fn hold(&self, failures: usize) -> Duration {
        let failures = u32::try_from(failures).unwrap_or(u32::MAX);
        if failures < self.threshold {
            return Duration::ZERO;
        }
        let doublings = (failures - self.threshold).min(31);
        self.initial_hold
            .saturating_mul(1 << doublings)
            .min(self.max_hold)
    }
}

impl Default for Damping {
    fn default() -> Self {
        Self {
            threshold: 3,
            window: Duration::from_secs(60),
            initial_hold: Duration::from_secs(1),
            max_hold: Duration::from_secs(30),
        }
    }
}

/// What the driver must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Send `bytes` on the session's socket to its peer.
    Transmit {
        /// The session.
        session: Discriminator,
        /// The UDP payload.
        bytes: Vec<u8>,
    },
    /// A session changed state (for logs; clients follow `Liveness`).
    StateChange {
        /// The session.
        session: Discriminator,
        /// The old state.
        from: State,
        /// The new state.
        to: State,
        /// bfd.LocalDiag.
        diag: Diagnostic,
        /// The peer went AdminDown: not a failure.
        admin_down_by_peer: bool,
    },
    /// A session's liveness, as clients should see it, changed.
    Liveness {
        /// The session.
        session: Discriminator,
        /// The new value.
        liveness: Liveness,
    },
}

/// One session for `show bfd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSnapshot {
    /// The session's key.
    pub key: SessionKey,
    /// Our address, if configured.
    pub local: Option<IpAddr>,
    /// Liveness as reported to clients.
    pub liveness: Liveness,
    /// Failures within the damping window.
    pub recent_failures: usize,
    /// Milliseconds until a held-back Up is reported.
    pub up_held_ms: Option<u64>,
    /// The session itself.
    #[serde(flatten)]
    pub status: SessionStatus,
}

#[derive(Debug)]
struct Entry {
    config: SessionConfig,
    session: Session,
    reported: Liveness,
    failures: VecDeque<Instant>,
    up_held_until: Option<Instant>,
    /// The earliest timer queued for this entry.
    queued: Option<Instant>,
}

impl Entry {
    fn deadline(&self) -> Option<Instant> {
        match (self.session.next_deadline(), self.up_held_until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Every session.
#[derive(Debug)]
pub struct Table {
    sessions: HashMap<Discriminator, Entry>,
    by_peer: HashMap<IpAddr, Vec<Discriminator>>,
    /// Timers, earliest first; stale entries are skipped.
    queue: BinaryHeap<Reverse<(Instant, Discriminator)>>,
    next_discriminator: u32,
    rng: SplitMix64,
    damping: Damping,
    drops: Drops,
    scratch: Vec<session::Output>,
}

impl Table {
    /// An empty table. `seed` feeds discriminators and jitter: random in
    /// the daemon, fixed in tests.
    pub fn new(seed: u64, damping: Damping) -> Self {
        let mut rng = SplitMix64(seed);
        let next_discriminator = rng.next_u32().max(1);
        Self {
            sessions: HashMap::new(),
            by_peer: HashMap::new(),
            queue: BinaryHeap::new(),
            next_discriminator,
            rng,
            damping,
            drops: Drops::default(),
            scratch: Vec::new(),
        }
    }

    /// Creates a session; its first packet is due at `now`.
    pub fn add_session(
        &mut self,
        now: Instant,
        config: SessionConfig,
    ) -> Result<Discriminator, ConfigError> {
        config.validate()?;
        let key = config.key();
        if self.lookup(&key).is_some() {
            return Err(ConfigError::Duplicate(key));
        }
        let local = self.allocate()?;
        let seed = self.rng.next_u64();
        let session = Session::new(now, local, config.timers, config.auth.clone(), seed)?;
        self.by_peer.entry(config.peer).or_default().push(local);
        self.sessions.insert(
            local,
            Entry {
                config,
                session,
                reported: Liveness::INITIAL,
                failures: VecDeque::new(),
                up_held_until: None,
                queued: None,
            },
        );
        self.enqueue(local);
        Ok(local)
    }

    /// Deletes a session, telling the peer AdminDown first (RFC 5880
    /// section 6.8.16) so it does not see a failure.
    pub fn remove_session(
        &mut self,
        now: Instant,
        key: &SessionKey,
        out: &mut Vec<Output>,
    ) -> Result<Discriminator, ConfigError> {
        let local = self
            .lookup(key)
            .ok_or_else(|| ConfigError::NotFound(key.clone()))?;
        if let Some(mut entry) = self.sessions.remove(&local) {
            self.scratch.clear();
            entry
                .session
                .handle(now, session::Input::AdminDown, &mut self.scratch);
            for output in self.scratch.drain(..) {
                if let session::Output::Transmit(bytes) = output {
                    out.push(Output::Transmit {
                        session: local,
                        bytes,
                    });
                }
            }
            if let Some(list) = self.by_peer.get_mut(&entry.config.peer) {
                list.retain(|d| *d != local);
                if list.is_empty() {
                    self.by_peer.remove(&entry.config.peer);
                }
            }
        }
        Ok(local)
    }

    /// Sets or clears AdminDown on a session.
    pub fn set_admin_down(
        &mut self,
        now: Instant,
        key: &SessionKey,
        down: bool,
        out: &mut Vec<Output>,
    ) -> Result<(), ConfigError> {
        let input = if down {
            session::Input::AdminDown
        } else {
            session::Input::AdminUp
        };
        self.run_key(now, key, input, out)
    }

    /// Changes a session's timers (a Poll Sequence if it is Up).
    pub fn set_timers(
        &mut self,
        now: Instant,
        key: &SessionKey,
        timers: Timers,
        out: &mut Vec<Output>,
    ) -> Result<(), ConfigError> {
        timers.validate()?;
        self.run_key(now, key, session::Input::SetTimers(timers), out)
    }

    /// Tells a session its path is down (the interface went down).
    pub fn path_down(
        &mut self,
        now: Instant,
        key: &SessionKey,
        out: &mut Vec<Output>,
    ) -> Result<(), ConfigError> {
        self.run_key(now, key, session::Input::PathDown, out)
    }

    /// A datagram arrived on a BFD port.
    pub fn receive(
        &mut self,
        now: Instant,
        bytes: &[u8],
        meta: &RxMeta<'_>,
        out: &mut Vec<Output>,
    ) {
        let Ok(packet) = ControlPacket::parse(bytes) else {
            self.drops.count(DropReason::Malformed);
            return;
        };
        let found = match Discriminator::new(packet.your_discriminator) {
            Some(yours) => self.sessions.contains_key(&yours).then_some(yours),
            None => self.select_by_path(meta),
        };
        let Some(local) = found else {
            self.drops.count(DropReason::NoSession);
            return;
        };
        let Some(entry) = self.sessions.get_mut(&local) else {
            return;
        };
        if let Err(reason) = entry.config.admits(meta) {
            entry.session.count_drop(reason);
            return;
        }
        let input = session::Input::Received {
            packet: &packet,
            bytes,
        };
        self.run(now, local, input, out);
    }

    /// Runs every timer due at `now`.
    pub fn on_timer(&mut self, now: Instant, out: &mut Vec<Output>) {
        let mut due = Vec::new();
        while let Some(&Reverse((at, local))) = self.queue.peek()
            && at <= now
        {
            self.queue.pop();
            if let Some(entry) = self.sessions.get_mut(&local)
                && entry.queued == Some(at)
            {
                entry.queued = None;
                due.push(local);
            }
        }
        for local in due {
            let Some(entry) = self.sessions.get_mut(&local) else {
                continue;
            };
            if entry.up_held_until.is_some_and(|at| at <= now) {
                entry.up_held_until = None;
                if entry.session.state() == State::Up {
                    report(local, entry, Liveness::Up, out);
                }
            }
            if entry.session.next_deadline().is_some_and(|at| at <= now) {
                self.run(now, local, session::Input::Timer, out);
            } else {
                self.enqueue(local);
            }
        }
    }

    /// When [`on_timer`](Self::on_timer) must run next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    /// Every session, sorted by key, for `show bfd`.
    pub fn snapshot(&self, now: Instant) -> Vec<SessionSnapshot> {
        let mut all: Vec<_> = self
            .sessions
            .values()
            .map(|entry| SessionSnapshot {
                key: entry.config.key(),
                local: entry.config.local,
                liveness: entry.reported,
                recent_failures: entry
                    .failures
                    .iter()
                    .filter(|at| now.saturating_duration_since(**at) < self.damping.window)
                    .count(),
                up_held_ms: entry.up_held_until.map(|at| {
                    u64::try_from(at.saturating_duration_since(now).as_millis()).unwrap_or(u64::MAX)
                }),
                status: entry.session.status(now),
            })
            .collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        all
    }

    /// The session with this key.
    pub fn lookup(&self, key: &SessionKey) -> Option<Discriminator> {
        self.by_peer
            .get(&key.peer())?
            .iter()
            .copied()
            .find(|d| self.sessions.get(d).is_some_and(|e| e.config.key() == *key))
    }

    /// A session by its local discriminator.
    pub fn session(&self, local: Discriminator) -> Option<&Session> {
        self.sessions.get(&local).map(|entry| &entry.session)
    }

    /// A session's configuration.
    pub fn config(&self, local: Discriminator) -> Option<&SessionConfig> {
        self.sessions.get(&local).map(|entry| &entry.config)
    }

    /// A session's liveness as reported.
    pub fn liveness(&self, local: Discriminator) -> Option<Liveness> {
        self.sessions.get(&local).map(|entry| entry.reported)
    }

    /// Packets discarded before a session was found.
    pub fn drops(&self) -> &Drops {
        &self.drops
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are no sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    fn select_by_path(&self, meta: &RxMeta<'_>) -> Option<Discriminator> {
        let candidates = self.by_peer.get(&meta.source)?;
        let config = |d: &Discriminator| self.sessions.get(d).map(|entry| &entry.config);
        let exact = candidates
            .iter()
            .find(|d| config(d).is_some_and(|c| c.selects(meta)));
        // A single-hop session bound to no interface takes packets from its
        // peer on any interface.
        let unbound = || {
            candidates.iter().find(|d| {
                config(d).is_some_and(|c| {
                    !meta.multihop && c.hop == Hop::SingleHop && c.interface.is_none()
                })
            })
        };
        exact.or_else(unbound).copied()
    }

    /// A fresh discriminator: sequential from a random start, skipping zero
    /// and those in use.
    fn allocate(&mut self) -> Result<Discriminator, ConfigError> {
        for _ in 0..=self.sessions.len() {
            let candidate = Discriminator::new(self.next_discriminator);
            self.next_discriminator = self.next_discriminator.wrapping_add(1);
            if let Some(candidate) = candidate
                && !self.sessions.contains_key(&candidate)
            {
                return Ok(candidate);
            }
        }
        Err(ConfigError::Exhausted)
    }

    fn run_key(
        &mut self,
        now: Instant,
        key: &SessionKey,
        input: session::Input<'_>,
        out: &mut Vec<Output>,
    ) -> Result<(), ConfigError> {
        let local = self
            .lookup(key)
            .ok_or_else(|| ConfigError::NotFound(key.clone()))?;
        self.run(now, local, input, out);
        Ok(())
    }

    /// Feeds one input to a session and turns its outputs into ours.
    fn run(
        &mut self,
        now: Instant,
        local: Discriminator,
        input: session::Input<'_>,
        out: &mut Vec<Output>,
    ) {
        let Some(entry) = self.sessions.get_mut(&local) else {
            return;
        };
        self.scratch.clear();
        entry.session.handle(now, input, &mut self.scratch);
        for output in self.scratch.drain(..) {
            match output {
                session::Output::Transmit(bytes) => out.push(Output::Transmit {
                    session: local,
                    bytes,
                }),
                session::Output::StateChange {
                    from,
                    to,
                    diag,
                    admin_down_by_peer,
                } => {
                    out.push(Output::StateChange {
                        session: local,
                        from,
                        to,
                        diag,
                        admin_down_by_peer,
                    });
                    let change = (from, to, diag, admin_down_by_peer);
                    damp(now, local, entry, &self.damping, change, out);
                }
            }
        }
        self.enqueue(local);
    }

    /// Queues the entry's next deadline if it is earlier than what is
    /// queued; a later one is found when the earlier entry fires.
    fn enqueue(&mut self, local: Discriminator) {
        let Some(entry) = self.sessions.get_mut(&local) else {
            return;
        };
        if let Some(at) = entry.deadline()
            && entry.queued.is_none_or(|queued| at < queued)
        {
            entry.queued = Some(at);
            self.queue.push(Reverse((at, local)));
        }
    }
}

/// Turns a state change into the liveness clients see, with flap damping.
fn damp(
    now: Instant,
    local: Discriminator,
    entry: &mut Entry,
    damping: &Damping,
    (from, to, diag, by_peer): (State, State, Diagnostic, bool),
    out: &mut Vec<Output>,
) {
    entry
        .failures
        .retain(|at| now.saturating_duration_since(*at) < damping.window);
    match to {
        State::Up => {
            let hold = damping.hold(entry.failures.len());
            if hold.is_zero() {
                report(local, entry, Liveness::Up, out);
            } else {
                entry.up_held_until = Some(now + hold);
            }
        }
        State::Down => {
            entry.up_held_until = None;
            let administrative = by_peer || diag == Diagnostic::AdministrativelyDown;
            if from == State::Up && !administrative && !damping.window.is_zero() {
                entry.failures.push_back(now);
            }
            let liveness = if by_peer {
                Liveness::AdminDown { by_peer: true }
            } else {
                Liveness::Down { diag }
            };
            report(local, entry, liveness, out);
        }
        State::AdminDown => {
            entry.up_held_until = None;
            report(local, entry, Liveness::AdminDown { by_peer: false }, out);
        }
        State::Init => {}
    }
}

fn report(local: Discriminator, entry: &mut Entry, liveness: Liveness, out: &mut Vec<Output>) {
    if entry.reported != liveness {
        entry.reported = liveness;
        out.push(Output::Liveness {
            session: local,
            liveness,
        });
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
