//! Prefixes as NLRI carry them, RFC 4271 section 4.3, with the optional
//! ADD-PATH identifier of RFC 7911 section 3.
//!
//! ```text
//! +---------------------------+
//! |   Path Identifier (4)     |   only where ADD-PATH was negotiated
//! +---------------------------+
//! |   Length (1 octet)        |
//! +---------------------------+
//! |   Prefix (variable)       |   ceil(Length / 8) octets
//! +---------------------------+
//! ```
//!
//! Host bits beyond the prefix length are cleared on decode, so equal routes
//! compare equal whatever a sender left in the trailing bits.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::iana::Afi;
use super::reader::Reader;

/// One NLRI entry: a prefix and, under ADD-PATH, its path identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Nlri {
    pub prefix: IpNet,
    pub path_id: Option<u32>,
}

impl Nlri {
    pub fn new(prefix: IpNet) -> Self {
        Self {
            prefix: prefix.trunc(),
            path_id: None,
        }
    }

    pub fn with_path_id(prefix: IpNet, path_id: u32) -> Self {
        Self {
            prefix: prefix.trunc(),
            path_id: Some(path_id),
        }
    }

    /// Bytes this entry takes on the wire.
    pub fn encoded_len(&self, add_path: bool) -> usize {
        let id = if add_path { 4 } else { 0 };
        id + 1 + usize::from(self.prefix.prefix_len()).div_ceil(8)
    }

    /// Appends the entry; `add_path` says whether a path identifier goes first
    /// (an entry without one is sent with identifier 0).
    pub fn emit(&self, add_path: bool, out: &mut Vec<u8>) {
        if add_path {
            out.extend_from_slice(&self.path_id.unwrap_or(0).to_be_bytes());
        }
        let len = self.prefix.prefix_len();
        let n = usize::from(len).div_ceil(8);
        out.push(len);
        match self.prefix {
            IpNet::V4(p) => out.extend_from_slice(p.addr().octets().get(..n).unwrap_or_default()),
            IpNet::V6(p) => out.extend_from_slice(p.addr().octets().get(..n).unwrap_or_default()),
        }
    }
}

impl std::fmt::Display for Nlri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.path_id {
            Some(id) => write!(f, "{} path-id {id}", self.prefix),
            None => write!(f, "{}", self.prefix),
        }
    }
}

/// Why a run of NLRI could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NlriError {
    #[error("prefix length {len} exceeds {max}")]
    PrefixTooLong { len: u8, max: u8 },
    #[error("prefix of length {len} is cut short")]
    Truncated { len: u8 },
    #[error("path identifier is cut short")]
    PathIdTruncated,
    #[error("AFI {0} has no prefixes this codec reads")]
    UnsupportedAfi(u16),
}

/// Reads every NLRI entry in `buf`, appending to `out`.
pub fn decode_all(
    buf: &[u8],
    afi: Afi,
    add_path: bool,
    out: &mut Vec<Nlri>,
) -> Result<(), NlriError> {
    let mut r = Reader::new(buf);
    // A /32 takes 5 bytes: a fair first guess that avoids most regrowth.
    out.reserve(buf.len() / if add_path { 9 } else { 5 });
    while !r.is_empty() {
        out.push(decode_one(&mut r, afi, add_path)?);
    }
    Ok(())
}

fn decode_one(r: &mut Reader<'_>, afi: Afi, add_path: bool) -> Result<Nlri, NlriError> {
    let path_id = if add_path {
        Some(r.u32().ok_or(NlriError::PathIdTruncated)?)
    } else {
        None
    };
    let len = r.u8().ok_or(NlriError::Truncated { len: 0 })?;
    let n = usize::from(len).div_ceil(8);
    let prefix = match afi {
        Afi::Ipv4 => {
            if len > 32 {
                return Err(NlriError::PrefixTooLong { len, max: 32 });
            }
            let bytes = r.take(n).ok_or(NlriError::Truncated { len })?;
            let mut octets = [0u8; 4];
            for (dst, src) in octets.iter_mut().zip(bytes) {
                *dst = *src;
            }
            let bits = u32::from_be_bytes(octets) & mask_v4(len);
            IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::from(bits), len))
        }
        Afi::Ipv6 => {
            if len > 128 {
                return Err(NlriError::PrefixTooLong { len, max: 128 });
            }
            let bytes = r.take(n).ok_or(NlriError::Truncated { len })?;
            let mut octets = [0u8; 16];
            for (dst, src) in octets.iter_mut().zip(bytes) {
                *dst = *src;
            }
            let bits = u128::from_be_bytes(octets) & mask_v6(len);
            IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::from(bits), len))
        }
        Afi::Other(v) => return Err(NlriError::UnsupportedAfi(v)),
    };
    Ok(Nlri { prefix, path_id })
}

