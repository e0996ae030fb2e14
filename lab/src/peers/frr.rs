//! FRR 8 in a namespace: zebra, bgpd and (with BFD) bfdd from
//! `/usr/lib/frr/`, each in the foreground with a unique path space
//! (`-N`), its own vty socket directory, zserv socket, pid file and
//! per-daemon configuration in the run directory; queried with
//! `vtysh --vty_socket <dir> ... json`.
//!
//! The daemons drop to the `frr` user, so their directory is given to it.
//! FRR still creates an empty `/var/run/frr/<path space>/`; the guard removes
//! it (and the empty `/var/tmp/frr/<daemon>.<pid>/` crash-log directories)
//! after the daemons stop. Parallel instances never share a path.
//!
//! Supports: IPv4 and IPv6 unicast (IPv6 over an IPv4 session works),
//! pools, `network` statements with communities, large communities and
//! Route Targets, a next hop per route, password, BFD profiles with
//! per-neighbor timers, GTSM (`ttl-security hops 1`), passive, update
//! source, route-reflector clients; runtime announce/withdraw through
//! vtysh. Cannot: originate extended communities other than Route Targets
//! (e.g. MAC Mobility; FRR does carry any received one through), raw
//! attributes, BFD and GTSM on the same neighbor (bgpd then asks for a
//! multihop BFD session; refused).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use ipnet::IpNet;
use serde_json::Value;

use super::{
    ExtCommunity, Family, POLL, Peer, PeerConfig, Route, RouteEntry, START_TIMEOUT, check_route,
};
use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::process::{Child, run_command, wait_until};
use crate::run::unique_name;

const DAEMON: &str = "frr";
const FRR_BIN: &str = "/usr/lib/frr";
/// FRR's state directory, where `-N` makes a subdirectory.
const FRR_RUN: &str = "/var/run/frr";
/// Where FRR daemons make per-process crash-log directories.
const FRR_TMP: &str = "/var/tmp/frr";

/// A running FRR (zebra, bgpd, and bfdd when a neighbor uses BFD).
pub struct Frr {
    config: PeerConfig,
    dir: PathBuf,
    pathspace: String,
    /// In start order; stopped in reverse.
    daemons: Vec<Child>,
}

impl Frr {
    /// Writes the configuration, starts the daemons inside `netns` and waits
    /// until bgpd answers vtysh.
    pub fn start(netns: &Netns, config: PeerConfig) -> Result<Frr> {
        config.validate()?;
        if config.kernel {
            return Err(Error::unsupported(
                DAEMON,
                "installing routes in the kernel table",
            ));
        }
        for route in &config.originate {
            check_route(DAEMON, route, &supported_ext, false)?;
        }
        if let Some(n) = config
            .neighbors
            .iter()
            .find(|n| n.bfd.is_some() && n.ttl_security)
        {
            // bgpd takes GTSM's TTL 255 for a multihop peer and asks bfdd for
            // a multihop session (UDP 4784), which a single-hop BFD peer
            // never answers.
            return Err(Error::unsupported(
                DAEMON,
                format!(
                    "BFD together with ttl-security (neighbor {}): FRR 8.4 then runs BFD multihop",
                    n.address
                ),
            ));
        }
        let dir = netns.lab().subdir(&format!("frr-{}", netns.name()))?;
        let pathspace = unique_name("frr");
        write(&dir.join("zebra.conf"), "hostname hr-frr\n")?;
        write(&dir.join("bgpd.conf"), &render_bgpd(&config))?;
        let bfd = config.neighbors.iter().any(|n| n.bfd.is_some());
        if bfd {
            write(&dir.join("bfdd.conf"), &render_bfdd(&config))?;
        }
        run_command(Command::new("chown").args(["-R", "frr:frr"]).arg(&dir))?;

        let mut frr = Frr {
            config,
            dir,
            pathspace,
            daemons: Vec::new(),
        };
        frr.spawn(netns, "zebra", &[])?;
        let zserv = frr.dir.join("zserv.api");
        frr.wait_for_file("zebra", &zserv)?;
        if bfd {
            let ctl = frr.dir.join("bfdd.sock");
            let ctl = ctl.to_string_lossy().into_owned();
            frr.spawn(netns, "bfdd", &["--bfdctl", &ctl])?;
            frr.wait_for_file("bfdd", &frr.dir.join("bfdd.vty"))?;
        }
        frr.spawn(netns, "bgpd", &[])?;
        let daemons = &mut frr.daemons;
        let dir = &frr.dir;
        wait_until("FRR bgpd to answer vtysh", START_TIMEOUT, POLL, || {
            for d in daemons.iter_mut() {
                if let Some(e) = d.exited_error() {
                    return Err(e);
                }
            }
            Ok(vtysh_at(dir, &["show bgp summary json"]).is_ok())
        })?;
        Ok(frr)
    }

