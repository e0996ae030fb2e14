//! Turns a TCP byte stream into decoded BGP messages, sans-IO.
//!
//! The framer learns the session's decode [`Context`] by itself: it holds
//! the OPEN this speaker sent, and when the peer's OPEN goes by it
//! negotiates the context before decoding the next message. A peer only
//! sends UPDATEs after its OPEN, so no UPDATE is ever decoded with the
//! wrong context, and the reader task never has to wait for the owner.

use proto::bgp::{Context, DecodeError, Decoded, Message, Open, frame_len};

/// Buffer and framer for one connection's inbound direction.
#[derive(Debug)]
pub struct Framer {
    buf: Vec<u8>,
    start: usize,
    ctx: Context,
    local_open: Open,
    external: bool,
    failed: bool,
}

impl Framer {
    /// A framer for a connection on which `local_open` is (or will be) sent.
    pub fn new(local_open: Open, external: bool) -> Self {
        Self {
            buf: Vec::with_capacity(64 * 1024),
            start: 0,
            ctx: Context { external, ..Context::default() },
            local_open,
            external,
            failed: false,
        }
    }

    /// The context negotiated so far (the pre-OPEN default until then).
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// Appends bytes read from the socket.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.capacity() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet consumed.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete message, `None` when more bytes are needed. After
    /// an error the stream is out of sync: every later call returns `None`.
    pub fn next_message(&mut self) -> Option<Result<Decoded, DecodeError>> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.start..).unwrap_or_default();
        let len = match frame_len(rest, self.ctx.max_len()) {
            Ok(Some(len)) => len,
            Ok(None) => return None,
            Err(e) => {
                self.failed = true;
                return Some(Err(e));
            }
        };
        let frame = rest.get(..len).unwrap_or_default();
        let result = Message::decode(frame, &self.ctx);
        self.start += len;
        match &result {
            Ok(Decoded { message: Message::Open(remote), .. }) => {
                self.ctx = Context::negotiate(&self.local_open, remote, self.external);
            }
            Ok(_) => {}
            Err(_) => self.failed = true,
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proto::bgp::{AfiSafi, Capability, HoldTime, Nlri, Update};

    use super::*;

    fn open(asn: u32, id: u8) -> Open {
        Open::new(
            asn,
            HoldTime::new(9).unwrap(),
            Ipv4Addr::new(192, 0, 2, id),
            vec![
                Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
                Capability::FourOctetAs(asn),
                Capability::AddPath(vec![(AfiSafi::IPV4_UNICAST, proto::bgp::AddPathMode::Both)]),
            ],
        )
    }

    fn bytes(m: &Message, ctx: &Context) -> Vec<u8> {
        m.to_bytes(ctx).unwrap()
    }

    #[test]
    fn messages_split_anywhere_come_out_whole_and_in_order() {
        let ctx = Context::default();
        let mut stream = bytes(&Message::Keepalive, &ctx);
        stream.extend(bytes(&Message::Keepalive, &ctx));
        for cut in 0..stream.len() {
            let mut f = Framer::new(open(65001, 1), true);
            f.push(&stream[..cut]);
            let mut n = 0;
            while let Some(m) = f.next_message() {
                assert_eq!(m.unwrap().message, Message::Keepalive);
                n += 1;
            }
            f.push(&stream[cut..]);
            while let Some(m) = f.next_message() {
                assert_eq!(m.unwrap().message, Message::Keepalive);
                n += 1;
            }
            assert_eq!(n, 2, "cut at {cut}");
            assert_eq!(f.pending(), 0);
        }
    }

    #[test]
    fn the_peer_open_switches_the_context_before_the_next_update() {
        let local = open(65001, 1);
        let remote = open(4_200_000_002, 2);
        let negotiated = Context::negotiate(&remote, &local, true);
        assert!(negotiated.four_octet_as && negotiated.add_path_tx(AfiSafi::IPV4_UNICAST));
        let update = Update {
            nlri: vec![Nlri::with_path_id("198.51.100.7/32".parse().unwrap(), 5)],
            ..Update::default()
        };
        let mut stream = bytes(&Message::Open(remote), &Context::default());
        stream.extend(bytes(&Message::Update(update.clone()), &negotiated));
        let mut f = Framer::new(local, true);
        f.push(&stream);
        assert!(matches!(f.next_message(), Some(Ok(Decoded { message: Message::Open(_), .. }))));
        let Some(Ok(Decoded { message: Message::Update(got), .. })) = f.next_message() else {
            panic!("update")
        };
        assert_eq!(got.nlri, update.nlri, "path id read because ADD-PATH was negotiated");
    }

    #[test]
    fn a_bad_marker_is_reported_once_then_the_stream_is_dead() {
        let mut f = Framer::new(open(65001, 1), true);
        f.push(&[0u8; 40]);
        assert_eq!(f.next_message(), Some(Err(DecodeError::BadMarker)));
        assert_eq!(f.next_message(), None);
    }
}
