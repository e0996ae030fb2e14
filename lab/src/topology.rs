//! A lab topology as data: sites with a router and hypervisors, a client
//! site, WAN links with one-way delay, jitter and loss, and VMs.
//!
//! Read from TOML (`lab up my.toml`) or taken from [`Topology::default_demo`],
//! the demo topology of DESIGN.md:
//!
//! ```text
//!                     client site (cl): client -- rc
//!                   20 ms /        \ 1 ms
//!         DC1 router (r1) --- 20 ms --- (r2) DC2 router
//!            /      \                       |
//!         hv1       hv2                     hv3
//!          |
//!         vm1  10.1.1.5/24, gateway 10.1.1.1
//! ```
//!
//! Link addresses are not configured: [`Topology::plan`] numbers every link
//! from the benchmarking range 198.18.0.0/15 (one /24 per link, `.1` on the
//! first end, `.2` on the second) and the client LANs from 203.0.113.0/24.
//! A file with a mistake is refused with the file, line and key.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::{Error, Result};
use crate::link::Mac;

/// The built-in demo topology, as the file `lab/topologies/default.toml`
/// holds it.
pub const DEFAULT_TOML: &str = include_str!("../topologies/default.toml");

/// Which daemon runs a site's router.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouterKind {
    Bird,
    Frr,
    /// hostroute's own speaker as a plain iBGP peer (needs the daemon,
    /// which installs routes in the kernel).
    Hostroute,
}

impl std::fmt::Display for RouterKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RouterKind::Bird => "bird",
            RouterKind::Frr => "frr",
            RouterKind::Hostroute => "hostroute",
        })
    }
}

/// A topology file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Names the lab (`lab down --name`); letters, digits and `-`.
    pub name: String,
    #[serde(default)]
    pub mobility: Mobility,
    /// What runs on the hypervisors in hostroute mode.
    #[serde(default)]
    pub agent: AgentKind,
    #[serde(rename = "site")]
    pub sites: Vec<Site>,
    #[serde(rename = "wan", default)]
    pub wans: Vec<Wan>,
    #[serde(rename = "vm", default)]
    pub vms: Vec<VmSpec>,
}

/// The hypervisors' agent in hostroute mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// The real daemon (`hostroute daemon`): detects VMs, runs the anycast
    /// gateway, originates host routes and installs learned ones.
    #[default]
    Hostroute,
    /// `hr-speakerd`, with the lab playing detection, gateway and local
    /// routes (the stand-in used before the daemon existed).
    Speaker,
}

/// The VM pools and the anycast gateway every hypervisor presents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Mobility {
    pub pool4: Ipv4Net,
    pub pool6: Ipv6Net,
    pub gateway4: Ipv4Addr,
    /// The IPv6 gateway (proxy NDP on every VM-facing interface).
    pub gateway6: std::net::Ipv6Addr,
    pub gateway_mac: String,
    /// VXLAN network identifier of the stretched segment (L2-stretch mode).
    pub vni: u32,
}

impl Default for Mobility {
    fn default() -> Self {
        Mobility {
            pool4: "10.1.1.0/24".parse().expect("constant"),
            pool6: "2001:db8:1::/64".parse().expect("constant"),
            gateway4: Ipv4Addr::new(10, 1, 1, 1),
            gateway6: "2001:db8:1::1".parse().expect("constant"),
            gateway_mac: "ee:ee:ee:ee:ee:ee".into(),
            vni: 100,
        }
    }
}

/// A site: one router, and hypervisors or clients behind it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    pub name: String,
    pub router: String,
    #[serde(default = "default_kind")]
    pub kind: RouterKind,
    pub asn: u32,
    #[serde(default)]
    pub hypervisors: Vec<String>,
    /// Client hosts (a namespace each, on one LAN behind the router).
    #[serde(default)]
    pub clients: Vec<String>,
}

fn default_kind() -> RouterKind {
    RouterKind::Bird
}

/// A WAN link between two routers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wan {
    pub a: Spanned<String>,
    pub b: Spanned<String>,
    /// One-way delay, each way.
    pub delay_ms: f64,
    #[serde(default)]
    pub jitter_ms: f64,
    /// Probability (0..1) that a frame is dropped, each way.
    #[serde(default)]
    pub loss: f64,
}

/// A VM and where it starts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    pub name: String,
    pub hypervisor: Spanned<String>,
    pub mac: String,
    pub ipv4: Ipv4Net,
    pub ipv6: Ipv6Net,
}

/// What a node is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Router,
    Hypervisor,
    Client,
    Vm,
}

/// One link of the plan: `a` (first end, `.1`) <-> `b` (`.2`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlannedLink {
    pub a: String,
    pub b: String,
    pub a_iface: String,
    pub b_iface: String,
    pub a_addr: Ipv4Net,
    pub b_addr: Ipv4Net,
    /// WAN impairment, for links between routers.
    pub wan: Option<WanImpairment>,
}