    fn spawn(&mut self, netns: &Netns, daemon: &str, extra: &[&str]) -> Result<()> {
        let dir = self.dir.to_string_lossy().into_owned();
        let mut command = netns.command(&format!("{FRR_BIN}/{daemon}"));
        command
            .args(["-N", &self.pathspace, "--vty_socket", &dir])
            .args(["-z", &format!("{dir}/zserv.api"), "-P", "0"])
            .args(["--log", "stdout", "--log-level", "info"])
            .args(["-i", &format!("{dir}/{daemon}.pid")])
            .args(["-f", &format!("{dir}/{daemon}.conf")])
            .args(extra)
            .current_dir(&self.dir);
        let child = Child::spawn(
            netns.lab(),
            &format!("frr-{daemon}-{}", netns.name()),
            command,
        )?;
        self.daemons.push(child);
        Ok(())
    }

    fn wait_for_file(&mut self, daemon: &str, path: &Path) -> Result<()> {
        let child = self
            .daemons
            .last_mut()
            .ok_or_else(|| Error::Config("no FRR daemon started".into()))?;
        wait_until(
            &format!("FRR {daemon} to start"),
            START_TIMEOUT,
            POLL,
            || {
                if let Some(e) = child.exited_error() {
                    return Err(e);
                }
                Ok(path.exists())
            },
        )
    }

    /// Runs vtysh with one `-c` per command; fails on a non-zero exit or an
    /// FRR error line (`% ...`).
    pub fn vtysh(&self, commands: &[&str]) -> Result<String> {
        vtysh_at(&self.dir, commands)
    }

    /// Whether bfdd's session with `neighbor` is up.
    pub fn bfd_up(&self, neighbor: IpAddr) -> Result<bool> {
        let out = self.vtysh(&["show bfd peers json"])?;
        let peers: Value =
            serde_json::from_str(&out).map_err(|e| Error::parse("FRR `show bfd peers json`", e))?;
        Ok(peers.as_array().is_some_and(|peers| {
            peers.iter().any(|p| {
                p["peer"].as_str().and_then(|a| a.parse::<IpAddr>().ok()) == Some(neighbor)
                    && p["status"] == "up"
            })
        }))
    }

    /// FRR's own state directory for this instance
    /// (`/var/run/frr/<path space>`), removed when the guard drops.
    pub fn state_dir(&self) -> PathBuf {
        Path::new(FRR_RUN).join(&self.pathspace)
    }

    /// The FRR processes (zebra, bfdd, bgpd).
    pub fn daemons(&mut self) -> &mut [Child] {
        &mut self.daemons
    }
}

fn vtysh_at(dir: &Path, commands: &[&str]) -> Result<String> {
    let mut command = Command::new("vtysh");
    command.arg("--vty_socket").arg(dir);
    for c in commands {
        command.args(["-c", c]);
    }
    let out = run_command(&mut command)?;
    if let Some(line) = out.lines().find(|l| l.trim_start().starts_with('%')) {
        return Err(Error::Command {
            command: format!("vtysh -c {}", commands.join(" -c ")),
            status: "FRR refused".into(),
            stderr: line.trim().to_string(),
        });
    }
    Ok(out)
}

