//! Routing information bases and the decision process, with mobility.
//!
//! ```text
//!   peer UPDATE ──apply_update──┐          ┌── originate / withdraw_local (our VMs)
//!   (RFC 7606 verdict applied,  │          │
//!    import policy, max-prefix) v          v
//!                    ┌──────────────────────────────────┐
//!                    │ Table: one entry per prefix       │  best.rs decides, per
//!                    │  paths from every source (BEST,   │  entry, on every change
//!                    │  STALE) + Adj-RIB-Out records     │
//!                    └──────────────────────────────────┘
//!                         │ RouteChange {prefix, old, new}   RibEvent::LocalSuperseded
//!                         v                                  (our VM moved away)
//!          take_changes() ├──> kernel FIB
//!                         └──> export(peer, changes) ──> Vec<Update> (out.rs)
//! ```
//!
//! The RIB is pure: no I/O, no clock of its own (the owner sets the time
//! stamped on paths with [`Rib::set_clock`]), no tasks. The owner (one task owning
//! all peers) feeds it, drains [`Rib::take_changes`] and
//! [`Rib::take_events`] once per turn of its event loop, and asks
//! [`Rib::export`] for each established peer's UPDATEs. Graceful restart and
//! enhanced route refresh use [`Rib::mark_stale`] and [`Rib::sweep_stale`];
//! the caller owns the timers. Locally originated routes are source
//! [`SourceId::LOCAL`] and take part in the same decision.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod attrs;
pub mod best;
mod hash;
mod ingest;
pub mod out;
mod report;
pub mod table;

#[cfg(test)]
mod out_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use ipnet::IpNet;
use proto::bgp::{AfiSafi, Mobility, Notification, Sequence};
use serde::Serialize;
use tracing::{info, warn};

pub use attrs::{Interner, NextHop, PathAttrs, Received, UnknownAttr, family_of};
pub use best::{Candidate, Reason, SourceKind, compare, select};
pub use out::SessionInfo;
pub use report::PathReport;
use table::{Entry, Path, Paths, Table, flags};

use crate::policy::{PeerPolicy, Teardown};

/// A source of paths: [`SourceId::LOCAL`] or a peer added with
/// [`Rib::add_peer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceId(pub u16);

impl SourceId {
    /// This speaker's own routes.
    pub const LOCAL: Self = Self(0);
}

impl std::fmt::Display for SourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if *self == Self::LOCAL {
            f.write_str("local")
        } else {
            write!(f, "peer#{}", self.0)
        }
    }
}

/// This speaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RibConfig {
    pub local_asn: u32,
    pub router_id: Ipv4Addr,
}

/// A configured peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub asn: u32,
    pub policy: PeerPolicy,
}

/// The Loc-RIB path of a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Best {
    pub source: SourceId,
    pub path_id: u32,
    pub attrs: Arc<PathAttrs>,
}

impl Best {
    fn of(p: &Path) -> Self {
        Self {
            source: p.source,
            path_id: p.path_id,
            attrs: Arc::clone(&p.attrs),
        }
    }
}

/// A change of the Loc-RIB, for the kernel FIB and for export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteChange {
    pub prefix: IpNet,
    pub old: Option<Best>,
    pub new: Option<Best>,
}

/// Who took a prefix away from us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Superseder {
    pub source: SourceId,
    /// The identifier the decision compared: ORIGINATOR_ID or the peer's.
    pub router_id: Ipv4Addr,
    /// Its mobility community (sequence 0, not static, when it has none).
    pub mobility: Mobility,
}

/// Things the daemon must act on besides route changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RibEvent {
    /// Our locally originated route lost to another source: the VM moved
    /// away (newer sequence), is pinned elsewhere (static), or lost an
    /// equal-sequence race (`reason` says which step decided). RFC 7432
    /// section 15: stop advertising it.
    LocalSuperseded {
        prefix: IpNet,
        by: Superseder,
        reason: Reason,
    },
}

