//! Traffic for checking and measuring a delayed link: `ping` with every
//! round trip parsed, and a TCP stream between two namespaces whose bytes
//! are checked end to end.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, setsockopt, sockopt,
};

use crate::error::{Error, Result};
use crate::netns::Netns;

use super::schedule::SplitMix64;

/// Bytes per `write` of the TCP sender.
const CHUNK: usize = 16 * 1024;

/// How long the receiver waits for the next bytes before giving up.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a TCP connection attempt waits.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What one `ping` run saw.
#[derive(Clone, Debug)]
pub struct Pings {
    pub sent: usize,
    /// One entry per reply, in sequence order.
    pub rtts: Vec<Duration>,
}

impl Pings {
    /// Round trips in µs, sorted (for percentiles).
    pub fn sorted_us(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self
            .rtts
            .iter()
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .collect();
        v.sort_unstable();
        v
    }
}

/// Runs `ping -n -c count -i interval dest` in `from` and parses every
/// reply. A run with lost replies is not an error (loss is measured).
pub fn ping(from: &Netns, dest: IpAddr, count: usize, interval: Duration) -> Result<Pings> {
    let args = [
        "-n".to_string(),
        "-c".to_string(),
        count.to_string(),
        "-i".to_string(),
        format!("{}", interval.as_secs_f64()),
        "-W".to_string(),
        "2".to_string(),
        dest.to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = from.exec("ping", &args)?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(Pings {
        sent: count,
        rtts: parse_ping(&text),
    })
}

/// The `time=` of every reply line of ping's output.
pub fn parse_ping(text: &str) -> Vec<Duration> {
    text.lines()
        .filter(|l| l.contains("bytes from"))
        .filter_map(|l| {
            let rest = l.split("time=").nth(1)?;
            let ms: f64 = rest.split_whitespace().next()?.parse().ok()?;
            Some(Duration::from_secs_f64(ms / 1000.0))
        })
        .collect()
}

/// How long the UDP probe waits for stragglers after its last request.
const UDP_DRAIN: Duration = Duration::from_secs(2);

/// Round trips of `count` UDP datagrams sent every `interval` from `from`
/// to an echo server this starts in `to` on `dest`. Unlike ping's output
/// (0.1 ms steps above 10 ms), these are in nanoseconds: the send time is
/// read just before `send`, the reply's arrival is the kernel's receive
/// stamp (`SO_TIMESTAMPNS`), so the probe's own scheduling is left out.
pub fn udp_echo(
    from: &Netns,
    to: &Netns,
    dest: SocketAddr,
    count: usize,
    interval: Duration,
) -> Result<Pings> {
    let io = move |what| move |e| Error::io(what, dest.to_string(), e);
    let server = to.thread("udp bind", move || -> Result<UdpSocket> {
        let socket = UdpSocket::bind(dest).map_err(io("binding"))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .map_err(io("setting a read timeout on"))?;
        Ok(socket)
    })?;
    let server = join(server)?;
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = stop.clone();
    let echo = std::thread::Builder::new()
        .name("udp echo".into())
        .spawn(move || {
            let mut buf = [0u8; 64];
            while !server_stop.load(Ordering::Relaxed) {
                if let Ok((n, peer)) = server.recv_from(&mut buf) {
                    let _ = server.send_to(buf.get(..n).unwrap_or_default(), peer);
                }
            }
        })
        .map_err(|e| Error::io("starting a thread for", "udp echo", e))?;
    let client = from.thread("udp probe", move || -> Result<Vec<Option<Duration>>> {
        let socket = UdpSocket::bind(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0))
            .map_err(io("binding a client for"))?;
        socket.connect(dest).map_err(io("connecting to"))?;
        setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| io("asking for SO_TIMESTAMPNS on")(e.into()))?;
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(io("setting a read timeout on"))?;
        let receiver = socket.try_clone().map_err(io("cloning the socket for"))?;
        let replies = std::thread::spawn(move || collect_replies(&receiver, count, interval));
        let start = Instant::now();
        for seq in 0..count {
            let due = start + interval * u32::try_from(seq).unwrap_or(u32::MAX);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            let sent = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(0));
            let mut payload = [0u8; 16];
            payload[..8].copy_from_slice(&(seq as u64).to_be_bytes());
            payload[8..].copy_from_slice(&sent.to_be_bytes());
            // A full socket buffer loses this probe; it counts as lost.
            let _ = socket.send(&payload);
        }
        replies
            .join()
            .map_err(|_| Error::Config("the UDP reply thread panicked".into()))
    })?;
    let rtts = join(client);
    stop.store(true, Ordering::Relaxed);
    let _ = echo.join();
    Ok(Pings {
        sent: count,
        rtts: rtts?.into_iter().flatten().collect(),
    })
}