impl Drop for Frr {
    fn drop(&mut self) {
        let pids: Vec<u32> = self.daemons.iter().map(Child::pid).collect();
        while let Some(mut daemon) = self.daemons.pop() {
            let _ = daemon.stop();
        }
        // Only empty directories go; anything else FRR left is a finding.
        let _ = std::fs::remove_dir(Path::new(FRR_RUN).join(&self.pathspace));
        for daemon in ["zebra", "bgpd", "bfdd"] {
            for pid in &pids {
                let _ = std::fs::remove_dir(Path::new(FRR_TMP).join(format!("{daemon}.{pid}")));
            }
        }
    }
}

impl Peer for Frr {
    fn daemon(&self) -> &'static str {
        DAEMON
    }

    fn config(&self) -> &PeerConfig {
        &self.config
    }

    fn established(&self, neighbor: IpAddr) -> Result<bool> {
        let out = self.vtysh(&[&format!("show bgp neighbors {neighbor} json")])?;
        let v: Value = serde_json::from_str(&out)
            .map_err(|e| Error::parse("FRR `show bgp neighbors json`", e))?;
        Ok(v[neighbor.to_string()]["bgpState"] == "Established")
    }

    fn routes(&self) -> Result<Vec<RouteEntry>> {
        let tables = self.vtysh(&["show bgp ipv4 unicast json", "show bgp ipv6 unicast json"])?;
        let mut prefixes = Vec::new();
        for table in json_documents(&tables, "FRR `show bgp <afi> unicast json`")? {
            if let Some(routes) = table["routes"].as_object() {
                prefixes.extend(routes.keys().cloned());
            }
        }
        if prefixes.is_empty() {
            return Ok(Vec::new());
        }
        let commands: Vec<String> = prefixes
            .iter()
            .map(|p| {
                let afi = if p.contains(':') { "ipv6" } else { "ipv4" };
                format!("show bgp {afi} unicast {p} json")
            })
            .collect();
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        let details = self.vtysh(&commands)?;
        let mut routes = Vec::new();
        for detail in json_documents(&details, "FRR `show bgp <afi> unicast <prefix> json`")? {
            routes.extend(parse_prefix_detail(&detail)?);
        }
        Ok(routes)
    }

    fn announce(&mut self, route: Route) -> Result<()> {
        check_route(DAEMON, &route, &supported_ext, false)?;
        let name = route_map_name(&route.prefix);
        let af = address_family(&route.prefix);
        // Clear any previous version; errors only mean there was none.
        let _ = self.vtysh(&[
            "configure terminal",
            &format!("router bgp {}", self.config.local_as),
            af,
            &format!("no network {}", route.prefix),
            "exit-address-family",
            "exit",
            &format!("no route-map {name}"),
        ]);
        let mut commands = vec!["configure terminal".to_string()];
        commands.extend(
            route_map(&name, &route)
                .lines()
                .map(|l| l.trim().to_string()),
        );
        commands.push("exit".into());
        commands.push(format!("router bgp {}", self.config.local_as));
        commands.push(af.into());
        commands.push(format!("network {} route-map {name}", route.prefix));
        let commands: Vec<&str> = commands.iter().map(String::as_str).collect();
        self.vtysh(&commands)?;
        self.config.originate.retain(|r| r.prefix != route.prefix);
        self.config.originate.push(route);
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        if !self.config.originate.iter().any(|r| r.prefix == prefix) {
            return Err(Error::Config(format!("FRR does not originate {prefix}")));
        }
        self.vtysh(&[
            "configure terminal",
            &format!("router bgp {}", self.config.local_as),
            address_family(&prefix),
            &format!("no network {prefix}"),
        ])?;
        self.config.originate.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn pids(&self) -> Vec<u32> {
        self.daemons.iter().map(Child::pid).collect()
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io("writing", path, e))
}

/// FRR can set Route Targets only.
fn supported_ext(ec: ExtCommunity) -> bool {
    ec.route_target_text().is_some()
}

