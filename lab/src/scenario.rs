//! A topology brought up in one mode: namespaces, links, routers, the
//! hypervisors' agents (hostroute mode) or bridges (L2-stretch mode), and
//! the VMs in their starting places.
//!
//! ```text
//!   Topology + Plan ──Deployment::up(lab, mode)──> nodes (Netns per node)
//!                                                  links (veth / WanLink)
//!                                                  routers (BIRD / FRR)
//!                                                  agents (hostroute daemon) | bridges + VXLAN
//!                                                  VMs (Netns + tap)
//!   Drop order: agents, routers, WAN links, VMs, nodes (fields in that order).
//! ```
//!
//! Every namespace and process is written to the [`Recorder`] as it is
//! created, so `lab down` from another shell, or the Ctrl-C handler, can
//! remove a lab whose owner cannot.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use ipnet::IpNet;

use crate::error::{Error, Result};
use crate::hostroute_agent::HostrouteAgent;
use crate::hypervisor::{Gateway, HypervisorAgent, SpeakerdAgent};
use crate::link::{Iface, Mac, veth};
use crate::netns::Netns;
use crate::process::wait_until;
use crate::router::{Router, RouterConfig, Session};
use crate::run::Lab;
use crate::state::Recorder;
use crate::stretch;
use crate::topology::{AgentKind, Plan, Role, Topology};
use crate::vm::Vm;
use crate::wan::WanLink;

/// How long sessions and first routes get to come up.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(45);

/// How the VM subnet is carried between sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Host routes: each hypervisor routes for its VMs, BGP carries /32s.
    Hostroute,
    /// The baseline: one bridged segment over VXLAN, gateway in DC1.
    L2Stretch,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Hostroute => "hostroute",
            Mode::L2Stretch => "l2-stretch",
        }
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Mode> {
        match s {
            "hostroute" => Ok(Mode::Hostroute),
            "l2-stretch" | "stretch" => Ok(Mode::L2Stretch),
            other => Err(Error::Config(format!(
                "mode {other:?}: expected \"hostroute\" or \"l2-stretch\""
            ))),
        }
    }
}

/// A running topology. Fields drop in declaration order.
pub struct Deployment {
    pub(crate) agents: BTreeMap<String, Box<dyn HypervisorAgent>>,
    pub(crate) routers: BTreeMap<String, Router>,
    pub(crate) wans: Vec<WanLink>,
    pub(crate) vms: BTreeMap<String, Vm>,
    pub(crate) nodes: BTreeMap<String, Netns>,
    /// Last mobility sequence used per VM.
    pub(crate) sequences: BTreeMap<String, u32>,
    pub topology: Topology,
    pub plan: Plan,
    pub mode: Mode,
    pub recorder: Recorder,
    lab: Lab,
}

impl Deployment {
    /// Brings `topology` up in `mode` and waits until the client reaches
    /// every VM.
    pub fn up(
        lab: &Lab,
        topology: &Topology,
        mode: Mode,
        recorder: Recorder,
    ) -> Result<Deployment> {
        let plan = topology.plan()?;
        let mut d = Deployment {
            agents: BTreeMap::new(),
            routers: BTreeMap::new(),
            wans: Vec::new(),
            vms: BTreeMap::new(),
            nodes: BTreeMap::new(),
            sequences: BTreeMap::new(),
            topology: topology.clone(),
            plan,
            mode,
            recorder,
            lab: lab.clone(),
        };
        d.create_nodes()?;
        d.create_links()?;
        if mode == Mode::L2Stretch {
            d.create_bridges()?;
        }
        d.start_routers()?;
        if mode == Mode::Hostroute {
            d.start_agents()?;
        }
        d.create_vms()?;
        d.wait_ready()?;
        d.recorder.update(|s| s.status = "up".into())?;
        Ok(d)
    }

    /// The run this deployment belongs to.
    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// The namespace of a node (router, hypervisor, client or VM).
    pub fn netns(&self, node: &str) -> Result<&Netns> {
        self.nodes
            .get(node)
            .or_else(|| self.vms.get(node).map(|v| &v.netns))
            .ok_or_else(|| Error::Config(format!("no node {node:?} in the topology")))
    }

