//! Authentication of a session (RFC 5880 sections 6.7 and 6.8.6): good,
//! bad, replayed, and the transmit sequence number rules.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use proto::bfd::{Auth, AuthType, ControlPacket, State, verify};

use super::tests::{LOCAL, MS, fast, feed, feed_bytes, new_session, peer, run, sent};
use super::{AuthConfig, Output};

/// The peer's `state` packet with sequence number `sequence`, signed.
fn from_peer(state: State, your: u32, kind: AuthType, sequence: u32) -> Vec<u8> {
    let mut packet = peer(state, your);
    packet.auth = Some(Auth::KeyedSha1 {
        key_id: 7,
        sequence,
        hash: [0; 20],
    });
    signed(&packet, auth_config(kind))
}

fn transmitted(out: &[Output]) -> Vec<Vec<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(bytes) => Some(bytes.clone()),
            Output::StateChange { .. } => None,
        })
        .collect()
}

#[test]
fn keyed_sha1_session_comes_up_and_signs_its_packets() {
    let t0 = Instant::now();
    let config = auth_config(AuthType::KeyedSha1);
    let mut session = new_session(t0, fast(), Some(config.clone()));
    let mut out = feed_bytes(
        &mut session,
        t0,
        &from_peer(State::Down, 0, config.kind, 100),
    );
    out.extend(feed_bytes(
        &mut session,
        t0,
        &from_peer(State::Up, LOCAL, config.kind, 101),
    ));
    assert_eq!(session.state(), State::Up);
    for bytes in transmitted(&out) {
        assert_eq!(verify(&bytes, &config.key), Ok(()));
        let packet = ControlPacket::parse(&bytes).unwrap();
        let auth = packet.auth.unwrap();
        assert_eq!(auth.auth_type(), AuthType::KeyedSha1);
        assert_eq!(auth.key_id(), Some(7));
    }
    assert_eq!(session.counters().packets_in, 2);
}

#[test]
fn bad_digest_is_dropped() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), Some(auth_config(AuthType::KeyedSha1)));
    let forged = AuthConfig {
        key: b"not-the-key".to_vec(),
        ..auth_config(AuthType::KeyedSha1)
    };
    let mut packet = peer(State::Down, 0);
    packet.auth = Some(Auth::KeyedSha1 {
        key_id: 7,
        sequence: 1,
        hash: [0; 20],
    });
    let out = feed_bytes(&mut session, t0, &signed(&packet, forged));
    assert!(out.is_empty());
    assert_eq!(session.state(), State::Down);
    assert_eq!(session.counters().dropped.auth_digest, 1);
    assert_eq!(session.counters().packets_in, 0);
}

#[test]
fn unknown_key_id_is_dropped() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), Some(auth_config(AuthType::KeyedSha1)));
    let other_id = AuthConfig {
        key_id: 8,
        ..auth_config(AuthType::KeyedSha1)
    };
    let bytes = signed(&peer(State::Down, 0), other_id);
    assert!(feed_bytes(&mut session, t0, &bytes).is_empty());
    assert_eq!(session.counters().dropped.auth_key_id, 1);
}

#[test]
fn meticulous_replay_is_dropped() {
    let t0 = Instant::now();
    let kind = AuthType::MeticulousKeyedSha1;
    let mut session = new_session(t0, fast(), Some(auth_config(kind)));
    let first = from_peer_meticulous(State::Down, 0, 10);
    feed_bytes(&mut session, t0, &first);
    assert_eq!(session.state(), State::Init);
    // The same packet again: a replay.
    assert!(feed_bytes(&mut session, t0 + MS, &first).is_empty());
    assert_eq!(session.counters().dropped.auth_sequence, 1);
    // Older: dropped too; newer: accepted.
    let older = from_peer_meticulous(State::Init, LOCAL, 9);
    assert!(feed_bytes(&mut session, t0 + MS, &older).is_empty());
    assert_eq!(session.counters().dropped.auth_sequence, 2);
    let newer = from_peer_meticulous(State::Init, LOCAL, 11);
    feed_bytes(&mut session, t0 + MS, &newer);
    assert_eq!(session.state(), State::Up);
}

fn from_peer_meticulous(state: State, your: u32, sequence: u32) -> Vec<u8> {
    let mut packet = peer(state, your);
    packet.auth = Some(Auth::MeticulousKeyedSha1 {
        key_id: 7,
        sequence,
        hash: [0; 20],
    });
    signed(&packet, auth_config(AuthType::MeticulousKeyedSha1))
}

