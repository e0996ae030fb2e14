//! Measurements taken while a VM moves, each on a thread inside the
//! namespace it measures (see [`crate::nsthread`]), all on one monotonic
//! clock:
//!
//! ```text
//!   client ns: Prober (ICMP echo every 1 ms) ──────────> VM (kernel replies)
//!   client ns: TCP sender (1 KiB per ms) ──────────────> VM ns: TCP receiver
//!                                                         (longest gap between reads)
//!   each router ns: RouteMonitor (netlink RTM_NEWROUTE / DELROUTE for the VM /32)
//!   path: `ip route get` hop by hop from the client to the VM and back
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::socket::{NetlinkAddr, bind};
use serde::Serialize;
use socket2::{Domain, Protocol, Socket, Type};

use crate::error::{Error, Result};
use crate::nsthread;

/// One echo request: when it left (ms from the start) and its RTT if a
/// reply came.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Probe {
    pub seq: u16,
    pub sent_ms: f64,
    pub rtt_ms: Option<f64>,
}

/// A running ICMP prober; [`Prober::finish`] stops it and returns every
/// probe.
pub struct Prober {
    stop: Arc<AtomicBool>,
    sender: JoinHandle<Result<Vec<Instant>>>,
    receiver: JoinHandle<Result<Vec<(u16, Instant)>>>,
    start: Instant,
}

/// How long replies are awaited after the last request.
const PROBE_DRAIN: Duration = Duration::from_millis(400);

impl Prober {
    /// Starts echo requests from `netns` to `target` every `interval`, for
    /// at most 65,000 requests (the sequence is 16 bits).
    pub fn start(netns: &str, target: Ipv4Addr, interval: Duration) -> Result<Prober> {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let stop_tx = stop.clone();
        let sender = nsthread::spawn(netns, "lab-probe-tx", move || {
            // ICMP "ping" sockets: the kernel fills the identifier and the
            // checksum and hands back only replies to this socket.
            let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::ICMPV4))
                .map_err(|e| Error::io("opening an ICMP socket in", "client", e))?;
            let recv = socket
                .try_clone()
                .map_err(|e| Error::io("cloning the ICMP socket in", "client", e))?;
            let _ = tx.send(recv);
            let dest = SocketAddr::V4(SocketAddrV4::new(target, 0)).into();
            let mut sent = Vec::new();
            let mut next = Instant::now();
            while !stop_tx.load(Ordering::Relaxed) && sent.len() < 65_000 {
                let seq = u16::try_from(sent.len()).unwrap_or(u16::MAX);
                let mut packet = [0u8; 16];
                packet[0] = 8; // echo request
                packet[6..8].copy_from_slice(&seq.to_be_bytes());
                sent.push(Instant::now());
                // A send error (no route during a move) is a lost probe.
                let _ = socket.send_to(&packet, &dest);
                next += interval;
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            Ok(sent)
        })?;
        let recv: Socket = rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| Error::Config("the prober did not start".into()))?;
        let stop_rx = stop.clone();
        let receiver = std::thread::Builder::new()
            .name("lab-probe-rx".into())
            .spawn(move || -> Result<Vec<(u16, Instant)>> {
                recv.set_read_timeout(Some(Duration::from_millis(50)))
                    .map_err(|e| Error::io("setting a timeout on", "the ICMP socket", e))?;
                let mut replies = Vec::new();
                let mut buf = [0u8; 128];
                let mut stopped_at: Option<Instant> = None;
                loop {
                    if stop_rx.load(Ordering::Relaxed) {
                        let t = *stopped_at.get_or_insert_with(Instant::now);
                        if t.elapsed() > PROBE_DRAIN {
                            return Ok(replies);
                        }
                    }
                    match (&recv).read(&mut buf) {
                        Ok(n) if n >= 8 && buf[0] == 0 => {
                            replies.push((u16::from_be_bytes([buf[6], buf[7]]), Instant::now()));
                        }
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                            ) => {}
                        Err(_) => {}
                    }
                }
            })
            .map_err(|e| Error::io("starting a thread for", "the prober", e))?;
        Ok(Prober {
            stop,
            sender,
            receiver,
            start,
        })
    }

    /// When the prober started.
    pub fn start_instant(&self) -> Instant {
        self.start
    }

    /// Stops sending, waits for late replies, and returns every probe.
    pub fn finish(self) -> Result<Vec<Probe>> {
        self.stop.store(true, Ordering::Relaxed);
        let joined = |what: &str| Error::Config(format!("the prober's {what} thread panicked"));
        let sent = self.sender.join().map_err(|_| joined("sender"))??;
        let replies = self.receiver.join().map_err(|_| joined("receiver"))??;
        let mut rtt: Vec<Option<f64>> = vec![None; sent.len()];
        for (seq, at) in replies {
            let i = usize::from(seq);
            if let (Some(slot), Some(sent_at)) = (rtt.get_mut(i), sent.get(i))
                && slot.is_none()
            {
                *slot = Some(at.duration_since(*sent_at).as_secs_f64() * 1000.0);
            }
        }
        Ok(sent
            .iter()
            .zip(rtt)
            .enumerate()
            .map(|(i, (at, rtt_ms))| Probe {
                seq: u16::try_from(i).unwrap_or(u16::MAX),
                sent_ms: at.duration_since(self.start).as_secs_f64() * 1000.0,
                rtt_ms,
            })
            .collect())
    }
}

