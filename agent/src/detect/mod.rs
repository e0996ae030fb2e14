//! Detection: sources that notice a VM arriving on or leaving this
//! hypervisor, each behind one [`Detector`] trait.
//!
//! Detectors only *report* what they saw, as [`Sighting`]s; they never
//! decide. The pure [`crate::inventory`] takes the sightings of every source
//! (in any interleaving) and decides what arrives, departs or is rejected.
//!
//! ```text
//!   kernel ──RTNLGRP_LINK──────> LinkDetector ──┐
//!   kernel ──RTNLGRP_NEIGH─────> NeighDetector ─┤  Stream<Sighting>
//!   VM-facing links ─AF_PACKET─> AnnounceDetector ┼──────────────> inventory ─> decisions
//!   control socket (later) ────> Hook sightings ┘
//! ```
//!
//! Every netlink detector subscribes to its multicast groups *before* it
//! dumps the kernel's current state, so an event between the dump and the
//! subscription cannot be lost; the dump and the queued events are then
//! deduplicated against a table of what was already reported. A netlink
//! overrun (the kernel dropped events because our socket buffer was full)
//! makes the detector report [`Sighting::Resync`] and dump again.
//!
//! Only VM-facing interfaces are reported: those whose name an
//! [`InterfaceMatcher`] accepts (`tap*`, `vnet*`, explicit names).

pub mod announce;
pub mod link;
pub mod neigh;

use std::fmt;
use std::net::IpAddr;
use std::pin::Pin;
use std::str::FromStr;
use std::time::SystemTime;

use futures::Stream;
use serde::{Deserialize, Serialize};

pub use announce::AnnounceDetector;
pub use link::LinkDetector;
pub use neigh::NeighDetector;

/// An Ethernet address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// The gateway MAC Calico uses on every host: `ee:ee:ee:ee:ee:ee`
    /// (unicast, locally administered).
    pub const ANYCAST_DEFAULT: MacAddr = MacAddr([0xee; 6]);

    /// The MAC in a 6-byte slice, `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        <[u8; 6]>::try_from(bytes).ok().map(MacAddr)
    }

    /// Whether the group (multicast/broadcast) bit is set.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 == 1
    }

    /// Whether this is `00:00:00:00:00:00`.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A MAC that is not `xx:xx:xx:xx:xx:xx` (hex digits).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a MAC address (expected xx:xx:xx:xx:xx:xx)")]
pub struct BadMac(pub String);

impl FromStr for MacAddr {
    type Err = BadMac;

    fn from_str(s: &str) -> Result<MacAddr, BadMac> {
        let bad = || BadMac(s.to_string());
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
        Ok(MacAddr(bytes))
    }
}

impl Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MacAddr, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Something a detector saw. Facts only: the inventory decides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Sighting {
    /// A VM-facing interface appeared, went up or down, or was removed.
    Link(LinkSighting),
    /// The kernel learned (or refreshed) an IPv4 ARP or IPv6 ND entry on a
    /// VM-facing interface.
    Neighbour(NeighbourSighting),
    /// A VM announced itself on a VM-facing interface (RARP, gratuitous
    /// ARP, unsolicited neighbour advertisement).
    Announcement(Announcement),
    /// An explicit hook (control socket, libvirt qemu hook).
    Hook(Hook),
    /// The detector lost kernel events (netlink overrun) and read the
    /// kernel's state again; the sightings that follow restate what changed
    /// meanwhile (a link gone while events were lost comes as `Removed`).
    Resync {
        /// [`Detector::name`] of the source.
        detector: &'static str,
    },
}

/// What happened to a VM-facing interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkEvent {
    /// The interface exists now (created, moved into this namespace, or
    /// renamed to a VM-facing name). If it is up, `Up` follows at once.
    Appeared,
    /// Administratively up and carrier up (`IFF_UP` and `IFF_LOWER_UP`).
    Up,
    /// No longer both administratively up and with carrier.
    Down,
    /// The interface is gone (deleted, moved to another namespace, or
    /// renamed to a name that is not VM-facing).
    Removed,
}

/// A [`LinkEvent`] on one interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkSighting {
    pub event: LinkEvent,
    pub ifindex: u32,
    pub ifname: String,
    /// The interface's own MAC (the hypervisor side; for a VM-facing
    /// interface under the anycast gateway, the gateway MAC).
    pub mac: Option<MacAddr>,
}

/// A neighbour cache entry's NUD state (`NUD_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NudState {
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
    Noarp,
    Permanent,
    None,
    Other(u16),
}

