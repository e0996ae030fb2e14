//! The pieces of `speaker_adversary.rs`: the speaker alone (`hr-speakerd`)
//! in one namespace, and the scripted raw peer (`hr-rawpeer`) in the other,
//! run either on a whole script or one line at a time.
//!
//! ```text
//!   dut: v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  peer: v1 192.0.2.2/24 2001:db8::2/64
//!        hr-speakerd AS 65001, listening on :179           + 192.0.2.10 .. 192.0.2.59 /24
//!        one passive neighbor (AS 65002) per peer address  hr-rawpeer / ExaBGP, AS 65002
//! ```
//!
//! Each raw-peer case connects from its own address, so the speaker's
//! damping of one misbehaving neighbor (RFC 4271 IdleHoldTimer) never
//! slows another case down.

pub mod cases;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hostroute_tests::Pair;
use ipnet::IpNet;
use lab::{Child, Lab, Netns, wait_until};
use serde_json::{Value, json};

pub const SPEAKERD: &str = env!("CARGO_BIN_EXE_hr-speakerd");
pub const RAWPEER: &str = env!("CARGO_BIN_EXE_hr-rawpeer");

/// The speaker's address, as the raw peer dials it.
pub const DUT: &str = "192.0.2.1:179";

/// How long a RIB change may take to show in `routes`.
pub const SETTLE: Duration = Duration::from_secs(3);

/// The `n`th raw-peer address (n in 0..50).
pub fn peer_ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, 10 + n)
}

/// Both namespaces, the extra peer addresses and the speaker. Fields drop
/// in order: the speaker stops before its namespace goes.
pub struct Topo {
    pub speaker: Child,
    pub socket: PathBuf,
    pub lab: Lab,
    pub pair: Pair,
}

impl Topo {
    /// The speaker with one passive neighbor per address in `neighbors`
    /// (and 192.0.2.2 for ExaBGP), each importing host routes of
    /// 198.51.100.0/24 and 2001:db8::/32; `exporters` also get the
    /// learned routes of those pools.
    pub fn start(
        lab: &Lab,
        neighbors: &[Ipv4Addr],
        exporters: &[Ipv4Addr],
    ) -> anyhow::Result<Topo> {
        let pair = Pair::new(lab, "dut", "peer")?;
        for n in 0..50 {
            pair.link
                .b
                .add_addr(IpNet::new_assert(IpAddr::V4(peer_ip(n)), 24))?;
        }
        let pools = json!(["198.51.100.0/24", "2001:db8::/32"]);
        let mut all: Vec<Ipv4Addr> = neighbors.to_vec();
        all.push(Ipv4Addr::new(192, 0, 2, 2));
        let neighbors: Vec<Value> = all
            .iter()
            .map(|a| {
                let mut policy = json!({"import": {"pools": pools, "host_routes_only": true}});
                if exporters.contains(a) {
                    policy["export"] = json!({"pools": pools, "learned": true, "local": false});
                }
                json!({"address": a, "remote_as": 65002, "passive": true, "hold_time": 30,
                       "policy": policy})
            })
            .collect();
        let config = json!({"router_id": "192.0.2.1", "asn": 65001, "neighbors": neighbors});
        let dir = lab.subdir("speaker")?;
        let config_path = dir.join("speaker.json");
        std::fs::write(&config_path, serde_json::to_string_pretty(&config)?)?;
        let socket = dir.join("control.sock");
        let mut speaker = pair.a.spawn(
            "hr-speakerd",
            SPEAKERD,
            &[&config_path.to_string_lossy(), &socket.to_string_lossy()],
        )?;
        wait_until(
            "hr-speakerd to be ready",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || {
                if let Some(e) = speaker.exited_error() {
                    return Err(e);
                }
                Ok(speaker.log().contains(r#""event":"ready""#))
            },
        )?;
        Ok(Topo {
            speaker,
            socket,
            lab: lab.clone(),
            pair,
        })
    }

    /// One control-socket request; the `ok` value, or the error.
    pub fn control(&self, request: Value) -> anyhow::Result<Value> {
        let mut s = UnixStream::connect(&self.socket)
            .with_context(|| format!("connecting to {}", self.socket.display()))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.set_write_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(format!("{request}\n").as_bytes())?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        let v: Value = serde_json::from_str(&reply).with_context(|| format!("reply {reply:?}"))?;
        match v.get("ok") {
            Some(ok) => Ok(ok.clone()),
            None => bail!("{request}: {reply}"),
        }
    }

    /// The speaker still runs, has never panicked, and answers.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(e) = self.speaker.exited_error() {
            bail!("hr-speakerd died: {e}");
        }
        let log = self.speaker.log();
        ensure!(!log.contains("panicked"), "hr-speakerd panicked:\n{log}");
        self.control(json!({"cmd": "summary"}))
            .context("the control socket does not answer")?;
        Ok(())
    }

    /// The RFC 7606 verdicts the speaker logged for `neighbor`'s UPDATEs
    /// that it did not reset for, in order: (attribute type, action).
    pub fn verdicts(&self, neighbor: Ipv4Addr) -> Vec<(u8, String)> {
        let needle = format!("neighbor={neighbor} ");
        strip_ansi(&self.speaker.log())
            .lines()
            .filter(|l| l.contains("speaker::instance: malformed attribute (RFC 7606)"))
            .filter(|l| l.contains(&needle))
            .filter_map(|l| {
                let field = |key: &str| {
                    let rest = &l[l.find(key)? + key.len()..];
                    Some(rest.split([' ', '(']).next()?.to_string())
                };
                Some((field("type_code=")?.parse().ok()?, field("action=")?))
            })
            .collect()
    }

