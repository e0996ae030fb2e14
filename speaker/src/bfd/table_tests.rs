//! Tests of the table: demultiplexing, receive checks, TTL, discriminator
//! allocation, liveness and flap damping, and two tables talking over a
//! simulated wire.
#![allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::net::IpAddr;
use std::time::{Duration, Instant};

use proto::bfd::{ControlPacket, Diagnostic, State};

use super::{Damping, Hop, Liveness, Output, RxMeta, SessionConfig, SessionKey, Table};
use crate::bfd::{ConfigError, Timers};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn fast(peer: &str) -> SessionConfig {
    SessionConfig {
        timers: Timers::symmetric(50 * MS, 3),
        ..SessionConfig::single_hop(ip(peer))
    }
}

fn single_hop_meta(source: &str) -> RxMeta<'static> {
    RxMeta {
        source: ip(source),
        destination: None,
        interface: None,
        ttl: 255,
        multihop: false,
    }
}

fn packet(state: State, my: u32, your: u32) -> ControlPacket {
    ControlPacket {
        diagnostic: Diagnostic::NoDiagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        multipoint: false,
        detect_mult: 3,
        my_discriminator: my,
        your_discriminator: your,
        desired_min_tx_us: 50_000,
        required_min_rx_us: 50_000,
        required_min_echo_rx_us: 0,
        auth: None,
    }
}

fn receive(table: &mut Table, now: Instant, p: &ControlPacket, meta: &RxMeta<'_>) -> Vec<Output> {
    let mut out = Vec::new();
    table.receive(now, &p.to_bytes().unwrap(), meta, &mut out);
    out
}

fn liveness(out: &[Output]) -> Vec<Liveness> {
    out.iter()
        .filter_map(|o| match o {
            Output::Liveness { liveness, .. } => Some(*liveness),
            _ => None,
        })
        .collect()
}

#[test]
fn demultiplexes_by_your_discriminator() {
    let t0 = Instant::now();
    let mut table = Table::new(1, Damping::DISABLED);
    let a = table.add_session(t0, fast("192.0.2.1")).unwrap();
    let b = table.add_session(t0, fast("192.0.2.2")).unwrap();
    assert_ne!(a, b);
    receive(
        &mut table,
        t0,
        &packet(State::Down, 99, 0),
        &single_hop_meta("192.0.2.2"),
    );
    assert_eq!(table.session(b).unwrap().state(), State::Init);
    receive(
        &mut table,
        t0,
        &packet(State::Init, 99, b.get()),
        &single_hop_meta("192.0.2.2"),
    );
    assert_eq!(table.session(b).unwrap().state(), State::Up);
    assert_eq!(table.session(a).unwrap().state(), State::Down);
    // An unknown Your Discriminator matches nothing.
    let stray = b.get().wrapping_add(1000);
    receive(
        &mut table,
        t0,
        &packet(State::Up, 99, stray),
        &single_hop_meta("192.0.2.1"),
    );
    assert_eq!(table.drops().no_session, 1);
    assert_eq!(table.session(a).unwrap().state(), State::Down);
}

#[test]
fn zero_your_discriminator_selects_by_interface_and_peer() {
    let t0 = Instant::now();
    let mut table = Table::new(2, Damping::DISABLED);
    let on = |interface: Option<&str>| SessionConfig {
        interface: interface.map(str::to_owned),
        ..fast("fe80::1")
    };
    let eth0 = table.add_session(t0, on(Some("eth0"))).unwrap();
    let eth1 = table.add_session(t0, on(Some("eth1"))).unwrap();
    let meta = |interface| RxMeta {
        interface,
        ..single_hop_meta("fe80::1")
    };
    receive(
        &mut table,
        t0,
        &packet(State::Down, 5, 0),
        &meta(Some("eth1")),
    );
    assert_eq!(table.session(eth1).unwrap().state(), State::Init);
    assert_eq!(table.session(eth0).unwrap().state(), State::Down);
    // No session on eth2 and none unbound: dropped.
    receive(
        &mut table,
        t0,
        &packet(State::Down, 6, 0),
        &meta(Some("eth2")),
    );
    assert_eq!(table.drops().no_session, 1);
    // An unbound session takes its peer's packets from any interface.
    let unbound = table.add_session(t0, on(None)).unwrap();
    receive(
        &mut table,
        t0,
        &packet(State::Down, 6, 0),
        &meta(Some("eth2")),
    );
    assert_eq!(table.session(unbound).unwrap().state(), State::Init);
    // A packet for eth0's session that arrives on eth1 is refused.
    receive(
        &mut table,
        t0,
        &packet(State::Down, 5, eth0.get()),
        &meta(Some("eth1")),
    );
    assert_eq!(table.session(eth0).unwrap().counters().dropped.path, 1);
}

