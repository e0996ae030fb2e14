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
