//! Connection collisions (RFC 4271 section 6.8) through [`super::Peer`].
//! Outputs read `<connection> <output>`: `out#1 Send(OPEN)`.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::script::*;
use super::{ConnId, Input, PeerInput, State};

use Input::*;

/// Both sides connected: our attempt out#1 and the peer's in#1 are in
/// OpenSent, and the peer's OPEN came on out#1 first.
fn crossed(cfg: super::SessionConfig) -> PeerScript {
    let mut p = PeerScript::new(cfg);
    assert_eq!(p.session(0, ManualStart), ["out#1 Connect"]);
    assert_eq!(p.conn(10, OUT1, TcpCrAcked), ["out#1 Send(OPEN)"]);
    assert_eq!(p.conn(20, IN1, TcpConnectionConfirmed), ["in#1 Send(OPEN)"]);
    assert_eq!(
        p.conn(30, OUT1, BgpOpen(peer_open())),
        ["out#1 Send(KEEPALIVE)"]
    );
    p
}

fn established_on_out1(cfg: super::SessionConfig, open: proto::bgp::Open) -> PeerScript {
    let mut p = PeerScript::new(cfg);
    p.session(0, ManualStart);
    p.conn(0, OUT1, TcpCrAcked);
    p.conn(0, OUT1, BgpOpen(open));
    assert_eq!(
        p.conn(0, OUT1, KeepAliveMsg),
        ["out#1 Established(hold 90)"]
    );
    p
}

#[test]
fn open_collision_keeps_connection_from_higher_router_id() {
    // The peer (10.0.0.2) has the higher identifier: its connection stays.
    let mut p = crossed(cfg());
    assert_eq!(
        p.conn(40, IN1, BgpOpen(peer_open())),
        [
            "out#1 Send(NOTIFICATION 6/7)",
            "out#1 Close",
            "in#1 Send(KEEPALIVE)"
        ]
    );
    assert_eq!(p.conn(50, IN1, KeepAliveMsg), ["in#1 Established(hold 90)"]);
    assert_eq!(p.peer.connections(), [(IN1, State::Established)]);

    // We (10.0.0.3) have the higher identifier: our connection stays.
    let mut higher = cfg();
    higher.router_id = Ipv4Addr::new(10, 0, 0, 3);
    let mut p = crossed(higher);
    assert_eq!(
        p.conn(40, IN1, BgpOpen(peer_open())),
        ["in#1 Send(NOTIFICATION 6/7)", "in#1 Close"]
    );
    assert_eq!(
        p.conn(50, OUT1, KeepAliveMsg),
        ["out#1 Established(hold 90)"]
    );
    assert_eq!(p.peer.connections(), [(OUT1, State::Established)]);
    // Losing a collision is not a failure.
    assert_eq!(p.peer.session().consecutive_failures(), 0);
}

#[test]
fn collision_with_equal_identifiers_keeps_the_connection_from_the_higher_as() {
    // RFC 6286 section 2.3: eBGP peers may share an identifier.
    let mut same = cfg();
    same.router_id = REMOTE_ID;
    let mut p = crossed(same);
    // The peer's AS 65002 is higher than ours: its connection stays.
    assert_eq!(
        p.conn(40, IN1, BgpOpen(peer_open())),
        [
            "out#1 Send(NOTIFICATION 6/7)",
            "out#1 Close",
            "in#1 Send(KEEPALIVE)"
        ]
    );
}

#[test]
fn a_bad_open_on_the_second_connection_is_an_open_error_not_a_collision() {
    let mut p = crossed(cfg());
    let wrong_as = open_from(65003, 90, REMOTE_ID, vec![]);
    assert_eq!(
        p.conn(40, IN1, BgpOpen(wrong_as)),
        ["in#1 Send(NOTIFICATION 2/2)", "in#1 Close"]
    );
    assert_eq!(p.peer.connections(), [(OUT1, State::OpenConfirm)]);
}

