//! How a connection ends: the NOTIFICATION (RFC 4271 section 6), the
//! session-down signals and what becomes of the peer's routes (RFC 4724,
//! RFC 8538), then Idle with the idle-hold damping, or Active.

use std::time::Instant;

use proto::bgp::notification::FsmError;
use proto::bgp::{DecodeError, ErrorCode, Message, Notification};
use tracing::{debug, info, warn};

use super::{Conn, Fsm, Role};
use crate::bgp::event::{DownReason, FlushCause, Output, State, wants_hard_reset};
use crate::bgp::session::{Fate, fate};

/// How a connection ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Then {
    /// A failure: Idle, counted by the damping, restart after IdleHold.
    Fail,
    /// ManualStop: Idle until started again.
    Stop,
    /// Lost a collision, or a version NOTIFICATION (event 24): Idle, not
    /// counted.
    Quiet,
    /// TCP failed before the OPEN exchange: Active, connect-retry backoff.
    Retry,
}

pub(super) struct Teardown {
    /// Sent first if the TCP connection is up.
    pub(super) notify: Option<Notification>,
    pub(super) reason: DownReason,
    pub(super) then: Then,
    /// A local decision that flushes the peer's routes whatever graceful
    /// restart says.
    pub(super) flush: Option<FlushCause>,
}

pub(super) fn teardown(notify: Option<Notification>, reason: DownReason, then: Then) -> Teardown {
    Teardown {
        notify,
        reason,
        then,
        flush: None,
    }
}

impl Fsm {
    /// Sends the NOTIFICATION a decode error (or refused OPEN) calls for.
    pub(super) fn decode_error(&mut self, now: Instant, e: &DecodeError, out: &mut Vec<Output>) {
        warn!(error = %e, state = %self.state, "bad message from peer");
        let n = e.notification();
        self.end(
            now,
            teardown(Some(n.clone()), DownReason::Sent(n), Then::Fail),
            out,
        );
    }

    /// RFC 6608: a message this state does not expect.
    pub(super) fn fsm_error(&mut self, now: Instant, out: &mut Vec<Output>) {
        let subcode = match self.state {
            State::OpenSent => FsmError::UnexpectedMessageInOpenSent,
            State::OpenConfirm => FsmError::UnexpectedMessageInOpenConfirm,
            State::Established => FsmError::UnexpectedMessageInEstablished,
            _ => FsmError::Unspecified,
        };
        warn!(state = %self.state, "unexpected message from peer");
        let n = Notification::new(ErrorCode::Fsm(subcode), Vec::new());
        self.end(
            now,
            teardown(Some(n.clone()), DownReason::Sent(n), Then::Fail),
            out,
        );
    }

    /// RFC 8538 section 5: with the N bit, stops and resets go out as Hard Reset.
    pub(super) fn hard_reset_if_negotiated(&self, n: Notification) -> Notification {
        let n_bit = self.conn.negotiated.as_ref().is_some_and(|n| n.n_bit);
        if self.state == State::Established && n_bit && wants_hard_reset(&n) {
            Notification::hard_reset(&n)
        } else {
            n
        }
    }

    /// Ends the current connection: NOTIFICATION, the session-down signals
    /// if it was Established, Close, then Idle or Active.
    pub(super) fn end(&mut self, now: Instant, td: Teardown, out: &mut Vec<Output>) {
        let had_socket = self.conn.tcp || self.state == State::Connect;
        if let (Some(n), true) = (td.notify, self.conn.tcp) {
            self.send(Message::Notification(n), out);
        }
        let was_established = self.state == State::Established;
        if was_established {
            self.session_down(now, &td.reason, td.flush, out);
        } else {
            debug!(reason = %td.reason, state = %self.state, "connection closed");
        }
        if had_socket {
            out.push(Output::Close);
        }
        if matches!(td.then, Then::Fail | Then::Retry) {
            self.counters.last_error = Some(td.reason);
        }
        let stable = self
            .conn
            .established_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.cfg.idle_hold.stable);
        self.conn = Conn::default();
        if stable {
            self.failures = 0;
        }
        match td.then {
            Then::Fail => self.failures = self.failures.saturating_add(1),
            Then::Stop => self.started = false,
            Then::Quiet | Then::Retry => {}
        }
        if td.then == Then::Retry && self.role == Role::Main {
            self.connect_failures = self.connect_failures.saturating_add(1);
            if !self.cfg.passive {
                let delay = self.cfg.connect_retry.delay(self.connect_failures);
                let delay = self.jitter.apply(delay);
                self.conn.connect_retry.start(now, delay);
            }
            self.enter(State::Active);
            return;
        }
        self.enter(State::Idle);
        if self.started && self.role == Role::Main {
            let hold = self.cfg.idle_hold.delay(self.failures);
            let hold = self.jitter.apply(hold);
            self.idle_hold.start(now, hold);
        }
    }

    /// SessionDown and what becomes of the peer's routes.
    pub(super) fn session_down(
        &mut self,
        now: Instant,
        reason: &DownReason,
        forced: Option<FlushCause>,
        out: &mut Vec<Output>,
    ) {
        info!(reason = %reason, "BGP session down");
        out.push(Output::SessionDown {
            reason: reason.clone(),
        });
        match fate(self.conn.negotiated.as_ref(), reason, forced) {
            Fate::Keep {
                restart_time,
                families,
            } => {
                info!(
                    restart_time = restart_time.as_secs(),
                    "peer restarting; routes kept as stale"
                );
                self.restart.start(now, restart_time);
                out.push(Output::PeerRestarting {
                    restart_time,
                    families,
                });
            }
            Fate::Flush(cause) => {
                self.restart.stop();
                out.push(Output::FlushRoutes { cause });
            }
        }
    }

    /// Flushes routes still kept as stale for a restarting peer.
    pub(super) fn flush_stale(&mut self, cause: FlushCause, out: &mut Vec<Output>) {
        if self.restart.is_running() {
            self.restart.stop();
            out.push(Output::FlushRoutes { cause });
        }
    }
}
