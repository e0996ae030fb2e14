//! The daemon's configuration file (TOML), and what each part of the daemon
//! is built from it.
//!
//! ```text
//!  hostroute.toml --parse--> RawConfig (serde, spans kept) --check--> AgentConfig
//!                                                                      |
//!     speaker_config() --> speaker::SpeakerConfig   (BGP, BFD, policies)
//!     interface_policies() --> inventory::InterfacePolicy (VM interfaces, pools)
//!     gateway() --> gateway::GatewayConfig   fib_config() --> fib::FibConfig
//!     mobility, detection, control_socket, pinned(), is_pinned()
//!     settings() --> daemon::run::Settings (all of the above)
//!
//!  SIGHUP: parse the file again, reload_plan(old, new) --> ReloadPlan
//! ```
//!
//! Every error names the file, line, column and key, and says what is
//! wrong: `/etc/hostroute.toml:12:3: peer[1].bfd.interval_ms: 5 is below
//! the minimum of 10 ms`. Unknown keys are errors, never ignored.
//! `agent/hostroute.example.toml` explains every key.

mod check;
mod error;
mod peer;
mod raw;
mod reload;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use speaker::config::{NeighborConfig, SpeakerConfig};
use speaker::liveness::BfdNeighbor;
use speaker::policy::{ExportPolicy, ImportPolicy, MaxPrefix, PeerPolicy};
use toml::de::DeTable;

pub use error::{ConfigError, Diagnostic};
pub use reload::{ReloadPlan, reload_plan};

use crate::daemon::run::Settings;
use crate::detect::InterfaceMatcher;
use crate::fib::{FibConfig, RouteParams};
use crate::gateway::GatewayConfig;
use crate::inventory::InterfacePolicy;
pub use crate::mobility::MobilityConfig;

/// Values a key takes when the file leaves it out.
pub mod defaults {
    use std::net::SocketAddr;

    pub const CONTROL_SOCKET: &str = "/run/hostroute/hostroute.sock";
    /// Seconds; also the FIB's stale-route window after a restart.
    pub const GRACEFUL_RESTART: u16 = 120;
    pub const PORT: u16 = 179;
    /// RFC 4271's suggested hold time; BFD is the fast failure detector.
    pub const HOLD_TIME: u16 = 90;
    pub const BFD_INTERVAL_MS: u32 = 300;
    pub const BFD_MULTIPLIER: u8 = 3;
    /// A multihop BFD peer may be one router away (RFC 5883 leaves the
    /// check to configuration).
    pub const BFD_MIN_TTL: u8 = 254;

    /// Both families on port 179.
    pub fn listen() -> Vec<SocketAddr> {
        vec![
            SocketAddr::from(([0, 0, 0, 0], PORT)),
            SocketAddr::from(([0u16; 8], PORT)),
        ]
    }
}

/// The keys outside any table.
const TOP_LEVEL_KEYS: [&str; 5] = [
    "router_id",
    "asn",
    "listen",
    "control_socket",
    "graceful_restart",
];

/// The whole configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    /// Where to accept BGP connections; empty: do not listen.
    pub listen: Vec<SocketAddr>,
    pub control_socket: PathBuf,
    /// Graceful-restart time in seconds (0: off), sent to peers and used
    /// as the FIB's stale-route window.
    pub graceful_restart: u16,
    /// `None` without a `[gateway]` table: VM interfaces are not made
    /// anycast gateway ports.
    pub gateway: Option<GatewayConfig>,
    /// Table, protocol number and metric of our kernel routes.
    pub fib: RouteParams,
    pub mobility: MobilityConfig,
    pub detection: DetectionConfig,
    pub interfaces: Vec<InterfaceConfig>,
    pub peers: Vec<PeerConfig>,
}

/// The optional detectors. Link events and hooks are always on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DetectionConfig {
    /// Kernel ARP / ND neighbour entries.
    pub neighbours: bool,
    /// RARP, gratuitous ARP and unsolicited NA captured on VM interfaces.
    pub announcements: bool,
}

