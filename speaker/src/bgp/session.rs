//! What the OPEN exchange decides: whether the peer's OPEN is acceptable
//! (RFC 4271 section 6.2), what the session runs with, and, when it
//! ends, whether the peer's routes are kept as stale (RFC 4724, RFC 8538)
//! or flushed.

use std::time::Duration;

use proto::bgp::{
    Action, Capability, Context, DecodeError, Decoded, GracefulRestart, GracefulRestartFamily,
    HoldTime, Notification, Open,
};

use super::config::SessionConfig;
use super::event::{DownReason, FlushCause, is_hard_reset};

/// The session parameters both OPENs agreed on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Negotiated {
    pub hold_time: HoldTime,
    /// `None` when the hold time is 0: no KEEPALIVEs at all.
    pub keepalive: Option<Duration>,
    pub ctx: Context,
    /// The peer's graceful restart capability, when we advertised ours
    /// too: we are its helper (RFC 4724 section 4.2).
    pub peer_gr: Option<GracefulRestart>,
    /// Both sides set the N bit (RFC 8538 section 2).
    pub n_bit: bool,
}

impl Negotiated {
    pub fn new(cfg: &SessionConfig, local: &Open, remote: &Open) -> Self {
        let hold_time = HoldTime::negotiate(cfg.hold_time, remote.hold_time);
        let peer_gr = cfg
            .graceful_restart
            .as_ref()
            .and_then(|_| graceful_restart(remote).cloned());
        let n_bit = cfg
            .graceful_restart
            .as_ref()
            .is_some_and(|g| g.notification)
            && peer_gr.as_ref().is_some_and(|g| g.notification);
        Self {
            hold_time,
            keepalive: keepalive_interval(hold_time, cfg.keepalive),
            ctx: Context::negotiate(local, remote, !cfg.is_ibgp()),
            peer_gr,
            n_bit,
        }
    }
}

/// The first graceful restart capability of an OPEN.
pub(crate) fn graceful_restart(open: &Open) -> Option<&GracefulRestart> {
    open.capabilities().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr),
        _ => None,
    })
}

/// A third of the hold time (RFC 4271 section 10), or the configured
/// interval if shorter; never below one second (section 4.4: at most one
/// KEEPALIVE per second); `None` for a hold time of 0.
pub(crate) fn keepalive_interval(hold: HoldTime, configured: Option<Duration>) -> Option<Duration> {
    let third = hold.keepalive_interval()?;
    let interval = configured.map_or(third, |k| k.min(third));
    Some(interval.max(Duration::from_secs(1)))
}

/// RFC 4271 section 6.2 checks the codec cannot make: the AS we expect,
/// a BGP identifier that is not ours on an iBGP session (RFC 6286
/// section 2.2), and the capabilities we require (RFC 5492 section 5).
/// Version, AS 0, hold times of 1 and 2 s and a zero identifier are
/// already refused by the decoder; the identifier is checked again here
/// for OPENs built by hand.
pub(crate) fn check_open(cfg: &SessionConfig, open: &Open) -> Result<(), DecodeError> {
    let asn = open.asn();
    if asn != cfg.remote_as {
        return Err(DecodeError::BadPeerAs { asn });
    }
    let id = open.bgp_id;
    if id.is_unspecified() || (cfg.is_ibgp() && id == cfg.router_id) {
        return Err(DecodeError::BadBgpIdentifier { id });
    }
    open.require_capabilities(&cfg.required_capabilities)
}

/// The NOTIFICATION an UPDATE's RFC 7606 verdicts end the session with:
/// a session reset, or an AFI/SAFI disable, which this speaker does by
/// resetting (RFC 7606 section 2 allows either). Attribute discard and
/// treat-as-withdraw are the RIB's business.
pub(crate) fn update_reset(update: &Decoded) -> Option<Notification> {
    update
        .problems
        .iter()
        .filter(|p| p.action.severity() >= 2)
        .max_by_key(|p| p.action.severity())
        .and_then(|p| match &p.action {
            Action::SessionReset(n)
            | Action::AfiSafiDisable {
                notification: n, ..
            } => Some(n.clone()),
            Action::AttributeDiscard | Action::TreatAsWithdraw => None,
        })
}

/// What happens to the peer's routes when an Established session ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fate {
    /// RFC 4724 helper: keep them as stale for `restart_time`.
    Keep {
        restart_time: Duration,
        families: Vec<GracefulRestartFamily>,
    },
    Flush(FlushCause),
}