/// What the TCP stream saw.
#[derive(Clone, Debug, Serialize)]
pub struct StreamResult {
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Longest time without new bytes at the receiver while the sender was
    /// sending.
    pub longest_stall_ms: f64,
    /// When the longest stall began (ms from the stream's start).
    pub stall_start_ms: f64,
    /// The connection carried every byte to the end without an error.
    pub survived: bool,
    pub error: Option<String>,
    /// Retransmission timeouts (`TcpExt: TCPTimeouts`) and tail loss
    /// probes (`TCPLossProbes`) in the sender's namespace while it ran.
    pub rto_timeouts: Option<u64>,
    pub loss_probes: Option<u64>,
}

/// The counters of the `TcpExt:` lines of `/proc/thread-self/net/netstat`
/// (the calling thread's namespace), by name.
fn tcp_ext_counters() -> Option<std::collections::BTreeMap<String, u64>> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netstat").ok()?;
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (names, values) = (lines.next()?, lines.next()?);
    Some(
        names
            .split_whitespace()
            .zip(values.split_whitespace())
            .skip(1)
            .filter_map(|(n, v)| Some((n.to_string(), v.parse().ok()?)))
            .collect(),
    )
}

/// What the sender thread returns: bytes sent, an error, and the change of
/// (TCPTimeouts, TCPLossProbes) while it ran.
type SenderResult = (u64, Option<String>, Option<(u64, u64)>);

/// A TCP stream from the client to a VM: the VM accepts one connection and
/// reads; the client writes a chunk every millisecond.
pub struct TcpStreamTest {
    stop: Arc<AtomicBool>,
    sender: JoinHandle<Result<SenderResult>>,
    receiver: JoinHandle<Result<(u64, Vec<Instant>)>>,
    start: Instant,
}

/// The port the VM listens on.
const STREAM_PORT: u16 = 5001;
/// Bytes written per millisecond (8 Mbit/s).
const CHUNK: usize = 1024;

