//! The hypervisor side of the detection tests: detectors (and the anycast
//! gateway) on a thread inside a hypervisor namespace, and the VM's side.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use agent::detect::{
    AnnounceDetector, Detector, InterfaceMatcher, LinkDetector, LinkEvent, MacAddr, NeighDetector,
    Sighting,
};
use agent::gateway::{AnycastGateway, GatewayConfig};
use anyhow::{Context, bail};
use futures::StreamExt;
use ipnet::IpNet;
use lab::{Netns, Veth};

pub const WAIT: Duration = Duration::from_secs(5);
pub const VM_MAC: MacAddr = MacAddr([2, 0, 0, 0, 0, 5]);
pub const VM4: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 5);
pub const VM6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 5);
pub const GW4: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 1);
pub const GW6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);

pub fn gateway() -> GatewayConfig {
    GatewayConfig {
        mac: MacAddr::ANYCAST_DEFAULT,
        ipv4: vec![GW4],
        ipv6: vec![GW6],
    }
}

/// How a [`HypervisorAgent`] runs.
#[derive(Default)]
pub struct AgentOptions {
    /// Apply this anycast gateway to every VM-facing interface that appears.
    pub gateway: Option<GatewayConfig>,
    /// Subscribe, then wait for [`HypervisorAgent::go`] before reading
    /// anything (the initial dump included).
    pub hold: bool,
    /// The link detector's receive buffer (default: the detector's).
    pub link_rcvbuf: Option<usize>,
}

pub fn with_gateway() -> AgentOptions {
    AgentOptions {
        gateway: Some(gateway()),
        ..AgentOptions::default()
    }
}

/// What the hypervisor thread reports.
#[derive(Debug, Clone)]
pub enum Seen {
    Sighting(Sighting),
    GatewayApplied(String),
    Failed(String),
}

/// The detectors (and optionally the anycast gateway) running on a thread
/// inside a hypervisor namespace. Stopped and joined on drop; declare it
/// after the namespaces so it stops first.
pub struct HypervisorAgent {
    rx: mpsc::Receiver<Seen>,
    /// Everything read so far, with when it was read.
    pub seen: Vec<(Instant, Seen)>,
    go: Option<tokio::sync::oneshot::Sender<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HypervisorAgent {
    /// Starts the detectors in `netns` and returns once they have
    /// subscribed.
    pub fn start(netns: &Netns, options: AgentOptions) -> anyhow::Result<Self> {
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let path = format!("/var/run/netns/{}", netns.name());
        let thread = std::thread::spawn(move || {
            let runtime = (|| -> anyhow::Result<tokio::runtime::Runtime> {
                let ns = std::fs::File::open(&path).with_context(|| path.clone())?;
                nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
                Ok(tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?)
            })();
            let runtime = match runtime {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return;
                }
            };
            runtime.block_on(run_agent(options, ready_tx, go_rx, stop_rx, tx));
        });
        let agent = HypervisorAgent {
            rx,
            seen: Vec::new(),
            go: Some(go_tx),
            stop: Some(stop_tx),
            thread: Some(thread),
        };
        match ready_rx.recv_timeout(WAIT) {
            Ok(Ok(())) => Ok(agent),
            Ok(Err(e)) => bail!("hypervisor agent in {}: {e}", netns.name()),
            Err(e) => bail!("hypervisor agent in {}: not ready: {e}", netns.name()),
        }
    }

    /// Lets a held agent dump and follow events.
    pub fn go(&mut self) {
        if let Some(go) = self.go.take() {
            let _ = go.send(());
        }
    }

