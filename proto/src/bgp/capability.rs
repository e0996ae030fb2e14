//! Capabilities advertised in OPEN, RFC 5492.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! ~                              ~
//! +------------------------------+
//! ```
//!
//! The capabilities hostroute acts on are named; every other one is kept
//! as [`Capability::Unknown`], byte for byte, so an OPEN re-encodes exactly
//! as received. RFC 5492 section 4 says to ignore capabilities one does not
//! understand, so an unknown code is never an error. A named capability
//! whose value has the wrong length is: [`DecodeError::MalformedCapability`]
//! with the whole capability as NOTIFICATION data.

use serde::{Deserialize, Serialize};

use super::error::{DecodeError, EncodeError};
use super::iana::{Afi, AfiSafi};
use super::reader::Reader;

/// Capability codes (IANA "Capability Codes").
pub mod code {
    /// Multiprotocol Extensions, RFC 4760.
    pub const MULTIPROTOCOL: u8 = 1;
    /// Route Refresh, RFC 2918.
    pub const ROUTE_REFRESH: u8 = 2;
    /// Extended Next Hop Encoding, RFC 8950.
    pub const EXTENDED_NEXT_HOP: u8 = 5;
    /// BGP Extended Message, RFC 8654.
    pub const EXTENDED_MESSAGE: u8 = 6;
    /// BGP Role, RFC 9234 (kept as `Unknown`).
    pub const ROLE: u8 = 9;
    /// Graceful Restart, RFC 4724.
    pub const GRACEFUL_RESTART: u8 = 64;
    /// Support for 4-octet AS number, RFC 6793.
    pub const FOUR_OCTET_AS: u8 = 65;
    /// ADD-PATH, RFC 7911.
    pub const ADD_PATH: u8 = 69;
    /// Enhanced Route Refresh, RFC 7313.
    pub const ENHANCED_ROUTE_REFRESH: u8 = 70;
    /// Long-Lived Graceful Restart, RFC 9494 (kept as `Unknown`).
    pub const LONG_LIVED_GRACEFUL_RESTART: u8 = 71;
    /// FQDN (hostname), draft-walton-bgp-hostname-capability (kept as `Unknown`).
    pub const FQDN: u8 = 73;
    /// Pre-standard route refresh that FRR and Cisco still send (kept as `Unknown`).
    pub const ROUTE_REFRESH_CISCO: u8 = 128;
}

/// What a speaker offers for one family in ADD-PATH, RFC 7911 section 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum AddPathMode {
    /// Able to receive multiple paths (1).
    Receive,
    /// Able to send multiple paths (2).
    Send,
    /// Both (3).
    Both,
}

impl AddPathMode {
    pub const fn code(self) -> u8 {
        match self {
            Self::Receive => 1,
            Self::Send => 2,
            Self::Both => 3,
        }
    }

    /// `None` for values RFC 7911 does not define (0 and 4..=255).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Self::Receive),
            2 => Some(Self::Send),
            3 => Some(Self::Both),
            _ => None,
        }
    }

    pub const fn receives(self) -> bool {
        matches!(self, Self::Receive | Self::Both)
    }

    pub const fn sends(self) -> bool {
        matches!(self, Self::Send | Self::Both)
    }
}

/// The Graceful Restart capability, RFC 4724 section 3 and RFC 8538 section 2.
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits)                           |
/// +--------------------------------------------------+
/// | Restart Time in seconds (12 bits)                |
/// +--------------------------------------------------+
/// | Address Family Identifier (16 bits)              |
/// +--------------------------------------------------+
/// | Subsequent Address Family Identifier (8 bits)    |
/// +--------------------------------------------------+
/// | Flags for Address Family (8 bits)                |
/// +--------------------------------------------------+
/// | ...                                              |
/// ```
///
/// Restart Flags are `R N r r`: R restarting, N notification (RFC 8538),
/// and two reserved bits kept in `reserved_flags` so the capability
/// re-encodes as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct GracefulRestart {
    /// R: the sender has restarted (RFC 4724 section 3).
    pub restart_state: bool,
    /// N: the sender handles NOTIFICATION as graceful too (RFC 8538 section 2).
    pub notification: bool,
    /// The two reserved restart-flag bits, as the low bits `0..=3`.
    pub reserved_flags: u8,
    /// Seconds, 12 bits (`0..=4095`); larger values are sent as 4095.
    pub restart_time: u16,
    pub families: Vec<GracefulRestartFamily>,
}

