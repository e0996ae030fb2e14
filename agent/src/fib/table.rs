//! The FIB service's route state: for each prefix, the route desired and
//! the route the kernel holds, side by side in one small slot.
//!
//! ```text
//!   FibTable ─┬─ v4:      HashMap<Ipv4Addr, Slot>    /32 host routes   12-byte entries
//!             ├─ v6:      HashMap<Ipv6Addr, Slot>    /128 host routes  24-byte entries
//!             ├─ other:   HashMap<IpNet, Slot>       any other length
//!             ├─ hops:    Hops                       each distinct RouteKind once,
//!             │                                      refcounted, found by HopId
//!             └─ foreign: HashMap<RouteKey, Route>   kernel routes of ours under
//!                                                    another table or metric (rare)
//!
//!   Slot = { desired: Option<HopId>, kernel: Option<HopId> }    8 bytes
//! ```
//!
//! Every route one service installs has the same table, protocol and
//! metric ([`RouteParams`]), so within the service a prefix alone names the
//! route: that key is [`RouteParams::key`] of the prefix. What a route
//! does is one of a few next hops (one per gateway, one per local VM
//! interface), so a slot holds an interned `HopId` per side rather than
//! a [`RouteKind`]. A slot exists while either side is set. A kernel route
//! of our protocol found under another key (a metric or table an older
//! configuration used) is never desired; it lives in the `foreign` map
//! until it is deleted. The accessors hand out whole [`Route`]s, so the
//! reconcile logic never sees the packing.
//!
//! One /32 costs a 12-byte entry plus the hash table's control byte and
//! spare capacity: 17 bytes at 100,000 routes, both sides included.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

use ipnet::IpNet;

use super::route::{Route, RouteKey, RouteKind, RouteParams};

/// Index of an interned [`RouteKind`] (1-based, so `Option<HopId>` is 4
/// bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct HopId(NonZeroU32);

impl HopId {
    fn index(self) -> usize {
        // u32 always fits a usize on the platforms this crate builds for
        // (Linux, 32 and 64 bits).
        self.0.get() as usize - 1
    }
}

/// Each distinct [`RouteKind`] in the table once, with the number of slot
/// sides that refer to it; a kind nobody refers to any more is forgotten
/// and its id reused.
#[derive(Debug, Clone, Default)]
struct Hops {
    kinds: Vec<(RouteKind, u32)>,
    index: HashMap<RouteKind, HopId>,
    free: Vec<HopId>,
}

impl Hops {
    fn acquire(&mut self, kind: RouteKind) -> HopId {
        if let Some(&id) = self.index.get(&kind) {
            if let Some(entry) = self.kinds.get_mut(id.index()) {
                entry.1 += 1;
            }
            return id;
        }
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(entry) = self.kinds.get_mut(id.index()) {
                    *entry = (kind, 1);
                }
                id
            }
            None => {
                self.kinds.push((kind, 1));
                // Each id is held by a slot side, so there are fewer ids
                // than twice the routes: far below 2^32.
                let n = u32::try_from(self.kinds.len()).expect("fewer than 2^32 next hops");
                HopId(NonZeroU32::new(n).expect("a length after a push is not zero"))
            }
        };
        self.index.insert(kind, id);
        id
    }

    fn release(&mut self, id: HopId) {
        let Some((kind, refs)) = self.kinds.get_mut(id.index()) else {
            return;
        };
        *refs = refs.saturating_sub(1);
        if *refs == 0 {
            self.index.remove(kind);
            self.free.push(id);
        }
    }

    fn kind(&self, id: HopId) -> RouteKind {
        self.kinds
            .get(id.index())
            .map_or(RouteKind::Other, |(kind, _)| *kind)
    }

    fn heap_bytes(&self) -> usize {
        self.kinds.capacity() * size_of::<(RouteKind, u32)>()
            + hash_table_bytes(self.index.capacity(), size_of::<(RouteKind, HopId)>())
            + self.free.capacity() * size_of::<HopId>()
    }
}