/// Reads echoes until all `count` came back or [`UDP_DRAIN`] after the
/// last was due; each round trip is indexed by its sequence number.
fn collect_replies(socket: &UdpSocket, count: usize, interval: Duration) -> Vec<Option<Duration>> {
    let mut rtts = vec![None; count];
    let deadline = Instant::now() + interval * u32::try_from(count).unwrap_or(u32::MAX) + UDP_DRAIN;
    let mut buf = [0u8; 64];
    let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
    let mut got = 0;
    while got < count && Instant::now() < deadline {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let Ok(msg) = recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        ) else {
            continue;
        };
        let mut stamp = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::ScmTimestampns(ts) = c {
                    stamp = u64::try_from(ts.tv_sec())
                        .ok()
                        .zip(u64::try_from(ts.tv_nsec()).ok())
                        .map(|(s, ns)| s * 1_000_000_000 + ns);
                }
            }
        }
        if msg.bytes < 16 {
            continue;
        }
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(buf.get(i..i + 8).unwrap_or(&[0; 8]));
            u64::from_be_bytes(w)
        };
        let (seq, sent) = (word(0), word(8));
        if let (Some(slot), Some(stamp)) = (
            usize::try_from(seq).ok().and_then(|s| rtts.get_mut(s)),
            stamp,
        ) && slot.is_none()
        {
            *slot = Some(Duration::from_nanos(stamp.saturating_sub(sent)));
            got += 1;
        }
    }
    rtts
}

/// How the TCP sender paces itself and when it stops.
#[derive(Clone, Copy, Debug)]
pub struct StreamSpec {
    /// Stop after this many bytes...
    pub bytes: u64,
    /// ...or after this long, whichever comes first.
    pub duration: Duration,
    /// Application rate in bit/s (`None`: as fast as TCP goes).
    pub rate_bps: Option<u64>,
}

/// What a TCP stream carried.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    pub sent: u64,
    pub received: u64,
    /// FNV-1a over every byte written and every byte read.
    pub sent_digest: u64,
    pub received_digest: u64,
    /// From the first byte read to the last.
    pub elapsed: Duration,
}

impl Stream {
    /// Whether every byte arrived unchanged.
    pub fn intact(&self) -> bool {
        self.sent == self.received && self.sent_digest == self.received_digest
    }

    /// Goodput at the receiver, in Mbit/s.
    pub fn mbit_per_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs == 0.0 {
            return 0.0;
        }
        self.received as f64 * 8.0 / secs / 1e6
    }
}

/// Streams pseudo-random bytes over TCP from `from` to `to` (listening on
/// `dest:port` there) as `spec` says, and returns both sides' counts and
/// digests.
pub fn tcp_stream(from: &Netns, to: &Netns, dest: SocketAddr, spec: StreamSpec) -> Result<Stream> {
    let listener = to.thread("tcp listen", move || -> Result<TcpListener> {
        TcpListener::bind(dest).map_err(|e| Error::io("binding", dest.to_string(), e))
    })?;
    let listener = join(listener)?;
    let receiver = std::thread::Builder::new()
        .name("tcp receive".into())
        .spawn(move || receive(&listener))
        .map_err(|e| Error::io("starting a thread for", "tcp receive", e))?;
    let sender = from.thread("tcp send", move || send(dest, spec))?;
    let (sent, sent_digest) = join(sender)?;
    let (received, received_digest, elapsed) = join(receiver)?;
    Ok(Stream {
        sent,
        received,
        sent_digest,
        received_digest,
        elapsed,
    })
}

