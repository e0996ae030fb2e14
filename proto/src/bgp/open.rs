//! OPEN message, RFC 4271 section 4.2, carrying capabilities (RFC 5492) in
//! optional parameters whose lengths may be extended (RFC 9072).
//!
//! Implementations group capabilities differently, and an OPEN must
//! re-encode exactly as received, so [`Open`] keeps the grouping: one
//! `Vec<Capability>` per Capabilities optional parameter. BIRD and GoBGP
//! send one parameter holding every capability; FRR and ExaBGP 4.2 send one
//! parameter per capability. RFC 9072 encoding is kept as a flag.
//!
//! Parsing checks every length before reading (FRR's CVE-2022-40302,
//! 40318 and 43681 were reads past the end of exactly these fields).

use std::net::Ipv4Addr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::capability::Capability;
use super::error::{DecodeError, EncodeError};
use super::header::{HEADER_LEN, MAX_MESSAGE_LEN, emit_header};
use super::iana::{AS_TRANS, MessageType};
use super::reader::Reader;

/// Hold Time in seconds: 0 (no KEEPALIVEs, no hold timer) or at least 3,
/// RFC 4271 section 4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct HoldTime(u16);

impl HoldTime {
    /// Hold timer disabled: no KEEPALIVE is sent or expected.
    pub const DISABLED: Self = Self(0);
    /// The suggested default, RFC 4271 section 10.
    pub const DEFAULT: Self = Self(90);
    /// The smallest non-zero hold time.
    pub const MIN: Self = Self(3);

    /// `Err(UnacceptableHoldTime)` for 1 and 2 seconds (RFC 4271 section 6.2).
    pub const fn new(seconds: u16) -> Result<Self, DecodeError> {
        match seconds {
            1 | 2 => Err(DecodeError::UnacceptableHoldTime { hold_time: seconds }),
            s => Ok(Self(s)),
        }
    }

    pub const fn seconds(self) -> u16 {
        self.0
    }

    pub const fn is_disabled(self) -> bool {
        self.0 == 0
    }

    /// The session's hold time: the smaller of the two OPENs' (RFC 4271
    /// section 4.2), so 0 if either side sent 0.
    pub fn negotiate(local: Self, remote: Self) -> Self {
        local.min(remote)
    }

    /// The hold timer, `None` when disabled.
    pub fn duration(self) -> Option<Duration> {
        (!self.is_disabled()).then(|| Duration::from_secs(self.0.into()))
    }

    /// One third of the hold time in whole seconds (RFC 4271 section 10),
    /// so never more than one KEEPALIVE per second; `None` when disabled.
    pub fn keepalive_interval(self) -> Option<Duration> {
        (!self.is_disabled()).then(|| Duration::from_secs((self.0 / 3).into()))
    }
}

impl TryFrom<u16> for HoldTime {
    type Error = DecodeError;

    fn try_from(seconds: u16) -> Result<Self, DecodeError> {
        Self::new(seconds)
    }
}

impl From<HoldTime> for u16 {
    fn from(h: HoldTime) -> u16 {
        h.0
    }
}

#[cfg(feature = "arbitrary")]
impl<'a> arbitrary::Arbitrary<'a> for HoldTime {
    fn arbitrary(u: &mut arbitrary::Unstructured<'a>) -> arbitrary::Result<Self> {
        let seconds = u16::arbitrary(u)?;
        Ok(Self::new(seconds).unwrap_or(Self::MIN))
    }
}

/// Optional parameter types (IANA "BGP OPEN Optional Parameter Types").
pub mod param {
    /// Authentication Information, deprecated by RFC 5492: refused.
    pub const AUTHENTICATION: u8 = 1;
    /// Capabilities, RFC 5492.
    pub const CAPABILITIES: u8 = 2;
    /// Marks the RFC 9072 encoding, only as the first type.
    pub const EXTENDED_LENGTH: u8 = 255;
}

