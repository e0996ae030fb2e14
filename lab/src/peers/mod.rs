//! Real BGP peers (BIRD 2, FRR, GoBGP, ExaBGP) started inside a [`Netns`]
//! from one small configuration type, and queried in one shape.
//!
//! ```text
//!   PeerConfig ──render──> bird.conf | bgpd.conf+bfdd.conf | gobgpd.toml | exabgp.conf
//!        │                         (files in the run directory)
//!        └──start(&Netns)──> Bird | Frr | Gobgp | Exabgp   (each owns its Child guards)
//!                                 │
//!             impl Peer: established(), routes(), announce(), withdraw()
//!                        birdc / vtysh json / gobgp -j / ExaBGP's JSON log
//! ```
//!
//! Semantics shared by every launcher:
//! - `import` and `export` are pools: only host routes (/32, /128) inside
//!   them pass; an empty list passes nothing (RFC 8212 style).
//! - `originate` routes are announced from start; [`Peer::announce`] and
//!   [`Peer::withdraw`] change them at runtime.
//! - [`Peer::routes`] lists routes learned from neighbors (all paths, with
//!   `best` set on the selected one), never the peer's own.
//! - A feature a daemon lacks is refused with [`Error::Unsupported`] before
//!   anything starts, not silently dropped.

pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;

pub use bird::Bird;
pub use exabgp::Exabgp;
pub use frr::Frr;
pub use gobgp::Gobgp;

use crate::error::{Error, Result};
use crate::process::wait_until;

/// How often waits on daemons poll.
pub const POLL: Duration = Duration::from_millis(100);

/// How long a daemon gets to answer its control socket after start.
pub const START_TIMEOUT: Duration = Duration::from_secs(15);

/// Address families a session carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Ipv4Unicast,
    Ipv6Unicast,
}

/// BFD timers for a neighbor (RFC 5880 section 6.8.1 names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bfd {
    pub min_rx_ms: u32,
    pub min_tx_ms: u32,
    pub multiplier: u8,
}

impl Default for Bfd {
    fn default() -> Self {
        Bfd {
            min_rx_ms: 100,
            min_tx_ms: 100,
            multiplier: 3,
        }
    }
}

/// One BGP neighbor of a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    pub address: IpAddr,
    pub remote_as: u32,
    /// Source address of the session; the daemon picks one when `None`.
    pub local_address: Option<IpAddr>,
    /// Seconds; 0 or at least 3 (RFC 4271 section 4.2).
    pub hold_time: u16,
    pub keepalive: u16,
    pub families: Vec<Family>,
    /// TCP-MD5 (RFC 2385) password.
    pub password: Option<String>,
    pub bfd: Option<Bfd>,
    /// This neighbor is a route-reflector client (iBGP; BIRD, FRR, GoBGP).
    pub rr_client: bool,
    /// GTSM (RFC 5082) for a directly connected neighbor: send TTL 255,
    /// accept 255 only.
    pub ttl_security: bool,
    /// Wait for the neighbor to connect; never connect out.
    pub passive: bool,
    /// Send every path, not only the best (RFC 7911 ADD-PATH; BIRD, FRR):
    /// what a reflector needs so clients see every location of a moved VM.
    pub add_paths_tx: bool,
}

impl Neighbor {
    /// A neighbor with hold 3 s, keepalive 1 s, IPv4 and IPv6 unicast, and
    /// nothing else.
    pub fn new(address: IpAddr, remote_as: u32) -> Neighbor {
        Neighbor {
            address,
            remote_as,
            local_address: None,
            hold_time: 3,
            keepalive: 1,
            families: vec![Family::Ipv4Unicast, Family::Ipv6Unicast],
            password: None,
            bfd: None,
            rr_client: false,
            ttl_security: false,
            passive: false,
            add_paths_tx: false,
        }
    }

    pub fn local_address(mut self, address: IpAddr) -> Self {
        self.local_address = Some(address);
        self
    }

