//! Path attributes, RFC 4271 section 4.3 and the RFCs that add to it.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|   then 1 length octet, or 2 when
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   Extended Length is set, then the value
//!  O T P E 0 0 0 0
//!  | | | +-- Extended Length
//!  | | +---- Partial
//!  | +------ Transitive
//!  +-------- Optional
//! ```
//!
//! An attribute keeps the flags it arrived with, so a message re-encodes to
//! the same bytes (FRR always sets Extended Length on MP_REACH_NLRI, for
//! example). Types this codec does not decode are kept verbatim as
//! [`AttributeValue::Raw`].

use std::collections::HashSet;
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use super::aspath::{AsPath, AsPathError};
use super::community::{Community, ExtendedCommunity, LargeCommunity};
use super::context::Context;
use super::iana::attr;
use super::mp::{self, MpError, MpReach, MpUnreach};

/// Attribute flag bits (RFC 4271 section 4.3).
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
}

/// ORIGIN values, RFC 4271 section 5.1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Origin {
    Igp,
    Egp,
    Incomplete,
}

/// AGGREGATOR and AS4_AGGREGATOR, RFC 4271 section 5.1.7, RFC 6793.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Aggregator {
    pub asn: u32,
    pub address: Ipv4Addr,
}

/// The decoded value of a path attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttributeValue {
    Origin(Origin),
    AsPath(AsPath),
    NextHop(Ipv4Addr),
    MultiExitDisc(u32),
    LocalPref(u32),
    AtomicAggregate,
    Aggregator(Aggregator),
    Communities(Vec<Community>),
    OriginatorId(Ipv4Addr),
    ClusterList(Vec<Ipv4Addr>),
    MpReach(MpReach),
    MpUnreach(MpUnreach),
    ExtendedCommunities(Vec<ExtendedCommunity>),
    As4Path(AsPath),
    As4Aggregator(Aggregator),
    LargeCommunities(Vec<LargeCommunity>),
    /// A type this codec does not decode (or an MP attribute of a family it
    /// does not decode), kept byte for byte.
    Raw {
        type_code: u8,
        value: Vec<u8>,
    },
}

/// A path attribute: its flags as received (or canonical) and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathAttribute {
    pub flags: u8,
    pub value: AttributeValue,
}

