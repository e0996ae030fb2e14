//! The control protocol's messages: requests, responses and the views the
//! daemon fills and the CLI renders.
//!
//! One JSON object per line each way. A request names itself in its
//! `request` field; unknown requests and unknown fields are refused:
//!
//! ```text
//! {"request":"show-routes","prefix":"10.1.1.5"}
//! {"request":"vm-attach","vm":"web1","interface":"vnet3","addresses":["10.1.1.5"],"mac":"52:54:00:12:34:56"}
//! ```
//!
//! A response is `{"ok":true,"data":...}`, where `data` is the view the
//! request asks for ([`Reply`]), or `{"ok":false,"error":{"kind":...,
//! "message":...}}` ([`ControlError`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::detect::{Hook, MacAddr};

/// Longest VM name accepted (bytes).
pub const VM_NAME_MAX: usize = 256;
/// Longest interface name Linux accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;
/// Most addresses one hook may carry.
pub const ADDRESSES_MAX: usize = 64;

/// One request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Version, router id, uptime, pid: [`StatusView`].
    Status {},
    /// Every BGP neighbour: [`PeerRow`]s.
    ShowPeers {},
    /// Every path of every prefix inside `prefix` (all when absent):
    /// [`RouteRow`]s. A bare address means its host route.
    ShowRoutes {
        #[serde(default, with = "prefix_opt")]
        prefix: Option<IpNet>,
    },
    /// Local VMs: [`VmRow`]s.
    ShowVms {},
    /// Every BFD session: [`BfdRow`]s.
    ShowBfd {},
    /// The kernel's routes of our protocol against the RIB: [`FibView`].
    ShowFib {},
    /// The move timeline, of the prefixes inside `prefix` when given:
    /// [`MovesView`].
    ShowMoves {
        #[serde(default, with = "prefix_opt")]
        prefix: Option<IpNet>,
    },
    /// A VM runs here now ([`Hook::Attach`]).
    VmAttach {
        vm: String,
        interface: String,
        #[serde(default)]
        addresses: Vec<IpAddr>,
        #[serde(default)]
        mac: Option<MacAddr>,
    },
    /// A VM's interface is going away ([`Hook::Detach`]).
    VmDetach { vm: String, interface: String },
    /// A live migration toward this host started ([`Hook::MigrateBegin`]).
    VmMigrateBegin {
        vm: String,
        interface: String,
        #[serde(default)]
        addresses: Vec<IpAddr>,
        #[serde(default)]
        mac: Option<MacAddr>,
    },
}

impl Request {
    /// The `request` field's value, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Status {} => "status",
            Request::ShowPeers {} => "show-peers",
            Request::ShowRoutes { .. } => "show-routes",
            Request::ShowVms {} => "show-vms",
            Request::ShowBfd {} => "show-bfd",
            Request::ShowFib {} => "show-fib",
            Request::ShowMoves { .. } => "show-moves",
            Request::VmAttach { .. } => "vm-attach",
            Request::VmDetach { .. } => "vm-detach",
            Request::VmMigrateBegin { .. } => "vm-migrate-begin",
        }
    }

    /// Which [`Reply`] variant answers this request.
    pub fn reply_kind(&self) -> ReplyKind {
        match self {
            Request::Status {} => ReplyKind::Status,
            Request::ShowPeers {} => ReplyKind::Peers,
            Request::ShowRoutes { .. } => ReplyKind::Routes,
            Request::ShowVms {} => ReplyKind::Vms,
            Request::ShowBfd {} => ReplyKind::Bfd,
            Request::ShowFib {} => ReplyKind::Fib,
            Request::ShowMoves { .. } => ReplyKind::Moves,
            Request::VmAttach { .. }
            | Request::VmDetach { .. }
            | Request::VmMigrateBegin { .. } => ReplyKind::Hook,
        }
    }

    /// The detection hook a `vm-*` request stands for.
    pub fn hook(&self) -> Option<Hook> {
        match self.clone() {
            Request::VmAttach {
                vm,
                interface,
                addresses,
                mac,
            } => Some(Hook::Attach {
                vm,
                ifname: interface,
                addresses,
                mac,
            }),
            Request::VmDetach { vm, interface } => Some(Hook::Detach {
                vm,
                ifname: interface,
            }),
            Request::VmMigrateBegin {
                vm,
                interface,
                addresses,
                mac,
            } => Some(Hook::MigrateBegin {
                vm,
                ifname: interface,
                addresses,
                mac,
            }),
            _ => None,
        }
    }

    /// Checks what the JSON types alone cannot: names, address kinds and
    /// counts.
    pub fn validate(&self) -> Result<(), ControlError> {
        match self {
            Request::VmAttach {
                vm,
                interface,
                addresses,
                mac,
            }
            | Request::VmMigrateBegin {
                vm,
                interface,
                addresses,
                mac,
            } => {
                validate_vm(vm)?;
                validate_interface(interface)?;
                validate_addresses(addresses)?;
                if let Some(mac) = mac
                    && (mac.is_multicast() || mac.is_zero())
                {
                    return Err(ControlError::bad_request(format!(
                        "mac {mac} is not a unicast address"
                    )));
                }
                Ok(())
            }
            Request::VmDetach { vm, interface } => {
                validate_vm(vm)?;
                validate_interface(interface)
            }
            _ => Ok(()),
        }
    }
}

