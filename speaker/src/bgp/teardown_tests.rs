//! How sessions end, one spec per test: liveness (BFD, RFC 9384),
//! graceful restart (RFC 4724, RFC 8538) and stops (RFC 9003).

use proto::bgp::{CeaseReason, ErrorCode, Message, Notification};
use std::time::Duration;

use super::script::*;
use super::{Input, Liveness, Output, State};

use Input::*;

#[test]
fn liveness_down_sends_cease_bfd_down() {
    let mut s = established(gr_cfg(true), peer_gr_open(true));
    s.run(&[
        (10, LivenessUp, &[]),
        (
            20,
            LivenessDown,
            &[
                "Send(NOTIFICATION 6/10)",
                "SessionDown(sent 6/10)",
                // Even with graceful restart: the forwarding path is gone.
                "FlushRoutes(LivenessDown)",
                "Close",
            ],
        ),
    ]);
    assert_eq!(s.state(), State::Idle);
    assert_eq!(s.fsm.liveness(), Liveness::Down);
}

#[test]
fn liveness_down_without_a_prior_up_is_not_a_failure() {
    let mut s = established(cfg(), peer_open());
    s.run(&[(10, LivenessDown, &[])]);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn session_waits_for_liveness_when_required() {
    let mut c = cfg();
    c.require_liveness = true;
    let mut s = Script::new(c.clone());
    s.run(&[
        (0, ManualStart, &["Connect"]),
        (0, TcpCrAcked, &["Send(OPEN)"]),
        // Our KEEPALIVE would let the peer go Established: held back.
        (0, BgpOpen(peer_open()), &[]),
        (100, KeepAliveMsg, &[]),
    ]);
    assert_eq!(s.state(), State::OpenConfirm);
    s.run(&[(
        200,
        LivenessUp,
        &["Send(KEEPALIVE)", "Established(hold 90)"],
    )]);

    // Liveness already Up: no wait.
    let mut s = Script::new(c);
    s.at(0, LivenessUp);
    s.establish(0, peer_open());
}

#[test]
fn liveness_up_before_the_peers_keepalive_confirms_and_then_waits_for_it() {
    let mut c = cfg();
    c.require_liveness = true;
    let mut s = Script::new(c);
    s.run(&[
        (0, ManualStart, &["Connect"]),
        (0, TcpCrAcked, &["Send(OPEN)"]),
        (0, BgpOpen(peer_open()), &[]),
        // No keepalive timer runs while the KEEPALIVE is held back.
        (20_000, Timers, &[]),
        (20_100, LivenessUp, &["Send(KEEPALIVE)"]),
        (20_200, KeepAliveMsg, &["Established(hold 90)"]),
    ]);
}

/// Issue 4: BFD goes Down (peer frozen, or the link cut) and comes back.
/// The session must come back too: the new OPEN exchange must not tell the
/// peer to go Established (and send UPDATEs) before BFD is Up again.
#[test]
fn session_comes_back_after_liveness_down_without_an_fsm_error() {
    let mut c = cfg();
    c.require_liveness = true;
    let mut s = Script::new(c);
    s.at(0, LivenessUp);
    s.establish(0, peer_open());
    s.run(&[(
        1000,
        LivenessDown,
        &[
            "Send(NOTIFICATION 6/10)",
            "SessionDown(sent 6/10)",
            "FlushRoutes(LivenessDown)",
            "Close",
        ],
    )]);
    // Idle hold (1 s), then a new connection while BFD is still Down.
    s.run(&[
        (2000, Timers, &["Connect"]),
        (2100, TcpCrAcked, &["Send(OPEN)"]),
        (2200, BgpOpen(peer_open()), &[]),
        (2300, KeepAliveMsg, &[]),
    ]);
    assert_eq!(s.state(), State::OpenConfirm);
    s.run(&[
        (
            4000,
            LivenessUp,
            &["Send(KEEPALIVE)", "Established(hold 90)"],
        ),
        // The peer got our KEEPALIVE and sends its routes: welcome now.
        (4100, UpdateMsg(update()), &["Received(UPDATE)"]),
    ]);
    assert_eq!(s.state(), State::Established);

    // An UPDATE while the KEEPALIVE is still held can only be the peer's
    // error: it is one (RFC 6608 subcode 2, OpenConfirm).
    s.run(&[(
        5000,
        LivenessDown,
        &[
            "Send(NOTIFICATION 6/10)",
            "SessionDown(sent 6/10)",
            "FlushRoutes(LivenessDown)",
            "Close",
        ],
    )]);
    s.tick(7000);
    s.at(7000, TcpCrAcked);
    s.at(7000, BgpOpen(peer_open()));
    let out = s.at(7100, UpdateMsg(update()));
    assert_eq!(
        out.first().map(String::as_str),
        Some("Send(NOTIFICATION 5/2)")
    );
}

#[test]
fn session_gives_up_when_liveness_never_comes_up() {
    let mut c = cfg();
    c.require_liveness = true;
    c.liveness_wait = Duration::from_secs(5);
    let mut s = Script::new(c);
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.at(0, BgpOpen(peer_open()));
    s.at(100, KeepAliveMsg);
    assert_eq!(s.deadline_ms(), Some(5000));
    s.run(&[(5000, Timers, &["Send(NOTIFICATION 6/10)", "Close"])]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn graceful_restart_peer_drop_marks_routes_stale_not_withdrawn() {
    let mut s = established(gr_cfg(false), peer_gr_open(false));
    s.run(&[(
        100,
        TcpConnectionFails,
        &["SessionDown(TCP failed)", "PeerRestarting(60s)", "Close"],
    )]);
    assert!(s.fsm.snapshot().stale_routes_kept);
    // The peer is back within its restart time: no flush from the FSM;
    // the RIB sweeps what End-of-RIB did not refresh.
    s.run(&[(1100, Timers, &["Connect"])]);
    s.establish(2000, peer_gr_open(false));
    assert!(!s.fsm.snapshot().stale_routes_kept);
}

#[test]
fn restart_time_expiry_flushes_the_stale_routes() {
    let mut c = gr_cfg(false);
    c.passive = true;
    let mut s = Script::new(c);
    s.at(0, ManualStart);
    s.at(0, TcpConnectionConfirmed);
    s.at(0, BgpOpen(peer_gr_open(false)));
    s.at(0, KeepAliveMsg);
    s.run(&[
        (
            100,
            TcpConnectionFails,
            &["SessionDown(TCP failed)", "PeerRestarting(60s)", "Close"],
        ),
        (1100, Timers, &[]),
        (60_099, Timers, &[]),
        (60_100, Timers, &["FlushRoutes(RestartTimeExpired)"]),
    ]);
    assert_eq!(s.state(), State::Active);
    assert!(!s.fsm.snapshot().stale_routes_kept);
}

#[test]
fn graceful_restart_without_the_n_bit_flushes_on_notification() {
    let mut s = established(gr_cfg(true), peer_gr_open(false));
    s.run(&[(
        100,
        NotifMsg(notification(6, 8)),
        &[
            "SessionDown(received 6/8)",
            "FlushRoutes(Notification)",
            "Close",
        ],
    )]);
}

#[test]
fn n_bit_notification_takes_graceful_path_but_hard_reset_flushes() {
    let mut s = established(gr_cfg(true), peer_gr_open(true));
    s.run(&[
        (
            100,
            NotifMsg(notification(6, 8)),
            &["SessionDown(received 6/8)", "PeerRestarting(60s)", "Close"],
        ),
        (1100, Timers, &["Connect"]),
    ]);
    s.establish(2000, peer_gr_open(true));
    let hard = Notification::hard_reset(&notification(6, 8));
    s.run(&[(
        3000,
        NotifMsg(hard),
        &[
            "SessionDown(received 6/9)",
            "FlushRoutes(HardReset)",
            "Close",
        ],
    )]);
}

#[test]
fn n_bit_hold_timer_expiry_takes_graceful_path() {
    let mut s = established(gr_cfg(true), peer_gr_open(true));
    s.at(30_000, Timers);
    s.at(60_000, Timers);
    s.run(&[(
        90_000,
        Timers,
        &[
            "Send(NOTIFICATION 4/0)",
            "SessionDown(hold timer expired)",
            "PeerRestarting(60s)",
            "Close",
        ],
    )]);
}

#[test]
fn manual_stop_sends_shutdown_communication() {
    let mut s = established(cfg(), peer_open());
    let text = "maintenance, back at 10:00";
    let out = s.raw(
        100,
        ManualStop {
            shutdown: Some(text.into()),
        },
    );
    assert_eq!(
        strings(&out),
        [
            "Send(NOTIFICATION 6/2)",
            "SessionDown(sent 6/2)",
            "FlushRoutes(ManualStop)",
            "Close"
        ]
    );
    let Output::Send(Message::Notification(n)) = &out[0] else {
        panic!("{out:?}");
    };
    assert_eq!(n.shutdown_text(), Some(Ok(text)));
    assert_eq!(s.state(), State::Idle);
    // Stopped: nothing restarts it.
    assert_eq!(s.deadline_ms(), None);
    assert_eq!(s.fsm.snapshot().last_error, None);
}

#[test]
fn manual_stop_with_the_n_bit_sends_a_hard_reset() {
    let mut s = established(gr_cfg(true), peer_gr_open(true));
    let out = s.raw(
        100,
        ManualStop {
            shutdown: Some("decommissioned".into()),
        },
    );
    assert_eq!(
        strings(&out),
        [
            "Send(NOTIFICATION 6/9)",
            "SessionDown(sent 6/9)",
            "FlushRoutes(ManualStop)",
            "Close"
        ]
    );
    let Output::Send(Message::Notification(n)) = &out[0] else {
        panic!("{out:?}");
    };
    let inner = n.hard_reset_inner().unwrap();
    assert_eq!(
        inner.error,
        ErrorCode::Cease(CeaseReason::AdministrativeShutdown)
    );
    assert_eq!(inner.shutdown_text(), Some(Ok("decommissioned")));
}

#[test]
fn manual_stop_flushes_routes_kept_for_a_restarting_peer() {
    let mut c = gr_cfg(false);
    c.passive = true;
    let mut s = Script::new(c);
    s.at(0, ManualStart);
    s.at(0, TcpConnectionConfirmed);
    s.at(0, BgpOpen(peer_gr_open(false)));
    s.at(0, KeepAliveMsg);
    s.at(100, TcpConnectionFails);
    assert!(s.fsm.snapshot().stale_routes_kept);
    s.run(&[(
        200,
        ManualStop { shutdown: None },
        &["FlushRoutes(ManualStop)"],
    )]);
    assert_eq!(s.deadline_ms(), None);
}
