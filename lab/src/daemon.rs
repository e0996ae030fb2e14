//! The real `hostroute` daemon inside a lab namespace, inspected through
//! its own CLI (`hostroute --socket S show ... --json`), and VMs as
//! namespaces behind a veth whose hypervisor end looks like a tap. Shared
//! by the integration tests (`tests/tests/agent_daemon.rs`), the agent
//! benchmarks (`bench-agent-*`) and demos.
//!
//! ```text
//!   caller (root netns) --CLI--> <run dir>/<hv>/hostroute.sock
//!                                  | hostroute daemon --config <run dir>/<hv>/hostroute.toml
//!                                  v (inside the hypervisor namespace, a lab Child)
//!   vm namespace: eth0 10.1.1.5/24 <== veth ==> tap-<vm> in the hypervisor
//! ```
//!
//! The binary is `hostroute` from the agent package, found beside the
//! running executable: `target/<profile>/hostroute` for a benchmark
//! (`target/<profile>/bench-*`) and for a test
//! (`target/<profile>/deps/<test>`).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::link::{Iface, Mac, veth};
use crate::netns::Netns;
use crate::process::{Child, Signal, command_line, wait_until};
use crate::run::Lab;

/// How long the daemon gets to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Polling interval of [`Daemon::wait_best`] and the start-up wait.
pub const POLL: Duration = Duration::from_millis(20);
/// Lines of the daemon's log quoted in errors.
const LOG_TAIL: usize = 60;

/// The `hostroute` binary beside the running executable (or beside its
/// directory, for test executables under `deps/`), built there with cargo
/// (same profile) if it is missing.
pub fn hostroute_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().map_err(|e| Error::io("locating", "current_exe", e))?;
    let dir = exe
        .parent()
        .ok_or_else(|| Error::Config("the running executable has no directory".into()))?;
    let find = || {
        [Some(dir), dir.parent()]
            .into_iter()
            .flatten()
            .map(|d| d.join("hostroute"))
            .find(|bin| bin.exists())
    };
    if let Some(bin) = find() {
        return Ok(bin);
    }
    let profile_dir = if dir.ends_with("deps") {
        dir.parent().unwrap_or(dir)
    } else {
        dir
    };
    if let Some(target) = profile_dir.parent() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "hostroute-agent",
                "--bin",
                "hostroute",
            ])
            .arg("--manifest-path")
            .arg(crate::bench::workspace().join("Cargo.toml"))
            .arg("--target-dir")
            .arg(target);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        // A failed build leaves the error below to say what is missing.
        if let Err(e) = crate::process::run_command(&mut build) {
            tracing::warn!(error = %e, "building hostroute failed");
        }
    }
    find().ok_or_else(|| {
        Error::Config(format!(
            "no hostroute binary in {} or its parent: build it with \
             `cargo build -p hostroute-agent` (--release for benchmarks)",
            dir.display()
        ))
    })
}

/// One BGP peer of a daemon.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    pub address: IpAddr,
    pub asn: u32,
    /// The peer is our route-reflector client (and we send it what we
    /// learned from others).
    pub rr_client: bool,
    /// Seconds; [`PeerSpec::new`] sets 3 and 1, for fast tests.
    pub hold_time: u16,
    pub keepalive: u16,
    /// Never connect; wait for the peer to.
    pub passive: bool,
}

impl PeerSpec {
    pub fn new(address: IpAddr, asn: u32) -> Self {
        Self {
            address,
            asn,
            rr_client: false,
            hold_time: 3,
            keepalive: 1,
            passive: false,
        }
    }
}

/// What a lab daemon is configured with; [`DaemonConfig::toml`] writes
/// the file.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub peers: Vec<PeerSpec>,
    pub pools: Vec<String>,
    pub patterns: Vec<String>,
    pub graceful_restart: u16,
    /// The anycast gateway on every VM-facing interface.
    pub gateway_mac: String,
    pub gateway4: Vec<String>,
    pub gateway6: Vec<String>,
    /// Extra TOML appended verbatim (tables such as `[mobility]`).
    pub extra: String,
}

impl DaemonConfig {
    /// VMs in 10.1.1.0/24 and 2001:db8:1::/64 behind `tap-*` interfaces,
    /// the anycast gateway .1, no peers.
    pub fn new(router_id: Ipv4Addr, asn: u32) -> Self {
        Self {
            router_id,
            asn,
            peers: Vec::new(),
            pools: vec!["10.1.1.0/24".into(), "2001:db8:1::/64".into()],
            patterns: vec!["tap-*".into()],
            graceful_restart: 30,
            gateway_mac: "ee:ee:ee:ee:ee:ee".into(),
            gateway4: vec!["10.1.1.1".into()],
            gateway6: vec!["2001:db8:1::1".into()],
            extra: String::new(),
        }
    }

