//! Counters the FSM keeps, and the snapshot `show peers` prints.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use proto::bgp::Message;
use serde::Serialize;

use super::event::{DownReason, Liveness, State};

/// Messages by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MessageCounts {
    pub open: u64,
    pub update: u64,
    pub notification: u64,
    pub keepalive: u64,
    pub route_refresh: u64,
    /// Received messages that did not decode (never counted on sending).
    pub malformed: u64,
}

impl MessageCounts {
    pub fn count(&mut self, m: &Message) {
        let n = match m {
            Message::Open(_) => &mut self.open,
            Message::Update(_) => &mut self.update,
            Message::Notification(_) => &mut self.notification,
            Message::Keepalive => &mut self.keepalive,
            Message::RouteRefresh(_) => &mut self.route_refresh,
        };
        *n = n.saturating_add(1);
    }

    pub fn total(&self) -> u64 {
        [
            self.open,
            self.update,
            self.notification,
            self.keepalive,
            self.route_refresh,
            self.malformed,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }

    fn add(&mut self, o: &Self) {
        self.open = self.open.saturating_add(o.open);
        self.update = self.update.saturating_add(o.update);
        self.notification = self.notification.saturating_add(o.notification);
        self.keepalive = self.keepalive.saturating_add(o.keepalive);
        self.route_refresh = self.route_refresh.saturating_add(o.route_refresh);
        self.malformed = self.malformed.saturating_add(o.malformed);
    }
}

/// Running counters of one FSM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub messages_in: MessageCounts,
    pub messages_out: MessageCounts,
    /// State changes.
    pub transitions: u64,
    /// Times the session left Established.
    pub flaps: u64,
    /// Why the last connection ended with an error.
    pub last_error: Option<DownReason>,
}

impl Counters {
    /// Adds another FSM's counts (a connection that lost a collision).
    pub fn absorb(&mut self, o: &Counters) {
        self.messages_in.add(&o.messages_in);
        self.messages_out.add(&o.messages_out);
        self.transitions = self.transitions.saturating_add(o.transitions);
        self.flaps = self.flaps.saturating_add(o.flaps);
        if o.last_error.is_some() {
            self.last_error.clone_from(&o.last_error);
        }
    }
}

/// What `show peers` prints about one session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub state: State,
    pub local_as: u32,
    pub remote_as: u32,
    /// The peer's BGP identifier, once its OPEN was accepted.
    pub remote_id: Option<Ipv4Addr>,
    /// Negotiated hold time in seconds (0: no keepalives).
    pub hold_time: Option<u16>,
    pub keepalive_interval: Option<Duration>,
    pub messages_in: MessageCounts,
    pub messages_out: MessageCounts,
    pub updates_received: u64,
    pub transitions: u64,
    pub flaps: u64,
    pub last_error: Option<DownReason>,
    /// When the session went Established, as the `now` given then.
    #[serde(skip)]
    pub established_since: Option<Instant>,
    /// Consecutive failures the idle-hold damping counts.
    pub consecutive_failures: u32,
    pub liveness: Liveness,
    /// The peer is restarting and its routes are kept as stale.
    pub stale_routes_kept: bool,
    /// What both OPENs agreed on, by name (empty before OPEN is accepted).
    pub capabilities: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_and_saturate() {
        let mut a = MessageCounts::default();
        a.count(&Message::Keepalive);
        a.count(&Message::Keepalive);
        a.malformed = u64::MAX;
        assert_eq!(a.keepalive, 2);
        assert_eq!(a.total(), u64::MAX);
        let mut c = Counters::default();
        let other = Counters {
            messages_in: a,
            transitions: 3,
            last_error: Some(DownReason::TcpFailed),
            ..Counters::default()
        };
        c.absorb(&other);
        c.absorb(&other);
        assert_eq!(c.transitions, 6);
        assert_eq!(c.messages_in.keepalive, 4);
        assert_eq!(c.last_error, Some(DownReason::TcpFailed));
    }
}
