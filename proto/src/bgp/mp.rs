//! MP_REACH_NLRI and MP_UNREACH_NLRI, RFC 4760 sections 3 and 4, for IPv4
//! and IPv6 unicast, with IPv6 next hops for IPv4 NLRI (RFC 8950).
//!
//! ```text
//! MP_REACH_NLRI (type 14)                 MP_UNREACH_NLRI (type 15)
//! +---------------------------------+     +---------------------------------+
//! | AFI (2) | SAFI (1)              |     | AFI (2) | SAFI (1)              |
//! +---------------------------------+     +---------------------------------+
//! | Length of Next Hop (1)          |     | Withdrawn Routes (variable)     |
//! +---------------------------------+     +---------------------------------+
//! | Next Hop (variable)             |
//! +---------------------------------+
//! | Reserved (1)                    |
//! +---------------------------------+
//! | NLRI (variable)                 |
//! +---------------------------------+
//! ```

use std::net::{Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::context::Context;
use super::iana::{Afi, AfiSafi, Safi};
use super::nlri::{self, Nlri, NlriError};
use super::reader::Reader;

/// A next hop in MP_REACH_NLRI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MpNextHop {
    Ipv4(Ipv4Addr),
    /// A global address and optionally a link-local one (RFC 2545 section 3).
    Ipv6 {
        global: Ipv6Addr,
        link_local: Option<Ipv6Addr>,
    },
}

impl MpNextHop {
    pub fn encoded_len(&self) -> usize {
        match self {
            Self::Ipv4(_) => 4,
            Self::Ipv6 {
                link_local: None, ..
            } => 16,
            Self::Ipv6 {
                link_local: Some(_),
                ..
            } => 32,
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        match self {
            Self::Ipv4(a) => out.extend_from_slice(&a.octets()),
            Self::Ipv6 { global, link_local } => {
                out.extend_from_slice(&global.octets());
                if let Some(ll) = link_local {
                    out.extend_from_slice(&ll.octets());
                }
            }
        }
    }

    pub const fn afi(&self) -> Afi {
        match self {
            Self::Ipv4(_) => Afi::Ipv4,
            Self::Ipv6 { .. } => Afi::Ipv6,
        }
    }
}

impl std::fmt::Display for MpNextHop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ipv4(a) => a.fmt(f),
            Self::Ipv6 {
                global,
                link_local: None,
            } => global.fmt(f),
            Self::Ipv6 {
                global,
                link_local: Some(ll),
            } => write!(f, "{global} ({ll})"),
        }
    }
}

/// Reachable routes of one family with their next hop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MpReach {
    pub family: AfiSafi,
    pub next_hop: MpNextHop,
    pub nlri: Vec<Nlri>,
}

/// Withdrawn routes of one family. Empty `withdrawn` alone in an UPDATE is
/// the End-of-RIB marker for that family (RFC 4724 section 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MpUnreach {
    pub family: AfiSafi,
    pub withdrawn: Vec<Nlri>,
}

/// Why an MP attribute could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MpError {
    #[error("shorter than its AFI and SAFI")]
    NoFamily,
    #[error("next hop length field overruns the attribute")]
    NextHopTruncated,
    #[error("next hop of {len} bytes is not valid for {family}")]
    NextHopLength { family: AfiSafi, len: u8 },
    #[error("missing the reserved octet")]
    NoReserved,
    #[error("NLRI: {0}")]
    Nlri(#[from] NlriError),
}

/// Families whose prefixes this codec decodes; MP attributes of other
/// families are kept as raw attributes.
pub fn is_decoded_family(family: AfiSafi) -> bool {
    matches!(family.afi, Afi::Ipv4 | Afi::Ipv6) && family.safi == Safi::Unicast
}

/// The AFI and SAFI at the front of an MP attribute, if present.
pub fn peek_family(value: &[u8]) -> Option<AfiSafi> {
    let mut r = Reader::new(value);
    Some(AfiSafi::new(r.u16()?, r.u8()?))
}

impl MpReach {
    /// Decodes the value of a decoded family (see [`is_decoded_family`]).
    pub fn decode(value: &[u8], ctx: &Context) -> Result<Self, MpError> {
        let mut r = Reader::new(value);
        let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
            return Err(MpError::NoFamily);
        };
        let family = AfiSafi::new(afi, safi);
        let nh_len = r.u8().ok_or(MpError::NextHopTruncated)?;
        let nh = r
            .take(usize::from(nh_len))
            .ok_or(MpError::NextHopTruncated)?;
        let bad_len = MpError::NextHopLength {
            family,
            len: nh_len,
        };
        let next_hop = match (family.afi, nh.len()) {
            (Afi::Ipv4, 4) => MpNextHop::Ipv4(ipv4(nh).ok_or(bad_len)?),
            (Afi::Ipv6, 16 | 32) => ipv6_next_hop(nh).ok_or(bad_len)?,
            (Afi::Ipv4, 16 | 32) if ctx.extended_next_hop(family, Afi::Ipv6) => {
                ipv6_next_hop(nh).ok_or(bad_len)?
            }
            _ => return Err(bad_len),
        };
        r.u8().ok_or(MpError::NoReserved)?;
        let mut nlri = Vec::new();
        nlri::decode_all(r.rest(), family.afi, ctx.add_path_rx(family), &mut nlri)?;
        Ok(Self {
            family,
            next_hop,
            nlri,
        })
    }

    pub fn value_len(&self, ctx: &Context) -> usize {
        3 + 1
            + self.next_hop.encoded_len()
            + 1
            + nlri::encoded_len(&self.nlri, ctx.add_path_tx(self.family))
    }

    pub fn emit_value(&self, ctx: &Context, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.family.afi).to_be_bytes());
        out.push(self.family.safi.into());
        out.push(self.next_hop.encoded_len() as u8);
        self.next_hop.emit(out);
        out.push(0);
        let add_path = ctx.add_path_tx(self.family);
        for n in &self.nlri {
            n.emit(add_path, out);
        }
    }
}

