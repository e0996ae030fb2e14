//! UPDATE message, RFC 4271 section 4.3, decoded with the revised error
//! handling of RFC 7606.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```
//!
//! Decoding never resets a session for an attribute it can work around.
//! [`Update::parse_body`] fails only when the message structure is broken
//! (the NLRI cannot be located, or a prefix in the withdrawn or NLRI field is
//! malformed); everything else comes back as the message plus one
//! [`AttributeProblem`] per malformed attribute, each with the RFC 7606
//! [`Action`] it calls for. The malformed attribute itself is left out of
//! [`Update::attributes`].

use serde::{Deserialize, Serialize};

use super::aspath::AsPath;
use super::attribute::{AttributeError, AttributeValue, Origin, PathAttribute, flags};
use super::community::{Community, ExtendedCommunity, LargeCommunity};
use super::context::Context;
use super::error::{DecodeError, EncodeError};
use super::header::{HEADER_LEN, emit_header};
use super::iana::{AfiSafi, MessageType, attr};
use super::mobility::Mobility;
use super::mp::{self, MpReach, MpUnreach};
use super::nlri::{self, Nlri};
use super::notification::{ErrorCode, Notification, UpdateError};
use super::reader::Reader;

/// An UPDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Update {
    /// IPv4 unicast prefixes withdrawn in the classic field.
    pub withdrawn: Vec<Nlri>,
    /// Path attributes in wire order (RFC 7606 section 5.1 wants MP_* first).
    pub attributes: Vec<PathAttribute>,
    /// IPv4 unicast prefixes announced in the classic field.
    pub nlri: Vec<Nlri>,
}

/// RFC 7606 section 2: what to do about a malformed attribute, weakest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Drop the attribute, keep the routes.
    AttributeDiscard,
    /// Withdraw every route the UPDATE announces (classic and MP_REACH NLRI).
    TreatAsWithdraw,
    /// Stop exchanging this family, or reset with `notification` if the
    /// speaker cannot disable one family alone.
    AfiSafiDisable {
        family: AfiSafi,
        notification: Notification,
    },
    /// Close the session with this NOTIFICATION.
    SessionReset(Notification),
}

impl Action {
    /// Orders actions by how much they tear down.
    pub fn severity(&self) -> u8 {
        match self {
            Self::AttributeDiscard => 0,
            Self::TreatAsWithdraw => 1,
            Self::AfiSafiDisable { .. } => 2,
            Self::SessionReset(_) => 3,
        }
    }
}

/// One malformed (or missing, or repeated) attribute and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeProblem {
    pub type_code: u8,
    #[serde(with = "display")]
    pub error: AttributeError,
    pub action: Action,
}

mod display {
    pub fn serialize<S: serde::Serializer>(
        e: &super::AttributeError,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_str(e)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        _: D,
    ) -> Result<super::AttributeError, D::Error> {
        Err(serde::de::Error::custom(
            "attribute errors are reported, not read back",
        ))
    }
}

/// A decoded UPDATE with its RFC 7606 verdicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodedUpdate {
    pub update: Update,
    pub problems: Vec<AttributeProblem>,
}

impl DecodedUpdate {
    /// The most severe action called for, if any attribute was malformed.
    pub fn action(&self) -> Option<&Action> {
        self.problems
            .iter()
            .map(|p| &p.action)
            .max_by_key(|a| a.severity())
    }
}

/// 256 bits, one per attribute type code.
#[derive(Default)]
struct TypeSet([u64; 4]);

impl TypeSet {
    /// Marks `t`; returns whether it was already there.
    fn insert(&mut self, t: u8) -> bool {
        let (word, bit) = (usize::from(t >> 6), 1u64 << (t & 63));
        let Some(w) = self.0.get_mut(word) else {
            return false;
        };
        let had = *w & bit != 0;
        *w |= bit;
        had
    }

    fn contains(&self, t: u8) -> bool {
        self.0
            .get(usize::from(t >> 6))
            .is_some_and(|w| w & (1u64 << (t & 63)) != 0)
    }
}

