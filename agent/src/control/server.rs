//! The control socket's server: accepts connections, reads request lines,
//! hands valid requests to the daemon's owner task and writes its answers.

use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout, timeout_at};
use tracing::{debug, info, warn};

use super::api::{ControlError, ErrorKind, Response};
use super::{ControlRequest, MAX_LINE, parse_request};

/// Limits and permissions of the control socket.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Connections served at once; one more is answered `busy` and closed.
    pub max_connections: usize,
    /// Longest request line, newline excluded; a longer one is answered
    /// `bad-request` and the connection closed.
    pub max_line: usize,
    /// A connection with no complete request for this long is closed.
    pub idle_timeout: Duration,
    /// A client that does not take a reply within this is disconnected.
    pub write_timeout: Duration,
    /// How long a request may wait for the daemon's answer.
    pub reply_timeout: Duration,
    /// Requests queued toward the owner task.
    pub queue: usize,
    /// The socket file's mode (`0o660`: owner and group may connect).
    pub mode: u32,
    /// The group that may connect (gid), if any; the socket's group is
    /// otherwise the daemon's.
    pub group: Option<u32>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_connections: 64,
            max_line: MAX_LINE,
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(8),
            queue: 32,
            mode: 0o660,
            group: None,
        }
    }
}

/// Why the control socket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A daemon already answers on the socket.
    #[error("{}: another hostroute daemon is already listening there", path.display())]
    InUse { path: PathBuf },
    /// Something that is not a socket is in the way; it is not removed.
    #[error("{}: exists and is not a socket; remove it or choose another path", path.display())]
    NotASocket { path: PathBuf },
    #[error("{}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
}

/// The socket file we created; removed on drop unless someone replaced it.
#[derive(Debug)]
struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if ours && let Err(e) = std::fs::remove_file(&self.path) {
            warn!(path = %self.path.display(), error = %e, "cannot remove the control socket");
        }
    }
}

/// A bound control socket, not yet serving.
#[derive(Debug)]
pub struct Server {
    listener: UnixListener,
    socket: SocketFile,
    config: ServerConfig,
    requests: mpsc::Sender<ControlRequest>,
}

impl Server {
    /// Binds `path` with the default limits. See [`Server::bind_with`].
    pub async fn bind(
        path: impl AsRef<Path>,
    ) -> Result<(Server, mpsc::Receiver<ControlRequest>), ServerError> {
        Server::bind_with(path, ServerConfig::default()).await
    }

