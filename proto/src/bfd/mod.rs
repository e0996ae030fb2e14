//! BFD Control packets, RFC 5880: decoding, encoding and authentication.
//!
//! # Contract
//!
//! - [`ControlPacket::parse`] never panics, on any input. It returns a
//!   [`BfdError`] naming the first receive check of RFC 5880 section 6.8.6
//!   that failed, or how the authentication section is malformed. It reads
//!   only the bytes the Length field covers.
//! - [`ControlPacket::emit`] writes exactly [`ControlPacket::buffer_len`]
//!   bytes, and `parse(emit(p)) == p` for every packet that passes the
//!   receive checks. It fails only for values that cannot be encoded or a
//!   short buffer ([`EmitError`]).
//! - Checks that need a session live outside `parse`:
//!   [`check_auth_policy`] (the A bit against the session's configuration),
//!   [`verify`] (password or digest, section 6.7) and [`check_sequence`]
//!   (the sequence window).
//!
//! # Receiving an authenticated packet
//!
//! ```
//! use proto::bfd::{check_auth_policy, check_sequence, verify, AuthType, ControlPacket};
//! # fn receive(bytes: &[u8], key: &[u8], last_seq: Option<u32>) -> Option<ControlPacket> {
//! let packet = ControlPacket::parse(bytes).ok()?;
//! check_auth_policy(&packet, Some(AuthType::MeticulousKeyedSha1)).ok()?;
//! verify(bytes, key).ok()?; // the key chosen by packet.auth's key_id
//! check_sequence(&packet, last_seq).ok()?;
//! # Some(packet)
//! # }
//! ```
//!
//! Sending one: fill in `auth` with the key ID and sequence number (the
//! digest field's value does not matter), [`ControlPacket::emit`], then
//! [`sign`] the bytes with the key.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod auth;
mod control;
mod error;
#[cfg(test)]
mod proptests;
mod verify;

pub use auth::{Auth, AuthType, Password};
pub use control::{ControlPacket, Diagnostic, Discriminator, HEADER_LEN, State, VERSION};
pub use error::{AuthError, BfdError, EmitError, PasswordLengthError};
pub use verify::{
    check_auth_policy, check_sequence, keyed_sequence_acceptable, meticulous_sequence_acceptable,
    sign, verify,
};
