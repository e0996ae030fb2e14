//! Watching a namespace's wire: one `AF_PACKET` socket sees every frame
//! in and out of every interface with the kernel's timestamp, and BGP
//! messages are cut out of the TCP segments a host sends.
//!
//! ```text
//!   namespace (hypervisor)
//!     tap-vm1 --(in: gratuitous ARP)--+
//!                                     +--> Capture (ETH_P_ALL, SO_TIMESTAMPNS)
//!     up0 <---(out: BGP UPDATE)-------+        |
//!                                              v
//!              tcp_segment(frame) --> BgpStreams (per flow: in-order bytes,
//!                                      resync on a gap) --> WireUpdate { at_ns, prefixes, mobility }
//! ```
//!
//! Timestamps are the kernel's (`SO_TIMESTAMPNS`, CLOCK_REALTIME, in
//! nanoseconds): taken as a received frame enters the stack, and as a sent
//! one passes the packet taps on its way to the driver. The same clock for
//! both directions, so their difference is a time on the wire.
//!
//! The stream reassembly is deliberately simple and robust rather than
//! complete: each flow follows one direction of one TCP connection,
//! appends in-order bytes, drops bytes already seen (retransmissions), and
//! on a gap (a frame the capture missed) forgets the partial message and
//! waits for a segment that starts with a BGP marker. Capture may start in
//! the middle of a session for the same reason. Each message is stamped
//! with the segment that completed it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::Duration;

use ipnet::IpNet;
use nix::sys::socket::{ControlMessageOwned, LinkAddr, MsgFlags, recvmsg, setsockopt, sockopt};
use proto::bgp::{Context, Message, Mobility, frame_len};
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::netns::Netns;

const ETH_P_ALL: u16 = 0x0003;
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const IPPROTO_TCP: u8 = 6;
const BGP_PORT: u16 = 179;
/// `PACKET_OUTGOING`: a frame this host sent.
const PACKET_OUTGOING: u8 = 4;
/// Big enough for a GSO super-frame handed to a veth.
const CAPTURE_BUFFER: usize = 256 * 1024;
/// Longest BGP message the streams accept (RFC 8654 extended messages).
const EXTENDED_MESSAGE_LEN: u16 = 65535;

/// One packet socket in a namespace, seeing every interface both ways.
pub struct Capture {
    socket: Socket,
    buf: Vec<u8>,
}

/// A captured frame.
#[derive(Debug)]
pub struct Frame<'a> {
    pub data: &'a [u8],
    /// The interface it crossed, in the captured namespace.
    pub ifindex: u32,
    /// Sent by this namespace (`PACKET_OUTGOING`), not received.
    pub outgoing: bool,
    /// The kernel's timestamp, CLOCK_REALTIME nanoseconds.
    pub at_ns: u64,
}

impl Capture {
    /// Opens the socket inside `netns`; [`Capture::receive`] returns `None`
    /// after `poll` without a frame.
    pub fn open(netns: &Netns, poll: Duration) -> Result<Capture> {
        let io = |what: &'static str| move |e: std::io::Error| Error::io(what, "AF_PACKET", e);
        let socket = crate::nsthread::run(netns.name(), move || {
            let protocol = Protocol::from(i32::from(ETH_P_ALL.to_be()));
            Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(protocol))
                .map_err(io("opening an ETH_P_ALL socket"))
        })?;
        socket
            .set_read_timeout(Some(poll))
            .map_err(io("setting the receive timeout of"))?;
        socket
            .set_recv_buffer_size(4 << 20)
            .map_err(io("sizing the receive buffer of"))?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| io("asking SO_TIMESTAMPNS of")(e.into()))?;
        Ok(Capture {
            socket,
            buf: vec![0; CAPTURE_BUFFER],
        })
    }

    /// The next frame, or `None` if none came within the poll interval.
    pub fn receive(&mut self) -> Result<Option<Frame<'_>>> {
        let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
        let mut iov = [std::io::IoSliceMut::new(&mut self.buf)];
        let msg = match recvmsg::<LinkAddr>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        ) {
            Ok(msg) => msg,
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => return Ok(None),
            Err(e) => return Err(Error::io("receiving from", "AF_PACKET", e.into())),
        };
        let mut at_ns = None;
        for c in msg.cmsgs().into_iter().flatten() {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
                let nanos = u64::try_from(ts.tv_nsec()).unwrap_or(0);
                at_ns = Some(secs * 1_000_000_000 + nanos);
            }
        }
        let at_ns = at_ns.ok_or_else(|| {
            Error::parse("a captured frame", "no SO_TIMESTAMPNS kernel timestamp")
        })?;
        let (ifindex, pkttype) = msg
            .address
            .map(|a| (u32::try_from(a.ifindex()).unwrap_or(0), a.pkttype()))
            .unwrap_or((0, 0));
        let len = msg.bytes;
        Ok(Some(Frame {
            data: self.buf.get(..len).unwrap_or_default(),
            ifindex,
            outgoing: pkttype == PACKET_OUTGOING,
            at_ns,
        }))
    }
}

