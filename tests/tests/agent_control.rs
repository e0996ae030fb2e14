//! The daemon's edges with the real binary: bad configuration files,
//! malformed control-socket requests (the daemon keeps running), the
//! CLI's tables and JSON against a running daemon, SIGHUP reload that
//! leaves unchanged peers up, and make-before-break (`vm migrate-begin`).
//!
//! ```text
//!   sw: bridge br0 (198.18.0.0/24)
//!     hv1 up0 .11    hv2 up0 .12    (iBGP, AS 65000)
//!      tap-vm1 -- vm1 10.1.1.5/24
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hostroute_tests::agent::{
    Daemon, DaemonConfig, Launch, Vm, hostroute_binary, kernel_route, tail,
};
use lab::fabric::{Fabric, fabric_address};
use lab::{Lab, Netns};
use serde_json::Value;

mod common;
use common::{Leftovers, run};

const AS: u32 = 65000;
const CONVERGE: Duration = Duration::from_secs(15);
const VM1: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 5);

fn addr(i: u8) -> Ipv4Addr {
    fabric_address(i)
}

/// `n` hypervisors on a bridge (`lab::fabric`); hypervisor `i` peers with
/// those `peers(i)` lists.
fn fabric(
    lab: &Lab,
    left: &mut Leftovers,
    n: u8,
    peers: impl Fn(u8) -> Vec<u8>,
) -> Result<(Vec<Netns>, Vec<Daemon>, Netns)> {
    let f = Fabric::start(lab, n, &Launch::default(), CONVERGE, |i, mut config| {
        config.peers.clear();
        for j in peers(i) {
            config = config.peer(IpAddr::V4(addr(j)), AS);
        }
        config
    })?;
    left.names.push(f.sw.name().to_owned());
    left.names.extend(f.hv.iter().map(|n| n.name().to_owned()));
    left.pids.extend(f.daemons.iter().filter_map(Daemon::pid));
    Ok((f.hv, f.daemons, f.sw))
}

/// Runs `hostroute daemon --config <file>` on a config text; returns
/// (exit code, stderr).
fn daemon_with(lab: &Lab, name: &str, text: &str) -> Result<(Option<i32>, String)> {
    let dir = lab.subdir("configs")?;
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    let out = Command::new(hostroute_binary()?)
        .args(["daemon", "--check", "--config"])
        .arg(&path)
        .output()?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

/// Bad files are refused with the file, line, column, key and what is
/// wrong, before the daemon touches anything.
#[test]
fn bad_configuration_files_name_the_file_line_and_key() {
    run(
        "bad_configuration_files_name_the_file_line_and_key",
        "agent-badconf",
        |lab, _left| {
            let good = "router_id = \"192.0.2.1\"\nasn = 65000\n\n[[interfaces]]\nmatch = [\"tap*\"]\npools = [\"10.1.1.0/24\"]\n";
            let (code, err) = daemon_with(lab, "good.toml", good)?;
            ensure!(code == Some(0), "a good file was refused: {err}");
            let cases: [(&str, String, &str); 4] = [
                (
                    "unknown-key.toml",
                    good.replace("asn = 65000", "asn = 65000\nrouter-id = \"x\""),
                    "unknown key",
                ),
                (
                    "bad-value.toml",
                    format!(
                        "{good}\n[[peer]]\naddress = \"192.0.2.2\"\nasn = 65000\nhold_time = 2\n"
                    ),
                    "peer[0].hold_time",
                ),
                (
                    "bad-bfd.toml",
                    format!(
                        "{good}\n[[peer]]\naddress = \"192.0.2.2\"\nasn = 65000\n[peer.bfd]\ninterval_ms = 5\n"
                    ),
                    "peer[0].bfd.interval_ms",
                ),
                ("syntax.toml", "router_id = \n".to_owned(), "syntax.toml:1:"),
            ];
            for (name, text, key) in &cases {
                let (code, err) = daemon_with(lab, name, text)?;
                ensure!(code == Some(1), "{name}: exit {code:?}: {err}");
                ensure!(err.contains(name), "{name}: the file is not named: {err}");
                ensure!(err.contains(key), "{name}: {key} not named: {err}");
                // file:line:col
                let location = err
                    .split(name)
                    .nth(1)
                    .and_then(|rest| rest.split(':').nth(1))
                    .and_then(|line| line.trim().parse::<u32>().ok());
                ensure!(location.is_some(), "{name}: no line number: {err}");
            }
            let (code, err) =
                daemon_with(lab, "missing-dir/none.toml", "").or_else(|_| -> Result<_> {
                    let out = Command::new(hostroute_binary()?)
                        .args([
                            "daemon",
                            "--check",
                            "--config",
                            "/nonexistent/hostroute.toml",
                        ])
                        .output()?;
                    Ok((
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr).into_owned(),
                    ))
                })?;
            ensure!(code == Some(1), "missing file: {code:?} {err}");
            Ok(())
        },
    );
}

