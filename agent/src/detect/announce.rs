//! Announcement detector: the frames a VM (or its hypervisor, for it)
//! sends when it lands somewhere, sniffed on VM-facing interfaces.
//!
//! - **RARP** (ethertype 0x8035, opcode 3 "request reverse"): QEMU sends a
//!   few for each NIC right after a live migration, with the VM's MAC as
//!   sender and target hardware address. It carries no IP.
//! - **Gratuitous ARP**: an ARP request or reply whose sender IP equals its
//!   target IP (`arping -U`, `arp_notify`, guests after a migration).
//! - **Unsolicited neighbour advertisement**: ICMPv6 type 136 with the
//!   Solicited flag clear and the Override flag set, usually to ff02::1
//!   (`ndisc_notify`, guests after a migration).
//!
//! One `AF_PACKET` socket for the whole namespace, with a classic BPF
//! filter so the kernel only queues ARP, RARP and ICMPv6 type 136 frames
//! that were received (not sent) by this host; the frame's interface
//! (`sll_ifindex`) is then checked against the VM-facing patterns. The
//! socket is not bound to an interface (binding needs a raw
//! `sockaddr_ll`, which the safe socket APIs cannot build), which also
//! means interfaces appearing later are covered at once.
//!
//! Each frame's kernel receive time (`SO_TIMESTAMPNS`) travels with the
//! sighting, so detection-to-advertise latency can be measured from the
//! moment the frame hit the host.
//!
//! [`parse_frame`] is pure and bounds-checked: every read goes through
//! `split_first_chunk`, so no frame, however short or odd, can panic it.
//! VLAN tags (802.1Q/802.1ad) are skipped if present. IPv6 extension
//! headers are not followed (neighbour discovery does not use them), and
//! the ICMPv6 checksum is not verified (virtual NICs with checksum offload
//! may hand over frames whose checksum is not filled in yet); the
//! RFC 4861 section 7.1.2 checks that do not need it are made.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime};

use nix::sys::socket::{LinkAddr, MsgFlags, recvmsg, setsockopt, sockopt};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use tokio::io::unix::AsyncFd;
use tracing::{debug, trace};

use super::{
    Announcement, AnnouncementKind, DetectError, Detector, InterfaceMatcher, MacAddr, Sighting,
    SightingStream,
};

const NAME: &str = "announce";

pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_RARP: u16 = 0x8035;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETH_P_ALL: u16 = 0x0003;
const IPPROTO_ICMPV6: u8 = 58;
const ICMPV6_NEIGHBOUR_ADVERTISEMENT: u8 = 136;
const ARP_REQUEST: u16 = 1;
const ARP_REPLY: u16 = 2;
const RARP_REQUEST: u16 = 3;
const RARP_REPLY: u16 = 4;
const NA_FLAG_SOLICITED: u32 = 0x4000_0000;
const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;
const ND_OPT_TARGET_LLADDR: u8 = 2;
/// `PACKET_OUTGOING`: a frame this host sent.
const PACKET_OUTGOING: u8 = 4;

/// An announcement found in a frame (before the interface is known).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub kind: AnnouncementKind,
    pub mac: MacAddr,
    pub ip: Option<IpAddr>,
}

