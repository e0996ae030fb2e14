//! Shared by the `speaker_*` namespace tests: configurations for
//! hostroute and its peers, starting a peer of any kind, and the run
//! wrapper that checks nothing is left behind.
#![allow(dead_code)] // each test file uses its own subset

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hostroute_tests::{assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::peers::{Bird, ExtCommunity, Frr, Gobgp, Peer, PeerConfig};
use lab::{Lab, Netns};
use speaker::policy::{ExportPolicy, ImportPolicy, PeerPolicy};
use speaker::{NeighborConfig, SpeakerConfig};

pub const SPEAKERD: &str = env!("CARGO_BIN_EXE_hr-speakerd");

/// Our AS in the two-speaker tests.
pub const OUR_AS: u32 = 65001;

pub const ESTABLISH: Duration = Duration::from_secs(20);
pub const CONVERGE: Duration = Duration::from_secs(10);

pub const POOL4: &str = "198.51.100.0/24";
pub const POOL6: &str = "2001:db8:100::/48";
/// For the bulk test: more host routes than a /24 holds.
pub const BULK4: &str = "198.18.0.0/15";

pub fn net(text: &str) -> IpNet {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub fn v4(ip: IpAddr) -> Ipv4Addr {
    match ip {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => panic!("{ip} is not IPv4"),
    }
}

pub fn pools() -> Vec<IpNet> {
    vec![net(POOL4), net(POOL6), net(BULK4)]
}

/// A neighbour with fast timers that imports and exports host routes of
/// the pools.
pub fn neighbor(address: IpAddr, remote_as: u32) -> NeighborConfig {
    let mut n = NeighborConfig::new(address, remote_as);
    n.hold_time = 3;
    n.keepalive = Some(1);
    n.connect_retry = 1;
    n.policy = PeerPolicy {
        import: Some(ImportPolicy::pools(pools())),
        export: Some(ExportPolicy {
            pools: pools(),
            ..ExportPolicy::default()
        }),
        ..PeerPolicy::default()
    };
    n
}

pub fn speaker_config(
    router_id: IpAddr,
    asn: u32,
    neighbors: Vec<NeighborConfig>,
) -> SpeakerConfig {
    let mut cfg = SpeakerConfig::new(v4(router_id), asn);
    cfg.neighbors = neighbors;
    cfg
}

pub fn peer_pools(config: PeerConfig) -> PeerConfig {
    config.pool(net(POOL4)).pool(net(POOL6)).pool(net(BULK4))
}

/// Which daemon plays the peer.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Bird,
    Frr,
    Gobgp,
}

/// A started peer, and the shared paths it must leave behind clean.
pub struct Started {
    pub peer: Box<dyn Peer>,
    pub paths: Vec<PathBuf>,
}

pub fn start(kind: Kind, netns: &Netns, config: PeerConfig) -> Result<Started> {
    Ok(match kind {
        Kind::Bird => Started {
            peer: Box::new(Bird::start(netns, config).context("starting BIRD")?),
            paths: Vec::new(),
        },
        Kind::Frr => {
            let frr = Frr::start(netns, config).context("starting FRR")?;
            Started {
                paths: vec![frr.state_dir()],
                peer: Box::new(frr),
            }
        }
        Kind::Gobgp => Started {
            peer: Box::new(Gobgp::start(netns, config).context("starting GoBGP")?),
            paths: Vec::new(),
        },
    })
}

/// What a test leaves behind to check after its lab is gone.
#[derive(Default)]
pub struct Leftovers {
    pub names: Vec<String>,
    pub pids: Vec<u32>,
    pub paths: Vec<PathBuf>,
}

impl Leftovers {
    fn check(&self) {
        assert_cleaned_up(&self.names, &self.pids, &self.paths);
    }
}

/// Runs `body` in a lab named `label`, then checks nothing is left and
/// prints how long it took.
pub fn run(test: &str, label: &str, body: impl FnOnce(&Lab, &mut Leftovers) -> Result<()>) {
    if !netns_available(test) {
        return;
    }
    let started = Instant::now();
    let mut left = Leftovers::default();
    Lab::run(label, |lab| body(lab, &mut left)).unwrap_or_else(|e| panic!("{test}: {e:#}"));
    left.check();
    eprintln!("{test}: {:?}", started.elapsed());
}

pub fn mobility_of(communities: &[ExtCommunity]) -> Vec<ExtCommunity> {
    communities
        .iter()
        .copied()
        .filter(|c| c.kind() == (0x06, 0x00))
        .collect()
}

/// Polls `check` every 20 ms until it holds, for at most `timeout`; errors
/// count as "not yet", the last one is reported.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let start = Instant::now();
    let mut last = None;
    loop {
        match check() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => last = Some(format!("{e:#}")),
        }
        if start.elapsed() >= timeout {
            anyhow::bail!("timed out after {timeout:?} waiting for {what} (last error: {last:?})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