/// One direction of one TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: SocketAddr,
    pub dst: SocketAddr,
}

/// A TCP segment to or from the BGP port.
#[derive(Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub flow: Flow,
    pub seq: u32,
    pub payload: &'a [u8],
}

/// A bounds-checked reader.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }
}

/// The TCP segment in an Ethernet frame (IPv4 or IPv6 without extension
/// headers, up to two VLAN tags), if it is one to or from port 179.
/// Never panics.
pub fn tcp_segment(frame: &[u8]) -> Option<Segment<'_>> {
    let mut r = Reader(frame);
    r.take(12)?;
    let mut ethertype = r.u16()?;
    for _ in 0..2 {
        if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
            r.take(2)?;
            ethertype = r.u16()?;
        }
    }
    let (src, dst, tcp) = match ethertype {
        ETHERTYPE_IPV4 => {
            let header = r.0;
            let version_ihl = r.u8()?;
            let ihl = usize::from(version_ihl & 0x0f) * 4;
            if version_ihl >> 4 != 4 || ihl < 20 {
                return None;
            }
            r.take(1)?;
            let total = usize::from(r.u16()?);
            r.take(2)?;
            let fragment = r.u16()?;
            r.take(1)?;
            let protocol = r.u8()?;
            r.take(2)?;
            let src = Ipv4Addr::from(r.u32()?);
            let dst = Ipv4Addr::from(r.u32()?);
            // Later fragments have no TCP header; ignore fragments.
            if protocol != IPPROTO_TCP || fragment & 0x3fff != 0 {
                return None;
            }
            // Ethernet padding past the datagram is cut; a GSO frame whose
            // length field is 0 or larger than what was captured keeps all.
            let end = if (ihl..header.len()).contains(&total) {
                total
            } else {
                header.len()
            };
            (IpAddr::V4(src), IpAddr::V4(dst), header.get(ihl..end)?)
        }
        ETHERTYPE_IPV6 => {
            if r.u8()? >> 4 != 6 {
                return None;
            }
            r.take(3)?;
            let payload_len = usize::from(r.u16()?);
            let next_header = r.u8()?;
            r.take(1)?;
            let src: [u8; 16] = r.take(16)?.try_into().ok()?;
            let dst: [u8; 16] = r.take(16)?.try_into().ok()?;
            if next_header != IPPROTO_TCP {
                return None;
            }
            let end = if (1..=r.0.len()).contains(&payload_len) {
                payload_len
            } else {
                r.0.len()
            };
            (
                IpAddr::V6(Ipv6Addr::from(src)),
                IpAddr::V6(Ipv6Addr::from(dst)),
                r.0.get(..end)?,
            )
        }
        _ => return None,
    };
    let mut t = Reader(tcp);
    let sport = t.u16()?;
    let dport = t.u16()?;
    let seq = t.u32()?;
    t.take(4)?;
    let offset = usize::from(t.u8()? >> 4) * 4;
    if offset < 20 || (sport != BGP_PORT && dport != BGP_PORT) {
        return None;
    }
    Some(Segment {
        flow: Flow {
            src: SocketAddr::new(src, sport),
            dst: SocketAddr::new(dst, dport),
        },
        seq,
        payload: tcp.get(offset..)?,
    })
}

/// What an UPDATE seen on the wire carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireUpdate {
    pub flow: Flow,
    /// The timestamp of the segment that completed the message.
    pub at_ns: u64,
    /// Prefixes announced (classic NLRI and MP_REACH_NLRI).
    pub announced: Vec<IpNet>,
    /// Prefixes withdrawn (classic and MP_UNREACH_NLRI).
    pub withdrawn: Vec<IpNet>,
    /// The mobility extended community of the announced routes.
    pub mobility: Option<Mobility>,
}