#[test]
fn multihop_selects_by_local_and_peer_address_and_checks_min_ttl() {
    let t0 = Instant::now();
    let mut table = Table::new(3, Damping::DISABLED);
    let config = |local| SessionConfig {
        timers: Timers::symmetric(50 * MS, 3),
        ..SessionConfig::multihop(ip(local), ip("198.51.100.7"), 250)
    };
    let a = table.add_session(t0, config("192.0.2.1")).unwrap();
    let b = table.add_session(t0, config("192.0.2.2")).unwrap();
    let meta = |destination, ttl| RxMeta {
        source: ip("198.51.100.7"),
        destination: Some(ip(destination)),
        interface: Some("eth0"),
        ttl,
        multihop: true,
    };
    receive(
        &mut table,
        t0,
        &packet(State::Down, 5, 0),
        &meta("192.0.2.2", 250),
    );
    assert_eq!(table.session(b).unwrap().state(), State::Init);
    assert_eq!(table.session(a).unwrap().state(), State::Down);
    receive(
        &mut table,
        t0,
        &packet(State::Down, 5, 0),
        &meta("192.0.2.1", 249),
    );
    assert_eq!(table.session(a).unwrap().state(), State::Down);
    assert_eq!(table.session(a).unwrap().counters().dropped.ttl, 1);
    // A multihop session's packet on the single-hop port is refused.
    let single = RxMeta {
        multihop: false,
        ..meta("192.0.2.1", 255)
    };
    receive(&mut table, t0, &packet(State::Down, 5, a.get()), &single);
    assert_eq!(table.session(a).unwrap().counters().dropped.path, 1);
}

#[test]
fn single_hop_requires_ttl_255() {
    let t0 = Instant::now();
    let mut table = Table::new(4, Damping::DISABLED);
    let local = table.add_session(t0, fast("192.0.2.1")).unwrap();
    for ttl in [0, 1, 64, 254] {
        let meta = RxMeta {
            ttl,
            ..single_hop_meta("192.0.2.1")
        };
        receive(&mut table, t0, &packet(State::Down, 5, 0), &meta);
        assert_eq!(
            table.session(local).unwrap().state(),
            State::Down,
            "ttl {ttl}"
        );
    }
    assert_eq!(table.session(local).unwrap().counters().dropped.ttl, 4);
    receive(
        &mut table,
        t0,
        &packet(State::Down, 5, 0),
        &single_hop_meta("192.0.2.1"),
    );
    assert_eq!(table.session(local).unwrap().state(), State::Init);
}

#[test]
fn packets_from_another_address_are_refused() {
    let t0 = Instant::now();
    let mut table = Table::new(5, Damping::DISABLED);
    let local = table.add_session(t0, fast("192.0.2.1")).unwrap();
    let spoof = packet(State::Down, 5, local.get());
    receive(&mut table, t0, &spoof, &single_hop_meta("192.0.2.66"));
    assert_eq!(table.session(local).unwrap().counters().dropped.path, 1);
    assert_eq!(table.session(local).unwrap().state(), State::Down);
}