impl Default for DetectionConfig {
    fn default() -> Self {
        Self {
            neighbours: true,
            announcements: true,
        }
    }
}

/// One `[[interfaces]]` table: which interfaces face VMs and what they may
/// carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceConfig {
    pub matcher: InterfaceMatcher,
    /// Disjoint; network addresses only.
    pub pools: Vec<IpNet>,
    /// Addresses (host prefixes) and prefixes that never move (the
    /// static mobility flag).
    pub pinned: Vec<IpNet>,
}

/// One `[[peer]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub asn: u32,
    /// RFC 2385 TCP-MD5.
    pub password: Option<String>,
    pub local_address: Option<IpAddr>,
    /// Bind the session to this interface (SO_BINDTODEVICE).
    pub interface: Option<String>,
    pub port: u16,
    pub hold_time: u16,
    /// `None`: a third of the hold time.
    pub keepalive: Option<u16>,
    pub passive: bool,
    pub ttl_security_hops: Option<u8>,
    pub next_hop_v4: Option<Ipv4Addr>,
    pub next_hop_v6: Option<Ipv6Addr>,
    /// Also send routes learned from other peers, not only our VMs'.
    pub export_learned: bool,
    /// Host routes accepted from this peer must lie in one of these
    /// (default: every interface pool).
    pub import_pools: Vec<IpNet>,
    pub max_prefix: Option<u32>,
    pub route_reflector_client: bool,
    pub bfd: Option<BfdConfig>,
}

/// `[peer.bfd]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// Transmit and receive interval, milliseconds.
    pub interval_ms: u32,
    pub multiplier: u8,
    /// `Some(min_ttl)`: multihop (RFC 5883); `None`: single hop.
    pub multihop_min_ttl: Option<u8>,
    /// BGP waits for BFD Up before Established.
    pub required: bool,
}

/// Reads and checks the configuration file at `path`.
pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        file: path.to_path_buf(),
        error,
    })?;
    parse(&text, path)
}

/// Checks configuration `text`; `file` names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<AgentConfig, ConfigError> {
    let invalid = |span: &Range<usize>, key: Option<String>, message: String| {
        let (line, column) = error::line_column(text, span.start);
        ConfigError::Invalid(Box::new(Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            key,
            message,
        }))
    };
    let (doc, syntax) = DeTable::parse_recoverable(text);
    let nodes = error::Nodes::new(doc.get_ref(), text);
    // The parser goes on after an error, and later errors can follow from
    // the first: report the earliest.
    if let Some(e) = syntax
        .iter()
        .min_by_key(|e| e.span().map_or(usize::MAX, |s| s.start))
    {
        let span = e.span().unwrap_or(0..0);
        let (key, message) = error::describe(e.message(), &span, &nodes, text);
        return Err(invalid(&span, key, message));
    }
    let raw: raw::RawConfig = toml::from_str(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let (key, mut message) = error::describe(e.message(), &span, &nodes, text);
        // `listen = ...` written below `[[interfaces]]` belongs to that table.
        if let Some((_, last)) = key.as_deref().and_then(|k| k.rsplit_once('.'))
            && TOP_LEVEL_KEYS.contains(&last)
            && message.ends_with(')')
        {
            message.pop();
            message.push_str("; top-level keys go above the first [table])");
        }
        invalid(&span, key, message)
    })?;
    check::check(raw, text).map_err(|p| invalid(&p.span, Some(p.key), p.message))
}

impl AgentConfig {
    /// Every interface pool once, in the order written.
    pub fn pools(&self) -> Vec<IpNet> {
        check::union_of_pools(&self.interfaces)
    }

    /// The speaker and one neighbour per peer.
    pub fn speaker_config(&self) -> SpeakerConfig {
        SpeakerConfig {
            router_id: self.router_id,
            asn: self.asn,
            listen: self.listen.clone(),
            neighbors: self.peers.iter().map(|p| self.neighbor(p)).collect(),
            // Set by the daemon when it finds it is restarting.
            defer_end_of_rib: false,
        }
    }