fn address_family(prefix: &IpNet) -> &'static str {
    match prefix {
        IpNet::V4(_) => "address-family ipv4 unicast",
        IpNet::V6(_) => "address-family ipv6 unicast",
    }
}

fn route_map_name(prefix: &IpNet) -> String {
    format!(
        "HR-ORIGINATE-{}",
        prefix.to_string().replace([':', '/', '.'], "-")
    )
}

/// The route map that sets an originated route's attributes.
fn route_map(name: &str, route: &Route) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "route-map {name} permit 10");
    if !route.communities.is_empty() {
        let list: Vec<String> = route.communities.iter().map(ToString::to_string).collect();
        let _ = writeln!(out, " set community {}", list.join(" "));
    }
    if !route.large_communities.is_empty() {
        let list: Vec<String> = route
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = writeln!(out, " set large-community {}", list.join(" "));
    }
    let rts: Vec<String> = route
        .ext_communities
        .iter()
        .filter_map(|ec| ec.route_target_text())
        .collect();
    if !rts.is_empty() {
        let _ = writeln!(out, " set extcommunity rt {}", rts.join(" "));
    }
    match route.next_hop {
        Some(IpAddr::V4(nh)) => {
            let _ = writeln!(out, " set ip next-hop {nh}");
        }
        Some(IpAddr::V6(nh)) => {
            let _ = writeln!(out, " set ipv6 next-hop global {nh}");
        }
        None => {}
    }
    out
}

/// Prefix-list entries for host routes inside `pools`.
fn prefix_list(out: &mut String, name: &str, pools: &[IpNet], v6: bool) {
    let keyword = if v6 { "ipv6" } else { "ip" };
    for (i, pool) in PeerConfig::pools(pools, v6).iter().enumerate() {
        let host = pool.max_prefix_len();
        let range = if pool.prefix_len() < host {
            format!(" ge {host}")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{keyword} prefix-list {name} seq {} permit {pool}{range}",
            (i + 1) * 5
        );
    }
}

/// `route-map <name>`: permit host routes in `pools`, deny the rest.
fn pool_route_map(out: &mut String, name: &str, pools: &[IpNet]) {
    prefix_list(out, &format!("{name}-V4"), pools, false);
    prefix_list(out, &format!("{name}-V6"), pools, true);
    if !PeerConfig::pools(pools, false).is_empty() {
        let _ = writeln!(out, "route-map {name} permit 10");
        let _ = writeln!(out, " match ip address prefix-list {name}-V4");
    }
    if !PeerConfig::pools(pools, true).is_empty() {
        let _ = writeln!(out, "route-map {name} permit 20");
        let _ = writeln!(out, " match ipv6 address prefix-list {name}-V6");
    }
    let _ = writeln!(out, "route-map {name} deny 100");
}

fn bfd_profile(index: usize) -> String {
    format!("hr-n{}", index + 1)
}

