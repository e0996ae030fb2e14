//! ExaBGP 4.2 in a namespace, the scriptable (and adversarial) peer.
//!
//! ExaBGP runs in the foreground with its settings in environment variables
//! (no CLI pipe, no ack lines, logs on stdout) and one API process,
//! `feed.sh`, which
//! - forwards every line appended to `commands` in the run directory to
//!   ExaBGP (`announce route ...`, `withdraw route ...`, any API command),
//! - writes every JSON message ExaBGP emits (state changes, received
//!   updates, notifications) to `received.jsonl`.
//!
//! [`Peer::routes`] replays that log; [`Peer::established`] reads the last
//! state message per neighbor.
//!
//! Supports: IPv4 and IPv6 unicast, routes with communities, large
//! communities, any extended community, next hop, **raw attributes**
//! (`attribute [ 0xCODE 0xFLAGS 0xVALUE ]`, for RFC 7606 tests), arbitrary
//! API commands ([`Exabgp::send`]), password, GTSM (outgoing and incoming
//! TTL 255), passive (ExaBGP then listens on the neighbors' local
//! addresses). Cannot: BFD, route reflection, import policy (it keeps no
//! RIB: every received update is recorded, which is what a test wants from
//! it). `import` and `export` pools are not applied: ExaBGP sends exactly
//! what it is told to.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde_json::Value;

use super::{
    Community, ExtCommunity, Family, LargeCommunity, POLL, Peer, PeerConfig, Route, RouteEntry,
    START_TIMEOUT,
};
use crate::error::{Error, Result};
use crate::netns::Netns;
use crate::process::{Child, wait_until};

const DAEMON: &str = "exabgp";

const FEED: &str = r#"#!/bin/sh
# hostroute-lab's ExaBGP API process. ExaBGP's JSON messages arrive on
# stdin and are appended to received.jsonl; lines appended to `commands`
# are passed to ExaBGP on stdout. Both stop when ExaBGP exits. ExaBGP
# runs it from /, so it first moves to its own directory.
cd "$(dirname "$0")" || exit 1
exec 3<&0
cat <&3 >> received.jsonl &
exec tail -n +1 -F -s 0.05 --pid="$PPID" commands 2>/dev/null
"#;

/// A running ExaBGP.
pub struct Exabgp {
    config: PeerConfig,
    commands: PathBuf,
    received: PathBuf,
    child: Child,
}

