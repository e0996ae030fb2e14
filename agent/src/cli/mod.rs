//! The operator CLI (`hostroute show ...`, `hostroute vm ...`): arguments,
//! one request to the daemon, the answer as an aligned table or as JSON.
//!
//! `--json` prints exactly the reply's `data` (the views of
//! [`crate::control::api`]), so scripts and the daemon share one schema.

pub mod render;
pub mod table;

#[cfg(test)]
mod tests;

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use ipnet::IpNet;

use crate::control::api::{Reply, Request, parse_prefix};
use crate::control::{CLIENT_TIMEOUT, Client, ClientError, DEFAULT_SOCKET};
use crate::detect::MacAddr;

/// The exit codes, for `--help` and the README.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success (also for `show fib` with drift: read `drift` in --json, or the DRIFT line)
  1  the daemon refused or failed the request (the reason is printed)
  2  usage error: bad arguments or invalid values
  3  the daemon is not reachable: not running, stale socket, permission denied, no answer in time
  4  protocol error: the daemon's reply could not be understood";

/// What the process exits with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Refused = 1,
    Usage = 2,
    Unreachable = 3,
    Protocol = 4,
}

impl Exit {
    /// The exit code for a failed request.
    pub fn of(error: &ClientError) -> Exit {
        match error {
            ClientError::Refused(_) => Exit::Refused,
            ClientError::Protocol(_) | ClientError::Io { .. } => Exit::Protocol,
            ClientError::NotRunning { .. }
            | ClientError::PermissionDenied { .. }
            | ClientError::Stale { .. }
            | ClientError::Connect { .. }
            | ClientError::Timeout { .. } => Exit::Unreachable,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// Options every subcommand takes.
#[derive(Args, Clone, Debug)]
pub struct GlobalArgs {
    /// The daemon's control socket.
    #[arg(long, global = true, env = "HOSTROUTE_SOCKET", default_value = DEFAULT_SOCKET, value_name = "PATH")]
    pub socket: PathBuf,
    /// Print the reply as JSON (the daemon's data, unchanged) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Seconds to wait for the daemon.
    #[arg(long, global = true, value_name = "SECS", default_value_t = CLIENT_TIMEOUT.as_secs_f64(), value_parser = parse_timeout)]
    pub timeout: f64,
}

fn parse_timeout(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 3600.0 => Ok(secs),
        _ => Err(format!(
            "{text:?}: expected seconds, more than 0 and at most 3600"
        )),
    }
}

fn prefix_arg(text: &str) -> Result<IpNet, String> {
    parse_prefix(text)
}

/// `hostroute show ...`
#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum ShowCommand {
    /// The daemon's version, router id, AS, pid, uptime and counts.
    Status,
    /// BGP neighbours: state, uptime, prefixes, BFD, messages, last error.
    Peers,
    /// Every path of every prefix (best marked *), or of those inside PREFIX.
    Routes {
        /// A prefix (10.1.0.0/16) or an address (its host route).
        #[arg(value_parser = prefix_arg)]
        prefix: Option<IpNet>,
    },
    /// Local VMs: interface, MAC, state, addresses with their sequence.
    Vms,
    /// BFD sessions: state, discriminators, intervals, diagnostics.
    Bfd,
    /// The kernel's routes of our protocol against the RIB, drift flagged.
    Fib,
    /// The move timeline (from, to, sequence, detection-to-advertise latency).
    Moves {
        /// A prefix (10.1.0.0/16) or an address (its host route).
        #[arg(value_parser = prefix_arg)]
        prefix: Option<IpNet>,
    },
}

impl ShowCommand {
    pub fn request(&self) -> Request {
        match self {
            ShowCommand::Status => Request::Status {},
            ShowCommand::Peers => Request::ShowPeers {},
            ShowCommand::Routes { prefix } => Request::ShowRoutes { prefix: *prefix },
            ShowCommand::Vms => Request::ShowVms {},
            ShowCommand::Bfd => Request::ShowBfd {},
            ShowCommand::Fib => Request::ShowFib {},
            ShowCommand::Moves { prefix } => Request::ShowMoves { prefix: *prefix },
        }
    }
}

/// A VM and what it runs with.
#[derive(Args, Clone, Debug, PartialEq, Eq)]
pub struct VmArgs {
    /// The VM's name (libvirt domain name).
    #[arg(long)]
    pub vm: String,
    /// The VM's interface on this host (tap/vnet device).
    #[arg(long, value_name = "IF")]
    pub interface: String,
    /// An address of the VM (repeat for several).
    #[arg(long = "address", value_name = "ADDR")]
    pub addresses: Vec<IpAddr>,
    /// The VM's MAC address.
    #[arg(long)]
    pub mac: Option<MacAddr>,
}

/// `hostroute vm ...`: what libvirt's qemu hook calls.
#[derive(Subcommand, Clone, Debug, PartialEq, Eq)]
pub enum VmCommand {
    /// The VM runs here now: advertise its addresses.
    Attach(VmArgs),
    /// The VM's interface is going away.
    Detach {
        #[arg(long)]
        vm: String,
        #[arg(long, value_name = "IF")]
        interface: String,
    },
    /// A live migration toward this host started: prepare the routes; the
    /// VM's first announcement here activates them.
    MigrateBegin(VmArgs),
}

impl VmCommand {
    pub fn request(&self) -> Request {
        match self.clone() {
            VmCommand::Attach(a) => Request::VmAttach {
                vm: a.vm,
                interface: a.interface,
                addresses: a.addresses,
                mac: a.mac,
            },
            VmCommand::Detach { vm, interface } => Request::VmDetach { vm, interface },
            VmCommand::MigrateBegin(a) => Request::VmMigrateBegin {
                vm: a.vm,
                interface: a.interface,
                addresses: a.addresses,
                mac: a.mac,
            },
        }
    }
}

/// The reply as the CLI prints it.
pub fn format_reply(reply: &Reply, json: bool) -> String {
    if json {
        match serde_json::to_string_pretty(reply) {
            Ok(mut text) => {
                text.push('\n');
                text
            }
            Err(e) => format!("{{\"error\":\"cannot encode the reply: {e}\"}}\n"),
        }
    } else {
        render::reply(reply)
    }
}

/// Sends `request` to the daemon and answers a text to print, or the error
/// and its exit code.
pub fn execute(global: &GlobalArgs, request: &Request) -> Result<String, (Exit, String)> {
    if let Err(e) = request.validate() {
        return Err((Exit::Usage, e.message));
    }
    let timeout = Duration::try_from_secs_f64(global.timeout).unwrap_or(CLIENT_TIMEOUT);
    let reply = Client::connect(&global.socket, timeout)
        .and_then(|mut client| client.request(request))
        .map_err(|e| (Exit::of(&e), e.to_string()))?;
    Ok(format_reply(&reply, global.json))
}

/// Runs one request and prints the outcome: the reply on stdout, an error
/// on stderr. A closed stdout (`| head`) is not an error.
pub fn run(global: &GlobalArgs, request: &Request) -> ExitCode {
    match execute(global, request) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            Exit::Success.into()
        }
        Err((exit, message)) => {
            let _ = writeln!(std::io::stderr().lock(), "hostroute: {message}");
            exit.into()
        }
    }
}
