//! The authentication section, RFC 5880 sections 4.2 to 4.4 and 6.7.

use bytes::{Buf, BufMut};
use serde::{Deserialize, Serialize};

use super::control::HEADER_LEN;
use super::error::{BfdError, EmitError, PasswordLengthError};

/// Auth Len of a keyed MD5 section: type, length, key ID, reserved,
/// sequence number and the 16-byte digest (RFC 5880 section 4.3).
const MD5_AUTH_LEN: u8 = 24;

/// Auth Len of a keyed SHA1 section, with the 20-byte hash (section 4.4).
const SHA1_AUTH_LEN: u8 = 28;

/// Auth Type, Auth Len and Auth Key ID before a simple password (4.2).
const PASSWORD_OVERHEAD: u8 = 3;

/// Auth Type and Auth Len, present in every authentication section.
const SECTION_OVERHEAD: u8 = 2;

/// Where the MD5 digest or SHA1 hash starts in the packet: after the header,
/// Auth Type, Auth Len, Auth Key ID, Reserved and Sequence Number.
pub(super) const DIGEST_OFFSET: usize = HEADER_LEN + 8;

/// Length of a keyed MD5 digest.
pub(super) const MD5_LEN: usize = 16;
/// Length of a keyed SHA1 hash.
pub(super) const SHA1_LEN: usize = 20;

/// The most data an unknown section can carry within the 8-bit Length.
const MAX_OTHER_DATA: usize = u8::MAX as usize - HEADER_LEN - SECTION_OVERHEAD as usize;

/// The Auth Type field, RFC 5880 section 4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    /// 1 Simple Password.
    SimplePassword,
    /// 2 Keyed MD5.
    KeyedMd5,
    /// 3 Meticulous Keyed MD5.
    MeticulousKeyedMd5,
    /// 4 Keyed SHA1.
    KeyedSha1,
    /// 5 Meticulous Keyed SHA1.
    MeticulousKeyedSha1,
    /// 0 and 6 to 255, reserved.
    Other(u8),
}

impl AuthType {
    /// Whether `auth_len` is a valid Auth Len for this type.
    fn accepts_len(self, auth_len: u8) -> bool {
        match self {
            Self::SimplePassword => {
                let password = usize::from(auth_len.saturating_sub(PASSWORD_OVERHEAD));
                auth_len > PASSWORD_OVERHEAD && Password::LEN.contains(&password)
            }
            Self::KeyedMd5 | Self::MeticulousKeyedMd5 => auth_len == MD5_AUTH_LEN,
            Self::KeyedSha1 | Self::MeticulousKeyedSha1 => auth_len == SHA1_AUTH_LEN,
            Self::Other(_) => auth_len >= SECTION_OVERHEAD,
        }
    }
}

impl From<u8> for AuthType {
    fn from(code: u8) -> Self {
        match code {
            1 => Self::SimplePassword,
            2 => Self::KeyedMd5,
            3 => Self::MeticulousKeyedMd5,
            4 => Self::KeyedSha1,
            5 => Self::MeticulousKeyedSha1,
            other => Self::Other(other),
        }
    }
}

impl From<AuthType> for u8 {
    fn from(auth_type: AuthType) -> Self {
        match auth_type {
            AuthType::SimplePassword => 1,
            AuthType::KeyedMd5 => 2,
            AuthType::MeticulousKeyedMd5 => 3,
            AuthType::KeyedSha1 => 4,
            AuthType::MeticulousKeyedSha1 => 5,
            AuthType::Other(code) => code,
        }
    }
}

/// A simple password of 1 to 16 bytes, RFC 5880 section 4.2.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<u8>", into = "Vec<u8>")]
pub struct Password(Vec<u8>);

impl Password {
    /// Allowed lengths in bytes.
    pub const LEN: core::ops::RangeInclusive<usize> = 1..=16;

    /// The password bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Keeps the secret out of logs.
impl core::fmt::Debug for Password {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Password(<{} bytes>)", self.0.len())
    }
}

impl TryFrom<Vec<u8>> for Password {
    type Error = PasswordLengthError;

    fn try_from(bytes: Vec<u8>) -> Result<Self, Self::Error> {
        if Self::LEN.contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(PasswordLengthError(bytes.len()))
        }
    }
}

impl TryFrom<&[u8]> for Password {
    type Error = PasswordLengthError;

    fn try_from(bytes: &[u8]) -> Result<Self, Self::Error> {
        Self::try_from(bytes.to_vec())
    }
}

impl From<Password> for Vec<u8> {
    fn from(password: Password) -> Self {
        password.0
    }
}

