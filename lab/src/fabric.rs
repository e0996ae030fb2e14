//! Hypervisors on one fabric segment, each running the `hostroute`
//! daemon, full-mesh iBGP: the topology of the agent benchmarks and demo.
//!
//! ```text
//!                      sw: bridge br0 (the fabric, 198.18.0.0/24)
//!           ┌─────────────────────┼─────────────────────┐
//!   hv1 up0 .11 (AS 65000)   hv2 up0 .12    ...    hvN up0 .(10+N)
//!     tap-* (VMs, 10.1.1.0/24, anycast gateway 10.1.1.1)
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::daemon::{Daemon, DaemonConfig, Launch, POLL};
use crate::error::Result;
use crate::netns::Netns;
use crate::process::wait_until;
use crate::run::Lab;

/// The AS every hypervisor is in.
pub const FABRIC_AS: u32 = 65000;

/// The fabric address (and router id) of hypervisor `i` (1-based).
pub fn fabric_address(i: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 10 + i)
}

/// The switch, the hypervisors and their daemons. Daemons are declared
/// first so they stop before their namespaces go.
pub struct Fabric {
    pub daemons: Vec<Daemon>,
    pub hv: Vec<Netns>,
    pub sw: Netns,
}

impl Fabric {
    /// Creates the switch and `count` hypervisors, starts a daemon on each
    /// (its configuration passed through `configure(i, default)` first,
    /// started as `launch` says), and waits until every session is
    /// established.
    pub fn start(
        lab: &Lab,
        count: u8,
        launch: &Launch,
        timeout: Duration,
        configure: impl Fn(u8, DaemonConfig) -> DaemonConfig,
    ) -> Result<Fabric> {
        let sw = Netns::new(lab, "sw")?;
        sw.ip(&["link", "add", "br0", "type", "bridge"])?;
        sw.ip(&["link", "set", "br0", "up"])?;
        let mut hv = Vec::new();
        for i in 1..=count {
            let ns = Netns::new(lab, &format!("hv{i}"))?;
            let port = format!("p{i}");
            let link = crate::link::veth(&ns, "up0", &sw, &port)?;
            link.a
                .add_addr(ipnet::IpNet::new_assert(IpAddr::V4(fabric_address(i)), 24))?;
            // A global IPv6 address too (no DAD), so IPv6 host routes get
            // a next hop over the IPv4 sessions: 2001:db8:ff::(10+i).
            ns.ip(&[
                "-6",
                "addr",
                "add",
                &format!("2001:db8:ff::{}/64", 10 + i),
                "dev",
                "up0",
                "nodad",
            ])?;
            link.a.up()?;
            link.b.up()?;
            sw.ip(&["link", "set", &port, "master", "br0"])?;
            hv.push(ns);
        }
        let mut daemons = Vec::new();
        for (i, ns) in (1..=count).zip(&hv) {
            let mut config = DaemonConfig::new(fabric_address(i), FABRIC_AS);
            for j in (1..=count).filter(|j| *j != i) {
                config = config.peer(IpAddr::V4(fabric_address(j)), FABRIC_AS);
            }
            let config = configure(i, config);
            let peers = config.peers.len();
            daemons.push((Daemon::start_with(ns, &config, launch)?, peers));
        }
        for (d, configured) in &daemons {
            let established = wait_until("every session established", timeout, POLL, || {
                let peers = d.show(&["peers"])?;
                Ok(peers.as_array().is_some_and(|a| {
                    a.len() == *configured && a.iter().all(|p| p["state"] == "established")
                }))
            });
            if let Err(e) = established {
                return Err(d.failure(e.to_string()));
            }
        }
        let daemons = daemons.into_iter().map(|(d, _)| d).collect();
        Ok(Fabric { daemons, hv, sw })
    }
}
