//! BFD: RFC 5880 asynchronous mode over RFC 5881 single-hop and RFC 5883
//! multihop UDP, so that a dead peer's routes go in tens of milliseconds.
//!
//! Three layers, the first two sans-IO (no clock, no socket, deterministic
//! in tests):
//!
//! - [`session::Session`]: one session's state machine, timers, Poll
//!   Sequence and authentication. `handle(now, Input, &mut out)` and
//!   `next_deadline()`.
//! - [`table::Table`]: every session, keyed by discriminator and by path;
//!   demultiplexes received packets (RFC 5881 section 3, RFC 5883 section
//!   4), checks TTLs, allocates discriminators, damps flap storms, and
//!   reports each session's [`Liveness`](table::Liveness).
//! - [`driver`]: a dedicated OS thread (SCHED_FIFO when allowed, see
//!   [`priority`]) running a current-thread tokio runtime that owns the
//!   table and the UDP sockets, so millisecond timers never wait behind RIB
//!   work; on each wake-up it reads every queued datagram before it runs
//!   the timers. [`BfdHandle`](driver::BfdHandle) talks to
//!   it; each session's liveness is published on a `tokio::sync::watch`.
//!
//! ```text
//!  BGP peers / agent                         BFD thread (current-thread runtime)
//!  ------------------                        -----------------------------------
//!  BfdHandle::add_session ----Command----->  +-------------------------------+
//!  BfdHandle::set_admin_down   (mpsc)        | driver loop                   |
//!  BfdHandle::snapshot   <----oneshot-----   |   Table --- Session x N       |
//!                                            |   sleep_until(next_deadline)  |
//!  watch::Receiver<Liveness> <--watch------  |   recvmsg all queued, timers  |
//!  (one per session: Up / Down / AdminDown)  +--+-----------+---------------++
//!                                               |           |               |
//!                                  UDP 3784 v4/v6   UDP 4784 v4/v6   one TX socket per session
//!                                  (single-hop)     (multihop)       (port 49152-65535, TTL 255)
//! ```
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

mod config;
#[cfg(target_os = "linux")]
pub mod driver;
pub mod gaps;
#[cfg(target_os = "linux")]
pub mod priority;
pub mod session;
#[cfg(target_os = "linux")]
mod sockets;
pub mod table;

#[cfg(target_os = "linux")]
pub use driver::{
    BfdHandle, DEFAULT_REALTIME_PRIORITY, DEFAULT_THREAD_NICE, DriverConfig, DriverError,
};
pub use gaps::GapHistogram;
pub use session::{AuthConfig, Input, Output, Session, SessionStatus, Timers};
pub use table::{
    Damping, Hop, Liveness, RxMeta, SessionConfig, SessionKey, SessionSnapshot, Table,
};

/// UDP port of single-hop Control packets, RFC 5881 section 4.
pub const SINGLE_HOP_PORT: u16 = 3784;

/// UDP port of multihop Control packets, RFC 5883 section 5.
pub const MULTIHOP_PORT: u16 = 4784;

/// Source ports of Control packets, RFC 5881 section 4.
pub const SOURCE_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// A configuration the session or table cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An interval outside [`session::MIN_INTERVAL`] to
    /// [`session::MAX_INTERVAL`].
    #[error("BFD {name} of {value:?} is out of range: use 10 ms to 4294 s")]
    Interval {
        /// Which interval.
        name: &'static str,
        /// The value given.
        value: Duration,
    },
    /// DetectMult 0.
    #[error("BFD detect multiplier must be 1 to 255, not 0")]
    ZeroDetectMult,
    /// An authentication type without a definition (0, 6 to 255).
    #[error("BFD authentication type {0} is not supported: use 1 to 5")]
    AuthType(u8),
    /// A key that does not fit the authentication type.
    #[error("BFD authentication key of {len} bytes: this type takes 1 to {max}")]
    KeyLength {
        /// The key's length.
        len: usize,
        /// The longest allowed.
        max: usize,
    },
    /// A multihop session needs its local address (RFC 5883 section 4).
    #[error("multihop BFD session to {peer} needs a local address")]
    MultihopNeedsLocal {
        /// The peer.
        peer: IpAddr,
    },
    /// Local and peer addresses of different families.
    #[error("BFD local address {local} and peer {peer} are of different families")]
    AddressFamily {
        /// The local address.
        local: IpAddr,
        /// The peer.
        peer: IpAddr,
    },
    /// A session with the same key exists.
    #[error("a BFD session {0} already exists")]
    Duplicate(SessionKey),
    /// No session with this key.
    #[error("no BFD session {0}")]
    NotFound(SessionKey),
    /// Every discriminator is taken.
    #[error("no free BFD discriminator")]
    Exhausted,
}

/// Why a received packet was discarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// The receive checks of `ControlPacket::parse` failed (RFC 5880
    /// section 6.8.6: version, length, DetectMult, M bit, discriminators).
    Malformed,
    /// No session for Your Discriminator, or for the path when it is zero.
    NoSession,
    /// Single-hop with a TTL or hop limit other than 255 (RFC 5881
    /// section 5), or multihop below the session's minimum.
    Ttl,
    /// The session was found by discriminator but the packet came from
    /// another address, port or interface.
    Path,
    /// Your Discriminator is not the session's.
    Discriminator,
    /// The A bit or the authentication type does not match the session.
    AuthPolicy,
    /// An Auth Key ID the session does not have.
    AuthKeyId,
    /// Wrong password, digest or hash.
    AuthDigest,
    /// A sequence number outside the window: a replay, or too far ahead.
    AuthSequence,
}

/// Discarded packets, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drops {
    /// See [`DropReason::Malformed`].
    pub malformed: u64,
    /// See [`DropReason::NoSession`].
    pub no_session: u64,
    /// See [`DropReason::Ttl`].
    pub ttl: u64,
    /// See [`DropReason::Path`].
    pub path: u64,
    /// See [`DropReason::Discriminator`].
    pub discriminator: u64,
    /// See [`DropReason::AuthPolicy`].
    pub auth_policy: u64,
    /// See [`DropReason::AuthKeyId`].
    pub auth_key_id: u64,
    /// See [`DropReason::AuthDigest`].
    pub auth_digest: u64,
    /// See [`DropReason::AuthSequence`].
    pub auth_sequence: u64,
}

impl Drops {
    /// Counts one packet discarded for `reason`.
    pub fn count(&mut self, reason: DropReason) {
        let counter = match reason {
            DropReason::Malformed => &mut self.malformed,
            DropReason::NoSession => &mut self.no_session,
            DropReason::Ttl => &mut self.ttl,
            DropReason::Path => &mut self.path,
            DropReason::Discriminator => &mut self.discriminator,
            DropReason::AuthPolicy => &mut self.auth_policy,
            DropReason::AuthKeyId => &mut self.auth_key_id,
            DropReason::AuthDigest => &mut self.auth_digest,
            DropReason::AuthSequence => &mut self.auth_sequence,
        };
        *counter += 1;
    }

    /// All packets discarded.
    pub fn total(&self) -> u64 {
        [
            self.malformed,
            self.no_session,
            self.ttl,
            self.path,
            self.discriminator,
            self.auth_policy,
            self.auth_key_id,
            self.auth_digest,
            self.auth_sequence,
        ]
        .iter()
        .sum()
    }
}

/// The caller's seed stretched into a stream: SplitMix64, small and good
/// enough for timer jitter and discriminators (not for keys).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(pub(crate) u64);

impl SplitMix64 {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        // The high half is the better half.
        (self.next_u64() >> 32) as u32
    }
}
