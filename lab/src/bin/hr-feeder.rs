//! A BGP feeder for receive benchmarks: one session to a receiver, N /32
//! routes precomputed in packed UPDATEs sent as fast as TCP allows, then
//! End-of-RIB, then KEEPALIVEs until killed.
//!
//! ```text
//! hr-feeder --connect 10.255.0.2:179 --local-as 65001 --router-id 10.255.0.1 \
//!           --next-hop 10.255.0.1 --routes 1000000 [--first 100.64.0.0] \
//!           [--hold 90] [--seq 1] [--go-file PATH] [--extended-message] [--shuffle] \
//!           [--repeat]
//! ```
//!
//! With `--repeat`, after End-of-RIB the feeder reloads the table until
//! killed: withdraw every route, announce every route, again and again, so
//! the receiver is loaded for as long as the feeder runs. TCP flow control
//! paces it to what the receiver reads.
//!
//! Every route has one attribute set: ORIGIN IGP, AS_PATH [local AS],
//! NEXT_HOP, the community `local-as:1` and the mobility extended community
//! (sequence `--seq`, not static). The UPDATEs are encoded once the session
//! is up (their AS_PATH encoding depends on what OPEN negotiated) and
//! before `--go-file` appears, so encoding is never timed. Routes go in
//! address order (as a sorted table dump), or with `--shuffle` in a fixed
//! pseudo-random order (as a daemon that dumps in hash order, like BIRD).
//!
//! stdout, one JSON object per line, timestamps from CLOCK_MONOTONIC
//! (`lab::bench::mono_ns`, comparable across namespaces):
//! `established`, `prepared`, `first_update` (just before the first
//! UPDATE byte is written), `sent` (End-of-RIB handed to the kernel), and
//! with `--repeat` one `reload` per pass (`withdrawn` or `announced`, its
//! route count and the total so far, once its last byte is handed to the
//! kernel).

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ipnet::{IpNet, Ipv4Net};
use lab::bench::{Args, mono_ns};
use lab::rawbgp::{self, Params, Session};
use proto::bgp::{
    AfiSafi, AsPath, AttributeValue, Community, Context, Message, Mobility, Nlri, Origin,
    PathAttribute, Update,
};
use serde_json::json;

/// Bytes handed to one `write` call at most: whole messages, so a
/// KEEPALIVE from the other thread never lands inside an UPDATE.
const WRITE_BATCH: usize = 256 * 1024;

/// How long to wait for the session and for the go file.
const WAIT: Duration = Duration::from_secs(120);

