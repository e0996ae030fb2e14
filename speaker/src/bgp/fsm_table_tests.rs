//! Every state against every kind of input: the outputs and the next
//! state, one row each. A row's input is given at t = 0 except `Timers`,
//! given at the state's next deadline.

use proto::bgp::{AfiSafi, DecodeError, Message, Notification, RouteRefresh, Update};

use super::script::*;
use super::{Input, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    ManualStart,
    ManualStop,
    AutomaticStart,
    AutomaticStop,
    TcpCrAcked,
    TcpConfirmed,
    TcpFails,
    Open,
    HeaderErr,
    OpenErr,
    Notif,
    NotifVersion,
    Keepalive,
    Update,
    UpdateErr,
    RouteRefresh,
    LivenessUp,
    LivenessDown,
    SendUpdate,
    Timers,
}

const ALL: [Ev; 20] = [
    Ev::ManualStart,
    Ev::ManualStop,
    Ev::AutomaticStart,
    Ev::AutomaticStop,
    Ev::TcpCrAcked,
    Ev::TcpConfirmed,
    Ev::TcpFails,
    Ev::Open,
    Ev::HeaderErr,
    Ev::OpenErr,
    Ev::Notif,
    Ev::NotifVersion,
    Ev::Keepalive,
    Ev::Update,
    Ev::UpdateErr,
    Ev::RouteRefresh,
    Ev::LivenessUp,
    Ev::LivenessDown,
    Ev::SendUpdate,
    Ev::Timers,
];

const STATES: [State; 6] = [
    State::Idle,
    State::Connect,
    State::Active,
    State::OpenSent,
    State::OpenConfirm,
    State::Established,
];

fn input(ev: Ev) -> Input {
    let rr = || {
        let bytes = Message::RouteRefresh(RouteRefresh::request(AfiSafi::IPV4_UNICAST))
            .to_bytes(&Default::default())
            .unwrap();
        Input::from(Message::decode(&bytes, &Default::default()))
    };
    match ev {
        Ev::ManualStart => Input::ManualStart,
        Ev::ManualStop => Input::ManualStop { shutdown: None },
        Ev::AutomaticStart => Input::AutomaticStart,
        Ev::AutomaticStop => Input::AutomaticStop {
            notification: Notification::max_prefix(AfiSafi::IPV4_UNICAST, 10),
        },
        Ev::TcpCrAcked => Input::TcpCrAcked,
        Ev::TcpConfirmed => Input::TcpConnectionConfirmed,
        Ev::TcpFails => Input::TcpConnectionFails,
        Ev::Open => Input::BgpOpen(peer_open()),
        Ev::HeaderErr => Input::from(DecodeError::BadMarker),
        Ev::OpenErr => Input::from(DecodeError::UnsupportedVersion { version: 3 }),
        Ev::Notif => Input::NotifMsg(notification(6, 8)),
        Ev::NotifVersion => Input::NotifMsg(notification(2, 1)),
        Ev::Keepalive => Input::KeepAliveMsg,
        Ev::Update => Input::UpdateMsg(update()),
        Ev::UpdateErr => Input::from(DecodeError::MalformedAttributeList { reason: "x" }),
        Ev::RouteRefresh => rr(),
        Ev::LivenessUp => Input::LivenessUp,
        Ev::LivenessDown => Input::LivenessDown,
        Ev::SendUpdate => Input::SendUpdate(Update::end_of_rib(AfiSafi::IPV4_UNICAST)),
        Ev::Timers => Input::Timers,
    }
}

/// An active session brought to `state` at t = 0.
fn setup(state: State) -> Script {
    let mut s = Script::new(cfg());
    let steps: &[Input] = match state {
        State::Idle => &[],
        State::Connect => &[Input::ManualStart],
        State::Active => &[Input::ManualStart, Input::TcpConnectionFails],
        State::OpenSent => &[Input::ManualStart, Input::TcpCrAcked],
        State::OpenConfirm => &[
            Input::ManualStart,
            Input::TcpCrAcked,
            Input::BgpOpen(peer_open()),
        ],
        State::Established => &[
            Input::ManualStart,
            Input::TcpCrAcked,
            Input::BgpOpen(peer_open()),
            Input::KeepAliveMsg,
        ],
    };
    for step in steps {
        s.at(0, step.clone());
    }
    assert_eq!(s.state(), state);
    s
}

