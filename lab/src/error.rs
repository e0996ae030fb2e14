//! The lab's error type: every failure names what was being done, so a
//! failing test says which command, daemon or wait went wrong.

use std::path::PathBuf;
use std::time::Duration;

/// Result with the lab's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a lab operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command could not be started (missing binary, bad path).
    #[error("could not start `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    /// A command ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        command: String,
        status: String,
        stderr: String,
    },
    /// A process the lab started has exited (while it was being waited on,
    /// or when it should be running).
    #[error("`{command}` exited ({status}); its log ends with:\n{log_tail}")]
    Exited {
        command: String,
        status: String,
        log_tail: String,
    },
    /// A file or directory operation failed.
    #[error("{what} {path}: {source}", path = path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A bounded wait ran out of time.
    #[error("timed out after {after:?} waiting for {what}{}", last_error.as_ref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    Timeout {
        what: String,
        after: Duration,
        last_error: Option<String>,
    },
    /// A daemon's output could not be understood.
    #[error("could not parse {what}: {detail}")]
    Parse { what: String, detail: String },
    /// The daemon cannot do what the configuration asks.
    #[error("{daemon} does not support {feature}")]
    Unsupported {
        daemon: &'static str,
        feature: String,
    },
    /// The configuration is inconsistent (caught before any daemon starts).
    #[error("invalid lab configuration: {0}")]
    Config(String),
    /// A daemon the lab drives did not do what was waited for, or refused
    /// a request; the tail of its log says why.
    #[error("{daemon}: {what}\n--- its log ends with ---\n{log_tail}")]
    Daemon {
        daemon: String,
        what: String,
        log_tail: String,
    },
}

impl Error {
    pub(crate) fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(what: impl Into<String>, detail: impl ToString) -> Self {
        Error::Parse {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn unsupported(daemon: &'static str, feature: impl Into<String>) -> Self {
        Error::Unsupported {
            daemon,
            feature: feature.into(),
        }
    }
}
