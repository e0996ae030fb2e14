//! Authenticating packets, RFC 5880 section 6.7: signing, verifying, the
//! sequence window and the A-bit policy of section 6.8.6.

use md5::{Digest, Md5};
use sha1::Sha1;

use super::auth::{Auth, AuthType, DIGEST_OFFSET, MD5_LEN, SHA1_LEN};
use super::control::ControlPacket;
use super::error::{AuthError, BfdError};

/// Fills in the MD5 digest or SHA1 hash of an emitted packet, RFC 5880
/// sections 6.7.3 and 6.7.4: the digest field is set to `key`, zero-padded
/// to 16 or 20 bytes, the digest is computed over the whole packet, and
/// written over the key.
///
/// The packet must already carry the Auth Key ID and Sequence Number to
/// sign with; the digest field's content is ignored.
pub fn sign(packet: &mut [u8], key: &[u8]) -> Result<(), AuthError> {
    let auth = ControlPacket::parse(packet)?
        .auth
        .ok_or(AuthError::NotAuthenticated)?;
    let prefix = digest_prefix(packet)?;
    match auth {
        Auth::KeyedMd5 { .. } | Auth::MeticulousKeyedMd5 { .. } => {
            let digest = md5_digest(prefix, key)?;
            write_digest(packet, &digest)
        }
        Auth::KeyedSha1 { .. } | Auth::MeticulousKeyedSha1 { .. } => {
            let hash = sha1_digest(prefix, key)?;
            write_digest(packet, &hash)
        }
        other => Err(AuthError::UnsupportedAuthType(other.auth_type())),
    }
}

/// What the digest covers besides the key: the packet up to the digest
/// field. Only called once parsing proved the packet holds a digest.
fn digest_prefix(packet: &[u8]) -> Result<&[u8], AuthError> {
    let received = packet.len();
    Ok(packet
        .get(..DIGEST_OFFSET)
        .ok_or(BfdError::Truncated { received })?)
}

fn write_digest(packet: &mut [u8], digest: &[u8]) -> Result<(), AuthError> {
    let received = packet.len();
    packet
        .get_mut(DIGEST_OFFSET..DIGEST_OFFSET + digest.len())
        .ok_or(BfdError::Truncated { received })?
        .copy_from_slice(digest);
    Ok(())
}

/// Authenticates a received packet with `key`, RFC 5880 sections 6.7.2 to
/// 6.7.4: compares the simple password, or recomputes the digest as
/// [`sign`] does, in constant time.
///
/// The caller picks `key` by the packet's [`Auth::key_id`] (several keys may
/// be configured during a rollover) and checks the sequence number with
/// [`check_sequence`] once the packet is authentic.
pub fn verify(bytes: &[u8], key: &[u8]) -> Result<(), AuthError> {
    let packet = ControlPacket::parse(bytes)?;
    let auth = packet.auth.ok_or(AuthError::NotAuthenticated)?;
    let (matches, mismatch) = match &auth {
        Auth::SimplePassword { password, .. } => (
            constant_time_eq(password.as_bytes(), key),
            AuthError::PasswordMismatch,
        ),
        Auth::KeyedMd5 { digest, .. } | Auth::MeticulousKeyedMd5 { digest, .. } => (
            constant_time_eq(digest, &md5_digest(digest_prefix(bytes)?, key)?),
            AuthError::DigestMismatch,
        ),
        Auth::KeyedSha1 { hash, .. } | Auth::MeticulousKeyedSha1 { hash, .. } => (
            constant_time_eq(hash, &sha1_digest(digest_prefix(bytes)?, key)?),
            AuthError::DigestMismatch,
        ),
        Auth::Other { .. } => return Err(AuthError::UnsupportedAuthType(auth.auth_type())),
    };
    if matches { Ok(()) } else { Err(mismatch) }
}

