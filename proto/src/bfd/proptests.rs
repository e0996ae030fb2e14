//! Property tests of the codec contract: `parse(emit(p)) == p` for every
//! valid packet, `emit` writes exactly `buffer_len()` bytes, and nothing
//! panics on any input.

#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::*;

fn diagnostic() -> impl Strategy<Value = Diagnostic> {
    (0u8..32).prop_map(Diagnostic::from)
}

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::AdminDown),
        Just(State::Down),
        Just(State::Init),
        Just(State::Up)
    ]
}

fn password() -> impl Strategy<Value = Password> {
    vec(any::<u8>(), Password::LEN).prop_map(|bytes| Password::try_from(bytes).unwrap())
}

/// Every kind of authentication section, unknown types included.
fn auth() -> impl Strategy<Value = Auth> {
    let unknown_type = prop_oneof![Just(0u8), 6u8..=255];
    prop_oneof![
        (any::<u8>(), password())
            .prop_map(|(key_id, password)| Auth::SimplePassword { key_id, password }),
        (any::<u8>(), any::<u32>(), any::<[u8; 16]>()).prop_map(|(key_id, sequence, digest)| {
            Auth::KeyedMd5 {
                key_id,
                sequence,
                digest,
            }
        }),
        (any::<u8>(), any::<u32>(), any::<[u8; 16]>()).prop_map(|(key_id, sequence, digest)| {
            Auth::MeticulousKeyedMd5 {
                key_id,
                sequence,
                digest,
            }
        }),
        (any::<u8>(), any::<u32>(), any::<[u8; 20]>()).prop_map(|(key_id, sequence, hash)| {
            Auth::KeyedSha1 {
                key_id,
                sequence,
                hash,
            }
        }),
        (any::<u8>(), any::<u32>(), any::<[u8; 20]>()).prop_map(|(key_id, sequence, hash)| {
            Auth::MeticulousKeyedSha1 {
                key_id,
                sequence,
                hash,
            }
        }),
        (unknown_type, vec(any::<u8>(), 0..=229))
            .prop_map(|(auth_type, data)| Auth::Other { auth_type, data }),
    ]
}

/// Packets that pass every receive check of RFC 5880 section 6.8.6.
fn valid_packet(auth: impl Strategy<Value = Option<Auth>>) -> impl Strategy<Value = ControlPacket> {
    (
        diagnostic(),
        state(),
        any::<[bool; 4]>(),
        1u8..=255,
        1u32..=u32::MAX,
        any::<u32>(),
        any::<[u32; 3]>(),
        auth,
    )
        .prop_map(
            |(diagnostic, state, flags, detect_mult, my, your, intervals, auth)| {
                let [poll, final_, control_plane_independent, demand] = flags;
                let [
                    desired_min_tx_us,
                    required_min_rx_us,
                    required_min_echo_rx_us,
                ] = intervals;
                let your_discriminator = match state {
                    State::Init | State::Up => your.max(1),
                    State::AdminDown | State::Down => your,
                };
                ControlPacket {
                    diagnostic,
                    state,
                    poll,
                    final_,
                    control_plane_independent,
                    demand,
                    multipoint: false,
                    detect_mult,
                    my_discriminator: my,
                    your_discriminator,
                    desired_min_tx_us,
                    required_min_rx_us,
                    required_min_echo_rx_us,
                    auth,
                }
            },
        )
}

fn digest_auth() -> impl Strategy<Value = Auth> {
    auth().prop_filter("digest types", |auth| auth.sequence().is_some())
}

/// Up to 128 bytes; half of them start like a version 1 packet with a
/// Length field within the bytes, to get past the first checks.
fn noise() -> impl Strategy<Value = Vec<u8>> {
    (vec(any::<u8>(), 0..=128), any::<bool>()).prop_map(|(mut bytes, plausible)| {
        if plausible && bytes.len() >= 4 {
            bytes[0] = 0x20 | (bytes[0] & 0x1f);
            bytes[3] = u8::try_from(bytes.len()).unwrap().min(bytes[3].max(24));
        }
        bytes
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_inverts_emit(packet in valid_packet(option::of(auth()))) {
        let len = packet.buffer_len();
        let mut buf = vec![0; len + 8];
        prop_assert_eq!(packet.emit(&mut buf), Ok(len));
        prop_assert_eq!(usize::from(buf[3]), len, "Length field is buffer_len");
        prop_assert_eq!(buf[0] >> 5, VERSION);
        prop_assert_eq!(buf[1] & 0x04 != 0, packet.auth.is_some(), "A bit");
        prop_assert!(buf[len..].iter().all(|b| *b == 0), "wrote past buffer_len");
        prop_assert_eq!(ControlPacket::parse(&buf[..len]), Ok(packet.clone()));
        prop_assert_eq!(ControlPacket::parse(&buf), Ok(packet));
    }

    #[test]
    fn emit_rejects_any_shorter_buffer(packet in valid_packet(option::of(auth())), short in 0usize..24) {
        let mut buf = vec![0; short];
        let expected = EmitError::BufferTooSmall { needed: packet.buffer_len(), available: short };
        prop_assert_eq!(packet.emit(&mut buf), Err(expected));
    }

    #[test]
    fn parse_never_panics(bytes in noise()) {
        if let Ok(packet) = ControlPacket::parse(&bytes) {
            // Whatever parses is canonical enough to round-trip.
            let emitted = packet.to_bytes().unwrap();
            prop_assert_eq!(ControlPacket::parse(&emitted), Ok(packet));
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_packets(
        packet in valid_packet(option::of(auth())),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = packet.to_bytes().unwrap();
        for (at, value) in edits {
            let at = at.index(bytes.len());
            bytes[at] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        let _ = ControlPacket::parse(&bytes);
        let _ = verify(&bytes, b"key");
        let _ = sign(&mut bytes, b"key");
    }

    #[test]
    fn verify_accepts_what_sign_produced(
        packet in valid_packet(digest_auth().prop_map(Some)),
        key in vec(any::<u8>(), 0..=16),
        flip in any::<prop::sample::Index>(),
    ) {
        let mut bytes = packet.to_bytes().unwrap();
        sign(&mut bytes, &key).unwrap();
        prop_assert_eq!(verify(&bytes, &key), Ok(()));
        let at = flip.index(bytes.len());
        bytes[at] ^= 0x01;
        prop_assert!(verify(&bytes, &key).is_err(), "bit flipped at {}", at);
    }

    #[test]
    fn json_round_trips(packet in valid_packet(option::of(auth()))) {
        let json = serde_json::to_string(&packet).unwrap();
        prop_assert_eq!(serde_json::from_str::<ControlPacket>(&json).unwrap(), packet);
    }
}
