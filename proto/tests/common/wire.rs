//! A third, deliberately minimal reading of an UPDATE: just the attribute
//! TLVs (RFC 4271 section 4.3), as far as they are framed correctly.
//!
//! Allowances in [`super::compare`] state their preconditions on these raw
//! bytes rather than on either decoder's interpretation, so an allowance
//! can only apply to messages that really have the property it names.

use super::codec::bgp::HEADER_LEN;

/// One path attribute as it is on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawAttribute {
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

pub const OPTIONAL: u8 = 0x80;
pub const TRANSITIVE: u8 = 0x40;
pub const PARTIAL: u8 = 0x20;
const EXTENDED_LENGTH: u8 = 0x10;

impl RawAttribute {
    pub fn optional(&self) -> bool {
        self.flags & OPTIONAL != 0
    }

    pub fn transitive(&self) -> bool {
        self.flags & TRANSITIVE != 0
    }

    pub fn partial(&self) -> bool {
        self.flags & PARTIAL != 0
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<usize> {
    let bytes = b.get(at..at.checked_add(2)?)?;
    Some(usize::from(u16::from_be_bytes([
        *bytes.first()?,
        *bytes.get(1)?,
    ])))
}

/// The well-framed path attributes of the UPDATE `frame` (header included),
/// in wire order, stopping at the first one that overruns the field.
pub fn attributes(frame: &[u8]) -> Vec<RawAttribute> {
    let body = frame.get(HEADER_LEN..).unwrap_or_default();
    let Some(wlen) = u16_at(body, 0) else {
        return Vec::new();
    };
    let Some(alen) = u16_at(body, 2 + wlen) else {
        return Vec::new();
    };
    let start = 4 + wlen;
    let field = body
        .get(start..(start + alen).min(body.len()))
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut rest = field;
    while let [flags, type_code, tail @ ..] = rest {
        let (len, tail) = if flags & EXTENDED_LENGTH != 0 {
            match tail {
                [hi, lo, t @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), t),
                _ => break,
            }
        } else {
            match tail {
                [len, t @ ..] => (usize::from(*len), t),
                _ => break,
            }
        };
        let Some((value, next)) = tail.split_at_checked(len) else {
            break;
        };
        out.push(RawAttribute {
            flags: *flags,
            type_code: *type_code,
            value: value.to_vec(),
        });
        rest = next;
    }
    out
}

/// The first well-framed attribute of `type_code`.
pub fn first(attrs: &[RawAttribute], type_code: u8) -> Option<&RawAttribute> {
    attrs.iter().find(|a| a.type_code == type_code)
}

/// AS path segments `(type, ASNs)` of width 2 or 4, or `None` when the
/// segments do not exactly fill the value.
pub fn segments(value: &[u8], width: usize) -> Option<Vec<(u8, Vec<u32>)>> {
    let mut out = Vec::new();
    let mut rest = value;
    while let [kind, count, tail @ ..] = rest {
        let (asns, next) = tail.split_at_checked(usize::from(*count) * width)?;
        let asns = asns
            .chunks_exact(width)
            .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
            .collect();
        out.push((*kind, asns));
        rest = next;
    }
    rest.is_empty().then_some(out)
}

/// The (AFI, SAFI) at the front of an MP_REACH_NLRI or MP_UNREACH_NLRI value.
pub fn mp_family(value: &[u8]) -> Option<(u16, u8)> {
    match value {
        [hi, lo, safi, ..] => Some((u16::from_be_bytes([*hi, *lo]), *safi)),
        _ => None,
    }
}

/// The segments `(type, ASNs)` at the front of an AS path value, up to the
/// first one that is cut short or empty.
pub fn leading_segments(value: &[u8], width: usize) -> Vec<(u8, Vec<u32>)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let [kind, count, tail @ ..] = rest {
        if *count == 0 {
            break;
        }
        let Some((asns, next)) = tail.split_at_checked(usize::from(*count) * width) else {
            break;
        };
        out.push((
            *kind,
            asns.chunks_exact(width)
                .map(|c| c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
                .collect(),
        ));
        rest = next;
    }
    out
}
