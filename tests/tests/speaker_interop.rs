//! The hostroute BGP speaker (`hr-speakerd`) against BIRD 2, FRR and
//! GoBGP in network namespaces: sessions, host routes both ways with the
//! mobility community, withdrawals, TCP-MD5 and GTSM, and route reflection
//! between two hostroute speakers with mobility decisions.
//!
//! Two speakers, one session (over IPv4, carrying IPv4 and IPv6 unicast):
//!
//! ```text
//!   a: hostroute  v0 192.0.2.1/24 2001:db8::1/64  <-- veth -->  b: peer  v1 192.0.2.2/24 2001:db8::2/64
//!      AS 65001, id 192.0.2.1                                     AS 65002 (eBGP) or 65001 (iBGP)
//! ```
//!
//! Reflection (all AS 65000; the hypervisors are the reflector's clients):
//!
//! ```text
//!   hv1  v0 192.0.2.1/24  <-->  v1 192.0.2.2/24  rr (BIRD or FRR)  v2 203.0.113.2/24  <-->  v3 203.0.113.3/24  hv2
//!   id 192.0.2.1                                 id 192.0.2.2                                          id 203.0.113.3
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hostroute_tests::speaker::{Speaker, SpeakerPath};
use hostroute_tests::{Pair, assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::peers::{
    Bird, Community, ExtCommunity, Frr, Gobgp, LargeCommunity, Neighbor, Peer, PeerConfig, Route,
};
use lab::{Lab, Netns};
use speaker::policy::{ExportPolicy, ImportPolicy, PeerPolicy};
use speaker::{NeighborConfig, SpeakerConfig};

const SPEAKERD: &str = env!("CARGO_BIN_EXE_hr-speakerd");

const ESTABLISH: Duration = Duration::from_secs(20);
const CONVERGE: Duration = Duration::from_secs(10);

const POOL4: &str = "198.51.100.0/24";
const POOL6: &str = "2001:db8:100::/48";
/// For the bulk test: more host routes than a /24 holds.
const BULK4: &str = "198.18.0.0/15";

fn net(text: &str) -> IpNet {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn v4(ip: IpAddr) -> Ipv4Addr {
    match ip {
        IpAddr::V4(a) => a,
        IpAddr::V6(_) => panic!("{ip} is not IPv4"),
    }
}

fn pools() -> Vec<IpNet> {
    vec![net(POOL4), net(POOL6), net(BULK4)]
}

/// A neighbour with fast timers that imports and exports host routes of
/// the pools.
fn neighbor(address: IpAddr, remote_as: u32) -> NeighborConfig {
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

fn speaker_config(router_id: IpAddr, asn: u32, neighbors: Vec<NeighborConfig>) -> SpeakerConfig {
    let mut cfg = SpeakerConfig::new(v4(router_id), asn);
    cfg.neighbors = neighbors;
    cfg
}

fn peer_pools(config: PeerConfig) -> PeerConfig {
    config.pool(net(POOL4)).pool(net(POOL6)).pool(net(BULK4))
}

/// Which daemon plays the peer.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Bird,
    Frr,
    Gobgp,
}

/// A started peer, and the shared paths it must leave behind clean.
struct Started {
    peer: Box<dyn Peer>,
    paths: Vec<PathBuf>,
}

fn start(kind: Kind, netns: &Netns, config: PeerConfig) -> Result<Started> {
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
struct Leftovers {
    names: Vec<String>,
    pids: Vec<u32>,
    paths: Vec<PathBuf>,
}

impl Leftovers {
    fn check(&self) {
        assert_cleaned_up(&self.names, &self.pids, &self.paths);
    }
}

/// Runs `body` in a lab named `label`, then checks nothing is left and
/// prints how long it took.
fn run(test: &str, label: &str, body: impl FnOnce(&Lab, &mut Leftovers) -> Result<()>) {
    if !netns_available(test) {
        return;
    }
    let started = Instant::now();
    let mut left = Leftovers::default();
    Lab::run(label, |lab| body(lab, &mut left)).unwrap_or_else(|e| panic!("{test}: {e:#}"));
    left.check();
    eprintln!("{test}: {:?}", started.elapsed());
}

fn mobility_of(communities: &[ExtCommunity]) -> Vec<ExtCommunity> {
    communities
        .iter()
        .copied()
        .filter(|c| c.kind() == (0x06, 0x00))
        .collect()
}

/// How an exchange test sets up its session.
#[derive(Clone, Copy, Debug)]
struct Session {
    kind: Kind,
    /// The peer's AS; ours is 65001 (iBGP when equal).
    peer_as: u32,
    /// Over IPv6 addresses (else IPv4); either way it carries both families.
    ipv6: bool,
    /// TCP-MD5 on both sides.
    password: Option<&'static str>,
    /// Bind our outgoing connections to the veth (SO_BINDTODEVICE).
    bind_device: bool,
    /// A second address of ours (on the veth) as the session's local
    /// address, instead of 192.0.2.1 / 2001:db8::1.
    local_address: Option<&'static str>,
}

impl Session {
    fn ebgp(kind: Kind) -> Session {
        Session {
            kind,
            peer_as: 65002,
            ipv6: false,
            password: None,
            bind_device: false,
            local_address: None,
        }
    }
}

const OUR_AS: u32 = 65001;

/// hostroute and a peer exchange an IPv4 /32 and an IPv6 /128 each way over
/// one session, with communities and the mobility community; then withdraw
/// one each way; the session never flapped.
fn exchange(test: &str, s: Session) {
    run(test, &format!("{:?}-exchange", s.kind), |lab, left| {
        let pair = Pair::new(lab, "hr", &format!("{:?}", s.kind))?;
        left.names = pair.names();
        let ibgp = s.peer_as == OUR_AS;
        let (mut ours, theirs) = if s.ipv6 {
            (Pair::A6, Pair::B6)
        } else {
            (Pair::A4, Pair::B4)
        };
        if let Some(local) = s.local_address {
            ours = local.parse()?;
            let len = if ours.is_ipv4() { 24 } else { 64 };
            pair.link.a.add_addr(IpNet::new(ours, len)?)?;
        }
        // Our next hops: the session's address for its own family.
        let (nh4, nh6) = match ours {
            IpAddr::V4(_) => (ours, Pair::A6),
            IpAddr::V6(_) => (Pair::A4, ours),
        };

        // No next_hop_v4/v6: the other family's next hop comes from the
        // interface.
        let mut n = neighbor(theirs, s.peer_as);
        n.password = s.password.map(str::to_string);
        if s.local_address.is_some() {
            n.local_address = Some(ours);
        }
        if s.bind_device {
            n.interface = Some(pair.link.a.name().to_string());
        }
        let hr = Speaker::start(&pair.a, SPEAKERD, speaker_config(Pair::A4, OUR_AS, vec![n]))?;
        left.pids.push(hr.pid());

        let mut v4_route = Route::new(net("198.51.100.2/32"))
            .community(65002, 1)
            .large_community(65002, 1, 2);
        if matches!(s.kind, Kind::Bird) {
            // Only BIRD can originate a MAC Mobility community.
            v4_route = v4_route.ext_community(ExtCommunity::mac_mobility(9, false));
        }
        let mut v6_route = Route::new(net("2001:db8:100::2/128")).community(65002, 6);
        if matches!(s.kind, Kind::Gobgp) {
            // GoBGP does not pick an IPv6 next hop for an IPv4 session.
            v6_route = v6_route.next_hop(Pair::B6);
        }
        let mut our_side = Neighbor::new(ours, OUR_AS);
        if let Some(p) = s.password {
            our_side = our_side.password(p);
        }
        let Started { peer, paths } = start(
            s.kind,
            &pair.b,
            peer_pools(PeerConfig::new(v4(Pair::B4), s.peer_as))
                .neighbor(our_side)
                .originate(v4_route)
                .originate(v6_route),
        )?;
        let mut peer = peer;
        left.pids.extend(peer.pids());
        left.paths.extend(paths);

        hr.wait_established(theirs, ESTABLISH)?;
        peer.wait_established(ours, ESTABLISH)?;

        hr.originate(net("198.51.100.1/32"), 5, &[Community(65001, 1)])?;
        hr.originate(net("2001:db8:100::1/128"), 3, &[Community(65001, 6)])?;
        let our_path: Vec<u32> = if ibgp { vec![] } else { vec![OUR_AS] };
        let peer_path: Vec<u32> = if ibgp { vec![] } else { vec![s.peer_as] };

        // Ours at the peer, with the mobility community intact.
        for (prefix, next_hop, community, seq) in [
            ("198.51.100.1/32", nh4, Community(65001, 1), 5),
            ("2001:db8:100::1/128", nh6, Community(65001, 6), 3),
        ] {
            let prefix = net(prefix);
            let r = peer.wait_route(&format!("{prefix} from hostroute"), CONVERGE, &|r| {
                r.prefix == prefix && r.from == ours
            })?;
            ensure!(r.as_path == our_path, "{r:?}");
            ensure!(r.next_hop == Some(next_hop), "{r:?}");
            ensure!(r.communities == [community], "{r:?}");
            ensure!(
                mobility_of(&r.ext_communities) == [ExtCommunity::mac_mobility(seq, false)],
                "mobility community changed: {r:?}"
            );
            ensure!(r.other_ext_communities.is_empty(), "{r:?}");
        }

        // The peer's at hostroute, with its next hops and attributes.
        let from_peer = |prefix: IpNet| move |p: &SpeakerPath| p.prefix == prefix && p.from(theirs);
        let p = hr.wait_path(
            "198.51.100.2/32 from the peer",
            CONVERGE,
            from_peer(net("198.51.100.2/32")),
        )?;
        ensure!(p.best, "{p:?}");
        ensure!(p.next_hop == Some(Pair::B4), "{p:?}");
        ensure!(p.as_path == peer_path, "{p:?}");
        ensure!(p.communities == [Community(65002, 1)], "{p:?}");
        ensure!(
            p.large_communities == [LargeCommunity(65002, 1, 2)],
            "{p:?}"
        );
        if matches!(s.kind, Kind::Bird) {
            ensure!(p.sequence() == Some(9), "{p:?}");
        }
        if ibgp {
            ensure!(p.local_pref == Some(100), "{p:?}");
        }
        let p = hr.wait_path(
            "2001:db8:100::2/128 from the peer",
            CONVERGE,
            from_peer(net("2001:db8:100::2/128")),
        )?;
        ensure!(p.best, "{p:?}");
        ensure!(p.next_hop == Some(Pair::B6), "{p:?}");
        ensure!(p.as_path == peer_path, "{p:?}");
        ensure!(p.communities == [Community(65002, 6)], "{p:?}");

        // Withdraw one route each way; the others stay.
        hr.withdraw(net("198.51.100.1/32"))?;
        peer.withdraw(net("2001:db8:100::2/128"))?;
        peer.wait_no_route(net("198.51.100.1/32"), CONVERGE)?;
        hr.wait_no_path(
            "2001:db8:100::2/128",
            CONVERGE,
            from_peer(net("2001:db8:100::2/128")),
        )?;
        ensure!(
            peer.routes()?
                .iter()
                .any(|r| r.prefix == net("2001:db8:100::1/128")),
            "withdrawing one route took another"
        );
        ensure!(
            hr.routes()?
                .iter()
                .any(|p| p.prefix == net("198.51.100.2/32") && p.from(theirs)),
            "withdrawing one route took another"
        );
        let peers = hr.peers()?;
        ensure!(
            peers
                .iter()
                .all(|p| p["flaps"] == 0 && p["state"] == "Established"),
            "the session flapped: {peers:?}"
        );
        ensure!(
            hr.warnings().is_empty(),
            "hostroute warned: {:#?}",
            hr.warnings()
        );
        Ok(())
    });
}

#[test]
fn hostroute_and_bird_exchange_host_routes() {
    exchange(
        "hostroute_and_bird_exchange_host_routes",
        Session {
            bind_device: true,
            ..Session::ebgp(Kind::Bird)
        },
    );
}

#[test]
fn hostroute_and_frr_exchange_host_routes() {
    exchange(
        "hostroute_and_frr_exchange_host_routes",
        Session::ebgp(Kind::Frr),
    );
}

/// With 4-octet AS numbers on the peer's side (RFC 6793).
#[test]
fn hostroute_and_gobgp_exchange_host_routes() {
    exchange(
        "hostroute_and_gobgp_exchange_host_routes",
        Session {
            peer_as: 4_200_000_002,
            ..Session::ebgp(Kind::Gobgp)
        },
    );
}

#[test]
fn hostroute_and_bird_exchange_host_routes_over_ibgp() {
    exchange(
        "hostroute_and_bird_exchange_host_routes_over_ibgp",
        Session {
            peer_as: OUR_AS,
            ..Session::ebgp(Kind::Bird)
        },
    );
}

/// From a second address of ours (`local_address`), which is also the
/// next hop.
#[test]
fn hostroute_and_gobgp_exchange_host_routes_over_ibgp() {
    exchange(
        "hostroute_and_gobgp_exchange_host_routes_over_ibgp",
        Session {
            peer_as: OUR_AS,
            local_address: Some("192.0.2.11"),
            ..Session::ebgp(Kind::Gobgp)
        },
    );
}

/// One IPv6 session carrying both families (the IPv4 next hop comes from
/// the interface), signed with TCP-MD5: the key sits on the IPv6 listener.
#[test]
fn hostroute_and_frr_exchange_over_an_ipv6_session_with_md5() {
    exchange(
        "hostroute_and_frr_exchange_over_an_ipv6_session_with_md5",
        Session {
            ipv6: true,
            password: Some("s3cret6"),
            ..Session::ebgp(Kind::Frr)
        },
    );
}

#[test]
fn hostroute_and_bird_exchange_over_an_ipv6_session() {
    exchange(
        "hostroute_and_bird_exchange_over_an_ipv6_session",
        Session {
            ipv6: true,
            ..Session::ebgp(Kind::Bird)
        },
    );
}

/// TCP-MD5 and GTSM between hostroute and `kind`: with the right key and
/// GTSM the session comes up and routes flow; first, with a wrong key (and,
/// against FRR, with the right key but without GTSM on our side), it does
/// not.
fn md5(test: &str, kind: Kind) {
    run(test, &format!("{kind:?}-md5"), |lab, left| {
        let pair = Pair::new(lab, "hr", &format!("{kind:?}"))?;
        left.names = pair.names();
        let Started { peer, paths } = start(
            kind,
            &pair.b,
            peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                .neighbor(
                    Neighbor::new(Pair::A4, 65001)
                        .password("s3cret")
                        .ttl_security(),
                )
                .originate(Route::new(net("198.51.100.2/32")).community(65002, 1)),
        )?;
        left.pids.extend(peer.pids());
        left.paths.extend(paths);

        let with = |password: &str, gtsm: bool, passive: bool| {
            let mut n = neighbor(Pair::B4, 65002);
            n.password = Some(password.to_string());
            n.ttl_security_hops = gtsm.then_some(1);
            n.passive = passive;
            speaker_config(Pair::A4, 65001, vec![n])
        };
        // A wrong key: no session. Then, against FRR, no GTSM on our side:
        // FRR sets its minimum TTL before connecting, so our SYN-ACK (TTL
        // 64) is dropped and there is no session. BIRD 2.0.12 sets it only
        // once the connection is up, in either direction, so our OPEN and
        // first KEEPALIVE get through and the session comes up until BIRD's
        // hold timer expires: not a check a snapshot can make.
        let mut negative = vec![("wrong", true, "mismatched TCP-MD5 keys")];
        if matches!(kind, Kind::Frr) {
            negative.push(("s3cret", false, "GTSM on one side only"));
        }
        for (password, gtsm, what) in negative {
            let hr = Speaker::start(&pair.a, SPEAKERD, with(password, gtsm, true))?;
            left.pids.push(hr.pid());
            std::thread::sleep(Duration::from_secs(3));
            ensure!(
                !hr.established(Pair::B4)? && !peer.established(Pair::A4)?,
                "a session came up with {what}"
            );
        }
        let hr = Speaker::start(&pair.a, SPEAKERD, with("s3cret", true, false))?;
        left.pids.push(hr.pid());
        hr.wait_established(Pair::B4, ESTABLISH)?;
        peer.wait_established(Pair::A4, ESTABLISH)?;
        hr.originate(net("198.51.100.1/32"), 1, &[])?;
        let r = peer.wait_route("198.51.100.1/32 from hostroute", CONVERGE, &|r| {
            r.prefix == net("198.51.100.1/32") && r.from == Pair::A4
        })?;
        ensure!(
            mobility_of(&r.ext_communities) == [ExtCommunity::mac_mobility(1, false)],
            "{r:?}"
        );
        hr.wait_path("198.51.100.2/32 from the peer", CONVERGE, |p| {
            p.prefix == net("198.51.100.2/32") && p.from(Pair::B4) && p.best
        })?;
        Ok(())
    });
}

#[test]
fn hostroute_and_bird_with_md5_and_gtsm() {
    md5("hostroute_and_bird_with_md5_and_gtsm", Kind::Bird);
}

#[test]
fn hostroute_and_frr_with_md5_and_gtsm() {
    md5("hostroute_and_frr_with_md5_and_gtsm", Kind::Frr);
}

/// Two hypervisors and a reflector, all started and Established.
struct Reflection {
    hv1: Speaker,
    hv2: Speaker,
    rr: Box<dyn Peer>,
    // Declared last: dropped after the processes that run inside.
    _pair: Pair,
    _hv2_ns: Netns,
}

const HV1: IpAddr = Pair::A4;
const RR1: IpAddr = Pair::B4;
const RR2: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 2));
const HV2: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 3));

