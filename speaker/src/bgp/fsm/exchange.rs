//! The OPEN exchange: from starting, through the TCP connection and both
//! OPENs (RFC 4271 section 8.2.2, Connect to OpenConfirm), to Established;
//! and the KEEPALIVE and hold timers that go with it.

use std::time::{Duration, Instant};

use proto::bgp::{Message, Open};
use tracing::{debug, info, warn};

use super::{Fsm, OPEN_HOLD_TIME, Role};
use crate::bgp::event::{Liveness, Output, State};
use crate::bgp::session::{Negotiated, check_open};

impl Fsm {
    /// Leaves Idle (or Active, on ConnectRetryTimer) for Connect, or
    /// Active when passive.
    pub(super) fn start(&mut self, now: Instant, out: &mut Vec<Output>) {
        match (self.role, self.cfg.passive) {
            (Role::Secondary, _) => {}
            (Role::Main, true) => self.enter(State::Active),
            (Role::Main, false) => self.connect(now, out),
        }
    }

    pub(super) fn connect(&mut self, now: Instant, out: &mut Vec<Output>) {
        out.push(Output::Connect);
        let delay = self.cfg.connect_retry.delay(self.connect_failures);
        let delay = self.jitter.apply(delay);
        self.conn.connect_retry.start(now, delay);
        self.enter(State::Connect);
    }

    pub(super) fn tcp_up(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.conn.tcp = true;
        self.conn.connect_retry.stop();
        match self.cfg.delay_open {
            Some(delay) => self.conn.delay_open.start(now, delay),
            None => self.send_open(now, out),
        }
    }

    pub(super) fn send_open(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.conn.delay_open.stop();
        self.send(Message::Open(self.local_open.clone()), out);
        self.conn.hold.start(now, OPEN_HOLD_TIME);
        self.enter(State::OpenSent);
    }

    /// Checks the peer's OPEN; if good, answers with KEEPALIVE (after our
    /// own OPEN if DelayOpen held it back) and goes to OpenConfirm. When
    /// liveness is required and not yet Up, the KEEPALIVE waits for it.
    pub(super) fn receive_open(
        &mut self,
        now: Instant,
        open: Open,
        delayed: bool,
        out: &mut Vec<Output>,
    ) {
        if let Err(e) = check_open(&self.cfg, &open) {
            warn!(error = %e, asn = open.asn(), id = %open.bgp_id, "OPEN refused");
            self.decode_error(now, &e, out);
            return;
        }
        if delayed {
            self.conn.delay_open.stop();
            self.send(Message::Open(self.local_open.clone()), out);
        }
        let negotiated = Negotiated::new(&self.cfg, &self.local_open, &open);
        self.connect_failures = 0;
        self.conn.remote = Some(open);
        match negotiated.hold_time.duration() {
            Some(hold) => self.conn.hold.start(now, hold),
            None => self.conn.hold.stop(),
        }
        self.conn.negotiated = Some(negotiated);
        if self.waits_for_liveness() {
            // Our KEEPALIVE is what lets the peer go Established and start
            // sending UPDATEs; sent now, they would reach us in OpenConfirm
            // (an FSM error) while we wait for BFD. So it waits with us.
            debug!("OPEN accepted; KEEPALIVE held back until liveness is Up");
            self.conn.liveness_wait.start(now, self.cfg.liveness_wait);
        } else {
            self.confirm_open(now, out);
        }
        self.enter(State::OpenConfirm);
    }

    /// Liveness is required and not Up: OpenConfirm holds the session.
    pub(super) fn waits_for_liveness(&self) -> bool {
        self.cfg.require_liveness && self.liveness != Liveness::Up
    }

    /// Sends the KEEPALIVE that accepts the peer's OPEN (RFC 4271 section
    /// 8.2.2, OpenSent on event 19) and starts our keepalives.
    pub(super) fn confirm_open(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.conn.open_confirmed = true;
        self.send_keepalive(now, out);
    }

    pub(super) fn establish(&mut self, now: Instant, out: &mut Vec<Output>) {
        let (Some(negotiated), Some(remote)) = (&self.conn.negotiated, &self.conn.remote) else {
            tracing::error!("OpenConfirm without the peer's OPEN");
            return;
        };
        out.push(Output::Established {
            ctx: negotiated.ctx.clone(),
            remote: remote.clone(),
            hold_time: negotiated.hold_time,
        });
        info!(
            asn = remote.asn(),
            id = %remote.bgp_id,
            hold_time = negotiated.hold_time.seconds(),
            "BGP session established"
        );
        self.conn.liveness_wait.stop();
        self.conn.established_since = Some(now);
        self.restart.stop();
        self.enter(State::Established);
    }

    pub(super) fn send(&mut self, message: Message, out: &mut Vec<Output>) {
        self.counters.messages_out.count(&message);
        out.push(Output::Send(message));
    }

    pub(super) fn send_keepalive(&mut self, now: Instant, out: &mut Vec<Output>) {
        self.send(Message::Keepalive, out);
        self.restart_keepalive(now);
    }

    /// Each KEEPALIVE or UPDATE sent restarts the KeepaliveTimer (RFC 4271
    /// section 8.2.2); not started at all for a hold time of 0.
    pub(super) fn restart_keepalive(&mut self, now: Instant) {
        let interval = self.conn.negotiated.as_ref().and_then(|n| n.keepalive);
        match interval {
            Some(interval) => {
                let jittered = self.jitter.apply(interval).max(Duration::from_secs(1));
                self.conn.keepalive.start(now, jittered);
            }
            None => self.conn.keepalive.stop(),
        }
    }

    /// Every message from the peer restarts the HoldTimer, unless the
    /// hold time is 0.
    pub(super) fn restart_hold(&mut self, now: Instant) {
        let hold = self
            .conn
            .negotiated
            .as_ref()
            .and_then(|n| n.hold_time.duration());
        if let Some(hold) = hold {
            self.conn.hold.start(now, hold);
        }
    }
}