fn join<T>(handle: std::thread::JoinHandle<Result<T>>) -> Result<T> {
    handle
        .join()
        .map_err(|_| Error::Config("a TCP probe thread panicked".into()))?
}

fn send(dest: SocketAddr, spec: StreamSpec) -> Result<(u64, u64)> {
    let io = |what| move |e| Error::io(what, dest.to_string(), e);
    let mut stream =
        TcpStream::connect_timeout(&dest, CONNECT_TIMEOUT).map_err(io("connecting to"))?;
    let mut rng = SplitMix64(0x5eed);
    let mut chunk = vec![0u8; CHUNK];
    let (mut sent, mut digest) = (0u64, Fnv::new());
    let start = Instant::now();
    while sent < spec.bytes && start.elapsed() < spec.duration {
        if let Some(rate) = spec.rate_bps {
            // Hold each chunk until the rate allows it.
            let due = Duration::from_secs_f64(sent as f64 * 8.0 / rate as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        let n = usize::try_from(spec.bytes - sent).map_or(CHUNK, |left| left.min(CHUNK));
        let part = chunk.get_mut(..n).unwrap_or_default();
        for word in part.chunks_mut(8) {
            let bytes = rng.next_u64().to_le_bytes();
            word.copy_from_slice(bytes.get(..word.len()).unwrap_or_default());
        }
        stream.write_all(part).map_err(io("writing to"))?;
        digest.update(part);
        sent += n as u64;
    }
    stream
        .shutdown(std::net::Shutdown::Write)
        .map_err(io("shutting down"))?;
    // Wait for the receiver to close, so every byte has been acknowledged.
    let _ = stream.read(&mut chunk);
    Ok((sent, digest.0))
}

fn receive(listener: &TcpListener) -> Result<(u64, u64, Duration)> {
    let io = |what| move |e| Error::io(what, "tcp probe listener", e);
    // Bounded: a sender that never connects must not hang the caller.
    listener
        .set_nonblocking(true)
        .map_err(io("making non-blocking"))?;
    let deadline = Instant::now() + CONNECT_TIMEOUT * 2;
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(io("accepting on")(e)),
        }
    };
    stream
        .set_nonblocking(false)
        .map_err(io("making blocking"))?;
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(io("setting a read timeout on"))?;
    let mut buf = vec![0u8; 64 * 1024];
    let (mut received, mut digest) = (0u64, Fnv::new());
    let (mut first, mut last) = (None, Instant::now());
    loop {
        let n = stream.read(&mut buf).map_err(io("reading from"))?;
        if n == 0 {
            break;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        last = now;
        digest.update(buf.get(..n).unwrap_or_default());
        received += n as u64;
    }
    let elapsed = first.map_or(Duration::ZERO, |f| last - f);
    Ok((received, digest.0, elapsed))
}

/// FNV-1a, 64 bits.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_replies_are_parsed_and_the_rest_ignored() {
        let text = "PING 192.0.2.2 (192.0.2.2) 56(84) bytes of data.\n\
            64 bytes from 192.0.2.2: icmp_seq=1 ttl=64 time=40.1 ms\n\
            64 bytes from 192.0.2.2: icmp_seq=2 ttl=64 time=39.95 ms\n\
            \n--- 192.0.2.2 ping statistics ---\n\
            3 packets transmitted, 2 received, 33.3333% packet loss, time 2ms\n\
            rtt min/avg/max/mdev = 39.950/40.025/40.100/0.075 ms\n";
        let rtts = parse_ping(text);
        assert_eq!(
            rtts,
            [Duration::from_micros(40_100), Duration::from_micros(39_950)]
        );
        let pings = Pings { sent: 3, rtts };
        assert_eq!(pings.sorted_us(), [39_950, 40_100]);
    }

    #[test]
    fn fnv_matches_the_reference_value() {
        let mut f = Fnv::new();
        f.update(b"a");
        assert_eq!(f.0, 0xaf63_dc4c_8601_ec8c);
    }
}