    /// Waits (at most `timeout`) for something `f` picks; everything read
    /// meanwhile is kept in `self.seen`.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Seen) -> Option<T>,
    ) -> anyhow::Result<T> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let seen = match self.rx.recv_timeout(left) {
                Ok(seen) => seen,
                Err(_) => bail!(
                    "timed out after {timeout:?} waiting for {what}; saw:\n{}",
                    self.history()
                ),
            };
            if let Seen::Failed(e) = &seen {
                bail!("hypervisor agent failed: {e}");
            }
            self.seen.push((Instant::now(), seen.clone()));
            if let Some(t) = f(&seen) {
                return Ok(t);
            }
        }
    }

    /// Reads whatever comes within `quiet`.
    pub fn settle(&mut self, quiet: Duration) {
        while let Ok(seen) = self.rx.recv_timeout(quiet) {
            self.seen.push((Instant::now(), seen));
        }
    }

    pub fn wait_link(&mut self, ifname: &str, event: LinkEvent) -> anyhow::Result<u32> {
        self.wait_for(&format!("{event:?} of {ifname}"), WAIT, |s| match s {
            Seen::Sighting(Sighting::Link(l)) if l.ifname == ifname && l.event == event => {
                Some(l.ifindex)
            }
            _ => None,
        })
    }

    pub fn wait_gateway(&mut self, ifname: &str) -> anyhow::Result<()> {
        self.wait_for(&format!("the gateway on {ifname}"), WAIT, |s| match s {
            Seen::GatewayApplied(n) if n == ifname => Some(()),
            _ => None,
        })
    }

    /// Link events seen so far, per interface name, in order.
    pub fn link_events(&self) -> BTreeMap<String, Vec<LinkEvent>> {
        let mut by_name: BTreeMap<String, Vec<LinkEvent>> = BTreeMap::new();
        for (_, s) in &self.seen {
            if let Seen::Sighting(Sighting::Link(l)) = s {
                by_name.entry(l.ifname.clone()).or_default().push(l.event);
            }
        }
        by_name
    }

    pub fn sightings(&self) -> Vec<Sighting> {
        self.seen
            .iter()
            .filter_map(|(_, s)| match s {
                Seen::Sighting(s) => Some(s.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn history(&self) -> String {
        let mut out = String::new();
        for (_, s) in &self.seen {
            let _ = writeln!(out, "  {s:?}");
        }
        out
    }
}

impl Drop for HypervisorAgent {
    fn drop(&mut self) {
        self.go();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn run_agent(
    options: AgentOptions,
    ready: mpsc::Sender<Result<(), String>>,
    go: tokio::sync::oneshot::Receiver<()>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
    tx: mpsc::Sender<Seen>,
) {
    let matcher = InterfaceMatcher::libvirt_default();
    let setup = (|| -> anyhow::Result<_> {
        let detectors: Vec<Box<dyn Detector>> = vec![
            Box::new(match options.link_rcvbuf {
                Some(bytes) => LinkDetector::subscribe_with_buffer(matcher.clone(), bytes)?,
                None => LinkDetector::subscribe(matcher.clone())?,
            }),
            Box::new(NeighDetector::subscribe(matcher.clone())?),
            Box::new(AnnounceDetector::open(matcher.clone())?),
        ];
        let gateway = match options.gateway {
            Some(config) => {
                let (connection, handle, _) = rtnetlink::new_connection()?;
                tokio::spawn(connection);
                Some(AnycastGateway::new(handle, config))
            }
            None => None,
        };
        Ok((detectors, gateway))
    })();
    let (detectors, gateway) = match setup {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(format!("{e:#}")));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    if options.hold {
        tokio::select! {
            _ = go => {}
            _ = &mut stop => return,
        }
    }
    let mut all = futures::stream::select_all(detectors.into_iter().map(|d| d.sightings()));
    loop {
        let item = tokio::select! {
            _ = &mut stop => return,
            item = all.next() => item,
        };
        let sighting = match item {
            Some(Ok(s)) => s,
            Some(Err(e)) => {
                let _ = tx.send(Seen::Failed(e.to_string()));
                return;
            }
            None => return,
        };
        let _ = tx.send(Seen::Sighting(sighting.clone()));
        if let (Some(gateway), Sighting::Link(link)) = (&gateway, &sighting)
            && link.event == LinkEvent::Appeared
        {
            let seen = match gateway.apply(link.ifindex, &link.ifname).await {
                Ok(()) => Seen::GatewayApplied(link.ifname.clone()),
                Err(e) => Seen::Failed(format!("gateway on {}: {e}", link.ifname)),
            };
            let _ = tx.send(seen);
        }
    }
}

/// Runs `body` on a thread inside `netns`, on a runtime built there.
pub fn run_in_netns<F>(netns: &Netns, body: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let path = format!("/var/run/netns/{}", netns.name());
    std::thread::spawn(move || -> anyhow::Result<()> {
        let ns = std::fs::File::open(&path).with_context(|| path.clone())?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).context("setns")?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(async move { tokio::time::timeout(WAIT, body).await? })
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the thread in {} panicked", netns.name()))?
}

/// The VM's side: `eth0` with its MAC, addresses and default routes via
/// the gateway.
pub fn vm_link(vm: &Netns, hv: &Netns) -> anyhow::Result<Veth> {
    let link = lab::veth(vm, "eth0", hv, "vnet0")?;
    link.a.set_mac(lab::Mac(VM_MAC.0))?;
    link.a.add_addr(IpNet::new(IpAddr::V4(VM4), 24)?)?;
    link.a.add_addr(IpNet::new(IpAddr::V6(VM6), 64)?)?;
    vm.ip(&["route", "add", "default", "via", &GW4.to_string()])?;
    vm.ip(&["-6", "route", "add", "default", "via", &GW6.to_string()])?;
    Ok(link)
}

/// The host routes toward the VM that the FIB module will install.
pub fn host_routes(hv: &Netns) -> anyhow::Result<()> {
    hv.ip(&["route", "replace", &format!("{VM4}/32"), "dev", "vnet0"])?;
    hv.ip(&[
        "-6",
        "route",
        "replace",
        &format!("{VM6}/128"),
        "dev",
        "vnet0",
    ])?;
    Ok(())
}

pub fn ping(from: &Netns, to: &str) -> lab::Result<bool> {
    Ok(from
        .exec("ping", &["-c", "1", "-W", "1", to])?
        .status
        .success())
}

/// The VM's neighbour entry for `ip`: (lladdr, state).
pub fn vm_neigh(vm: &Netns, ip: &str) -> anyhow::Result<Option<(String, String)>> {
    let out = vm.ip(&["neigh", "show", ip, "dev", "eth0"])?;
    let words: Vec<&str> = out.split_whitespace().collect();
    let lladdr = words
        .iter()
        .position(|w| *w == "lladdr")
        .and_then(|i| words.get(i + 1));
    Ok(lladdr.map(|l| (l.to_string(), words.last().unwrap_or(&"").to_string())))
}

/// Sends a raw Ethernet frame out of `ifname` in `netns` (python3's
/// AF_PACKET, so the test needs no `unsafe` for a `sockaddr_ll`).
pub fn send_frame(netns: &Netns, ifname: &str, frame: &[u8]) -> anyhow::Result<()> {
    const SEND: &str = "import socket, sys\n\
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)\n\
        s.bind((sys.argv[1], 0))\n\
        s.send(bytes.fromhex(sys.argv[2]))\n";
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    netns.run("python3", &["-c", SEND, ifname, &hex])?;
    Ok(())
}

pub fn rx_packets(netns: &Netns, ifname: &str) -> anyhow::Result<u64> {
    let out = netns.ip(&["-s", "-o", "link", "show", ifname])?;
    // `-o -s`: "... RX: bytes packets ...\    <bytes> <packets> ..."
    let after_rx = out.split("RX:").nth(1).context("no RX counters")?;
    let numbers: Vec<u64> = after_rx
        .split(['\\', ' '])
        .filter_map(|w| w.parse().ok())
        .collect();
    numbers.get(1).copied().context("no RX packet counter")
}
