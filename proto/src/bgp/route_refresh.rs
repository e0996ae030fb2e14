//! ROUTE-REFRESH message, RFC 2918 section 3, with the subtypes of
//! enhanced route refresh, RFC 7313 section 3.2.

use serde::{Deserialize, Serialize};

use super::error::DecodeError;
use super::header::{HEADER_LEN, MARKER, emit_header};
use super::iana::{AfiSafi, MessageType};
use super::reader::Reader;

/// Message Subtype of a ROUTE-REFRESH, RFC 7313 section 3.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum RouteRefreshSubtype {
    /// 0: a plain route refresh request (RFC 2918).
    Normal,
    /// 1: BoRR, the start of a re-advertisement.
    BeginningOfRouteRefresh,
    /// 2: EoRR, its end; routes not refreshed since BoRR are stale.
    EndOfRouteRefresh,
    /// 3..=255: RFC 7313 says to ignore the message. Holding 0, 1 or 2
    /// here encodes as the named subtype.
    Other(u8),
}

impl From<u8> for RouteRefreshSubtype {
    fn from(v: u8) -> Self {
        match v {
            0 => Self::Normal,
            1 => Self::BeginningOfRouteRefresh,
            2 => Self::EndOfRouteRefresh,
            o => Self::Other(o),
        }
    }
}

impl From<RouteRefreshSubtype> for u8 {
    fn from(v: RouteRefreshSubtype) -> u8 {
        match v {
            RouteRefreshSubtype::Normal => 0,
            RouteRefreshSubtype::BeginningOfRouteRefresh => 1,
            RouteRefreshSubtype::EndOfRouteRefresh => 2,
            RouteRefreshSubtype::Other(o) => o,
        }
    }
}

/// ROUTE-REFRESH message, RFC 2918 section 3 and RFC 7313 section 3.2.
///
/// ```text
///  0       7      15      23      31
/// +-------+-------+-------+-------+
/// |      AFI      | Subtype| SAFI |
/// +-------+-------+-------+-------+
/// ```
///
/// RFC 2918 calls the third octet "Res."; RFC 7313 made it the subtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct RouteRefresh {
    pub afi_safi: AfiSafi,
    pub subtype: RouteRefreshSubtype,
}

impl RouteRefresh {
    /// Length of the body after the header.
    pub const BODY_LEN: usize = 4;

    /// A plain route refresh request for one family.
    pub fn request(afi_safi: AfiSafi) -> Self {
        Self {
            afi_safi,
            subtype: RouteRefreshSubtype::Normal,
        }
    }

    /// Parses the message body (after the 19-byte header).
    ///
    /// The body must be 4 bytes. When it is not:
    /// - subtype BoRR or EoRR: [`DecodeError::RouteRefreshLength`], whose
    ///   data is the whole message (RFC 7313 section 5). The header is
    ///   rebuilt from the body, which gives back exactly the received bytes:
    ///   framing already checked the marker, the length is the body's plus
    ///   19, and the type is 5.
    /// - subtype 0, or a body too short to hold the subtype or SAFI:
    ///   [`DecodeError::BadLength`] (RFC 4271 section 6.1).
    /// - another subtype with a longer body: accepted from its first four
    ///   bytes, since RFC 7313 section 5 has the receiver ignore unknown
    ///   subtypes rather than reset the session.
    pub fn parse_body(body: &[u8]) -> Result<Self, DecodeError> {
        use RouteRefreshSubtype as S;
        let mut r = Reader::new(body);
        let afi = r.u16();
        let subtype = r.u8().map(S::from);
        let safi = r.u8();
        let bad_length = DecodeError::BadLength {
            length: message_len(body),
        };
        if body.len() != Self::BODY_LEN {
            match subtype {
                Some(S::BeginningOfRouteRefresh | S::EndOfRouteRefresh) => {
                    return Err(DecodeError::RouteRefreshLength {
                        message: rebuild_message(body),
                    });
                }
                Some(S::Other(_)) if body.len() > Self::BODY_LEN => {}
                _ => return Err(bad_length),
            }
        }
        let (Some(afi), Some(subtype), Some(safi)) = (afi, subtype, safi) else {
            return Err(bad_length);
        };
        Ok(Self {
            afi_safi: AfiSafi::new(afi, safi),
            subtype,
        })
    }

    /// Bytes of the whole message, header included.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + Self::BODY_LEN
    }

    /// Appends the whole message, header included; exactly `buffer_len()` bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        emit_header(
            out,
            (HEADER_LEN + Self::BODY_LEN) as u16,
            MessageType::RouteRefresh,
        );
        out.extend_from_slice(&u16::from(self.afi_safi.afi).to_be_bytes());
        out.push(self.subtype.into());
        out.push(self.afi_safi.safi.into());
    }
}

