//! The real `hostroute` daemon on three hypervisors (full-mesh iBGP on
//! one fabric segment), with VMs as namespaces: a VM appears and goes
//! away, moves between hypervisors under a ping, races, flaps until
//! frozen, and survives a SIGKILL of its daemon without losing a packet.
//!
//! ```text
//!                      sw: bridge br0 (the fabric, 198.18.0.0/24)
//!           ┌─────────────────────┼─────────────────────┐
//!   hv1 up0 .11 (AS 65000)   hv2 up0 .12           hv3 up0 .13
//!     tap-vm1                  (vm1 moves here)       tap-cl
//!       │                                               │
//!   vm1 eth0 10.1.1.5/24 gw 10.1.1.1 (anycast)      cl eth0 10.1.1.50/24: the client, itself a VM of hv3
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hostroute_tests::agent::{Daemon, Launch, Vm, kernel_route, tail};
use lab::fabric::{Fabric, fabric_address};
use lab::{Lab, Netns};
use serde_json::Value;

mod common;
use common::{Leftovers, run};

const AS: u32 = 65000;
const CONVERGE: Duration = Duration::from_secs(15);
const VM1: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 5);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 1, 1, 50);

/// The fabric and three hypervisors running the daemon.
struct Site {
    // Declared first: the daemons stop before their namespaces go.
    daemons: Vec<Daemon>,
    hv: Vec<Netns>,
    _sw: Netns,
}

/// Who peers with whom.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mesh {
    /// Every hypervisor with every other.
    Full,
    /// hv1 and hv2 peer only with hv3, their route reflector.
    ReflectorHv3,
}

fn site(lab: &Lab, left: &mut Leftovers, extra: &str) -> Result<Site> {
    site_with(lab, left, extra, Mesh::Full)
}

fn site_with(lab: &Lab, left: &mut Leftovers, extra: &str, mesh: Mesh) -> Result<Site> {
    let f = Fabric::start(lab, 3, &Launch::default(), CONVERGE, |i, mut config| {
        if mesh == Mesh::ReflectorHv3 {
            config.peers.clear();
            config = match i {
                3 => config
                    .rr_client(IpAddr::V4(fabric_address(1)), AS)
                    .rr_client(IpAddr::V4(fabric_address(2)), AS),
                _ => config.peer(IpAddr::V4(fabric_address(3)), AS),
            };
        }
        config.graceful_restart = 5;
        config.extra = extra.to_owned();
        config
    });
    let f = f?;
    left.names.push(f.sw.name().to_owned());
    left.names.extend(f.hv.iter().map(|n| n.name().to_owned()));
    left.pids.extend(f.daemons.iter().filter_map(Daemon::pid));
    Ok(Site {
        daemons: f.daemons,
        hv: f.hv,
        _sw: f.sw,
    })
}

fn sequence(path: Option<&Value>) -> Option<u64> {
    path.and_then(|p| p["sequence"].as_u64())
}

fn next_hop(path: Option<&Value>) -> Option<String> {
    path.and_then(|p| p["next_hop"].as_str().map(str::to_owned))
}

fn host(i: u8) -> String {
    fabric_address(i).to_string()
}

