//! Configuration of BFD sessions: timers, authentication, addresses.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use proto::bfd::AuthType;
use serde::{Deserialize, Serialize};

use super::{ConfigError, MULTIHOP_PORT, SINGLE_HOP_PORT};

/// The shortest interval accepted in [`Timers`].
pub const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// The longest interval the 32-bit microsecond fields can carry.
pub const MAX_INTERVAL: Duration = Duration::from_micros(u32::MAX as u64);

/// The session's timer parameters (bfd.DesiredMinTxInterval,
/// bfd.RequiredMinRxInterval, bfd.DetectMult).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timers {
    /// How often we would like to send, at best.
    pub desired_min_tx: Duration,
    /// How often we can take packets from the peer, at most.
    pub required_min_rx: Duration,
    /// Packets the peer may miss before we declare it down.
    pub detect_mult: u8,
}

impl Timers {
    /// Both intervals set to `interval`, with `detect_mult`.
    pub const fn symmetric(interval: Duration, detect_mult: u8) -> Self {
        Self {
            desired_min_tx: interval,
            required_min_rx: interval,
            detect_mult,
        }
    }

    /// Checks the ranges: intervals from [`MIN_INTERVAL`] to
    /// [`MAX_INTERVAL`], DetectMult not zero.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, value) in [
            ("desired_min_tx", self.desired_min_tx),
            ("required_min_rx", self.required_min_rx),
        ] {
            if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&value) {
                return Err(ConfigError::Interval { name, value });
            }
        }
        if self.detect_mult == 0 {
            return Err(ConfigError::ZeroDetectMult);
        }
        Ok(())
    }
}

impl Default for Timers {
    /// 300 ms x 3, the range the design targets for WAN peers.
    fn default() -> Self {
        Self::symmetric(Duration::from_millis(300), 3)
    }
}

/// Authentication of a session (RFC 5880 section 6.7): one key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    /// Simple password, keyed or meticulous keyed MD5 or SHA1.
    pub kind: AuthType,
    /// Auth Key ID sent, and the only one accepted.
    pub key_id: u8,
    /// The password, or the MD5 / SHA1 key.
    pub key: Vec<u8>,
}

/// Keeps the secret out of logs.
impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthConfig")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("key", &format_args!("<{} bytes>", self.key.len()))
            .finish()
    }
}

impl AuthConfig {
    /// Checks the type and the key length: 1 to 16 bytes for a password or
    /// an MD5 key, 1 to 20 for a SHA1 key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let max = match self.kind {
            AuthType::SimplePassword | AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => 16,
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => 20,
            AuthType::Other(code) => return Err(ConfigError::AuthType(code)),
        };
        if self.key.is_empty() || self.key.len() > max {
            return Err(ConfigError::KeyLength {
                len: self.key.len(),
                max,
            });
        }
        Ok(())
    }

    /// Meticulous types increment the sequence number on every packet.
    pub(super) fn meticulous(&self) -> bool {
        matches!(
            self.kind,
            AuthType::MeticulousKeyedMd5 | AuthType::MeticulousKeyedSha1
        )
    }
}

/// Single-hop or multihop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hop {
    /// RFC 5881: directly connected, TTL 255, UDP 3784.
    SingleHop,
    /// RFC 5883: across routers, UDP 4784, received TTL at least `min_ttl`.
    Multihop {
        /// Lowest TTL accepted.
        min_ttl: u8,
    },
}

/// What a session is created from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// The peer's address.
    pub peer: IpAddr,
    /// Our address: the source of our packets; required for multihop.
    pub local: Option<IpAddr>,
    /// The interface to send and receive on (single-hop; SO_BINDTODEVICE).
    pub interface: Option<String>,
    /// Single-hop or multihop.
    pub hop: Hop,
    /// Timer parameters.
    pub timers: Timers,
    /// Authentication, if any.
    pub auth: Option<AuthConfig>,
}

impl SessionConfig {
    /// A single-hop session to `peer` with the default timers.
    pub fn single_hop(peer: IpAddr) -> Self {
        Self {
            peer,
            local: None,
            interface: None,
            hop: Hop::SingleHop,
            timers: Timers::default(),
            auth: None,
        }
    }

    /// A multihop session from `local` to `peer`, accepting TTLs from
    /// `min_ttl`.
    pub fn multihop(local: IpAddr, peer: IpAddr, min_ttl: u8) -> Self {
        Self {
            local: Some(local),
            hop: Hop::Multihop { min_ttl },
            ..Self::single_hop(peer)
        }
    }

    /// The key that identifies the session.
    pub fn key(&self) -> SessionKey {
        match (self.hop, self.local) {
            (Hop::Multihop { .. }, Some(local)) => SessionKey::Multihop {
                peer: self.peer,
                local,
            },
            _ => SessionKey::SingleHop {
                peer: self.peer,
                interface: self.interface.clone(),
            },
        }
    }

    /// Whether this is a multihop session.
    pub fn is_multihop(&self) -> bool {
        matches!(self.hop, Hop::Multihop { .. })
    }

    /// The destination UDP port of our packets.
    pub fn port(&self) -> u16 {
        match self.hop {
            Hop::SingleHop => SINGLE_HOP_PORT,
            Hop::Multihop { .. } => MULTIHOP_PORT,
        }
    }

    /// Checks timers, authentication and addresses.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.timers.validate()?;
        if let Some(auth) = &self.auth {
            auth.validate()?;
        }
        if let Some(local) = self.local
            && local.is_ipv4() != self.peer.is_ipv4()
        {
            return Err(ConfigError::AddressFamily {
                local,
                peer: self.peer,
            });
        }
        if self.is_multihop() && self.local.is_none() {
            return Err(ConfigError::MultihopNeedsLocal { peer: self.peer });
        }
        Ok(())
    }
}

/// Identifies a session: one per (interface, peer) single-hop (RFC 5881
/// section 3), one per (local, peer) multihop (RFC 5883 section 4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKey {
    /// RFC 5881.
    SingleHop {
        /// The peer.
        peer: IpAddr,
        /// The interface, if bound to one.
        interface: Option<String>,
    },
    /// RFC 5883.
    Multihop {
        /// The peer.
        peer: IpAddr,
        /// Our address.
        local: IpAddr,
    },
}

impl SessionKey {
    /// The peer's address.
    pub fn peer(&self) -> IpAddr {
        match self {
            Self::SingleHop { peer, .. } | Self::Multihop { peer, .. } => *peer,
        }
    }
}

impl fmt::Display for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SingleHop {
                peer,
                interface: Some(interface),
            } => write!(f, "single-hop {peer} on {interface}"),
            Self::SingleHop {
                peer,
                interface: None,
            } => write!(f, "single-hop {peer}"),
            Self::Multihop { peer, local } => write!(f, "multihop {local} -> {peer}"),
        }
    }
}
