//! Random input sequences against the FSM and the Peer: nothing panics,
//! nothing is sent on a connection that is not up, and the session
//! signals stay well formed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use proptest::collection::vec;
use proptest::prelude::*;
use proto::bgp::{AfiSafi, DecodeError, Message, Notification, RouteRefresh, Update};

use super::script::*;
use super::{ConnId, Fsm, Input, Output, Peer, PeerInput, PeerOutput, SessionConfig, State};

/// The kinds of input a random run draws from.
fn input() -> impl Strategy<Value = Input> {
    let open = prop_oneof![
        Just(peer_open()),
        Just(peer_gr_open(true)),
        Just(peer_gr_open(false)),
        Just(open_from(REMOTE_AS, 0, REMOTE_ID, vec![])),
        Just(open_from(REMOTE_AS, 3, REMOTE_ID, vec![])),
        Just(open_from(65003, 90, REMOTE_ID, vec![])),
        Just(open_from(REMOTE_AS, 90, LOCAL_ID, vec![])),
    ];
    let notif = (1u8..=7, 0u8..=10).prop_map(|(c, s)| notification(c, s));
    prop_oneof![
        6 => Just(Input::Timers),
        2 => Just(Input::ManualStart),
        1 => proptest::option::of("[a-z ]{0,20}").prop_map(|shutdown| Input::ManualStop { shutdown }),
        1 => Just(Input::AutomaticStart),
        1 => Just(Input::AutomaticStop {
            notification: Notification::max_prefix(AfiSafi::IPV4_UNICAST, 1)
        }),
        3 => Just(Input::TcpCrAcked),
        3 => Just(Input::TcpConnectionConfirmed),
        2 => Just(Input::TcpConnectionFails),
        3 => open.prop_map(Input::BgpOpen),
        1 => Just(Input::from(DecodeError::BadMarker)),
        1 => Just(Input::from(DecodeError::UnacceptableHoldTime { hold_time: 1 })),
        1 => Just(Input::from(DecodeError::InvalidNetworkField { reason: "x" })),
        1 => Just(Input::from(DecodeError::RouteRefreshLength { message: vec![] })),
        2 => notif.prop_map(Input::NotifMsg),
        4 => Just(Input::KeepAliveMsg),
        2 => Just(Input::UpdateMsg(update())),
        1 => Just(Input::from(Message::decode(
            &Message::RouteRefresh(RouteRefresh::request(AfiSafi::IPV4_UNICAST))
                .to_bytes(&Default::default())
                .unwrap_or_default(),
            &Default::default(),
        ))),
        2 => Just(Input::LivenessUp),
        2 => Just(Input::LivenessDown),
        1 => Just(Input::SendUpdate(Update::end_of_rib(AfiSafi::IPV4_UNICAST))),
        1 => Just(Input::SendRouteRefresh(RouteRefresh::request(AfiSafi::IPV6_UNICAST))),
    ]
}

fn config() -> impl Strategy<Value = SessionConfig> {
    (
        any::<bool>(),
        proptest::option::of(0u64..3000),
        proptest::option::of(any::<bool>()),
        any::<bool>(),
        proptest::option::of(any::<u64>()),
        prop_oneof![Just(0u16), Just(3), Just(9), Just(90)],
    )
        .prop_map(|(passive, delay_open, gr_n, liveness, seed, hold)| {
            let mut c = cfg();
            c.passive = passive;
            c.delay_open = delay_open.map(Duration::from_millis);
            c.graceful_restart = gr_n.map(|n| gr(30, n));
            c.require_liveness = liveness;
            c.liveness_wait = Duration::from_secs(5);
            c.jitter_seed = seed;
            c.hold_time = proto::bgp::HoldTime::new(hold).unwrap();
            c
        })
}

/// Checks what a session announces: Established and SessionDown
/// alternate, and each SessionDown is followed by exactly one verdict on
/// the routes.
#[derive(Default)]
struct SessionSignals {
    up: bool,
    awaiting_verdict: bool,
}