fn reflection(lab: &Lab, kind: Kind, left: &mut Leftovers) -> Result<Reflection> {
    let pair = Pair::new(lab, "hv1", "rr")?;
    let hv2_ns = Netns::new(lab, "hv2")?;
    left.names = pair.names();
    left.names.push(hv2_ns.name().to_string());
    let link = lab::veth(&pair.b, "v2", &hv2_ns, "v3")?;
    link.a.add_addr(net("203.0.113.2/24"))?;
    link.b.add_addr(net("203.0.113.3/24"))?;
    let v4_only = [lab::peers::Family::Ipv4Unicast];
    let Started { peer: rr, paths } = start(
        kind,
        &pair.b,
        peer_pools(PeerConfig::new(v4(RR1), 65000))
            .neighbor(
                Neighbor::new(HV1, 65000)
                    .families(&v4_only)
                    .rr_client()
                    .add_paths_tx(),
            )
            .neighbor(
                Neighbor::new(HV2, 65000)
                    .families(&v4_only)
                    .rr_client()
                    .add_paths_tx(),
            ),
    )?;
    left.pids.extend(rr.pids());
    left.paths.extend(paths);
    // iBGP without policy: host routes of any address, our own only.
    let ibgp = |address| {
        let mut n = NeighborConfig::new(address, 65000);
        n.hold_time = 3;
        n.keepalive = Some(1);
        n.connect_retry = 1;
        n
    };
    let hv1 = Speaker::start(
        &pair.a,
        SPEAKERD,
        speaker_config(HV1, 65000, vec![ibgp(RR1)]),
    )?;
    left.pids.push(hv1.pid());
    let hv2 = Speaker::start(
        &hv2_ns,
        SPEAKERD,
        speaker_config(HV2, 65000, vec![ibgp(RR2)]),
    )?;
    left.pids.push(hv2.pid());
    hv1.wait_established(RR1, ESTABLISH)?;
    hv2.wait_established(RR2, ESTABLISH)?;
    rr.wait_established(HV1, ESTABLISH)?;
    rr.wait_established(HV2, ESTABLISH)?;
    drop(link);
    Ok(Reflection {
        hv1,
        hv2,
        rr,
        _pair: pair,
        _hv2_ns: hv2_ns,
    })
}