    /// A VM.
    pub fn vm(&self, name: &str) -> Result<&Vm> {
        self.vms
            .get(name)
            .ok_or_else(|| Error::Config(format!("no VM {name:?} in the topology")))
    }

    /// The first client host (the demo's client).
    pub fn client(&self) -> Result<(&str, Ipv4Addr)> {
        let site = self
            .topology
            .sites
            .iter()
            .find(|s| !s.clients.is_empty())
            .ok_or_else(|| Error::Config("no client".into()))?;
        let client = &site.clients[0];
        let addr = self
            .plan
            .addr_toward(client, &site.router)
            .ok_or_else(|| Error::Config(format!("client {client} has no link")))?;
        Ok((client.as_str(), addr.addr()))
    }

    /// The router names.
    pub fn routers(&self) -> Vec<String> {
        self.topology
            .sites
            .iter()
            .map(|s| s.router.clone())
            .collect()
    }

    fn create_nodes(&mut self) -> Result<()> {
        for (node, role) in self.topology.nodes() {
            if role == Role::Vm {
                continue;
            }
            let netns = Netns::new(&self.lab, &node)?;
            let name = netns.name().to_string();
            self.nodes.insert(node.clone(), netns);
            self.recorder.update(|s| {
                s.nodes.insert(node.clone(), name);
            })?;
            let netns = &self.nodes[&node];
            match role {
                Role::Client => {
                    netns.set_forwarding(false)?;
                    // Unprivileged-style ICMP echo sockets for the prober.
                    netns.sysctl("net.ipv4.ping_group_range", "0 2147483647")?;
                }
                Role::Router | Role::Hypervisor => {
                    netns.sysctl("net.ipv4.conf.all.rp_filter", "0")?;
                    netns.sysctl("net.ipv4.conf.default.rp_filter", "0")?;
                }
                Role::Vm => {}
            }
        }
        Ok(())
    }

    fn create_links(&mut self) -> Result<()> {
        for link in self.plan.links.clone() {
            let a = &self.nodes[&link.a];
            let b = &self.nodes[&link.b];
            let (ia, ib): (Iface, Iface) = match link.wan {
                Some(impairment) => {
                    let wan =
                        WanLink::create(&self.lab, a, &link.a_iface, b, &link.b_iface, impairment)?;
                    let (ia, ib) = (wan.a.clone(), wan.b.clone());
                    let (namespaces, pids) = (wan.namespaces(), wan.pids());
                    self.recorder.update(|s| {
                        s.extra_namespaces.extend(namespaces);
                        s.pids.extend(pids);
                    })?;
                    self.wans.push(wan);
                    (ia, ib)
                }
                None => {
                    let v = veth(a, &link.a_iface, b, &link.b_iface)?;
                    (v.a, v.b)
                }
            };
            ia.add_addr(IpNet::V4(link.a_addr))?;
            ib.add_addr(IpNet::V4(link.b_addr))?;
            self.recorder.update(|s| {
                s.info.insert(
                    format!(
                        "link {} {} <-> {} {}",
                        link.a, link.a_iface, link.b, link.b_iface
                    ),
                    format!("{} <-> {}", link.a_addr, link.b_addr),
                );
            })?;
        }
        // Hypervisors and clients route everything through their router.
        for site in &self.topology.sites {
            for node in site.hypervisors.iter().chain(&site.clients) {
                let via = self
                    .plan
                    .addr_toward(&site.router, node)
                    .ok_or_else(|| Error::Config(format!("{node} has no link to its router")))?;
                self.nodes[node].ip(&[
                    "route",
                    "add",
                    "default",
                    "via",
                    &via.addr().to_string(),
                ])?;
            }
        }
        Ok(())
    }

    /// The tunnel endpoint of a hypervisor: its uplink address.
    fn uplink(&self, hv: &str) -> Result<Ipv4Addr> {
        let site = self
            .topology
            .site_of(hv)
            .ok_or_else(|| Error::Config(format!("{hv} is in no site")))?;
        self.plan
            .addr_toward(hv, &site.router)
            .map(|a| a.addr())
            .ok_or_else(|| Error::Config(format!("{hv} has no uplink")))
    }

    fn hypervisors(&self) -> Vec<String> {
        self.topology
            .sites
            .iter()
            .flat_map(|s| s.hypervisors.iter().cloned())
            .collect()
    }

