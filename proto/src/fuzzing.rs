//! Bodies of the cargo-fuzz targets in `proto/fuzz/`, kept in the crate so
//! that `cargo test` replays the committed corpus through the same code
//! (`proto/tests/fuzz_corpus.rs`).
//!
//! Each function panics only when an invariant of the codec breaks; that
//! is what the fuzzer looks for:
//! - decoding never panics, whatever the bytes and the session context;
//! - whatever decodes re-encodes without error, and the re-encoding decodes
//!   to the same value.
//!
//! The first input byte chooses the session [`Context`], so the fuzzer
//! explores every combination of what OPEN can negotiate:
//!
//! ```text
//! bit 0  4-octet AS          bit 3  IPv6 next hop for IPv4 NLRI (RFC 8950)
//! bit 1  ADD-PATH IPv4       bit 4  extended messages (RFC 8654)
//! bit 2  ADD-PATH IPv6       bit 5  external (eBGP) peer
//! ```

use crate::bfd::ControlPacket;
use crate::bgp::{
    Afi, AfiSafi, Context, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN, Message, Update, frame_len,
};

/// The session context chosen by `flags` (see the module docs).
pub fn context(flags: u8) -> Context {
    let bit = |n: u8| flags & (1 << n) != 0;
    let mut add_path = Vec::new();
    if bit(1) {
        add_path.push(AfiSafi::IPV4_UNICAST);
    }
    if bit(2) {
        add_path.push(AfiSafi::IPV6_UNICAST);
    }
    Context {
        four_octet_as: bit(0),
        add_path_rx: add_path.clone(),
        add_path_tx: add_path,
        extended_next_hop: if bit(3) {
            vec![(AfiSafi::IPV4_UNICAST, Afi::Ipv6)]
        } else {
            vec![]
        },
        max_message_len: if bit(4) {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        },
        external: bit(5),
    }
}

/// Target `bgp_message`: framing and decoding of any message type.
pub fn bgp_message(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else {
        return;
    };
    let ctx = context(flags);
    // Framing must agree with decoding about where the message ends.
    if let Ok(Some(len)) = frame_len(bytes, ctx.max_len()) {
        assert!(len <= bytes.len() && len >= 19, "frame_len gave {len}");
    }
    let Ok(decoded) = Message::decode(bytes, &ctx) else {
        return;
    };
    let _ = decoded.problems.iter().map(|p| p.action.severity()).max();
    if let Message::Notification(n) = &decoded.message {
        let _ = n.shutdown_text();
        let _ = n.hard_reset_inner();
        if n.data.len() > crate::bgp::notification::MAX_DATA_LEN {
            return; // cut to fit a 4096-byte message on the way out, by design
        }
    }
    let out = match decoded.message.to_bytes(&ctx) {
        Ok(out) => out,
        Err(e) => panic!("decoded {:?} but cannot re-encode it: {e}", decoded.message),
    };
    match Message::decode(&out, &ctx) {
        Ok(again) => assert_eq!(again.message, decoded.message, "re-decode differs"),
        Err(e) => panic!("re-encoded message does not decode: {e}"),
    }
}

/// Target `bgp_update`: an UPDATE body alone, the richest decoder.
pub fn bgp_update(data: &[u8]) {
    let Some((&flags, body)) = data.split_first() else {
        return;
    };
    let ctx = context(flags);
    let Ok(decoded) = Update::parse_body(body, &ctx) else {
        return;
    };
    let _ = decoded.action();
    let _ = (
        decoded.update.end_of_rib_family(),
        decoded.update.mobility(),
    );
    let mut out = Vec::new();
    if let Err(e) = decoded.update.emit(&ctx, &mut out) {
        // Only size can refuse, and decoding never makes a message bigger.
        assert!(
            body.len() + 19 > usize::from(ctx.max_len()),
            "re-encode failed: {e}"
        );
        return;
    }
    let again = Update::parse_body(out.get(19..).unwrap_or_default(), &ctx);
    match again {
        Ok(again) => assert_eq!(again.update, decoded.update, "re-decode differs"),
        Err(e) => panic!("re-encoded UPDATE does not decode: {e}"),
    }
}

/// Target `bfd_packet`: a BFD control packet (a UDP payload).
pub fn bfd_packet(data: &[u8]) {
    let Ok(packet) = ControlPacket::parse(data) else {
        return;
    };
    let _ = crate::bfd::check_auth_policy(&packet, None);
    let _ = crate::bfd::verify(data, b"fuzz-key");
    let out = match packet.to_bytes() {
        Ok(out) => out,
        Err(e) => panic!("parsed {packet:?} but cannot emit it: {e}"),
    };
    match ControlPacket::parse(&out) {
        Ok(again) => assert_eq!(again, packet, "re-parse differs"),
        Err(e) => panic!("emitted packet does not parse: {e}"),
    }
}
