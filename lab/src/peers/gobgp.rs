//! GoBGP 3 in a namespace: `gobgpd -t toml -f <conf> --api-hosts
//! 127.0.0.1:50051`, driven and queried with the `gobgp` CLI run inside the
//! same namespace (each namespace has its own loopback, so the fixed API
//! port never collides).
//!
//! Supports: IPv4 and IPv6 unicast, pools (as global import and export
//! policies with default reject), originated routes with communities, large
//! communities and Route Targets and an optional next hop (added through
//! the CLI after start), password, GTSM (`ttl-security`, minimum TTL 255),
//! passive, local address, route-reflector clients; runtime announce and
//! withdraw. Cannot: BFD (GoBGP 3.10 has none), other extended communities
//! on originated routes, raw attributes.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use ipnet::IpNet;
use serde_json::Value;

use super::{
    Community, ExtCommunity, Family, LargeCommunity, POLL, Peer, PeerConfig, Route, RouteEntry,
    START_TIMEOUT, check_route,
};
use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::process::{Child, run_command, wait_until};

const DAEMON: &str = "gobgp";
/// The gRPC API port on the namespace's own loopback.
pub const API_PORT: u16 = 50051;

/// A running gobgpd.
pub struct Gobgp {
    config: PeerConfig,
    netns: String,
    conf: PathBuf,
    child: Child,
}

impl Gobgp {
    /// Writes gobgpd.toml, checks it (`gobgpd --dry-run`), starts gobgpd
    /// inside `netns`, waits for its API and adds the originated routes.
    pub fn start(netns: &Netns, config: PeerConfig) -> Result<Gobgp> {
        config.validate()?;
        if config.kernel {
            return Err(Error::unsupported(
                DAEMON,
                "installing routes in the kernel table",
            ));
        }
        if let Some(n) = config.neighbors.iter().find(|n| n.bfd.is_some()) {
            return Err(Error::unsupported(
                DAEMON,
                format!("BFD (neighbor {})", n.address),
            ));
        }
        if let Some(n) = config.neighbors.iter().find(|n| n.add_paths_tx) {
            return Err(Error::unsupported(
                DAEMON,
                format!(
                    "ADD-PATH send (neighbor {}): not wired in the lab",
                    n.address
                ),
            ));
        }
        for route in &config.originate {
            check_route(DAEMON, route, &supported_ext, false)?;
        }
        let dir = netns.lab().subdir(&format!("gobgp-{}", netns.name()))?;
        let conf = dir.join("gobgpd.toml");
        std::fs::write(&conf, render(&config)).map_err(|e| Error::io("writing", &conf, e))?;
        let conf_arg = conf.to_string_lossy().into_owned();
        netns.run("gobgpd", &["--dry-run", "-t", "toml", "-f", &conf_arg])?;
        let api = format!("127.0.0.1:{API_PORT}");
        let mut command = netns.command("gobgpd");
        command
            .args(["-t", "toml", "-f", &conf_arg, "--api-hosts", &api])
            .args(["--pprof-disable", "--log-plain", "--log-level", "info"])
            .current_dir(&dir);
        let mut child = Child::spawn(netns.lab(), &format!("gobgp-{}", netns.name()), command)?;
        let netns_name = netns.name().to_string();
        wait_until("gobgpd API", START_TIMEOUT, POLL, || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            gobgp_in(&netns_name, &["global"]).map(|_| true)
        })?;
        let originate = config.originate.clone();
        let gobgp = Gobgp {
            config,
            netns: netns_name,
            conf,
            child,
        };
        for route in originate {
            gobgp.add(&route)?;
        }
        Ok(gobgp)
    }

    /// Runs `gobgp -u 127.0.0.1 -p <port> args...` inside the namespace.
    pub fn gobgp(&self, args: &[&str]) -> Result<String> {
        gobgp_in(&self.netns, args)
    }

    /// The configuration file.
    pub fn config_path(&self) -> &std::path::Path {
        &self.conf
    }

    /// The gobgpd process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    fn add(&self, route: &Route) -> Result<()> {
        let prefix = route.prefix.to_string();
        let mut args: Vec<String> = vec![
            "global".into(),
            "rib".into(),
            "add".into(),
            "-a".into(),
            family_arg(&route.prefix).into(),
            prefix,
        ];
        if let Some(nh) = route.next_hop {
            args.extend(["nexthop".into(), nh.to_string()]);
        }
        if !route.communities.is_empty() {
            let list: Vec<String> = route.communities.iter().map(ToString::to_string).collect();
            args.extend(["community".into(), list.join(",")]);
        }
        if !route.large_communities.is_empty() {
            let list: Vec<String> = route
                .large_communities
                .iter()
                .map(ToString::to_string)
                .collect();
            args.extend(["large-community".into(), list.join(",")]);
        }
        let rts: Vec<String> = route
            .ext_communities
            .iter()
            .filter_map(|ec| ec.route_target_text())
            .collect();
        if !rts.is_empty() {
            args.push("rt".into());
            args.extend(rts);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.gobgp(&args).map(drop)
    }
}