/// The optional authentication section, RFC 5880 sections 4.2 to 4.4.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Auth Len    |  Auth Key ID  |  Password...  |   4.2
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   Auth Type   |   Auth Len    |  Auth Key ID  |   Reserved    |   4.3
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   4.4
/// |                        Sequence Number                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             Auth Key/Digest... (16 bytes, MD5)                |
/// |             Auth Key/Hash...   (20 bytes, SHA1)               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// The Reserved byte of sections 4.3 and 4.4 is ignored on receipt and
/// written as zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Auth {
    /// Type 1, section 4.2.
    SimplePassword {
        /// Which password of the session's set.
        key_id: u8,
        /// The password in clear.
        password: Password,
    },
    /// Type 2, section 4.3; the sequence number may repeat.
    KeyedMd5 {
        /// Which key of the session's set.
        key_id: u8,
        /// Sequence number, compared in serial arithmetic.
        sequence: u32,
        /// MD5 over the packet with the key in this field.
        digest: [u8; MD5_LEN],
    },
    /// Type 3, section 4.3; the sequence number increases on every packet.
    MeticulousKeyedMd5 {
        /// Which key of the session's set.
        key_id: u8,
        /// Sequence number, compared in serial arithmetic.
        sequence: u32,
        /// MD5 over the packet with the key in this field.
        digest: [u8; MD5_LEN],
    },
    /// Type 4, section 4.4; the sequence number may repeat.
    KeyedSha1 {
        /// Which key of the session's set.
        key_id: u8,
        /// Sequence number, compared in serial arithmetic.
        sequence: u32,
        /// SHA1 over the packet with the key in this field.
        hash: [u8; SHA1_LEN],
    },
    /// Type 5, section 4.4; the sequence number increases on every packet.
    MeticulousKeyedSha1 {
        /// Which key of the session's set.
        key_id: u8,
        /// Sequence number, compared in serial arithmetic.
        sequence: u32,
        /// SHA1 over the packet with the key in this field.
        hash: [u8; SHA1_LEN],
    },
    /// A reserved type (0, or 6 to 255), kept byte for byte.
    Other {
        /// The Auth Type field.
        auth_type: u8,
        /// Everything after Auth Len.
        data: Vec<u8>,
    },
}

impl Auth {
    /// The Auth Type field.
    pub fn auth_type(&self) -> AuthType {
        match self {
            Self::SimplePassword { .. } => AuthType::SimplePassword,
            Self::KeyedMd5 { .. } => AuthType::KeyedMd5,
            Self::MeticulousKeyedMd5 { .. } => AuthType::MeticulousKeyedMd5,
            Self::KeyedSha1 { .. } => AuthType::KeyedSha1,
            Self::MeticulousKeyedSha1 { .. } => AuthType::MeticulousKeyedSha1,
            Self::Other { auth_type, .. } => AuthType::from(*auth_type),
        }
    }

    /// The Auth Key ID, which selects the key to verify with; `None` for
    /// unknown types.
    pub fn key_id(&self) -> Option<u8> {
        match self {
            Self::SimplePassword { key_id, .. }
            | Self::KeyedMd5 { key_id, .. }
            | Self::MeticulousKeyedMd5 { key_id, .. }
            | Self::KeyedSha1 { key_id, .. }
            | Self::MeticulousKeyedSha1 { key_id, .. } => Some(*key_id),
            Self::Other { .. } => None,
        }
    }

    /// The Sequence Number of the keyed types.
    pub fn sequence(&self) -> Option<u32> {
        match self {
            Self::KeyedMd5 { sequence, .. }
            | Self::MeticulousKeyedMd5 { sequence, .. }
            | Self::KeyedSha1 { sequence, .. }
            | Self::MeticulousKeyedSha1 { sequence, .. } => Some(*sequence),
            Self::SimplePassword { .. } | Self::Other { .. } => None,
        }
    }

    /// Bytes of the section on the wire, which is also its Auth Len.
    pub fn buffer_len(&self) -> usize {
        match self {
            Self::SimplePassword { password, .. } => {
                usize::from(PASSWORD_OVERHEAD) + password.as_bytes().len()
            }
            Self::KeyedMd5 { .. } | Self::MeticulousKeyedMd5 { .. } => usize::from(MD5_AUTH_LEN),
            Self::KeyedSha1 { .. } | Self::MeticulousKeyedSha1 { .. } => usize::from(SHA1_AUTH_LEN),
            Self::Other { data, .. } => usize::from(SECTION_OVERHEAD) + data.len(),
        }
    }