/// RFC 5880 section 6.8.6: each check `ControlPacket::parse` makes, seen
/// from the table.
#[test]
fn each_receive_check_rejects() {
    let t0 = Instant::now();
    let mut table = Table::new(6, Damping::DISABLED);
    let local = table.add_session(t0, fast("192.0.2.1")).unwrap();
    let good = packet(State::Init, 5, local.get()).to_bytes().unwrap();
    let with = |at: usize, value: u8| {
        let mut bytes = good.clone();
        bytes[at] = value;
        bytes
    };
    let zero = |range: std::ops::Range<usize>| {
        let mut bytes = good.clone();
        bytes[range].fill(0);
        bytes
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("version 0", with(0, 0x00)),
        ("version 2", with(0, 0x40)),
        ("length below 24", with(3, 20)),
        ("length beyond the datagram", with(3, 28)),
        ("truncated", good[..10].to_vec()),
        ("detect mult 0", with(2, 0)),
        ("multipoint bit", with(1, 0x80 | 0x01)),
        ("my discriminator 0", zero(4..8)),
        ("your discriminator 0 in Init", zero(8..12)),
        ("your discriminator 0 in Up", {
            let mut bytes = zero(8..12);
            bytes[1] = 0xc0;
            bytes
        }),
        ("A bit with a short length", with(1, 0x80 | 0x04)),
    ];
    let meta = single_hop_meta("192.0.2.1");
    for (i, (name, bytes)) in cases.iter().enumerate() {
        let mut out = Vec::new();
        table.receive(t0, bytes, &meta, &mut out);
        assert!(out.is_empty(), "{name}");
        assert_eq!(table.drops().malformed, i as u64 + 1, "{name}");
    }
    assert_eq!(table.session(local).unwrap().state(), State::Down);
    assert_eq!(table.session(local).unwrap().counters().packets_in, 0);
    let mut out = Vec::new();
    table.receive(t0, &good, &meta, &mut out);
    assert_eq!(table.session(local).unwrap().state(), State::Up);
}

#[test]
fn discriminators_are_unique_nonzero_and_seeded() {
    let t0 = Instant::now();
    let allocate = |seed| {
        let mut table = Table::new(seed, Damping::DISABLED);
        (1..=50)
            .map(|i| {
                let peer = format!("10.0.0.{i}");
                table.add_session(t0, fast(&peer)).unwrap()
            })
            .collect::<Vec<_>>()
    };
    let a = allocate(7);
    assert_eq!(a, allocate(7));
    assert_ne!(a, allocate(8));
    let mut unique = a.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 50);
}

#[test]
fn configuration_errors() {
    let t0 = Instant::now();
    let mut table = Table::new(9, Damping::DISABLED);
    table.add_session(t0, fast("192.0.2.1")).unwrap();
    assert_eq!(
        table.add_session(t0, fast("192.0.2.1")),
        Err(ConfigError::Duplicate(fast("192.0.2.1").key()))
    );
    let multihop = SessionConfig {
        hop: Hop::Multihop { min_ttl: 1 },
        ..fast("192.0.2.9")
    };
    assert!(matches!(
        table.add_session(t0, multihop),
        Err(ConfigError::MultihopNeedsLocal { .. })
    ));
    let families = SessionConfig {
        local: Some(ip("2001:db8::1")),
        ..fast("192.0.2.9")
    };
    assert!(matches!(
        table.add_session(t0, families),
        Err(ConfigError::AddressFamily { .. })
    ));
    let too_fast = SessionConfig {
        timers: Timers::symmetric(5 * MS, 3),
        ..fast("192.0.2.9")
    };
    assert!(matches!(
        table.add_session(t0, too_fast),
        Err(ConfigError::Interval { .. })
    ));
    let mut out = Vec::new();
    let missing = fast("192.0.2.99").key();
    assert_eq!(
        table.set_admin_down(t0, &missing, true, &mut out),
        Err(ConfigError::NotFound(missing))
    );
    assert_eq!(table.len(), 1);
}

