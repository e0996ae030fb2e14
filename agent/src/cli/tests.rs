//! Golden tables for every view, and the CLI against a real server with a
//! fake owner task.

use std::path::Path;

use super::render;
use super::*;
use crate::control::api::*;
use crate::control::{ControlRequest, Server};

fn status() -> StatusView {
    StatusView {
        version: "0.1.0".into(),
        router_id: "192.0.2.1".parse().unwrap(),
        asn: 65001,
        pid: 4242,
        uptime_secs: 3725,
        peers_up: 1,
        peers_total: 2,
        routes: 3,
        local_vms: 2,
    }
}

fn peers() -> Vec<PeerRow> {
    vec![
        PeerRow {
            neighbor: "192.0.2.2".parse().unwrap(),
            remote_as: 65001,
            router_id: Some("192.0.2.2".parse().unwrap()),
            state: "established".into(),
            uptime_secs: Some(3725),
            prefixes_ipv4: 120,
            prefixes_ipv6: 3,
            prefixes_sent: Some(4),
            bfd: Some("up".into()),
            last_error: None,
            capabilities: vec!["mp-ipv4-unicast".into(), "4-octet-as".into()],
            hold_time: Some(9),
            messages_in: 1532,
            messages_out: 1201,
            flaps: 0,
        },
        PeerRow {
            neighbor: "2001:db8::3".parse().unwrap(),
            remote_as: 4_200_000_001,
            router_id: None,
            state: "active".into(),
            uptime_secs: None,
            prefixes_ipv4: 0,
            prefixes_ipv6: 0,
            prefixes_sent: None,
            bfd: None,
            last_error: Some("hold timer expired".into()),
            capabilities: Vec::new(),
            hold_time: None,
            messages_in: 12,
            messages_out: 14,
            flaps: 2,
        },
    ]
}

fn path(source: &str, best: bool) -> PathRow {
    PathRow {
        source: source.into(),
        best,
        next_hop: "192.0.2.2".into(),
        sequence: Some(7),
        static_flag: false,
        origin: "192.0.2.2".into(),
        age_secs: Some(45),
        as_path: String::new(),
        local_pref: Some(100),
        med: None,
        stale: false,
        lost_on: None,
    }
}

fn routes() -> Vec<RouteRow> {
    vec![
        RouteRow {
            prefix: "10.1.1.5/32".parse().unwrap(),
            paths: vec![
                PathRow {
                    source: "local".into(),
                    next_hop: "-".into(),
                    sequence: Some(8),
                    origin: "local".into(),
                    age_secs: Some(187),
                    local_pref: None,
                    ..path("local", true)
                },
                PathRow {
                    lost_on: Some("sequence".into()),
                    ..path("192.0.2.2", false)
                },
            ],
        },
        RouteRow {
            prefix: "2001:db8:1::9/128".parse().unwrap(),
            paths: vec![PathRow {
                source: "192.0.2.3".into(),
                next_hop: "2001:db8::3".into(),
                sequence: None,
                static_flag: true,
                origin: "192.0.2.9".into(),
                age_secs: Some(90_061),
                as_path: "65002 65003".into(),
                med: Some(10),
                stale: true,
                ..path("192.0.2.3", true)
            }],
        },
    ]
}

fn vms() -> Vec<VmRow> {
    vec![
        VmRow {
            vm: Some("web1".into()),
            interface: "vnet3".into(),
            ifindex: 17,
            mac: Some("52:54:00:12:34:56".parse().unwrap()),
            state: VmState::Active,
            up: true,
            addresses: vec![
                AddressRow {
                    address: "10.1.1.5".parse().unwrap(),
                    sequence: Some(8),
                    static_flag: false,
                    advertised: true,
                    frozen: false,
                },
                AddressRow {
                    address: "2001:db8:1::5".parse().unwrap(),
                    sequence: Some(3),
                    static_flag: true,
                    advertised: true,
                    frozen: true,
                },
            ],
        },
        VmRow {
            vm: None,
            interface: "tap0".into(),
            ifindex: 5,
            mac: None,
            state: VmState::Prepared,
            up: false,
            addresses: Vec::new(),
        },
    ]
}