fn validate_vm(vm: &str) -> Result<(), ControlError> {
    if vm.is_empty() {
        return Err(ControlError::bad_request("vm: the name is empty"));
    }
    if vm.len() > VM_NAME_MAX {
        return Err(ControlError::bad_request(format!(
            "vm: the name is longer than {VM_NAME_MAX} bytes"
        )));
    }
    if vm.chars().any(char::is_control) {
        return Err(ControlError::bad_request(
            "vm: the name has control characters",
        ));
    }
    Ok(())
}

/// Checks an interface name the way the kernel's `dev_valid_name` does.
pub fn validate_interface(name: &str) -> Result<(), ControlError> {
    let bad = |why: &str| ControlError::bad_request(format!("interface {name:?}: {why}"));
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > IFNAME_MAX {
        return Err(bad("longer than 15 bytes"));
    }
    if name == "." || name == ".." {
        return Err(bad("not an interface name"));
    }
    if name.contains(['/', ':']) || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("has '/', ':', spaces or control characters"));
    }
    Ok(())
}

fn validate_addresses(addresses: &[IpAddr]) -> Result<(), ControlError> {
    if addresses.len() > ADDRESSES_MAX {
        return Err(ControlError::bad_request(format!(
            "addresses: {} given, at most {ADDRESSES_MAX}",
            addresses.len()
        )));
    }
    for address in addresses {
        let broadcast = matches!(address, IpAddr::V4(v4) if v4.is_broadcast());
        if address.is_unspecified() || address.is_loopback() || address.is_multicast() || broadcast
        {
            return Err(ControlError::bad_request(format!(
                "address {address} cannot be a VM's (unspecified, loopback, multicast or broadcast)"
            )));
        }
    }
    Ok(())
}

/// A prefix as an operator writes it: `10.1.1.0/24`, or a bare address
/// for its host route (`10.1.1.5` is `10.1.1.5/32`). Host bits must be
/// zero.
pub fn parse_prefix(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    let net = match text.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match text.parse::<IpAddr>() {
            Ok(addr) => IpNet::from(addr),
            Err(_) => {
                return Err(format!(
                    "{text:?} is not a prefix or an address (expected 10.1.1.0/24, 10.1.1.5 or 2001:db8::5)"
                ));
            }
        },
    };
    if net.trunc() != net {
        return Err(format!(
            "{text}: host bits are set (did you mean {}?)",
            net.trunc()
        ));
    }
    Ok(net)
}

mod prefix_opt {
    use ipnet::IpNet;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(prefix: &Option<IpNet>, s: S) -> Result<S::Ok, S::Error> {
        match prefix {
            Some(net) => s.collect_str(net),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpNet>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| super::parse_prefix(&t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

/// Why the daemon refused or failed a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The request is malformed, unknown, too long or invalid.
    BadRequest,
    /// The VM, interface or prefix named does not exist.
    NotFound,
    /// The request is valid but cannot be carried out in the daemon's
    /// current state (e.g. detach of an interface that is not attached).
    Conflict,
    /// Too many connections; try again.
    Busy,
    /// A part of the daemon is not running or did not answer in time.
    Unavailable,
    /// A bug or an unexpected failure in the daemon.
    Internal,
    /// A kind this client does not know (a newer daemon).
    #[serde(other)]
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::BadRequest => "bad request",
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Busy => "busy",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal error",
            ErrorKind::Other => "error",
        })
    }
}

