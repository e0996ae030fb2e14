//! BGP-4 messages (RFC 4271) with the extensions a data-center fabric
//! expects: capabilities (RFC 5492), multiprotocol (RFC 4760), 4-octet AS
//! (RFC 6793), ADD-PATH (RFC 7911), route refresh (RFC 2918, 7313),
//! graceful restart (RFC 4724), communities of all three kinds, and revised
//! error handling (RFC 7606).
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod context;
pub mod error;
pub mod header;
pub mod iana;
pub mod notification;
mod reader;

pub use context::Context;
pub use error::{DecodeError, EncodeError};
pub use header::{HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, frame_len};
pub use iana::{Afi, AfiSafi, MessageType, Safi};
pub use notification::{CeaseReason, ErrorCode, Notification};

pub mod aspath;
pub mod attribute;
pub mod community;
pub mod mobility;
pub mod mp;
pub mod nlri;
pub mod update;

pub use aspath::{AsPath, Segment, SegmentKind};
pub use attribute::{Aggregator, AttributeError, AttributeValue, Origin, PathAttribute};
pub use community::{Community, ExtendedCommunity, LargeCommunity};
pub use mobility::{Mobility, Sequence};
pub use mp::{MpNextHop, MpReach, MpUnreach};
pub use nlri::Nlri;
pub use update::{Action, AttributeProblem, DecodedUpdate, Update};
#[cfg(test)]
mod proptests;
