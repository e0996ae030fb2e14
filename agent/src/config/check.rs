//! From the file as written ([`RawConfig`]) to a configuration the daemon
//! can use ([`AgentConfig`]): defaults filled in, and every value checked
//! against what the protocols and the kernel accept. The first problem is
//! returned with the span of the offending value.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use super::error::{Problem, line_column};
use super::peer::check_peer;
use super::raw::{RawConfig, RawInterfaces, Sp, Text};
use super::{AgentConfig, DetectionConfig, InterfaceConfig, PeerConfig, defaults};
use crate::detect::{InterfaceMatcher, MacAddr};
use crate::fib::RouteParams;
use crate::gateway::GatewayConfig;
use crate::mobility::MobilityConfig;

pub(super) type Checked<T> = Result<T, Problem>;

/// Route protocol numbers (`rtm_protocol`) that are not ours to take: the
/// kernel's own (`RTPROT_UNSPEC` to `RTPROT_STATIC`, linux/rtnetlink.h)
/// and those iproute2's `rt_protos` and the usual daemons register. Our
/// FIB service deletes every route of its protocol that it does not want,
/// so sharing a number with another daemon would delete that daemon's
/// routes.
const TAKEN_PROTOCOLS: &[(u8, &str)] = &[
    (0, "RTPROT_UNSPEC"),
    (1, "RTPROT_REDIRECT"),
    (2, "the kernel (RTPROT_KERNEL)"),
    (
        3,
        "RTPROT_BOOT, routes added by ip route without a protocol",
    ),
    (4, "static routes (RTPROT_STATIC)"),
    (8, "gated"),
    (9, "router advertisements (ra)"),
    (10, "mrt"),
    (11, "zebra"),
    (12, "BIRD"),
    (13, "dnrouted"),
    (14, "XORP"),
    (15, "ntk"),
    (16, "DHCP clients"),
    (17, "mrouted"),
    (18, "keepalived"),
    (42, "babeld"),
    (80, "Calico's felix"),
    (99, "Open/R"),
    (186, "FRR bgpd"),
    (187, "FRR isisd"),
    (188, "FRR ospfd"),
    (189, "FRR ripd"),
    (190, "FRR ripngd"),
    (191, "FRR nhrpd"),
    (192, "FRR eigrpd"),
    (193, "FRR ldpd"),
    (194, "FRR sharpd"),
    (195, "FRR pbrd"),
    (196, "FRR zebra (static)"),
    (197, "FRR openfabric"),
];

/// Longest `sun_path` of a Unix socket, without its terminating NUL.
const SUN_PATH_MAX: usize = 107;

/// AS_TRANS (RFC 6793): stands in for a 4-octet ASN toward old speakers.
const AS_TRANS: u32 = 23456;

/// RFC 4724: the restart time is a 12-bit field.
const RESTART_TIME_MAX: u16 = 4095;

pub(super) fn problem<T>(
    span: Range<usize>,
    key: impl Into<String>,
    message: impl Into<String>,
) -> Checked<T> {
    Err(Problem::new(span, key, message))
}