/// A VM appears on hv1: a local route, every peer has the /32 with
/// sequence 0 and a kernel route toward hv1; its interface goes away:
/// withdrawn everywhere.
#[test]
fn a_vm_appears_is_advertised_and_is_withdrawn_when_its_interface_goes() {
    run(
        "a_vm_appears_is_advertised_and_is_withdrawn_when_its_interface_goes",
        "agent-appear",
        |lab, left| {
            let s = site(lab, left, "")?;
            let mut vm = Vm::create(lab, "vm1", &s.hv[0], VM1, [0x52, 0x54, 0, 0, 1, 5])?;
            left.names.push(vm.netns.name().to_owned());
            // fe80::ecee:eeff:feee:eeee: the link-local of the anycast MAC.
            vm.add_ipv6("2001:db8:1::5".parse()?, "fe80::ecee:eeff:feee:eeee")?;
            vm.announce()?;
            let prefix = "10.1.1.5/32";
            let local = s.daemons[0].wait_best("hv1: local route", prefix, CONVERGE, |p| {
                p.is_some_and(|p| p["source"] == "local")
            })?;
            ensure!(sequence(local.as_ref()) == Some(0), "{local:?}");
            for i in [1usize, 2] {
                let p = s.daemons[i].wait_best("the /32 from hv1", prefix, CONVERGE, |p| {
                    next_hop(p).as_deref() == Some(host(1).as_str())
                })?;
                ensure!(sequence(p.as_ref()) == Some(0), "{p:?}");
                common::wait_for("a kernel route via hv1", CONVERGE, || {
                    Ok(kernel_route(&s.hv[i], prefix)?
                        .is_some_and(|r| r["gateway"] == host(1).as_str()))
                })?;
            }
            // hv1's kernel: the VM's host route out of its tap.
            let r = kernel_route(&s.hv[0], prefix)?.context("hv1 has no local route")?;
            ensure!(r["dev"] == "tap-vm1", "{r}");
            // IPv6: the /128 from the unsolicited NA, over the same
            // (IPv4) sessions, next hop hv1's global fabric address.
            let p6 = s.daemons[2].wait_best(
                "the /128 from hv1",
                "2001:db8:1::5/128",
                CONVERGE,
                |p| next_hop(p).as_deref() == Some("2001:db8:ff::11"),
            )?;
            ensure!(sequence(p6.as_ref()) == Some(0), "{p6:?}");
            common::wait_for("hv3's kernel /128 via hv1", CONVERGE, || {
                Ok(kernel_route(&s.hv[2], "2001:db8:1::5/128")?
                    .is_some_and(|r| r["gateway"] == "2001:db8:ff::11"))
            })?;
            // `show vms` lists it, advertised with sequence 0.
            let vms = s.daemons[0].show(&["vms"])?;
            let row = &vms[0];
            ensure!(row["interface"] == "tap-vm1", "{vms}");
            let addresses = row["addresses"].as_array().cloned().unwrap_or_default();
            ensure!(addresses.len() == 2, "{vms}");
            ensure!(
                addresses
                    .iter()
                    .all(|a| a["advertised"] == true && a["sequence"] == 0),
                "{vms}"
            );
            // The VM reaches its anycast gateway.
            vm.netns
                .run("ping", &["-c", "1", "-W", "2", "10.1.1.1"])
                .context("ping the anycast gateway")?;

            // The interface goes away: withdrawn everywhere.
            vm.tap.clone().delete()?;
            for i in 0..3usize {
                s.daemons[i].wait_best("the /32 withdrawn", prefix, CONVERGE, |p| p.is_none())?;
                s.daemons[i].wait_best(
                    "the /128 withdrawn",
                    "2001:db8:1::5/128",
                    CONVERGE,
                    |p| p.is_none(),
                )?;
            }
            common::wait_for("kernel routes removed", CONVERGE, || {
                Ok(kernel_route(&s.hv[1], prefix)?.is_none()
                    && kernel_route(&s.hv[2], prefix)?.is_none()
                    && kernel_route(&s.hv[0], prefix)?.is_none())
            })?;
            Ok(())
        },
    );
}

/// Counts the replies of a bounded ping running in `netns`.
fn ping_in_background(
    netns: &Netns,
    target: Ipv4Addr,
    count: u32,
    interval: &str,
) -> Result<lab::Child> {
    let count = count.to_string();
    Ok(netns.spawn(
        "ping",
        "ping",
        &[
            "-n",
            "-c",
            &count,
            "-i",
            interval,
            "-W",
            "1",
            &target.to_string(),
        ],
    )?)
}