/// What the session must do after an UPDATE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAction {
    /// RFC 7606 session reset: send this NOTIFICATION and close.
    Reset(Notification),
    /// RFC 7606 AFI/SAFI disable: the family's routes from the peer were
    /// flushed and further ones are ignored; reset with the NOTIFICATION if
    /// the session cannot stop one family alone.
    DisableFamily {
        family: AfiSafi,
        notification: Notification,
    },
    /// Too many prefixes: close with Cease/1, maybe reconnect later.
    MaxPrefix(Teardown),
}

/// What one UPDATE did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdateOutcome {
    pub accepted: usize,
    pub rejected: usize,
    pub withdrawn: usize,
    pub treat_as_withdraw: bool,
    pub end_of_rib: Option<AfiSafi>,
    /// Stale paths swept because of an End-of-RIB.
    pub swept: usize,
    pub session: Option<SessionAction>,
}

/// Errors from driving the RIB wrongly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RibError {
    #[error("{0} is not a configured peer")]
    UnknownPeer(SourceId),
    #[error("{0} has no established session")]
    NoSession(SourceId),
    #[error("too many peers")]
    TooManyPeers,
}

/// Heap use, for `show memory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct MemoryReport {
    pub prefixes: usize,
    pub attribute_sets: usize,
    pub table_bytes: usize,
    pub attribute_bytes: usize,
}

#[derive(Debug)]
struct Source {
    peer: Option<Arc<PeerConfig>>,
    /// The peer's BGP identifier from its last OPEN (ours for LOCAL).
    router_id: Ipv4Addr,
    session: Option<SessionInfo>,
    /// The Adj-RIB-Out was brought in line with the Loc-RIB by the last
    /// [`Rib::export_all`], so it holds nothing a change's `old` does not
    /// account for; false from session up until the next `export_all`.
    synced: bool,
    /// Accepted prefixes per family (IPv4, IPv6), for max-prefix.
    counts: [u32; 2],
    warned: [bool; 2],
    disabled: Vec<AfiSafi>,
}

impl Source {
    fn kind(&self, local_asn: u32) -> SourceKind {
        match &self.peer {
            None => SourceKind::Local,
            Some(p) if p.asn == local_asn => SourceKind::Internal,
            Some(_) => SourceKind::External,
        }
    }

    fn address(&self) -> IpAddr {
        self.peer
            .as_ref()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.address)
    }
}

fn family_index(prefix: &IpNet) -> usize {
    match prefix {
        IpNet::V4(_) => 0,
        IpNet::V6(_) => 1,
    }
}

/// The RIB: Adj-RIBs-In, Loc-RIB and Adj-RIBs-Out of every peer.
#[derive(Debug)]
pub struct Rib {
    config: RibConfig,
    table: Table,
    interner: Interner,
    sources: Vec<Source>,
    changes: Vec<RouteChange>,
    events: Vec<RibEvent>,
    /// Seconds on the owner's clock, stamped on each path it sets.
    clock: u32,
    /// End-of-RIB is held back from sessions coming up until
    /// [`Rib::release_end_of_rib`] (a restarting speaker whose local routes
    /// are still being found, RFC 4724 section 4.1).
    eor_held: bool,
}

/// References to one attribute set, taken in blocks.
///
/// Every path and every route change holds its own reference. Taken one
/// route at a time, each atomic increment (a locked instruction, a full
/// barrier on x86) waits for the table writes before it to drain, so the
/// cache misses of a bulk insert happen one after another instead of
/// overlapping: measured, that was a third of the time of a million-route
/// feed. In blocks, the increments run back to back.
pub(crate) struct Clones<'a> {
    of: &'a Arc<PathAttrs>,
    block: usize,
    spare: Vec<Arc<PathAttrs>>,
}

impl<'a> Clones<'a> {
    /// For about `uses` references (the block is at most 64).
    pub(crate) fn new(of: &'a Arc<PathAttrs>, uses: usize) -> Self {
        Self {
            of,
            block: uses.clamp(1, 64),
            spare: Vec::new(),
        }
    }

    /// One more reference.
    pub(crate) fn next(&mut self) -> Arc<PathAttrs> {
        if let Some(a) = self.spare.pop() {
            return a;
        }
        let of = self.of;
        self.spare
            .extend(std::iter::repeat_with(|| Arc::clone(of)).take(self.block - 1));
        Arc::clone(of)
    }
}

