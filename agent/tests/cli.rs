//! The `hostroute` binary as scripts see it: exit codes and messages when
//! the daemon is missing, stale, forbidden, refusing, or answering.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Output};

use agent::control::api::{ControlError, Reply, Request, StatusView};
use agent::control::{ControlRequest, Server};

fn hostroute(socket: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hostroute"));
    cmd.arg("--socket").arg(socket).args(args);
    cmd.env_remove("HOSTROUTE_SOCKET");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run hostroute");
    (
        status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&stdout).into_owned(),
        String::from_utf8_lossy(&stderr).into_owned(),
    )
}

#[test]
fn no_socket_means_the_daemon_is_not_running() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hostroute.sock");
    let (code, out, err) = run(&mut hostroute(&socket, &["show", "peers"]));
    assert_eq!(code, 3);
    assert_eq!(out, "");
    assert_eq!(
        err,
        format!(
            "hostroute: hostroute daemon is not running (no socket at {})\n",
            socket.display()
        )
    );
}

#[test]
fn a_socket_without_a_listener_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hostroute.sock");
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let (code, _, err) = run(&mut hostroute(&socket, &["show", "status"]));
    assert_eq!(code, 3);
    assert_eq!(
        err,
        format!(
            "hostroute: no daemon listening on {} (stale socket)\n",
            socket.display()
        )
    );
}

/// Root passes every permission check, so as root the CLI runs as
/// `nobody` against a root-owned 0660 socket; otherwise the socket is made
/// mode 000.
#[test]
fn a_socket_we_may_not_open_says_permission_denied() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket = dir.path().join("hostroute.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    // We created the directory, so its owner is our effective uid.
    let root = std::fs::metadata(dir.path())
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap();
    let mut cmd = hostroute(&socket, &["show", "peers"]);
    if root {
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o660)).unwrap();
        // std drops supplementary groups when root changes uid.
        cmd.uid(65534).gid(65534);
    } else {
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
    let (code, _, err) = run(&mut cmd);
    assert_eq!(code, 3, "{err}");
    let expected = format!(
        "hostroute: cannot open {}: permission denied (",
        socket.display()
    );
    assert!(err.starts_with(&expected), "{err}");
    assert!(err.contains("run as root or join group"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_help_documents_the_exit_codes() {
    let socket = Path::new("/nonexistent/hostroute.sock");
    let (code, _, err) = run(&mut hostroute(socket, &["show", "everything"]));
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&mut hostroute(socket, &["show", "routes", "10.1.1.5/24"]));
    assert_eq!(code, 2);
    assert!(err.contains("did you mean 10.1.1.0/24?"), "{err}");
    let (code, _, err) = run(&mut hostroute(
        socket,
        &[
            "vm",
            "attach",
            "--vm",
            "a",
            "--interface",
            "vnet0",
            "--address",
            "127.0.0.1",
        ],
    ));
    assert_eq!(code, 2);
    assert!(err.contains("127.0.0.1"), "{err}");
    let (code, out, _) = run(&mut hostroute(socket, &["--help"]));
    assert_eq!(code, 0);
    for line in [
        "Exit codes:",
        "  0  success",
        "  1  ",
        "  2  usage",
        "  3  ",
        "  4  ",
    ] {
        assert!(out.contains(line), "--help lacks {line:?}:\n{out}");
    }
}

/// A daemon stand-in: the real server, a fake owner.
fn spawn_daemon(
    socket: &Path,
) -> (
    tokio::runtime::Runtime,
    agent::control::server::ServerHandle,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let handle = runtime.block_on(async {
        let (server, mut requests) = Server::bind(socket).await.unwrap();
        tokio::spawn(async move {
            while let Some(ControlRequest { request, reply }) = requests.recv().await {
                let answer = match request {
                    Request::Status {} => Ok(Reply::Status(StatusView {
                        version: "9.9.9".into(),
                        router_id: "192.0.2.1".parse().unwrap(),
                        asn: 65001,
                        pid: 1,
                        uptime_secs: 5,
                        peers_up: 0,
                        peers_total: 0,
                        routes: 0,
                        local_vms: 0,
                    })),
                    Request::ShowPeers {} => Ok(Reply::Peers(Vec::new())),
                    other => Err(ControlError::not_found(format!(
                        "{} refused by the test",
                        other.name()
                    ))),
                };
                let _ = reply.send(answer.into());
            }
        });
        server.spawn()
    });
    (runtime, handle)
}

#[test]
fn answers_exit_0_refusals_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hostroute.sock");
    let (runtime, server) = spawn_daemon(&socket);

    let (code, out, err) = run(&mut hostroute(&socket, &["show", "peers"]));
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (0, "no BGP neighbours configured\n", "")
    );

    let (code, out, _) = run(&mut hostroute(&socket, &["--json", "show", "status"]));
    assert_eq!(code, 0);
    let status: StatusView = serde_json::from_str(&out).unwrap();
    assert_eq!(status.version, "9.9.9");

    // The socket also comes from the environment.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hostroute"));
    cmd.env("HOSTROUTE_SOCKET", &socket)
        .args(["show", "status"]);
    let (code, out, _) = run(&mut cmd);
    assert_eq!(code, 0);
    assert!(out.contains("router id  192.0.2.1"), "{out}");

    let (code, out, err) = run(&mut hostroute(
        &socket,
        &["vm", "detach", "--vm", "web1", "--interface", "vnet3"],
    ));
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert_eq!(err, "hostroute: not found: vm-detach refused by the test\n");

    runtime.block_on(server.shutdown());
    assert!(!socket.exists());
}