/// The RFC 7606 action for an error in an attribute of `type_code`; `raw` is
/// the whole attribute (header and value), the NOTIFICATION data if one is
/// sent; `external` says the peer is in another AS.
fn action_for(type_code: u8, error: &AttributeError, raw: &[u8], external: bool) -> Action {
    use AttributeError as E;
    let notify = |sub: UpdateError| Notification::new(ErrorCode::Update(sub), raw.to_vec());
    let mp = matches!(type_code, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI);
    match error {
        E::Duplicate | E::LocalPrefFromExternal => return Action::AttributeDiscard,
        E::Missing => return Action::TreatAsWithdraw,
        // RFC 7606 section 4, unless the attribute cut short is MP_REACH_NLRI
        // or MP_UNREACH_NLRI: then its NLRI cannot be parsed, so treat-as-
        // withdraw is impossible and section 5.3 calls for AFI/SAFI disable
        // or session reset (below).
        E::ListOverrun if !mp => return Action::TreatAsWithdraw,
        E::ListOverrun => {
            // The list itself is malformed: "Malformed Attribute List".
            let list = Notification::new(
                ErrorCode::Update(UpdateError::MalformedAttributeList),
                Vec::new(),
            );
            return match mp_family(raw) {
                Some(family) => Action::AfiSafiDisable {
                    family,
                    notification: list,
                },
                None => Action::SessionReset(list),
            };
        }
        // RFC 7606 section 3 c: an Optional or Transitive bit in conflict is
        // treat-as-withdraw whatever the attribute, unless its specification
        // says otherwise; sections 7.6 and 7.7 (attribute discard for
        // ATOMIC_AGGREGATE and AGGREGATOR) cover lengths only. For the MP
        // attributes section 5.3 says otherwise (below).
        E::Flags { .. } if !mp => return Action::TreatAsWithdraw,
        E::DuplicateMp => {
            return Action::SessionReset(Notification::new(
                ErrorCode::Update(UpdateError::MalformedAttributeList),
                Vec::new(),
            ));
        }
        E::UnrecognizedWellKnown => {
            return Action::SessionReset(notify(UpdateError::UnrecognizedWellKnownAttribute));
        }
        _ => {}
    }
    match type_code {
        // RFC 7606 sections 7.6, 7.7 and RFC 6793 section 6.
        attr::ATOMIC_AGGREGATE | attr::AGGREGATOR | attr::AS4_PATH | attr::AS4_AGGREGATOR => {
            Action::AttributeDiscard
        }
        // RFC 7606 sections 7.9 and 7.10: from an external neighbor these are
        // discarded; they are malformed (treat-as-withdraw) only from an
        // internal one. A conflict in the Optional or Transitive flag stays
        // treat-as-withdraw (section 3 c), as for LOCAL_PREF.
        attr::ORIGINATOR_ID | attr::CLUSTER_LIST
            if external && !matches!(error, E::Flags { .. }) =>
        {
            Action::AttributeDiscard
        }
        // RFC 7606 section 7.11: the NLRI cannot be trusted past a bad MP header.
        attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => {
            let notification = notify(UpdateError::OptionalAttributeError);
            match mp_family(raw) {
                Some(family) => Action::AfiSafiDisable {
                    family,
                    notification,
                },
                None => Action::SessionReset(notification),
            }
        }
        // ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES,
        // ORIGINATOR_ID, CLUSTER_LIST, extended and large communities:
        // RFC 7606 sections 7.1-7.5, 7.8-7.10, 7.14, RFC 8092 section 6.
        _ => Action::TreatAsWithdraw,
    }
}

/// The AFI and SAFI of an MP attribute, from its raw bytes (header and
/// value, or as much of them as there is).
fn mp_family(raw: &[u8]) -> Option<AfiSafi> {
    let value_at = if raw.first().is_some_and(|f| f & flags::EXTENDED_LENGTH != 0) {
        4
    } else {
        3
    };
    raw.get(value_at..).and_then(mp::peek_family)
}