/// `(transmitted, received)` from ping's summary line.
fn ping_summary(log: &str) -> Result<(u32, u32)> {
    let line = log
        .lines()
        .find(|l| l.contains("packets transmitted"))
        .with_context(|| format!("no ping summary in:\n{}", tail(log, 10)))?;
    let numbers: Vec<u32> = line
        .split([',', ' '])
        .filter_map(|w| w.parse().ok())
        .collect();
    ensure!(numbers.len() >= 2, "ping summary: {line}");
    Ok((numbers[0], numbers[1]))
}

fn wait_exit(child: &mut lab::Child, timeout: Duration) -> Result<()> {
    common::wait_for("ping to finish", timeout, || Ok(!child.is_running()?))
}

/// The VM moves from hv1 to hv2 under a ping from a client on hv3: the
/// new host advertises sequence 1, the old one withdraws, hv3's kernel
/// points to hv2, and the ping keeps answering.
#[test]
fn a_vm_moves_between_hypervisors_under_a_ping() {
    run(
        "a_vm_moves_between_hypervisors_under_a_ping",
        "agent-move",
        |lab, left| {
            let s = site(lab, left, "")?;
            let mut vm = Vm::create(lab, "vm1", &s.hv[0], VM1, [0x52, 0x54, 0, 0, 1, 5])?;
            left.names.push(vm.netns.name().to_owned());
            let client = Vm::create(lab, "cl", &s.hv[2], CLIENT, [0x52, 0x54, 0, 0, 1, 0x50])?;
            left.names.push(client.netns.name().to_owned());
            vm.announce()?;
            client.announce()?;
            let prefix = "10.1.1.5/32";
            s.daemons[2].wait_best("hv3: vm1 via hv1", prefix, CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(1).as_str())
            })?;
            s.daemons[0].wait_best("hv1: the client via hv3", "10.1.1.50/32", CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(3).as_str())
            })?;
            client
                .netns
                .run("ping", &["-c", "1", "-W", "2", &VM1.to_string()])
                .context("client -> vm1 before the move")?;

            // 600 pings, 10 ms apart: 6 s, the move in the middle.
            let mut ping = ping_in_background(&client.netns, VM1, 600, "0.01")?;
            left.pids.push(ping.pid());
            std::thread::sleep(Duration::from_secs(2));
            vm.migrate(&s.hv[1])?;

            let p = s.daemons[2].wait_best("hv3: vm1 via hv2", prefix, CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(2).as_str())
            })?;
            ensure!(
                sequence(p.as_ref()) == Some(1),
                "sequence after the move: {p:?}"
            );
            let local = s.daemons[1].best(prefix)?;
            ensure!(
                local.as_ref().is_some_and(|p| p["source"] == "local"),
                "{local:?}"
            );
            common::wait_for("hv1 no longer holds vm1", CONVERGE, || {
                let paths = s.daemons[0].show(&["routes", prefix])?;
                let local = paths
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|r| r["paths"].as_array().cloned().unwrap_or_default())
                    .any(|p| p["source"] == "local");
                Ok(!local)
            })?;
            common::wait_for("hv3's kernel route via hv2", CONVERGE, || {
                Ok(kernel_route(&s.hv[2], prefix)?
                    .is_some_and(|r| r["gateway"] == host(2).as_str()))
            })?;
            wait_exit(&mut ping, Duration::from_secs(20))?;
            let (sent, received) = ping_summary(&ping.log())?;
            eprintln!("ping across the move: {received}/{sent} answered");
            ensure!(
                received + 50 >= sent,
                "the ping did not keep answering: {received}/{sent}\n{}",
                tail(&ping.log(), 5)
            );
            // The timeline on the third host shows the move.
            let moves = s.daemons[2].show(&["moves", prefix])?;
            let last = moves["moves"]
                .as_array()
                .and_then(|m| m.last())
                .cloned()
                .with_context(|| format!("no move recorded: {moves}"))?;
            ensure!(last["from"] == host(1).as_str(), "{moves}");
            ensure!(last["to"] == host(2).as_str(), "{moves}");
            ensure!(last["sequence"] == 1, "{moves}");
            // The new host measured its detection-to-advertise latency.
            let moves = s.daemons[1].show(&["moves", prefix])?;
            ensure!(
                moves["moves"]
                    .as_array()
                    .and_then(|m| m.last())
                    .is_some_and(|m| m["to"] == "local" && m["detection_to_advertise_us"].is_u64()),
                "{moves}"
            );
            Ok(())
        },
    );
}

