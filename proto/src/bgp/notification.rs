//! NOTIFICATION message, RFC 4271 section 4.5, with the subcodes of
//! RFC 4486 (Cease), RFC 6608 (FSM), RFC 7313 (ROUTE-REFRESH), RFC 8538
//! (Hard Reset), RFC 9003 (shutdown communication) and RFC 9384 (BFD Down).
//!
//! Every code and subcode is an enum that keeps values it does not know
//! (`Other`), so a NOTIFICATION from a newer peer decodes, logs and
//! re-encodes unchanged.

use serde::{Deserialize, Serialize};

use super::header::{HEADER_LEN, MAX_MESSAGE_LEN};
use super::iana::AfiSafi;

/// Defines a subcode enum with named values and an `Other(u8)` fallback.
macro_rules! subcode_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A subcode this implementation does not name.
            Other(u8),
        }

        impl From<u8> for $name {
            fn from(v: u8) -> Self {
                match v {
                    $($value => Self::$variant,)*
                    o => Self::Other(o),
                }
            }
        }

        impl From<$name> for u8 {
            fn from(v: $name) -> u8 {
                match v {
                    $($name::$variant => $value,)*
                    $name::Other(o) => o,
                }
            }
        }
    };
}

subcode_enum! {
    /// Message Header Error subcodes, RFC 4271 section 6.1.
    HeaderError {
        Unspecific = 0,
        ConnectionNotSynchronized = 1,
        BadMessageLength = 2,
        BadMessageType = 3,
    }
}

subcode_enum! {
    /// OPEN Message Error subcodes, RFC 4271 section 6.2, RFC 5492, RFC 9234.
    OpenError {
        Unspecific = 0,
        UnsupportedVersionNumber = 1,
        BadPeerAs = 2,
        BadBgpIdentifier = 3,
        UnsupportedOptionalParameter = 4,
        UnacceptableHoldTime = 6,
        UnsupportedCapability = 7,
        RoleMismatch = 11,
    }
}

subcode_enum! {
    /// UPDATE Message Error subcodes, RFC 4271 section 6.3.
    UpdateError {
        Unspecific = 0,
        MalformedAttributeList = 1,
        UnrecognizedWellKnownAttribute = 2,
        MissingWellKnownAttribute = 3,
        AttributeFlagsError = 4,
        AttributeLengthError = 5,
        InvalidOriginAttribute = 6,
        InvalidNextHopAttribute = 8,
        OptionalAttributeError = 9,
        InvalidNetworkField = 10,
        MalformedAsPath = 11,
    }
}

subcode_enum! {
    /// Finite State Machine Error subcodes, RFC 6608.
    FsmError {
        Unspecified = 0,
        UnexpectedMessageInOpenSent = 1,
        UnexpectedMessageInOpenConfirm = 2,
        UnexpectedMessageInEstablished = 3,
    }
}

subcode_enum! {
    /// Cease subcodes, RFC 4486, RFC 8538 (Hard Reset) and RFC 9384 (BFD Down).
    CeaseReason {
        Unspecific = 0,
        MaximumPrefixesReached = 1,
        AdministrativeShutdown = 2,
        PeerDeconfigured = 3,
        AdministrativeReset = 4,
        ConnectionRejected = 5,
        OtherConfigurationChange = 6,
        ConnectionCollisionResolution = 7,
        OutOfResources = 8,
        HardReset = 9,
        BfdDown = 10,
    }
}

subcode_enum! {
    /// ROUTE-REFRESH Message Error subcodes, RFC 7313 section 5.
    RouteRefreshError {
        Reserved = 0,
        InvalidMessageLength = 1,
    }
}

/// Error code and subcode of a NOTIFICATION.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ErrorCode {
    MessageHeader(HeaderError),
    Open(OpenError),
    Update(UpdateError),
    /// Hold Timer Expired; the subcode is kept as sent (normally 0).
    HoldTimerExpired(u8),
    Fsm(FsmError),
    Cease(CeaseReason),
    RouteRefresh(RouteRefreshError),
    /// An error code this implementation does not name.
    Other {
        code: u8,
        subcode: u8,
    },
}

impl ErrorCode {
    pub fn from_codes(code: u8, subcode: u8) -> Self {
        match code {
            1 => Self::MessageHeader(subcode.into()),
            2 => Self::Open(subcode.into()),
            3 => Self::Update(subcode.into()),
            4 => Self::HoldTimerExpired(subcode),
            5 => Self::Fsm(subcode.into()),
            6 => Self::Cease(subcode.into()),
            7 => Self::RouteRefresh(subcode.into()),
            code => Self::Other { code, subcode },
        }
    }