/// The best path of `prefix` at `speaker`, once it satisfies `matches`.
fn best(
    speaker: &Speaker,
    what: &str,
    prefix: IpNet,
    matches: impl Fn(&SpeakerPath) -> bool,
) -> Result<SpeakerPath> {
    speaker.wait_path(what, CONVERGE, |p| {
        p.prefix == prefix && p.best && matches(p)
    })
}

/// hv1 originates with sequence 0; hv2 learns it through the reflector,
/// mobility community untouched, ORIGINATOR_ID hv1. The VM moves: hv2
/// originates with sequence 1, and everyone's best path is hv2's; hv1
/// reports its local route superseded and stops advertising it. Then it
/// moves back (sequence 2) and everything points to hv1 again.
fn move_through_reflector(test: &str, kind: Kind) {
    run(test, &format!("{kind:?}-rr"), |lab, left| {
        let r = reflection(lab, kind, left)?;
        let vm = net("198.51.100.7/32");

        r.hv1.originate(vm, 0, &[Community(65000, 7)])?;
        let p = best(&r.hv2, "hv1's route via the reflector", vm, |p| p.from(RR2))?;
        ensure!(p.sequence() == Some(0), "mobility community changed: {p:?}");
        ensure!(
            mobility_of(&p.ext_communities) == [ExtCommunity::mac_mobility(0, false)],
            "{p:?}"
        );
        ensure!(p.originator_id == Some(v4(HV1)), "{p:?}");
        ensure!(p.cluster_list == [v4(RR1)], "{p:?}");
        ensure!(p.next_hop == Some(HV1), "{p:?}");
        ensure!(p.as_path.is_empty(), "{p:?}");
        ensure!(p.communities == [Community(65000, 7)], "{p:?}");

        // The VM moves to hv2.
        r.hv2.originate(vm, 1, &[Community(65000, 7)])?;
        let p = best(&r.hv2, "hv2's own route as best", vm, SpeakerPath::is_local)?;
        ensure!(p.sequence() == Some(1), "{p:?}");
        let p = best(&r.hv1, "hv2's route as best at hv1", vm, |p| p.from(RR1))?;
        ensure!(p.sequence() == Some(1), "{p:?}");
        ensure!(p.originator_id == Some(v4(HV2)), "{p:?}");
        ensure!(p.next_hop == Some(HV2), "{p:?}");
        // hv1 keeps its local path, not best (withdrawing it is the
        // daemon's decision on the event below).
        let local = r
            .hv1
            .routes()?
            .into_iter()
            .find(|p| p.prefix == vm && p.is_local())
            .context("hv1 dropped its local path")?;
        ensure!(!local.best, "hv1 still prefers its own path: {local:?}");
        ensure!(local.lost_on.as_deref() == Some("Sequence"), "{local:?}");
        let event = r.hv1.wait_event("LocalSuperseded", CONVERGE, |e| {
            e["event"] == "rib" && e["detail"]["LocalSuperseded"]["prefix"] == vm.to_string()
        })?;
        let by = &event["detail"]["LocalSuperseded"];
        ensure!(by["reason"] == "Sequence", "{event}");
        ensure!(by["by"]["router_id"] == HV2.to_string(), "{event}");
        ensure!(by["by"]["mobility"]["sequence"] == 1, "{event}");
        // hv1 no longer advertises it: the reflector's only, best, path is
        // hv2's.
        lab::wait_until(
            "the reflector to prefer hv2's path alone",
            CONVERGE,
            lab::peers::POLL,
            || {
                let paths: Vec<_> =
                    r.rr.routes()?
                        .into_iter()
                        .filter(|p| p.prefix == vm)
                        .collect();
                Ok(paths.len() == 1
                    && paths.iter().all(|p| {
                        p.best
                            && p.from == HV2
                            && mobility_of(&p.ext_communities)
                                == [ExtCommunity::mac_mobility(1, false)]
                    }))
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}; reflector: {:#?}", r.rr.routes().ok()))?;
        // ... so hv2 no longer has hv1's path.
        r.hv2.wait_no_path("hv1's withdrawn path", CONVERGE, |p| {
            p.prefix == vm && p.from(RR2)
        })?;

        // The VM moves back to hv1, with the next sequence.
        r.hv1.originate(vm, 2, &[Community(65000, 7)])?;
        best(
            &r.hv1,
            "hv1's own route as best again",
            vm,
            SpeakerPath::is_local,
        )?;
        let p = best(&r.hv2, "hv1's route as best at hv2", vm, |p| p.from(RR2))?;
        ensure!(
            p.sequence() == Some(2) && p.originator_id == Some(v4(HV1)),
            "{p:?}"
        );
        r.hv2.wait_event("LocalSuperseded at hv2", CONVERGE, |e| {
            let ev = &e["detail"]["LocalSuperseded"];
            ev["prefix"] == vm.to_string() && ev["by"]["mobility"]["sequence"] == 2
        })?;
        lab::wait_until(
            "the reflector to prefer hv1's path alone",
            CONVERGE,
            lab::peers::POLL,
            || {
                let paths: Vec<_> =
                    r.rr.routes()?
                        .into_iter()
                        .filter(|p| p.prefix == vm)
                        .collect();
                Ok(paths.len() == 1 && paths.iter().all(|p| p.best && p.from == HV1))
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}; reflector: {:#?}", r.rr.routes().ok()))?;
        for hv in [&r.hv1, &r.hv2] {
            ensure!(
                hv.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hv.warnings()
            );
        }
        Ok(())
    });
}

#[test]
fn bird_reflects_a_move_between_hostroute_speakers() {
    move_through_reflector(
        "bird_reflects_a_move_between_hostroute_speakers",
        Kind::Bird,
    );
}

#[test]
fn frr_reflects_a_move_between_hostroute_speakers() {
    move_through_reflector("frr_reflects_a_move_between_hostroute_speakers", Kind::Frr);
}

/// Both hypervisors originate with the same sequence at once: on both, the
/// path of the lower router id (hv1, 192.0.2.1) wins; hv2 reports its local
/// route superseded and stops advertising it.
fn equal_sequence_race(test: &str, kind: Kind) {
    run(test, &format!("{kind:?}-race"), |lab, left| {
        let r = reflection(lab, kind, left)?;
        let vm = net("198.51.100.8/32");
        r.hv1.originate(vm, 4, &[])?;
        r.hv2.originate(vm, 4, &[])?;
        best(&r.hv1, "hv1's own route as best", vm, SpeakerPath::is_local)?;
        let p = best(&r.hv2, "hv1's route as best at hv2", vm, |p| p.from(RR2))?;
        ensure!(p.originator_id == Some(v4(HV1)), "{p:?}");
        ensure!(p.sequence() == Some(4), "{p:?}");
        let event = r.hv2.wait_event("LocalSuperseded", CONVERGE, |e| {
            e["detail"]["LocalSuperseded"]["prefix"] == vm.to_string()
        })?;
        ensure!(
            event["detail"]["LocalSuperseded"]["reason"] == "RouterId",
            "{event}"
        );
        lab::wait_until(
            "the reflector to hold hv1's path alone",
            CONVERGE,
            lab::peers::POLL,
            || {
                let paths: Vec<_> =
                    r.rr.routes()?
                        .into_iter()
                        .filter(|p| p.prefix == vm)
                        .collect();
                Ok(paths.len() == 1 && paths.iter().all(|p| p.best && p.from == HV1))
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}; reflector: {:#?}", r.rr.routes().ok()))?;
        // And it stays so: hv1 still best on both a moment later.
        std::thread::sleep(Duration::from_secs(1));
        ensure!(
            r.hv2
                .routes()?
                .iter()
                .any(|p| p.prefix == vm && p.best && p.from(RR2)),
            "hv2 flipped back"
        );
        for hv in [&r.hv1, &r.hv2] {
            ensure!(
                hv.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hv.warnings()
            );
        }
        Ok(())
    });
}

#[test]
fn equal_sequence_race_through_bird_lower_router_id_wins() {
    equal_sequence_race(
        "equal_sequence_race_through_bird_lower_router_id_wins",
        Kind::Bird,
    );
}

#[test]
fn equal_sequence_race_through_frr_lower_router_id_wins() {
    equal_sequence_race(
        "equal_sequence_race_through_frr_lower_router_id_wins",
        Kind::Frr,
    );
}

/// FRR's route-refresh counters toward `neighbor`: (sent, received).
fn frr_refresh_counters(frr: &Frr, neighbor: IpAddr) -> Result<(u64, u64)> {
    let out = frr.vtysh(&[&format!("show bgp neighbors {neighbor} json")])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    let stats = &v[neighbor.to_string()]["messageStats"];
    let count = |name: &str| {
        stats[name]
            .as_u64()
            .with_context(|| format!("{name} in {stats}"))
    };
    Ok((count("routeRefreshSent")?, count("routeRefreshRecv")?))
}

/// FRR asks for a refresh (`clear bgp * soft in`; both sides advertise
/// enhanced route refresh): hostroute answers each request with BoRR, its
/// routes and EoRR (RFC 7313), so FRR, which sweeps at EoRR whatever was
/// not re-sent, keeps our routes.
#[test]
fn hostroute_answers_frr_route_refresh_with_borr_and_eorr() {
    run(
        "hostroute_answers_frr_route_refresh_with_borr_and_eorr",
        "frr-refresh",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "frr")?;
            left.names = pair.names();
            let hr = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(Pair::A4, OUR_AS, vec![neighbor(Pair::B4, 65002)]),
            )?;
            left.pids.push(hr.pid());
            let frr = Frr::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS)),
            )?;
            left.pids.extend(frr.pids());
            left.paths.push(frr.state_dir());
            hr.wait_established(Pair::B4, ESTABLISH)?;
            frr.wait_established(Pair::A4, ESTABLISH)?;
            hr.originate(net("198.51.100.1/32"), 2, &[])?;
            hr.originate(net("2001:db8:100::1/128"), 2, &[])?;
            for prefix in ["198.51.100.1/32", "2001:db8:100::1/128"] {
                let prefix = net(prefix);
                frr.wait_route(&prefix.to_string(), CONVERGE, &|r| r.prefix == prefix)?;
            }
            // FRR asks on its own too (after applying its route maps):
            // wait until it is quiet, then ask.
            std::thread::sleep(Duration::from_secs(2));
            let (sent, recv) = frr_refresh_counters(&frr, Pair::A4)?;
            frr.vtysh(&["clear bgp * soft in"])?;
            let mut last = (sent, recv);
            lab::wait_until(
                "a BoRR and an EoRR for each request",
                CONVERGE,
                lab::peers::POLL,
                || {
                    last = frr_refresh_counters(&frr, Pair::A4)
                        .map_err(|e| lab::Error::Config(format!("{e:#}")))?;
                    let asked = last.0 - sent;
                    Ok(asked > 0 && last.1 - recv == 2 * asked)
                },
            )
            .map_err(|e| {
                anyhow::anyhow!("{e}; (sent, received) {last:?} from {:?}", (sent, recv))
            })?;
            std::thread::sleep(Duration::from_secs(1));
            for prefix in ["198.51.100.1/32", "2001:db8:100::1/128"] {
                let prefix = net(prefix);
                ensure!(
                    frr.routes()?.iter().any(|r| r.prefix == prefix),
                    "FRR swept {prefix} at EoRR"
                );
            }
            Ok(())
        },
    );
}