fn main() -> Result<()> {
    let args = Args::parse(
        std::env::args().skip(1),
        &[
            "connect",
            "local-as",
            "router-id",
            "next-hop",
            "routes",
            "first",
            "hold",
            "seq",
            "go-file",
        ],
        &["extended-message", "shuffle", "repeat"],
    )?;
    let connect: SocketAddr = args.need("connect")?;
    let local_as: u32 = args.need("local-as")?;
    let router_id: Ipv4Addr = args.need("router-id")?;
    let next_hop: Ipv4Addr = args.get("next-hop", router_id)?;
    let routes: u32 = args.need("routes")?;
    let first: Ipv4Addr = args.get("first", Ipv4Addr::new(100, 64, 0, 0))?;
    let seq: u32 = args.get("seq", 1)?;
    let go_file: Option<PathBuf> = args.opt("go-file")?;
    let params = Params {
        local_as,
        router_id,
        hold_time: args.get("hold", 90)?,
        extended_message: args.flag("extended-message"),
    };
    if u64::from(u32::from(first)) + u64::from(routes) > 1 << 32 {
        bail!("{routes} routes from {first} run past 255.255.255.255");
    }

    let stream =
        rawbgp::connect(connect, WAIT).with_context(|| format!("connecting to {connect}"))?;
    let session = rawbgp::establish(stream, &params, WAIT).context("BGP session")?;
    say(json!({"event": "established", "hold": session.hold_time,
        "max_message_len": session.ctx.max_len(), "four_octet_as": session.ctx.four_octet_as,
        "mono_ns": mono_ns()}));

    let started = Instant::now();
    let order = route_order(routes, args.flag("shuffle"));
    let (bytes, messages) = encode(&session.ctx, local_as, next_hop, first, &order, seq)?;
    say(
        json!({"event": "prepared", "routes": routes, "messages": messages.len(),
        "bytes": bytes.len(), "encode_ms": started.elapsed().as_millis()}),
    );

    let Session {
        stream,
        ctx,
        reader,
        ..
    } = session;
    let keepalive = session_keepalive(&ctx, params.hold_time.min(session.hold_time))?;
    let writer = Arc::new(Mutex::new(stream.try_clone()?));
    spawn_reader(stream, ctx.clone(), reader);
    spawn_keepalives(Arc::clone(&writer), keepalive);

    if let Some(go) = &go_file {
        let deadline = Instant::now() + WAIT;
        while !go.exists() {
            if Instant::now() > deadline {
                bail!("{} did not appear within {WAIT:?}", go.display());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    let mut first_logged = false;
    let mut start = 0;
    let mut first_ns = 0;
    for batch in batches(&messages) {
        let end = start + batch;
        let chunk = bytes.get(start..end).unwrap_or_default();
        let mut w = writer
            .lock()
            .map_err(|_| anyhow::anyhow!("writer lock poisoned"))?;
        if !first_logged {
            first_ns = mono_ns();
            first_logged = true;
        }
        w.write_all(chunk).context("writing UPDATEs")?;
        drop(w);
        start = end;
    }
    let eor = Message::Update(Update::end_of_rib(AfiSafi::IPV4_UNICAST)).to_bytes(&ctx)?;
    writer
        .lock()
        .map_err(|_| anyhow::anyhow!("writer lock poisoned"))?
        .write_all(&eor)
        .context("writing End-of-RIB")?;
    say(json!({"event": "first_update", "mono_ns": first_ns}));
    say(
        json!({"event": "sent", "mono_ns": mono_ns(), "routes": routes,
        "messages": messages.len(), "bytes": bytes.len()}),
    );
    if args.flag("repeat") {
        let withdrawals = encode_withdrawals(&ctx, first, &order)?;
        let announcements = (bytes, messages);
        let mut total = u64::from(routes);
        for pass in 1u64.. {
            for (what, (bytes, messages)) in
                [("withdrawn", &withdrawals), ("announced", &announcements)]
            {
                write_batches(&writer, bytes, messages)?;
                total += u64::from(routes);
                say(
                    json!({"event": "reload", "pass": pass, "what": what, "routes": routes,
                    "total": total, "mono_ns": mono_ns()}),
                );
            }
        }
    }
    // Stay up: the reader thread ends the process on NOTIFICATION or close,
    // the keepalive thread keeps the session; the benchmark kills us.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn say(v: serde_json::Value) {
    println!("{v}");
}

fn session_keepalive(ctx: &Context, hold: u16) -> Result<(Vec<u8>, Option<Duration>)> {
    let bytes = Message::Keepalive.to_bytes(ctx)?;
    let every = (hold > 0).then(|| Duration::from_secs(u64::from(hold / 3).max(1)));
    Ok((bytes, every))
}

/// The offsets from `--first` in sending order: ascending, or a fixed
/// pseudo-random permutation (Fisher-Yates with xorshift64).
fn route_order(routes: u32, shuffle: bool) -> Vec<u32> {
    let mut order: Vec<u32> = (0..routes).collect();
    if shuffle {
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        for k in (1..order.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            order.swap(k, (x % (k as u64 + 1)) as usize);
        }
    }
    order
}

/// Encodes the /32s at `first + offset` for each offset of `order` into
/// UPDATEs as full as the session allows; returns the bytes and each
/// message's length.
fn encode(
    ctx: &Context,
    local_as: u32,
    next_hop: Ipv4Addr,
    first: Ipv4Addr,
    order: &[u32],
    seq: u32,
) -> Result<(Vec<u8>, Vec<usize>)> {
    let routes = u32::try_from(order.len())?;
    let community = Community::new(u16::try_from(local_as).unwrap_or(0xfffe), 1);
    let attributes = vec![
        PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
        PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(vec![local_as]))),
        PathAttribute::new(AttributeValue::NextHop(next_hop)),
        PathAttribute::new(AttributeValue::Communities(vec![community])),
        PathAttribute::new(AttributeValue::ExtendedCommunities(vec![
            Mobility::new(seq, false).to_extended(),
        ])),
    ];
    let template = Update {
        attributes,
        ..Update::default()
    };
    let base = Message::Update(template.clone()).buffer_len(ctx);
    let per_message = (usize::from(ctx.max_len()) - base) / 5;
    let mut bytes =
        Vec::with_capacity(routes as usize * 5 + (routes as usize / per_message + 1) * base);
    let mut messages = Vec::new();
    let start = u32::from(first);
    let mut next = 0u32;
    while next < routes {
        let count = (routes - next).min(u32::try_from(per_message)?);
        let nlri = (next..next + count)
            .map(|i| {
                let offset = order.get(i as usize).copied().unwrap_or(i);
                Nlri::new(IpNet::V4(Ipv4Net::from(Ipv4Addr::from(start + offset))))
            })
            .collect();
        let update = Update {
            nlri,
            ..template.clone()
        };
        let before = bytes.len();
        Message::Update(update).emit(ctx, &mut bytes)?;
        messages.push(bytes.len() - before);
        next += count;
    }
    Ok((bytes, messages))
}

/// UPDATEs withdrawing the /32s at `first + offset`, as full as the
/// session allows.
fn encode_withdrawals(
    ctx: &Context,
    first: Ipv4Addr,
    order: &[u32],
) -> Result<(Vec<u8>, Vec<usize>)> {
    let base = Message::Update(Update::default()).buffer_len(ctx);
    let per_message = (usize::from(ctx.max_len()) - base) / 5;
    let start = u32::from(first);
    let mut bytes = Vec::new();
    let mut messages = Vec::new();
    for chunk in order.chunks(per_message) {
        let withdrawn = chunk
            .iter()
            .map(|offset| Nlri::new(IpNet::V4(Ipv4Net::from(Ipv4Addr::from(start + offset)))))
            .collect();
        let update = Update {
            withdrawn,
            ..Update::default()
        };
        let before = bytes.len();
        Message::Update(update).emit(ctx, &mut bytes)?;
        messages.push(bytes.len() - before);
    }
    Ok((bytes, messages))
}

/// Writes `bytes` (messages of lengths `messages`) in batches of whole
/// messages, taking the writer's lock per batch so KEEPALIVEs interleave.
fn write_batches(writer: &Mutex<TcpStream>, bytes: &[u8], messages: &[usize]) -> Result<()> {
    let mut start = 0;
    for batch in batches(messages) {
        let chunk = bytes.get(start..start + batch).unwrap_or_default();
        writer
            .lock()
            .map_err(|_| anyhow::anyhow!("writer lock poisoned"))?
            .write_all(chunk)
            .context("writing UPDATEs")?;
        start += batch;
    }
    Ok(())
}

/// Groups consecutive message lengths into write batches of whole messages.
fn batches(messages: &[usize]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut current = 0;
    for &m in messages {
        if current + m > WRITE_BATCH && current > 0 {
            out.push(current);
            current = 0;
        }
        current += m;
    }
    if current > 0 {
        out.push(current);
    }
    out
}

/// Reads and discards what the receiver sends; ends the process when it
/// closes the session or sends a NOTIFICATION.
fn spawn_reader(mut stream: TcpStream, ctx: Context, mut reader: rawbgp::FrameReader) {
    std::thread::spawn(move || {
        let why = loop {
            match reader.fill(&mut stream) {
                Ok(0) => break "receiver closed the session".to_string(),
                Ok(_) => {}
                Err(e) => break format!("read: {e}"),
            }
            let mut failed = None;
            loop {
                match reader.next_frame() {
                    Ok(Some(frame)) => {
                        if let Err(e) = rawbgp::decode(frame, &ctx) {
                            failed = Some(e.to_string());
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        failed = Some(e.to_string());
                        break;
                    }
                }
            }
            if let Some(f) = failed {
                break f;
            }
        };
        say(json!({"event": "closed", "reason": why, "mono_ns": mono_ns()}));
        std::process::exit(1);
    });
}

fn spawn_keepalives(writer: Arc<Mutex<TcpStream>>, (bytes, every): (Vec<u8>, Option<Duration>)) {
    let Some(every) = every else { return };
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(every);
            let Ok(mut w) = writer.lock() else { return };
            if w.write_all(&bytes).is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_full_and_decode_to_every_route() {
        let ctx = Context::modern();
        let order = route_order(2000, true);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, route_order(2000, false), "a permutation");
        let (bytes, messages) = encode(
            &ctx,
            65001,
            Ipv4Addr::new(10, 0, 0, 1),
            Ipv4Addr::new(100, 64, 0, 0),
            &order,
            7,
        )
        .unwrap();
        assert_eq!(messages.iter().sum::<usize>(), bytes.len());
        assert!(messages.iter().all(|&m| m <= 4096));
        let mut seen = 0;
        let mut at = 0;
        for m in &messages {
            let d = Message::decode(&bytes[at..at + m], &ctx).unwrap();
            assert!(d.problems.is_empty());
            let Message::Update(u) = d.message else {
                panic!()
            };
            seen += u.nlri.len();
            at += m;
        }
        assert_eq!(seen, 2000);
        let (bytes, messages) =
            encode_withdrawals(&ctx, Ipv4Addr::new(100, 64, 0, 0), &order).unwrap();
        assert!(messages.iter().all(|&m| m <= 4096));
        let mut withdrawn = Vec::new();
        let mut at = 0;
        for m in &messages {
            let d = Message::decode(&bytes[at..at + m], &ctx).unwrap();
            let Message::Update(u) = d.message else {
                panic!()
            };
            assert!(u.nlri.is_empty() && u.attributes.is_empty());
            withdrawn.extend(u.withdrawn);
            at += m;
        }
        assert_eq!(at, bytes.len());
        assert_eq!(withdrawn.len(), 2000);
        assert_eq!(
            withdrawn[0],
            Nlri::new(IpNet::V4(Ipv4Net::from(Ipv4Addr::from(
                u32::from(Ipv4Addr::new(100, 64, 0, 0)) + order[0]
            ))))
        );
        assert_eq!(
            batches(&[100_000, 100_000, 100_000]),
            vec![200_000, 100_000]
        );
    }
}
