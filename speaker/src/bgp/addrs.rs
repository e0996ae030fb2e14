//! Our next-hop-self addresses for a session, found from the interface
//! that carries it.
//!
//! A session runs over one address family, but carries both: IPv6 routes
//! over an IPv4 session need an IPv6 next hop, and IPv4 routes over an
//! IPv6 session an IPv4 one (or RFC 8950). Like BIRD and FRR, we take the
//! other family's address from the interface holding the session's local
//! address. [`self_addresses`] is the pure choice; [`interface_addresses`]
//! reads the host's addresses (`getifaddrs`, Linux only).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One address of one interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    pub interface: String,
    pub address: IpAddr,
}

/// Next-hop-self addresses for one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelfAddresses {
    pub v4: Option<Ipv4Addr>,
    /// A global (not link-local, not loopback) IPv6 address.
    pub v6: Option<Ipv6Addr>,
    /// Set only when the session itself runs between link-local addresses
    /// (RFC 2545: the link-local next hop is for peers on the same link).
    pub link_local: Option<Ipv6Addr>,
}

pub fn is_link_local(a: Ipv6Addr) -> bool {
    a.segments().first().is_some_and(|s| s & 0xffc0 == 0xfe80)
}

fn usable_v4(a: Ipv4Addr) -> bool {
    !a.is_loopback() && !a.is_unspecified()
}

fn usable_v6(a: Ipv6Addr) -> bool {
    !is_link_local(a) && !a.is_loopback() && !a.is_unspecified() && a.to_ipv4_mapped().is_none()
}

/// Our addresses for a session whose local end is `local`: `local` itself
/// for its own family (a global IPv6 one; a link-local one goes in
/// `link_local`), and the first usable address of the other family on the
/// interface(s) holding `local`: never loopback, link-local or v4-mapped.
pub fn self_addresses(local: IpAddr, addrs: &[IfAddr]) -> SelfAddresses {
    let local = match local {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(local, IpAddr::V4),
        v4 => v4,
    };
    let on_link: Vec<IpAddr> = addrs
        .iter()
        .filter(|a| {
            addrs
                .iter()
                .any(|b| b.address == local && b.interface == a.interface)
        })
        .map(|a| a.address)
        .collect();
    let v4 = match local {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => on_link.iter().find_map(|a| match a {
            IpAddr::V4(a) if usable_v4(*a) => Some(*a),
            _ => None,
        }),
    };
    let v6 = match local {
        IpAddr::V6(a) if usable_v6(a) => Some(a),
        _ => on_link.iter().find_map(|a| match a {
            IpAddr::V6(a) if usable_v6(*a) => Some(*a),
            _ => None,
        }),
    };
    let link_local = match local {
        IpAddr::V6(a) if is_link_local(a) => Some(a),
        _ => None,
    };
    SelfAddresses { v4, v6, link_local }
}

/// Every address of every interface of this host (network namespace).
#[cfg(target_os = "linux")]
pub fn interface_addresses() -> Vec<IfAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let storage = a.address?;
            let address = if let Some(v4) = storage.as_sockaddr_in() {
                IpAddr::V4(v4.ip())
            } else {
                IpAddr::V6(storage.as_sockaddr_in6()?.ip())
            };
            Some(IfAddr {
                interface: a.interface_name,
                address,
            })
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
pub fn interface_addresses() -> Vec<IfAddr> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(interface: &str, address: &str) -> IfAddr {
        IfAddr {
            interface: interface.to_string(),
            address: address.parse().unwrap(),
        }
    }

    fn host() -> Vec<IfAddr> {
        vec![
            at("lo", "127.0.0.1"),
            at("lo", "::1"),
            at("v0", "192.0.2.1"),
            at("v0", "fe80::1"),
            at("v0", "2001:db8::1"),
            at("v1", "203.0.113.1"),
            at("v1", "2001:db8:1::1"),
        ]
    }

    #[test]
    fn an_ipv4_session_takes_the_global_ipv6_address_of_its_interface() {
        let s = self_addresses("192.0.2.1".parse().unwrap(), &host());
        assert_eq!(s.v4, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(s.v6, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(s.link_local, None);
        // A v4-mapped local address is the IPv4 session it stands for.
        let s = self_addresses("::ffff:203.0.113.1".parse().unwrap(), &host());
        assert_eq!(s.v6, Some("2001:db8:1::1".parse().unwrap()));
    }

    #[test]
    fn an_ipv6_session_takes_the_ipv4_address_of_its_interface() {
        let s = self_addresses("2001:db8:1::1".parse().unwrap(), &host());
        assert_eq!(s.v4, Some("203.0.113.1".parse().unwrap()));
        assert_eq!(s.v6, Some("2001:db8:1::1".parse().unwrap()));
        let s = self_addresses("fe80::1".parse().unwrap(), &host());
        assert_eq!(s.v6, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(s.link_local, Some("fe80::1".parse().unwrap()));
        assert_eq!(s.v4, Some("192.0.2.1".parse().unwrap()));
    }

    #[test]
    fn loopback_and_unknown_addresses_give_nothing_of_the_other_family() {
        let s = self_addresses("127.0.0.1".parse().unwrap(), &host());
        assert_eq!(s.v4, Some(Ipv4Addr::LOCALHOST), "the session's own address");
        assert_eq!(s.v6, None);
        let s = self_addresses("198.51.100.9".parse().unwrap(), &host());
        assert_eq!(s.v4, Some("198.51.100.9".parse().unwrap()));
        assert_eq!(s.v6, None);
    }

    #[test]
    fn the_host_has_addresses() {
        let addrs = interface_addresses();
        if cfg!(target_os = "linux") {
            assert!(addrs.iter().any(|a| a.address.is_loopback()), "{addrs:?}");
        }
    }
}
