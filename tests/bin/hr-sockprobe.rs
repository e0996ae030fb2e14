//! A TCP listener or client with the speaker's socket options, for the
//! namespace tests in `tests/tests/sockopt.rs` (which run it inside a
//! namespace with `ip netns exec`).
//!
//! ```text
//! hr-sockprobe listen  <addr:port> [md5 <peer> <key>] [md5net <peer>/<len> <key>] [gtsm <hops>]
//! hr-sockprobe connect <addr:port> [md5 <peer> <key>] [ttl <n>] [gtsm <hops>]
//!                      [from <addr>] [dev <ifname>] [timeout <ms>]
//! ```
//!
//! `listen` prints `listening <addr>` and then `accepted <peer>` for each
//! connection until it is killed. `connect` prints `connected <local>` and
//! exits 0, or `failed <error>` and exits 2 once the timeout passes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use socket2::{Domain, Protocol, Socket, Type};
use speaker::bgp::sockopt;

fn main() {
    if let Err(e) = run() {
        println!("failed {e:#}");
        std::process::exit(2);
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(addr)) = (args.first(), args.get(1)) else {
        bail!("usage: hr-sockprobe listen|connect <addr:port> [options]");
    };
    let addr: SocketAddr = addr.parse().with_context(|| format!("address {addr}"))?;
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    let mut timeout = Duration::from_secs(1);
    let mut rest = args.iter().skip(2).map(String::as_str);
    while let Some(option) = rest.next() {
        let mut value = || {
            rest.next()
                .with_context(|| format!("{option} needs a value"))
        };
        match option {
            "md5" => {
                let peer: IpAddr = value()?.parse()?;
                sockopt::set_md5_key(&socket, peer, value()?.as_bytes()).context("md5")?;
            }
            "md5net" => {
                let net = value()?;
                let (peer, len) = net.split_once('/').context("md5net needs <addr>/<len>")?;
                sockopt::set_md5_key_for_prefix(
                    &socket,
                    peer.parse()?,
                    len.parse()?,
                    value()?.as_bytes(),
                )
                .context("md5net")?;
            }
            "gtsm" => sockopt::set_gtsm(&socket, value()?.parse()?).context("gtsm")?,
            "ttl" => sockopt::set_outgoing_ttl(&socket, value()?.parse()?).context("ttl")?,
            "from" => sockopt::bind_address(&socket, value()?.parse()?).context("from")?,
            "dev" => sockopt::bind_device(&socket, value()?).context("dev")?,
            "timeout" => timeout = Duration::from_millis(value()?.parse()?),
            other => bail!("unknown option {other}"),
        }
    }
    match mode.as_str() {
        "listen" => {
            socket.set_reuse_address(true)?;
            socket.bind(&addr.into())?;
            socket.listen(16)?;
            println!("listening {addr}");
            loop {
                let (conn, peer) = socket.accept()?;
                let peer = peer
                    .as_socket()
                    .map_or_else(|| "?".to_string(), |p| p.to_string());
                println!("accepted {peer}");
                drop(conn);
            }
        }
        "connect" => {
            socket
                .connect_timeout(&addr.into(), timeout)
                .with_context(|| format!("connecting to {addr}"))?;
            let local = socket.local_addr()?.as_socket().context("local address")?;
            println!("connected {local}");
            Ok(())
        }
        other => bail!("unknown mode {other}"),
    }
}
