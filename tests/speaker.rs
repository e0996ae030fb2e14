//! `hr-speakerd` (the hostroute BGP speaker alone) inside a lab namespace,
//! driven through its Unix control socket.
//!
//! ```text
//!   test (root netns) --JSON line--> <run dir>/speaker-<netns>/control.sock
//!                                        | hr-speakerd config.json control.sock
//!                                        v (inside the namespace, a lab Child)
//!                                    speaker: listeners :179, peers, RIB
//!   <run dir>/speaker-<netns>.log <-- stdout (JSON event lines) + stderr (tracing)
//! ```
//!
//! The binary's path comes from the integration test
//! (`env!("CARGO_BIN_EXE_hr-speakerd")`, which Cargo sets only there). Paths
//! from [`Speaker::routes`] are flattened into [`SpeakerPath`], with the
//! lab's community types so they compare with what real peers report.

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use ipnet::IpNet;
use lab::peers::{Community, ExtCommunity, LargeCommunity, POLL};
use lab::{Child, Netns, wait_until};
use serde_json::{Value, json};
use speaker::SpeakerConfig;

/// How long one control request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the daemon gets to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `hr-speakerd`; stopped (by PID) when dropped.
pub struct Speaker {
    config: SpeakerConfig,
    socket: PathBuf,
    child: Child,
}

/// One path of a prefix in the speaker's RIB.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpeakerPath {
    pub prefix: IpNet,
    /// `"local"` or the neighbour's address.
    pub source: String,
    pub best: bool,
    /// `None` for a local route (next hop: this speaker).
    pub next_hop: Option<IpAddr>,
    pub as_path: Vec<u32>,
    pub local_pref: Option<u32>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Vec<Ipv4Addr>,
    pub communities: Vec<Community>,
    pub large_communities: Vec<LargeCommunity>,
    pub ext_communities: Vec<ExtCommunity>,
    /// The decision step this path lost on, when it is not best.
    pub lost_on: Option<String>,
}

impl SpeakerPath {
    /// Whether the path came from `neighbor`.
    pub fn from(&self, neighbor: IpAddr) -> bool {
        self.source == neighbor.to_string()
    }

    pub fn is_local(&self) -> bool {
        self.source == "local"
    }

    /// The MAC Mobility community's sequence, if the path carries one.
    pub fn sequence(&self) -> Option<u32> {
        self.ext_communities
            .iter()
            .find(|c| c.kind() == (0x06, 0x00))
            .map(|c| u32::from_be_bytes([c.0[4], c.0[5], c.0[6], c.0[7]]))
    }
}

