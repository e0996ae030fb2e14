//! The checks of one `[[peer]]` and its `[peer.bfd]`.

use std::net::IpAddr;

use ipnet::IpNet;

use super::check::{Checked, check_asn, check_pools, problem};
use super::error::Problem;
use super::raw::{RawBfd, RawPeer, Sp, Text};
use super::{BfdConfig, PeerConfig, defaults};
use crate::detect::InterfaceMatcher;

/// RFC 2385 leaves the key length open; Linux caps it at
/// `TCP_MD5SIG_MAXKEYLEN`.
const PASSWORD_MAX: usize = 80;

/// RFC 5880 intervals are microseconds in 32 bits.
const BFD_INTERVAL_MAX_MS: u32 = u32::MAX / 1000;
const BFD_INTERVAL_MIN_MS: u32 = 10;

fn check_host(a: &Sp<Text<IpAddr>>, key: String, what: &str) -> Checked<IpAddr> {
    let addr = a.get_ref().0;
    if addr.is_unspecified() || addr.is_multicast() {
        return problem(a.span(), key, format!("{addr} cannot be {what}"));
    }
    Ok(addr)
}

pub(super) fn check_peer(
    raw: &RawPeer,
    key: &str,
    local_asn: u32,
    all_pools: &[IpNet],
) -> Checked<PeerConfig> {
    let k = |field: &str| format!("{key}.{field}");
    let address = check_host(&raw.address, k("address"), "a peer address")?;
    if let IpAddr::V6(a) = address
        && a.is_unicast_link_local()
        && raw.interface.is_none()
    {
        return problem(
            raw.address.span(),
            k("address"),
            format!("{a} is link-local: set interface to the link it is on"),
        );
    }
    let asn = check_asn(&raw.asn, &k("asn"))?;
    let password = match &raw.password {
        None => None,
        Some(p) if p.get_ref().is_empty() => {
            return problem(
                p.span(),
                k("password"),
                "empty; leave the key out for no TCP-MD5",
            );
        }
        Some(p) if p.get_ref().len() > PASSWORD_MAX => {
            return problem(
                p.span(),
                k("password"),
                format!(
                    "{} bytes is longer than the {PASSWORD_MAX} Linux accepts for TCP-MD5",
                    p.get_ref().len()
                ),
            );
        }
        Some(p) => Some(p.get_ref().clone()),
    };
    let local_address = match &raw.local_address {
        None => None,
        Some(a) => {
            let local = check_host(a, k("local_address"), "a local address")?;
            if local.is_ipv4() != address.is_ipv4() {
                return problem(
                    a.span(),
                    k("local_address"),
                    format!("{local} is not of the same family as the peer address {address}"),
                );
            }
            Some(local)
        }
    };
    let interface = match &raw.interface {
        None => None,
        Some(i) => Some(check_ifname(i, &k("interface"))?),
    };
    let port = match &raw.port {
        None => defaults::PORT,
        Some(p) if *p.get_ref() == 0 => return problem(p.span(), k("port"), "0 is not a TCP port"),
        Some(p) => *p.get_ref(),
    };
    let hold_time = match &raw.hold_time {
        None => defaults::HOLD_TIME,
        Some(h) if matches!(*h.get_ref(), 1 | 2) => {
            return problem(
                h.span(),
                k("hold_time"),
                format!(
                    "{} must be 0 (no keepalives) or at least 3 s (RFC 4271)",
                    h.get_ref()
                ),
            );
        }
        Some(h) => *h.get_ref(),
    };
    let keepalive = match &raw.keepalive {
        None => None,
        Some(ka) => {
            let v = *ka.get_ref();
            if v == 0 || (hold_time != 0 && v >= hold_time) {
                return problem(
                    ka.span(),
                    k("keepalive"),
                    format!("{v} must be at least 1 and below hold_time ({hold_time})"),
                );
            }
            Some(v)
        }
    };
    let ttl_security_hops = match &raw.ttl_security_hops {
        None => None,
        Some(t) if *t.get_ref() == 0 => {
            return problem(
                t.span(),
                k("ttl_security_hops"),
                "must be 1 or more (1: directly connected)",
            );
        }
        Some(t) => Some(*t.get_ref()),
    };
    let next_hop_v4 = match &raw.next_hop_v4 {
        None => None,
        Some(n) => {
            let a = n.get_ref().0;
            if a.is_unspecified() || a.is_multicast() || a.is_broadcast() || a.is_loopback() {
                return problem(
                    n.span(),
                    k("next_hop_v4"),
                    format!("{a} cannot be a next hop"),
                );
            }
            Some(a)
        }
    };
    let next_hop_v6 = match &raw.next_hop_v6 {
        None => None,
        Some(n) => {
            let a = n.get_ref().0;
            if a.is_unspecified() || a.is_multicast() || a.is_loopback() {
                return problem(
                    n.span(),
                    k("next_hop_v6"),
                    format!("{a} cannot be a next hop"),
                );
            }
            Some(a)
        }
    };
    let import_pools = match &raw.import_pools {
        None => all_pools.to_vec(),
        Some(list) => check_pools(list, &k("import_pools"))?,
    };
    let max_prefix = match &raw.max_prefix {
        None => None,
        Some(m) if *m.get_ref() == 0 => {
            return problem(
                m.span(),
                k("max_prefix"),
                "0 would refuse every route; leave the key out for no limit",
            );
        }
        Some(m) => Some(*m.get_ref()),
    };
    let route_reflector_client = match &raw.route_reflector_client {
        Some(rr) if *rr.get_ref() && asn != local_asn => {
            return problem(
                rr.span(),
                k("route_reflector_client"),
                format!(
                    "only an iBGP peer can be a route-reflector client (peer AS {asn}, ours {local_asn})"
                ),
            );
        }
        Some(rr) => *rr.get_ref(),
        None => false,
    };
    let bfd = match &raw.bfd {
        None => None,
        Some(b) => Some(check_bfd(&b.0, &k("bfd"))?),
    };
    Ok(PeerConfig {
        address,
        asn,
        password,
        local_address,
        interface,
        port,
        hold_time,
        keepalive,
        passive: raw.passive,
        ttl_security_hops,
        next_hop_v4,
        next_hop_v6,
        export_learned: raw.export_learned,
        import_pools,
        max_prefix,
        route_reflector_client,
        bfd,
    })
}