fn gobgp_in(netns: &str, args: &[&str]) -> Result<String> {
    let port = API_PORT.to_string();
    run_command(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                netns,
                "gobgp",
                "-u",
                "127.0.0.1",
                "-p",
                &port,
            ])
            .args(args),
    )
}

fn family_arg(prefix: &IpNet) -> &'static str {
    match prefix {
        IpNet::V4(_) => "ipv4",
        IpNet::V6(_) => "ipv6",
    }
}

/// GoBGP takes Route Targets only on unicast routes.
fn supported_ext(ec: ExtCommunity) -> bool {
    ec.route_target_text().is_some()
}

impl Peer for Gobgp {
    fn daemon(&self) -> &'static str {
        DAEMON
    }

    fn config(&self) -> &PeerConfig {
        &self.config
    }

    fn established(&self, neighbor: IpAddr) -> Result<bool> {
        let out = self.gobgp(&["neighbor", &neighbor.to_string(), "-j"])?;
        let v: Value =
            serde_json::from_str(&out).map_err(|e| Error::parse("`gobgp neighbor -j`", e))?;
        Ok(session_established(&v["state"]["session_state"]))
    }

    fn routes(&self) -> Result<Vec<RouteEntry>> {
        let mut routes = Vec::new();
        for family in ["ipv4", "ipv6"] {
            let out = self.gobgp(&["global", "rib", "-a", family, "-j"])?;
            routes.extend(parse_rib(&out)?);
        }
        Ok(routes)
    }

    fn announce(&mut self, route: Route) -> Result<()> {
        check_route(DAEMON, &route, &supported_ext, false)?;
        if self
            .config
            .originate
            .iter()
            .any(|r| r.prefix == route.prefix)
        {
            self.gobgp(&[
                "global",
                "rib",
                "del",
                "-a",
                family_arg(&route.prefix),
                &route.prefix.to_string(),
            ])?;
        }
        self.add(&route)?;
        self.config.originate.retain(|r| r.prefix != route.prefix);
        self.config.originate.push(route);
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        if !self.config.originate.iter().any(|r| r.prefix == prefix) {
            return Err(Error::Config(format!("GoBGP does not originate {prefix}")));
        }
        self.gobgp(&[
            "global",
            "rib",
            "del",
            "-a",
            family_arg(&prefix),
            &prefix.to_string(),
        ])?;
        self.config.originate.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.child.pid()]
    }
}