    pub fn peer(mut self, address: IpAddr, asn: u32) -> Self {
        self.peers.push(PeerSpec::new(address, asn));
        self
    }

    /// A peer that is our route-reflector client.
    pub fn rr_client(mut self, address: IpAddr, asn: u32) -> Self {
        self.peers.push(PeerSpec {
            rr_client: true,
            ..PeerSpec::new(address, asn)
        });
        self
    }

    /// The configuration file, with `socket` as the control socket.
    pub fn toml(&self, socket: &Path) -> String {
        let quote = |v: &[String]| {
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut t = format!(
            "router_id = \"{}\"\nasn = {}\ncontrol_socket = {:?}\ngraceful_restart = {}\n\n\
             [gateway]\nmac = {:?}\nipv4 = [{}]\nipv6 = [{}]\n\n\
             [[interfaces]]\nmatch = [{}]\npools = [{}]\n",
            self.router_id,
            self.asn,
            socket.display().to_string(),
            self.graceful_restart,
            self.gateway_mac,
            quote(&self.gateway4),
            quote(&self.gateway6),
            quote(&self.patterns),
            quote(&self.pools),
        );
        for p in &self.peers {
            t.push_str(&format!(
                "\n[[peer]]\naddress = \"{}\"\nasn = {}\nhold_time = {}\nkeepalive = {}\npassive = {}\n\
                 route_reflector_client = {}\nexport_learned = {}\n",
                p.address, p.asn, p.hold_time, p.keepalive, p.passive, p.rr_client, p.rr_client
            ));
        }
        t.push('\n');
        t.push_str(&self.extra);
        t
    }
}

/// How a daemon is started, beyond its configuration.
#[derive(Debug, Clone)]
pub struct Launch {
    /// `HOSTROUTE_LOG`. Default `info,agent=debug`; benchmarks log less,
    /// so logging is not what they measure.
    pub log: String,
    /// Run under `nice -n <n>` (negative: ahead of other work on a shared
    /// machine). Default: as the lab runs.
    pub nice: Option<i32>,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            log: "info,agent=debug".into(),
            nice: None,
        }
    }
}

/// A running `hostroute daemon`; stopped (by PID) when dropped.
pub struct Daemon {
    pub name: String,
    binary: PathBuf,
    socket: PathBuf,
    config_path: PathBuf,
    netns: String,
    child: Option<Child>,
    launch: Launch,
    lab: Lab,
}

impl Daemon {
    /// Writes the config under the run directory and starts the daemon in
    /// `netns` with debug logs; returns once its control socket answers.
    pub fn start(netns: &Netns, config: &DaemonConfig) -> Result<Daemon> {
        Self::start_with(netns, config, &Launch::default())
    }

    /// As [`Daemon::start`], started as `launch` says.
    pub fn start_with(netns: &Netns, config: &DaemonConfig, launch: &Launch) -> Result<Daemon> {
        let binary = hostroute_binary()?;
        let dir = netns.lab().subdir(netns.name())?;
        let socket = dir.join("hostroute.sock");
        let config_path = dir.join("hostroute.toml");
        std::fs::write(&config_path, config.toml(&socket))
            .map_err(|e| Error::io("writing", &config_path, e))?;
        let mut daemon = Daemon {
            name: format!("hostroute-{}", netns.name()),
            binary,
            socket,
            config_path,
            netns: netns.name().to_owned(),
            child: None,
            launch: launch.clone(),
            lab: netns.lab().clone(),
        };
        daemon.spawn()?;
        Ok(daemon)
    }