/// Why a frame of an announcing kind was not a valid one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed frame: {0}")]
pub struct Malformed(pub &'static str);

/// A bounds-checked reader over a frame.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Malformed> {
        let (head, rest) = self.0.split_first_chunk::<N>().ok_or(Malformed(what))?;
        self.0 = rest;
        Ok(*head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, Malformed> {
        self.array::<1>(what).map(|[b]| b)
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, Malformed> {
        self.array::<2>(what).map(u16::from_be_bytes)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, Malformed> {
        self.array::<4>(what).map(u32::from_be_bytes)
    }

    fn mac(&mut self, what: &'static str) -> Result<MacAddr, Malformed> {
        self.array::<6>(what).map(MacAddr)
    }

    fn skip(&mut self, n: usize, what: &'static str) -> Result<(), Malformed> {
        self.0 = self.0.get(n..).ok_or(Malformed(what))?;
        Ok(())
    }
}

/// Parses an Ethernet frame. `Ok(None)`: not an announcement (another
/// ethertype, an ordinary ARP, a solicited NA...). `Err`: a frame of an
/// announcing kind that is malformed. Never panics.
pub fn parse_frame(frame: &[u8]) -> Result<Option<Parsed>, Malformed> {
    let mut r = Reader(frame);
    let _dst = r.mac("ethernet header")?;
    let src = r.mac("ethernet header")?;
    let mut ethertype = r.u16("ethernet header")?;
    // At most two VLAN tags (802.1ad outer, 802.1Q inner).
    for _ in 0..2 {
        if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
            r.skip(2, "VLAN tag")?;
            ethertype = r.u16("VLAN tag")?;
        }
    }
    match ethertype {
        ETHERTYPE_ARP | ETHERTYPE_RARP => parse_arp(ethertype, r),
        ETHERTYPE_IPV6 => parse_ipv6(src, r),
        _ => Ok(None),
    }
}

/// RFC 826 / RFC 903 (Ethernet + IPv4 only).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-------------------------------+-------------------------------+
/// |      HTYPE (1 = Ethernet)     |       PTYPE (0x0800)          |
/// +---------------+---------------+-------------------------------+
/// | HLEN (6)      | PLEN (4)      |   OPER (1,2 ARP; 3,4 RARP)    |
/// +---------------+---------------+-------------------------------+
/// | SHA (6) | SPA (4) | THA (6) | TPA (4)                         |
/// +---------------------------------------------------------------+
/// ```
fn parse_arp(ethertype: u16, mut r: Reader<'_>) -> Result<Option<Parsed>, Malformed> {
    let htype = r.u16("ARP header")?;
    let ptype = r.u16("ARP header")?;
    let hlen = r.u8("ARP header")?;
    let plen = r.u8("ARP header")?;
    let oper = r.u16("ARP header")?;
    if htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 {
        // Another hardware or protocol: not ours to read.
        return Ok(None);
    }
    let sha = r.mac("ARP addresses")?;
    let spa = Ipv4Addr::from(r.array::<4>("ARP addresses")?);
    let _tha = r.mac("ARP addresses")?;
    let tpa = Ipv4Addr::from(r.array::<4>("ARP addresses")?);
    if sha.is_multicast() || sha.is_zero() {
        return Err(Malformed(
            "ARP sender hardware address is not a unicast MAC",
        ));
    }
    match (ethertype, oper) {
        (ETHERTYPE_RARP, RARP_REQUEST | RARP_REPLY) => Ok(Some(Parsed {
            kind: AnnouncementKind::Rarp,
            mac: sha,
            ip: None,
        })),
        (ETHERTYPE_ARP, ARP_REQUEST | ARP_REPLY) if spa == tpa && !spa.is_unspecified() => {
            Ok(Some(Parsed {
                kind: AnnouncementKind::GratuitousArp,
                mac: sha,
                ip: Some(IpAddr::V4(spa)),
            }))
        }
        _ => Ok(None),
    }
}

/// RFC 8200 fixed header, then RFC 4861 section 4.4:
///
/// ```text
/// +---------------+---------------+-------------------------------+
/// |  Type (136)   |   Code (0)    |          Checksum             |
/// +-+-+-+---------+---------------+-------------------------------+
/// |R|S|O|                     Reserved                            |
/// +-+-+-+---------------------------------------------------------+
/// |                   Target Address (16 octets)                  |
/// +---------------------------------------------------------------+
/// |   Options (type 2: target link-layer address) ...
/// ```
fn parse_ipv6(src: MacAddr, mut r: Reader<'_>) -> Result<Option<Parsed>, Malformed> {
    let version = r.u8("IPv6 header")? >> 4;
    r.skip(3, "IPv6 header")?;
    let payload_len = usize::from(r.u16("IPv6 header")?);
    let next_header = r.u8("IPv6 header")?;
    let hop_limit = r.u8("IPv6 header")?;
    let _src = Ipv6Addr::from(r.array::<16>("IPv6 header")?);
    let dst = Ipv6Addr::from(r.array::<16>("IPv6 header")?);
    if version != 6 {
        return Err(Malformed("IPv6 ethertype with another IP version"));
    }
    if next_header != IPPROTO_ICMPV6 {
        return Ok(None);
    }
    // The payload as the IPv6 header says (Ethernet may pad past it).
    let payload =
        r.0.get(..payload_len)
            .ok_or(Malformed("IPv6 payload shorter than its length field"))?;
    let mut r = Reader(payload);
    let icmp_type = r.u8("ICMPv6 header")?;
    if icmp_type != ICMPV6_NEIGHBOUR_ADVERTISEMENT {
        return Ok(None);
    }
    let code = r.u8("ICMPv6 header")?;
    let _checksum = r.u16("ICMPv6 header")?;
    let flags = r.u32("neighbour advertisement")?;
    let target = Ipv6Addr::from(r.array::<16>("neighbour advertisement")?);
    // RFC 4861 section 7.1.2 validity checks.
    if hop_limit != 255 {
        return Err(Malformed(
            "neighbour advertisement with a hop limit other than 255",
        ));
    }
    if code != 0 {
        return Err(Malformed(
            "neighbour advertisement with a code other than 0",
        ));
    }
    if target.is_multicast() || target.is_unspecified() {
        return Err(Malformed(
            "neighbour advertisement for a multicast or unspecified target",
        ));
    }
    let solicited = flags & NA_FLAG_SOLICITED != 0;
    if solicited && dst.is_multicast() {
        return Err(Malformed(
            "solicited neighbour advertisement to a multicast address",
        ));
    }
    let mut mac = None;
    while !r.0.is_empty() {
        let opt_type = r.u8("neighbour discovery option")?;
        let units = r.u8("neighbour discovery option")?;
        if units == 0 {
            return Err(Malformed("neighbour discovery option of length 0"));
        }
        let body_len = usize::from(units) * 8 - 2;
        let body =
            r.0.get(..body_len)
                .ok_or(Malformed("neighbour discovery option past the end"))?;
        if opt_type == ND_OPT_TARGET_LLADDR && mac.is_none() {
            mac = Some(Reader(body).mac("target link-layer address option")?);
        }
        r.skip(body_len, "neighbour discovery option past the end")?;
    }
    if solicited || flags & NA_FLAG_OVERRIDE == 0 {
        return Ok(None);
    }
    let mac = mac.unwrap_or(src);
    if mac.is_multicast() || mac.is_zero() {
        return Err(Malformed("neighbour advertisement for a non-unicast MAC"));
    }
    Ok(Some(Parsed {
        kind: AnnouncementKind::UnsolicitedNa,
        mac,
        ip: Some(IpAddr::V6(target)),
    }))
}

pub mod build;

/// Classic BPF: drop frames this host sent, keep ARP, RARP and ICMPv6
/// neighbour advertisements (IPv6 without extension headers), drop the
/// rest.
fn filter() -> [SockFilter; 12] {
    const LD_W_ABS: u16 = 0x20;
    const LD_H_ABS: u16 = 0x28;
    const LD_B_ABS: u16 = 0x30;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    // SKF_AD_OFF + SKF_AD_PKTTYPE: the skb's packet type.
    const PKTTYPE: u32 = 0xffff_f000 + 4;
    const ACCEPT: u32 = 0x0004_0000;
    [
        /* 0 */ SockFilter::new(LD_W_ABS, 0, 0, PKTTYPE),
        /* 1 */ SockFilter::new(JEQ_K, 9, 0, PACKET_OUTGOING as u32), // -> 11 drop
        /* 2 */ SockFilter::new(LD_H_ABS, 0, 0, 12),
        /* 3 */ SockFilter::new(JEQ_K, 6, 0, ETHERTYPE_ARP as u32), // -> 10 accept
        /* 4 */ SockFilter::new(JEQ_K, 5, 0, ETHERTYPE_RARP as u32), // -> 10
        /* 5 */ SockFilter::new(JEQ_K, 0, 5, ETHERTYPE_IPV6 as u32), // else -> 11
        /* 6 */ SockFilter::new(LD_B_ABS, 0, 0, 14 + 6),
        /* 7 */ SockFilter::new(JEQ_K, 0, 3, IPPROTO_ICMPV6 as u32), // else -> 11
        /* 8 */ SockFilter::new(LD_B_ABS, 0, 0, 14 + 40),
        /* 9 */
        SockFilter::new(JEQ_K, 0, 1, ICMPV6_NEIGHBOUR_ADVERTISEMENT as u32), // else -> 11
        /* 10 */ SockFilter::new(RET_K, 0, 0, ACCEPT),
        /* 11 */ SockFilter::new(RET_K, 0, 0, 0),
    ]
}

/// Reports announcements received on VM-facing interfaces (see the module
/// docs).
pub struct AnnounceDetector {
    socket: AsyncFd<Socket>,
    matcher: InterfaceMatcher,
}

impl AnnounceDetector {
    /// Opens the packet socket in the calling thread's network namespace
    /// (inside a tokio runtime). Frames are queued from now on.
    pub fn open(matcher: InterfaceMatcher) -> Result<AnnounceDetector, DetectError> {
        let io = |what| {
            move |source| DetectError::Io {
                detector: NAME,
                what,
                source,
            }
        };
        let protocol = Protocol::from(i32::from(ETH_P_ALL.to_be()));
        let socket = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(protocol))
            .map_err(io("opening an AF_PACKET socket"))?;
        socket
            .attach_filter(&filter())
            .map_err(io("attaching the BPF filter"))?;
        socket
            .set_nonblocking(true)
            .map_err(io("making the packet socket non-blocking"))?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| io("asking for SO_TIMESTAMPNS")(e.into()))?;
        // `AsyncFd::new` is deprecated because a `T` that hands out a
        // different or closed fd over time would be unsound; its replacement
        // is `unsafe`. A `socket2::Socket` owns its fd and always returns the
        // same one, so the safe (deprecated) constructor is sound here.
        #[allow(deprecated)]
        let socket = AsyncFd::new(socket).map_err(io("registering the packet socket"))?;
        Ok(AnnounceDetector { socket, matcher })
    }

    /// Reads frames until one is an announcement on a VM-facing interface.
    async fn next(&self) -> Result<Announcement, DetectError> {
        let mut buf = vec![0u8; 2048];
        loop {
            let mut guard = self
                .socket
                .readable()
                .await
                .map_err(|source| DetectError::Io {
                    detector: NAME,
                    what: "waiting for frames",
                    source,
                })?;
            let frame = match guard.try_io(|s| receive(s.get_ref(), &mut buf)) {
                Ok(Ok(frame)) => frame,
                Ok(Err(e)) if is_transient(&e) => {
                    debug!(detector = NAME, error = %e, "transient receive error");
                    continue;
                }
                Ok(Err(source)) => {
                    return Err(DetectError::Io {
                        detector: NAME,
                        what: "receiving frames",
                        source,
                    });
                }
                Err(_would_block) => continue,
            };
            if frame.pkttype == PACKET_OUTGOING {
                continue;
            }
            let data = buf.get(..frame.len).unwrap_or_default();
            let parsed = match parse_frame(data) {
                Ok(Some(p)) => p,
                Ok(None) => continue,
                Err(e) => {
                    trace!(detector = NAME, ifindex = frame.ifindex, error = %e, "ignored frame");
                    continue;
                }
            };
            // Only now (announcements are rare) look the interface up.
            let Some(ifname) = interface_name(frame.ifindex) else {
                continue;
            };
            if !self.matcher.matches(&ifname) {
                continue;
            }
            return Ok(Announcement {
                kind: parsed.kind,
                ifindex: frame.ifindex,
                ifname,
                mac: parsed.mac,
                ip: parsed.ip,
                received: frame.received,
            });
        }
    }
}