/// GoBGP prints the session state as a number (6) or a name, by version.
fn session_established(state: &Value) -> bool {
    state.as_u64() == Some(6)
        || state
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("established") || s == "BGP_FSM_ESTABLISHED")
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// gobgpd.toml for `config`.
pub fn render(config: &PeerConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by hostroute-lab.");
    let _ = writeln!(out, "[global.config]");
    let _ = writeln!(out, "  as = {}", config.local_as);
    let _ = writeln!(out, "  router-id = \"{}\"", config.router_id);
    let _ = writeln!(out, "[global.apply-policy.config]");
    let _ = writeln!(out, "  import-policy-list = [\"hr-import\"]");
    let _ = writeln!(out, "  default-import-policy = \"reject-route\"");
    let _ = writeln!(out, "  export-policy-list = [\"hr-export\"]");
    let _ = writeln!(out, "  default-export-policy = \"reject-route\"");
    for n in &config.neighbors {
        let _ = writeln!(out, "[[neighbors]]");
        let _ = writeln!(out, "  [neighbors.config]");
        let _ = writeln!(out, "    neighbor-address = \"{}\"", n.address);
        let _ = writeln!(out, "    peer-as = {}", n.remote_as);
        if let Some(password) = &n.password {
            let _ = writeln!(out, "    auth-password = {}", toml_string(password));
        }
        let _ = writeln!(out, "  [neighbors.timers.config]");
        let _ = writeln!(out, "    hold-time = {}", n.hold_time);
        let _ = writeln!(out, "    keepalive-interval = {}", n.keepalive);
        let _ = writeln!(out, "    connect-retry = 1");
        if n.local_address.is_some() || n.passive {
            let _ = writeln!(out, "  [neighbors.transport.config]");
            if let Some(local) = n.local_address {
                let _ = writeln!(out, "    local-address = \"{local}\"");
            }
            if n.passive {
                let _ = writeln!(out, "    passive-mode = true");
            }
        }
        if n.ttl_security {
            let _ = writeln!(out, "  [neighbors.ttl-security.config]");
            let _ = writeln!(out, "    enabled = true");
            let _ = writeln!(out, "    ttl-min = 255");
        }
        if n.rr_client {
            let _ = writeln!(out, "  [neighbors.route-reflector.config]");
            let _ = writeln!(out, "    route-reflector-client = true");
            let _ = writeln!(
                out,
                "    route-reflector-cluster-id = \"{}\"",
                config.router_id
            );
        }
        for (family, name) in [
            (Family::Ipv4Unicast, "ipv4-unicast"),
            (Family::Ipv6Unicast, "ipv6-unicast"),
        ] {
            if n.has(family) {
                let _ = writeln!(out, "  [[neighbors.afi-safis]]");
                let _ = writeln!(out, "    [neighbors.afi-safis.config]");
                let _ = writeln!(out, "      afi-safi-name = \"{name}\"");
            }
        }
    }
    // Prefix sets hold one family each; empty ones are left out.
    let mut sets = Vec::new();
    for (policy, pools) in [("hr-import", &config.import), ("hr-export", &config.export)] {
        for (v6, suffix) in [(false, "v4"), (true, "v6")] {
            let pools = PeerConfig::pools(pools, v6);
            if pools.is_empty() {
                continue;
            }
            let name = format!("{policy}-{suffix}");
            let _ = writeln!(out, "[[defined-sets.prefix-sets]]");
            let _ = writeln!(out, "  prefix-set-name = \"{name}\"");
            for pool in pools {
                let host = pool.max_prefix_len();
                let _ = writeln!(out, "  [[defined-sets.prefix-sets.prefix-list]]");
                let _ = writeln!(out, "    ip-prefix = \"{pool}\"");
                let _ = writeln!(out, "    masklength-range = \"{host}..{host}\"");
            }
            sets.push((policy, name));
        }
    }
    for policy in ["hr-import", "hr-export"] {
        let _ = writeln!(out, "[[policy-definitions]]");
        let _ = writeln!(out, "  name = \"{policy}\"");
        for (_, set) in sets.iter().filter(|(p, _)| *p == policy) {
            let _ = writeln!(out, "  [[policy-definitions.statements]]");
            let _ = writeln!(out, "    name = \"{set}\"");
            let _ = writeln!(
                out,
                "    [policy-definitions.statements.conditions.match-prefix-set]"
            );
            let _ = writeln!(out, "      prefix-set = \"{set}\"");
            let _ = writeln!(out, "      match-set-options = \"any\"");
            let _ = writeln!(out, "    [policy-definitions.statements.actions]");
            let _ = writeln!(out, "      route-disposition = \"accept-route\"");
        }
    }
    out
}

