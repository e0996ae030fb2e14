//! One BGP message of any type: the decode entry point after framing.
//!
//! ```text
//!  byte stream --frame_len--> frame --Message::decode(ctx)--> Decoded
//!                                                              |- message
//!                                                              '- problems (RFC 7606)
//! ```

use serde::{Deserialize, Serialize};

use super::context::Context;
use super::error::{DecodeError, EncodeError};
use super::header::{HEADER_LEN, MARKER, MAX_MESSAGE_LEN, emit_header};
use super::iana::MessageType;
use super::notification::Notification;
use super::open::Open;
use super::route_refresh::RouteRefresh;
use super::update::{AttributeProblem, Update};

/// A BGP message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

/// A decoded message and, for an UPDATE, its malformed attributes with
/// their RFC 7606 verdicts (empty for every other type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decoded {
    pub message: Message,
    pub problems: Vec<AttributeProblem>,
}

/// Smallest OPEN: header, version, AS, hold time, BGP ID, parameter length.
const MIN_OPEN_LEN: usize = HEADER_LEN + 10;
/// Smallest UPDATE: header and the two length fields.
const MIN_UPDATE_LEN: usize = HEADER_LEN + 4;
/// Smallest NOTIFICATION: header, code, subcode.
const MIN_NOTIFICATION_LEN: usize = HEADER_LEN + 2;

impl Message {
    /// Decodes one whole message, header included, as [`super::frame_len`]
    /// delimited it. Every error names the NOTIFICATION to send.
    pub fn decode(frame: &[u8], ctx: &Context) -> Result<Decoded, DecodeError> {
        let (Some(marker), Some(&[hi, lo, code])) = (frame.get(..16), frame.get(16..HEADER_LEN))
        else {
            return Err(DecodeError::BadLength {
                length: frame.len().min(65535) as u16,
            });
        };
        if marker != MARKER {
            return Err(DecodeError::BadMarker);
        }
        let length = u16::from_be_bytes([hi, lo]);
        let len = usize::from(length);
        if len != frame.len() || length > ctx.max_len() {
            return Err(DecodeError::BadLength { length });
        }
        let body = frame.get(HEADER_LEN..).unwrap_or_default();
        let bad_length = Err(DecodeError::BadLength { length });
        let message = match MessageType::from_code(code) {
            // RFC 8654 section 4: OPEN and KEEPALIVE never grow.
            Some(MessageType::Open) if len < MIN_OPEN_LEN || length > MAX_MESSAGE_LEN => {
                return bad_length;
            }
            Some(MessageType::Open) => Message::Open(Open::parse_body(body)?),
            Some(MessageType::Update) if len < MIN_UPDATE_LEN => return bad_length,
            Some(MessageType::Update) => {
                let decoded = Update::parse_body(body, ctx)?;
                return Ok(Decoded {
                    message: Message::Update(decoded.update),
                    problems: decoded.problems,
                });
            }
            Some(MessageType::Notification) if len < MIN_NOTIFICATION_LEN => return bad_length,
            Some(MessageType::Notification) => {
                Message::Notification(Notification::parse_body(body)?)
            }
            Some(MessageType::Keepalive) if len != HEADER_LEN => return bad_length,
            Some(MessageType::Keepalive) => Message::Keepalive,
            Some(MessageType::RouteRefresh) => {
                Message::RouteRefresh(RouteRefresh::parse_body(body)?)
            }
            None => return Err(DecodeError::BadType { code }),
        };
        Ok(Decoded {
            message,
            problems: Vec::new(),
        })
    }