impl Detector for AnnounceDetector {
    fn name(&self) -> &'static str {
        NAME
    }

    fn sightings(self: Box<Self>) -> SightingStream {
        Box::pin(futures::stream::unfold(Some(self), |detector| async move {
            let detector = detector?;
            match detector.next().await {
                Ok(a) => Some((Ok(Sighting::Announcement(a)), Some(detector))),
                Err(e) => Some((Err(e), None)),
            }
        }))
    }
}

/// What `recvmsg` said about one frame.
struct Frame {
    len: usize,
    ifindex: u32,
    pkttype: u8,
    received: SystemTime,
}

fn receive(socket: &Socket, buf: &mut [u8]) -> std::io::Result<Frame> {
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut iov = [std::io::IoSliceMut::new(buf)];
    let msg = recvmsg::<LinkAddr>(
        socket.as_raw_fd(),
        &mut iov,
        Some(cmsg.as_mut_slice()),
        MsgFlags::MSG_DONTWAIT,
    )?;
    let mut received = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let nix::sys::socket::ControlMessageOwned::ScmTimestampns(ts) = c {
                let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
                let nanos = u32::try_from(ts.tv_nsec()).unwrap_or(0);
                received = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
            }
        }
    }
    let (ifindex, pkttype) = msg
        .address
        .map(|a| (u32::try_from(a.ifindex()).unwrap_or(0), a.pkttype()))
        .unwrap_or((0, 0));
    Ok(Frame {
        len: msg.bytes,
        ifindex,
        pkttype,
        received: received.unwrap_or_else(SystemTime::now),
    })
}

