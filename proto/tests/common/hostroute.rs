//! hostroute's decoder (`Message::decode`) mapped into a neutral
//! [`Outcome`]. In a 2-octet session the AS4 compatibility attributes are
//! applied as a NEW speaker applies them (RFC 6793 section 4.2.3, with
//! `AsPath::merge_as4`); in a 4-octet session they are left out (section
//! 4.1), since the codec keeps them verbatim.

use std::net::IpAddr;

use super::codec::bgp::iana::AS_TRANS;
use super::codec::bgp::{
    Action, AfiSafi, AsPath, AttributeValue, Capability as OurCapability, Context, Decoded,
    Message, MpNextHop, Nlri, Update,
};
use super::summary::{
    Capability, CapabilityValue, Family, MpReach, MpUnreach, OpenSummary, Outcome, Problem, Route,
    Summary, UpdateSummary, Verdict, normalize,
};
use super::wire;

/// hostroute's decoder: `Message::decode`.
pub fn outcome(frame: &[u8], ctx: &Context) -> Outcome {
    match Message::decode(frame, ctx) {
        Err(e) => {
            let (code, subcode) = e.notification().error.codes();
            Outcome::Rejected {
                code,
                subcode,
                what: e.to_string(),
            }
        }
        Ok(decoded) => our_outcome(decoded, ctx),
    }
}

fn our_outcome(decoded: Decoded, ctx: &Context) -> Outcome {
    let problems = decoded
        .problems
        .iter()
        .map(|p| Problem {
            type_code: p.type_code,
            verdict: match p.action {
                Action::AttributeDiscard => Verdict::AttributeDiscard,
                Action::TreatAsWithdraw => Verdict::TreatAsWithdraw,
                Action::AfiSafiDisable { .. } | Action::SessionReset(_) => Verdict::SessionReset,
            },
            what: p.error.to_string(),
        })
        .collect();
    let summary = match decoded.message {
        Message::Open(o) => Summary::Open(OpenSummary {
            my_as: o.my_as,
            hold_time: o.hold_time.seconds(),
            bgp_id: o.bgp_id,
            capabilities: o.capabilities().map(our_capability).collect(),
        }),
        Message::Update(u) => Summary::Update(Box::new(our_update(&u, ctx))),
        Message::Notification(n) => {
            let (code, subcode) = n.error.codes();
            Summary::Notification {
                code,
                subcode,
                data: n.data,
            }
        }
        Message::Keepalive => Summary::Keepalive,
        Message::RouteRefresh(r) => Summary::RouteRefresh {
            afi: r.afi_safi.afi.into(),
            safi: r.afi_safi.safi.into(),
            subtype: r.subtype.into(),
        },
    };
    Outcome::Decoded { summary, problems }
}

fn family(f: AfiSafi) -> Family {
    (f.afi.into(), f.safi.into())
}

fn our_routes(nlri: &[Nlri]) -> Vec<Route> {
    nlri.iter()
        .map(|n| Route {
            prefix: n.prefix.to_string(),
            path_id: n.path_id,
        })
        .collect()
}

fn our_segments(p: &AsPath) -> Vec<(u8, Vec<u32>)> {
    p.segments
        .iter()
        .map(|s| (s.kind.code(), s.asns.clone()))
        .collect()
}