/// The two sides of one prefix.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    desired: Option<HopId>,
    kernel: Option<HopId>,
}

impl Slot {
    fn is_empty(&self) -> bool {
        self.desired.is_none() && self.kernel.is_none()
    }
}

/// One key's desired route and the kernel's route, either possibly absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sides {
    pub desired: Option<Route>,
    pub kernel: Option<Route>,
}

/// The desired routes and the kernel's routes of one FIB service.
#[derive(Debug, Clone)]
pub struct FibTable {
    params: RouteParams,
    v4: HashMap<Ipv4Addr, Slot>,
    v6: HashMap<Ipv6Addr, Slot>,
    other: HashMap<IpNet, Slot>,
    hops: Hops,
    foreign: HashMap<RouteKey, Route>,
    desired_len: usize,
    kernel_len: usize,
}

impl FibTable {
    /// An empty table for routes with these table, protocol and metric.
    pub fn new(params: RouteParams) -> Self {
        Self {
            params,
            v4: HashMap::new(),
            v6: HashMap::new(),
            other: HashMap::new(),
            hops: Hops::default(),
            foreign: HashMap::new(),
            desired_len: 0,
            kernel_len: 0,
        }
    }

    pub fn params(&self) -> RouteParams {
        self.params
    }

    /// Prefixes with a desired route.
    pub fn desired_len(&self) -> usize {
        self.desired_len
    }

    /// Routes the kernel holds of ours, as far as the table knows.
    pub fn kernel_len(&self) -> usize {
        self.kernel_len + self.foreign.len()
    }

    /// Whether `key` is the key our routes have (our table and metric).
    fn is_ours(&self, key: &RouteKey) -> bool {
        *key == self.params.key(key.prefix)
    }

    /// Both sides of `key`.
    pub fn sides(&self, key: &RouteKey) -> Sides {
        if !self.is_ours(key) {
            return Sides {
                desired: None,
                kernel: self.foreign.get(key).copied(),
            };
        }
        let slot = match key.prefix {
            IpNet::V4(n) if n.prefix_len() == 32 => self.v4.get(&n.addr()),
            IpNet::V6(n) if n.prefix_len() == 128 => self.v6.get(&n.addr()),
            _ => self.other.get(&key.prefix),
        };
        slot.map_or_else(Sides::default, |slot| self.expand(*key, *slot))
    }

    fn expand(&self, key: RouteKey, slot: Slot) -> Sides {
        Sides {
            desired: slot
                .desired
                .map(|id| self.params.route(key.prefix, self.hops.kind(id))),
            // The kernel's route keeps the key's metric (an IPv6 metric 0
            // reads back as 1024), so a delete names it exactly.
            kernel: slot.kernel.map(|id| Route {
                prefix: key.prefix,
                kind: self.hops.kind(id),
                table: key.table,
                protocol: self.params.protocol,
                metric: key.metric,
            }),
        }
    }

