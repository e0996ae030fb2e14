//! Adj-RIB-Out and UPDATE packing.
//!
//! ```text
//!  prefixes that changed (RouteChange batch, or the whole Loc-RIB at session up)
//!     | best path -> ExportPolicy::allows -> attrs::export -> intern  (memoized per
//!     v                                                              attribute set)
//!  desired Arc<PathAttrs> or none  vs  the peer's Adj-RIB-Out record
//!     | equal: nothing to send          differ: record it, queue it
//!     v
//!  groups by (attribute set, family) + withdrawals per family
//!     | packed up to Context::max_len(): IPv4 in the NLRI field (or MP_REACH
//!     v with an IPv6 next hop, RFC 8950), IPv6 in MP_REACH_NLRI placed first
//!  Vec<Update>
//! ```
//!
//! Withdrawals go first, in their own UPDATEs (IPv4 in the withdrawn field,
//! IPv6 in MP_UNREACH_NLRI), so a receiver never holds a route longer than
//! it must. MP attributes always carry the Extended Length flag, so their
//! header size does not change while NLRI are added.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::IpNet;
use proto::bgp::attribute::flags;
use proto::bgp::{
    Afi, AfiSafi, AttributeValue, Context, MpNextHop, MpReach, MpUnreach, Nlri, PathAttribute,
    Update,
};
use tracing::error;

use super::attrs::{self, ExportContext, NextHop, PathAttrs, family_of};
use super::table::Path;
use super::{Best, Rib, RibError, RouteChange, SourceId, SourceKind};
use crate::policy::ExportCheck;

/// An established session, as export needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The peer's BGP identifier from its OPEN.
    pub router_id: Ipv4Addr,
    /// What OPEN negotiated.
    pub context: Context,
    /// Families both sides enabled.
    pub families: Vec<AfiSafi>,
    /// Our addresses on the session, for next-hop-self.
    pub local_v4: Option<Ipv4Addr>,
    pub local_v6: Option<Ipv6Addr>,
    pub local_link_local: Option<Ipv6Addr>,
}

impl SessionInfo {
    /// A session for IPv4 and IPv6 unicast with no local addresses yet.
    pub fn new(router_id: Ipv4Addr, context: Context) -> Self {
        Self {
            router_id,
            context,
            families: vec![AfiSafi::IPV4_UNICAST, AfiSafi::IPV6_UNICAST],
            local_v4: None,
            local_v6: None,
            local_link_local: None,
        }
    }

    /// Our next hop for routes of `family`; `Local` when we have none the
    /// session can carry.
    fn self_next_hop(&self, family: AfiSafi) -> NextHop {
        let v6 = self.local_v6.map(|global| NextHop::V6 {
            global,
            link_local: self.local_link_local,
        });
        if family == AfiSafi::IPV4_UNICAST {
            match (self.local_v4, v6) {
                (Some(a), _) => NextHop::V4(a),
                (None, Some(nh)) if self.context.extended_next_hop(family, Afi::Ipv6) => nh,
                _ => NextHop::Local,
            }
        } else {
            match (v6, self.local_v4) {
                (Some(nh), _) => nh,
                (None, Some(a)) => NextHop::V6 {
                    global: a.to_ipv6_mapped(),
                    link_local: None,
                },
                _ => NextHop::Local,
            }
        }
    }

