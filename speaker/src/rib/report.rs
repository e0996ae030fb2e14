//! `show routes`: every path of a prefix, why it lost, when it came and
//! from which router.

use std::net::Ipv4Addr;
use std::sync::Arc;

use ipnet::IpNet;

use super::attrs::PathAttrs;
use super::best::{Reason, compare};
use super::{Rib, SourceId, candidate};

/// One path of a prefix, for `show routes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathReport {
    pub source: SourceId,
    pub path_id: u32,
    pub attrs: Arc<PathAttrs>,
    pub best: bool,
    pub stale: bool,
    /// Why it lost to the best path.
    pub lost_on: Option<Reason>,
    /// When it was received or originated (or last changed attributes),
    /// on the clock of [`Rib::set_clock`].
    pub since: u32,
    /// The router it comes from: ORIGINATOR_ID if present, else the
    /// peer's BGP identifier (what the decision compares); `None` for
    /// ours.
    pub router_id: Option<Ipv4Addr>,
}

impl Rib {
    /// Every path to `prefix`, best first, with why each other one lost.
    pub fn paths(&self, prefix: &IpNet) -> Vec<PathReport> {
        let Some((paths, one_since)) = self.table.get_timed(prefix) else {
            return Vec::new();
        };
        let best = paths.best();
        let mut out: Vec<PathReport> = paths
            .timed(one_since)
            .filter(|(p, _)| !p.is_out())
            .map(|(p, since)| PathReport {
                since,
                router_id: (p.source != SourceId::LOCAL)
                    .then(|| candidate(p, &self.sources, &self.config).identifier()),
                source: p.source,
                path_id: p.path_id,
                attrs: Arc::clone(&p.attrs),
                best: p.is_best(),
                stale: p.is_stale(),
                lost_on: best.filter(|_| !p.is_best()).map(|b| {
                    let b = candidate(b, &self.sources, &self.config);
                    compare(&b, &candidate(p, &self.sources, &self.config)).1
                }),
            })
            .collect();
        out.sort_by_key(|r| !r.best);
        out
    }
}