fn mask_v4(len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0)
}

fn mask_v6(len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(len.min(128)))
        .unwrap_or(0)
}

/// Bytes that `entries` take on the wire.
pub fn encoded_len(entries: &[Nlri], add_path: bool) -> usize {
    entries.iter().map(|n| n.encoded_len(add_path)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(buf: &[u8], afi: Afi, add_path: bool) -> Result<Vec<Nlri>, NlriError> {
        let mut out = Vec::new();
        decode_all(buf, afi, add_path, &mut out).map(|()| out)
    }

    #[test]
    fn host_routes_and_default_decode() {
        let got = decode(&[32, 198, 51, 100, 7, 0, 24, 10, 1, 1], Afi::Ipv4, false).unwrap();
        assert_eq!(got[0].prefix, "198.51.100.7/32".parse::<IpNet>().unwrap());
        assert_eq!(got[1].prefix, "0.0.0.0/0".parse::<IpNet>().unwrap());
        assert_eq!(got[2].prefix, "10.1.1.0/24".parse::<IpNet>().unwrap());
    }

    #[test]
    fn trailing_host_bits_are_cleared() {
        let got = decode(&[23, 10, 1, 0xff], Afi::Ipv4, false).unwrap();
        assert_eq!(got[0].prefix, "10.1.254.0/23".parse::<IpNet>().unwrap());
    }

    #[test]
    fn ipv6_host_route_with_path_id() {
        let mut buf = vec![0, 0, 0, 7, 128];
        buf.extend_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        let got = decode(&buf, Afi::Ipv6, true).unwrap();
        assert_eq!(
            got,
            vec![Nlri::with_path_id("2001:db8::5/128".parse().unwrap(), 7)]
        );
        let mut out = Vec::new();
        got[0].emit(true, &mut out);
        assert_eq!(out, buf);
    }

    #[test]
    fn rejects_prefix_longer_than_the_family() {
        assert_eq!(
            decode(&[33, 1, 2, 3, 4, 5], Afi::Ipv4, false),
            Err(NlriError::PrefixTooLong { len: 33, max: 32 })
        );
        assert_eq!(
            decode(&[129], Afi::Ipv6, false),
            Err(NlriError::PrefixTooLong { len: 129, max: 128 })
        );
    }

    #[test]
    fn rejects_truncated_prefix_and_path_id() {
        assert_eq!(
            decode(&[32, 1, 2], Afi::Ipv4, false),
            Err(NlriError::Truncated { len: 32 })
        );
        assert_eq!(
            decode(&[0, 0, 1], Afi::Ipv4, true),
            Err(NlriError::PathIdTruncated)
        );
        assert_eq!(
            decode(&[0, 0, 0, 1], Afi::Ipv4, true),
            Err(NlriError::Truncated { len: 0 })
        );
    }

    #[test]
    fn rejects_other_families() {
        assert_eq!(
            decode(&[0], Afi::Other(25), false),
            Err(NlriError::UnsupportedAfi(25))
        );
    }

    #[test]
    fn encoded_len_matches_emit() {
        for s in [
            "0.0.0.0/0",
            "10.0.0.0/9",
            "198.51.100.7/32",
            "2001:db8::/33",
            "::/0",
        ] {
            let n = Nlri::new(s.parse().unwrap());
            for add_path in [false, true] {
                let mut out = Vec::new();
                n.emit(add_path, &mut out);
                assert_eq!(out.len(), n.encoded_len(add_path), "{s}");
            }
        }
    }
}