/// Sends raw bytes on the control socket and reads one reply line (or
/// EOF).
fn raw_request(socket: &std::path::Path, bytes: &[u8]) -> Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(bytes)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    Ok(line)
}

/// Garbage on the control socket gets a clear error and the daemon keeps
/// running and answering.
#[test]
fn malformed_control_requests_are_refused_and_the_daemon_keeps_running() {
    run(
        "malformed_control_requests_are_refused_and_the_daemon_keeps_running",
        "agent-badreq",
        |lab, left| {
            let (_hvs, daemons, _sw) = fabric(lab, left, 1, |_| Vec::new())?;
            let d = &daemons[0];
            let socket = d.socket().to_owned();
            let cases: [&[u8]; 6] = [
                b"{not json\n",
                b"{\"request\":\"format-disk\"}\n",
                b"{\"request\":\"show-routes\",\"prefix\":\"10.1.1.5/33\"}\n",
                b"{\"request\":\"vm-attach\",\"vm\":\"x\",\"interface\":\"../../etc\",\"addresses\":[]}\n",
                b"{\"request\":\"show-vms\",\"extra\":1}\n",
                b"\xff\xfe\x00\x01garbage\n",
            ];
            for case in cases {
                let line = raw_request(&socket, case)?;
                let reply: Value = serde_json::from_str(&line)
                    .with_context(|| format!("reply to {case:?}: {line:?}"))?;
                ensure!(reply["ok"] == false, "accepted {case:?}: {reply}");
                ensure!(reply["error"]["kind"] == "bad-request", "{case:?}: {reply}");
            }
            // An oversized line (over 64 KiB): refused or closed, never a hang.
            let mut big = vec![b'a'; 100 * 1024];
            big.push(b'\n');
            let _ = raw_request(&socket, &big);
            // Half a request, then gone.
            {
                let mut s = UnixStream::connect(&socket)?;
                s.write_all(b"{\"request\":\"sho")?;
            }
            // Many connections opened and dropped.
            for _ in 0..100 {
                let mut s = UnixStream::connect(&socket)?;
                let _ = s.write_all(b"\n");
                let mut buf = [0u8; 1];
                s.set_read_timeout(Some(Duration::from_millis(10)))?;
                let _ = s.read(&mut buf);
            }
            let status = d.show(&["status"])?;
            ensure!(status["asn"] == AS, "{status}");
            let vm_attach = d.cli(&["vm", "attach", "--vm", "", "--interface", "tap-x"])?;
            ensure!(!vm_attach.status.success(), "an empty VM name was accepted");
            d.show(&["status"])
                .context("the daemon stopped answering")?;
            Ok(())
        },
    );
}

