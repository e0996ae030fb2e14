//! VM detection and the anycast gateway, in network namespaces.
//!
//! The detectors run *inside* a hypervisor namespace: a thread `setns`es
//! into it, then builds its tokio runtime and sockets there (a
//! [`HypervisorAgent`]), and applies the anycast gateway to every
//! VM-facing interface that appears, as the daemon will.
//!
//! ```text
//!   vm: eth0 10.1.1.5/24 02:00:00:00:00:05      hv1: vnet0 (ee:ee:ee:ee:ee:ee)
//!       2001:db8:1::5/64               <-- veth -->    10.1.1.1/32 + proxy ARP
//!       default via 10.1.1.1                           proxy NDP 2001:db8:1::1
//!       default via 2001:db8:1::1                      10.1.1.5/32 dev vnet0
//!
//!   live migration: vnet0 moves to hv2 (same gateway MAC and address there)
//! ```

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime};

use agent::detect::announce::build;
use agent::detect::{AnnouncementKind, InterfaceMatcher, LinkEvent, MacAddr, Sighting};
use agent::gateway::AnycastGateway;
use agent::inventory::{Decision, Input, InterfacePolicy, Inventory};
use anyhow::ensure;
use hostroute_tests::{assert_cleaned_up, netns_available};
use ipnet::IpNet;
use lab::{Iface, Lab, Netns};

#[path = "detect/harness.rs"]
mod harness;

use harness::*;

