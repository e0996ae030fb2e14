//! The kernel route hostroute wants, as plain data, and how a Loc-RIB change
//! becomes one.
//!
//! A [`Route`] says everything the FIB service sends to the kernel and
//! compares against what the kernel reports: prefix, [`RouteKind`], table,
//! protocol number and metric. Its [`RouteKey`] (prefix, table, metric) is
//! the kernel's identity of a route of ours: IPv4 routes are keyed by
//! (table, dst, tos, priority) and we never set a TOS, and IPv6 routes by
//! (table, dst, metric). Two routes with the same key are the same kernel
//! route, so `NLM_F_REPLACE` turns one into the other in place.
//!
//! # Next-hop resolution (a decision)
//!
//! The speaker's [`NextHop`] is a BGP next hop; the kernel wants a gateway
//! and often an interface. [`delta_for`] asks a [`Resolver`]:
//!
//! - [`NextHop::Local`] (a VM on this host): the VM's interface is
//!   required; the route becomes [`RouteKind::Local`] (scope link).
//! - A global gateway (IPv4 or IPv6): the resolver may pin an interface;
//!   without one the kernel picks it from its connected routes when the
//!   route is installed. We never set `onlink`: the kernel's check that the
//!   gateway sits on a connected subnet catches a wrong next hop, which then
//!   fails with an errno that the service counts and retries, instead of a
//!   route that silently black-holes. A recursive next hop (a loopback
//!   behind the fabric) is the resolver's job: it returns the interface and
//!   the caller passes the immediate gateway.
//! - An IPv6 link-local gateway (RFC 2545 second next hop, or BGP
//!   unnumbered): the interface is required (the kernel cannot route to
//!   `fe80::/10` without one). When the speaker gives both a global and a
//!   link-local next hop, the link-local one is used if the resolver knows
//!   its interface (as FRR does for directly connected peers), otherwise
//!   the global one.
//! - An IPv4 prefix with an IPv6 next hop (RFC 8950) becomes `via inet6`
//!   (`RTA_VIA`).
//!
//! What cannot be resolved becomes [`Delta::Unresolvable`]: the service
//! removes the prefix's old route (which points at the previous next hop
//! and would be wrong) and counts it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};

use ipnet::IpNet;
use serde::Serialize;
use speaker::rib::{Best, NextHop, RouteChange};

/// `RT_TABLE_MAIN`.
pub const MAIN_TABLE: u32 = 254;

/// hostroute's route protocol number, named in
/// `agent/rt_protos.d/hostroute.conf`. 200 is claimed by neither iproute2's
/// `rt_protos` (0-4, 8-18, 42, 99, 186-189, 192), nor FRR (186-197), BIRD
/// (12), zebra (11), Calico's felix (80) nor keepalived (18), and it is far
/// from the ranges those projects grow into.
pub const DEFAULT_PROTOCOL: u8 = 200;

/// Our routes' metric. Distinct from other daemons' defaults (FRR 20, BIRD
/// 32, static 0, IPv6 user 1024), so a `replace` of ours can never clobber
/// another daemon's route for the same prefix: a different metric is a
/// different kernel route.
pub const DEFAULT_METRIC: u32 = 50;

/// The metric the kernel gives an IPv6 route added with metric 0
/// (`IP6_RT_PRIO_USER`).
pub const IPV6_DEFAULT_METRIC: u32 = 1024;

/// The kernel's identity of one of our routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RouteKey {
    pub prefix: IpNet,
    pub table: u32,
    pub metric: u32,
}

impl RouteKey {
    /// A key with the prefix truncated to its length and an IPv6 metric of
    /// 0 read as the kernel stores it (1024).
    pub fn new(prefix: IpNet, table: u32, metric: u32) -> Self {
        let metric = match prefix {
            IpNet::V6(_) if metric == 0 => IPV6_DEFAULT_METRIC,
            _ => metric,
        };
        Self {
            prefix: prefix.trunc(),
            table,
            metric,
        }
    }
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} table {} metric {}",
            self.prefix, self.table, self.metric
        )
    }
}