    /// The (code, subcode) pair on the wire.
    pub fn codes(self) -> (u8, u8) {
        match self {
            Self::MessageHeader(s) => (1, s.into()),
            Self::Open(s) => (2, s.into()),
            Self::Update(s) => (3, s.into()),
            Self::HoldTimerExpired(s) => (4, s),
            Self::Fsm(s) => (5, s.into()),
            Self::Cease(s) => (6, s.into()),
            Self::RouteRefresh(s) => (7, s.into()),
            Self::Other { code, subcode } => (code, subcode),
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, subcode) = self.codes();
        match self {
            Self::MessageHeader(s) => write!(f, "message header error/{s:?}"),
            Self::Open(s) => write!(f, "OPEN message error/{s:?}"),
            Self::Update(s) => write!(f, "UPDATE message error/{s:?}"),
            Self::HoldTimerExpired(_) => f.write_str("hold timer expired"),
            Self::Fsm(s) => write!(f, "FSM error/{s:?}"),
            Self::Cease(s) => write!(f, "cease/{s:?}"),
            Self::RouteRefresh(s) => write!(f, "ROUTE-REFRESH message error/{s:?}"),
            Self::Other { .. } => write!(f, "error code {code} subcode {subcode}"),
        }
    }
}

/// Most data bytes a NOTIFICATION can carry in a 4096-byte message.
pub const MAX_DATA_LEN: usize = MAX_MESSAGE_LEN as usize - HEADER_LEN - 2;

/// Longest RFC 9003 shutdown communication, in bytes.
pub const MAX_SHUTDOWN_TEXT_LEN: usize = 255;

/// NOTIFICATION message, RFC 4271 section 4.5.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Error code    | Error subcode |   Data (variable)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub error: ErrorCode,
    pub data: Vec<u8>,
}

/// Why a shutdown communication (RFC 9003) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShutdownTextError {
    #[error("shutdown communication length {declared} overruns the {available} data bytes")]
    Truncated { declared: usize, available: usize },
    #[error("shutdown communication is not valid UTF-8")]
    NotUtf8,
}

impl Notification {
    /// A NOTIFICATION with data; data beyond what fits in one message is cut.
    pub fn new(error: ErrorCode, data: impl Into<Vec<u8>>) -> Self {
        let mut data = data.into();
        data.truncate(MAX_DATA_LEN);
        Self { error, data }
    }

    pub fn cease(reason: CeaseReason) -> Self {
        Self::new(ErrorCode::Cease(reason), Vec::new())
    }

    /// Cease with an RFC 9003 shutdown communication (for Administrative
    /// Shutdown or Administrative Reset). The text is cut at a character
    /// boundary to 255 bytes.
    pub fn shutdown(reason: CeaseReason, text: &str) -> Self {
        let mut end = text.len().min(MAX_SHUTDOWN_TEXT_LEN);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = text.get(..end).unwrap_or_default();
        let mut data = Vec::with_capacity(end + 1);
        data.push(end as u8);
        data.extend_from_slice(text.as_bytes());
        Self::new(ErrorCode::Cease(reason), data)
    }

    /// Cease / Maximum Number of Prefixes Reached with the AFI, SAFI and
    /// limit as data (RFC 4486 section 4).
    pub fn max_prefix(afi_safi: AfiSafi, limit: u32) -> Self {
        let mut data = Vec::with_capacity(7);
        data.extend_from_slice(&u16::from(afi_safi.afi).to_be_bytes());
        data.push(afi_safi.safi.into());
        data.extend_from_slice(&limit.to_be_bytes());
        Self::new(ErrorCode::Cease(CeaseReason::MaximumPrefixesReached), data)
    }

    /// Cease / Hard Reset wrapping another NOTIFICATION (RFC 8538 section 3).
    pub fn hard_reset(inner: &Notification) -> Self {
        let (code, subcode) = inner.error.codes();
        let mut data = Vec::with_capacity(inner.data.len() + 2);
        data.push(code);
        data.push(subcode);
        data.extend_from_slice(&inner.data);
        Self::new(ErrorCode::Cease(CeaseReason::HardReset), data)
    }

    /// The RFC 9003 shutdown communication, if this is an Administrative
    /// Shutdown or Reset that carries one. An empty data field means none.
    pub fn shutdown_text(&self) -> Option<Result<&str, ShutdownTextError>> {
        match self.error {
            ErrorCode::Cease(
                CeaseReason::AdministrativeShutdown | CeaseReason::AdministrativeReset,
            ) => {}
            _ => return None,
        }
        let (&len, rest) = self.data.split_first()?;
        let len = usize::from(len);
        let Some(text) = rest.get(..len) else {
            return Some(Err(ShutdownTextError::Truncated {
                declared: len,
                available: rest.len(),
            }));
        };
        Some(std::str::from_utf8(text).map_err(|_| ShutdownTextError::NotUtf8))
    }

    /// The NOTIFICATION inside a Cease / Hard Reset (RFC 8538 section 3).
    pub fn hard_reset_inner(&self) -> Option<Notification> {
        if self.error != ErrorCode::Cease(CeaseReason::HardReset) {
            return None;
        }
        let [code, subcode, rest @ ..] = self.data.as_slice() else {
            return None;
        };
        Some(Notification {
            error: ErrorCode::from_codes(*code, *subcode),
            data: rest.to_vec(),
        })
    }