/// Whether a session that ended for `reason` takes the graceful path.
///
/// - Without graceful restart on both sides: flush.
/// - `forced`: a local decision (stop, BFD down) flushes regardless.
/// - TCP failure, or a peer that came back on a new connection: graceful
///   (RFC 4724 section 4.2).
/// - A NOTIFICATION, sent or received, or hold timer expiry: graceful only
///   with the N bit, and never for Cease / Hard Reset (RFC 8538 sections
///   4 and 3).
/// - A restart time of 0 leaves nothing to wait for: flush.
pub(crate) fn fate(
    negotiated: Option<&Negotiated>,
    reason: &DownReason,
    forced: Option<FlushCause>,
) -> Fate {
    if let Some(cause) = forced {
        return Fate::Flush(cause);
    }
    let Some((gr, n_bit)) = negotiated.and_then(|n| n.peer_gr.as_ref().map(|g| (g, n.n_bit)))
    else {
        return Fate::Flush(FlushCause::NoGracefulRestart);
    };
    let verdict = match reason {
        DownReason::TcpFailed | DownReason::PeerRestarted | DownReason::Dropped => Ok(()),
        DownReason::Sent(n) | DownReason::Received(n) if is_hard_reset(n) => {
            Err(FlushCause::HardReset)
        }
        DownReason::HoldTimerExpired | DownReason::Sent(_) | DownReason::Received(_) => {
            if n_bit {
                Ok(())
            } else {
                Err(FlushCause::Notification)
            }
        }
    };
    match verdict {
        Err(cause) => Fate::Flush(cause),
        Ok(()) if gr.restart_time == 0 => Fate::Flush(FlushCause::RestartTimeExpired),
        Ok(()) => Fate::Keep {
            restart_time: Duration::from_secs(gr.restart_time.into()),
            families: gr.families.clone(),
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use proto::bgp::{AfiSafi, CeaseReason, Notification};

    use super::*;
    use crate::bgp::config::GracefulRestartConfig;

    fn cfg(gr_n: Option<bool>) -> SessionConfig {
        let mut c = SessionConfig::new(65001, 65002, Ipv4Addr::new(10, 0, 0, 1));
        c.graceful_restart = gr_n.map(|n| GracefulRestartConfig {
            restart_time: 120,
            restarting: false,
            notification: n,
            families: vec![],
        });
        c
    }

    fn peer_open(gr_n: Option<bool>) -> Open {
        let mut caps = vec![Capability::FourOctetAs(65002)];
        if let Some(n) = gr_n {
            caps.push(
                GracefulRestartConfig {
                    restart_time: 90,
                    restarting: false,
                    notification: n,
                    families: vec![GracefulRestartFamily::new(AfiSafi::IPV4_UNICAST, true)],
                }
                .capability(),
            );
        }
        Open::new(65002, HoldTime::DEFAULT, Ipv4Addr::new(10, 0, 0, 2), caps)
    }

    fn fate_of(local: Option<bool>, remote: Option<bool>, reason: DownReason) -> Fate {
        let c = cfg(local);
        let n = Negotiated::new(&c, &c.local_open(), &peer_open(remote));
        fate(Some(&n), &reason, None)
    }

    #[test]
    fn keepalive_interval_is_a_third_capped_by_configuration_and_at_least_a_second() {
        let h = |s| HoldTime::new(s).unwrap();
        let s = Duration::from_secs;
        assert_eq!(keepalive_interval(h(90), None), Some(s(30)));
        assert_eq!(keepalive_interval(h(90), Some(s(1))), Some(s(1)));
        assert_eq!(keepalive_interval(h(9), Some(s(30))), Some(s(3)));
        assert_eq!(keepalive_interval(h(9), Some(Duration::ZERO)), Some(s(1)));
        assert_eq!(keepalive_interval(h(0), Some(s(1))), None);
    }

    #[test]
    fn graceful_path_needs_both_sides() {
        let keep = Fate::Keep {
            restart_time: Duration::from_secs(90),
            families: vec![GracefulRestartFamily::new(AfiSafi::IPV4_UNICAST, true)],
        };
        assert_eq!(
            fate_of(Some(false), Some(false), DownReason::TcpFailed),
            keep
        );
        assert_eq!(
            fate_of(None, Some(true), DownReason::TcpFailed),
            Fate::Flush(FlushCause::NoGracefulRestart)
        );
        assert_eq!(
            fate_of(Some(true), None, DownReason::TcpFailed),
            Fate::Flush(FlushCause::NoGracefulRestart)
        );
        assert_eq!(
            fate(None, &DownReason::TcpFailed, None),
            Fate::Flush(FlushCause::NoGracefulRestart)
        );
    }

    #[test]
    fn rfc8538_notifications_are_graceful_only_with_both_n_bits() {
        let cease = Notification::cease(CeaseReason::OutOfResources);
        let hard = Notification::hard_reset(&cease);
        let r = |n: &Notification| DownReason::Received(n.clone());
        assert!(matches!(
            fate_of(Some(true), Some(true), r(&cease)),
            Fate::Keep { .. }
        ));
        assert!(matches!(
            fate_of(Some(true), Some(true), DownReason::HoldTimerExpired),
            Fate::Keep { .. }
        ));
        assert_eq!(
            fate_of(Some(true), Some(false), r(&cease)),
            Fate::Flush(FlushCause::Notification)
        );
        assert_eq!(
            fate_of(Some(true), Some(true), DownReason::Sent(hard)),
            Fate::Flush(FlushCause::HardReset)
        );
    }
}