/// One family of a [`GracefulRestart`] capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct GracefulRestartFamily {
    pub afi_safi: AfiSafi,
    /// F: forwarding state was preserved across the restart.
    pub forwarding_preserved: bool,
    /// The seven reserved flag bits, as the low bits `0..=0x7f`.
    pub reserved_flags: u8,
}

impl GracefulRestart {
    const R_BIT: u8 = 0x80;
    const N_BIT: u8 = 0x40;
    const RESERVED_BITS: u8 = 0x30;
    /// Largest restart time the 12-bit field holds.
    pub const MAX_RESTART_TIME: u16 = 0x0fff;
}

impl GracefulRestartFamily {
    const F_BIT: u8 = 0x80;
    const RESERVED_BITS: u8 = 0x7f;

    /// A family with no reserved bits set.
    pub fn new(afi_safi: AfiSafi, forwarding_preserved: bool) -> Self {
        Self {
            afi_safi,
            forwarding_preserved,
            reserved_flags: 0,
        }
    }
}

/// One capability TLV, RFC 5492 section 4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Capability {
    /// 1, RFC 4760 section 8: AFI (2), reserved (1), SAFI (1). The reserved
    /// octet is ignored on receipt and sent as 0.
    MultiProtocol(AfiSafi),
    /// 2, RFC 2918: no value.
    RouteRefresh,
    /// 5, RFC 8950 section 3: (NLRI AFI (2), NLRI SAFI (2), next-hop AFI (2)) triples.
    ExtendedNextHop(Vec<(AfiSafi, Afi)>),
    /// 6, RFC 8654: no value.
    ExtendedMessage,
    /// 64, RFC 4724.
    GracefulRestart(GracefulRestart),
    /// 65, RFC 6793: the speaker's AS.
    FourOctetAs(u32),
    /// 69, RFC 7911: (AFI (2), SAFI (1), Send/Receive (1)) tuples.
    AddPath(Vec<(AfiSafi, AddPathMode)>),
    /// 70, RFC 7313: no value.
    EnhancedRouteRefresh,
    /// Any other capability, kept byte for byte. Also holds an ADD-PATH
    /// capability with a Send/Receive value outside `1..=3`, which RFC 7911
    /// section 4 says to treat as not understood and ignore.
    Unknown { code: u8, value: Vec<u8> },
}

impl Capability {
    /// The capability code on the wire.
    pub fn code(&self) -> u8 {
        match self {
            Self::MultiProtocol(_) => code::MULTIPROTOCOL,
            Self::RouteRefresh => code::ROUTE_REFRESH,
            Self::ExtendedNextHop(_) => code::EXTENDED_NEXT_HOP,
            Self::ExtendedMessage => code::EXTENDED_MESSAGE,
            Self::GracefulRestart(_) => code::GRACEFUL_RESTART,
            Self::FourOctetAs(_) => code::FOUR_OCTET_AS,
            Self::AddPath(_) => code::ADD_PATH,
            Self::EnhancedRouteRefresh => code::ENHANCED_ROUTE_REFRESH,
            Self::Unknown { code, .. } => *code,
        }
    }