impl Exabgp {
    /// Writes the configuration and API script, queues the originated
    /// routes, and starts ExaBGP inside `netns`. Neighbors without a local
    /// address get the namespace's source address toward them.
    pub fn start(netns: &Netns, mut config: PeerConfig) -> Result<Exabgp> {
        config.validate()?;
        if config.kernel {
            return Err(Error::unsupported(
                DAEMON,
                "installing routes in the kernel table",
            ));
        }
        for n in &mut config.neighbors {
            if n.bfd.is_some() {
                return Err(Error::unsupported(
                    DAEMON,
                    format!("BFD (neighbor {})", n.address),
                ));
            }
            if n.rr_client {
                return Err(Error::unsupported(
                    DAEMON,
                    format!("route-reflector clients (neighbor {})", n.address),
                ));
            }
            if n.local_address.is_none() {
                n.local_address = Some(netns.source_for(n.address)?);
            }
        }
        let dir = netns.lab().subdir(&format!("exabgp-{}", netns.name()))?;
        let feed = dir.join("feed.sh");
        write(&feed, FEED)?;
        std::fs::set_permissions(&feed, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(|e| Error::io("making executable", &feed, e))?;
        let conf = dir.join("exabgp.conf");
        write(&conf, &render(&config, &feed))?;
        let commands = dir.join("commands");
        let received = dir.join("received.jsonl");
        let mut queued = String::new();
        for route in &config.originate {
            queued.push_str(&announce_line(&config, route)?);
            queued.push('\n');
        }
        write(&commands, &queued)?;
        write(&received, "")?;

        let binds: Vec<String> = config
            .neighbors
            .iter()
            .filter(|n| n.passive)
            .filter_map(|n| n.local_address.map(|a| a.to_string()))
            .collect();
        let mut command = netns.command("exabgp");
        command
            .arg(&conf)
            .current_dir(&dir)
            .env("exabgp_daemon_user", "root")
            .env("exabgp_daemon_drop", "false")
            .env("exabgp_daemon_daemonize", "false")
            .env("exabgp_log_destination", "stdout")
            .env("exabgp_api_ack", "false")
            .env("exabgp_api_cli", "false")
            .env("exabgp_tcp_bind", binds.join(" "));
        let mut child = Child::spawn(netns.lab(), &format!("exabgp-{}", netns.name()), command)?;
        wait_until(
            "ExaBGP to load its configuration",
            START_TIMEOUT,
            POLL,
            || {
                if let Some(e) = child.exited_error() {
                    return Err(e);
                }
                Ok(child
                    .log()
                    .contains("loaded new configuration successfully"))
            },
        )?;
        Ok(Exabgp {
            config,
            commands,
            received,
            child,
        })
    }

    /// Sends one API command line as is (e.g. a route with a broken
    /// attribute, or `neighbor 192.0.2.1 teardown 2`).
    pub fn send(&self, line: &str) -> Result<()> {
        if line.contains('\n') {
            return Err(Error::Config(format!(
                "ExaBGP command with a newline: {line:?}"
            )));
        }
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.commands)
            .map_err(|e| Error::io("opening", &self.commands, e))?;
        file.write_all(format!("{line}\n").as_bytes())
            .map_err(|e| Error::io("appending to", &self.commands, e))
    }

    /// Every JSON message ExaBGP has emitted so far.
    pub fn messages(&self) -> Result<Vec<Value>> {
        let text = std::fs::read_to_string(&self.received)
            .map_err(|e| Error::io("reading", &self.received, e))?;
        parse_messages(&text)
    }

    /// The ExaBGP process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Peer for Exabgp {
    fn daemon(&self) -> &'static str {
        DAEMON
    }

    fn config(&self) -> &PeerConfig {
        &self.config
    }

    fn established(&self, neighbor: IpAddr) -> Result<bool> {
        let last = self
            .messages()?
            .into_iter()
            .rev()
            .find(|m| m["type"] == "state" && peer_of(m) == Some(neighbor));
        Ok(last.is_some_and(|m| m["neighbor"]["state"] == "up"))
    }

    fn routes(&self) -> Result<Vec<RouteEntry>> {
        Ok(replay(&self.messages()?))
    }

    fn announce(&mut self, route: Route) -> Result<()> {
        let line = announce_line(&self.config, &route)?;
        self.send(&line)?;
        self.config.originate.retain(|r| r.prefix != route.prefix);
        self.config.originate.push(route);
        Ok(())
    }

    fn withdraw(&mut self, prefix: IpNet) -> Result<()> {
        let route = self
            .config
            .originate
            .iter()
            .find(|r| r.prefix == prefix)
            .ok_or_else(|| Error::Config(format!("ExaBGP does not originate {prefix}")))?;
        let line = format!(
            "withdraw route {prefix} next-hop {}",
            next_hop(&self.config, route)?
        );
        self.send(&line)?;
        self.config.originate.retain(|r| r.prefix != prefix);
        Ok(())
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.child.pid()]
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io("writing", path, e))
}

/// The next hop ExaBGP should send for `route`: its own, `self`, when the
/// route's family matches every session it goes on.
fn next_hop(config: &PeerConfig, route: &Route) -> Result<String> {
    if let Some(nh) = route.next_hop {
        return Ok(nh.to_string());
    }
    let family = if route.is_v6() {
        Family::Ipv6Unicast
    } else {
        Family::Ipv4Unicast
    };
    let cross = config
        .neighbors
        .iter()
        .find(|n| n.has(family) && n.address.is_ipv6() != route.is_v6());
    if let Some(n) = cross {
        return Err(Error::Config(format!(
            "ExaBGP needs an explicit next hop for {} over the session with {}",
            route.prefix, n.address
        )));
    }
    Ok("self".to_string())
}

