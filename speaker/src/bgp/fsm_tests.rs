//! The FSM's behaviour, one spec per test, as scripts of (milliseconds,
//! input, expected outputs).

use std::time::Duration;

use proto::bgp::notification::OpenError;
use proto::bgp::{
    AfiSafi, Capability, CeaseReason, Context, DecodeError, ErrorCode, MARKER, Message,
    Notification, Update,
};

use super::script::*;
use super::{ConnectRetry, DownReason, Input, Output, State};

use Input::*;

#[test]
fn manual_start_connects_and_opens_when_tcp_is_up() {
    let mut s = Script::new(cfg());
    s.run(&[
        (0, ManualStart, &["Connect"]),
        (10, TcpCrAcked, &["Send(OPEN)"]),
        (20, BgpOpen(peer_open()), &["Send(KEEPALIVE)"]),
        (30, KeepAliveMsg, &["Established(hold 90)"]),
    ]);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn established_carries_the_negotiated_context_and_smaller_hold_time() {
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.at(0, BgpOpen(open_from(REMOTE_AS, 30, REMOTE_ID, vec![])));
    let out = s.raw(0, KeepAliveMsg);
    let [
        Output::Established {
            ctx,
            remote,
            hold_time,
        },
    ] = out.as_slice()
    else {
        panic!("{out:?}");
    };
    assert_eq!(hold_time.seconds(), 30);
    assert_eq!(remote.bgp_id, REMOTE_ID);
    assert_eq!(
        *ctx,
        Context {
            four_octet_as: true,
            external: true,
            ..Context::default()
        }
    );
    assert_eq!(
        s.fsm.snapshot().keepalive_interval,
        Some(Duration::from_secs(10))
    );
}

#[test]
fn hold_timer_expiry_sends_notification_4_and_closes() {
    let mut s = established(cfg(), open_from(REMOTE_AS, 9, REMOTE_ID, vec![]));
    s.run(&[
        (3000, Timers, &["Send(KEEPALIVE)"]),
        (6000, Timers, &["Send(KEEPALIVE)"]),
        (8999, Timers, &[]),
        (
            9000,
            Timers,
            &[
                "Send(NOTIFICATION 4/0)",
                "SessionDown(hold timer expired)",
                "FlushRoutes(NoGracefulRestart)",
                "Close",
            ],
        ),
    ]);
    assert_eq!(s.state(), State::Idle);
    assert_eq!(
        s.fsm.snapshot().last_error,
        Some(DownReason::HoldTimerExpired)
    );
}

#[test]
fn hold_timer_waits_four_minutes_for_the_peers_open() {
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    assert_eq!(s.deadline_ms(), Some(240_000));
    s.run(&[
        (239_999, Timers, &[]),
        (240_000, Timers, &["Send(NOTIFICATION 4/0)", "Close"]),
    ]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn every_message_from_the_peer_restarts_the_hold_timer() {
    let mut s = established(cfg(), open_from(REMOTE_AS, 9, REMOTE_ID, vec![]));
    s.run(&[
        (5000, UpdateMsg(update()), &["Received(UPDATE)"]),
        // The overdue keepalive goes once, not once per missed interval.
        (9000, Timers, &["Send(KEEPALIVE)"]),
        (13_000, KeepAliveMsg, &[]),
        (21_999, Timers, &["Send(KEEPALIVE)"]),
    ]);
    assert_eq!(s.state(), State::Established);
}

#[test]
fn bad_peer_as_sends_open_error_2_2() {
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    let out = s.raw(10, BgpOpen(open_from(65003, 90, REMOTE_ID, vec![])));
    assert_eq!(strings(&out), ["Send(NOTIFICATION 2/2)", "Close"]);
    assert_eq!(s.state(), State::Idle);
    let Some(DownReason::Sent(n)) = s.fsm.snapshot().last_error else {
        panic!("no last error");
    };
    assert_eq!(n.error, ErrorCode::Open(OpenError::BadPeerAs));
}

#[test]
fn ibgp_peer_with_our_bgp_identifier_is_open_error_2_3() {
    let mut ibgp = cfg();
    ibgp.remote_as = LOCAL_AS;
    let mut s = Script::new(ibgp.clone());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    let same_id = open_from(LOCAL_AS, 90, LOCAL_ID, vec![]);
    assert_eq!(
        s.at(10, BgpOpen(same_id.clone())),
        ["Send(NOTIFICATION 2/3)", "Close"]
    );
    // RFC 6286: on eBGP the identifiers may be equal.
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    let ebgp_same_id = open_from(REMOTE_AS, 90, LOCAL_ID, vec![]);
    assert_eq!(s.at(10, BgpOpen(ebgp_same_id)), ["Send(KEEPALIVE)"]);
}

#[test]
fn hold_time_below_three_is_refused_with_2_6() {
    let mut frame = MARKER.to_vec();
    frame.extend_from_slice(&[0, 29, 1]); // length 29, OPEN
    frame.extend_from_slice(&[4, 0xfd, 0xea, 0, 2]); // version 4, AS 65002, hold 2 s
    frame.extend_from_slice(&[10, 0, 0, 2, 0]); // identifier, no parameters
    let input = Input::from(Message::decode(&frame, &Context::default()));
    assert!(matches!(input, BgpOpenMsgErr(_)), "{input:?}");
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    assert_eq!(s.at(10, input), ["Send(NOTIFICATION 2/6)", "Close"]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn missing_required_capability_is_open_error_2_7_with_the_capability() {
    let mut c = cfg();
    c.required_capabilities = vec![Capability::MultiProtocol(AfiSafi::IPV6_UNICAST)];
    let mut s = Script::new(c);
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    let out = s.raw(10, BgpOpen(peer_open()));
    let [Output::Send(Message::Notification(n)), Output::Close] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(n.error.codes(), (2, 7));
    assert_eq!(n.data, [1, 4, 0, 2, 0, 1]);
}

#[test]
fn keepalive_sent_every_third_of_hold_time() {
    let mut s = established(cfg(), open_from(REMOTE_AS, 9, REMOTE_ID, vec![]));
    assert_eq!(s.deadline_ms(), Some(3000));
    for k in 1..=4u64 {
        assert_eq!(s.tick(k * 3000), ["Send(KEEPALIVE)"]);
        s.at(k * 3000, KeepAliveMsg);
        assert_eq!(s.deadline_ms(), Some((k + 1) * 3000));
    }
    // With the default hold time of 90 s: every 30 s.
    let s = established(cfg(), peer_open());
    assert_eq!(s.deadline_ms(), Some(30_000));
}

#[test]
fn keepalive_override_shortens_the_interval_but_never_below_a_second() {
    let mut c = cfg();
    c.keepalive = Some(Duration::from_millis(200));
    let s = established(c, peer_open());
    assert_eq!(s.deadline_ms(), Some(1000));
    let mut c = cfg();
    c.keepalive = Some(Duration::from_secs(60));
    let s = established(c, peer_open());
    assert_eq!(s.deadline_ms(), Some(30_000));
}

#[test]
fn zero_hold_time_disables_keepalives() {
    let mut s = Script::new(cfg());
    s.run(&[
        (0, ManualStart, &["Connect"]),
        (0, TcpCrAcked, &["Send(OPEN)"]),
        // The KEEPALIVE that acknowledges the OPEN still goes.
        (
            0,
            BgpOpen(open_from(REMOTE_AS, 0, REMOTE_ID, vec![])),
            &["Send(KEEPALIVE)"],
        ),
        (0, KeepAliveMsg, &["Established(hold 0)"]),
    ]);
    assert_eq!(s.deadline_ms(), None);
    assert_eq!(s.tick(3_600_000), Vec::<String>::new());
    assert_eq!(s.state(), State::Established);
}

#[test]
fn connect_retry_backs_off_exponentially_to_the_cap() {
    let mut c = cfg();
    c.connect_retry = ConnectRetry {
        initial: Duration::from_secs(1),
        max: Duration::from_secs(8),
    };
    let mut s = Script::new(c);
    assert_eq!(s.at(0, ManualStart), ["Connect"]);
    let mut expected = vec![];
    let mut at = 0;
    for _ in 0..5 {
        at = s.deadline_ms().unwrap();
        expected.push(at);
        assert_eq!(s.tick(at), ["Close", "Connect"]);
    }
    assert_eq!(expected, [1000, 3000, 7000, 15_000, 23_000]);
    // An accepted OPEN forgets the failed attempts.
    s.at(at, TcpCrAcked);
    s.at(at, BgpOpen(peer_open()));
    s.at(at, TcpConnectionFails);
    s.tick(at + 1000);
    assert_eq!(s.deadline_ms(), Some(at + 1000 + 1000));
}

#[test]
fn tcp_failure_before_open_goes_active_and_retries_after_backoff() {
    let mut s = Script::new(cfg());
    s.run(&[
        (0, ManualStart, &["Connect"]),
        (100, TcpConnectionFails, &["Close"]),
    ]);
    assert_eq!(s.state(), State::Active);
    // One failure: 5 s doubled.
    assert_eq!(s.deadline_ms(), Some(10_100));
    s.run(&[(10_100, Timers, &["Connect"])]);
    assert_eq!(s.state(), State::Connect);
    // OpenSent: the connection drops, back to Active.
    s.run(&[
        (10_200, TcpCrAcked, &["Send(OPEN)"]),
        (10_300, TcpConnectionFails, &["Close"]),
    ]);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.fsm.consecutive_failures(), 0);
}

#[test]
fn delay_open_waits_before_sending_open() {
    let mut c = cfg();
    c.delay_open = Some(Duration::from_secs(2));
    let mut s = Script::new(c);
    s.run(&[(0, ManualStart, &["Connect"]), (0, TcpCrAcked, &[])]);
    assert_eq!(s.state(), State::Connect);
    assert_eq!(s.deadline_ms(), Some(2000));
    s.run(&[(1999, Timers, &[]), (2000, Timers, &["Send(OPEN)"])]);
    assert_eq!(s.state(), State::OpenSent);
}

#[test]
fn delay_open_refuses_other_messages_before_the_open() {
    let mut c = cfg();
    c.delay_open = Some(Duration::from_secs(2));
    let mut s = Script::new(c);
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.run(&[(10, KeepAliveMsg, &["Send(NOTIFICATION 5/0)", "Close"])]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn delay_open_answers_an_early_open_with_open_and_keepalive() {
    let mut c = cfg();
    c.delay_open = Some(Duration::from_secs(2));
    c.passive = true;
    let mut s = Script::new(c);
    s.run(&[
        (0, ManualStart, &[]),
        (0, TcpConnectionConfirmed, &[]),
        (
            500,
            BgpOpen(peer_open()),
            &["Send(OPEN)", "Send(KEEPALIVE)"],
        ),
        (600, KeepAliveMsg, &["Established(hold 90)"]),
    ]);
}

#[test]
fn manual_stop_while_connecting_just_closes() {
    let mut s = Script::new(cfg());
    s.run(&[
        (0, ManualStart, &["Connect"]),
        (10, ManualStop { shutdown: None }, &["Close"]),
        (20, TcpCrAcked, &["Close"]),
    ]);
    assert_eq!(s.deadline_ms(), None);
}

#[test]
fn idle_hold_doubles_on_repeated_failure() {
    let mut s = Script::new(cfg());
    let mut at = 0;
    let mut holds = vec![];
    for _ in 0..4 {
        s.establish(at, peer_open());
        s.at(at + 100, NotifMsg(notification(6, 8)));
        let restart = s.deadline_ms().unwrap();
        holds.push(restart - (at + 100));
        assert_eq!(s.tick(restart - 1), Vec::<String>::new());
        assert_eq!(s.tick(restart), ["Connect"]);
        at = restart;
    }
    assert_eq!(holds, [1000, 2000, 4000, 8000]);
    assert_eq!(s.fsm.consecutive_failures(), 4);

    // A session that stayed up for the stable period forgets them.
    s.establish(at, peer_open());
    s.at(at + 60_000, NotifMsg(notification(6, 8)));
    assert_eq!(s.fsm.consecutive_failures(), 1);
    assert_eq!(s.deadline_ms(), Some(at + 61_000));
}

#[test]
fn manual_start_forgets_failures_and_starts_at_once() {
    let mut s = established(cfg(), peer_open());
    s.at(100, NotifMsg(notification(6, 8)));
    assert_eq!(s.at(200, AutomaticStart), Vec::<String>::new());
    assert_eq!(s.at(300, ManualStart), ["Connect"]);
    assert_eq!(s.fsm.consecutive_failures(), 0);
}

#[test]
fn update_before_established_is_fsm_error() {
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.run(&[(
        10,
        UpdateMsg(update()),
        &["Send(NOTIFICATION 5/1)", "Close"],
    )]);
    assert_eq!(s.state(), State::Idle);

    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.at(0, BgpOpen(peer_open()));
    s.run(&[(
        10,
        UpdateMsg(update()),
        &["Send(NOTIFICATION 5/2)", "Close"],
    )]);
}

#[test]
fn open_in_established_is_fsm_error_5_3() {
    let mut s = established(cfg(), peer_open());
    s.run(&[(
        10,
        BgpOpen(peer_open()),
        &[
            "Send(NOTIFICATION 5/3)",
            "SessionDown(sent 5/3)",
            "FlushRoutes(NoGracefulRestart)",
            "Close",
        ],
    )]);
}

#[test]
fn malformed_update_sends_its_own_notification() {
    let mut s = established(cfg(), peer_open());
    let e = DecodeError::MalformedAttributeList { reason: "overrun" };
    s.run(&[(
        10,
        Input::from(e),
        &[
            "Send(NOTIFICATION 3/1)",
            "SessionDown(sent 3/1)",
            "FlushRoutes(NoGracefulRestart)",
            "Close",
        ],
    )]);
}

#[test]
fn rfc7606_session_reset_verdict_ends_the_session_but_treat_as_withdraw_does_not() {
    use proto::bgp::{Action, AttributeError, AttributeProblem};
    let with = |action| {
        let mut d = update();
        d.problems.push(AttributeProblem {
            type_code: 14,
            error: AttributeError::DuplicateMp,
            action,
        });
        d
    };
    let mut s = established(cfg(), peer_open());
    s.run(&[(
        10,
        UpdateMsg(with(Action::TreatAsWithdraw)),
        &["Received(UPDATE)"],
    )]);
    let reset = Action::SessionReset(notification(3, 1));
    s.run(&[(
        20,
        UpdateMsg(with(reset)),
        &[
            "Send(NOTIFICATION 3/1)",
            "SessionDown(sent 3/1)",
            "FlushRoutes(NoGracefulRestart)",
            "Close",
        ],
    )]);
    let mut s = established(cfg(), peer_open());
    let disable = Action::AfiSafiDisable {
        family: AfiSafi::IPV6_UNICAST,
        notification: notification(3, 9),
    };
    let out = s.at(10, UpdateMsg(with(disable)));
    assert_eq!(out[0], "Send(NOTIFICATION 3/9)");
}

#[test]
fn header_error_sends_its_own_notification() {
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.run(&[(
        10,
        Input::from(DecodeError::BadMarker),
        &["Send(NOTIFICATION 1/1)", "Close"],
    )]);
}

#[test]
fn version_notification_is_not_counted_as_a_failure() {
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.run(&[(10, NotifMsg(notification(2, 1)), &["Close"])]);
    assert_eq!(s.fsm.consecutive_failures(), 0);
    s.run(&[(10, Timers, &["Connect"])]);
}

#[test]
fn passive_session_never_connects() {
    let mut c = cfg();
    c.passive = true;
    let mut s = Script::new(c);
    s.run(&[(0, ManualStart, &[])]);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.deadline_ms(), None);
    s.run(&[
        (10, TcpConnectionConfirmed, &["Send(OPEN)"]),
        (20, TcpConnectionFails, &["Close"]),
    ]);
    assert_eq!(s.state(), State::Active);
    assert_eq!(s.deadline_ms(), None);
}

#[test]
fn idle_refuses_incoming_connections() {
    let mut s = Script::new(cfg());
    s.run(&[(0, TcpConnectionConfirmed, &["Close"])]);
    assert_eq!(s.state(), State::Idle);
}

#[test]
fn automatic_stop_sends_its_notification_and_restarts_after_idle_hold() {
    let mut s = established(cfg(), peer_open());
    let notification = Notification::max_prefix(AfiSafi::IPV4_UNICAST, 100);
    s.run(&[
        (
            10,
            AutomaticStop { notification },
            &[
                "Send(NOTIFICATION 6/1)",
                "SessionDown(sent 6/1)",
                "FlushRoutes(NoGracefulRestart)",
                "Close",
            ],
        ),
        (1010, Timers, &["Connect"]),
    ]);
}

#[test]
fn updates_go_out_only_when_established_and_restart_the_keepalive_timer() {
    let eor = || Update::end_of_rib(AfiSafi::IPV6_UNICAST);
    let mut s = Script::new(cfg());
    s.at(0, ManualStart);
    s.at(0, TcpCrAcked);
    s.run(&[(0, SendUpdate(eor()), &[])]);
    let mut s = established(cfg(), open_from(REMOTE_AS, 9, REMOTE_ID, vec![]));
    s.run(&[(1000, SendUpdate(eor()), &["Send(UPDATE)"])]);
    assert_eq!(s.deadline_ms(), Some(4000));
    let rr = proto::bgp::RouteRefresh::request(AfiSafi::IPV4_UNICAST);
    s.run(&[(2000, SendRouteRefresh(rr), &["Send(ROUTE-REFRESH)"])]);
}

#[test]
fn route_refresh_is_delivered_when_established() {
    let rr = proto::bgp::RouteRefresh::request(AfiSafi::IPV4_UNICAST);
    let decoded = Message::decode(
        &Message::RouteRefresh(rr)
            .to_bytes(&Context::default())
            .unwrap(),
        &Context::default(),
    );
    let mut s = established(cfg(), peer_open());
    s.run(&[(10, Input::from(decoded), &["Received(ROUTE-REFRESH)"])]);
}

#[test]
fn jitter_scales_connect_retry_deterministically() {
    let run = |seed| {
        let mut c = cfg();
        c.jitter_seed = Some(seed);
        c.connect_retry.initial = Duration::from_secs(10);
        let mut s = Script::new(c);
        s.at(0, ManualStart);
        s.deadline_ms().unwrap()
    };
    let d = run(42);
    assert!((7500..=10_000).contains(&d), "{d}");
    assert_eq!(run(42), d);
}

#[test]
fn snapshot_counts_messages_transitions_and_flaps() {
    let mut s = established(cfg(), peer_open());
    s.at(10, UpdateMsg(update()));
    s.at(20, Input::from(DecodeError::BadType { code: 9 }));
    let snap = s.fsm.snapshot();
    assert_eq!(snap.state, State::Idle);
    assert_eq!(snap.messages_in.open, 1);
    assert_eq!(snap.messages_in.keepalive, 1);
    assert_eq!(snap.updates_received, 1);
    assert_eq!(snap.messages_in.malformed, 1);
    assert_eq!(snap.messages_out.open, 1);
    assert_eq!(snap.messages_out.keepalive, 1);
    assert_eq!(snap.messages_out.notification, 1);
    // Idle, Connect, OpenSent, OpenConfirm, Established, Idle.
    assert_eq!(snap.transitions, 5);
    assert_eq!(snap.flaps, 1);
    assert_eq!(snap.remote_id, None);
    assert!(matches!(snap.last_error, Some(DownReason::Sent(_))));
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["state"], "Idle");
    assert_eq!(json["messages_in"]["update"], 1);

    let s = established(cfg(), peer_open());
    let snap = s.fsm.snapshot();
    assert_eq!(snap.established_since, Some(s.t0));
    assert_eq!(snap.remote_id, Some(REMOTE_ID));
    assert_eq!(snap.hold_time, Some(90));
}

#[test]
fn decoded_messages_become_their_events() {
    let ctx = Context::default();
    let decode = |m: Message| Input::from(Message::decode(&m.to_bytes(&ctx).unwrap(), &ctx));
    assert_eq!(decode(Message::Keepalive), KeepAliveMsg);
    assert_eq!(decode(Message::Open(peer_open())), BgpOpen(peer_open()));
    let n = Notification::cease(CeaseReason::BfdDown);
    assert_eq!(decode(Message::Notification(n.clone())), NotifMsg(n));
    assert!(matches!(
        decode(Message::Update(Update::default())),
        UpdateMsg(_)
    ));
    assert!(matches!(
        Input::from(DecodeError::RouteRefreshLength { message: vec![] }),
        RouteRefreshMsgErr(_)
    ));
    assert!(matches!(
        Input::from(DecodeError::BadLength { length: 5 }),
        BgpHeaderErr(_)
    ));
}
