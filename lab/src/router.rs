//! Site routers: BIRD or FRR inside a router namespace, as a ToR / route
//! reflector for the site's hypervisors and an eBGP speaker toward the other
//! sites, installing what it selects into the namespace's kernel FIB.
//!
//! ```text
//!   hv1 ──iBGP (RR client)──┐                ┌── eBGP ── r2 (AS 65002)
//!   hv2 ──iBGP (RR client)──┤ r1 (AS 65001) ─┤
//!                           │ connected subnets announced, best routes
//!                           │ exported to the kernel          └── eBGP ── rc
//! ```
//!
//! Toward its hypervisors (route-reflector clients) the router puts itself
//! as next hop, so what a hypervisor's daemon installs in its kernel FIB
//! points at a directly connected gateway. Routes learned from another
//! site get the WAN link's delay as MED, compared across neighbour ASes:
//! between two AS paths of the same length (during a move, the old site's
//! route not yet withdrawn and the new site's), the nearer site wins,
//! instead of the lower router ID.
//!
//! Unlike the interop peers of [`crate::peers`] (host routes only, no
//! kernel), these routers carry everything: the VM host routes, the link
//! subnets (so VXLAN tunnel endpoints reach each other in L2-stretch mode)
//! and the client LAN.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;

use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::peers::{self, Family, Frr, Neighbor, PeerConfig};
use crate::process::{Child, run_command, wait_until};
use crate::topology::RouterKind;

/// One BGP session of a site router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub neighbor: Ipv4Addr,
    pub local: Ipv4Addr,
    pub remote_as: u32,
    /// A hypervisor of this site (iBGP, route-reflector client).
    pub rr_client: bool,
    /// MED set on routes learned over this session (the WAN link's
    /// one-way delay in microseconds), compared across neighbour ASes.
    pub med: Option<u32>,
}

/// What a site router is configured with.
#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub sessions: Vec<Session>,
}

/// A running site router; its daemons stop when it drops.
pub enum Router {
    Bird { child: Child, ctl: PathBuf },
    Frr(Box<Frr>),
}

impl Router {
    /// Starts a router of `kind` inside `netns`.
    pub fn start(netns: &Netns, kind: RouterKind, config: &RouterConfig) -> Result<Router> {
        match kind {
            RouterKind::Bird => start_bird(netns, config),
            RouterKind::Frr => start_frr(netns, config),
            RouterKind::Hostroute => Err(Error::unsupported(
                "hostroute",
                "a site router before the `hostroute` daemon (with its kernel FIB sync) is in \
                 the workspace; use kind = \"bird\" or \"frr\"",
            )),
        }
    }

    /// PIDs of the router's processes.
    pub fn pids(&mut self) -> Vec<u32> {
        match self {
            Router::Bird { child, .. } => vec![child.pid()],
            Router::Frr(frr) => frr.daemons().iter().map(Child::pid).collect(),
        }
    }

    /// Whether every BGP session is Established.
    pub fn all_established(&self) -> Result<bool> {
        match self {
            Router::Bird { ctl, .. } => {
                let out = birdc(ctl, &["show", "protocols"])?;
                let bgp: Vec<&str> = out
                    .lines()
                    .filter(|l| l.split_whitespace().nth(1) == Some("BGP"))
                    .collect();
                Ok(!bgp.is_empty() && bgp.iter().all(|l| l.contains("Established")))
            }
            Router::Frr(frr) => {
                let out = frr.vtysh(&["show bgp summary json"])?;
                let v: serde_json::Value = serde_json::from_str(&out)
                    .map_err(|e| Error::parse("FRR `show bgp summary json`", e))?;
                let peers = v["ipv4Unicast"]["peers"]
                    .as_object()
                    .ok_or_else(|| Error::parse("FRR bgp summary", "no ipv4Unicast peers"))?;
                Ok(!peers.is_empty() && peers.values().all(|p| p["state"] == "Established"))
            }
        }
    }
}

fn birdc(ctl: &std::path::Path, args: &[&str]) -> Result<String> {
    run_command(Command::new("birdc").arg("-s").arg(ctl).args(args))
}

/// bird.conf for a site router.
pub fn render_bird(config: &RouterConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by hostroute-lab (site router).");
    let _ = writeln!(out, "router id {};", config.router_id);
    let _ = writeln!(out, "log stderr all;");
    let _ = writeln!(out, "protocol device {{ scan time 1; }}");
    let _ = writeln!(out, "protocol direct {{ ipv4; interface \"*\"; }}");
    let _ = writeln!(
        out,
        "protocol kernel {{ ipv4 {{ export filter {{ if source = RTS_BGP then accept; reject; }}; }}; }}"
    );
    for (i, s) in config.sessions.iter().enumerate() {
        let _ = writeln!(out, "protocol bgp n{} {{", i + 1);
        let _ = writeln!(out, "  local {} as {};", s.local, config.asn);
        let _ = writeln!(out, "  neighbor {} as {};", s.neighbor, s.remote_as);
        let _ = writeln!(out, "  hold time 3; keepalive time 1;");
        let _ = writeln!(
            out,
            "  connect delay time 1; connect retry time 2; error wait time 1, 5;"
        );
        if s.rr_client {
            // Hypervisors install what they learn in their kernel FIB: the
            // next hop must be on their link (this router), not another
            // hypervisor or a WAN address they cannot reach directly.
            let _ = writeln!(out, "  rr client;");
            let _ = writeln!(out, "  ipv4 {{ import all; export all; next hop self; }};");
        } else if let Some(med) = s.med {
            let _ = writeln!(out, "  med metric yes;");
            let _ = writeln!(
                out,
                "  ipv4 {{ import filter {{ bgp_med = {med}; accept; }}; export all; }};"
            );
        } else {
            let _ = writeln!(out, "  ipv4 {{ import all; export all; }};");
        }
        let _ = writeln!(out, "}}");
    }
    out
}