/// An error reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ControlError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ControlError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ControlError {
        ControlError {
            kind,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::BadRequest, message)
    }

    pub fn not_found(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::NotFound, message)
    }

    pub fn internal(message: impl Into<String>) -> ControlError {
        ControlError::new(ErrorKind::Internal, message)
    }
}

/// The data of a successful reply, one variant per kind of request.
/// Serialized as the bare view (no tag): the client knows which request
/// it sent and decodes with [`Reply::decode`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Reply {
    Status(StatusView),
    Peers(Vec<PeerRow>),
    Routes(Vec<RouteRow>),
    Vms(Vec<VmRow>),
    Bfd(Vec<BfdRow>),
    Fib(FibView),
    Moves(MovesView),
    Hook(HookView),
}

/// Which [`Reply`] variant to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyKind {
    Status,
    Peers,
    Routes,
    Vms,
    Bfd,
    Fib,
    Moves,
    Hook,
}

impl Reply {
    pub fn kind(&self) -> ReplyKind {
        match self {
            Reply::Status(_) => ReplyKind::Status,
            Reply::Peers(_) => ReplyKind::Peers,
            Reply::Routes(_) => ReplyKind::Routes,
            Reply::Vms(_) => ReplyKind::Vms,
            Reply::Bfd(_) => ReplyKind::Bfd,
            Reply::Fib(_) => ReplyKind::Fib,
            Reply::Moves(_) => ReplyKind::Moves,
            Reply::Hook(_) => ReplyKind::Hook,
        }
    }

    /// Reads `data` as the view of `kind`.
    pub fn decode(kind: ReplyKind, data: serde_json::Value) -> Result<Reply, serde_json::Error> {
        use serde_json::from_value as v;
        Ok(match kind {
            ReplyKind::Status => Reply::Status(v(data)?),
            ReplyKind::Peers => Reply::Peers(v(data)?),
            ReplyKind::Routes => Reply::Routes(v(data)?),
            ReplyKind::Vms => Reply::Vms(v(data)?),
            ReplyKind::Bfd => Reply::Bfd(v(data)?),
            ReplyKind::Fib => Reply::Fib(v(data)?),
            ReplyKind::Moves => Reply::Moves(v(data)?),
            ReplyKind::Hook => Reply::Hook(v(data)?),
        })
    }
}

/// One response line.
#[derive(Clone, Debug, PartialEq)]
pub enum Response {
    Ok(Reply),
    Err(ControlError),
}

#[derive(Serialize)]
struct WireOut<'a> {
    ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a Reply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a ControlError>,
}

#[derive(Deserialize)]
struct WireIn {
    ok: bool,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<ControlError>,
}

/// A response line that is not a response to the request sent.
#[derive(Debug, thiserror::Error)]
#[error("malformed reply: {0}")]
pub struct BadReply(pub String);

impl Response {
    /// The response as one JSON line, without the newline.
    pub fn to_line(&self) -> String {
        let wire = match self {
            Response::Ok(reply) => WireOut {
                ok: true,
                data: Some(reply),
                error: None,
            },
            Response::Err(error) => WireOut {
                ok: false,
                data: None,
                error: Some(error),
            },
        };
        // Views hold strings, numbers and addresses only: serializing them
        // cannot fail; should it ever, say so instead of panicking.
        serde_json::to_string(&wire).unwrap_or_else(|e| {
            format!(
                r#"{{"ok":false,"error":{{"kind":"internal","message":"cannot serialize the reply: {}"}}}}"#,
                e.to_string().replace(['"', '\\'], "'")
            )
        })
    }

