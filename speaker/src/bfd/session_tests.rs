//! Tests of the session core: every row of the RFC 5880 section 6.8.6
//! transition table, Poll/Final, timers and jitter, detection, AdminDown,
//! authentication, and packets captured from BIRD 2 and FRR bfdd.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use proto::bfd::{ControlPacket, Diagnostic, Discriminator, State};

use super::{AuthConfig, Input, Output, Session, Timers};
use crate::bfd::DropReason;

pub(super) const LOCAL: u32 = 0x0101_0101;
pub(super) const REMOTE: u32 = 0x0202_0202;
pub(super) const MS: Duration = Duration::from_millis(1);

pub(super) fn fast() -> Timers {
    Timers::symmetric(50 * MS, 3)
}

pub(super) fn new_session(now: Instant, timers: Timers, auth: Option<AuthConfig>) -> Session {
    Session::new(now, Discriminator::new(LOCAL).unwrap(), timers, auth, 7).unwrap()
}

/// A packet from the peer: 50 ms both ways, DetectMult 3.
pub(super) fn peer(state: State, your: u32) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        multipoint: false,
        detect_mult: 3,
        my_discriminator: REMOTE,
        your_discriminator: your,
        desired_min_tx_us: 50_000,
        required_min_rx_us: 50_000,
        required_min_echo_rx_us: 0,
        auth: None,
    }
}

pub(super) fn feed(session: &mut Session, now: Instant, packet: &ControlPacket) -> Vec<Output> {
    feed_bytes(session, now, &packet.to_bytes().unwrap())
}

pub(super) fn feed_bytes(session: &mut Session, now: Instant, bytes: &[u8]) -> Vec<Output> {
    let packet = ControlPacket::parse(bytes).unwrap();
    let mut out = Vec::new();
    session.handle(
        now,
        Input::Received {
            packet: &packet,
            bytes,
        },
        &mut out,
    );
    out
}

pub(super) fn input(session: &mut Session, now: Instant, input: Input<'_>) -> Vec<Output> {
    let mut out = Vec::new();
    session.handle(now, input, &mut out);
    out
}

pub(super) fn sent(out: &[Output]) -> Vec<ControlPacket> {
    out.iter()
        .filter_map(|o| match o {
            Output::Transmit(bytes) => Some(ControlPacket::parse(bytes).unwrap()),
            Output::StateChange { .. } => None,
        })
        .collect()
}

pub(super) type Change = (State, State, Diagnostic, bool);

pub(super) fn changes(out: &[Output]) -> Vec<Change> {
    out.iter()
        .filter_map(|o| match o {
            Output::StateChange {
                from,
                to,
                diag,
                admin_down_by_peer,
            } => Some((*from, *to, *diag, *admin_down_by_peer)),
            Output::Transmit(_) => None,
        })
        .collect()
}

/// Down -> Init -> Up with the peer's packets; returns the outputs.
pub(super) fn bring_up(session: &mut Session, now: Instant) -> Vec<Output> {
    let mut out = feed(session, now, &peer(State::Down, 0));
    out.extend(feed(session, now, &peer(State::Up, LOCAL)));
    assert_eq!(session.state(), State::Up);
    out
}

/// A session in `state`, with the peer's discriminator known except in a
/// fresh Down.
pub(super) fn session_in(state: State, now: Instant) -> Session {
    let mut session = new_session(now, fast(), None);
    match state {
        State::Down => {}
        State::AdminDown => {
            input(&mut session, now, Input::AdminDown);
        }
        State::Init => {
            feed(&mut session, now, &peer(State::Down, 0));
        }
        State::Up => {
            bring_up(&mut session, now);
        }
    }
    assert_eq!(session.state(), state);
    session
}

/// Timer events up to `end`, with the peer's `packet` every `every` from
/// `now` when given. Returns the times of our transmissions and every
/// output.
pub(super) fn run(
    session: &mut Session,
    now: Instant,
    end: Instant,
    peer_packet: Option<(&ControlPacket, Duration)>,
) -> (Vec<Instant>, Vec<Output>) {
    let mut times = Vec::new();
    let mut all = Vec::new();
    let mut next_peer = peer_packet.map(|(_, every)| now + every);
    loop {
        let timer = session.next_deadline().filter(|at| *at <= end);
        let peer_at = next_peer.filter(|at| *at <= end);
        let out = match (timer, peer_at) {
            (None, None) => break,
            (Some(t), Some(p)) if p < t => {
                next_peer = Some(p + peer_packet.unwrap().1);
                feed(session, p, peer_packet.unwrap().0)
            }
            (None, Some(p)) => {
                next_peer = Some(p + peer_packet.unwrap().1);
                feed(session, p, peer_packet.unwrap().0)
            }
            (Some(t), _) => {
                let out = input(session, t, Input::Timer);
                if out.iter().any(|o| matches!(o, Output::Transmit(_))) {
                    times.push(t);
                }
                out
            }
        };
        all.extend(out);
    }
    (times, all)
}

