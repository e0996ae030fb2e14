//! What one decoder made of one BGP message, in terms both decoders share.
//!
//! [`super::hostroute::outcome`] and [`super::rustbgpd::outcome`] run the
//! two decoders on the same frame and session and map each result into an
//! [`Outcome`]: either the message is refused as a whole (the NOTIFICATION
//! code and subcode it causes), or it decodes to a [`Summary`] plus the RFC
//! 7606 verdicts on its malformed attributes.
//!
//! The model is neutral, not a copy of either codec's: prefixes are
//! strings, AS path segments are `(segment type, ASNs)` with adjacent
//! AS_SEQUENCE runs joined (a segment split at 255 ASNs means the same
//! path), communities are plain integers and byte arrays. Where one codec
//! merges RFC 6793 compatibility attributes and the other keeps them apart,
//! both are mapped to the AS path and aggregator a NEW speaker would use.

use std::net::{IpAddr, Ipv4Addr};

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

/// Joins adjacent AS_SEQUENCE (and AS_CONFED_SEQUENCE) segments and sorts
/// the unknown attributes by type, so equal meanings compare equal.
pub fn normalize(s: &mut UpdateSummary) {
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
