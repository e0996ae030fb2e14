use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use proptest::prelude::*;

use super::*;
use crate::detect::MacAddr;

const FILE: &str = "/etc/hostroute.toml";

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("hostroute.example.toml")
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A valid configuration of five lines, for the error cases to extend.
const BASE: &str = r#"router_id = "192.0.2.11"
asn = 65011
[[interfaces]]
match = ["tap*"]
pools = ["10.1.1.0/24", "2001:db8:1::/64"]
"#;

fn ok(text: &str) -> AgentConfig {
    parse(text, Path::new(FILE)).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    match parse(text, Path::new(FILE)) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// `extra` (top-level keys) above BASE.
fn top(extra: &str) -> String {
    format!("{extra}{BASE}")
}

fn with(extra: &str) -> String {
    format!("{BASE}{extra}")
}

/// BASE with one peer (lines 6-8) and `extra` after it.
fn with_peer(extra: &str) -> String {
    format!("{BASE}[[peer]]\naddress = \"192.0.2.1\"\nasn = 65000\n{extra}")
}

#[test]
fn example_file_parses_with_every_section() {
    let c = load(&example_path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.router_id, Ipv4Addr::new(192, 0, 2, 11));
    assert_eq!(c.asn, 65011);
    assert_eq!(
        c.listen,
        vec![
            "0.0.0.0:179".parse::<SocketAddr>().unwrap(),
            "[::]:179".parse().unwrap()
        ]
    );
    assert_eq!(c.control_socket, Path::new("/run/hostroute/hostroute.sock"));
    assert_eq!(c.graceful_restart, 120);
    let gateway = c.gateway.as_ref().unwrap();
    assert_eq!(gateway.mac, MacAddr::ANYCAST_DEFAULT);
    assert_eq!(gateway.ipv4, vec![Ipv4Addr::new(10, 1, 1, 1)]);
    assert_eq!(c.fib, RouteParams::default());
    assert_eq!(c.mobility, MobilityConfig::default());
    assert_eq!(c.detection, DetectionConfig::default());
    assert_eq!(c.interfaces.len(), 1);
    assert_eq!(
        c.interfaces[0].matcher.patterns(),
        ["tap*", "vnet*", "vm-web1"]
    );
    assert_eq!(c.peers.len(), 2);
    let p = &c.peers[0];
    assert_eq!(p.address, ip("192.0.2.1"));
    assert_eq!(p.password.as_deref(), Some("correct horse battery staple"));
    assert_eq!((p.hold_time, p.keepalive), (9, Some(3)));
    assert_eq!(p.max_prefix, Some(200_000));
    assert_eq!(
        p.bfd,
        Some(BfdConfig {
            interval_ms: 50,
            multiplier: 3,
            multihop_min_ttl: None,
            required: true
        })
    );
    // The second peer leaves import_pools out: every interface pool.
    assert_eq!(c.peers[1].import_pools, c.pools());
    assert_eq!(c.peers[1].hold_time, 9);
    assert_eq!(c.peers[1].bfd.map(|b| b.required), Some(false));
}

#[test]
fn example_converts_for_every_part_of_the_daemon() {
    let c = load(&example_path()).unwrap();
    let s = c.speaker_config();
    assert_eq!(s.validate(), Ok(()));
    assert_eq!((s.router_id, s.asn), (c.router_id, c.asn));
    let n = &s.neighbors[0];
    assert_eq!(n.remote_as, 65000);
    assert_eq!(n.graceful_restart, Some(120));
    assert!(n.require_bfd);
    assert_eq!(n.bfd.as_ref().map(|b| b.interval_ms), Some(50));
    assert_eq!(n.ttl_security_hops, Some(1));
    let import = n.policy.import.as_ref().unwrap();
    assert!(import.host_routes_only);
    assert_eq!(
        import.pools,
        vec![net("10.1.1.0/24"), net("2001:db8:1::/64")]
    );
    let export = n.policy.export.as_ref().unwrap();
    assert!(export.local && !export.learned);
    assert_eq!(export.pools, c.pools());
    assert_eq!(n.policy.max_prefix.as_ref().map(|m| m.limit), Some(200_000));
    assert!(!n.policy.rr_client);

    let policies = c.interface_policies();
    assert_eq!(policies.len(), 1);
    assert!(policies[0].matcher.matches("vnet12"));
    assert!(policies[0].matcher.matches("vm-web1"));
    assert!(!policies[0].matcher.matches("eth0"));
    assert!(c.interface_matcher().matches("tap0"));

    assert_eq!(
        c.gateway().unwrap().ipv6,
        vec!["2001:db8:1::1".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    let fib = c.fib_config();
    assert_eq!(fib.kernel.params.protocol, 200);
    assert_eq!(fib.graceful_restart, Duration::from_secs(120));
    assert!(c.is_pinned(ip("10.1.1.9")));
    assert!(!c.is_pinned(ip("10.1.1.10")));
    assert_eq!(c.pinned(), vec![net("10.1.1.9/32"), net("10.1.1.240/28")]);

    let settings = c.settings();
    assert_eq!(settings.speaker, s);
    assert_eq!(settings.policies, policies);
    assert_eq!(settings.gateway, c.gateway);
    assert_eq!(settings.pinned, c.pinned());
    assert_eq!(settings.mobility, c.mobility);
    assert!(settings.detect_neighbours && settings.detect_announcements);
    assert_eq!(settings.control_socket, c.control_socket);
    assert_eq!(settings.fib.graceful_restart, Duration::from_secs(120));
}

#[test]
fn pinned_takes_addresses_and_prefixes_and_freeze_zero_means_until_restart() {
    let c = ok(&with(
        "pinned = [\"10.1.1.9\", \"10.1.1.16/28\", \"2001:db8:1::9\"]\n\
         [mobility]\nduplicate_moves = 3\nduplicate_window = 60\nfreeze = 0\n",
    ));
    assert_eq!(
        c.pinned(),
        vec![
            net("10.1.1.9/32"),
            net("10.1.1.16/28"),
            net("2001:db8:1::9/128")
        ]
    );
    assert!(c.is_pinned(ip("10.1.1.20")));
    assert!(!c.is_pinned(ip("10.1.1.32")));
    assert_eq!(
        c.mobility,
        MobilityConfig {
            duplicate_moves: 3,
            duplicate_window: Duration::from_secs(60),
            freeze: None,
        }
    );
    let c = ok(&with("[mobility]\nfreeze = 600\n"));
    assert_eq!(c.mobility.freeze, Some(Duration::from_secs(600)));
}

#[test]
fn a_gateway_table_without_keys_is_the_default_mac_and_no_addresses() {
    let c = ok(&with("[gateway]\n"));
    let g = c.gateway.unwrap();
    assert_eq!(g.mac, MacAddr::ANYCAST_DEFAULT);
    assert!(g.ipv4.is_empty() && g.ipv6.is_empty());
}

#[test]
fn defaults_fill_what_the_file_leaves_out() {
    let c = ok(&with_peer(""));
    assert_eq!(c.listen, defaults::listen());
    assert_eq!(c.control_socket, Path::new(defaults::CONTROL_SOCKET));
    assert_eq!(c.graceful_restart, 120);
    assert_eq!(c.gateway, None);
    assert_eq!(c.mobility, MobilityConfig::default());
    let p = &c.peers[0];
    assert_eq!((p.port, p.hold_time, p.keepalive), (179, 90, None));
    assert_eq!(p.import_pools, c.pools());
    assert_eq!(p.bfd, None);
    let n = c.neighbor(p);
    assert_eq!(n.bfd, None);
    assert!(!n.require_bfd);
}

#[test]
fn bfd_multihop_gets_the_default_minimum_ttl() {
    let c = ok(&with_peer("[peer.bfd]\nmultihop = true\n"));
    let b = c.peers[0].bfd.unwrap();
    assert_eq!(b.multihop_min_ttl, Some(defaults::BFD_MIN_TTL));
    assert_eq!((b.interval_ms, b.multiplier), (300, 3));
    let c = ok(&with_peer("bfd = { multihop = true, min_ttl = 250 }\n"));
    assert_eq!(c.peers[0].bfd.unwrap().multihop_min_ttl, Some(250));
}

#[test]
fn graceful_restart_zero_turns_it_off_for_peers() {
    let c = ok(&format!("graceful_restart = 0\n{}", with_peer("")));
    assert_eq!(c.speaker_config().neighbors[0].graceful_restart, None);
    assert_eq!(c.fib_config().graceful_restart, Duration::ZERO);
}

#[test]
fn export_learned_and_route_reflector_client_reach_the_policy() {
    let text = format!(
        "{BASE}[[peer]]\naddress = \"192.0.2.5\"\nasn = 65011\nexport_learned = true\n\
         route_reflector_client = true\nimport_pools = [\"10.9.0.0/16\"]\n"
    );
    let c = ok(&text);
    let n = &c.speaker_config().neighbors[0];
    assert!(n.policy.rr_client);
    let export = n.policy.export.as_ref().unwrap();
    assert!(export.learned);
    assert_eq!(
        export.pools,
        vec![
            net("10.1.1.0/24"),
            net("2001:db8:1::/64"),
            net("10.9.0.0/16")
        ]
    );
}

#[test]
fn a_missing_file_names_the_file_and_the_os_error() {
    let e = load(Path::new("/nonexistent/hostroute.toml")).unwrap_err();
    assert!(e.diagnostic().is_none());
    assert_eq!(
        e.to_string(),
        "/nonexistent/hostroute.toml: No such file or directory (os error 2)"
    );
}

#[test]
fn the_diagnostic_carries_line_column_and_key() {
    let e = parse(&with_peer("[peer.bfd]\ninterval_ms = 5\n"), Path::new(FILE)).unwrap_err();
    assert_eq!(
        e.diagnostic(),
        Some(&Diagnostic {
            file: PathBuf::from(FILE),
            line: 10,
            column: 15,
            key: Some("peer[0].bfd.interval_ms".into()),
            message: "5 is below the minimum of 10 ms".into(),
        })
    );
}

/// Each kind of mistake: the text, and the exact message.
#[test]
fn each_error_names_file_line_column_key_and_what_is_wrong() {
    let cases: Vec<(String, &str)> = vec![
        // Syntax.
        (
            "router_id = \"192.0.2.11\nasn = 1\n".into(),
            "/etc/hostroute.toml:1:24: router_id: invalid basic string, expected `\"`",
        ),
        (
            "router_id = \"192.0.2.11\"\nasn = [65011,\n".into(),
            "/etc/hostroute.toml:2:14: asn: unclosed array, expected `]`",
        ),
        // Duplicates, unknown and missing keys.
        (
            top("asn = 65012\n"),
            "/etc/hostroute.toml:3:1: asn: key defined twice",
        ),
        (
            with("[fib]\nmetric = 1\n[fib]\n"),
            "/etc/hostroute.toml:8:2: fib: key defined twice",
        ),
        (
            with_peer("pasword = \"x\"\n"),
            "/etc/hostroute.toml:9:1: peer[0].pasword: unknown key (expected one of: \
             address, asn, password, local_address, interface, port, hold_time, keepalive, \
             passive, ttl_security_hops, next_hop_v4, next_hop_v6, export_learned, \
             import_pools, max_prefix, route_reflector_client, bfd)",
        ),
        (
            with_peer("[peer.bfd]\ninterval = 50\n"),
            "/etc/hostroute.toml:10:1: peer[0].bfd.interval: unknown key (expected one of: \
             interval_ms, multiplier, multihop, min_ttl, required)",
        ),
        (
            with("listen = []\n"),
            "/etc/hostroute.toml:6:1: interfaces[0].listen: unknown key (expected one of: match, \
             pools, pinned; top-level keys go above the first [table])",
        ),
        (
            format!("routerid = \"192.0.2.11\"\n{BASE}"),
            "/etc/hostroute.toml:1:1: routerid: unknown key (expected one of: router_id, asn, \
             listen, control_socket, graceful_restart, gateway, fib, mobility, detection, \
             interfaces, peer)",
        ),
        (
            "asn = 65011\n".into(),
            "/etc/hostroute.toml:1:1: router_id: required key is missing",
        ),
        (
            with("[[peer]]\naddress = \"192.0.2.1\"\n"),
            "/etc/hostroute.toml:6:1: peer[0].asn: required key is missing",
        ),
        (
            with("[[interfaces]]\nmatch = [\"vnet*\"]\n"),
            "/etc/hostroute.toml:6:1: interfaces[1].pools: required key is missing",
        ),
        // Types and ranges serde checks.
        (
            with_peer("hold_time = \"9\"\n"),
            "/etc/hostroute.toml:9:13: peer[0].hold_time: expected an integer from 0 to 65535, \
             found string \"9\"",
        ),
        (
            with("[fib]\nprotocol = 300\n"),
            "/etc/hostroute.toml:7:12: fib.protocol: 300 is out of range \
             (expected an integer from 0 to 255)",
        ),
        (
            with("[detection]\nneighbours = \"yes\"\n"),
            "/etc/hostroute.toml:7:14: detection.neighbours: expected a boolean, found string \"yes\"",
        ),
        (
            top("fib = 3\n"),
            "/etc/hostroute.toml:1:7: fib: expected a table, found integer 3",
        ),
        (
            with_peer("address = \"192.0.2.x\"\n").replace("address = \"192.0.2.1\"\n", ""),
            "/etc/hostroute.toml:8:11: peer[0].address: \"192.0.2.x\" is not an IPv4 or IPv6 address",
        ),
        (
            with("[gateway]\nmac = \"ee:ee:ee:ee:ee\"\n"),
            "/etc/hostroute.toml:7:7: gateway.mac: \"ee:ee:ee:ee:ee\" is not a MAC address \
             (xx:xx:xx:xx:xx:xx)",
        ),
        (
            with("[[interfaces]]\nmatch = [\"vnet*\"]\npools = [\"10.2.0.0/16\", \"10.3/16\"]\n"),
            "/etc/hostroute.toml:8:25: interfaces[1].pools[1]: \"10.3/16\" is not a prefix \
             (address/length, such as \"10.1.1.0/24\")",
        ),
        (
            with("[peer]\naddress = \"192.0.2.1\"\n"),
            "/etc/hostroute.toml:6:1: peer: expected an array of tables (write [[name]], not \
             [name]), found a table",
        ),
        (
            with("[gateway]\nipv4 = \"10.1.1.1\"\n"),
            "/etc/hostroute.toml:7:8: gateway.ipv4: expected an array, found string \"10.1.1.1\"",
        ),
        (
            with_peer("[[peer.bfd]]\ninterval_ms = 50\n"),
            "/etc/hostroute.toml:9:1: peer[0].bfd: expected a table, found an array",
        ),
        (
            with("[[fib]]\nprotocol = 201\n"),
            "/etc/hostroute.toml:6:1: fib: expected a table, found an array",
        ),
        // Values that parse but make no sense.
        (
            "router_id = \"0.0.0.0\"\nasn = 65011\n".into(),
            "/etc/hostroute.toml:1:13: router_id: 0.0.0.0 is not a valid BGP identifier",
        ),
        (
            "router_id = \"192.0.2.11\"\nasn = 0\n".into(),
            "/etc/hostroute.toml:2:7: asn: 0 is reserved (RFC 7607)",
        ),
        (
            with_peer("").replace("asn = 65000", "asn = 23456"),
            "/etc/hostroute.toml:8:7: peer[0].asn: 23456 is AS_TRANS, which only stands in for \
             4-octet ASNs (RFC 6793)",
        ),
        (
            top("listen = [\"0.0.0.0:0\"]\n"),
            "/etc/hostroute.toml:1:11: listen[0]: 0.0.0.0:0: port 0 is not a port to listen on",
        ),
        (
            top("control_socket = \"hostroute.sock\"\n"),
            "/etc/hostroute.toml:1:18: control_socket: \"hostroute.sock\" is not an absolute path",
        ),
        (
            top("graceful_restart = 5000\n"),
            "/etc/hostroute.toml:1:20: graceful_restart: 5000 is above the maximum of 4095 s \
             (a 12-bit field, RFC 4724)",
        ),
        (
            with_peer("hold_time = 2\n"),
            "/etc/hostroute.toml:9:13: peer[0].hold_time: 2 must be 0 (no keepalives) or at \
             least 3 s (RFC 4271)",
        ),
        (
            with_peer("hold_time = 9\nkeepalive = 9\n"),
            "/etc/hostroute.toml:10:13: peer[0].keepalive: 9 must be at least 1 and below \
             hold_time (9)",
        ),
        (
            with_peer(&format!("password = \"{}\"\n", "x".repeat(81))),
            "/etc/hostroute.toml:9:12: peer[0].password: 81 bytes is longer than the 80 Linux \
             accepts for TCP-MD5",
        ),
        (
            with_peer("[[peer]]\naddress = \"192.0.2.1\"\nasn = 65001\n"),
            "/etc/hostroute.toml:10:11: peer[1].address: peer 192.0.2.1 is configured twice \
             (first as peer[0], line 7)",
        ),
        (
            with_peer("local_address = \"2001:db8::1\"\n"),
            "/etc/hostroute.toml:9:17: peer[0].local_address: 2001:db8::1 is not of the same \
             family as the peer address 192.0.2.1",
        ),
        (
            with("[[peer]]\naddress = \"fe80::1\"\nasn = 65000\n"),
            "/etc/hostroute.toml:7:11: peer[0].address: fe80::1 is link-local: set interface to \
             the link it is on",
        ),
        (
            with("[gateway]\nipv6 = [\"fe80::1\"]\n"),
            "/etc/hostroute.toml:7:9: gateway.ipv6[0]: fe80::1 is link-local; the link-local \
             gateway address is derived from gateway.mac",
        ),
        (
            with_peer("interface = \"eth*\"\n"),
            "/etc/hostroute.toml:9:13: peer[0].interface: \"eth*\" is a pattern; give one \
             interface name",
        ),
        (
            with_peer("route_reflector_client = true\n"),
            "/etc/hostroute.toml:9:26: peer[0].route_reflector_client: only an iBGP peer can be \
             a route-reflector client (peer AS 65000, ours 65011)",
        ),
        (
            with_peer("max_prefix = 0\n"),
            "/etc/hostroute.toml:9:14: peer[0].max_prefix: 0 would refuse every route; leave the \
             key out for no limit",
        ),
        (
            with_peer("[peer.bfd]\ninterval_ms = 5\n"),
            "/etc/hostroute.toml:10:15: peer[0].bfd.interval_ms: 5 is below the minimum of 10 ms",
        ),
        (
            with_peer("[peer.bfd]\nmultiplier = 0\n"),
            "/etc/hostroute.toml:10:14: peer[0].bfd.multiplier: must be 1 or more (RFC 5880)",
        ),
        (
            with_peer("bfd = { min_ttl = 250 }\n"),
            "/etc/hostroute.toml:9:19: peer[0].bfd.min_ttl: applies only to multihop sessions \
             (single hop accepts TTL 255 only); set multihop = true or remove it",
        ),
        (
            with("[fib]\nprotocol = 12\n"),
            "/etc/hostroute.toml:7:12: fib.protocol: 12 belongs to BIRD; pick a number of our \
             own (default 200)",
        ),
        (
            with("[fib]\nprotocol = 3\n"),
            "/etc/hostroute.toml:7:12: fib.protocol: 3 belongs to RTPROT_BOOT, routes added by \
             ip route without a protocol; pick a number of our own (default 200)",
        ),
        (
            with("[fib]\nmetric = 0\n"),
            "/etc/hostroute.toml:7:10: fib.metric: 0 is not a metric the kernel keeps (IPv6 \
             routes get 1024); use 1 or more",
        ),
        (
            with("[fib]\ntable = 255\n"),
            "/etc/hostroute.toml:7:9: fib.table: 255 is the kernel's local table",
        ),
        (
            with("[mobility]\nduplicate_moves = 0\n"),
            "/etc/hostroute.toml:7:19: mobility.duplicate_moves: must be 1 or more",
        ),
        (
            with("[gateway]\nmac = \"01:00:5e:00:00:01\"\n"),
            "/etc/hostroute.toml:7:7: gateway.mac: 01:00:5e:00:00:01 is a multicast MAC (lowest \
             bit of the first byte set); the gateway needs a unicast one",
        ),
        (
            with("[gateway]\nipv4 = [\"10.1.1.1\", \"10.2.0.1\"]\n"),
            "/etc/hostroute.toml:7:21: gateway.ipv4[1]: 10.2.0.1 is not inside any pool of \
             [[interfaces]]",
        ),
        (
            with("[[interfaces]]\nmatch = [\"vnet*\"]\npools = [\"10.2.0.5/16\"]\n"),
            "/etc/hostroute.toml:8:10: interfaces[1].pools[0]: 10.2.0.5/16 has host bits set \
             (did you mean 10.2.0.0/16?)",
        ),
        (
            with(
                "[[interfaces]]\nmatch = [\"vnet*\"]\npools = [\"10.2.0.0/16\", \"10.2.3.0/24\"]\n",
            ),
            "/etc/hostroute.toml:8:25: interfaces[1].pools[1]: 10.2.3.0/24 overlaps 10.2.0.0/16, \
             listed before it",
        ),
        (
            with("[[interfaces]]\nmatch = [\"vnet*\"]\npools = [\"fe80::/64\"]\n"),
            "/etc/hostroute.toml:8:10: interfaces[1].pools[0]: fe80::/64 cannot hold VM addresses \
             (default, loopback, link-local or multicast)",
        ),
        (
            with(
                "[[interfaces]]\nmatch = [\"vnet*\", \"a-very-long-interface-name\"]\npools = [\"10.2.0.0/16\"]\n",
            ),
            "/etc/hostroute.toml:7:19: interfaces[1].match[1]: interface pattern \
             \"a-very-long-interface-name\": longer than an interface name can be (15 characters)",
        ),
        (
            with("[[interfaces]]\nmatch = []\npools = [\"10.2.0.0/16\"]\n"),
            "/etc/hostroute.toml:7:9: interfaces[1].match: empty: give interface names or \
             patterns such as \"tap*\"",
        ),
        (
            with("pinned = [\"10.1.1.16/28\", \"10.1.1.20\"]\n"),
            "/etc/hostroute.toml:6:27: interfaces[0].pinned[1]: 10.1.1.20/32 overlaps \
             10.1.1.16/28, listed before it",
        ),
        (
            with("pinned = [\"10.1.1.9/24\"]\n"),
            "/etc/hostroute.toml:6:11: interfaces[0].pinned[0]: 10.1.1.9/24 has host bits set \
             (did you mean 10.1.1.0/24?)",
        ),
        (
            with(
                "[[interfaces]]\nmatch = [\"vnet*\"]\npools = [\"10.2.0.0/16\"]\npinned = [\"10.1.1.9\"]\n",
            ),
            "/etc/hostroute.toml:9:11: interfaces[1].pinned[0]: 10.1.1.9/32 is not inside this \
             table's pools",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(text, expected)| {
            let got = err(text);
            (got != *expected).then(|| format!("{text}\n  got:      {got}\n  expected: {expected}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

#[test]
fn columns_count_characters_not_bytes() {
    // Byte 75, character 72.
    let text =
        top("peer = [{ address = \"192.0.2.1\", asn = 65000, password = \"ééé\", port = 0 }]\n");
    assert_eq!(
        err(&text),
        "/etc/hostroute.toml:1:72: peer[0].port: 0 is not a TCP port"
    );
}

fn plan(old: &str, new: &str) -> ReloadPlan {
    reload_plan(&ok(old), &ok(new))
}

fn peers(list: &[(&str, u32)]) -> String {
    list.iter()
        .map(|(a, asn)| format!("[[peer]]\naddress = \"{a}\"\nasn = {asn}\n"))
        .collect()
}

#[test]
fn reload_of_the_same_file_changes_nothing() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let p = plan(&text, &text);
    assert!(p.is_empty(), "{p:?}");
    assert!(!p.needs_restart());
}

#[test]
fn reload_lists_peers_added_removed_and_changed() {
    let old = with(&peers(&[("192.0.2.1", 65000), ("192.0.2.2", 65000)]));
    let new = with(&peers(&[("192.0.2.2", 65001), ("192.0.2.3", 65000)]));
    let p = plan(&old, &new);
    assert_eq!(p.peers_added, vec![ip("192.0.2.3")]);
    assert_eq!(p.peers_removed, vec![ip("192.0.2.1")]);
    assert_eq!(p.peers_changed, vec![ip("192.0.2.2")]);
    assert!(p.live.is_empty() && !p.needs_restart());
}

#[test]
fn reload_counts_a_changed_default_reaching_a_peer_as_a_change_of_it() {
    let old = with(&peers(&[("192.0.2.1", 65000)]));
    let new = format!("graceful_restart = 60\n{old}");
    let p = plan(&old, &new);
    assert_eq!(p.peers_changed, vec![ip("192.0.2.1")]);
    assert_eq!(p.live, vec!["graceful_restart"]);
    // A new interface pool widens the peer's import and export pools.
    let new = format!("{old}[[interfaces]]\nmatch = [\"vnet*\"]\npools = [\"10.2.0.0/16\"]\n");
    let p = plan(&old, &new);
    assert_eq!(p.peers_changed, vec![ip("192.0.2.1")]);
    assert_eq!(p.live, vec!["interfaces"]);
}

#[test]
fn reload_reports_what_needs_a_restart_without_applying_it() {
    let old = with("");
    let new = format!(
        "listen = []\ncontrol_socket = \"/run/other.sock\"\n{}[fib]\nprotocol = 201\ntable = 100\nmetric = 60\n",
        BASE.replace("192.0.2.11", "192.0.2.12")
            .replace("65011", "65012")
    );
    let p = plan(&old, &new);
    assert_eq!(
        p.restart,
        vec![
            "router_id",
            "asn",
            "listen",
            "control_socket",
            "fib.protocol",
            "fib.table",
            "fib.metric"
        ]
    );
    assert!(p.needs_restart());
    let p = plan(
        &old,
        &with("[gateway]\nmac = \"02:00:00:00:00:01\"\n[mobility]\nduplicate_window = 60\n"),
    );
    assert_eq!(p.live, vec!["gateway", "mobility"]);
    assert!(!p.needs_restart());
}

/// Every prefix of the example, cut at each character: an error or a
/// configuration, never a panic.
#[test]
fn truncated_files_never_panic() {
    let text = std::fs::read_to_string(example_path()).unwrap();
    let mut errors = 0;
    for (i, _) in text.char_indices() {
        if parse(&text[..i], Path::new(FILE)).is_err() {
            errors += 1;
        }
    }
    assert!(errors > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn garbage_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = parse(&text, Path::new(FILE)) {
            prop_assert!(e.diagnostic().is_some());
        }
    }

    #[test]
    fn toml_shaped_garbage_never_panics(
        lines in proptest::collection::vec(
            "(\\[\\[?[a-z_.]{0,12}\\]\\]?|[a-z_.\"]{1,16} ?= ?(\"[ -~]{0,20}\"?|-?[0-9]{1,12}|true|\\[[0-9\", ]{0,20}\\]?|\\{[a-z =0-9,]{0,20}\\}?))",
            0..12,
        )
    ) {
        let text = format!("{BASE}{}", lines.join("\n"));
        if let Err(e) = parse(&text, Path::new(FILE)) {
            let d = e.diagnostic().unwrap();
            prop_assert!(d.line >= 1 && d.line <= text.lines().count() + 1);
            prop_assert!(d.column >= 1);
        }
    }

    /// A file with one byte of the example replaced.
    #[test]
    fn mutated_example_never_panics(pos in 0usize..6000, byte in any::<u8>()) {
        let mut bytes = std::fs::read(example_path()).unwrap();
        let len = bytes.len();
        bytes[pos % len] = byte;
        if let Ok(text) = String::from_utf8(bytes)
            && let Err(e) = parse(&text, Path::new(FILE))
        {
            prop_assert!(e.diagnostic().is_some());
        }
    }
}