    /// Length of the value, without code and length octets.
    pub fn value_len(&self) -> usize {
        match self {
            Self::MultiProtocol(_) | Self::FourOctetAs(_) => 4,
            Self::RouteRefresh | Self::ExtendedMessage | Self::EnhancedRouteRefresh => 0,
            Self::ExtendedNextHop(triples) => 6 * triples.len(),
            Self::GracefulRestart(gr) => 2 + 4 * gr.families.len(),
            Self::AddPath(tuples) => 4 * tuples.len(),
            Self::Unknown { value, .. } => value.len(),
        }
    }

    /// Bytes of the whole TLV: code, length, value.
    pub fn buffer_len(&self) -> usize {
        2 + self.value_len()
    }

    /// Appends the TLV; exactly `buffer_len()` bytes, or nothing and an
    /// error when the value does not fit the one-octet length.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let len = self.value_len();
        let len = u8::try_from(len).map_err(|_| EncodeError::FieldTooLong {
            what: "capability value",
            length: len,
        })?;
        out.push(self.code());
        out.push(len);
        match self {
            Self::MultiProtocol(family) => {
                out.extend_from_slice(&u16::from(family.afi).to_be_bytes());
                out.push(0);
                out.push(family.safi.into());
            }
            Self::RouteRefresh | Self::ExtendedMessage | Self::EnhancedRouteRefresh => {}
            Self::ExtendedNextHop(triples) => {
                for (family, next_hop) in triples {
                    out.extend_from_slice(&u16::from(family.afi).to_be_bytes());
                    out.extend_from_slice(&u16::from(u8::from(family.safi)).to_be_bytes());
                    out.extend_from_slice(&u16::from(*next_hop).to_be_bytes());
                }
            }
            Self::GracefulRestart(gr) => {
                let mut flags_time = gr.restart_time.min(GracefulRestart::MAX_RESTART_TIME);
                let mut flags = (gr.reserved_flags << 4) & GracefulRestart::RESERVED_BITS;
                if gr.restart_state {
                    flags |= GracefulRestart::R_BIT;
                }
                if gr.notification {
                    flags |= GracefulRestart::N_BIT;
                }
                flags_time |= u16::from(flags) << 8;
                out.extend_from_slice(&flags_time.to_be_bytes());
                for family in &gr.families {
                    emit_afi_safi3(out, family.afi_safi);
                    let mut flags = family.reserved_flags & GracefulRestartFamily::RESERVED_BITS;
                    if family.forwarding_preserved {
                        flags |= GracefulRestartFamily::F_BIT;
                    }
                    out.push(flags);
                }
            }
            Self::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
            Self::AddPath(tuples) => {
                for (family, mode) in tuples {
                    emit_afi_safi3(out, *family);
                    out.push(mode.code());
                }
            }
            Self::Unknown { value, .. } => out.extend_from_slice(value),
        }
        Ok(())
    }

    /// Parses the value of a Capabilities optional parameter: zero or more
    /// capabilities back to back, RFC 5492 section 4.
    ///
    /// A TLV that overruns the parameter is [`DecodeError::MalformedOpen`];
    /// a named capability with a bad value is [`DecodeError::MalformedCapability`].
    pub fn parse_list(buf: &[u8]) -> Result<Vec<Capability>, DecodeError> {
        let mut r = Reader::new(buf);
        // Each capability takes at least two bytes.
        let mut caps = Vec::with_capacity(buf.len() / 2);
        while !r.is_empty() {
            caps.push(Self::parse(&mut r)?);
        }
        Ok(caps)
    }

    /// Parses one TLV from the front of `r`.
    pub(crate) fn parse(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let start = r.rest();
        let overrun = DecodeError::MalformedOpen {
            reason: "capability overruns its optional parameter",
        };
        let (Some(code), Some(len)) = (r.u8(), r.u8()) else {
            return Err(overrun);
        };
        let Some(value) = r.take(usize::from(len)) else {
            return Err(overrun);
        };
        let malformed = |reason: &'static str| DecodeError::MalformedCapability {
            code,
            reason,
            capability: start.get(..2 + usize::from(len)).unwrap_or(start).to_vec(),
        };
        parse_value(code, value).map_err(malformed)
    }
}