/// Delay, jitter and loss of a WAN link.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WanImpairment {
    pub delay_ms: f64,
    pub jitter_ms: f64,
    pub loss: f64,
}

/// Every link of a topology with its addresses.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub links: Vec<PlannedLink>,
}

impl Plan {
    /// Links with `node` on either end, as (local iface, local addr, peer
    /// node, peer addr).
    pub fn neighbors_of<'a>(
        &'a self,
        node: &'a str,
    ) -> impl Iterator<Item = (&'a str, Ipv4Net, &'a str, Ipv4Net)> + 'a {
        self.links.iter().filter_map(move |l| {
            if l.a == node {
                Some((l.a_iface.as_str(), l.a_addr, l.b.as_str(), l.b_addr))
            } else if l.b == node {
                Some((l.b_iface.as_str(), l.b_addr, l.a.as_str(), l.a_addr))
            } else {
                None
            }
        })
    }

    /// The node whose link address is `addr`.
    pub fn owner_of(&self, addr: Ipv4Addr) -> Option<&str> {
        self.links.iter().find_map(|l| {
            if l.a_addr.addr() == addr {
                Some(l.a.as_str())
            } else if l.b_addr.addr() == addr {
                Some(l.b.as_str())
            } else {
                None
            }
        })
    }

    /// The address of `node` on its link with `peer`.
    pub fn addr_toward(&self, node: &str, peer: &str) -> Option<Ipv4Net> {
        self.neighbors_of(node)
            .find(|(_, _, p, _)| *p == peer)
            .map(|(_, addr, _, _)| addr)
    }
}

impl Topology {
    /// The demo topology of DESIGN.md (the built-in default).
    pub fn default_demo() -> Topology {
        Topology::parse(DEFAULT_TOML, "<built-in default.toml>")
            .expect("the built-in topology is valid")
    }