/// Two hosts claim the same address with equal sequences (neither heard
/// the other's claim: their reflector, hv3, is frozen meanwhile): the
/// lower router id wins everywhere, and the other stops advertising it.
#[test]
fn an_equal_sequence_race_is_won_by_the_lower_router_id() {
    run(
        "an_equal_sequence_race_is_won_by_the_lower_router_id",
        "agent-race",
        |lab, left| {
            let mut s = site_with(lab, left, "", Mesh::ReflectorHv3)?;
            // The same address on hv2 and hv1, announced while the
            // reflector is frozen: both claim sequence 0.
            let a = Vm::create(lab, "vma", &s.hv[1], VM1, [0x52, 0x54, 0, 0, 2, 5])?;
            left.names.push(a.netns.name().to_owned());
            let b = Vm::create(lab, "vmb", &s.hv[0], VM1, [0x52, 0x54, 0, 0, 3, 5])?;
            left.names.push(b.netns.name().to_owned());
            let prefix = "10.1.1.5/32";
            s.daemons[2].signal(lab::Signal::Stop)?;
            a.announce()?;
            b.announce()?;
            for d in &s.daemons[..2] {
                d.wait_best("a local claim", prefix, CONVERGE, |p| {
                    p.is_some_and(|p| p["source"] == "local" && p["sequence"] == 0)
                })?;
            }
            s.daemons[2].signal(lab::Signal::Cont)?;
            for d in &s.daemons {
                d.wait_best("hv1 (the lower router id) wins", prefix, CONVERGE, |p| {
                    p.is_some_and(|p| {
                        p["source"] == "local" && d.name.contains("hv1")
                            || next_hop(Some(p)).as_deref() == Some(host(1).as_str())
                    })
                })?;
            }
            let best = s.daemons[2].best(prefix)?;
            ensure!(sequence(best.as_ref()) == Some(0), "{best:?}");
            common::wait_for("hv2 stops advertising", CONVERGE, || {
                let vms = s.daemons[1].show(&["vms"])?;
                Ok(vms.as_array().is_some_and(|v| {
                    v.iter().all(|row| {
                        row["addresses"]
                            .as_array()
                            .is_none_or(|a| a.iter().all(|x| x["advertised"] == false))
                    })
                }))
            })?;
            Ok(())
        },
    );
}

/// Six moves within a minute freeze the prefix (default: more than 5 in
/// 180 s), reported by `show moves` and by the CLI's table.
#[test]
fn six_moves_in_a_minute_freeze_the_prefix() {
    run(
        "six_moves_in_a_minute_freeze_the_prefix",
        "agent-flap",
        |lab, left| {
            let s = site(lab, left, "")?;
            let mut vm = Vm::create(lab, "vm1", &s.hv[0], VM1, [0x52, 0x54, 0, 0, 1, 5])?;
            left.names.push(vm.netns.name().to_owned());
            vm.announce()?;
            let prefix = "10.1.1.5/32";
            s.daemons[2].wait_best("vm1 via hv1", prefix, CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(1).as_str())
            })?;
            for n in 1..=6u8 {
                let (to, to_host) = if n % 2 == 1 { (1usize, 2u8) } else { (0, 1) };
                vm.migrate(&s.hv[to])?;
                s.daemons[2].wait_best(&format!("move {n}"), prefix, CONVERGE, |p| {
                    next_hop(p).as_deref() == Some(host(to_host).as_str())
                })?;
            }
            let moves = s.daemons[2].show(&["moves"])?;
            let frozen = moves["frozen"].as_array().cloned().unwrap_or_default();
            ensure!(
                frozen
                    .iter()
                    .any(|f| f["prefix"] == prefix && f["moves"] == 6),
                "not frozen on hv3: {moves}"
            );
            let table = s.daemons[2].cli(&["show", "moves"])?;
            let text = String::from_utf8_lossy(&table.stdout);
            ensure!(table.status.success(), "{text}");
            ensure!(
                text.to_lowercase().contains("frozen") && text.contains(prefix),
                "the table does not report the freeze:\n{text}"
            );
            Ok(())
        },
    );
}

