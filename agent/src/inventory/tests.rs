//! The inventory's rules, one test each, named after the rule.

use std::time::{Duration, SystemTime};

use super::*;

const VNET0: u32 = 7;
const VNET1: u32 = 8;
const VM_MAC: MacAddr = MacAddr([0x52, 0x54, 0, 0, 0, 5]);

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn inventory() -> Inventory {
    Inventory::new(vec![InterfacePolicy {
        matcher: InterfaceMatcher::libvirt_default(),
        pools: vec![
            "10.1.1.0/24".parse().unwrap(),
            "2001:db8:1::/64".parse().unwrap(),
        ],
    }])
}

fn ifname(ifindex: u32) -> String {
    format!("vnet{}", ifindex - VNET0)
}

fn link(event: LinkEvent, ifindex: u32) -> Input {
    Input::Sighting(Sighting::Link(LinkSighting {
        event,
        ifindex,
        ifname: ifname(ifindex),
        mac: Some(MacAddr::ANYCAST_DEFAULT),
    }))
}

fn neigh(ifindex: u32, addr: &str, state: NudState) -> Input {
    Input::Sighting(Sighting::Neighbour(NeighbourSighting {
        ifindex,
        ifname: ifname(ifindex),
        ip: ip(addr),
        mac: VM_MAC,
        state,
    }))
}

fn received() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn announce(kind: AnnouncementKind, ifindex: u32, addr: Option<&str>) -> Input {
    Input::Sighting(Sighting::Announcement(Announcement {
        kind,
        ifindex,
        ifname: ifname(ifindex),
        mac: VM_MAC,
        ip: addr.map(ip),
        received: received(),
    }))
}

fn hook(h: Hook) -> Input {
    Input::Sighting(Sighting::Hook(h))
}

fn run(inv: &mut Inventory, inputs: impl IntoIterator<Item = Input>) -> Vec<Decision> {
    let mut out = Vec::new();
    for input in inputs {
        inv.handle(input, &mut out);
    }
    out
}

/// Decisions in short form: ("arrive", "vnet0", ["10.1.1.5"]).
fn short(decisions: &[Decision]) -> Vec<(&'static str, String, Vec<String>)> {
    let addrs = |a: &[IpAddr]| a.iter().map(ToString::to_string).collect::<Vec<_>>();
    decisions
        .iter()
        .map(|d| match d {
            Decision::Arrive { vm, addresses, .. } => {
                ("arrive", vm.ifname.clone(), addrs(addresses))
            }
            Decision::Prepare { vm, addresses } => ("prepare", vm.ifname.clone(), addrs(addresses)),
            Decision::Activate { vm, addresses, .. } => {
                ("activate", vm.ifname.clone(), addrs(addresses))
            }
            Decision::Depart { vm, addresses, .. } => {
                ("depart", vm.ifname.clone(), addrs(addresses))
            }
            Decision::Rejected { vm, address, .. } => {
                ("rejected", vm.ifname.clone(), vec![address.to_string()])
            }
            Decision::Conflict {
                address, seen_on, ..
            } => ("conflict", seen_on.clone(), vec![address.to_string()]),
        })
        .collect()
}

fn d(kind: &'static str, iface: &str, addrs: &[&str]) -> (&'static str, String, Vec<String>) {
    (
        kind,
        iface.to_string(),
        addrs.iter().map(|a| a.to_string()).collect(),
    )
}

#[test]
fn a_vm_arrives_when_its_first_address_is_seen_on_its_interface() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            link(LinkEvent::Up, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
            neigh(VNET0, "2001:db8:1::5", NudState::Stale),
        ],
    );
    assert_eq!(
        short(&out),
        vec![
            d("arrive", "vnet0", &["10.1.1.5"]),
            d("arrive", "vnet0", &["2001:db8:1::5"])
        ]
    );
    let Decision::Arrive { vm, evidence, .. } = &out[0] else {
        unreachable!()
    };
    assert_eq!(vm.mac, Some(VM_MAC));
    assert_eq!(
        evidence,
        &Evidence::Neighbour {
            state: NudState::Reachable
        }
    );
    let vms = inv.vms();
    assert_eq!(vms.len(), 1);
    assert_eq!(vms[0].addresses, vec![ip("10.1.1.5"), ip("2001:db8:1::5")]);
    assert_eq!(vms[0].state, VmState::Active);
}