/// `announce route ...` for `route`.
pub fn announce_line(config: &PeerConfig, route: &Route) -> Result<String> {
    let mut line = format!(
        "announce route {} next-hop {}",
        route.prefix,
        next_hop(config, route)?
    );
    if !route.communities.is_empty() {
        let list: Vec<String> = route.communities.iter().map(ToString::to_string).collect();
        let _ = write!(line, " community [ {} ]", list.join(" "));
    }
    if !route.large_communities.is_empty() {
        let list: Vec<String> = route
            .large_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = write!(line, " large-community [ {} ]", list.join(" "));
    }
    if !route.ext_communities.is_empty() {
        let list: Vec<String> = route
            .ext_communities
            .iter()
            .map(ToString::to_string)
            .collect();
        let _ = write!(line, " extended-community [ {} ]", list.join(" "));
    }
    for raw in &route.raw_attributes {
        let value: String = raw.value.iter().map(|b| format!("{b:02X}")).collect();
        let _ = write!(
            line,
            " attribute [ {:#04x} {:#04x} 0x{value} ]",
            raw.code, raw.flags
        );
    }
    Ok(line)
}

/// exabgp.conf for `config`, with `feed` as the API process.
pub fn render(config: &PeerConfig, feed: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Written by hostroute-lab.");
    let _ = writeln!(out, "process hr-api {{");
    let _ = writeln!(out, "  run {};", feed.display());
    let _ = writeln!(out, "  encoder json;");
    let _ = writeln!(out, "}}");
    for n in &config.neighbors {
        let _ = writeln!(out, "neighbor {} {{", n.address);
        let _ = writeln!(out, "  router-id {};", config.router_id);
        if let Some(local) = n.local_address {
            let _ = writeln!(out, "  local-address {local};");
        }
        let _ = writeln!(out, "  local-as {};", config.local_as);
        let _ = writeln!(out, "  peer-as {};", n.remote_as);
        let _ = writeln!(out, "  hold-time {};", n.hold_time);
        if let Some(password) = &n.password {
            let _ = writeln!(out, "  md5-password {password};");
        }
        if n.passive {
            let _ = writeln!(out, "  passive true;");
        }
        if n.ttl_security {
            let _ = writeln!(out, "  outgoing-ttl 255;");
            let _ = writeln!(out, "  incoming-ttl 255;");
        }
        let _ = write!(out, "  family {{");
        if n.has(Family::Ipv4Unicast) {
            let _ = write!(out, " ipv4 unicast;");
        }
        if n.has(Family::Ipv6Unicast) {
            let _ = write!(out, " ipv6 unicast;");
        }
        let _ = writeln!(out, " }}");
        let _ = writeln!(
            out,
            "  api {{ processes [ hr-api ]; neighbor-changes; receive {{ parsed; update; notification; }} }}"
        );
        let _ = writeln!(out, "}}");
    }
    out
}

/// Parses received.jsonl. A last line without its newline may still be
/// being written and is left for the next read.
pub fn parse_messages(text: &str) -> Result<Vec<Value>> {
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut messages = Vec::new();
    for line in complete.lines() {
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        let v = serde_json::from_str(line)
            .map_err(|e| Error::parse(format!("ExaBGP message {line:?}"), e))?;
        messages.push(v);
    }
    Ok(messages)
}

fn peer_of(message: &Value) -> Option<IpAddr> {
    message["neighbor"]["address"]["peer"]
        .as_str()
        .and_then(|a| a.parse().ok())
}