/// OPEN message, RFC 4271 section 4.2.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+
/// |    Version    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     My Autonomous System      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Hold Time           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         BGP Identifier                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Opt Parm Len  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             Optional Parameters (variable)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
///  each parameter: | Parm. Type (1) | Parm. Length (1) | Value |
/// ```
///
/// With RFC 9072 (section 2), `Opt Parm Len` is followed by a type of 255
/// and a two-octet length, and each parameter's length is two octets:
///
/// ```text
/// |Non-Ext OP Len.|Non-Ext OP Type| Extended Opt. Parm. Length    |
/// |  Parm. Type   |        Parameter Length       | Value ...     |
/// ```
///
/// The version is always 4 (anything else is refused on parse), so it is
/// the constant [`Open::VERSION`] rather than a field. The only optional
/// parameter type accepted is Capabilities (2): any other is
/// `UnsupportedOptionalParameter` (RFC 4271 section 6.2; type 1 is
/// deprecated by RFC 5492), so no other kind needs a place here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Open {
    /// The 2-octet AS field as on the wire: `AS_TRANS` for a 4-octet AS.
    pub my_as: u16,
    pub hold_time: HoldTime,
    pub bgp_id: Ipv4Addr,
    /// Capabilities optional parameters in wire order, each holding its
    /// capabilities in wire order.
    pub params: Vec<Vec<Capability>>,
    /// The optional parameters use the RFC 9072 extended-length encoding.
    pub extended_params: bool,
}

impl Open {
    /// The only BGP version.
    pub const VERSION: u8 = 4;
    /// Version, AS, hold time, identifier and optional parameters length.
    const FIXED_LEN: usize = 10;
    /// The shortest OPEN, header included (RFC 4271 section 4.2).
    pub const MIN_LEN: usize = HEADER_LEN + Self::FIXED_LEN;

    /// An OPEN with every capability in one optional parameter (as BIRD,
    /// GoBGP and RFC 5492 section 4 do) or none if there are none.
    /// `asn` above 65535 goes on the wire as `AS_TRANS`; the caller adds
    /// [`Capability::FourOctetAs`].
    pub fn new(
        asn: u32,
        hold_time: HoldTime,
        bgp_id: Ipv4Addr,
        capabilities: Vec<Capability>,
    ) -> Self {
        Self {
            my_as: u16::try_from(asn).unwrap_or(AS_TRANS),
            hold_time,
            bgp_id,
            params: if capabilities.is_empty() {
                Vec::new()
            } else {
                vec![capabilities]
            },
            extended_params: false,
        }
    }

    /// Every capability, across parameters, in wire order.
    pub fn capabilities(&self) -> impl Iterator<Item = &Capability> {
        self.params.iter().flatten()
    }

    /// Whether any capability with this code was advertised.
    pub fn has_capability(&self, code: u8) -> bool {
        self.capabilities().any(|c| c.code() == code)
    }