/// Where a route sends packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RouteKind {
    /// Straight out of an interface (a VM on this host), scope link.
    Local { ifindex: u32 },
    /// Through a gateway of either family (an IPv4 prefix via an IPv6
    /// gateway is RFC 8950 `via inet6`). `ifindex` is required for an IPv6
    /// link-local gateway; `None` lets the kernel choose.
    Via {
        gateway: IpAddr,
        ifindex: Option<u32>,
    },
    /// A route of our protocol we would never install (multipath,
    /// blackhole, unreachable, ...): found in the kernel, always replaced or
    /// removed.
    Other,
}

impl RouteKind {
    /// Whether `installed`, as the kernel reports it, is what this desired
    /// kind asks for. The kernel always reports the interface it chose, so
    /// a desired `Via` without one accepts any interface. `Other` satisfies
    /// nothing.
    pub fn is_satisfied_by(&self, installed: &RouteKind) -> bool {
        match (*self, *installed) {
            (RouteKind::Local { ifindex: a }, RouteKind::Local { ifindex: b }) => a == b,
            (
                RouteKind::Via {
                    gateway: g,
                    ifindex: want,
                },
                RouteKind::Via {
                    gateway: h,
                    ifindex: have,
                },
            ) => g == h && (want.is_none() || want == have),
            _ => false,
        }
    }
}

impl std::fmt::Display for RouteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Local { ifindex } => write!(f, "dev #{ifindex}"),
            Self::Via {
                gateway,
                ifindex: Some(i),
            } => write!(f, "via {gateway} dev #{i}"),
            Self::Via {
                gateway,
                ifindex: None,
            } => write!(f, "via {gateway}"),
            Self::Other => f.write_str("(other)"),
        }
    }
}

/// One kernel route of ours, desired or found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Route {
    pub prefix: IpNet,
    pub kind: RouteKind,
    pub table: u32,
    pub protocol: u8,
    pub metric: u32,
}

impl Route {
    /// The kernel's identity of this route.
    pub fn key(&self) -> RouteKey {
        RouteKey::new(self.prefix, self.table, self.metric)
    }

    /// Whether `installed`, as the kernel reports it, is what this desired
    /// route asks for. The kernel always reports the interface it chose, so
    /// a desired `Via` without one accepts any interface.
    pub fn is_satisfied_by(&self, installed: &Route) -> bool {
        self.key() == installed.key()
            && self.protocol == installed.protocol
            && self.kind.is_satisfied_by(&installed.kind)
    }

    /// Checks what the kernel would refuse: a link-local gateway without
    /// an interface, an IPv6 prefix via an IPv4 gateway, an unspecified
    /// gateway, interface 0, or [`RouteKind::Other`].
    pub fn validate(&self) -> Result<(), Unresolvable> {
        match self.kind {
            RouteKind::Local { ifindex: 0 }
            | RouteKind::Via {
                ifindex: Some(0), ..
            } => Err(Unresolvable::NoInterface),
            RouteKind::Local { .. } => Ok(()),
            RouteKind::Via { gateway, ifindex } => {
                if gateway.is_unspecified() || gateway.is_multicast() {
                    return Err(Unresolvable::BadGateway(gateway));
                }
                if let (IpNet::V6(_), IpAddr::V4(_)) = (self.prefix, gateway) {
                    return Err(Unresolvable::FamilyMismatch(gateway));
                }
                match gateway {
                    IpAddr::V6(g) if is_link_local(&g) && ifindex.is_none() => {
                        Err(Unresolvable::LinkLocalWithoutInterface(g))
                    }
                    _ => Ok(()),
                }
            }
            RouteKind::Other => Err(Unresolvable::NotInstallable),
        }
    }
}

/// Whether an IPv6 address is link-local unicast (`fe80::/10`).
pub fn is_link_local(addr: &Ipv6Addr) -> bool {
    addr.segments()[0] & 0xffc0 == 0xfe80
}