#[test]
fn a_quiet_vm_is_never_withdrawn_for_being_quiet() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    let out = run(
        &mut inv,
        [
            neigh(VNET0, "10.1.1.5", NudState::Stale),
            neigh(VNET0, "10.1.1.5", NudState::Probe),
            neigh(VNET0, "10.1.1.5", NudState::Failed),
            neigh(VNET0, "10.1.1.5", NudState::Incomplete),
            neigh(VNET0, "10.1.1.5", NudState::None),
            link(LinkEvent::Down, VNET0),
            Input::Sighting(Sighting::Resync { detector: "neigh" }),
        ],
    );
    assert_eq!(short(&out), vec![]);
    assert_eq!(inv.owner(ip("10.1.1.5")).map(|v| v.vm.ifindex), Some(VNET0));
}

#[test]
fn invalid_neighbour_states_never_make_a_vm_arrive() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            neigh(VNET0, "10.1.1.5", NudState::Incomplete),
            neigh(VNET0, "10.1.1.6", NudState::Failed),
        ],
    );
    assert_eq!(short(&out), vec![]);
}

#[test]
fn removing_the_interface_departs_every_address_of_the_vm() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
            neigh(VNET0, "2001:db8:1::5", NudState::Reachable),
        ],
    );
    let out = run(&mut inv, [link(LinkEvent::Removed, VNET0)]);
    assert_eq!(
        short(&out),
        vec![d("depart", "vnet0", &["10.1.1.5", "2001:db8:1::5"])]
    );
    assert!(matches!(
        &out[0],
        Decision::Depart {
            reason: DepartReason::InterfaceRemoved,
            ..
        }
    ));
    assert!(inv.vms().is_empty());
    assert_eq!(inv.owner(ip("10.1.1.5")), None);
}

#[test]
fn an_interface_without_addresses_departs_silently() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            link(LinkEvent::Removed, VNET0),
        ],
    );
    assert_eq!(short(&out), vec![]);
}

#[test]
fn explicit_detach_departs_and_stale_neighbours_do_not_bring_it_back() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    let out = run(
        &mut inv,
        [
            hook(Hook::Detach {
                vm: "web1".into(),
                ifname: "vnet0".into(),
            }),
            neigh(VNET0, "10.1.1.5", NudState::Stale),
        ],
    );
    assert_eq!(short(&out), vec![d("depart", "vnet0", &["10.1.1.5"])]);
    assert!(matches!(
        &out[0],
        Decision::Depart {
            reason: DepartReason::Detached,
            ..
        }
    ));
}

#[test]
fn moved_away_departs_only_that_address_and_neighbours_do_not_reclaim_it() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
            neigh(VNET0, "10.1.1.6", NudState::Reachable),
        ],
    );
    let out = run(
        &mut inv,
        [
            Input::MovedAway {
                address: ip("10.1.1.5"),
            },
            Input::MovedAway {
                address: ip("10.1.1.99"),
            },
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    assert_eq!(short(&out), vec![d("depart", "vnet0", &["10.1.1.5"])]);
    assert!(matches!(
        &out[0],
        Decision::Depart {
            reason: DepartReason::MovedAway,
            ..
        }
    ));
    assert_eq!(inv.vms()[0].addresses, vec![ip("10.1.1.6")]);
}

#[test]
fn a_fresh_announcement_reclaims_an_address_that_moved_away() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    run(
        &mut inv,
        [Input::MovedAway {
            address: ip("10.1.1.5"),
        }],
    );
    let out = run(
        &mut inv,
        [announce(
            AnnouncementKind::GratuitousArp,
            VNET0,
            Some("10.1.1.5"),
        )],
    );
    assert_eq!(short(&out), vec![d("arrive", "vnet0", &["10.1.1.5"])]);
}

#[test]
fn addresses_outside_the_interface_pools_are_rejected_once_and_never_arrive() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "192.0.2.9", NudState::Reachable),
            neigh(VNET0, "192.0.2.9", NudState::Stale),
            announce(AnnouncementKind::GratuitousArp, VNET0, Some("192.0.2.9")),
            announce(
                AnnouncementKind::UnsolicitedNa,
                VNET0,
                Some("2001:db8:2::9"),
            ),
        ],
    );
    assert_eq!(
        short(&out),
        vec![
            d("rejected", "vnet0", &["192.0.2.9"]),
            d("rejected", "vnet0", &["2001:db8:2::9"])
        ]
    );
    let Decision::Rejected {
        reason: RejectReason::OutsidePool { pools },
        ..
    } = &out[0]
    else {
        unreachable!()
    };
    assert_eq!(pools.len(), 2);
    assert!(inv.vms()[0].addresses.is_empty());
}