/// The whole message as received: framing checked the marker, and the
/// length and type follow from the body.
fn rebuild_message(body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER_LEN + body.len());
    message.extend_from_slice(&MARKER);
    message.extend_from_slice(&message_len(body).to_be_bytes());
    message.push(MessageType::RouteRefresh.code());
    message.extend_from_slice(body);
    message
}

/// The header's length field for a message with this body.
fn message_len(body: &[u8]) -> u16 {
    u16::try_from(HEADER_LEN + body.len()).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::bgp::capability::tests::afi_safi;

    fn message(body: &[u8]) -> Vec<u8> {
        let mut m = MARKER.to_vec();
        m.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
        m.push(5);
        m.extend_from_slice(body);
        m
    }

    #[test]
    fn rfc2918_request_for_ipv6_unicast() {
        let rr = RouteRefresh::request(AfiSafi::IPV6_UNICAST);
        let mut out = Vec::new();
        rr.emit(&mut out);
        assert_eq!(out, message(&[0, 2, 0, 1]));
        assert_eq!(out.len(), rr.buffer_len());
        assert_eq!(RouteRefresh::parse_body(&out[HEADER_LEN..]), Ok(rr));
    }

    #[test]
    fn rfc7313_borr_and_eorr_subtypes() {
        assert_eq!(
            RouteRefresh::parse_body(&[0, 1, 1, 1]),
            Ok(RouteRefresh {
                afi_safi: AfiSafi::IPV4_UNICAST,
                subtype: RouteRefreshSubtype::BeginningOfRouteRefresh,
            })
        );
        assert_eq!(
            RouteRefresh::parse_body(&[0, 1, 2, 1]).map(|r| r.subtype),
            Ok(RouteRefreshSubtype::EndOfRouteRefresh)
        );
        assert_eq!(
            RouteRefresh::parse_body(&[0, 1, 9, 1]).map(|r| r.subtype),
            Ok(RouteRefreshSubtype::Other(9))
        );
    }

    #[test]
    fn rfc7313_section5_borr_or_eorr_of_bad_length_sends_the_whole_message() {
        for body in [&[0u8, 1, 1][..], &[0, 1, 1, 1, 0], &[0, 2, 2, 1, 0, 0, 0]] {
            let err = RouteRefresh::parse_body(body).unwrap_err();
            assert_eq!(
                err,
                DecodeError::RouteRefreshLength {
                    message: message(body)
                }
            );
            let n = err.notification();
            assert_eq!(n.error.codes(), (7, 1));
            assert_eq!(n.data, message(body));
        }
    }

    #[test]
    fn normal_route_refresh_of_bad_length_is_a_header_error() {
        for body in [&[][..], &[0], &[0, 1], &[0, 1, 0], &[0, 1, 0, 1, 0]] {
            let err = RouteRefresh::parse_body(body).unwrap_err();
            let length = (HEADER_LEN + body.len()) as u16;
            assert_eq!(err, DecodeError::BadLength { length });
            let n = err.notification();
            assert_eq!(n.error.codes(), (1, 2));
            assert_eq!(n.data, length.to_be_bytes());
        }
    }

    #[test]
    fn rfc7313_unknown_subtype_is_left_for_the_speaker_to_ignore() {
        assert_eq!(
            RouteRefresh::parse_body(&[0, 1, 3, 1, 0xaa]),
            Ok(RouteRefresh {
                afi_safi: AfiSafi::IPV4_UNICAST,
                subtype: RouteRefreshSubtype::Other(3),
            })
        );
        // Too short to say which family: a length error.
        assert_eq!(
            RouteRefresh::parse_body(&[0, 1, 3]),
            Err(DecodeError::BadLength { length: 22 })
        );
    }

    fn route_refresh() -> impl Strategy<Value = RouteRefresh> {
        let subtype = prop_oneof![
            Just(RouteRefreshSubtype::Normal),
            Just(RouteRefreshSubtype::BeginningOfRouteRefresh),
            Just(RouteRefreshSubtype::EndOfRouteRefresh),
            (3u8..).prop_map(RouteRefreshSubtype::Other),
        ];
        (afi_safi(), subtype).prop_map(|(afi_safi, subtype)| RouteRefresh { afi_safi, subtype })
    }

    proptest! {
        #[test]
        fn parse_of_emit_is_identity(rr in route_refresh()) {
            let mut out = Vec::new();
            rr.emit(&mut out);
            prop_assert_eq!(out.len(), rr.buffer_len());
            prop_assert_eq!(RouteRefresh::parse_body(&out[HEADER_LEN..]), Ok(rr));
        }

        #[test]
        fn parse_never_panics(body in prop::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(rr) = RouteRefresh::parse_body(&body) {
                let mut out = Vec::new();
                rr.emit(&mut out);
                prop_assert_eq!(out.get(HEADER_LEN..), body.get(..4));
            }
        }
    }

    #[test]
    fn subtype_codes_round_trip() {
        for v in 0..=255u8 {
            assert_eq!(u8::from(RouteRefreshSubtype::from(v)), v);
        }
    }
}