/// What is wrong with one attribute (RFC 7606 section 3 and 7).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttributeError {
    #[error("optional/transitive flags 0x{got:02x} conflict with the type's 0x{expected:02x}")]
    Flags { expected: u8, got: u8 },
    #[error("length {got} where {expected} is required")]
    Length { got: usize, expected: &'static str },
    #[error("invalid ORIGIN value {0}")]
    InvalidOrigin(u8),
    #[error("malformed AS path: {0}")]
    AsPath(#[from] AsPathError),
    #[error("malformed multiprotocol attribute: {0}")]
    Mp(#[from] MpError),
    #[error("unrecognized well-known attribute")]
    UnrecognizedWellKnown,
    #[error("repeated attribute; the first one is kept")]
    Duplicate,
    #[error("repeated MP_REACH_NLRI or MP_UNREACH_NLRI")]
    DuplicateMp,
    #[error("well-known mandatory attribute missing")]
    Missing,
    #[error("attribute overruns the path attribute field")]
    ListOverrun,
    #[error("LOCAL_PREF from an external peer is ignored")]
    LocalPrefFromExternal,
    /// RFC 7607 section 2: AS 0 in AS_PATH, AS4_PATH, AGGREGATOR or
    /// AS4_AGGREGATOR makes the attribute malformed.
    #[error("AS 0 is not a valid AS number (RFC 7607)")]
    AsZero,
}

impl Origin {
    pub const fn code(self) -> u8 {
        match self {
            Self::Igp => 0,
            Self::Egp => 1,
            Self::Incomplete => 2,
        }
    }
}

impl AttributeValue {
    pub fn type_code(&self) -> u8 {
        match self {
            Self::Origin(_) => attr::ORIGIN,
            Self::AsPath(_) => attr::AS_PATH,
            Self::NextHop(_) => attr::NEXT_HOP,
            Self::MultiExitDisc(_) => attr::MULTI_EXIT_DISC,
            Self::LocalPref(_) => attr::LOCAL_PREF,
            Self::AtomicAggregate => attr::ATOMIC_AGGREGATE,
            Self::Aggregator(_) => attr::AGGREGATOR,
            Self::Communities(_) => attr::COMMUNITIES,
            Self::OriginatorId(_) => attr::ORIGINATOR_ID,
            Self::ClusterList(_) => attr::CLUSTER_LIST,
            Self::MpReach(_) => attr::MP_REACH_NLRI,
            Self::MpUnreach(_) => attr::MP_UNREACH_NLRI,
            Self::ExtendedCommunities(_) => attr::EXTENDED_COMMUNITIES,
            Self::As4Path(_) => attr::AS4_PATH,
            Self::As4Aggregator(_) => attr::AS4_AGGREGATOR,
            Self::LargeCommunities(_) => attr::LARGE_COMMUNITIES,
            Self::Raw { type_code, .. } => *type_code,
        }
    }

    /// Bytes of the value on the wire.
    pub fn value_len(&self, ctx: &Context) -> usize {
        match self {
            Self::Origin(_) => 1,
            Self::AsPath(p) => p.encoded_len(ctx.four_octet_as),
            Self::As4Path(p) => p.encoded_len(true),
            Self::NextHop(_)
            | Self::MultiExitDisc(_)
            | Self::LocalPref(_)
            | Self::OriginatorId(_) => 4,
            Self::AtomicAggregate => 0,
            Self::Aggregator(_) => {
                if ctx.four_octet_as {
                    8
                } else {
                    6
                }
            }
            Self::As4Aggregator(_) => 8,
            Self::Communities(c) => c.len() * 4,
            Self::ClusterList(c) => c.len() * 4,
            Self::ExtendedCommunities(c) => c.len() * 8,
            Self::LargeCommunities(c) => c.len() * 12,
            Self::MpReach(m) => m.value_len(ctx),
            Self::MpUnreach(m) => m.value_len(ctx),
            Self::Raw { value, .. } => value.len(),
        }
    }

    fn emit_value(&self, ctx: &Context, out: &mut Vec<u8>) {
        match self {
            Self::Origin(o) => out.push(o.code()),
            Self::AsPath(p) => p.emit(ctx.four_octet_as, out),
            Self::As4Path(p) => p.emit(true, out),
            Self::NextHop(a) | Self::OriginatorId(a) => out.extend_from_slice(&a.octets()),
            Self::MultiExitDisc(v) | Self::LocalPref(v) => out.extend_from_slice(&v.to_be_bytes()),
            Self::AtomicAggregate => {}
            Self::Aggregator(a) => emit_aggregator(a, ctx.four_octet_as, out),
            Self::As4Aggregator(a) => emit_aggregator(a, true, out),
            Self::Communities(c) => c
                .iter()
                .for_each(|c| out.extend_from_slice(&c.0.to_be_bytes())),
            Self::ClusterList(c) => c.iter().for_each(|a| out.extend_from_slice(&a.octets())),
            Self::ExtendedCommunities(c) => c.iter().for_each(|c| out.extend_from_slice(&c.0)),
            Self::LargeCommunities(c) => c.iter().for_each(|c| {
                out.extend_from_slice(&c.global_admin.to_be_bytes());
                out.extend_from_slice(&c.local_data_1.to_be_bytes());
                out.extend_from_slice(&c.local_data_2.to_be_bytes());
            }),
            Self::MpReach(m) => m.emit_value(ctx, out),
            Self::MpUnreach(m) => m.emit_value(ctx, out),
            Self::Raw { value, .. } => out.extend_from_slice(value),
        }
    }
}

fn emit_aggregator(a: &Aggregator, four_octet: bool, out: &mut Vec<u8>) {
    if four_octet {
        out.extend_from_slice(&a.asn.to_be_bytes());
    } else {
        let two = u16::try_from(a.asn).unwrap_or(super::iana::AS_TRANS);
        out.extend_from_slice(&two.to_be_bytes());
    }
    out.extend_from_slice(&a.address.octets());
}

/// The optional and transitive bits a known type must carry; `None` for
/// types this codec does not know.
pub fn expected_flags(type_code: u8) -> Option<u8> {
    use flags::{OPTIONAL, TRANSITIVE};
    Some(match type_code {
        attr::ORIGIN
        | attr::AS_PATH
        | attr::NEXT_HOP
        | attr::LOCAL_PREF
        | attr::ATOMIC_AGGREGATE => TRANSITIVE,
        attr::MULTI_EXIT_DISC
        | attr::ORIGINATOR_ID
        | attr::CLUSTER_LIST
        | attr::MP_REACH_NLRI
        | attr::MP_UNREACH_NLRI => OPTIONAL,
        attr::AGGREGATOR
        | attr::COMMUNITIES
        | attr::EXTENDED_COMMUNITIES
        | attr::AS4_PATH
        | attr::AS4_AGGREGATOR
        | attr::LARGE_COMMUNITIES => OPTIONAL | TRANSITIVE,
        _ => return None,
    })
}

impl PathAttribute {
    /// An attribute with the flags its type calls for.
    pub fn new(value: AttributeValue) -> Self {
        let flags = match &value {
            AttributeValue::Raw { .. } => flags::OPTIONAL | flags::TRANSITIVE,
            v => expected_flags(v.type_code()).unwrap_or(flags::OPTIONAL | flags::TRANSITIVE),
        };
        Self { flags, value }
    }

    pub fn type_code(&self) -> u8 {
        self.value.type_code()
    }

    /// Decodes one attribute's value. Errors say what is wrong; what to do
    /// about it is [`super::update`]'s RFC 7606 decision.
    pub fn decode(
        attr_flags: u8,
        type_code: u8,
        value: &[u8],
        ctx: &Context,
    ) -> Result<Self, AttributeError> {
        let Some(expected) = expected_flags(type_code) else {
            if attr_flags & flags::OPTIONAL == 0 {
                return Err(AttributeError::UnrecognizedWellKnown);
            }
            let value = AttributeValue::Raw {
                type_code,
                value: value.to_vec(),
            };
            return Ok(Self {
                flags: attr_flags,
                value,
            });
        };
        let got = attr_flags & (flags::OPTIONAL | flags::TRANSITIVE);
        if got != expected {
            return Err(AttributeError::Flags { expected, got });
        }
        let value = decode_known(type_code, value, ctx)?;
        Ok(Self {
            flags: attr_flags,
            value,
        })
    }

    /// Bytes of the whole attribute, header included.
    pub fn buffer_len(&self, ctx: &Context) -> usize {
        let len = self.value.value_len(ctx);
        len + if self.extended(len) { 4 } else { 3 }
    }

    fn extended(&self, value_len: usize) -> bool {
        self.flags & flags::EXTENDED_LENGTH != 0 || value_len > 255
    }

    /// Appends the attribute, header included; exactly `buffer_len` bytes.
    pub fn emit(&self, ctx: &Context, out: &mut Vec<u8>) -> Result<(), super::EncodeError> {
        let len = self.value.value_len(ctx);
        let Ok(len16) = u16::try_from(len) else {
            return Err(super::EncodeError::FieldTooLong {
                what: "path attribute",
                length: len,
            });
        };
        let extended = self.extended(len);
        let wire_flags = if extended {
            self.flags | flags::EXTENDED_LENGTH
        } else {
            self.flags & !flags::EXTENDED_LENGTH
        };
        out.push(wire_flags);
        out.push(self.type_code());
        if extended {
            out.extend_from_slice(&len16.to_be_bytes());
        } else {
            out.push(len as u8);
        }
        self.value.emit_value(ctx, out);
        Ok(())
    }
}

fn decode_known(type_code: u8, v: &[u8], ctx: &Context) -> Result<AttributeValue, AttributeError> {
    use AttributeValue as A;
    let exact = |n: usize, expected: &'static str| -> Result<(), AttributeError> {
        if v.len() == n {
            Ok(())
        } else {
            Err(AttributeError::Length {
                got: v.len(),
                expected,
            })
        }
    };
    let multiple = |n: usize, expected: &'static str| -> Result<(), AttributeError> {
        if !v.is_empty() && v.len().is_multiple_of(n) {
            Ok(())
        } else {
            Err(AttributeError::Length {
                got: v.len(),
                expected,
            })
        }
    };
    Ok(match type_code {
        attr::ORIGIN => {
            exact(1, "1")?;
            match v.first().copied().unwrap_or(u8::MAX) {
                0 => A::Origin(Origin::Igp),
                1 => A::Origin(Origin::Egp),
                2 => A::Origin(Origin::Incomplete),
                o => return Err(AttributeError::InvalidOrigin(o)),
            }
        }
        attr::AS_PATH => A::AsPath(without_as_zero(AsPath::decode(
            v,
            ctx.four_octet_as,
            false,
        )?)?),
        attr::AS4_PATH => A::As4Path(without_as_zero(AsPath::decode(v, true, true)?)?),
        attr::NEXT_HOP => {
            exact(4, "4")?;
            A::NextHop(ipv4(v))
        }
        attr::MULTI_EXIT_DISC => {
            exact(4, "4")?;
            A::MultiExitDisc(u32_at(v))
        }
        attr::LOCAL_PREF => {
            // RFC 7606 section 7.5: from an external peer it is discarded,
            // whatever its length; only from an internal one can it be
            // malformed.
            if ctx.external {
                return Err(AttributeError::LocalPrefFromExternal);
            }
            exact(4, "4")?;
            A::LocalPref(u32_at(v))
        }
        attr::ATOMIC_AGGREGATE => {
            exact(0, "0")?;
            A::AtomicAggregate
        }
        attr::AGGREGATOR => {
            let (n, text) = if ctx.four_octet_as {
                (8, "8")
            } else {
                (6, "6")
            };
            exact(n, text)?;
            A::Aggregator(without_as_zero_aggregator(aggregator(
                v,
                ctx.four_octet_as,
            ))?)
        }
        attr::AS4_AGGREGATOR => {
            exact(8, "8")?;
            A::As4Aggregator(without_as_zero_aggregator(aggregator(v, true))?)
        }
        attr::COMMUNITIES => {
            multiple(4, "a non-zero multiple of 4")?;
            A::Communities(
                v.as_chunks::<4>()
                    .0
                    .iter()
                    .map(|c| Community(u32::from_be_bytes(*c)))
                    .collect(),
            )
        }
        attr::ORIGINATOR_ID => {
            exact(4, "4")?;
            A::OriginatorId(ipv4(v))
        }
        attr::CLUSTER_LIST => {
            multiple(4, "a non-zero multiple of 4")?;
            A::ClusterList(
                v.as_chunks::<4>()
                    .0
                    .iter()
                    .map(|c| Ipv4Addr::from(*c))
                    .collect(),
            )
        }
        attr::EXTENDED_COMMUNITIES => {
            multiple(8, "a non-zero multiple of 8")?;
            A::ExtendedCommunities(
                v.as_chunks::<8>()
                    .0
                    .iter()
                    .map(|c| ExtendedCommunity(*c))
                    .collect(),
            )
        }
        attr::LARGE_COMMUNITIES => {
            multiple(12, "a non-zero multiple of 12")?;
            // RFC 8092 section 3: "A receiving speaker MUST silently remove
            // redundant BGP Large Community values"; the first of each stays.
            let chunks = v.as_chunks::<12>().0;
            let mut seen = HashSet::with_capacity(chunks.len());
            let large = chunks
                .iter()
                .map(|c| {
                    let [a, b, c, d, e, f, g, h, i, j, k, l] = *c;
                    LargeCommunity {
                        global_admin: u32::from_be_bytes([a, b, c, d]),
                        local_data_1: u32::from_be_bytes([e, f, g, h]),
                        local_data_2: u32::from_be_bytes([i, j, k, l]),
                    }
                })
                .filter(|c| seen.insert(*c))
                .collect();
            A::LargeCommunities(large)
        }
        attr::MP_REACH_NLRI | attr::MP_UNREACH_NLRI => {
            let family = mp::peek_family(v).ok_or(MpError::NoFamily)?;
            if !mp::is_decoded_family(family) {
                A::Raw {
                    type_code,
                    value: v.to_vec(),
                }
            } else if type_code == attr::MP_REACH_NLRI {
                A::MpReach(MpReach::decode(v, ctx)?)
            } else {
                A::MpUnreach(MpUnreach::decode(v, ctx)?)
            }
        }
        _ => A::Raw {
            type_code,
            value: v.to_vec(),
        },
    })
}