    pub fn timers(mut self, hold_time: u16, keepalive: u16) -> Self {
        self.hold_time = hold_time;
        self.keepalive = keepalive;
        self
    }

    pub fn families(mut self, families: &[Family]) -> Self {
        self.families = families.to_vec();
        self
    }

    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_string());
        self
    }

    pub fn bfd(mut self, bfd: Bfd) -> Self {
        self.bfd = Some(bfd);
        self
    }

    pub fn rr_client(mut self) -> Self {
        self.rr_client = true;
        self
    }

    pub fn ttl_security(mut self) -> Self {
        self.ttl_security = true;
        self
    }

    pub fn passive(mut self) -> Self {
        self.passive = true;
        self
    }

    pub fn add_paths_tx(mut self) -> Self {
        self.add_paths_tx = true;
        self
    }

    pub(crate) fn has(&self, family: Family) -> bool {
        self.families.contains(&family)
    }
}

/// A standard community (RFC 1997), `asn:value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u16, pub u16);

impl Community {
    pub fn from_u32(value: u32) -> Community {
        let [a, b, c, d] = value.to_be_bytes();
        Community(u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.0, self.1)
    }
}

/// A large community (RFC 8092), `global:local1:local2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity(pub u32, pub u32, pub u32);

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0, self.1, self.2)
    }
}

/// An extended community (RFC 4360) as its 8 bytes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtCommunity(pub [u8; 8]);

impl ExtCommunity {
    /// Route Target, 2-octet AS specific (type 0x00, subtype 0x02).
    pub fn route_target(asn: u16, value: u32) -> ExtCommunity {
        let [a, b] = asn.to_be_bytes();
        let [c, d, e, f] = value.to_be_bytes();
        ExtCommunity([0x00, 0x02, a, b, c, d, e, f])
    }

    /// EVPN MAC Mobility (RFC 7432 section 7.7: type 0x06, subtype 0x00,
    /// flags with the sticky bit, reserved, sequence number).
    pub fn mac_mobility(sequence: u32, sticky: bool) -> ExtCommunity {
        let [c, d, e, f] = sequence.to_be_bytes();
        ExtCommunity([0x06, 0x00, u8::from(sticky), 0, c, d, e, f])
    }

    pub fn from_u64(value: u64) -> ExtCommunity {
        ExtCommunity(value.to_be_bytes())
    }

    pub fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// Type (high) and subtype bytes.
    pub fn kind(self) -> (u8, u8) {
        (self.0[0], self.0[1])
    }

    /// The first 4 bytes and the last 4 bytes (BIRD's `generic` form).
    pub(crate) fn halves(self) -> (u32, u32) {
        let v = self.to_u64();
        ((v >> 32) as u32, v as u32)
    }

    /// A Route Target in `asn:value` / `a.b.c.d:value` text (the form FRR and
    /// GoBGP take), if it is one.
    pub(crate) fn route_target_text(self) -> Option<String> {
        let b = self.0;
        match (b[0], b[1]) {
            (0x00, 0x02) => Some(format!(
                "{}:{}",
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]])
            )),
            (0x01, 0x02) => Some(format!(
                "{}:{}",
                Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                u16::from_be_bytes([b[6], b[7]])
            )),
            (0x02, 0x02) => Some(format!(
                "{}:{}",
                u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                u16::from_be_bytes([b[6], b[7]])
            )),
            _ => None,
        }
    }
}

impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:016x}", self.to_u64())
    }
}

/// A path attribute sent as raw bytes (ExaBGP only): the RFC 7606
/// adversary's tool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawAttribute {
    pub code: u8,
    pub flags: u8,
    pub value: Vec<u8>,
}

/// A route a peer originates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    pub prefix: IpNet,
    /// The daemon's own address toward each neighbor when `None`.
    pub next_hop: Option<IpAddr>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub ext_communities: Vec<ExtCommunity>,
    pub raw_attributes: Vec<RawAttribute>,
}

impl Route {
    pub fn new(prefix: IpNet) -> Route {
        Route {
            prefix,
            next_hop: None,
            communities: Vec::new(),
            large_communities: Vec::new(),
            ext_communities: Vec::new(),
            raw_attributes: Vec::new(),
        }
    }

