//! A bare BGP session on a blocking socket, for benchmarks: the OPEN and
//! KEEPALIVE exchange, then framed messages in and raw bytes out. No FSM,
//! no RIB: the feeder and the latency probe need a peer that does nothing
//! but send or read as fast as the socket allows.
//!
//! ```text
//!   TcpStream --establish(params)--> Session { ctx, hold, remote OPEN }
//!       |                                |
//!       |  FrameReader::fill (one read)  |  write_all(precomputed bytes)
//!       v                                v
//!   frames --Message::decode(ctx)--> UPDATE / KEEPALIVE / NOTIFICATION
//! ```

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use proto::bgp::{
    AfiSafi, Capability, Context, Decoded, HoldTime, MAX_MESSAGE_LEN, Message, Open, frame_len,
};

/// What this end says in its OPEN.
#[derive(Debug, Clone)]
pub struct Params {
    pub local_as: u32,
    pub router_id: Ipv4Addr,
    /// Seconds, 0 or at least 3.
    pub hold_time: u16,
    /// Advertise RFC 8654 extended messages.
    pub extended_message: bool,
}

impl Params {
    /// The OPEN: 4-octet AS, IPv4 and IPv6 unicast, route refresh, and
    /// extended messages if asked.
    pub fn open(&self) -> io::Result<Open> {
        let hold = HoldTime::new(self.hold_time)
            .map_err(|_| io::Error::other(format!("hold time {}", self.hold_time)))?;
        let mut caps = vec![
            Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
            Capability::MultiProtocol(AfiSafi::IPV6_UNICAST),
            Capability::RouteRefresh,
            Capability::FourOctetAs(self.local_as),
        ];
        if self.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        Ok(Open::new(self.local_as, hold, self.router_id, caps))
    }
}

/// An established session.
#[derive(Debug)]
pub struct Session {
    pub stream: TcpStream,
    pub ctx: Context,
    /// Negotiated hold time in seconds (0: no keepalives).
    pub hold_time: u16,
    pub remote: Open,
    pub reader: FrameReader,
}

impl Session {
    /// How often to send KEEPALIVE: a third of the hold time, at least 1 s.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        (self.hold_time > 0).then(|| Duration::from_secs(u64::from(self.hold_time / 3).max(1)))
    }
}

/// Buffers a byte stream and cuts it into whole BGP messages.
#[derive(Debug)]
pub struct FrameReader {
    buf: Vec<u8>,
    start: usize,
    max_len: u16,
}

impl Default for FrameReader {
    fn default() -> Self {
        Self {
            buf: Vec::with_capacity(1 << 16),
            start: 0,
            max_len: MAX_MESSAGE_LEN,
        }
    }
}

impl FrameReader {
    /// Reads once from `r`; returns the byte count (0: end of stream).
    pub fn fill(&mut self, r: &mut impl Read) -> io::Result<usize> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + (1 << 16), 0);
        let got = loop {
            match r.read(self.buf.get_mut(old..).unwrap_or_default()) {
                // A signal (a child of the benchmark exiting): read again.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(old + *got.as_ref().unwrap_or(&0));
        got
    }

    /// The next whole message, if buffered.
    pub fn next_frame(&mut self) -> io::Result<Option<&[u8]>> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        match frame_len(rest, self.max_len) {
            Ok(Some(len)) => {
                let frame = self
                    .buf
                    .get(self.start..self.start + len)
                    .unwrap_or_default();
                self.start += len;
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(io::Error::other(format!("bad frame: {e}"))),
        }
    }
}

/// Decodes one frame, turning a NOTIFICATION into an error.
pub fn decode(frame: &[u8], ctx: &Context) -> io::Result<Decoded> {
    let d = Message::decode(frame, ctx).map_err(|e| io::Error::other(format!("decode: {e}")))?;
    if let Message::Notification(n) = &d.message {
        return Err(io::Error::other(format!("peer sent NOTIFICATION {n:?}")));
    }
    Ok(d)
}

/// Sends our OPEN, reads the peer's, sends KEEPALIVE and waits for the
/// peer's: the session is then Established on both sides. Bounded by
/// `timeout`.
pub fn establish(mut stream: TcpStream, params: &Params, timeout: Duration) -> io::Result<Session> {
    let deadline = Instant::now() + timeout;
    let _ = stream.set_nodelay(true);
    let local = params.open()?;
    stream.write_all(
        &Message::Open(local.clone())
            .to_bytes(&Context::default())
            .map_err(io::Error::other)?,
    )?;
    let mut reader = FrameReader::default();
    let mut remote: Option<Open> = None;
    let mut ctx = Context::default();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "BGP session not established in time",
            ));
        }
        stream.set_read_timeout(Some(left))?;
        if reader.fill(&mut stream)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "peer closed during OPEN exchange",
            ));
        }
        while let Some(frame) = reader.next_frame()? {
            match decode(frame, &ctx)?.message {
                Message::Open(open) => {
                    ctx = Context::negotiate(&local, &open, open.asn() != params.local_as);
                    reader.max_len = ctx.max_len();
                    stream.write_all(
                        &Message::Keepalive
                            .to_bytes(&ctx)
                            .map_err(io::Error::other)?,
                    )?;
                    remote = Some(open);
                }
                Message::Keepalive => {
                    if let Some(remote) = remote {
                        stream.set_read_timeout(None)?;
                        let hold_time = local.hold_time.seconds().min(remote.hold_time.seconds());
                        return Ok(Session {
                            stream,
                            ctx,
                            hold_time,
                            remote,
                            reader,
                        });
                    }
                }
                other => {
                    return Err(io::Error::other(format!(
                        "unexpected {:?} during OPEN exchange",
                        other.message_type()
                    )));
                }
            }
        }
    }
}

/// Connects to `addr`, retrying refused connections until `timeout`.
pub fn connect(addr: std::net::SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(s) => return Ok(s),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Accepts one connection on `listener`, waiting at most `timeout`.
pub fn accept(listener: &std::net::TcpListener, timeout: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + timeout;
    listener.set_nonblocking(true)?;
    loop {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_across_reads() {
        let ctx = Context::default();
        let ka = Message::Keepalive.to_bytes(&ctx).unwrap();
        let mut stream: Vec<u8> = ka.repeat(3);
        stream.truncate(50);
        let mut r = FrameReader::default();
        let mut cursor = io::Cursor::new(stream);
        r.fill(&mut cursor).unwrap();
        let mut n = 0;
        while r.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 2, "the third keepalive is cut");
    }
}
