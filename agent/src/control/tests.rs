//! The server against hostile and careless clients, over a real socket in
//! a temporary directory, with a fake owner task.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::api::{HookView, PathRow, RouteRow, StatusView};
use super::server::ServerHandle;
use super::*;

struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    server: ServerHandle,
}

fn status() -> StatusView {
    StatusView {
        version: "0.1.0".into(),
        router_id: "192.0.2.1".parse().unwrap(),
        asn: 65001,
        pid: 42,
        uptime_secs: 3725,
        peers_up: 1,
        peers_total: 2,
        routes: 3,
        local_vms: 1,
    }
}

/// A fake owner: answers `status`, echoes hooks, refuses the rest.
fn canned(request: Request) -> Response {
    match request {
        Request::Status {} => Response::Ok(Reply::Status(status())),
        Request::VmDetach { vm, interface } => Response::Ok(Reply::Hook(HookView {
            vm,
            interface,
            message: "detached".into(),
        })),
        other => Response::Err(ControlError::not_found(format!("no {}", other.name()))),
    }
}

async fn start(
    config: ServerConfig,
    answer: impl Fn(Request) -> Response + Send + 'static,
) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run/hostroute.sock");
    let (server, mut requests) = Server::bind_with(&path, config).await.unwrap();
    tokio::spawn(async move {
        while let Some(ControlRequest { request, reply }) = requests.recv().await {
            let _ = reply.send(answer(request));
        }
    });
    Fixture {
        _dir: dir,
        path,
        server: server.spawn(),
    }
}

async fn connect(fx: &Fixture) -> (BufReader<OwnedReadHalf>, OwnedWriteHalf) {
    let (r, w) = UnixStream::connect(&fx.path).await.unwrap().into_split();
    (BufReader::new(r), w)
}

/// Sends raw bytes, reads one reply line as JSON.
async fn ask(conn: &mut (BufReader<OwnedReadHalf>, OwnedWriteHalf), bytes: &[u8]) -> Value {
    conn.1.write_all(bytes).await.unwrap();
    read_reply(&mut conn.0).await
}

async fn read_reply(reader: &mut BufReader<OwnedReadHalf>) -> Value {
    let mut line = String::new();
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .expect("a reply within 5 s")
        .unwrap();
    assert!(n > 0, "connection closed instead of a reply");
    serde_json::from_str(&line).unwrap()
}

async fn expect_closed(reader: &mut BufReader<OwnedReadHalf>) {
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut rest))
        .await
        .expect("closed within 5 s")
        .unwrap_or(0);
    assert_eq!(
        n,
        0,
        "unexpected bytes: {:?}",
        String::from_utf8_lossy(&rest)
    );
}

fn error_kind(reply: &Value) -> &str {
    assert_eq!(reply["ok"], json!(false), "{reply}");
    reply["error"]["kind"].as_str().unwrap()
}

#[tokio::test]
async fn malformed_lines_are_answered_and_the_connection_keeps_serving() {
    let fx = start(ServerConfig::default(), canned).await;
    let mut c = connect(&fx).await;
    let cases: [&[u8]; 6] = [
        b"{not json\n",
        b"{\"request\":\"show-everything\"}\n",
        b"{\"request\":\"status\",\"verbose\":true}\n",
        b"{\"request\":\"vm-detach\",\"vm\":\"a\"}\n",
        b"\xff\xfe\n",
        b"[1,2,3]\n",
    ];
    for case in cases {
        let reply = ask(&mut c, case).await;
        assert_eq!(error_kind(&reply), "bad-request", "{reply}");
    }
    let reply = ask(&mut c, b"{\"request\":\"status\"}\r\n").await;
    assert_eq!(reply["ok"], json!(true));
    assert_eq!(reply["data"]["asn"], json!(65001));
}

#[tokio::test]
async fn errors_name_what_was_wrong() {
    let fx = start(ServerConfig::default(), canned).await;
    let mut c = connect(&fx).await;
    let unknown = ask(&mut c, b"{\"request\":\"show-everything\"}\n").await;
    let message = unknown["error"]["message"].as_str().unwrap();
    assert!(message.contains("show-everything"), "{message}");
    let field = ask(&mut c, b"{\"request\":\"show-peers\",\"colour\":1}\n").await;
    let message = field["error"]["message"].as_str().unwrap();
    assert!(message.contains("colour"), "{message}");
    let iface = ask(
        &mut c,
        br#"{"request":"vm-detach","vm":"a","interface":"../../etc"}
"#,
    )
    .await;
    let message = iface["error"]["message"].as_str().unwrap();
    assert!(message.contains("interface"), "{message}");
}

