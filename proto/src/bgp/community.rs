//! Communities of the three kinds a fabric uses: standard (RFC 1997),
//! extended (RFC 4360) and large (RFC 8092).

use serde::{Deserialize, Serialize};

/// A standard community, RFC 1997: two 16-bit halves, `asn:value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Community(pub u32);

impl Community {
    pub const GRACEFUL_SHUTDOWN: Self = Self(0xffff_0000);
    pub const BLACKHOLE: Self = Self(0xffff_029a);
    pub const NO_EXPORT: Self = Self(0xffff_ff01);
    pub const NO_ADVERTISE: Self = Self(0xffff_ff02);
    pub const NO_EXPORT_SUBCONFED: Self = Self(0xffff_ff03);
    pub const NO_PEER: Self = Self(0xffff_ff04);

    pub const fn new(asn: u16, value: u16) -> Self {
        Self(((asn as u32) << 16) | value as u32)
    }

    pub const fn asn(self) -> u16 {
        (self.0 >> 16) as u16
    }

    pub const fn value(self) -> u16 {
        self.0 as u16
    }
}

impl std::fmt::Display for Community {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.asn(), self.value())
    }
}

/// An extended community, RFC 4360 section 2: eight octets, the first one or
/// two of which give its type.
///
/// ```text
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Type high    |  Type low(*)  |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+          Value                |
/// |                                                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// The high-order type octet.
    pub const fn type_high(&self) -> u8 {
        self.0[0]
    }

    /// The sub-type octet (for the "extended" types that have one).
    pub const fn sub_type(&self) -> u8 {
        self.0[1]
    }

    /// Bit 0x40 of the type clear: the community crosses AS boundaries.
    pub const fn is_transitive(&self) -> bool {
        self.type_high() & 0x40 == 0
    }

    /// A two-octet-AS-specific Route Target (type 0x00, sub-type 0x02).
    pub const fn route_target(asn: u16, value: u32) -> Self {
        let a = asn.to_be_bytes();
        let v = value.to_be_bytes();
        Self([0x00, 0x02, a[0], a[1], v[0], v[1], v[2], v[3]])
    }
}

impl std::fmt::Display for ExtendedCommunity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [t, s, a, b, c, d, e, g] = self.0;
        match (t, s) {
            (0x00, 0x02) => write!(
                f,
                "rt:{}:{}",
                u16::from_be_bytes([a, b]),
                u32::from_be_bytes([c, d, e, g])
            ),
            _ => write!(
                f,
                "0x{t:02x}{s:02x}:{a:02x}{b:02x}{c:02x}{d:02x}{e:02x}{g:02x}"
            ),
        }
    }
}

/// A large community, RFC 8092 section 3: `global:local1:local2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local_data_1: u32,
    pub local_data_2: u32,
}

impl LargeCommunity {
    pub const fn new(global_admin: u32, local_data_1: u32, local_data_2: u32) -> Self {
        Self {
            global_admin,
            local_data_1,
            local_data_2,
        }
    }
}

impl std::fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.global_admin, self.local_data_1, self.local_data_2
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_community_halves() {
        let c = Community::new(65000, 100);
        assert_eq!(c.0, 0xfde8_0064);
        assert_eq!((c.asn(), c.value()), (65000, 100));
        assert_eq!(c.to_string(), "65000:100");
        assert_eq!(Community::NO_EXPORT.to_string(), "65535:65281");
    }

    #[test]
    fn extended_community_type_bits() {
        let rt = ExtendedCommunity::route_target(65000, 7);
        assert!(rt.is_transitive());
        assert_eq!(rt.to_string(), "rt:65000:7");
        assert!(!ExtendedCommunity([0x40, 0, 0, 0, 0, 0, 0, 0]).is_transitive());
    }

    #[test]
    fn large_community_display() {
        assert_eq!(
            LargeCommunity::new(4200000001, 1, 2).to_string(),
            "4200000001:1:2"
        );
    }
}
