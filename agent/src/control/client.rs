//! A blocking client of the control socket, for the CLI and for tests.
//!
//! Blocking on purpose: the CLI makes one request and exits, and needs no
//! runtime for that. Every read and write has a timeout.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;

use super::api::{
    BfdRow, ControlError, FibView, HookView, MovesView, PeerRow, Reply, Request, Response,
    RouteRow, StatusView, VmRow,
};

/// Longest reply line read (a full table of a big RIB fits).
const MAX_REPLY: u64 = 256 * 1024 * 1024;

/// Why a request got no answer, or a refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No socket file: the daemon is not running (or uses another path).
    #[error("hostroute daemon is not running (no socket at {})", path.display())]
    NotRunning { path: PathBuf },
    /// The socket exists but we may not connect.
    #[error("cannot open {}: permission denied ({hint})", path.display())]
    PermissionDenied { path: PathBuf, hint: String },
    /// The socket file exists, nobody listens.
    #[error("no daemon listening on {} (stale socket)", path.display())]
    Stale { path: PathBuf },
    /// Connecting failed otherwise.
    #[error("cannot connect to {}: {source}", path.display())]
    Connect {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The daemon did not answer in time.
    #[error("the daemon at {} did not answer within {} s", path.display(), timeout.as_secs_f64())]
    Timeout { path: PathBuf, timeout: Duration },
    /// The connection broke.
    #[error("talking to the daemon at {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The reply is not a reply to the request.
    #[error("garbled reply from the daemon: {0}")]
    Protocol(String),
    /// The daemon refused or failed the request.
    #[error("{0}")]
    Refused(ControlError),
}

impl ClientError {
    /// The daemon could not be reached at all (not running, stale, no
    /// permission, no answer).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::NotRunning { .. }
                | ClientError::PermissionDenied { .. }
                | ClientError::Stale { .. }
                | ClientError::Connect { .. }
                | ClientError::Timeout { .. }
        )
    }
}

/// One connection to the daemon; requests are answered in order.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    writer: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Client {
    /// Connects to the socket at `path`; every later read or write waits
    /// at most `timeout`.
    pub fn connect(path: impl AsRef<Path>, timeout: Duration) -> Result<Client, ClientError> {
        let path = path.as_ref().to_path_buf();
        let stream = UnixStream::connect(&path).map_err(|e| connect_error(&path, e))?;
        let setup = |e| ClientError::Io {
            path: path.clone(),
            source: e,
        };
        // A zero timeout means "none" to std: keep at least a millisecond.
        let timeout = timeout.max(Duration::from_millis(1));
        stream.set_read_timeout(Some(timeout)).map_err(setup)?;
        stream.set_write_timeout(Some(timeout)).map_err(setup)?;
        let reader = BufReader::new(stream.try_clone().map_err(setup)?);
        Ok(Client {
            path,
            timeout,
            writer: stream,
            reader,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sends one request and reads its answer. A refusal comes back as
    /// [`ClientError::Refused`].
    pub fn request(&mut self, request: &Request) -> Result<Reply, ClientError> {
        let mut line = serde_json::to_string(request)
            .map_err(|e| ClientError::Protocol(format!("cannot encode the request: {e}")))?;
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(|e| self.io_error(e))?;
        let mut reply = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_REPLY)
            .read_until(b'\n', &mut reply)
            .map_err(|e| self.io_error(e))?;
        if read == 0 {
            return Err(ClientError::Protocol(
                "the daemon closed the connection without answering".into(),
            ));
        }
        if reply.last() != Some(&b'\n') {
            return Err(ClientError::Protocol(
                "the reply was cut short (no end of line)".into(),
            ));
        }
        let text = std::str::from_utf8(&reply)
            .map_err(|e| ClientError::Protocol(format!("the reply is not UTF-8: {e}")))?;
        match Response::from_line(text.trim_end(), request.reply_kind()) {
            Ok(Response::Ok(reply)) => Ok(reply),
            Ok(Response::Err(error)) => Err(ClientError::Refused(error)),
            Err(bad) => Err(ClientError::Protocol(bad.0)),
        }
    }

    pub fn status(&mut self) -> Result<StatusView, ClientError> {
        match self.request(&Request::Status {})? {
            Reply::Status(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn peers(&mut self) -> Result<Vec<PeerRow>, ClientError> {
        match self.request(&Request::ShowPeers {})? {
            Reply::Peers(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn routes(&mut self, prefix: Option<IpNet>) -> Result<Vec<RouteRow>, ClientError> {
        match self.request(&Request::ShowRoutes { prefix })? {
            Reply::Routes(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn vms(&mut self) -> Result<Vec<VmRow>, ClientError> {
        match self.request(&Request::ShowVms {})? {
            Reply::Vms(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn bfd(&mut self) -> Result<Vec<BfdRow>, ClientError> {
        match self.request(&Request::ShowBfd {})? {
            Reply::Bfd(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn fib(&mut self) -> Result<FibView, ClientError> {
        match self.request(&Request::ShowFib {})? {
            Reply::Fib(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    pub fn moves(&mut self, prefix: Option<IpNet>) -> Result<MovesView, ClientError> {
        match self.request(&Request::ShowMoves { prefix })? {
            Reply::Moves(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    /// Sends a `vm-*` request.
    pub fn hook(&mut self, request: &Request) -> Result<HookView, ClientError> {
        match self.request(request)? {
            Reply::Hook(v) => Ok(v),
            other => Err(unexpected(&other)),
        }
    }

    fn io_error(&self, source: io::Error) -> ClientError {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout {
                path: self.path.clone(),
                timeout: self.timeout,
            },
            _ => ClientError::Io {
                path: self.path.clone(),
                source,
            },
        }
    }
}

/// `Reply::decode` picks the variant from the request, so this means a bug.
fn unexpected(reply: &Reply) -> ClientError {
    ClientError::Protocol(format!("unexpected kind of reply: {:?}", reply.kind()))
}

fn connect_error(path: &Path, source: io::Error) -> ClientError {
    let path = path.to_path_buf();
    match source.kind() {
        io::ErrorKind::NotFound => ClientError::NotRunning { path },
        io::ErrorKind::PermissionDenied => {
            let hint = permission_hint(&path);
            ClientError::PermissionDenied { path, hint }
        }
        io::ErrorKind::ConnectionRefused => ClientError::Stale { path },
        _ => ClientError::Connect { path, source },
    }
}

/// What to do about a permission error: the socket's group, if we can
/// read it.
fn permission_hint(path: &Path) -> String {
    let Ok(meta) = std::fs::metadata(path) else {
        return "run as root, or as a member of the socket directory's group".into();
    };
    let group = group_name(meta.gid()).unwrap_or_else(|| meta.gid().to_string());
    format!(
        "the socket is mode {:o}, group {group}; run as root or join group {group}",
        meta.mode() & 0o7777
    )
}

/// The name of group `gid` from /etc/group.
fn group_name(gid: u32) -> Option<String> {
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id = fields.nth(1)?.parse::<u32>().ok()?;
        (id == gid).then(|| name.to_string())
    })
}