/// RFC 7607 section 2: a path holding AS 0 is malformed.
fn without_as_zero(path: AsPath) -> Result<AsPath, AttributeError> {
    if path.contains(0) {
        Err(AttributeError::AsZero)
    } else {
        Ok(path)
    }
}

/// RFC 7607 section 2: an aggregator of AS 0 is malformed.
fn without_as_zero_aggregator(a: Aggregator) -> Result<Aggregator, AttributeError> {
    if a.asn == 0 {
        Err(AttributeError::AsZero)
    } else {
        Ok(a)
    }
}

fn u32_at(v: &[u8]) -> u32 {
    v.first_chunk::<4>().map_or(0, |c| u32::from_be_bytes(*c))
}

fn ipv4(v: &[u8]) -> Ipv4Addr {
    Ipv4Addr::from(u32_at(v))
}

fn aggregator(v: &[u8], four_octet: bool) -> Aggregator {
    if four_octet {
        Aggregator {
            asn: u32_at(v),
            address: ipv4(v.get(4..).unwrap_or_default()),
        }
    } else {
        let asn = v.first_chunk::<2>().map_or(0, |c| u16::from_be_bytes(*c));
        Aggregator {
            asn: u32::from(asn),
            address: ipv4(v.get(2..).unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(flags: u8, type_code: u8, value: &[u8], ctx: &Context) -> PathAttribute {
        let a = PathAttribute::decode(flags, type_code, value, ctx).unwrap();
        let mut out = Vec::new();
        a.emit(ctx, &mut out).unwrap();
        let mut expect = vec![flags, type_code];
        if flags & flags::EXTENDED_LENGTH != 0 {
            expect.extend_from_slice(&(value.len() as u16).to_be_bytes());
        } else {
            expect.push(value.len() as u8);
        }
        expect.extend_from_slice(value);
        assert_eq!(out, expect);
        assert_eq!(out.len(), a.buffer_len(ctx));
        a
    }

    #[test]
    fn well_known_attributes_decode_and_re_encode() {
        let ctx = Context::modern();
        assert_eq!(
            round_trip(0x40, 1, &[0], &ctx).value,
            AttributeValue::Origin(Origin::Igp)
        );
        assert_eq!(
            round_trip(0x40, 3, &[192, 0, 2, 1], &ctx).value,
            AttributeValue::NextHop(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(
            round_trip(0x40, 6, &[], &ctx).value,
            AttributeValue::AtomicAggregate
        );
        assert_eq!(
            round_trip(0x80, 4, &[0, 0, 0, 5], &ctx).value,
            AttributeValue::MultiExitDisc(5)
        );
        let ibgp = Context {
            external: false,
            ..Context::modern()
        };
        assert_eq!(
            round_trip(0x40, 5, &[0, 0, 0, 100], &ibgp).value,
            AttributeValue::LocalPref(100)
        );
    }

    #[test]
    fn extended_length_flag_is_kept_even_when_short() {
        let ctx = Context::modern();
        let a = round_trip(0x90, 15, &[0, 2, 1], &ctx);
        assert_eq!(a.flags & flags::EXTENDED_LENGTH, flags::EXTENDED_LENGTH);
    }

    #[test]
    fn communities_of_all_kinds() {
        let ctx = Context::modern();
        assert_eq!(
            round_trip(0xc0, 8, &[0xfd, 0xe8, 0, 100], &ctx).value,
            AttributeValue::Communities(vec![Community::new(65000, 100)])
        );
        let ext = [0x06, 0, 1, 0, 0, 0, 0, 9];
        assert_eq!(
            round_trip(0xc0, 16, &ext, &ctx).value,
            AttributeValue::ExtendedCommunities(vec![ExtendedCommunity(ext)])
        );
        let large = [0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(
            round_trip(0xc0, 32, &large, &ctx).value,
            AttributeValue::LargeCommunities(vec![LargeCommunity::new(65000, 1, 2)])
        );
    }

    /// RFC 8092 section 3: "A receiving speaker MUST silently remove
    /// redundant BGP Large Community values". Found by the differential
    /// test against rustbgpd-wire.
    #[test]
    fn repeated_large_communities_are_removed_keeping_the_first_order() {
        let ctx = Context::modern();
        let one = [0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0, 0, 0, 2];
        let two = [0, 0, 0xfd, 0xe8, 0, 0, 0, 3, 0, 0, 0, 4];
        let value = [one, two, one, two, one].concat();
        let a = PathAttribute::decode(0xc0, 32, &value, &ctx).unwrap();
        assert_eq!(
            a.value,
            AttributeValue::LargeCommunities(vec![
                LargeCommunity::new(65000, 1, 2),
                LargeCommunity::new(65000, 3, 4)
            ])
        );
    }

    #[test]
    fn aggregator_width_follows_the_session() {
        let two = Context::default();
        let a = round_trip(0xc0, 7, &[0xfd, 0xe8, 192, 0, 2, 1], &two);
        assert_eq!(
            a.value,
            AttributeValue::Aggregator(Aggregator {
                asn: 65000,
                address: Ipv4Addr::new(192, 0, 2, 1)
            })
        );
        let four = Context::modern();
        assert_eq!(
            PathAttribute::decode(0xc0, 7, &[0xfd, 0xe8, 192, 0, 2, 1], &four),
            Err(AttributeError::Length {
                got: 6,
                expected: "8"
            })
        );
        round_trip(0xc0, 18, &[0xfa, 0x56, 0xea, 1, 192, 0, 2, 1], &two);
    }

    #[test]
    fn unknown_optional_attributes_are_kept_verbatim_with_their_flags() {
        let ctx = Context::modern();
        let a = round_trip(0xe0, 0x63, &[0xde, 0xad], &ctx);
        assert_eq!(
            a.value,
            AttributeValue::Raw {
                type_code: 0x63,
                value: vec![0xde, 0xad]
            }
        );
        assert_eq!(a.flags, 0xe0);
    }

    #[test]
    fn rejects_each_malformation() {
        let ctx = Context::modern();
        let cases: Vec<(u8, u8, Vec<u8>, AttributeError)> = vec![
            (0x40, 0x63, vec![], AttributeError::UnrecognizedWellKnown),
            (
                0xc0,
                1,
                vec![0],
                AttributeError::Flags {
                    expected: 0x40,
                    got: 0xc0,
                },
            ),
            (
                0x40,
                1,
                vec![0, 0],
                AttributeError::Length {
                    got: 2,
                    expected: "1",
                },
            ),
            (0x40, 1, vec![3], AttributeError::InvalidOrigin(3)),
            (
                0x40,
                2,
                vec![2, 0],
                AttributeError::AsPath(AsPathError::EmptySegment),
            ),
            (
                0x40,
                3,
                vec![1, 2, 3],
                AttributeError::Length {
                    got: 3,
                    expected: "4",
                },
            ),
            (
                0x40,
                5,
                vec![0, 0, 0, 1],
                AttributeError::LocalPrefFromExternal,
            ),
            (
                0x40,
                6,
                vec![1],
                AttributeError::Length {
                    got: 1,
                    expected: "0",
                },
            ),
            (
                0xc0,
                8,
                vec![],
                AttributeError::Length {
                    got: 0,
                    expected: "a non-zero multiple of 4",
                },
            ),
            (
                0xc0,
                16,
                vec![0; 7],
                AttributeError::Length {
                    got: 7,
                    expected: "a non-zero multiple of 8",
                },
            ),
            (
                0xc0,
                32,
                vec![0; 13],
                AttributeError::Length {
                    got: 13,
                    expected: "a non-zero multiple of 12",
                },
            ),
            (
                0x80,
                9,
                vec![0; 5],
                AttributeError::Length {
                    got: 5,
                    expected: "4",
                },
            ),
            (
                0x80,
                10,
                vec![0; 6],
                AttributeError::Length {
                    got: 6,
                    expected: "a non-zero multiple of 4",
                },
            ),
            (0x80, 14, vec![0, 1], AttributeError::Mp(MpError::NoFamily)),
            (
                0xc0,
                17,
                vec![3, 0],
                AttributeError::AsPath(AsPathError::EmptySegment),
            ),
        ];
        for (f, t, v, err) in cases {
            assert_eq!(
                PathAttribute::decode(f, t, &v, &ctx),
                Err(err.clone()),
                "type {t}"
            );
        }
    }

    #[test]
    fn mp_attributes_of_other_families_stay_raw() {
        let ctx = Context::modern();
        let a = round_trip(0x90, 14, &[0, 1, 128, 0], &ctx);
        assert!(matches!(a.value, AttributeValue::Raw { type_code: 14, .. }));
    }

    #[test]
    fn a_value_beyond_65535_bytes_is_refused_not_truncated() {
        let ctx = Context::modern();
        let a = PathAttribute::new(AttributeValue::Raw {
            type_code: 99,
            value: vec![0; 70_000],
        });
        let mut out = Vec::new();
        assert_eq!(
            a.emit(&ctx, &mut out),
            Err(super::super::EncodeError::FieldTooLong {
                what: "path attribute",
                length: 70_000
            })
        );
        assert!(out.is_empty());
    }

    #[test]
    fn long_values_switch_to_extended_length() {
        let ctx = Context::modern();
        let a = PathAttribute::new(AttributeValue::Communities(vec![Community(1); 100]));
        let mut out = Vec::new();
        a.emit(&ctx, &mut out).unwrap();
        assert_eq!(out[0], 0xd0);
        assert_eq!(out.len(), 404);
        assert_eq!(out.len(), a.buffer_len(&ctx));
    }
}