// RFC 5880 section 6.8.6: one row per (local state, received state).

#[test]
fn transition_table_every_row() {
    use State::{AdminDown, Down, Init, Up};
    let nsd = Diagnostic::NeighborSignaledSessionDown;
    // (local, received, expected state, state change (diag, by peer))
    type Row = (State, State, State, Option<(Diagnostic, bool)>);
    let rows: [Row; 16] = [
        (AdminDown, AdminDown, AdminDown, None),
        (AdminDown, Down, AdminDown, None),
        (AdminDown, Init, AdminDown, None),
        (AdminDown, Up, AdminDown, None),
        (Down, AdminDown, Down, None),
        (Down, Down, Init, Some((Diagnostic::NoDiagnostic, false))),
        (Down, Init, Up, Some((Diagnostic::NoDiagnostic, false))),
        (Down, Up, Down, None),
        (Init, AdminDown, Down, Some((nsd, true))),
        (Init, Down, Init, None),
        (Init, Init, Up, Some((Diagnostic::NoDiagnostic, false))),
        (Init, Up, Up, Some((Diagnostic::NoDiagnostic, false))),
        (Up, AdminDown, Down, Some((nsd, true))),
        (Up, Down, Down, Some((nsd, false))),
        (Up, Init, Up, None),
        (Up, Up, Up, None),
    ];
    let t0 = Instant::now();
    for (local, received, expected, change) in rows {
        let row = format!("local {local:?}, received {received:?}");
        let mut session = session_in(local, t0);
        let your = if matches!(received, Init | Up) {
            LOCAL
        } else {
            0
        };
        let now = t0 + 10 * MS;
        let out = feed(&mut session, now, &peer(received, your));
        assert_eq!(session.state(), expected, "{row}");
        let want: Vec<Change> = change
            .map(|(diag, by_peer)| (local, expected, diag, by_peer))
            .into_iter()
            .collect();
        assert_eq!(changes(&out), want, "{row}");
        assert_eq!(
            session.remote_state(),
            received,
            "{row}: remote state recorded"
        );
        if let Some((diag, _)) = change {
            assert_eq!(session.local_diag(), diag, "{row}");
            // A state change is announced at once.
            let packets = sent(&out);
            assert_eq!(packets.len(), 1, "{row}");
            assert_eq!(packets[0].state, expected, "{row}");
            assert_eq!(packets[0].diagnostic, diag, "{row}");
        }
    }
}

#[test]
fn admin_down_discards_packets_but_learns_remote() {
    let t0 = Instant::now();
    let mut session = session_in(State::AdminDown, t0);
    let mut poll = peer(State::Up, LOCAL);
    poll.poll = true;
    let out = feed(&mut session, t0 + MS, &poll);
    assert!(out.is_empty(), "no Final from AdminDown: {out:?}");
    assert_eq!(session.remote_discriminator(), Discriminator::new(REMOTE));
    assert_eq!(session.next_deadline().map(|d| d > t0 + MS), Some(true));
}

#[test]
fn first_packet_is_down_with_unknown_your_discriminator() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    assert_eq!(session.next_deadline(), Some(t0));
    let packets = sent(&input(&mut session, t0, Input::Timer));
    assert_eq!(packets.len(), 1);
    let p = &packets[0];
    assert_eq!(p.state, State::Down);
    assert_eq!(p.my_discriminator, LOCAL);
    assert_eq!(p.your_discriminator, 0);
    assert_eq!(p.desired_min_tx_us, 1_000_000, "1 s floor while not Up");
    assert_eq!(p.required_min_rx_us, 50_000);
    assert_eq!(p.detect_mult, 3);
    assert!(!p.poll && !p.final_ && !p.demand && !p.control_plane_independent);
    assert_eq!(p.required_min_echo_rx_us, 0);
}