#[test]
fn interfaces_without_a_pool_reject_every_address() {
    let mut inv = Inventory::new(vec![InterfacePolicy {
        matcher: InterfaceMatcher::new(["tap*"]).unwrap(),
        pools: vec!["10.1.1.0/24".parse().unwrap()],
    }]);
    let out = run(&mut inv, [neigh(VNET0, "10.1.1.5", NudState::Reachable)]);
    assert_eq!(short(&out), vec![d("rejected", "vnet0", &["10.1.1.5"])]);
}

#[test]
fn link_local_and_multicast_addresses_are_ignored_silently() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            neigh(VNET0, "fe80::5054:ff:fe00:5", NudState::Reachable),
            neigh(VNET0, "169.254.1.1", NudState::Reachable),
            announce(AnnouncementKind::UnsolicitedNa, VNET0, Some("fe80::1")),
        ],
    );
    assert_eq!(short(&out), vec![]);
}

#[test]
fn migrate_begin_prepares_and_the_first_announcement_activates() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            hook(Hook::MigrateBegin {
                vm: "web1".into(),
                ifname: "vnet0".into(),
                addresses: vec![ip("10.1.1.5"), ip("2001:db8:1::5")],
                mac: Some(VM_MAC),
            }),
        ],
    );
    assert_eq!(
        short(&out),
        vec![d("prepare", "vnet0", &["10.1.1.5", "2001:db8:1::5"])]
    );
    assert_eq!(inv.vms()[0].state, VmState::Prepared);
    let out = run(
        &mut inv,
        [
            announce(AnnouncementKind::Rarp, VNET0, None),
            announce(AnnouncementKind::Rarp, VNET0, None),
            announce(AnnouncementKind::GratuitousArp, VNET0, Some("10.1.1.5")),
        ],
    );
    assert_eq!(
        short(&out),
        vec![d("activate", "vnet0", &["10.1.1.5", "2001:db8:1::5"])]
    );
    let Decision::Activate { vm, evidence, .. } = &out[0] else {
        unreachable!()
    };
    assert_eq!(vm.vm.as_deref(), Some("web1"));
    assert_eq!(
        evidence,
        &Evidence::Announcement {
            kind: AnnouncementKind::Rarp,
            received: received()
        }
    );
    assert_eq!(inv.vms()[0].state, VmState::Active);
}

#[test]
fn a_neighbour_entry_from_the_vm_also_activates_a_prepared_destination() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            hook(Hook::MigrateBegin {
                vm: "web1".into(),
                ifname: "vnet0".into(),
                addresses: vec![ip("10.1.1.5")],
                mac: None,
            }),
        ],
    );
    let out = run(&mut inv, [neigh(VNET0, "10.1.1.5", NudState::Reachable)]);
    assert_eq!(short(&out), vec![d("activate", "vnet0", &["10.1.1.5"])]);
}

#[test]
fn migrate_begin_before_the_interface_exists_prepares_when_it_appears() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [hook(Hook::MigrateBegin {
            vm: "web1".into(),
            ifname: "vnet1".into(),
            addresses: vec![ip("10.1.1.5"), ip("192.0.2.1")],
            mac: None,
        })],
    );
    assert_eq!(short(&out), vec![]);
    let out = run(
        &mut inv,
        [link(LinkEvent::Appeared, VNET1), link(LinkEvent::Up, VNET1)],
    );
    assert_eq!(
        short(&out),
        vec![
            d("rejected", "vnet1", &["192.0.2.1"]),
            d("prepare", "vnet1", &["10.1.1.5"])
        ]
    );
}

#[test]
fn a_prepared_destination_that_vanishes_departs_without_activation() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            hook(Hook::MigrateBegin {
                vm: "web1".into(),
                ifname: "vnet0".into(),
                addresses: vec![ip("10.1.1.5")],
                mac: None,
            }),
        ],
    );
    let out = run(&mut inv, [link(LinkEvent::Removed, VNET0)]);
    assert_eq!(short(&out), vec![d("depart", "vnet0", &["10.1.1.5"])]);
}