const N51: &str = "Send(NOTIFICATION 5/1)";
const N52: &str = "Send(NOTIFICATION 5/2)";
const CLOSE: &str = "Close";
const FLUSH: &str = "FlushRoutes(NoGracefulRestart)";

use Ev::*;
use State::{
    Active as A, Connect as C, Established as E, Idle as I, OpenConfirm as OC, OpenSent as OS,
};

#[rustfmt::skip]
const TABLE: &[(State, Ev, &[&str], State)] = &[
    (I, ManualStart, &["Connect"], C),
    (I, ManualStop, &[], I),
    (I, AutomaticStart, &["Connect"], C),
    (I, AutomaticStop, &[], I),
    (I, TcpCrAcked, &[CLOSE], I),
    (I, TcpConfirmed, &[CLOSE], I),
    (I, TcpFails, &[], I),
    (I, Open, &[], I),
    (I, HeaderErr, &[], I),
    (I, OpenErr, &[], I),
    (I, Notif, &[], I),
    (I, NotifVersion, &[], I),
    (I, Keepalive, &[], I),
    (I, Update, &[], I),
    (I, UpdateErr, &[], I),
    (I, RouteRefresh, &[], I),
    (I, LivenessUp, &[], I),
    (I, LivenessDown, &[], I),
    (I, SendUpdate, &[], I),
    (I, Timers, &[], I),

    (C, ManualStart, &[], C),
    (C, ManualStop, &[CLOSE], I),
    (C, AutomaticStart, &[], C),
    (C, AutomaticStop, &[CLOSE], I),
    (C, TcpCrAcked, &["Send(OPEN)"], OS),
    (C, TcpConfirmed, &["Send(OPEN)"], OS),
    (C, TcpFails, &[CLOSE], A),
    (C, Open, &[], C),
    (C, HeaderErr, &[], C),
    (C, OpenErr, &[], C),
    (C, Notif, &[], C),
    (C, NotifVersion, &[], C),
    (C, Keepalive, &[], C),
    (C, Update, &[], C),
    (C, UpdateErr, &[], C),
    (C, RouteRefresh, &[], C),
    (C, LivenessUp, &[], C),
    (C, LivenessDown, &[], C),
    (C, SendUpdate, &[], C),
    (C, Timers, &[CLOSE, "Connect"], C),

    (A, ManualStart, &[], A),
    (A, ManualStop, &[], I),
    (A, AutomaticStart, &[], A),
    (A, AutomaticStop, &[], I),
    (A, TcpCrAcked, &["Send(OPEN)"], OS),
    (A, TcpConfirmed, &["Send(OPEN)"], OS),
    (A, TcpFails, &[], A),
    (A, Open, &[], A),
    (A, HeaderErr, &[], A),
    (A, OpenErr, &[], A),
    (A, Notif, &[], A),
    (A, NotifVersion, &[], A),
    (A, Keepalive, &[], A),
    (A, Update, &[], A),
    (A, UpdateErr, &[], A),
    (A, RouteRefresh, &[], A),
    (A, LivenessUp, &[], A),
    (A, LivenessDown, &[], A),
    (A, SendUpdate, &[], A),
    (A, Timers, &["Connect"], C),

    (OS, ManualStart, &[], OS),
    (OS, ManualStop, &["Send(NOTIFICATION 6/2)", CLOSE], I),
    (OS, AutomaticStart, &[], OS),
    (OS, AutomaticStop, &["Send(NOTIFICATION 6/1)", CLOSE], I),
    (OS, TcpCrAcked, &[], OS),
    (OS, TcpConfirmed, &[], OS),
    (OS, TcpFails, &[CLOSE], A),
    (OS, Open, &["Send(KEEPALIVE)"], OC),
    (OS, HeaderErr, &["Send(NOTIFICATION 1/1)", CLOSE], I),
    (OS, OpenErr, &["Send(NOTIFICATION 2/1)", CLOSE], I),
    (OS, Notif, &[CLOSE], I),
    (OS, NotifVersion, &[CLOSE], I),
    (OS, Keepalive, &[N51, CLOSE], I),
    (OS, Update, &[N51, CLOSE], I),
    (OS, UpdateErr, &[N51, CLOSE], I),
    (OS, RouteRefresh, &[N51, CLOSE], I),
    (OS, LivenessUp, &[], OS),
    (OS, LivenessDown, &[], OS),
    (OS, SendUpdate, &[], OS),
    (OS, Timers, &["Send(NOTIFICATION 4/0)", CLOSE], I),

    (OC, ManualStart, &[], OC),
    (OC, ManualStop, &["Send(NOTIFICATION 6/2)", CLOSE], I),
    (OC, AutomaticStart, &[], OC),
    (OC, AutomaticStop, &["Send(NOTIFICATION 6/1)", CLOSE], I),
    (OC, TcpCrAcked, &[], OC),
    (OC, TcpConfirmed, &[], OC),
    (OC, TcpFails, &[CLOSE], I),
    (OC, Open, &[N52, CLOSE], I),
    (OC, HeaderErr, &["Send(NOTIFICATION 1/1)", CLOSE], I),
    (OC, OpenErr, &["Send(NOTIFICATION 2/1)", CLOSE], I),
    (OC, Notif, &[CLOSE], I),
    (OC, NotifVersion, &[CLOSE], I),
    (OC, Keepalive, &["Established(hold 90)"], E),
    (OC, Update, &[N52, CLOSE], I),
    (OC, UpdateErr, &[N52, CLOSE], I),
    (OC, RouteRefresh, &[N52, CLOSE], I),
    (OC, LivenessUp, &[], OC),
    (OC, LivenessDown, &[], OC),
    (OC, SendUpdate, &[], OC),
    (OC, Timers, &["Send(KEEPALIVE)"], OC),

    (E, ManualStart, &[], E),
    (E, ManualStop, &["Send(NOTIFICATION 6/2)", "SessionDown(sent 6/2)", "FlushRoutes(ManualStop)", CLOSE], I),
    (E, AutomaticStart, &[], E),
    (E, AutomaticStop, &["Send(NOTIFICATION 6/1)", "SessionDown(sent 6/1)", FLUSH, CLOSE], I),
    (E, TcpCrAcked, &[], E),
    (E, TcpConfirmed, &[], E),
    (E, TcpFails, &["SessionDown(TCP failed)", FLUSH, CLOSE], I),
    (E, Open, &["Send(NOTIFICATION 5/3)", "SessionDown(sent 5/3)", FLUSH, CLOSE], I),
    (E, HeaderErr, &["Send(NOTIFICATION 1/1)", "SessionDown(sent 1/1)", FLUSH, CLOSE], I),
    (E, OpenErr, &["Send(NOTIFICATION 5/3)", "SessionDown(sent 5/3)", FLUSH, CLOSE], I),
    (E, Notif, &["SessionDown(received 6/8)", FLUSH, CLOSE], I),
    (E, NotifVersion, &["SessionDown(received 2/1)", FLUSH, CLOSE], I),
    (E, Keepalive, &[], E),
    (E, Update, &["Received(UPDATE)"], E),
    (E, UpdateErr, &["Send(NOTIFICATION 3/1)", "SessionDown(sent 3/1)", FLUSH, CLOSE], I),
    (E, RouteRefresh, &["Received(ROUTE-REFRESH)"], E),
    (E, LivenessUp, &[], E),
    (E, LivenessDown, &[], E),
    (E, SendUpdate, &["Send(UPDATE)"], E),
    (E, Timers, &["Send(KEEPALIVE)"], E),
];

#[test]
fn every_state_and_input_has_one_row() {
    for state in STATES {
        for ev in ALL {
            let rows = TABLE.iter().filter(|r| r.0 == state && r.1 == ev).count();
            assert_eq!(rows, 1, "{state} x {ev:?}");
        }
    }
}

#[test]
fn every_state_and_input_does_what_the_table_says() {
    let mut wrong = Vec::new();
    for &(state, ev, expected, next) in TABLE {
        let mut s = setup(state);
        let ms = match ev {
            Ev::Timers => s.deadline_ms().unwrap_or(0),
            _ => 0,
        };
        let got = s.at(ms, input(ev));
        if got != expected || s.state() != next {
            wrong.push(format!(
                "{state} x {ev:?}: got {got:?} -> {}, want {expected:?} -> {next}",
                s.state()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
