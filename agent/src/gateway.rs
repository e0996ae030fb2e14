//! The anycast gateway: every VM-facing interface, on every hypervisor,
//! looks like the same router to the VM behind it.
//!
//! The VM keeps its configuration (say 10.1.1.5/24, gateway 10.1.1.1,
//! and 2001:db8:1::5/64, gateway 2001:db8:1::1) wherever it runs. On each
//! VM-facing interface (the hypervisor side of its tap or veth),
//! [`AnycastGateway::apply`]:
//!
//! 1. sets the interface's MAC to the configured gateway MAC, the same on
//!    every hypervisor (Calico's `ee:ee:ee:ee:ee:ee` by default). The VM's
//!    ARP/ND cache entry for its gateway therefore stays right after a live
//!    move: the first packet after the move leaves through the new, local
//!    hypervisor, with no ARP needed.
//! 2. IPv4: adds each gateway address as a `/32`, scope link, on the
//!    interface, so the kernel answers the VM's ARP for its gateway and its
//!    pings to it from this interface, with the gateway MAC; and turns on
//!    `proxy_arp`, so ARP for any other address the host routes elsewhere
//!    (another VM in "the same subnet", here or on another hypervisor) is
//!    answered too, with the gateway MAC, and the traffic is routed by host
//!    routes. ARP for the VM's own address is not answered (its host route
//!    points back out the same interface), so the VM's duplicate address
//!    detection never trips.
//!
//!    Why an address and not proxy ARP alone (Calico's way): proxy ARP
//!    only answers for targets routed through *another* interface, so the
//!    gateway address would need a route elsewhere on every host (Calico
//!    points the VM at 169.254.1.1 and relies on a default route). A local
//!    `/32` answers on every host, with or without a default route, and
//!    lets the VM ping its gateway. The same `/32` on many interfaces is
//!    fine for Linux; the address is never advertised.
//! 3. IPv6: a proxy NDP entry for each gateway address on the interface
//!    (`ip -6 neigh add proxy <gw> dev <if>`, via netlink) with `proxy_ndp`
//!    on, so the kernel answers the VM's neighbour solicitations for its
//!    gateway with the gateway MAC (as a router). Also the link-local
//!    address derived from the gateway MAC (EUI-64, `fe80::ecee:eeff:feee:eeee`
//!    for the default MAC), added without DAD: identical on every
//!    hypervisor, so a VM that routes via the link-local gateway (as
//!    router advertisements teach) keeps its neighbour entry after a move.
//! 4. `proxy_delay` 0 for both families, so proxy answers go out at once
//!    (the kernel otherwise delays answers to broadcast/multicast requests
//!    by up to 0.8 s), `forwarding` on for the interface and for the
//!    namespace (IPv6 forwards only with `all.forwarding`), and
//!    `accept_ra` 0 on the interface (a VM does not get to route us).
//!
//! `proxy_arp_pvlan` is not needed: each VM has its own interface, so no
//! ARP has to be answered back out the interface it came in on.
//!
//! Netlink (rtnetlink) makes the link, address and proxy-neighbour changes;
//! sysctls are written to `/proc/sys`, synchronously, on the calling
//! thread, so they land in that thread's network namespace. Everything is
//! idempotent: applying twice changes nothing the second time, and sysctls
//! already right are not rewritten.
//!
//! Not covered: a VM's neighbour solicitations for *other* IPv6 addresses
//! of its on-link prefix (Linux has no "proxy all" for ND); IPv6 VMs should
//! reach everything through the gateway (an on-link /128 or a router
//! advertisement without the on-link flag), or the caller adds proxy
//! entries. The IPv6 gateway address answers ND but is not a local
//! address, so pings to it are routed, not answered.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressScope};
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::neighbour::NeighbourFlags;
use rtnetlink::{Handle, LinkUnspec};
use serde::{Deserialize, Serialize};
use tracing::{debug, info};

use crate::detect::MacAddr;