/// Host routes of `family` ("ipv4" or "ipv6") FRR has from `neighbor`.
fn frr_received(frr: &Frr, family: &str, neighbor: IpAddr) -> Result<u64> {
    let out = frr.vtysh(&[&format!("show bgp {family} unicast summary json")])?;
    let v: serde_json::Value = serde_json::from_str(&out)?;
    Ok(v["peers"][neighbor.to_string()]["pfxRcd"]
        .as_u64()
        .unwrap_or(0))
}

/// Routes BIRD imported per channel of its first protocol: (ipv4, ipv6).
fn bird_imported(bird: &Bird) -> Result<(u64, u64)> {
    let out = bird.birdc(&["show", "protocols", "all", "n1"])?;
    let mut counts = Vec::new();
    for line in out
        .lines()
        .filter(|l| l.trim_start().starts_with("Routes:"))
    {
        let n = line
            .split_whitespace()
            .nth(1)
            .and_then(|n| n.parse().ok())
            .with_context(|| format!("BIRD routes line {line:?}"))?;
        counts.push(n);
    }
    match counts.as_slice() {
        [v4, v6] => Ok((*v4, *v6)),
        _ => anyhow::bail!("BIRD channels: {out}"),
    }
}

/// 1500 IPv4 and 500 IPv6 host routes to FRR (which negotiates RFC 8654
/// extended messages, so UPDATEs up to 64 KiB) and to BIRD (which does not:
/// 4 KiB), then all withdrawn.
///
/// ```text
///   frr  v1 192.0.2.2  <-->  v0 192.0.2.1  hostroute  v2 203.0.113.1  <-->  v3 203.0.113.3  bird
/// ```
#[test]
fn hostroute_sends_thousands_of_host_routes_to_frr_and_bird() {
    run(
        "hostroute_sends_thousands_of_host_routes_to_frr_and_bird",
        "bulk",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "frr")?;
            let bird_ns = Netns::new(lab, "bird")?;
            left.names = pair.names();
            left.names.push(bird_ns.name().to_string());
            let link = lab::veth(&pair.a, "v2", &bird_ns, "v3")?;
            for (end, v4, v6) in [
                (&link.a, "203.0.113.1/24", "2001:db8:1::1/64"),
                (&link.b, "203.0.113.3/24", "2001:db8:1::3/64"),
            ] {
                end.add_addr(net(v4))?;
                end.add_addr(net(v6))?;
            }
            let bird_addr: IpAddr = "203.0.113.3".parse()?;
            let hr_side: IpAddr = "203.0.113.1".parse()?;
            let hr = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(
                    Pair::A4,
                    OUR_AS,
                    vec![neighbor(Pair::B4, 65002), neighbor(bird_addr, 65003)],
                ),
            )?;
            left.pids.push(hr.pid());
            let frr = Frr::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS)),
            )?;
            left.pids.extend(frr.pids());
            left.paths.push(frr.state_dir());
            let bird = Bird::start(
                &bird_ns,
                peer_pools(PeerConfig::new(v4(bird_addr), 65003))
                    .neighbor(Neighbor::new(hr_side, OUR_AS)),
            )?;
            left.pids.extend(bird.pids());
            hr.wait_established(Pair::B4, ESTABLISH)?;
            hr.wait_established(bird_addr, ESTABLISH)?;

            // 198.18.0.0/15 (RFC 2544) and 2001:db8:100::/48, counting up.
            let first4 = u32::from(Ipv4Addr::new(198, 18, 0, 1));
            let first6 = u128::from("2001:db8:100::1".parse::<std::net::Ipv6Addr>()?);
            let prefixes: Vec<IpNet> = (0..1500u32)
                .map(|i| IpAddr::from(Ipv4Addr::from(first4 + i)))
                .chain((0..500u128).map(|i| IpAddr::from(std::net::Ipv6Addr::from(first6 + i))))
                .map(IpNet::from)
                .collect();
            let started = Instant::now();
            for (i, p) in prefixes.iter().enumerate() {
                hr.originate(
                    *p,
                    u32::try_from(i % 7).unwrap_or(0),
                    &[Community(65001, 1)],
                )?;
            }
            eprintln!("originated {} in {:?}", prefixes.len(), started.elapsed());
            let want = |v4: u64, v6: u64| {
                lab::wait_until(
                    &format!("FRR and BIRD to hold {v4} IPv4 and {v6} IPv6 routes"),
                    Duration::from_secs(20),
                    Duration::from_millis(250),
                    || {
                        let e = |e: anyhow::Error| lab::Error::Config(format!("{e:#}"));
                        Ok(frr_received(&frr, "ipv4", Pair::A4).map_err(e)? == v4
                            && frr_received(&frr, "ipv6", Pair::A4).map_err(e)? == v6
                            && bird_imported(&bird).map_err(e)? == (v4, v6))
                    },
                )
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{e}; FRR {:?} {:?}, BIRD {:?}",
                        frr_received(&frr, "ipv4", Pair::A4).ok(),
                        frr_received(&frr, "ipv6", Pair::A4).ok(),
                        bird_imported(&bird).ok()
                    )
                })
            };
            want(1500, 500)?;
            eprintln!("both peers hold them after {:?}", started.elapsed());
            for p in &prefixes {
                hr.withdraw(*p)?;
            }
            want(0, 0)?;
            let peers = hr.peers()?;
            ensure!(
                peers.iter().all(|p| p["flaps"] == 0),
                "a session flapped: {peers:?}"
            );
            ensure!(
                hr.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hr.warnings()
            );
            Ok(())
        },
    );
}

