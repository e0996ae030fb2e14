//! The control socket: how the operator CLI (and libvirt's qemu hook, via
//! the CLI) talks to a running daemon.
//!
//! Newline-delimited JSON over a Unix stream socket: one request per line,
//! one response line for each, several requests per connection allowed.
//! The messages are in [`api`]; [`convert`] builds the views from the
//! speaker's and the FIB service's reports; [`client`] is what the CLI
//! uses.
//!
//! ```text
//!  hostroute CLI ──connect──> Server (accept task)
//!                                 │ one task per connection (<= 64):
//!                                 │ read a line (<= 64 KiB, 30 s idle),
//!                                 │ parse + validate, or answer bad-request
//!                                 ▼
//!                   mpsc<ControlRequest> ──> daemon owner task
//!                                 ▲               │
//!                                 └── oneshot<Response>
//! ```
//!
//! The server owns no daemon state: it hands each valid request to the
//! daemon's owner task with a oneshot for the answer, and writes the
//! answer back. Whatever a client sends (garbage, huge lines, nothing at
//! all), the client gets a clear error or is disconnected; the server
//! keeps serving the others.

pub mod api;
pub mod client;
pub mod convert;
pub mod server;

#[cfg(test)]
mod tests;

use std::time::Duration;

use tokio::sync::oneshot;

pub use api::{ControlError, ErrorKind, Reply, ReplyKind, Request, Response};
pub use client::{Client, ClientError};
pub use server::{Server, ServerConfig, ServerError};

/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/hostroute/hostroute.sock";

/// Longest request line accepted, newline excluded.
pub const MAX_LINE: usize = 64 * 1024;

/// How long the CLI waits for the daemon by default.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A valid request on its way to the daemon's owner task, and where its
/// answer goes. Dropping `reply` unanswered makes the client see an
/// internal error.
#[derive(Debug)]
pub struct ControlRequest {
    pub request: Request,
    pub reply: oneshot::Sender<Response>,
}

/// Parses and validates one request line (without its newline). Never
/// panics, whatever the bytes.
pub fn parse_request(line: &[u8]) -> Result<Request, ControlError> {
    let text = std::str::from_utf8(line)
        .map_err(|e| ControlError::bad_request(format!("the request is not UTF-8: {e}")))?;
    let request: Request = serde_json::from_str(text).map_err(|e| {
        ControlError::bad_request(format!(
            "{e} (a request is one JSON object per line, e.g. {{\"request\":\"status\"}})"
        ))
    })?;
    request.validate()?;
    Ok(request)
}