    fn spawn(&mut self) -> Result<()> {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.netns]);
        // nice(1) execs the daemon: the child's PID stays the daemon's.
        if let Some(n) = self.launch.nice {
            command.args(["nice", "-n", &n.to_string()]);
        }
        command
            .arg(&self.binary)
            .args(["daemon", "--config"])
            .arg(&self.config_path)
            .env("HOSTROUTE_LOG", &self.launch.log);
        let mut child = Child::spawn(&self.lab, &self.name, command)?;
        let socket = self.socket.clone();
        let binary = self.binary.clone();
        let started = wait_until("the daemon's control socket", START_TIMEOUT, POLL, || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            Ok(cli_at(&binary, &socket, &["show", "status", "--json"])
                .map(|o| o.status.success())
                .unwrap_or(false))
        });
        if let Err(e) = started {
            return Err(Error::Daemon {
                daemon: self.name.clone(),
                what: e.to_string(),
                log_tail: tail(&child.log(), LOG_TAIL),
            });
        }
        self.child = Some(child);
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::pid)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    pub fn log(&self) -> String {
        self.child.as_ref().map(Child::log).unwrap_or_default()
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&mut self, signal: Signal) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            child.signal(signal)?;
        }
        Ok(())
    }

    /// SIGKILL, as a crash: nothing is cleaned up.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.signal(Signal::Kill)?;
            wait_until("the daemon to die", Duration::from_secs(5), POLL, || {
                Ok(!child.is_running()?)
            })?;
        }
        Ok(())
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.stop()?;
        }
        Ok(())
    }

    /// Starts the daemon again with the same configuration.
    pub fn restart(&mut self) -> Result<()> {
        if self.child.is_some() {
            return Err(self.failure("restart: the daemon is still running".into()));
        }
        self.spawn()
    }

    /// Runs the CLI against this daemon.
    pub fn cli(&self, args: &[&str]) -> Result<Output> {
        cli_at(&self.binary, &self.socket, args)
    }

    /// `hostroute show <what...> --json`, parsed.
    pub fn show(&self, what: &[&str]) -> Result<Value> {
        let mut args = vec!["show"];
        args.extend_from_slice(what);
        args.push("--json");
        let out = self.cli(&args)?;
        if !out.status.success() {
            return Err(Error::Command {
                command: format!("hostroute {}", args.join(" ")),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        serde_json::from_slice(&out.stdout).map_err(|e| {
            Error::parse(
                format!("the JSON of `hostroute {}`", args.join(" ")),
                format!("{e}: {}", String::from_utf8_lossy(&out.stdout)),
            )
        })
    }

    /// The best path of `prefix` in this daemon's RIB, if any.
    pub fn best(&self, prefix: &str) -> Result<Option<Value>> {
        let routes = self.show(&["routes", prefix])?;
        Ok(routes
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["paths"].as_array().cloned().unwrap_or_default())
            .find(|p| p["best"] == Value::Bool(true)))
    }

    /// Waits until the best path of `prefix` satisfies `ok` (`None`: no
    /// route).
    pub fn wait_best(
        &self,
        what: &str,
        prefix: &str,
        timeout: Duration,
        ok: impl Fn(Option<&Value>) -> bool,
    ) -> Result<Option<Value>> {
        let mut last = None;
        let waited = wait_until(what, timeout, POLL, || {
            // A daemon busy starting may not answer yet: not an error.
            match self.best(prefix) {
                Ok(best) => {
                    last = best;
                    Ok(ok(last.as_ref()))
                }
                Err(_) => Ok(false),
            }
        });
        if let Err(e) = waited {
            return Err(self.failure(format!("{e}: last best path of {prefix}: {last:?}")));
        }
        Ok(last)
    }

    /// An [`Error::Daemon`] about this daemon, with its log's tail.
    pub fn failure(&self, what: String) -> Error {
        Error::Daemon {
            daemon: self.name.clone(),
            what,
            log_tail: tail(&self.log(), LOG_TAIL),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.stop();
        }
    }
}

fn cli_at(binary: &Path, socket: &Path, args: &[&str]) -> Result<Output> {
    let mut command = Command::new(binary);
    command.arg("--socket").arg(socket).args(args);
    command.output().map_err(|source| Error::Spawn {
        command: command_line(&command),
        source,
    })
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(n)..)
        .unwrap_or_default()
        .join("\n")
}

/// A VM: a namespace with `eth0` (MAC, IPv4 /24, default route via the
/// anycast gateway), the other end `tap-<name>` in a hypervisor.
pub struct Vm {
    pub netns: Netns,
    pub tap: Iface,
    pub mac: Mac,
    pub address: Ipv4Addr,
    /// Set by [`Vm::add_ipv6`]; announced with an unsolicited NA.
    pub address6: Option<std::net::Ipv6Addr>,
}

impl Vm {
    /// Creates the VM namespace and its link into `hypervisor`.
    pub fn create(
        lab: &Lab,
        name: &str,
        hypervisor: &Netns,
        address: Ipv4Addr,
        mac: [u8; 6],
    ) -> Result<Vm> {
        let netns = Netns::new(lab, name)?;
        let tap_name = format!("tap-{name}");
        let link = veth(&netns, "eth0", hypervisor, &tap_name)?;
        let mac = Mac(mac);
        link.a.set_mac(mac)?;
        link.a
            .add_addr(ipnet::IpNet::new_assert(IpAddr::V4(address), 24))?;
        link.a.up()?;
        link.b.up()?;
        netns.ip(&["route", "add", "default", "via", "10.1.1.1", "dev", "eth0"])?;
        Ok(Vm {
            netns,
            tap: link.b,
            mac,
            address,
            address6: None,
        })
    }