#[test]
fn inbound_connection_while_established_is_closed_with_cease_7() {
    let mut p = established_on_out1(cfg(), peer_open());
    // Tracked until its OPEN (RFC 4271 section 8.2.2, Established).
    assert_eq!(
        p.conn(100, IN1, TcpConnectionConfirmed),
        ["in#1 Send(OPEN)"]
    );
    assert_eq!(
        p.conn(110, IN1, BgpOpen(peer_open())),
        ["in#1 Send(NOTIFICATION 6/7)", "in#1 Close"]
    );
    assert_eq!(p.state(), State::Established);
    assert_eq!(p.peer.connections(), [(OUT1, State::Established)]);
}

#[test]
fn graceful_restart_peer_reconnecting_replaces_the_established_session() {
    let mut p = established_on_out1(gr_cfg(false), peer_gr_open(false));
    assert_eq!(
        p.conn(100, IN1, TcpConnectionConfirmed),
        ["in#1 Send(OPEN)"]
    );
    // RFC 4724 section 4.2: the peer restarted; the old connection goes
    // quietly and its routes are kept as stale.
    assert_eq!(
        p.conn(110, IN1, BgpOpen(peer_gr_open(false))),
        [
            "out#1 SessionDown(peer restarted)",
            "out#1 PeerRestarting(60s)",
            "out#1 Close",
            "in#1 Send(KEEPALIVE)"
        ]
    );
    assert!(p.peer.snapshot().session.stale_routes_kept);
    assert_eq!(
        p.conn(120, IN1, KeepAliveMsg),
        ["in#1 Established(hold 90)"]
    );
    let snap = p.peer.snapshot();
    assert!(!snap.session.stale_routes_kept);
    assert_eq!(snap.session.flaps, 1);
    assert_eq!(snap.connections, [(IN1, State::Established)]);
}

#[test]
fn inbound_connection_while_connecting_replaces_the_pending_attempt() {
    let mut p = PeerScript::new(cfg());
    assert_eq!(p.session(0, ManualStart), ["out#1 Connect"]);
    assert_eq!(
        p.conn(10, IN1, TcpConnectionConfirmed),
        ["out#1 Close", "in#1 Send(OPEN)"]
    );
    // Late news of the abandoned attempt changes nothing.
    assert_eq!(p.conn(20, OUT1, TcpCrAcked), ["out#1 Close"]);
    assert_eq!(p.conn(30, OUT1, TcpConnectionFails), Vec::<String>::new());
    assert_eq!(p.peer.connections(), [(IN1, State::OpenSent)]);
}

#[test]
fn each_connect_attempt_gets_a_new_connection_id() {
    let mut c = cfg();
    c.connect_retry.initial = Duration::from_secs(1);
    let mut p = PeerScript::new(c);
    assert_eq!(p.session(0, ManualStart), ["out#1 Connect"]);
    assert_eq!(p.session(1000, Timers), ["out#1 Close", "out#2 Connect"]);
    assert_eq!(p.conn(1100, OUT1, TcpCrAcked), ["out#1 Close"]);
    assert_eq!(p.conn(1200, OUT2, TcpCrAcked), ["out#2 Send(OPEN)"]);
}

#[test]
fn second_connection_reaching_established_closes_the_first() {
    let mut p = PeerScript::new(cfg());
    p.session(0, ManualStart);
    p.conn(10, OUT1, TcpCrAcked);
    p.conn(20, IN1, TcpConnectionConfirmed);
    // OPEN on in#1 while out#1 is still in OpenSent: no collision yet.
    assert_eq!(
        p.conn(30, IN1, BgpOpen(peer_open())),
        ["in#1 Send(KEEPALIVE)"]
    );
    assert_eq!(
        p.conn(40, IN1, KeepAliveMsg),
        [
            "in#1 Established(hold 90)",
            "out#1 Send(NOTIFICATION 6/7)",
            "out#1 Close"
        ]
    );
    assert_eq!(p.state(), State::Established);
    assert_eq!(p.peer.connections(), [(IN1, State::Established)]);
}