impl TcpStreamTest {
    /// Listens in `vm_netns` on `vm_addr`, connects from `client_netns`, and
    /// starts sending.
    pub fn start(client_netns: &str, vm_netns: &str, vm_addr: Ipv4Addr) -> Result<TcpStreamTest> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let receiver = nsthread::spawn(vm_netns, "lab-tcp-rx", move || {
            let io = |what| move |e| Error::io(what, "the VM's TCP listener", e);
            let listener = TcpListener::bind((vm_addr, STREAM_PORT)).map_err(io("binding"))?;
            let _ = ready_tx.send(());
            let (mut stream, _) = listener.accept().map_err(io("accepting on"))?;
            let mut reads = Vec::new();
            let mut total = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => return Ok((total, reads)),
                    Ok(n) => {
                        reads.push(Instant::now());
                        total += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(io("reading from")(e)),
                }
            }
        })?;
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| Error::Config("the VM's TCP listener did not start".into()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stop_tx = stop.clone();
        let (conn_tx, conn_rx) = std::sync::mpsc::channel();
        let sender = nsthread::spawn(client_netns, "lab-tcp-tx", move || {
            let addr = SocketAddr::V4(SocketAddrV4::new(vm_addr, STREAM_PORT));
            let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
                Ok(s) => s,
                Err(e) => {
                    let _ = conn_tx.send(Err(e.to_string()));
                    return Err(Error::io("connecting to", addr.to_string(), e));
                }
            };
            let counters_before = tcp_ext_counters();
            let _ = stream.set_nodelay(true);
            // Writes block while the path is broken; wake up to see `stop`.
            let _ = stream.set_write_timeout(Some(Duration::from_millis(50)));
            let _ = conn_tx.send(Ok(()));
            let chunk = vec![0x5au8; CHUNK];
            let mut sent = 0u64;
            let mut next = Instant::now();
            while !stop_tx.load(Ordering::Relaxed) {
                let mut off = 0;
                while off < CHUNK && !stop_tx.load(Ordering::Relaxed) {
                    match stream.write(&chunk[off..]) {
                        Ok(n) => off += n,
                        Err(e)
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::WouldBlock
                                    | std::io::ErrorKind::TimedOut
                                    | std::io::ErrorKind::Interrupted
                            ) => {}
                        Err(e) => return Ok((sent + off as u64, Some(e.to_string()), None)),
                    }
                }
                sent += off as u64;
                next += Duration::from_millis(1);
                let now = Instant::now();
                if next > now {
                    std::thread::sleep(next - now);
                } else {
                    next = now;
                }
            }
            let error = stream
                .shutdown(std::net::Shutdown::Write)
                .err()
                .map(|e| e.to_string());
            let delta = counters_before.zip(tcp_ext_counters()).map(|(a, b)| {
                let d = |k: &str| {
                    b.get(k)
                        .copied()
                        .unwrap_or(0)
                        .saturating_sub(a.get(k).copied().unwrap_or(0))
                };
                (d("TCPTimeouts"), d("TCPLossProbes"))
            });
            Ok((sent, error, delta))
        })?;
        match conn_rx.recv_timeout(Duration::from_secs(6)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Config(format!("TCP connect to the VM: {e}"))),
            Err(_) => return Err(Error::Config("TCP connect to the VM timed out".into())),
        }
        Ok(TcpStreamTest {
            stop,
            sender,
            receiver,
            start: Instant::now(),
        })
    }

    /// Stops sending, waits (at most `drain`) for the receiver to see the
    /// end of the stream, and measures.
    pub fn finish(self, drain: Duration) -> Result<StreamResult> {
        self.stop.store(true, Ordering::Relaxed);
        let stopped = Instant::now();
        let joined = |what: &str| Error::Config(format!("the TCP {what} thread panicked"));
        let (sent, send_error, counters) = self.sender.join().map_err(|_| joined("sender"))??;
        let rto_timeouts = counters.map(|c| c.0);
        let loss_probes = counters.map(|c| c.1);
        let deadline = stopped + drain;
        while !self.receiver.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !self.receiver.is_finished() {
            return Ok(StreamResult {
                bytes_sent: sent,
                bytes_received: 0,
                longest_stall_ms: f64::NAN,
                stall_start_ms: 0.0,
                survived: false,
                error: Some(format!(
                    "the receiver did not see the end of the stream within {drain:?}"
                )),
                rto_timeouts,
                loss_probes,
            });
        }
        let (received, reads) = match self.receiver.join().map_err(|_| joined("receiver"))? {
            Ok(r) => r,
            Err(e) => {
                return Ok(StreamResult {
                    bytes_sent: sent,
                    bytes_received: 0,
                    longest_stall_ms: f64::NAN,
                    stall_start_ms: 0.0,
                    survived: false,
                    error: Some(e.to_string()),
                    rto_timeouts,
                    loss_probes,
                });
            }
        };
        let mut longest = Duration::ZERO;
        let mut stall_start = self.start;
        let mut previous = self.start;
        for &at in reads.iter().filter(|&&at| at <= stopped) {
            if at.duration_since(previous) > longest {
                longest = at.duration_since(previous);
                stall_start = previous;
            }
            previous = at;
        }
        Ok(StreamResult {
            bytes_sent: sent,
            bytes_received: received,
            longest_stall_ms: longest.as_secs_f64() * 1000.0,
            stall_start_ms: stall_start.duration_since(self.start).as_secs_f64() * 1000.0,
            survived: send_error.is_none() && received == sent,
            error: send_error,
            rto_timeouts,
            loss_probes,
        })
    }
}