#[test]
fn link_sightings_come_in_order_including_links_created_during_the_initial_dump() {
    if !netns_available(
        "link_sightings_come_in_order_including_links_created_during_the_initial_dump",
    ) {
        return;
    }
    let mut names = Vec::new();
    Lab::run("detect-link", |lab| -> anyhow::Result<()> {
        let hv = Netns::new(lab, "hv")?;
        let vm = Netns::new(lab, "vm")?;
        names = vec![hv.name().to_string(), vm.name().to_string()];
        // Many other links, so the initial dump spans many messages.
        let batch = lab.dir().join("fillers.batch");
        let mut text = String::new();
        for i in 0..400 {
            let _ = writeln!(text, "link add f{i}a type veth peer name f{i}b");
        }
        std::fs::write(&batch, text)?;
        hv.ip(&["-batch", &batch.to_string_lossy()])?;
        let before = lab::veth(&vm, "eth0", &hv, "vnet0")?;

        let mut agent = HypervisorAgent::start(
            &hv,
            AgentOptions {
                hold: true,
                ..AgentOptions::default()
            },
        )?;
        // Subscribed, not dumped yet: the classic race window.
        hv.ip(&[
            "link",
            "add",
            "vnet1",
            "type",
            "veth",
            "peer",
            "name",
            "eth1",
            "netns",
            vm.name(),
        ])?;
        // Links created while the dump runs (and just after).
        let hv_name = hv.name().to_string();
        let creator = std::thread::spawn(move || -> lab::Result<Vec<Instant>> {
            let mut created = Vec::new();
            for i in 2..10 {
                lab::process::run_command(std::process::Command::new("ip").args([
                    "-n",
                    &hv_name,
                    "link",
                    "add",
                    &format!("vnet{i}"),
                    "type",
                    "veth",
                    "peer",
                    "name",
                    &format!("x{i}"),
                ]))?;
                created.push(Instant::now());
            }
            Ok(created)
        });
        let go = Instant::now();
        agent.go();
        let created = creator
            .join()
            .map_err(|_| anyhow::anyhow!("link creator panicked"))??;

        agent.wait_link("vnet0", LinkEvent::Up)?;
        agent.wait_link("vnet1", LinkEvent::Appeared)?;
        for i in 2..10 {
            agent.wait_link(&format!("vnet{i}"), LinkEvent::Appeared)?;
        }
        // The whole dump is reported at once, when it ends.
        if let Some((dumped, _)) = agent.seen.first() {
            let during = created.iter().filter(|c| *c < dumped).count();
            eprintln!(
                "initial dump reported {:?} after go; {during} of {} links created meanwhile",
                dumped.duration_since(go),
                created.len()
            );
        }
        // vnet1 through its life.
        let vnet1 = Iface::new(&hv, "vnet1");
        let eth1 = Iface::new(&vm, "eth1");
        eth1.up()?;
        vnet1.up()?;
        agent.wait_link("vnet1", LinkEvent::Up)?;
        vnet1.down()?;
        agent.wait_link("vnet1", LinkEvent::Down)?;
        vnet1.delete()?;
        agent.wait_link("vnet1", LinkEvent::Removed)?;
        for i in 2..10 {
            hv.ip(&["link", "del", &format!("vnet{i}")])?;
            agent.wait_link(&format!("vnet{i}"), LinkEvent::Removed)?;
        }
        before.b.delete()?;
        agent.wait_link("vnet0", LinkEvent::Removed)?;
        agent.settle(Duration::from_millis(200));

        let events = agent.link_events();
        use LinkEvent::*;
        // Deleting a link that is up takes it down first (the kernel's
        // own RTM_NEWLINK before RTM_DELLINK).
        ensure!(
            events.get("vnet0") == Some(&vec![Appeared, Up, Down, Removed]),
            "vnet0: {:?}",
            events.get("vnet0")
        );
        ensure!(
            events.get("vnet1") == Some(&vec![Appeared, Up, Down, Removed]),
            "vnet1: {:?}",
            events.get("vnet1")
        );
        for i in 2..10 {
            let name = format!("vnet{i}");
            ensure!(
                events.get(&name) == Some(&vec![Appeared, Removed]),
                "{name}: {:?}",
                events.get(&name)
            );
        }
        let others: Vec<&String> = events.keys().filter(|n| !n.starts_with("vnet")).collect();
        ensure!(
            others.is_empty(),
            "links that are not VM-facing were reported: {others:?}"
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn an_overrun_resyncs_without_losing_or_doubling_a_link() {
    if !netns_available("an_overrun_resyncs_without_losing_or_doubling_a_link") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("detect-overrun", |lab| -> anyhow::Result<()> {
        let hv = Netns::new(lab, "hv")?;
        names = vec![hv.name().to_string()];
        // The smallest receive buffer the kernel allows, and nobody reading:
        // the link events below overflow it.
        let mut agent = HypervisorAgent::start(
            &hv,
            AgentOptions {
                hold: true,
                link_rcvbuf: Some(1),
                ..AgentOptions::default()
            },
        )?;
        let batch = lab.dir().join("burst.batch");
        let mut text = String::new();
        for i in 0..40 {
            let _ = writeln!(text, "link add vnet{i} type veth peer name x{i}");
        }
        // Created and gone while events were lost.
        text.push_str("link add vnet-gone type veth peer name x-gone\nlink del vnet-gone\n");
        std::fs::write(&batch, text)?;
        hv.ip(&["-batch", &batch.to_string_lossy()])?;
        agent.go();
        for i in 0..40 {
            agent.wait_link(&format!("vnet{i}"), LinkEvent::Appeared)?;
        }
        agent.wait_for("a resync", WAIT, |s| match s {
            Seen::Sighting(Sighting::Resync { detector: "link" }) => Some(()),
            _ => None,
        })?;
        hv.ip(&["link", "del", "vnet0"])?;
        agent.wait_link("vnet0", LinkEvent::Removed)?;
        agent.settle(Duration::from_millis(200));
        let events = agent.link_events();
        ensure!(
            events.get("vnet0") == Some(&vec![LinkEvent::Appeared, LinkEvent::Removed]),
            "vnet0: {:?}",
            events.get("vnet0")
        );
        for i in 1..40 {
            let name = format!("vnet{i}");
            ensure!(
                events.get(&name) == Some(&vec![LinkEvent::Appeared]),
                "{name}: {:?}",
                events.get(&name)
            );
        }
        let gone = events.get("vnet-gone");
        ensure!(
            gone.is_none() || gone == Some(&vec![LinkEvent::Appeared, LinkEvent::Removed]),
            "vnet-gone: {gone:?}"
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn the_gateway_answers_with_the_anycast_mac_and_the_vm_address_is_sighted() {
    if !netns_available("the_gateway_answers_with_the_anycast_mac_and_the_vm_address_is_sighted") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("detect-gw", |lab| -> anyhow::Result<()> {
        let hv = Netns::new(lab, "hv")?;
        let vm = Netns::new(lab, "vm")?;
        names = vec![hv.name().to_string(), vm.name().to_string()];
        let mut agent = HypervisorAgent::start(&hv, with_gateway())?;
        let link = vm_link(&vm, &hv)?;
        agent.wait_gateway("vnet0")?;
        host_routes(&hv)?;
        ensure!(
            link.b.mac()?.0 == MacAddr::ANYCAST_DEFAULT.0,
            "vnet0's MAC is not the gateway's"
        );

        lab::wait_until(
            "the VM to ping its gateway",
            WAIT,
            Duration::from_millis(100),
            || ping(&vm, &GW4.to_string()),
        )?;
        let entry = vm_neigh(&vm, &GW4.to_string())?;
        ensure!(
            entry.as_ref().map(|(mac, _)| mac.as_str()) == Some("ee:ee:ee:ee:ee:ee"),
            "the VM's ARP entry for its gateway: {entry:?}"
        );
        agent.wait_for(
            "a neighbour sighting of the VM's IPv4 address",
            WAIT,
            |s| match s {
                Seen::Sighting(Sighting::Neighbour(n))
                    if n.ip == IpAddr::V4(VM4) && n.mac == VM_MAC && n.ifname == "vnet0" =>
                {
                    Some(())
                }
                _ => None,
            },
        )?;

        // IPv6: the VM resolves its gateway through proxy NDP.
        let _ = ping(&vm, &GW6.to_string());
        lab::wait_until(
            "the VM to resolve its IPv6 gateway",
            WAIT,
            Duration::from_millis(100),
            || {
                let _ = ping(&vm, &GW6.to_string());
                Ok(vm_neigh(&vm, &GW6.to_string())
                    .ok()
                    .flatten()
                    .is_some_and(|(mac, _)| mac == "ee:ee:ee:ee:ee:ee"))
            },
        )?;
        agent.wait_for(
            "a neighbour sighting of the VM's IPv6 address",
            WAIT,
            |s| match s {
                Seen::Sighting(Sighting::Neighbour(n))
                    if n.ip == IpAddr::V6(VM6) && n.mac == VM_MAC =>
                {
                    Some(())
                }
                _ => None,
            },
        )?;
        // Applying again changes nothing, and every setting landed in hv.
        let ifindex = link.b.index()?;
        run_in_netns(&hv, async move {
            let (connection, handle, _) = rtnetlink::new_connection()?;
            tokio::spawn(connection);
            let gateway = AnycastGateway::new(handle, gateway());
            gateway.apply(ifindex, "vnet0").await?;
            gateway.apply(ifindex, "vnet0").await?;
            Ok(())
        })?;
        let addrs = link.b.addrs()?;
        let gw4: IpNet = IpNet::new(IpAddr::V4(GW4), 32)?;
        ensure!(
            addrs.iter().filter(|a| **a == gw4).count() == 1,
            "vnet0's addresses: {addrs:?}"
        );
        let proxies = hv.ip(&["-6", "neigh", "show", "proxy", "dev", "vnet0"])?;
        ensure!(
            proxies.matches(&GW6.to_string()).count() == 1,
            "proxy entries: {proxies}"
        );
        for (key, want) in [
            ("net.ipv4.conf.vnet0.proxy_arp", "1"),
            ("net.ipv4.neigh.vnet0.proxy_delay", "0"),
            ("net.ipv6.conf.vnet0.proxy_ndp", "1"),
            ("net.ipv6.neigh.vnet0.proxy_delay", "0"),
            ("net.ipv6.conf.vnet0.forwarding", "1"),
            ("net.ipv6.conf.all.forwarding", "1"),
            ("net.ipv4.ip_forward", "1"),
        ] {
            let got = hv.run("sysctl", &["-n", key])?;
            ensure!(got.trim() == want, "{key} = {got:?} in hv");
        }

        // Our own proxy entry is never a sighting.
        agent.settle(Duration::from_millis(200));
        let proxies: Vec<_> = agent
            .sightings()
            .into_iter()
            .filter(|s| matches!(s, Sighting::Neighbour(n) if n.ip == IpAddr::V6(GW6)))
            .collect();
        ensure!(proxies.is_empty(), "{proxies:?}");
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn announcements_are_sighted_with_address_mac_and_receive_time() {
    if !netns_available("announcements_are_sighted_with_address_mac_and_receive_time") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("detect-announce", |lab| -> anyhow::Result<()> {
        let hv = Netns::new(lab, "hv")?;
        let vm = Netns::new(lab, "vm")?;
        names = vec![hv.name().to_string(), vm.name().to_string()];
        let _link = vm_link(&vm, &hv)?;
        // An interface that is not VM-facing: announcements there are not ours.
        let _uplink = lab::veth(&vm, "eth9", &hv, "uplink0")?;
        let mut agent = HypervisorAgent::start(&hv, AgentOptions::default())?;
        agent.wait_link("vnet0", LinkEvent::Up)?;

        let start = SystemTime::now();
        send_frame(
            &vm,
            "eth9",
            &build::gratuitous_arp(VM_MAC, Ipv4Addr::new(10, 9, 9, 9)),
        )?;
        send_frame(
            &vm,
            "eth0",
            &build::arp_request(VM_MAC, VM4, Ipv4Addr::new(10, 1, 1, 77)),
        )?;
        send_frame(&vm, "eth0", &build::gratuitous_arp(VM_MAC, VM4))?;
        send_frame(&vm, "eth0", &build::rarp(VM_MAC))?;
        send_frame(&vm, "eth0", &build::unsolicited_na(VM_MAC, VM6))?;
        let mut got = Vec::new();
        while got.len() < 3 {
            let a = agent.wait_for("announcements", WAIT, |s| match s {
                Seen::Sighting(Sighting::Announcement(a)) => Some(a.clone()),
                _ => None,
            })?;
            got.push(a);
        }
        let end = SystemTime::now();
        let summary: Vec<(AnnouncementKind, &str, MacAddr, Option<IpAddr>)> = got
            .iter()
            .map(|a| (a.kind, a.ifname.as_str(), a.mac, a.ip))
            .collect();
        ensure!(
            summary
                == vec![
                    (
                        AnnouncementKind::GratuitousArp,
                        "vnet0",
                        VM_MAC,
                        Some(IpAddr::V4(VM4))
                    ),
                    (AnnouncementKind::Rarp, "vnet0", VM_MAC, None),
                    (
                        AnnouncementKind::UnsolicitedNa,
                        "vnet0",
                        VM_MAC,
                        Some(IpAddr::V6(VM6))
                    ),
                ],
            "announcements: {summary:?}"
        );
        for a in &got {
            ensure!(
                a.received >= start && a.received <= end,
                "receive time {:?} outside [{start:?}, {end:?}]",
                a.received
            );
        }

        // The inventory, fed what the detectors saw, makes the VM arrive.
        let mut inventory = Inventory::new(vec![InterfacePolicy {
            matcher: InterfaceMatcher::libvirt_default(),
            pools: vec!["10.1.1.0/24".parse()?, "2001:db8:1::/64".parse()?],
        }]);
        let mut decisions = Vec::new();
        for s in agent.sightings() {
            inventory.handle(Input::Sighting(s), &mut decisions);
        }
        let arrived: Vec<IpAddr> = decisions
            .iter()
            .filter_map(|d| match d {
                Decision::Arrive { addresses, .. } => Some(addresses.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        ensure!(
            arrived.contains(&IpAddr::V4(VM4)) && arrived.contains(&IpAddr::V6(VM6)),
            "decisions: {decisions:?}"
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
}

#[test]
fn a_moved_vm_keeps_its_gateway_entry_and_pings_through_the_new_hypervisor() {
    if !netns_available("a_moved_vm_keeps_its_gateway_entry_and_pings_through_the_new_hypervisor") {
        return;
    }
    let mut names = Vec::new();
    Lab::run("detect-move", |lab| -> anyhow::Result<()> {
        let vm = Netns::new(lab, "vm")?;
        let hv1 = Netns::new(lab, "hv1")?;
        let hv2 = Netns::new(lab, "hv2")?;
        names = vec![
            vm.name().to_string(),
            hv1.name().to_string(),
            hv2.name().to_string(),
        ];
        let mut agent1 = HypervisorAgent::start(&hv1, with_gateway())?;
        let mut agent2 = HypervisorAgent::start(&hv2, with_gateway())?;
        let mut link = vm_link(&vm, &hv1)?;
        agent1.wait_gateway("vnet0")?;
        host_routes(&hv1)?;
        lab::wait_until(
            "the VM to ping its gateway on hv1",
            WAIT,
            Duration::from_millis(100),
            || ping(&vm, &GW4.to_string()),
        )?;
        let before = vm_neigh(&vm, &GW4.to_string())?;
        ensure!(
            before.as_ref().map(|(m, _)| m.as_str()) == Some("ee:ee:ee:ee:ee:ee"),
            "{before:?}"
        );

        // The live migration: the VM's vNIC moves to hv2.
        let announced_on_hv1 = |a: &HypervisorAgent| {
            a.sightings()
                .iter()
                .filter(|s| matches!(s, Sighting::Announcement(_)))
                .count()
        };
        let hv1_before = announced_on_hv1(&agent1);
        link.b.move_to(&hv2)?;
        agent1.wait_link("vnet0", LinkEvent::Removed)?;
        agent2.wait_link("vnet0", LinkEvent::Appeared)?;
        agent2.wait_gateway("vnet0")?;
        host_routes(&hv2)?;
        // As QEMU would, the VM announces itself at its new home.
        send_frame(&vm, "eth0", &build::rarp(VM_MAC))?;
        send_frame(&vm, "eth0", &build::gratuitous_arp(VM_MAC, VM4))?;
        agent2.wait_for("the VM's RARP on hv2", WAIT, |s| match s {
            Seen::Sighting(Sighting::Announcement(a))
                if a.kind == AnnouncementKind::Rarp && a.ifname == "vnet0" && a.mac == VM_MAC =>
            {
                Some(())
            }
            _ => None,
        })?;

        // The VM's ARP entry for its gateway was not invalidated: same MAC.
        let after = vm_neigh(&vm, &GW4.to_string())?;
        ensure!(
            after.as_ref().map(|(m, _)| m.as_str()) == Some("ee:ee:ee:ee:ee:ee")
                && !after
                    .as_ref()
                    .is_some_and(|(_, s)| s == "FAILED" || s == "INCOMPLETE"),
            "after the move: {after:?}"
        );
        ensure!(link.b.netns() == hv2.name() && link.b.mac()?.0 == MacAddr::ANYCAST_DEFAULT.0);
        // hv2 answers now: its counters move, and it learns the VM.
        let rx_before = rx_packets(&hv2, "vnet0")?;
        lab::wait_until(
            "the VM to ping its gateway on hv2",
            WAIT,
            Duration::from_millis(100),
            || ping(&vm, &GW4.to_string()),
        )?;
        ensure!(
            rx_packets(&hv2, "vnet0")? > rx_before,
            "hv2's vnet0 received nothing"
        );
        agent2.wait_for("hv2 to learn the VM's address", WAIT, |s| match s {
            Seen::Sighting(Sighting::Neighbour(n)) if n.ip == IpAddr::V4(VM4) => Some(()),
            _ => None,
        })?;
        agent1.settle(Duration::from_millis(100));
        ensure!(
            announced_on_hv1(&agent1) == hv1_before,
            "hv1 saw an announcement after the move"
        );
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e:#}"));
    assert_cleaned_up(&names, &[], &[]);
}