/// Recomputes the BEST flag of an entry; returns the new best.
fn decide(paths: &mut Paths, sources: &[Source], config: &RibConfig) -> Option<Best> {
    let mut received = 0;
    for p in paths.iter_mut() {
        p.flags &= !flags::BEST;
        received += usize::from(!p.is_out());
    }
    // Received paths come first, so an index among them is one among all.
    let winner = if received <= 1 {
        paths.iter().position(|p| !p.is_out())
    } else {
        let candidates: Vec<Candidate<'_>> = paths
            .received()
            .map(|p| candidate(p, sources, config))
            .collect();
        select(&candidates)
    };
    let p = paths.iter_mut().nth(winner?)?;
    p.flags |= flags::BEST;
    Some(Best::of(p))
}

fn candidate<'a>(p: &'a Path, sources: &[Source], config: &RibConfig) -> Candidate<'a> {
    let src = sources.get(usize::from(p.source.0));
    Candidate {
        attrs: &p.attrs,
        kind: src.map_or(SourceKind::Internal, |s| s.kind(config.local_asn)),
        router_id: src.map_or(Ipv4Addr::BROADCAST, |s| s.router_id),
        address: src.map_or(IpAddr::V4(Ipv4Addr::BROADCAST), Source::address),
        source: p.source,
        path_id: p.path_id,
    }
}

/// Queues the change of one entry and, if our own path lost, the event.
#[allow(clippy::too_many_arguments)]
fn note(
    prefix: IpNet,
    paths: &Paths,
    old: Option<Best>,
    new: Option<Best>,
    local_touched: bool,
    sources: &[Source],
    config: &RibConfig,
    out: (&mut Vec<RouteChange>, &mut Vec<RibEvent>),
) {
    let (changes, events) = out;
    let local_was_best = old.as_ref().is_some_and(|b| b.source == SourceId::LOCAL);
    if old != new {
        changes.push(RouteChange { prefix, old, new });
    }
    let Some(local) = paths.find(SourceId::LOCAL, 0) else {
        return;
    };
    if local.is_best() || !(local_touched || local_was_best) {
        return;
    }
    let Some(winner) = paths.best() else {
        return;
    };
    let w = candidate(winner, sources, config);
    let reason = compare(&w, &candidate(local, sources, config)).1;
    let by = Superseder {
        source: winner.source,
        router_id: w.identifier(),
        mobility: winner.attrs.mobility.unwrap_or_default(),
    };
    info!(%prefix, source = %by.source, router_id = %by.router_id, sequence = %by.mobility.sequence, %reason, "local route superseded");
    events.push(RibEvent::LocalSuperseded { prefix, by, reason });
}

impl Rib {
    pub fn new(config: RibConfig) -> Self {
        let local = Source {
            peer: None,
            router_id: config.router_id,
            session: None,
            synced: false,
            counts: [0; 2],
            warned: [false; 2],
            disabled: Vec::new(),
        };
        Self {
            config,
            table: Table::new(),
            interner: Interner::new(),
            sources: vec![local],
            changes: Vec::new(),
            events: Vec::new(),
            clock: 0,
            eor_held: false,
        }
    }

    /// Sets the time stamped on paths from now on: seconds on a clock of
    /// the caller's (the owner: since the speaker started), which must not
    /// go back. [`PathReport::since`] is on the same clock.
    pub fn set_clock(&mut self, seconds: u32) {
        self.clock = seconds;
    }

    /// The time last set with [`Rib::set_clock`].
    pub fn clock(&self) -> u32 {
        self.clock
    }

    pub fn config(&self) -> &RibConfig {
        &self.config
    }

    /// Registers a peer; its paths and Adj-RIB-Out live under the id.
    pub fn add_peer(&mut self, peer: PeerConfig) -> Result<SourceId, RibError> {
        let id = SourceId(u16::try_from(self.sources.len()).map_err(|_| RibError::TooManyPeers)?);
        if peer.asn != self.config.local_asn
            && (peer.policy.import.is_none() || peer.policy.export.is_none())
        {
            warn!(peer = %peer.address, asn = peer.asn,
                "eBGP peer without import or export policy: RFC 8212, it imports/exports nothing");
        }
        self.sources.push(Source {
            peer: Some(Arc::new(peer)),
            router_id: Ipv4Addr::UNSPECIFIED,
            session: None,
            synced: false,
            counts: [0; 2],
            warned: [false; 2],
            disabled: Vec::new(),
        });
        Ok(id)
    }