#[test]
fn keyed_sequence_may_repeat_but_not_jump_past_the_window() {
    let t0 = Instant::now();
    let kind = AuthType::KeyedSha1;
    let mut session = new_session(t0, fast(), Some(auth_config(kind)));
    feed_bytes(&mut session, t0, &from_peer(State::Down, 0, kind, 500));
    feed_bytes(&mut session, t0, &from_peer(State::Down, 0, kind, 500));
    assert_eq!(
        session.counters().packets_in,
        2,
        "a repeat is fine for keyed"
    );
    // The window is 3 x DetectMult (3) = 9 ahead.
    feed_bytes(&mut session, t0, &from_peer(State::Down, 0, kind, 510));
    assert_eq!(session.counters().dropped.auth_sequence, 1);
    feed_bytes(&mut session, t0, &from_peer(State::Down, 0, kind, 499));
    assert_eq!(session.counters().dropped.auth_sequence, 2);
    feed_bytes(&mut session, t0, &from_peer(State::Down, 0, kind, 509));
    assert_eq!(session.counters().packets_in, 3);
}

#[test]
fn sequence_is_forgotten_after_twice_the_detection_time() {
    let t0 = Instant::now();
    let kind = AuthType::MeticulousKeyedSha1;
    let mut session = new_session(t0, fast(), Some(auth_config(kind)));
    feed_bytes(
        &mut session,
        t0,
        &from_peer_meticulous(State::Down, 0, 1000),
    );
    // Detection time in Init: 3 x max(50 ms, 50 ms) = 150 ms.
    let late = t0 + 299 * MS;
    assert!(feed_bytes(&mut session, late, &from_peer_meticulous(State::Down, 0, 5)).is_empty());
    let later = late + 300 * MS;
    feed_bytes(
        &mut session,
        later,
        &from_peer_meticulous(State::Down, 0, 5),
    );
    assert_eq!(
        session.counters().packets_in,
        2,
        "the peer restarted its sequence"
    );
}

fn sequences(out: &[Output]) -> Vec<u32> {
    sent(out)
        .iter()
        .map(|p| p.auth.as_ref().and_then(Auth::sequence).unwrap())
        .collect()
}

#[test]
fn meticulous_transmit_sequence_increments_on_every_packet() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), Some(auth_config(AuthType::MeticulousKeyedSha1)));
    let (_, out) = run(&mut session, t0, t0 + Duration::from_secs(5), None);
    let seqs = sequences(&out);
    assert!(seqs.len() >= 5);
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0].wrapping_add(1)),
        "{seqs:?}"
    );
    for bytes in transmitted(&out) {
        assert_eq!(verify(&bytes, b"hostroute-bfd-key"), Ok(()));
    }
}

#[test]
fn keyed_transmit_sequence_moves_when_the_content_changes() {
    let t0 = Instant::now();
    let kind = AuthType::KeyedSha1;
    let mut session = new_session(t0, fast(), Some(auth_config(kind)));
    let (_, out) = run(&mut session, t0, t0 + Duration::from_secs(5), None);
    let keepalives = sequences(&out);
    assert!(keepalives.len() >= 5);
    assert!(
        keepalives.iter().all(|s| *s == keepalives[0]),
        "{keepalives:?}"
    );
    let out = feed_bytes(
        &mut session,
        t0 + Duration::from_secs(5),
        &from_peer(State::Down, 0, kind, 1),
    );
    assert_eq!(
        sequences(&out),
        vec![keepalives[0].wrapping_add(1)],
        "Init differs from Down"
    );
}

#[test]
fn md5_and_simple_password_sessions_verify() {
    let t0 = Instant::now();
    for kind in [AuthType::KeyedMd5, AuthType::MeticulousKeyedMd5] {
        let config = AuthConfig {
            key: b"md5-key".to_vec(),
            ..auth_config(kind)
        };
        let mut session = new_session(t0, fast(), Some(config.clone()));
        let out = feed_bytes(
            &mut session,
            t0,
            &signed(&peer(State::Down, 0), config.clone()),
        );
        assert_eq!(session.state(), State::Init, "{kind:?}");
        for bytes in transmitted(&out) {
            assert_eq!(verify(&bytes, &config.key), Ok(()));
        }
    }
    let config = AuthConfig {
        kind: AuthType::SimplePassword,
        key_id: 1,
        key: b"letmein".to_vec(),
    };
    let mut session = new_session(t0, fast(), Some(config.clone()));
    let mut packet = peer(State::Down, 0);
    packet.auth = Some(Auth::SimplePassword {
        key_id: 1,
        password: proto::bfd::Password::try_from(&b"letmein"[..]).unwrap(),
    });
    let out = feed(&mut session, t0, &packet);
    assert_eq!(session.state(), State::Init);
    assert_eq!(verify(&transmitted(&out)[0], b"letmein"), Ok(()));
    packet.auth = Some(Auth::SimplePassword {
        key_id: 1,
        password: proto::bfd::Password::try_from(&b"guess"[..]).unwrap(),
    });
    feed(&mut session, t0, &packet);
    assert_eq!(session.counters().dropped.auth_digest, 1);
}