/// Decodes a capability value; the error is the reason it is malformed.
fn parse_value(code: u8, value: &[u8]) -> Result<Capability, &'static str> {
    let mut r = Reader::new(value);
    let cap = match code {
        code::MULTIPROTOCOL => {
            let (Some(afi), Some(_reserved), Some(safi)) = (r.u16(), r.u8(), r.u8()) else {
                return Err("multiprotocol value is not 4 bytes");
            };
            expect_end(&r, "multiprotocol value is not 4 bytes")?;
            Capability::MultiProtocol(AfiSafi::new(afi, safi))
        }
        code::ROUTE_REFRESH => {
            expect_end(&r, "route refresh has a value")?;
            Capability::RouteRefresh
        }
        code::EXTENDED_MESSAGE => {
            expect_end(&r, "extended message has a value")?;
            Capability::ExtendedMessage
        }
        code::ENHANCED_ROUTE_REFRESH => {
            expect_end(&r, "enhanced route refresh has a value")?;
            Capability::EnhancedRouteRefresh
        }
        code::FOUR_OCTET_AS => {
            let Some(asn) = r.u32() else {
                return Err("4-octet AS value is not 4 bytes");
            };
            expect_end(&r, "4-octet AS value is not 4 bytes")?;
            Capability::FourOctetAs(asn)
        }
        code::EXTENDED_NEXT_HOP => {
            if !value.len().is_multiple_of(6) {
                return Err("extended next hop value is not a multiple of 6 bytes");
            }
            let mut triples = Vec::with_capacity(value.len() / 6);
            while let (Some(afi), Some(safi), Some(next_hop)) = (r.u16(), r.u16(), r.u16()) {
                let safi = u8::try_from(safi).map_err(|_| "extended next hop SAFI above 255")?;
                triples.push((AfiSafi::new(afi, safi), Afi::from(next_hop)));
            }
            Capability::ExtendedNextHop(triples)
        }
        code::GRACEFUL_RESTART => {
            let Some(flags_time) = r.u16() else {
                return Err("graceful restart value shorter than 2 bytes");
            };
            if !r.len().is_multiple_of(4) {
                return Err("graceful restart families are not a multiple of 4 bytes");
            }
            let [flags, _] = flags_time.to_be_bytes();
            let mut families = Vec::with_capacity(r.len() / 4);
            while let (Some(afi), Some(safi), Some(af_flags)) = (r.u16(), r.u8(), r.u8()) {
                families.push(GracefulRestartFamily {
                    afi_safi: AfiSafi::new(afi, safi),
                    forwarding_preserved: af_flags & GracefulRestartFamily::F_BIT != 0,
                    reserved_flags: af_flags & GracefulRestartFamily::RESERVED_BITS,
                });
            }
            Capability::GracefulRestart(GracefulRestart {
                restart_state: flags & GracefulRestart::R_BIT != 0,
                notification: flags & GracefulRestart::N_BIT != 0,
                reserved_flags: (flags & GracefulRestart::RESERVED_BITS) >> 4,
                restart_time: flags_time & GracefulRestart::MAX_RESTART_TIME,
                families,
            })
        }
        code::ADD_PATH => {
            if !value.len().is_multiple_of(4) {
                return Err("ADD-PATH value is not a multiple of 4 bytes");
            }
            let mut tuples = Vec::with_capacity(value.len() / 4);
            while let (Some(afi), Some(safi), Some(mode)) = (r.u16(), r.u8(), r.u8()) {
                let Some(mode) = AddPathMode::from_code(mode) else {
                    // RFC 7911 section 4: "treated as not understood and ignored".
                    return Ok(Capability::Unknown {
                        code,
                        value: value.to_vec(),
                    });
                };
                tuples.push((AfiSafi::new(afi, safi), mode));
            }
            Capability::AddPath(tuples)
        }
        _ => Capability::Unknown {
            code,
            value: value.to_vec(),
        },
    };
    Ok(cap)
}

