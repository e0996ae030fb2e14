//! Golden vectors: messages captured from BIRD 2, FRR, GoBGP and ExaBGP
//! peering with each other in network namespaces
//! (`proto/tests/vectors/capture.sh`; origins in each file's comments and in
//! `proto/tests/vectors/README.md`).
//!
//! Every vector must decode with no error and no RFC 7606 problem, and
//! re-encode to exactly the captured bytes; selected vectors are checked
//! field by field against what the capture's comments say they carry.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use proto::bfd::{self, ControlPacket, State};
use proto::bgp::{
    AddPathMode, Afi, AfiSafi, AsPath, AttributeValue, CeaseReason, Community, Context, ErrorCode,
    LargeCommunity, Message, Mobility, MpNextHop, Nlri, Open, RouteRefreshSubtype, Update,
    capability::Capability,
};

struct Vector {
    name: String,
    comments: Vec<String>,
    bytes: Vec<u8>,
}

impl Vector {
    fn field(&self, key: &str) -> Option<&str> {
        let prefix = format!("# {key}:");
        self.comments
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .map(str::trim)
    }

    fn is_bgp(&self) -> bool {
        self.bytes.starts_with(&[0xff; 16])
    }

    /// The decode context the capture recorded for this message.
    fn context(&self) -> Context {
        let ctx_line = self.field("context").unwrap_or_default().to_string();
        let get = |k: &str| {
            ctx_line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap_or("")
                .to_string()
        };
        let families = |v: String| -> Vec<AfiSafi> {
            v.split(',')
                .filter_map(|f| match f {
                    "ipv4-unicast" => Some(AfiSafi::IPV4_UNICAST),
                    "ipv6-unicast" => Some(AfiSafi::IPV6_UNICAST),
                    _ => None,
                })
                .collect()
        };
        let scenario = self.field("scenario").unwrap_or_default();
        Context {
            four_octet_as: get("as4") == "true",
            add_path_rx: families(get("addpath_rx")),
            add_path_tx: families(get("addpath_rx")),
            extended_next_hop: if get("extended_nexthop").contains("ipv4-unicast/ipv6") {
                vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)]
            } else {
                vec![]
            },
            max_message_len: if get("extended_message") == "true" {
                65535
            } else {
                4096
            },
            external: !scenario.starts_with("iBGP"),
        }
    }
}

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors")
}

fn load_all() -> Vec<Vector> {
    let mut out = Vec::new();
    for implementation in ["bird2", "frr", "gobgp", "exabgp"] {
        let dir = vectors_dir().join(implementation);
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "hex"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).expect("read vector");
            let (comments, hex): (Vec<&str>, Vec<&str>) =
                text.lines().partition(|l| l.trim_start().starts_with('#'));
            let digits: String = hex.concat().split_whitespace().collect();
            let bytes = hex::decode(&digits).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let stem = path.file_stem().expect("stem").to_string_lossy();
            out.push(Vector {
                name: format!("{implementation}/{stem}"),
                comments: comments.into_iter().map(str::to_string).collect(),
                bytes,
            });
        }
    }
    out
}

