//! rustbgpd-wire 0.27 (`decode_message`, then `parse_revised`, its RFC
//! 7606 decoder, for UPDATE) mapped into a neutral [`Outcome`].
//!
//! rustbgpd leaves two checks that hostroute makes while decoding to its
//! separate `validate` module: missing well-known attributes (RFC 7606
//! section 3 d) and unrecognized well-known ones (RFC 4271 section 6.3).
//! [`outcome`] asks `validate` for exactly those two and for nothing else
//! (its next-hop and policy checks are not codec concerns).

use std::net::{IpAddr, Ipv4Addr};

use bytes::{Buf, Bytes};
use rustbgpd_wire as rb;
use rustbgpd_wire::attribute::{AsPathSegment, PathAttribute};

use super::codec::bgp::{AfiSafi, Context};
use super::summary::{
    Capability, CapabilityValue, MpReach, MpUnreach, OpenSummary, Outcome, Problem, Route, Summary,
    UpdateSummary, Verdict, normalize,
};
use super::wire;

/// rustbgpd-wire 0.27: `decode_message`, then `parse_revised` for UPDATE.
pub fn outcome(frame: &[u8], ctx: &Context) -> Outcome {
    let mut buf = Bytes::copy_from_slice(frame);
    let message = match rb::decode_message(&mut buf, ctx.max_len()) {
        Ok(m) => m,
        Err(e) => return their_rejection(&e),
    };
    if buf.has_remaining() {
        // rustbgpd decodes the first message of a stream; a frame longer
        // than its length field is a Bad Message Length to a framer.
        return Outcome::Rejected {
            code: 1,
            subcode: 2,
            what: "length field shorter than the frame".into(),
        };
    }
    let summary = match message {
        rb::Message::Update(up) => return their_update(frame, &up, ctx),
        rb::Message::Open(o) => Summary::Open(OpenSummary {
            my_as: o.my_as,
            hold_time: o.hold_time,
            bgp_id: o.bgp_identifier,
            capabilities: o.capabilities.iter().map(their_capability).collect(),
        }),
        rb::Message::Notification(n) => Summary::Notification {
            code: n.code.as_u8(),
            subcode: n.subcode,
            data: n.data.to_vec(),
        },
        rb::Message::Keepalive => Summary::Keepalive,
        rb::Message::RouteRefresh(r) => Summary::RouteRefresh {
            afi: r.afi_raw,
            safi: r.safi_raw,
            subtype: r.subtype_raw,
        },
        other => {
            return Outcome::Rejected {
                code: 0,
                subcode: 0,
                what: format!("rustbgpd message kind not mapped: {other}"),
            };
        }
    };
    Outcome::Decoded {
        summary,
        problems: Vec::new(),
    }
}

fn their_rejection(e: &rb::DecodeError) -> Outcome {
    let (code, subcode, _) = e.to_notification();
    Outcome::Rejected {
        code: code.as_u8(),
        subcode,
        what: e.to_string(),
    }
}

fn their_family(f: AfiSafi) -> Option<(rb::Afi, rb::Safi)> {
    Some((
        rb::Afi::from_u16(f.afi.into())?,
        rb::Safi::from_u8(f.safi.into())?,
    ))
}

fn their_verdict(d: rb::validate::ErrorDisposition) -> Verdict {
    match d {
        rb::validate::ErrorDisposition::AttributeDiscard => Verdict::AttributeDiscard,
        rb::validate::ErrorDisposition::TreatAsWithdraw => Verdict::TreatAsWithdraw,
        rb::validate::ErrorDisposition::SessionReset => Verdict::SessionReset,
    }
}