/// Parses `gobgp global rib -a <family> -j`: paths learned from neighbors.
pub fn parse_rib(text: &str) -> Result<Vec<RouteEntry>> {
    let what = "`gobgp global rib -j`";
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let v: Value = serde_json::from_str(text).map_err(|e| Error::parse(what, e))?;
    let Some(table) = v.as_object() else {
        return Ok(Vec::new());
    };
    let mut routes = Vec::new();
    for (prefix, paths) in table {
        let prefix: IpNet = prefix
            .parse()
            .map_err(|e| Error::parse(what, format!("prefix {prefix:?}: {e}")))?;
        for path in paths.as_array().into_iter().flatten() {
            // Local paths have no neighbor address.
            let Some(from) = path["neighbor-ip"]
                .as_str()
                .and_then(|a| a.parse::<IpAddr>().ok())
                .filter(|a| !a.is_unspecified())
            else {
                continue;
            };
            let mut entry = RouteEntry::new(prefix, from);
            entry.best = path["best"] == true;
            for attr in path["attrs"].as_array().into_iter().flatten() {
                parse_attr(&mut entry, attr)?;
            }
            routes.push(entry);
        }
    }
    Ok(routes)
}

fn parse_attr(entry: &mut RouteEntry, attr: &Value) -> Result<()> {
    let bad = |detail: String| Error::parse("GoBGP path attribute", detail);
    match attr["type"].as_u64() {
        Some(2) => {
            for segment in attr["as_paths"].as_array().into_iter().flatten() {
                for asn in segment["asns"].as_array().into_iter().flatten() {
                    let asn = asn
                        .as_u64()
                        .and_then(|a| u32::try_from(a).ok())
                        .ok_or_else(|| bad(format!("AS {asn}")))?;
                    entry.as_path.push(asn);
                }
            }
        }
        Some(3) | Some(14) => {
            if let Some(nh) = attr["nexthop"].as_str().and_then(|a| a.parse().ok()) {
                entry.next_hop = Some(nh);
            }
        }
        Some(8) => {
            for c in attr["communities"].as_array().into_iter().flatten() {
                let c = c
                    .as_u64()
                    .and_then(|c| u32::try_from(c).ok())
                    .ok_or_else(|| bad(format!("community {c}")))?;
                entry.communities.push(Community::from_u32(c));
            }
        }
        Some(16) => {
            for ec in attr["value"].as_array().into_iter().flatten() {
                match parse_ext_community(ec) {
                    Some(parsed) => entry.ext_communities.push(parsed),
                    None => entry.other_ext_communities.push(ec.to_string()),
                }
            }
        }
        Some(32) => {
            for c in attr["value"].as_array().into_iter().flatten() {
                let field = |name: &str| {
                    c[name]
                        .as_u64()
                        .and_then(|v| u32::try_from(v).ok())
                        .ok_or_else(|| bad(format!("large community {c}")))
                };
                entry.large_communities.push(LargeCommunity(
                    field("ASN")?,
                    field("LocalData1")?,
                    field("LocalData2")?,
                ));
            }
        }
        _ => {}
    }
    Ok(())
}