    /// Parses the message body (after the 19-byte header).
    pub fn parse_body(body: &[u8]) -> Result<Self, super::DecodeError> {
        let [code, subcode, data @ ..] = body else {
            return Err(super::DecodeError::BadLength {
                length: (body.len() + HEADER_LEN) as u16,
            });
        };
        Ok(Self {
            error: ErrorCode::from_codes(*code, *subcode),
            data: data.to_vec(),
        })
    }

    /// Bytes of the whole message, header included.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 2 + self.data.len().min(MAX_DATA_LEN)
    }

    /// Appends the whole message, header included; exactly `buffer_len()` bytes.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let data = self.data.get(..MAX_DATA_LEN).unwrap_or(&self.data);
        super::header::emit_header(
            out,
            self.buffer_len() as u16,
            super::MessageType::Notification,
        );
        let (code, subcode) = self.error.codes();
        out.push(code);
        out.push(subcode);
        out.extend_from_slice(data);
    }
}

impl std::fmt::Display for Notification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        match self.shutdown_text() {
            Some(Ok(text)) => write!(f, " \"{}\"", text.escape_debug()),
            Some(Err(e)) => write!(f, " ({e})"),
            None if !self.data.is_empty() => write!(f, " data {}", HexBytes(&self.data)),
            None => Ok(()),
        }
    }
}

struct HexBytes<'a>(&'a [u8]);

impl std::fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0.iter().take(64) {
            write!(f, "{b:02x}")?;
        }
        if self.0.len() > 64 {
            f.write_str("...")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_subcode_round_trips_through_its_wire_value() {
        for code in 0..=8u8 {
            for subcode in 0..=12u8 {
                let e = ErrorCode::from_codes(code, subcode);
                assert_eq!(e.codes(), (code, subcode));
            }
        }
        assert_eq!(
            ErrorCode::from_codes(6, 10),
            ErrorCode::Cease(CeaseReason::BfdDown)
        );
        assert_eq!(
            ErrorCode::from_codes(6, 9),
            ErrorCode::Cease(CeaseReason::HardReset)
        );
        assert_eq!(
            ErrorCode::from_codes(7, 1),
            ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength)
        );
        assert_eq!(
            ErrorCode::from_codes(6, 200),
            ErrorCode::Cease(CeaseReason::Other(200))
        );
        assert_eq!(
            ErrorCode::from_codes(9, 1),
            ErrorCode::Other {
                code: 9,
                subcode: 1
            }
        );
    }

    #[test]
    fn shutdown_text_is_cut_at_a_char_boundary() {
        let text = "é".repeat(200); // 400 bytes
        let n = Notification::shutdown(CeaseReason::AdministrativeShutdown, &text);
        assert_eq!(n.data.first(), Some(&254));
        assert_eq!(n.shutdown_text(), Some(Ok("é".repeat(127).as_str())));
    }

    #[test]
    fn shutdown_text_longer_than_data_is_an_error_not_a_panic() {
        let n = Notification {
            error: ErrorCode::Cease(CeaseReason::AdministrativeReset),
            data: vec![200, b'h', b'i'],
        };
        assert_eq!(
            n.shutdown_text(),
            Some(Err(ShutdownTextError::Truncated {
                declared: 200,
                available: 2
            }))
        );
        let n = Notification {
            error: ErrorCode::Cease(CeaseReason::AdministrativeShutdown),
            data: vec![2, 0xff, 0xfe],
        };
        assert_eq!(n.shutdown_text(), Some(Err(ShutdownTextError::NotUtf8)));
        assert_eq!(
            Notification::cease(CeaseReason::BfdDown).shutdown_text(),
            None
        );
    }

    #[test]
    fn hard_reset_wraps_and_unwraps() {
        let inner = Notification::new(ErrorCode::HoldTimerExpired(0), vec![1, 2]);
        let outer = Notification::hard_reset(&inner);
        assert_eq!(outer.data, vec![4, 0, 1, 2]);
        assert_eq!(outer.hard_reset_inner(), Some(inner));
    }

    #[test]
    fn max_prefix_carries_afi_safi_and_limit() {
        let n = Notification::max_prefix(AfiSafi::IPV6_UNICAST, 5000);
        assert_eq!(n.data, vec![0, 2, 1, 0, 0, 0x13, 0x88]);
    }

    #[test]
    fn emit_then_parse() {
        let n = Notification::shutdown(CeaseReason::AdministrativeShutdown, "maintenance");
        let mut out = Vec::new();
        n.emit(&mut out);
        assert_eq!(out.len(), n.buffer_len());
        let body = out.get(HEADER_LEN..).unwrap_or_default();
        assert_eq!(Notification::parse_body(body), Ok(n));
    }

    #[test]
    fn body_shorter_than_code_and_subcode_is_a_bad_length() {
        assert_eq!(
            Notification::parse_body(&[6]),
            Err(super::super::DecodeError::BadLength { length: 20 })
        );
    }

    #[test]
    fn oversized_data_is_cut_to_fit_one_message() {
        let n = Notification::new(ErrorCode::Cease(CeaseReason::Unspecific), vec![0; 5000]);
        let mut out = Vec::new();
        n.emit(&mut out);
        assert_eq!(out.len(), usize::from(MAX_MESSAGE_LEN));
    }
}