fn their_update(frame: &[u8], up: &rb::UpdateMessage, ctx: &Context) -> Outcome {
    let add_path: Vec<(rb::Afi, rb::Safi)> = ctx
        .add_path_rx
        .iter()
        .filter_map(|f| their_family(*f))
        .collect();
    let v4_add_path = ctx.add_path_rx(AfiSafi::IPV4_UNICAST);
    let parsed = match up.parse_revised_observed_with_error_context(
        ctx.four_octet_as,
        !ctx.external,
        v4_add_path,
        &add_path,
    ) {
        Ok((p, _)) => p,
        Err(e) => {
            let (code, subcode, _) = e.error.to_notification();
            let what = match e.type_code {
                Some(t) => format!("attribute {t}: {}", e.error),
                None => e.error.to_string(),
            };
            return Outcome::Rejected {
                code: code.as_u8(),
                subcode,
                what,
            };
        }
    };
    let mut problems: Vec<Problem> = parsed
        .malformed
        .iter()
        .map(|m| Problem {
            type_code: m.type_code,
            verdict: their_verdict(m.disposition),
            what: m.error.to_string(),
        })
        .collect();
    let update = &parsed.update;
    problems.extend(their_decode_time_checks(update, ctx));

    let path_id = |id: u32, with: bool| with.then_some(id);
    let v4_routes = |entries: &[rb::nlri::Ipv4NlriEntry]| -> Vec<Route> {
        entries
            .iter()
            .map(|e| Route {
                prefix: e.prefix.to_string(),
                path_id: path_id(e.path_id, v4_add_path),
            })
            .collect()
    };
    let mp_routes = |entries: &[rb::nlri::NlriEntry], with: bool| -> Vec<Route> {
        entries
            .iter()
            .map(|e| Route {
                prefix: match e.prefix {
                    rb::nlri::Prefix::V4(p) => p.to_string(),
                    rb::nlri::Prefix::V6(p) => p.to_string(),
                },
                path_id: path_id(e.path_id, with),
            })
            .collect()
    };
    let unicast = |afi: rb::Afi, safi: rb::Safi| {
        matches!(afi, rb::Afi::Ipv4 | rb::Afi::Ipv6) && safi == rb::Safi::Unicast
    };
    let raw = wire::attributes(frame);
    let mut s = UpdateSummary {
        withdrawn: v4_routes(&update.withdrawn),
        nlri: v4_routes(&update.announced),
        ..UpdateSummary::default()
    };
    for a in &update.attributes {
        match a {
            PathAttribute::Origin(o) => s.origin = Some(*o as u8),
            PathAttribute::AsPath(p) => {
                s.as_path = Some(
                    p.segments
                        .iter()
                        .map(|seg| match seg {
                            AsPathSegment::AsSet(asns) => (1, asns.clone()),
                            AsPathSegment::AsSequence(asns) => (2, asns.clone()),
                        })
                        .collect(),
                );
            }
            PathAttribute::Aggregator(a) => s.aggregator = Some((a.asn, a.router_id)),
            PathAttribute::AtomicAggregate => s.atomic_aggregate = true,
            PathAttribute::NextHop(a) => s.next_hop = Some(*a),
            PathAttribute::LocalPref(v) => s.local_pref = Some(*v),
            PathAttribute::Med(v) => s.med = Some(*v),
            PathAttribute::Communities(c) | PathAttribute::CommunitiesPartial(c) => {
                s.communities = Some(c.clone());
            }
            PathAttribute::ExtendedCommunities(c)
            | PathAttribute::ExtendedCommunitiesPartial(c) => {
                s.extended_communities = Some(c.iter().map(|c| c.as_u64().to_be_bytes()).collect());
            }
            PathAttribute::LargeCommunities(c) | PathAttribute::LargeCommunitiesPartial(c) => {
                s.large_communities = Some(
                    c.iter()
                        .map(|c| (c.global_admin, c.local_data1, c.local_data2))
                        .collect(),
                );
            }
            PathAttribute::OriginatorId(a) => s.originator_id = Some(*a),
            PathAttribute::ClusterList(c) => s.cluster_list = Some(c.clone()),
            PathAttribute::MpReachNlri(mp) => {
                let fam = (mp.afi as u16, mp.safi as u8);
                s.mp_reach = Some(if unicast(mp.afi, mp.safi) {
                    MpReach {
                        family: fam,
                        next_hop: std::iter::once(mp.next_hop)
                            .chain(mp.link_local_next_hop.map(IpAddr::V6))
                            .collect(),
                        nlri: mp_routes(&mp.announced, add_path.contains(&(mp.afi, mp.safi))),
                    }
                } else {
                    MpReach {
                        family: fam,
                        next_hop: Vec::new(),
                        nlri: Vec::new(),
                    }
                });
            }
            PathAttribute::MpUnreachNlri(mp) => {
                let fam = (mp.afi as u16, mp.safi as u8);
                let withdrawn = if unicast(mp.afi, mp.safi) {
                    mp_routes(&mp.withdrawn, add_path.contains(&(mp.afi, mp.safi)))
                } else {
                    Vec::new()
                };
                s.mp_unreach = Some(MpUnreach {
                    family: fam,
                    withdrawn,
                });
            }
            PathAttribute::Unknown(r) => s.unknown.push((r.type_code, r.data.to_vec())),
            // Types rustbgpd decodes and hostroute does not (PMSI tunnel,
            // IPv6 extended communities, Only-to-Customer...): their bytes.
            other => {
                let t = other.type_code();
                let value = wire::first(&raw, t)
                    .map(|r| r.value.clone())
                    .unwrap_or_default();
                s.unknown.push((t, value));
            }
        }
    }
    normalize(&mut s);
    Outcome::Decoded {
        summary: Summary::Update(Box::new(s)),
        problems,
    }
}

