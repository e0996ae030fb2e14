//! Packets captured from BIRD 2 and FRR bfdd (`proto/tests/vectors`) fed
//! through a session that plays the other side of the capture.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use proto::bfd::{AuthType, ControlPacket, Diagnostic, Discriminator, State};

use super::tests::{MS, changes, feed_bytes, sent};
use super::{AuthConfig, Session, Timers};

/// The bytes of a capture: comment lines, then hex.
pub(crate) fn vector(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../proto/tests/vectors/{name}.hex",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let digits: String = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .flat_map(|line| line.chars().filter(char::is_ascii_hexdigit))
        .collect();
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// A session with `local` as our discriminator, as the capture's other
/// side had.
fn as_peer_of(local: u32, timers: Timers, auth: Option<AuthConfig>) -> (Session, Instant) {
    let t0 = Instant::now();
    let discriminator = Discriminator::new(local).unwrap();
    (
        Session::new(t0, discriminator, timers, auth, 3).unwrap(),
        t0,
    )
}

fn hundred_ms() -> Timers {
    Timers::symmetric(100 * MS, 3)
}

#[test]
fn frr_init_up_poll_and_final_bring_us_up() {
    // FRR's session 0x19e945dc talks to BIRD's 0xa04638b8; we play BIRD.
    let (mut session, t0) = as_peer_of(0xa046_38b8, hundred_ms(), None);
    let out = feed_bytes(&mut session, t0, &vector("frr/bfd_init"));
    assert_eq!(
        changes(&out),
        vec![(State::Down, State::Up, Diagnostic::NoDiagnostic, false)]
    );
    assert_eq!(
        session.remote_discriminator(),
        Discriminator::new(0x19e9_45dc)
    );
    // FRR in Init still advertises the 1 s floor: detection 3 x 1 s.
    assert_eq!(session.detection_time(), Duration::from_secs(3));

    let out = feed_bytes(&mut session, t0 + MS, &vector("frr/bfd_up_poll"));
    let reply = sent(&out);
    assert_eq!(reply.len(), 1);
    assert!(reply[0].final_ && !reply[0].poll);
    assert_eq!(reply[0].your_discriminator, 0x19e9_45dc);
    assert_eq!(session.detection_time(), 300 * MS);

    assert!(session.poll_active(), "our own Poll for 1 s -> 100 ms");
    feed_bytes(&mut session, t0 + 2 * MS, &vector("frr/bfd_up_final"));
    assert!(!session.poll_active());
    assert_eq!(session.state(), State::Up);
    assert_eq!(session.tx_interval(), 100 * MS);
}

#[test]
fn bird_down_init_up_sequence_brings_us_up() {
    // BIRD's packets to FRR's 0x19e945dc; we play FRR. BIRD restarted its
    // session between the two captures, so its discriminator changes.
    let (mut session, t0) = as_peer_of(0x19e9_45dc, hundred_ms(), None);
    let out = feed_bytes(&mut session, t0, &vector("bird2/bfd_down_nodisc"));
    assert_eq!(session.state(), State::Init);
    assert_eq!(sent(&out)[0].your_discriminator, 0xa046_38b8);
    feed_bytes(&mut session, t0 + MS, &vector("bird2/bfd_init"));
    assert_eq!(session.state(), State::Up);
    assert_eq!(
        session.remote_discriminator(),
        Discriminator::new(0xafa3_92ec)
    );
    let out = feed_bytes(&mut session, t0 + 2 * MS, &vector("bird2/bfd_up_poll"));
    assert!(sent(&out)[0].final_);
    feed_bytes(&mut session, t0 + 3 * MS, &vector("bird2/bfd_up"));
    assert_eq!(session.state(), State::Up);
    assert_eq!(session.remote_detect_mult(), 3);
}

#[test]
fn bird_keyed_sha1_packets_authenticate_and_replay_is_refused() {
    let auth = AuthConfig {
        kind: AuthType::KeyedSha1,
        key_id: 7,
        key: b"hostroute-bfd-key".to_vec(),
    };
    let (mut session, t0) = as_peer_of(0x0690_5f43, Timers::default(), Some(auth));
    feed_bytes(&mut session, t0, &vector("bird2/bfd_down_auth_sha1_nodisc"));
    assert_eq!(session.state(), State::Init);
    feed_bytes(&mut session, t0 + MS, &vector("bird2/bfd_up_auth_sha1"));
    assert_eq!(session.state(), State::Up);
    // The Down packet again: its sequence number is behind.
    let out = feed_bytes(
        &mut session,
        t0 + 2 * MS,
        &vector("bird2/bfd_down_auth_sha1_nodisc"),
    );
    assert!(out.is_empty());
    assert_eq!(session.state(), State::Up);
    assert_eq!(session.counters().dropped.auth_sequence, 1);

    // With the wrong key nothing gets through.
    let wrong = AuthConfig {
        kind: AuthType::KeyedSha1,
        key_id: 7,
        key: b"hostroute-bfd-kez".to_vec(),
    };
    let (mut session, t0) = as_peer_of(0x0690_5f43, Timers::default(), Some(wrong));
    feed_bytes(&mut session, t0, &vector("bird2/bfd_down_auth_sha1_nodisc"));
    assert_eq!(session.state(), State::Down);
    assert_eq!(session.counters().dropped.auth_digest, 1);
}

/// Brings a session up against a peer with discriminator `remote`.
fn up_against(session: &mut Session, now: Instant, remote: u32, detect_mult: u8) {
    let local = session.local_discriminator().get();
    let packet = |state, your| ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        multipoint: false,
        detect_mult,
        my_discriminator: remote,
        your_discriminator: your,
        desired_min_tx_us: 300_000,
        required_min_rx_us: 300_000,
        required_min_echo_rx_us: 0,
        auth: None,
    };
    feed_bytes(session, now, &packet(State::Down, 0).to_bytes().unwrap());
    feed_bytes(session, now, &packet(State::Up, local).to_bytes().unwrap());
    assert_eq!(session.state(), State::Up);
}