pub(super) fn check(raw: RawConfig, text: &str) -> Checked<AgentConfig> {
    let router_id = raw.router_id.get_ref().0;
    if router_id.is_unspecified() {
        return problem(
            raw.router_id.span(),
            "router_id",
            "0.0.0.0 is not a valid BGP identifier",
        );
    }
    let asn = check_asn(&raw.asn, "asn")?;
    let listen = match raw.listen {
        None => defaults::listen(),
        Some(list) => {
            let mut out = Vec::new();
            for (i, a) in list.iter().enumerate() {
                let key = format!("listen[{i}]");
                let addr = a.get_ref().0;
                if addr.port() == 0 {
                    return problem(
                        a.span(),
                        key,
                        format!("{addr}: port 0 is not a port to listen on"),
                    );
                }
                if out.contains(&addr) {
                    return problem(a.span(), key, format!("{addr} is listed twice"));
                }
                out.push(addr);
            }
            out
        }
    };
    let control_socket = match raw.control_socket {
        None => PathBuf::from(defaults::CONTROL_SOCKET),
        Some(s) => check_socket_path(&s)?,
    };
    let graceful_restart = match raw.graceful_restart {
        None => defaults::GRACEFUL_RESTART,
        Some(g) if *g.get_ref() > RESTART_TIME_MAX => {
            return problem(
                g.span(),
                "graceful_restart",
                format!(
                    "{} is above the maximum of {RESTART_TIME_MAX} s (a 12-bit field, RFC 4724)",
                    g.get_ref()
                ),
            );
        }
        Some(g) => *g.get_ref(),
    };
    let fib = check_fib(raw.fib.map(|t| t.0))?;
    let mobility = check_mobility(raw.mobility.map(|t| t.0))?;
    let detection = raw
        .detection
        .map(|t| t.0)
        .map_or_else(DetectionConfig::default, |d| DetectionConfig {
            neighbours: d.neighbours.unwrap_or(true),
            announcements: d.announcements.unwrap_or(true),
        });
    let interfaces = raw
        .interfaces
        .iter()
        .enumerate()
        .map(|(i, t)| check_interfaces(&t.0, &format!("interfaces[{i}]")))
        .collect::<Checked<Vec<_>>>()?;
    let all_pools = union_of_pools(&interfaces);
    let gateway = match raw.gateway {
        None => None,
        Some(g) => Some(check_gateway(g.0, &all_pools)?),
    };
    let mut peers: Vec<PeerConfig> = Vec::new();
    let mut first_seen: Vec<Range<usize>> = Vec::new();
    for (i, p) in raw.peer.iter().map(|t| &t.0).enumerate() {
        let key = format!("peer[{i}]");
        let peer = check_peer(p, &key, asn, &all_pools)?;
        if let Some(j) = peers.iter().position(|q| q.address == peer.address) {
            let (line, _) = line_column(text, first_seen.get(j).map_or(0, |s| s.start));
            return problem(
                p.address.span(),
                format!("{key}.address"),
                format!(
                    "peer {} is configured twice (first as peer[{j}], line {line})",
                    peer.address
                ),
            );
        }
        first_seen.push(p.address.span());
        peers.push(peer);
    }
    Ok(AgentConfig {
        router_id,
        asn,
        listen,
        control_socket,
        graceful_restart,
        gateway,
        fib,
        mobility,
        detection,
        interfaces,
        peers,
    })
}

pub(super) fn check_asn(asn: &Sp<u32>, key: &str) -> Checked<u32> {
    match *asn.get_ref() {
        0 => problem(asn.span(), key, "0 is reserved (RFC 7607)"),
        AS_TRANS => problem(
            asn.span(),
            key,
            "23456 is AS_TRANS, which only stands in for 4-octet ASNs (RFC 6793)",
        ),
        n => Ok(n),
    }
}

fn check_socket_path(s: &Sp<String>) -> Checked<PathBuf> {
    let path = s.get_ref();
    let key = "control_socket";
    if !path.starts_with('/') {
        return problem(s.span(), key, format!("{path:?} is not an absolute path"));
    }
    if path.ends_with('/') {
        return problem(
            s.span(),
            key,
            format!("{path:?} names a directory, not a socket"),
        );
    }
    if path.len() > SUN_PATH_MAX {
        return problem(
            s.span(),
            key,
            format!(
                "{} bytes is longer than the {SUN_PATH_MAX} a Unix socket path may have",
                path.len()
            ),
        );
    }
    Ok(PathBuf::from(path))
}