/// The gateway every VM sees.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GatewayConfig {
    /// The MAC of every VM-facing interface, on every hypervisor.
    pub mac: MacAddr,
    /// IPv4 gateway addresses (one per VM subnet).
    #[serde(default)]
    pub ipv4: Vec<Ipv4Addr>,
    /// IPv6 gateway addresses (one per VM subnet).
    #[serde(default)]
    pub ipv6: Vec<Ipv6Addr>,
}

impl GatewayConfig {
    /// The link-local address derived from the gateway MAC (modified
    /// EUI-64, RFC 4291 appendix A).
    pub fn link_local(&self) -> Ipv6Addr {
        let [a, b, c, d, e, f] = self.mac.0;
        Ipv6Addr::from([
            0xfe,
            0x80,
            0,
            0,
            0,
            0,
            0,
            0,
            a ^ 0x02,
            b,
            c,
            0xff,
            0xfe,
            d,
            e,
            f,
        ])
    }
}

/// What failed while making an interface an anycast gateway port.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("sysctl {}: {source}", path.display())]
    Sysctl {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} on {ifname}: {source}")]
    Netlink {
        what: &'static str,
        ifname: String,
        #[source]
        source: rtnetlink::Error,
    },
    #[error("interface {ifname} (index {ifindex}) not found")]
    NoSuchInterface { ifname: String, ifindex: u32 },
}

/// Applies the anycast gateway to VM-facing interfaces (see the module
/// docs).
#[derive(Clone, Debug)]
pub struct AnycastGateway {
    handle: Handle,
    config: GatewayConfig,
    sysctl_root: PathBuf,
}