/// Table, protocol and metric of every route one FIB service installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RouteParams {
    pub table: u32,
    pub protocol: u8,
    pub metric: u32,
}

impl Default for RouteParams {
    fn default() -> Self {
        Self {
            table: MAIN_TABLE,
            protocol: DEFAULT_PROTOCOL,
            metric: DEFAULT_METRIC,
        }
    }
}

impl RouteParams {
    /// A route of ours for `prefix`.
    pub fn route(&self, prefix: IpNet, kind: RouteKind) -> Route {
        Route {
            prefix: prefix.trunc(),
            kind,
            table: self.table,
            protocol: self.protocol,
            metric: self.metric,
        }
    }

    /// The key our route for `prefix` has.
    pub fn key(&self, prefix: IpNet) -> RouteKey {
        RouteKey::new(prefix, self.table, self.metric)
    }
}

/// Finds the interfaces the kernel needs for a route. Implemented by the
/// agent's inventory (VM interfaces) and its session table (the interface a
/// link-local peer lives on).
pub trait Resolver {
    /// The interface of the VM that owns `prefix`, for a locally
    /// originated route.
    fn local_interface(&self, prefix: &IpNet) -> Option<u32>;
    /// The interface to reach `gateway` through. Required for an IPv6
    /// link-local gateway; for others `None` lets the kernel choose.
    fn gateway_interface(&self, gateway: IpAddr) -> Option<u32>;
}

/// A [`Resolver`] backed by maps, for tests, benchmarks and simple
/// set-ups.
#[derive(Debug, Clone, Default)]
pub struct StaticResolver {
    /// Interface of each local prefix.
    pub local: HashMap<IpNet, u32>,
    /// Interface of each gateway.
    pub gateways: HashMap<IpAddr, u32>,
    /// Interface for local prefixes not in `local`.
    pub default_local: Option<u32>,
}

impl Resolver for StaticResolver {
    fn local_interface(&self, prefix: &IpNet) -> Option<u32> {
        self.local.get(prefix).copied().or(self.default_local)
    }

    fn gateway_interface(&self, gateway: IpAddr) -> Option<u32> {
        self.gateways.get(&gateway).copied()
    }
}

/// Why a best path cannot become a kernel route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum Unresolvable {
    #[error("no interface is known for the local prefix")]
    NoLocalInterface,
    #[error("interface index 0")]
    NoInterface,
    #[error("link-local gateway {0} needs an interface and none is known")]
    LinkLocalWithoutInterface(Ipv6Addr),
    #[error("an IPv6 prefix cannot use the IPv4 gateway {0}")]
    FamilyMismatch(IpAddr),
    #[error("gateway {0} is not a unicast address")]
    BadGateway(IpAddr),
    #[error("not a route hostroute installs")]
    NotInstallable,
}

/// One change of the desired kernel state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delta {
    /// Install or replace this route.
    Set(Route),
    /// Remove the route with this key.
    Remove(RouteKey),
    /// The prefix has a best path that cannot be installed: remove what is
    /// there (it points at an old next hop) and report why.
    Unresolvable { key: RouteKey, reason: Unresolvable },
}

impl Delta {
    /// The key the delta is about.
    pub fn key(&self) -> RouteKey {
        match self {
            Self::Set(route) => route.key(),
            Self::Remove(key) | Self::Unresolvable { key, .. } => *key,
        }
    }
}

/// The desired-state delta for one Loc-RIB change.
pub fn delta_for(change: &RouteChange, params: &RouteParams, resolver: &dyn Resolver) -> Delta {
    let key = params.key(change.prefix);
    match &change.new {
        None => Delta::Remove(key),
        Some(best) => match route_for(change.prefix, best, params, resolver) {
            Ok(route) => Delta::Set(route),
            Err(reason) => Delta::Unresolvable { key, reason },
        },
    }
}

