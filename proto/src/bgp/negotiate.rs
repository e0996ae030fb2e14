//! What two OPENs agree on: the [`Context`] the codec runs with, and the
//! RFC 5492 check for capabilities the local speaker cannot do without.

use super::capability::{AddPathMode, Capability};
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
        let extended_message = both(super::capability::code::EXTENDED_MESSAGE);
        Context {
            four_octet_as: both(super::capability::code::FOUR_OCTET_AS),
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