fn md5_digest(prefix: &[u8], key: &[u8]) -> Result<[u8; MD5_LEN], AuthError> {
    let padded: [u8; MD5_LEN] = zero_padded(key)?;
    Ok(Md5::new()
        .chain_update(prefix)
        .chain_update(padded)
        .finalize()
        .into())
}

fn sha1_digest(prefix: &[u8], key: &[u8]) -> Result<[u8; SHA1_LEN], AuthError> {
    let padded: [u8; SHA1_LEN] = zero_padded(key)?;
    Ok(Sha1::new()
        .chain_update(prefix)
        .chain_update(padded)
        .finalize()
        .into())
}

fn zero_padded<const N: usize>(key: &[u8]) -> Result<[u8; N], AuthError> {
    let mut padded = [0; N];
    padded
        .get_mut(..key.len())
        .ok_or(AuthError::KeyTooLong {
            len: key.len(),
            max: N,
        })?
        .copy_from_slice(key);
    Ok(padded)
}

/// Compares in time that depends on the lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y));
    core::hint::black_box(diff) == 0
}

/// The sequence window of RFC 5880 sections 6.7.3 and 6.7.4: 3 × Detect Mult.
fn window(detect_mult: u8) -> u32 {
    3 * u32::from(detect_mult)
}

/// Keyed MD5 / SHA1 (sections 6.7.3, 6.7.4): accepts a sequence number in
/// `last ..= last + 3 × detect_mult`, in 32-bit serial arithmetic, where
/// `last` is bfd.RcvAuthSeq and `detect_mult` the received Detect Mult.
pub fn keyed_sequence_acceptable(last: u32, received: u32, detect_mult: u8) -> bool {
    received.wrapping_sub(last) <= window(detect_mult)
}

/// Meticulous keyed MD5 / SHA1: the sequence number must increase, within
/// `last + 1 ..= last + 3 × detect_mult` in 32-bit serial arithmetic.
pub fn meticulous_sequence_acceptable(last: u32, received: u32, detect_mult: u8) -> bool {
    (1..=window(detect_mult)).contains(&received.wrapping_sub(last))
}

/// Checks a received packet's sequence number against bfd.RcvAuthSeq
/// (`last`, `None` while bfd.AuthSeqKnown is 0, when anything goes), using
/// the packet's Detect Mult. Packets without a sequence number pass.
pub fn check_sequence(packet: &ControlPacket, last: Option<u32>) -> Result<(), AuthError> {
    let (Some(auth), Some(last)) = (&packet.auth, last) else {
        return Ok(());
    };
    let Some(received) = auth.sequence() else {
        return Ok(());
    };
    let acceptable = match auth {
        Auth::MeticulousKeyedMd5 { .. } | Auth::MeticulousKeyedSha1 { .. } => {
            meticulous_sequence_acceptable(last, received, packet.detect_mult)
        }
        _ => keyed_sequence_acceptable(last, received, packet.detect_mult),
    };
    if acceptable {
        Ok(())
    } else {
        Err(AuthError::SequenceOutOfWindow { last, received })
    }
}

