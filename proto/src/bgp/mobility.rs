//! The mobility extended community: where a host route lives now.
//!
//! hostroute carries a per-route mobility sequence number exactly as EVPN
//! carries MAC mobility (RFC 7432 section 7.7), so routers that do not know
//! hostroute pass it on untouched as a transitive extended community:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | Type=0x06     | Sub-Type=0x00 |Flags(1 octet)|  Reserved=0    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Sequence Number                         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The low-order flag bit marks a static (pinned) address, which never
//! moves. Sequence numbers are compared with RFC 1982 serial arithmetic, so
//! they wrap around after 2^32 moves instead of getting stuck.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::community::ExtendedCommunity;

/// Type octet of the community (EVPN, RFC 7153).
pub const TYPE: u8 = 0x06;
/// Sub-type octet of the community (MAC Mobility, RFC 7432 section 7.7).
pub const SUB_TYPE: u8 = 0x00;
/// Flag bit for a static (sticky) address.
pub const FLAG_STATIC: u8 = 0x01;

/// A mobility sequence number, compared with RFC 1982 serial arithmetic.
///
/// It deliberately has no `Ord`: serial order is not transitive across the
/// whole number space. Use [`Sequence::serial_cmp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Sequence(pub u32);

impl Sequence {
    pub const ZERO: Self = Self(0);

    /// The next sequence, wrapping at 2^32 (RFC 1982 section 3.1).
    pub const fn next(self) -> Self {
        Self(self.0.wrapping_add(1))
    }

    /// RFC 1982 section 3.2 comparison for SERIAL_BITS = 32. `None` when the
    /// two are exactly 2^31 apart, where the order is undefined.
    pub fn serial_cmp(self, other: Self) -> Option<Ordering> {
        let (a, b) = (self.0, other.0);
        if a == b {
            return Some(Ordering::Equal);
        }
        match a.wrapping_sub(b) {
            d if d == 1 << 31 => None,
            d if d < 1 << 31 => Some(Ordering::Greater),
            _ => Some(Ordering::Less),
        }
    }

    /// `self` is newer than `other` (serially greater).
    pub fn is_newer_than(self, other: Self) -> bool {
        self.serial_cmp(other) == Some(Ordering::Greater)
    }
}

impl std::fmt::Display for Sequence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The mobility extended community, typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Mobility {
    pub sequence: Sequence,
    /// A pinned address: it wins over any sequence and never moves.
    pub is_static: bool,
    /// Flag bits other than static, kept so a re-advertisement is unchanged.
    pub other_flags: u8,
}

impl Mobility {
    pub const fn new(sequence: u32, is_static: bool) -> Self {
        Self {
            sequence: Sequence(sequence),
            is_static,
            other_flags: 0,
        }
    }

    /// Reads the community if `ext` is one; the reserved octet is ignored.
    pub fn from_extended(ext: &ExtendedCommunity) -> Option<Self> {
        let [t, s, flags, _reserved, a, b, c, d] = ext.0;
        (t == TYPE && s == SUB_TYPE).then_some(Self {
            sequence: Sequence(u32::from_be_bytes([a, b, c, d])),
            is_static: flags & FLAG_STATIC != 0,
            other_flags: flags & !FLAG_STATIC,
        })
    }

    pub fn to_extended(self) -> ExtendedCommunity {
        let flags =
            (self.other_flags & !FLAG_STATIC) | if self.is_static { FLAG_STATIC } else { 0 };
        let [a, b, c, d] = self.sequence.0.to_be_bytes();
        ExtendedCommunity([TYPE, SUB_TYPE, flags, 0, a, b, c, d])
    }

    /// The first mobility community in a list (RFC 7432 section 7.7 allows one).
    pub fn find(communities: &[ExtendedCommunity]) -> Option<Self> {
        communities.iter().find_map(Self::from_extended)
    }
}

impl std::fmt::Display for Mobility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "seq {}", self.sequence)?;
        if self.is_static {
            f.write_str(" static")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_rfc7432_mac_mobility() {
        let m = Mobility::new(0x0102_0304, true);
        assert_eq!(m.to_extended().0, [0x06, 0x00, 0x01, 0x00, 1, 2, 3, 4]);
        assert_eq!(Mobility::from_extended(&m.to_extended()), Some(m));
        assert!(m.to_extended().is_transitive());
    }

    #[test]
    fn other_communities_are_not_mobility() {
        assert_eq!(
            Mobility::from_extended(&ExtendedCommunity::route_target(1, 2)),
            None
        );
        assert_eq!(
            Mobility::from_extended(&ExtendedCommunity([0x06, 0x01, 0, 0, 0, 0, 0, 1])),
            None
        );
    }

    #[test]
    fn unknown_flag_bits_survive_a_round_trip() {
        let ext = ExtendedCommunity([0x06, 0x00, 0x81, 0x00, 0, 0, 0, 9]);
        let m = Mobility::from_extended(&ext).unwrap();
        assert!(m.is_static);
        assert_eq!(m.other_flags, 0x80);
        assert_eq!(m.to_extended(), ext);
    }

    #[test]
    fn serial_order_wraps_around() {
        assert!(Sequence(1).is_newer_than(Sequence(0)));
        assert!(Sequence(0).is_newer_than(Sequence(u32::MAX)));
        assert!(!Sequence(u32::MAX).is_newer_than(Sequence(0)));
        assert!(Sequence(5).next().is_newer_than(Sequence(5)));
        assert_eq!(Sequence(u32::MAX).next(), Sequence(0));
        assert_eq!(Sequence(7).serial_cmp(Sequence(7)), Some(Ordering::Equal));
        assert_eq!(Sequence(0).serial_cmp(Sequence(1 << 31)), None);
        assert_eq!(
            Sequence(0).serial_cmp(Sequence((1 << 31) + 1)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Sequence(0).serial_cmp(Sequence((1 << 31) - 1)),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn finds_the_mobility_community_among_others() {
        let list = [
            ExtendedCommunity::route_target(1, 2),
            Mobility::new(3, false).to_extended(),
        ];
        assert_eq!(Mobility::find(&list), Some(Mobility::new(3, false)));
        assert_eq!(Mobility::find(&list[..1]), None);
    }
}
