//! What the daemon configures: this speaker and its neighbours.
//!
//! Plain data with serde, so the agent can build it from its TOML file
//! (which names the file, line and key of any error) and tests can write it
//! inline. [`NeighborConfig::session`] turns a neighbour into the FSM's
//! [`SessionConfig`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use proto::bgp::{AddPathMode, AfiSafi, Capability, GracefulRestartFamily, HoldTime};
use serde::{Deserialize, Serialize};

use crate::bgp::{ConnectRetry, GracefulRestartConfig, SessionConfig};
use crate::policy::PeerPolicy;

/// The speaker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeakerConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    /// Where to accept BGP connections; empty means do not listen.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    #[serde(default)]
    pub neighbors: Vec<NeighborConfig>,
    /// Hold End-of-RIB back from every session until
    /// [`crate::SpeakerHandle::release_end_of_rib`] (a restart: the daemon
    /// is still finding its local routes).
    #[serde(default)]
    pub defer_end_of_rib: bool,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![
        SocketAddr::from(([0, 0, 0, 0], 179)),
        SocketAddr::from(([0u16; 8], 179)),
    ]
}

/// One BGP neighbour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NeighborConfig {
    pub address: IpAddr,
    pub remote_as: u32,
    /// TCP port of the peer (179; other ports only for labs).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Source address of outgoing connections.
    #[serde(default)]
    pub local_address: Option<IpAddr>,
    /// Bind outgoing connections to this interface (SO_BINDTODEVICE).
    #[serde(default)]
    pub interface: Option<String>,
    /// RFC 2385 TCP-MD5 password.
    #[serde(default)]
    pub password: Option<String>,
    /// RFC 5082 GTSM: accept only packets at most this many hops away.
    #[serde(default)]
    pub ttl_security_hops: Option<u8>,
    #[serde(default = "default_hold")]
    pub hold_time: u16,
    /// Keepalive interval in seconds (default: a third of the hold time).
    #[serde(default)]
    pub keepalive: Option<u16>,
    /// First connect-retry interval in seconds; it backs off to 120 s.
    #[serde(default = "default_connect_retry")]
    pub connect_retry: u16,
    /// Never initiate; wait for the peer to connect.
    #[serde(default)]
    pub passive: bool,
    /// RFC 4724 restart time in seconds; `None` disables graceful restart.
    #[serde(default)]
    pub graceful_restart: Option<u16>,
    /// Set when this speaker restarted with its forwarding state intact.
    #[serde(default)]
    pub restarting: bool,
    /// BFD for this neighbour: Down closes the session with Cease / BFD
    /// Down (RFC 9384) and withdraws its routes at once.
    #[serde(default)]
    pub bfd: Option<crate::liveness::BfdNeighbor>,
    /// Do not reach Established before BFD is Up.
    #[serde(default)]
    pub require_bfd: bool,
    /// Next hop to send for IPv6 routes over an IPv4 session (and the
    /// reverse), when the session's own address cannot serve.
    #[serde(default)]
    pub next_hop_v4: Option<Ipv4Addr>,
    #[serde(default)]
    pub next_hop_v6: Option<Ipv6Addr>,
    #[serde(default)]
    pub policy: PeerPolicy,
    /// Advertise ADD-PATH receive (RFC 7911) for IPv4 and IPv6 unicast, so
    /// a route reflector configured to send several paths sends every
    /// location of a moved VM, not only the one its own decision (which
    /// knows nothing of mobility sequences) prefers. On by default, as in
    /// FRR; a peer sends path identifiers only if configured to.
    #[serde(default = "default_true")]
    pub add_path_receive: bool,
}

fn default_true() -> bool {
    true
}

fn default_port() -> u16 {
    179
}
fn default_hold() -> u16 {
    90
}
fn default_connect_retry() -> u16 {
    5
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("neighbor {neighbor}: hold_time {value} must be 0 or at least 3")]
    HoldTime { neighbor: IpAddr, value: u16 },
    #[error("neighbor {neighbor}: keepalive {value} must be at least 1 and below hold_time")]
    Keepalive { neighbor: IpAddr, value: u16 },
    #[error("neighbor {neighbor} is configured twice")]
    Duplicate { neighbor: IpAddr },
    #[error("neighbor {neighbor}: password longer than 80 bytes")]
    Password { neighbor: IpAddr },
    #[error("neighbor {neighbor}: ttl_security_hops must be 1 or more (1: directly connected)")]
    TtlSecurityHops { neighbor: IpAddr },
    #[error("router_id 0.0.0.0 is not a valid BGP identifier")]
    RouterId,
    #[error("asn 0 is reserved (RFC 7607)")]
    Asn,
}