/// Every `show` command, as a table and as JSON, against two running
/// daemons with a VM; and exit code 3 once the daemon is gone.
#[test]
fn the_cli_shows_every_view_of_a_running_daemon() {
    run(
        "the_cli_shows_every_view_of_a_running_daemon",
        "agent-cli",
        |lab, left| {
            let (hvs, mut daemons, _sw) = fabric(lab, left, 2, |i| vec![3 - i])?;
            let vm = Vm::create(lab, "vm1", &hvs[0], VM1, [0x52, 0x54, 0, 0, 1, 5])?;
            left.names.push(vm.netns.name().to_owned());
            vm.announce()?;
            daemons[1].wait_best("vm1 via hv1", "10.1.1.5/32", CONVERGE, |p| p.is_some())?;
            common::wait_for("hv2's kernel route", CONVERGE, || {
                Ok(kernel_route(&hvs[1], "10.1.1.5/32")?.is_some())
            })?;
            let expect: [(&[&str], &[&str]); 7] = [
                (&["status"], &["router id", "198.18.0.11"]),
                (&["peers"], &["NEIGHBOR", "198.18.0.12", "established"]),
                (&["routes"], &["PREFIX", "10.1.1.5/32", "local"]),
                (&["routes", "10.1.1.5"], &["10.1.1.5/32"]),
                (&["vms"], &["INTERFACE", "tap-vm1", "10.1.1.5", "active"]),
                (&["fib"], &["PREFIX", "10.1.1.5/32"]),
                (&["moves"], &["no moves"]),
            ];
            for (args, words) in expect {
                let mut argv = vec!["show"];
                argv.extend_from_slice(args);
                let out = daemons[0].cli(&argv)?;
                let text = String::from_utf8_lossy(&out.stdout);
                ensure!(
                    out.status.success(),
                    "{argv:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                for w in words {
                    ensure!(
                        text.to_lowercase().contains(&w.to_lowercase()),
                        "{argv:?}: {w:?} missing from:\n{text}"
                    );
                }
                // JSON parses.
                daemons[0].show(args)?;
            }
            let out = daemons[0].cli(&["show", "bfd"])?;
            ensure!(out.status.success(), "show bfd");
            // On hv2, the route is learned: next hop hv1, sequence 0, and
            // the FIB view shows it in sync.
            let fib = daemons[1].show(&["fib"])?;
            ensure!(fib["drift"] == 0, "{fib}");
            let routes = daemons[1].show(&["routes", "10.1.1.5/32"])?;
            ensure!(
                routes[0]["paths"][0]["next_hop"] == "198.18.0.11",
                "{routes}"
            );
            ensure!(routes[0]["paths"][0]["sequence"] == 0, "{routes}");
            // The daemon stops: the CLI says so, exit code 3.
            let socket = daemons[0].socket().to_owned();
            daemons[0].stop()?;
            let out = Command::new(hostroute_binary()?)
                .arg("--socket")
                .arg(&socket)
                .args(["show", "peers"])
                .output()?;
            ensure!(out.status.code() == Some(3), "exit {:?}", out.status.code());
            let err = String::from_utf8_lossy(&out.stderr);
            ensure!(err.contains("not running"), "{err}");
            Ok(())
        },
    );
}