    pub fn message_type(&self) -> MessageType {
        match self {
            Self::Open(_) => MessageType::Open,
            Self::Update(_) => MessageType::Update,
            Self::Notification(_) => MessageType::Notification,
            Self::Keepalive => MessageType::Keepalive,
            Self::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Bytes of the whole message, header included.
    pub fn buffer_len(&self, ctx: &Context) -> usize {
        match self {
            Self::Open(o) => o.buffer_len(),
            Self::Update(u) => u.buffer_len(ctx),
            Self::Notification(n) => n.buffer_len(),
            Self::Keepalive => HEADER_LEN,
            Self::RouteRefresh(r) => r.buffer_len(),
        }
    }

    /// Appends the whole message; exactly `buffer_len` bytes, or nothing and
    /// an error when it does not fit the session.
    pub fn emit(&self, ctx: &Context, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        match self {
            Self::Open(o) => o.emit(out),
            Self::Update(u) => u.emit(ctx, out),
            Self::Notification(n) => {
                n.emit(out);
                Ok(())
            }
            Self::Keepalive => {
                emit_header(out, HEADER_LEN as u16, MessageType::Keepalive);
                Ok(())
            }
            Self::RouteRefresh(r) => {
                r.emit(out);
                Ok(())
            }
        }
    }

    /// The whole message as a new buffer.
    pub fn to_bytes(&self, ctx: &Context) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::with_capacity(self.buffer_len(ctx));
        self.emit(ctx, &mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::notification::{ErrorCode, HeaderError};

    fn frame(len: u16, ty: u8, body: &[u8]) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v.push(ty);
        v.extend_from_slice(body);
        v
    }

    fn err(frame: &[u8]) -> DecodeError {
        Message::decode(frame, &Context::modern()).unwrap_err()
    }

    #[test]
    fn keepalive_round_trips_and_must_be_19_bytes() {
        let ka = Message::Keepalive.to_bytes(&Context::default()).unwrap();
        assert_eq!(ka, frame(19, 4, &[]));
        assert_eq!(
            Message::decode(&ka, &Context::default()).unwrap().message,
            Message::Keepalive
        );
        assert_eq!(
            err(&frame(20, 4, &[0])),
            DecodeError::BadLength { length: 20 }
        );
    }

    #[test]
    fn unknown_type_is_bad_message_type() {
        let e = err(&frame(19, 6, &[]));
        assert_eq!(e, DecodeError::BadType { code: 6 });
        assert_eq!(
            e.notification().error,
            ErrorCode::MessageHeader(HeaderError::BadMessageType)
        );
        assert_eq!(e.notification().data, vec![6]);
    }

    #[test]
    fn wrong_marker_is_connection_not_synchronized() {
        let mut f = frame(19, 4, &[]);
        f[3] = 0;
        assert_eq!(err(&f), DecodeError::BadMarker);
    }

    #[test]
    fn length_field_must_match_the_frame() {
        assert_eq!(
            err(&frame(25, 4, &[])),
            DecodeError::BadLength { length: 25 }
        );
        assert_eq!(err(&[0xff; 10]), DecodeError::BadLength { length: 10 });
    }

    #[test]
    fn per_type_minimum_lengths() {
        assert_eq!(
            err(&frame(28, 1, &[0; 9])),
            DecodeError::BadLength { length: 28 }
        );
        assert_eq!(
            err(&frame(22, 2, &[0; 3])),
            DecodeError::BadLength { length: 22 }
        );
        assert_eq!(
            err(&frame(20, 3, &[6])),
            DecodeError::BadLength { length: 20 }
        );
    }

    #[test]
    fn extended_messages_only_where_negotiated() {
        let body = vec![0u8; 5000 - HEADER_LEN];
        let f = frame(5000, 2, &body);
        assert_eq!(err(&f), DecodeError::BadLength { length: 5000 });
        let ext = Context {
            max_message_len: 65535,
            ..Context::modern()
        };
        // Now framing passes and the UPDATE itself is judged.
        assert!(matches!(
            Message::decode(&f, &ext),
            Err(DecodeError::MalformedAttributeList { .. }) | Ok(_)
        ));
        let open = frame(5000, 1, &body);
        assert_eq!(
            Message::decode(&open, &ext).unwrap_err(),
            DecodeError::BadLength { length: 5000 }
        );
    }

    #[test]
    fn every_type_round_trips_through_message() {
        let ctx = Context::modern();
        let msgs = [
            Message::Keepalive,
            Message::Notification(Notification::cease(crate::bgp::CeaseReason::BfdDown)),
            Message::Update(Update::end_of_rib(crate::bgp::AfiSafi::IPV6_UNICAST)),
            Message::RouteRefresh(RouteRefresh::request(crate::bgp::AfiSafi::IPV4_UNICAST)),
            Message::Open(Open::new(
                4_200_000_001,
                crate::bgp::HoldTime::new(9).unwrap(),
                std::net::Ipv4Addr::new(192, 0, 2, 1),
                vec![crate::bgp::Capability::FourOctetAs(4_200_000_001)],
            )),
        ];
        for m in msgs {
            let bytes = m.to_bytes(&ctx).unwrap();
            assert_eq!(bytes.len(), m.buffer_len(&ctx));
            assert_eq!(
                crate::bgp::frame_len(&bytes, ctx.max_len()),
                Ok(Some(bytes.len()))
            );
            let d = Message::decode(&bytes, &ctx).unwrap();
            assert_eq!(d.message, m);
            assert_eq!(d.message.message_type(), m.message_type());
        }
    }
}
