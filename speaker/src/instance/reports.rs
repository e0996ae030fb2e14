//! What `show peers` and `show routes` print, read from the owner's state.

use super::Owner;
use crate::handle::{PathView, PeerReport, RouteReport, source_name};

impl Owner {
    pub(super) fn peer_reports(&self) -> Vec<PeerReport> {
        use proto::bgp::AfiSafi;
        self.peers
            .iter()
            .map(|p| PeerReport {
                neighbor: p.cfg.address,
                remote_as: p.cfg.remote_as,
                local_address: p
                    .established
                    .and_then(|c| p.conns.get(&c))
                    .map(|c| c.local.to_string()),
                prefixes_ipv4: self.rib.prefix_count(p.source, AfiSafi::IPV4_UNICAST),
                prefixes_ipv6: self.rib.prefix_count(p.source, AfiSafi::IPV6_UNICAST),
                uptime_secs: p.up_since.map(|t| t.elapsed().as_secs()),
                fsm: p.fsm.snapshot(),
            })
            .collect()
    }

    pub(super) fn route_reports(&self, filter: Option<ipnet::IpNet>) -> Vec<RouteReport> {
        let mut prefixes: Vec<ipnet::IpNet> = self
            .rib
            .loc_rib()
            .map(|(p, _)| p)
            .filter(|p| filter.is_none_or(|f| f.contains(p)))
            .collect();
        prefixes.sort();
        prefixes
            .into_iter()
            .map(|prefix| RouteReport {
                prefix,
                paths: self
                    .rib
                    .paths(&prefix)
                    .into_iter()
                    .map(|r| PathView {
                        source: source_name(r.source, &self.neighbors),
                        best: r.best,
                        stale: r.stale,
                        path_id: r.path_id,
                        lost_on: r.lost_on.map(|l| format!("{l:?}")),
                        age_secs: self.rib.clock().saturating_sub(r.since),
                        origin_router_id: r.router_id,
                        attrs: (*r.attrs).clone(),
                    })
                    .collect(),
            })
            .collect()
    }
}