#[test]
fn frr_multihop_admin_down_is_not_a_failure() {
    let (mut session, t0) = as_peer_of(0xbafc_2033, Timers::symmetric(300 * MS, 5), None);
    up_against(&mut session, t0, 0xfa08_25a5, 5);
    feed_bytes(&mut session, t0 + MS, &vector("frr/bfd_multihop_up"));
    assert_eq!(session.state(), State::Up);
    let out = feed_bytes(
        &mut session,
        t0 + 2 * MS,
        &vector("frr/bfd_multihop_admindown"),
    );
    assert_eq!(
        changes(&out),
        vec![(
            State::Up,
            State::Down,
            Diagnostic::NeighborSignaledSessionDown,
            true
        )]
    );
    // What BIRD sent next in the capture, Down with Diag 3, is what we send.
    let ours = sent(&out).pop().unwrap();
    let bird = ControlPacket::parse(&vector("bird2/bfd_multihop_down_diag3")).unwrap();
    assert_eq!(ours.state, bird.state);
    assert_eq!(ours.diagnostic, bird.diagnostic);
    assert_eq!(ours.your_discriminator, bird.your_discriminator);
}

#[test]
fn frr_down_after_its_detection_timeout_takes_us_down() {
    let (mut session, t0) = as_peer_of(0xa046_38b8, hundred_ms(), None);
    up_against(&mut session, t0, 0x19e9_45dc, 3);
    let out = feed_bytes(&mut session, t0 + MS, &vector("frr/bfd_down_diag1_nodisc"));
    assert_eq!(
        changes(&out),
        vec![(
            State::Up,
            State::Down,
            Diagnostic::NeighborSignaledSessionDown,
            false
        )]
    );
    assert_eq!(
        session.remote_diag(),
        Diagnostic::ControlDetectionTimeExpired
    );
}

#[test]
fn bird_init_poll_is_answered_with_final() {
    let (mut session, t0) = as_peer_of(0x19e9_45dc, hundred_ms(), None);
    up_against(&mut session, t0, 0xafa3_92ec, 3);
    let out = feed_bytes(&mut session, t0 + MS, &vector("bird2/bfd_init_poll"));
    // Up x Init: stay Up, and answer the Poll.
    assert!(changes(&out).is_empty());
    let reply = sent(&out);
    assert_eq!(reply.len(), 1);
    assert!(reply[0].final_);
    assert_eq!(reply[0].state, State::Up);
}