    /// Reads a response line to a request whose reply is `kind`.
    pub fn from_line(line: &str, kind: ReplyKind) -> Result<Response, BadReply> {
        let wire: WireIn = serde_json::from_str(line).map_err(|e| BadReply(e.to_string()))?;
        match (wire.ok, wire.data, wire.error) {
            (true, Some(data), _) => Reply::decode(kind, data)
                .map(Response::Ok)
                .map_err(|e| BadReply(format!("data: {e}"))),
            (false, _, Some(error)) => Ok(Response::Err(error)),
            (true, None, _) => Err(BadReply("\"ok\":true without \"data\"".into())),
            (false, _, None) => Err(BadReply("\"ok\":false without \"error\"".into())),
        }
    }
}

impl From<Result<Reply, ControlError>> for Response {
    fn from(result: Result<Reply, ControlError>) -> Response {
        match result {
            Ok(reply) => Response::Ok(reply),
            Err(error) => Response::Err(error),
        }
    }
}

/// `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    pub version: String,
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub pid: u32,
    pub uptime_secs: u64,
    pub peers_up: usize,
    pub peers_total: usize,
    /// Prefixes in the RIB.
    pub routes: usize,
    pub local_vms: usize,
}

/// One BGP neighbour (`show peers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRow {
    pub neighbor: IpAddr,
    pub remote_as: u32,
    /// The neighbour's BGP identifier, once an OPEN arrived.
    pub router_id: Option<Ipv4Addr>,
    /// FSM state (`idle`, `connect`, ..., `established`).
    pub state: String,
    /// Seconds since the session came up, when it is up.
    pub uptime_secs: Option<u64>,
    pub prefixes_ipv4: u32,
    pub prefixes_ipv6: u32,
    /// Prefixes advertised to the neighbour, when known.
    pub prefixes_sent: Option<u32>,
    /// The BFD session's state, when the neighbour uses BFD.
    pub bfd: Option<String>,
    /// Why the session last went down.
    pub last_error: Option<String>,
    /// Negotiated capabilities (`mp-ipv4-unicast`, `4-octet-as`, ...).
    pub capabilities: Vec<String>,
    pub hold_time: Option<u16>,
    pub messages_in: u64,
    pub messages_out: u64,
    /// Established -> down transitions.
    pub flaps: u64,
}

/// One prefix with every path (`show routes`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteRow {
    pub prefix: IpNet,
    pub paths: Vec<PathRow>,
}

/// One path of a prefix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathRow {
    /// `local` or the neighbour's address.
    pub source: String,
    pub best: bool,
    pub next_hop: String,
    /// Mobility sequence, when the path carries one.
    pub sequence: Option<u32>,
    /// The mobility community's static flag.
    pub static_flag: bool,
    /// The hypervisor that originated it: ORIGINATOR_ID, the neighbour's
    /// router id, or `local`.
    pub origin: String,
    /// Seconds since the path was received or originated.
    pub age_secs: Option<u64>,
    pub as_path: String,
    pub local_pref: Option<u32>,
    pub med: Option<u32>,
    /// Kept through a neighbour's graceful restart.
    pub stale: bool,
    /// Why this path lost to the best one.
    pub lost_on: Option<String>,
}

/// A local VM's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VmState {
    /// Running here; its routes are advertised.
    Active,
    /// Migrating toward this host; routes ready, not advertised.
    Prepared,
}

impl fmt::Display for VmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VmState::Active => "active",
            VmState::Prepared => "prepared",
        })
    }
}

/// One local VM interface (`show vms`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmRow {
    /// The VM's name, when a hook told it.
    pub vm: Option<String>,
    pub interface: String,
    pub ifindex: u32,
    /// The VM's MAC, once seen.
    pub mac: Option<MacAddr>,
    pub state: VmState,
    /// Link up (admin and carrier).
    pub up: bool,
    pub addresses: Vec<AddressRow>,
}

/// One address of a local VM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressRow {
    pub address: IpAddr,
    pub sequence: Option<u32>,
    pub static_flag: bool,
    /// Its host route is in the RIB as ours and advertised.
    pub advertised: bool,
    /// Moves are damped: the address moved too often.
    pub frozen: bool,
}

