//! Inter-arrival gaps of the packets a session accepts while Up: how close
//! the peer (and our own thread, which stamps each packet when it reads
//! it) came to the detection time.
//!
//! A gap is the time between two packets accepted in a row while the
//! session was Up, as the BFD thread saw them: the peer's transmit jitter
//! plus any delay in reading them (scheduling). 1 ms buckets up to
//! [`GapHistogram::BUCKETS`] - 1 ms, one more for everything longer, and the
//! exact maximum.

use std::time::Duration;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// Counts of gaps by whole milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GapHistogram {
    buckets: [u64; GapHistogram::BUCKETS],
    max: Duration,
}

impl Default for GapHistogram {
    fn default() -> Self {
        Self {
            buckets: [0; Self::BUCKETS],
            max: Duration::ZERO,
        }
    }
}

impl GapHistogram {
    /// Buckets: `[k ms, k + 1 ms)` for k below `BUCKETS - 1`, then one for
    /// `BUCKETS - 1` ms and longer.
    pub const BUCKETS: usize = 64;

    /// Counts one gap.
    pub fn record(&mut self, gap: Duration) {
        let index = usize::try_from(gap.as_millis())
            .unwrap_or(usize::MAX)
            .min(Self::BUCKETS - 1);
        if let Some(bucket) = self.buckets.get_mut(index) {
            *bucket += 1;
        }
        self.max = self.max.max(gap);
    }

    /// Gaps counted.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The longest gap.
    pub fn max(&self) -> Duration {
        self.max
    }

    /// The number of gaps of at least `ms` milliseconds (whole buckets).
    pub fn at_least_ms(&self, ms: usize) -> u64 {
        self.buckets.iter().skip(ms).sum()
    }

    /// The upper edge of the bucket holding the `p`-th quantile (0 to 1),
    /// nearest rank; `None` when empty. The last bucket's edge is the max.
    pub fn quantile(&self, p: f64) -> Option<Duration> {
        let count = self.count();
        if count == 0 {
            return None;
        }
        let rank = ((p * count as f64).ceil() as u64).clamp(1, count);
        let mut seen = 0;
        for (ms, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Some(if ms == Self::BUCKETS - 1 {
                    self.max
                } else {
                    Duration::from_millis(ms as u64 + 1).min(self.max)
                });
            }
        }
        Some(self.max)
    }

    /// Adds another histogram's counts to this one.
    pub fn merge(&mut self, other: &GapHistogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += b;
        }
        self.max = self.max.max(other.max);
    }

    /// The non-empty buckets as (milliseconds, count).
    pub fn buckets(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(ms, n)| (ms as u64, *n))
    }
}

/// `{"max_us": .., "count": .., "ms": {"7": 120, "8": 410, ..}}`: only the
/// non-empty buckets, keyed by their lower edge in milliseconds.
impl Serialize for GapHistogram {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Buckets<'a>(&'a GapHistogram);
        impl Serialize for Buckets<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(None)?;
                for (ms, n) in self.0.buckets() {
                    map.serialize_entry(&ms.to_string(), &n)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(3))?;
        let max_us = u64::try_from(self.max.as_micros()).unwrap_or(u64::MAX);
        map.serialize_entry("max_us", &max_us)?;
        map.serialize_entry("count", &self.count())?;
        map.serialize_entry("ms", &Buckets(self))?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn gaps_fall_in_millisecond_buckets_and_the_tail_keeps_its_max() {
        let mut h = GapHistogram::default();
        for gap in [ms(7), ms(8), Duration::from_micros(8_900), ms(9), ms(120)] {
            h.record(gap);
        }
        assert_eq!(h.count(), 5);
        assert_eq!(h.max(), ms(120));
        assert_eq!(
            h.buckets().collect::<Vec<_>>(),
            [(7, 1), (8, 2), (9, 1), (63, 1)]
        );
        assert_eq!(h.at_least_ms(9), 2);
        assert_eq!(h.at_least_ms(30), 1);
    }

    #[test]
    fn quantiles_are_bucket_upper_edges_by_nearest_rank() {
        let mut h = GapHistogram::default();
        assert_eq!(h.quantile(0.99), None);
        for _ in 0..99 {
            h.record(Duration::from_micros(8_500));
        }
        h.record(ms(25));
        assert_eq!(h.quantile(0.5), Some(ms(9)));
        assert_eq!(h.quantile(0.99), Some(ms(9)));
        assert_eq!(h.quantile(1.0), Some(ms(25)));
        h.record(ms(500));
        assert_eq!(
            h.quantile(1.0),
            Some(ms(500)),
            "the overflow bucket is the max"
        );
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_larger_max() {
        let (mut a, mut b) = (GapHistogram::default(), GapHistogram::default());
        a.record(ms(8));
        b.record(ms(8));
        b.record(ms(31));
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.max(), ms(31));
        assert_eq!(a.at_least_ms(30), 1);
    }

    #[test]
    fn serializes_only_the_buckets_in_use() {
        let mut h = GapHistogram::default();
        h.record(Duration::from_micros(8_250));
        h.record(Duration::from_micros(9_500));
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"max_us": 9500, "count": 2, "ms": {"8": 1, "9": 1}})
        );
    }
}