    /// The AS of the first 4-octet AS capability (RFC 6793), if any.
    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities().find_map(|c| match c {
            Capability::FourOctetAs(asn) => Some(*asn),
            _ => None,
        })
    }

    /// The sender's AS: from the 4-octet AS capability when present,
    /// else the 2-octet field.
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(self.my_as.into())
    }

    /// Parses the message body (after the 19-byte header) and checks it
    /// per RFC 4271 section 6.2, in this order: length, version, AS (and
    /// RFC 7607's AS 0), hold time, BGP identifier (RFC 6286), optional
    /// parameters and capabilities, 4-octet AS 0.
    pub fn parse_body(body: &[u8]) -> Result<Self, DecodeError> {
        let bad_length = DecodeError::BadLength {
            length: u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX),
        };
        if HEADER_LEN + body.len() > usize::from(MAX_MESSAGE_LEN) {
            return Err(bad_length);
        }
        let mut r = Reader::new(body);
        let (Some(version), Some(my_as), Some(hold_time), Some(bgp_id), Some(opt_len)) =
            (r.u8(), r.u16(), r.u16(), r.u32(), r.u8())
        else {
            return Err(bad_length);
        };
        if version != Self::VERSION {
            return Err(DecodeError::UnsupportedVersion { version });
        }
        if my_as == 0 {
            return Err(DecodeError::BadPeerAs { asn: 0 });
        }
        let hold_time = HoldTime::new(hold_time)?;
        let bgp_id = Ipv4Addr::from(bgp_id);
        if bgp_id.is_unspecified() {
            return Err(DecodeError::BadBgpIdentifier { id: bgp_id });
        }
        let (params, extended_params) = parse_params(opt_len, r)?;
        let open = Self {
            my_as,
            hold_time,
            bgp_id,
            params,
            extended_params,
        };
        if open
            .capabilities()
            .any(|c| *c == Capability::FourOctetAs(0))
        {
            return Err(DecodeError::BadPeerAs { asn: 0 });
        }
        Ok(open)
    }

    /// Bytes of one parameter's header: type and a one- or two-octet length.
    fn param_header_len(&self) -> usize {
        if self.extended_params { 3 } else { 2 }
    }

    /// Bytes after `Opt Parm Len` (RFC 9072: after `Extended Opt. Parm. Length`).
    fn params_len(&self) -> usize {
        let header = self.param_header_len();
        self.params
            .iter()
            .map(|caps| header + caps.iter().map(Capability::buffer_len).sum::<usize>())
            .sum()
    }

    /// Bytes of the whole message, header included.
    pub fn buffer_len(&self) -> usize {
        let ext_len_field = if self.extended_params { 3 } else { 0 };
        Self::MIN_LEN + ext_len_field + self.params_len()
    }

    /// Appends the whole message, header included: exactly `buffer_len()`
    /// bytes, or nothing and an error if it does not fit. An OPEN is
    /// never longer than 4096 bytes (RFC 8654 section 4); without RFC 9072
    /// each parameter and all of them together are at most 255 bytes.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start = out.len();
        let result = self.emit_unchecked(out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    fn emit_unchecked(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let length = self.buffer_len();
        let too_long = EncodeError::TooLong {
            length,
            max: MAX_MESSAGE_LEN,
        };
        if length > usize::from(MAX_MESSAGE_LEN) {
            return Err(too_long);
        }
        let params_len = self.params_len();
        emit_header(
            out,
            u16::try_from(length).map_err(|_| too_long)?,
            MessageType::Open,
        );
        out.push(Self::VERSION);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.seconds().to_be_bytes());
        out.extend_from_slice(&self.bgp_id.octets());
        if self.extended_params {
            out.push(param::EXTENDED_LENGTH);
            out.push(param::EXTENDED_LENGTH);
            out.extend_from_slice(&field_u16("optional parameters", params_len)?.to_be_bytes());
        } else {
            out.push(field_u8("optional parameters", params_len)?);
        }
        for caps in &self.params {
            let len: usize = caps.iter().map(Capability::buffer_len).sum();
            out.push(param::CAPABILITIES);
            if self.extended_params {
                out.extend_from_slice(&field_u16("optional parameter", len)?.to_be_bytes());
            } else {
                out.push(field_u8("optional parameter", len)?);
            }
            for cap in caps {
                cap.emit(out)?;
            }
        }
        Ok(())
    }
}

fn field_u8(what: &'static str, length: usize) -> Result<u8, EncodeError> {
    u8::try_from(length).map_err(|_| EncodeError::FieldTooLong { what, length })
}

fn field_u16(what: &'static str, length: usize) -> Result<u16, EncodeError> {
    u16::try_from(length).map_err(|_| EncodeError::FieldTooLong { what, length })
}

