//! The real `hostroute` daemon inside a lab namespace, inspected through
//! its own CLI (`hostroute --socket S show ... --json`), and VMs as
//! namespaces behind a veth whose hypervisor end looks like a tap.
//!
//! ```text
//!   test (root netns) --CLI--> <run dir>/<hv>/hostroute.sock
//!                                  | hostroute daemon --config <run dir>/<hv>/hostroute.toml
//!                                  v (inside the hypervisor namespace, a lab Child)
//!   vm namespace: eth0 10.1.1.5/24 <== veth ==> tap-<vm> in the hypervisor
//! ```
//!
//! The binary is `hostroute` from the agent package, next to the test's
//! own executable's directory (`target/<profile>/hostroute`); `cargo test
//! --workspace` builds it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use lab::{Child, Iface, Netns, wait_until};
use serde_json::Value;

/// How long the daemon gets to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Polling interval of [`Daemon::wait`].
pub const POLL: Duration = Duration::from_millis(20);

/// The `hostroute` binary built beside this test.
pub fn hostroute_binary() -> Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    // target/<profile>/deps/<test> -> target/<profile>/hostroute
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .context("the test executable has no target directory")?;
    let bin = dir.join("hostroute");
    ensure!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p hostroute-agent` (cargo test --workspace does)",
        bin.display()
    );
    Ok(bin)
}

/// One iBGP peer of a daemon.
#[derive(Debug, Clone)]
pub struct PeerSpec {
    pub address: IpAddr,
    pub asn: u32,
    /// The peer is our route-reflector client.
    pub rr_client: bool,
}

/// What a test daemon is configured with; [`DaemonConfig::toml`] writes
/// the file.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub peers: Vec<PeerSpec>,
    pub pools: Vec<String>,
    pub patterns: Vec<String>,
    pub graceful_restart: u16,
    /// Extra TOML appended verbatim (tables such as `[mobility]`).
    pub extra: String,
}

impl DaemonConfig {
    pub fn new(router_id: Ipv4Addr, asn: u32) -> Self {
        Self {
            router_id,
            asn,
            peers: Vec::new(),
            pools: vec!["10.1.1.0/24".into(), "2001:db8:1::/64".into()],
            patterns: vec!["tap-*".into()],
            graceful_restart: 30,
            extra: String::new(),
        }
    }

    pub fn peer(mut self, address: IpAddr, asn: u32) -> Self {
        self.peers.push(PeerSpec {
            address,
            asn,
            rr_client: false,
        });
        self
    }

    /// A peer that is our route-reflector client.
    pub fn rr_client(mut self, address: IpAddr, asn: u32) -> Self {
        self.peers.push(PeerSpec {
            address,
            asn,
            rr_client: true,
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
             [gateway]\nmac = \"ee:ee:ee:ee:ee:ee\"\nipv4 = [\"10.1.1.1\"]\nipv6 = [\"2001:db8:1::1\"]\n\n\
             [[interfaces]]\nmatch = [{}]\npools = [{}]\n",
            self.router_id,
            self.asn,
            socket.display().to_string(),
            self.graceful_restart,
            quote(&self.patterns),
            quote(&self.pools),
        );
        for p in &self.peers {
            t.push_str(&format!(
                "\n[[peer]]\naddress = \"{}\"\nasn = {}\nhold_time = 3\nkeepalive = 1\nroute_reflector_client = {}\nexport_learned = {}\n",
                p.address, p.asn, p.rr_client, p.rr_client
            ));
        }
        t.push('\n');
        t.push_str(&self.extra);
        t
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
    lab: lab::Lab,
}

impl Daemon {
    /// Writes the config under the run directory and starts the daemon in
    /// `netns`; returns once its control socket answers.
    pub fn start(netns: &Netns, config: &DaemonConfig) -> Result<Daemon> {
        let binary = hostroute_binary()?;
        let dir = netns.lab().subdir(netns.name())?;
        let socket = dir.join("hostroute.sock");
        let config_path = dir.join("hostroute.toml");
        std::fs::write(&config_path, config.toml(&socket))
            .with_context(|| format!("writing {}", config_path.display()))?;
        let mut daemon = Daemon {
            name: format!("hostroute-{}", netns.name()),
            binary,
            socket,
            config_path,
            netns: netns.name().to_owned(),
            child: None,
            lab: netns.lab().clone(),
        };
        daemon.spawn()?;
        Ok(daemon)
    }

    fn spawn(&mut self) -> Result<()> {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.netns])
            .arg(&self.binary)
            .args(["daemon", "--config"])
            .arg(&self.config_path)
            .env("HOSTROUTE_LOG", "info,agent=debug");
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
            bail!("{e:#}\n--- daemon log ---\n{}", child.log());
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
    pub fn signal(&mut self, signal: lab::Signal) -> Result<()> {
        if let Some(child) = self.child.as_mut() {
            child.signal(signal)?;
        }
        Ok(())
    }

    /// SIGKILL, as a crash: nothing is cleaned up.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.signal(lab::Signal::Kill)?;
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
        ensure!(self.child.is_none(), "the daemon is still running");
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
        ensure!(
            out.status.success(),
            "hostroute {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "hostroute {args:?} printed no JSON: {}",
                String::from_utf8_lossy(&out.stdout)
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
            bail!(
                "{e:#}: last best path of {prefix} at {}: {last:?}\n--- log ---\n{}",
                self.name,
                tail(&self.log(), 60)
            );
        }
        Ok(last)
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
    Command::new(binary)
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .with_context(|| format!("running {} {args:?}", binary.display()))
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A VM: a namespace with `eth0` (MAC, IPv4 /24, default route via the
/// anycast gateway), the other end `tap-<name>` in a hypervisor.
pub struct Vm {
    pub netns: Netns,
    pub tap: Iface,
    pub mac: lab::Mac,
    pub address: Ipv4Addr,
    /// Set by [`Vm::add_ipv6`].
    pub address6: Option<std::net::Ipv6Addr>,
}

impl Vm {
    /// Creates the VM namespace and its link into `hypervisor`.
    pub fn create(
        lab: &lab::Lab,
        name: &str,
        hypervisor: &Netns,
        address: Ipv4Addr,
        mac: [u8; 6],
    ) -> Result<Vm> {
        let netns = Netns::new(lab, name)?;
        let tap_name = format!("tap-{name}");
        let veth = lab::veth(&netns, "eth0", hypervisor, &tap_name)?;
        let mac = lab::Mac(mac);
        veth.a.set_mac(mac)?;
        veth.a
            .add_addr(format!("{address}/24").parse().context("VM address")?)?;
        veth.a.up()?;
        veth.b.up()?;
        netns.ip(&["route", "add", "default", "via", "10.1.1.1", "dev", "eth0"])?;
        Ok(Vm {
            netns,
            tap: veth.b,
            mac,
            address,
            address6: None,
        })
    }

    /// Gives the VM an IPv6 address (/64, no DAD) and a default route via
    /// the anycast gateway's link-local address.
    pub fn add_ipv6(&mut self, address: std::net::Ipv6Addr, gateway_ll: &str) -> Result<()> {
        self.netns.ip(&[
            "-6",
            "addr",
            "add",
            &format!("{address}/64"),
            "dev",
            "eth0",
            "nodad",
        ])?;
        self.netns.ip(&[
            "-6", "route", "add", "default", "via", gateway_ll, "dev", "eth0",
        ])?;
        self.address6 = Some(address);
        Ok(())
    }

    /// Sends a gratuitous ARP for its address from eth0, as QEMU's
    /// announcement after a live migration does (with RARP).
    pub fn announce(&self) -> Result<()> {
        let mac = agent::detect::MacAddr(self.mac.0);
        for frame in [
            agent::detect::announce::build::rarp(mac),
            agent::detect::announce::build::gratuitous_arp(mac, self.address),
        ] {
            send_frame(&self.netns, "eth0", &frame)?;
        }
        if let Some(v6) = self.address6 {
            let na = agent::detect::announce::build::unsolicited_na(mac, v6);
            send_frame(&self.netns, "eth0", &na)?;
        }
        Ok(())
    }

    /// Moves the hypervisor end of the link into `to` (the VM namespace,
    /// its address and its sockets stay), brings it up, and announces.
    pub fn migrate(&mut self, to: &Netns) -> Result<()> {
        self.tap.move_to(to)?;
        self.tap.up()?;
        self.announce()
    }
}

/// Sends one raw Ethernet frame out of `ifname` in `netns`.
pub fn send_frame(netns: &Netns, ifname: &str, frame: &[u8]) -> Result<()> {
    const SEND: &str = "import socket, sys\n\
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
        s.bind((sys.argv[1], 0))\n\
        s.send(bytes.fromhex(sys.argv[2]))\n";
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    netns.run("python3", &["-c", SEND, ifname, &hex])?;
    Ok(())
}

/// The kernel's route for `prefix` of protocol 200 (ours) in `netns`, as
/// `ip -j route` prints it.
pub fn kernel_route(netns: &Netns, prefix: &str) -> Result<Option<Value>> {
    let family = if prefix.contains(':') { "-6" } else { "-4" };
    let out = netns.ip(&[
        family, "-j", "route", "show", "exact", prefix, "proto", "200",
    ])?;
    let routes: Value = serde_json::from_str(if out.trim().is_empty() { "[]" } else { &out })
        .with_context(|| format!("ip -j route: {out}"))?;
    Ok(routes.as_array().and_then(|a| a.first()).cloned())
}