#[test]
fn attach_before_the_interface_exists_arrives_when_it_appears() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            hook(Hook::Attach {
                vm: "db1".into(),
                ifname: "vnet0".into(),
                addresses: vec![ip("10.1.1.7")],
                mac: Some(VM_MAC),
            }),
            link(LinkEvent::Appeared, VNET0),
        ],
    );
    assert_eq!(short(&out), vec![d("arrive", "vnet0", &["10.1.1.7"])]);
    let Decision::Arrive { vm, evidence, .. } = &out[0] else {
        unreachable!()
    };
    assert_eq!((vm.vm.as_deref(), vm.mac), (Some("db1"), Some(VM_MAC)));
    assert_eq!(evidence, &Evidence::Hook);
}

#[test]
fn detach_of_a_vm_whose_interface_never_appeared_cancels_its_hook() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            hook(Hook::Attach {
                vm: "db1".into(),
                ifname: "vnet0".into(),
                addresses: vec![ip("10.1.1.7")],
                mac: None,
            }),
            hook(Hook::Detach {
                vm: "db1".into(),
                ifname: "vnet0".into(),
            }),
            link(LinkEvent::Appeared, VNET0),
        ],
    );
    assert_eq!(short(&out), vec![]);
}

#[test]
fn a_sighting_before_its_link_sighting_still_counts() {
    // Detectors are separate streams: the neighbour may come first.
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
            link(LinkEvent::Appeared, VNET0),
            link(LinkEvent::Up, VNET0),
        ],
    );
    assert_eq!(short(&out), vec![d("arrive", "vnet0", &["10.1.1.5"])]);
}

#[test]
fn an_announcement_on_another_local_interface_takes_the_address_over() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    let out = run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET1),
            announce(AnnouncementKind::GratuitousArp, VNET1, Some("10.1.1.5")),
        ],
    );
    assert_eq!(
        short(&out),
        vec![
            d("depart", "vnet0", &["10.1.1.5"]),
            d("arrive", "vnet1", &["10.1.1.5"])
        ]
    );
    assert!(matches!(
        &out[0],
        Decision::Depart { reason: DepartReason::MovedToInterface { ifname }, .. } if ifname == "vnet1"
    ));
    // The old interface going away now takes nothing with it.
    let out = run(&mut inv, [link(LinkEvent::Removed, VNET0)]);
    assert_eq!(short(&out), vec![]);
    assert_eq!(inv.owner(ip("10.1.1.5")).map(|v| v.vm.ifindex), Some(VNET1));
}

#[test]
fn a_neighbour_entry_on_another_local_interface_is_a_conflict_not_a_move() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    let out = run(
        &mut inv,
        [
            neigh(VNET1, "10.1.1.5", NudState::Reachable),
            neigh(VNET1, "10.1.1.5", NudState::Stale),
        ],
    );
    assert_eq!(short(&out), vec![d("conflict", "vnet1", &["10.1.1.5"])]);
    assert_eq!(inv.owner(ip("10.1.1.5")).map(|v| v.vm.ifindex), Some(VNET0));
}

#[test]
fn an_index_reused_under_another_name_is_a_new_interface() {
    let mut inv = inventory();
    run(
        &mut inv,
        [
            link(LinkEvent::Appeared, VNET0),
            neigh(VNET0, "10.1.1.5", NudState::Reachable),
        ],
    );
    // The Removed was lost (the detector resynced): same index, new name.
    let out = run(
        &mut inv,
        [Input::Sighting(Sighting::Link(LinkSighting {
            event: LinkEvent::Appeared,
            ifindex: VNET0,
            ifname: "tap9".into(),
            mac: None,
        }))],
    );
    assert_eq!(short(&out), vec![d("depart", "vnet0", &["10.1.1.5"])]);
}

#[test]
fn decisions_serialize_for_the_control_socket() {
    let mut inv = inventory();
    let out = run(
        &mut inv,
        [announce(
            AnnouncementKind::GratuitousArp,
            VNET0,
            Some("10.1.1.5"),
        )],
    );
    let json = serde_json::to_value(&out[0]).unwrap();
    assert_eq!(json["decision"], "arrive");
    assert_eq!(json["vm"]["ifname"], "vnet0");
    assert_eq!(json["addresses"][0], "10.1.1.5");
    assert_eq!(json["evidence"]["announcement"]["kind"], "gratuitous-arp");
}