    /// Reads and checks a topology file.
    pub fn load(path: &Path) -> Result<Topology> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::io("reading topology", path, e))?;
        Topology::parse(&text, &path.display().to_string())
    }

    /// Parses and checks `text`; errors name `file`, the line and the key.
    pub fn parse(text: &str, file: &str) -> Result<Topology> {
        let topology: Topology = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            Error::Config(format!(
                "{file}{}: {}",
                line.map(|l| format!(":{l}")).unwrap_or_default(),
                e.message()
            ))
        })?;
        topology.check().map_err(|(span, msg)| match span {
            Some(span) => Error::Config(format!("{file}:{}: {msg}", line_of(text, span.start))),
            None => Error::Config(format!("{file}: {msg}")),
        })?;
        Ok(topology)
    }

    /// Consistency checks a parser cannot make: names unique and short
    /// enough, references resolved, values in range.
    fn check(&self) -> std::result::Result<(), (Option<std::ops::Range<usize>>, String)> {
        let plain = |msg: String| (None, msg);
        check_name("name", &self.name).map_err(plain)?;
        let mut names = BTreeSet::new();
        let mut routers = BTreeSet::new();
        let mut hypervisors = BTreeSet::new();
        for (i, site) in self.sites.iter().enumerate() {
            let key = format!("site[{i}]");
            for (what, name) in std::iter::once(("router", &site.router))
                .chain(site.hypervisors.iter().map(|h| ("hypervisors", h)))
                .chain(site.clients.iter().map(|c| ("clients", c)))
                .chain(std::iter::once(("name", &site.name)))
            {
                check_name(&format!("{key}.{what}"), name).map_err(plain)?;
                if !names.insert(name.clone()) {
                    return Err(plain(format!("{key}.{what}: name {name:?} used twice")));
                }
            }
            if site.asn == 0 {
                return Err(plain(format!("{key}.asn: 0 is reserved (RFC 7607)")));
            }
            routers.insert(site.router.clone());
            hypervisors.extend(site.hypervisors.iter().cloned());
        }
        if self.sites.is_empty() {
            return Err(plain("no [[site]]".into()));
        }
        if !self.sites.iter().any(|s| !s.clients.is_empty()) {
            return Err(plain("no site has clients (the client site)".into()));
        }
        let mut pairs = BTreeSet::new();
        for (i, wan) in self.wans.iter().enumerate() {
            for end in [&wan.a, &wan.b] {
                if !routers.contains(end.get_ref()) {
                    return Err((
                        Some(end.span()),
                        format!("wan[{i}]: {:?} is not a site's router", end.get_ref()),
                    ));
                }
            }
            let pair = if wan.a.get_ref() < wan.b.get_ref() {
                (wan.a.get_ref().clone(), wan.b.get_ref().clone())
            } else {
                (wan.b.get_ref().clone(), wan.a.get_ref().clone())
            };
            if pair.0 == pair.1 || !pairs.insert(pair) {
                return Err((
                    Some(wan.a.span()),
                    format!("wan[{i}]: a link to itself or a second link between the same routers"),
                ));
            }
            let ok = |v: f64| v.is_finite() && v >= 0.0;
            if !ok(wan.delay_ms) || !ok(wan.jitter_ms) || !(0.0..1.0).contains(&wan.loss) {
                return Err((
                    Some(wan.a.span()),
                    format!("wan[{i}]: delay_ms and jitter_ms must be >= 0 and loss in [0, 1)"),
                ));
            }
        }
        let mut vm_names = BTreeSet::new();
        for (i, vm) in self.vms.iter().enumerate() {
            check_name(&format!("vm[{i}].name"), &vm.name).map_err(plain)?;
            if names.contains(&vm.name) || !vm_names.insert(vm.name.clone()) {
                return Err(plain(format!("vm[{i}].name: {:?} used twice", vm.name)));
            }
            if !hypervisors.contains(vm.hypervisor.get_ref()) {
                return Err((
                    Some(vm.hypervisor.span()),
                    format!(
                        "vm[{i}].hypervisor: {:?} is not a hypervisor of any site",
                        vm.hypervisor.get_ref()
                    ),
                ));
            }
            vm.mac
                .parse::<Mac>()
                .map_err(|e| plain(format!("vm[{i}].mac: {e}")))?;
            if !self.mobility.pool4.contains(&vm.ipv4.addr())
                || !self.mobility.pool6.contains(&vm.ipv6.addr())
            {
                return Err(plain(format!(
                    "vm[{i}]: ipv4 and ipv6 must lie in mobility.pool4 {} and pool6 {}",
                    self.mobility.pool4, self.mobility.pool6
                )));
            }
        }
        self.mobility
            .gateway_mac
            .parse::<Mac>()
            .map_err(|e| plain(format!("mobility.gateway_mac: {e}")))?;
        if self.sites.len() + self.wans.len() + hypervisors.len() > 250 {
            return Err(plain("too many links for the address plan (250)".into()));
        }
        Ok(())
    }

    /// The site whose router is `router`.
    pub fn site_of_router(&self, router: &str) -> Option<&Site> {
        self.sites.iter().find(|s| s.router == router)
    }

    /// The site a hypervisor or client belongs to.
    pub fn site_of(&self, node: &str) -> Option<&Site> {
        self.sites.iter().find(|s| {
            s.router == node
                || s.hypervisors.iter().any(|h| h == node)
                || s.clients.iter().any(|c| c == node)
        })
    }

    /// Every node (routers, hypervisors, clients, VMs) with its role, in a
    /// stable order.
    pub fn nodes(&self) -> Vec<(String, Role)> {
        let mut nodes = Vec::new();
        for site in &self.sites {
            nodes.push((site.router.clone(), Role::Router));
            nodes.extend(
                site.hypervisors
                    .iter()
                    .map(|h| (h.clone(), Role::Hypervisor)),
            );
            nodes.extend(site.clients.iter().map(|c| (c.clone(), Role::Client)));
        }
        nodes.extend(self.vms.iter().map(|v| (v.name.clone(), Role::Vm)));
        nodes
    }

    /// Numbers every link: router <-> hypervisor, router <-> client LAN
    /// (clients share one LAN per site: the first client gets the link, more
    /// clients are refused for now), and the WAN links.
    pub fn plan(&self) -> Result<Plan> {
        let mut links = Vec::new();
        let mut n: u8 = 0;
        let mut next_net = || -> Result<(Ipv4Net, Ipv4Net)> {
            n = n
                .checked_add(1)
                .ok_or_else(|| Error::Config("address plan exhausted".into()))?;
            let base = Ipv4Addr::new(198, 18, n, 0);
            let [a, b, c, _] = base.octets();
            Ok((
                Ipv4Net::new(Ipv4Addr::new(a, b, c, 1), 24).expect("/24"),
                Ipv4Net::new(Ipv4Addr::new(a, b, c, 2), 24).expect("/24"),
            ))
        };
        let mut iface_count: BTreeMap<String, usize> = BTreeMap::new();
        let mut iface = |node: &str, prefix: &str| {
            let n = iface_count.entry(format!("{node}/{prefix}")).or_default();
            *n += 1;
            format!("{prefix}{}", *n - 1)
        };
        for site in &self.sites {
            for hv in &site.hypervisors {
                let (a_addr, b_addr) = next_net()?;
                links.push(PlannedLink {
                    a: site.router.clone(),
                    b: hv.clone(),
                    a_iface: format!("to-{hv}"),
                    b_iface: "uplink".into(),
                    a_addr,
                    b_addr,
                    wan: None,
                });
            }
            if site.clients.len() > 1 {
                return Err(Error::Config(format!(
                    "site {}: one client per site for now",
                    site.name
                )));
            }
            for client in &site.clients {
                let a_addr = Ipv4Net::new(Ipv4Addr::new(203, 0, 113, 1), 24).expect("/24");
                let b_addr = Ipv4Net::new(Ipv4Addr::new(203, 0, 113, 2), 24).expect("/24");
                links.push(PlannedLink {
                    a: site.router.clone(),
                    b: client.clone(),
                    a_iface: "lan0".into(),
                    b_iface: "eth0".into(),
                    a_addr,
                    b_addr,
                    wan: None,
                });
            }
        }
        for wan in &self.wans {
            let (a_addr, b_addr) = next_net()?;
            links.push(PlannedLink {
                a: wan.a.get_ref().clone(),
                b: wan.b.get_ref().clone(),
                a_iface: iface(wan.a.get_ref(), "wan"),
                b_iface: iface(wan.b.get_ref(), "wan"),
                a_addr,
                b_addr,
                wan: Some(WanImpairment {
                    delay_ms: wan.delay_ms,
                    jitter_ms: wan.jitter_ms,
                    loss: wan.loss,
                }),
            });
        }
        Ok(Plan { links })
    }

    /// The configured one-way delay between two routers, if they share a
    /// WAN link.
    pub fn wan_delay_ms(&self, a: &str, b: &str) -> Option<f64> {
        self.wans
            .iter()
            .find(|w| {
                (w.a.get_ref() == a && w.b.get_ref() == b)
                    || (w.a.get_ref() == b && w.b.get_ref() == a)
            })
            .map(|w| w.delay_ms)
    }

    /// The mobility pools as `IpNet`s.
    pub fn pools(&self) -> Vec<IpNet> {
        vec![self.mobility.pool4.into(), self.mobility.pool6.into()]
    }
}

