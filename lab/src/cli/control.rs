//! The owner's control socket, `/run/hostroute-lab/<name>.sock`: one JSON
//! request per connection, one JSON reply (`{"ok": ...}` or
//! `{"error": "..."}`), so `lab migrate` in another shell moves a VM in
//! the lab that the owner holds.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::migrate::migrate;
use crate::scenario::Deployment;
use crate::state::STATE_DIR;

/// How long a request may take (a migration with a long blackout).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

fn socket_path(name: &str) -> PathBuf {
    PathBuf::from(STATE_DIR).join(format!("{name}.sock"))
}

/// Serves requests until `stop` is set; removes the socket on the way out.
pub fn serve(name: &str, d: &mut Deployment, stop: &Arc<AtomicBool>) -> Result<()> {
    let path = socket_path(name);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| Error::io("binding", &path, e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Error::io("configuring", &path, e))?;
    d.recorder.update(|s| {
        s.info
            .insert("control socket".into(), path.display().to_string());
    })?;
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(e) = answer(stream, d) {
                    tracing::warn!(error = %e, "lab: control request failed");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(Error::io("accepting on", &path, e)),
        }
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

fn answer(stream: UnixStream, d: &mut Deployment) -> Result<()> {
    let io = |e| Error::io("serving", "the control socket", e);
    stream.set_nonblocking(false).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(io)?;
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).map_err(io)?;
    let reply = match handle(&line, d) {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": e.to_string() }),
    };
    (&stream)
        .write_all(format!("{reply}\n").as_bytes())
        .map_err(io)
}

fn handle(line: &str, d: &mut Deployment) -> Result<Value> {
    let request: Value =
        serde_json::from_str(line).map_err(|e| Error::parse("control request", e))?;
    let text = |key: &str| {
        request[key]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::parse("control request", format!("no {key:?}")))
    };
    match request["cmd"].as_str() {
        Some("migrate") => {
            let blackout = Duration::from_millis(request["blackout_ms"].as_u64().unwrap_or(0));
            let record = migrate(d, &text("vm")?, &text("to")?, blackout)?;
            serde_json::to_value(record).map_err(|e| Error::parse("move record", e))
        }
        Some("status") => Ok(d.describe()),
        other => Err(Error::parse(
            "control request",
            format!("unknown cmd {other:?} (migrate, status)"),
        )),
    }
}

/// Sends one request to the owner of lab `name`.
pub fn request(name: &str, request: &Value) -> Result<Value> {
    let path = socket_path(name);
    let io = |e| Error::io("talking to the lab owner at", socket_path(name), e);
    let mut stream = UnixStream::connect(&path).map_err(io)?;
    stream.set_read_timeout(Some(REQUEST_TIMEOUT)).map_err(io)?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(io)?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).map_err(io)?;
    let reply: Value = serde_json::from_str(&line).map_err(|e| Error::parse("owner reply", e))?;
    match (reply.get("ok"), reply.get("error")) {
        (Some(ok), _) => Ok(ok.clone()),
        (None, Some(e)) => Err(Error::Config(format!("lab {name}: {e}"))),
        _ => Err(Error::parse("owner reply", line)),
    }
}