impl AnycastGateway {
    /// A gateway that talks netlink through `handle` (a connection opened
    /// in the namespace to configure).
    pub fn new(handle: Handle, config: GatewayConfig) -> AnycastGateway {
        AnycastGateway {
            handle,
            config,
            sysctl_root: PathBuf::from("/proc/sys"),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Makes `ifname` (index `ifindex`) an anycast gateway port. Idempotent.
    /// Call it on a thread in the interface's namespace (sysctls).
    pub async fn apply(&self, ifindex: u32, ifname: &str) -> Result<(), GatewayError> {
        let ipv6 = self.sysctl_root.join("net/ipv6").exists();
        // Namespace-wide forwarding first: a hypervisor running hostroute
        // is a router.
        self.sysctl("net/ipv4/ip_forward", "1")?;
        if ipv6 {
            self.sysctl("net/ipv6/conf/all/forwarding", "1")?;
        }
        self.set_mac(ifindex, ifname).await?;

        self.sysctl(&format!("net/ipv4/conf/{ifname}/forwarding"), "1")?;
        self.sysctl(&format!("net/ipv4/conf/{ifname}/proxy_arp"), "1")?;
        self.sysctl(&format!("net/ipv4/neigh/{ifname}/proxy_delay"), "0")?;
        for gw in &self.config.ipv4 {
            self.add_address(ifindex, ifname, IpAddr::V4(*gw), 32, AddressScope::Link)
                .await?;
        }

        if ipv6 {
            self.sysctl(&format!("net/ipv6/conf/{ifname}/accept_ra"), "0")?;
            self.sysctl(&format!("net/ipv6/conf/{ifname}/forwarding"), "1")?;
            self.sysctl(&format!("net/ipv6/conf/{ifname}/proxy_ndp"), "1")?;
            self.sysctl(&format!("net/ipv6/neigh/{ifname}/proxy_delay"), "0")?;
            let link_local = self.config.link_local();
            self.add_address(
                ifindex,
                ifname,
                IpAddr::V6(link_local),
                64,
                AddressScope::Link,
            )
            .await?;
            for gw in &self.config.ipv6 {
                self.handle
                    .neighbours()
                    .add(ifindex, IpAddr::V6(*gw))
                    .flags(NeighbourFlags::Proxy)
                    .execute()
                    .await
                    .map_err(|source| GatewayError::Netlink {
                        what: "adding the proxy NDP entry",
                        ifname: ifname.to_string(),
                        source,
                    })?;
            }
        }
        info!(
            ifname,
            ifindex,
            mac = %self.config.mac,
            ipv4 = ?self.config.ipv4,
            ipv6 = ?self.config.ipv6,
            "anycast gateway applied"
        );
        Ok(())
    }

    async fn set_mac(&self, ifindex: u32, ifname: &str) -> Result<(), GatewayError> {
        let netlink = |what| {
            move |source| GatewayError::Netlink {
                what,
                ifname: ifname.to_string(),
                source,
            }
        };
        let link = self
            .handle
            .link()
            .get()
            .match_index(ifindex)
            .execute()
            .try_next()
            .await
            .map_err(netlink("reading the link"))?
            .ok_or_else(|| GatewayError::NoSuchInterface {
                ifname: ifname.to_string(),
                ifindex,
            })?;
        let current = link.attributes.iter().find_map(|a| match a {
            LinkAttribute::Address(mac) => MacAddr::from_slice(mac),
            _ => None,
        });
        if current == Some(self.config.mac) {
            return Ok(());
        }
        debug!(ifname, from = ?current, to = %self.config.mac, "setting the gateway MAC");
        self.handle
            .link()
            .change(
                LinkUnspec::new_with_index(ifindex)
                    .address(self.config.mac.0.to_vec())
                    .build(),
            )
            .execute()
            .await
            .map_err(netlink("setting the gateway MAC"))
    }

    async fn add_address(
        &self,
        ifindex: u32,
        ifname: &str,
        address: IpAddr,
        prefix_len: u8,
        scope: AddressScope,
    ) -> Result<(), GatewayError> {
        let mut request = self
            .handle
            .address()
            .add(ifindex, address, prefix_len)
            .replace();
        let message = request.message_mut();
        message.header.scope = scope;
        message
            .attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if address.is_ipv6() {
            message.attributes.push(AddressAttribute::Flags(
                AddressFlags::Nodad | AddressFlags::Noprefixroute,
            ));
        }
        request
            .execute()
            .await
            .map_err(|source| GatewayError::Netlink {
                what: "adding the gateway address",
                ifname: ifname.to_string(),
                source,
            })
    }

    /// Writes `value` to `/proc/sys/<key>` unless it is already there.
    fn sysctl(&self, key: &str, value: &str) -> Result<(), GatewayError> {
        write_sysctl(&self.sysctl_root.join(key), value)
    }
}

fn write_sysctl(path: &Path, value: &str) -> Result<(), GatewayError> {
    let err = |source| GatewayError::Sysctl {
        path: path.to_path_buf(),
        source,
    };
    let current = std::fs::read_to_string(path).map_err(err)?;
    if current.trim() == value {
        return Ok(());
    }
    std::fs::write(path, value).map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_local_gateway_is_the_eui64_of_the_gateway_mac() {
        let config = GatewayConfig {
            mac: MacAddr::ANYCAST_DEFAULT,
            ipv4: vec![],
            ipv6: vec![],
        };
        assert_eq!(
            config.link_local(),
            "fe80::ecee:eeff:feee:eeee".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn sysctls_already_right_are_not_rewritten() {
        let dir = std::env::temp_dir().join(format!("hr-gw-sysctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("proxy_arp");
        std::fs::write(&path, "1\n").unwrap();
        let before = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        write_sysctl(&path, "1").unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().modified().unwrap(),
            before
        );
        write_sysctl(&path, "0").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0");
        assert!(matches!(
            write_sysctl(&dir.join("missing"), "1"),
            Err(GatewayError::Sysctl { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_config_reads_from_toml_like_json() {
        let config: GatewayConfig = serde_json::from_str(
            r#"{"mac":"ee:ee:ee:ee:ee:ee","ipv4":["10.1.1.1"],"ipv6":["2001:db8:1::1"]}"#,
        )
        .unwrap();
        assert_eq!(config.mac, MacAddr::ANYCAST_DEFAULT);
        assert_eq!(config.ipv4, vec![Ipv4Addr::new(10, 1, 1, 1)]);
    }
}