    fn create_bridges(&mut self) -> Result<()> {
        let hvs = self.hypervisors();
        let endpoints: Vec<(String, Ipv4Addr)> = hvs
            .iter()
            .map(|h| Ok((h.clone(), self.uplink(h)?)))
            .collect::<Result<_>>()?;
        for (hv, local) in &endpoints {
            let remotes: Vec<Ipv4Addr> = endpoints
                .iter()
                .filter(|(h, _)| h != hv)
                .map(|(_, a)| *a)
                .collect();
            stretch::bridge_hypervisor(
                &self.nodes[hv],
                *local,
                &remotes,
                self.topology.mobility.vni,
            )?;
        }
        // The gateway: on the router of the first VM's site, bridged in at
        // that VM's hypervisor.
        let first_hv = self
            .topology
            .vms
            .first()
            .map(|v| v.hypervisor.get_ref().clone())
            .or_else(|| hvs.first().cloned())
            .ok_or_else(|| Error::Config("no hypervisor for the gateway".into()))?;
        let router = self
            .topology
            .site_of(&first_hv)
            .map(|s| s.router.clone())
            .ok_or_else(|| Error::Config(format!("{first_hv} is in no site")))?;
        let m = &self.topology.mobility;
        stretch::attach_gateway(
            &self.nodes[&router],
            &self.nodes[&first_hv],
            m.gateway4,
            m.pool4.prefix_len(),
            m.gateway_mac.parse::<Mac>()?,
        )?;
        self.recorder.update(|s| {
            s.info.insert(
                "l2-stretch gateway".into(),
                format!("{} on {router}", m.gateway4),
            );
        })?;
        Ok(())
    }

    fn start_routers(&mut self) -> Result<()> {
        for site in self.topology.sites.clone() {
            let mut sessions = Vec::new();
            for (_, local, peer, peer_addr) in self.plan.neighbors_of(&site.router) {
                if let Some(peer_site) = self.topology.site_of_router(peer) {
                    // The link's one-way delay, in microseconds.
                    let med = self
                        .plan
                        .links
                        .iter()
                        .find(|l| {
                            (l.a == site.router && l.b == peer)
                                || (l.b == site.router && l.a == peer)
                        })
                        .and_then(|l| l.wan)
                        .map(|w| (w.delay_ms * 1000.0).round() as u32);
                    sessions.push(Session {
                        neighbor: peer_addr.addr(),
                        local: local.addr(),
                        remote_as: peer_site.asn,
                        rr_client: false,
                        med,
                    });
                } else if self.mode == Mode::Hostroute && site.hypervisors.iter().any(|h| h == peer)
                {
                    sessions.push(Session {
                        neighbor: peer_addr.addr(),
                        local: local.addr(),
                        remote_as: site.asn,
                        rr_client: true,
                        med: None,
                    });
                }
            }
            let router_id = self
                .plan
                .neighbors_of(&site.router)
                .map(|(_, local, _, _)| local.addr())
                .next()
                .ok_or_else(|| Error::Config(format!("router {} has no links", site.router)))?;
            let config = RouterConfig {
                router_id,
                asn: site.asn,
                sessions,
            };
            let mut router = Router::start(&self.nodes[&site.router], site.kind, &config)?;
            let pids = router.pids();
            self.recorder.update(|s| s.pids.extend(pids))?;
            self.routers.insert(site.router.clone(), router);
        }
        Ok(())
    }

    fn start_agents(&mut self) -> Result<()> {
        let m = self.topology.mobility.clone();
        let gateway = Gateway {
            mac: m.gateway_mac.parse()?,
            ipv4: m.gateway4,
            ipv6: m.gateway6,
        };
        let pools = vec![IpNet::V4(m.pool4)];
        for site in self.topology.sites.clone() {
            for hv in &site.hypervisors {
                let local = self.uplink(hv)?;
                let router = self
                    .plan
                    .addr_toward(&site.router, hv)
                    .map(|a| a.addr())
                    .ok_or_else(|| Error::Config(format!("{hv} has no uplink")))?;
                let netns = &self.nodes[hv];
                let agent: Box<dyn HypervisorAgent> = match self.topology.agent {
                    AgentKind::Hostroute => {
                        Box::new(HostrouteAgent::start(netns, local, router, site.asn, &m)?)
                    }
                    AgentKind::Speaker => Box::new(SpeakerdAgent::start(
                        netns,
                        local,
                        router,
                        site.asn,
                        &pools,
                        gateway.clone(),
                    )?),
                };
                let pids = agent.pids();
                self.recorder.update(|s| s.pids.extend(pids))?;
                self.agents.insert(hv.clone(), agent);
            }
        }
        Ok(())
    }