    /// Every key with a desired or a kernel route, and its sides, in no
    /// particular order.
    pub fn iter(&self) -> impl Iterator<Item = (RouteKey, Sides)> + '_ {
        let v4 = self
            .v4
            .iter()
            .map(|(a, s)| (IpNet::from(IpAddr::V4(*a)), *s));
        let v6 = self
            .v6
            .iter()
            .map(|(a, s)| (IpNet::from(IpAddr::V6(*a)), *s));
        let other = self.other.iter().map(|(p, s)| (*p, *s));
        let foreign = self.foreign.iter().map(|(key, route)| {
            (
                *key,
                Sides {
                    desired: None,
                    kernel: Some(*route),
                },
            )
        });
        v4.chain(v6)
            .chain(other)
            .map(|(prefix, slot)| {
                let key = self.params.key(prefix);
                (key, self.expand(key, slot))
            })
            .chain(foreign)
    }

    /// Keys with a desired route, in no particular order.
    pub fn desired_keys(&self) -> impl Iterator<Item = RouteKey> + '_ {
        self.iter()
            .filter(|(_, sides)| sides.desired.is_some())
            .map(|(key, _)| key)
    }

    /// Desires `kind` for `prefix` (with the table's parameters), in place
    /// of what was desired before.
    pub fn set_desired(&mut self, prefix: IpNet, kind: RouteKind) {
        let id = self.hops.acquire(kind);
        let was = self.update(prefix.trunc(), |slot, hops| {
            let was = slot.desired.replace(id);
            if let Some(old) = was {
                hops.release(old);
            }
            was.is_some()
        });
        if !was {
            self.desired_len += 1;
        }
    }

    /// Desires nothing for `key` any more.
    pub fn remove_desired(&mut self, key: &RouteKey) {
        if !self.is_ours(key) {
            return;
        }
        let was = self.update(key.prefix, |slot, hops| {
            slot.desired.take().map(|old| hops.release(old)).is_some()
        });
        if was {
            self.desired_len -= 1;
        }
    }

    /// Records that the kernel holds `route`; returns whether it held a
    /// route for the key before. A route of another protocol under our key
    /// (never seen from a filtered dump) is recorded as
    /// [`RouteKind::Other`], so it is replaced.
    pub fn set_kernel(&mut self, route: Route) -> bool {
        let key = route.key();
        if !self.is_ours(&key) {
            return self.foreign.insert(key, route).is_some();
        }
        let kind = if route.protocol == self.params.protocol {
            route.kind
        } else {
            RouteKind::Other
        };
        let id = self.hops.acquire(kind);
        let was = self.update(key.prefix, |slot, hops| {
            let was = slot.kernel.replace(id);
            if let Some(old) = was {
                hops.release(old);
            }
            was.is_some()
        });
        if !was {
            self.kernel_len += 1;
        }
        was
    }

    /// Records that the kernel holds no route for `key`.
    pub fn remove_kernel(&mut self, key: &RouteKey) {
        if !self.is_ours(key) {
            self.foreign.remove(key);
            return;
        }
        let was = self.update(key.prefix, |slot, hops| {
            slot.kernel.take().map(|old| hops.release(old)).is_some()
        });
        if was {
            self.kernel_len -= 1;
        }
    }

    /// Forgets every kernel route (before reading a fresh dump).
    pub fn clear_kernel(&mut self) {
        let hops = &mut self.hops;
        let mut clear = |slot: &mut Slot| {
            if let Some(id) = slot.kernel.take() {
                hops.release(id);
            }
            !slot.is_empty()
        };
        self.v4.retain(|_, slot| clear(slot));
        self.v6.retain(|_, slot| clear(slot));
        self.other.retain(|_, slot| clear(slot));
        self.foreign.clear();
        self.kernel_len = 0;
    }

    /// Runs `f` on the slot of `prefix` (a new empty one if there is
    /// none), then drops the slot if both sides are empty.
    fn update<R>(&mut self, prefix: IpNet, f: impl FnOnce(&mut Slot, &mut Hops) -> R) -> R {
        let hops = &mut self.hops;
        match prefix {
            IpNet::V4(n) if n.prefix_len() == 32 => update_in(&mut self.v4, n.addr(), hops, f),
            IpNet::V6(n) if n.prefix_len() == 128 => update_in(&mut self.v6, n.addr(), hops, f),
            _ => update_in(&mut self.other, prefix, hops, f),
        }
    }

    /// Heap bytes of the table: its hash tables (entries, control bytes
    /// and spare capacity) and the interned next hops.
    pub fn heap_bytes(&self) -> usize {
        let slot = |capacity: usize, key: usize| hash_table_bytes(capacity, key);
        slot(self.v4.capacity(), size_of::<(Ipv4Addr, Slot)>())
            + slot(self.v6.capacity(), size_of::<(Ipv6Addr, Slot)>())
            + slot(self.other.capacity(), size_of::<(IpNet, Slot)>())
            + slot(self.foreign.capacity(), size_of::<(RouteKey, Route)>())
            + self.hops.heap_bytes()
    }
}