    pub fn next_hop(mut self, next_hop: IpAddr) -> Self {
        self.next_hop = Some(next_hop);
        self
    }

    pub fn community(mut self, asn: u16, value: u16) -> Self {
        self.communities.push(Community(asn, value));
        self
    }

    pub fn large_community(mut self, global: u32, local1: u32, local2: u32) -> Self {
        self.large_communities
            .push(LargeCommunity(global, local1, local2));
        self
    }

    pub fn ext_community(mut self, community: ExtCommunity) -> Self {
        self.ext_communities.push(community);
        self
    }

    pub fn raw_attribute(mut self, code: u8, flags: u8, value: &[u8]) -> Self {
        self.raw_attributes.push(RawAttribute {
            code,
            flags,
            value: value.to_vec(),
        });
        self
    }

    pub(crate) fn is_v6(&self) -> bool {
        matches!(self.prefix, IpNet::V6(_))
    }
}

/// Everything a launcher needs to write a daemon's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerConfig {
    pub router_id: Ipv4Addr,
    pub local_as: u32,
    pub neighbors: Vec<Neighbor>,
    /// Accept host routes inside these pools; nothing else.
    pub import: Vec<IpNet>,
    /// Send host routes inside these pools; nothing else.
    pub export: Vec<IpNet>,
    pub originate: Vec<Route>,
    /// Install the best routes in the namespace's kernel table (BIRD's
    /// `protocol kernel`); only BIRD supports it, the others refuse it.
    pub kernel: bool,
}

impl PeerConfig {
    pub fn new(router_id: Ipv4Addr, local_as: u32) -> PeerConfig {
        PeerConfig {
            router_id,
            local_as,
            neighbors: Vec::new(),
            import: Vec::new(),
            export: Vec::new(),
            originate: Vec::new(),
            kernel: false,
        }
    }

    /// Installs the best routes in the kernel table (BIRD only).
    pub fn kernel(mut self) -> Self {
        self.kernel = true;
        self
    }

    pub fn neighbor(mut self, neighbor: Neighbor) -> Self {
        self.neighbors.push(neighbor);
        self
    }

    pub fn import(mut self, pool: IpNet) -> Self {
        self.import.push(pool);
        self
    }

    pub fn export(mut self, pool: IpNet) -> Self {
        self.export.push(pool);
        self
    }

    /// Imports and exports host routes in `pool`.
    pub fn pool(self, pool: IpNet) -> Self {
        self.import(pool).export(pool)
    }

    pub fn originate(mut self, route: Route) -> Self {
        self.originate.push(route);
        self
    }