// Poll and Final (RFC 5880 section 6.5).

#[test]
fn received_poll_is_answered_with_final_at_once() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    let mut poll = peer(State::Up, LOCAL);
    poll.poll = true;
    let packets = sent(&feed(&mut session, t0 + MS, &poll));
    assert_eq!(packets.len(), 1);
    assert!(packets[0].final_);
    assert!(!packets[0].poll, "never P and F together");
    assert_eq!(packets[0].state, State::Up);
}

#[test]
fn poll_in_down_is_answered_too() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    let mut poll = peer(State::Down, 0);
    poll.poll = true;
    let packets = sent(&feed(&mut session, t0, &poll));
    assert_eq!(packets.len(), 1);
    assert!(packets[0].final_);
    assert_eq!(packets[0].state, State::Init);
}

#[test]
fn going_up_polls_for_the_faster_interval_until_final() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    let out = bring_up(&mut session, t0);
    let up = sent(&out).pop().unwrap();
    assert_eq!(up.state, State::Up);
    assert!(up.poll, "DesiredMinTx fell from 1 s to 50 ms: Poll");
    assert_eq!(up.desired_min_tx_us, 50_000);
    assert!(session.poll_active());
    // A faster rate holds at once.
    assert_eq!(session.tx_interval(), 50 * MS);

    // Periodic packets keep P until the Final.
    let keepalive = peer(State::Up, LOCAL);
    let (_, out) = run(&mut session, t0, t0 + 200 * MS, Some((&keepalive, 40 * MS)));
    assert!(sent(&out).iter().all(|p| p.poll && !p.final_));
    let mut final_ = peer(State::Up, LOCAL);
    final_.final_ = true;
    feed(&mut session, t0 + 201 * MS, &final_);
    assert!(!session.poll_active());
    let (_, out) = run(
        &mut session,
        t0 + 201 * MS,
        t0 + 400 * MS,
        Some((&keepalive, 40 * MS)),
    );
    let packets = sent(&out);
    assert!(!packets.is_empty());
    assert!(packets.iter().all(|p| !p.poll));
}

#[test]
fn increasing_desired_tx_waits_for_final() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    feed(&mut session, t0, &final_from_peer());
    let slower = Timers {
        desired_min_tx: 200 * MS,
        ..fast()
    };
    let packets = sent(&input(&mut session, t0 + MS, Input::SetTimers(slower)));
    assert_eq!(packets.len(), 1, "the Poll goes out at once");
    assert!(packets[0].poll);
    assert_eq!(packets[0].desired_min_tx_us, 200_000);
    assert_eq!(session.tx_interval(), 50 * MS, "old rate until the Final");
    feed(&mut session, t0 + 2 * MS, &final_from_peer());
    assert_eq!(session.tx_interval(), 200 * MS);
    assert!(!session.poll_active());
}

#[test]
fn decreasing_desired_tx_takes_effect_at_once() {
    let t0 = Instant::now();
    let slow = Timers {
        desired_min_tx: 200 * MS,
        ..fast()
    };
    let mut session = new_session(t0, slow, None);
    bring_up(&mut session, t0);
    feed(&mut session, t0, &final_from_peer());
    assert_eq!(session.tx_interval(), 200 * MS);
    input(&mut session, t0 + MS, Input::SetTimers(fast()));
    assert_eq!(session.tx_interval(), 50 * MS);
    assert!(session.poll_active());
    assert!(session.next_deadline().unwrap() <= t0 + 51 * MS);
}

#[test]
fn decreasing_required_rx_keeps_old_detection_time_until_final() {
    let t0 = Instant::now();
    let slow_rx = Timers {
        required_min_rx: 100 * MS,
        ..fast()
    };
    let mut session = new_session(t0, slow_rx, None);
    bring_up(&mut session, t0);
    feed(&mut session, t0, &final_from_peer());
    assert_eq!(session.detection_time(), 300 * MS);
    input(&mut session, t0 + MS, Input::SetTimers(fast()));
    assert_eq!(session.detection_time(), 300 * MS, "until the Final");
    feed(&mut session, t0 + 2 * MS, &final_from_peer());
    assert_eq!(session.detection_time(), 150 * MS);
}

