//! BGP-4 messages (RFC 4271) with the extensions a data-center fabric
//! expects: capabilities (RFC 5492), multiprotocol (RFC 4760), 4-octet AS
//! (RFC 6793), ADD-PATH (RFC 7911), extended next hop (RFC 8950), route
//! refresh (RFC 2918, 7313), graceful restart (RFC 4724, 8538), communities
//! of all three kinds, and revised error handling (RFC 7606).
//!
//! Entry points: [`frame_len`] finds message boundaries in a byte stream,
//! [`Message::decode`] turns one frame into a typed message, and each
//! message type has `emit` / `buffer_len`. A [`Context`] built by
//! [`Context::negotiate`] from both OPENs tells the codec what the session
//! agreed (4-octet AS, ADD-PATH, extended next hop, message size).
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

pub mod aspath;
pub mod attribute;
pub mod capability;
pub mod community;
pub mod context;
pub mod error;
pub mod header;
pub mod iana;
pub mod message;
pub mod mobility;
pub mod mp;
mod negotiate;
pub mod nlri;
pub mod notification;
pub mod open;
mod reader;
pub mod route_refresh;
pub mod update;

mod differential;
#[cfg(test)]
mod proptests;

pub use aspath::{AsPath, Segment, SegmentKind};
pub use attribute::{Aggregator, AttributeError, AttributeValue, Origin, PathAttribute};
pub use capability::{AddPathMode, Capability, GracefulRestart, GracefulRestartFamily};
pub use community::{Community, ExtendedCommunity, LargeCommunity};
pub use context::Context;
pub use error::{DecodeError, EncodeError};
pub use header::{HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, frame_len};
pub use iana::{Afi, AfiSafi, MessageType, Safi};
pub use message::{Decoded, Message};
pub use mobility::{Mobility, Sequence};
pub use mp::{MpNextHop, MpReach, MpUnreach};
pub use nlri::Nlri;
pub use notification::{CeaseReason, ErrorCode, Notification};
pub use open::{HoldTime, Open};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::{Action, AttributeProblem, DecodedUpdate, Update};