/// GoBGP's JSON for the extended communities it knows: AS and IPv4 specific
/// ones (`{"type":0,"subtype":2,"value":"65004:5"}`) and MAC Mobility.
fn parse_ext_community(ec: &Value) -> Option<ExtCommunity> {
    let ty = u8::try_from(ec["type"].as_u64()?).ok()?;
    let sub = u8::try_from(ec["subtype"].as_u64()?).ok()?;
    let mut b = [0u8; 8];
    b[0] = ty;
    b[1] = sub;
    if ty == 0x06 && sub == 0x00 {
        let seq = u32::try_from(ec["sequence"].as_u64()?).ok()?;
        return Some(ExtCommunity::mac_mobility(seq, ec["is_sticky"] == true));
    }
    let (key, value) = ec["value"].as_str()?.rsplit_once(':')?;
    match ty & 0x3f {
        0x00 => {
            b[2..4].copy_from_slice(&key.parse::<u16>().ok()?.to_be_bytes());
            b[4..8].copy_from_slice(&value.parse::<u32>().ok()?.to_be_bytes());
        }
        0x01 => {
            b[2..6].copy_from_slice(&key.parse::<std::net::Ipv4Addr>().ok()?.octets());
            b[6..8].copy_from_slice(&value.parse::<u16>().ok()?.to_be_bytes());
        }
        0x02 => {
            b[2..6].copy_from_slice(&key.parse::<u32>().ok()?.to_be_bytes());
            b[6..8].copy_from_slice(&value.parse::<u16>().ok()?.to_be_bytes());
        }
        _ => return None,
    }
    Some(ExtCommunity(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::Neighbor;

    /// `gobgp global rib -a ipv4 -j` from GoBGP 3.10 learning a route from
    /// ExaBGP 4.2 (AS 65004) in a namespace.
    const RIB: &str = r#"{"198.51.100.4/32":[{"nlri":{"prefix":"198.51.100.4/32"},"age":1795309344,"best":true,"attrs":[{"type":1,"value":0},{"type":2,"as_paths":[{"segment_type":2,"num":1,"asns":[65004]}]},{"type":3,"nexthop":"192.0.2.2"},{"type":8,"communities":[4260102145]},{"type":16,"value":[{"type":0,"subtype":2,"value":"65004:5"},{"type":6,"subtype":0,"sequence":7,"is_sticky":false}]},{"type":32,"value":[{"ASN":65004,"LocalData1":1,"LocalData2":2}]}],"stale":false,"source-id":"192.0.2.2","neighbor-ip":"192.0.2.2"}]}"#;

    #[test]
    fn parses_rib_json() {
        let routes = parse_rib(RIB).unwrap();
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!(r.from, "192.0.2.2".parse::<IpAddr>().unwrap());
        assert_eq!(r.as_path, vec![65004]);
        assert_eq!(r.next_hop, Some("192.0.2.2".parse().unwrap()));
        assert_eq!(r.communities, vec![Community(65004, 1)]);
        assert_eq!(r.large_communities, vec![LargeCommunity(65004, 1, 2)]);
        assert_eq!(
            r.ext_communities,
            vec![
                ExtCommunity::route_target(65004, 5),
                ExtCommunity::mac_mobility(7, false)
            ]
        );
        assert!(parse_rib("").unwrap().is_empty());
    }

    #[test]
    fn renders_policies_per_family_and_refuses_bfd_in_start() {
        let config = PeerConfig::new("192.0.2.1".parse().unwrap(), 65003)
            .neighbor(Neighbor::new("192.0.2.2".parse().unwrap(), 65004).ttl_security())
            .pool("198.51.100.0/24".parse().unwrap())
            .pool("2001:db8:100::/48".parse().unwrap());
        let text = render(&config);
        assert!(
            text.contains("prefix-set-name = \"hr-import-v6\""),
            "{text}"
        );
        assert!(text.contains("masklength-range = \"128..128\""), "{text}");
        assert!(text.contains("ttl-min = 255"), "{text}");
        assert!(session_established(&Value::from(6)));
        assert!(session_established(&Value::from("established")));
        assert!(!session_established(&Value::from(3)));
    }
}
