//! What goes in and out of the BGP FSM: the six states, inputs named after
//! the RFC 4271 section 8.1 events, and the outputs a driver carries out.

use std::fmt;
use std::time::Duration;

use proto::bgp::{
    CeaseReason, Context, DecodeError, Decoded, ErrorCode, GracefulRestartFamily, HoldTime,
    Message, Notification, Open, RouteRefresh, Update,
};
use serde::Serialize;

/// RFC 4271 section 8.2.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum State {
    Idle,
    Connect,
    Active,
    OpenSent,
    OpenConfirm,
    Established,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// What liveness detection (BFD) last said about the path to the peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Liveness {
    /// Nothing reported yet.
    Unknown,
    Up,
    Down,
}

/// One input to the FSM.
///
/// Events 4 to 7 (the passive and damped variants of the starts) are the
/// `passive` and `idle_hold` session attributes; events 9 to 13 (timer
/// expiries) come from [`Input::Timers`]; events 14 and 15 (TCP connection
/// validation) are the driver's business; event 23 (OpenCollisionDump) is
/// issued by [`super::Peer`]. The rest map one to one.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// Event 1: ManualStart. Also forgets earlier failures.
    ManualStart,
    /// Event 2: ManualStop, with an optional RFC 9003 shutdown communication.
    ManualStop { shutdown: Option<String> },
    /// Event 3: AutomaticStart (the daemon starting a configured peer).
    AutomaticStart,
    /// Event 8: AutomaticStop, e.g. the RIB's maximum-prefix limit; the
    /// NOTIFICATION is sent if the OPEN exchange has begun.
    AutomaticStop { notification: Notification },
    /// Events 9-13 and hostroute's own timers: the FSM fires every timer
    /// whose deadline is at or before `now`. Send it at
    /// [`super::Fsm::next_deadline`].
    Timers,
    /// Event 16: Tcp_CR_Acked, our connection attempt succeeded.
    TcpCrAcked,
    /// Event 17: TcpConnectionConfirmed, the peer's connection was accepted.
    TcpConnectionConfirmed,
    /// Event 18: TcpConnectionFails (refused, reset, closed, timed out).
    TcpConnectionFails,
    /// Events 19 and 20: BGPOpen.
    BgpOpen(Open),
    /// Event 21: BGPHeaderErr, a message whose header is bad.
    BgpHeaderErr(DecodeError),
    /// Event 22: BGPOpenMsgErr, an OPEN that does not decode.
    BgpOpenMsgErr(DecodeError),
    /// Events 24 and 25: NotifMsgVerErr (version error) and NotifMsg.
    NotifMsg(Notification),
    /// Event 26: KeepAliveMsg.
    KeepAliveMsg,
    /// Event 27: UpdateMsg, with its RFC 7606 attribute verdicts.
    UpdateMsg(Decoded),
    /// Event 28: UpdateMsgErr, an UPDATE that does not decode.
    UpdateMsgErr(DecodeError),
    /// A ROUTE-REFRESH (RFC 2918, RFC 7313).
    RouteRefreshMsg(Decoded),
    /// A ROUTE-REFRESH that does not decode (RFC 7313 section 5).
    RouteRefreshMsgErr(DecodeError),
    /// Liveness (BFD) went Up.
    LivenessUp,
    /// Liveness went from Up to Down (RFC 5882: AdminDown is not Down).
    LivenessDown,
    /// Send an UPDATE; ignored unless Established.
    SendUpdate(Update),
    /// Send a ROUTE-REFRESH; ignored unless Established.
    SendRouteRefresh(RouteRefresh),
}

impl From<Result<Decoded, DecodeError>> for Input {
    /// What the driver got from `Message::decode`.
    fn from(decoded: Result<Decoded, DecodeError>) -> Self {
        match decoded {
            Ok(d) => match d.message {
                Message::Open(open) => Input::BgpOpen(open),
                Message::Notification(n) => Input::NotifMsg(n),
                Message::Keepalive => Input::KeepAliveMsg,
                Message::Update(_) => Input::UpdateMsg(d),
                Message::RouteRefresh(_) => Input::RouteRefreshMsg(d),
            },
            Err(e) => Input::from(e),
        }
    }
}

impl From<DecodeError> for Input {
    /// Classifies a decode error as the RFC 4271 event it is.
    fn from(e: DecodeError) -> Self {
        use DecodeError as E;
        match e {
            E::BadMarker | E::BadLength { .. } | E::BadType { .. } => Input::BgpHeaderErr(e),
            E::UnsupportedVersion { .. }
            | E::BadPeerAs { .. }
            | E::BadBgpIdentifier { .. }
            | E::UnsupportedOptionalParameter { .. }
            | E::UnacceptableHoldTime { .. }
            | E::UnsupportedCapability { .. }
            | E::MalformedOpen { .. }
            | E::MalformedCapability { .. } => Input::BgpOpenMsgErr(e),
            E::MalformedAttributeList { .. } | E::InvalidNetworkField { .. } => {
                Input::UpdateMsgErr(e)
            }
            E::RouteRefreshLength { .. } => Input::RouteRefreshMsgErr(e),
        }
    }
}

