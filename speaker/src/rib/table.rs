//! The route table: one entry per prefix, holding every path to it.
//!
//! ```text
//!   Table ─┬─ v4:    HashMap<u32, Paths>     /32 host routes (4-byte key)   HostHash
//!          ├─ v6:    HashMap<u128, Paths>    /128 host routes (16-byte key) HostHash
//!          └─ other: HashMap<IpNet, Paths>   any other prefix               KeyHash
//!
//!   HostHash: the 64 addresses of an aligned block go to 64 neighbouring
//!   buckets at a random (seeded) place; KeyHash: a seeded folded multiply.
//!
//!   Paths = One(Path)                 16 bytes inline: the common case
//!         | Many(Box<Vec<Path>>)      sorted by (Adj-RIB-Out?, source, path id)
//!
//!   Path  = Arc<PathAttrs> + path id (u32) + source (u16) + flags (u8)
//!           flags: BEST | STALE | OUT
//! ```
//!
//! Adj-RIB-In, Loc-RIB and Adj-RIB-Out are views of the same entries rather
//! than maps of their own: the Adj-RIB-In of a peer is its paths without
//! `OUT`, the Loc-RIB is the path flagged `BEST`, and the Adj-RIB-Out of a
//! peer is its path flagged `OUT` (the attributes last sent to it). A prefix
//! is stored once however many peers have it, and one /32 from one peer
//! costs a 4-byte key, a 16-byte `Paths`, and the hash table's control byte
//! and spare capacity.

use std::collections::HashMap;
use std::collections::hash_map;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::SourceId;
use super::attrs::PathAttrs;

/// Path flag bits.
pub mod flags {
    /// The Loc-RIB: this path is the best one for its prefix.
    pub const BEST: u8 = 0x01;
    /// Kept through a graceful restart or route refresh; swept unless
    /// re-announced.
    pub const STALE: u8 = 0x02;
    /// An Adj-RIB-Out record: what was last announced to peer `source`.
    pub const OUT: u8 = 0x04;
}

/// One path to a prefix, or one Adj-RIB-Out record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub attrs: Arc<PathAttrs>,
    pub path_id: u32,
    pub source: SourceId,
    pub flags: u8,
}

impl Path {
    pub fn new(source: SourceId, path_id: u32, attrs: Arc<PathAttrs>) -> Self {
        Self {
            attrs,
            path_id,
            source,
            flags: 0,
        }
    }

    /// An Adj-RIB-Out record for `peer`.
    pub fn out(peer: SourceId, attrs: Arc<PathAttrs>) -> Self {
        Self {
            attrs,
            path_id: 0,
            source: peer,
            flags: flags::OUT,
        }
    }

    pub fn is_best(&self) -> bool {
        self.flags & flags::BEST != 0
    }

    pub fn is_stale(&self) -> bool {
        self.flags & flags::STALE != 0
    }

    pub fn is_out(&self) -> bool {
        self.flags & flags::OUT != 0
    }

    /// Sort key within an entry: received paths first, then Adj-RIB-Out.
    fn key(&self) -> (bool, SourceId, u32) {
        (self.is_out(), self.source, self.path_id)
    }
}

/// The paths of one prefix; never empty (an empty entry is removed).
#[derive(Debug, Clone)]
pub enum Paths {
    One(Path),
    Many(Box<Vec<Path>>),
}

