//! Shared helpers for the workspace integration tests in `tests/tests/`.
//!
//! Tests that need root and network namespaces run in CI (`CI=true`), where
//! they must never skip; elsewhere, without root, they skip and say why.
//! [`speaker`] runs `hr-speakerd` in a namespace.

pub mod agent;
pub mod speaker;

/// Whether namespace tests can run here. Panics in CI without root, so a
/// misconfigured CI fails loudly instead of skipping.
pub fn netns_available(test: &str) -> bool {
    let root = lab_is_root();
    if root {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: CI must run namespace tests as root"
    );
    eprintln!("{test}: skipped: needs root to create network namespaces (run as root, or in CI)");
    false
}

fn lab_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use lab::{Lab, Netns, Veth};

/// Two namespaces joined by one veth, addressed for both families:
///
/// ```text
///   a: v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  b: v1 192.0.2.2/24 2001:db8::2/64
/// ```
///
/// Fields drop in order (a, b); start peers after creating the pair so they
/// stop before their namespaces go.
pub struct Pair {
    pub a: Netns,
    pub b: Netns,
    pub link: Veth,
}

impl Pair {
    pub const A4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    pub const B4: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    pub const A6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    pub const B6: IpAddr = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2));

    /// Creates the namespaces `<label_a>` and `<label_b>` and the link.
    pub fn new(lab: &Lab, label_a: &str, label_b: &str) -> lab::Result<Pair> {
        let a = Netns::new(lab, label_a)?;
        let b = Netns::new(lab, label_b)?;
        let link = lab::veth(&a, "v0", &b, "v1")?;
        for (end, v4, v6) in [(&link.a, Self::A4, Self::A6), (&link.b, Self::B4, Self::B6)] {
            end.add_addr(IpNet::new_assert(v4, 24))?;
            end.add_addr(IpNet::new_assert(v6, 64))?;
        }
        Ok(Pair { a, b, link })
    }

    /// The namespaces' names.
    pub fn names(&self) -> Vec<String> {
        vec![self.a.name().to_string(), self.b.name().to_string()]
    }
}

/// Asserts that none of `namespaces` is listed by `ip netns list`, that none
/// of `pids` is alive, and that none of `paths` (shared state paths a daemon
/// may create, like FRR's `/var/run/frr/<path space>`) exists.
pub fn assert_cleaned_up(namespaces: &[String], pids: &[u32], paths: &[std::path::PathBuf]) {
    let listed = lab::netns::list().unwrap_or_else(|e| panic!("ip netns list: {e}"));
    for name in namespaces {
        assert!(!listed.contains(name), "namespace {name} is still there");
    }
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still runs"
        );
    }
    for path in paths {
        assert!(!path.exists(), "{} left behind", path.display());
    }
}