/// SIGKILL of the daemon holding the VM, under a continuous ping: the
/// kernel keeps forwarding (no packet lost to a FIB flush), the restarted
/// daemon takes its routes over, and a route that went stale while it was
/// down is gone after the graceful-restart window.
#[test]
fn a_killed_daemon_restarts_without_losing_a_packet() {
    run(
        "a_killed_daemon_restarts_without_losing_a_packet",
        "agent-kill",
        |lab, left| {
            let mut s = site(lab, left, "")?;
            let vm = Vm::create(lab, "vm1", &s.hv[0], VM1, [0x52, 0x54, 0, 0, 1, 5])?;
            left.names.push(vm.netns.name().to_owned());
            let client = Vm::create(lab, "cl", &s.hv[2], CLIENT, [0x52, 0x54, 0, 0, 1, 0x50])?;
            left.names.push(client.netns.name().to_owned());
            // A VM on hv2 whose route hv1 learns, then loses while down.
            let other = Vm::create(
                lab,
                "vm2",
                &s.hv[1],
                Ipv4Addr::new(10, 1, 1, 6),
                [0x52, 0x54, 0, 0, 1, 6],
            )?;
            left.names.push(other.netns.name().to_owned());
            for v in [&vm, &client, &other] {
                v.announce()?;
            }
            s.daemons[2].wait_best("hv3: vm1 via hv1", "10.1.1.5/32", CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(1).as_str())
            })?;
            s.daemons[0].wait_best("hv1: the client", "10.1.1.50/32", CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(3).as_str())
            })?;
            common::wait_for("hv1's kernel route to vm2", CONVERGE, || {
                Ok(kernel_route(&s.hv[0], "10.1.1.6/32")?.is_some())
            })?;

            // 1000 pings, 10 ms apart: 10 s.
            let mut ping = ping_in_background(&client.netns, VM1, 1000, "0.01")?;
            left.pids.push(ping.pid());
            std::thread::sleep(Duration::from_secs(1));
            s.daemons[0].kill()?;
            // While hv1 is down, vm2's interface goes: its route is stale
            // in hv1's kernel.
            other.tap.clone().delete()?;
            std::thread::sleep(Duration::from_secs(1));
            ensure!(
                kernel_route(&s.hv[0], "10.1.1.5/32")?.is_some(),
                "the kernel lost vm1's route with the daemon"
            );
            s.daemons[0].restart()?;
            left.pids.extend(s.daemons[0].pid());
            wait_exit(&mut ping, Duration::from_secs(30))?;
            let (sent, received) = ping_summary(&ping.log())?;
            eprintln!("ping across SIGKILL and restart: {received}/{sent} answered");
            ensure!(
                sent == received,
                "packets lost across the restart: {received}/{sent}\n--- hv1 ---\n{}",
                tail(&s.daemons[0].log(), 40)
            );
            // hv1 advertises vm1 again.
            s.daemons[2].wait_best("hv3: vm1 via hv1 again", "10.1.1.5/32", CONVERGE, |p| {
                next_hop(p).as_deref() == Some(host(1).as_str())
            })?;
            // The stale route goes after the window (5 s).
            common::wait_for("the stale route swept", Duration::from_secs(20), || {
                Ok(kernel_route(&s.hv[0], "10.1.1.6/32")?.is_none())
            })?;
            ensure!(
                kernel_route(&s.hv[0], "10.1.1.5/32")?.is_some(),
                "vm1's route went with the sweep"
            );
            Ok(())
        },
    );
}
