//! RFC 7606 verdicts and round trips of UPDATE, one vector per case.
use std::net::Ipv4Addr;

use super::*;
use crate::bgp::attribute::AttributeError as E;

/// An UPDATE body from its three fields.
fn body(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = (withdrawn.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    b
}

const ORIGIN_IGP: &[u8] = &[0x40, 1, 1, 0];
const AS_PATH_65001: &[u8] = &[0x40, 2, 6, 2, 1, 0, 0, 0xfd, 0xe9];
const NEXT_HOP: &[u8] = &[0x40, 3, 4, 192, 0, 2, 1];
const HOST: &[u8] = &[32, 198, 51, 100, 7];

fn good_attrs() -> Vec<u8> {
    [ORIGIN_IGP, AS_PATH_65001, NEXT_HOP].concat()
}

fn decode(b: &[u8]) -> DecodedUpdate {
    Update::parse_body(b, &Context::modern()).unwrap()
}

fn only_problem(d: &DecodedUpdate) -> &AttributeProblem {
    assert_eq!(d.problems.len(), 1, "{:?}", d.problems);
    &d.problems[0]
}

#[test]
fn a_well_formed_announcement_has_no_problems_and_re_encodes_exactly() {
    let b = body(&[], &good_attrs(), HOST);
    let d = decode(&b);
    assert!(d.problems.is_empty());
    assert_eq!(d.action(), None);
    let u = &d.update;
    assert_eq!(u.origin(), Some(Origin::Igp));
    assert_eq!(u.as_path().and_then(AsPath::first_as), Some(65001));
    assert_eq!(u.next_hop(), Some(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(u.nlri, vec![Nlri::new("198.51.100.7/32".parse().unwrap())]);
    let mut out = Vec::new();
    u.emit(&Context::modern(), &mut out).unwrap();
    assert_eq!(&out[HEADER_LEN..], b.as_slice());
    assert_eq!(out.len(), u.buffer_len(&Context::modern()));
}

#[test]
fn end_of_rib_markers_for_both_families() {
    let v4 = Update::end_of_rib(AfiSafi::IPV4_UNICAST);
    let v6 = Update::end_of_rib(AfiSafi::IPV6_UNICAST);
    let ctx = Context::modern();
    for (u, fam, len) in [
        (v4, AfiSafi::IPV4_UNICAST, 23),
        (v6, AfiSafi::IPV6_UNICAST, 29),
    ] {
        let mut out = Vec::new();
        u.emit(&ctx, &mut out).unwrap();
        assert_eq!(out.len(), len);
        let d = Update::parse_body(&out[HEADER_LEN..], &ctx).unwrap();
        assert_eq!(d.update.end_of_rib_family(), Some(fam));
        assert!(d.problems.is_empty());
    }
    let d = decode(&body(&[], &good_attrs(), HOST));
    assert_eq!(d.update.end_of_rib_family(), None);
}

#[test]
fn withdrawn_length_overrun_resets_with_malformed_attribute_list() {
    let mut b = body(&[], &[], &[]);
    b[1] = 9;
    let e = Update::parse_body(&b, &Context::modern()).unwrap_err();
    assert_eq!(
        e.notification().error,
        ErrorCode::Update(UpdateError::MalformedAttributeList)
    );
}

#[test]
fn total_attribute_length_overrun_resets_with_malformed_attribute_list() {
    let mut b = body(&[], &good_attrs(), &[]);
    b[3] += 1;
    let e = Update::parse_body(&b, &Context::modern()).unwrap_err();
    assert!(matches!(e, DecodeError::MalformedAttributeList { .. }));
}

#[test]
fn body_shorter_than_two_length_fields_is_a_bad_message_length() {
    let e = Update::parse_body(&[0, 0, 0], &Context::modern()).unwrap_err();
    assert_eq!(e, DecodeError::BadLength { length: 22 });
}

#[test]
fn malformed_nlri_and_withdrawn_prefixes_reset_with_invalid_network_field() {
    for b in [
        body(&[], &good_attrs(), &[33, 1, 2, 3, 4, 5]),
        body(&[32, 1], &[], &[]),
    ] {
        let e = Update::parse_body(&b, &Context::modern()).unwrap_err();
        assert_eq!(
            e.notification().error,
            ErrorCode::Update(UpdateError::InvalidNetworkField)
        );
    }
}

#[test]
fn attribute_overrunning_the_list_is_treat_as_withdraw_and_nlri_still_found() {
    let attrs = [ORIGIN_IGP, AS_PATH_65001, &[0x40, 3, 9, 1, 2]].concat();
    let d = decode(&body(&[], &attrs, HOST));
    let p = only_problem(&d);
    assert_eq!(p.error, E::ListOverrun);
    assert_eq!(p.action, Action::TreatAsWithdraw);
    assert_eq!(d.update.nlri.len(), 1, "the NLRI to withdraw is located");
    let d = decode(&body(&[], &[ORIGIN_IGP, &[0x40]].concat(), HOST));
    assert!(d.problems.iter().any(|p| p.error == E::ListOverrun));
}

/// RFC 7606 section 3 j: treat-as-withdraw needs the MP_REACH_NLRI
/// parsed; one that overruns the list takes its family down instead.
#[test]
fn mp_reach_overrunning_the_list_disables_its_family_not_treat_as_withdraw() {
    // IPv6 unicast, next hop 2001:db8::2, 2001:db8:7::7/128: 38 bytes of
    // value under an extended length that claims 64.
    let mut mp = vec![0x90, 14, 0, 64, 0, 2, 1, 16];
    mp.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    mp.extend_from_slice(&[
        0, 128, 0x20, 0x01, 0x0d, 0xb8, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
    ]);
    let d = decode(&body(
        &[],
        &[ORIGIN_IGP, AS_PATH_65001, &mp[..]].concat(),
        &[],
    ));
    let p = only_problem(&d);
    assert_eq!((p.type_code, &p.error), (14, &E::ListOverrun));
    let Action::AfiSafiDisable {
        family,
        notification,
    } = &p.action
    else {
        panic!("{p:?}")
    };
    assert_eq!(*family, AfiSafi::IPV6_UNICAST);
    assert_eq!(notification.error.codes(), (3, 1));
    // Too short even for its family: nothing to disable, so a reset.
    let d = decode(&body(
        &[],
        &[ORIGIN_IGP, &[0x80, 15, 9, 0, 2]].concat(),
        &[],
    ));
    let p = only_problem(&d);
    assert_eq!(p.error, E::ListOverrun);
    assert!(matches!(&p.action, Action::SessionReset(n) if n.error.codes() == (3, 1)));
    // Any other attribute overrunning the list stays treat-as-withdraw.
    let overrun: &[u8] = &[0xc0, 8, 8, 0, 0, 0, 1];
    let d = decode(&body(&[], &[&good_attrs()[..], overrun].concat(), HOST));
    assert_eq!(only_problem(&d).action, Action::TreatAsWithdraw);
}

#[test]
fn malformed_origin_as_path_next_hop_med_communities_are_treat_as_withdraw() {
    let bad: [&[u8]; 9] = [
        &[0x40, 1, 1, 7],
        &[0x40, 2, 2, 2, 0],
        &[0x40, 3, 3, 1, 2, 3],
        &[0x80, 4, 2, 0, 0],
        &[0xc0, 8, 3, 1, 2, 3],
        &[0x80, 9, 2, 1, 2],
        &[0x80, 10, 3, 1, 2, 3],
        &[0xc0, 16, 4, 1, 2, 3, 4],
        &[0xc0, 32, 4, 1, 2, 3, 4],
    ];
    for attr in bad {
        let attrs: Vec<u8> = match attr[1] {
            1 => [attr, AS_PATH_65001, NEXT_HOP].concat(),
            2 => [ORIGIN_IGP, attr, NEXT_HOP].concat(),
            3 => [ORIGIN_IGP, AS_PATH_65001, attr].concat(),
            _ => [good_attrs().as_slice(), attr].concat(),
        };
        // RFC 7606 sections 7.9 and 7.10: ORIGINATOR_ID and CLUSTER_LIST are
        // malformed only from an internal peer (from an external one they
        // are discarded, see below).
        let ctx = if matches!(attr[1], 9 | 10) {
            ibgp()
        } else {
            Context::modern()
        };
        let d = Update::parse_body(&body(&[], &attrs, HOST), &ctx).unwrap();
        let p = only_problem(&d);
        assert_eq!(p.type_code, attr[1]);
        assert_eq!(p.action, Action::TreatAsWithdraw, "type {}", attr[1]);
        assert!(
            d.update.attribute(attr[1]).is_none(),
            "the bad attribute is dropped"
        );
    }
}

#[test]
fn malformed_aggregator_atomic_aggregate_as4_are_attribute_discard() {
    for attr in [
        &[0xc0, 7, 3, 1, 2, 3][..],
        &[0x40, 6, 1, 0],
        &[0xc0, 17, 2, 2, 0],
        &[0xc0, 18, 6, 0, 0, 0, 1, 0, 0],
    ] {
        let d = decode(&body(&[], &[good_attrs().as_slice(), attr].concat(), HOST));
        assert_eq!(
            only_problem(&d).action,
            Action::AttributeDiscard,
            "type {}",
            attr[1]
        );
        assert_eq!(d.update.nlri.len(), 1);
    }
}

#[test]
fn local_pref_from_an_external_peer_is_discarded() {
    let attrs = [good_attrs().as_slice(), &[0x40, 5, 4, 0, 0, 0, 200]].concat();
    let d = decode(&body(&[], &attrs, HOST));
    assert_eq!(only_problem(&d).error, E::LocalPrefFromExternal);
    assert_eq!(only_problem(&d).action, Action::AttributeDiscard);
    let ibgp = Context {
        external: false,
        ..Context::modern()
    };
    let d = Update::parse_body(&body(&[], &attrs, HOST), &ibgp).unwrap();
    assert!(d.problems.is_empty());
}

#[test]
fn wrong_flags_on_a_well_known_attribute_are_treat_as_withdraw() {
    let attrs = [&[0xc0, 1, 1, 0], AS_PATH_65001, NEXT_HOP].concat();
    let d = decode(&body(&[], &attrs, HOST));
    let p = only_problem(&d);
    assert_eq!(
        p.error,
        E::Flags {
            expected: 0x40,
            got: 0xc0
        }
    );
    assert_eq!(p.action, Action::TreatAsWithdraw);
}

#[test]
fn repeated_attribute_keeps_the_first() {
    let attrs = [good_attrs().as_slice(), &[0x40, 1, 1, 2]].concat();
    let d = decode(&body(&[], &attrs, HOST));
    assert_eq!(only_problem(&d).error, E::Duplicate);
    assert_eq!(only_problem(&d).action, Action::AttributeDiscard);
    assert_eq!(d.update.origin(), Some(Origin::Igp));
}

#[test]
fn repeated_mp_reach_is_a_session_reset() {
    let mp = [0x80, 15, 3, 0, 2, 1];
    let d = decode(&body(&[], &[&mp[..], &mp].concat(), &[]));
    let p = only_problem(&d);
    assert_eq!(p.error, E::DuplicateMp);
    let Action::SessionReset(n) = &p.action else {
        panic!("{p:?}")
    };
    assert_eq!(
        n.error,
        ErrorCode::Update(UpdateError::MalformedAttributeList)
    );
}

#[test]
fn unrecognized_well_known_attribute_is_a_session_reset_with_the_attribute_as_data() {
    let attrs = [good_attrs().as_slice(), &[0x40, 99, 1, 5]].concat();
    let d = decode(&body(&[], &attrs, HOST));
    let Action::SessionReset(n) = &only_problem(&d).action else {
        panic!()
    };
    assert_eq!(
        n.error,
        ErrorCode::Update(UpdateError::UnrecognizedWellKnownAttribute)
    );
    assert_eq!(n.data, vec![0x40, 99, 1, 5]);
}

#[test]
fn malformed_mp_reach_disables_its_family() {
    let mp = [0x90, 14, 0, 8, 0, 2, 1, 4, 1, 2, 3, 4];
    let d = decode(&body(
        &[],
        &[&mp[..], ORIGIN_IGP, AS_PATH_65001].concat(),
        &[],
    ));
    let p = only_problem(&d);
    let Action::AfiSafiDisable {
        family,
        notification,
    } = &p.action
    else {
        panic!("{p:?}")
    };
    assert_eq!(*family, AfiSafi::IPV6_UNICAST);
    assert_eq!(
        notification.error,
        ErrorCode::Update(UpdateError::OptionalAttributeError)
    );
    assert_eq!(notification.data, mp.to_vec());
    assert_eq!(d.action(), Some(&p.action));
}

#[test]
fn mp_reach_too_short_for_a_family_is_a_session_reset() {
    let d = decode(&body(&[], &[0x80, 14, 2, 0, 2], &[]));
    assert!(matches!(only_problem(&d).action, Action::SessionReset(_)));
}

#[test]
fn missing_mandatory_attributes_are_treat_as_withdraw() {
    let d = decode(&body(&[], &[ORIGIN_IGP, NEXT_HOP].concat(), HOST));
    let p = only_problem(&d);
    assert_eq!(
        (p.type_code, &p.error, &p.action),
        (attr::AS_PATH, &E::Missing, &Action::TreatAsWithdraw)
    );
    let d = decode(&body(&[], &[ORIGIN_IGP, AS_PATH_65001].concat(), HOST));
    assert_eq!(only_problem(&d).type_code, attr::NEXT_HOP);
    // A pure withdrawal needs no attributes.
    let d = decode(&body(HOST, &[], &[]));
    assert!(d.problems.is_empty());
    assert_eq!(d.update.withdrawn.len(), 1);
}

#[test]
fn the_most_severe_action_wins() {
    let attrs = [
        &[0x40, 1, 1, 9][..],
        AS_PATH_65001,
        NEXT_HOP,
        &[0xc0, 7, 1, 0],
    ]
    .concat();
    let d = decode(&body(&[], &attrs, HOST));
    assert_eq!(d.problems.len(), 2);
    assert_eq!(d.action(), Some(&Action::TreatAsWithdraw));
}

#[test]
fn ipv6_announcement_with_mobility_community() {
    let ctx = Context::modern();
    let reach = MpReach {
        family: AfiSafi::IPV6_UNICAST,
        next_hop: mp::MpNextHop::Ipv6 {
            global: "2001:db8::1".parse().unwrap(),
            link_local: None,
        },
        nlri: vec![Nlri::new("2001:db8:1::5/128".parse().unwrap())],
    };
    let u = Update {
        attributes: vec![
            PathAttribute::new(AttributeValue::MpReach(reach)),
            PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
            PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(vec![
                4_200_000_001,
            ]))),
            PathAttribute::new(AttributeValue::ExtendedCommunities(vec![
                Mobility::new(42, false).to_extended(),
            ])),
        ],
        ..Update::default()
    };
    let mut out = Vec::new();
    u.emit(&ctx, &mut out).unwrap();
    let d = Update::parse_body(&out[HEADER_LEN..], &ctx).unwrap();
    assert!(d.problems.is_empty());
    assert_eq!(d.update, u);
    assert_eq!(d.update.mobility(), Some(Mobility::new(42, false)));
}

#[test]
fn add_path_identifiers_follow_the_direction_negotiated() {
    let rx = Context {
        add_path_rx: vec![AfiSafi::IPV4_UNICAST],
        ..Context::modern()
    };
    let b = body(&[], &good_attrs(), &[0, 0, 0, 9, 32, 198, 51, 100, 7]);
    let d = Update::parse_body(&b, &rx).unwrap();
    assert_eq!(d.update.nlri[0].path_id, Some(9));
    let tx = Context {
        add_path_tx: vec![AfiSafi::IPV4_UNICAST],
        ..Context::modern()
    };
    let mut out = Vec::new();
    d.update.emit(&tx, &mut out).unwrap();
    assert_eq!(&out[HEADER_LEN..], b.as_slice());
}

#[test]
fn an_update_larger_than_the_session_allows_is_refused() {
    let u = Update {
        nlri: (0..1000u32)
            .map(|i| Nlri::new(ipnet::Ipv4Net::new(Ipv4Addr::from(i), 32).unwrap().into()))
            .collect(),
        attributes: vec![],
        withdrawn: vec![],
    };
    let mut out = Vec::new();
    assert!(matches!(
        u.emit(&Context::modern(), &mut out),
        Err(EncodeError::TooLong { .. })
    ));
    assert!(out.is_empty());
    let big = Context {
        max_message_len: 65535,
        ..Context::modern()
    };
    u.emit(&big, &mut out).unwrap();
    assert_eq!(out.len(), 5023);
}

fn ibgp() -> Context {
    Context {
        external: false,
        ..Context::modern()
    }
}

/// RFC 7607 section 2: AS 0 makes AS_PATH malformed (treat-as-withdraw, RFC
/// 7606 section 7.2) and AGGREGATOR, AS4_PATH, AS4_AGGREGATOR malformed
/// (attribute discard, RFC 7606 section 7.7, RFC 6793 section 6). Found by
/// the differential test against rustbgpd-wire.
#[test]
fn as_zero_is_malformed_in_every_as_carrying_attribute() {
    let zero_path = [0x40, 2, 10, 2, 2, 0, 0, 0xfd, 0xe9, 0, 0, 0, 0];
    let d = decode(&body(
        &[],
        &[ORIGIN_IGP, &zero_path, NEXT_HOP].concat(),
        HOST,
    ));
    let p = only_problem(&d);
    assert_eq!((p.type_code, &p.error), (attr::AS_PATH, &E::AsZero));
    assert_eq!(p.action, Action::TreatAsWithdraw);

    let discarded: [&[u8]; 3] = [
        &[0xc0, 7, 8, 0, 0, 0, 0, 192, 0, 2, 1],
        &[0xc0, 17, 6, 2, 1, 0, 0, 0, 0],
        &[0xc0, 18, 8, 0, 0, 0, 0, 192, 0, 2, 1],
    ];
    for attr in discarded {
        let d = decode(&body(&[], &[good_attrs().as_slice(), attr].concat(), HOST));
        let p = only_problem(&d);
        assert_eq!((p.type_code, &p.error), (attr[1], &E::AsZero));
        assert_eq!(p.action, Action::AttributeDiscard, "type {}", attr[1]);
        assert!(d.update.attribute(attr[1]).is_none());
    }
    // A 2-octet session reads the same zeros.
    let two = Context::default();
    let d = Update::parse_body(
        &body(
            &[],
            &[ORIGIN_IGP, &[0x40, 2, 6, 2, 2, 0xfd, 0xe9, 0, 0], NEXT_HOP].concat(),
            HOST,
        ),
        &two,
    )
    .unwrap();
    assert_eq!(only_problem(&d).error, E::AsZero);
}

/// RFC 7606 section 7.5: LOCAL_PREF from an external neighbor is discarded
/// whatever it holds, so a wrong length is not treat-as-withdraw there.
#[test]
fn local_pref_from_an_external_peer_is_discarded_whatever_its_length() {
    let attrs = [good_attrs().as_slice(), &[0x40, 5, 3, 0, 0, 1]].concat();
    let d = decode(&body(&[], &attrs, HOST));
    assert_eq!(only_problem(&d).error, E::LocalPrefFromExternal);
    assert_eq!(only_problem(&d).action, Action::AttributeDiscard);
    let d = Update::parse_body(&body(&[], &attrs, HOST), &ibgp()).unwrap();
    assert_eq!(only_problem(&d).action, Action::TreatAsWithdraw);
}

/// RFC 7606 sections 7.9 and 7.10: from an external neighbor a malformed
/// ORIGINATOR_ID or CLUSTER_LIST is discarded, not treat-as-withdraw; a
/// conflict in the Optional/Transitive flags stays treat-as-withdraw
/// (section 3 c).
#[test]
fn malformed_route_reflection_attributes_from_an_external_peer_are_discarded() {
    for attr in [&[0x80, 9, 2, 1, 2][..], &[0x80, 10, 3, 1, 2, 3]] {
        let attrs = [good_attrs().as_slice(), attr].concat();
        let d = decode(&body(&[], &attrs, HOST));
        assert_eq!(only_problem(&d).action, Action::AttributeDiscard);
        assert_eq!(d.update.nlri.len(), 1);
    }
    let flags = [good_attrs().as_slice(), &[0xc0, 9, 4, 1, 2, 3, 4]].concat();
    let d = decode(&body(&[], &flags, HOST));
    assert_eq!(only_problem(&d).action, Action::TreatAsWithdraw);
}

/// RFC 7606 section 4 makes an attribute that overruns the attribute list
/// treat-as-withdraw, "unless some other, more severe error" applies: an
/// MP_REACH_NLRI or MP_UNREACH_NLRI cut short hides NLRI that a withdrawal
/// would have to name, so section 5.3's AFI/SAFI disable or session reset
/// applies. Found by the differential test against rustbgpd-wire.
#[test]
fn mp_attribute_overrunning_the_attribute_list_disables_its_family() {
    // MP_UNREACH_NLRI for IPv6 unicast claiming 9 value bytes, 5 present.
    let cut = [0x80, 15, 9, 0, 2, 1, 64, 0x20];
    let d = decode(&body(
        &[],
        &[ORIGIN_IGP, AS_PATH_65001, &cut[..]].concat(),
        &[],
    ));
    let p = only_problem(&d);
    assert_eq!(
        (p.type_code, &p.error),
        (attr::MP_UNREACH_NLRI, &E::ListOverrun)
    );
    assert!(
        matches!(&p.action, Action::AfiSafiDisable { family, .. } if *family == AfiSafi::IPV6_UNICAST),
        "{p:?}"
    );
    // Too short to name a family: reset.
    let d = decode(&body(
        &[],
        &[ORIGIN_IGP, &[0x80, 14, 9, 0][..]].concat(),
        &[],
    ));
    assert!(matches!(
        d.problems
            .iter()
            .find(|p| p.type_code == attr::MP_REACH_NLRI)
            .map(|p| &p.action),
        Some(Action::SessionReset(_))
    ));
}

/// RFC 7606 section 3 c: Optional/Transitive bits in conflict make any
/// attribute treat-as-withdraw; the attribute discard of sections 7.6 and
/// 7.7 (and RFC 6793 section 6) is for malformed values. Found by the
/// differential test against rustbgpd-wire.
#[test]
fn flag_conflicts_are_treat_as_withdraw_even_where_bad_values_are_discarded() {
    for attr in [
        &[0x40, 7, 8, 0, 0, 0xfd, 0xe9, 192, 0, 2, 1][..],
        &[0xc0, 6, 0],
        &[0x80, 17, 6, 2, 1, 0, 0, 0xfd, 0xe9],
        &[0x40, 18, 8, 0, 0, 0xfd, 0xe9, 192, 0, 2, 1],
    ] {
        let d = decode(&body(&[], &[good_attrs().as_slice(), attr].concat(), HOST));
        let p = only_problem(&d);
        assert!(
            matches!(p.error, E::Flags { .. }),
            "type {}: {p:?}",
            attr[1]
        );
        assert_eq!(p.action, Action::TreatAsWithdraw, "type {}", attr[1]);
    }
}
