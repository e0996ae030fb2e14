//! A standalone hostroute BGP speaker for namespace tests and benchmarks.
//!
//! `hr-speakerd <config.json> <control.sock>` runs the speaker library with
//! the given `SpeakerConfig` (JSON) and answers one JSON request per
//! connection on a Unix socket (namespaces share the filesystem, so a test
//! in the root namespace can drive a speaker inside one):
//!
//! ```text
//! {"cmd":"originate","prefix":"198.51.100.7/32","seq":1,"static":false,"communities":["65001:7"]}
//! {"cmd":"withdraw","prefix":"198.51.100.7/32"}
//! {"cmd":"routes"} | {"cmd":"routes","prefix":"198.51.100.0/24"}
//! {"cmd":"peers"} | {"cmd":"bfd"} | {"cmd":"summary"} | {"cmd":"highest_sequence","prefix":"..."}
//! {"cmd":"liveness","neighbor":"192.0.2.2","up":false}
//! {"cmd":"wait_prefixes","count":1000000,"timeout_ms":60000,"poll_us":2000}
//! {"cmd":"wait_gone","prefix":"198.51.100.9/32","timeout_ms":10000}
//! {"cmd":"set_neighbors","neighbors":[{"address":"192.0.2.2","remote_as":65002}, ...]}
//! {"cmd":"shutdown","text":"maintenance"}
//! ```
//!
//! Replies are `{"ok":...}` or `{"error":"..."}`. Events (peer up/down,
//! superseded local routes) are logged to stdout as JSON lines. The daemon
//! proper is `hostrouted` in the agent crate; this binary exists so the
//! speaker can be tested and measured on its own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use ipnet::IpNet;
use proto::bgp::{Community, LargeCommunity, Mobility};
use serde::Deserialize;
use serde_json::{Value, json};
use speaker::rib::attrs::PathAttrs;
use speaker::{SpeakerConfig, SpeakerEvent, SpeakerHandle};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
enum Request {
    Originate {
        prefix: IpNet,
        #[serde(default)]
        seq: u32,
        #[serde(default, rename = "static")]
        is_static: bool,
        #[serde(default)]
        communities: Vec<String>,
        #[serde(default)]
        large_communities: Vec<String>,
    },
    Withdraw {
        prefix: IpNet,
    },
    Routes {
        #[serde(default)]
        prefix: Option<IpNet>,
    },
    Peers,
    Bfd,
    Summary,
    HighestSequence {
        prefix: IpNet,
    },
    Liveness {
        neighbor: std::net::IpAddr,
        up: bool,
    },
    WaitPrefixes {
        count: usize,
        #[serde(default = "default_wait")]
        timeout_ms: u64,
        #[serde(default = "default_poll")]
        poll_us: u64,
    },
    /// Blocks until `prefix` has no best path, on the speaker's route-change
    /// events (no polling); replies at once if it has none now.
    WaitGone {
        prefix: IpNet,
        #[serde(default = "default_wait")]
        timeout_ms: u64,
    },
    /// Replaces the neighbour list (`SpeakerHandle::set_neighbors`).
    SetNeighbors {
        neighbors: Vec<speaker::NeighborConfig>,
    },
    Shutdown {
        #[serde(default)]
        text: Option<String>,
    },
}

fn default_wait() -> u64 {
    60_000
}

fn default_poll() -> u64 {
    2_000
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(config), Some(socket)) = (args.next(), args.next()) else {
        bail!("usage: hr-speakerd <config.json> <control.sock>");
    };
    let text = std::fs::read_to_string(&config).with_context(|| format!("reading {config}"))?;
    let cfg: SpeakerConfig =
        serde_json::from_str(&text).with_context(|| format!("{config}: invalid configuration"))?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(cfg, PathBuf::from(socket)))
}

async fn run(cfg: SpeakerConfig, socket: PathBuf) -> Result<()> {
    let handle = speaker::spawn(cfg).await.context("starting the speaker")?;
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("binding control socket {}", socket.display()))?;
    tokio::spawn(log_events(handle.clone()));
    println!("{}", json!({"event": "ready"}));
    loop {
        let (stream, _) = listener.accept().await?;
        let h = handle.clone();
        let stop = tokio::spawn(async move { serve(stream, h).await });
        if let Ok(Ok(true)) = stop.await {
            let _ = std::fs::remove_file(&socket);
            return Ok(());
        }
    }
}

async fn log_events(handle: SpeakerHandle) {
    let mut rx = handle.subscribe();
    loop {
        let line = match rx.recv().await {
            Ok(SpeakerEvent::PeerUp { neighbor }) => {
                json!({"event": "peer_up", "neighbor": neighbor})
            }
            Ok(SpeakerEvent::PeerDown { neighbor, reason }) => {
                json!({"event": "peer_down", "neighbor": neighbor, "reason": reason})
            }
            Ok(SpeakerEvent::Rib(ev)) => json!({"event": "rib", "detail": ev}),
            Ok(SpeakerEvent::Routes(_)) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
            Err(_) => return,
        };
        println!("{line}");
    }
}