impl Paths {
    pub fn as_slice(&self) -> &[Path] {
        match self {
            Self::One(p) => std::slice::from_ref(p),
            Self::Many(v) => v,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [Path] {
        match self {
            Self::One(p) => std::slice::from_mut(p),
            Self::Many(v) => v,
        }
    }

    /// Received paths (Adj-RIB-In of every source), in (source, path id) order.
    pub fn received(&self) -> impl Iterator<Item = &Path> {
        self.as_slice().iter().filter(|p| !p.is_out())
    }

    /// The Loc-RIB path.
    pub fn best(&self) -> Option<&Path> {
        self.as_slice().iter().find(|p| p.is_best())
    }

    /// The received path from `source` with `path_id`.
    pub fn find(&self, source: SourceId, path_id: u32) -> Option<&Path> {
        self.as_slice()
            .binary_search_by_key(&(false, source, path_id), Path::key)
            .ok()
            .and_then(|i| self.as_slice().get(i))
    }

    /// The Adj-RIB-Out record for `peer`.
    pub fn out(&self, peer: SourceId) -> Option<&Path> {
        self.as_slice()
            .binary_search_by_key(&(true, peer, 0), Path::key)
            .ok()
            .and_then(|i| self.as_slice().get(i))
    }

    /// Inserts `path`, replacing the one with the same key; returns it.
    pub fn upsert(&mut self, path: Path) -> Option<Path> {
        match self {
            Self::One(p) if p.key() == path.key() => Some(std::mem::replace(p, path)),
            Self::One(p) => {
                let (a, b) = if p.key() < path.key() {
                    (p.clone(), path)
                } else {
                    (path, p.clone())
                };
                *self = Self::Many(Box::new(vec![a, b]));
                None
            }
            Self::Many(v) => match v.binary_search_by_key(&path.key(), Path::key) {
                Ok(i) => v.get_mut(i).map(|old| std::mem::replace(old, path)),
                Err(i) => {
                    v.insert(i, path);
                    None
                }
            },
        }
    }

    /// Removes every path for which `remove` holds; returns them. The
    /// caller drops the entry if [`Paths::is_empty`] afterwards.
    pub fn take_where(&mut self, mut remove: impl FnMut(&Path) -> bool) -> Vec<Path> {
        match self {
            Self::One(p) => {
                if !remove(p) {
                    return Vec::new();
                }
                match std::mem::replace(self, Self::Many(Box::default())) {
                    Self::One(p) => vec![p],
                    Self::Many(_) => Vec::new(),
                }
            }
            Self::Many(v) => {
                let taken: Vec<Path> = v.extract_if(.., |p| remove(p)).collect();
                if v.len() == 1
                    && let Some(last) = v.pop()
                {
                    *self = Self::One(last);
                }
                taken
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Many(v) if v.is_empty())
    }

    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::One(_) => 0,
            Self::Many(v) => size_of::<Vec<Path>>() + v.capacity() * size_of::<Path>(),
        }
    }
}

/// All entries, keyed compactly for host routes.
#[derive(Debug, Default)]
pub struct Table {
    v4: HashMap<u32, Paths, HostHash>,
    v6: HashMap<u128, Paths, HostHash>,
    other: HashMap<IpNet, Paths, KeyHash>,
}

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

/// An entry of the table, found with one hash probe.
pub enum Entry<'a> {
    Occupied(&'a mut Paths),
    Vacant(Vacant<'a>),
}

/// Where a new prefix goes.
pub enum Vacant<'a> {
    V4(hash_map::VacantEntry<'a, u32, Paths>),
    V6(hash_map::VacantEntry<'a, u128, Paths>),
    Other(hash_map::VacantEntry<'a, IpNet, Paths>),
}

impl Vacant<'_> {
    /// Creates the entry with `path` as its only path.
    pub fn insert(self, path: Path) {
        let paths = Paths::One(path);
        match self {
            Self::V4(v) => drop(v.insert(paths)),
            Self::V6(v) => drop(v.insert(paths)),
            Self::Other(v) => drop(v.insert(paths)),
        }
    }
}

fn entry_of<'a, K: std::hash::Hash + Eq>(
    e: hash_map::Entry<'a, K, Paths>,
    vacant: impl FnOnce(hash_map::VacantEntry<'a, K, Paths>) -> Vacant<'a>,
) -> Entry<'a> {
    match e {
        hash_map::Entry::Occupied(o) => Entry::Occupied(o.into_mut()),
        hash_map::Entry::Vacant(v) => Entry::Vacant(vacant(v)),
    }
}

enum Key {
    V4(u32),
    V6(u128),
    Other(IpNet),
}

fn key(prefix: &IpNet) -> Key {
    match prefix {
        IpNet::V4(p) if p.prefix_len() == 32 => Key::V4(p.addr().into()),
        IpNet::V6(p) if p.prefix_len() == 128 => Key::V6(p.addr().into()),
        p => Key::Other(p.trunc()),
    }
}

fn host_v4(a: u32) -> IpNet {
    IpNet::V4(Ipv4Net::from(Ipv4Addr::from(a)))
}

fn host_v6(a: u128) -> IpNet {
    IpNet::V6(Ipv6Net::from(Ipv6Addr::from(a)))
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&Paths> {
        match key(prefix) {
            Key::V4(a) => self.v4.get(&a),
            Key::V6(a) => self.v6.get(&a),
            Key::Other(p) => self.other.get(&p),
        }
    }

    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut Paths> {
        match key(prefix) {
            Key::V4(a) => self.v4.get_mut(&a),
            Key::V6(a) => self.v6.get_mut(&a),
            Key::Other(p) => self.other.get_mut(&p),
        }
    }

    /// The entry for `prefix`, existing or not: one probe where
    /// [`Table::get_mut`] then [`Table::insert_new`] would take two.
    pub fn entry(&mut self, prefix: &IpNet) -> Entry<'_> {
        match key(prefix) {
            Key::V4(a) => entry_of(self.v4.entry(a), Vacant::V4),
            Key::V6(a) => entry_of(self.v6.entry(a), Vacant::V6),
            Key::Other(p) => entry_of(self.other.entry(p), Vacant::Other),
        }
    }

    /// Creates the entry with `path` as its only path. The caller has
    /// checked that there is none.
    pub fn insert_new(&mut self, prefix: &IpNet, path: Path) {
        let paths = Paths::One(path);
        match key(prefix) {
            Key::V4(a) => self.v4.insert(a, paths),
            Key::V6(a) => self.v6.insert(a, paths),
            Key::Other(p) => self.other.insert(p, paths),
        };
    }

    /// Drops the entry if it has no paths left.
    pub fn remove_if_empty(&mut self, prefix: &IpNet) {
        if self.get(prefix).is_some_and(Paths::is_empty) {
            match key(prefix) {
                Key::V4(a) => self.v4.remove(&a),
                Key::V6(a) => self.v6.remove(&a),
                Key::Other(p) => self.other.remove(&p),
            };
        }
    }

    /// Number of prefixes.
    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len() + self.other.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (IpNet, &Paths)> {
        self.v4
            .iter()
            .map(|(a, p)| (host_v4(*a), p))
            .chain(self.v6.iter().map(|(a, p)| (host_v6(*a), p)))
            .chain(self.other.iter().map(|(n, p)| (*n, p)))
    }

    /// Every prefix whose entry satisfies `pred`.
    pub fn prefixes_where(&self, mut pred: impl FnMut(&Paths) -> bool) -> Vec<IpNet> {
        self.iter()
            .filter(|(_, p)| pred(p))
            .map(|(n, _)| n)
            .collect()
    }

    /// Runs `f` on every entry; drops entries left empty.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(IpNet, &mut Paths)) {
        self.v4.retain(|a, p| {
            f(host_v4(*a), p);
            !p.is_empty()
        });
        self.v6.retain(|a, p| {
            f(host_v6(*a), p);
            !p.is_empty()
        });
        self.other.retain(|n, p| {
            f(*n, p);
            !p.is_empty()
        });
    }