/// A route change a router's kernel reported.
#[derive(Clone, Debug, Serialize)]
pub struct RouteEvent {
    #[serde(skip)]
    pub at: Option<Instant>,
    pub deleted: bool,
    pub prefix: String,
    pub gateway: Option<Ipv4Addr>,
    pub oif: Option<u32>,
}

/// Netlink route notifications for one prefix in one namespace.
pub struct RouteMonitor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<Vec<RouteEvent>>>,
}

/// RTMGRP_IPV4_ROUTE.
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const NETLINK_ROUTE: i32 = 0;
const AF_NETLINK: i32 = 16;

impl RouteMonitor {
    /// Subscribes, inside `netns`, to IPv4 route changes for `prefix`
    /// (`a.b.c.d/len`). Returns once subscribed.
    pub fn start(netns: &str, prefix: ipnet::Ipv4Net) -> Result<RouteMonitor> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop_rx = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = nsthread::spawn(netns, "lab-route-mon", move || {
            let io = |what| move |e| Error::io(what, "a netlink route socket", e);
            let socket = Socket::new(
                Domain::from(AF_NETLINK),
                Type::RAW,
                Some(Protocol::from(NETLINK_ROUTE)),
            )
            .map_err(io("opening"))?;
            bind(socket.as_raw_fd(), &NetlinkAddr::new(0, RTMGRP_IPV4_ROUTE))
                .map_err(|e| io("binding")(e.into()))?;
            socket
                .set_read_timeout(Some(Duration::from_millis(20)))
                .map_err(io("setting a timeout on"))?;
            let _ = ready_tx.send(());
            let mut events = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            while !stop_rx.load(Ordering::Relaxed) {
                match (&socket).read(&mut buf) {
                    Ok(n) => {
                        let at = Instant::now();
                        events.extend(
                            parse_route_messages(buf.get(..n).unwrap_or_default())
                                .into_iter()
                                .filter(|e| e.prefix == prefix.to_string())
                                .map(|mut e| {
                                    e.at = Some(at);
                                    e
                                }),
                        );
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::TimedOut
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    // ENOBUFS: the kernel dropped notifications; keep going.
                    Err(_) => {}
                }
            }
            Ok(events)
        })?;
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .map_err(|_| Error::Config(format!("the route monitor in {netns} did not start")))?;
        Ok(RouteMonitor { stop, thread })
    }

    /// Stops and returns what was seen.
    pub fn finish(self) -> Result<Vec<RouteEvent>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| Error::Config("the route monitor panicked".into()))?
    }
}