    /// The speaker's view of one peer. Import: host routes inside the
    /// peer's `import_pools`. Export: our VMs' routes, and learned ones
    /// when `export_learned`, inside the interface pools and the peer's
    /// import pools. Policies are always set, so eBGP peers exchange routes
    /// (RFC 8212 refuses everything to a peer without them).
    pub fn neighbor(&self, peer: &PeerConfig) -> NeighborConfig {
        let mut export_pools = self.pools();
        for pool in &peer.import_pools {
            if !export_pools.contains(pool) {
                export_pools.push(*pool);
            }
        }
        let mut n = NeighborConfig::new(peer.address, peer.asn);
        n.port = peer.port;
        n.local_address = peer.local_address;
        n.interface = peer.interface.clone();
        n.password = peer.password.clone();
        n.ttl_security_hops = peer.ttl_security_hops;
        n.hold_time = peer.hold_time;
        n.keepalive = peer.keepalive;
        n.passive = peer.passive;
        n.graceful_restart = (self.graceful_restart > 0).then_some(self.graceful_restart);
        n.bfd = peer.bfd.map(|b| BfdNeighbor {
            interval_ms: b.interval_ms,
            multiplier: b.multiplier,
            multihop_min_ttl: b.multihop_min_ttl,
        });
        n.require_bfd = peer.bfd.is_some_and(|b| b.required);
        n.next_hop_v4 = peer.next_hop_v4;
        n.next_hop_v6 = peer.next_hop_v6;
        n.policy = PeerPolicy {
            import: Some(ImportPolicy::pools(peer.import_pools.iter().copied())),
            export: Some(ExportPolicy {
                pools: export_pools,
                local: true,
                learned: peer.export_learned,
                ..ExportPolicy::default()
            }),
            max_prefix: peer.max_prefix.map(|limit| MaxPrefix {
                limit,
                ..MaxPrefix::default()
            }),
            rr_client: peer.route_reflector_client,
        };
        n
    }

    /// The inventory's pools per interface matcher.
    pub fn interface_policies(&self) -> Vec<InterfacePolicy> {
        self.interfaces
            .iter()
            .map(|i| InterfacePolicy {
                matcher: i.matcher.clone(),
                pools: i.pools.clone(),
            })
            .collect()
    }

    /// All interface patterns in one matcher, for the detectors.
    pub fn interface_matcher(&self) -> InterfaceMatcher {
        let patterns: Vec<String> = self
            .interfaces
            .iter()
            .flat_map(|i| i.matcher.patterns().iter().cloned())
            .collect();
        // Every pattern passed the same check when the file was read.
        InterfaceMatcher::new(patterns).unwrap_or_default()
    }

    pub fn gateway(&self) -> Option<GatewayConfig> {
        self.gateway.clone()
    }

    /// The FIB service's settings: our table, protocol and metric, and the
    /// graceful-restart time as the stale-route window.
    pub fn fib_config(&self) -> FibConfig {
        let mut config = FibConfig::with_params(self.fib);
        config.graceful_restart = Duration::from_secs(self.graceful_restart.into());
        config
    }

    /// Whether `address` is pinned (never moves) on some interface.
    pub fn is_pinned(&self, address: IpAddr) -> bool {
        self.pinned().iter().any(|p| p.contains(&address))
    }

    /// Every pinned address or prefix.
    pub fn pinned(&self) -> Vec<IpNet> {
        self.interfaces
            .iter()
            .flat_map(|i| i.pinned.iter().copied())
            .collect()
    }

    /// Everything [`crate::daemon::run::start`] needs.
    pub fn settings(&self) -> Settings {
        Settings {
            speaker: self.speaker_config(),
            fib: self.fib_config(),
            gateway: self.gateway(),
            policies: self.interface_policies(),
            mobility: self.mobility,
            pinned: self.pinned(),
            detect_neighbours: self.detection.neighbours,
            detect_announcements: self.detection.announcements,
            control_socket: self.control_socket.clone(),
        }
    }
}