fn load(name: &str) -> Vector {
    load_all()
        .into_iter()
        .find(|v| v.name == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

fn decode(name: &str) -> Message {
    let v = load(name);
    Message::decode(&v.bytes, &v.context())
        .expect("decodes")
        .message
}

fn update(name: &str) -> Update {
    match decode(name) {
        Message::Update(u) => u,
        other => panic!("{name} is {other:?}"),
    }
}

fn net(s: &str) -> Nlri {
    Nlri::new(s.parse().expect("prefix"))
}

#[test]
fn every_bgp_vector_decodes_cleanly_and_re_encodes_byte_for_byte() {
    let all = load_all();
    let bgp: Vec<&Vector> = all.iter().filter(|v| v.is_bgp()).collect();
    assert!(
        bgp.len() >= 60,
        "expected the full capture set, found {}",
        bgp.len()
    );
    for v in bgp {
        let ctx = v.context();
        let decoded = Message::decode(&v.bytes, &ctx).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert!(
            decoded.problems.is_empty(),
            "{}: {:?}",
            v.name,
            decoded.problems
        );
        let again = decoded
            .message
            .to_bytes(&ctx)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(
            hex::encode(&again),
            hex::encode(&v.bytes),
            "{} re-encodes differently",
            v.name
        );
    }
}

#[test]
fn every_bfd_vector_parses_and_re_emits_byte_for_byte() {
    let all = load_all();
    let bfd: Vec<&Vector> = all.iter().filter(|v| !v.is_bgp()).collect();
    assert!(
        bfd.len() >= 15,
        "expected BIRD and FRR BFD captures, found {}",
        bfd.len()
    );
    for v in bfd {
        let p = ControlPacket::parse(&v.bytes).unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(p.to_bytes().expect("emit"), v.bytes, "{}", v.name);
    }
}

#[test]
fn bird_open_carries_its_capabilities_in_one_parameter() {
    let Message::Open(open) = decode("bird2/open_ebgp") else {
        panic!()
    };
    assert_eq!((open.my_as, open.asn()), (23456, 4_200_000_001));
    assert_eq!(open.hold_time.seconds(), 9);
    assert_eq!(open.bgp_id, Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(open.params.len(), 1);
    let caps: Vec<&Capability> = open.capabilities().collect();
    assert!(caps.contains(&&Capability::MultiProtocol(AfiSafi::IPV6_UNICAST)));
    assert!(caps.contains(&&Capability::EnhancedRouteRefresh));
    assert!(caps.contains(&&Capability::ExtendedMessage));
    assert!(caps.contains(&&Capability::AddPath(vec![(
        AfiSafi::IPV4_UNICAST,
        AddPathMode::Both
    )])));
    let gr = caps.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    });
    assert_eq!(
        gr.map(|g| (g.restart_time, g.families.len())),
        Some((120, 2))
    );
    // BGP Role (9) and LLGR (71) are kept verbatim.
    assert!(
        caps.iter()
            .any(|c| matches!(c, Capability::Unknown { code: 71, .. }))
    );
}

#[test]
fn frr_open_puts_one_capability_per_parameter_with_restart_and_n_bits() {
    let Message::Open(open) = decode("frr/open_ebgp_gr_restarting") else {
        panic!()
    };
    assert_eq!(open.asn(), 65002);
    assert_eq!(open.params.len(), 12);
    let gr = open
        .capabilities()
        .find_map(|c| match c {
            Capability::GracefulRestart(gr) => Some(gr.clone()),
            _ => None,
        })
        .expect("GR capability");
    assert!(gr.restart_state && gr.notification, "R and N bits");
}

#[test]
fn bird_update_with_add_path_and_every_community_kind() {
    let u = update("bird2/update_ipv4_addpath_communities_large_macmobility_extcomm_med");
    assert_eq!(
        u.nlri,
        vec![Nlri::with_path_id("198.51.100.1/32".parse().unwrap(), 3)]
    );
    assert_eq!(u.as_path(), Some(&AsPath::sequence(vec![4_200_000_001])));
    assert_eq!(u.next_hop(), Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(u.attribute(4), Some(&AttributeValue::MultiExitDisc(50)));
    assert_eq!(
        u.communities(),
        &[Community::new(65001, 100), Community::NO_PEER]
    );
    assert_eq!(
        u.large_communities(),
        &[LargeCommunity::new(4_200_000_001, 100, 1)]
    );
    assert_eq!(u.mobility(), Some(Mobility::new(5, false)));
}

#[test]
fn bird_ipv6_update_with_link_local_next_hop() {
    let u = update("bird2/update_ipv6_nh_ll_communities_large_macmobility_med");
    let reach = u.mp_reach().expect("MP_REACH");
    assert_eq!(reach.family, AfiSafi::IPV6_UNICAST);
    assert_eq!(
        reach.next_hop,
        MpNextHop::Ipv6 {
            global: "2001:db8:12::1".parse::<Ipv6Addr>().unwrap(),
            link_local: Some("fe80::283b:69ff:fe8d:6bd3".parse().unwrap()),
        }
    );
    assert_eq!(reach.nlri, vec![net("2001:db8:ff00::1/128")]);
    assert_eq!(u.mobility(), Some(Mobility::new(1, false)));
}

#[test]
fn bird_ipv4_route_with_ipv6_next_hop_rfc8950() {
    let u =
        update("bird2/update_ipv4_v6nexthop_communities_large_macmobility_extcomm_med_localpref");
    let reach = u.mp_reach().expect("MP_REACH");
    assert_eq!(reach.family, AfiSafi::IPV4_UNICAST);
    assert_eq!(reach.next_hop.afi(), Afi::Ipv6);
    assert_eq!(reach.nlri, vec![net("198.51.100.1/32")]);
    assert_eq!(u.attribute(5), Some(&AttributeValue::LocalPref(100)));
    assert_eq!(u.as_path(), Some(&AsPath::default()));
}

#[test]
fn gobgp_to_a_two_octet_peer_sends_as_trans_and_as4_path() {
    let u = update(
        "gobgp/update_ipv4_as4path_as4aggregator_atomic_communities_large_macmobility_extcomm_as_trans",
    );
    let as_path = u.as_path().expect("AS_PATH").clone();
    assert_eq!(as_path, AsPath::sequence(vec![23456, 65004, 23456]));
    let Some(AttributeValue::As4Path(as4)) = u.attribute(17) else {
        panic!("AS4_PATH")
    };
    assert_eq!(
        as_path.merge_as4(as4),
        AsPath::sequence(vec![4_200_000_003, 65004, 4_200_000_099])
    );
    let Some(AttributeValue::As4Aggregator(agg)) = u.attribute(18) else {
        panic!("AS4_AGGREGATOR")
    };
    assert_eq!(agg.asn, 4_200_000_099);
    assert_eq!(u.mobility(), Some(Mobility::new(9, false)));
    assert!(u.communities().contains(&Community::NO_EXPORT));
}

#[test]
fn exabgp_unknown_optional_transitive_attribute_is_kept_verbatim() {
    let u = update("exabgp/update_ipv4_addpath_communities_unknown_attr99");
    assert_eq!(
        u.attribute(99),
        Some(&AttributeValue::Raw {
            type_code: 99,
            value: b"hostroute".to_vec()
        })
    );
}

#[test]
fn end_of_rib_markers_from_every_implementation() {
    for imp in ["bird2", "frr", "gobgp", "exabgp"] {
        assert_eq!(
            update(&format!("{imp}/update_eor_ipv4")).end_of_rib_family(),
            Some(AfiSafi::IPV4_UNICAST),
            "{imp}"
        );
        assert_eq!(
            update(&format!("{imp}/update_eor_ipv6")).end_of_rib_family(),
            Some(AfiSafi::IPV6_UNICAST),
            "{imp}"
        );
    }
}

#[test]
fn notifications_decode_to_their_rfc_codes() {
    let Message::Notification(n) = decode("frr/notification_cease_bfd_down") else {
        panic!()
    };
    assert_eq!(n.error, ErrorCode::Cease(CeaseReason::BfdDown));
    let Message::Notification(n) = decode("frr/notification_cease_admin_shutdown_msg") else {
        panic!()
    };
    assert_eq!(
        n.shutdown_text(),
        Some(Ok("hostroute vectors: frr maintenance"))
    );
    let Message::Notification(n) = decode("gobgp/notification_hold_timer_expired") else {
        panic!()
    };
    assert_eq!(n.error, ErrorCode::HoldTimerExpired(0));
    let Message::Notification(n) = decode("gobgp/notification_open_bad_peer_as") else {
        panic!()
    };
    assert_eq!(n.error.codes(), (2, 2));
}

#[test]
fn enhanced_route_refresh_brackets() {
    let Message::RouteRefresh(r) = decode("frr/borr_ipv4") else {
        panic!()
    };
    assert_eq!(r.subtype, RouteRefreshSubtype::BeginningOfRouteRefresh);
    let Message::RouteRefresh(r) = decode("bird2/eorr_ipv4") else {
        panic!()
    };
    assert_eq!(r.subtype, RouteRefreshSubtype::EndOfRouteRefresh);
    assert_eq!(r.afi_safi, AfiSafi::IPV4_UNICAST);
}

#[test]
fn bird_keyed_sha1_bfd_verifies_with_the_configured_secret() {
    let v = load("bird2/bfd_up_auth_sha1");
    let p = ControlPacket::parse(&v.bytes).expect("parses");
    assert_eq!(p.state, State::Up);
    assert_eq!(p.auth.as_ref().and_then(|a| a.key_id()), Some(7));
    bfd::verify(&v.bytes, b"hostroute-bfd-key").expect("digest verifies");
    assert!(bfd::verify(&v.bytes, b"wrong-key").is_err());
}

#[test]
fn frr_and_bird_bfd_sessions_come_up_with_poll_and_final() {
    let up = ControlPacket::parse(&load("frr/bfd_up").bytes).expect("parses");
    assert_eq!((up.state, up.detect_mult), (State::Up, 3));
    assert_ne!(up.your_discriminator, 0);
    let poll = ControlPacket::parse(&load("bird2/bfd_up_poll").bytes).expect("parses");
    assert!(poll.poll && !poll.final_);
    let fin = ControlPacket::parse(&load("bird2/bfd_up_final").bytes).expect("parses");
    assert!(fin.final_ && !fin.poll);
    let down = ControlPacket::parse(&load("bird2/bfd_down_nodisc").bytes).expect("parses");
    assert_eq!((down.state, down.your_discriminator), (State::Down, 0));
}

#[test]
fn open_round_trip_keeps_the_grouping_of_each_implementation() {
    for name in [
        "bird2/open_ebgp",
        "frr/open_ebgp_gr_restarting",
        "gobgp/open_g1",
        "exabgp/open_g2",
    ] {
        let v = load(name);
        let Message::Open(open) = decode(name) else {
            panic!()
        };
        let mut out = Vec::new();
        Open::emit(&open, &mut out).expect("emit");
        assert_eq!(out, v.bytes, "{name}");
    }
}