/// Sessions that go away and come back, with BIRD: an administrative
/// disable and enable, a hung BIRD (SIGSTOP: our hold timer expires, its
/// routes are flushed; SIGCONT: back), and a restart of hostroute. Routes
/// flow again both ways each time.
#[test]
fn hostroute_recovers_from_resets_and_a_hung_peer() {
    run(
        "hostroute_recovers_from_resets_and_a_hung_peer",
        "resets",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "bird")?;
            left.names = pair.names();
            let config = || speaker_config(Pair::A4, OUR_AS, vec![neighbor(Pair::B4, 65002)]);
            let mut bird = Bird::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS))
                    .originate(Route::new(net("198.51.100.2/32")).community(65002, 1)),
            )?;
            left.pids.extend(bird.pids());
            let ours = net("198.51.100.1/32");
            let theirs = net("198.51.100.2/32");
            let both_ways = |hr: &Speaker, bird: &Bird| -> Result<()> {
                hr.wait_established(Pair::B4, ESTABLISH)?;
                bird.wait_route("hostroute's route", CONVERGE, &|r| {
                    r.prefix == ours
                        && mobility_of(&r.ext_communities) == [ExtCommunity::mac_mobility(1, false)]
                })?;
                hr.wait_path("BIRD's route", CONVERGE, |p| {
                    p.prefix == theirs && p.from(Pair::B4) && p.best
                })?;
                Ok(())
            };

            let hr = Speaker::start(&pair.a, SPEAKERD, config())?;
            left.pids.push(hr.pid());
            hr.originate(ours, 1, &[])?;
            both_ways(&hr, &bird)?;

            // Administrative disable: BIRD sends Cease, we flush its routes.
            bird.birdc(&["disable", "n1"])?;
            hr.wait_no_path("BIRD's route after disable", CONVERGE, |p| {
                p.prefix == theirs
            })?;
            hr.wait_event("peer_down", CONVERGE, |e| e["event"] == "peer_down")?;
            bird.birdc(&["enable", "n1"])?;
            both_ways(&hr, &bird)?;

            // BIRD hangs: no KEEPALIVE for 3 s, our hold timer expires.
            bird.child().signal(lab::Signal::Stop)?;
            let hung = Instant::now();
            hr.wait_no_path("BIRD's route after the hold time", CONVERGE, |p| {
                p.prefix == theirs
            })?;
            ensure!(
                hung.elapsed() >= Duration::from_secs(2),
                "routes flushed before the hold time: {:?}",
                hung.elapsed()
            );
            let down = hr
                .events()
                .into_iter()
                .rev()
                .find(|e| e["event"] == "peer_down")
                .context("no peer_down after the hang")?;
            ensure!(
                down["reason"].as_str().is_some_and(|r| r.contains("hold")),
                "{down}"
            );
            bird.child().signal(lab::Signal::Cont)?;
            both_ways(&hr, &bird)?;

            // hostroute restarts: BIRD loses our route, then learns it again.
            drop(hr);
            bird.wait_no_route(ours, CONVERGE)?;
            let hr = Speaker::start(&pair.a, SPEAKERD, config())?;
            left.pids.push(hr.pid());
            hr.originate(ours, 1, &[])?;
            both_ways(&hr, &bird)?;
            ensure!(
                hr.warnings().is_empty(),
                "hostroute warned: {:#?}",
                hr.warnings()
            );
            Ok(())
        },
    );
}