/// The routes ExaBGP holds from each neighbor after `messages`: announces
/// add or replace, withdraws remove, a session going down clears the
/// neighbor.
pub fn replay(messages: &[Value]) -> Vec<RouteEntry> {
    let mut rib: BTreeMap<(IpAddr, IpNet), RouteEntry> = BTreeMap::new();
    for m in messages {
        let Some(peer) = peer_of(m) else { continue };
        if m["type"] == "state" && m["neighbor"]["state"] != "up" {
            rib.retain(|(p, _), _| *p != peer);
            continue;
        }
        let update = &m["neighbor"]["message"]["update"];
        if !update.is_object() {
            continue;
        }
        for (_, nlris) in update["withdraw"].as_object().into_iter().flatten() {
            for nlri in nlris.as_array().into_iter().flatten() {
                if let Some(prefix) = nlri_prefix(nlri) {
                    rib.remove(&(peer, prefix));
                }
            }
        }
        let attrs = &update["attribute"];
        for (_, by_next_hop) in update["announce"].as_object().into_iter().flatten() {
            for (nh, nlris) in by_next_hop.as_object().into_iter().flatten() {
                for nlri in nlris.as_array().into_iter().flatten() {
                    let Some(prefix) = nlri_prefix(nlri) else {
                        continue;
                    };
                    let mut entry = RouteEntry::new(prefix, peer);
                    entry.next_hop = nh.parse().ok();
                    apply_attributes(&mut entry, attrs);
                    rib.insert((peer, prefix), entry);
                }
            }
        }
    }
    rib.into_values().collect()
}

fn nlri_prefix(nlri: &Value) -> Option<IpNet> {
    nlri["nlri"]
        .as_str()
        .or_else(|| nlri.as_str())
        .and_then(|p| p.parse().ok())
}

fn numbers(v: &Value, out: &mut Vec<u64>) {
    match v {
        Value::Number(n) => out.extend(n.as_u64()),
        Value::Array(items) => items.iter().for_each(|i| numbers(i, out)),
        Value::Object(map) => map.values().for_each(|i| numbers(i, out)),
        _ => {}
    }
}