#[test]
fn increasing_required_rx_lengthens_detection_at_once() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    feed(&mut session, t0, &final_from_peer());
    assert_eq!(session.detection_time(), 150 * MS);
    let slow_rx = Timers {
        required_min_rx: 100 * MS,
        ..fast()
    };
    let packets = sent(&input(&mut session, t0 + MS, Input::SetTimers(slow_rx)));
    assert!(packets[0].poll);
    assert_eq!(packets[0].required_min_rx_us, 100_000);
    assert_eq!(session.detection_time(), 300 * MS);
}

#[test]
fn change_during_poll_polls_again_after_final() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    feed(&mut session, t0, &final_from_peer());
    let a = Timers {
        desired_min_tx: 100 * MS,
        ..fast()
    };
    let b = Timers {
        desired_min_tx: 150 * MS,
        ..fast()
    };
    input(&mut session, t0 + MS, Input::SetTimers(a));
    let out = input(&mut session, t0 + 2 * MS, Input::SetTimers(b));
    assert!(
        sent(&out).is_empty(),
        "the running Poll carries the new values"
    );
    let out = feed(&mut session, t0 + 3 * MS, &final_from_peer());
    assert!(session.poll_active(), "a second Poll for the second change");
    assert!(
        sent(&out)
            .iter()
            .any(|p| p.poll && p.desired_min_tx_us == 150_000)
    );
    feed(&mut session, t0 + 4 * MS, &final_from_peer());
    assert!(!session.poll_active());
    assert_eq!(session.tx_interval(), 150 * MS);
}

#[test]
fn final_without_poll_is_ignored() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    feed(&mut session, t0, &final_from_peer());
    let out = feed(&mut session, t0 + MS, &final_from_peer());
    assert!(out.is_empty());
    assert_eq!(session.state(), State::Up);
}

pub(super) fn final_from_peer() -> ControlPacket {
    let mut packet = peer(State::Up, LOCAL);
    packet.final_ = true;
    packet
}

// Detection (RFC 5880 section 6.8.4).

#[test]
fn detection_time_is_remote_mult_times_slower_of_rx_and_remote_tx() {
    let t0 = Instant::now();
    let timers = Timers {
        desired_min_tx: 20 * MS,
        required_min_rx: 30 * MS,
        detect_mult: 3,
    };
    let mut session = new_session(t0, timers, None);
    let mut packet = peer(State::Down, 0);
    packet.detect_mult = 5;
    packet.desired_min_tx_us = 40_000;
    packet.required_min_rx_us = 25_000;
    feed(&mut session, t0, &packet);
    assert_eq!(session.detection_time(), 5 * 40 * MS);
    assert_eq!(session.remote_detect_mult(), 5);
    packet.desired_min_tx_us = 10_000;
    feed(&mut session, t0, &packet);
    assert_eq!(session.detection_time(), 5 * 30 * MS);
}

#[test]
fn detection_timeout_goes_down_with_diag_1() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    feed(&mut session, t0, &final_from_peer());
    let last = t0 + 5 * MS;
    feed(&mut session, last, &peer(State::Up, LOCAL));
    // Transmissions go on up to just before the detection time.
    let (_, out) = run(&mut session, last, last + 149 * MS, None);
    assert!(changes(&out).is_empty());
    let (_, out) = run(&mut session, last, last + 150 * MS, None);
    assert_eq!(
        changes(&out),
        vec![(
            State::Up,
            State::Down,
            Diagnostic::ControlDetectionTimeExpired,
            false
        )]
    );
    let down = sent(&out).pop().unwrap();
    assert_eq!(down.state, State::Down);
    assert_eq!(u8::from(down.diagnostic), 1);
    assert_eq!(down.your_discriminator, 0, "RemoteDiscr forgotten");
    assert_eq!(down.desired_min_tx_us, 1_000_000);
    assert_eq!(session.counters().down_transitions, 1);
}

#[test]
fn init_times_out_too() {
    let t0 = Instant::now();
    let mut session = session_in(State::Init, t0);
    let (_, out) = run(&mut session, t0, t0 + 3 * Duration::from_secs(1), None);
    assert_eq!(
        changes(&out),
        vec![(
            State::Init,
            State::Down,
            Diagnostic::ControlDetectionTimeExpired,
            false
        )]
    );
}

#[test]
fn down_forgets_remote_discriminator_after_detection_time() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    feed(&mut session, t0, &peer(State::AdminDown, 0));
    assert_eq!(session.remote_discriminator(), Discriminator::new(REMOTE));
    let (_, out) = run(&mut session, t0, t0 + 4 * Duration::from_secs(1), None);
    assert!(changes(&out).is_empty());
    assert_eq!(session.remote_discriminator(), None);
}

