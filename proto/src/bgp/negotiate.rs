//! What two OPENs agree on: the [`Context`] the codec runs with, and the
//! RFC 5492 check for capabilities the local speaker cannot do without.

use super::capability::{AddPathMode, Capability, code};
use super::context::Context;
use super::error::DecodeError;
use super::header::{MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN};
use super::iana::{Afi, AfiSafi};
use super::open::Open;

impl Context {
    /// The session parameters from the OPEN we sent (`local`) and the one
    /// we received (`remote`); `external` is whether the peer is in
    /// another AS.
    ///
    /// - 4-octet AS iff both advertise it (RFC 6793 section 3).
    /// - ADD-PATH receive for a family iff we offered Receive or Both and
    ///   the peer Send or Both; send the other way round (RFC 7911
    ///   section 5). If a family is listed more than once, the last wins.
    /// - Extended next hop: the (family, next-hop AFI) pairs both list
    ///   (RFC 8950 section 3), in our order.
    /// - Extended messages iff both advertise it (RFC 8654 section 3).
    pub fn negotiate(local: &Open, remote: &Open, external: bool) -> Context {
        let both = |code| local.has_capability(code) && remote.has_capability(code);
        let local_paths = add_path_modes(local);
        let remote_paths = add_path_modes(remote);
        let remote_mode = |family: AfiSafi| {
            remote_paths
                .iter()
                .find(|(f, _)| *f == family)
                .map(|(_, mode)| *mode)
        };
        let add_path_rx = local_paths
            .iter()
            .filter(|(f, mode)| mode.receives() && remote_mode(*f).is_some_and(AddPathMode::sends))
            .map(|(f, _)| *f)
            .collect();
        let add_path_tx = local_paths
            .iter()
            .filter(|(f, mode)| mode.sends() && remote_mode(*f).is_some_and(AddPathMode::receives))
            .map(|(f, _)| *f)
            .collect();
        let remote_next_hops = extended_next_hops(remote);
        let extended_next_hop = extended_next_hops(local)
            .into_iter()
            .filter(|pair| remote_next_hops.contains(pair))
            .collect();
        let extended_message = both(code::EXTENDED_MESSAGE);
        Context {
            four_octet_as: both(code::FOUR_OCTET_AS),
            add_path_rx,
            add_path_tx,
            extended_next_hop,
            max_message_len: if extended_message {
                MAX_EXTENDED_MESSAGE_LEN
            } else {
                MAX_MESSAGE_LEN
            },
            external,
        }
    }
}

impl Open {
    /// RFC 5492 section 5: `Err(UnsupportedCapability)` naming the first
    /// of `required` that this OPEN lacks. A multiprotocol capability must
    /// name the same family; any other capability is matched by its code.
    pub fn require_capabilities(&self, required: &[Capability]) -> Result<(), DecodeError> {
        let missing = required.iter().find(|want| {
            !self.capabilities().any(|have| match (want, have) {
                (Capability::MultiProtocol(a), Capability::MultiProtocol(b)) => a == b,
                _ => want.code() == have.code(),
            })
        });
        let Some(missing) = missing else {
            return Ok(());
        };
        let mut capability = Vec::with_capacity(missing.buffer_len());
        // A capability too long to encode is still reported, without data.
        let _ = missing.emit(&mut capability);
        Err(DecodeError::UnsupportedCapability {
            code: missing.code(),
            capability,
        })
    }
}

/// ADD-PATH modes by family, in first-seen order, the last mention winning.
fn add_path_modes(open: &Open) -> Vec<(AfiSafi, AddPathMode)> {
    let mut modes: Vec<(AfiSafi, AddPathMode)> = Vec::new();
    for cap in open.capabilities() {
        let Capability::AddPath(tuples) = cap else {
            continue;
        };
        for &(family, mode) in tuples {
            match modes.iter_mut().find(|(f, _)| *f == family) {
                Some(entry) => entry.1 = mode,
                None => modes.push((family, mode)),
            }
        }
    }
    modes
}