/// The in-order bytes of one flow.
#[derive(Debug, Default)]
struct Stream {
    /// The sequence number of the next byte expected; `None` until a
    /// segment starting with a BGP marker has been seen.
    next: Option<u32>,
    buf: Vec<u8>,
}

/// BGP messages cut out of TCP segments, per flow.
#[derive(Debug)]
pub struct BgpStreams {
    flows: HashMap<Flow, Stream>,
    ctx: Context,
    /// Times a flow lost its place (a gap, a bad marker, a message that
    /// did not decode), for the report.
    pub resyncs: u64,
}

impl Default for BgpStreams {
    fn default() -> Self {
        Self::new()
    }
}

impl BgpStreams {
    /// Streams decoded as sessions between hostroute speakers negotiate
    /// them: 4-octet AS numbers, extended messages, no ADD-PATH.
    pub fn new() -> Self {
        let ctx = Context {
            four_octet_as: true,
            max_message_len: EXTENDED_MESSAGE_LEN,
            ..Context::modern()
        };
        BgpStreams {
            flows: HashMap::new(),
            ctx,
            resyncs: 0,
        }
    }

    /// Adds a segment seen at `at_ns`; appends the UPDATEs it completes.
    pub fn push(&mut self, segment: &Segment<'_>, at_ns: u64, out: &mut Vec<WireUpdate>) {
        if segment.payload.is_empty() {
            return;
        }
        let stream = self.flows.entry(segment.flow).or_default();
        let len = u32::try_from(segment.payload.len()).unwrap_or(u32::MAX);
        let fresh = match stream.next {
            Some(next) => {
                // Serial arithmetic: how far this segment starts after the
                // next byte expected (negative: it starts before).
                let ahead = segment.seq.wrapping_sub(next) as i32;
                if ahead > 0 {
                    // A gap: what is buffered can never complete.
                    self.resyncs += 1;
                    stream.buf.clear();
                    stream.next = None;
                    starts_with_marker(segment.payload).then_some(segment.payload)
                } else {
                    let skip = usize::try_from(ahead.unsigned_abs()).unwrap_or(usize::MAX);
                    segment.payload.get(skip..).filter(|p| !p.is_empty())
                }
            }
            None => starts_with_marker(segment.payload).then_some(segment.payload),
        };
        let Some(fresh) = fresh else {
            return;
        };
        let end = segment.seq.wrapping_add(len);
        stream.next = Some(end);
        stream.buf.extend_from_slice(fresh);
        let mut used = 0;
        loop {
            let rest = stream.buf.get(used..).unwrap_or_default();
            match frame_len(rest, EXTENDED_MESSAGE_LEN) {
                Ok(Some(n)) => {
                    let frame = rest.get(..n).unwrap_or_default();
                    match decode_update(frame, &self.ctx, segment.flow, at_ns) {
                        Ok(Some(update)) => out.push(update),
                        Ok(None) => {}
                        Err(()) => self.resyncs += 1,
                    }
                    used += n;
                }
                Ok(None) => break,
                Err(_) => {
                    // Not a message boundary after all: start over.
                    self.resyncs += 1;
                    stream.buf.clear();
                    stream.next = None;
                    return;
                }
            }
        }
        stream.buf.drain(..used);
    }
}

/// The UPDATE in one whole message; `Ok(None)` for other messages,
/// `Err` for one that does not decode.
fn decode_update(
    frame: &[u8],
    ctx: &Context,
    flow: Flow,
    at_ns: u64,
) -> Result<Option<WireUpdate>, ()> {
    let decoded = Message::decode(frame, ctx).map_err(drop)?;
    let Message::Update(u) = decoded.message else {
        return Ok(None);
    };
    let mut announced: Vec<IpNet> = u.nlri.iter().map(|n| n.prefix).collect();
    let mut withdrawn: Vec<IpNet> = u.withdrawn.iter().map(|n| n.prefix).collect();
    if let Some(m) = u.mp_reach() {
        announced.extend(m.nlri.iter().map(|n| n.prefix));
    }
    if let Some(m) = u.mp_unreach() {
        withdrawn.extend(m.withdrawn.iter().map(|n| n.prefix));
    }
    Ok(Some(WireUpdate {
        flow,
        at_ns,
        announced,
        withdrawn,
        mobility: u.mobility(),
    }))
}