    fn create_vms(&mut self) -> Result<()> {
        for spec in self.topology.vms.clone() {
            let hv = spec.hypervisor.get_ref().clone();
            let vm = Vm::create(
                &self.lab,
                &spec,
                &self.nodes[&hv],
                &hv,
                self.topology.mobility.gateway4,
                self.topology.mobility.gateway6,
            )?;
            let ns = vm.netns.name().to_string();
            self.recorder.update(|s| {
                s.nodes.insert(spec.name.clone(), ns);
                s.info.insert(format!("vm {}", spec.name), hv.clone());
            })?;
            match self.mode {
                Mode::Hostroute => {
                    // Plugged in (up), as libvirt does; then the agent.
                    vm.tap.up()?;
                    let port = vm.port();
                    let agent = self
                        .agents
                        .get_mut(&hv)
                        .ok_or_else(|| Error::Config(format!("no agent on {hv}")))?;
                    agent.port_up(&port)?;
                    vm.announce()?;
                    agent.vm_announced(&port, 0)?;
                }
                Mode::L2Stretch => {
                    stretch::attach(&self.nodes[&hv], vm.tap.name())?;
                    vm.announce()?;
                }
            }
            self.sequences.insert(spec.name.clone(), 0);
            self.vms.insert(spec.name.clone(), vm);
        }
        Ok(())
    }

    /// Waits for every BGP session, then for the client to reach every VM.
    fn wait_ready(&mut self) -> Result<()> {
        let poll = Duration::from_millis(200);
        for (name, router) in &self.routers {
            wait_until(
                &format!("router {name}: every BGP session Established"),
                CONVERGE_TIMEOUT,
                poll,
                || router.all_established(),
            )?;
        }
        for (name, agent) in &self.agents {
            wait_until(
                &format!("{name}: session with its router"),
                CONVERGE_TIMEOUT,
                poll,
                || agent.established(),
            )?;
        }
        let (client, _) = self.client()?;
        let client = self.netns(client)?;
        for vm in self.vms.values() {
            let target = vm.ipv4.addr().to_string();
            wait_until(
                &format!("the client to reach {} ({target})", vm.name),
                CONVERGE_TIMEOUT,
                poll,
                || {
                    let reached = client
                        .exec("ping", &["-c", "1", "-W", "1", &target])?
                        .status
                        .success();
                    if !reached {
                        // As QEMU repeats its announcement: an agent that
                        // missed the first one (still starting) sees this.
                        vm.announce()?;
                    }
                    Ok(reached)
                },
            )?;
        }
        Ok(())
    }

    /// Which hypervisor holds each VM now.
    pub fn placements(&self) -> BTreeMap<String, String> {
        self.vms
            .iter()
            .map(|(n, v)| (n.clone(), v.hypervisor.clone()))
            .collect()
    }

    /// Facts for `lab status`: sessions, agent routes, VM placements.
    pub fn describe(&self) -> serde_json::Value {
        let agents: BTreeMap<&String, String> =
            self.agents.iter().map(|(n, a)| (n, a.describe())).collect();
        serde_json::json!({
            "mode": self.mode,
            "placements": self.placements(),
            "agents": agents,
            "wan": self.wans.first().map(|w| w.kind()),
        })
    }

    /// The address of `node`'s interface toward `peer`, as an `IpAddr`.
    pub fn addr_toward(&self, node: &str, peer: &str) -> Option<IpAddr> {
        self.plan
            .addr_toward(node, peer)
            .map(|a| IpAddr::V4(a.addr()))
    }

    /// The WAN links.
    pub fn wans(&self) -> &[WanLink] {
        &self.wans
    }

    /// Whether the WAN links apply their configured delays.
    pub fn wan_delays(&self) -> bool {
        !self.wans.is_empty() && self.wans.iter().all(WanLink::delays)
    }
}
