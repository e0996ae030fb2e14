//! The real `hostroute daemon` as a hypervisor's agent in hostroute mode.
//!
//! ```text
//!   hypervisor namespace hvN
//!     hostroute daemon --config <run dir>/<hvN>/hostroute.toml
//!       router id = hvN's uplink address, iBGP to the site router (a route
//!       reflector: BIRD or FRR, `next hop self` toward hypervisors)
//!       interfaces tap-*, pools = the topology's, anycast gateway
//!     tap-vm1 <── veth ──> vm1
//! ```
//!
//! The daemon does by itself what the lab did for the `hr-speakerd`
//! stand-in: it sees a VM's tap appear (netlink) and the VM announce itself
//! (RARP, gratuitous ARP, unsolicited NA sniffed on `tap-*`), makes the tap
//! an anycast gateway, originates the /32 and /128 with a mobility
//! sequence, withdraws them when the tap goes, and installs what it learns
//! from the router in the namespace's kernel FIB. So the lab's hooks shrink
//! to what libvirt does on a real host, when a live migration starts: tell
//! the destination (`hostroute vm migrate-begin`). Plugging the tap in
//! (up) is the lab's part, as it is libvirt's. Status comes from the daemon's CLI
//! (`show peers|routes --json`).

use std::net::{IpAddr, Ipv4Addr};

use serde_json::Value;

use crate::daemon::{Daemon, DaemonConfig, Launch};
use crate::error::{Error, Result};
use crate::hypervisor::{HypervisorAgent, VmPort};
use crate::netns::Netns;
use crate::topology::Mobility;

/// `hostroute daemon` in a hypervisor namespace; stopped when dropped.
pub struct HostrouteAgent {
    daemon: Daemon,
    router: Ipv4Addr,
}

impl HostrouteAgent {
    /// Starts the daemon in `netns`: router id `local` (the hypervisor's
    /// uplink address), iBGP (AS `asn`) to the site router at `router`,
    /// VMs on `tap-*` in the pools of `mobility`, its anycast gateway.
    pub fn start(
        netns: &Netns,
        local: Ipv4Addr,
        router: Ipv4Addr,
        asn: u32,
        mobility: &Mobility,
    ) -> Result<HostrouteAgent> {
        let config = DaemonConfig {
            pools: vec![mobility.pool4.to_string(), mobility.pool6.to_string()],
            patterns: vec!["tap-*".into()],
            gateway_mac: mobility.gateway_mac.clone(),
            gateway4: vec![mobility.gateway4.to_string()],
            gateway6: vec![mobility.gateway6.to_string()],
            ..DaemonConfig::new(local, asn).peer(IpAddr::V4(router), asn)
        };
        let launch = Launch {
            log: "info".into(),
            nice: None,
        };
        let daemon = Daemon::start_with(netns, &config, &launch)?;
        Ok(HostrouteAgent { daemon, router })
    }

    /// The daemon (its CLI, log and PID).
    pub fn daemon(&self) -> &Daemon {
        &self.daemon
    }
}

impl HypervisorAgent for HostrouteAgent {
    fn describe(&self) -> String {
        format!(
            "hostroute daemon (pid {}) iBGP to {}; detects VMs, gateway and FIB itself",
            self.daemon
                .pid()
                .map_or_else(|| "-".to_string(), |p| p.to_string()),
            self.router
        )
    }

    fn pids(&self) -> Vec<u32> {
        self.daemon.pid().into_iter().collect()
    }

    fn established(&self) -> Result<bool> {
        let peers = self.daemon.show(&["peers"])?;
        Ok(peers
            .as_array()
            .is_some_and(|a| !a.is_empty() && a.iter().all(|p| p["state"] == "established")))
    }

    fn migration_begins(&mut self, port: &VmPort) -> Result<()> {
        let (v4, v6, mac) = (
            port.ipv4.addr().to_string(),
            port.ipv6.addr().to_string(),
            port.mac.to_string(),
        );
        let args = [
            "vm",
            "migrate-begin",
            "--vm",
            &port.vm,
            "--interface",
            &port.tap,
            "--address",
            &v4,
            "--address",
            &v6,
            "--mac",
            &mac,
        ];
        let out = self.daemon.cli(&args)?;
        if !out.status.success() {
            return Err(Error::Command {
                command: format!("hostroute {}", args.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    }

    /// Nothing: the lab plugs the tap in (up, as libvirt does); the daemon
    /// sees it and makes it a gateway.
    fn port_up(&mut self, _port: &VmPort) -> Result<()> {
        Ok(())
    }

    /// Nothing: the daemon sniffs the announcement itself and picks the
    /// sequence.
    fn vm_announced(&mut self, _port: &VmPort, _sequence: u32) -> Result<Option<u32>> {
        Ok(None)
    }

    /// Nothing: the daemon sees the tap go and withdraws.
    fn port_gone(&mut self, _port: &VmPort) -> Result<()> {
        Ok(())
    }

    fn routes(&self) -> Result<Value> {
        self.daemon.show(&["routes"])
    }
}