/// Parses everything after `Opt Parm Len`; `r` holds exactly those bytes.
fn parse_params(
    opt_len: u8,
    mut r: Reader<'_>,
) -> Result<(Vec<Vec<Capability>>, bool), DecodeError> {
    let disagrees = DecodeError::MalformedOpen {
        reason: "optional parameters length disagrees with the message length",
    };
    // RFC 9072 section 2: a non-zero Non-Ext OP Len followed by a type of
    // 255 announces the extended encoding; Non-Ext OP Len is then ignored.
    let extended = opt_len != 0 && r.rest().first() == Some(&param::EXTENDED_LENGTH);
    if extended {
        let (Some(_), Some(ext_len)) = (r.u8(), r.u16()) else {
            return Err(DecodeError::MalformedOpen {
                reason: "extended optional parameters length is cut short",
            });
        };
        if usize::from(ext_len) != r.len() {
            return Err(disagrees);
        }
    } else if usize::from(opt_len) != r.len() {
        return Err(disagrees);
    }
    let mut params = Vec::new();
    while !r.is_empty() {
        let param_type = r.u8();
        let len = if extended {
            r.u16()
        } else {
            r.u8().map(u16::from)
        };
        let (Some(param_type), Some(len)) = (param_type, len) else {
            return Err(DecodeError::MalformedOpen {
                reason: "optional parameter header is cut short",
            });
        };
        let Some(value) = r.take(usize::from(len)) else {
            return Err(DecodeError::MalformedOpen {
                reason: "optional parameter overruns the optional parameters",
            });
        };
        if param_type != param::CAPABILITIES {
            return Err(DecodeError::UnsupportedOptionalParameter { param_type });
        }
        params.push(Capability::parse_list(value)?);
    }
    Ok((params, extended))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::bgp::capability::tests::capability;
    use crate::bgp::capability::{AddPathMode, GracefulRestart};
    use crate::bgp::header::MARKER;
    use crate::bgp::iana::AfiSafi;

    /// A whole message from its body.
    fn message(body: &[u8]) -> Vec<u8> {
        let mut m = MARKER.to_vec();
        m.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
        m.push(1);
        m.extend_from_slice(body);
        m
    }

    fn emit(open: &Open) -> Vec<u8> {
        let mut out = Vec::new();
        open.emit(&mut out).unwrap();
        assert_eq!(out.len(), open.buffer_len());
        out
    }

    /// Parses a whole message, checks it re-encodes byte for byte, returns it.
    fn round_trip(bytes: &[u8]) -> Open {
        let open = Open::parse_body(&bytes[HEADER_LEN..]).unwrap();
        assert_eq!(emit(&open), bytes, "{open:#?}");
        open
    }

    /// Version 4, AS 65001, hold 90, BGP ID 10.0.0.1, then `params`
    /// (starting with the optional parameters length).
    fn body(params: &[u8]) -> Vec<u8> {
        let mut b = vec![4, 0xfd, 0xe9, 0, 90, 10, 0, 0, 1];
        b.extend_from_slice(params);
        b
    }

    #[test]
    fn hold_time_is_zero_or_at_least_three() {
        assert_eq!(HoldTime::new(0), Ok(HoldTime::DISABLED));
        assert_eq!(HoldTime::new(3), Ok(HoldTime::MIN));
        assert_eq!(HoldTime::new(65535).map(HoldTime::seconds), Ok(65535));
        for s in [1, 2] {
            let err = HoldTime::new(s).unwrap_err();
            assert_eq!(err, DecodeError::UnacceptableHoldTime { hold_time: s });
            assert_eq!(err.notification().error.codes(), (2, 6));
        }
        assert!(serde_json::from_str::<HoldTime>("2").is_err());
        assert_eq!(serde_json::from_str::<HoldTime>("9").unwrap(), HoldTime(9));
        assert_eq!(serde_json::to_string(&HoldTime(9)).unwrap(), "9");
    }

    /// Shaped like BIRD 2.0.12's OPEN with the defaults (one IPv4 channel,
    /// route refresh, graceful restart and long-lived GR "aware"): every
    /// capability in a single optional parameter, in bgp_write_capabilities
    /// order. GoBGP also puts all capabilities in one parameter.
    #[test]
    fn bird_style_all_capabilities_in_one_parameter() {
        let bytes = message(&[
            4, 0xfd, 0xeb, 0, 3, 10, 0, 0, 3, // version, AS 65003, hold 3, 10.0.0.3
            24, 2, 22, // opt parm len, capabilities parameter
            1, 4, 0, 1, 0, 1, // multiprotocol IPv4 unicast
            2, 0, // route refresh
            64, 2, 0, 120, // graceful restart, aware only, 120 s
            65, 4, 0, 0, 0xfd, 0xeb, // 4-octet AS 65003
            70, 0, // enhanced route refresh
            71, 0, // long-lived graceful restart, aware only
        ]);
        let open = round_trip(&bytes);
        assert!(!open.extended_params);
        assert_eq!(open.asn(), 65003);
        let expected = Open::new(
            65003,
            HoldTime(3),
            Ipv4Addr::new(10, 0, 0, 3),
            vec![
                Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
                Capability::RouteRefresh,
                Capability::GracefulRestart(GracefulRestart {
                    restart_state: false,
                    notification: false,
                    reserved_flags: 0,
                    restart_time: 120,
                    families: vec![],
                }),
                Capability::FourOctetAs(65003),
                Capability::EnhancedRouteRefresh,
                Capability::Unknown {
                    code: 71,
                    value: vec![],
                },
            ],
        );
        assert_eq!(open, expected);
    }

    /// Shaped like FRR 8.4's OPEN (`frr defaults datacenter`, IPv4
    /// unicast, hostname "peer"): one capability per optional parameter,
    /// in bgp_open_capability order. ExaBGP 4.2 also sends one per parameter.
    const FRR_STYLE: &[u8] = &[
        4, 0xfd, 0xea, 0, 3, 10, 0, 0, 2,  // version, AS 65002, hold 3, 10.0.0.2
        63, // opt parm len
        2, 6, 1, 4, 0, 1, 0, 1, // multiprotocol IPv4 unicast
        2, 2, 2, 0, // route refresh
        2, 2, 70, 0, // enhanced route refresh
        2, 6, 65, 4, 0, 0, 0xfd, 0xea, // 4-octet AS 65002
        2, 2, 6, 0, // extended message
        2, 6, 69, 4, 0, 1, 1, 1, // ADD-PATH IPv4 unicast receive
        2, 8, 73, 6, 4, b'p', b'e', b'e', b'r', 0, // FQDN "peer", no domain
        2, 4, 64, 2, 0x40, 120, // graceful restart, N bit, 120 s
        2, 9, 71, 7, 0, 1, 1, 0x80, 0, 0, 0, // long-lived GR IPv4 unicast
    ];

    #[test]
    fn frr_style_one_capability_per_parameter() {
        let open = round_trip(&message(FRR_STYLE));
        assert_eq!(open.params.len(), 9);
        assert!(open.params.iter().all(|p| p.len() == 1));
        assert_eq!(open.four_octet_as(), Some(65002));
        assert!(open.has_capability(6));
        assert_eq!(
            open.params[5],
            [Capability::AddPath(vec![(
                AfiSafi::IPV4_UNICAST,
                AddPathMode::Receive
            )])]
        );
        let Capability::GracefulRestart(gr) = &open.params[7][0] else {
            panic!("{:?}", open.params[7])
        };
        assert!(gr.notification && !gr.restart_state);
    }

    /// FRR with `neighbor X extended-optional-parameters` forces the RFC
    /// 9072 encoding: Non-Ext OP Len and Type 255, then two-octet lengths.
    #[test]
    fn rfc9072_forced_extended_encoding_with_one_capability_per_parameter() {
        let bytes = message(&body(&[
            255, 255, 0, 23, // non-ext len and type, extended length 23
            2, 0, 6, 1, 4, 0, 1, 0, 1, // multiprotocol IPv4 unicast
            2, 0, 2, 2, 0, // route refresh
            2, 0, 6, 65, 4, 0, 0, 0xfd, 0xe9, // 4-octet AS 65001
        ]));
        let open = round_trip(&bytes);
        assert!(open.extended_params);
        assert_eq!(open.params.len(), 3);
        assert_eq!(open.asn(), 65001);
    }

    /// BIRD switches to RFC 9072 when its single parameter would pass 253
    /// bytes; here 45 families of 6 bytes each.
    #[test]
    fn rfc9072_one_long_parameter() {
        let caps: Vec<Capability> = (1..=45u8)
            .map(|safi| Capability::MultiProtocol(AfiSafi::new(1u16, safi)))
            .collect();
        let mut open = Open::new(65001, HoldTime::DEFAULT, Ipv4Addr::new(10, 0, 0, 1), caps);
        let mut out = Vec::new();
        assert_eq!(
            open.emit(&mut out),
            Err(EncodeError::FieldTooLong {
                what: "optional parameters",
                length: 272
            })
        );
        assert!(out.is_empty(), "nothing written on error");
        open.extended_params = true;
        let bytes = emit(&open);
        assert_eq!(bytes[28..35], [255, 255, 0x01, 0x11, 2, 0x01, 0x0e]);
        assert_eq!(Open::parse_body(&bytes[HEADER_LEN..]), Ok(open));
    }

    #[test]
    fn rfc9072_non_ext_length_is_ignored_once_the_type_says_extended() {
        // Non-Ext OP Len 4 instead of the recommended 255.
        let b = body(&[4, 255, 0, 5, 2, 0, 2, 2, 0]);
        let open = Open::parse_body(&b).unwrap();
        assert!(open.extended_params);
        assert_eq!(open.params, [vec![Capability::RouteRefresh]]);
        // Re-encoded with 255, as RFC 9072 says to send.
        assert_eq!(emit(&open)[28], 255);
    }

    #[test]
    fn exactly_255_bytes_of_parameters_fit_the_standard_encoding() {
        let caps = vec![Capability::Unknown {
            code: 200,
            value: vec![7; 251],
        }];
        let open = Open::new(65001, HoldTime::DEFAULT, Ipv4Addr::new(10, 0, 0, 1), caps);
        let bytes = emit(&open);
        assert_eq!(bytes[28..30], [255, 2]);
        assert_eq!(Open::parse_body(&bytes[HEADER_LEN..]), Ok(open));
    }

    #[test]
    fn an_open_without_parameters_and_the_2_octet_as() {
        let open = round_trip(&message(&body(&[0])));
        assert_eq!(open.params, Vec::<Vec<Capability>>::new());
        assert_eq!(open.asn(), 65001);
        assert_eq!(open.four_octet_as(), None);
        assert_eq!(open.buffer_len(), Open::MIN_LEN);
        // An empty capabilities parameter is kept too.
        let open = round_trip(&message(&body(&[2, 2, 0])));
        assert_eq!(open.params, [vec![]]);
    }

    #[test]
    fn rfc6793_a_4_octet_as_goes_on_the_wire_as_as_trans() {
        let open = Open::new(
            4_200_000_000,
            HoldTime::DEFAULT,
            Ipv4Addr::new(10, 0, 0, 1),
            vec![Capability::FourOctetAs(4_200_000_000)],
        );
        assert_eq!(open.my_as, AS_TRANS);
        assert_eq!(open.asn(), 4_200_000_000);
        assert_eq!(Open::parse_body(&emit(&open)[HEADER_LEN..]), Ok(open));
    }

    /// Each error the OPEN parser produces, with the NOTIFICATION it sends.
    #[test]
    fn rfc4271_section_6_2_open_errors() {
        use DecodeError as E;
        // The valid body(&[0]) with bytes replaced from offset `at`.
        let with = |at: usize, bytes: &[u8]| {
            let mut b = body(&[0]);
            b.splice(at..at + bytes.len(), bytes.iter().copied());
            b
        };
        let mut long = body(&[0]);
        long.resize(4096 - HEADER_LEN + 1, 0);
        let unspecified = Ipv4Addr::UNSPECIFIED;
        #[rustfmt::skip]
        let cases: Vec<(Vec<u8>, DecodeError, (u8, u8))> = vec![
            (body(&[]), E::BadLength { length: 28 }, (1, 2)),
            (long, E::BadLength { length: 4097 }, (1, 2)),
            (with(0, &[3]), E::UnsupportedVersion { version: 3 }, (2, 1)),
            (with(1, &[0, 0]), E::BadPeerAs { asn: 0 }, (2, 2)),
            (body(&[8, 2, 6, 65, 4, 0, 0, 0, 0]), E::BadPeerAs { asn: 0 }, (2, 2)),
            (with(3, &[0, 1]), E::UnacceptableHoldTime { hold_time: 1 }, (2, 6)),
            (with(3, &[0, 2]), E::UnacceptableHoldTime { hold_time: 2 }, (2, 6)),
            (with(5, &[0; 4]), E::BadBgpIdentifier { id: unspecified }, (2, 3)),
            // Authentication Information, deprecated by RFC 5492.
            (body(&[3, 1, 1, 0]), E::UnsupportedOptionalParameter { param_type: 1 }, (2, 4)),
            (body(&[6, 2, 2, 2, 0, 3, 0]), E::UnsupportedOptionalParameter { param_type: 3 }, (2, 4)),
            // 255 is only the RFC 9072 marker, never a later parameter.
            (body(&[4, 2, 0, 255, 0]), E::UnsupportedOptionalParameter { param_type: 255 }, (2, 4)),
            (body(&[2, 0, 0]), E::UnsupportedOptionalParameter { param_type: 0 }, (2, 4)),
        ];
        for (b, err, codes) in cases {
            assert_eq!(Open::parse_body(&b), Err(err.clone()), "{b:?}");
            assert_eq!(err.notification().error.codes(), codes);
        }
    }

    #[test]
    fn a_malformed_capability_inside_an_open_carries_the_capability() {
        let err = Open::parse_body(&body(&[5, 2, 3, 65, 1, 0])).unwrap_err();
        let n = err.notification();
        assert_eq!(n.error.codes(), (2, 0));
        assert_eq!(n.data, [65, 1, 0]);
    }

    /// Lengths that do not add up, including the shapes of FRR's
    /// CVE-2022-40302/40318/43681: a length octet as the last byte, an
    /// extended length cut short, a parameter running past the end.
    #[test]
    fn lengths_that_do_not_add_up_are_a_malformed_open() {
        let cases: &[&[u8]] = &[
            &[5, 2, 1, 2],                     // opt parm len beyond the message
            &[4],                              // opt parm len as the last byte
            &[1, 2, 0, 2, 0],                  // bytes beyond the opt parm len
            &[0, 2, 0],                        // no parameters announced, some present
            &[1, 2],                           // parameter header cut short
            &[4, 2, 5, 2, 0],                  // parameter overruns
            &[3, 2, 1, 65],                    // capability header cut short
            &[4, 2, 2, 65, 4],                 // capability overruns its parameter
            &[255, 255],                       // extended marker, no extended length
            &[255, 255, 0],                    // extended length cut short
            &[1, 255, 0, 0, 0],                // extended length 0, a byte left over
            &[255, 255, 0, 9, 2, 0, 2, 2, 0],  // extended length beyond the message
            &[255, 255, 0, 2, 2, 0],           // extended parameter header cut short
            &[255, 255, 0, 4, 2, 0, 5, 1],     // extended parameter overruns
            &[255, 255, 0, 5, 2, 0, 2, 65, 4], // capability overruns
        ];
        for &params in cases {
            let err = Open::parse_body(&body(params)).unwrap_err();
            assert!(
                matches!(err, DecodeError::MalformedOpen { .. }),
                "{params:?}: {err:?}"
            );
            assert_eq!(err.notification().error.codes(), (2, 0));
            assert_eq!(err.notification().data, Vec::<u8>::new());
        }
    }

    #[test]
    fn an_open_longer_than_4096_bytes_cannot_be_emitted() {
        let big = Capability::Unknown {
            code: 200,
            value: vec![0; 255],
        };
        let caps = vec![big; 16];
        let mut open = Open::new(65001, HoldTime::DEFAULT, Ipv4Addr::new(10, 0, 0, 1), caps);
        open.extended_params = true;
        let mut out = vec![9];
        assert_eq!(
            open.emit(&mut out),
            Err(EncodeError::TooLong {
                length: open.buffer_len(),
                max: 4096
            })
        );
        assert_eq!(out, [9]);
    }

    fn open() -> impl Strategy<Value = Open> {
        let hold = prop_oneof![Just(0u16), 3u16..].prop_map(HoldTime);
        let cap = capability().prop_filter("AS 0 is refused", |c| *c != Capability::FourOctetAs(0));
        let params = prop::collection::vec(prop::collection::vec(cap, 0..6), 0..5);
        (1u16.., hold, 1u32.., params, any::<bool>()).prop_map(
            |(my_as, hold_time, id, params, extended)| {
                let mut open = Open {
                    my_as,
                    hold_time,
                    bgp_id: Ipv4Addr::from(id),
                    params,
                    extended_params: extended,
                };
                if open.emit(&mut Vec::new()).is_err() {
                    open.extended_params = true;
                }
                open
            },
        )
    }

    /// Whatever parses re-encodes to something that parses the same.
    fn check_reparse(body: &[u8]) -> Result<(), TestCaseError> {
        if let Ok(open) = Open::parse_body(body) {
            let out = emit(&open);
            prop_assert_eq!(Open::parse_body(&out[HEADER_LEN..]), Ok(open));
        }
        Ok(())
    }

    /// Optional parameters built from plausible pieces, to get past the
    /// length checks into the capability decoders.
    fn params_bytes() -> impl Strategy<Value = Vec<u8>> {
        let valid = capability().prop_map(|c| {
            let mut out = Vec::new();
            c.emit(&mut out).map(|()| out).unwrap_or_default()
        });
        let named = prop_oneof![
            prop::sample::select(vec![1u8, 2, 5, 6, 64, 65, 69, 70]),
            any::<u8>()
        ];
        let random = (named, prop::collection::vec(any::<u8>(), 0..14))
            .prop_map(|(code, value)| [&[code, value.len() as u8][..], &value].concat());
        let cap = prop_oneof![valid, random];
        let param = (
            prop_oneof![4 => Just(2u8), 1 => any::<u8>()],
            prop::collection::vec(cap, 0..4),
        );
        (any::<bool>(), prop::collection::vec(param, 0..4)).prop_map(|(ext, params)| {
            let mut out = Vec::new();
            for (ty, caps) in params {
                let caps = caps.concat();
                out.push(ty);
                if ext {
                    out.extend_from_slice(&(caps.len() as u16).to_be_bytes());
                } else {
                    out.push(caps.len() as u8);
                }
                out.extend_from_slice(&caps);
            }
            if ext {
                [&[255, 255][..], &(out.len() as u16).to_be_bytes(), &out].concat()
            } else {
                [&[out.len() as u8][..], &out].concat()
            }
        })
    }

    proptest! {
        #[test]
        fn parse_of_emit_is_identity(open in open()) {
            let bytes = emit(&open);
            prop_assert_eq!(Open::parse_body(&bytes[HEADER_LEN..]), Ok(open));
        }

        #[test]
        fn parse_never_panics_on_any_body(body in prop::collection::vec(any::<u8>(), 0..300)) {
            check_reparse(&body)?;
        }

        #[test]
        fn parse_never_panics_after_a_valid_fixed_part(rest in prop::collection::vec(any::<u8>(), 0..300)) {
            check_reparse(&body(&rest))?;
        }

        #[test]
        fn parse_never_panics_on_plausible_parameters(params in params_bytes(), cut in any::<prop::sample::Index>()) {
            let whole = body(&params);
            check_reparse(&whole)?;
            // The same message cut anywhere.
            check_reparse(&whole[..cut.index(whole.len() + 1)])?;
        }
    }
}
