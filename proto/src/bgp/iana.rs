//! IANA registries the codec needs: message types, AFI, SAFI, attribute type codes.

use serde::{Deserialize, Serialize};

/// BGP message type, RFC 4271 section 4.1 and RFC 2918 section 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MessageType {
    Open,
    Update,
    Notification,
    Keepalive,
    RouteRefresh,
}

impl MessageType {
    pub const fn code(self) -> u8 {
        match self {
            Self::Open => 1,
            Self::Update => 2,
            Self::Notification => 3,
            Self::Keepalive => 4,
            Self::RouteRefresh => 5,
        }
    }

    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Open,
            2 => Self::Update,
            3 => Self::Notification,
            4 => Self::Keepalive,
            5 => Self::RouteRefresh,
            _ => return None,
        })
    }
}

/// Address Family Identifier (IANA "Address Family Numbers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Afi {
    Ipv4,
    Ipv6,
    Other(u16),
}

impl From<u16> for Afi {
    fn from(v: u16) -> Self {
        match v {
            1 => Self::Ipv4,
            2 => Self::Ipv6,
            o => Self::Other(o),
        }
    }
}

impl From<Afi> for u16 {
    fn from(a: Afi) -> u16 {
        match a {
            Afi::Ipv4 => 1,
            Afi::Ipv6 => 2,
            Afi::Other(o) => o,
        }
    }
}

/// Subsequent Address Family Identifier (IANA "SAFI Values").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Safi {
    Unicast,
    Multicast,
    Other(u8),
}

impl From<u8> for Safi {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Unicast,
            2 => Self::Multicast,
            o => Self::Other(o),
        }
    }
}

impl From<Safi> for u8 {
    fn from(s: Safi) -> u8 {
        match s {
            Safi::Unicast => 1,
            Safi::Multicast => 2,
            Safi::Other(o) => o,
        }
    }
}

/// An (AFI, SAFI) pair: the unit that capabilities, End-of-RIB and ADD-PATH speak of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct AfiSafi {
    pub afi: Afi,
    pub safi: Safi,
}

impl AfiSafi {
    pub const IPV4_UNICAST: Self = Self {
        afi: Afi::Ipv4,
        safi: Safi::Unicast,
    };
    pub const IPV6_UNICAST: Self = Self {
        afi: Afi::Ipv6,
        safi: Safi::Unicast,
    };

    pub fn new(afi: impl Into<Afi>, safi: impl Into<Safi>) -> Self {
        Self {
            afi: afi.into(),
            safi: safi.into(),
        }
    }
}

impl std::fmt::Display for AfiSafi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.afi, self.safi) {
            (Afi::Ipv4, Safi::Unicast) => f.write_str("ipv4-unicast"),
            (Afi::Ipv6, Safi::Unicast) => f.write_str("ipv6-unicast"),
            (afi, safi) => write!(f, "afi{}/safi{}", u16::from(afi), u8::from(safi)),
        }
    }
}

/// Path attribute type codes (IANA "BGP Path Attributes").
pub mod attr {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const LARGE_COMMUNITIES: u8 = 32;
}

/// The 2-octet AS that stands in for a 4-octet one (RFC 6793 section 9).
pub const AS_TRANS: u16 = 23456;
