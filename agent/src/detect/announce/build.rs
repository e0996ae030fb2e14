//! Frames a hypervisor or guest sends to announce a VM, for tests and the
//! lab's migration scenarios.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{ETHERTYPE_ARP, ETHERTYPE_IPV6, ETHERTYPE_RARP, MacAddr};

const BROADCAST: [u8; 6] = [0xff; 6];

fn arp(
    ethertype: u16,
    oper: u16,
    sha: MacAddr,
    spa: Ipv4Addr,
    tha: MacAddr,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&BROADCAST);
    f.extend_from_slice(&sha.0);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes());
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&[6, 4]);
    f.extend_from_slice(&oper.to_be_bytes());
    f.extend_from_slice(&sha.0);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha.0);
    f.extend_from_slice(&tpa.octets());
    f.resize(60, 0); // minimum Ethernet frame without FCS
    f
}

/// The RARP "request reverse" QEMU sends after a migration
/// (`qemu_announce_self`): broadcast, sender = target = the VM's MAC.
pub fn rarp(mac: MacAddr) -> Vec<u8> {
    arp(
        ETHERTYPE_RARP,
        3,
        mac,
        Ipv4Addr::UNSPECIFIED,
        mac,
        Ipv4Addr::UNSPECIFIED,
    )
}

/// A gratuitous ARP request (`arping -U`): broadcast, sender IP =
/// target IP, target MAC zero.
pub fn gratuitous_arp(mac: MacAddr, ip: Ipv4Addr) -> Vec<u8> {
    arp(ETHERTYPE_ARP, 1, mac, ip, MacAddr([0; 6]), ip)
}

/// An ordinary ARP request (who-has `target` tell `ip`).
pub fn arp_request(mac: MacAddr, ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    arp(ETHERTYPE_ARP, 1, mac, ip, MacAddr([0; 6]), target)
}

/// An unsolicited neighbour advertisement (Override set, Solicited
/// clear) for `ip`, from `ip`, to ff02::1, with the target
/// link-layer address option and a correct checksum.
pub fn unsolicited_na(mac: MacAddr, ip: Ipv6Addr) -> Vec<u8> {
    neighbour_advertisement(
        mac,
        ip,
        ip,
        Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1),
        0x2000_0000,
    )
}

/// A neighbour advertisement with the given flags (R 0x80000000, S
/// 0x40000000, O 0x20000000).
pub fn neighbour_advertisement(
    mac: MacAddr,
    src: Ipv6Addr,
    target: Ipv6Addr,
    dst: Ipv6Addr,
    flags: u32,
) -> Vec<u8> {
    let mut icmp = Vec::with_capacity(32);
    icmp.extend_from_slice(&[136, 0, 0, 0]);
    icmp.extend_from_slice(&flags.to_be_bytes());
    icmp.extend_from_slice(&target.octets());
    icmp.extend_from_slice(&[2, 1]);
    icmp.extend_from_slice(&mac.0);
    let checksum = icmpv6_checksum(src, dst, &icmp);
    if let Some(c) = icmp.get_mut(2..4) {
        c.copy_from_slice(&checksum.to_be_bytes());
    }
    let mut dst_mac = [0x33, 0x33, 0, 0, 0, 0];
    if let Some(tail) = dst_mac.get_mut(2..) {
        tail.copy_from_slice(dst.octets().get(12..).unwrap_or(&[0; 4]));
    }
    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&u16::try_from(icmp.len()).unwrap_or(0).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&icmp);
    f
}

/// RFC 4443 section 2.3: the one's complement sum over the pseudo
/// header and the message.
fn icmpv6_checksum(src: Ipv6Addr, dst: Ipv6Addr, icmp: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut add = |bytes: &[u8]| {
        for pair in bytes.chunks(2) {
            let hi = pair.first().copied().unwrap_or(0);
            let lo = pair.get(1).copied().unwrap_or(0);
            sum += u32::from(u16::from_be_bytes([hi, lo]));
        }
    };
    add(&src.octets());
    add(&dst.octets());
    add(&u32::try_from(icmp.len()).unwrap_or(0).to_be_bytes());
    add(&[0, 0, 0, 58]);
    add(icmp);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