    /// Checks what every daemon would reject anyway, with clearer words.
    pub fn validate(&self) -> Result<()> {
        if self.local_as == 0 {
            return Err(Error::Config("local AS 0 (RFC 7607)".into()));
        }
        for n in &self.neighbors {
            if n.remote_as == 0 {
                return Err(Error::Config(format!("neighbor {}: AS 0", n.address)));
            }
            if n.hold_time != 0
                && (n.hold_time < 3 || n.keepalive == 0 || n.keepalive >= n.hold_time)
            {
                return Err(Error::Config(format!(
                    "neighbor {}: hold time {} / keepalive {}: hold must be 0 or >= 3 and keepalive below it",
                    n.address, n.hold_time, n.keepalive
                )));
            }
            if n.families.is_empty() {
                return Err(Error::Config(format!(
                    "neighbor {}: no address family",
                    n.address
                )));
            }
            if let Some(p) = &n.password
                && (p.is_empty() || p.len() > 80 || p.contains(['"', '\n', ' ']))
            {
                return Err(Error::Config(format!(
                    "neighbor {}: password must be 1 to 80 characters without quotes, spaces or newlines",
                    n.address
                )));
            }
            if n.rr_client && n.remote_as != self.local_as {
                return Err(Error::Config(format!(
                    "neighbor {}: a route-reflector client must be iBGP (AS {} vs {})",
                    n.address, n.remote_as, self.local_as
                )));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for n in &self.neighbors {
            if !seen.insert(n.address) {
                return Err(Error::Config(format!(
                    "neighbor {} listed twice",
                    n.address
                )));
            }
        }
        let mut prefixes = std::collections::HashSet::new();
        for r in &self.originate {
            if !prefixes.insert(r.prefix) {
                return Err(Error::Config(format!(
                    "route {} originated twice",
                    r.prefix
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn pools(pools: &[IpNet], v6: bool) -> Vec<IpNet> {
        pools
            .iter()
            .copied()
            .filter(|p| matches!(p, IpNet::V6(_)) == v6)
            .collect()
    }
}

/// One path a peer learned from a neighbor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteEntry {
    pub prefix: IpNet,
    /// The neighbor it came from.
    pub from: IpAddr,
    /// The BGP next hop (the global one for IPv6).
    pub next_hop: Option<IpAddr>,
    pub as_path: Vec<u32>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub ext_communities: Vec<ExtCommunity>,
    /// Extended communities the daemon printed in a form the lab cannot map
    /// back to bytes, in the daemon's words.
    pub other_ext_communities: Vec<String>,
    /// The daemon selected this path.
    pub best: bool,
}

impl RouteEntry {
    pub(crate) fn new(prefix: IpNet, from: IpAddr) -> RouteEntry {
        RouteEntry {
            prefix,
            from,
            next_hop: None,
            as_path: Vec::new(),
            communities: Vec::new(),
            large_communities: Vec::new(),
            ext_communities: Vec::new(),
            other_ext_communities: Vec::new(),
            best: true,
        }
    }
}

/// What every launched daemon can do.
pub trait Peer {
    /// `"bird"`, `"frr"`, `"gobgp"` or `"exabgp"`.
    fn daemon(&self) -> &'static str;

    /// The configuration it runs (including runtime announcements).
    fn config(&self) -> &PeerConfig;

    /// Whether the session with `neighbor` is Established.
    fn established(&self, neighbor: IpAddr) -> Result<bool>;

    /// Paths learned from neighbors.
    fn routes(&self) -> Result<Vec<RouteEntry>>;

    /// Starts originating `route` (replacing one for the same prefix).
    fn announce(&mut self, route: Route) -> Result<()>;

    /// Stops originating `prefix`.
    fn withdraw(&mut self, prefix: IpNet) -> Result<()>;

    /// PIDs of the daemon's processes (to check they are gone afterwards).
    fn pids(&self) -> Vec<u32>;

    /// Waits until the session with `neighbor` is Established.
    fn wait_established(&self, neighbor: IpAddr, timeout: Duration) -> Result<()> {
        wait_until(
            &format!(
                "{} session with {neighbor} to be Established",
                self.daemon()
            ),
            timeout,
            POLL,
            || self.established(neighbor),
        )
    }

    /// Waits until some learned path satisfies `matches`, and returns it.
    fn wait_route(
        &self,
        what: &str,
        timeout: Duration,
        matches: &dyn Fn(&RouteEntry) -> bool,
    ) -> Result<RouteEntry> {
        let mut found = None;
        wait_until(
            &format!("{} to learn {what}", self.daemon()),
            timeout,
            POLL,
            || {
                found = self.routes()?.into_iter().find(|r| matches(r));
                Ok(found.is_some())
            },
        )?;
        found
            .ok_or_else(|| Error::Config(format!("{} lost {what} while reading it", self.daemon())))
    }

    /// Waits until no learned path has `prefix`.
    fn wait_no_route(&self, prefix: IpNet, timeout: Duration) -> Result<()> {
        wait_until(
            &format!("{} to lose {prefix}", self.daemon()),
            timeout,
            POLL,
            || Ok(!self.routes()?.iter().any(|r| r.prefix == prefix)),
        )
    }
}

/// Rejects originated routes using features `daemon` lacks.
pub(crate) fn check_route(
    daemon: &'static str,
    route: &Route,
    ext_ok: &dyn Fn(ExtCommunity) -> bool,
    raw_ok: bool,
) -> Result<()> {
    if let Some(ec) = route.ext_communities.iter().find(|ec| !ext_ok(**ec)) {
        return Err(Error::unsupported(
            daemon,
            format!(
                "originating extended community {ec} (route {})",
                route.prefix
            ),
        ));
    }
    if !raw_ok && !route.raw_attributes.is_empty() {
        return Err(Error::unsupported(
            daemon,
            format!("raw path attributes (route {})", route.prefix),
        ));
    }
    Ok(())
}

/// Parses `a:b` as a community, with the well-known names daemons print.
pub(crate) fn parse_community(text: &str) -> Option<Community> {
    let well_known = match text {
        "no-export" | "noExport" => Some(0xFFFF_FF01),
        "no-advertise" | "noAdvertise" => Some(0xFFFF_FF02),
        "local-AS" | "no-export-subconfed" | "localAs" => Some(0xFFFF_FF03),
        "no-peer" | "noPeer" => Some(0xFFFF_FF04),
        "graceful-shutdown" | "gracefulShutdown" => Some(0xFFFF_0000),
        "accept-own" | "acceptOwn" => Some(0xFFFF_0001),
        "blackhole" => Some(0xFFFF_029A),
        "llgr-stale" => Some(0xFFFF_0006),
        "no-llgr" => Some(0xFFFF_0007),
        _ => None,
    };
    if let Some(v) = well_known {
        return Some(Community::from_u32(v));
    }
    let (a, b) = text.split_once(':')?;
    Some(Community(a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Parses `a:b:c` as a large community.
pub(crate) fn parse_large_community(text: &str) -> Option<LargeCommunity> {
    let mut parts = text.split(':').map(|p| p.trim().parse::<u32>());
    let c = LargeCommunity(
        parts.next()?.ok()?,
        parts.next()?.ok()?,
        parts.next()?.ok()?,
    );
    parts.next().is_none().then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ext_community_constructors_match_the_wire() {
        assert_eq!(
            ExtCommunity::route_target(65001, 5).0,
            [0x00, 0x02, 0xfd, 0xe9, 0, 0, 0, 5]
        );
        assert_eq!(
            ExtCommunity::mac_mobility(7, true).to_u64(),
            0x0600_0100_0000_0007
        );
        assert_eq!(
            ExtCommunity::route_target(65001, 5)
                .route_target_text()
                .as_deref(),
            Some("65001:5")
        );
        assert_eq!(
            ExtCommunity::mac_mobility(1, false).route_target_text(),
            None
        );
        assert_eq!(
            ExtCommunity::mac_mobility(7, false).to_string(),
            "0x0600000000000007"
        );
    }

    #[test]
    fn communities_parse_with_well_known_names() {
        assert_eq!(parse_community("65001:1"), Some(Community(65001, 1)));
        assert_eq!(parse_community("no-export"), Some(Community(65535, 65281)));
        assert_eq!(parse_community("65001"), None);
        assert_eq!(
            parse_large_community("65001:1:2"),
            Some(LargeCommunity(65001, 1, 2))
        );
        assert_eq!(parse_large_community("65001:1"), None);
    }

    #[test]
    fn validate_rejects_bad_timers_and_ibgp_only_options() {
        let base = PeerConfig::new(Ipv4Addr::new(192, 0, 2, 1), 65001);
        let addr: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(
            base.clone()
                .neighbor(Neighbor::new(addr, 65002))
                .validate()
                .is_ok()
        );
        assert!(
            base.clone()
                .neighbor(Neighbor::new(addr, 65002).timers(2, 1))
                .validate()
                .is_err()
        );
        assert!(
            base.clone()
                .neighbor(Neighbor::new(addr, 65002).rr_client())
                .validate()
                .is_err()
        );
        assert!(
            base.neighbor(Neighbor::new(addr, 65001).rr_client())
                .validate()
                .is_ok()
        );
    }
}