/// The two `validate` checks hostroute makes while decoding: missing
/// well-known mandatory attributes (RFC 7606 section 3 d) and unrecognized
/// well-known attributes (RFC 4271 section 6.3). Valid stand-ins replace
/// the attributes present, so no other check can fire; `validate` stops at
/// the first error, so it is asked again, with a stand-in for what it
/// reported, until it has nothing more to say.
fn their_decode_time_checks(update: &rb::update::ParsedUpdate, ctx: &Context) -> Vec<Problem> {
    let has_body_nlri = !update.announced.is_empty();
    let has_nlri = has_body_nlri
        || update
            .attributes
            .iter()
            .any(|a| matches!(a, PathAttribute::MpReachNlri(mp) if !mp.announced.is_empty()));
    let stand_in = |t: u8| match t {
        1 => Some(PathAttribute::Origin(rb::attribute::Origin::Igp)),
        2 => Some(PathAttribute::AsPath(rb::attribute::AsPath {
            segments: vec![AsPathSegment::AsSequence(vec![64_496])],
        })),
        3 => Some(PathAttribute::NextHop(Ipv4Addr::new(192, 0, 2, 1))),
        _ => None,
    };
    let mut present: Vec<PathAttribute> = [1, 2, 3]
        .into_iter()
        .filter(|t| update.attributes.iter().any(|a| a.type_code() == *t))
        .filter_map(stand_in)
        .collect();
    let mut unknown_well_known: Vec<PathAttribute> = update
        .attributes
        .iter()
        .filter(|a| matches!(a, PathAttribute::Unknown(r) if r.flags & wire::OPTIONAL == 0))
        .cloned()
        .collect();
    let options = rb::validate::UpdateValidationOptions::default();
    let validate = |attrs: &[PathAttribute], nlri: bool, body: bool| {
        rb::validate::validate_update_attributes_with_context(
            attrs,
            nlri,
            body,
            ctx.external,
            options,
        )
        .err()
    };
    let problem = |e: &rb::validate::UpdateValidationError| Problem {
        type_code: e.type_code,
        verdict: their_verdict(e.error.disposition),
        what: format!("validate: UPDATE error subcode {}", e.error.subcode),
    };
    let mut out = Vec::new();
    while let Some(e) = validate(&present, has_nlri, has_body_nlri) {
        out.push(problem(&e));
        match stand_in(e.type_code) {
            Some(a) if out.len() <= 3 => present.push(a),
            _ => break,
        }
    }
    while let Some(e) = validate(&unknown_well_known, false, false) {
        out.push(problem(&e));
        let before = unknown_well_known.len();
        unknown_well_known.retain(|a| a.type_code() != e.type_code);
        if unknown_well_known.len() == before {
            break;
        }
    }
    out
}

fn their_capability(c: &rb::Capability) -> Capability {
    use rb::Capability as C;
    let (code, value) = match c {
        C::MultiProtocol { afi, safi } => (
            1,
            Some(CapabilityValue::MultiProtocol((*afi as u16, *safi as u8))),
        ),
        C::RouteRefresh => (2, Some(CapabilityValue::Empty)),
        C::ExtendedNextHop(t) => (
            5,
            Some(CapabilityValue::ExtendedNextHop(
                t.iter()
                    .map(|e| (e.nlri_afi as u16, e.nlri_safi as u8, e.next_hop_afi as u16))
                    .collect(),
            )),
        ),
        C::ExtendedMessage => (6, Some(CapabilityValue::Empty)),
        C::GracefulRestart {
            restart_state,
            notification,
            restart_time,
            families,
        } => (
            64,
            Some(CapabilityValue::GracefulRestart {
                restart: *restart_state,
                notification: *notification,
                time: *restart_time,
                families: families
                    .iter()
                    .map(|f| (f.afi as u16, f.safi as u8, f.forwarding_preserved))
                    .collect(),
            }),
        ),
        C::FourOctetAs { asn } => (65, Some(CapabilityValue::FourOctetAs(*asn))),
        C::AddPath(t) => (
            69,
            Some(CapabilityValue::AddPath(
                t.iter()
                    .map(|e| (e.afi as u16, e.safi as u8, e.send_receive as u8))
                    .collect(),
            )),
        ),
        C::EnhancedRouteRefresh => (70, Some(CapabilityValue::Empty)),
        C::Unknown { code, .. } => (*code, None),
        // Capabilities hostroute keeps opaque (LLGR, role, ORF, paths
        // limit, link-local next hop): only the code is compared.
        other => (their_opaque_code(other), None),
    };
    Capability { code, value }
}

/// The code of a capability rustbgpd names and hostroute keeps opaque.
fn their_opaque_code(c: &rb::Capability) -> u8 {
    use rb::Capability as C;
    match c {
        C::OutboundRouteFilter(_) => 3,
        C::Role { .. } => 9,
        C::LongLivedGracefulRestart(_) => 71,
        C::PathsLimit(_) => 76,
        C::LinkLocalNextHop => 77,
        _ => 0,
    }
}