fn bfd() -> Vec<BfdRow> {
    vec![
        BfdRow {
            peer: "192.0.2.2".parse().unwrap(),
            local: Some("192.0.2.1".parse().unwrap()),
            interface: Some("eth0".into()),
            multihop: false,
            state: "up".into(),
            remote_state: "up".into(),
            local_discriminator: 1,
            remote_discriminator: Some(3_000_000_001),
            tx_interval_us: 300_000,
            rx_interval_us: 50_000,
            detection_time_us: Some(150_000),
            local_diag: "none".into(),
            remote_diag: "none".into(),
            up_transitions: 3,
            down_transitions: 2,
            since_transition_ms: Some(62_500),
            packets_in: 1000,
            packets_out: 998,
        },
        BfdRow {
            peer: "2001:db8::3".parse().unwrap(),
            local: None,
            interface: None,
            multihop: true,
            state: "down".into(),
            remote_state: "down".into(),
            local_discriminator: 2,
            remote_discriminator: None,
            tx_interval_us: 1_000_000,
            rx_interval_us: 1_250,
            detection_time_us: None,
            local_diag: "control-detection-time-expired".into(),
            remote_diag: "none".into(),
            up_transitions: 0,
            down_transitions: 0,
            since_transition_ms: None,
            packets_in: 0,
            packets_out: 10,
        },
    ]
}

fn fib() -> FibView {
    FibView {
        protocol: 200,
        table: 254,
        metric: 20,
        grace_remaining_ms: Some(12_300),
        drift: 2,
        rows: vec![
            FibRow {
                prefix: "10.1.1.5/32".parse().unwrap(),
                rib: Some("dev vnet3".into()),
                kernel: Some("dev vnet3".into()),
                status: FibStatus::Ok,
            },
            FibRow {
                prefix: "10.1.1.6/32".parse().unwrap(),
                rib: Some("via 192.0.2.2 dev eth0".into()),
                kernel: None,
                status: FibStatus::Missing,
            },
            FibRow {
                prefix: "10.1.1.7/32".parse().unwrap(),
                rib: Some("via 192.0.2.2 dev eth0".into()),
                kernel: Some("via 192.0.2.3 dev eth0".into()),
                status: FibStatus::Differs,
            },
            FibRow {
                prefix: "10.9.9.9/32".parse().unwrap(),
                rib: None,
                kernel: Some("via 192.0.2.3 dev eth0".into()),
                status: FibStatus::Stale,
            },
        ],
        counters: FibCountersView {
            installed: 10,
            replaced: 2,
            deleted: 1,
            repaired: 1,
            resyncs: 0,
            overruns: 0,
            dumps_interrupted: 0,
            unresolved: 0,
            failures: 1,
            last_failure: Some("10.1.1.6/32: Network is unreachable (errno 101)".into()),
        },
    }
}

fn moves() -> MovesView {
    MovesView {
        moves: vec![
            MoveRow {
                prefix: "10.1.1.5/32".parse().unwrap(),
                at_unix_ms: 1_795_316_069_123,
                from: "192.0.2.2".into(),
                to: "local".into(),
                sequence: 8,
                detection_to_advertise_us: Some(1234),
            },
            MoveRow {
                prefix: "10.1.1.5/32".parse().unwrap(),
                at_unix_ms: 1_795_316_129_004,
                from: "local".into(),
                to: "192.0.2.3".into(),
                sequence: 9,
                detection_to_advertise_us: None,
            },
        ],
        frozen: vec![FrozenRow {
            prefix: "10.1.1.5/32".parse().unwrap(),
            moves: 6,
            window_secs: 300,
            since_unix_ms: 1_795_316_129_004,
        }],
    }
}