impl SessionSignals {
    fn see(&mut self, o: &Output) -> Result<(), TestCaseError> {
        if self.awaiting_verdict {
            prop_assert!(
                matches!(
                    o,
                    Output::PeerRestarting { .. } | Output::FlushRoutes { .. }
                ),
                "SessionDown followed by {o}"
            );
            self.awaiting_verdict = false;
            return Ok(());
        }
        match o {
            Output::Established { .. } => {
                prop_assert!(!self.up, "Established twice");
                self.up = true;
            }
            Output::SessionDown { .. } => {
                prop_assert!(self.up, "SessionDown while down");
                self.up = false;
                self.awaiting_verdict = true;
            }
            Output::PeerRestarting { .. } => prop_assert!(false, "PeerRestarting out of place"),
            Output::Received(_) => prop_assert!(self.up, "Received while down"),
            _ => {}
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn fsm_random_inputs_never_panic_and_never_send_without_a_connection(
        cfg in config(),
        prefix in any::<bool>(),
        open in prop_oneof![Just(peer_open()), Just(peer_gr_open(true)), Just(peer_gr_open(false))],
        steps in vec((0u64..5000, input()), 0..80),
    ) {
        let happy = [
            Input::LivenessUp,
            Input::ManualStart,
            Input::TcpConnectionConfirmed,
            Input::BgpOpen(open),
            Input::KeepAliveMsg,
        ];
        let steps = happy
            .into_iter()
            .filter(|_| prefix)
            .map(|i| (0, i))
            .chain(steps);
        let mut fsm = Fsm::new(cfg);
        let mut now = Instant::now();
        let mut connected = false;
        let mut last_keepalive: Option<Instant> = None;
        let mut signals = SessionSignals::default();
        let mut out = Vec::new();
        for (delta, input) in steps {
            now += Duration::from_millis(delta);
            let timers = input == Input::Timers;
            if matches!(input, Input::TcpCrAcked | Input::TcpConnectionConfirmed) {
                connected = true;
            }
            out.clear();
            fsm.handle(now, input, &mut out);
            for o in &out {
                signals.see(o)?;
                match o {
                    Output::Send(m) => {
                        prop_assert!(connected, "{o} without a connection");
                        if *m == Message::Keepalive {
                            if let Some(t) = last_keepalive {
                                prop_assert!(now - t >= Duration::from_secs(1), "KEEPALIVEs within a second");
                            }
                            last_keepalive = Some(now);
                        }
                    }
                    Output::Close => {
                        connected = false;
                        last_keepalive = None;
                    }
                    _ => {}
                }
            }
            if out.iter().any(|o| matches!(o, Output::Received(_))) {
                prop_assert_eq!(fsm.state(), State::Established);
            }
            if timers {
                prop_assert!(fsm.next_deadline().is_none_or(|d| d > now), "a due timer left");
            }
            let _ = fsm.snapshot();
        }
    }

    #[test]
    fn peer_random_inputs_never_send_on_a_connection_that_is_not_up(
        cfg in config(),
        prefix in 0u8..3,
        open in prop_oneof![Just(peer_open()), Just(peer_gr_open(true)), Just(peer_gr_open(false))],
        steps in vec((0u64..5000, 0u8..8, input()), 0..80),
    ) {
        // Targets: 0 the session, 3 a new inbound connection, 4 out#1, 6 in#1.
        let happy = |conn: u8| {
            vec![
                (0, 0, Input::LivenessUp),
                (0, 0, Input::ManualStart),
                (0, conn, Input::TcpCrAcked),
                (0, conn, Input::BgpOpen(open.clone())),
                (0, conn, Input::KeepAliveMsg),
            ]
        };
        let prefix = match prefix {
            1 => happy(4),
            2 => {
                let mut p = happy(6);
                p[2] = (0, 3, Input::TcpConnectionConfirmed);
                p
            }
            _ => vec![],
        };
        let steps = prefix.into_iter().chain(steps);
        let mut peer = Peer::new(cfg);
        let mut now = Instant::now();
        let mut pending: HashSet<ConnId> = HashSet::new();
        let mut up: HashSet<ConnId> = HashSet::new();
        let mut signals = SessionSignals::default();
        let mut next_inbound = 0u64;
        let mut out: Vec<PeerOutput> = Vec::new();
        for (delta, target, input) in steps {
            now += Duration::from_millis(delta);
            // 0-2: the session; 3: a new inbound connection; 4-7: an
            // existing connection, outbound or inbound.
            let input = match (target, input) {
                (3, _) => {
                    next_inbound += 1;
                    let id = ConnId::Inbound(next_inbound);
                    up.insert(id);
                    PeerInput::Conn(id, Input::TcpConnectionConfirmed)
                }
                (0..=2, input) => PeerInput::Session(input),
                (t, input) => {
                    let n = u64::from(t % 2) + 1;
                    let id = if t < 6 { ConnId::Outbound(n) } else { ConnId::Inbound(n) };
                    if input == Input::TcpCrAcked && pending.contains(&id) {
                        up.insert(id);
                    }
                    if matches!(input, Input::TcpConnectionConfirmed) {
                        // Inbound ids are fresh (case 3); this one is stale.
                        PeerInput::Conn(id, Input::KeepAliveMsg)
                    } else {
                        PeerInput::Conn(id, input)
                    }
                }
            };
            out.clear();
            peer.handle(now, input, &mut out);
            for o in &out {
                signals.see(&o.output)?;
                let id = o.conn;
                match &o.output {
                    Output::Connect => {
                        let id = id.ok_or_else(|| TestCaseError::fail("Connect without id"))?;
                        pending.insert(id);
                    }
                    Output::Send(_) => {
                        prop_assert!(id.is_some_and(|id| up.contains(&id)), "{o} on a connection that is not up");
                    }
                    Output::Close => {
                        let id = id.ok_or_else(|| TestCaseError::fail("Close without id"))?;
                        pending.remove(&id);
                        up.remove(&id);
                    }
                    _ => {}
                }
            }
            let established = peer
                .connections()
                .iter()
                .filter(|(_, s)| *s == State::Established)
                .count();
            prop_assert!(established <= 1, "two Established connections");
            prop_assert!(peer.connections().len() <= 2);
            let _ = peer.snapshot();
        }
    }
}