impl Update {
    /// Decodes the body of an UPDATE (the bytes after the 19-byte header).
    pub fn parse_body(body: &[u8], ctx: &Context) -> Result<DecodedUpdate, DecodeError> {
        let mut r = Reader::new(body);
        let (Some(wlen), true) = (r.u16(), body.len() >= 4) else {
            return Err(DecodeError::BadLength {
                length: (body.len() + HEADER_LEN) as u16,
            });
        };
        let withdrawn_bytes =
            r.take(usize::from(wlen))
                .ok_or(DecodeError::MalformedAttributeList {
                    reason: "withdrawn routes length overruns the message",
                })?;
        let attrs_bytes = r.u16().and_then(|alen| r.take(usize::from(alen))).ok_or(
            DecodeError::MalformedAttributeList {
                reason: "total path attribute length overruns the message",
            },
        )?;
        let v4 = AfiSafi::IPV4_UNICAST;
        let add_path = ctx.add_path_rx(v4);
        let mut update = Update::default();
        nlri::decode_all(withdrawn_bytes, v4.afi, add_path, &mut update.withdrawn).map_err(
            |_| DecodeError::InvalidNetworkField {
                reason: "malformed withdrawn route",
            },
        )?;
        nlri::decode_all(r.rest(), v4.afi, add_path, &mut update.nlri).map_err(|_| {
            DecodeError::InvalidNetworkField {
                reason: "malformed NLRI prefix",
            }
        })?;

        let mut problems = Vec::new();
        let mut seen = TypeSet::default();
        let mut a = Reader::new(attrs_bytes);
        while !a.is_empty() {
            let start = a.rest();
            let Some((attr_flags, type_code, value)) = read_attribute(&mut a) else {
                // RFC 7606 section 4: the total length still locates the NLRI.
                let type_code = start.get(1).copied().unwrap_or(0);
                if start.len() >= 2 {
                    seen.insert(type_code);
                }
                let error = AttributeError::ListOverrun;
                let action = action_for(type_code, &error, start, ctx.external);
                problems.push(AttributeProblem {
                    type_code,
                    error,
                    action,
                });
                break;
            };
            let raw = start.get(..start.len() - a.len()).unwrap_or(start);
            if seen.insert(type_code) {
                let error = if matches!(type_code, attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI) {
                    AttributeError::DuplicateMp
                } else {
                    AttributeError::Duplicate
                };
                let action = action_for(type_code, &error, raw, ctx.external);
                problems.push(AttributeProblem {
                    type_code,
                    error,
                    action,
                });
                continue;
            }
            match PathAttribute::decode(attr_flags, type_code, value, ctx) {
                Ok(attribute) => update.attributes.push(attribute),
                Err(error) => {
                    let action = action_for(type_code, &error, raw, ctx.external);
                    problems.push(AttributeProblem {
                        type_code,
                        error,
                        action,
                    });
                }
            }
        }

        // RFC 7606 section 3 d: well-known mandatory attributes, where routes
        // are announced (NEXT_HOP only for the classic NLRI field).
        let reaches =
            !update.nlri.is_empty() || update.mp_reach().is_some_and(|m| !m.nlri.is_empty());
        if reaches {
            let mut required = vec![attr::ORIGIN, attr::AS_PATH];
            if !update.nlri.is_empty() {
                required.push(attr::NEXT_HOP);
            }
            for type_code in required {
                if !seen.contains(type_code) {
                    let error = AttributeError::Missing;
                    let action = action_for(type_code, &error, &[], ctx.external);
                    problems.push(AttributeProblem {
                        type_code,
                        error,
                        action,
                    });
                }
            }
        }
        Ok(DecodedUpdate { update, problems })
    }

    /// Bytes of the whole message, header included.
    pub fn buffer_len(&self, ctx: &Context) -> usize {
        let add_path = ctx.add_path_tx(AfiSafi::IPV4_UNICAST);
        HEADER_LEN
            + 4
            + nlri::encoded_len(&self.withdrawn, add_path)
            + self
                .attributes
                .iter()
                .map(|a| a.buffer_len(ctx))
                .sum::<usize>()
            + nlri::encoded_len(&self.nlri, add_path)
    }

    /// Appends the whole message, header included: exactly `buffer_len`
    /// bytes, or nothing and an error if it exceeds the session's limit.
    pub fn emit(&self, ctx: &Context, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let length = self.buffer_len(ctx);
        let max = ctx.max_len();
        if length > usize::from(max) {
            return Err(EncodeError::TooLong { length, max });
        }
        out.reserve(length);
        emit_header(out, length as u16, MessageType::Update);
        let add_path = ctx.add_path_tx(AfiSafi::IPV4_UNICAST);
        let wlen = nlri::encoded_len(&self.withdrawn, add_path);
        out.extend_from_slice(&(wlen as u16).to_be_bytes());
        for n in &self.withdrawn {
            n.emit(add_path, out);
        }
        let alen: usize = self.attributes.iter().map(|a| a.buffer_len(ctx)).sum();
        out.extend_from_slice(&(alen as u16).to_be_bytes());
        for a in &self.attributes {
            a.emit(ctx, out)?;
        }
        for n in &self.nlri {
            n.emit(add_path, out);
        }
        Ok(())
    }

