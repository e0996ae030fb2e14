//! What runs on a hypervisor in hostroute mode, behind one trait.
//!
//! ```text
//!   lab (migrate) ── migration_begins / port_up / vm_announced / port_gone ──> HypervisorAgent
//!                                               │
//!     HostrouteAgent (default, crate::hostroute_agent): `hostroute daemon
//!       --config` detects, gateways, originates and installs by itself;
//!       migration_begins is `hostroute vm migrate-begin` at the
//!       destination, port_up brings the tap up, the rest are no-ops.
//!     SpeakerdAgent (topology `agent = "speaker"`): hr-speakerd in the
//!       hypervisor namespace, iBGP to the site router; the lab plays the
//!       daemon's other parts: anycast gateway on the tap (MAC,
//!       10.1.1.1/32, proxy ARP), the local /32 and /128 to the VM,
//!       originate / withdraw over the control socket. Detection is the
//!       lab telling it.
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde_json::{Value, json};
use speaker::policy::{ExportPolicy, ImportPolicy, PeerPolicy};
use speaker::{NeighborConfig, SpeakerConfig};

use crate::error::{Error, Result};
use crate::link::Mac;
use crate::netns::Netns;
use crate::peers::{POLL, START_TIMEOUT};
use crate::process::{Child, wait_until};

/// How long one control request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A VM as the hypervisor sees it: its tap and addresses.
#[derive(Clone, Debug)]
pub struct VmPort {
    pub vm: String,
    /// The hypervisor end of the VM's veth, in the hypervisor namespace.
    pub tap: String,
    pub mac: Mac,
    pub ipv4: Ipv4Net,
    pub ipv6: Ipv6Net,
}

/// The anycast gateway every hypervisor presents to its VMs.
#[derive(Clone, Debug)]
pub struct Gateway {
    pub mac: Mac,
    pub ipv4: Ipv4Addr,
    pub ipv6: std::net::Ipv6Addr,
}

/// The hypervisor's routing agent in hostroute mode.
pub trait HypervisorAgent: Send {
    /// What runs (for status and the report).
    fn describe(&self) -> String;
    /// Processes to record in the state file.
    fn pids(&self) -> Vec<u32>;
    /// Whether the session with the site router is up.
    fn established(&self) -> Result<bool>;
    /// A live migration of the VM behind `port` toward this hypervisor
    /// starts (libvirt's hook at the destination), before the blackout.
    fn migration_begins(&mut self, port: &VmPort) -> Result<()> {
        let _ = port;
        Ok(())
    }
    /// A VM's tap has appeared here (at start, or after a move), before
    /// the VM announces itself.
    fn port_up(&mut self, port: &VmPort) -> Result<()>;
    /// The VM announced itself on its tap here (RARP, gratuitous ARP, NA):
    /// from now on its host routes point here. `sequence` is the lab's
    /// count of the VM's moves; returns the mobility sequence the agent
    /// advertised with, if the lab chose it.
    fn vm_announced(&mut self, port: &VmPort, sequence: u32) -> Result<Option<u32>>;
    /// A VM's tap has gone (moved away).
    fn port_gone(&mut self, port: &VmPort) -> Result<()>;
    /// The agent's routes, for `lab status`.
    fn routes(&self) -> Result<Value>;
}

/// `hr-speakerd` plus the lab doing the daemon's gateway and FIB work.
pub struct SpeakerdAgent {
    netns_name: String,
    socket: PathBuf,
    router: Ipv4Addr,
    gateway: Gateway,
    child: Child,
}

impl SpeakerdAgent {
    /// Starts `hr-speakerd` in `netns`: router id and session source
    /// `local`, iBGP (AS `asn`) to the site router at `router`, exporting
    /// host routes of `pools`.
    pub fn start(
        netns: &Netns,
        local: Ipv4Addr,
        router: Ipv4Addr,
        asn: u32,
        pools: &[IpNet],
        gateway: Gateway,
    ) -> Result<SpeakerdAgent> {
        let binary = find_binary("hr-speakerd", "HR_SPEAKERD")?;
        let mut n = NeighborConfig::new(IpAddr::V4(router), asn);
        n.local_address = Some(IpAddr::V4(local));
        n.hold_time = 3;
        n.keepalive = Some(1);
        n.connect_retry = 1;
        n.policy = PeerPolicy {
            import: Some(ImportPolicy::pools(pools.to_vec())),
            export: Some(ExportPolicy {
                pools: pools.to_vec(),
                local: true,
                ..ExportPolicy::default()
            }),
            ..PeerPolicy::default()
        };
        let mut config = SpeakerConfig::new(local, asn);
        config.listen = vec![std::net::SocketAddr::new(IpAddr::V4(local), 179)];
        config.neighbors = vec![n];
        let name = format!("speaker-{}", netns.name());
        let dir = netns.lab().subdir(&name)?;
        let conf = dir.join("config.json");
        let socket = dir.join("control.sock");
        let text = serde_json::to_string_pretty(&config)
            .map_err(|e| Error::parse("speaker configuration", e))?;
        std::fs::write(&conf, text).map_err(|e| Error::io("writing", &conf, e))?;
        let mut command = netns.command(&binary.to_string_lossy());
        command.arg(&conf).arg(&socket);
        command.env("RUST_LOG", "info").env("NO_COLOR", "1");
        let mut child = Child::spawn(netns.lab(), &name, command)?;
        wait_until("hr-speakerd control socket", START_TIMEOUT, POLL, || {
            if let Some(e) = child.exited_error() {
                return Err(e);
            }
            Ok(socket.exists() && UnixStream::connect(&socket).is_ok())
        })?;
        Ok(SpeakerdAgent {
            netns_name: netns.name().to_string(),
            socket,
            router,
            gateway,
            child,
        })
    }

