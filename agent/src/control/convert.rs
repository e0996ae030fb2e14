//! Views from the speaker's and the FIB service's own reports, for the
//! daemon's owner task: what it cannot know from one report alone (a
//! peer's BFD state, interface names, neighbours' router ids) comes in as
//! arguments.

use std::net::Ipv4Addr;

use speaker::bfd::{SessionKey, SessionSnapshot};
use speaker::handle::{PeerReport, RouteReport};
use speaker::rib::NextHop;

use super::api::{BfdRow, FibCountersView, FibRow, FibStatus, FibView, PathRow, PeerRow, RouteRow};
use crate::fib::{EntryState, FibSnapshot, RouteKind};

/// `OpenSent` -> `open-sent`: how states and diagnostics read in views.
pub fn kebab(debug_name: &str) -> String {
    let mut out = String::with_capacity(debug_name.len() + 4);
    for (i, c) in debug_name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// A neighbour's row. `bfd` is its BFD session's state when it uses BFD;
/// `capabilities` what its OPEN negotiated, if the daemon tracks it.
pub fn peer_row(report: &PeerReport, bfd: Option<String>, capabilities: Vec<String>) -> PeerRow {
    let session = &report.fsm.session;
    PeerRow {
        neighbor: report.neighbor,
        remote_as: report.remote_as,
        router_id: session.remote_id,
        state: kebab(&format!("{:?}", session.state)),
        uptime_secs: report.uptime_secs,
        prefixes_ipv4: report.prefixes_ipv4,
        prefixes_ipv6: report.prefixes_ipv6,
        prefixes_sent: None,
        bfd,
        last_error: session.last_error.as_ref().map(ToString::to_string),
        capabilities,
        hold_time: session.hold_time,
        messages_in: session.messages_in.total(),
        messages_out: session.messages_out.total(),
        flaps: session.flaps,
    }
}

/// A prefix's row. `router_id_of` gives a neighbour's router id from its
/// address (as in [`PathRow::source`]), for the origin column when the
/// path has no ORIGINATOR_ID.
pub fn route_row(
    report: &RouteReport,
    router_id_of: impl Fn(&str) -> Option<Ipv4Addr>,
) -> RouteRow {
    let paths = report
        .paths
        .iter()
        .map(|p| {
            let attrs = &p.attrs;
            let origin = match (p.source.as_str(), p.origin_router_id) {
                ("local", _) => "local".to_string(),
                (_, Some(id)) => id.to_string(),
                (source, None) => {
                    router_id_of(source).map_or_else(|| source.to_string(), |id| id.to_string())
                }
            };
            PathRow {
                source: p.source.clone(),
                best: p.best,
                next_hop: match attrs.next_hop {
                    NextHop::Local => "local".to_string(),
                    NextHop::V4(a) => a.to_string(),
                    NextHop::V6 {
                        global,
                        link_local: None,
                    } => global.to_string(),
                    NextHop::V6 {
                        global,
                        link_local: Some(ll),
                    } => format!("{global} ({ll})"),
                },
                sequence: attrs.mobility.map(|m| m.sequence.0),
                static_flag: attrs.mobility.is_some_and(|m| m.is_static),
                origin,
                age_secs: Some(u64::from(p.age_secs)),
                as_path: attrs.as_path.to_string(),
                local_pref: attrs.local_pref,
                med: attrs.med,
                stale: p.stale,
                lost_on: p.lost_on.clone(),
            }
        })
        .collect();
    RouteRow {
        prefix: report.prefix,
        paths,
    }
}

/// A BFD session's row.
pub fn bfd_row(snapshot: &SessionSnapshot) -> BfdRow {
    let s = &snapshot.status;
    let (interface, multihop) = match &snapshot.key {
        SessionKey::SingleHop { interface, .. } => (interface.clone(), false),
        SessionKey::Multihop { .. } => (None, true),
    };
    let local = match &snapshot.key {
        SessionKey::Multihop { local, .. } => Some(*local),
        SessionKey::SingleHop { .. } => snapshot.local,
    };
    BfdRow {
        peer: snapshot.key.peer(),
        local,
        interface,
        multihop,
        state: kebab(&format!("{:?}", s.state)),
        remote_state: kebab(&format!("{:?}", s.remote_state)),
        local_discriminator: s.local_discriminator.get(),
        remote_discriminator: s.remote_discriminator.map(|d| d.get()),
        tx_interval_us: s.tx_interval_us,
        rx_interval_us: s.rx_interval_us,
        detection_time_us: s.detection_time_us,
        local_diag: kebab(&format!("{:?}", s.local_diag)),
        remote_diag: kebab(&format!("{:?}", s.remote_diag)),
        up_transitions: s.counters.up_transitions,
        down_transitions: s.counters.down_transitions,
        since_transition_ms: s.since_transition_ms,
        packets_in: s.counters.packets_in,
        packets_out: s.counters.packets_out,
    }
}

/// `show fib` from a FIB snapshot; `ifname` names an interface index.
pub fn fib_view(snapshot: &FibSnapshot, ifname: impl Fn(u32) -> Option<String>) -> FibView {
    let dev = |i: u32| ifname(i).unwrap_or_else(|| format!("#{i}"));
    let route = |kind: &RouteKind| match *kind {
        RouteKind::Local { ifindex } => format!("dev {}", dev(ifindex)),
        RouteKind::Via {
            gateway,
            ifindex: Some(i),
        } => format!("via {gateway} dev {}", dev(i)),
        RouteKind::Via {
            gateway,
            ifindex: None,
        } => format!("via {gateway}"),
        RouteKind::Other => "(not ours: multipath, blackhole, ...)".to_string(),
    };
    let rows = snapshot
        .entries
        .iter()
        .map(|e| FibRow {
            prefix: e.key.prefix,
            rib: e.desired.as_ref().map(route),
            kernel: e.kernel.as_ref().map(route),
            status: match e.state {
                EntryState::Synced => FibStatus::Ok,
                EntryState::Differs => FibStatus::Differs,
                EntryState::Missing => FibStatus::Missing,
                EntryState::Stale => FibStatus::Stale,
                EntryState::Unexpected => FibStatus::Unexpected,
            },
        })
        .collect();
    let c = &snapshot.counters;
    FibView {
        protocol: snapshot.params.protocol,
        table: snapshot.params.table,
        metric: snapshot.params.metric,
        grace_remaining_ms: snapshot.grace_remaining_ms,
        drift: snapshot.drift,
        rows,
        counters: FibCountersView {
            installed: c.installed,
            replaced: c.replaced,
            deleted: c.deleted,
            repaired: c.repaired,
            resyncs: c.resyncs,
            overruns: c.overruns,
            dumps_interrupted: c.dumps_interrupted,
            unresolved: c.unresolved,
            failures: c.failures.values().sum(),
            last_failure: c.last_failure.as_ref().map(|f| {
                let what = f
                    .key
                    .map_or_else(|| "-".to_string(), |k| k.prefix.to_string());
                let message = f
                    .message
                    .clone()
                    .unwrap_or_else(|| std::io::Error::from_raw_os_error(f.errno).to_string());
                format!("{what}: {message} (errno {})", f.errno)
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_in_kebab_case() {
        assert_eq!(kebab("OpenSent"), "open-sent");
        assert_eq!(kebab("Established"), "established");
        assert_eq!(kebab("AdminDown"), "admin-down");
        assert_eq!(
            kebab("ControlDetectionTimeExpired"),
            "control-detection-time-expired"
        );
    }

    #[test]
    fn a_fresh_peer_reads_idle_with_no_counts() {
        let cfg = speaker::bgp::SessionConfig::new(65001, 65002, "192.0.2.1".parse().unwrap());
        let report = PeerReport {
            neighbor: "192.0.2.2".parse().unwrap(),
            remote_as: 65002,
            local_address: None,
            prefixes_ipv4: 3,
            prefixes_ipv6: 1,
            uptime_secs: None,
            fsm: speaker::bgp::Peer::new(cfg).snapshot(),
        };
        let row = peer_row(&report, Some("down".into()), vec!["4-octet-as".into()]);
        assert_eq!(row.state, "idle");
        assert_eq!((row.prefixes_ipv4, row.prefixes_ipv6), (3, 1));
        assert_eq!((row.messages_in, row.messages_out, row.flaps), (0, 0, 0));
        assert_eq!(row.bfd.as_deref(), Some("down"));
        assert_eq!(row.last_error, None);
    }

    #[test]
    fn a_new_bfd_session_reads_down() {
        use speaker::bfd::{Session, Timers};
        let now = std::time::Instant::now();
        let local = proto::bfd::Discriminator::new(7).unwrap();
        let session = Session::new(now, local, Timers::default(), None, 1).unwrap();
        let snapshot = SessionSnapshot {
            key: SessionKey::SingleHop {
                peer: "192.0.2.2".parse().unwrap(),
                interface: Some("eth0".into()),
            },
            local: Some("192.0.2.1".parse().unwrap()),
            liveness: speaker::bfd::Liveness::Up,
            recent_failures: 0,
            up_held_ms: None,
            status: session.status(now),
        };
        let row = bfd_row(&snapshot);
        assert_eq!(row.state, "down");
        assert_eq!(row.local_discriminator, 7);
        assert_eq!(row.remote_discriminator, None);
        assert_eq!(row.interface.as_deref(), Some("eth0"));
        assert!(!row.multihop);
        assert_eq!(row.local_diag, "no-diagnostic");
    }

    #[test]
    fn fib_rows_name_interfaces_and_count_drift() {
        use crate::fib::{FailureReport, FibCounters, FibEntry, RouteKey, RouteParams};
        let key = |p: &str| RouteKey {
            prefix: p.parse().unwrap(),
            table: 254,
            metric: 20,
        };
        let mut counters = FibCounters::default();
        counters.failures.insert(101, 2);
        counters.failures.insert(19, 1);
        counters.last_failure = Some(FailureReport {
            key: Some(key("10.1.1.6/32")),
            errno: 101,
            message: None,
        });
        let snapshot = FibSnapshot {
            params: RouteParams::default(),
            grace_remaining_ms: None,
            drift: 1,
            entries: vec![
                FibEntry {
                    key: key("10.1.1.5/32"),
                    desired: Some(RouteKind::Local { ifindex: 17 }),
                    kernel: Some(RouteKind::Local { ifindex: 17 }),
                    state: EntryState::Synced,
                },
                FibEntry {
                    key: key("10.1.1.6/32"),
                    desired: Some(RouteKind::Via {
                        gateway: "192.0.2.2".parse().unwrap(),
                        ifindex: Some(3),
                    }),
                    kernel: None,
                    state: EntryState::Missing,
                },
            ],
            counters,
        };
        let names = |i| (i == 17).then(|| "vnet3".to_string());
        let view = fib_view(&snapshot, names);
        assert_eq!(view.rows[0].rib.as_deref(), Some("dev vnet3"));
        assert_eq!(view.rows[1].rib.as_deref(), Some("via 192.0.2.2 dev #3"));
        assert_eq!(view.rows[1].status, FibStatus::Missing);
        assert_eq!(view.drift, 1);
        assert_eq!(view.counters.failures, 3);
        assert_eq!(
            view.counters.last_failure.as_deref(),
            Some("10.1.1.6/32: Network is unreachable (os error 101) (errno 101)")
        );
    }
}
