//! Links between namespaces: veth pairs, addresses, MACs, and moving an end
//! to another namespace (how a live migration is modelled: the VM keeps its
//! end, the hypervisor end moves).
//!
//! Links need no guard of their own: a veth pair disappears with either of
//! its namespaces.

use std::fmt;
use std::str::FromStr;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::process::run_command;

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// An Ethernet address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl FromStr for Mac {
    type Err = Error;

    fn from_str(s: &str) -> Result<Mac> {
        let bad = || Error::parse("MAC address", format!("{s:?} is not xx:xx:xx:xx:xx:xx"));
        let mut bytes = [0u8; 6];
        let mut parts = s.split(':');
        for byte in &mut bytes {
            let part = parts.next().ok_or_else(bad)?;
            if part.len() != 2 {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Mac(bytes))
    }
}

/// One interface in one namespace, addressed by names (so it stays valid
/// across moves, and operations on a deleted namespace fail with an error
/// naming the `ip` command).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    netns: String,
    name: String,
}

/// Both ends of a veth pair.
#[derive(Clone, Debug)]
pub struct Veth {
    pub a: Iface,
    pub b: Iface,
}

impl Veth {
    /// Creates a veth pair `a_name` (in `a`) <-> `b_name` (in `b`), both up,
    /// without addresses. The pair is created inside the namespaces, so the
    /// names only need to be unique there.
    pub fn new(a: &Netns, a_name: &str, b: &Netns, b_name: &str) -> Result<Veth> {
        check_ifname(a_name)?;
        check_ifname(b_name)?;
        a.ip(&[
            "link",
            "add",
            a_name,
            "type",
            "veth",
            "peer",
            "name",
            b_name,
            "netns",
            b.name(),
        ])?;
        let veth = Veth {
            a: Iface::new(a, a_name),
            b: Iface::new(b, b_name),
        };
        veth.a.up()?;
        veth.b.up()?;
        Ok(veth)
    }
}

/// Shorthand for [`Veth::new`].
pub fn veth(a: &Netns, a_name: &str, b: &Netns, b_name: &str) -> Result<Veth> {
    Veth::new(a, a_name, b, b_name)
}

fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > IFNAME_MAX || name.contains(['/', ' ', ':']) {
        return Err(Error::Config(format!(
            "interface name {name:?}: must be 1 to {IFNAME_MAX} characters without '/', ':' or spaces"
        )));
    }
    Ok(())
}

impl Iface {
    /// Refers to an existing interface `name` in `netns`.
    pub fn new(netns: &Netns, name: &str) -> Iface {
        Iface {
            netns: netns.name().to_string(),
            name: name.to_string(),
        }
    }

    /// The namespace the interface is in now.
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn ip(&self, args: &[&str]) -> Result<String> {
        run_command(
            std::process::Command::new("ip")
                .args(["-n", &self.netns])
                .args(args),
        )
    }

    /// Sets the link up.
    pub fn up(&self) -> Result<()> {
        self.ip(&["link", "set", "dev", &self.name, "up"]).map(drop)
    }

    /// Sets the link down.
    pub fn down(&self) -> Result<()> {
        self.ip(&["link", "set", "dev", &self.name, "down"])
            .map(drop)
    }

    /// Adds an address. IPv6 addresses are added `nodad`, so they are usable
    /// at once instead of after duplicate address detection.
    pub fn add_addr(&self, addr: IpNet) -> Result<()> {
        let addr = addr.to_string();
        let mut args = vec!["addr", "add", &addr, "dev", &self.name];
        if addr.contains(':') {
            args.push("nodad");
        }
        self.ip(&args).map(drop)
    }

    /// Removes an address.
    pub fn del_addr(&self, addr: IpNet) -> Result<()> {
        self.ip(&["addr", "del", &addr.to_string(), "dev", &self.name])
            .map(drop)
    }

