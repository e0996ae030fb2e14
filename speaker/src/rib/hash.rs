//! The hashes of the route table's maps: keys are addresses, hashed fast
//! and seeded per table, and host routes keep the addresses of an aligned
//! block in neighbouring buckets.

use std::hash::{BuildHasher, Hasher};

/// Builds the hashers of the table's maps.
///
/// Keys are addresses: 4 or 16 bytes. SipHash, std's default, cost a tenth
/// of a bulk insert for them; this is one 64x64->128-bit multiply, folded,
/// per 8 bytes of key and one to finish. The seed is random per table
/// (from std's `RandomState`), so a peer cannot aim its prefixes at one
/// bucket without knowing it.
#[derive(Debug, Clone, Copy)]
pub struct KeyHash {
    seed: u64,
}

impl Default for KeyHash {
    fn default() -> Self {
        Self {
            seed: std::hash::RandomState::new().hash_one(FOLD_A),
        }
    }
}

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

/// The state of one [`KeyHash`] hash.
#[derive(Debug, Clone, Copy)]
pub struct KeyHasher(u64);

/// Odd constants with mixed bits (the fractional parts of the golden ratio
/// and of pi).
const FOLD_A: u64 = 0x9e37_79b9_7f4a_7c15;
const FOLD_B: u64 = 0x243f_6a88_85a3_08d3;

/// The 128-bit product of `a` and `b`, its halves xored.
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let v = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            self.write_u64(v);
        }
    }

    fn write_u8(&mut self, v: u8) {
        self.write_u64(v.into());
    }

    fn write_u16(&mut self, v: u16) {
        self.write_u64(v.into());
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(v.into());
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = fold(self.0 ^ v, FOLD_A);
    }

    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.0, FOLD_B)
    }
}

/// Builds the hashers of the host-route maps, whose keys are whole
/// addresses (`u32`, `u128`).
///
/// The hash keeps the low [`BLOCK_BITS`] bits of the address as the low
/// bits of the bucket index and draws the rest from a seeded mix of the
/// address above them: the 64 addresses of an aligned block land in 64
/// neighbouring buckets (one line of control bytes, one run of entries)
/// at a place that is random per table. A feed or a dump in address order,
/// as sorted routing tables send them and as VMs are numbered from a pool,
/// then writes the table a block at a time instead of missing the cache
/// on every route. The top 7 bits, hashbrown's tag, mix the whole address.
/// A peer cannot aim more than the 64 addresses of one block at one place
/// without knowing the seed; prefixes in random order cost what they would
/// with any hash.
#[derive(Debug, Clone, Copy)]
pub struct HostHash {
    seed: u64,
}

/// Low address bits kept as bucket-index bits: 64 addresses to a block.
pub const BLOCK_BITS: u32 = 6;

/// hashbrown's tag: the top 7 bits of the hash.
const TAG: u64 = 0xfe00_0000_0000_0000;

impl Default for HostHash {
    fn default() -> Self {
        Self {
            seed: std::hash::RandomState::new().hash_one(FOLD_B),
        }
    }
}

impl BuildHasher for HostHash {
    type Hasher = HostHasher;

    fn build_hasher(&self) -> HostHasher {
        HostHasher {
            seed: self.seed,
            hash: self.seed,
        }
    }
}

/// The state of one [`HostHash`] hash.
#[derive(Debug, Clone, Copy)]
pub struct HostHasher {
    seed: u64,
    hash: u64,
}

impl Hasher for HostHasher {
    /// Any other key: a seeded folded multiply, without locality.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let v = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
            self.hash = fold(self.hash ^ v, FOLD_A);
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u128(v.into());
    }

    fn write_u128(&mut self, v: u128) {
        let (hi, lo) = ((v >> 64) as u64, v as u64);
        let top = fold(self.seed ^ hi, FOLD_A);
        let block = fold(top ^ (lo >> BLOCK_BITS), FOLD_B);
        let whole = fold(top ^ lo, FOLD_A);
        let low = (1u64 << BLOCK_BITS) - 1;
        self.hash = (whole & TAG) | ((block << BLOCK_BITS) & !TAG) | (lo & low);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn host_hash_keeps_a_block_of_addresses_together_and_scatters_blocks() {
        let build = HostHash::default();
        let base = 0x6440_0000u32;
        let h = |a: u32| build.hash_one(a);
        let mask = (1u64 << 21) - 1;
        for i in 0..64 {
            assert_eq!(h(base + i) & mask, (h(base) & mask) + u64::from(i), "{i}");
        }
        let tags: std::collections::HashSet<u64> = (0..64).map(|i| h(base + i) >> 57).collect();
        assert!(tags.len() > 30, "tags of one block: {}", tags.len());
        let blocks: std::collections::HashSet<u64> = (0..1024)
            .map(|b| (h(base + b * 64) & mask) >> BLOCK_BITS)
            .collect();
        assert!(
            blocks.len() > 950,
            "{} distinct places for 1024 blocks",
            blocks.len()
        );
        let v6 = |a: u128| build.hash_one(a);
        let six = 0x2001_0db8_u128 << 96;
        assert_eq!(v6(six + 5) & mask, (v6(six) & mask) + 5);
        assert_ne!(
            h(base) & mask,
            HostHash::default().hash_one(base) & mask,
            "seeded"
        );
    }

    #[test]
    fn key_hash_spreads_neighbouring_addresses_over_buckets_and_tags() {
        let build = KeyHash::default();
        let hashes: Vec<u64> = (0..4096u32)
            .map(|i| build.hash_one(Ipv4Addr::from(0x6440_0000 + i)))
            .collect();
        // Bucket index: the low bits; control tag: the top 7 bits.
        let buckets: std::collections::HashSet<u64> = hashes.iter().map(|h| h & 0xfff).collect();
        let tags: std::collections::HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(
            buckets.len() > 2400,
            "{} distinct buckets of 4096",
            buckets.len()
        );
        assert_eq!(tags.len(), 128);
        assert_ne!(
            build.hash_one(Ipv4Addr::new(10, 0, 0, 1)),
            KeyHash::default().hash_one(Ipv4Addr::new(10, 0, 0, 1)),
            "seeded per table"
        );
    }
}
