//! Errors of the BFD codec: decoding, encoding and authentication.

use super::auth::AuthType;
use super::control::State;

/// Why a received BFD Control packet was discarded.
///
/// Most variants are one receive check of RFC 5880 section 6.8.6, in the
/// order the RFC lists them; the rest say how an authentication section
/// (sections 4.2 to 4.4) is malformed. The last three come from
/// [`check_auth_policy`](super::check_auth_policy), which needs the
/// session's configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BfdError {
    /// Too few bytes to read the version and the Length field.
    #[error("BFD control packet truncated: {received} bytes, too short to hold the Length field")]
    Truncated {
        /// Bytes received.
        received: usize,
    },
    /// The version field is not 1.
    #[error("BFD version {0} is not supported, only version 1 is")]
    BadVersion(u8),
    /// The Length field is below 24, or below 26 with the A bit set.
    #[error("Length field {length} is below the minimum of {minimum} bytes")]
    LengthTooSmall {
        /// The Length field.
        length: u8,
        /// 24, or 26 when the A bit is set.
        minimum: u8,
    },
    /// The Length field claims more bytes than the datagram carried.
    #[error("Length field {length} exceeds the {received} bytes received")]
    LengthExceedsReceived {
        /// The Length field.
        length: u8,
        /// Bytes received.
        received: usize,
    },
    /// The Detect Mult field is zero.
    #[error("Detect Mult is zero")]
    ZeroDetectMult,
    /// The Multipoint (M) bit is set; it is reserved for point-to-multipoint
    /// extensions and must be zero.
    #[error("Multipoint (M) bit is set")]
    MultipointSet,
    /// The My Discriminator field is zero.
    #[error("My Discriminator is zero")]
    ZeroMyDiscriminator,
    /// The Your Discriminator field is zero while State is Init or Up.
    #[error("Your Discriminator is zero in state {state:?}, allowed only in Down or AdminDown")]
    ZeroYourDiscriminator {
        /// The State field.
        state: State,
    },
    /// The Auth Len field does not fit the Auth Type (section 4.2: 4 to 19
    /// for a simple password, 4.3: 24 for MD5, 4.4: 28 for SHA1, at least 2
    /// for any other type).
    #[error("Auth Len {auth_len} is invalid for authentication type {auth_type:?}")]
    BadAuthLength {
        /// The Auth Type field.
        auth_type: AuthType,
        /// The Auth Len field.
        auth_len: u8,
    },
    /// The Auth Len field runs past the end given by the Length field.
    #[error("authentication section of {auth_len} bytes but only {available} remain in the packet")]
    AuthSectionTruncated {
        /// The Auth Len field.
        auth_len: u8,
        /// Bytes between the end of the header and the end of the packet.
        available: usize,
    },
    /// The Length field counts bytes after the last section: after the
    /// header with the A bit clear, after the authentication section with it
    /// set.
    #[error("Length field {length} but the packet's sections end at byte {end}")]
    TrailingBytes {
        /// The Length field.
        length: u8,
        /// Where the header or the authentication section ends.
        end: usize,
    },
    /// The A bit is set but the session has no authentication configured.
    #[error("packet is authenticated but the session has no authentication configured")]
    UnexpectedAuthentication,
    /// The A bit is clear but the session requires authentication.
    #[error("packet is not authenticated but the session requires {expected:?}")]
    MissingAuthentication {
        /// What the session is configured with.
        expected: AuthType,
    },
    /// The packet is authenticated with another type than the session's.
    #[error("packet is authenticated with {received:?} but the session requires {expected:?}")]
    AuthTypeMismatch {
        /// What the session is configured with.
        expected: AuthType,
        /// What the packet carries.
        received: AuthType,
    },
}

/// Why a [`ControlPacket`](super::ControlPacket) could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The output buffer is shorter than `buffer_len()`.
    #[error("output buffer of {available} bytes, the packet needs {needed}")]
    BufferTooSmall {
        /// `buffer_len()` of the packet.
        needed: usize,
        /// Length of the buffer given.
        available: usize,
    },
    /// A diagnostic code does not fit the 5-bit Diag field.
    #[error("diagnostic code {0} does not fit in 5 bits")]
    DiagnosticOutOfRange(u8),
    /// An unknown authentication section is too long for the 8-bit Length
    /// field.
    #[error("authentication data of {len} bytes exceeds the maximum of {max}")]
    AuthDataTooLong {
        /// Length of the data.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// [`Auth::Other`](super::Auth::Other) carries a type code that has its
    /// own variant; it would not parse back as `Other`.
    #[error("authentication type {0} is assigned; use its own Auth variant, not Other")]
    AssignedAuthTypeAsOther(u8),
}

/// Why a packet failed authentication (RFC 5880 section 6.7), or could not
/// be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The bytes are not a valid BFD Control packet.
    #[error("malformed BFD control packet: {0}")]
    Malformed(#[from] BfdError),
    /// The packet has no authentication section (A bit clear).
    #[error("packet has no authentication section")]
    NotAuthenticated,
    /// The operation does not apply to this authentication type: `sign`
    /// needs a digest type, `verify` a known type.
    #[error("operation not supported for authentication type {0:?}")]
    UnsupportedAuthType(AuthType),
    /// The key is longer than the digest field it is placed in.
    #[error("key of {len} bytes exceeds the maximum of {max} for this authentication type")]
    KeyTooLong {
        /// Length of the key.
        len: usize,
        /// 16 for MD5, 20 for SHA1.
        max: usize,
    },
    /// The simple password differs from the configured one.
    #[error("simple password does not match")]
    PasswordMismatch,
    /// The MD5 digest or SHA1 hash differs from the one computed with the key.
    #[error("authentication digest does not match")]
    DigestMismatch,
    /// The sequence number is outside the window of section 6.7.3 / 6.7.4.
    #[error("sequence number {received} is outside the window after {last}")]
    SequenceOutOfWindow {
        /// bfd.RcvAuthSeq, the last sequence number accepted.
        last: u32,
        /// The sequence number received.
        received: u32,
    },
}

/// A simple password (RFC 5880 section 4.2) must be 1 to 16 bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("simple password must be 1 to 16 bytes, got {0}")]
pub struct PasswordLengthError(pub usize);