impl Speaker {
    /// Writes `config` as `<run dir>/speaker-<netns>/config.json`, starts
    /// `binary` inside `netns` and waits until it answers on its control
    /// socket.
    pub fn start(netns: &Netns, binary: &str, config: SpeakerConfig) -> Result<Speaker> {
        let name = format!("speaker-{}", netns.name());
        let dir = netns.lab().subdir(&name)?;
        let conf = dir.join("config.json");
        let socket = dir.join("control.sock");
        std::fs::write(&conf, serde_json::to_string_pretty(&config)?)
            .with_context(|| format!("writing {}", conf.display()))?;
        let mut command = netns.command(binary);
        command.arg(&conf).arg(&socket);
        command
            .env("RUST_LOG", "info,speaker=debug")
            .env("NO_COLOR", "1");
        let child = Child::spawn(netns.lab(), &name, command)?;
        let mut speaker = Speaker {
            config,
            socket,
            child,
        };
        let child = &mut speaker.child;
        let socket = &speaker.socket;
        wait_until("hr-speakerd control socket", START_TIMEOUT, POLL, || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            Ok(socket.exists() && UnixStream::connect(socket).is_ok())
        })?;
        Ok(speaker)
    }

    pub fn config(&self) -> &SpeakerConfig {
        &self.config
    }

    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The daemon's log so far: JSON event lines and tracing output.
    pub fn log(&self) -> String {
        self.child.log()
    }

    /// Log lines at WARN or ERROR: what the speaker found wrong with a peer
    /// or with itself. A NOTIFICATION received is the peer's complaint (FRR
    /// sends one while its interface lacks a link-local address) and is
    /// left out.
    pub fn warnings(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
            .filter(|l| !l.contains("NOTIFICATION received"))
            .map(str::to_string)
            .collect()
    }

    /// The JSON event lines the daemon printed (`{"event": ...}`).
    pub fn events(&self) -> Vec<Value> {
        self.log()
            .lines()
            .filter(|l| l.starts_with('{'))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get("event").is_some())
            .collect()
    }

    /// Sends one request line and returns the `ok` value of the reply.
    pub fn request(&self, request: Value) -> Result<Value> {
        let mut stream = UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        stream.write_all(format!("{request}\n").as_bytes())?;
        let mut line = String::new();
        BufReader::new(stream)
            .read_line(&mut line)
            .with_context(|| format!("reading the reply to {request}"))?;
        let reply: Value =
            serde_json::from_str(&line).with_context(|| format!("reply {line:?} to {request}"))?;
        match (reply.get("ok"), reply.get("error")) {
            (Some(ok), _) => Ok(ok.clone()),
            (None, Some(e)) => bail!("hr-speakerd refused {request}: {e}"),
            _ => bail!("hr-speakerd: odd reply {line:?} to {request}"),
        }
    }

    /// Originates `prefix` with mobility sequence `seq` and `communities`.
    pub fn originate(&self, prefix: IpNet, seq: u32, communities: &[Community]) -> Result<()> {
        let communities: Vec<String> = communities.iter().map(ToString::to_string).collect();
        self.request(json!({
            "cmd": "originate", "prefix": prefix, "seq": seq, "communities": communities,
        }))
        .map(drop)
    }

    pub fn withdraw(&self, prefix: IpNet) -> Result<()> {
        self.request(json!({"cmd": "withdraw", "prefix": prefix}))
            .map(drop)
    }

    /// `peers` as the daemon reports them.
    pub fn peers(&self) -> Result<Vec<Value>> {
        match self.request(json!({"cmd": "peers"}))? {
            Value::Array(peers) => Ok(peers),
            other => bail!("peers: not a list: {other}"),
        }
    }

    /// Whether the session with `neighbor` is Established.
    pub fn established(&self, neighbor: IpAddr) -> Result<bool> {
        let peers = self.peers()?;
        let peer = peers
            .iter()
            .find(|p| p["neighbor"] == neighbor.to_string())
            .ok_or_else(|| anyhow!("no neighbor {neighbor} in {peers:?}"))?;
        Ok(peer["state"] == "Established")
    }

    pub fn wait_established(&self, neighbor: IpAddr, timeout: Duration) -> Result<()> {
        wait_until(
            &format!("hostroute session with {neighbor} to be Established"),
            timeout,
            POLL,
            || self.established(neighbor).map_err(lab_error),
        )
        .map_err(|e| anyhow!("{e}; peers: {:?}", self.peers().ok()))
    }

    /// Every path of every prefix.
    pub fn routes(&self) -> Result<Vec<SpeakerPath>> {
        let reply = self.request(json!({"cmd": "routes"}))?;
        let mut paths = Vec::new();
        for route in reply.as_array().into_iter().flatten() {
            let prefix: IpNet = route["prefix"]
                .as_str()
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| anyhow!("route without prefix: {route}"))?;
            for path in route["paths"].as_array().into_iter().flatten() {
                paths.push(parse_path(prefix, path).with_context(|| format!("path {path}"))?);
            }
        }
        Ok(paths)
    }

    /// Waits until some path satisfies `matches`, and returns it.
    pub fn wait_path(
        &self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&SpeakerPath) -> bool,
    ) -> Result<SpeakerPath> {
        let mut found = None;
        wait_until(&format!("hostroute to hold {what}"), timeout, POLL, || {
            found = self
                .routes()
                .map_err(lab_error)?
                .into_iter()
                .find(|p| matches(p));
            Ok(found.is_some())
        })
        .map_err(|e| anyhow!("{e}; routes: {:#?}", self.routes().ok()))?;
        found.ok_or_else(|| anyhow!("lost {what} while reading it"))
    }

    /// Waits until no path of `prefix` satisfies `matches`.
    pub fn wait_no_path(
        &self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&SpeakerPath) -> bool,
    ) -> Result<()> {
        wait_until(&format!("hostroute to lose {what}"), timeout, POLL, || {
            Ok(!self.routes().map_err(lab_error)?.iter().any(&matches))
        })
        .map_err(|e| anyhow!("{e}; routes: {:#?}", self.routes().ok()))
    }

    /// Waits for a JSON event line satisfying `matches`.
    pub fn wait_event(
        &self,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let mut found = None;
        wait_until(&format!("hostroute to print {what}"), timeout, POLL, || {
            found = self.events().into_iter().find(|e| matches(e));
            Ok(found.is_some())
        })?;
        found.ok_or_else(|| anyhow!("lost {what} while reading it"))
    }
}

/// A control-socket failure as a "not yet" for [`wait_until`].
fn lab_error(e: anyhow::Error) -> lab::Error {
    lab::Error::Config(format!("{e:#}"))
}

fn parse_path(prefix: IpNet, path: &Value) -> Result<SpeakerPath> {
    let attrs = &path["attrs"];
    let next_hop = match &attrs["next_hop"] {
        Value::String(s) if s == "Local" => None,
        nh => Some(
            nh["V4"]
                .as_str()
                .or(nh["V6"]["global"].as_str())
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| anyhow!("next hop {nh}"))?,
        ),
    };
    let as_path = attrs["as_path"]["segments"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["asns"].as_array().cloned().unwrap_or_default())
        .map(|a| {
            a.as_u64()
                .and_then(|a| u32::try_from(a).ok())
                .ok_or_else(|| anyhow!("AS {a}"))
        })
        .collect::<Result<_>>()?;
    let u32_of = |v: &Value| v.as_u64().and_then(|v| u32::try_from(v).ok());
    let communities = attrs["communities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| u32_of(c).map(Community::from_u32))
        .collect::<Option<_>>()
        .ok_or_else(|| anyhow!("communities {}", attrs["communities"]))?;
    let large_communities = attrs["large_communities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            Some(LargeCommunity(
                u32_of(&c["global_admin"])?,
                u32_of(&c["local_data_1"])?,
                u32_of(&c["local_data_2"])?,
            ))
        })
        .collect::<Option<_>>()
        .ok_or_else(|| anyhow!("large communities {}", attrs["large_communities"]))?;
    let ext_communities = attrs["extended_communities"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| serde_json::from_value::<[u8; 8]>(c.clone()).map(ExtCommunity))
        .collect::<Result<_, _>>()?;
    let ipv4 = |v: &Value| v.as_str().and_then(|a| a.parse::<Ipv4Addr>().ok());
    Ok(SpeakerPath {
        prefix,
        source: path["source"].as_str().unwrap_or_default().to_string(),
        best: path["best"] == true,
        next_hop,
        as_path,
        local_pref: u32_of(&attrs["local_pref"]),
        originator_id: ipv4(&attrs["originator_id"]),
        cluster_list: attrs["cluster_list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(ipv4)
            .collect(),
        communities,
        large_communities,
        ext_communities,
        lost_on: path["lost_on"].as_str().map(str::to_string),
    })
}