#[test]
fn remove_session_tells_the_peer_admin_down() {
    let t0 = Instant::now();
    let mut table = Table::new(10, Damping::DISABLED);
    let config = fast("192.0.2.1");
    let local = table.add_session(t0, config.clone()).unwrap();
    let mut out = Vec::new();
    assert_eq!(table.remove_session(t0, &config.key(), &mut out), Ok(local));
    let [Output::Transmit { bytes, .. }] = out.as_slice() else {
        panic!("{out:?}");
    };
    let sent = ControlPacket::parse(bytes).unwrap();
    assert_eq!(sent.state, State::AdminDown);
    assert_eq!(u8::from(sent.diagnostic), 7);
    assert!(table.is_empty());
    assert_eq!(table.lookup(&config.key()), None);
    receive(
        &mut table,
        t0,
        &packet(State::Down, 5, 0),
        &single_hop_meta("192.0.2.1"),
    );
    assert_eq!(table.drops().no_session, 1);
}

#[test]
fn liveness_reports_peer_and_local_admin_down_apart_from_failures() {
    let t0 = Instant::now();
    let mut table = Table::new(11, Damping::DISABLED);
    let config = fast("192.0.2.1");
    let local = table.add_session(t0, config.clone()).unwrap();
    let meta = single_hop_meta("192.0.2.1");
    let up = |table: &mut Table, now| {
        let mut out = receive(table, now, &packet(State::Down, 5, 0), &meta);
        out.extend(receive(
            table,
            now,
            &packet(State::Up, 5, local.get()),
            &meta,
        ));
        liveness(&out)
    };
    assert_eq!(table.liveness(local), Some(Liveness::INITIAL));
    assert_eq!(up(&mut table, t0), vec![Liveness::Up]);
    let out = receive(
        &mut table,
        t0,
        &packet(State::AdminDown, 5, local.get()),
        &meta,
    );
    assert_eq!(liveness(&out), vec![Liveness::AdminDown { by_peer: true }]);

    assert_eq!(up(&mut table, t0 + SEC), vec![Liveness::Up]);
    let mut out = Vec::new();
    table
        .set_admin_down(t0 + SEC, &config.key(), true, &mut out)
        .unwrap();
    assert_eq!(liveness(&out), vec![Liveness::AdminDown { by_peer: false }]);
    let mut out = Vec::new();
    table
        .set_admin_down(t0 + SEC, &config.key(), false, &mut out)
        .unwrap();
    let down = Liveness::Down {
        diag: Diagnostic::NoDiagnostic,
    };
    assert_eq!(liveness(&out), vec![down]);

    assert_eq!(up(&mut table, t0 + 2 * SEC), vec![Liveness::Up]);
    let mut out = Vec::new();
    table.on_timer(t0 + 3 * SEC, &mut out);
    let expired = Liveness::Down {
        diag: Diagnostic::ControlDetectionTimeExpired,
    };
    assert_eq!(liveness(&out), vec![expired]);
    assert!(out.iter().any(|o| matches!(
        o,
        Output::StateChange {
            from: State::Up,
            to: State::Down,
            diag: Diagnostic::ControlDetectionTimeExpired,
            admin_down_by_peer: false,
            ..
        }
    )));
}

#[test]
fn damping_hold_doubles_from_the_threshold_up_to_the_cap() {
    let damping = Damping::default();
    let holds: Vec<_> = (0..12).map(|n| damping.hold(n).as_secs()).collect();
    assert_eq!(holds, vec![0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30, 30]);
    assert_eq!(Damping::DISABLED.hold(1000), Duration::ZERO);
}