#[test]
fn session_moves_to_the_second_connection_when_the_first_fails() {
    let mut p = PeerScript::new(cfg());
    p.session(0, ManualStart);
    p.conn(10, OUT1, TcpCrAcked);
    p.conn(20, IN1, TcpConnectionConfirmed);
    assert_eq!(p.conn(30, OUT1, TcpConnectionFails), ["out#1 Close"]);
    assert_eq!(p.peer.connections(), [(IN1, State::OpenSent)]);
    // in#1's OpenSent hold timer is the only one left.
    let deadline = p.peer.next_deadline().unwrap().duration_since(p.t0);
    assert_eq!(deadline, Duration::from_millis(240_020));
    assert_eq!(
        p.conn(40, IN1, BgpOpen(peer_open())),
        ["in#1 Send(KEEPALIVE)"]
    );
}

#[test]
fn third_connection_is_refused() {
    let mut p = PeerScript::new(cfg());
    p.session(0, ManualStart);
    p.conn(10, OUT1, TcpCrAcked);
    p.conn(20, IN1, TcpConnectionConfirmed);
    assert_eq!(p.conn(30, IN2, TcpConnectionConfirmed), ["in#2 Close"]);
}

#[test]
fn idle_peer_refuses_inbound_and_passive_peer_takes_it() {
    let mut p = PeerScript::new(cfg());
    assert_eq!(p.conn(0, IN1, TcpConnectionConfirmed), ["in#1 Close"]);
    let mut c = cfg();
    c.passive = true;
    let mut p = PeerScript::new(c);
    assert_eq!(p.session(0, ManualStart), Vec::<String>::new());
    assert_eq!(p.conn(10, IN1, TcpConnectionConfirmed), ["in#1 Send(OPEN)"]);
}

#[test]
fn manual_stop_closes_both_connections() {
    let mut p = PeerScript::new(cfg());
    p.session(0, ManualStart);
    p.conn(10, OUT1, TcpCrAcked);
    p.conn(20, IN1, TcpConnectionConfirmed);
    assert_eq!(
        p.session(30, ManualStop { shutdown: None }),
        [
            "in#1 Send(NOTIFICATION 6/2)",
            "in#1 Close",
            "out#1 Send(NOTIFICATION 6/2)",
            "out#1 Close"
        ]
    );
    assert_eq!(p.state(), State::Idle);
    assert!(p.peer.connections().is_empty());
    assert_eq!(p.peer.next_deadline(), None);
}

#[test]
fn connection_inputs_without_a_connection_are_ignored() {
    let mut p = PeerScript::new(cfg());
    p.session(0, ManualStart);
    assert_eq!(p.session(10, KeepAliveMsg), Vec::<String>::new());
    assert_eq!(
        p.conn(10, ConnId::Inbound(9), KeepAliveMsg),
        Vec::<String>::new()
    );
    let _ = p.raw(20, PeerInput::Session(Timers));
    assert_eq!(p.state(), State::Connect);
}

#[test]
fn peer_snapshot_sums_counters_of_all_connections() {
    let mut p = crossed(cfg());
    p.conn(40, IN1, BgpOpen(peer_open()));
    p.conn(50, IN1, KeepAliveMsg);
    let snap = p.peer.snapshot();
    assert_eq!(snap.session.state, State::Established);
    assert_eq!(snap.session.messages_out.open, 2);
    assert_eq!(snap.session.messages_out.keepalive, 2);
    assert_eq!(snap.session.messages_out.notification, 1);
    assert_eq!(snap.session.messages_in.open, 2);
    assert_eq!(snap.session.messages_in.keepalive, 1);
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json["state"], "Established");
    assert_eq!(json["connections"][0][0]["Inbound"], 1);
}
