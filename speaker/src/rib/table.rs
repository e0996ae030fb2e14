//! The route table: one entry per prefix, holding every path to it.
//!
//! ```text
//!   Table ─┬─ v4:    HashMap<Keyed<u32>, Paths>    /32 host routes   HostHash
//!          ├─ v6:    HashMap<Keyed<V6>, Paths>     /128 host routes  HostHash
//!          └─ other: HashMap<Keyed<IpNet>, Paths>  any other prefix  KeyHash
//!
//!   Keyed = the key + when the entry's single path was set (u32 seconds,
//!           in the padding of the map's slot; hashed and compared as the key)
//!
//!   HostHash: the 64 addresses of an aligned block go to 64 neighbouring
//!   buckets at a random (seeded) place; KeyHash: a seeded folded multiply.
//!
//!   Paths = One(Path)                 16 bytes inline: the common case
//!         | Many(Box<Vec<Timed>>)     sorted by (Adj-RIB-Out?, source, path id),
//!                                     each path with when it was set
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
//! costs a 4-byte key, its 4-byte time, a 16-byte `Paths`, and the hash
//! table's control byte and spare capacity: 24 bytes a slot, as without
//! the time.

// A `Keyed` key changes only its `Cell`, which its `Hash` and `Eq` ignore.
#![allow(clippy::mutable_key_type)]

use std::cell::Cell;
use std::collections::HashMap;
use std::collections::hash_map;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use super::SourceId;
use super::attrs::PathAttrs;
pub use super::hash::{HostHash, KeyHash};

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

/// A path of an entry with several, and when it was set.
#[derive(Debug, Clone)]
pub struct Timed {
    pub path: Path,
    /// Seconds on the RIB's clock ([`super::Rib::set_clock`]).
    pub since: u32,
}

/// The paths of one prefix; never empty (an empty entry is removed).
///
/// When each received path was set is kept beside it in `Many`; the
/// single path of `One` has its time in the table's key (see [`Keyed`]),
/// so the methods that can move a path between the two take that time and
/// return it.
#[derive(Debug, Clone)]
pub enum Paths {
    One(Path),
    Many(Box<Vec<Timed>>),
}