fn starts_with_marker(payload: &[u8]) -> bool {
    payload
        .get(..16)
        .is_some_and(|m| m.iter().all(|&b| b == 0xff))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::bgp::{AsPath, AttributeValue, Nlri, Origin, PathAttribute, Update};

    const P: &str = "10.1.1.5/32";

    fn update_bytes(prefix: &str, seq: u32) -> Vec<u8> {
        let update = Update {
            withdrawn: Vec::new(),
            attributes: vec![
                PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
                PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(Vec::new()))),
                PathAttribute::new(AttributeValue::NextHop(Ipv4Addr::new(198, 18, 0, 12))),
                PathAttribute::new(AttributeValue::ExtendedCommunities(vec![
                    Mobility::new(seq, false).to_extended(),
                ])),
            ],
            nlri: vec![Nlri::new(prefix.parse().unwrap())],
        };
        Message::Update(update)
            .to_bytes(&BgpStreams::new().ctx)
            .unwrap()
    }

    fn keepalive() -> Vec<u8> {
        Message::Keepalive.to_bytes(&Context::modern()).unwrap()
    }

    /// Ethernet + IPv4 + TCP (20 bytes, no options) around `payload`, from
    /// port 179 to 40000, with 4 bytes of Ethernet padding.
    fn ipv4_frame(seq: u32, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
        let total = u16::try_from(20 + 20 + payload.len()).unwrap();
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&total.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0x40, 0, 64, IPPROTO_TCP, 0, 0]);
        f.extend_from_slice(&[198, 18, 0, 12, 198, 18, 0, 11]);
        f.extend_from_slice(&179u16.to_be_bytes());
        f.extend_from_slice(&40000u16.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0, 0, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        f.extend_from_slice(&[0, 0, 0, 0]);
        f
    }

    fn feed(streams: &mut BgpStreams, frames: &[(u32, &[u8], u64)]) -> Vec<WireUpdate> {
        let mut out = Vec::new();
        for (seq, payload, at) in frames {
            let frame = ipv4_frame(*seq, payload);
            let segment = tcp_segment(&frame).expect("a BGP segment");
            assert_eq!(segment.payload, *payload, "padding is cut");
            streams.push(&segment, *at, &mut out);
        }
        out
    }

    #[test]
    fn an_update_split_over_segments_is_stamped_with_the_last() {
        let mut bytes = keepalive();
        bytes.extend(update_bytes(P, 7));
        let (a, b) = bytes.split_at(25);
        let (b, c) = b.split_at(10);
        let got = feed(
            &mut BgpStreams::new(),
            &[(1000, a, 1), (1025, b, 2), (1035, c, 3)],
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].at_ns, 3);
        assert_eq!(got[0].announced, vec![P.parse::<IpNet>().unwrap()]);
        assert_eq!(got[0].mobility.map(|m| m.sequence.0), Some(7));
        assert_eq!(got[0].flow.src.port(), 179);
    }

    #[test]
    fn retransmitted_bytes_are_not_counted_twice() {
        let bytes = update_bytes(P, 1);
        let (a, b) = bytes.split_at(30);
        let both = [a, b].concat();
        let got = feed(
            &mut BgpStreams::new(),
            // The first segment, then a retransmission covering both.
            &[
                (u32::MAX - 10, a, 1),
                (u32::MAX - 10, &both, 2),
                (u32::MAX - 10, &both, 3),
            ],
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].at_ns, 2);
    }

    #[test]
    fn a_gap_drops_the_partial_message_and_resyncs_on_a_marker() {
        let first = update_bytes(P, 1);
        let second = update_bytes("10.1.1.6/32", 2);
        let mut streams = BgpStreams::new();
        let got = feed(
            &mut streams,
            &[
                // Capture starts mid-message: ignored until a marker.
                (5, &first[3..], 1),
                (500, &first[..20], 2),
                // 10 bytes missed.
                (530, &first[30..], 3),
                (900, &second, 4),
            ],
        );
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].at_ns, 4);
        assert_eq!(got[0].mobility.map(|m| m.sequence.0), Some(2));
        assert!(streams.resyncs >= 1);
    }

    #[test]
    fn frames_that_are_not_bgp_segments_are_ignored_and_never_panic() {
        let frame = ipv4_frame(1, &keepalive());
        for cut in 0..frame.len() {
            let _ = tcp_segment(&frame[..cut]);
        }
        let mut other_port = frame.clone();
        other_port[34..36].copy_from_slice(&80u16.to_be_bytes());
        assert_eq!(tcp_segment(&other_port), None);
        let mut udp = frame;
        udp[23] = 17;
        assert_eq!(tcp_segment(&udp), None);
        assert_eq!(tcp_segment(&[0xff; 60]), None);
    }
}
