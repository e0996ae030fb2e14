//! Message header and stream framing, RFC 4271 section 4.1.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                           Marker                              |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::error::DecodeError;
use super::iana::MessageType;

/// Length of the fixed header: marker, length, type.
pub const HEADER_LEN: usize = 19;
/// The marker: sixteen octets of ones.
pub const MARKER: [u8; 16] = [0xff; 16];
/// Largest message without the Extended Message capability (RFC 4271).
pub const MAX_MESSAGE_LEN: u16 = 4096;
/// Largest message with the Extended Message capability (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: u16 = 65535;

/// Length of the first complete message at the front of `buf`.
///
/// `Ok(None)` means more bytes are needed. Checks the marker and that the
/// length lies in `19..=max_len`, before the whole message has arrived, so a
/// reader can reject a bad stream without buffering it.
pub fn frame_len(buf: &[u8], max_len: u16) -> Result<Option<usize>, DecodeError> {
    let marker_seen = buf.len().min(MARKER.len());
    if buf.iter().take(marker_seen).any(|&b| b != 0xff) {
        return Err(DecodeError::BadMarker);
    }
    let (Some(&hi), Some(&lo)) = (buf.get(16), buf.get(17)) else {
        return Ok(None);
    };
    let length = u16::from_be_bytes([hi, lo]);
    if usize::from(length) < HEADER_LEN || length > max_len {
        return Err(DecodeError::BadLength { length });
    }
    Ok((buf.len() >= usize::from(length)).then_some(usize::from(length)))
}

/// Appends a header announcing a message of `len` bytes (header included).
pub(crate) fn emit_header(out: &mut Vec<u8>, len: u16, message_type: MessageType) {
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(message_type.code());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(len: u16, ty: u8) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v.push(ty);
        v
    }

    #[test]
    fn a_keepalive_is_one_19_byte_frame() {
        let mut buf = header(19, 4);
        buf.extend_from_slice(&header(19, 4));
        assert_eq!(frame_len(&buf, MAX_MESSAGE_LEN), Ok(Some(19)));
    }

    #[test]
    fn partial_input_needs_more_bytes() {
        let buf = header(100, 2);
        assert_eq!(frame_len(&buf[..5], MAX_MESSAGE_LEN), Ok(None));
        assert_eq!(frame_len(&buf, MAX_MESSAGE_LEN), Ok(None));
        assert_eq!(frame_len(&[], MAX_MESSAGE_LEN), Ok(None));
    }

    #[test]
    fn a_wrong_marker_is_caught_from_the_first_byte() {
        assert_eq!(
            frame_len(&[0xff, 0xfe], MAX_MESSAGE_LEN),
            Err(DecodeError::BadMarker)
        );
        let mut buf = header(19, 4);
        buf[15] = 0;
        assert_eq!(
            frame_len(&buf, MAX_MESSAGE_LEN),
            Err(DecodeError::BadMarker)
        );
    }

    #[test]
    fn lengths_outside_19_to_max_are_bad() {
        assert_eq!(
            frame_len(&header(18, 4), MAX_MESSAGE_LEN),
            Err(DecodeError::BadLength { length: 18 })
        );
        assert_eq!(
            frame_len(&header(4097, 2), MAX_MESSAGE_LEN),
            Err(DecodeError::BadLength { length: 4097 })
        );
        assert_eq!(
            frame_len(&header(4097, 2), MAX_EXTENDED_MESSAGE_LEN),
            Ok(None)
        );
    }
}