/// Distinct extended next hop pairs, in order.
fn extended_next_hops(open: &Open) -> Vec<(AfiSafi, Afi)> {
    let mut pairs = Vec::new();
    for cap in open.capabilities() {
        if let Capability::ExtendedNextHop(triples) = cap {
            for pair in triples {
                if !pairs.contains(pair) {
                    pairs.push(*pair);
                }
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use std::time::Duration;

    use super::*;
    use crate::bgp::open::HoldTime;

    const V4: AfiSafi = AfiSafi::IPV4_UNICAST;
    const V6: AfiSafi = AfiSafi::IPV6_UNICAST;

    fn open(caps: Vec<Capability>) -> Open {
        Open::new(65001, HoldTime::DEFAULT, Ipv4Addr::new(10, 0, 0, 1), caps)
    }

    #[test]
    fn rfc4271_negotiated_hold_time_is_the_minimum_and_keepalive_a_third() {
        let h = |s| HoldTime::new(s).unwrap();
        assert_eq!(HoldTime::negotiate(h(90), h(3)), h(3));
        assert_eq!(HoldTime::negotiate(h(0), h(180)), HoldTime::DISABLED);
        assert_eq!(h(3).keepalive_interval(), Some(Duration::from_secs(1)));
        assert_eq!(h(90).keepalive_interval(), Some(Duration::from_secs(30)));
        assert_eq!(h(4).keepalive_interval(), Some(Duration::from_secs(1)));
        assert_eq!(h(0).keepalive_interval(), None);
        assert_eq!(h(0).duration(), None);
        assert_eq!(h(9).duration(), Some(Duration::from_secs(9)));
    }

    #[test]
    fn rfc6793_four_octet_as_only_if_both_advertise_it() {
        let with = open(vec![Capability::FourOctetAs(65001)]);
        let without = open(vec![Capability::RouteRefresh]);
        assert!(Context::negotiate(&with, &with, true).four_octet_as);
        assert!(!Context::negotiate(&with, &without, true).four_octet_as);
        assert!(!Context::negotiate(&without, &with, true).four_octet_as);
    }

    #[test]
    fn rfc7911_add_path_directions_per_family() {
        use AddPathMode::*;
        let local = open(vec![Capability::AddPath(vec![
            (V4, Both),
            (V6, Receive),
            (AfiSafi::new(1u16, 2u8), Send),
        ])]);
        let remote = open(vec![
            Capability::AddPath(vec![(V4, Receive), (V6, Send)]),
            // A later mention of a family replaces the earlier one.
            Capability::AddPath(vec![(AfiSafi::new(1u16, 2u8), Send)]),
        ]);
        let ctx = Context::negotiate(&local, &remote, true);
        // We receive paths where we can receive and the peer can send.
        assert_eq!(ctx.add_path_rx, [V6]);
        // We send paths where we can send and the peer can receive.
        assert_eq!(ctx.add_path_tx, [V4]);
        assert!(ctx.add_path_rx(V6) && !ctx.add_path_rx(V4));

        let ctx = Context::negotiate(&remote, &local, true);
        assert_eq!(ctx.add_path_rx, [V4]);
        assert_eq!(ctx.add_path_tx, [V6]);

        let none = open(vec![]);
        let ctx = Context::negotiate(&local, &none, true);
        assert!(ctx.add_path_rx.is_empty() && ctx.add_path_tx.is_empty());
    }

    #[test]
    fn rfc7911_an_ignored_add_path_capability_negotiates_nothing() {
        let local = open(vec![Capability::AddPath(vec![(V4, AddPathMode::Both)])]);
        let remote = open(vec![Capability::Unknown {
            code: 69,
            value: vec![0, 1, 1, 7],
        }]);
        let ctx = Context::negotiate(&local, &remote, true);
        assert!(ctx.add_path_rx.is_empty() && ctx.add_path_tx.is_empty());
    }

    #[test]
    fn rfc8950_extended_next_hop_pairs_advertised_by_both() {
        let vpn = AfiSafi::new(1u16, 128u8);
        let local = open(vec![Capability::ExtendedNextHop(vec![
            (V4, Afi::Ipv6),
            (vpn, Afi::Ipv6),
        ])]);
        let remote = open(vec![
            Capability::ExtendedNextHop(vec![(vpn, Afi::Ipv4)]),
            Capability::ExtendedNextHop(vec![(V4, Afi::Ipv6)]),
        ]);
        let ctx = Context::negotiate(&local, &remote, false);
        assert_eq!(ctx.extended_next_hop, [(V4, Afi::Ipv6)]);
        assert!(ctx.extended_next_hop(V4, Afi::Ipv6));
        assert!(!ctx.external);
        assert!(
            Context::negotiate(&local, &open(vec![]), true)
                .extended_next_hop
                .is_empty()
        );
    }

    #[test]
    fn rfc8654_extended_messages_only_if_both_advertise_it() {
        let with = open(vec![Capability::ExtendedMessage]);
        let without = open(vec![]);
        assert_eq!(Context::negotiate(&with, &with, true).max_len(), 65535);
        assert_eq!(Context::negotiate(&with, &without, true).max_len(), 4096);
        assert_eq!(Context::negotiate(&without, &with, true).max_len(), 4096);
    }

    #[test]
    fn nothing_advertised_is_the_pre_open_context() {
        let bare = open(vec![]);
        assert_eq!(Context::negotiate(&bare, &bare, true), Context::default());
    }

    #[test]
    fn rfc5492_section5_a_missing_required_capability_is_reported_with_its_bytes() {
        let remote = open(vec![
            Capability::MultiProtocol(V4),
            Capability::FourOctetAs(65002),
        ]);
        assert_eq!(
            remote.require_capabilities(&[
                Capability::MultiProtocol(V4),
                Capability::FourOctetAs(65001),
            ]),
            Ok(())
        );
        let err = remote
            .require_capabilities(&[
                Capability::FourOctetAs(65001),
                Capability::MultiProtocol(V6),
                Capability::ExtendedMessage,
            ])
            .unwrap_err();
        assert_eq!(
            err,
            DecodeError::UnsupportedCapability {
                code: 1,
                capability: vec![1, 4, 0, 2, 0, 1],
            }
        );
        let n = err.notification();
        assert_eq!(n.error.codes(), (2, 7));
        assert_eq!(n.data, [1, 4, 0, 2, 0, 1]);
    }
}