#[test]
fn status_golden() {
    assert_eq!(
        render::status(&status()),
        "\
version    0.1.0
router id  192.0.2.1
AS         65001
pid        4242
uptime     1h02m
peers      1 of 2 established
prefixes   3
local VMs  2
"
    );
}

#[test]
fn peers_golden() {
    assert_eq!(render::peers(&peers()),
        "NEIGHBOR             AS  STATE           UP  RCVD  SENT  BFD  MSG-IN  MSG-OUT  FLAPS  LAST-ERROR
192.0.2.2         65001  established  1h02m   123     4  up     1532     1201      0
2001:db8::3  4200000001  active           -     0     -  -        12       14      2  hold timer expired
"
    );
}

#[test]
fn routes_golden() {
    assert_eq!(render::routes(&routes()),
        "   PREFIX             SOURCE     NEXT-HOP     SEQ  ORIGIN       AGE  AS-PATH      LPREF  MED  NOTE
*  10.1.1.5/32        local      -              8  local      3m07s  -                -    -
                      192.0.2.2  192.0.2.2      7  192.0.2.2    45s  -              100    -  lost on sequence
*  2001:db8:1::9/128  192.0.2.3  2001:db8::3    -  192.0.2.9  1d01h  65002 65003    100   10  static, stale
2 prefixes, 3 paths; * best path
"
    );
}

#[test]
fn vms_golden() {
    assert_eq!(render::vms(&vms()),
        "VM    INTERFACE  IFINDEX  MAC                STATE     LINK  ADDRESS        SEQ  FLAGS
web1  vnet3           17  52:54:00:12:34:56  active    up    10.1.1.5         8  advertised
                                                             2001:db8:1::5    3  advertised,static,frozen
-     tap0             5  -                  prepared  down  -                -
"
    );
}

#[test]
fn bfd_golden() {
    assert_eq!(render::bfd(&bfd()),
        "PEER         INTERFACE  STATE  REMOTE  LDISC       RDISC     TX      RX  DETECT  DIAG                            UPS  DOWNS  SINCE
192.0.2.2    eth0       up     up          1  3000000001  300ms    50ms   150ms  none                              3      2  1m02s
2001:db8::3  multihop   down   down        2           -     1s  1.25ms       -  control-detection-time-expired    0      0      -
"
    );
}

#[test]
fn fib_golden() {
    assert_eq!(render::fib(&fib()),
        "protocol 200, table 254, metric 20; graceful-restart window: 12.3s left
   PREFIX       RIB                     KERNEL                  STATUS
   10.1.1.5/32  dev vnet3               dev vnet3               ok
!  10.1.1.6/32  via 192.0.2.2 dev eth0  -                       missing
!  10.1.1.7/32  via 192.0.2.2 dev eth0  via 192.0.2.3 dev eth0  differs
   10.9.9.9/32  -                       via 192.0.2.3 dev eth0  stale
DRIFT: 2 of 4 routes differ between the RIB and the kernel (marked !)
installed 10, replaced 2, deleted 1, repaired 1, resyncs 0, overruns 0, interrupted dumps 0, unresolved 0, failures 1
last failure: 10.1.1.6/32: Network is unreachable (errno 101)
"
    );
}

#[test]
fn moves_golden() {
    assert_eq!(
        render::moves(&moves()),
        "TIME (UTC)               PREFIX       FROM       TO         SEQ  DETECT-TO-ADV
2026-11-22 02:54:29.123  10.1.1.5/32  192.0.2.2  local        8         1234µs
2026-11-22 02:55:29.004  10.1.1.5/32  local      192.0.2.3    9              -

frozen (moving too often, moves damped):
PREFIX       MOVES  WINDOW  SINCE (UTC)
10.1.1.5/32      6   5m00s  2026-11-22 02:55:29.004
"
    );
}