impl NudState {
    /// `NUD_VALID`: the entry holds a link-layer address that was confirmed
    /// at some point (reachable, stale, delay, probe, permanent, noarp).
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            NudState::Reachable
                | NudState::Stale
                | NudState::Delay
                | NudState::Probe
                | NudState::Permanent
                | NudState::Noarp
        )
    }
}

/// An ARP (IPv4) or ND (IPv6) entry for `ip` on a VM-facing interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NeighbourSighting {
    pub ifindex: u32,
    pub ifname: String,
    pub ip: IpAddr,
    pub mac: MacAddr,
    pub state: NudState,
}

/// The kind of frame a VM announced itself with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AnnouncementKind {
    /// Reverse ARP (ethertype 0x8035), what QEMU sends for each NIC after a
    /// live migration: carries the VM's MAC only.
    Rarp,
    /// An ARP request or reply whose sender IP equals its target IP.
    GratuitousArp,
    /// An ICMPv6 neighbour advertisement (type 136) with the Solicited flag
    /// clear and the Override flag set.
    UnsolicitedNa,
}

/// A VM announcing itself on a VM-facing interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Announcement {
    pub kind: AnnouncementKind,
    pub ifindex: u32,
    pub ifname: String,
    /// The VM's MAC (RARP and ARP sender hardware address; NA target
    /// link-layer address option, or the frame's source when absent).
    pub mac: MacAddr,
    /// The announced address (`None` for RARP).
    pub ip: Option<IpAddr>,
    /// When the kernel received the frame (`SO_TIMESTAMPNS`; the time it was
    /// read if the kernel gave none), for detection-to-advertise latency.
    pub received: SystemTime,
}

/// An explicit hook from the control socket (`vm attach | detach |
/// migrate-begin`), e.g. called by libvirt's qemu hook.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Hook {
    /// The VM runs here now, on `ifname`, with these addresses.
    Attach {
        vm: String,
        ifname: String,
        addresses: Vec<IpAddr>,
        #[serde(default)]
        mac: Option<MacAddr>,
    },
    /// The VM's interface is going away (shutdown, or migration finished).
    Detach { vm: String, ifname: String },
    /// A live migration toward this host started: prepare (route ready,
    /// not advertised); the VM's first announcement activates it.
    MigrateBegin {
        vm: String,
        ifname: String,
        addresses: Vec<IpAddr>,
        #[serde(default)]
        mac: Option<MacAddr>,
    },
}

/// Why a detector stopped.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// A socket could not be opened or configured.
    #[error("{detector}: {what}: {source}")]
    Io {
        detector: &'static str,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A netlink request failed.
    #[error("{detector}: {what}: {source}")]
    Netlink {
        detector: &'static str,
        what: &'static str,
        #[source]
        source: rtnetlink::Error,
    },
    /// The netlink connection closed under us.
    #[error("{detector}: the netlink connection closed")]
    Closed { detector: &'static str },
}

/// A detector's sightings, in the order it saw them. The stream ends after
/// an error.
pub type SightingStream = Pin<Box<dyn Stream<Item = Result<Sighting, DetectError>> + Send>>;

/// A source of sightings.
///
/// Constructors subscribe to their event source (so nothing that happens
/// afterwards is missed); [`Detector::sightings`] first reports the state
/// that already exists, then follows events, deduplicated.
pub trait Detector: Send {
    /// A short name for logs (`link`, `neigh`, `announce`, `hook`).
    fn name(&self) -> &'static str;

    /// Turns the subscribed detector into its stream of sightings.
    fn sightings(self: Box<Self>) -> SightingStream;
}

/// A bad interface pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interface pattern {pattern:?}: {reason}")]
pub struct BadPattern {
    pub pattern: String,
    pub reason: &'static str,
}

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// Which interfaces face VMs: glob patterns (`*` any run of characters,
/// `?` one character; `tap*`, `vnet*`) and explicit names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceMatcher {
    patterns: Vec<String>,
}

impl InterfaceMatcher {
    /// The usual libvirt/QEMU names: `tap*` and `vnet*`.
    pub fn libvirt_default() -> InterfaceMatcher {
        InterfaceMatcher {
            patterns: vec!["tap*".into(), "vnet*".into()],
        }
    }

    /// A matcher from patterns and explicit names. An explicit name is a
    /// pattern without `*` or `?`.
    pub fn new<I, S>(patterns: I) -> Result<InterfaceMatcher, BadPattern>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out = Vec::new();
        for pattern in patterns {
            let pattern = pattern.into();
            let bad = |reason| BadPattern {
                pattern: pattern.clone(),
                reason,
            };
            if pattern.is_empty() {
                return Err(bad("empty"));
            }
            if pattern.contains(['/', ' ', ':']) || pattern.chars().any(char::is_control) {
                return Err(bad(
                    "interface names have no '/', ':', spaces or control characters",
                ));
            }
            let literal = pattern.chars().filter(|c| *c != '*').count();
            if literal > IFNAME_MAX {
                return Err(bad("longer than an interface name can be (15 characters)"));
            }
            out.push(pattern);
        }
        Ok(InterfaceMatcher { patterns: out })
    }

    /// The patterns, as given.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `ifname` is VM-facing.
    pub fn matches(&self, ifname: &str) -> bool {
        let name: Vec<char> = ifname.chars().collect();
        self.patterns.iter().any(|p| {
            let pattern: Vec<char> = p.chars().collect();
            glob(&pattern, &name)
        })
    }
}