    pub fn peer(&self, id: SourceId) -> Option<&PeerConfig> {
        self.sources.get(usize::from(id.0))?.peer.as_deref()
    }

    /// Accepted prefixes from `id` in `family`.
    pub fn prefix_count(&self, id: SourceId, family: AfiSafi) -> u32 {
        let i = usize::from(family != AfiSafi::IPV4_UNICAST);
        self.sources
            .get(usize::from(id.0))
            .and_then(|s| s.counts.get(i).copied())
            .unwrap_or(0)
    }

    /// Sets, replaces or (with `None`) removes one received path and runs
    /// the decision for its prefix. Returns whether the path existed.
    fn set_path(
        &mut self,
        prefix: IpNet,
        source: SourceId,
        path_id: u32,
        attrs: Option<&mut Clones<'_>>,
    ) -> bool {
        let Self {
            config,
            table,
            sources,
            changes,
            events,
            clock,
            ..
        } = self;
        let fam = family_index(&prefix);
        let announcing = attrs.is_some();
        let existed = match table.entry(&prefix) {
            Entry::Vacant(slot) => {
                let Some(attrs) = attrs else {
                    return false;
                };
                let mut path = Path::new(source, path_id, attrs.next());
                path.flags = flags::BEST;
                changes.push(RouteChange {
                    prefix,
                    old: None,
                    new: Some(Best {
                        source,
                        path_id,
                        attrs: attrs.next(),
                    }),
                });
                slot.insert(path, *clock);
                false
            }
            Entry::Occupied(mut entry) => {
                let old = entry.paths().best().map(Best::of);
                let local_touched = source == SourceId::LOCAL && announcing;
                let existed = match attrs {
                    Some(a) => entry
                        .upsert(Path::new(source, path_id, a.next()), *clock)
                        .is_some(),
                    None => !entry
                        .take_where(|p| !p.is_out() && p.source == source && p.path_id == path_id)
                        .is_empty(),
                };
                let paths = entry.paths();
                let new = decide(paths, sources, config);
                note(
                    prefix,
                    paths,
                    old,
                    new,
                    local_touched,
                    sources,
                    config,
                    (changes, events),
                );
                table.remove_if_empty(&prefix);
                existed
            }
        };
        let delta: i64 = match (announcing, existed) {
            (true, false) => 1,
            (false, true) => -1,
            _ => 0,
        };
        if let Some(c) = self
            .sources
            .get_mut(usize::from(source.0))
            .and_then(|s| s.counts.get_mut(fam))
        {
            *c = u32::try_from(i64::from(*c) + delta).unwrap_or(0);
        }
        existed
    }

    /// Removes every path (received or Adj-RIB-Out) matching `pred`, with
    /// the decision rerun where a received path went. Returns how many
    /// received paths went.
    fn remove_where(&mut self, pred: impl Fn(&IpNet, &Path) -> bool) -> usize {
        let Self {
            config,
            table,
            sources,
            changes,
            events,
            ..
        } = self;
        let mut removed = 0;
        table.for_each_mut(|prefix, mut slot| {
            if !slot.paths.iter().any(|p| pred(&prefix, p)) {
                return;
            }
            let old = slot.paths.best().map(Best::of);
            let taken = slot.take_where(|p| pred(&prefix, p));
            let paths = slot.paths;
            let mut rerun = false;
            for t in taken.iter().filter(|t| !t.is_out()) {
                removed += 1;
                rerun = true;
                if let Some(c) = sources
                    .get_mut(usize::from(t.source.0))
                    .and_then(|s| s.counts.get_mut(family_index(&prefix)))
                {
                    *c = c.saturating_sub(1);
                }
            }
            if !rerun {
                return;
            }
            if paths.is_empty() {
                if old.is_some() {
                    changes.push(RouteChange {
                        prefix,
                        old,
                        new: None,
                    });
                }
                return;
            }
            let new = decide(paths, sources, config);
            note(
                prefix,
                paths,
                old,
                new,
                false,
                sources,
                config,
                (changes, events),
            );
        });
        if removed > 0 {
            self.interner.purge();
        }
        removed
    }