/// Names become namespace labels and interface names (`to-<hv>`, at most
/// 15 characters): letters, digits and `-`, 1 to 12 characters.
fn check_name(key: &str, name: &str) -> std::result::Result<(), String> {
    if name.is_empty()
        || name.len() > 12
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "{key}: {name:?} must be 1 to 12 letters, digits or '-'"
        ));
    }
    Ok(())
}

/// 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .map_or(0, |before| before.matches('\n').count())
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_design_topology() {
        let t = Topology::default_demo();
        let routers: Vec<&str> = t.sites.iter().map(|s| s.router.as_str()).collect();
        assert_eq!(routers, ["r1", "r2", "rc"]);
        assert_eq!(t.wan_delay_ms("rc", "r1"), Some(20.0));
        assert_eq!(t.wan_delay_ms("r2", "rc"), Some(1.0));
        assert_eq!(t.wan_delay_ms("r1", "r2"), Some(20.0));
        assert_eq!(t.vms[0].hypervisor.get_ref(), "hv1");
        assert_eq!(t.vms[0].ipv4.to_string(), "10.1.1.5/24");
        let plan = t.plan().unwrap();
        assert_eq!(plan.links.len(), 3 + 1 + 3);
        assert_eq!(plan.owner_of("198.18.1.2".parse().unwrap()), Some("hv1"));
        assert_eq!(
            plan.addr_toward("rc", "client")
                .map(|a| a.to_string())
                .as_deref(),
            Some("203.0.113.1/24")
        );
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let bad_key = DEFAULT_TOML.replacen("delay_ms = 20.0", "delay = 20.0", 1);
        let err = Topology::parse(&bad_key, "t.toml").unwrap_err().to_string();
        assert!(err.contains("t.toml:") && err.contains("delay"), "{err}");

        let bad_ref = DEFAULT_TOML.replacen("hypervisor = \"hv1\"", "hypervisor = \"hv9\"", 1);
        let err = Topology::parse(&bad_ref, "t.toml").unwrap_err().to_string();
        let line = bad_ref
            .lines()
            .position(|l| l.contains("hv9"))
            .map(|i| i + 1)
            .unwrap();
        assert!(
            err.contains(&format!("t.toml:{line}:")) && err.contains("vm[0].hypervisor"),
            "{err}"
        );

        let bad_wan = DEFAULT_TOML.replacen("b = \"r1\"", "b = \"r7\"", 1);
        let err = Topology::parse(&bad_wan, "t.toml").unwrap_err().to_string();
        assert!(err.contains("wan[0]") && err.contains("r7"), "{err}");
    }

    #[test]
    fn names_must_fit_interface_names() {
        let long = DEFAULT_TOML.replacen("\"hv2\"", "\"hypervisor-two\"", 1);
        let err = Topology::parse(&long, "t.toml").unwrap_err().to_string();
        assert!(err.contains("hypervisor-two"), "{err}");
    }
}