impl MpUnreach {
    pub fn decode(value: &[u8], ctx: &Context) -> Result<Self, MpError> {
        let mut r = Reader::new(value);
        let (Some(afi), Some(safi)) = (r.u16(), r.u8()) else {
            return Err(MpError::NoFamily);
        };
        let family = AfiSafi::new(afi, safi);
        let mut withdrawn = Vec::new();
        nlri::decode_all(
            r.rest(),
            family.afi,
            ctx.add_path_rx(family),
            &mut withdrawn,
        )?;
        Ok(Self { family, withdrawn })
    }

    pub fn value_len(&self, ctx: &Context) -> usize {
        3 + nlri::encoded_len(&self.withdrawn, ctx.add_path_tx(self.family))
    }

    pub fn emit_value(&self, ctx: &Context, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.family.afi).to_be_bytes());
        out.push(self.family.safi.into());
        let add_path = ctx.add_path_tx(self.family);
        for n in &self.withdrawn {
            n.emit(add_path, out);
        }
    }
}

fn ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    <[u8; 4]>::try_from(b).ok().map(Ipv4Addr::from)
}

fn ipv6_next_hop(b: &[u8]) -> Option<MpNextHop> {
    let global = Ipv6Addr::from(<[u8; 16]>::try_from(b.get(..16)?).ok()?);
    let link_local = match b.get(16..) {
        Some([]) | None => None,
        Some(rest) => Some(Ipv6Addr::from(<[u8; 16]>::try_from(rest).ok()?)),
    };
    Some(MpNextHop::Ipv6 { global, link_local })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_reach() -> Vec<u8> {
        let mut v = vec![0, 2, 1, 32];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&"fe80::1".parse::<Ipv6Addr>().unwrap().octets());
        v.push(0);
        v.push(128);
        v.extend_from_slice(&"2001:db8:1::5".parse::<Ipv6Addr>().unwrap().octets());
        v
    }

    #[test]
    fn ipv6_reach_with_link_local_round_trips() {
        let ctx = Context::default();
        let bytes = v6_reach();
        let m = MpReach::decode(&bytes, &ctx).unwrap();
        assert_eq!(m.family, AfiSafi::IPV6_UNICAST);
        assert!(matches!(
            m.next_hop,
            MpNextHop::Ipv6 {
                link_local: Some(_),
                ..
            }
        ));
        assert_eq!(m.nlri.len(), 1);
        let mut out = Vec::new();
        m.emit_value(&ctx, &mut out);
        assert_eq!(out, bytes);
        assert_eq!(m.value_len(&ctx), bytes.len());
    }

    #[test]
    fn ipv4_nlri_with_ipv6_next_hop_needs_rfc8950() {
        let mut v = vec![0, 1, 1, 16];
        v.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        v.extend_from_slice(&[0, 32, 198, 51, 100, 7]);
        assert_eq!(
            MpReach::decode(&v, &Context::default()),
            Err(MpError::NextHopLength {
                family: AfiSafi::IPV4_UNICAST,
                len: 16
            })
        );
        let m = MpReach::decode(&v, &Context::modern()).unwrap();
        assert_eq!(m.next_hop.afi(), Afi::Ipv6);
    }

    #[test]
    fn malformed_reach_errors() {
        let ctx = Context::default();
        assert_eq!(MpReach::decode(&[0, 2], &ctx), Err(MpError::NoFamily));
        assert_eq!(
            MpReach::decode(&[0, 2, 1, 16, 0], &ctx),
            Err(MpError::NextHopTruncated)
        );
        assert_eq!(
            MpReach::decode(&[0, 2, 1, 4, 1, 2, 3, 4, 0], &ctx),
            Err(MpError::NextHopLength {
                family: AfiSafi::IPV6_UNICAST,
                len: 4
            })
        );
        assert_eq!(
            MpReach::decode(&[0, 1, 1, 4, 1, 2, 3, 4], &ctx),
            Err(MpError::NoReserved)
        );
        assert_eq!(
            MpReach::decode(&[0, 1, 1, 4, 1, 2, 3, 4, 0, 33, 1, 1, 1, 1, 1], &ctx),
            Err(MpError::Nlri(NlriError::PrefixTooLong { len: 33, max: 32 }))
        );
    }

    #[test]
    fn unreach_end_of_rib_is_just_the_family() {
        let ctx = Context::default();
        let m = MpUnreach::decode(&[0, 2, 1], &ctx).unwrap();
        assert!(m.withdrawn.is_empty());
        assert_eq!(MpUnreach::decode(&[0, 2], &ctx), Err(MpError::NoFamily));
        assert_eq!(peek_family(&[0, 2, 1]), Some(AfiSafi::IPV6_UNICAST));
        assert!(is_decoded_family(AfiSafi::IPV6_UNICAST));
        assert!(!is_decoded_family(AfiSafi::new(1u16, 128u8)));
    }
}