#[tokio::test]
async fn several_requests_on_one_connection_and_blank_lines_skipped() {
    let fx = start(ServerConfig::default(), canned).await;
    let mut c = connect(&fx).await;
    c.1.write_all(b"{\"request\":\"status\"}\n\n{\"request\":\"show-vms\"}\n{\"request\":\"vm-detach\",\"vm\":\"web1\",\"interface\":\"vnet3\"}\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut c.0).await["ok"], json!(true));
    assert_eq!(error_kind(&read_reply(&mut c.0).await), "not-found");
    let hook = read_reply(&mut c.0).await;
    assert_eq!(hook["data"]["interface"], json!("vnet3"));
}

#[tokio::test]
async fn an_oversized_line_is_refused_and_the_connection_closed() {
    let config = ServerConfig {
        max_line: 1024,
        ..ServerConfig::default()
    };
    let fx = start(config, canned).await;
    let mut c = connect(&fx).await;
    let mut big = br#"{"request":"status","x":""#.to_vec();
    big.extend(std::iter::repeat_n(b'a', 4096));
    big.extend_from_slice(b"\"}\n");
    let reply = ask(&mut c, &big).await;
    assert_eq!(error_kind(&reply), "bad-request");
    assert!(reply["error"]["message"].as_str().unwrap().contains("1024"));
    expect_closed(&mut c.0).await;
    // Others are still served.
    let mut d = connect(&fx).await;
    assert_eq!(
        ask(&mut d, b"{\"request\":\"status\"}\n").await["ok"],
        json!(true)
    );
}

#[tokio::test]
async fn the_default_limit_is_64_kib() {
    let fx = start(ServerConfig::default(), canned).await;
    let mut c = connect(&fx).await;
    let reply = ask(&mut c, &vec![b' '; MAX_LINE + 1]).await;
    assert_eq!(error_kind(&reply), "bad-request");
}

#[tokio::test]
async fn connections_beyond_the_limit_are_told_busy() {
    let config = ServerConfig {
        max_connections: 4,
        ..ServerConfig::default()
    };
    let fx = start(config, canned).await;
    let mut open = Vec::new();
    for _ in 0..4 {
        let mut c = connect(&fx).await;
        assert_eq!(
            ask(&mut c, b"{\"request\":\"status\"}\n").await["ok"],
            json!(true)
        );
        open.push(c);
    }
    let mut extra = connect(&fx).await;
    assert_eq!(error_kind(&read_reply(&mut extra.0).await), "busy");
    expect_closed(&mut extra.0).await;
    // A slot frees when a client leaves.
    drop(open.pop());
    let mut again = None;
    for _ in 0..50 {
        let mut c = connect(&fx).await;
        let reply = ask(&mut c, b"{\"request\":\"status\"}\n").await;
        if reply["ok"] == json!(true) {
            again = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the freed slot was never reused");
}

#[tokio::test]
async fn clients_that_leave_mid_request_do_not_disturb_the_server() {
    let (slow_tx, mut slow_rx) = tokio::sync::mpsc::unbounded_channel();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let (server, mut requests) = Server::bind(&path).await.unwrap();
    let server = server.spawn();
    // The owner answers only when told to.
    tokio::spawn(async move {
        while let Some(ControlRequest { request, reply }) = requests.recv().await {
            let _ = slow_rx.recv().await;
            let _ = reply.send(canned(request));
        }
    });
    let fx = Fixture {
        _dir: dir,
        path,
        server,
    };
    // Half a request, then gone.
    let mut c = connect(&fx).await;
    c.1.write_all(b"{\"request\":\"sta").await.unwrap();
    drop(c);
    // A whole request, gone before the answer.
    let mut c = connect(&fx).await;
    c.1.write_all(b"{\"request\":\"status\"}\n").await.unwrap();
    drop(c);
    tokio::time::sleep(Duration::from_millis(50)).await;
    slow_tx.send(()).unwrap();
    // Still serving.
    slow_tx.send(()).unwrap();
    let mut c = connect(&fx).await;
    assert_eq!(
        ask(&mut c, b"{\"request\":\"status\"}\n").await["ok"],
        json!(true)
    );
}

#[tokio::test]
async fn an_unterminated_last_request_is_still_answered() {
    let fx = start(ServerConfig::default(), canned).await;
    let mut c = connect(&fx).await;
    c.1.write_all(b"{\"request\":\"status\"}").await.unwrap();
    c.1.shutdown().await.unwrap();
    assert_eq!(read_reply(&mut c.0).await["ok"], json!(true));
    expect_closed(&mut c.0).await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let config = ServerConfig {
        idle_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let fx = start(config, canned).await;
    let mut c = connect(&fx).await;
    expect_closed(&mut c.0).await;
}

#[tokio::test]
async fn a_client_that_does_not_read_is_dropped() {
    let config = ServerConfig {
        max_connections: 1,
        write_timeout: Duration::from_millis(200),
        ..ServerConfig::default()
    };
    // A reply of several MiB, more than the socket buffers hold.
    let big = vec![
        RouteRow {
            prefix: "10.0.0.0/32".parse().unwrap(),
            paths: vec![PathRow {
                source: "x".repeat(1000),
                best: true,
                next_hop: "192.0.2.2".into(),
                sequence: Some(1),
                static_flag: false,
                origin: "local".into(),
                age_secs: None,
                as_path: String::new(),
                local_pref: None,
                med: None,
                stale: false,
                lost_on: None,
            }],
        };
        8000
    ];
    let fx = start(config, move |_| Response::Ok(Reply::Routes(big.clone()))).await;
    let mut sleeper = connect(&fx).await;
    sleeper
        .1
        .write_all(b"{\"request\":\"show-routes\"}\n")
        .await
        .unwrap();
    // The server gives up on the sleeper and frees its only slot.
    let mut served = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut c = connect(&fx).await;
        c.1.write_all(b"{\"request\":\"show-routes\"}\n")
            .await
            .unwrap();
        let mut line = String::new();
        let _ = c.0.read_line(&mut line).await;
        if line.starts_with("{\"ok\":true") {
            served = true;
            break;
        }
    }
    assert!(
        served,
        "the slot of a client that does not read was never freed"
    );
}

#[tokio::test]
async fn owner_gone_or_silent_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let (server, mut requests) = Server::bind(&path).await.unwrap();
    let handle = server.spawn();
    // Drop the reply sender unanswered, then the whole receiver.
    let owner = tokio::spawn(async move {
        let first = requests.recv().await;
        drop(first);
    });
    let (r, w) = UnixStream::connect(&path).await.unwrap().into_split();
    let mut c = (BufReader::new(r), w);
    let dropped = ask(&mut c, b"{\"request\":\"status\"}\n").await;
    assert_eq!(error_kind(&dropped), "internal");
    owner.await.unwrap();
    let gone = ask(&mut c, b"{\"request\":\"status\"}\n").await;
    assert_eq!(error_kind(&gone), "unavailable");
    handle.shutdown().await;
}

#[tokio::test]
async fn an_owner_too_slow_is_reported_unavailable() {
    let config = ServerConfig {
        reply_timeout: Duration::from_millis(100),
        ..ServerConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sock");
    let (server, mut requests) = Server::bind_with(&path, config).await.unwrap();
    let _handle = server.spawn();
    let _owner = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Some(r) = requests.recv().await {
            held.push(r);
        }
    });
    let (r, w) = UnixStream::connect(&path).await.unwrap().into_split();
    let mut c = (BufReader::new(r), w);
    let late = ask(&mut c, b"{\"request\":\"status\"}\n").await;
    assert_eq!(error_kind(&late), "unavailable");
    assert!(
        late["error"]["message"]
            .as_str()
            .unwrap()
            .contains("status")
    );
}

#[tokio::test]
async fn socket_mode_and_removal_on_shutdown() {
    let fx = start(ServerConfig::default(), canned).await;
    let mode = std::fs::metadata(&fx.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o660);
    let path = fx.path.clone();
    fx.server.shutdown().await;
    assert!(!path.exists(), "socket left behind after shutdown");
}

#[tokio::test]
async fn a_stale_socket_is_replaced_but_a_live_one_or_a_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let (server, _rx) = Server::bind(&stale).await.unwrap();
    let live = server.spawn();
    match Server::bind(&stale).await {
        Err(ServerError::InUse { .. }) => {}
        other => panic!("a second daemon on a live socket: {other:?}"),
    }
    live.shutdown().await;

    let file = dir.path().join("file");
    std::fs::write(&file, b"keep me").unwrap();
    match Server::bind(&file).await {
        Err(ServerError::NotASocket { .. }) => {}
        other => panic!("bound over a regular file: {other:?}"),
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn hooks_map_onto_detection_hooks() {
    let line = br#"{"request":"vm-migrate-begin","vm":"web1","interface":"vnet3","addresses":["10.1.1.5","2001:db8::5"],"mac":"52:54:00:12:34:56"}"#;
    let request = parse_request(line).unwrap();
    let hook = request.hook().unwrap();
    assert_eq!(
        hook,
        crate::detect::Hook::MigrateBegin {
            vm: "web1".into(),
            ifname: "vnet3".into(),
            addresses: vec!["10.1.1.5".parse().unwrap(), "2001:db8::5".parse().unwrap()],
            mac: Some("52:54:00:12:34:56".parse().unwrap()),
        }
    );
    assert_eq!(Request::ShowFib {}.hook(), None);
}

#[test]
fn a_bare_address_means_its_host_route() {
    let request = parse_request(br#"{"request":"show-routes","prefix":"10.1.1.5"}"#).unwrap();
    assert_eq!(
        request,
        Request::ShowRoutes {
            prefix: Some("10.1.1.5/32".parse().unwrap())
        }
    );
    let v6 = parse_request(br#"{"request":"show-moves","prefix":"2001:db8::5"}"#).unwrap();
    assert_eq!(
        v6,
        Request::ShowMoves {
            prefix: Some("2001:db8::5/128".parse().unwrap())
        }
    );
    assert!(parse_request(br#"{"request":"show-routes","prefix":"10.1.1.5/24"}"#).is_err());
    assert_eq!(
        parse_request(br#"{"request":"show-routes"}"#).unwrap(),
        Request::ShowRoutes { prefix: None }
    );
}

#[test]
fn invalid_hook_values_are_refused() {
    let cases = [
        r#"{"request":"vm-attach","vm":"","interface":"vnet0"}"#,
        r#"{"request":"vm-attach","vm":"a","interface":"a-very-long-interface"}"#,
        r#"{"request":"vm-attach","vm":"a","interface":"vnet0","addresses":["0.0.0.0"]}"#,
        r#"{"request":"vm-attach","vm":"a","interface":"vnet0","addresses":["ff02::1"]}"#,
        r#"{"request":"vm-attach","vm":"a","interface":"vnet0","mac":"01:00:5e:00:00:01"}"#,
        r#"{"request":"vm-attach","vm":"a","interface":"vnet0","mac":"zz"}"#,
        r#"{"request":"vm-attach","vm":"a\u0000b","interface":"vnet0"}"#,
    ];
    for case in cases {
        let error = parse_request(case.as_bytes()).unwrap_err();
        assert_eq!(error.kind, ErrorKind::BadRequest, "{case}");
    }
}

#[test]
fn responses_round_trip_through_their_line() {
    let ok = Response::Ok(Reply::Status(status()));
    let line = ok.to_line();
    assert!(
        line.starts_with(r#"{"ok":true,"data":{"version":"0.1.0""#),
        "{line}"
    );
    assert_eq!(Response::from_line(&line, ReplyKind::Status).unwrap(), ok);
    let err = Response::Err(ControlError::not_found("no VM web9"));
    let line = err.to_line();
    assert_eq!(
        line,
        r#"{"ok":false,"error":{"kind":"not-found","message":"no VM web9"}}"#
    );
    assert_eq!(Response::from_line(&line, ReplyKind::Peers).unwrap(), err);
    // A newer daemon's error kind is still an error.
    let newer = r#"{"ok":false,"error":{"kind":"rate-limited","message":"slow down"}}"#;
    match Response::from_line(newer, ReplyKind::Peers).unwrap() {
        Response::Err(e) => assert_eq!(e.kind, ErrorKind::Other),
        other => panic!("{other:?}"),
    }
    assert!(Response::from_line(r#"{"ok":true}"#, ReplyKind::Status).is_err());
    assert!(Response::from_line(r#"{"ok":true,"data":[]}"#, ReplyKind::Status).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_request(&bytes);
    }

    #[test]
    fn arbitrary_json_like_text_never_panics_the_parser(
        text in r#"\{("request"|"vm"|"interface"|"addresses"|"mac"|"prefix"|[a-z]{1,6}|:|,|"[a-z0-9:./-]{0,20}"|\[|\]|[0-9]{1,4}|null|true)*\}"#
    ) {
        let _ = parse_request(text.as_bytes());
    }

    #[test]
    fn valid_hooks_round_trip(
        vm in "[a-zA-Z0-9_.-]{1,40}",
        interface in "[a-z]{1,5}[0-9]{1,4}",
        octets in proptest::collection::vec((1u8..224, any::<u8>(), any::<u8>(), 1u8..255), 0..5),
    ) {
        let addresses = octets
            .into_iter()
            .map(|(a, b, c, d)| std::net::IpAddr::from([a, b, c, d]))
            .filter(|a| !a.is_loopback())
            .collect();
        let request = Request::VmAttach { vm, interface, addresses, mac: None };
        let line = serde_json::to_string(&request).unwrap();
        prop_assert_eq!(parse_request(line.as_bytes()).unwrap(), request);
    }
}