// AdminDown (RFC 5880 section 6.8.16, RFC 5882 section 3.2).

#[test]
fn remote_admin_down_is_not_a_failure() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    let out = feed(&mut session, t0 + MS, &peer(State::AdminDown, LOCAL));
    assert_eq!(
        changes(&out),
        vec![(
            State::Up,
            State::Down,
            Diagnostic::NeighborSignaledSessionDown,
            true
        )]
    );
    // The peer's AdminDown stops the detection timer from mattering: it
    // will not send more, and we stay Down without a second report.
    let (_, out) = run(&mut session, t0, t0 + 5 * Duration::from_secs(1), None);
    assert!(changes(&out).is_empty());
}

#[test]
fn local_admin_down_sends_diag_7_and_admin_up_restarts() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    let out = input(&mut session, t0 + MS, Input::AdminDown);
    assert_eq!(
        changes(&out),
        vec![(
            State::Up,
            State::AdminDown,
            Diagnostic::AdministrativelyDown,
            false
        )]
    );
    let packets = sent(&out);
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0].state, State::AdminDown);
    assert_eq!(u8::from(packets[0].diagnostic), 7);
    assert_eq!(
        packets[0].your_discriminator, REMOTE,
        "the peer can find it"
    );
    // It keeps saying so, at the slow rate, and no detection runs.
    let (times, out) = run(&mut session, t0 + MS, t0 + 5 * Duration::from_secs(1), None);
    assert!(times.len() >= 4);
    assert!(sent(&out).iter().all(|p| p.state == State::AdminDown));
    assert!(changes(&out).is_empty());

    let out = input(
        &mut session,
        t0 + 6 * Duration::from_secs(1),
        Input::AdminUp,
    );
    assert_eq!(changes(&out)[0].1, State::Down);
    assert_eq!(sent(&out)[0].state, State::Down);
}

#[test]
fn path_down_sets_diag_5() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    let out = input(&mut session, t0 + MS, Input::PathDown);
    assert_eq!(
        changes(&out),
        vec![(State::Up, State::Down, Diagnostic::PathDown, false)]
    );
    assert_eq!(sent(&out)[0].diagnostic, Diagnostic::PathDown);
}

// Transmit intervals (RFC 5880 sections 6.8.3 and 6.8.7).

pub(super) fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

#[test]
fn down_sends_once_a_second_up_at_the_negotiated_interval() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    let (times, _) = run(&mut session, t0, t0 + 10 * Duration::from_secs(1), None);
    let down_gaps = gaps(&times);
    assert!(down_gaps.len() >= 9);
    assert!(
        down_gaps.iter().all(|g| (750 * MS..1000 * MS).contains(g)),
        "{down_gaps:?}"
    );

    let now = t0 + 10 * Duration::from_secs(1);
    bring_up(&mut session, now);
    feed(&mut session, now, &final_from_peer());
    let keepalive = peer(State::Up, LOCAL);
    let (times, _) = run(
        &mut session,
        now,
        now + Duration::from_secs(1),
        Some((&keepalive, 40 * MS)),
    );
    let up_gaps = gaps(&times);
    assert!(up_gaps.len() >= 19);
    assert!(
        up_gaps
            .iter()
            .all(|g| (37_500 * Duration::from_micros(1)..50 * MS).contains(g)),
        "{up_gaps:?}"
    );
}

#[test]
fn tx_interval_respects_remote_required_min_rx() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    let mut slow_peer = final_from_peer();
    slow_peer.required_min_rx_us = 300_000;
    feed(&mut session, t0, &slow_peer);
    assert_eq!(session.tx_interval(), 300 * MS);
    slow_peer.final_ = false;
    let (times, _) = run(
        &mut session,
        t0,
        t0 + 3 * Duration::from_secs(1),
        Some((&slow_peer, 40 * MS)),
    );
    assert!(
        gaps(&times)
            .iter()
            .all(|g| (225 * MS..300 * MS).contains(g))
    );
}

#[test]
fn a_faster_peer_pulls_the_next_packet_forward() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    input(&mut session, t0, Input::Timer);
    assert!(session.next_deadline().unwrap() >= t0 + 750 * MS);
    // The peer is Up-capable and asks for 50 ms: we go Up and our next
    // packet must come within the new interval, not the old second.
    feed(&mut session, t0 + MS, &peer(State::Init, LOCAL));
    assert!(session.next_deadline().unwrap() <= t0 + 51 * MS);
}

