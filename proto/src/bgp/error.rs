//! Decode errors that end the session, each mapped to exactly one
//! NOTIFICATION (RFC 4271 section 6).
//!
//! Errors inside one path attribute do not end up here: RFC 7606 wants
//! most of them handled without a reset, so UPDATE decoding reports them as
//! [`AttributeProblem`](super::update::AttributeProblem)s beside the message.

use std::net::Ipv4Addr;

use super::notification::{
    ErrorCode, HeaderError, Notification, OpenError, RouteRefreshError, UpdateError,
};

/// A message that cannot be accepted; the session must be reset with
/// [`DecodeError::notification`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// RFC 4271 section 6.1: the marker is not all ones.
    #[error("connection not synchronized: the marker is not all ones")]
    BadMarker,
    /// RFC 4271 section 6.1: length out of range for the message or its type.
    #[error("bad message length {length}")]
    BadLength { length: u16 },
    /// RFC 4271 section 6.1: unknown message type.
    #[error("bad message type {code}")]
    BadType { code: u8 },

    /// RFC 4271 section 6.2: version other than 4.
    #[error("unsupported BGP version {version}")]
    UnsupportedVersion { version: u8 },
    /// RFC 4271 section 6.2 and RFC 7607: AS 0 or an AS the peer may not use.
    #[error("bad peer AS {asn}")]
    BadPeerAs { asn: u32 },
    /// RFC 6286: a BGP identifier of 0.
    #[error("bad BGP identifier {id}")]
    BadBgpIdentifier { id: Ipv4Addr },
    /// RFC 4271 section 6.2: an optional parameter type we do not know.
    #[error("unsupported optional parameter type {param_type}")]
    UnsupportedOptionalParameter { param_type: u8 },
    /// RFC 4271 section 6.2: hold time 1 or 2 seconds.
    #[error("unacceptable hold time {hold_time} s (must be 0 or at least 3)")]
    UnacceptableHoldTime { hold_time: u16 },
    /// RFC 5492 section 5: a capability the local speaker requires is missing;
    /// `capability` is the capability (code, length, value) it wanted.
    #[error("unsupported capability {code}")]
    UnsupportedCapability { code: u8, capability: Vec<u8> },
    /// RFC 4271 section 6.2: the optional parameters do not add up.
    #[error("malformed OPEN: {reason}")]
    MalformedOpen { reason: &'static str },
    /// A known capability whose value has the wrong shape; `capability` is
    /// the whole capability (code, length, value).
    #[error("malformed capability {code}: {reason}")]
    MalformedCapability {
        code: u8,
        reason: &'static str,
        capability: Vec<u8>,
    },

    /// RFC 4271 section 6.3 and RFC 7606 section 4: withdrawn-routes or
    /// path-attribute lengths overrun the message, or MP_REACH_NLRI or
    /// MP_UNREACH_NLRI appears twice (RFC 7606 section 3 g).
    #[error("malformed attribute list: {reason}")]
    MalformedAttributeList { reason: &'static str },
    /// RFC 4271 section 6.3 and RFC 7606 section 5.3: a prefix in the
    /// withdrawn routes or NLRI field is malformed.
    #[error("invalid network field: {reason}")]
    InvalidNetworkField { reason: &'static str },

    /// RFC 7313 section 5: a ROUTE-REFRESH whose body is not 4 bytes;
    /// `message` is the whole message, sent back as data.
    #[error("ROUTE-REFRESH of bad length {}", message.len())]
    RouteRefreshLength { message: Vec<u8> },
}

/// What the speaker was asked to encode does not fit the wire.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {length} bytes exceeds the limit of {max}")]
    TooLong { length: usize, max: u16 },
    #[error("{what} of {length} bytes exceeds its field")]
    FieldTooLong { what: &'static str, length: usize },
}

impl DecodeError {
    /// The NOTIFICATION that this error makes the speaker send.
    pub fn notification(&self) -> Notification {
        use DecodeError as E;
        let (error, data): (ErrorCode, Vec<u8>) = match self {
            E::BadMarker => (
                ErrorCode::MessageHeader(HeaderError::ConnectionNotSynchronized),
                vec![],
            ),
            E::BadLength { length } => (
                ErrorCode::MessageHeader(HeaderError::BadMessageLength),
                length.to_be_bytes().to_vec(),
            ),
            E::BadType { code } => (
                ErrorCode::MessageHeader(HeaderError::BadMessageType),
                vec![*code],
            ),
            // Data: the largest locally supported version (RFC 4271 section 6.2).
            E::UnsupportedVersion { .. } => (
                ErrorCode::Open(OpenError::UnsupportedVersionNumber),
                vec![0, 4],
            ),
            E::BadPeerAs { .. } => (ErrorCode::Open(OpenError::BadPeerAs), vec![]),
            E::BadBgpIdentifier { .. } => (ErrorCode::Open(OpenError::BadBgpIdentifier), vec![]),
            E::UnsupportedOptionalParameter { .. } => (
                ErrorCode::Open(OpenError::UnsupportedOptionalParameter),
                vec![],
            ),
            E::UnacceptableHoldTime { .. } => {
                (ErrorCode::Open(OpenError::UnacceptableHoldTime), vec![])
            }
            E::UnsupportedCapability { capability, .. } => (
                ErrorCode::Open(OpenError::UnsupportedCapability),
                capability.clone(),
            ),
            E::MalformedOpen { .. } => (ErrorCode::Open(OpenError::Unspecific), vec![]),
            E::MalformedCapability { capability, .. } => {
                (ErrorCode::Open(OpenError::Unspecific), capability.clone())
            }
            E::MalformedAttributeList { .. } => (
                ErrorCode::Update(UpdateError::MalformedAttributeList),
                vec![],
            ),
            E::InvalidNetworkField { .. } => {
                (ErrorCode::Update(UpdateError::InvalidNetworkField), vec![])
            }
            E::RouteRefreshLength { message } => (
                ErrorCode::RouteRefresh(RouteRefreshError::InvalidMessageLength),
                message.clone(),
            ),
        };
        Notification::new(error, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::notification::CeaseReason;

    #[test]
    fn each_error_maps_to_its_rfc_code_and_subcode() {
        let cases: Vec<(DecodeError, (u8, u8), Vec<u8>)> = vec![
            (DecodeError::BadMarker, (1, 1), vec![]),
            (
                DecodeError::BadLength { length: 4097 },
                (1, 2),
                vec![0x10, 0x01],
            ),
            (DecodeError::BadType { code: 9 }, (1, 3), vec![9]),
            (
                DecodeError::UnsupportedVersion { version: 3 },
                (2, 1),
                vec![0, 4],
            ),
            (DecodeError::BadPeerAs { asn: 0 }, (2, 2), vec![]),
            (
                DecodeError::BadBgpIdentifier {
                    id: Ipv4Addr::UNSPECIFIED,
                },
                (2, 3),
                vec![],
            ),
            (
                DecodeError::UnsupportedOptionalParameter { param_type: 1 },
                (2, 4),
                vec![],
            ),
            (
                DecodeError::UnacceptableHoldTime { hold_time: 2 },
                (2, 6),
                vec![],
            ),
            (
                DecodeError::UnsupportedCapability {
                    code: 65,
                    capability: vec![65, 4, 0, 0, 0xfd, 0xe8],
                },
                (2, 7),
                vec![65, 4, 0, 0, 0xfd, 0xe8],
            ),
            (DecodeError::MalformedOpen { reason: "x" }, (2, 0), vec![]),
            (
                DecodeError::MalformedCapability {
                    code: 1,
                    reason: "x",
                    capability: vec![1, 1, 0],
                },
                (2, 0),
                vec![1, 1, 0],
            ),
            (
                DecodeError::MalformedAttributeList { reason: "x" },
                (3, 1),
                vec![],
            ),
            (
                DecodeError::InvalidNetworkField { reason: "x" },
                (3, 10),
                vec![],
            ),
            (
                DecodeError::RouteRefreshLength {
                    message: vec![1, 2, 3],
                },
                (7, 1),
                vec![1, 2, 3],
            ),
        ];
        for (err, codes, data) in cases {
            let n = err.notification();
            assert_eq!(n.error.codes(), codes, "{err}");
            assert_eq!(n.data, data, "{err}");
        }
        assert_ne!(
            DecodeError::BadMarker.notification().error,
            ErrorCode::Cease(CeaseReason::Unspecific)
        );
    }
}
