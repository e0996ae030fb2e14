//! L2-stretch mode, the baseline: the VM subnet is one broadcast domain
//! bridged between the hypervisors over VXLAN, and its gateway lives only on
//! the first site's router. No host routes: the client reaches the whole
//! subnet through that router, wherever the VM runs — the trombone.
//!
//! ```text
//!   r1: gw0 10.1.1.1/24 ──veth── hv1: br0 ── tap-vm1 ── vm1
//!                                       └── vx0 (VNI 100) ══ VXLAN over r1, r2 ══╗
//!                                hv3: br0 ── vx0 ════════════════════════════════╝
//!                                       └── (tap-vm1 after the move)
//! ```
//!
//! Each hypervisor's `vx0` floods unknown and broadcast frames to every
//! other hypervisor (head-end replication: one all-zero FDB entry per
//! remote tunnel endpoint) and learns MACs from what it receives, so the
//! VM's RARP after a move teaches hv1's bridge where the VM went.

use std::net::Ipv4Addr;

use crate::error::Result;
use crate::link::{Mac, veth};
use crate::netns::Netns;
use crate::vm::VM_MTU;

/// The bridge in each hypervisor.
pub const BRIDGE: &str = "br0";
/// The VXLAN device in each hypervisor.
pub const VXLAN: &str = "vx0";
/// The gateway's interface on the gateway router.
pub const GATEWAY_IFACE: &str = "gw0";
/// VXLAN's IANA port.
const VXLAN_PORT: &str = "4789";

/// Creates `br0` and `vx0` in a hypervisor whose tunnel endpoint is
/// `local`, flooding to `remotes`.
pub fn bridge_hypervisor(
    hv: &Netns,
    local: Ipv4Addr,
    remotes: &[Ipv4Addr],
    vni: u32,
) -> Result<()> {
    hv.ip(&["link", "add", BRIDGE, "type", "bridge"])?;
    hv.ip(&[
        "link",
        "add",
        VXLAN,
        "type",
        "vxlan",
        "id",
        &vni.to_string(),
        "local",
        &local.to_string(),
        "dstport",
        VXLAN_PORT,
    ])?;
    hv.ip(&["link", "set", "dev", VXLAN, "mtu", &VM_MTU.to_string()])?;
    hv.ip(&["link", "set", "dev", VXLAN, "master", BRIDGE, "up"])?;
    hv.ip(&["link", "set", "dev", BRIDGE, "up"])?;
    for remote in remotes {
        hv.run(
            "bridge",
            &[
                "fdb",
                "append",
                "00:00:00:00:00:00",
                "dev",
                VXLAN,
                "dst",
                &remote.to_string(),
            ],
        )?;
    }
    Ok(())
}

/// Puts `iface` into the hypervisor's bridge, up.
pub fn attach(hv: &Netns, iface: &str) -> Result<()> {
    hv.ip(&["link", "set", "dev", iface, "master", BRIDGE, "up"])
        .map(drop)
}

/// Gives the gateway router an interface on the stretched segment: a veth
/// from `router` (`gw0`, the gateway address on the subnet, the gateway MAC)
/// into `hv`'s bridge.
pub fn attach_gateway(
    router: &Netns,
    hv: &Netns,
    gateway: Ipv4Addr,
    prefix_len: u8,
    mac: Mac,
) -> Result<()> {
    let link = veth(router, GATEWAY_IFACE, hv, "gw-port")?;
    link.a.down()?;
    link.a.set_mac(mac)?;
    for (ns, iface) in [(router, GATEWAY_IFACE), (hv, "gw-port")] {
        ns.ip(&["link", "set", "dev", iface, "mtu", &VM_MTU.to_string()])?;
    }
    link.a.up()?;
    link.a.add_addr(ipnet::IpNet::V4(
        ipnet::Ipv4Net::new(gateway, prefix_len)
            .map_err(|e| crate::Error::Config(format!("gateway prefix: {e}")))?,
    ))?;
    attach(hv, "gw-port")
}