/// bgpd.conf for `config`.
pub fn render_bgpd(config: &PeerConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "! Written by hostroute-lab.");
    let _ = writeln!(out, "frr defaults datacenter");
    let _ = writeln!(out, "hostname hr-frr");
    pool_route_map(&mut out, "HR-IMPORT", &config.import);
    pool_route_map(&mut out, "HR-EXPORT", &config.export);
    for route in &config.originate {
        out.push_str(&route_map(&route_map_name(&route.prefix), route));
    }
    let _ = writeln!(out, "router bgp {}", config.local_as);
    let _ = writeln!(out, " bgp router-id {}", config.router_id);
    let _ = writeln!(out, " no bgp network import-check");
    for (i, n) in config.neighbors.iter().enumerate() {
        let a = n.address;
        let _ = writeln!(out, " neighbor {a} remote-as {}", n.remote_as);
        let _ = writeln!(out, " neighbor {a} timers {} {}", n.keepalive, n.hold_time);
        let _ = writeln!(out, " neighbor {a} timers connect 1");
        if let Some(local) = n.local_address {
            let _ = writeln!(out, " neighbor {a} update-source {local}");
        }
        if let Some(password) = &n.password {
            let _ = writeln!(out, " neighbor {a} password {password}");
        }
        if n.bfd.is_some() {
            let _ = writeln!(out, " neighbor {a} bfd profile {}", bfd_profile(i));
        }
        if n.ttl_security {
            let _ = writeln!(out, " neighbor {a} ttl-security hops 1");
        }
        if n.passive {
            let _ = writeln!(out, " neighbor {a} passive");
        }
    }
    for (family, af, v6) in [
        (Family::Ipv4Unicast, "ipv4", false),
        (Family::Ipv6Unicast, "ipv6", true),
    ] {
        let _ = writeln!(out, " address-family {af} unicast");
        for route in config.originate.iter().filter(|r| r.is_v6() == v6) {
            let _ = writeln!(
                out,
                "  network {} route-map {}",
                route.prefix,
                route_map_name(&route.prefix)
            );
        }
        for n in &config.neighbors {
            let a = n.address;
            if !n.has(family) {
                let _ = writeln!(out, "  no neighbor {a} activate");
                continue;
            }
            let _ = writeln!(out, "  neighbor {a} activate");
            let _ = writeln!(out, "  neighbor {a} route-map HR-IMPORT in");
            let _ = writeln!(out, "  neighbor {a} route-map HR-EXPORT out");
            if n.rr_client {
                let _ = writeln!(out, "  neighbor {a} route-reflector-client");
            }
            if n.add_paths_tx {
                let _ = writeln!(out, "  neighbor {a} addpath-tx-all-paths");
            }
        }
        let _ = writeln!(out, " exit-address-family");
    }
    let _ = writeln!(out, "exit");
    out
}

/// bfdd.conf: one profile per BFD neighbor.
pub fn render_bfdd(config: &PeerConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "! Written by hostroute-lab.");
    let _ = writeln!(out, "bfd");
    for (i, n) in config.neighbors.iter().enumerate() {
        let Some(bfd) = n.bfd else { continue };
        let _ = writeln!(out, " profile {}", bfd_profile(i));
        let _ = writeln!(out, "  receive-interval {}", bfd.min_rx_ms);
        let _ = writeln!(out, "  transmit-interval {}", bfd.min_tx_ms);
        let _ = writeln!(out, "  detect-multiplier {}", bfd.multiplier);
        let _ = writeln!(out, " exit");
    }
    let _ = writeln!(out, "exit");
    out
}

/// Splits vtysh output holding several JSON documents.
fn json_documents(text: &str, what: &str) -> Result<Vec<Value>> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::parse(what, e))
}

/// Paths learned from neighbors in one `show bgp <afi> unicast <prefix>
/// json` document (local paths are skipped).
pub fn parse_prefix_detail(detail: &Value) -> Result<Vec<RouteEntry>> {
    let what = "FRR prefix detail";
    let Some(prefix) = detail["prefix"].as_str() else {
        // An empty object: the prefix went away between the two queries.
        return Ok(Vec::new());
    };
    let prefix: IpNet = prefix.parse().map_err(|e| Error::parse(what, e))?;
    let mut routes = Vec::new();
    for path in detail["paths"].as_array().into_iter().flatten() {
        let Some(from) = path["peer"]["peerId"].as_str().and_then(|p| p.parse().ok()) else {
            continue;
        };
        let mut entry = RouteEntry::new(prefix, from);
        entry.best = path["bestpath"]["overall"] == true;
        for segment in path["aspath"]["segments"].as_array().into_iter().flatten() {
            for asn in segment["list"].as_array().into_iter().flatten() {
                let asn = asn
                    .as_u64()
                    .and_then(|a| u32::try_from(a).ok())
                    .ok_or_else(|| Error::parse(what, format!("AS {asn}")))?;
                entry.as_path.push(asn);
            }
        }
        let nexthops: Vec<&Value> = path["nexthops"].as_array().into_iter().flatten().collect();
        entry.next_hop = nexthops
            .iter()
            .find(|n| n["scope"] != "link-local")
            .or(nexthops.first())
            .and_then(|n| n["ip"].as_str())
            .and_then(|ip| ip.parse().ok());
        for c in path["community"]["list"].as_array().into_iter().flatten() {
            let text = c.as_str().unwrap_or_default();
            let c = super::parse_community(text)
                .ok_or_else(|| Error::parse(what, format!("community {text:?}")))?;
            entry.communities.push(c);
        }
        for c in path["largeCommunity"]["list"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = c.as_str().unwrap_or_default();
            let c = super::parse_large_community(text)
                .ok_or_else(|| Error::parse(what, format!("large community {text:?}")))?;
            entry.large_communities.push(c);
        }
        if let Some(text) = path["extendedCommunity"]["string"].as_str() {
            parse_ext_communities(text, &mut entry);
        }
        routes.push(entry);
    }
    Ok(routes)
}

