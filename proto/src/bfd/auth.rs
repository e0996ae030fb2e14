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
        // Fits: check_encodable and ControlPacket::emit bound the section.
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

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::super::control::{ControlPacket, Diagnostic, State};
    use super::*;

    /// A Down packet with the A bit set (RFC 5880 section 4.1) followed by
    /// `section`; the Length field covers both.
    fn packet_with(section: &[u8]) -> Vec<u8> {
        let length = u8::try_from(HEADER_LEN + section.len()).unwrap();
        let mut bytes = vec![
            0x20, 0x44, 0x03, length, // Down, A bit
            0x00, 0x00, 0x00, 0x01, // My Discriminator
            0x00, 0x00, 0x00, 0x00, // Your Discriminator
            0x00, 0x0f, 0x42, 0x40, // Desired Min TX Interval: 1 s
            0x00, 0x0f, 0x42, 0x40, // Required Min RX Interval: 1 s
            0x00, 0x00, 0x00, 0x00, // Required Min Echo RX Interval
        ];
        bytes.extend_from_slice(section);
        bytes
    }

    fn parse_auth(section: &[u8]) -> Result<Option<Auth>, BfdError> {
        ControlPacket::parse(&packet_with(section)).map(|packet| packet.auth)
    }

    /// Section 4.2: type 1, Auth Len 3 + 4, key ID 9, "abcd".
    const SIMPLE: [u8; 7] = [1, 7, 9, b'a', b'b', b'c', b'd'];

    /// Section 4.3: type 2, Auth Len 24, key ID 5, reserved, sequence 42,
    /// then the digest.
    fn keyed_md5_section(auth_type: u8) -> Vec<u8> {
        let mut section = vec![auth_type, 24, 5, 0, 0, 0, 0, 42];
        section.extend(1..=16);
        section
    }

    /// Section 4.4: type 4, Auth Len 28, key ID 5, reserved, sequence 42,
    /// then the hash.
    fn keyed_sha1_section(auth_type: u8) -> Vec<u8> {
        let mut section = vec![auth_type, 28, 5, 0, 0, 0, 0, 42];
        section.extend(1..=20);
        section
    }

    #[test]
    fn parses_simple_password_section() {
        let auth = parse_auth(&SIMPLE).unwrap().unwrap();
        assert_eq!(
            auth,
            Auth::SimplePassword {
                key_id: 9,
                password: Password::try_from(&b"abcd"[..]).unwrap()
            }
        );
        assert_eq!(auth.auth_type(), AuthType::SimplePassword);
        assert_eq!(auth.key_id(), Some(9));
        assert_eq!(auth.sequence(), None);
        let packet = ControlPacket::parse(&packet_with(&SIMPLE)).unwrap();
        assert!(packet.authentication_present());
        assert_eq!(packet.diagnostic, Diagnostic::NoDiagnostic);
        assert_eq!(packet.state, State::Down);
        assert_eq!(packet.to_bytes().unwrap(), packet_with(&SIMPLE));
    }

    #[test]
    fn parses_keyed_md5_sections() {
        let digest: [u8; 16] = core::array::from_fn(|i| u8::try_from(i + 1).unwrap());
        let keyed = parse_auth(&keyed_md5_section(2)).unwrap().unwrap();
        assert_eq!(
            keyed,
            Auth::KeyedMd5 {
                key_id: 5,
                sequence: 42,
                digest
            }
        );
        let meticulous = parse_auth(&keyed_md5_section(3)).unwrap().unwrap();
        assert_eq!(
            meticulous,
            Auth::MeticulousKeyedMd5 {
                key_id: 5,
                sequence: 42,
                digest
            }
        );
        assert_eq!(meticulous.sequence(), Some(42));
    }

    #[test]
    fn parses_keyed_sha1_sections() {
        let hash: [u8; 20] = core::array::from_fn(|i| u8::try_from(i + 1).unwrap());
        let keyed = parse_auth(&keyed_sha1_section(4)).unwrap().unwrap();
        assert_eq!(
            keyed,
            Auth::KeyedSha1 {
                key_id: 5,
                sequence: 42,
                hash
            }
        );
        let meticulous = parse_auth(&keyed_sha1_section(5)).unwrap().unwrap();
        assert_eq!(
            meticulous,
            Auth::MeticulousKeyedSha1 {
                key_id: 5,
                sequence: 42,
                hash
            }
        );
        assert_eq!(meticulous.auth_type(), AuthType::MeticulousKeyedSha1);
    }

    #[test]
    fn keeps_unknown_auth_type_byte_for_byte() {
        for section in [vec![6, 2], vec![0, 5, 1, 2, 3], vec![255, 4, 0xaa, 0xbb]] {
            let bytes = packet_with(&section);
            let packet = ControlPacket::parse(&bytes).unwrap();
            let auth = packet.auth.as_ref().unwrap();
            assert_eq!(
                *auth,
                Auth::Other {
                    auth_type: section[0],
                    data: section[2..].to_vec()
                }
            );
            assert_eq!(auth.key_id(), None);
            assert_eq!(packet.to_bytes().unwrap(), bytes);
        }
    }

    #[test]
    fn ignores_reserved_byte_on_receipt_and_writes_zero() {
        let mut section = keyed_md5_section(2);
        section[3] = 0xff;
        let packet = ControlPacket::parse(&packet_with(&section)).unwrap();
        assert_eq!(
            packet.to_bytes().unwrap(),
            packet_with(&keyed_md5_section(2))
        );
    }

    #[test]
    fn rejects_auth_len_that_does_not_fit_the_type() {
        assert!(parse_auth(&SIMPLE).is_ok());
        assert!(parse_auth(&keyed_md5_section(2)).is_ok());
        assert!(parse_auth(&keyed_sha1_section(4)).is_ok());
        let cases: [(Vec<u8>, AuthType, u8); 6] = [
            (vec![1, 3, 9, 0], AuthType::SimplePassword, 3), // empty password
            (
                [vec![1, 20, 9], vec![b'x'; 17]].concat(),
                AuthType::SimplePassword,
                20,
            ),
            (
                [&keyed_md5_section(2)[..], &[0]].concat(),
                AuthType::KeyedMd5,
                28,
            ),
            (keyed_sha1_section(2), AuthType::KeyedMd5, 28),
            (keyed_md5_section(5), AuthType::MeticulousKeyedSha1, 24),
            (vec![7, 1, 0, 0], AuthType::Other(7), 1),
        ];
        for (mut section, auth_type, auth_len) in cases {
            section[1] = auth_len;
            assert_eq!(
                parse_auth(&section),
                Err(BfdError::BadAuthLength {
                    auth_type,
                    auth_len
                }),
                "{section:?}"
            );
        }
    }

    #[test]
    fn rejects_auth_section_running_past_length() {
        assert!(parse_auth(&[6, 6, 0, 0, 0, 0]).is_ok());
        assert_eq!(
            parse_auth(&[6, 10, 0, 0, 0, 0]),
            Err(BfdError::AuthSectionTruncated {
                auth_len: 10,
                available: 6
            })
        );
        let md5 = keyed_md5_section(2);
        assert_eq!(
            parse_auth(&md5[..20]),
            Err(BfdError::AuthSectionTruncated {
                auth_len: 24,
                available: 20
            })
        );
    }

    #[test]
    fn rejects_bytes_after_auth_section() {
        assert!(parse_auth(&SIMPLE).is_ok());
        let section = [&SIMPLE[..], &[0, 0]].concat();
        assert_eq!(
            parse_auth(&section),
            Err(BfdError::TrailingBytes {
                length: 33,
                end: 31
            })
        );
    }

    #[test]
    fn emit_rejects_assigned_type_as_other() {
        for auth_type in 1..=5 {
            let packet = ControlPacket::parse(&packet_with(&[6, 2])).unwrap();
            let packet = ControlPacket {
                auth: Some(Auth::Other {
                    auth_type,
                    data: vec![],
                }),
                ..packet
            };
            assert_eq!(
                packet.to_bytes(),
                Err(EmitError::AssignedAuthTypeAsOther(auth_type))
            );
        }
    }

    #[test]
    fn emit_rejects_auth_data_beyond_length_field() {
        let packet = ControlPacket::parse(&packet_with(&[6, 2])).unwrap();
        let fits = ControlPacket {
            auth: Some(Auth::Other {
                auth_type: 6,
                data: vec![0; MAX_OTHER_DATA],
            }),
            ..packet.clone()
        };
        let bytes = fits.to_bytes().unwrap();
        assert_eq!(bytes.len(), 255);
        assert_eq!(ControlPacket::parse(&bytes), Ok(fits));
        let too_long = ControlPacket {
            auth: Some(Auth::Other {
                auth_type: 6,
                data: vec![0; MAX_OTHER_DATA + 1],
            }),
            ..packet
        };
        assert_eq!(
            too_long.to_bytes(),
            Err(EmitError::AuthDataTooLong { len: 230, max: 229 })
        );
    }

    #[test]
    fn password_is_1_to_16_bytes() {
        assert_eq!(Password::try_from(vec![]), Err(PasswordLengthError(0)));
        assert_eq!(
            Password::try_from(vec![0; 17]),
            Err(PasswordLengthError(17))
        );
        assert_eq!(Password::try_from(vec![0; 16]).unwrap().as_bytes(), [0; 16]);
        assert!(serde_json::from_str::<Password>("[]").is_err());
        assert!(serde_json::from_str::<Password>("[1]").is_ok());
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let password = Password::try_from(&b"hunter2"[..]).unwrap();
        assert_eq!(format!("{password:?}"), "Password(<7 bytes>)");
    }

    #[test]
    fn auth_type_codes_round_trip() {
        for code in 0..=255 {
            assert_eq!(u8::from(AuthType::from(code)), code);
        }
        assert_eq!(AuthType::from(0), AuthType::Other(0));
        assert_eq!(AuthType::from(4), AuthType::KeyedSha1);
    }

    #[test]
    fn serializes_auth_to_json_and_back() {
        let auth = parse_auth(&keyed_sha1_section(5)).unwrap().unwrap();
        let json = serde_json::to_string(&auth).unwrap();
        assert!(
            json.contains("\"type\":\"meticulous_keyed_sha1\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<Auth>(&json).unwrap(), auth);
    }
}
