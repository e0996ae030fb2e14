//! What one BGP session is configured to do: the RFC 4271 section 8.1.1
//! session attributes that hostroute exposes, and the OPEN it sends.

use std::net::Ipv4Addr;
use std::time::Duration;

use proto::bgp::{AfiSafi, Capability, GracefulRestart, GracefulRestartFamily, HoldTime, Open};
use serde::{Deserialize, Serialize};

use super::timers::{ConnectRetry, IdleHold};

/// Configuration of one peer's session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionConfig {
    /// Our AS; above 65535 it goes in OPEN as AS_TRANS (RFC 6793).
    pub local_as: u32,
    /// The AS the peer must announce, else OPEN error 2/2 (Bad Peer AS).
    pub remote_as: u32,
    /// Our BGP identifier (RFC 6286).
    pub router_id: Ipv4Addr,
    /// The hold time we offer; the session runs with the smaller of both.
    pub hold_time: HoldTime,
    /// KEEPALIVE interval instead of a third of the hold time; never
    /// longer than a third of the negotiated hold time, never below 1 s.
    pub keepalive: Option<Duration>,
    /// ConnectRetryTime and its exponential backoff.
    pub connect_retry: ConnectRetry,
    /// IdleHoldTime damping of repeated failures (DampPeerOscillations).
    pub idle_hold: IdleHold,
    /// Seed of the RFC 4271 section 10 jitter applied to the
    /// connect-retry, idle-hold and keepalive timers; `None`: no jitter.
    pub jitter_seed: Option<u64>,
    /// Never connect; only accept the peer's connections.
    pub passive: bool,
    /// DelayOpen (RFC 4271 section 8.1.1): after the TCP connection comes
    /// up, wait this long for the peer's OPEN before sending ours.
    pub delay_open: Option<Duration>,
    /// Capabilities we advertise (RFC 5492). The 4-octet AS capability is
    /// added if missing, and graceful restart comes from
    /// `graceful_restart`.
    pub capabilities: Vec<Capability>,
    /// Capabilities the peer must advertise, else OPEN error 2/7 (RFC 5492
    /// section 5). Empty by default: multiprotocol and 4-octet AS are
    /// optional.
    pub required_capabilities: Vec<Capability>,
    /// Graceful restart (RFC 4724, RFC 8538). With it we also act as the
    /// helper for a peer that advertises it.
    pub graceful_restart: Option<GracefulRestartConfig>,
    /// Do not go Established until liveness (BFD) is Up, as the BGP BFD
    /// strict mode draft does: the session waits in OpenConfirm, without
    /// sending the KEEPALIVE that would let the peer go Established, for
    /// at most `liveness_wait`.
    pub require_liveness: bool,
    /// How long OpenConfirm waits for liveness before giving up with
    /// Cease / BFD Down.
    pub liveness_wait: Duration,
}

/// Our side of graceful restart: the capability we advertise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GracefulRestartConfig {
    /// Seconds the peer should keep our routes while we restart (12 bits).
    pub restart_time: u16,
    /// R: we are restarting now (RFC 4724 section 3).
    pub restarting: bool,
    /// N: NOTIFICATIONs other than Hard Reset also take the graceful path
    /// (RFC 8538 section 2).
    pub notification: bool,
    /// The families whose forwarding state we preserve (F bits); empty
    /// advertises helper-only support.
    pub families: Vec<GracefulRestartFamily>,
}

impl GracefulRestartConfig {
    pub fn capability(&self) -> Capability {
        Capability::GracefulRestart(GracefulRestart {
            restart_state: self.restarting,
            notification: self.notification,
            reserved_flags: 0,
            restart_time: self.restart_time.min(GracefulRestart::MAX_RESTART_TIME),
            families: self.families.clone(),
        })
    }
}

impl SessionConfig {
    /// A session with the defaults: hold 90 s, active, IPv4 and IPv6
    /// unicast, route refresh, extended messages, no graceful restart.
    pub fn new(local_as: u32, remote_as: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_as,
            remote_as,
            router_id,
            hold_time: HoldTime::DEFAULT,
            keepalive: None,
            connect_retry: ConnectRetry::default(),
            idle_hold: IdleHold::default(),
            jitter_seed: None,
            passive: false,
            delay_open: None,
            capabilities: vec![
                Capability::MultiProtocol(AfiSafi::IPV4_UNICAST),
                Capability::MultiProtocol(AfiSafi::IPV6_UNICAST),
                Capability::RouteRefresh,
                Capability::EnhancedRouteRefresh,
                Capability::ExtendedMessage,
                Capability::FourOctetAs(local_as),
            ],
            required_capabilities: Vec::new(),
            graceful_restart: None,
            require_liveness: false,
            liveness_wait: Duration::from_secs(30),
        }
    }

    /// The peer is in our AS.
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.remote_as
    }

    /// The OPEN we send.
    pub fn local_open(&self) -> Open {
        let mut caps: Vec<Capability> = self
            .capabilities
            .iter()
            .filter(|c| !matches!(c, Capability::GracefulRestart(_)))
            .map(|c| match c {
                Capability::FourOctetAs(_) => Capability::FourOctetAs(self.local_as),
                other => other.clone(),
            })
            .collect();
        if !caps.iter().any(|c| matches!(c, Capability::FourOctetAs(_))) {
            caps.push(Capability::FourOctetAs(self.local_as));
        }
        if let Some(gr) = &self.graceful_restart {
            caps.push(gr.capability());
        }
        Open::new(self.local_as, self.hold_time, self.router_id, caps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_open_carries_the_four_octet_as_and_graceful_restart() {
        let mut cfg = SessionConfig::new(4_200_000_001, 65002, Ipv4Addr::new(10, 0, 0, 1));
        cfg.capabilities = vec![Capability::RouteRefresh];
        cfg.graceful_restart = Some(GracefulRestartConfig {
            restart_time: 120,
            restarting: false,
            notification: true,
            families: vec![GracefulRestartFamily::new(AfiSafi::IPV4_UNICAST, true)],
        });
        let open = cfg.local_open();
        assert_eq!(open.my_as, 23456);
        assert_eq!(open.asn(), 4_200_000_001);
        assert_eq!(open.hold_time, HoldTime::DEFAULT);
        assert!(open.has_capability(64));
        assert!(open.has_capability(2));
        assert!(!cfg.is_ibgp());
    }

    #[test]
    fn a_stale_four_octet_as_capability_is_corrected() {
        let mut cfg = SessionConfig::new(65001, 65001, Ipv4Addr::new(10, 0, 0, 1));
        cfg.capabilities = vec![Capability::FourOctetAs(1)];
        assert_eq!(cfg.local_open().four_octet_as(), Some(65001));
        assert!(cfg.is_ibgp());
    }
}