/// One interface name, not a pattern.
fn check_ifname(name: &Sp<String>, key: &str) -> Checked<String> {
    let s = name.get_ref();
    if s.contains(['*', '?']) {
        return problem(
            name.span(),
            key,
            format!("{s:?} is a pattern; give one interface name"),
        );
    }
    InterfaceMatcher::new([s.as_str()])
        .map_err(|e| Problem::new(name.span(), key, e.to_string()))?;
    Ok(s.clone())
}

fn check_bfd(raw: &RawBfd, key: &str) -> Checked<BfdConfig> {
    let k = |field: &str| format!("{key}.{field}");
    let interval_ms = match &raw.interval_ms {
        None => defaults::BFD_INTERVAL_MS,
        Some(i) => {
            let v = *i.get_ref();
            if v < BFD_INTERVAL_MIN_MS {
                return problem(
                    i.span(),
                    k("interval_ms"),
                    format!("{v} is below the minimum of {BFD_INTERVAL_MIN_MS} ms"),
                );
            }
            if v > BFD_INTERVAL_MAX_MS {
                return problem(
                    i.span(),
                    k("interval_ms"),
                    format!(
                        "{v} is above the maximum of {BFD_INTERVAL_MAX_MS} ms (32-bit microseconds, RFC 5880)"
                    ),
                );
            }
            v
        }
    };
    let multiplier = match &raw.multiplier {
        None => defaults::BFD_MULTIPLIER,
        Some(m) if *m.get_ref() == 0 => {
            return problem(m.span(), k("multiplier"), "must be 1 or more (RFC 5880)");
        }
        Some(m) => *m.get_ref(),
    };
    let multihop_min_ttl = match (&raw.min_ttl, raw.multihop) {
        (None, false) => None,
        (None, true) => Some(defaults::BFD_MIN_TTL),
        (Some(t), false) => {
            return problem(
                t.span(),
                k("min_ttl"),
                "applies only to multihop sessions (single hop accepts TTL 255 only); set multihop = true or remove it",
            );
        }
        (Some(t), true) if *t.get_ref() == 0 => {
            return problem(t.span(), k("min_ttl"), "must be 1 or more");
        }
        (Some(t), true) => Some(*t.get_ref()),
    };
    Ok(BfdConfig {
        interval_ms,
        multiplier,
        multihop_min_ttl,
        required: raw.required,
    })
}