#[test]
fn empty_views_say_so() {
    assert_eq!(render::peers(&[]), "no BGP neighbours configured\n");
    assert_eq!(render::routes(&[]), "no routes\n");
    assert_eq!(render::vms(&[]), "no local VMs\n");
    assert_eq!(render::bfd(&[]), "no BFD sessions\n");
    let empty_fib = FibView {
        grace_remaining_ms: None,
        drift: 0,
        rows: Vec::new(),
        counters: FibCountersView::default(),
        ..fib()
    };
    assert_eq!(
        render::fib(&empty_fib),
        "protocol 200, table 254, metric 20\n\
         no routes of ours, none wanted\n\
         no drift: the kernel matches the RIB\n\
         installed 0, replaced 0, deleted 0, repaired 0, resyncs 0, overruns 0, \
         interrupted dumps 0, unresolved 0, failures 0\n"
    );
    let none = MovesView {
        moves: Vec::new(),
        frozen: Vec::new(),
    };
    assert_eq!(render::moves(&none), "no moves\n");
}

#[test]
fn ages_durations_and_dates() {
    let ages = [0, 59, 60, 187, 3599, 3600, 3725, 86_399, 86_400, 90_061];
    let got: Vec<String> = ages.iter().map(|s| render::age(*s)).collect();
    assert_eq!(
        got,
        [
            "0s", "59s", "1m00s", "3m07s", "59m59s", "1h00m", "1h02m", "23h59m", "1d00h", "1d01h"
        ]
    );
    let us = [
        0, 999, 1000, 1250, 300_000, 999_999, 1_000_000, 1_500_000, 2_000_001,
    ];
    let got: Vec<String> = us.iter().map(|u| render::duration_us(*u)).collect();
    assert_eq!(
        got,
        [
            "0µs",
            "999µs",
            "1ms",
            "1.25ms",
            "300ms",
            "999.999ms",
            "1s",
            "1.5s",
            "2.000001s"
        ]
    );
    assert_eq!(render::utc(0), "1970-01-01 00:00:00.000");
    // `date -u -d @951782400` (a leap day).
    assert_eq!(render::utc(951_782_400_000), "2000-02-29 00:00:00.000");
    // `date -u -d @1795316069.123`.
    assert_eq!(render::utc(1_795_316_069_123), "2026-11-22 02:54:29.123");
}

#[test]
fn json_output_is_the_daemon_data() {
    let reply = Reply::Vms(vms());
    let printed = format_reply(&reply, true);
    let data = serde_json::from_str::<serde_json::Value>(&printed).unwrap();
    let wire = serde_json::from_str::<serde_json::Value>(&Response::Ok(reply).to_line()).unwrap();
    assert_eq!(data, wire["data"]);
    assert_eq!(data[0]["addresses"][1]["frozen"], serde_json::json!(true));
    assert_eq!(data[0]["mac"], serde_json::json!("52:54:00:12:34:56"));
}

/// A server on a temporary socket whose owner answers with the fixtures.
async fn serve_fixtures(path: &Path) -> crate::control::server::ServerHandle {
    let (server, mut requests) = Server::bind(path).await.unwrap();
    tokio::spawn(async move {
        while let Some(ControlRequest { request, reply }) = requests.recv().await {
            let answer = match request {
                Request::Status {} => Ok(Reply::Status(status())),
                Request::ShowPeers {} => Ok(Reply::Peers(peers())),
                Request::ShowRoutes { prefix: None } => Ok(Reply::Routes(routes())),
                Request::ShowRoutes { prefix: Some(p) } => Ok(Reply::Routes(
                    routes()
                        .into_iter()
                        .filter(|r| p.contains(&r.prefix))
                        .collect(),
                )),
                Request::ShowVms {} => Ok(Reply::Vms(vms())),
                Request::ShowBfd {} => Ok(Reply::Bfd(bfd())),
                Request::ShowFib {} => Ok(Reply::Fib(fib())),
                Request::ShowMoves { .. } => Ok(Reply::Moves(moves())),
                Request::VmAttach { vm, interface, .. } => Ok(Reply::Hook(HookView {
                    vm,
                    interface,
                    message: "attached".into(),
                })),
                Request::VmDetach { vm, .. } => {
                    Err(ControlError::not_found(format!("no VM named {vm}")))
                }
                Request::VmMigrateBegin { .. } => Err(ControlError::internal("boom")),
            };
            let _ = reply.send(answer.into());
        }
    });
    server.spawn()
}