/// Serves one request; returns whether the daemon should stop.
async fn serve(stream: UnixStream, handle: SpeakerHandle) -> Result<bool> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read).read_line(&mut line).await?;
    let (reply, stop) = match serde_json::from_str::<Request>(&line) {
        Ok(req) => {
            let stop = matches!(req, Request::Shutdown { .. });
            match answer(req, &handle).await {
                Ok(v) => (json!({ "ok": v }), stop),
                Err(e) => (json!({ "error": format!("{e:#}") }), false),
            }
        }
        Err(e) => (json!({ "error": format!("bad request: {e}") }), false),
    };
    write.write_all(format!("{reply}\n").as_bytes()).await?;
    write.shutdown().await?;
    Ok(stop)
}

async fn answer(req: Request, h: &SpeakerHandle) -> Result<Value> {
    Ok(match req {
        Request::Originate {
            prefix,
            seq,
            is_static,
            communities,
            large_communities,
        } => {
            let mut attrs = PathAttrs::local(Mobility::new(seq, is_static));
            attrs.communities = communities
                .iter()
                .map(|c| parse_community(c))
                .collect::<Result<Vec<_>>>()?
                .into();
            attrs.large_communities = large_communities
                .iter()
                .map(|c| parse_large(c))
                .collect::<Result<Vec<_>>>()?
                .into();
            h.originate(prefix, attrs).await?;
            Value::Null
        }
        Request::Withdraw { prefix } => {
            h.withdraw(prefix).await?;
            Value::Null
        }
        Request::Routes { prefix } => serde_json::to_value(h.routes(prefix).await?)?,
        Request::Peers => serde_json::to_value(h.peers().await?)?,
        Request::Bfd => serde_json::to_value(h.bfd().await?)?,
        Request::Summary => serde_json::to_value(h.summary().await?)?,
        Request::HighestSequence { prefix } => {
            json!(h.highest_sequence(prefix).await?.map(|s| s.0))
        }
        Request::Liveness { neighbor, up } => {
            h.liveness(neighbor, up).await?;
            Value::Null
        }
        Request::WaitPrefixes {
            count,
            timeout_ms,
            poll_us,
        } => {
            // The prefix count, not `summary`: that one walks the table for
            // its memory report, too slow to poll under a million routes.
            // Checked after every batch of route changes (one per turn of
            // the speaker's event loop) and at least every `poll_us`.
            let start = Instant::now();
            let limit = Duration::from_millis(timeout_ms);
            let mut events = h.subscribe();
            let mut polls = 0u64;
            loop {
                let prefixes = h.prefix_count().await?;
                polls += 1;
                if prefixes >= count {
                    break json!({"prefixes": prefixes, "polls": polls,
                        "waited_ms": start.elapsed().as_secs_f64() * 1000.0});
                }
                if start.elapsed() > limit {
                    bail!("only {prefixes} of {count} prefixes after {timeout_ms} ms");
                }
                tokio::select! {
                    _ = events.recv() => {}
                    () = tokio::time::sleep(Duration::from_micros(poll_us)) => {}
                }
                // Whatever else queued: a batch held here is memory the
                // speaker cannot free (this receiver has not seen it).
                while !matches!(
                    events.try_recv(),
                    Err(tokio::sync::broadcast::error::TryRecvError::Empty
                        | tokio::sync::broadcast::error::TryRecvError::Closed)
                ) {}
            }
        }
        Request::WaitGone { prefix, timeout_ms } => {
            let limit = Duration::from_millis(timeout_ms);
            let start = Instant::now();
            tokio::time::timeout(limit, wait_gone(h, prefix))
                .await
                .with_context(|| {
                    format!("{prefix} still has a best path after {timeout_ms} ms")
                })??;
            json!({"waited_us": start.elapsed().as_micros()})
        }
        Request::SetNeighbors { neighbors } => {
            serde_json::to_value(h.set_neighbors(neighbors).await?)?
        }
        Request::Shutdown { text } => {
            h.shutdown(text).await?;
            Value::Null
        }
    })
}

/// Returns once `prefix` has no best path. Subscribes before reading the
/// table so no change falls between the two; a lagging subscriber re-reads.
async fn wait_gone(h: &SpeakerHandle, prefix: IpNet) -> Result<()> {
    let mut rx = h.subscribe();
    let has_best = |routes: Vec<speaker::handle::RouteReport>| {
        routes
            .iter()
            .any(|r| r.prefix == prefix && r.paths.iter().any(|p| p.best))
    };
    if !has_best(h.routes(Some(prefix)).await?) {
        return Ok(());
    }
    loop {
        match rx.recv().await {
            Ok(SpeakerEvent::Routes(changes)) => {
                if let Some(c) = changes.iter().rev().find(|c| c.prefix == prefix)
                    && c.new.is_none()
                {
                    return Ok(());
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                if !has_best(h.routes(Some(prefix)).await?) {
                    return Ok(());
                }
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                bail!("the speaker stopped")
            }
        }
    }
}

fn parse_community(s: &str) -> Result<Community> {
    let (a, v) = s.split_once(':').context("community must be ASN:VALUE")?;
    Ok(Community::new(a.parse()?, v.parse()?))
}

fn parse_large(s: &str) -> Result<LargeCommunity> {
    let mut it = s.split(':').map(str::parse::<u32>);
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b)), Some(Ok(c)), None) => Ok(LargeCommunity::new(a, b, c)),
        _ => bail!("large community must be GLOBAL:LOCAL1:LOCAL2"),
    }
}