/// Our GTSM check: FRR without ttl-security sends with TTL 1 (eBGP), which
/// hostroute with `ttl_security_hops = 1` (minimum TTL 255) drops, on the
/// listener and on its own connection attempts: no session. Without GTSM on
/// our side the same pair comes up.
#[test]
fn hostroute_gtsm_drops_a_peer_that_sends_ttl_1() {
    run(
        "hostroute_gtsm_drops_a_peer_that_sends_ttl_1",
        "gtsm",
        |lab, left| {
            let pair = Pair::new(lab, "hr", "frr")?;
            left.names = pair.names();
            let frr = Frr::start(
                &pair.b,
                peer_pools(PeerConfig::new(v4(Pair::B4), 65002))
                    .neighbor(Neighbor::new(Pair::A4, OUR_AS)),
            )?;
            left.pids.extend(frr.pids());
            left.paths.push(frr.state_dir());
            let config = |gtsm: Option<u8>| {
                let mut n = neighbor(Pair::B4, 65002);
                n.ttl_security_hops = gtsm;
                speaker_config(Pair::A4, OUR_AS, vec![n])
            };
            {
                let hr = Speaker::start(&pair.a, SPEAKERD, config(Some(1)))?;
                left.pids.push(hr.pid());
                std::thread::sleep(Duration::from_secs(3));
                ensure!(
                    !hr.established(Pair::B4)? && !frr.established(Pair::A4)?,
                    "a session came up although FRR sends TTL 1"
                );
                let opens = hr.peers()?[0]["messages_in"]["open"].as_u64();
                ensure!(opens == Some(0), "an OPEN got through: {:?}", hr.peers()?);
            }
            let hr = Speaker::start(&pair.a, SPEAKERD, config(None))?;
            left.pids.push(hr.pid());
            hr.wait_established(Pair::B4, ESTABLISH)?;
            Ok(())
        },
    );
}

