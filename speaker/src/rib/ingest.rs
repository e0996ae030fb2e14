//! A peer's UPDATE into the RIB: the RFC 7606 verdict, import policy,
//! max-prefix, then one decision per prefix.
//!
//! ```text
//!  DecodedUpdate --Received::from_update--> reset? --> SessionAction::Reset
//!      | AFI/SAFI disable: flush the family, ignore it from now on
//!      | withdrawals (incl. treat-as-withdraw)      --> set_path(None)
//!      | per attribute group: check_path, LOCAL_PREF, intern
//!      |   per prefix: check_prefix, max-prefix     --> set_path(Some)
//!      v End-of-RIB: sweep the family's stale paths
//! ```

use ipnet::IpNet;

use proto::bgp::DecodedUpdate;
use tracing::{debug, warn};

use super::attrs::{Received, family_of};
use super::{Clones, Rib, RibError, SessionAction, SourceId, UpdateOutcome, family_index};
use crate::policy::{ImportContext, PrefixLimit, Reject, check_path};

impl Rib {
    /// Applies an UPDATE from a peer: RFC 7606 verdict, import policy,
    /// max-prefix, then the decision for each prefix. An End-of-RIB sweeps
    /// the peer's stale paths of that family (graceful restart).
    pub fn apply_update(
        &mut self,
        id: SourceId,
        decoded: &DecodedUpdate,
    ) -> Result<UpdateOutcome, RibError> {
        let src = self
            .sources
            .get(usize::from(id.0))
            .filter(|_| id != SourceId::LOCAL)
            .ok_or(RibError::UnknownPeer(id))?;
        let peer = src.peer.clone().ok_or(RibError::UnknownPeer(id))?;
        let session = src.session.as_ref().ok_or(RibError::NoSession(id))?;
        let (local_v4, local_v6) = (session.local_v4, session.local_v6);
        let mut outcome = UpdateOutcome::default();
        let received = match Received::from_update(decoded, session.context.four_octet_as) {
            Ok(r) => r,
            Err(n) => {
                warn!(peer = %peer.address, error = ?n.error, "UPDATE calls for a session reset (RFC 7606)");
                outcome.session = Some(SessionAction::Reset(n));
                return Ok(outcome);
            }
        };
        // Each malformed attribute is logged once, by the session's owner
        // (`instance.rs`), which knows the neighbour it came from.
        outcome.treat_as_withdraw = received.treat_as_withdraw;
        for (family, notification) in &received.disabled {
            if let Some(s) = self.sources.get_mut(usize::from(id.0))
                && !s.disabled.contains(family)
            {
                s.disabled.push(*family);
            }
            let fam = *family;
            self.remove_where(|prefix, p| {
                !p.is_out() && p.source == id && family_of(prefix) == fam
            });
            outcome.session = Some(SessionAction::DisableFamily {
                family: *family,
                notification: notification.clone(),
            });
        }
        let disabled = self
            .sources
            .get(usize::from(id.0))
            .map(|s| s.disabled.clone())
            .unwrap_or_default();
        let allowed = |n: &IpNet| !disabled.contains(&family_of(n));

        for n in received.withdrawn.iter().filter(|n| allowed(&n.prefix)) {
            if self.set_path(n.prefix, id, n.path_id.unwrap_or(0), None) {
                outcome.withdrawn += 1;
            }
        }

        let external = peer.asn != self.config.local_asn;
        let cx = ImportContext {
            local_asn: self.config.local_asn,
            router_id: self.config.router_id,
            peer_asn: peer.asn,
            external,
            local_v4,
            local_v6,
        };
        let policy = peer.policy.import_policy(external);
        'groups: for group in received.announced {
            let verdict = match policy {
                None => Err(Reject::NoPolicy),
                Some(p) => check_path(&group.attrs, &cx).map(|()| p),
            };
            let policy = match verdict {
                Ok(p) => p,
                Err(reject) => {
                    if let Reject::NextHop(_) = reject {
                        // RFC 4271 section 6.3: logged, the routes ignored.
                        warn!(peer = %peer.address, %reject, routes = group.nlri.len(), "rejected");
                    } else {
                        debug!(peer = %peer.address, %reject, routes = group.nlri.len(), "rejected");
                    }
                    for n in group.nlri.iter().filter(|n| allowed(&n.prefix)) {
                        outcome.rejected += 1;
                        self.set_path(n.prefix, id, n.path_id.unwrap_or(0), None);
                    }
                    continue;
                }
            };
            let mut attrs = group.attrs;
            if external {
                // RFC 7606 section 7.5; the codec drops it too.
                attrs.local_pref = None;
            }
            policy.apply(&mut attrs);
            let shared = self.interner.intern(attrs);
            let mut clones = Clones::new(&shared, 2 * group.nlri.len());
            for n in group.nlri.iter().filter(|n| allowed(&n.prefix)) {
                let path_id = n.path_id.unwrap_or(0);
                if let Err(reject) = policy.check_prefix(&n.prefix) {
                    debug!(peer = %peer.address, prefix = %n.prefix, %reject, "rejected");
                    outcome.rejected += 1;
                    self.set_path(n.prefix, id, path_id, None);
                    continue;
                }
                if let Some(limit) = &peer.policy.max_prefix {
                    let is_new = self
                        .table
                        .get(&n.prefix)
                        .is_none_or(|p| p.find(id, path_id).is_none());
                    let family = family_of(&n.prefix);
                    let fam = family_index(&n.prefix);
                    if is_new
                        && let Some(src) = self.sources.get_mut(usize::from(id.0))
                        && let (Some(count), Some(warned)) =
                            (src.counts.get(fam), src.warned.get_mut(fam))
                    {
                        match limit.check(family, count.saturating_add(1), warned) {
                            PrefixLimit::Within => {}
                            PrefixLimit::Warn { count, limit } => {
                                warn!(peer = %peer.address, %family, count, limit, "prefix count reached the warning threshold");
                            }
                            PrefixLimit::Exceeded(teardown) => {
                                warn!(peer = %peer.address, %family, limit = limit.limit, "maximum prefixes exceeded: closing the session");
                                outcome.session = Some(SessionAction::MaxPrefix(teardown));
                                break 'groups;
                            }
                        }
                    }
                }
                self.set_path(n.prefix, id, path_id, Some(&mut clones));
                outcome.accepted += 1;
            }
        }

        if let Some(family) = received.end_of_rib {
            outcome.end_of_rib = Some(family);
            outcome.swept = self.sweep_stale(id, Some(family));
        }
        Ok(outcome)
    }
}