/// Parses a buffer of netlink messages into IPv4 route events.
pub fn parse_route_messages(mut buf: &[u8]) -> Vec<RouteEvent> {
    let mut events = Vec::new();
    let u16_at = |b: &[u8], i: usize| b.get(i..i + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]));
    let u32_at = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
    };
    while let Some(len) = u32_at(buf, 0) {
        let len = len as usize;
        if len < 16 || len > buf.len() {
            break;
        }
        let msg = &buf[..len];
        let kind = u16_at(msg, 4).unwrap_or(0);
        // nlmsghdr (16) + rtmsg (12): family, dst_len, ..., then attributes.
        if (kind == RTM_NEWROUTE || kind == RTM_DELROUTE)
            && msg.get(16) == Some(&2)
            && let Some(&dst_len) = msg.get(17)
        {
            let mut dst = Ipv4Addr::UNSPECIFIED;
            let mut gateway = None;
            let mut oif = None;
            let mut at = 28;
            while let (Some(alen), Some(atype)) = (u16_at(msg, at), u16_at(msg, at + 2)) {
                let alen = usize::from(alen);
                if alen < 4 || at + alen > msg.len() {
                    break;
                }
                let value = &msg[at + 4..at + alen];
                let v4 = || <[u8; 4]>::try_from(value).ok().map(Ipv4Addr::from);
                match atype {
                    RTA_DST => dst = v4().unwrap_or(dst),
                    RTA_GATEWAY => gateway = v4(),
                    RTA_OIF => oif = u32_at(value, 0),
                    _ => {}
                }
                at += alen.div_ceil(4) * 4;
            }
            events.push(RouteEvent {
                at: None,
                deleted: kind == RTM_DELROUTE,
                prefix: format!("{dst}/{dst_len}"),
                gateway,
                oif,
            });
        }
        buf = buf.get(len.div_ceil(4) * 4..).unwrap_or_default();
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RTM_NEWROUTE for 10.1.1.5/32 via 198.18.3.2 dev 4 as the kernel
    /// sends it (nlmsghdr, rtmsg, RTA_TABLE, RTA_DST, RTA_GATEWAY, RTA_OIF),
    /// followed by an RTM_DELROUTE for 10.1.1.0/24.
    fn message(kind: u16, dst: [u8; 4], len: u8, gateway: Option<[u8; 4]>) -> Vec<u8> {
        let mut attrs = Vec::new();
        let mut attr = |t: u16, v: &[u8]| {
            attrs.extend_from_slice(&(4 + v.len() as u16).to_ne_bytes());
            attrs.extend_from_slice(&t.to_ne_bytes());
            attrs.extend_from_slice(v);
        };
        attr(15, &254u32.to_ne_bytes());
        attr(RTA_DST, &dst);
        if let Some(gw) = gateway {
            attr(RTA_GATEWAY, &gw);
        }
        attr(RTA_OIF, &4u32.to_ne_bytes());
        let mut m = Vec::new();
        m.extend_from_slice(&((16 + 12 + attrs.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(&[2, len, 0, 0, 254, 12, 0, 1, 0, 0, 0, 0]);
        m.extend_from_slice(&attrs);
        m
    }

    #[test]
    fn route_messages_are_parsed_with_prefix_gateway_and_kind() {
        let mut buf = message(RTM_NEWROUTE, [10, 1, 1, 5], 32, Some([198, 18, 3, 2]));
        buf.extend(message(RTM_DELROUTE, [10, 1, 1, 0], 24, None));
        let events = parse_route_messages(&buf);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].prefix, "10.1.1.5/32");
        assert_eq!(events[0].gateway, Some(Ipv4Addr::new(198, 18, 3, 2)));
        assert_eq!(events[0].oif, Some(4));
        assert!(!events[0].deleted);
        assert_eq!(events[1].prefix, "10.1.1.0/24");
        assert!(events[1].deleted && events[1].gateway.is_none());
    }

    #[test]
    fn truncated_route_messages_end_the_parse_without_panicking() {
        let buf = message(RTM_NEWROUTE, [10, 1, 1, 5], 32, Some([198, 18, 3, 2]));
        for n in 0..buf.len() {
            let _ = parse_route_messages(&buf[..n]);
        }
    }
}