fn update_in<K: Hash + Eq, R>(
    map: &mut HashMap<K, Slot>,
    key: K,
    hops: &mut Hops,
    f: impl FnOnce(&mut Slot, &mut Hops) -> R,
) -> R {
    match map.entry(key) {
        Entry::Occupied(mut entry) => {
            let result = f(entry.get_mut(), hops);
            if entry.get().is_empty() {
                entry.remove();
            }
            result
        }
        Entry::Vacant(entry) => {
            let mut slot = Slot::default();
            let result = f(&mut slot, hops);
            if !slot.is_empty() {
                entry.insert(slot);
            }
            result
        }
    }
}

/// Heap bytes of a std hash map or set of `capacity` with `entry`-byte
/// entries (hashbrown: a power-of-two number of buckets of which
/// `capacity()` is 7/8, one control byte per bucket and a 16-byte group
/// tail).
pub fn hash_table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = (capacity * 8 / 7).next_power_of_two();
    buckets * (entry + 1) + 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fib::route::IPV6_DEFAULT_METRIC;

    fn via(gateway: &str) -> RouteKind {
        RouteKind::Via {
            gateway: gateway.parse().unwrap(),
            ifindex: None,
        }
    }

    fn key(t: &FibTable, prefix: &str) -> RouteKey {
        t.params().key(prefix.parse().unwrap())
    }

    #[test]
    fn sides_are_kept_apart_and_the_slot_goes_with_the_last_side() {
        let mut t = FibTable::new(RouteParams::default());
        let p: IpNet = "10.0.0.1/32".parse().unwrap();
        let k = key(&t, "10.0.0.1/32");
        t.set_desired(p, via("192.0.2.2"));
        let installed = t.params().route(p, via("192.0.2.3"));
        assert!(!t.set_kernel(installed));
        assert!(t.set_kernel(installed));
        let sides = t.sides(&k);
        assert_eq!(sides.desired, Some(t.params().route(p, via("192.0.2.2"))));
        assert_eq!(sides.kernel, Some(installed));
        assert_eq!((t.desired_len(), t.kernel_len()), (1, 1));
        t.remove_desired(&k);
        assert_eq!(t.sides(&k).desired, None);
        assert_eq!(t.iter().count(), 1);
        t.remove_kernel(&k);
        assert_eq!(t.iter().count(), 0);
        assert_eq!((t.desired_len(), t.kernel_len()), (0, 0));
        assert!(t.hops.index.is_empty(), "next hops released");
    }

    #[test]
    fn every_prefix_shape_round_trips() {
        let mut t = FibTable::new(RouteParams::default());
        let prefixes = [
            "10.0.0.1/32",
            "10.1.0.0/16",
            "2001:db8::5/128",
            "2001:db8::/64",
        ];
        for (i, p) in prefixes.iter().enumerate() {
            let ifindex = u32::try_from(i).unwrap() + 1;
            t.set_desired(p.parse().unwrap(), RouteKind::Local { ifindex });
        }
        let mut keys: Vec<RouteKey> = t.desired_keys().collect();
        keys.sort();
        let mut want: Vec<RouteKey> = prefixes.iter().map(|p| key(&t, p)).collect();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!((t.v4.len(), t.v6.len(), t.other.len()), (1, 1, 2));
        let k = key(&t, "2001:db8::/64");
        assert_eq!(
            t.sides(&k).desired.map(|r| r.kind),
            Some(RouteKind::Local { ifindex: 4 })
        );
    }

    #[test]
    fn other_metrics_and_tables_are_foreign_and_never_desired() {
        let params = RouteParams::default();
        let mut t = FibTable::new(params);
        let p: IpNet = "10.0.0.1/32".parse().unwrap();
        t.set_desired(p, via("192.0.2.2"));
        let mut old = params.route(p, via("192.0.2.2"));
        old.metric = 7;
        t.set_kernel(old);
        assert_eq!(t.foreign.len(), 1);
        assert_eq!(
            t.sides(&old.key()),
            Sides {
                desired: None,
                kernel: Some(old)
            }
        );
        t.remove_desired(&old.key());
        assert_eq!(t.desired_len(), 1, "a foreign key removes nothing desired");
        assert_eq!(t.kernel_len(), 1);
        t.clear_kernel();
        assert_eq!((t.kernel_len(), t.desired_len()), (0, 1));
    }

    #[test]
    fn ipv6_metric_zero_is_our_key_and_deletes_by_the_kernels_metric() {
        let params = RouteParams {
            metric: 0,
            ..RouteParams::default()
        };
        let mut t = FibTable::new(params);
        let p: IpNet = "2001:db8::5/128".parse().unwrap();
        let mut found = params.route(p, via("fe80::1"));
        found.metric = IPV6_DEFAULT_METRIC;
        t.set_kernel(found);
        assert!(t.foreign.is_empty());
        assert_eq!(t.sides(&params.key(p)).kernel, Some(found));
    }

    #[test]
    fn another_protocol_under_our_key_reads_as_other() {
        let params = RouteParams::default();
        let mut t = FibTable::new(params);
        let p: IpNet = "10.0.0.1/32".parse().unwrap();
        let mut theirs = params.route(p, via("192.0.2.2"));
        theirs.protocol = 4;
        t.set_kernel(theirs);
        assert_eq!(
            t.sides(&params.key(p)).kernel.map(|r| r.kind),
            Some(RouteKind::Other)
        );
    }

    #[test]
    fn hop_ids_are_shared_and_reused() {
        let mut hops = Hops::default();
        let a = hops.acquire(via("192.0.2.2"));
        assert_eq!(hops.acquire(via("192.0.2.2")), a);
        let b = hops.acquire(via("192.0.2.3"));
        assert_ne!(a, b);
        hops.release(a);
        assert_eq!(hops.kind(a), via("192.0.2.2"), "still held once");
        hops.release(a);
        let c = hops.acquire(RouteKind::Local { ifindex: 9 });
        assert_eq!(c, a, "a forgotten id is reused");
        assert_eq!(hops.kind(c), RouteKind::Local { ifindex: 9 });
        assert_eq!(hops.kind(b), via("192.0.2.3"));
    }

    /// The FIB service's memory target (issue 5): at most ~45 bytes per
    /// route at 100,000 host routes, desired and kernel sides included.
    #[test]
    fn a_hundred_thousand_host_routes_take_under_45_bytes_each() {
        const N: u32 = 100_000;
        let params = RouteParams::default();
        let mut t = FibTable::new(params);
        for i in 0..N {
            let prefix = IpNet::from(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)));
            let kind = via(if i % 2 == 0 { "192.0.2.2" } else { "192.0.2.3" });
            t.set_desired(prefix, kind);
            t.set_kernel(params.route(prefix, kind));
        }
        assert_eq!((t.desired_len(), t.kernel_len()), (100_000, 100_000));
        assert_eq!(t.hops.index.len(), 2);
        let per_route = t.heap_bytes() as f64 / f64::from(N);
        println!("100,000 IPv4 /32: {per_route:.1} B/route");
        assert!(per_route <= 45.0, "{per_route:.1} B/route");
        // And IPv6 /128s, whose 16-byte keys take more.
        let mut t = FibTable::new(params);
        for i in 0..N {
            let prefix = IpNet::from(IpAddr::V6(Ipv6Addr::from(
                0x2001_0db8_u128 << 96 | u128::from(i),
            )));
            t.set_desired(prefix, via("fe80::1"));
            t.set_kernel(params.route(prefix, via("fe80::1")));
        }
        let per_route = t.heap_bytes() as f64 / f64::from(N);
        println!("100,000 IPv6 /128: {per_route:.1} B/route");
        assert!(per_route <= 45.0, "IPv6: {per_route:.1} B/route");
    }
}