/// FRR's `extendedCommunity.string`: space-separated `RT:a:b`, `SoO:a:b`,
/// `MM:seq` (`MM:seq, sticky MAC`), and others the lab keeps as text.
fn parse_ext_communities(text: &str, entry: &mut RouteEntry) {
    let mut words = text.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let word = word.trim_end_matches(',');
        let parsed = if let Some(seq) = word.strip_prefix("MM:") {
            let sticky = words.peek() == Some(&"sticky");
            if sticky {
                words.next();
                if words.peek() == Some(&"MAC") {
                    words.next();
                }
            }
            seq.parse()
                .ok()
                .map(|s| ExtCommunity::mac_mobility(s, sticky))
        } else if let Some(rest) = word.strip_prefix("RT:") {
            as_specific(rest, 0x02)
        } else if let Some(rest) = word.strip_prefix("SoO:") {
            as_specific(rest, 0x03)
        } else {
            None
        };
        match parsed {
            Some(ec) => entry.ext_communities.push(ec),
            None => entry.other_ext_communities.push(word.to_string()),
        }
    }
}

/// `asn:value` or `a.b.c.d:value` with `subtype`, the type chosen as FRR
/// prints them (2-octet AS when the AS fits, else 4-octet).
fn as_specific(text: &str, subtype: u8) -> Option<ExtCommunity> {
    let (key, value) = text.rsplit_once(':')?;
    let mut b = [0u8; 8];
    b[1] = subtype;
    if let Ok(ip) = key.parse::<std::net::Ipv4Addr>() {
        b[0] = 0x01;
        b[2..6].copy_from_slice(&ip.octets());
        b[6..8].copy_from_slice(&value.parse::<u16>().ok()?.to_be_bytes());
    } else {
        let asn: u32 = key.trim_end_matches('L').parse().ok()?;
        match u16::try_from(asn) {
            Ok(asn) if !key.ends_with('L') => {
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&value.parse::<u32>().ok()?.to_be_bytes());
            }
            _ => {
                b[0] = 0x02;
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..8].copy_from_slice(&value.parse::<u16>().ok()?.to_be_bytes());
            }
        }
    }
    Some(ExtCommunity(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::{Bfd, Community, LargeCommunity, Neighbor};

    /// `show bgp ipv4 unicast 198.51.100.1/32 json` from FRR 8.4.4, learned
    /// from BIRD 2.0.12 (AS 65001) in a namespace.
    const DETAIL: &str = r#"{
  "prefix":"198.51.100.1/32",
  "version":2,
  "advertisedTo":{"192.0.2.1":{}},
  "paths":[
    {
      "aspath":{"string":"65001","segments":[{"type":"as-sequence","list":[65001]}],"length":1},
      "origin":"IGP",
      "valid":true,
      "version":2,
      "bestpath":{"bestpathFromAs":65001,"overall":true,"selectionReason":"First path received"},
      "community":{"string":"65001:1","list":["65001:1"]},
      "extendedCommunity":{"string":"RT:65001:5 MM:7"},
      "largeCommunity":{"string":"65001:1:2","list":["65001:1:2"]},
      "nexthops":[{"ip":"192.0.2.1","afi":"ipv4","metric":0,"accessible":true,"used":true}],
      "peer":{"peerId":"192.0.2.1","routerId":"192.0.2.1","type":"external"}
    }
  ]
}"#;

    #[test]
    fn parses_prefix_detail() {
        let v: Value = serde_json::from_str(DETAIL).unwrap();
        let routes = parse_prefix_detail(&v).unwrap();
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!(r.from, "192.0.2.1".parse::<IpAddr>().unwrap());
        assert!(r.best);
        assert_eq!(r.as_path, vec![65001]);
        assert_eq!(r.next_hop, Some("192.0.2.1".parse().unwrap()));
        assert_eq!(r.communities, vec![Community(65001, 1)]);
        assert_eq!(r.large_communities, vec![LargeCommunity(65001, 1, 2)]);
        assert_eq!(
            r.ext_communities,
            vec![
                ExtCommunity::route_target(65001, 5),
                ExtCommunity::mac_mobility(7, false)
            ]
        );
    }

    #[test]
    fn parses_sticky_mac_mobility_and_keeps_unknown_text() {
        let mut e = RouteEntry::new(
            "198.51.100.1/32".parse().unwrap(),
            "192.0.2.1".parse().unwrap(),
        );
        parse_ext_communities("MM:3, sticky MAC RT:192.0.2.1:7 ET:8", &mut e);
        assert_eq!(
            e.ext_communities,
            vec![
                ExtCommunity::mac_mobility(3, true),
                ExtCommunity([1, 2, 192, 0, 2, 1, 0, 7])
            ]
        );
        assert_eq!(e.other_ext_communities, vec!["ET:8".to_string()]);
    }

    #[test]
    fn renders_addpath_tx_per_family() {
        let config = PeerConfig::new("192.0.2.2".parse().unwrap(), 65000).neighbor(
            Neighbor::new("192.0.2.1".parse().unwrap(), 65000)
                .rr_client()
                .add_paths_tx(),
        );
        let bgpd = render_bgpd(&config);
        assert_eq!(
            bgpd.matches("neighbor 192.0.2.1 addpath-tx-all-paths")
                .count(),
            2,
            "{bgpd}"
        );
    }

    #[test]
    fn renders_pools_and_bfd_profiles() {
        let config = PeerConfig::new("192.0.2.2".parse().unwrap(), 65002)
            .neighbor(
                Neighbor::new("192.0.2.1".parse().unwrap(), 65001)
                    .bfd(Bfd::default())
                    .families(&[Family::Ipv4Unicast]),
            )
            .import("198.51.100.0/24".parse().unwrap())
            .export("198.51.100.7/32".parse().unwrap())
            .originate(
                Route::new("198.51.100.2/32".parse().unwrap())
                    .ext_community(ExtCommunity::route_target(65002, 5)),
            );
        let bgpd = render_bgpd(&config);
        assert!(
            bgpd.contains("ip prefix-list HR-IMPORT-V4 seq 5 permit 198.51.100.0/24 ge 32"),
            "{bgpd}"
        );
        assert!(
            bgpd.contains("ip prefix-list HR-EXPORT-V4 seq 5 permit 198.51.100.7/32\n"),
            "{bgpd}"
        );
        assert!(bgpd.contains("set extcommunity rt 65002:5"), "{bgpd}");
        assert!(bgpd.contains("no neighbor 192.0.2.1 activate"), "{bgpd}");
        assert!(
            bgpd.contains("neighbor 192.0.2.1 bfd profile hr-n1"),
            "{bgpd}"
        );
        assert!(render_bfdd(&config).contains("profile hr-n1\n  receive-interval 100"));
        assert!(
            check_route(
                DAEMON,
                &Route::new("198.51.100.2/32".parse().unwrap())
                    .ext_community(ExtCommunity::mac_mobility(1, false)),
                &supported_ext,
                false
            )
            .is_err()
        );
    }
}