/// One BFD session (`show bfd`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BfdRow {
    pub peer: IpAddr,
    pub local: Option<IpAddr>,
    pub interface: Option<String>,
    pub multihop: bool,
    /// bfd.SessionState (`admin-down`, `down`, `init`, `up`).
    pub state: String,
    /// bfd.RemoteSessionState.
    pub remote_state: String,
    pub local_discriminator: u32,
    pub remote_discriminator: Option<u32>,
    /// Negotiated interval between our packets, microseconds.
    pub tx_interval_us: u64,
    /// Interval the peer sends at, microseconds.
    pub rx_interval_us: u64,
    pub detection_time_us: Option<u64>,
    /// bfd.LocalDiag (why we last went down).
    pub local_diag: String,
    /// The Diag field last received.
    pub remote_diag: String,
    pub up_transitions: u64,
    pub down_transitions: u64,
    /// Milliseconds since the last state change.
    pub since_transition_ms: Option<u64>,
    pub packets_in: u64,
    pub packets_out: u64,
}

/// How a key of `show fib` compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FibStatus {
    /// The kernel has what the RIB wants.
    Ok,
    /// The RIB wants it, the kernel lacks it (drift).
    Missing,
    /// The kernel has another route for it (drift).
    Differs,
    /// The kernel has it, the RIB does not want it (drift).
    Unexpected,
    /// Found at start, kept until the graceful-restart deadline.
    Stale,
    /// The best path cannot become a kernel route (no usable next hop).
    Unresolved,
}

impl FibStatus {
    /// Whether this is drift between the RIB and the kernel.
    pub fn is_drift(self) -> bool {
        matches!(
            self,
            FibStatus::Missing | FibStatus::Differs | FibStatus::Unexpected
        )
    }
}

impl fmt::Display for FibStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FibStatus::Ok => "ok",
            FibStatus::Missing => "missing",
            FibStatus::Differs => "differs",
            FibStatus::Unexpected => "unexpected",
            FibStatus::Stale => "stale",
            FibStatus::Unresolved => "unresolved",
        })
    }
}

/// One key of `show fib`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibRow {
    pub prefix: IpNet,
    /// What the RIB wants (`via 192.0.2.2 dev eth0`), if anything.
    pub rib: Option<String>,
    /// What the kernel has, if anything.
    pub kernel: Option<String>,
    pub status: FibStatus,
}

/// The FIB service's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibCountersView {
    pub installed: u64,
    pub replaced: u64,
    pub deleted: u64,
    pub repaired: u64,
    pub resyncs: u64,
    pub overruns: u64,
    pub dumps_interrupted: u64,
    pub unresolved: u64,
    /// Operations the kernel refused, all errnos.
    pub failures: u64,
    pub last_failure: Option<String>,
}

/// `show fib`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibView {
    /// Our route protocol number.
    pub protocol: u8,
    pub table: u32,
    pub metric: u32,
    /// Time left before routes found at start and not wanted are swept.
    pub grace_remaining_ms: Option<u64>,
    /// Rows whose status is drift.
    pub drift: usize,
    pub rows: Vec<FibRow>,
    pub counters: FibCountersView,
}

/// One move of a prefix (`show moves`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveRow {
    pub prefix: IpNet,
    /// When the move was decided, milliseconds since the Unix epoch.
    pub at_unix_ms: u64,
    /// Where the prefix was: `local`, or the hypervisor's router id.
    pub from: String,
    /// Where it is now.
    pub to: String,
    pub sequence: u32,
    /// From the detection (frame received, hook) to the UPDATE written,
    /// microseconds; `None` for moves away from this host.
    pub detection_to_advertise_us: Option<u64>,
}

/// A prefix whose moves are damped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenRow {
    pub prefix: IpNet,
    /// Moves counted within the window.
    pub moves: u32,
    pub window_secs: u64,
    pub since_unix_ms: u64,
}

/// `show moves`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovesView {
    pub moves: Vec<MoveRow>,
    pub frozen: Vec<FrozenRow>,
}

/// The answer to `vm attach | detach | migrate-begin`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HookView {
    pub vm: String,
    pub interface: String,
    /// What the daemon did (`attached 2 addresses`, `prepared`, ...).
    pub message: String,
}
