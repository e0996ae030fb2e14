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