    /// Creates the parent directory, removes a stale socket (refusing if a
    /// daemon answers on it, or if it is not a socket), binds, and sets the
    /// mode and group. Valid requests arrive on the returned receiver once
    /// the server runs.
    pub async fn bind_with(
        path: impl AsRef<Path>,
        config: ServerConfig,
    ) -> Result<(Server, mpsc::Receiver<ControlRequest>), ServerError> {
        let path = path.as_ref().to_path_buf();
        let io_err = |what| {
            let path = path.clone();
            move |source| ServerError::Io { path, what, source }
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(parent)
                .map_err(io_err("cannot create the socket's directory"))?;
        }
        remove_stale(&path).await?;
        let listener = UnixListener::bind(&path).map_err(io_err("cannot bind"))?;
        let meta = std::fs::symlink_metadata(&path).map_err(io_err("cannot stat the socket"))?;
        let socket = SocketFile {
            path: path.clone(),
            dev: meta.dev(),
            ino: meta.ino(),
        };
        if let Some(gid) = config.group {
            std::os::unix::fs::chown(&path, None, Some(gid))
                .map_err(io_err("cannot change the socket's group"))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(config.mode))
            .map_err(io_err("cannot set the socket's mode"))?;
        let (tx, rx) = mpsc::channel(config.queue.max(1));
        info!(path = %path.display(), "control socket listening");
        Ok((
            Server {
                listener,
                socket,
                config,
                requests: tx,
            },
            rx,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.socket.path
    }

    /// Serves until `shutdown` completes, then closes every connection and
    /// removes the socket file.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            socket,
            config,
            requests,
        } = self;
        let config = Arc::new(config);
        let slots = Arc::new(Semaphore::new(config.max_connections));
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => match Arc::clone(&slots).try_acquire_owned() {
                        Ok(permit) => {
                            let (requests, config) = (requests.clone(), Arc::clone(&config));
                            connections.spawn(async move {
                                serve(stream, &requests, &config).await;
                                drop(permit);
                            });
                        }
                        Err(_) => {
                            debug!(limit = config.max_connections, "control: too many connections");
                            let write_timeout = config.write_timeout;
                            connections.spawn(async move {
                                let busy = Response::Err(ControlError::new(
                                    ErrorKind::Busy,
                                    "too many control connections; try again",
                                ));
                                let mut stream = stream;
                                // The client may be gone: nothing to do then.
                                let _ = write_response(&mut stream, &busy, write_timeout).await;
                            });
                        }
                    },
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning.
                        warn!(error = %e, "control: accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        connections.shutdown().await;
        drop(listener);
        info!(path = %socket.path.display(), "control socket closed");
        drop(socket);
    }

    /// Runs the server on its own task.
    pub fn spawn(self) -> ServerHandle {
        let path = self.socket.path.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(self.run(async {
            // A dropped sender stops the server too.
            let _ = stopped.await;
        }));
        ServerHandle {
            path,
            stop: Some(stop),
            task,
        }
    }
}

/// A server running on its own task; dropping it stops the server (the
/// socket file is removed as the task ends).
#[derive(Debug)]
pub struct ServerHandle {
    path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl ServerHandle {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops serving, closes the connections and removes the socket; waits
    /// until that is done.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Err(e) = (&mut self.task).await {
            warn!(error = %e, "control: the server task failed");
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Removes a socket file nobody listens on; refuses if a daemon answers or
/// if the file is not a socket.
async fn remove_stale(path: &Path) -> Result<(), ServerError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(ServerError::Io {
                path: path.to_path_buf(),
                what: "cannot stat",
                source,
            });
        }
    };
    if !meta.file_type().is_socket() {
        return Err(ServerError::NotASocket {
            path: path.to_path_buf(),
        });
    }
    match timeout(Duration::from_secs(1), UnixStream::connect(path)).await {
        // Connected, or a listener too busy to accept within a second:
        // either way someone is there.
        Ok(Ok(_)) | Err(_) => Err(ServerError::InUse {
            path: path.to_path_buf(),
        }),
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            info!(path = %path.display(), "removing a stale control socket");
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(ServerError::Io {
                    path: path.to_path_buf(),
                    what: "cannot remove the stale socket",
                    source: e,
                }),
                _ => Ok(()),
            }
        }
        Ok(Err(source)) => Err(ServerError::Io {
            path: path.to_path_buf(),
            what: "cannot check the existing socket",
            source,
        }),
    }
}

/// What one read of a request line found.
#[derive(Debug, PartialEq, Eq)]
enum LineRead {
    /// A line ended by `\n` (not included).
    Complete,
    /// Bytes, then end of stream.
    Unterminated,
    /// End of stream, nothing read.
    Eof,
    /// More than the limit before any `\n`.
    TooLong,
}

/// Reads up to `\n` into `buf`, holding at most `max` bytes.
async fn read_line(
    reader: &mut (impl AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
    max: usize,
) -> io::Result<LineRead> {
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if buf.is_empty() {
                LineRead::Eof
            } else {
                LineRead::Unterminated
            });
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        if buf.len() + take > max {
            return Ok(LineRead::TooLong);
        }
        buf.extend_from_slice(available.get(..take).unwrap_or_default());
        reader.consume(take + usize::from(done));
        if done {
            return Ok(LineRead::Complete);
        }
    }
}