    /// Decodes the section from `buf`, which holds the rest of the packet
    /// up to its Length field, and advances `buf` past it.
    pub(super) fn parse(buf: &mut &[u8]) -> Result<Self, BfdError> {
        let available = buf.len();
        let truncated = |_| BfdError::Truncated {
            received: available,
        };

        let code = buf.try_get_u8().map_err(truncated)?;
        let auth_type = AuthType::from(code);
        let auth_len = buf.try_get_u8().map_err(truncated)?;
        if !auth_type.accepts_len(auth_len) {
            return Err(BfdError::BadAuthLength {
                auth_type,
                auth_len,
            });
        }
        let (mut data, rest) = buf
            .split_at_checked(usize::from(auth_len - SECTION_OVERHEAD))
            .ok_or(BfdError::AuthSectionTruncated {
                auth_len,
                available,
            })?;
        *buf = rest;

        let auth = match auth_type {
            AuthType::SimplePassword => {
                let key_id = data.try_get_u8().map_err(truncated)?;
                let password = Password::try_from(data).map_err(|_| BfdError::BadAuthLength {
                    auth_type,
                    auth_len,
                })?;
                Self::SimplePassword { key_id, password }
            }
            AuthType::KeyedMd5 | AuthType::MeticulousKeyedMd5 => {
                let (key_id, sequence) = keyed_prefix(&mut data).map_err(truncated)?;
                let mut digest = [0; MD5_LEN];
                data.try_copy_to_slice(&mut digest).map_err(truncated)?;
                if auth_type == AuthType::KeyedMd5 {
                    Self::KeyedMd5 {
                        key_id,
                        sequence,
                        digest,
                    }
                } else {
                    Self::MeticulousKeyedMd5 {
                        key_id,
                        sequence,
                        digest,
                    }
                }
            }
            AuthType::KeyedSha1 | AuthType::MeticulousKeyedSha1 => {
                let (key_id, sequence) = keyed_prefix(&mut data).map_err(truncated)?;
                let mut hash = [0; SHA1_LEN];
                data.try_copy_to_slice(&mut hash).map_err(truncated)?;
                if auth_type == AuthType::KeyedSha1 {
                    Self::KeyedSha1 {
                        key_id,
                        sequence,
                        hash,
                    }
                } else {
                    Self::MeticulousKeyedSha1 {
                        key_id,
                        sequence,
                        hash,
                    }
                }
            }
            AuthType::Other(auth_type) => Self::Other {
                auth_type,
                data: data.to_vec(),
            },
        };
        Ok(auth)
    }

    /// Fails for what [`emit`](Self::emit) cannot write faithfully.
    pub(super) fn check_encodable(&self) -> Result<(), EmitError> {
        match self {
            Self::Other { auth_type, data } => {
                if !matches!(AuthType::from(*auth_type), AuthType::Other(_)) {
                    Err(EmitError::AssignedAuthTypeAsOther(*auth_type))
                } else if data.len() > MAX_OTHER_DATA {
                    Err(EmitError::AuthDataTooLong {
                        len: data.len(),
                        max: MAX_OTHER_DATA,
                    })
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Writes the section; `out` must have room for
    /// [`buffer_len`](Self::buffer_len) bytes, which
    /// [`check_encodable`](Self::check_encodable) keeps within one byte.
    pub(super) fn emit<B: BufMut>(&self, out: &mut B) {
        out.put_u8(u8::from(self.auth_type()));
        out.put_u8(u8::try_from(self.buffer_len()).unwrap_or(u8::MAX));
        match self {
            Self::SimplePassword { key_id, password } => {
                out.put_u8(*key_id);
                out.put_slice(password.as_bytes());
            }
            Self::KeyedMd5 {
                key_id,
                sequence,
                digest,
            }
            | Self::MeticulousKeyedMd5 {
                key_id,
                sequence,
                digest,
            } => {
                emit_keyed_prefix(out, *key_id, *sequence);
                out.put_slice(digest);
            }
            Self::KeyedSha1 {
                key_id,
                sequence,
                hash,
            }
            | Self::MeticulousKeyedSha1 {
                key_id,
                sequence,
                hash,
            } => {
                emit_keyed_prefix(out, *key_id, *sequence);
                out.put_slice(hash);
            }
            Self::Other { data, .. } => out.put_slice(data),
        }
    }
}

/// Auth Key ID, Reserved (ignored) and Sequence Number of sections 4.3/4.4.
fn keyed_prefix(data: &mut &[u8]) -> Result<(u8, u32), bytes::TryGetError> {
    let key_id = data.try_get_u8()?;
    let _reserved = data.try_get_u8()?;
    let sequence = data.try_get_u32()?;
    Ok((key_id, sequence))
}

fn emit_keyed_prefix<B: BufMut>(out: &mut B, key_id: u8, sequence: u32) {
    out.put_u8(key_id);
    out.put_u8(0);
    out.put_u32(sequence);
}
