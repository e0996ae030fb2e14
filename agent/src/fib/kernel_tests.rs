//! Unit tests of the netlink message codec (no sockets).

use super::*;
use crate::fib::route::MAIN_TABLE;

fn params() -> RouteParams {
    RouteParams::default()
}

fn round_trip(route: Route) -> Route {
    let mut message = NetlinkMessage::from(RouteNetlinkMessage::NewRoute(route_message(&route)));
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    echoed_route(&bytes).expect("decodes")
}

#[test]
fn messages_read_back_as_the_same_route() {
    let p = params();
    for (prefix, kind) in [
        ("10.1.1.5/32", RouteKind::Local { ifindex: 7 }),
        (
            "198.51.100.1/32",
            RouteKind::Via {
                gateway: "192.0.2.2".parse().unwrap(),
                ifindex: None,
            },
        ),
        (
            "2001:db8::5/128",
            RouteKind::Via {
                gateway: "fe80::2".parse().unwrap(),
                ifindex: Some(3),
            },
        ),
        (
            "198.51.100.2/32",
            RouteKind::Via {
                gateway: "fe80::2".parse().unwrap(),
                ifindex: Some(3),
            },
        ),
    ] {
        let route = p.route(prefix.parse().unwrap(), kind);
        assert_eq!(round_trip(route), route);
    }
}

#[test]
fn rfc8950_route_uses_rta_via() {
    let route = params().route(
        "198.51.100.2/32".parse().unwrap(),
        RouteKind::Via {
            gateway: "fe80::2".parse().unwrap(),
            ifindex: Some(3),
        },
    );
    let m = route_message(&route);
    assert!(
        m.attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Via(RouteVia::Inet6(_))))
    );
    assert!(
        !m.attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Gateway(_)))
    );
}

#[test]
fn large_table_ids_go_in_rta_table() {
    let mut route = params().route(
        "10.0.0.1/32".parse().unwrap(),
        RouteKind::Local { ifindex: 2 },
    );
    route.table = 1000;
    let m = route_message(&route);
    assert_eq!(m.header.table, RT_TABLE_COMPAT);
    assert_eq!(round_trip(route).table, 1000);
    assert_eq!(compat_table(MAIN_TABLE), 254);
}

#[test]
fn delete_names_the_key_and_protocol_only() {
    let route = params().route(
        "10.0.0.1/32".parse().unwrap(),
        RouteKind::Via {
            gateway: "192.0.2.2".parse().unwrap(),
            ifindex: Some(2),
        },
    );
    let m = delete_message(&route);
    assert_eq!(m.header.scope, RouteScope::NoWhere);
    assert_eq!(u8::from(m.header.protocol), route.protocol);
    assert!(
        !m.attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Gateway(_) | RouteAttribute::Oif(_)))
    );
}

#[test]
fn nack_with_extended_ack_maps_to_its_route_and_message() {
    let route = params().route(
        "10.9.9.9/32".parse().unwrap(),
        RouteKind::Local { ifindex: 9 },
    );
    let mut request = NetlinkMessage::from(RouteNetlinkMessage::NewRoute(route_message(&route)));
    request.finalize();
    let mut echo = vec![0; request.buffer_len()];
    request.serialize(&mut echo);
    // NLMSGERR_ATTR_MSG "Nexthop device is not up\0", padded.
    let text = b"Nexthop device is not up\0";
    let len = u16::try_from(4 + text.len()).unwrap();
    echo.extend_from_slice(&len.to_ne_bytes());
    echo.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
    echo.extend_from_slice(text);
    while echo.len() % 4 != 0 {
        echo.push(0);
    }
    let mut error = rtnetlink::packet_core::ErrorMessage::default();
    error.code = std::num::NonZeroI32::new(-100);
    error.header = echo.clone();
    let (errno, message) = nack(NLM_F_ACK_TLVS, &error);
    assert_eq!(errno, 100);
    assert_eq!(message.as_deref(), Some("Nexthop device is not up"));
    assert_eq!(echoed_route(&echo).map(|r| r.key()), Some(route.key()));
    // Truncated echoes are unmatched, not a panic.
    assert_eq!(echoed_route(&echo[..10]), None);
    assert_eq!(ack_message(&echo[..20]), None);
}

#[test]
fn kernel_shapes_we_do_not_install_read_as_other() {
    let mut m = route_message(&params().route(
        "10.0.0.1/32".parse().unwrap(),
        RouteKind::Local { ifindex: 2 },
    ));
    m.header.kind = RouteType::BlackHole;
    assert_eq!(
        route_from_message(&m).map(|r| r.kind),
        Some(RouteKind::Other)
    );
}

/// A notification as the kernel multicasts it: `route` added (or deleted)
/// by netlink port `port`.
fn notification(route: &Route, added: bool, port: u32) -> Vec<u8> {
    let body = if added {
        RouteNetlinkMessage::NewRoute(route_message(route))
    } else {
        RouteNetlinkMessage::DelRoute(route_message(route))
    };
    let mut message = NetlinkMessage::from(body);
    message.header.port_number = port;
    message.finalize();
    let mut bytes = vec![0; message.buffer_len()];
    message.serialize(&mut bytes);
    bytes
}

#[test]
fn monitor_keeps_our_routes_changed_by_others_only() {
    let p = params();
    let ours = p.route(
        "10.0.0.1/32".parse().unwrap(),
        RouteKind::Via {
            gateway: "192.0.2.2".parse().unwrap(),
            ifindex: Some(2),
        },
    );
    let mut other_protocol = ours;
    other_protocol.protocol = 4;
    let mut other_table = ours;
    other_table.table = 100;
    const OWN: u32 = 4242;
    let mut datagram = Vec::new();
    for (route, added, port) in [
        (ours, true, OWN),          // our own request's echo: dropped
        (ours, true, 0),            // the kernel's own change: kept
        (ours, false, 77),          // someone else's delete: kept
        (other_protocol, true, 77), // not ours
        (other_table, false, 77),   // not ours
    ] {
        datagram.extend(notification(&route, added, port));
    }
    let mut events = Vec::new();
    assert!(events_in(&datagram, &p, OWN, |e| {
        events.push(e);
        true
    }));
    assert_eq!(
        events,
        vec![KernelEvent::Added(ours), KernelEvent::Removed(ours)]
    );
    // Without an own port nothing is dropped for its sender.
    let mut n = 0;
    events_in(&datagram, &p, 0, |_| {
        n += 1;
        true
    });
    assert_eq!(n, 3);
    // A receiver gone stops the walk; a truncated datagram is no panic.
    assert!(!events_in(&datagram, &p, 0, |_| false));
    for cut in 0..datagram.len() {
        events_in(&datagram[..cut], &p, OWN, |_| true);
    }
}