impl SpeakerConfig {
    /// A speaker with no neighbours that listens on port 179.
    pub fn new(router_id: Ipv4Addr, asn: u32) -> Self {
        Self {
            router_id,
            asn,
            listen: default_listen(),
            neighbors: Vec::new(),
            defer_end_of_rib: false,
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.router_id.is_unspecified() {
            return Err(ConfigError::RouterId);
        }
        if self.asn == 0 {
            return Err(ConfigError::Asn);
        }
        validate_neighbors(&self.neighbors)
    }
}

/// Checks each neighbour, and that no address is configured twice.
pub fn validate_neighbors(neighbors: &[NeighborConfig]) -> Result<(), ConfigError> {
    for (i, n) in neighbors.iter().enumerate() {
        n.validate()?;
        if neighbors.iter().take(i).any(|m| m.address == n.address) {
            return Err(ConfigError::Duplicate {
                neighbor: n.address,
            });
        }
    }
    Ok(())
}

impl NeighborConfig {
    /// A neighbour with defaults: hold 90 s, port 179, active, no policy.
    pub fn new(address: IpAddr, remote_as: u32) -> Self {
        Self {
            address,
            remote_as,
            port: default_port(),
            local_address: None,
            interface: None,
            password: None,
            ttl_security_hops: None,
            hold_time: default_hold(),
            keepalive: None,
            connect_retry: default_connect_retry(),
            passive: false,
            graceful_restart: None,
            restarting: false,
            bfd: None,
            require_bfd: false,
            next_hop_v4: None,
            next_hop_v6: None,
            policy: PeerPolicy::default(),
            add_path_receive: true,
        }
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let neighbor = self.address;
        HoldTime::new(self.hold_time).map_err(|_| ConfigError::HoldTime {
            neighbor,
            value: self.hold_time,
        })?;
        if let Some(k) = self.keepalive
            && (k == 0 || (self.hold_time != 0 && k >= self.hold_time))
        {
            return Err(ConfigError::Keepalive { neighbor, value: k });
        }
        if self.password.as_ref().is_some_and(|p| p.len() > 80) {
            return Err(ConfigError::Password { neighbor });
        }
        if self.ttl_security_hops == Some(0) {
            return Err(ConfigError::TtlSecurityHops { neighbor });
        }
        Ok(())
    }

    /// The FSM's session attributes for this neighbour.
    pub fn session(&self, local_as: u32, router_id: Ipv4Addr) -> SessionConfig {
        let mut s = SessionConfig::new(local_as, self.remote_as, router_id);
        s.hold_time = HoldTime::new(self.hold_time).unwrap_or(HoldTime::DEFAULT);
        s.keepalive = self.keepalive.map(|k| Duration::from_secs(k.into()));
        let initial = Duration::from_secs(self.connect_retry.max(1).into());
        s.connect_retry = ConnectRetry {
            initial,
            max: initial.max(Duration::from_secs(120)),
        };
        s.passive = self.passive;
        s.require_liveness = self.require_bfd;
        if self.address.is_ipv6() {
            s.capabilities.push(Capability::ExtendedNextHop(vec![(
                AfiSafi::IPV4_UNICAST,
                proto::bgp::Afi::Ipv6,
            )]));
        }
        if self.add_path_receive {
            s.capabilities.push(Capability::AddPath(vec![
                (AfiSafi::IPV4_UNICAST, AddPathMode::Receive),
                (AfiSafi::IPV6_UNICAST, AddPathMode::Receive),
            ]));
        }
        s.graceful_restart = self
            .graceful_restart
            .map(|restart_time| GracefulRestartConfig {
                restart_time,
                restarting: self.restarting,
                notification: true,
                families: vec![
                    GracefulRestartFamily::new(AfiSafi::IPV4_UNICAST, true),
                    GracefulRestartFamily::new(AfiSafi::IPV6_UNICAST, true),
                ],
            });
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let mut cfg = SpeakerConfig::new(Ipv4Addr::new(192, 0, 2, 1), 65001);
        cfg.neighbors
            .push(NeighborConfig::new("192.0.2.2".parse().unwrap(), 65002));
        assert_eq!(cfg.validate(), Ok(()));
        cfg.neighbors
            .push(NeighborConfig::new("192.0.2.2".parse().unwrap(), 65003));
        assert!(matches!(cfg.validate(), Err(ConfigError::Duplicate { .. })));
        let mut n = NeighborConfig::new("192.0.2.2".parse().unwrap(), 65002);
        n.hold_time = 2;
        assert!(matches!(
            n.validate(),
            Err(ConfigError::HoldTime { value: 2, .. })
        ));
        n.hold_time = 3;
        n.keepalive = Some(3);
        assert!(matches!(
            n.validate(),
            Err(ConfigError::Keepalive { value: 3, .. })
        ));
        n.keepalive = None;
        n.ttl_security_hops = Some(0);
        assert!(matches!(
            n.validate(),
            Err(ConfigError::TtlSecurityHops { .. })
        ));
        assert_eq!(
            SpeakerConfig::new(Ipv4Addr::UNSPECIFIED, 1).validate(),
            Err(ConfigError::RouterId)
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let json = r#"{"router_id":"192.0.2.1","asn":65001,"bogus":1}"#;
        let e = serde_json::from_str::<SpeakerConfig>(json).unwrap_err();
        assert!(e.to_string().contains("bogus"), "{e}");
    }

    #[test]
    fn session_carries_the_neighbor_settings() {
        let mut n = NeighborConfig::new("2001:db8::2".parse().unwrap(), 65002);
        n.hold_time = 3;
        n.keepalive = Some(1);
        n.graceful_restart = Some(120);
        n.require_bfd = true;
        let s = n.session(65001, Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(s.hold_time.seconds(), 3);
        assert_eq!(s.keepalive, Some(Duration::from_secs(1)));
        assert!(s.require_liveness);
        assert!(s.local_open().has_capability(64));
        assert!(
            s.local_open().has_capability(5),
            "extended next hop over IPv6"
        );
        assert!(s.local_open().has_capability(69), "ADD-PATH receive");
        n.add_path_receive = false;
        let s = n.session(65001, Ipv4Addr::new(192, 0, 2, 1));
        assert!(!s.local_open().has_capability(69));
    }
}
