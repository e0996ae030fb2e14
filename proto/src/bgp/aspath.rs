//! AS_PATH and AS4_PATH, RFC 4271 section 4.3 and RFC 6793.
//!
//! ```text
//! +------------------+------------------+-------------------------+
//! | segment type (1) | segment len (1)  | ASNs (2 or 4 octets each)|
//! +------------------+------------------+-------------------------+
//! ```
//!
//! ASNs are always held as `u32`; the session's [`Context`](super::Context)
//! says whether they go on the wire as two or four octets.

use serde::{Deserialize, Serialize};

use super::iana::AS_TRANS;
use super::reader::Reader;

/// Kind of an AS_PATH segment (RFC 4271 section 4.3, RFC 5065 section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SegmentKind {
    Set,
    Sequence,
    ConfedSequence,
    ConfedSet,
}

impl SegmentKind {
    pub const fn code(self) -> u8 {
        match self {
            Self::Set => 1,
            Self::Sequence => 2,
            Self::ConfedSequence => 3,
            Self::ConfedSet => 4,
        }
    }

    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Set,
            2 => Self::Sequence,
            3 => Self::ConfedSequence,
            4 => Self::ConfedSet,
            _ => return None,
        })
    }

    const fn is_confed(self) -> bool {
        matches!(self, Self::ConfedSequence | Self::ConfedSet)
    }
}

/// One segment: at most 255 ASNs on the wire; longer ones are split on emit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Segment {
    pub kind: SegmentKind,
    pub asns: Vec<u32>,
}

/// An AS path as a list of segments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct AsPath {
    pub segments: Vec<Segment>,
}

/// Why an AS path is malformed (RFC 7606 section 7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AsPathError {
    #[error("unknown segment type {0}")]
    UnknownSegmentType(u8),
    #[error("segment of zero length")]
    EmptySegment,
    #[error("segment overruns the attribute")]
    Overrun,
}

impl AsPath {
    /// A path of one AS_SEQUENCE.
    pub fn sequence(asns: impl Into<Vec<u32>>) -> Self {
        let asns = asns.into();
        if asns.is_empty() {
            return Self::default();
        }
        Self {
            segments: vec![Segment {
                kind: SegmentKind::Sequence,
                asns,
            }],
        }
    }

    /// Decodes an AS_PATH (`four_octet` per the session) or, with
    /// `four_octet = true` and `as4 = true`, an AS4_PATH. AS4_PATH may not
    /// carry confederation segments; RFC 6793 section 6 has the receiver
    /// discard those segments and keep the rest, which this does.
    pub fn decode(buf: &[u8], four_octet: bool, as4: bool) -> Result<Self, AsPathError> {
        let mut r = Reader::new(buf);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let (Some(code), Some(count)) = (r.u8(), r.u8()) else {
                return Err(AsPathError::Overrun);
            };
            let kind = SegmentKind::from_code(code).ok_or(AsPathError::UnknownSegmentType(code))?;
            if count == 0 {
                return Err(AsPathError::EmptySegment);
            }
            let width = if four_octet { 4 } else { 2 };
            let bytes = r
                .take(usize::from(count) * width)
                .ok_or(AsPathError::Overrun)?;
            let asns = if four_octet {
                bytes
                    .as_chunks::<4>()
                    .0
                    .iter()
                    .map(|c| u32::from_be_bytes(*c))
                    .collect()
            } else {
                bytes
                    .as_chunks::<2>()
                    .0
                    .iter()
                    .map(|c| u32::from(u16::from_be_bytes(*c)))
                    .collect()
            };
            if !(as4 && kind.is_confed()) {
                segments.push(Segment { kind, asns });
            }
        }
        Ok(Self { segments })
    }

    /// Bytes on the wire.
    pub fn encoded_len(&self, four_octet: bool) -> usize {
        let width = if four_octet { 4 } else { 2 };
        self.segments
            .iter()
            .filter(|s| !s.asns.is_empty())
            .map(|s| s.asns.len().div_ceil(255) * 2 + s.asns.len() * width)
            .sum()
    }

    /// Appends the path; in 2-octet mode an ASN above 65535 becomes AS_TRANS.
    pub fn emit(&self, four_octet: bool, out: &mut Vec<u8>) {
        for segment in &self.segments {
            for chunk in segment.asns.chunks(255) {
                out.push(segment.kind.code());
                out.push(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        out.extend_from_slice(&asn.to_be_bytes());
                    } else {
                        let two = u16::try_from(asn).unwrap_or(AS_TRANS);
                        out.extend_from_slice(&two.to_be_bytes());
                    }
                }
            }
        }
    }

    /// Path length for best-path selection (RFC 4271 section 9.1.2.2 a):
    /// an AS_SET counts as one, confederation segments count nothing.
    pub fn length(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence => s.asns.len(),
                SegmentKind::Set => 1,
                SegmentKind::ConfedSequence | SegmentKind::ConfedSet => 0,
            })
            .sum()
    }

    /// The first AS of the path, the neighbour AS for an eBGP route.
    pub fn first_as(&self) -> Option<u32> {
        let first = self.segments.first()?;
        match first.kind {
            SegmentKind::Sequence => first.asns.first().copied(),
            _ => None,
        }
    }

    /// Whether `asn` appears anywhere in the path (loop detection).
    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// Whether any ASN needs four octets.
    pub fn needs_four_octets(&self) -> bool {
        self.segments
            .iter()
            .flat_map(|s| &s.asns)
            .any(|&a| a > u32::from(u16::MAX))
    }

    /// The real path from a 2-octet speaker's AS_PATH and AS4_PATH
    /// (RFC 6793 section 4.2.3): AS4_PATH replaces the tail of AS_PATH, and
    /// is ignored if it claims more ASes than AS_PATH has.
    pub fn merge_as4(&self, as4_path: &AsPath) -> AsPath {
        let count = |p: &AsPath| -> usize {
            p.segments
                .iter()
                .map(|s| match s.kind {
                    SegmentKind::Sequence => s.asns.len(),
                    SegmentKind::Set => 1,
                    _ => 0,
                })
                .sum()
        };
        let (n, n4) = (count(self), count(as4_path));
        if n < n4 {
            return self.clone();
        }
        let mut keep = n - n4;
        let mut segments = Vec::new();
        for s in &self.segments {
            if keep == 0 {
                break;
            }
            match s.kind {
                SegmentKind::Sequence => {
                    let take = keep.min(s.asns.len());
                    segments.push(Segment {
                        kind: s.kind,
                        asns: s.asns.iter().take(take).copied().collect(),
                    });
                    keep -= take;
                }
                SegmentKind::Set => {
                    segments.push(s.clone());
                    keep -= 1;
                }
                _ => segments.push(s.clone()),
            }
        }
        segments.extend(as4_path.segments.iter().cloned());
        AsPath { segments }
    }
}