/// The A-bit checks of RFC 5880 section 6.8.6 that need the session's
/// configuration: `expected` is bfd.AuthType, `None` when the session runs
/// without authentication.
pub fn check_auth_policy(
    packet: &ControlPacket,
    expected: Option<AuthType>,
) -> Result<(), BfdError> {
    match (packet.auth.as_ref().map(Auth::auth_type), expected) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(BfdError::UnexpectedAuthentication),
        (None, Some(expected)) => Err(BfdError::MissingAuthentication { expected }),
        (Some(received), Some(expected)) if received != expected => {
            Err(BfdError::AuthTypeMismatch { expected, received })
        }
        (Some(_), Some(_)) => Ok(()),
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::super::auth::Password;
    use super::super::control::{Diagnostic, State};
    use super::*;

    /// Keyed MD5 (RFC 5880 section 4.3), State Up, My/Your Discriminator
    /// 1/2, intervals 1 s, key ID 5, sequence 42, key "s3cret". The digest
    /// was computed independently with Python's hashlib over the packet with
    /// the key, zero-padded to 16 bytes, in the digest field.
    const MD5_SIGNED: &str = "20c403300000000100000002000f4240000f424000000000\
                              021805000000002a\
                              f12f9d1cfa6234ca77e985512649ac49";
    const MD5_KEY: &[u8] = b"s3cret";

    /// Meticulous keyed SHA1 (section 4.4), same header, key ID 7, sequence
    /// 0xfffffffe, a 20-byte key; hash computed the same way with hashlib.
    const SHA1_SIGNED: &str = "20c403340000000100000002000f4240000f424000000000\
                               051c0700fffffffe\
                               9ba0dd2dd7d792665156880a3323a72306d959f0";
    const SHA1_KEY: &[u8] = b"a 20 byte secret key";

    fn up(auth: Option<Auth>) -> ControlPacket {
        ControlPacket {
            diagnostic: Diagnostic::NoDiagnostic,
            state: State::Up,
            poll: false,
            final_: false,
            control_plane_independent: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discriminator: 1,
            your_discriminator: 2,
            desired_min_tx_us: 1_000_000,
            required_min_rx_us: 1_000_000,
            required_min_echo_rx_us: 0,
            auth,
        }
    }

    fn simple(password: &[u8]) -> ControlPacket {
        up(Some(Auth::SimplePassword {
            key_id: 1,
            password: Password::try_from(password).unwrap(),
        }))
    }

    #[test]
    fn signs_keyed_md5_to_known_digest() {
        let unsigned = up(Some(Auth::KeyedMd5 {
            key_id: 5,
            sequence: 42,
            digest: [0; 16],
        }));
        let mut bytes = unsigned.to_bytes().unwrap();
        sign(&mut bytes, MD5_KEY).unwrap();
        assert_eq!(hex::encode(&bytes), MD5_SIGNED);
        assert_eq!(verify(&bytes, MD5_KEY), Ok(()));
    }

    #[test]
    fn verifies_meticulous_keyed_sha1_known_answer() {
        let bytes = hex::decode(SHA1_SIGNED).unwrap();
        let packet = ControlPacket::parse(&bytes).unwrap();
        let hash: [u8; 20] = bytes[32..].try_into().unwrap();
        let expected = Auth::MeticulousKeyedSha1 {
            key_id: 7,
            sequence: 0xffff_fffe,
            hash,
        };
        assert_eq!(packet, up(Some(expected)));
        assert_eq!(verify(&bytes, SHA1_KEY), Ok(()));

        let mut resigned = bytes.clone();
        resigned[32..].fill(0);
        sign(&mut resigned, SHA1_KEY).unwrap();
        assert_eq!(resigned, bytes);
    }

    #[test]
    fn rejects_tampered_packets() {
        for (signed, key) in [(MD5_SIGNED, MD5_KEY), (SHA1_SIGNED, SHA1_KEY)] {
            let bytes = hex::decode(signed).unwrap();
            assert_eq!(verify(&bytes, key), Ok(()));
            let mut tampered = bytes.clone();
            tampered[11] ^= 0x01; // Your Discriminator
            assert_eq!(verify(&tampered, key), Err(AuthError::DigestMismatch));
            // Every bit counts, the Reserved byte included: each flip makes
            // the packet malformed or its digest wrong.
            for at in 0..bytes.len() {
                let mut tampered = bytes.clone();
                tampered[at] ^= 0x10;
                assert!(verify(&tampered, key).is_err(), "byte {at}");
            }
        }
    }

    #[test]
    fn rejects_wrong_key() {
        let bytes = hex::decode(MD5_SIGNED).unwrap();
        assert_eq!(verify(&bytes, MD5_KEY), Ok(()));
        assert_eq!(
            verify(&bytes, b"s3cret\0"),
            Ok(()),
            "zero padding is the key's"
        );
        assert_eq!(verify(&bytes, b"s3creT"), Err(AuthError::DigestMismatch));
        assert_eq!(verify(&bytes, b""), Err(AuthError::DigestMismatch));
    }

    #[test]
    fn signs_and_verifies_every_digest_type() {
        let sections = [
            Auth::KeyedMd5 {
                key_id: 1,
                sequence: 7,
                digest: [0; 16],
            },
            Auth::MeticulousKeyedMd5 {
                key_id: 2,
                sequence: 8,
                digest: [0; 16],
            },
            Auth::KeyedSha1 {
                key_id: 3,
                sequence: 9,
                hash: [0; 20],
            },
            Auth::MeticulousKeyedSha1 {
                key_id: 4,
                sequence: 10,
                hash: [0; 20],
            },
        ];
        for auth in sections {
            let mut bytes = up(Some(auth.clone())).to_bytes().unwrap();
            sign(&mut bytes, b"key").unwrap();
            assert_eq!(verify(&bytes, b"key"), Ok(()), "{auth:?}");
            assert_eq!(verify(&bytes, b"other"), Err(AuthError::DigestMismatch));
        }
    }

    #[test]
    fn rejects_key_longer_than_digest_field() {
        let mut md5 = up(Some(Auth::KeyedMd5 {
            key_id: 1,
            sequence: 1,
            digest: [0; 16],
        }))
        .to_bytes()
        .unwrap();
        assert_eq!(sign(&mut md5, &[1; 16]), Ok(()));
        assert_eq!(
            sign(&mut md5, &[1; 17]),
            Err(AuthError::KeyTooLong { len: 17, max: 16 })
        );
        assert_eq!(
            verify(&md5, &[1; 17]),
            Err(AuthError::KeyTooLong { len: 17, max: 16 })
        );
        let mut sha1 = hex::decode(SHA1_SIGNED).unwrap();
        assert_eq!(
            sign(&mut sha1, &[1; 21]),
            Err(AuthError::KeyTooLong { len: 21, max: 20 })
        );
    }

    #[test]
    fn verifies_simple_password() {
        let bytes = simple(b"letmein").to_bytes().unwrap();
        assert_eq!(verify(&bytes, b"letmein"), Ok(()));
        assert_eq!(
            verify(&bytes, b"letmeout"),
            Err(AuthError::PasswordMismatch)
        );
        assert_eq!(verify(&bytes, b"letme"), Err(AuthError::PasswordMismatch));
    }

    #[test]
    fn sign_rejects_types_without_digest() {
        let mut bytes = simple(b"letmein").to_bytes().unwrap();
        assert_eq!(
            sign(&mut bytes, b"letmein"),
            Err(AuthError::UnsupportedAuthType(AuthType::SimplePassword))
        );
        let other = up(Some(Auth::Other {
            auth_type: 9,
            data: vec![0; 30],
        }));
        let mut bytes = other.to_bytes().unwrap();
        assert_eq!(
            sign(&mut bytes, b"k"),
            Err(AuthError::UnsupportedAuthType(AuthType::Other(9)))
        );
        assert_eq!(
            verify(&bytes, b"k"),
            Err(AuthError::UnsupportedAuthType(AuthType::Other(9)))
        );
    }

    #[test]
    fn rejects_unauthenticated_and_malformed_packets() {
        let mut bytes = up(None).to_bytes().unwrap();
        assert_eq!(verify(&bytes, b"k"), Err(AuthError::NotAuthenticated));
        assert_eq!(sign(&mut bytes, b"k"), Err(AuthError::NotAuthenticated));
        let mut short = hex::decode(MD5_SIGNED).unwrap();
        short.truncate(40);
        let malformed = AuthError::Malformed(BfdError::LengthExceedsReceived {
            length: 48,
            received: 40,
        });
        assert_eq!(verify(&short, MD5_KEY), Err(malformed));
        assert_eq!(sign(&mut short, MD5_KEY), Err(malformed));
    }

    #[test]
    fn keyed_sequence_window_is_last_to_last_plus_3_detect_mult() {
        assert!(keyed_sequence_acceptable(100, 100, 3));
        assert!(keyed_sequence_acceptable(100, 109, 3));
        assert!(!keyed_sequence_acceptable(100, 110, 3));
        assert!(!keyed_sequence_acceptable(100, 99, 3));
    }

    #[test]
    fn meticulous_sequence_must_increase() {
        assert!(!meticulous_sequence_acceptable(100, 100, 3));
        assert!(meticulous_sequence_acceptable(100, 101, 3));
        assert!(meticulous_sequence_acceptable(100, 109, 3));
        assert!(!meticulous_sequence_acceptable(100, 110, 3));
        assert!(!meticulous_sequence_acceptable(100, 99, 3));
    }

    #[test]
    fn sequence_windows_wrap_around() {
        assert!(keyed_sequence_acceptable(u32::MAX - 1, 2, 3));
        assert!(meticulous_sequence_acceptable(u32::MAX, 0, 1));
        assert!(!meticulous_sequence_acceptable(0, u32::MAX, 255));
        assert!(keyed_sequence_acceptable(u32::MAX - 764, 0, 255));
        assert!(!keyed_sequence_acceptable(u32::MAX - 765, 0, 255));
    }

    #[test]
    fn check_sequence_uses_packet_detect_mult_and_type() {
        let keyed = up(Some(Auth::KeyedSha1 {
            key_id: 1,
            sequence: 50,
            hash: [0; 20],
        }));
        let meticulous = up(Some(Auth::MeticulousKeyedSha1 {
            key_id: 1,
            sequence: 50,
            hash: [0; 20],
        }));
        assert_eq!(check_sequence(&keyed, None), Ok(()), "bfd.AuthSeqKnown = 0");
        assert_eq!(check_sequence(&keyed, Some(50)), Ok(()));
        assert_eq!(check_sequence(&keyed, Some(41)), Ok(()));
        assert_eq!(
            check_sequence(&keyed, Some(40)),
            Err(AuthError::SequenceOutOfWindow {
                last: 40,
                received: 50
            })
        );
        assert_eq!(
            check_sequence(&meticulous, Some(50)),
            Err(AuthError::SequenceOutOfWindow {
                last: 50,
                received: 50
            })
        );
        assert_eq!(check_sequence(&meticulous, Some(49)), Ok(()));
        assert_eq!(check_sequence(&simple(b"pw"), Some(1)), Ok(()));
        assert_eq!(check_sequence(&up(None), Some(1)), Ok(()));
    }

    #[test]
    fn accepts_auth_matching_session_configuration() {
        assert_eq!(check_auth_policy(&up(None), None), Ok(()));
        let packet = simple(b"pw");
        assert_eq!(
            check_auth_policy(&packet, Some(AuthType::SimplePassword)),
            Ok(())
        );
    }

    #[test]
    fn rejects_auth_bit_when_session_has_no_auth() {
        assert_eq!(
            check_auth_policy(&simple(b"pw"), None),
            Err(BfdError::UnexpectedAuthentication)
        );
    }

    #[test]
    fn rejects_missing_auth_when_session_requires_it() {
        assert_eq!(
            check_auth_policy(&up(None), Some(AuthType::KeyedSha1)),
            Err(BfdError::MissingAuthentication {
                expected: AuthType::KeyedSha1
            })
        );
    }

    #[test]
    fn rejects_auth_type_other_than_configured() {
        assert_eq!(
            check_auth_policy(&simple(b"pw"), Some(AuthType::MeticulousKeyedMd5)),
            Err(BfdError::AuthTypeMismatch {
                expected: AuthType::MeticulousKeyedMd5,
                received: AuthType::SimplePassword,
            })
        );
    }
}