#[test]
fn invalid_auth_configurations_are_refused() {
    let t0 = Instant::now();
    let too_long = AuthConfig {
        key: vec![1; 21],
        ..auth_config(AuthType::KeyedSha1)
    };
    let discr = proto::bfd::Discriminator::new(LOCAL).unwrap();
    assert!(super::Session::new(t0, discr, fast(), Some(too_long), 1).is_err());
    let unknown = AuthConfig {
        kind: AuthType::Other(9),
        ..auth_config(AuthType::KeyedSha1)
    };
    assert!(super::Session::new(t0, discr, fast(), Some(unknown), 1).is_err());
    let empty = AuthConfig {
        key: Vec::new(),
        ..auth_config(AuthType::KeyedMd5)
    };
    assert!(super::Session::new(t0, discr, fast(), Some(empty), 1).is_err());
}

#[test]
fn auth_bit_mismatches_are_dropped() {
    let t0 = Instant::now();
    let mut plain = new_session(t0, fast(), None);
    let authenticated = signed(&peer(State::Down, 0), auth_config(AuthType::KeyedSha1));
    assert!(feed_bytes(&mut plain, t0, &authenticated).is_empty());
    assert_eq!(
        plain.counters().dropped.auth_policy,
        1,
        "A bit without auth"
    );

    let mut secure = new_session(t0, fast(), Some(auth_config(AuthType::KeyedSha1)));
    assert!(feed(&mut secure, t0, &peer(State::Down, 0)).is_empty());
    assert_eq!(
        secure.counters().dropped.auth_policy,
        1,
        "no A bit with auth"
    );

    let md5 = AuthConfig {
        kind: AuthType::KeyedMd5,
        key_id: 7,
        key: b"md5-key".to_vec(),
    };
    let wrong_type = signed(&peer(State::Down, 0), md5);
    assert!(feed_bytes(&mut secure, t0, &wrong_type).is_empty());
    assert_eq!(secure.counters().dropped.auth_policy, 2, "other type");
    assert_eq!(secure.state(), State::Down);
}

pub(crate) fn auth_config(kind: AuthType) -> AuthConfig {
    AuthConfig {
        kind,
        key_id: 7,
        key: b"hostroute-bfd-key".to_vec(),
    }
}

/// `packet` with an authentication section of `auth`'s type, sequence
/// number taken from `packet.auth` if set (else 1), signed.
pub(crate) fn signed(packet: &ControlPacket, auth: AuthConfig) -> Vec<u8> {
    let sequence = packet.auth.as_ref().and_then(Auth::sequence).unwrap_or(1);
    let key_id = auth.key_id;
    let section = match auth.kind {
        AuthType::KeyedSha1 => Auth::KeyedSha1 {
            key_id,
            sequence,
            hash: [0; 20],
        },
        AuthType::MeticulousKeyedSha1 => Auth::MeticulousKeyedSha1 {
            key_id,
            sequence,
            hash: [0; 20],
        },
        AuthType::KeyedMd5 => Auth::KeyedMd5 {
            key_id,
            sequence,
            digest: [0; 16],
        },
        AuthType::MeticulousKeyedMd5 => Auth::MeticulousKeyedMd5 {
            key_id,
            sequence,
            digest: [0; 16],
        },
        other => panic!("not a digest type: {other:?}"),
    };
    let packet = ControlPacket {
        auth: Some(section),
        ..packet.clone()
    };
    let mut bytes = packet.to_bytes().unwrap();
    proto::bfd::sign(&mut bytes, &auth.key).unwrap();
    assert_eq!(verify(&bytes, &auth.key), Ok(()));
    bytes
}