    /// Gives the VM an IPv6 address (/64, no DAD) and a default route via
    /// the anycast gateway's link-local address.
    pub fn add_ipv6(&mut self, address: std::net::Ipv6Addr, gateway_ll: &str) -> Result<()> {
        let with_len = format!("{address}/64");
        self.netns
            .ip(&["-6", "addr", "add", &with_len, "dev", "eth0", "nodad"])?;
        self.netns.ip(&[
            "-6", "route", "add", "default", "via", gateway_ll, "dev", "eth0",
        ])?;
        self.address6 = Some(address);
        Ok(())
    }

    /// Sends a RARP and a gratuitous ARP for its address from eth0, as
    /// QEMU's announcement after a live migration does, and an unsolicited
    /// NA for its IPv6 address if it has one.
    pub fn announce(&self) -> Result<()> {
        let mac = agent::detect::MacAddr(self.mac.0);
        let mut frames = vec![
            agent::detect::announce::build::rarp(mac),
            agent::detect::announce::build::gratuitous_arp(mac, self.address),
        ];
        if let Some(v6) = self.address6 {
            frames.push(agent::detect::announce::build::unsolicited_na(mac, v6));
        }
        send_frames(&self.netns, "eth0", &frames)
    }

    /// Sends one gratuitous ARP for its address from eth0: a single frame,
    /// so a benchmark knows which frame the hypervisor acted on.
    pub fn gratuitous_arp(&self) -> Result<()> {
        let mac = agent::detect::MacAddr(self.mac.0);
        send_frames(
            &self.netns,
            "eth0",
            &[agent::detect::announce::build::gratuitous_arp(
                mac,
                self.address,
            )],
        )
    }

    /// Moves the hypervisor end of the link into `to` (the VM namespace,
    /// its address and its sockets stay), brings it up, and announces.
    pub fn migrate(&mut self, to: &Netns) -> Result<()> {
        self.move_tap(to)?;
        self.announce()
    }

    /// Moves the hypervisor end of the link into `to` and brings it up,
    /// without announcing.
    pub fn move_tap(&mut self, to: &Netns) -> Result<()> {
        self.tap.move_to(to)?;
        self.tap.up()
    }
}

/// Sends one raw Ethernet frame out of `ifname` in `netns`.
pub fn send_frame(netns: &Netns, ifname: &str, frame: &[u8]) -> Result<()> {
    send_frames(netns, ifname, &[frame.to_vec()])
}

/// Sends raw Ethernet frames, in order, out of `ifname` in `netns` (one
/// process, so they leave back to back).
pub fn send_frames(netns: &Netns, ifname: &str, frames: &[Vec<u8>]) -> Result<()> {
    // A packet socket bound to one interface needs a raw sockaddr_ll, which
    // the lab's safe socket APIs cannot build; Python's can.
    const SEND: &str = "import socket, sys\n\
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
        s.bind((sys.argv[1], 0))\n\
        for f in sys.argv[2:]:\n    s.send(bytes.fromhex(f))\n";
    let hex: Vec<String> = frames
        .iter()
        .map(|f| f.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    let mut args = vec!["-c", SEND, ifname];
    args.extend(hex.iter().map(String::as_str));
    netns.run("python3", &args)?;
    Ok(())
}

/// The kernel's route for `prefix` (IPv4 or IPv6) of protocol 200 (ours)
/// in `netns`, as `ip -j route` prints it.
pub fn kernel_route(netns: &Netns, prefix: &str) -> Result<Option<Value>> {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    let out = netns.ip(&[
        family, "-j", "route", "show", "exact", prefix, "proto", "200",
    ])?;
    let text = if out.trim().is_empty() { "[]" } else { &out };
    let routes: Value = serde_json::from_str(text)
        .map_err(|e| Error::parse("`ip -j route show`", format!("{e}: {out}")))?;
    Ok(routes.as_array().and_then(|a| a.first()).cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_names_every_peer_and_the_extra_tables() {
        let config = DaemonConfig::new(Ipv4Addr::new(198, 18, 0, 11), 65000)
            .peer("198.18.0.12".parse().unwrap(), 65000)
            .rr_client("198.18.0.13".parse().unwrap(), 65000);
        let config = DaemonConfig {
            extra: "[mobility]\nduplicate_moves = 9\n".into(),
            ..config
        };
        let text = config.toml(Path::new("/run/x.sock"));
        assert!(text.contains("router_id = \"198.18.0.11\""), "{text}");
        assert!(text.contains("control_socket = \"/run/x.sock\""), "{text}");
        assert_eq!(text.matches("[[peer]]").count(), 2, "{text}");
        assert!(text.contains("route_reflector_client = true"), "{text}");
        assert!(
            text.ends_with("[mobility]\nduplicate_moves = 9\n"),
            "{text}"
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
