//! Property tests: `parse(emit(x)) == x` for UPDATE and NOTIFICATION, and no
//! panic on any input.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::collection::vec;
use proptest::prelude::*;

use super::aspath::{AsPath, Segment, SegmentKind};
use super::attribute::{Aggregator, AttributeValue, Origin, PathAttribute, flags};
use super::community::{Community, ExtendedCommunity, LargeCommunity};
use super::context::Context;
use super::header::HEADER_LEN;
use super::iana::{Afi, AfiSafi};
use super::mp::{MpNextHop, MpReach, MpUnreach};
use super::nlri::Nlri;
use super::notification::{ErrorCode, Notification};
use super::update::Update;

fn v4_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u32>(), 0u8..=32)
        .prop_map(|(a, l)| IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(a), l).trunc()))
}

fn v6_prefix() -> impl Strategy<Value = IpNet> {
    (any::<u128>(), 0u8..=128)
        .prop_map(|(a, l)| IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(a), l).trunc()))
}

fn nlri(prefix: impl Strategy<Value = IpNet>, add_path: bool) -> impl Strategy<Value = Nlri> {
    (prefix, any::<u32>()).prop_map(move |(p, id)| {
        if add_path {
            Nlri::with_path_id(p, id)
        } else {
            Nlri::new(p)
        }
    })
}

fn as_path() -> impl Strategy<Value = AsPath> {
    let kind = prop_oneof![
        Just(SegmentKind::Set),
        Just(SegmentKind::Sequence),
        Just(SegmentKind::ConfedSequence),
        Just(SegmentKind::ConfedSet)
    ];
    vec(
        (kind, vec(any::<u32>(), 1..20)).prop_map(|(kind, asns)| Segment { kind, asns }),
        0..4,
    )
    .prop_map(|segments| AsPath { segments })
}

fn as4_path() -> impl Strategy<Value = AsPath> {
    let kind = prop_oneof![Just(SegmentKind::Set), Just(SegmentKind::Sequence)];
    vec(
        (kind, vec(any::<u32>(), 1..20)).prop_map(|(kind, asns)| Segment { kind, asns }),
        0..4,
    )
    .prop_map(|segments| AsPath { segments })
}

fn next_hop6() -> impl Strategy<Value = MpNextHop> {
    (any::<u128>(), proptest::option::of(any::<u128>())).prop_map(|(g, ll)| MpNextHop::Ipv6 {
        global: Ipv6Addr::from(g),
        link_local: ll.map(Ipv6Addr::from),
    })
}