fn check_fib(raw: Option<super::raw::RawFib>) -> Checked<RouteParams> {
    let mut params = RouteParams::default();
    let Some(raw) = raw else {
        return Ok(params);
    };
    if let Some(p) = raw.protocol {
        let n = *p.get_ref();
        if let Some((_, owner)) = TAKEN_PROTOCOLS.iter().find(|(m, _)| *m == n) {
            return problem(
                p.span(),
                "fib.protocol",
                format!(
                    "{n} belongs to {owner}; pick a number of our own (default {})",
                    crate::fib::DEFAULT_PROTOCOL
                ),
            );
        }
        params.protocol = n;
    }
    if let Some(m) = raw.metric {
        if *m.get_ref() == 0 {
            return problem(
                m.span(),
                "fib.metric",
                "0 is not a metric the kernel keeps (IPv6 routes get 1024); use 1 or more",
            );
        }
        params.metric = *m.get_ref();
    }
    if let Some(t) = raw.table {
        let why = match *t.get_ref() {
            0 => Some("0 is RT_TABLE_UNSPEC, not a table"),
            255 => Some("255 is the kernel's local table"),
            _ => None,
        };
        if let Some(why) = why {
            return problem(t.span(), "fib.table", why);
        }
        params.table = *t.get_ref();
    }
    Ok(params)
}

fn check_mobility(raw: Option<super::raw::RawMobility>) -> Checked<MobilityConfig> {
    let mut out = MobilityConfig::default();
    let Some(raw) = raw else {
        return Ok(out);
    };
    if let Some(m) = raw.duplicate_moves {
        if *m.get_ref() == 0 {
            return problem(m.span(), "mobility.duplicate_moves", "must be 1 or more");
        }
        out.duplicate_moves = *m.get_ref();
    }
    if let Some(w) = raw.duplicate_window {
        if *w.get_ref() == 0 {
            return problem(w.span(), "mobility.duplicate_window", "must be 1 s or more");
        }
        out.duplicate_window = Duration::from_secs(u64::from(*w.get_ref()));
    }
    if let Some(f) = raw.freeze {
        out.freeze = match *f.get_ref() {
            0 => None,
            secs => Some(Duration::from_secs(u64::from(secs))),
        };
    }
    Ok(out)
}

/// A pool: network address (no host bits), and in a range that can hold
/// VM addresses.
fn check_pool(p: &Sp<Text<IpNet>>, key: &str) -> Checked<IpNet> {
    let net = p.get_ref().0;
    if net.trunc() != net {
        return problem(
            p.span(),
            key,
            format!("{net} has host bits set (did you mean {}?)", net.trunc()),
        );
    }
    let unusable = match net.network() {
        IpAddr::V4(a) => {
            net.prefix_len() == 0
                || a.is_loopback()
                || a.is_multicast()
                || a.is_link_local()
                || a.is_broadcast()
                || a.is_unspecified()
        }
        IpAddr::V6(a) => {
            net.prefix_len() == 0
                || a.is_loopback()
                || a.is_multicast()
                || a.is_unicast_link_local()
                || a.is_unspecified()
        }
    };
    if unusable {
        return problem(
            p.span(),
            key,
            format!("{net} cannot hold VM addresses (default, loopback, link-local or multicast)"),
        );
    }
    Ok(net)
}

pub(super) fn check_pools(list: &[Sp<Text<IpNet>>], key: &str) -> Checked<Vec<IpNet>> {
    let mut out: Vec<IpNet> = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let key = format!("{key}[{i}]");
        let net = check_pool(p, &key)?;
        if let Some(other) = out.iter().find(|o| o.contains(&net) || net.contains(*o)) {
            return problem(
                p.span(),
                key,
                format!("{net} overlaps {other}, listed before it"),
            );
        }
        out.push(net);
    }
    Ok(out)
}

