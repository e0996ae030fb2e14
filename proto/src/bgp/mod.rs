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

pub mod capability;
pub mod context;
pub mod error;
pub mod header;
pub mod iana;
mod negotiate;
pub mod notification;
pub mod open;
#[allow(dead_code)] // used by the message decoders as they land
mod reader;
pub mod route_refresh;

pub use capability::{AddPathMode, Capability, GracefulRestart, GracefulRestartFamily};
pub use context::Context;
pub use error::{DecodeError, EncodeError};
pub use header::{HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, frame_len};
pub use iana::{Afi, AfiSafi, MessageType, Safi};
pub use notification::{CeaseReason, ErrorCode, Notification};
pub use open::{HoldTime, Open};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