async fn write_response(
    stream: &mut (impl tokio::io::AsyncWrite + Unpin),
    response: &Response,
    limit: Duration,
) -> io::Result<()> {
    let mut line = response.to_line();
    line.push('\n');
    match timeout(limit, stream.write_all(line.as_bytes())).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read its reply",
        )),
    }
}

/// Serves one connection until it closes, idles, misbehaves or stops
/// reading.
async fn serve(stream: UnixStream, requests: &mpsc::Sender<ControlRequest>, config: &ServerConfig) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = timeout(
            config.idle_timeout,
            read_line(&mut reader, &mut line, config.max_line),
        )
        .await;
        let last = match read {
            Err(_) => {
                debug!("control: idle connection closed");
                return;
            }
            Ok(Err(e)) => {
                debug!(error = %e, "control: read failed");
                return;
            }
            Ok(Ok(LineRead::Eof)) => return,
            Ok(Ok(LineRead::TooLong)) => {
                let error = ControlError::bad_request(format!(
                    "the request line is longer than {} bytes; closing the connection",
                    config.max_line
                ));
                debug!(%error, "control: oversized request");
                let _ =
                    write_response(&mut write, &Response::Err(error), config.write_timeout).await;
                return;
            }
            Ok(Ok(LineRead::Complete)) => false,
            Ok(Ok(LineRead::Unterminated)) => true,
        };
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            if last {
                return;
            }
            continue;
        }
        let response = match parse_request(&line) {
            Err(error) => {
                debug!(%error, "control: bad request");
                Response::Err(error)
            }
            Ok(request) => forward(requests, request, config.reply_timeout).await,
        };
        if let Err(e) = write_response(&mut write, &response, config.write_timeout).await {
            debug!(error = %e, "control: cannot write the reply");
            return;
        }
        if last {
            return;
        }
    }
}

/// Hands a request to the owner task and waits for its answer.
async fn forward(
    requests: &mpsc::Sender<ControlRequest>,
    request: super::Request,
    limit: Duration,
) -> Response {
    let deadline = Instant::now() + limit;
    let name = request.name();
    let (reply, answer) = oneshot::channel();
    let late = || {
        Response::Err(ControlError::new(
            ErrorKind::Unavailable,
            format!(
                "the daemon did not answer {name} within {} s",
                limit.as_secs_f64()
            ),
        ))
    };
    match timeout_at(deadline, requests.send(ControlRequest { request, reply })).await {
        Err(_) => return late(),
        Ok(Err(_)) => {
            return Response::Err(ControlError::new(
                ErrorKind::Unavailable,
                "the daemon is shutting down",
            ));
        }
        Ok(Ok(())) => {}
    }
    match timeout_at(deadline, answer).await {
        Err(_) => late(),
        Ok(Err(_)) => Response::Err(ControlError::internal(format!(
            "the daemon dropped the {name} request unanswered"
        ))),
        Ok(Ok(response)) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(input: &[u8], max: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut reader = BufReader::with_capacity(4, input);
        let mut out = Vec::new();
        loop {
            let mut buf = Vec::new();
            let r = read_line(&mut reader, &mut buf, max).await.unwrap();
            let stop = matches!(r, LineRead::Eof | LineRead::TooLong);
            out.push((r, buf));
            if stop {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn read_line_splits_across_small_buffers() {
        let got = read_all(b"abcdefgh\nij\nkl", 100).await;
        assert_eq!(
            got,
            vec![
                (LineRead::Complete, b"abcdefgh".to_vec()),
                (LineRead::Complete, b"ij".to_vec()),
                (LineRead::Unterminated, b"kl".to_vec()),
                (LineRead::Eof, Vec::new()),
            ]
        );
    }

    #[tokio::test]
    async fn read_line_stops_at_the_limit() {
        let got = read_all(b"12345\n123456\n", 5).await;
        assert_eq!(got[0], (LineRead::Complete, b"12345".to_vec()));
        assert_eq!(got[1].0, LineRead::TooLong);
    }
}