    /// Originates (or re-originates) one of our routes.
    pub fn originate(&mut self, prefix: IpNet, attrs: PathAttrs) -> Arc<PathAttrs> {
        let shared = self.interner.intern(attrs);
        let mut clones = Clones::new(&shared, 2);
        self.set_path(prefix.trunc(), SourceId::LOCAL, 0, Some(&mut clones));
        drop(clones);
        shared
    }

    /// Stops originating `prefix`; whether we were.
    pub fn withdraw_local(&mut self, prefix: IpNet) -> bool {
        self.set_path(prefix.trunc(), SourceId::LOCAL, 0, None)
    }

    /// Marks a source's paths (of one family, or all) stale: graceful
    /// restart when the session drops, enhanced route refresh on BoRR (RFC
    /// 7313), or, for [`SourceId::LOCAL`], the daemon reconciling its own
    /// routes after a restart. A re-announcement clears the mark. Returns
    /// how many were marked.
    pub fn mark_stale(&mut self, id: SourceId, family: Option<AfiSafi>) -> usize {
        let mut marked = 0;
        self.table.for_each_mut(|prefix, slot| {
            if family.is_some_and(|f| f != family_of(&prefix)) {
                return;
            }
            for p in slot.paths.iter_mut() {
                if !p.is_out() && p.source == id {
                    p.flags |= flags::STALE;
                    marked += 1;
                }
            }
        });
        marked
    }

    /// Removes a peer's paths still stale: End-of-RIB, the restart or
    /// stale timer, EoRR (RFC 7313). Returns how many went.
    pub fn sweep_stale(&mut self, id: SourceId, family: Option<AfiSafi>) -> usize {
        self.remove_where(|prefix, p| {
            !p.is_out()
                && p.source == id
                && p.is_stale()
                && family.is_none_or(|f| f == family_of(prefix))
        })
    }

    /// The session with a peer closed. Its Adj-RIB-Out is forgotten; its
    /// paths are kept as stale when `graceful` (RFC 4724 helper), removed
    /// otherwise. Returns how many paths were marked or removed.
    pub fn session_down(&mut self, id: SourceId, graceful: bool) -> usize {
        let Some(src) = self
            .sources
            .get_mut(usize::from(id.0))
            .filter(|s| s.peer.is_some())
        else {
            return 0;
        };
        src.session = None;
        self.table.for_each_mut(|_, mut slot| {
            slot.take_where(|p| p.is_out() && p.source == id);
        });
        if graceful {
            self.mark_stale(id, None)
        } else {
            self.remove_where(|_, p| !p.is_out() && p.source == id)
        }
    }

    /// Forgets a peer that is no longer configured: its paths, stale ones
    /// included, and its Adj-RIB-Out go, and it is never exported to
    /// again. Its id is not reused. Returns how many paths went.
    pub fn remove_peer(&mut self, id: SourceId) -> usize {
        let removed = self.session_down(id, false);
        if let Some(src) = self
            .sources
            .get_mut(usize::from(id.0))
            .filter(|s| s.peer.is_some())
        {
            src.peer = None;
            src.counts = [0; 2];
        }
        removed
    }

    /// Drains the route changes since the last call, one per prefix
    /// (coalesced: `old` from the first, `new` from the last), sorted by
    /// prefix; prefixes that ended as they began are left out.
    pub fn take_changes(&mut self) -> Vec<RouteChange> {
        let mut all = std::mem::take(&mut self.changes);
        // A table dump arrives in prefix order, each prefix once: then
        // there is nothing to sort or coalesce. Otherwise sort (stably, so
        // a prefix's changes stay in order) and coalesce in place.
        if !all.is_sorted_by(|a, b| a.prefix < b.prefix) {
            all.sort_by_key(|c| c.prefix);
            all.dedup_by(|later, earlier| {
                let same = later.prefix == earlier.prefix;
                if same {
                    earlier.new = later.new.take();
                }
                same
            });
        }
        all.retain(|c| c.old != c.new);
        all
    }