    /// How routes of `family` with `next_hop` go on the wire, if they can.
    fn carriage(&self, family: AfiSafi, next_hop: &NextHop) -> Option<Carriage> {
        match (family.afi, next_hop) {
            (_, NextHop::Local) => None,
            (Afi::Ipv4, NextHop::V4(_)) => Some(Carriage::Classic),
            (Afi::Ipv4, NextHop::V6 { .. })
                if self.context.extended_next_hop(family, Afi::Ipv6) =>
            {
                Some(Carriage::Mp)
            }
            (Afi::Ipv6, NextHop::V6 { .. }) => Some(Carriage::Mp),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Carriage {
    /// NEXT_HOP attribute and the NLRI field.
    Classic,
    /// MP_REACH_NLRI.
    Mp,
}

/// Routes with one outgoing attribute set.
struct Group {
    attrs: Arc<PathAttrs>,
    family: AfiSafi,
    nlri: Vec<Nlri>,
}

/// The path attributes on the wire for `attrs`, without NEXT_HOP and MP_*,
/// in type-code order; AS4_PATH and AS4_AGGREGATOR for a 2-octet session
/// (RFC 6793 section 4.2.2).
fn wire_attributes(a: &PathAttrs, ctx: &Context) -> Vec<PathAttribute> {
    use AttributeValue as V;
    let mut v = vec![
        PathAttribute::new(V::Origin(a.origin)),
        PathAttribute::new(V::AsPath(a.as_path.clone())),
    ];
    let mut push = |value| v.push(PathAttribute::new(value));
    if let Some(m) = a.med {
        push(V::MultiExitDisc(m));
    }
    if let Some(lp) = a.local_pref {
        push(V::LocalPref(lp));
    }
    if a.atomic_aggregate {
        push(V::AtomicAggregate);
    }
    if let Some(g) = a.aggregator {
        push(V::Aggregator(g));
        if !ctx.four_octet_as && g.asn > u32::from(u16::MAX) {
            push(V::As4Aggregator(g));
        }
    }
    if !a.communities.is_empty() {
        push(V::Communities(a.communities.to_vec()));
    }
    if let Some(o) = a.originator_id {
        push(V::OriginatorId(o));
    }
    if !a.cluster_list.is_empty() {
        push(V::ClusterList(a.cluster_list.to_vec()));
    }
    if !a.extended_communities.is_empty() {
        push(V::ExtendedCommunities(a.extended_communities.to_vec()));
    }
    if !ctx.four_octet_as && a.as_path.needs_four_octets() {
        push(V::As4Path(a.as_path.clone()));
    }
    if !a.large_communities.is_empty() {
        push(V::LargeCommunities(a.large_communities.to_vec()));
    }
    for u in a.unknown.iter() {
        v.push(PathAttribute {
            flags: u.flags,
            value: V::Raw {
                type_code: u.type_code,
                value: u.value.to_vec(),
            },
        });
    }
    v.sort_by_key(PathAttribute::type_code);
    v
}

fn mp_attribute(value: AttributeValue) -> PathAttribute {
    PathAttribute {
        flags: flags::OPTIONAL | flags::EXTENDED_LENGTH,
        value,
    }
}

fn mp_next_hop(nh: &NextHop) -> MpNextHop {
    match *nh {
        NextHop::V6 { global, link_local } => MpNextHop::Ipv6 { global, link_local },
        NextHop::V4(a) => MpNextHop::Ipv4(a),
        NextHop::Local => MpNextHop::Ipv4(Ipv4Addr::UNSPECIFIED),
    }
}

/// An UPDATE announcing no NLRI yet with `attrs` for `family`.
fn template(attrs: &PathAttrs, family: AfiSafi, carriage: Carriage, ctx: &Context) -> Update {
    let mut attributes = wire_attributes(attrs, ctx);
    match (carriage, attrs.next_hop) {
        (Carriage::Classic, NextHop::V4(a)) => {
            let at = attributes
                .iter()
                .position(|p| p.type_code() > 3)
                .unwrap_or(attributes.len());
            attributes.insert(at, PathAttribute::new(AttributeValue::NextHop(a)));
        }
        _ => attributes.insert(
            0,
            mp_attribute(AttributeValue::MpReach(MpReach {
                family,
                next_hop: mp_next_hop(&attrs.next_hop),
                nlri: Vec::new(),
            })),
        ),
    }
    Update {
        attributes,
        ..Update::default()
    }
}

fn push_nlri(update: &mut Update, n: Nlri) {
    if update.attributes.is_empty() {
        update.withdrawn.push(n);
        return;
    }
    match update.attributes.first_mut().map(|a| &mut a.value) {
        Some(AttributeValue::MpReach(m)) => m.nlri.push(n),
        Some(AttributeValue::MpUnreach(m)) => m.withdrawn.push(n),
        _ => update.nlri.push(n),
    }
}

fn nlri_count(update: &Update) -> usize {
    match update.attributes.first().map(|a| &a.value) {
        Some(AttributeValue::MpReach(m)) => m.nlri.len(),
        Some(AttributeValue::MpUnreach(m)) => m.withdrawn.len(),
        _ => update.nlri.len() + update.withdrawn.len(),
    }
}

/// Fills copies of `template` with `nlri`, each as full as `ctx` allows.
fn fill(template: &Update, family: AfiSafi, nlri: Vec<Nlri>, ctx: &Context, out: &mut Vec<Update>) {
    let max = usize::from(ctx.max_len());
    let base = template.buffer_len(ctx);
    let add_path = ctx.add_path_tx(family);
    let mut current = template.clone();
    let mut size = base;
    for n in nlri {
        let len = n.encoded_len(add_path);
        if size + len > max && nlri_count(&current) > 0 {
            out.push(std::mem::replace(&mut current, template.clone()));
            size = base;
        }
        push_nlri(&mut current, n);
        size += len;
    }
    if nlri_count(&current) > 0 {
        out.push(current);
    }
}

/// Packs withdrawals and announcement groups into UPDATEs for `ctx`.
fn pack(
    withdraw_v4: Vec<Nlri>,
    withdraw_v6: Vec<Nlri>,
    groups: Vec<Group>,
    session: &SessionInfo,
    out: &mut Vec<Update>,
) {
    let ctx = &session.context;
    fill(
        &Update::default(),
        AfiSafi::IPV4_UNICAST,
        withdraw_v4,
        ctx,
        out,
    );
    let unreach = Update {
        attributes: vec![mp_attribute(AttributeValue::MpUnreach(MpUnreach {
            family: AfiSafi::IPV6_UNICAST,
            withdrawn: Vec::new(),
        }))],
        ..Update::default()
    };
    fill(&unreach, AfiSafi::IPV6_UNICAST, withdraw_v6, ctx, out);
    for g in groups {
        if let Some(carriage) = session.carriage(g.family, &g.attrs.next_hop) {
            let t = template(&g.attrs, g.family, carriage, ctx);
            fill(&t, g.family, g.nlri, ctx, out);
        }
    }
}

/// Whether one more NLRI of the longest kind fits beside these attributes.
fn fits(attrs: &PathAttrs, family: AfiSafi, carriage: Carriage, ctx: &Context) -> bool {
    let longest = 4 + 1 + if family.afi == Afi::Ipv6 { 16 } else { 4 };
    template(attrs, family, carriage, ctx).buffer_len(ctx) + longest <= usize::from(ctx.max_len())
}

/// Export results per (attribute set, source, IPv6?); the value keeps the
/// source set alive so its address cannot be reused within a batch.
type MemoKey = (usize, SourceId, bool);
type Memo = HashMap<MemoKey, (Arc<PathAttrs>, Option<Arc<PathAttrs>>)>;

impl Rib {
    /// A session came up: records it and returns the initial table dump
    /// followed by End-of-RIB for each of its families (RFC 4724).
    pub fn session_up(
        &mut self,
        id: SourceId,
        session: SessionInfo,
    ) -> Result<Vec<Update>, RibError> {
        let src = self
            .sources
            .get_mut(usize::from(id.0))
            .filter(|s| s.peer.is_some())
            .ok_or(RibError::UnknownPeer(id))?;
        let families = session.families.clone();
        let id_changed = src.router_id != session.router_id;
        src.router_id = session.router_id;
        src.session = Some(session);
        src.synced = false;
        src.disabled.clear();
        // A new session starts from nothing: forget what the last one was sent.
        self.table.for_each_mut(|_, mut slot| {
            slot.take_where(|p| p.is_out() && p.source == id);
        });
        if id_changed {
            self.rerun(id);
        }
        let mut prefixes = self.table.prefixes_where(|p| p.best().is_some());
        prefixes.sort_unstable();
        let mut updates = self.export_prefixes(id, prefixes);
        if !self.eor_held {
            updates.extend(families.into_iter().map(Update::end_of_rib));
        }
        Ok(updates)
    }

    /// Holds End-of-RIB back from sessions that come up from now on, until
    /// [`Rib::release_end_of_rib`]: a restarting speaker (RFC 4724 section
    /// 4.1) sends it only once its own routes are in the table, or its
    /// peers would sweep the stale copies of routes it is about to
    /// re-advertise.
    pub fn hold_end_of_rib(&mut self) {
        self.eor_held = true;
    }

    /// Sends the End-of-RIB markers held back: one per family of every
    /// session that is up.
    pub fn release_end_of_rib(&mut self) -> Vec<(SourceId, Vec<Update>)> {
        if !std::mem::replace(&mut self.eor_held, false) {
            return Vec::new();
        }
        self.sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let session = s.session.as_ref()?;
                let id = SourceId(u16::try_from(i).ok()?);
                Some((
                    id,
                    session
                        .families
                        .iter()
                        .copied()
                        .map(Update::end_of_rib)
                        .collect(),
                ))
            })
            .collect()
    }

    /// Reruns the decision wherever `id` has a path (its identifier changed).
    fn rerun(&mut self, id: SourceId) {
        let prefixes = self
            .table
            .prefixes_where(|p| p.received().any(|x| x.source == id));
        for prefix in prefixes {
            let Self {
                config,
                table,
                sources,
                changes,
                events,
                ..
            } = self;
            if let Some(paths) = table.get_mut(&prefix) {
                let old = paths.best().map(Best::of);
                let new = super::decide(paths, sources, config);
                super::note(
                    prefix,
                    paths,
                    old,
                    new,
                    false,
                    sources,
                    config,
                    (changes, events),
                );
            }
        }
    }

    /// The UPDATEs that bring one peer in line with a batch of changes
    /// (from [`Rib::take_changes`]); nothing for a peer without a session.
    pub fn export(&mut self, id: SourceId, changes: &[RouteChange]) -> Vec<Update> {
        self.export_prefixes(id, changes.iter().map(|c| c.prefix))
    }

    /// [`Rib::export`] for every established peer.
    ///
    /// A change that the peer could be sent at neither end (no export
    /// policy, its own route, a kind of route the policy does not export)
    /// is skipped without a table lookup: the previous `export_all` left
    /// the peer's Adj-RIB-Out in line with `old`, so there is nothing to
    /// withdraw. A peer whose session came up since then sees every change,
    /// as its table dump may hold a path no `old` accounts for.
    pub fn export_all(&mut self, changes: &[RouteChange]) -> Vec<(SourceId, Vec<Update>)> {
        let local_asn = self.config.local_asn;
        let mut out = Vec::new();
        for i in 0..self.sources.len() {
            let Ok(id) = u16::try_from(i).map(SourceId) else {
                break;
            };
            let Some(src) = self.sources.get_mut(i).filter(|s| s.session.is_some()) else {
                continue;
            };
            let synced = std::mem::replace(&mut src.synced, true);
            let ex = Exportable::of(src.peer.as_deref(), local_asn);
            let updates = if synced {
                let may = |b: &Option<Best>| ex.may(id, b.as_ref());
                let prefixes = changes
                    .iter()
                    .filter(|c| may(&c.old) || may(&c.new))
                    .map(|c| c.prefix);
                self.export_prefixes(id, prefixes)
            } else {
                self.export(id, changes)
            };
            if !updates.is_empty() {
                out.push((id, updates));
            }
        }
        out
    }

    /// The peer asked for a route refresh (RFC 2918): everything in its
    /// Adj-RIB-Out again, for one family or all. Enhanced route refresh
    /// wraps this in BoRR/EoRR (RFC 7313), which the session sends.
    pub fn resend(&mut self, id: SourceId, family: Option<AfiSafi>) -> Vec<Update> {
        let Some(session) = self
            .sources
            .get(usize::from(id.0))
            .and_then(|s| s.session.clone())
        else {
            return Vec::new();
        };
        let mut records: Vec<(IpNet, Arc<PathAttrs>)> = self
            .advertised_to(id)
            .filter(|(n, _)| family.is_none_or(|f| f == family_of(n)))
            .map(|(n, a)| (n, Arc::clone(a)))
            .collect();
        records.sort_unstable_by_key(|r| r.0);
        let mut groups = Grouper::default();
        for (prefix, attrs) in records {
            groups.add(attrs, prefix);
        }
        let mut out = Vec::new();
        pack(Vec::new(), Vec::new(), groups.groups, &session, &mut out);
        out
    }

    /// Diffs the desired export of `prefixes` against the Adj-RIB-Out,
    /// records what will be sent, and packs it.
    fn export_prefixes(
        &mut self,
        id: SourceId,
        prefixes: impl IntoIterator<Item = IpNet>,
    ) -> Vec<Update> {
        let Some((peer, session)) = self
            .sources
            .get(usize::from(id.0))
            .and_then(|s| Some((s.peer.clone()?, s.session.clone()?)))
        else {
            return Vec::new();
        };
        let mut memo = Memo::new();
        let (mut withdraw_v4, mut withdraw_v6) = (Vec::new(), Vec::new());
        let mut groups = Grouper::default();
        for prefix in prefixes {
            let Some(paths) = self.table.get(&prefix) else {
                continue;
            };
            let current = paths.out(id).map(|p| Arc::clone(&p.attrs));
            let desired = paths
                .best()
                .map(Best::of)
                .and_then(|b| self.exported(&prefix, &b, id, &peer, &session, &mut memo));
            let same = match (&current, &desired) {
                (Some(c), Some(d)) => Arc::ptr_eq(c, d),
                (None, None) => true,
                _ => false,
            };
            if same {
                continue;
            }
            let clock = self.clock;
            let Some(mut entry) = self.table.occupied(&prefix) else {
                continue;
            };
            match desired {
                Some(d) => {
                    entry.upsert(Path::out(id, Arc::clone(&d)), clock);
                    groups.add(d, prefix);
                }
                None => {
                    entry.take_where(|p| p.is_out() && p.source == id);
                    self.table.remove_if_empty(&prefix);
                    match prefix {
                        IpNet::V4(_) => withdraw_v4.push(Nlri::new(prefix)),
                        IpNet::V6(_) => withdraw_v6.push(Nlri::new(prefix)),
                    }
                }
            }
        }
        let mut out = Vec::new();
        pack(withdraw_v4, withdraw_v6, groups.groups, &session, &mut out);
        out
    }

    /// What peer `id` should have for `prefix` given its best path, if
    /// anything: export policy, then the transformation, interned.
    fn exported(
        &mut self,
        prefix: &IpNet,
        best: &Best,
        id: SourceId,
        peer: &super::PeerConfig,
        session: &SessionInfo,
        memo: &mut Memo,
    ) -> Option<Arc<PathAttrs>> {
        let family = family_of(prefix);
        if !session.families.contains(&family) {
            return None;
        }
        let local_asn = self.config.local_asn;
        let target_external = peer.asn != local_asn;
        let policy = peer.policy.export_policy(target_external)?;
        let src = self.sources.get(usize::from(best.source.0))?;
        let kind = src.kind(local_asn);
        let check = ExportCheck {
            target: id,
            target_external,
            target_rr_client: peer.policy.rr_client,
            route_source: best.source,
            route_kind: kind,
            route_from_rr_client: src.peer.as_ref().is_some_and(|p| p.policy.rr_client),
        };
        if !policy.allows(prefix, &best.attrs, &check) {
            return None;
        }
        let key = (
            Arc::as_ptr(&best.attrs) as usize,
            best.source,
            family.afi == Afi::Ipv6,
        );
        if let Some((_, done)) = memo.get(&key) {
            return done.clone();
        }
        let reflect_from =
            (kind == SourceKind::Internal && !target_external).then_some(src.router_id);
        let cx = ExportContext {
            local_asn,
            router_id: self.config.router_id,
            external: target_external,
            source: kind,
            reflect_from,
            self_next_hop: session.self_next_hop(family),
            policy,
        };
        let mut attrs = attrs::export(&best.attrs, &cx);
        if let (Afi::Ipv6, NextHop::V4(a)) = (family.afi, attrs.next_hop) {
            attrs.next_hop = NextHop::V6 {
                global: a.to_ipv6_mapped(),
                link_local: None,
            };
        }
        let result = match session.carriage(family, &attrs.next_hop) {
            Some(c) if fits(&attrs, family, c, &session.context) => {
                Some(self.interner.intern(attrs))
            }
            Some(_) => {
                error!(peer = %peer.address, %prefix, "attributes too long for one UPDATE: not exported");
                None
            }
            None => None,
        };
        memo.insert(key, (Arc::clone(&best.attrs), result.clone()));
        result
    }
}

/// What a peer's export policy can let through at all, for the pre-filter
/// of [`Rib::export_all`]; [`crate::policy::ExportPolicy::allows`] decides.
#[derive(Debug, Clone, Copy)]
struct Exportable {
    local: bool,
    learned: bool,
}

impl Exportable {
    fn of(peer: Option<&super::PeerConfig>, local_asn: u32) -> Self {
        let policy = peer.and_then(|p| p.policy.export_policy(p.asn != local_asn));
        Self {
            local: policy.is_some_and(|p| p.local),
            learned: policy.is_some_and(|p| p.learned),
        }
    }

    /// Whether `best` might be sent to `target` (never its own route).
    fn may(self, target: SourceId, best: Option<&Best>) -> bool {
        best.is_some_and(|b| {
            b.source != target
                && if b.source == SourceId::LOCAL {
                    self.local
                } else {
                    self.learned
                }
        })
    }
}

/// Groups announcements by (attribute set, family), in first-seen order.
#[derive(Default)]
struct Grouper {
    index: HashMap<(usize, AfiSafi), usize>,
    groups: Vec<Group>,
}

impl Grouper {
    fn add(&mut self, attrs: Arc<PathAttrs>, prefix: IpNet) {
        let family = family_of(&prefix);
        let key = (Arc::as_ptr(&attrs) as usize, family);
        let i = *self.index.entry(key).or_insert_with(|| {
            self.groups.push(Group {
                attrs,
                family,
                nlri: Vec::new(),
            });
            self.groups.len() - 1
        });
        if let Some(g) = self.groups.get_mut(i) {
            g.nlri.push(Nlri::new(prefix));
        }
    }
}