fn start_bird(netns: &Netns, config: &RouterConfig) -> Result<Router> {
    let dir = netns.lab().subdir(&format!("bird-{}", netns.name()))?;
    let conf = dir.join("bird.conf");
    let ctl = dir.join("bird.ctl");
    std::fs::write(&conf, render_bird(config))
        .map_err(|e| Error::io("writing BIRD configuration", &conf, e))?;
    let mut command = netns.command("bird");
    command
        .arg("-f")
        .arg("-c")
        .arg(&conf)
        .arg("-s")
        .arg(&ctl)
        .current_dir(&dir);
    let mut child = Child::spawn(netns.lab(), &format!("bird-{}", netns.name()), command)?;
    wait_until(
        "BIRD control socket",
        peers::START_TIMEOUT,
        peers::POLL,
        || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            Ok(birdc(&ctl, &["show", "status"])?.contains("Daemon is up"))
        },
    )?;
    Ok(Router::Bird { child, ctl })
}

fn start_frr(netns: &Netns, config: &RouterConfig) -> Result<Router> {
    let mut peer = PeerConfig::new(config.router_id, config.asn);
    for s in &config.sessions {
        let mut n = Neighbor::new(IpAddr::V4(s.neighbor), s.remote_as)
            .local_address(IpAddr::V4(s.local))
            .families(&[Family::Ipv4Unicast]);
        if s.rr_client {
            n = n.rr_client();
        }
        peer = peer.neighbor(n);
    }
    let frr = Frr::start(netns, peer)?;
    // The interop launcher passes host routes of pools only; a site router
    // passes everything and announces its connected subnets. Hypervisors
    // get this router as next hop (see `render_bird`).
    let router_bgp = format!("router bgp {}", config.asn);
    let next_hop_self: Vec<String> = config
        .sessions
        .iter()
        .filter(|s| s.rr_client)
        .map(|s| format!("neighbor {} next-hop-self force", s.neighbor))
        .collect();
    let mut costs = Vec::new();
    for s in &config.sessions {
        if let Some(med) = s.med {
            costs.push((
                format!("route-map HR-COST-{med} permit 1"),
                format!("set metric {med}"),
                format!("neighbor {} route-map HR-COST-{med} in", s.neighbor),
            ));
        }
    }
    let mut commands = vec![
        "configure terminal",
        "route-map HR-IMPORT permit 1",
        "exit",
        "route-map HR-EXPORT permit 1",
        "exit",
    ];
    for (map, set, _) in &costs {
        commands.extend([map.as_str(), set.as_str(), "exit"]);
    }
    commands.extend([
        router_bgp.as_str(),
        "bgp always-compare-med",
        "address-family ipv4 unicast",
        "redistribute connected",
    ]);
    commands.extend(costs.iter().map(|(_, _, neighbor)| neighbor.as_str()));
    commands.extend(next_hop_self.iter().map(String::as_str));
    commands.extend(["end", "clear ip bgp * soft"]);
    frr.vtysh(&commands)?;
    Ok(Router::Frr(Box::new(frr)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bird_router_config_reflects_to_hypervisors_and_exports_to_the_kernel() {
        let config = RouterConfig {
            router_id: Ipv4Addr::new(198, 18, 1, 1),
            asn: 65001,
            sessions: vec![
                Session {
                    neighbor: Ipv4Addr::new(198, 18, 1, 2),
                    local: Ipv4Addr::new(198, 18, 1, 1),
                    remote_as: 65001,
                    rr_client: true,
                    med: None,
                },
                Session {
                    neighbor: Ipv4Addr::new(198, 18, 9, 2),
                    local: Ipv4Addr::new(198, 18, 9, 1),
                    remote_as: 65002,
                    rr_client: false,
                    med: Some(20_000),
                },
            ],
        };
        let text = render_bird(&config);
        assert!(text.contains("protocol bgp n1 {\n  local 198.18.1.1 as 65001;"));
        assert!(text.contains("neighbor 198.18.9.2 as 65002;"));
        assert_eq!(text.matches("rr client;").count(), 1);
        assert_eq!(text.matches("next hop self;").count(), 1);
        assert!(text.contains("med metric yes;"));
        assert!(text.contains("bgp_med = 20000;"));
        assert!(text.contains("if source = RTS_BGP then accept"));
    }
}