impl Paths {
    /// Every path, in (Adj-RIB-Out?, source, path id) order.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        let (one, many) = match self {
            Self::One(p) => (Some(p), &[][..]),
            Self::Many(v) => (None, v.as_slice()),
        };
        one.into_iter().chain(many.iter().map(|t| &t.path))
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut Path> {
        let (one, many) = match self {
            Self::One(p) => (Some(p), &mut [][..]),
            Self::Many(v) => (None, v.as_mut_slice()),
        };
        one.into_iter().chain(many.iter_mut().map(|t| &mut t.path))
    }

    /// Every path with when it was set; `one_since` is the time kept in
    /// the key for `One`.
    pub fn timed(&self, one_since: u32) -> impl Iterator<Item = (&Path, u32)> {
        let (one, many) = match self {
            Self::One(p) => (Some((p, one_since)), &[][..]),
            Self::Many(v) => (None, v.as_slice()),
        };
        one.into_iter()
            .chain(many.iter().map(|t| (&t.path, t.since)))
    }

    /// Received paths (Adj-RIB-In of every source), in (source, path id) order.
    pub fn received(&self) -> impl Iterator<Item = &Path> {
        self.iter().filter(|p| !p.is_out())
    }

    /// The Loc-RIB path.
    pub fn best(&self) -> Option<&Path> {
        self.iter().find(|p| p.is_best())
    }

    fn find_key(&self, key: (bool, SourceId, u32)) -> Option<&Path> {
        match self {
            Self::One(p) => (p.key() == key).then_some(p),
            Self::Many(v) => v
                .binary_search_by_key(&key, |t| t.path.key())
                .ok()
                .and_then(|i| v.get(i))
                .map(|t| &t.path),
        }
    }

    /// The received path from `source` with `path_id`.
    pub fn find(&self, source: SourceId, path_id: u32) -> Option<&Path> {
        self.find_key((false, source, path_id))
    }

    /// The Adj-RIB-Out record for `peer`.
    pub fn out(&self, peer: SourceId) -> Option<&Path> {
        self.find_key((true, peer, 0))
    }

    /// Inserts `path` at `now`, replacing the one with the same key, which
    /// it returns. A replacement with the very same (interned) attributes
    /// keeps its time: a re-announcement is not a change. Returns the time
    /// of `One`'s path afterwards (`one_since` is the one before).
    pub fn upsert(&mut self, path: Path, now: u32, one_since: u32) -> (Option<Path>, u32) {
        let attrs = Arc::as_ptr(&path.attrs);
        let since_of = |old: &Path, since: u32| {
            if std::ptr::eq(Arc::as_ptr(&old.attrs), attrs) {
                since
            } else {
                now
            }
        };
        match self {
            Self::One(p) if p.key() == path.key() => {
                let since = since_of(p, one_since);
                (Some(std::mem::replace(p, path)), since)
            }
            Self::One(p) => {
                let old = Timed {
                    path: p.clone(),
                    since: one_since,
                };
                let new = Timed { path, since: now };
                let pair = if old.path.key() < new.path.key() {
                    vec![old, new]
                } else {
                    vec![new, old]
                };
                *self = Self::Many(Box::new(pair));
                (None, one_since)
            }
            Self::Many(v) => match v.binary_search_by_key(&path.key(), |t| t.path.key()) {
                Ok(i) => {
                    let old = v.get_mut(i).map(|t| {
                        t.since = since_of(&t.path, t.since);
                        std::mem::replace(&mut t.path, path)
                    });
                    (old, one_since)
                }
                Err(i) => {
                    v.insert(i, Timed { path, since: now });
                    (None, one_since)
                }
            },
        }
    }

    /// Removes every path for which `remove` holds; returns them, and the
    /// time of `One`'s path afterwards. The caller drops the entry if
    /// [`Paths::is_empty`] afterwards.
    pub fn take_where(
        &mut self,
        one_since: u32,
        mut remove: impl FnMut(&Path) -> bool,
    ) -> (Vec<Path>, u32) {
        match self {
            Self::One(p) => {
                if !remove(p) {
                    return (Vec::new(), one_since);
                }
                match std::mem::replace(self, Self::Many(Box::default())) {
                    Self::One(p) => (vec![p], one_since),
                    Self::Many(_) => (Vec::new(), one_since),
                }
            }
            Self::Many(v) => {
                let taken: Vec<Path> = v
                    .extract_if(.., |t| remove(&t.path))
                    .map(|t| t.path)
                    .collect();
                if v.len() == 1
                    && let Some(last) = v.pop()
                {
                    *self = Self::One(last.path);
                    return (taken, last.since);
                }
                (taken, one_since)
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Many(v) if v.is_empty())
    }

    pub fn len(&self) -> usize {
        match self {
            Self::One(_) => 1,
            Self::Many(v) => v.len(),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Self::One(_) => 0,
            Self::Many(v) => size_of::<Vec<Timed>>() + v.capacity() * size_of::<Timed>(),
        }
    }
}

/// A key of the table's maps with the time the entry's single path was
/// set. Hashing and equality look at the key alone; the time is a `Cell`
/// so it can change while the key sits in the map. It rides in what would
/// be padding: `(u32, Paths)` has four spare bytes and `(IpNet, Paths)`
/// six, so it costs nothing for IPv4 host routes and other
/// prefixes; an IPv6 host key, 16 bytes of alignment 16 as a `u128`, is
/// kept as two `u64` so that the pair takes 40 bytes instead of 48 (8
/// more than without the time).
#[derive(Debug, Clone)]
pub struct Keyed<K> {
    key: K,
    since: Cell<u32>,
}

impl<K> Keyed<K> {
    fn new(key: K, since: u32) -> Self {
        Self {
            key,
            since: Cell::new(since),
        }
    }
}

