//! What one decoder made of one BGP message, in terms both decoders share.
//!
//! [`ours`] and [`theirs`] run hostroute's decoder and rustbgpd-wire 0.27 on
//! the same frame and session, and map each result into an [`Outcome`]:
//! either the message is refused as a whole (the NOTIFICATION code and
//! subcode it causes), or it decodes to a [`Summary`] plus the RFC 7606
//! verdicts on its malformed attributes.
//!
//! The mapping is neutral, not a copy of either model: prefixes are
//! strings, AS path segments are `(segment type, ASNs)` with adjacent
//! AS_SEQUENCE runs joined (a segment split at 255 ASNs means the same
//! path), communities are plain integers and byte arrays. Where one codec
//! merges RFC 6793 compatibility attributes and the other keeps them apart,
//! both are mapped to the AS path and aggregator a NEW speaker would use.
//!
//! For rustbgpd the UPDATE goes through `UpdateMessage::parse_revised`,
//! its RFC 7606 decoder. rustbgpd leaves two checks that hostroute makes
//! while decoding to its separate `validate` module (missing well-known
//! attributes, RFC 7606 section 3 d, and unrecognized well-known ones,
//! RFC 4271 section 6.3); [`theirs`] asks `validate` for exactly those two
//! and for nothing else (its next-hop and policy checks are not codec
//! concerns).

use std::net::{IpAddr, Ipv4Addr};

use bytes::{Buf, Bytes};
use rustbgpd_wire as rb;
use rustbgpd_wire::attribute::{AsPathSegment, PathAttribute};

use super::codec::bgp::iana::AS_TRANS;
use super::codec::bgp::{
    Action, AfiSafi, AsPath, AttributeValue, Capability as OurCapability, Context, Decoded,
    Message, MpNextHop, Nlri, Update,
};
use super::wire;

/// (AFI, SAFI) as on the wire.
pub type Family = (u16, u8);

/// One NLRI entry: the prefix as text and, under ADD-PATH, its path id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub prefix: String,
    pub path_id: Option<u32>,
}

/// MP_REACH_NLRI. For a family other than IPv4/IPv6 unicast only the family
/// is compared (hostroute keeps those attributes opaque).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpReach {
    pub family: Family,
    /// Global next hop, then the link-local one if present.
    pub next_hop: Vec<IpAddr>,
    pub nlri: Vec<Route>,
}

/// MP_UNREACH_NLRI, compared like [`MpReach`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MpUnreach {
    pub family: Family,
    pub withdrawn: Vec<Route>,
}

/// RFC 7606 section 2 approaches, weakest first; AFI/SAFI disable counts
/// as a session reset (RFC 7606 section 7.11 offers the two as one choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Clean,
    AttributeDiscard,
    TreatAsWithdraw,
    SessionReset,
}

/// One malformed (missing, repeated...) attribute and its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub type_code: u8,
    pub verdict: Verdict,
    /// The decoder's own words, for allowances and failure messages.
    pub what: String,
}

/// The path attributes and routes of an UPDATE.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateSummary {
    pub withdrawn: Vec<Route>,
    pub nlri: Vec<Route>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub origin: Option<u8>,
    /// The AS path a NEW speaker uses (RFC 6793 section 4.2.3 applied).
    pub as_path: Option<Vec<(u8, Vec<u32>)>>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    /// The aggregator a NEW speaker uses (RFC 6793 section 4.2.3 applied).
    pub aggregator: Option<(u32, Ipv4Addr)>,
    pub communities: Option<Vec<u32>>,
    pub extended_communities: Option<Vec<[u8; 8]>>,
    pub large_communities: Option<Vec<(u32, u32, u32)>>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Option<Vec<Ipv4Addr>>,
    /// Attributes hostroute does not decode: (type code, value).
    pub unknown: Vec<(u8, Vec<u8>)>,
}

/// A capability; `value` is `None` where the decoder keeps it opaque.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    pub code: u8,
    pub value: Option<CapabilityValue>,
}

/// Decoded capability values both codecs name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapabilityValue {
    /// A capability without a value (route refresh, extended message...).
    Empty,
    MultiProtocol(Family),
    FourOctetAs(u32),
    /// (AFI, SAFI, send/receive mode).
    AddPath(Vec<(u16, u8, u8)>),
    GracefulRestart {
        restart: bool,
        notification: bool,
        time: u16,
        /// (AFI, SAFI, forwarding state preserved).
        families: Vec<(u16, u8, bool)>,
    },
    /// (NLRI AFI, NLRI SAFI, next-hop AFI).
    ExtendedNextHop(Vec<(u16, u8, u16)>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenSummary {
    pub my_as: u16,
    pub hold_time: u16,
    pub bgp_id: Ipv4Addr,
    /// Every capability in wire order, across optional parameters.
    pub capabilities: Vec<Capability>,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Summary {
    Open(OpenSummary),
    Update(Box<UpdateSummary>),
    Notification {
        code: u8,
        subcode: u8,
        data: Vec<u8>,
    },
    Keepalive,
    RouteRefresh {
        afi: u16,
        safi: u8,
        subtype: u8,
    },
}

/// What a decoder made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Refused as a whole: the session is reset with this NOTIFICATION.
    Rejected { code: u8, subcode: u8, what: String },
    /// Decoded, with the RFC 7606 verdicts on malformed attributes.
    Decoded {
        summary: Summary,
        problems: Vec<Problem>,
    },
}

impl Outcome {
    /// The strongest approach the message calls for (RFC 7606 section 3 h).
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Rejected { .. } => Verdict::SessionReset,
            Self::Decoded { problems, .. } => problems
                .iter()
                .map(|p| p.verdict)
                .max()
                .unwrap_or(Verdict::Clean),
        }
    }

    pub fn update(&self) -> Option<&UpdateSummary> {
        match self {
            Self::Decoded {
                summary: Summary::Update(u),
                ..
            } => Some(u),
            _ => None,
        }
    }

    pub fn update_mut(&mut self) -> Option<&mut UpdateSummary> {
        match self {
            Self::Decoded {
                summary: Summary::Update(u),
                ..
            } => Some(u),
            _ => None,
        }
    }

    pub fn problems(&self) -> &[Problem] {
        match self {
            Self::Decoded { problems, .. } => problems,
            Self::Rejected { .. } => &[],
        }
    }

    pub fn problems_mut(&mut self) -> Option<&mut Vec<Problem>> {
        match self {
            Self::Decoded { problems, .. } => Some(problems),
            Self::Rejected { .. } => None,
        }
    }
}

// ---------------------------------------------------------------- ours

/// hostroute's decoder: `Message::decode`.
pub fn ours(frame: &[u8], ctx: &Context) -> Outcome {
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

// -------------------------------------------------------------- theirs

/// rustbgpd-wire 0.27: `decode_message`, then `parse_revised` for UPDATE.
pub fn theirs(frame: &[u8], ctx: &Context) -> Outcome {
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

/// Joins adjacent AS_SEQUENCE (and AS_CONFED_SEQUENCE) segments and sorts
/// the unknown attributes by type, so equal meanings compare equal.
fn normalize(s: &mut UpdateSummary) {
    if let Some(path) = &mut s.as_path {
        let mut joined: Vec<(u8, Vec<u32>)> = Vec::with_capacity(path.len());
        for (kind, asns) in path.drain(..) {
            match joined.last_mut() {
                Some((last, prev)) if *last == kind && matches!(kind, 2 | 3) => prev.extend(asns),
                _ => joined.push((kind, asns)),
            }
        }
        *path = joined;
    }
    s.unknown.sort();
}