    /// The End-of-RIB marker for `family` (RFC 4724 section 2).
    pub fn end_of_rib(family: AfiSafi) -> Self {
        if family == AfiSafi::IPV4_UNICAST {
            return Self::default();
        }
        let unreach = MpUnreach {
            family,
            withdrawn: Vec::new(),
        };
        Self {
            attributes: vec![PathAttribute::new(AttributeValue::MpUnreach(unreach))],
            ..Self::default()
        }
    }

    /// The family this UPDATE marks End-of-RIB for, if it is such a marker.
    pub fn end_of_rib_family(&self) -> Option<AfiSafi> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        match self.attributes.as_slice() {
            [] => Some(AfiSafi::IPV4_UNICAST),
            [a] => match &a.value {
                AttributeValue::MpUnreach(m) if m.withdrawn.is_empty() => Some(m.family),
                AttributeValue::Raw {
                    type_code: attr::MP_UNREACH_NLRI,
                    value,
                } if value.len() == 3 => mp::peek_family(value),
                _ => None,
            },
            _ => None,
        }
    }

    /// The first attribute of `type_code`.
    pub fn attribute(&self, type_code: u8) -> Option<&AttributeValue> {
        self.attributes
            .iter()
            .map(|a| &a.value)
            .find(|v| v.type_code() == type_code)
    }

    pub fn origin(&self) -> Option<Origin> {
        match self.attribute(attr::ORIGIN)? {
            AttributeValue::Origin(o) => Some(*o),
            _ => None,
        }
    }

    pub fn as_path(&self) -> Option<&AsPath> {
        match self.attribute(attr::AS_PATH)? {
            AttributeValue::AsPath(p) => Some(p),
            _ => None,
        }
    }

    pub fn next_hop(&self) -> Option<std::net::Ipv4Addr> {
        match self.attribute(attr::NEXT_HOP)? {
            AttributeValue::NextHop(a) => Some(*a),
            _ => None,
        }
    }

    pub fn communities(&self) -> &[Community] {
        match self.attribute(attr::COMMUNITIES) {
            Some(AttributeValue::Communities(c)) => c,
            _ => &[],
        }
    }

    pub fn extended_communities(&self) -> &[ExtendedCommunity] {
        match self.attribute(attr::EXTENDED_COMMUNITIES) {
            Some(AttributeValue::ExtendedCommunities(c)) => c,
            _ => &[],
        }
    }

    pub fn large_communities(&self) -> &[LargeCommunity] {
        match self.attribute(attr::LARGE_COMMUNITIES) {
            Some(AttributeValue::LargeCommunities(c)) => c,
            _ => &[],
        }
    }

    /// The mobility extended community, if the routes carry one.
    pub fn mobility(&self) -> Option<Mobility> {
        Mobility::find(self.extended_communities())
    }

    pub fn mp_reach(&self) -> Option<&MpReach> {
        match self.attribute(attr::MP_REACH_NLRI)? {
            AttributeValue::MpReach(m) => Some(m),
            _ => None,
        }
    }

    pub fn mp_unreach(&self) -> Option<&MpUnreach> {
        match self.attribute(attr::MP_UNREACH_NLRI)? {
            AttributeValue::MpUnreach(m) => Some(m),
            _ => None,
        }
    }
}

/// Reads one attribute header and value; `None` if it overruns the field.
fn read_attribute<'a>(r: &mut Reader<'a>) -> Option<(u8, u8, &'a [u8])> {
    let attr_flags = r.u8()?;
    let type_code = r.u8()?;
    let len = if attr_flags & flags::EXTENDED_LENGTH != 0 {
        usize::from(r.u16()?)
    } else {
        usize::from(r.u8()?)
    };
    Some((attr_flags, type_code, r.take(len)?))
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;