/// Two hostroute speakers over IPv6 link-local addresses (the session is
/// bound to the veth with `interface`, without which a link-local connect
/// has no scope): both families flow, IPv4 with the interface's IPv4
/// address as next hop, IPv6 with the global one.
///
/// ```text
///   a: v0 fe80::a 192.0.2.1 2001:db8::1  <-- veth -->  b: v1 fe80::b 192.0.2.2 2001:db8::2
/// ```
#[test]
fn hostroute_speakers_peer_over_link_local_addresses() {
    run(
        "hostroute_speakers_peer_over_link_local_addresses",
        "link-local",
        |lab, left| {
            let pair = Pair::new(lab, "a", "b")?;
            left.names = pair.names();
            let (lla, llb): (IpAddr, IpAddr) = ("fe80::a".parse()?, "fe80::b".parse()?);
            pair.link.a.add_addr(net("fe80::a/64"))?;
            pair.link.b.add_addr(net("fe80::b/64"))?;
            let side = |peer: IpAddr, asn: u32, interface: &str| {
                let mut n = neighbor(peer, asn);
                n.interface = Some(interface.to_string());
                n
            };
            let a = Speaker::start(
                &pair.a,
                SPEAKERD,
                speaker_config(Pair::A4, OUR_AS, vec![side(llb, 65002, pair.link.a.name())]),
            )?;
            left.pids.push(a.pid());
            let b = Speaker::start(
                &pair.b,
                SPEAKERD,
                speaker_config(Pair::B4, 65002, vec![side(lla, OUR_AS, pair.link.b.name())]),
            )?;
            left.pids.push(b.pid());
            a.wait_established(llb, ESTABLISH)?;
            b.wait_established(lla, ESTABLISH)?;
            a.originate(net("198.51.100.1/32"), 1, &[])?;
            a.originate(net("2001:db8:100::1/128"), 1, &[])?;
            for (prefix, next_hop) in [
                ("198.51.100.1/32", Pair::A4),
                ("2001:db8:100::1/128", Pair::A6),
            ] {
                let prefix = net(prefix);
                let p = b.wait_path(&prefix.to_string(), CONVERGE, |p| p.prefix == prefix)?;
                ensure!(p.best && p.from(lla), "{p:?}");
                ensure!(p.next_hop == Some(next_hop), "{p:?}");
                ensure!(p.as_path == [OUR_AS] && p.sequence() == Some(1), "{p:?}");
            }
            for s in [&a, &b] {
                ensure!(
                    s.warnings().is_empty(),
                    "hostroute warned: {:#?}",
                    s.warnings()
                );
            }
            Ok(())
        },
    );
}