fn check_interfaces(raw: &RawInterfaces, key: &str) -> Checked<InterfaceConfig> {
    let patterns = raw.patterns.get_ref();
    if patterns.is_empty() {
        return problem(
            raw.patterns.span(),
            format!("{key}.match"),
            "empty: give interface names or patterns such as \"tap*\"",
        );
    }
    for (i, p) in patterns.iter().enumerate() {
        if let Err(e) = InterfaceMatcher::new([p.get_ref().as_str()]) {
            return problem(p.span(), format!("{key}.match[{i}]"), e.to_string());
        }
    }
    let matcher = InterfaceMatcher::new(patterns.iter().map(|p| p.get_ref().clone()))
        .map_err(|e| Problem::new(raw.patterns.span(), format!("{key}.match"), e.to_string()))?;
    if raw.pools.get_ref().is_empty() {
        return problem(
            raw.pools.span(),
            format!("{key}.pools"),
            "empty: an interface without pools can carry no VM address",
        );
    }
    let pools = check_pools(raw.pools.get_ref(), &format!("{key}.pools"))?;
    let mut pinned: Vec<IpNet> = Vec::new();
    for (i, a) in raw.pinned.iter().enumerate() {
        let addr = a.get_ref().0.0;
        let key = format!("{key}.pinned[{i}]");
        if addr.trunc() != addr {
            return problem(
                a.span(),
                key,
                format!("{addr} has host bits set (did you mean {}?)", addr.trunc()),
            );
        }
        if !pools.iter().any(|p| p.contains(&addr)) {
            return problem(
                a.span(),
                key,
                format!("{addr} is not inside this table's pools"),
            );
        }
        if let Some(other) = pinned
            .iter()
            .find(|o| o.contains(&addr) || addr.contains(*o))
        {
            return problem(
                a.span(),
                key,
                format!("{addr} overlaps {other}, listed before it"),
            );
        }
        pinned.push(addr);
    }
    Ok(InterfaceConfig {
        matcher,
        pools,
        pinned,
    })
}

/// Every interface pool once, in the order written.
pub(super) fn union_of_pools(interfaces: &[InterfaceConfig]) -> Vec<IpNet> {
    let mut out: Vec<IpNet> = Vec::new();
    for pool in interfaces.iter().flat_map(|i| &i.pools) {
        if !out.contains(pool) {
            out.push(*pool);
        }
    }
    out
}

fn check_gateway(raw: super::raw::RawGateway, pools: &[IpNet]) -> Checked<GatewayConfig> {
    let mac = match &raw.mac {
        None => MacAddr::ANYCAST_DEFAULT,
        Some(m) => {
            let mac = m.get_ref().0;
            if mac.is_multicast() {
                return problem(
                    m.span(),
                    "gateway.mac",
                    format!(
                        "{mac} is a multicast MAC (lowest bit of the first byte set); the gateway needs a unicast one"
                    ),
                );
            }
            if mac.is_zero() {
                return problem(
                    m.span(),
                    "gateway.mac",
                    "00:00:00:00:00:00 is not a usable MAC",
                );
            }
            mac
        }
    };
    let ipv4 = check_gateway_addrs(&raw.ipv4, "gateway.ipv4", pools, |a: Ipv4Addr| {
        a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_loopback()
    })?;
    let ipv6 = check_gateway_addrs(&raw.ipv6, "gateway.ipv6", pools, |a: Ipv6Addr| {
        a.is_unspecified() || a.is_multicast() || a.is_loopback()
    })?;
    Ok(GatewayConfig { mac, ipv4, ipv6 })
}

fn check_gateway_addrs<A>(
    list: &[Sp<Text<A>>],
    key: &str,
    pools: &[IpNet],
    unusable: impl Fn(A) -> bool,
) -> Checked<Vec<A>>
where
    A: Copy + PartialEq + Into<IpAddr> + std::fmt::Display,
{
    let mut out: Vec<A> = Vec::new();
    for (i, a) in list.iter().enumerate() {
        let key = format!("{key}[{i}]");
        let addr = a.get_ref().0;
        if unusable(addr) {
            return problem(a.span(), key, format!("{addr} cannot be a gateway address"));
        }
        if matches!(addr.into(), IpAddr::V6(v6) if v6.is_unicast_link_local()) {
            return problem(
                a.span(),
                key,
                format!(
                    "{addr} is link-local; the link-local gateway address is derived from gateway.mac"
                ),
            );
        }
        if !pools.iter().any(|p| p.contains(&addr.into())) {
            return problem(
                a.span(),
                key,
                format!("{addr} is not inside any pool of [[interfaces]]"),
            );
        }
        if out.contains(&addr) {
            return problem(a.span(), key, format!("{addr} is listed twice"));
        }
        out.push(addr);
    }
    Ok(out)
}