    /// Route changes queued since the last [`Rib::take_changes`], before
    /// coalescing: the owner flushes when a batch grows this large.
    pub fn pending_changes(&self) -> usize {
        self.changes.len()
    }

    /// Drains the events since the last call.
    pub fn take_events(&mut self) -> Vec<RibEvent> {
        std::mem::take(&mut self.events)
    }

    /// The Loc-RIB path for `prefix`.
    pub fn best(&self, prefix: &IpNet) -> Option<Best> {
        self.table.get(prefix)?.best().map(Best::of)
    }

    /// Every Loc-RIB route, in no particular order.
    pub fn loc_rib(&self) -> impl Iterator<Item = (IpNet, Best)> + '_ {
        self.table
            .iter()
            .filter_map(|(n, p)| p.best().map(|b| (n, Best::of(b))))
    }

    /// The Adj-RIB-In of a source: (prefix, path id, attributes, stale).
    pub fn received_from(
        &self,
        id: SourceId,
    ) -> impl Iterator<Item = (IpNet, u32, &Arc<PathAttrs>, bool)> + '_ {
        self.table.iter().flat_map(move |(n, paths)| {
            paths
                .received()
                .filter(move |p| p.source == id)
                .map(move |p| (n, p.path_id, &p.attrs, p.is_stale()))
        })
    }

    /// The Adj-RIB-Out of a peer: what it was last sent.
    pub fn advertised_to(
        &self,
        id: SourceId,
    ) -> impl Iterator<Item = (IpNet, &Arc<PathAttrs>)> + '_ {
        self.table
            .iter()
            .filter_map(move |(n, paths)| paths.out(id).map(|p| (n, &p.attrs)))
    }

    /// The newest mobility sequence among all paths to `prefix`, ours and
    /// learned (a path without the community counts as 0): the daemon
    /// originates a VM that arrives with this plus one.
    /// The sequence a route to a VM that arrives here carries, decided
    /// within the owner's turn (no other path can slip in between): the
    /// highest sequence any other source holds for the prefix, plus one;
    /// our own path's when none is newer (a restart is not a move); 0 when
    /// the prefix is new. `remembered` is a path the caller saw withdrawn a
    /// moment ago (`true`: ours), which still counts.
    pub fn arrival_sequence(
        &self,
        prefix: &IpNet,
        remembered: Option<(bool, Sequence)>,
    ) -> Sequence {
        let paths = self
            .table
            .get(prefix)
            .into_iter()
            .flat_map(|p| p.received())
            .map(|p| (p.source == SourceId::LOCAL, p.attrs.sequence()));
        next_sequence(paths.chain(remembered))
    }

    pub fn highest_sequence_seen(&self, prefix: &IpNet) -> Option<Sequence> {
        self.table
            .get(prefix)?
            .received()
            .map(|p| p.attrs.sequence())
            .reduce(|a, b| if b.is_newer_than(a) { b } else { a })
    }

    /// Number of prefixes with at least one path or record.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// Heap use of the table and the interned attributes.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport {
            prefixes: self.table.len(),
            attribute_sets: self.interner.len(),
            table_bytes: self.table.heap_bytes(),
            attribute_bytes: self.interner.heap_bytes(),
        }
    }
}

/// The mobility rule for a VM arriving here, over `(ours, sequence)` of
/// every path known for its prefix: the highest other sequence plus one
/// (serial arithmetic, RFC 1982), but never below our own path's (a
/// restart is not a move); 0 when nobody has it.
pub fn next_sequence(claims: impl IntoIterator<Item = (bool, Sequence)>) -> Sequence {
    let later = |a: Sequence, b: Sequence| if b.is_newer_than(a) { b } else { a };
    let (mut others, mut own) = (None, None);
    for (ours, seq) in claims {
        let slot = if ours { &mut own } else { &mut others };
        *slot = Some(slot.map_or(seq, |s| later(s, seq)));
    }
    match (others, own) {
        (None, own) => own.unwrap_or(Sequence::ZERO),
        (Some(other), None) => other.next(),
        (Some(other), Some(own)) => later(other.next(), own),
    }
}