    /// The neighbor's line of `peers`.
    pub fn peer(&self, neighbor: Ipv4Addr) -> anyhow::Result<Value> {
        let peers = self.control(json!({"cmd": "peers"}))?;
        peers
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["neighbor"] == neighbor.to_string())
            .cloned()
            .with_context(|| format!("no neighbor {neighbor} in {peers}"))
    }

    /// The best path's attributes for `prefix`, if the speaker has one.
    pub fn route(&self, prefix: &str) -> anyhow::Result<Option<Value>> {
        let routes = self.control(json!({"cmd": "routes", "prefix": prefix}))?;
        Ok(routes
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["prefix"] == prefix)
            .and_then(|r| r["paths"].as_array()?.iter().find(|p| p["best"] == true))
            .map(|p| p["attrs"].clone()))
    }

    /// Waits until `prefix` has a best path that satisfies `check`.
    pub fn wait_route(
        &self,
        prefix: &str,
        what: &str,
        check: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let mut found = None;
        wait_until(
            &format!("{prefix} {what}"),
            SETTLE,
            Duration::from_millis(25),
            || {
                found = self
                    .route(prefix)
                    .map_err(|e| lab::Error::Config(e.to_string()))?;
                Ok(found.as_ref().is_some_and(&check))
            },
        )
        .with_context(|| format!("last seen: {found:?}"))?;
        found.context("route vanished")
    }

    /// Waits until the speaker has no path for `prefix`.
    pub fn wait_gone(&self, prefix: &str) -> anyhow::Result<()> {
        let mut last = None;
        wait_until(
            &format!("{prefix} to be withdrawn"),
            SETTLE,
            Duration::from_millis(25),
            || {
                last = self
                    .route(prefix)
                    .map_err(|e| lab::Error::Config(e.to_string()))?;
                Ok(last.is_none())
            },
        )
        .with_context(|| format!("still there: {last:?}"))
    }

    /// Runs a whole script in the peer namespace; its JSON lines, or an
    /// error with them if the raw peer reported a mismatch.
    pub fn script(&self, name: &str, script: &str) -> anyhow::Result<Vec<Value>> {
        let dir = self.lab.subdir("rawpeer")?;
        let path = dir.join(format!("{name}.script"));
        std::fs::write(&path, script)?;
        let out = self
            .pair
            .b
            .exec(RAWPEER, &["--limit-ms", "15000", &path.to_string_lossy()])?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        std::fs::write(dir.join(format!("{name}.jsonl")), &stdout)?;
        ensure!(
            out.status.success(),
            "raw peer {name}: {}\n{stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(parse_lines(&stdout))
    }
}

/// `text` without terminal colour sequences (ESC [ ... m).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// A raw peer fed one script line at a time, so the session stays up
/// while the test looks at the speaker. Killed by PID when dropped.
pub struct RawSession {
    child: std::process::Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
    name: String,
}

impl RawSession {
    pub fn start(netns: &Netns, lab: &Lab, name: &str) -> anyhow::Result<RawSession> {
        let dir = lab.subdir("rawpeer")?;
        let log = dir.join(format!("{name}.jsonl"));
        let stderr = std::fs::File::create(dir.join(format!("{name}.stderr.log")))?;
        let mut child = netns
            .command(RAWPEER)
            .args(["--limit-ms", "28000", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .context("starting hr-rawpeer")?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("hr-rawpeer without pipes");
        };
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            let mut file = std::fs::File::create(log).ok();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Ok(RawSession {
            child,
            stdin,
            lines,
            name: name.to_string(),
        })
    }

    /// Runs one script line; the JSON lines it printed.
    pub fn step(&mut self, line: &str) -> anyhow::Result<Vec<Value>> {
        writeln!(self.stdin, "{line}")
            .and_then(|()| self.stdin.flush())
            .with_context(|| format!("{}: raw peer gone before `{line}`", self.name))?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let text = self
                .lines
                .recv_timeout(left)
                .with_context(|| format!("{}: `{line}` unanswered; so far {seen:?}", self.name))?;
            let Ok(v) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            if let Some(e) = v.get("error") {
                bail!("{}: {e}\n{seen:#?}", self.name);
            }
            if v.get("done").is_some() {
                return Ok(seen);
            }
            seen.push(v);
        }
    }

    /// Runs each line of `script` in turn.
    pub fn steps(&mut self, script: &str) -> anyhow::Result<Vec<Value>> {
        let mut all = Vec::new();
        for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            all.extend(self.step(line)?);
        }
        Ok(all)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for RawSession {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An MP_REACH_NLRI value for IPv6 unicast host routes via `next_hop`,
/// with the next-hop length field set to `nh_len` (16 is right) and that
/// many next-hop bytes.
pub fn mp_reach_v6(prefixes: &[&str], next_hop: &str, nh_len: u8) -> anyhow::Result<String> {
    let nh: std::net::Ipv6Addr = next_hop.parse()?;
    let mut v = vec![0, 2, 1, nh_len];
    v.extend(nh.octets().iter().cycle().take(usize::from(nh_len)));
    v.push(0);
    for p in prefixes {
        let net: ipnet::Ipv6Net = p.parse()?;
        v.push(net.prefix_len());
        let n = usize::from(net.prefix_len()).div_ceil(8);
        v.extend(net.addr().octets().iter().take(n));
    }
    Ok(v.iter().map(|b| format!("{b:02x}")).collect())
}
