//! VMs: a network namespace with one interface, `eth0`, whose other end is
//! the VM's "tap" in its hypervisor's namespace.
//!
//! ```text
//!   VM namespace "hr-..-vm1"                hypervisor namespace "hr-..-hv1"
//!     eth0 52:54:00:..  10.1.1.5/24  <-veth->  tap-vm1
//!          2001:db8:1::5/64                      (hostroute: anycast gateway
//!     default via 10.1.1.1, 2001:db8:1::1         ee:ee:.., 10.1.1.1/32;
//!                                                 L2 stretch: bridge port)
//! ```
//!
//! The VM announces itself as QEMU does after a migration: a RARP from its
//! MAC, a gratuitous ARP and an unsolicited neighbour advertisement, sent
//! through an `AF_PACKET` socket opened inside the VM namespace (the frames
//! are the agent's own builders, which its detector parses).

use std::time::Instant;

use agent::detect::MacAddr;
use agent::detect::announce::build;
use ipnet::{Ipv4Net, Ipv6Net};
use nix::ifaddrs::getifaddrs;
use nix::sys::socket::{MsgFlags, sendto};
use socket2::{Domain, Protocol, Socket, Type};
use std::os::fd::AsRawFd;

use crate::error::{Error, Result};
use crate::hypervisor::VmPort;
use crate::link::{Iface, Mac, veth};
use crate::netns::Netns;
use crate::nsthread;
use crate::run::Lab;
use crate::topology::VmSpec;

/// MTU of a VM's link: room for VXLAN's 50 bytes in L2-stretch mode, the
/// same in both modes so they compare.
pub const VM_MTU: u32 = 1450;

/// A VM: its namespace and the hypervisor end of its link.
pub struct Vm {
    pub name: String,
    pub mac: Mac,
    pub ipv4: Ipv4Net,
    pub ipv6: Ipv6Net,
    /// The tap, wherever it is now.
    pub tap: Iface,
    /// Which hypervisor (topology name) holds the tap.
    pub hypervisor: String,
    pub netns: Netns,
}

impl Vm {
    /// Creates the VM namespace and its link to `hv` (named `hv_name` in the
    /// topology), addresses and default routes via `gateway4` / `gateway6`.
    pub fn create(
        lab: &Lab,
        spec: &VmSpec,
        hv: &Netns,
        hv_name: &str,
        gateway4: std::net::Ipv4Addr,
        gateway6: std::net::Ipv6Addr,
    ) -> Result<Vm> {
        let netns = Netns::new(lab, &spec.name)?;
        netns.set_forwarding(false)?;
        let tap_name = format!("tap-{}", spec.name);
        let link = veth(&netns, "eth0", hv, &tap_name)?;
        let mac: Mac = spec.mac.parse()?;
        link.a.down()?;
        link.a.set_mac(mac)?;
        for iface in [&link.a, &link.b] {
            crate::process::run_command(std::process::Command::new("ip").args([
                "-n",
                iface.netns(),
                "link",
                "set",
                "dev",
                iface.name(),
                "mtu",
                &VM_MTU.to_string(),
            ]))?;
        }
        link.a.up()?;
        link.a.add_addr(spec.ipv4.into())?;
        link.a.add_addr(spec.ipv6.into())?;
        netns.ip(&[
            "route",
            "add",
            "default",
            "via",
            &gateway4.to_string(),
            "dev",
            "eth0",
        ])?;
        netns.ip(&[
            "-6",
            "route",
            "add",
            "default",
            "via",
            &gateway6.to_string(),
            "dev",
            "eth0",
        ])?;
        Ok(Vm {
            name: spec.name.clone(),
            mac,
            ipv4: spec.ipv4,
            ipv6: spec.ipv6,
            tap: link.b,
            hypervisor: hv_name.to_string(),
            netns,
        })
    }

    /// The VM as its hypervisor's agent sees it.
    pub fn port(&self) -> VmPort {
        VmPort {
            vm: self.name.clone(),
            tap: self.tap.name().to_string(),
            mac: self.mac,
            ipv4: self.ipv4,
            ipv6: self.ipv6,
        }
    }

    /// Sends what QEMU sends after a migration (RARP from the VM's MAC),
    /// then a gratuitous ARP for its IPv4 address and an unsolicited NA for
    /// its IPv6 address, out of `eth0`. Returns when the first frame left.
    pub fn announce(&self) -> Result<Instant> {
        let mac = MacAddr(self.mac.0);
        let frames = vec![
            build::rarp(mac),
            build::gratuitous_arp(mac, self.ipv4.addr()),
            build::unsolicited_na(mac, self.ipv6.addr()),
        ];
        nsthread::run(self.netns.name(), move || send_frames("eth0", &frames))
    }
}

/// Sends raw Ethernet `frames` out of `ifname` in the calling thread's
/// namespace; returns when the first one was sent.
pub fn send_frames(ifname: &str, frames: &[Vec<u8>]) -> Result<Instant> {
    let io = |what: &'static str| move |e: std::io::Error| Error::io(what, ifname.to_string(), e);
    // The interface's link-layer address (with its index) as getifaddrs
    // reports it: a ready-made sockaddr_ll to send to.
    let addrs = getifaddrs().map_err(|e| io("listing interfaces for")(e.into()))?;
    let link = addrs
        .filter(|a| a.interface_name == ifname)
        .find_map(|a| a.address.and_then(|s| s.as_link_addr().copied()))
        .ok_or_else(|| Error::Config(format!("no interface {ifname} in the VM namespace")))?;
    let socket = Socket::new(Domain::PACKET, Type::RAW, Some(Protocol::from(0)))
        .map_err(io("opening an AF_PACKET socket on"))?;
    let mut first = None;
    for frame in frames {
        sendto(socket.as_raw_fd(), frame, &link, MsgFlags::empty())
            .map_err(|e| io("sending a frame on")(e.into()))?;
        first.get_or_insert_with(Instant::now);
    }
    first.ok_or_else(|| Error::Config("no frames to send".into()))
}