    fn request(&self, request: Value) -> Result<Value> {
        let what = || format!("hr-speakerd {}", self.socket.display());
        let io = |e| Error::io("talking to hr-speakerd at", &self.socket, e);
        let mut stream = UnixStream::connect(&self.socket).map_err(io)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(io)?;
        stream
            .write_all(format!("{request}\n").as_bytes())
            .map_err(io)?;
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).map_err(io)?;
        let reply: Value = serde_json::from_str(&line).map_err(|e| Error::parse(what(), e))?;
        match (reply.get("ok"), reply.get("error")) {
            (Some(ok), _) => Ok(ok.clone()),
            (None, Some(e)) => Err(Error::parse(what(), format!("refused {request}: {e}"))),
            _ => Err(Error::parse(what(), format!("odd reply {line:?}"))),
        }
    }
}

/// The anycast gateway on a VM's tap, as agent/src/gateway.rs sets it up in
/// the daemon: the shared gateway MAC, the gateway address as a /32, proxy
/// ARP for the rest of the subnet, `fe80::1` for IPv6, and host routes to
/// the VM through the tap. One `ip -batch` and direct sysctl writes from a
/// thread inside `netns`, so the VM's vNIC is not left waiting on a dozen
/// process starts.
pub fn attach_gateway(netns: &str, gateway: &Gateway, port: &VmPort) -> Result<()> {
    let tap = port.tap.clone();
    let batch = format!(
        "link set dev {tap} address {mac}\n\
         link set dev {tap} up\n\
         address replace {gw}/32 dev {tap}\n\
         address replace fe80::1/64 dev {tap} nodad\n\
         neigh replace proxy {gw6} dev {tap}\n\
         route replace {v4}/32 dev {tap}\n\
         route replace {v6}/128 dev {tap}\n",
        mac = gateway.mac,
        gw = gateway.ipv4,
        gw6 = gateway.ipv6,
        v4 = port.ipv4.addr(),
        v6 = port.ipv6.addr(),
    );
    crate::nsthread::run(netns, move || {
        for path in [
            format!("/proc/sys/net/ipv4/conf/{tap}/proxy_arp"),
            format!("/proc/sys/net/ipv6/conf/{tap}/proxy_ndp"),
        ] {
            std::fs::write(&path, "1").map_err(|e| Error::io("writing", &path, e))?;
        }
        // A child forked from this thread starts in its namespace.
        let mut child = std::process::Command::new("ip")
            .args(["-batch", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|source| Error::Spawn {
                command: "ip -batch -".into(),
                source,
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(batch.as_bytes())
                .map_err(|e| Error::io("writing to", "ip -batch", e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("waiting for", "ip -batch", e))?;
        if !out.status.success() {
            return Err(Error::Command {
                command: format!("ip -batch - <<{batch:?}"),
                status: out.status.to_string(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(())
    })
}

impl HypervisorAgent for SpeakerdAgent {
    fn describe(&self) -> String {
        format!(
            "hr-speakerd (pid {}) iBGP to {}; gateway and FIB by the lab",
            self.child.pid(),
            self.router
        )
    }

    fn pids(&self) -> Vec<u32> {
        vec![self.child.pid()]
    }

    fn established(&self) -> Result<bool> {
        let peers = self.request(json!({"cmd": "peers"}))?;
        Ok(peers
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["state"] == "Established")))
    }

    fn port_up(&mut self, port: &VmPort) -> Result<()> {
        attach_gateway(&self.netns_name, &self.gateway, port)
    }

    fn vm_announced(&mut self, port: &VmPort, sequence: u32) -> Result<Option<u32>> {
        let prefix = IpNet::V4(Ipv4Net::new(port.ipv4.addr(), 32).expect("/32"));
        self.request(json!({"cmd": "originate", "prefix": prefix, "seq": sequence}))?;
        tracing::info!(vm = %port.vm, hypervisor = %self.netns_name, sequence, "lab: originated the VM's host route");
        Ok(Some(sequence))
    }

    fn port_gone(&mut self, port: &VmPort) -> Result<()> {
        let prefix = IpNet::V4(Ipv4Net::new(port.ipv4.addr(), 32).expect("/32"));
        self.request(json!({"cmd": "withdraw", "prefix": prefix}))?;
        // The kernel removed the tap's routes with the tap.
        Ok(())
    }

    fn routes(&self) -> Result<Value> {
        self.request(json!({"cmd": "routes"}))
    }
}

/// Finds one of the workspace's binaries: `$<env>` if set, else beside the
/// running executable (or its parent, for test binaries in `deps/`).
pub fn find_binary(name: &str, env: &str) -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe().map_err(|e| Error::io("locating", "current_exe", e))?;
    let mut candidates = Vec::new();
    let mut dir: Option<&Path> = exe.parent();
    for _ in 0..2 {
        if let Some(d) = dir {
            candidates.push(d.join(name));
            dir = d.parent();
        }
    }
    candidates.into_iter().find(|p| p.exists()).ok_or_else(|| {
        Error::Config(format!(
            "{name} not found beside {} (build it: `cargo build -p hostroute-tests --bin {name}`, \
             same profile, or set {env})",
            exe.display()
        ))
    })
}