#[test]
fn no_periodic_packets_when_remote_min_rx_is_zero() {
    let t0 = Instant::now();
    let mut session = session_in(State::Up, t0);
    let mut quiet = peer(State::Up, LOCAL);
    quiet.required_min_rx_us = 0;
    feed(&mut session, t0, &quiet);
    let (times, _) = run(&mut session, t0, t0 + 140 * MS, None);
    assert!(times.is_empty(), "{times:?}");
}

#[test]
fn jitter_stays_within_75_to_100_percent() {
    let t0 = Instant::now();
    for seed in 0..20 {
        let mut session =
            Session::new(t0, Discriminator::new(LOCAL).unwrap(), fast(), None, seed).unwrap();
        let (times, _) = run(&mut session, t0, t0 + 60 * Duration::from_secs(1), None);
        let gaps = gaps(&times);
        let min = *gaps.iter().min().unwrap();
        let max = *gaps.iter().max().unwrap();
        assert!(
            min >= 750 * MS && max < 1000 * MS,
            "seed {seed}: {min:?}..{max:?}"
        );
        assert!(
            min < 800 * MS && max > 950 * MS,
            "seed {seed}: spread {min:?}..{max:?}"
        );
    }
}

#[test]
fn jitter_stays_within_75_to_90_percent_with_detect_mult_1() {
    let t0 = Instant::now();
    let timers = Timers::symmetric(50 * MS, 1);
    let mut session = new_session(t0, timers, None);
    let (times, _) = run(&mut session, t0, t0 + 60 * Duration::from_secs(1), None);
    let gaps = gaps(&times);
    assert!(gaps.len() > 60);
    assert!(
        gaps.iter().all(|g| (750 * MS..=900 * MS).contains(g)),
        "{gaps:?}"
    );
    assert!(gaps.iter().any(|g| *g > 870 * MS));
}

#[test]
fn same_seed_same_schedule() {
    let t0 = Instant::now();
    let schedule = || {
        let mut session = new_session(t0, fast(), None);
        run(&mut session, t0, t0 + 20 * Duration::from_secs(1), None).0
    };
    assert_eq!(schedule(), schedule());
}

// Receive checks that need the session (RFC 5880 section 6.8.6).

#[test]
fn wrong_your_discriminator_is_dropped() {
    let t0 = Instant::now();
    let mut session = session_in(State::Init, t0);
    let out = feed(&mut session, t0, &peer(State::Up, LOCAL + 1));
    assert!(out.is_empty());
    assert_eq!(session.state(), State::Init);
    assert_eq!(session.counters().dropped.discriminator, 1);
}

#[test]
fn drop_reason_counts_add_up() {
    let mut drops = crate::bfd::Drops::default();
    for reason in [
        DropReason::Malformed,
        DropReason::NoSession,
        DropReason::Ttl,
        DropReason::Path,
        DropReason::Discriminator,
        DropReason::AuthPolicy,
        DropReason::AuthKeyId,
        DropReason::AuthDigest,
        DropReason::AuthSequence,
    ] {
        drops.count(reason);
    }
    assert_eq!(drops.total(), 9);
}

#[test]
fn rx_gaps_are_counted_only_between_packets_accepted_while_up() {
    let t0 = Instant::now();
    let mut session = new_session(t0, fast(), None);
    feed(&mut session, t0, &peer(State::Down, 0));
    // Init: a second before Up, not a gap of the Up session.
    feed(&mut session, t0 + 1000 * MS, &peer(State::Up, LOCAL));
    assert_eq!(session.state(), State::Up);
    // The packet that brought the session Up was accepted before Up: the
    // gap from it (1000 -> 1040) is not counted.
    let up = peer(State::Up, LOCAL);
    feed(&mut session, t0 + 1040 * MS, &up);
    feed(&mut session, t0 + 1080 * MS, &up);
    feed(&mut session, t0 + 1125 * MS, &up);
    let gaps = &session.counters().rx_gaps;
    assert_eq!(gaps.count(), 2, "1040 -> 1080 and 1080 -> 1125 only");
    assert_eq!(gaps.max(), 45 * MS);
    assert_eq!(
        session
            .status(t0 + 1125 * MS)
            .counters
            .rx_gaps
            .at_least_ms(45),
        1
    );
}