/// Glob match with `*` and `?`, iterative with one backtrack point (linear
/// in practice, no recursion, no indexing).
fn glob(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (pattern, name);
    // Where to resume after the last `*`: the pattern after it, and the
    // name position it has absorbed up to.
    let mut star: Option<(&[char], &[char])> = None;
    loop {
        match (p.split_first(), n.split_first()) {
            (Some(('*', rest)), _) => {
                star = Some((rest, n));
                p = rest;
            }
            (Some((pc, prest)), Some((nc, nrest))) if *pc == '?' || pc == nc => {
                p = prest;
                n = nrest;
            }
            (None, None) => return true,
            _ => match star {
                Some((after, absorbed)) => match absorbed.split_first() {
                    Some((_, more)) => {
                        star = Some((after, more));
                        p = after;
                        n = more;
                    }
                    None => return false,
                },
                None => return false,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_names_match_and_others_do_not() {
        let m = InterfaceMatcher::libvirt_default();
        for name in ["vnet0", "vnet12", "tap0", "tapa1b2c3d4-5e", "vnet"] {
            assert!(m.matches(name), "{name}");
        }
        for name in ["eth0", "lo", "xvnet0", "ta", "bond0"] {
            assert!(!m.matches(name), "{name}");
        }
    }

    #[test]
    fn explicit_names_and_wildcards_in_the_middle() {
        let m = InterfaceMatcher::new(["vm-web1", "v?-*-x", "*-vm"]).unwrap();
        assert!(m.matches("vm-web1"));
        assert!(!m.matches("vm-web10"));
        assert!(m.matches("vm-a-x"));
        assert!(m.matches("v1-abc-def-x"));
        assert!(!m.matches("v12-a-x"));
        assert!(m.matches("blue-vm"));
        assert!(m.matches("-vm"));
        assert!(!m.matches("blue-vmx"));
        assert!(InterfaceMatcher::new([""]).is_err());
        assert!(InterfaceMatcher::new(["a/b"]).is_err());
        assert!(InterfaceMatcher::new(["a-very-long-name1"]).is_err());
        assert!(InterfaceMatcher::new(["a-very-long-nam*"]).is_ok());
    }

    #[test]
    fn glob_handles_many_stars_without_blowing_up() {
        let pattern: Vec<char> = "*a*a*a*a*a*b".chars().collect();
        let name: Vec<char> = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".chars().collect();
        assert!(!glob(&pattern, &name));
        let pattern: Vec<char> = "**".chars().collect();
        assert!(glob(&pattern, &[]));
    }

    #[test]
    fn mac_round_trips_and_rejects_garbage() {
        let mac: MacAddr = "02:00:5e:10:00:0a".parse().unwrap();
        assert_eq!(mac.0, [2, 0, 0x5e, 0x10, 0, 0x0a]);
        assert_eq!(mac.to_string(), "02:00:5e:10:00:0a");
        for bad in [
            "02:00:5e:10:00",
            "02:00:5e:10:00:0a:01",
            "2:00:5e:10:00:0a",
            "zz:00:00:00:00:00",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
        assert_eq!(
            serde_json::to_string(&MacAddr::ANYCAST_DEFAULT).unwrap(),
            "\"ee:ee:ee:ee:ee:ee\""
        );
        assert!(!MacAddr::ANYCAST_DEFAULT.is_multicast());
    }

    #[test]
    fn hooks_parse_from_json() {
        let hook: Hook = serde_json::from_str(
            r#"{"op":"migrate-begin","vm":"web1","ifname":"vnet3","addresses":["10.1.1.5","2001:db8::5"]}"#,
        )
        .unwrap();
        assert_eq!(
            hook,
            Hook::MigrateBegin {
                vm: "web1".into(),
                ifname: "vnet3".into(),
                addresses: vec!["10.1.1.5".parse().unwrap(), "2001:db8::5".parse().unwrap()],
                mac: None,
            }
        );
        assert!(
            serde_json::from_str::<Hook>(r#"{"op":"detach","vm":"a","ifname":"b","x":1}"#).is_err()
        );
    }
}