impl std::fmt::Display for AsPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for s in &self.segments {
            let (open, close) = match s.kind {
                SegmentKind::Sequence => ("", ""),
                SegmentKind::Set => ("{", "}"),
                SegmentKind::ConfedSequence => ("(", ")"),
                SegmentKind::ConfedSet => ("[", "]"),
            };
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(open)?;
            for (i, asn) in s.asns.iter().enumerate() {
                if i > 0 {
                    let sequence =
                        matches!(s.kind, SegmentKind::Sequence | SegmentKind::ConfedSequence);
                    f.write_str(if sequence { " " } else { "," })?;
                }
                write!(f, "{asn}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_octet_paths() {
        let p = AsPath::decode(&[2, 2, 0xfd, 0xe8, 0xfd, 0xe9], false, false).unwrap();
        assert_eq!(p, AsPath::sequence(vec![65000, 65001]));
        let mut out = Vec::new();
        p.emit(false, &mut out);
        assert_eq!(out, [2, 2, 0xfd, 0xe8, 0xfd, 0xe9]);
        let p4 = AsPath::decode(&[2, 1, 0xfa, 0x56, 0xea, 0x01], true, false).unwrap();
        assert_eq!(p4.first_as(), Some(4_200_000_001));
        let mut out = Vec::new();
        p4.emit(false, &mut out);
        assert_eq!(out, [2, 1, 0x5b, 0xa0], "AS_TRANS in 2-octet mode");
    }

    #[test]
    fn malformed_paths_per_rfc7606() {
        assert_eq!(
            AsPath::decode(&[5, 1, 0, 1], false, false),
            Err(AsPathError::UnknownSegmentType(5))
        );
        assert_eq!(
            AsPath::decode(&[2, 0], false, false),
            Err(AsPathError::EmptySegment)
        );
        assert_eq!(
            AsPath::decode(&[2, 2, 0, 1], false, false),
            Err(AsPathError::Overrun)
        );
        assert_eq!(
            AsPath::decode(&[2], false, false),
            Err(AsPathError::Overrun)
        );
    }

    /// RFC 6793 section 6: confederation segments in AS4_PATH are discarded
    /// and the rest of the path kept (they were refused as a whole before
    /// the differential test against rustbgpd-wire showed the difference).
    #[test]
    fn as4_path_drops_confederation_segments_and_keeps_the_rest() {
        let value = [3, 1, 0, 0, 0, 1, 2, 1, 0, 0, 0, 2, 4, 1, 0, 0, 0, 3];
        assert_eq!(
            AsPath::decode(&value, true, true),
            Ok(AsPath::sequence(vec![2]))
        );
        assert_eq!(
            AsPath::decode(&value, true, false).map(|p| p.segments.len()),
            Ok(3),
            "AS_PATH keeps them"
        );
        assert_eq!(
            AsPath::decode(&[3, 0], true, true),
            Err(AsPathError::EmptySegment),
            "a dropped segment is still checked"
        );
    }

    #[test]
    fn long_segments_split_at_255() {
        let p = AsPath::sequence((1..=300).collect::<Vec<u32>>());
        let mut out = Vec::new();
        p.emit(true, &mut out);
        assert_eq!(out.len(), p.encoded_len(true));
        assert_eq!(AsPath::decode(&out, true, false).unwrap().length(), 300);
    }

    #[test]
    fn length_counts_sets_once_and_confeds_never() {
        let p = AsPath {
            segments: vec![
                Segment {
                    kind: SegmentKind::ConfedSequence,
                    asns: vec![1, 2],
                },
                Segment {
                    kind: SegmentKind::Sequence,
                    asns: vec![3, 4],
                },
                Segment {
                    kind: SegmentKind::Set,
                    asns: vec![5, 6, 7],
                },
            ],
        };
        assert_eq!(p.length(), 3);
        assert_eq!(p.to_string(), "(1 2) 3 4 {5,6,7}");
    }

    #[test]
    fn as4_path_replaces_the_tail() {
        let as_path = AsPath::sequence(vec![65001, 23456, 23456]);
        let as4 = AsPath::sequence(vec![4_200_000_001, 4_200_000_002]);
        assert_eq!(
            as_path.merge_as4(&as4),
            AsPath {
                segments: vec![
                    Segment {
                        kind: SegmentKind::Sequence,
                        asns: vec![65001]
                    },
                    Segment {
                        kind: SegmentKind::Sequence,
                        asns: vec![4_200_000_001, 4_200_000_002]
                    },
                ]
            }
        );
        let longer = AsPath::sequence(vec![1, 2, 3, 4]);
        assert_eq!(as_path.merge_as4(&longer), as_path, "ignored when longer");
    }
}