#[test]
fn flap_storm_holds_back_up_and_forgives_after_the_window() {
    let t0 = Instant::now();
    let mut table = Table::new(12, Damping::default());
    let local = table.add_session(t0, fast("192.0.2.1")).unwrap();
    let meta = single_hop_meta("192.0.2.1");
    let mut now = t0;
    let flap = |table: &mut Table, now: Instant| {
        let mut out = receive(table, now, &packet(State::Down, 5, 0), &meta);
        out.extend(receive(
            table,
            now,
            &packet(State::Up, 5, local.get()),
            &meta,
        ));
        out.extend(receive(table, now + MS, &packet(State::Down, 5, 0), &meta));
        liveness(&out)
    };
    let down = Liveness::Down {
        diag: Diagnostic::NeighborSignaledSessionDown,
    };
    // Three failures in a row are reported as they happen.
    for _ in 0..3 {
        assert_eq!(flap(&mut table, now), vec![Liveness::Up, down]);
        now += 100 * MS;
    }
    // The fourth Up is held for 1 s; going down within it reports nothing.
    assert_eq!(flap(&mut table, now), vec![]);
    now += 100 * MS;
    // Up again after four failures: held 2 s; it stays up this time.
    let mut out = receive(&mut table, now, &packet(State::Down, 5, 0), &meta);
    out.extend(receive(
        &mut table,
        now,
        &packet(State::Up, 5, local.get()),
        &meta,
    ));
    assert_eq!(liveness(&out), vec![]);
    let snapshot = table.snapshot(now);
    assert_eq!(snapshot[0].recent_failures, 4);
    assert_eq!(snapshot[0].up_held_ms, Some(2000));
    let keepalive = packet(State::Up, 5, local.get());
    let mut reported = Vec::new();
    let end = now + 3 * SEC;
    while now < end {
        now += 40 * MS;
        let mut out = receive(&mut table, now, &keepalive, &meta);
        table.on_timer(now, &mut out);
        reported.extend(liveness(&out).into_iter().map(|l| (l, now)));
    }
    assert_eq!(reported.len(), 1);
    let (what, when) = reported[0];
    assert_eq!(what, Liveness::Up);
    let held = when - (end - 3 * SEC);
    assert!((2 * SEC..2 * SEC + 50 * MS).contains(&held), "{held:?}");
    // A minute later the failures are forgotten: the next flap is reported.
    now += 60 * SEC;
    receive(&mut table, now, &packet(State::Down, 5, 0), &meta);
    assert_eq!(flap(&mut table, now + MS), vec![Liveness::Up, down]);
}

#[test]
fn next_deadline_is_the_earliest_over_all_sessions() {
    let t0 = Instant::now();
    let mut table = Table::new(13, Damping::DISABLED);
    assert_eq!(table.next_deadline(), None);
    table.add_session(t0, fast("192.0.2.1")).unwrap();
    table.add_session(t0 + 10 * MS, fast("192.0.2.2")).unwrap();
    assert_eq!(table.next_deadline(), Some(t0));
    let mut out = Vec::new();
    table.on_timer(t0 + 10 * MS, &mut out);
    assert_eq!(out.len(), 2, "both first packets: {out:?}");
    let next = table.next_deadline().unwrap();
    assert!(next >= t0 + 10 * MS + 750 * MS && next < t0 + 10 * MS + SEC);
    // Firing early does nothing.
    let mut out = Vec::new();
    table.on_timer(next - MS, &mut out);
    assert!(out.is_empty());
    table.on_timer(next, &mut out);
    assert_eq!(out.len(), 1);
}

/// Two tables joined by a simulated wire with 1 ms of latency.
struct Wire {
    a: Table,
    b: Table,
    in_flight: Vec<(Instant, bool, Vec<u8>)>,
    cut: bool,
    now: Instant,
    events: Vec<(Instant, bool, Output)>,
}

impl Wire {
    fn new(t0: Instant, timers: Timers) -> Self {
        let mut a = Table::new(21, Damping::DISABLED);
        let mut b = Table::new(22, Damping::DISABLED);
        let config = |peer| SessionConfig {
            timers,
            ..SessionConfig::single_hop(ip(peer))
        };
        a.add_session(t0, config("10.0.0.2")).unwrap();
        b.add_session(t0, config("10.0.0.1")).unwrap();
        Self {
            a,
            b,
            in_flight: Vec::new(),
            cut: false,
            now: t0,
            events: Vec::new(),
        }
    }