    /// The addresses on the interface (global and link-local).
    pub fn addrs(&self) -> Result<Vec<IpNet>> {
        let out = self.ip(&["-o", "addr", "show", "dev", &self.name])?;
        let mut addrs = Vec::new();
        for line in out.lines() {
            let mut words = line.split_whitespace();
            while let Some(word) = words.next() {
                if (word == "inet" || word == "inet6")
                    && let Some(net) = words.next().and_then(|a| a.parse().ok())
                {
                    addrs.push(net);
                }
            }
        }
        Ok(addrs)
    }

    /// Sets the Ethernet address.
    pub fn set_mac(&self, mac: Mac) -> Result<()> {
        self.ip(&[
            "link",
            "set",
            "dev",
            &self.name,
            "address",
            &mac.to_string(),
        ])
        .map(drop)
    }

    /// The Ethernet address.
    pub fn mac(&self) -> Result<Mac> {
        let out = self.ip(&["-o", "link", "show", "dev", &self.name])?;
        let mut words = out.split_whitespace();
        while let Some(word) = words.next() {
            if word == "link/ether"
                && let Some(mac) = words.next()
            {
                return mac.parse();
            }
        }
        Err(Error::parse(
            format!("link {} in {}", self.name, self.netns),
            "no link/ether",
        ))
    }

    /// The interface index (in its current namespace).
    pub fn index(&self) -> Result<u32> {
        let out = self.ip(&["-o", "link", "show", "dev", &self.name])?;
        out.split(':')
            .next()
            .and_then(|i| i.trim().parse().ok())
            .ok_or_else(|| Error::parse(format!("index of {}", self.name), out.trim()))
    }

    /// Whether the link is administratively up and its carrier is up
    /// (`LOWER_UP`).
    pub fn is_up(&self) -> Result<bool> {
        let out = self.ip(&["-o", "link", "show", "dev", &self.name])?;
        let flags = out
            .split(['<', '>'])
            .nth(1)
            .ok_or_else(|| Error::parse(format!("flags of {}", self.name), out.trim()))?;
        let flags: Vec<&str> = flags.split(',').collect();
        Ok(flags.contains(&"UP") && flags.contains(&"LOWER_UP"))
    }

    /// Moves the interface into `to`, keeping its name, and sets it up there.
    ///
    /// The kernel drops the interface's addresses on the way (the other end
    /// of a veth keeps its own), and the link is down while it moves: the old
    /// namespace sees it vanish, the new one sees it appear.
    pub fn move_to(&mut self, to: &Netns) -> Result<()> {
        let name = self.name.clone();
        self.move_to_as(to, &name)
    }

    /// Moves the interface into `to` under a new name and sets it up there.
    pub fn move_to_as(&mut self, to: &Netns, new_name: &str) -> Result<()> {
        check_ifname(new_name)?;
        let mut args = vec!["link", "set", "dev", &self.name, "netns", to.name()];
        if new_name != self.name {
            args.extend(["name", new_name]);
        }
        self.ip(&args)?;
        self.netns = to.name().to_string();
        self.name = new_name.to_string();
        self.up()
    }

    /// Deletes the interface (for a veth, both ends).
    pub fn delete(self) -> Result<()> {
        self.ip(&["link", "del", "dev", &self.name]).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_round_trips() {
        let mac: Mac = "02:00:5e:10:00:0a".parse().unwrap();
        assert_eq!(mac.0, [2, 0, 0x5e, 0x10, 0, 0x0a]);
        assert_eq!(mac.to_string(), "02:00:5e:10:00:0a");
        assert!("02:00:5e:10:00".parse::<Mac>().is_err());
        assert!("02:00:5e:10:00:0a:01".parse::<Mac>().is_err());
        assert!("2:00:5e:10:00:0a".parse::<Mac>().is_err());
    }

    #[test]
    fn interface_names_are_checked() {
        assert!(check_ifname("veth-hv1-vm1").is_ok());
        assert!(check_ifname("a-very-long-name").is_err());
        assert!(check_ifname("").is_err());
    }
}