fn our_update(u: &Update, ctx: &Context) -> UpdateSummary {
    let mut s = UpdateSummary {
        withdrawn: our_routes(&u.withdrawn),
        nlri: our_routes(&u.nlri),
        ..UpdateSummary::default()
    };
    let (mut as_path, mut as4_path, mut as4_aggregator) = (None, None, None);
    for a in &u.attributes {
        match &a.value {
            AttributeValue::Origin(o) => s.origin = Some(o.code()),
            AttributeValue::AsPath(p) => as_path = Some(p),
            AttributeValue::NextHop(a) => s.next_hop = Some(*a),
            AttributeValue::MultiExitDisc(v) => s.med = Some(*v),
            AttributeValue::LocalPref(v) => s.local_pref = Some(*v),
            AttributeValue::AtomicAggregate => s.atomic_aggregate = true,
            AttributeValue::Aggregator(a) => s.aggregator = Some((a.asn, a.address)),
            AttributeValue::Communities(c) => {
                s.communities = Some(c.iter().map(|c| c.0).collect());
            }
            AttributeValue::OriginatorId(a) => s.originator_id = Some(*a),
            AttributeValue::ClusterList(c) => s.cluster_list = Some(c.clone()),
            AttributeValue::MpReach(m) => {
                let next_hop = match m.next_hop {
                    MpNextHop::Ipv4(a) => vec![IpAddr::V4(a)],
                    MpNextHop::Ipv6 { global, link_local } => std::iter::once(global)
                        .chain(link_local)
                        .map(IpAddr::V6)
                        .collect(),
                };
                s.mp_reach = Some(MpReach {
                    family: family(m.family),
                    next_hop,
                    nlri: our_routes(&m.nlri),
                });
            }
            AttributeValue::MpUnreach(m) => {
                s.mp_unreach = Some(MpUnreach {
                    family: family(m.family),
                    withdrawn: our_routes(&m.withdrawn),
                });
            }
            AttributeValue::ExtendedCommunities(c) => {
                s.extended_communities = Some(c.iter().map(|c| c.0).collect());
            }
            AttributeValue::As4Path(p) => as4_path = Some(p),
            AttributeValue::As4Aggregator(a) => as4_aggregator = Some((a.asn, a.address)),
            AttributeValue::LargeCommunities(c) => {
                s.large_communities = Some(
                    c.iter()
                        .map(|c| (c.global_admin, c.local_data_1, c.local_data_2))
                        .collect(),
                );
            }
            AttributeValue::Raw {
                type_code: 14,
                value,
            } => {
                s.mp_reach = wire::mp_family(value).map(|family| MpReach {
                    family,
                    next_hop: Vec::new(),
                    nlri: Vec::new(),
                });
            }
            AttributeValue::Raw {
                type_code: 15,
                value,
            } => {
                s.mp_unreach = wire::mp_family(value).map(|family| MpUnreach {
                    family,
                    withdrawn: Vec::new(),
                });
            }
            AttributeValue::Raw { type_code, value } => s.unknown.push((*type_code, value.clone())),
        }
    }
    s.as_path = as_path.map(our_segments);
    // RFC 6793 section 4.1: between NEW speakers AS4_PATH and AS4_AGGREGATOR
    // are discarded, so they only count in a 2-octet session. There,
    // section 4.2.3: an AGGREGATOR that is not AS_TRANS beside an
    // AS4_AGGREGATOR means both AS4 attributes are ignored; otherwise
    // AS4_AGGREGATOR stands for the aggregator and AS4_PATH replaces the
    // tail of AS_PATH (`AsPath::merge_as4`).
    if !ctx.four_octet_as {
        let inconsistent = matches!(
            (s.aggregator, as4_aggregator),
            (Some((asn, _)), Some(_)) if asn != u32::from(AS_TRANS)
        );
        if !inconsistent {
            if let (Some(p), Some(p4)) = (as_path, as4_path) {
                s.as_path = Some(our_segments(&p.merge_as4(p4)));
            }
            if as4_aggregator.is_some() {
                s.aggregator = as4_aggregator;
            }
        }
    }
    normalize(&mut s);
    s
}

fn our_capability(c: &OurCapability) -> Capability {
    let value = match c {
        OurCapability::MultiProtocol(f) => Some(CapabilityValue::MultiProtocol(family(*f))),
        OurCapability::RouteRefresh
        | OurCapability::ExtendedMessage
        | OurCapability::EnhancedRouteRefresh => Some(CapabilityValue::Empty),
        OurCapability::ExtendedNextHop(t) => Some(CapabilityValue::ExtendedNextHop(
            t.iter()
                .map(|(f, nh)| (f.afi.into(), f.safi.into(), (*nh).into()))
                .collect(),
        )),
        OurCapability::GracefulRestart(gr) => Some(CapabilityValue::GracefulRestart {
            restart: gr.restart_state,
            notification: gr.notification,
            time: gr.restart_time,
            families: gr
                .families
                .iter()
                .map(|f| {
                    (
                        f.afi_safi.afi.into(),
                        f.afi_safi.safi.into(),
                        f.forwarding_preserved,
                    )
                })
                .collect(),
        }),
        OurCapability::FourOctetAs(asn) => Some(CapabilityValue::FourOctetAs(*asn)),
        OurCapability::AddPath(t) => Some(CapabilityValue::AddPath(
            t.iter()
                .map(|(f, mode)| (f.afi.into(), f.safi.into(), mode.code()))
                .collect(),
        )),
        OurCapability::Unknown { .. } => None,
    };
    Capability {
        code: c.code(),
        value,
    }
}