/// Errors after which the socket still works (an interface going away
/// under a queued frame).
fn is_transient(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc_errno::ENETDOWN | libc_errno::ENXIO | libc_errno::EINTR)
    )
}

mod libc_errno {
    pub const EINTR: i32 = nix::errno::Errno::EINTR as i32;
    pub const ENXIO: i32 = nix::errno::Errno::ENXIO as i32;
    pub const ENETDOWN: i32 = nix::errno::Errno::ENETDOWN as i32;
}

/// The interface's name in the calling thread's namespace.
fn interface_name(ifindex: u32) -> Option<String> {
    nix::net::if_::if_indextoname(ifindex)
        .ok()
        .and_then(|n| n.into_string().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VM: MacAddr = MacAddr([0x52, 0x54, 0, 0x12, 0x34, 0x56]);

    #[test]
    fn qemu_rarp_is_an_announcement_of_the_mac() {
        assert_eq!(
            parse_frame(&build::rarp(VM)),
            Ok(Some(Parsed {
                kind: AnnouncementKind::Rarp,
                mac: VM,
                ip: None
            }))
        );
    }

    #[test]
    fn gratuitous_arp_requests_and_replies_announce_ip_and_mac() {
        let ip: Ipv4Addr = "10.1.1.5".parse().unwrap();
        let want = Ok(Some(Parsed {
            kind: AnnouncementKind::GratuitousArp,
            mac: VM,
            ip: Some(IpAddr::V4(ip)),
        }));
        assert_eq!(parse_frame(&build::gratuitous_arp(VM, ip)), want);
        let mut reply = build::gratuitous_arp(VM, ip);
        reply[21] = 2; // opcode: reply (arping -A)
        assert_eq!(parse_frame(&reply), want);
    }

    #[test]
    fn ordinary_arp_and_arp_probes_are_not_announcements() {
        let ip: Ipv4Addr = "10.1.1.5".parse().unwrap();
        let gw: Ipv4Addr = "10.1.1.1".parse().unwrap();
        assert_eq!(parse_frame(&build::arp_request(VM, ip, gw)), Ok(None));
        // RFC 5227 probe: sender IP 0.
        assert_eq!(
            parse_frame(&build::arp_request(VM, Ipv4Addr::UNSPECIFIED, ip)),
            Ok(None)
        );
        assert_eq!(
            parse_frame(&build::gratuitous_arp(VM, Ipv4Addr::UNSPECIFIED)),
            Ok(None)
        );
    }

    #[test]
    fn vlan_tagged_rarp_is_read_past_the_tag() {
        let mut f = build::rarp(VM);
        let tag = [0x81, 0x00, 0x00, 0x64];
        f.splice(12..12, tag);
        assert_eq!(
            parse_frame(&f).unwrap().unwrap().kind,
            AnnouncementKind::Rarp
        );
    }

    #[test]
    fn unsolicited_na_announces_target_and_lladdr() {
        let ip: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        assert_eq!(
            parse_frame(&build::unsolicited_na(VM, ip)),
            Ok(Some(Parsed {
                kind: AnnouncementKind::UnsolicitedNa,
                mac: VM,
                ip: Some(IpAddr::V6(ip)),
            }))
        );
    }

    #[test]
    fn solicited_or_non_override_nas_are_not_announcements() {
        let ip: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        let gw: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
        let solicited = build::neighbour_advertisement(VM, ip, ip, gw, 0x6000_0000);
        assert_eq!(parse_frame(&solicited), Ok(None));
        let no_override = build::neighbour_advertisement(VM, ip, ip, "ff02::1".parse().unwrap(), 0);
        assert_eq!(parse_frame(&no_override), Ok(None));
    }

    #[test]
    fn na_without_lladdr_option_uses_the_frame_source() {
        let ip: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        let mut f = build::unsolicited_na(VM, ip);
        f.truncate(f.len() - 8);
        f[19] -= 8; // payload length
        assert_eq!(parse_frame(&f).unwrap().unwrap().mac, VM);
    }

    #[test]
    fn malformed_frames_are_errors_not_panics() {
        let ip6: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        let na = build::unsolicited_na(VM, ip6);
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("truncated RARP", build::rarp(VM)[..30].to_vec()),
            (
                "multicast sender",
                build::gratuitous_arp(MacAddr([1, 0, 0x5e, 0, 0, 1]), "10.1.1.5".parse().unwrap()),
            ),
            ("hop limit 64", {
                let mut f = na.clone();
                f[21] = 64;
                f
            }),
            ("payload length past the end", {
                let mut f = na.clone();
                f[19] += 40;
                f
            }),
            ("option of length 0", {
                let mut f = na.clone();
                let n = f.len();
                f[n - 7] = 0;
                f
            }),
            ("option past the end", {
                let mut f = na.clone();
                let n = f.len();
                f[n - 7] = 4;
                f
            }),
            (
                "multicast target",
                build::unsolicited_na(VM, "ff02::1".parse().unwrap()),
            ),
            ("IPv4 in an IPv6 ethertype", {
                let mut f = na.clone();
                f[14] = 0x45;
                f
            }),
            ("truncated IPv6 header", na[..30].to_vec()),
        ];
        for (what, frame) in cases {
            assert!(
                parse_frame(&frame).is_err(),
                "{what}: {:?}",
                parse_frame(&frame)
            );
        }
        for n in 0..14 {
            assert!(parse_frame(&build::rarp(VM)[..n]).is_err(), "{n} bytes");
        }
        assert_eq!(parse_frame(&[0u8; 14]), Ok(None), "ethertype 0");
    }

    #[test]
    fn the_built_na_checksum_verifies() {
        let ip: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        let f = build::unsolicited_na(VM, ip);
        // Sum of pseudo header and message including the checksum is 0xffff.
        let mut sum: u32 = 0;
        let words = |b: &[u8]| {
            b.chunks(2)
                .map(|p| u32::from(u16::from_be_bytes([p[0], *p.get(1).unwrap_or(&0)])))
                .sum::<u32>()
        };
        sum += words(&f[22..54]);
        let icmp = &f[54..];
        sum += icmp.len() as u32 + 58;
        sum += words(icmp);
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
    }

    proptest! {
        #[test]
        fn parsing_random_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_frame(&bytes);
        }

        #[test]
        fn parsing_mutated_announcements_never_panics(
            which in 0usize..3,
            cut in 0usize..100,
            flips in proptest::collection::vec((0usize..100, any::<u8>()), 0..6),
        ) {
            let ip6: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
            let mut f = match which {
                0 => build::rarp(VM),
                1 => build::gratuitous_arp(VM, "10.1.1.5".parse().unwrap()),
                _ => build::unsolicited_na(VM, ip6),
            };
            for (at, byte) in flips {
                if let Some(b) = f.get_mut(at) {
                    *b = byte;
                }
            }
            f.truncate(cut.max(1));
            let _ = parse_frame(&f);
        }
    }
}