/// The kernel route for `prefix` whose best path is `best`.
pub fn route_for(
    prefix: IpNet,
    best: &Best,
    params: &RouteParams,
    resolver: &dyn Resolver,
) -> Result<Route, Unresolvable> {
    let kind = match best.attrs.next_hop {
        NextHop::Local => RouteKind::Local {
            ifindex: resolver
                .local_interface(&prefix)
                .ok_or(Unresolvable::NoLocalInterface)?,
        },
        NextHop::V4(gateway) => {
            let gateway = IpAddr::V4(gateway);
            RouteKind::Via {
                gateway,
                ifindex: resolver.gateway_interface(gateway),
            }
        }
        NextHop::V6 { global, link_local } => {
            let via_link_local = link_local.and_then(|ll| {
                resolver
                    .gateway_interface(IpAddr::V6(ll))
                    .map(|i| (IpAddr::V6(ll), Some(i)))
            });
            let (gateway, ifindex) = via_link_local.unwrap_or_else(|| {
                let g = IpAddr::V6(global);
                (g, resolver.gateway_interface(g))
            });
            RouteKind::Via { gateway, ifindex }
        }
    };
    let route = params.route(prefix, kind);
    route.validate()?;
    Ok(route)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use speaker::rib::{PathAttrs, SourceId};

    use super::*;

    fn best(next_hop: NextHop) -> Option<Best> {
        Some(Best {
            source: SourceId(1),
            path_id: 0,
            attrs: Arc::new(PathAttrs {
                next_hop,
                ..PathAttrs::default()
            }),
        })
    }

    fn change(prefix: &str, next_hop: Option<NextHop>) -> RouteChange {
        RouteChange {
            prefix: prefix.parse().unwrap(),
            old: None,
            new: next_hop.and_then(best),
        }
    }

    fn resolver() -> StaticResolver {
        let mut r = StaticResolver::default();
        r.local.insert("10.1.1.5/32".parse().unwrap(), 7);
        r.gateways.insert("fe80::2".parse().unwrap(), 3);
        r
    }

    const LL: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2);
    const G6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

    #[test]
    fn local_next_hop_goes_to_the_vm_interface() {
        let p = RouteParams::default();
        let d = delta_for(
            &change("10.1.1.5/32", Some(NextHop::Local)),
            &p,
            &resolver(),
        );
        assert_eq!(
            d,
            Delta::Set(p.route(
                "10.1.1.5/32".parse().unwrap(),
                RouteKind::Local { ifindex: 7 }
            ))
        );
    }

    #[test]
    fn local_next_hop_without_interface_is_unresolvable() {
        let p = RouteParams::default();
        let d = delta_for(
            &change("10.1.1.6/32", Some(NextHop::Local)),
            &p,
            &resolver(),
        );
        assert_eq!(
            d,
            Delta::Unresolvable {
                key: p.key("10.1.1.6/32".parse().unwrap()),
                reason: Unresolvable::NoLocalInterface
            }
        );
    }

    #[test]
    fn withdrawal_removes_the_key() {
        let p = RouteParams::default();
        let d = delta_for(&change("2001:db8::5/128", None), &p, &resolver());
        assert_eq!(d, Delta::Remove(p.key("2001:db8::5/128".parse().unwrap())));
    }

    #[test]
    fn ipv4_gateway_lets_the_kernel_pick_the_interface() {
        let p = RouteParams::default();
        let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 2));
        let Delta::Set(r) = delta_for(&change("198.51.100.1/32", Some(nh)), &p, &resolver()) else {
            panic!("not a set");
        };
        assert_eq!(
            r.kind,
            RouteKind::Via {
                gateway: "192.0.2.2".parse().unwrap(),
                ifindex: None
            }
        );
    }

    #[test]
    fn link_local_next_hop_is_preferred_when_its_interface_is_known() {
        let p = RouteParams::default();
        let nh = NextHop::V6 {
            global: G6,
            link_local: Some(LL),
        };
        let Delta::Set(r) = delta_for(&change("2001:db8:1::5/128", Some(nh)), &p, &resolver())
        else {
            panic!("not a set");
        };
        assert_eq!(
            r.kind,
            RouteKind::Via {
                gateway: IpAddr::V6(LL),
                ifindex: Some(3)
            }
        );
    }

    #[test]
    fn global_next_hop_is_used_when_the_link_local_interface_is_unknown() {
        let p = RouteParams::default();
        let nh = NextHop::V6 {
            global: G6,
            link_local: Some("fe80::9".parse().unwrap()),
        };
        let Delta::Set(r) = delta_for(&change("2001:db8:1::5/128", Some(nh)), &p, &resolver())
        else {
            panic!("not a set");
        };
        assert_eq!(
            r.kind,
            RouteKind::Via {
                gateway: IpAddr::V6(G6),
                ifindex: None
            }
        );
    }

    #[test]
    fn link_local_only_next_hop_without_interface_is_unresolvable() {
        let p = RouteParams::default();
        let ll: Ipv6Addr = "fe80::9".parse().unwrap();
        let nh = NextHop::V6 {
            global: ll,
            link_local: None,
        };
        let d = delta_for(&change("2001:db8:1::5/128", Some(nh)), &p, &resolver());
        assert!(matches!(
            d,
            Delta::Unresolvable {
                reason: Unresolvable::LinkLocalWithoutInterface(a),
                ..
            } if a == ll
        ));
    }

    #[test]
    fn ipv4_prefix_takes_an_ipv6_next_hop_rfc8950() {
        let p = RouteParams::default();
        let nh = NextHop::V6 {
            global: G6,
            link_local: Some(LL),
        };
        let Delta::Set(r) = delta_for(&change("198.51.100.1/32", Some(nh)), &p, &resolver()) else {
            panic!("not a set");
        };
        assert_eq!(
            r.kind,
            RouteKind::Via {
                gateway: IpAddr::V6(LL),
                ifindex: Some(3)
            }
        );
        assert!(r.validate().is_ok());
    }

    #[test]
    fn ipv6_prefix_refuses_an_ipv4_next_hop() {
        let p = RouteParams::default();
        let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 2));
        let d = delta_for(&change("2001:db8::5/128", Some(nh)), &p, &resolver());
        assert!(matches!(
            d,
            Delta::Unresolvable {
                reason: Unresolvable::FamilyMismatch(_),
                ..
            }
        ));
    }

    #[test]
    fn ipv6_metric_zero_is_keyed_as_the_kernel_stores_it() {
        let k = RouteKey::new("2001:db8::1/128".parse().unwrap(), MAIN_TABLE, 0);
        assert_eq!(k.metric, IPV6_DEFAULT_METRIC);
        let k = RouteKey::new("10.0.0.1/32".parse().unwrap(), MAIN_TABLE, 0);
        assert_eq!(k.metric, 0);
    }

    #[test]
    fn keys_truncate_host_bits() {
        let k = RouteKey::new("10.0.0.1/24".parse().unwrap(), MAIN_TABLE, 5);
        assert_eq!(k.prefix, "10.0.0.0/24".parse::<IpNet>().unwrap());
    }

    #[test]
    fn desired_via_without_interface_accepts_the_kernels_choice() {
        let p = RouteParams::default();
        let prefix = "198.51.100.1/32".parse().unwrap();
        let gateway = "192.0.2.2".parse().unwrap();
        let want = p.route(
            prefix,
            RouteKind::Via {
                gateway,
                ifindex: None,
            },
        );
        let have = p.route(
            prefix,
            RouteKind::Via {
                gateway,
                ifindex: Some(4),
            },
        );
        assert!(want.is_satisfied_by(&have));
        assert!(!have.is_satisfied_by(&p.route(prefix, RouteKind::Local { ifindex: 4 })));
        let other_gw = p.route(
            prefix,
            RouteKind::Via {
                gateway: "192.0.2.3".parse().unwrap(),
                ifindex: Some(4),
            },
        );
        assert!(!want.is_satisfied_by(&other_gw));
        let other = p.route(prefix, RouteKind::Other);
        assert!(!other.is_satisfied_by(&other));
    }
}
