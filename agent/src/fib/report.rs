//! What the FIB service reports: counters, `show fib` snapshots and its
//! memory.

use std::collections::BTreeMap;

use serde::Serialize;

use super::reconcile::FibEntry;
use super::route::{RouteKey, RouteParams};

/// What happened, for `show fib` and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FibCounters {
    /// Routes added where the kernel had none of ours.
    pub installed: u64,
    /// Routes of ours replaced in place (a new next hop, a fix).
    pub replaced: u64,
    /// Routes deleted (including those already gone).
    pub deleted: u64,
    /// Routes put back after someone else deleted or changed them.
    pub repaired: u64,
    /// Full dumps and reconciles after the start.
    pub resyncs: u64,
    /// Event-socket overruns (each schedules a resync).
    pub overruns: u64,
    /// Dumps thrown away because the kernel flagged them inconsistent.
    pub dumps_interrupted: u64,
    /// Best paths that could not become a kernel route.
    pub unresolved: u64,
    /// Refused operations by errno.
    pub failures: BTreeMap<i32, u64>,
    /// The most recent refusal.
    pub last_failure: Option<FailureReport>,
}

/// One refused operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureReport {
    pub key: Option<RouteKey>,
    pub errno: i32,
    pub message: Option<String>,
}

/// The kernel's routes of our protocol (a fresh dump) against the desired
/// set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FibSnapshot {
    pub params: RouteParams,
    /// Time left before stale routes are swept, if in the grace period.
    pub grace_remaining_ms: Option<u64>,
    /// Entries in state `Differs`, `Missing` or `Unexpected`.
    pub drift: usize,
    pub entries: Vec<FibEntry>,
    pub counters: FibCounters,
}

/// The heap the service's route state takes (its maps with their spare
/// capacity and control bytes, and what they point to); transient buffers
/// of a batch in progress are not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FibMemory {
    /// Prefixes in the desired set.
    pub desired: usize,
    /// Routes of ours the service believes the kernel holds.
    pub installed: usize,
    /// Heap bytes of the route state.
    pub bytes: usize,
}
