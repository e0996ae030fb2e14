//! The driver's socket set-up and negotiation helpers, on real sockets
//! (loopback; no privileges needed).

use super::*;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::Ipv4Addr;

fn loopback_neighbor(password: Option<&str>) -> NeighborConfig {
    let mut n = NeighborConfig::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 65002);
    n.password = password.map(str::to_string);
    n
}

/// Connects to `to` from a socket with `key` (if any); whether the
/// handshake completed within 500 ms (a dropped SYN is retried after 1 s).
fn connects(to: SocketAddr, key: Option<&[u8]>) -> bool {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    if let Some(key) = key {
        sockopt::set_md5_key(&s, to.ip(), key).unwrap();
    }
    s.connect_timeout(&to.into(), Duration::from_millis(500))
        .is_ok()
}

#[tokio::test]
async fn listener_carries_each_neighbors_md5_key_before_accepting() {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let listener = bind_listener(any, &[loopback_neighbor(Some("s3cret"))]).unwrap();
    let addr = listener.local_addr().unwrap();
    let probe = tokio::task::spawn_blocking(move || {
        (connects(addr, None), connects(addr, Some(b"s3cret")))
    });
    let (unsigned, signed) = probe.await.unwrap();
    assert!(!unsigned, "a connection without the key was accepted");
    assert!(signed, "a connection with the key was refused");
    drop(listener);

    let plain = bind_listener(any, &[loopback_neighbor(None)]).unwrap();
    let addr = plain.local_addr().unwrap();
    let probe = tokio::task::spawn_blocking(move || connects(addr, None));
    assert!(probe.await.unwrap(), "no key configured, yet refused");
}

#[test]
fn only_families_both_sides_enabled_are_carried() {
    use proto::bgp::HoldTime;
    let id = Ipv4Addr::new(192, 0, 2, 1);
    let open = |caps: Vec<Capability>| Open::new(65001, HoldTime::DEFAULT, id, caps);
    let both = open(vec![
        Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
        Capability::MultiProtocol(AfiSafi::IPV6_UNICAST),
    ]);
    let v4 = open(vec![Capability::MultiProtocol(AfiSafi::IPV4_UNICAST)]);
    let v6 = open(vec![Capability::MultiProtocol(AfiSafi::IPV6_UNICAST)]);
    let none = open(vec![Capability::RouteRefresh]);
    assert_eq!(
        negotiated_families(&both, &both),
        [AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
    );
    assert_eq!(negotiated_families(&both, &v4), [AfiSafi::IPV4_UNICAST]);
    assert_eq!(negotiated_families(&both, &v6), [AfiSafi::IPV6_UNICAST]);
    assert_eq!(negotiated_families(&both, &none), [AfiSafi::IPV4_UNICAST]);
    assert!(negotiated_families(&v6, &none).is_empty());
}

#[tokio::test]
async fn gtsm_neighbors_make_the_listener_send_ttl_255() {
    let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let mut n = loopback_neighbor(None);
    n.ttl_security_hops = Some(1);
    let listener = bind_listener(any, &[n]).unwrap();
    assert_eq!(socket2::SockRef::from(&listener).ttl_v4().unwrap(), 255);
    let plain = bind_listener(any, &[loopback_neighbor(None)]).unwrap();
    assert_ne!(socket2::SockRef::from(&plain).ttl_v4().unwrap(), 255);
}

/// A speaker that neither listens nor connects: reconfiguration alone.
async fn quiet_speaker(neighbors: Vec<NeighborConfig>) -> SpeakerHandle {
    let mut cfg = SpeakerConfig::new(Ipv4Addr::new(192, 0, 2, 1), 65001);
    cfg.listen = Vec::new();
    cfg.neighbors = neighbors;
    spawn(cfg).await.unwrap()
}

fn passive(address: &str, asn: u32) -> NeighborConfig {
    let mut n = NeighborConfig::new(address.parse().unwrap(), asn);
    n.passive = true;
    n
}

fn addrs(list: &[&str]) -> Vec<IpAddr> {
    list.iter().map(|a| a.parse().unwrap()).collect()
}

#[tokio::test]
async fn set_neighbors_adds_removes_restarts_and_leaves_the_rest() {
    let (a, b) = (passive("192.0.2.2", 65002), passive("192.0.2.3", 65003));
    let speaker = quiet_speaker(vec![a.clone(), b.clone()]).await;
    let mut b2 = b.clone();
    b2.hold_time = 9;
    let c = passive("192.0.2.4", 65004);

    let report = speaker
        .set_neighbors(vec![a.clone(), b2, c.clone()])
        .await
        .unwrap();
    assert_eq!(report.unchanged, addrs(&["192.0.2.2"]));
    assert_eq!(report.changed, addrs(&["192.0.2.3"]));
    assert_eq!(report.added, addrs(&["192.0.2.4"]));
    assert!(report.removed.is_empty());
    let peers = speaker.peers().await.unwrap();
    let listed: Vec<IpAddr> = peers.iter().map(|p| p.neighbor).collect();
    assert_eq!(listed, addrs(&["192.0.2.2", "192.0.2.3", "192.0.2.4"]));
    assert!(
        peers
            .iter()
            .all(|p| p.fsm.session.state == crate::bgp::State::Active)
    );

    let report = speaker.set_neighbors(vec![c]).await.unwrap();
    assert_eq!(report.removed, addrs(&["192.0.2.2", "192.0.2.3"]));
    assert_eq!(report.unchanged, addrs(&["192.0.2.4"]));
    let peers = speaker.peers().await.unwrap();
    assert_eq!(peers.len(), 1);

    // A duplicate is refused before anything changes.
    let e = speaker.set_neighbors(vec![a.clone(), a]).await.unwrap_err();
    assert!(matches!(e, crate::handle::ReconfigError::Config(_)), "{e}");
    assert_eq!(speaker.peers().await.unwrap().len(), 1);
    speaker.shutdown(None).await.unwrap();
}

#[tokio::test]
async fn a_neighbor_removed_and_added_again_starts_afresh_and_local_routes_stay() {
    let a = passive("192.0.2.2", 65002);
    let speaker = quiet_speaker(vec![a.clone()]).await;
    // Local routes belong to no neighbour: they stay.
    let prefix: ipnet::IpNet = "198.51.100.7/32".parse().unwrap();
    speaker
        .originate(prefix, crate::rib::attrs::PathAttrs::default())
        .await
        .unwrap();
    speaker.set_neighbors(Vec::new()).await.unwrap();
    let report = speaker.set_neighbors(vec![a]).await.unwrap();
    assert_eq!(report.added, addrs(&["192.0.2.2"]));
    let routes = speaker.routes(None).await.unwrap();
    assert_eq!(routes.len(), 1);
    let local = &routes[0].paths[0];
    assert_eq!(local.source, "local");
    assert_eq!(local.origin_router_id, None);
    assert!(local.age_secs <= 1, "just originated: {}", local.age_secs);
    let peers = speaker.peers().await.unwrap();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].prefixes_ipv4, 0);
    speaker.shutdown(None).await.unwrap();
}