/// Every optional attribute, each at most once, in a random order.
fn attributes(add_path: bool) -> impl Strategy<Value = Vec<PathAttribute>> {
    let ip = any::<u32>().prop_map(Ipv4Addr::from);
    let agg = (any::<u32>(), any::<u32>()).prop_map(|(asn, a)| Aggregator {
        asn,
        address: Ipv4Addr::from(a),
    });
    let mp_reach = prop_oneof![
        (any::<u32>(), vec(nlri(v4_prefix(), add_path), 0..20)).prop_map(|(nh, n)| {
            AttributeValue::MpReach(MpReach {
                family: AfiSafi::IPV4_UNICAST,
                next_hop: MpNextHop::Ipv4(Ipv4Addr::from(nh)),
                nlri: n,
            })
        }),
        (next_hop6(), vec(nlri(v4_prefix(), add_path), 0..20)).prop_map(|(nh, n)| {
            AttributeValue::MpReach(MpReach {
                family: AfiSafi::IPV4_UNICAST,
                next_hop: nh,
                nlri: n,
            })
        }),
        (next_hop6(), vec(nlri(v6_prefix(), add_path), 0..20)).prop_map(|(nh, n)| {
            AttributeValue::MpReach(MpReach {
                family: AfiSafi::IPV6_UNICAST,
                next_hop: nh,
                nlri: n,
            })
        }),
    ];
    let mp_unreach = prop_oneof![
        vec(nlri(v4_prefix(), add_path), 0..20).prop_map(|w| AttributeValue::MpUnreach(
            MpUnreach {
                family: AfiSafi::IPV4_UNICAST,
                withdrawn: w
            }
        )),
        vec(nlri(v6_prefix(), add_path), 0..20).prop_map(|w| AttributeValue::MpUnreach(
            MpUnreach {
                family: AfiSafi::IPV6_UNICAST,
                withdrawn: w
            }
        )),
    ];
    let candidates = (
        prop_oneof![
            Just(Origin::Igp),
            Just(Origin::Egp),
            Just(Origin::Incomplete)
        ]
        .prop_map(AttributeValue::Origin),
        as_path().prop_map(AttributeValue::AsPath),
        ip.clone().prop_map(AttributeValue::NextHop),
        any::<u32>().prop_map(AttributeValue::MultiExitDisc),
        any::<u32>().prop_map(AttributeValue::LocalPref),
        Just(AttributeValue::AtomicAggregate),
        agg.clone().prop_map(AttributeValue::Aggregator),
        vec(any::<u32>().prop_map(Community), 1..10).prop_map(AttributeValue::Communities),
        ip.clone().prop_map(AttributeValue::OriginatorId),
        vec(ip, 1..5).prop_map(AttributeValue::ClusterList),
        (
            mp_reach,
            mp_unreach,
            vec(any::<[u8; 8]>().prop_map(ExtendedCommunity), 1..5)
                .prop_map(AttributeValue::ExtendedCommunities),
            as4_path().prop_map(AttributeValue::As4Path),
            agg.prop_map(AttributeValue::As4Aggregator),
            vec(
                (any::<u32>(), any::<u32>(), any::<u32>())
                    .prop_map(|(a, b, c)| LargeCommunity::new(a, b, c)),
                1..5,
            )
            .prop_map(AttributeValue::LargeCommunities),
            (
                200u8..=250,
                any::<bool>(),
                any::<bool>(),
                vec(any::<u8>(), 0..300),
            )
                .prop_map(|(t, transitive, partial, v)| (t, transitive, partial, v)),
        ),
    );
    (
        candidates,
        vec(any::<bool>(), 17),
        any::<u64>(),
        any::<bool>(),
    )
        .prop_map(
            |((a, b, c, d, e, f, g, h, i, j, (k, l, m, n, o, p, raw)), keep, seed, ext)| {
                let (t, transitive, partial, value) = raw;
                let mut raw_flags = flags::OPTIONAL;
                if transitive {
                    raw_flags |= flags::TRANSITIVE;
                }
                if partial {
                    raw_flags |= flags::PARTIAL;
                }
                let mut all: Vec<PathAttribute> = [a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p]
                    .into_iter()
                    .map(PathAttribute::new)
                    .collect();
                all.push(PathAttribute {
                    flags: raw_flags,
                    value: AttributeValue::Raw {
                        type_code: t,
                        value,
                    },
                });
                let mut chosen: Vec<PathAttribute> = all
                    .into_iter()
                    .zip(keep)
                    .filter(|(_, k)| *k)
                    .map(|(a, _)| a)
                    .collect();
                // A deterministic shuffle, and the extended-length flag on some.
                let n = chosen.len();
                for idx in 0..n {
                    let j = (seed.rotate_left(idx as u32) as usize) % n;
                    chosen.swap(idx, j);
                }
                if ext {
                    for a in chosen.iter_mut().step_by(2) {
                        a.flags |= flags::EXTENDED_LENGTH;
                    }
                }
                chosen
            },
        )
}

fn context() -> impl Strategy<Value = Context> {
    // ADD-PATH on both families or neither, so one NLRI strategy fits MP too.
    (any::<bool>(), any::<bool>()).prop_map(|(add_path, ibgp)| {
        let fams = if add_path {
            vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST]
        } else {
            vec![]
        };
        Context {
            add_path_rx: fams.clone(),
            add_path_tx: fams,
            max_message_len: 65535,
            external: !ibgp,
            ..Context::modern()
        }
    })
}