fn expect_end(r: &Reader<'_>, reason: &'static str) -> Result<(), &'static str> {
    if r.is_empty() { Ok(()) } else { Err(reason) }
}

/// AFI (2 octets) and SAFI (1 octet), as ADD-PATH and graceful restart write them.
fn emit_afi_safi3(out: &mut Vec<u8>, family: AfiSafi) {
    out.extend_from_slice(&u16::from(family.afi).to_be_bytes());
    out.push(family.safi.into());
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::bgp::iana::Safi;

    fn emit(cap: &Capability) -> Vec<u8> {
        let mut out = Vec::new();
        cap.emit(&mut out).unwrap();
        assert_eq!(out.len(), cap.buffer_len());
        out
    }

    fn parse_one(bytes: &[u8]) -> Result<Capability, DecodeError> {
        let mut r = Reader::new(bytes);
        let cap = Capability::parse(&mut r)?;
        assert!(r.is_empty(), "trailing bytes");
        Ok(cap)
    }

    #[test]
    fn rfc4760_multiprotocol_ignores_the_reserved_octet() {
        let cap = Capability::MultiProtocol(AfiSafi::IPV6_UNICAST);
        assert_eq!(emit(&cap), [1, 4, 0, 2, 0, 1]);
        assert_eq!(parse_one(&[1, 4, 0, 2, 0, 1]), Ok(cap.clone()));
        assert_eq!(parse_one(&[1, 4, 0, 2, 7, 1]), Ok(cap));
    }

    #[test]
    fn rfc8950_extended_next_hop_has_a_two_octet_safi() {
        let cap = Capability::ExtendedNextHop(vec![
            (AfiSafi::IPV4_UNICAST, Afi::Ipv6),
            (AfiSafi::new(1u16, 128u8), Afi::Ipv6),
        ]);
        let bytes = [5, 12, 0, 1, 0, 1, 0, 2, 0, 1, 0, 128, 0, 2];
        assert_eq!(emit(&cap), bytes);
        assert_eq!(parse_one(&bytes), Ok(cap));
    }

    #[test]
    fn rfc4724_graceful_restart_keeps_flags_and_reserved_bits() {
        // R and N set, one reserved bit, 120 s; IPv4 unicast with F and a
        // reserved bit, IPv6 unicast without.
        let bytes = [64, 10, 0xd0, 0x78, 0, 1, 1, 0x81, 0, 2, 1, 0];
        let cap = parse_one(&bytes).unwrap();
        let Capability::GracefulRestart(gr) = &cap else {
            panic!("{cap:?}")
        };
        assert!(gr.restart_state && gr.notification);
        assert_eq!(gr.reserved_flags, 1);
        assert_eq!(gr.restart_time, 120);
        assert_eq!(
            gr.families,
            [
                GracefulRestartFamily {
                    afi_safi: AfiSafi::IPV4_UNICAST,
                    forwarding_preserved: true,
                    reserved_flags: 1,
                },
                GracefulRestartFamily::new(AfiSafi::IPV6_UNICAST, false),
            ]
        );
        assert_eq!(emit(&cap), bytes);
    }

    #[test]
    fn graceful_restart_time_beyond_12_bits_is_sent_as_the_maximum() {
        let cap = Capability::GracefulRestart(GracefulRestart {
            restart_state: false,
            notification: false,
            reserved_flags: 0,
            restart_time: 5000,
            families: vec![],
        });
        assert_eq!(emit(&cap), [64, 2, 0x0f, 0xff]);
    }

    #[test]
    fn rfc7911_add_path_modes() {
        let cap = Capability::AddPath(vec![
            (AfiSafi::IPV4_UNICAST, AddPathMode::Receive),
            (AfiSafi::IPV6_UNICAST, AddPathMode::Both),
        ]);
        let bytes = [69, 8, 0, 1, 1, 1, 0, 2, 1, 3];
        assert_eq!(emit(&cap), bytes);
        assert_eq!(parse_one(&bytes), Ok(cap));
        assert!(AddPathMode::Both.sends() && AddPathMode::Both.receives());
        assert!(!AddPathMode::Send.receives() && !AddPathMode::Receive.sends());
    }

    #[test]
    fn rfc7911_add_path_with_an_undefined_mode_is_ignored_not_fatal() {
        for mode in [0u8, 4, 255] {
            let bytes = [69, 8, 0, 1, 1, 1, 0, 2, 1, mode];
            let cap = parse_one(&bytes).unwrap();
            assert_eq!(
                cap,
                Capability::Unknown {
                    code: 69,
                    value: bytes[2..].to_vec()
                }
            );
            assert_eq!(emit(&cap), bytes);
        }
    }

    #[test]
    fn value_less_capabilities_and_four_octet_as() {
        for (cap, bytes) in [
            (Capability::RouteRefresh, vec![2, 0]),
            (Capability::ExtendedMessage, vec![6, 0]),
            (Capability::EnhancedRouteRefresh, vec![70, 0]),
            (
                Capability::FourOctetAs(4_200_000_001),
                vec![65, 4, 0xfa, 0x56, 0xea, 0x01],
            ),
        ] {
            assert_eq!(emit(&cap), bytes);
            assert_eq!(parse_one(&bytes), Ok(cap));
        }
    }

    #[test]
    fn unknown_capabilities_round_trip_byte_for_byte() {
        for bytes in [
            vec![code::ROUTE_REFRESH_CISCO, 0],
            vec![code::ROLE, 1, 4],
            vec![code::LONG_LIVED_GRACEFUL_RESTART, 0],
            // FQDN: hostname "leaf1", no domain.
            vec![code::FQDN, 7, 5, b'l', b'e', b'a', b'f', b'1', 0],
            vec![200, 3, 1, 2, 3],
        ] {
            let cap = parse_one(&bytes).unwrap();
            assert!(matches!(cap, Capability::Unknown { .. }), "{cap:?}");
            assert_eq!(cap.code(), bytes[0]);
            assert_eq!(emit(&cap), bytes);
        }
    }

    #[test]
    fn rfc5492_a_named_capability_of_the_wrong_length_is_malformed_with_the_tlv_as_data() {
        let cases: &[&[u8]] = &[
            &[1, 3, 0, 1, 0],
            &[1, 5, 0, 1, 0, 1, 0],
            &[2, 1, 0],
            &[6, 1, 0],
            &[70, 2, 0, 0],
            &[65, 2, 0xfd, 0xe8],
            &[65, 5, 0, 0, 0xfd, 0xe8, 0],
            &[5, 5, 0, 1, 0, 1, 0],
            &[5, 6, 0, 1, 1, 1, 0, 2], // SAFI 257
            &[64, 1, 0],
            &[64, 0],
            &[64, 5, 0, 120, 0, 1, 1],
            &[69, 3, 0, 1, 1],
        ];
        for &tlv in cases {
            let err = parse_one(tlv).unwrap_err();
            let DecodeError::MalformedCapability {
                code, capability, ..
            } = &err
            else {
                panic!("{tlv:?}: {err:?}")
            };
            assert_eq!(*code, tlv[0]);
            assert_eq!(capability.as_slice(), tlv);
            let n = err.notification();
            assert_eq!(n.error.codes(), (2, 0));
            assert_eq!(n.data, tlv);
        }
    }

    #[test]
    fn a_capability_overrunning_its_parameter_is_a_malformed_open() {
        for bytes in [&[65u8][..], &[65, 4, 0, 0], &[2, 1]] {
            let err = Capability::parse_list(bytes).unwrap_err();
            assert!(matches!(err, DecodeError::MalformedOpen { .. }), "{err:?}");
            assert_eq!(err.notification().error.codes(), (2, 0));
        }
        assert_eq!(Capability::parse_list(&[]), Ok(vec![]));
    }

    #[test]
    fn a_value_longer_than_255_bytes_cannot_be_emitted() {
        let cap = Capability::Unknown {
            code: 99,
            value: vec![0; 256],
        };
        let mut out = Vec::new();
        assert_eq!(
            cap.emit(&mut out),
            Err(EncodeError::FieldTooLong {
                what: "capability value",
                length: 256
            })
        );
        assert!(out.is_empty());
    }

    pub(crate) fn afi_safi() -> impl Strategy<Value = AfiSafi> {
        let afi = prop_oneof![
            Just(Afi::Ipv4),
            Just(Afi::Ipv6),
            (3u16..).prop_map(Afi::from)
        ];
        let safi = prop_oneof![
            Just(Safi::Unicast),
            Just(Safi::Multicast),
            (3u8..).prop_map(Safi::from),
            Just(Safi::Other(0)),
        ];
        (afi, safi).prop_map(|(afi, safi)| AfiSafi { afi, safi })
    }

    fn add_path_mode() -> impl Strategy<Value = AddPathMode> {
        prop_oneof![
            Just(AddPathMode::Receive),
            Just(AddPathMode::Send),
            Just(AddPathMode::Both)
        ]
    }

    const NAMED: [u8; 8] = [1, 2, 5, 6, 64, 65, 69, 70];

    /// Valid capabilities: values that survive `parse(emit(x)) == x`.
    pub(crate) fn capability() -> impl Strategy<Value = Capability> {
        let afi = prop_oneof![
            Just(Afi::Ipv4),
            Just(Afi::Ipv6),
            (3u16..).prop_map(Afi::from)
        ];
        let gr_family =
            (afi_safi(), any::<bool>(), 0u8..0x80).prop_map(|(f, p, r)| GracefulRestartFamily {
                afi_safi: f,
                forwarding_preserved: p,
                reserved_flags: r,
            });
        let gr = (
            any::<bool>(),
            any::<bool>(),
            0u8..4,
            0u16..=4095,
            prop::collection::vec(gr_family, 0..6),
        )
            .prop_map(|(r, n, reserved, time, families)| {
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: r,
                    notification: n,
                    reserved_flags: reserved,
                    restart_time: time,
                    families,
                })
            });
        prop_oneof![
            afi_safi().prop_map(Capability::MultiProtocol),
            Just(Capability::RouteRefresh),
            prop::collection::vec((afi_safi(), afi), 0..6).prop_map(Capability::ExtendedNextHop),
            Just(Capability::ExtendedMessage),
            gr,
            any::<u32>().prop_map(Capability::FourOctetAs),
            prop::collection::vec((afi_safi(), add_path_mode()), 0..6)
                .prop_map(Capability::AddPath),
            Just(Capability::EnhancedRouteRefresh),
            (
                any::<u8>().prop_filter("named", |c| !NAMED.contains(c)),
                prop::collection::vec(any::<u8>(), 0..40)
            )
                .prop_map(|(code, value)| Capability::Unknown { code, value }),
        ]
    }

    proptest! {
        #[test]
        fn parse_of_emit_is_identity(caps in prop::collection::vec(capability(), 0..8)) {
            let mut bytes = Vec::new();
            for cap in &caps {
                cap.emit(&mut bytes).unwrap();
            }
            prop_assert_eq!(Capability::parse_list(&bytes), Ok(caps));
        }

        #[test]
        fn parse_never_panics_and_what_parses_re_emits(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(caps) = Capability::parse_list(&bytes) {
                let mut out = Vec::new();
                for cap in &caps {
                    cap.emit(&mut out).unwrap();
                }
                prop_assert_eq!(Capability::parse_list(&out), Ok(caps));
            }
        }
    }
}