    /// Heap bytes of the table itself (keys, `Paths`, control bytes and
    /// spare capacity, multi-path vectors), without the shared attributes.
    pub fn heap_bytes(&self) -> usize {
        fn map<K, S>(m: &HashMap<K, Paths, S>) -> usize {
            // hashbrown: one control byte per bucket plus a 16-byte group
            // tail; capacity() is 7/8 of the buckets.
            let buckets = if m.capacity() == 0 {
                0
            } else {
                (m.capacity() * 8 / 7).next_power_of_two()
            };
            let slot = size_of::<(K, Paths)>();
            buckets * (slot + 1) + 16 + m.values().map(Paths::heap_bytes).sum::<usize>()
        }
        map(&self.v4) + map(&self.v6) + map(&self.other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs() -> Arc<PathAttrs> {
        Arc::new(PathAttrs::default())
    }

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

    #[test]
    fn paths_stay_small() {
        assert_eq!(size_of::<Path>(), 16);
        assert_eq!(size_of::<Paths>(), 16, "One(Path) inline, Many boxed");
        assert_eq!(size_of::<(u32, Paths)>(), 24);
    }

    #[test]
    fn upsert_keeps_order_and_replaces_same_key() {
        let a = attrs();
        let mut p = Paths::One(Path::new(SourceId(3), 0, a.clone()));
        assert!(p.upsert(Path::new(SourceId(1), 0, a.clone())).is_none());
        assert!(p.upsert(Path::out(SourceId(0), a.clone())).is_none());
        assert!(p.upsert(Path::new(SourceId(2), 7, a.clone())).is_none());
        let keys: Vec<_> = p.as_slice().iter().map(Path::key).collect();
        assert_eq!(
            keys,
            vec![
                (false, SourceId(1), 0),
                (false, SourceId(2), 7),
                (false, SourceId(3), 0),
                (true, SourceId(0), 0)
            ]
        );
        assert!(p.upsert(Path::new(SourceId(2), 7, a.clone())).is_some());
        assert_eq!(p.len(), 4);
        assert!(p.find(SourceId(2), 7).is_some());
        assert!(p.out(SourceId(0)).is_some());
        assert!(p.out(SourceId(1)).is_none());
    }

    #[test]
    fn take_where_shrinks_back_to_one_and_to_empty() {
        let a = attrs();
        let mut p = Paths::One(Path::new(SourceId(1), 0, a.clone()));
        p.upsert(Path::new(SourceId(2), 0, a.clone()));
        assert_eq!(p.take_where(|x| x.source == SourceId(1)).len(), 1);
        assert!(matches!(p, Paths::One(_)));
        assert_eq!(p.take_where(|x| x.source == SourceId(2)).len(), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn host_routes_and_other_prefixes_share_one_interface() {
        let mut t = Table::new();
        for s in [
            "10.0.0.1/32",
            "2001:db8::1/128",
            "10.0.0.0/24",
            "2001:db8::/64",
        ] {
            let n: IpNet = s.parse().unwrap();
            t.insert_new(&n, Path::new(SourceId(1), 0, attrs()));
            assert!(t.get(&n).is_some(), "{s}");
        }
        assert_eq!(t.len(), 4);
        let mut all: Vec<String> = t.iter().map(|(n, _)| n.to_string()).collect();
        all.sort();
        assert_eq!(
            all,
            [
                "10.0.0.0/24",
                "10.0.0.1/32",
                "2001:db8::/64",
                "2001:db8::1/128"
            ]
        );
        let n: IpNet = "10.0.0.1/32".parse().unwrap();
        t.get_mut(&n).unwrap().take_where(|_| true);
        t.remove_if_empty(&n);
        assert_eq!(t.len(), 3);
        t.for_each_mut(|_, p| {
            p.take_where(|_| true);
        });
        assert!(t.is_empty());
    }
}