/// Why a connection or session ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum DownReason {
    /// We sent this NOTIFICATION: an error we found, a stop, BFD down, a
    /// collision.
    Sent(Notification),
    /// The peer sent this NOTIFICATION.
    Received(Notification),
    /// No message from the peer within the hold time; we sent 4/0.
    HoldTimerExpired,
    /// The TCP connection failed or was closed by the peer.
    TcpFailed,
    /// The peer opened a new session while this one was Established
    /// (RFC 4724 section 4.2): it restarted.
    PeerRestarted,
    /// Closed without a NOTIFICATION, before the OPEN exchange.
    Dropped,
}

impl fmt::Display for DownReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sent(n) => write!(f, "sent {}", codes(n)),
            Self::Received(n) => write!(f, "received {}", codes(n)),
            Self::HoldTimerExpired => f.write_str("hold timer expired"),
            Self::TcpFailed => f.write_str("TCP failed"),
            Self::PeerRestarted => f.write_str("peer restarted"),
            Self::Dropped => f.write_str("dropped"),
        }
    }
}

/// Why the routes learned from the peer go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FlushCause {
    /// Graceful restart was not advertised by both sides.
    NoGracefulRestart,
    /// A NOTIFICATION ended the session and the N bit was not negotiated
    /// (RFC 4724: graceful restart covers TCP failures only).
    Notification,
    /// Cease / Hard Reset was sent or received (RFC 8538 section 3).
    HardReset,
    /// The session was stopped by configuration.
    ManualStop,
    /// Liveness (BFD) went down: the forwarding path failed, so the routes
    /// are not kept as stale (RFC 5882 section 4.3.2).
    LivenessDown,
    /// The peer did not come back within its restart time (RFC 4724
    /// section 4.2).
    RestartTimeExpired,
}

/// One thing for the driver to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a TCP connection to the peer; answer with
    /// [`Input::TcpCrAcked`] or [`Input::TcpConnectionFails`].
    Connect,
    /// Close the connection (or abandon the attempt), after writing any
    /// message queued before this output.
    Close,
    /// Write this message on the connection.
    Send(Message),
    /// The session is up: decode with `ctx` from now on. If the peer's
    /// routes are kept as stale (after [`Output::PeerRestarting`]), the
    /// RIB flushes the families `remote` no longer preserves (no graceful
    /// restart capability, or F bit clear) and sweeps the rest at each
    /// family's End-of-RIB (RFC 4724 section 4.2).
    Established {
        ctx: Context,
        remote: Open,
        hold_time: HoldTime,
    },
    /// The Established session ended. Exactly one of [`Output::PeerRestarting`]
    /// and [`Output::FlushRoutes`] follows.
    SessionDown { reason: DownReason },
    /// RFC 4724 helper: keep the peer's routes in `families` as stale
    /// (and flush the others) until it is back and sends End-of-RIB, or
    /// until `restart_time`, after which [`Output::FlushRoutes`] follows.
    PeerRestarting {
        restart_time: Duration,
        families: Vec<GracefulRestartFamily>,
    },
    /// Withdraw every route learned from the peer, stale ones included.
    FlushRoutes { cause: FlushCause },
    /// An UPDATE or ROUTE-REFRESH, only ever in Established.
    Received(Decoded),
}

impl fmt::Display for Output {
    /// A short form for logs and scripted tests: `Send(NOTIFICATION 4/0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Connect => f.write_str("Connect"),
            Self::Close => f.write_str("Close"),
            Self::Send(m) => write!(f, "Send({})", message_name(m)),
            Self::Established { hold_time, .. } => {
                write!(f, "Established(hold {})", hold_time.seconds())
            }
            Self::SessionDown { reason } => write!(f, "SessionDown({reason})"),
            Self::PeerRestarting { restart_time, .. } => {
                write!(f, "PeerRestarting({}s)", restart_time.as_secs())
            }
            Self::FlushRoutes { cause } => write!(f, "FlushRoutes({cause:?})"),
            Self::Received(d) => write!(f, "Received({})", message_name(&d.message)),
        }
    }
}

fn codes(n: &Notification) -> String {
    let (code, subcode) = n.error.codes();
    format!("{code}/{subcode}")
}

fn message_name(m: &Message) -> String {
    match m {
        Message::Open(_) => "OPEN".into(),
        Message::Update(_) => "UPDATE".into(),
        Message::Notification(n) => format!("NOTIFICATION {}", codes(n)),
        Message::Keepalive => "KEEPALIVE".into(),
        Message::RouteRefresh(_) => "ROUTE-REFRESH".into(),
    }
}

/// RFC 8538 section 3: a Cease / Hard Reset.
pub(crate) fn is_hard_reset(n: &Notification) -> bool {
    n.error == ErrorCode::Cease(CeaseReason::HardReset)
}

/// RFC 8538 section 5: the Cease subcodes a speaker sends as Hard Reset
/// when the N bit is negotiated (maximum prefixes, administrative
/// shutdown, peer de-configured, administrative reset).
pub(crate) fn wants_hard_reset(n: &Notification) -> bool {
    matches!(
        n.error,
        ErrorCode::Cease(
            CeaseReason::MaximumPrefixesReached
                | CeaseReason::AdministrativeShutdown
                | CeaseReason::PeerDeconfigured
                | CeaseReason::AdministrativeReset
        )
    )
}