    fn run_until(&mut self, end: Instant) {
        loop {
            let next = [
                self.a.next_deadline(),
                self.b.next_deadline(),
                self.in_flight.iter().map(|f| f.0).min(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(now) = next.filter(|n| *n <= end) else {
                break;
            };
            self.now = now;
            let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
            let (due, later): (Vec<_>, Vec<_>) = self.in_flight.drain(..).partition(|f| f.0 <= now);
            self.in_flight = later;
            for (_, to_a, bytes) in due {
                if to_a {
                    self.a
                        .receive(now, &bytes, &single_hop_meta("10.0.0.2"), &mut out_a);
                } else {
                    self.b
                        .receive(now, &bytes, &single_hop_meta("10.0.0.1"), &mut out_b);
                }
            }
            self.a.on_timer(now, &mut out_a);
            self.b.on_timer(now, &mut out_b);
            for (from_a, outputs) in [(true, out_a), (false, out_b)] {
                for output in outputs {
                    if let Output::Transmit { bytes, .. } = &output
                        && !self.cut
                    {
                        self.in_flight.push((now + MS, !from_a, bytes.clone()));
                    }
                    self.events.push((now, from_a, output));
                }
            }
        }
        self.now = end;
    }

    fn liveness(&self, of_a: bool) -> Vec<(Instant, Liveness)> {
        self.events
            .iter()
            .filter_map(|(at, a, o)| match o {
                Output::Liveness { liveness, .. } if *a == of_a => Some((*at, *liveness)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn two_tables_come_up_negotiate_and_detect_a_cut_wire() {
    let t0 = Instant::now();
    let mut wire = Wire::new(t0, Timers::symmetric(10 * MS, 3));
    wire.run_until(t0 + 2 * SEC);
    for side in [true, false] {
        let seen = wire.liveness(side);
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].1, Liveness::Up);
        assert!(seen[0].0 < t0 + 10 * MS, "up within a few packets");
    }
    let snapshot = wire.a.snapshot(wire.now);
    let status = &snapshot[0].status;
    assert_eq!(status.state, State::Up);
    assert_eq!(status.tx_interval_us, 10_000);
    assert_eq!(status.detection_time_us, Some(30_000));
    assert!(!status.poll_active);
    assert_eq!(status.counters.dropped.total(), 0);
    // Cut the wire: both sides go Down within the detection time (plus the
    // last packet's latency).
    let cut_at = wire.now;
    wire.cut = true;
    wire.run_until(cut_at + SEC);
    for side in [true, false] {
        let seen = wire.liveness(side);
        let (at, last) = *seen.last().unwrap();
        assert_eq!(
            last,
            Liveness::Down {
                diag: Diagnostic::ControlDetectionTimeExpired
            }
        );
        assert!(at - cut_at <= 31 * MS, "{:?}", at - cut_at);
    }
    // Mend it: both come back.
    wire.cut = false;
    let mended = wire.now;
    wire.run_until(mended + 3 * SEC);
    for side in [true, false] {
        assert_eq!(wire.liveness(side).last().unwrap().1, Liveness::Up);
    }
}

#[test]
fn snapshot_serializes_for_show_bfd() {
    let t0 = Instant::now();
    let mut table = Table::new(14, Damping::default());
    let multihop = SessionConfig::multihop(ip("192.0.2.1"), ip("198.51.100.1"), 254);
    table.add_session(t0, fast("192.0.2.9")).unwrap();
    table.add_session(t0, multihop).unwrap();
    let json = serde_json::to_value(table.snapshot(t0 + SEC)).unwrap();
    let sessions = json.as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let first = &sessions[0];
    assert_eq!(first["key"]["single_hop"]["peer"], "192.0.2.9");
    assert_eq!(first["state"], "Down");
    assert_eq!(first["liveness"]["state"], "down");
    assert_eq!(first["timers"]["detect_mult"], 3);
    assert!(first["counters"]["dropped"]["ttl"].is_u64());
    assert_eq!(sessions[1]["key"]["multihop"]["local"], "192.0.2.1");
    assert!(sessions[1]["local_discriminator"].as_u64().unwrap() > 0);
    let key = SessionKey::Multihop {
        peer: ip("198.51.100.1"),
        local: ip("192.0.2.1"),
    };
    assert_eq!(key.to_string(), "multihop 192.0.2.1 -> 198.51.100.1");
    assert!(table.lookup(&key).is_some());
}