impl<K: Hash> Hash for Keyed<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl<K: PartialEq> PartialEq for Keyed<K> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<K: Eq> Eq for Keyed<K> {}

/// An IPv6 address as a map key: hashed as the `u128` it is, stored with
/// the alignment of a `u64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V6([u64; 2]);

impl V6 {
    fn new(a: u128) -> Self {
        Self([(a >> 64) as u64, a as u64])
    }

    fn get(self) -> u128 {
        let [hi, lo] = self.0;
        (u128::from(hi) << 64) | u128::from(lo)
    }
}

impl Hash for V6 {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(self.get());
    }
}

/// All entries, keyed compactly for host routes.
#[derive(Debug, Default)]
pub struct Table {
    v4: HashMap<Keyed<u32>, Paths, HostHash>,
    v6: HashMap<Keyed<V6>, Paths, HostHash>,
    other: HashMap<Keyed<IpNet>, Paths, KeyHash>,
}

/// An entry of the table, found with one hash probe.
pub enum Entry<'a> {
    Occupied(Occupied<'a>),
    Vacant(Vacant<'a>),
}

type Map<K, S> = HashMap<Keyed<K>, Paths, S>;

/// Where a new prefix goes.
pub enum Vacant<'a> {
    V4(hash_map::VacantEntry<'a, Keyed<u32>, Paths>),
    V6(hash_map::VacantEntry<'a, Keyed<V6>, Paths>),
    Other(hash_map::VacantEntry<'a, Keyed<IpNet>, Paths>),
}

impl Vacant<'_> {
    /// Creates the entry with `path`, set at `since`, as its only path.
    pub fn insert(self, path: Path, since: u32) {
        let paths = Paths::One(path);
        // The key went in with the lookup's time; set it on the way in.
        let set = |k: &Cell<u32>| k.set(since);
        match self {
            Self::V4(v) => {
                set(&v.key().since);
                v.insert(paths);
            }
            Self::V6(v) => {
                set(&v.key().since);
                v.insert(paths);
            }
            Self::Other(v) => {
                set(&v.key().since);
                v.insert(paths);
            }
        }
    }
}

/// An existing entry: its paths, and the time of its single path, which
/// [`Occupied::upsert`] and [`Occupied::take_where`] keep right.
pub enum Occupied<'a> {
    V4(hash_map::OccupiedEntry<'a, Keyed<u32>, Paths>),
    V6(hash_map::OccupiedEntry<'a, Keyed<V6>, Paths>),
    Other(hash_map::OccupiedEntry<'a, Keyed<IpNet>, Paths>),
}

impl Occupied<'_> {
    pub fn paths(&mut self) -> &mut Paths {
        match self {
            Self::V4(o) => o.get_mut(),
            Self::V6(o) => o.get_mut(),
            Self::Other(o) => o.get_mut(),
        }
    }

    fn since(&self) -> &Cell<u32> {
        match self {
            Self::V4(o) => &o.key().since,
            Self::V6(o) => &o.key().since,
            Self::Other(o) => &o.key().since,
        }
    }

    /// [`Paths::upsert`], keeping the key's time.
    pub fn upsert(&mut self, path: Path, now: u32) -> Option<Path> {
        let one = self.since().get();
        let (old, one) = self.paths().upsert(path, now, one);
        self.since().set(one);
        old
    }

    /// [`Paths::take_where`], keeping the key's time.
    pub fn take_where(&mut self, remove: impl FnMut(&Path) -> bool) -> Vec<Path> {
        let one = self.since().get();
        let (taken, one) = self.paths().take_where(one, remove);
        self.since().set(one);
        taken
    }
}

fn entry_of<'a, K: Hash + Eq, S: BuildHasher>(
    map: &'a mut Map<K, S>,
    key: K,
    occupied: impl FnOnce(hash_map::OccupiedEntry<'a, Keyed<K>, Paths>) -> Occupied<'a>,
    vacant: impl FnOnce(hash_map::VacantEntry<'a, Keyed<K>, Paths>) -> Vacant<'a>,
) -> Entry<'a> {
    match map.entry(Keyed::new(key, 0)) {
        hash_map::Entry::Occupied(o) => Entry::Occupied(occupied(o)),
        hash_map::Entry::Vacant(v) => Entry::Vacant(vacant(v)),
    }
}

/// An entry's paths, and the time of its single path, in
/// [`Table::for_each_mut`].
pub struct Slot<'a> {
    pub paths: &'a mut Paths,
    since: &'a Cell<u32>,
}

impl Slot<'_> {
    /// [`Paths::take_where`], keeping the key's time.
    pub fn take_where(&mut self, remove: impl FnMut(&Path) -> bool) -> Vec<Path> {
        let (taken, one) = self.paths.take_where(self.since.get(), remove);
        self.since.set(one);
        taken
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

fn host_v6(a: V6) -> IpNet {
    IpNet::V6(Ipv6Net::from(Ipv6Addr::from(a.get())))
}

/// Runs `f` on every entry of one map; drops entries left empty.
fn retain<K, S>(
    map: &mut Map<K, S>,
    prefix: impl Fn(&K) -> IpNet,
    f: &mut impl FnMut(IpNet, Slot<'_>),
) {
    map.retain(|k, paths| {
        f(
            prefix(&k.key),
            Slot {
                paths,
                since: &k.since,
            },
        );
        !paths.is_empty()
    });
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn get(&self, prefix: &IpNet) -> Option<&Paths> {
        self.get_timed(prefix).map(|(p, _)| p)
    }

    /// The entry's paths and the time of its single path (meaningful for
    /// [`Paths::One`]; see [`Paths::timed`]).
    pub fn get_timed(&self, prefix: &IpNet) -> Option<(&Paths, u32)> {
        match key(prefix) {
            Key::V4(a) => self
                .v4
                .get_key_value(&Keyed::new(a, 0))
                .map(|(k, p)| (p, k.since.get())),
            Key::V6(a) => self
                .v6
                .get_key_value(&Keyed::new(V6::new(a), 0))
                .map(|(k, p)| (p, k.since.get())),
            Key::Other(p) => self
                .other
                .get_key_value(&Keyed::new(p, 0))
                .map(|(k, p)| (p, k.since.get())),
        }
    }

    /// The entry's paths, to change their flags; moving paths in or out
    /// goes through [`Table::entry`] or [`Table::occupied`].
    pub fn get_mut(&mut self, prefix: &IpNet) -> Option<&mut Paths> {
        match key(prefix) {
            Key::V4(a) => self.v4.get_mut(&Keyed::new(a, 0)),
            Key::V6(a) => self.v6.get_mut(&Keyed::new(V6::new(a), 0)),
            Key::Other(p) => self.other.get_mut(&Keyed::new(p, 0)),
        }
    }

    /// The entry for `prefix`, existing or not: one probe where
    /// [`Table::get_mut`] then [`Table::insert_new`] would take two.
    pub fn entry(&mut self, prefix: &IpNet) -> Entry<'_> {
        match key(prefix) {
            Key::V4(a) => entry_of(&mut self.v4, a, Occupied::V4, Vacant::V4),
            Key::V6(a) => entry_of(&mut self.v6, V6::new(a), Occupied::V6, Vacant::V6),
            Key::Other(p) => entry_of(&mut self.other, p, Occupied::Other, Vacant::Other),
        }
    }

    /// The existing entry for `prefix`.
    pub fn occupied(&mut self, prefix: &IpNet) -> Option<Occupied<'_>> {
        match self.entry(prefix) {
            Entry::Occupied(o) => Some(o),
            Entry::Vacant(_) => None,
        }
    }

    /// Creates the entry with `path`, set at `since`, as its only path.
    /// The caller has checked that there is none.
    pub fn insert_new(&mut self, prefix: &IpNet, path: Path, since: u32) {
        let paths = Paths::One(path);
        match key(prefix) {
            Key::V4(a) => self.v4.insert(Keyed::new(a, since), paths),
            Key::V6(a) => self.v6.insert(Keyed::new(V6::new(a), since), paths),
            Key::Other(p) => self.other.insert(Keyed::new(p, since), paths),
        };
    }

    /// Drops the entry if it has no paths left.
    pub fn remove_if_empty(&mut self, prefix: &IpNet) {
        if self.get(prefix).is_some_and(Paths::is_empty) {
            match key(prefix) {
                Key::V4(a) => self.v4.remove(&Keyed::new(a, 0)),
                Key::V6(a) => self.v6.remove(&Keyed::new(V6::new(a), 0)),
                Key::Other(p) => self.other.remove(&Keyed::new(p, 0)),
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
            .map(|(a, p)| (host_v4(a.key), p))
            .chain(self.v6.iter().map(|(a, p)| (host_v6(a.key), p)))
            .chain(self.other.iter().map(|(n, p)| (n.key, p)))
    }

    /// Every prefix whose entry satisfies `pred`.
    pub fn prefixes_where(&self, mut pred: impl FnMut(&Paths) -> bool) -> Vec<IpNet> {
        self.iter()
            .filter(|(_, p)| pred(p))
            .map(|(n, _)| n)
            .collect()
    }

    /// Runs `f` on every entry; drops entries left empty.
    pub fn for_each_mut(&mut self, mut f: impl FnMut(IpNet, Slot<'_>)) {
        retain(&mut self.v4, |a| host_v4(*a), &mut f);
        retain(&mut self.v6, |a| host_v6(*a), &mut f);
        retain(&mut self.other, |n| *n, &mut f);
    }

    /// Heap bytes of the table itself (keys, `Paths`, control bytes and
    /// spare capacity, multi-path vectors), without the shared attributes.
    pub fn heap_bytes(&self) -> usize {
        fn map<K, S>(m: &Map<K, S>) -> usize {
            // hashbrown: one control byte per bucket plus a 16-byte group
            // tail; capacity() is 7/8 of the buckets.
            let buckets = if m.capacity() == 0 {
                0
            } else {
                (m.capacity() * 8 / 7).next_power_of_two()
            };
            let slot = size_of::<(Keyed<K>, Paths)>();
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
    fn paths_stay_small() {
        assert_eq!(size_of::<Path>(), 16);
        assert_eq!(size_of::<Paths>(), 16, "One(Path) inline, Many boxed");
        // The time of a single path rides in the key's padding: a slot of
        // the IPv4 host map is no bigger than `(u32, Paths)`, nor one of
        // the other prefixes' than `(IpNet, Paths)`; IPv6 host slots grow
        // from 32 to 40 bytes.
        assert_eq!(size_of::<(Keyed<u32>, Paths)>(), 24);
        assert_eq!(size_of::<(u32, Paths)>(), 24);
        assert_eq!(
            size_of::<(Keyed<IpNet>, Paths)>(),
            size_of::<(IpNet, Paths)>()
        );
        assert_eq!(size_of::<(u128, Paths)>(), 32);
        assert_eq!(size_of::<(Keyed<V6>, Paths)>(), 40);
        // Several paths: 8 more bytes each, in the entry's own vector.
        assert_eq!(size_of::<Timed>(), 24);
    }

    fn keys(p: &Paths) -> Vec<(bool, SourceId, u32)> {
        p.iter().map(Path::key).collect()
    }

    #[test]
    fn upsert_keeps_order_and_replaces_same_key() {
        let a = attrs();
        let mut p = Paths::One(Path::new(SourceId(3), 0, a.clone()));
        assert!(
            p.upsert(Path::new(SourceId(1), 0, a.clone()), 1, 0)
                .0
                .is_none()
        );
        assert!(
            p.upsert(Path::out(SourceId(0), a.clone()), 2, 0)
                .0
                .is_none()
        );
        assert!(
            p.upsert(Path::new(SourceId(2), 7, a.clone()), 3, 0)
                .0
                .is_none()
        );
        assert_eq!(
            keys(&p),
            vec![
                (false, SourceId(1), 0),
                (false, SourceId(2), 7),
                (false, SourceId(3), 0),
                (true, SourceId(0), 0)
            ]
        );
        assert!(
            p.upsert(Path::new(SourceId(2), 7, a.clone()), 4, 0)
                .0
                .is_some()
        );
        assert_eq!(p.len(), 4);
        assert!(p.find(SourceId(2), 7).is_some());
        assert!(p.out(SourceId(0)).is_some());
        assert!(p.out(SourceId(1)).is_none());
    }

    #[test]
    fn each_path_keeps_when_it_was_set_through_one_and_many() {
        let (a, b) = (attrs(), attrs());
        let since = |p: &Paths, one: u32| -> Vec<(u16, u32)> {
            p.timed(one).map(|(x, s)| (x.source.0, s)).collect()
        };
        let mut p = Paths::One(Path::new(SourceId(1), 0, a.clone()));
        let one = 10;
        // A second path: the first keeps its time, the new one gets now.
        let (_, one) = p.upsert(Path::new(SourceId(2), 0, a.clone()), 20, one);
        assert_eq!(since(&p, one), vec![(1, 10), (2, 20)]);
        // The same attributes again: not a change. New ones: now.
        let (_, one) = p.upsert(Path::new(SourceId(1), 0, a.clone()), 30, one);
        let (_, one) = p.upsert(Path::new(SourceId(2), 0, b.clone()), 40, one);
        assert_eq!(since(&p, one), vec![(1, 10), (2, 40)]);
        // Back to one path: its time goes with it.
        let (taken, one) = p.take_where(one, |x| x.source == SourceId(1));
        assert_eq!(taken.len(), 1);
        assert!(matches!(p, Paths::One(_)));
        assert_eq!(since(&p, one), vec![(2, 40)]);
        let (_, one) = p.upsert(Path::new(SourceId(2), 0, b), 50, one);
        assert_eq!(one, 40, "re-announced unchanged");
        let (_, one) = p.upsert(Path::new(SourceId(2), 0, a), 60, one);
        assert_eq!(one, 60);
    }

    #[test]
    fn take_where_shrinks_back_to_one_and_to_empty() {
        let a = attrs();
        let mut p = Paths::One(Path::new(SourceId(1), 0, a.clone()));
        p.upsert(Path::new(SourceId(2), 0, a.clone()), 0, 0);
        assert_eq!(p.take_where(0, |x| x.source == SourceId(1)).0.len(), 1);
        assert!(matches!(p, Paths::One(_)));
        assert_eq!(p.take_where(0, |x| x.source == SourceId(2)).0.len(), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn host_routes_and_other_prefixes_share_one_interface() {
        let mut t = Table::new();
        for (i, s) in [
            "10.0.0.1/32",
            "2001:db8::1/128",
            "10.0.0.0/24",
            "2001:db8::/64",
        ]
        .into_iter()
        .enumerate()
        {
            let n: IpNet = s.parse().unwrap();
            let since = u32::try_from(i).unwrap() + 100;
            t.insert_new(&n, Path::new(SourceId(1), 0, attrs()), since);
            assert!(t.get(&n).is_some(), "{s}");
            assert_eq!(t.get_timed(&n).map(|(_, s)| s), Some(since), "{s}");
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
        t.occupied(&n).unwrap().take_where(|_| true);
        t.remove_if_empty(&n);
        assert_eq!(t.len(), 3);
        // An entry made by `entry` carries its time too.
        let v6: IpNet = "2001:db8::7/128".parse().unwrap();
        match t.entry(&v6) {
            Entry::Vacant(v) => v.insert(Path::new(SourceId(1), 0, attrs()), 7),
            Entry::Occupied(_) => panic!("not there yet"),
        }
        assert_eq!(t.get_timed(&v6).map(|(_, s)| s), Some(7));
        t.for_each_mut(|_, mut slot| {
            slot.take_where(|_| true);
        });
        assert!(t.is_empty());
    }
}