fn global(path: &Path, json: bool) -> GlobalArgs {
    GlobalArgs {
        socket: path.to_path_buf(),
        json,
        timeout: 5.0,
    }
}

#[tokio::test]
async fn cli_against_a_server_prints_tables_json_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostroute.sock");
    let server = serve_fixtures(&path).await;
    let p = path.clone();
    let outcomes = tokio::task::spawn_blocking(move || {
        let shows = [
            ShowCommand::Status,
            ShowCommand::Peers,
            ShowCommand::Routes { prefix: None },
            ShowCommand::Vms,
            ShowCommand::Bfd,
            ShowCommand::Fib,
            ShowCommand::Moves { prefix: None },
        ];
        let tables: Vec<_> = shows
            .iter()
            .map(|s| execute(&global(&p, false), &s.request()))
            .collect();
        let filtered = execute(
            &global(&p, true),
            &ShowCommand::Routes {
                prefix: Some("2001:db8::/32".parse().unwrap()),
            }
            .request(),
        );
        let attach = VmCommand::Attach(VmArgs {
            vm: "web1".into(),
            interface: "vnet3".into(),
            addresses: vec!["10.1.1.5".parse().unwrap()],
            mac: None,
        });
        let detach = VmCommand::Detach {
            vm: "web9".into(),
            interface: "vnet9".into(),
        };
        let hooks = [
            execute(&global(&p, false), &attach.request()),
            execute(&global(&p, false), &detach.request()),
        ];
        (tables, filtered, hooks)
    })
    .await
    .unwrap();
    let (tables, filtered, hooks) = outcomes;
    let expected = [
        render::status(&status()),
        render::peers(&peers()),
        render::routes(&routes()),
        render::vms(&vms()),
        render::bfd(&bfd()),
        render::fib(&fib()),
        render::moves(&moves()),
    ];
    for (got, want) in tables.into_iter().zip(expected) {
        assert_eq!(got.unwrap(), want);
    }
    let json: Vec<RouteRow> = serde_json::from_str(&filtered.unwrap()).unwrap();
    assert_eq!(json, routes()[1..].to_vec());
    let [attach, detach] = hooks;
    assert_eq!(attach.unwrap(), "web1 on vnet3: attached\n");
    assert_eq!(
        detach.unwrap_err(),
        (Exit::Refused, "not found: no VM named web9".to_string())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_arguments_are_a_usage_error_before_any_connection() {
    // No server at all: validation must fail first.
    let request = VmCommand::Attach(VmArgs {
        vm: "web1".into(),
        interface: "eth0/../x".into(),
        addresses: Vec::new(),
        mac: None,
    })
    .request();
    let (exit, message) =
        execute(&global(Path::new("/nonexistent/s"), false), &request).unwrap_err();
    assert_eq!(exit, Exit::Usage);
    assert!(message.contains("eth0/../x"), "{message}");
}

#[test]
fn a_garbled_reply_is_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("garble.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let fake = std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        for reply in [
            &b"this is not json\n"[..],
            b"{\"ok\":true,\"data\":{\"x\":1}}\n",
            b"",
        ] {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            (&stream).write_all(reply).unwrap();
        }
    });
    for _ in 0..3 {
        let (exit, message) = execute(&global(&path, false), &Request::Status {}).unwrap_err();
        assert_eq!(exit, Exit::Protocol, "{message}");
    }
    fake.join().unwrap();
}