/// SIGHUP with one peer removed from the file: that session closes, the
/// unchanged one stays up (no flap, uptime kept); a bad file changes
/// nothing.
#[test]
fn sighup_reloads_peers_and_leaves_unchanged_ones_up() {
    run(
        "sighup_reloads_peers_and_leaves_unchanged_ones_up",
        "agent-hup",
        |lab, left| {
            let (_hvs, mut daemons, _sw) =
                fabric(lab, left, 3, |i| (1..=3).filter(|j| *j != i).collect())?;
            std::thread::sleep(Duration::from_secs(2));
            let flaps_of = |d: &Daemon, peer: Ipv4Addr| -> Result<(u64, u64)> {
                let peers = d.show(&["peers"])?;
                let row = peers
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|p| p["neighbor"] == peer.to_string().as_str())
                    .cloned()
                    .with_context(|| format!("{peer} not in {peers}"))?;
                Ok((
                    row["flaps"].as_u64().unwrap_or(0),
                    row["uptime_secs"].as_u64().unwrap_or(0),
                ))
            };
            let (flaps_before, up_before) = flaps_of(&daemons[0], addr(2))?;
            ensure!(up_before >= 1, "hv2 session just came up");

            // A bad file: nothing changes.
            let path = daemons[0].config_path().to_owned();
            let original = std::fs::read_to_string(&path)?;
            std::fs::write(&path, "router_id = \"nonsense\"\n")?;
            daemons[0].signal(lab::Signal::Hup)?;
            std::thread::sleep(Duration::from_millis(500));
            ensure!(
                daemons[0]
                    .show(&["peers"])?
                    .as_array()
                    .is_some_and(|a| a.len() == 2)
            );
            ensure!(
                daemons[0].log().contains("configuration not reloaded"),
                "{}",
                tail(&daemons[0].log(), 10)
            );

            // hv3 removed from the file; hv2 as it was.
            let _ = original;
            let without_hv3 = DaemonConfig::new(addr(1), AS)
                .peer(IpAddr::V4(addr(2)), AS)
                .toml(daemons[0].socket());
            std::fs::write(&path, &without_hv3)?;
            daemons[0].signal(lab::Signal::Hup)?;
            common::wait_for("hv3 removed from hv1's peers", CONVERGE, || {
                let peers = daemons[0].show(&["peers"])?;
                Ok(peers.as_array().is_some_and(|a| a.len() == 1))
            })?;
            let (flaps_after, up_after) = flaps_of(&daemons[0], addr(2))?;
            ensure!(flaps_after == flaps_before, "the unchanged session flapped");
            ensure!(
                up_after >= up_before,
                "the unchanged session restarted: {up_before} -> {up_after}"
            );
            // hv3 saw the session close.
            common::wait_for("hv3's session to hv1 down", CONVERGE, || {
                let peers = daemons[2].show(&["peers"])?;
                Ok(peers.as_array().into_iter().flatten().any(|p| {
                    p["neighbor"] == addr(1).to_string().as_str() && p["state"] != "established"
                }))
            })?;
            daemons[2].stop()?;
            Ok(())
        },
    );
}

/// `vm migrate-begin` on the destination: the interface appears, the
/// route is prepared but not advertised (the third host still points to
/// the source); the VM's first announcement activates it with the next
/// sequence.
#[test]
fn migrate_begin_prepares_and_the_first_announcement_activates() {
    run(
        "migrate_begin_prepares_and_the_first_announcement_activates",
        "agent-mbb",
        |lab, left| {
            let (hvs, daemons, _sw) =
                fabric(lab, left, 3, |i| (1..=3).filter(|j| *j != i).collect())?;
            let mut vm = Vm::create(lab, "vm1", &hvs[0], VM1, [0x52, 0x54, 0, 0, 1, 5])?;
            left.names.push(vm.netns.name().to_owned());
            vm.announce()?;
            let prefix = "10.1.1.5/32";
            daemons[2].wait_best("vm1 via hv1", prefix, CONVERGE, |p| {
                p.is_some_and(|p| p["next_hop"] == "198.18.0.11")
            })?;
            // libvirt's hook on the destination, before the tap exists.
            let out = daemons[1].cli(&[
                "vm",
                "migrate-begin",
                "--vm",
                "vm1",
                "--interface",
                "tap-vm1",
                "--address",
                "10.1.1.5",
            ])?;
            ensure!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The tap moves (the VM is paused: no announcement yet).
            vm.tap.move_to(&hvs[1])?;
            vm.tap.up()?;
            common::wait_for("prepared on hv2", CONVERGE, || {
                let vms = daemons[1].show(&["vms"])?;
                Ok(vms
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|v| v["interface"] == "tap-vm1" && v["state"] == "prepared"))
            })?;
            std::thread::sleep(Duration::from_millis(300));
            let best = daemons[2].best(prefix)?;
            ensure!(
                best.as_ref().is_none_or(|p| p["next_hop"] != "198.18.0.12"),
                "advertised before the VM showed up: {best:?}"
            );
            // The VM resumes and announces itself.
            vm.announce()?;
            let p = daemons[2].wait_best("vm1 via hv2", prefix, CONVERGE, |p| {
                p.is_some_and(|p| p["next_hop"] == "198.18.0.12")
            })?;
            ensure!(p.as_ref().is_some_and(|p| p["sequence"] == 1), "{p:?}");
            Ok(())
        },
    );
}