fn apply_attributes(entry: &mut RouteEntry, attrs: &Value) {
    let mut path = Vec::new();
    numbers(&attrs["as-path"], &mut path);
    entry.as_path = path
        .into_iter()
        .filter_map(|a| u32::try_from(a).ok())
        .collect();
    for c in attrs["community"].as_array().into_iter().flatten() {
        if let (Some(a), Some(b)) = (c[0].as_u64(), c[1].as_u64())
            && let (Ok(a), Ok(b)) = (u16::try_from(a), u16::try_from(b))
        {
            entry.communities.push(Community(a, b));
        }
    }
    for c in attrs["large-community"].as_array().into_iter().flatten() {
        let parts: Vec<u32> = c
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_u64().and_then(|v| u32::try_from(v).ok()))
            .collect();
        if let [a, b, c] = parts.as_slice() {
            entry.large_communities.push(LargeCommunity(*a, *b, *c));
        }
    }
    for ec in attrs["extended-community"].as_array().into_iter().flatten() {
        match ec["value"].as_u64() {
            Some(v) => entry.ext_communities.push(ExtCommunity::from_u64(v)),
            None => entry.other_ext_communities.push(ec.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peers::Neighbor;

    /// ExaBGP 4.2.21 messages while peering with GoBGP 3.10 (AS 65003).
    const LOG: &str = r#"{ "exabgp": "4.0.1", "time": 1795309344.44, "host" : "vm", "pid" : 11444, "ppid" : 11436, "counter": 1, "type": "state", "neighbor": { "address": { "local": "192.0.2.2", "peer": "192.0.2.1" }, "asn": { "local": 65004, "peer": 65003 } , "state": "connected" } }
{ "exabgp": "4.0.1", "time": 1795309344.44, "host" : "vm", "pid" : 11444, "ppid" : 11436, "counter": 2, "type": "state", "neighbor": { "address": { "local": "192.0.2.2", "peer": "192.0.2.1" }, "asn": { "local": 65004, "peer": 65003 } , "state": "up" } }
{ "exabgp": "4.0.1", "time": 1795309353.23, "host" : "vm", "pid" : 11444, "ppid" : 1, "counter": 3, "type": "update", "neighbor": { "address": { "local": "192.0.2.2", "peer": "192.0.2.1" }, "asn": { "local": 65004, "peer": 65003 } , "direction": "receive", "message": { "update": { "attribute": { "origin": "incomplete", "as-path": [ 65003 ], "confederation-path": [], "community": [ [ 65003, 1 ] ], "extended-community": [ { "value": 842135712563205, "string": "target:65003:5" } ], "large-community": [ [ 65003, 1 , 2 ] ] }, "announce": { "ipv4 unicast": { "192.0.2.1": [ { "nlri": "198.51.100.3/32" } ] } } } } } }
{ "exabgp": "4.0.1", "time": 1795309353.25, "host" : "vm", "pid" : 11444, "ppid" : 1, "counter": 4, "type": "update", "neighbor": { "address": { "local": "192.0.2.2", "peer": "192.0.2.1" }, "asn": { "local": 65004, "peer": 65003 } , "direction": "receive", "message": { "update": { "attribute": { "origin": "incomplete", "as-path": [ 65003 ], "confederation-path": [], "community": [ [ 65003, 6 ] ] }, "announce": { "ipv6 unicast": { "2001:db8::1": [ { "nlri": "2001:db8:100::3/128" } ] } } } } } }
{ "exabgp": "4.0.1", "time": 1795309357.26, "host" : "vm", "pid" : 11444, "ppid" : 1, "counter": 5, "type": "update", "neighbor": { "address": { "local": "192.0.2.2", "peer": "192.0.2.1" }, "asn": { "local": 65004, "peer": 65003 } , "direction": "receive", "message": { "update": { "withdraw": { "ipv4 unicast": [ { "nlri": "198.51.100.3/32" } ] } } } } }
{ "exabgp": "4.0.1", "partial"#;

    #[test]
    fn replays_announces_and_withdraws() {
        let messages = parse_messages(LOG).unwrap();
        assert_eq!(messages.len(), 5, "the partial last line waits");
        let before = replay(&messages[..3]);
        assert_eq!(before.len(), 1);
        let r = &before[0];
        assert_eq!(r.prefix, "198.51.100.3/32".parse::<IpNet>().unwrap());
        assert_eq!(r.as_path, vec![65003]);
        assert_eq!(r.communities, vec![Community(65003, 1)]);
        assert_eq!(r.large_communities, vec![LargeCommunity(65003, 1, 2)]);
        assert_eq!(
            r.ext_communities,
            vec![ExtCommunity::route_target(65003, 5)]
        );
        let after = replay(&messages);
        assert_eq!(after.len(), 1);
        assert_eq!(
            after[0].prefix,
            "2001:db8:100::3/128".parse::<IpNet>().unwrap()
        );
        assert_eq!(after[0].next_hop, Some("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn announce_lines_carry_raw_attributes_and_need_cross_family_next_hops() {
        let config = PeerConfig::new("192.0.2.2".parse().unwrap(), 65004)
            .neighbor(Neighbor::new("192.0.2.1".parse().unwrap(), 65003));
        let route = Route::new("198.51.100.4/32".parse().unwrap())
            .community(65004, 1)
            .ext_community(ExtCommunity::mac_mobility(7, false))
            .raw_attribute(0x17, 0xc0, &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(
            announce_line(&config, &route).unwrap(),
            "announce route 198.51.100.4/32 next-hop self community [ 65004:1 ] \
             extended-community [ 0x0600000000000007 ] attribute [ 0x17 0xc0 0xDEADBEEF ]"
        );
        let v6 = Route::new("2001:db8:100::4/128".parse().unwrap());
        assert!(announce_line(&config, &v6).is_err());
        let v6 = v6.next_hop("2001:db8::2".parse().unwrap());
        assert!(
            announce_line(&config, &v6)
                .unwrap()
                .ends_with("next-hop 2001:db8::2")
        );
    }
}