pub(super) fn update_in(ctx: Context) -> impl Strategy<Value = (Context, Update)> {
    let v4_ap = ctx.add_path_tx(AfiSafi::IPV4_UNICAST);
    (
        vec(nlri(v4_prefix(), v4_ap), 0..30),
        attributes(v4_ap),
        vec(nlri(v4_prefix(), v4_ap), 0..30),
    )
        .prop_map(move |(withdrawn, mut attributes, nlri)| {
            if ctx.external {
                attributes.retain(|a| !matches!(a.value, AttributeValue::LocalPref(_)));
            }
            // A value over 255 bytes can only travel with Extended Length.
            for a in &mut attributes {
                if a.value.value_len(&ctx) > 255 {
                    a.flags |= flags::EXTENDED_LENGTH;
                }
            }
            (
                ctx.clone(),
                Update {
                    withdrawn,
                    attributes,
                    nlri,
                },
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn update_parse_emit_round_trips((ctx, u) in context().prop_flat_map(update_in)) {
        let mut out = Vec::new();
        u.emit(&ctx, &mut out).unwrap();
        prop_assert_eq!(out.len(), u.buffer_len(&ctx));
        let d = Update::parse_body(&out[HEADER_LEN..], &ctx).unwrap();
        // Only missing-mandatory verdicts are possible for generated input.
        prop_assert!(d.problems.iter().all(|p| p.error == super::attribute::AttributeError::Missing));
        prop_assert_eq!(&d.update, &u);
        let mut again = Vec::new();
        d.update.emit(&ctx, &mut again).unwrap();
        prop_assert_eq!(again, out);
    }

    #[test]
    fn update_parse_never_panics(bytes in vec(any::<u8>(), 0..600), four in any::<bool>(), ap in any::<bool>()) {
        let mut ctx = Context { four_octet_as: four, ..Context::modern() };
        if ap {
            ctx.add_path_rx = vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST];
        }
        if let Ok(d) = Update::parse_body(&bytes, &ctx) {
            // Whatever decodes must encode (or be refused for size), never panic.
            let mut out = Vec::new();
            let _ = d.update.emit(&ctx, &mut out);
            let _ = d.action();
        }
    }

    #[test]
    fn update_parse_never_panics_on_structured_garbage(
        attrs in vec((any::<u8>(), any::<u8>(), vec(any::<u8>(), 0..40)), 0..8),
        nlri in vec(any::<u8>(), 0..40),
    ) {
        // Well-framed attributes with random flags, types and values reach
        // every attribute decoder.
        let mut a = Vec::new();
        for (f, t, v) in &attrs {
            a.push(f & !flags::EXTENDED_LENGTH);
            a.push(*t);
            a.push(v.len() as u8);
            a.extend_from_slice(v);
        }
        let mut body = vec![0, 0];
        body.extend_from_slice(&(a.len() as u16).to_be_bytes());
        body.extend_from_slice(&a);
        body.extend_from_slice(&nlri);
        for ctx in [Context::default(), Context::modern()] {
            let _ = Update::parse_body(&body, &ctx);
        }
    }

    #[test]
    fn notification_parse_emit_round_trips(code in any::<u8>(), sub in any::<u8>(), data in vec(any::<u8>(), 0..200)) {
        let n = Notification::new(ErrorCode::from_codes(code, sub), data);
        let mut out = Vec::new();
        n.emit(&mut out);
        prop_assert_eq!(out.len(), n.buffer_len());
        prop_assert_eq!(Notification::parse_body(&out[HEADER_LEN..]).unwrap(), n.clone());
        let _ = n.shutdown_text();
        let _ = n.hard_reset_inner();
    }

    #[test]
    fn as_path_round_trips_in_both_widths(p in as_path()) {
        let mut out = Vec::new();
        p.emit(true, &mut out);
        prop_assert_eq!(AsPath::decode(&out, true, false).unwrap(), p.clone());
        let small = AsPath {
            segments: p.segments.iter().map(|s| Segment { kind: s.kind, asns: s.asns.iter().map(|a| a & 0xffff).collect() }).collect(),
        };
        let mut out = Vec::new();
        small.emit(false, &mut out);
        prop_assert_eq!(AsPath::decode(&out, false, false).unwrap(), small);
    }
}

#[test]
fn v6_family_helpers_are_consistent() {
    assert_eq!(AfiSafi::IPV6_UNICAST.afi, Afi::Ipv6);
}
