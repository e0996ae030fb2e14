//! Kernel FIB sync: the speaker's Loc-RIB, installed into the kernel under
//! our own route protocol number, kept there, and reconciled on restart.
//!
//! ```text
//!   speaker turn: Vec<RouteChange> --delta_for(resolver)--> Vec<Delta>
//!                                                             | FibHandle::apply
//!                                                             v  (bounded channel)
//!   ┌───────────────────────── FibService task ──────────────────────────────┐
//!   │ table: FibTable, per prefix: desired (what the RIB wants) and kernel    │
//!   │ (what the kernel holds of ours: the start dump, our ACKs, events)       │
//!   │                                                                         │
//!   │ apply ─> reconcile_keys(touched) ─> Kernel::replace / delete (batched)  │
//!   │ Monitor: Added/Removed by others ─> view, dirty ─(repair_delay)─> fix   │
//!   │          Overrun ─> resync: Kernel::dump ─> reconcile(all) ─> apply     │
//!   │ timers: grace deadline (sweep stale), retry failed keys, audit resync   │
//!   └──────────┬──────────────────────────────────────────────────────────────┘
//!              └─> watch<FibCounters>; snapshot() = fresh dump vs desired
//! ```
//!
//! **Start (restart reconciliation).** The monitor subscribes first, then
//! the kernel is dumped (our protocol and table, both families, retried on
//! `NLM_F_DUMP_INTR`). Every route found is stale until the desired set
//! claims it. The initial desired set (if the caller has one) is reconciled
//! at once: right routes are kept untouched, wrong ones replaced in place,
//! missing ones added; stale ones stay, still forwarding, until the
//! graceful-restart deadline ([`FibConfig::graceful_restart`], or
//! [`FibHandle::sweep_now`] when every peer has sent End-of-RIB), and are
//! then deleted. Never a flush.
//!
//! **Running.** One batch of [`Delta`]s per speaker turn. A route of ours
//! that someone else deletes or changes is put back after
//! [`FibConfig::repair_delay`] (which coalesces bursts); a lost event
//! (`ENOBUFS`) triggers a full resync. IPv4 routes flushed by the kernel
//! itself when their interface goes down produce no event at all; the
//! periodic audit ([`FibConfig::audit_interval`]) catches those. Failed
//! routes (an unreachable gateway, a missing interface) are counted by
//! errno and retried every [`FibConfig::retry_interval`].
//!
//! **Memory.** The desired routes and the kernel's share one
//! [`FibTable`]: per prefix a slot of two interned next-hop ids, keyed by
//! the address alone for host routes (17 bytes a /32 at 100,000 routes,
//! both sides included; [`FibHandle::memory`] reports it). Big batches
//! cost transient buffers (the plan, `in_flight` datagrams of messages),
//! and the monitor drops our own requests' notifications undecoded.
//!
//! **Stopping.** Dropping every handle, or [`Retention::Keep`], leaves the
//! routes in the kernel so forwarding survives a crash or an upgrade (this
//! is what justifies advertising the RFC 4724 F bit); [`Retention::Flush`]
//! (administrative stop) deletes them.

pub mod kernel;
pub mod reconcile;
pub mod report;
pub mod route;
pub mod table;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use speaker::rib::RouteChange;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};
use tracing::{debug, error, info, warn};

pub use kernel::{Kernel, KernelConfig, KernelError, KernelEvent, Monitor};
pub use reconcile::{EntryState, FibEntry, Grace, Plan, compare, reconcile, reconcile_keys};
pub use report::{FailureReport, FibCounters, FibMemory, FibSnapshot};
pub use route::{
    DEFAULT_METRIC, DEFAULT_PROTOCOL, Delta, MAIN_TABLE, Resolver, Route, RouteKey, RouteKind,
    RouteParams, StaticResolver, Unresolvable, delta_for,
};
use table::hash_table_bytes;
pub use table::{FibTable, Sides};

/// Events handled per wake-up before timers and commands get a turn.
const EVENT_BURST: usize = 4096;

/// How the FIB service runs.
#[derive(Debug, Clone)]
pub struct FibConfig {
    /// Table, protocol and metric of our routes, and netlink tuning.
    pub kernel: KernelConfig,
    /// How long routes found at start and not (yet) desired keep
    /// forwarding before they are deleted.
    pub graceful_restart: Duration,
    /// Delay between an event showing a route of ours wrong or gone and
    /// its repair; events within it are repaired together.
    pub repair_delay: Duration,
    /// Delay before a refused route is tried again, and before a resync
    /// after a netlink failure.
    pub retry_interval: Duration,
    /// Full dump and reconcile this often, for changes the kernel does not
    /// announce; `None` for never.
    pub audit_interval: Option<Duration>,
    /// Least time between two resyncs, so a sustained event storm that
    /// keeps overrunning the socket costs one dump per holdoff, not one
    /// per overrun.
    pub resync_holdoff: Duration,
}

impl Default for FibConfig {
    fn default() -> Self {
        Self {
            kernel: KernelConfig::default(),
            graceful_restart: Duration::from_secs(120),
            repair_delay: Duration::from_millis(10),
            retry_interval: Duration::from_secs(1),
            audit_interval: Some(Duration::from_secs(300)),
            resync_holdoff: Duration::from_millis(200),
        }
    }
}

impl FibConfig {
    /// Defaults with these table, protocol and metric.
    pub fn with_params(params: RouteParams) -> Self {
        let mut config = Self::default();
        config.kernel.params = params;
        config
    }
}

/// What happens to our routes when the service stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Leave them forwarding (crash, upgrade, restart).
    Keep,
    /// Delete them (administrative stop).
    Flush,
}

/// Errors of the FIB service.
#[derive(Debug, thiserror::Error)]
pub enum FibError {
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("the FIB service has stopped")]
    Stopped,
}

enum Command {
    Apply(Vec<Delta>),
    Flush(oneshot::Sender<()>),
    SweepNow(oneshot::Sender<()>),
    Resync(oneshot::Sender<()>),
    Snapshot(oneshot::Sender<Result<FibSnapshot, KernelError>>),
    Memory(oneshot::Sender<FibMemory>),
    Stop(Retention, oneshot::Sender<()>),
}

/// Talks to a running [`FibService`]. Cheap to clone; the service stops,
/// keeping its routes, when the last handle is dropped.
#[derive(Clone)]
pub struct FibHandle {
    commands: mpsc::Sender<Command>,
    counters: watch::Receiver<FibCounters>,
    params: RouteParams,
}

impl FibHandle {
    /// Table, protocol and metric of the service's routes.
    pub fn params(&self) -> RouteParams {
        self.params
    }

    /// The deltas for one speaker turn's changes.
    pub fn deltas(&self, changes: &[RouteChange], resolver: &dyn Resolver) -> Vec<Delta> {
        changes
            .iter()
            .map(|c| delta_for(c, &self.params, resolver))
            .collect()
    }

    /// Queues one batch (one speaker turn). Later deltas for a key win.
    pub async fn apply(&self, batch: Vec<Delta>) -> Result<(), FibError> {
        self.send(Command::Apply(batch)).await
    }

    /// Waits until every batch queued before it has been applied.
    pub async fn flush(&self) -> Result<(), FibError> {
        self.ask(Command::Flush).await
    }

    /// Ends the graceful-restart period now: deletes stale routes.
    pub async fn sweep_now(&self) -> Result<(), FibError> {
        self.ask(Command::SweepNow).await
    }

    /// Dumps the kernel and reconciles everything now.
    pub async fn resync(&self) -> Result<(), FibError> {
        self.ask(Command::Resync).await
    }

    /// The kernel's routes of our protocol against the desired set.
    pub async fn snapshot(&self) -> Result<FibSnapshot, FibError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Snapshot(tx)).await?;
        Ok(rx.await.map_err(|_| FibError::Stopped)??)
    }

    /// The heap the service's route state takes now.
    pub async fn memory(&self) -> Result<FibMemory, FibError> {
        let (tx, rx) = oneshot::channel();
        self.send(Command::Memory(tx)).await?;
        rx.await.map_err(|_| FibError::Stopped)
    }

    /// The latest counters.
    pub fn counters(&self) -> FibCounters {
        self.counters.borrow().clone()
    }

    /// Stops the service after the batches queued before, keeping or
    /// deleting its routes.
    pub async fn shutdown(self, retention: Retention) -> Result<(), FibError> {
        self.ask(|tx| Command::Stop(retention, tx)).await
    }

    async fn send(&self, command: Command) -> Result<(), FibError> {
        self.commands
            .send(command)
            .await
            .map_err(|_| FibError::Stopped)
    }

    async fn ask(
        &self,
        command: impl FnOnce(oneshot::Sender<()>) -> Command,
    ) -> Result<(), FibError> {
        let (tx, rx) = oneshot::channel();
        self.send(command(tx)).await?;
        rx.await.map_err(|_| FibError::Stopped)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Apply,
    Sync,
    Repair,
}

/// The task that owns the desired set and keeps the kernel in line.
pub struct FibService {
    config: FibConfig,
    kernel: Kernel,
    /// `None` after the event socket failed, until a resync reopens it.
    monitor: Option<Monitor>,
    /// The desired routes and the kernel's, side by side.
    table: FibTable,
    grace_deadline: Option<Instant>,
    dirty: HashSet<RouteKey>,
    repair_at: Option<Instant>,
    retry: HashSet<RouteKey>,
    retry_at: Option<Instant>,
    resync_at: Option<Instant>,
    last_resync: Option<Instant>,
    audit_at: Option<Instant>,
    counters: FibCounters,
    counters_tx: watch::Sender<FibCounters>,
}

impl FibService {
    /// Subscribes to route events, dumps our routes, and spawns the service
    /// on the current tokio runtime, in the calling thread's network
    /// namespace, with `initial` as the desired set. The initial reconcile
    /// runs first in the task ([`FibHandle::flush`] waits for it).
    ///
    /// Routes take their table, protocol and metric from the config.
    pub async fn start(
        config: FibConfig,
        initial: impl IntoIterator<Item = Route>,
    ) -> Result<FibHandle, FibError> {
        let mut monitor = Monitor::open(&config.kernel)?;
        let mut kernel = Kernel::connect(&config.kernel)?;
        monitor.ignore_requests_from(kernel.port());
        let dump = kernel.dump().await?;
        let now = Instant::now();
        let params = config.kernel.params;
        let mut counters = FibCounters {
            dumps_interrupted: u64::from(dump.interrupted),
            ..FibCounters::default()
        };
        let mut table = FibTable::new(params);
        for route in initial {
            let route = own(route, &params);
            match route.validate() {
                Ok(()) => table.set_desired(route.prefix, route.kind),
                Err(reason) => {
                    counters.unresolved += 1;
                    warn!(key = %route.key(), %reason, "initial route cannot be installed");
                }
            }
        }
        let grace_deadline = (!dump.routes.is_empty()).then(|| now + config.graceful_restart);
        info!(
            protocol = params.protocol,
            table = params.table,
            found = dump.routes.len(),
            desired = table.desired_len(),
            "FIB service starting"
        );
        for route in dump.routes {
            table.set_kernel(route);
        }
        let (commands, rx) = mpsc::channel(64);
        let (counters_tx, counters_rx) = watch::channel(counters.clone());
        let service = FibService {
            audit_at: config.audit_interval.map(|d| now + d),
            config,
            kernel,
            monitor: Some(monitor),
            table,
            grace_deadline,
            dirty: HashSet::new(),
            repair_at: None,
            retry: HashSet::new(),
            retry_at: None,
            resync_at: None,
            last_resync: None,
            counters,
            counters_tx,
        };
        tokio::spawn(service.run(rx));
        Ok(FibHandle {
            commands,
            counters: counters_rx,
            params,
        })
    }

    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let plan = reconcile(&self.table, self.grace(Instant::now()));
        info!(
            add_or_replace = plan.add_or_replace.len(),
            stale = plan.deferred.len() + plan.delete.len(),
            "FIB start reconcile"
        );
        self.execute(plan.add_or_replace, plan.delete, Cause::Sync)
            .await;
        self.publish();
        loop {
            let wake = self.next_wake();
            let far = Instant::now() + Duration::from_secs(3600);
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { break };
                    if !self.command(command).await {
                        return;
                    }
                }
                event = next_event(&mut self.monitor) => match event {
                    Some(event) => {
                        let now = Instant::now();
                        self.event(event, now);
                        for _ in 1..EVENT_BURST {
                            let Some(event) = self.monitor.as_mut().and_then(Monitor::try_recv)
                            else {
                                break;
                            };
                            self.event(event, now);
                        }
                    }
                    None => {
                        error!("route event socket closed; resyncing with a new one");
                        self.monitor = None;
                        self.resync_at = Some(Instant::now() + self.config.retry_interval);
                    }
                },
                () = sleep_until(wake.unwrap_or(far)), if wake.is_some() => self.timers().await,
            }
            self.publish();
        }
        info!("FIB service stopped; routes kept in the kernel");
    }

    /// Handles a command; `false` to stop.
    async fn command(&mut self, command: Command) -> bool {
        match command {
            Command::Apply(batch) => self.apply(batch).await,
            Command::Flush(done) => {
                let _ = done.send(());
            }
            Command::SweepNow(done) => {
                self.grace_deadline = None;
                self.sweep().await;
                let _ = done.send(());
            }
            Command::Resync(done) => {
                self.resync().await;
                let _ = done.send(());
            }
            Command::Snapshot(reply) => {
                let snapshot = self.snapshot().await;
                let _ = reply.send(snapshot);
            }
            Command::Memory(reply) => {
                let _ = reply.send(self.memory());
            }
            Command::Stop(retention, done) => {
                if retention == Retention::Flush {
                    // A delete needs the key only: the kernel's route if
                    // known (its exact metric), else the desired one.
                    let routes: Vec<Route> = self
                        .table
                        .iter()
                        .filter_map(|(_, sides)| sides.kernel.or(sides.desired))
                        .collect();
                    self.execute(Vec::new(), routes, Cause::Apply).await;
                    info!("FIB service stopped; routes flushed");
                } else {
                    info!("FIB service stopped; routes kept in the kernel");
                }
                self.publish();
                let _ = done.send(());
                return false;
            }
        }
        true
    }

    async fn apply(&mut self, batch: Vec<Delta>) {
        let params = self.config.kernel.params;
        let mut touched = Vec::with_capacity(batch.len());
        for delta in batch {
            match delta {
                Delta::Set(route) => {
                    let route = own(route, &params);
                    touched.push(route.key());
                    match route.validate() {
                        Ok(()) => self.table.set_desired(route.prefix, route.kind),
                        Err(reason) => self.unresolvable(route.key(), reason),
                    }
                }
                Delta::Remove(key) => {
                    touched.push(key);
                    self.table.remove_desired(&key);
                }
                Delta::Unresolvable { key, reason } => {
                    touched.push(key);
                    self.unresolvable(key, reason);
                }
            }
        }
        // Explicit removals go now, even within the grace period.
        let plan = reconcile_keys(&self.table, touched, Grace::Over);
        self.execute(plan.add_or_replace, plan.delete, Cause::Apply)
            .await;
    }

    fn unresolvable(&mut self, key: RouteKey, reason: Unresolvable) {
        self.counters.unresolved += 1;
        warn!(%key, %reason, "best path cannot be installed; removing the prefix's route");
        self.table.remove_desired(&key);
    }

    fn event(&mut self, event: KernelEvent, now: Instant) {
        match event {
            KernelEvent::Overrun => {
                self.counters.overruns += 1;
                warn!("route events lost (socket overrun); resyncing");
                let at = now + self.config.repair_delay;
                let at = self
                    .last_resync
                    .map_or(at, |t| at.max(t + self.config.resync_holdoff));
                self.resync_at.get_or_insert(at);
            }
            KernelEvent::Added(route) => {
                let key = route.key();
                let wrong = match self.table.sides(&key).desired {
                    Some(want) => !want.is_satisfied_by(&route),
                    None => self.grace_deadline.is_none_or(|d| now >= d),
                };
                self.table.set_kernel(route);
                if wrong {
                    debug!(%key, kind = %route.kind, "route of ours changed by someone else");
                    self.mark_dirty(key, now);
                }
            }
            KernelEvent::Removed(route) => {
                let key = route.key();
                self.table.remove_kernel(&key);
                if self.table.sides(&key).desired.is_some() {
                    debug!(%key, "route of ours deleted by someone else");
                    self.mark_dirty(key, now);
                }
            }
        }
    }

    fn mark_dirty(&mut self, key: RouteKey, now: Instant) {
        self.dirty.insert(key);
        self.repair_at.get_or_insert(now + self.config.repair_delay);
    }

    fn grace(&self, now: Instant) -> Grace {
        Grace::at(now.into_std(), self.grace_deadline.map(Instant::into_std))
    }

    fn next_wake(&self) -> Option<Instant> {
        [
            self.resync_at,
            self.grace_deadline,
            self.repair_at,
            self.retry_at,
            self.audit_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    async fn timers(&mut self) {
        let now = Instant::now();
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if due(self.audit_at) {
            self.audit_at = self.config.audit_interval.map(|d| now + d);
            self.resync_at = Some(now);
        }
        if due(self.resync_at) {
            // A resync covers repairs, retries and the sweep if it is due.
            self.resync().await;
        }
        if due(self.grace_deadline) {
            self.grace_deadline = None;
            self.sweep().await;
        }
        if due(self.repair_at) {
            self.repair_at = None;
            // Taken whole, so a burst's capacity does not stay allocated.
            let keys = std::mem::take(&mut self.dirty);
            let plan = reconcile_keys(&self.table, keys, self.grace(now));
            self.execute(plan.add_or_replace, plan.delete, Cause::Repair)
                .await;
        }
        if due(self.retry_at) {
            self.retry_at = None;
            let keys = std::mem::take(&mut self.retry);
            let plan = reconcile_keys(&self.table, keys, self.grace(now));
            self.execute(plan.add_or_replace, plan.delete, Cause::Sync)
                .await;
        }
    }

    /// Deletes every stale route (the grace period is over).
    async fn sweep(&mut self) {
        let plan = reconcile(&self.table, Grace::Over);
        info!(
            stale = plan.delete.len(),
            fixes = plan.add_or_replace.len(),
            "graceful-restart period over; sweeping stale routes"
        );
        self.execute(plan.add_or_replace, plan.delete, Cause::Sync)
            .await;
    }

    async fn resync(&mut self) {
        self.resync_at = None;
        if self.monitor.is_none() {
            // Subscribe before the dump, as at start.
            match Monitor::open(&self.config.kernel) {
                Ok(mut monitor) => {
                    monitor.ignore_requests_from(self.kernel.port());
                    self.monitor = Some(monitor);
                }
                Err(e) => return self.kernel_failed(e),
            }
        }
        let dump = match self.kernel.dump().await {
            Ok(dump) => dump,
            Err(e) => return self.kernel_failed(e),
        };
        self.counters.resyncs += 1;
        self.last_resync = Some(Instant::now());
        self.counters.dumps_interrupted += u64::from(dump.interrupted);
        self.table.clear_kernel();
        for route in dump.routes {
            self.table.set_kernel(route);
        }
        self.dirty = HashSet::new();
        self.repair_at = None;
        self.retry = HashSet::new();
        self.retry_at = None;
        let plan = reconcile(&self.table, self.grace(Instant::now()));
        info!(
            add_or_replace = plan.add_or_replace.len(),
            delete = plan.delete.len(),
            "FIB resync"
        );
        self.execute(plan.add_or_replace, plan.delete, Cause::Sync)
            .await;
    }

    async fn snapshot(&mut self) -> Result<FibSnapshot, KernelError> {
        let dump = self.kernel.dump().await?;
        let now = Instant::now();
        let in_grace = self.grace_deadline.filter(|d| now < *d);
        let entries = compare(&self.table, &dump.routes, in_grace.is_some());
        Ok(FibSnapshot {
            params: self.config.kernel.params,
            grace_remaining_ms: in_grace
                .map(|d| u64::try_from((d - now).as_millis()).unwrap_or(u64::MAX)),
            drift: entries.iter().filter(|e| e.state.is_drift()).count(),
            entries,
            counters: self.counters.clone(),
        })
    }

    fn memory(&self) -> FibMemory {
        FibMemory {
            desired: self.table.desired_len(),
            installed: self.table.kernel_len(),
            bytes: self.table.heap_bytes()
                + hash_table_bytes(self.dirty.capacity(), size_of::<RouteKey>())
                + hash_table_bytes(self.retry.capacity(), size_of::<RouteKey>()),
        }
    }

    async fn execute(&mut self, add: Vec<Route>, delete: Vec<Route>, cause: Cause) {
        if !add.is_empty() {
            match self.kernel.replace(&add).await {
                Ok(outcome) => self.record(&add, outcome, false, cause),
                Err(e) => {
                    self.retry.extend(add.iter().map(Route::key));
                    self.kernel_failed(e);
                }
            }
        }
        if !delete.is_empty() {
            match self.kernel.delete(&delete).await {
                Ok(outcome) => self.record(&delete, outcome, true, cause),
                Err(e) => {
                    self.retry.extend(delete.iter().map(Route::key));
                    self.kernel_failed(e);
                }
            }
        }
    }

    fn record(
        &mut self,
        routes: &[Route],
        outcome: kernel::BatchOutcome,
        delete: bool,
        cause: Cause,
    ) {
        let now = Instant::now();
        let mut failed: HashMap<RouteKey, kernel::OpFailure> =
            outcome.failed.into_iter().map(|f| (f.key, f)).collect();
        for route in routes {
            let key = route.key();
            if let Some(f) = failed.remove(&key) {
                warn!(%key, errno = f.errno, message = f.message.as_deref().unwrap_or(""),
                    delete, "kernel refused a route; will retry");
                self.failure(Some(key), f.errno, f.message);
                self.retry.insert(key);
                continue;
            }
            self.retry.remove(&key);
            if delete {
                self.table.remove_kernel(&key);
                self.counters.deleted += 1;
            } else {
                if self.table.set_kernel(*route) {
                    self.counters.replaced += 1;
                } else {
                    self.counters.installed += 1;
                }
                if cause == Cause::Repair {
                    self.counters.repaired += 1;
                }
            }
        }
        // A late NACK of an earlier batch (only possible if its answer
        // arrived after the batch was judged done): that route's state is
        // unknown, so forget it and let the retry reconcile it.
        for (key, f) in failed {
            warn!(%key, errno = f.errno, "late refusal of an earlier request; will retry");
            self.failure(Some(key), f.errno, f.message);
            self.table.remove_kernel(&key);
            self.retry.insert(key);
        }
        if !outcome.unmatched.is_empty() {
            for (errno, message) in outcome.unmatched {
                error!(
                    errno,
                    ?message,
                    "kernel refused a request we cannot identify; resyncing"
                );
                self.failure(None, errno, message);
            }
            self.resync_at
                .get_or_insert(now + self.config.retry_interval);
        }
        if !self.retry.is_empty() {
            self.retry_at
                .get_or_insert(now + self.config.retry_interval);
        }
    }

    fn failure(&mut self, key: Option<RouteKey>, errno: i32, message: Option<String>) {
        *self.counters.failures.entry(errno).or_default() += 1;
        self.counters.last_failure = Some(FailureReport {
            key,
            errno,
            message,
        });
    }

    fn kernel_failed(&mut self, e: KernelError) {
        error!(error = %e, "netlink request failed; resyncing later");
        if matches!(e, KernelError::AckOverrun) {
            self.failure(None, kernel::errno::ENOBUFS, Some(e.to_string()));
        }
        if matches!(e, KernelError::Closed | KernelError::Timeout(_)) {
            match Kernel::connect(&self.config.kernel) {
                Ok(kernel) => {
                    if let Some(monitor) = &mut self.monitor {
                        monitor.ignore_requests_from(kernel.port());
                    }
                    self.kernel = kernel;
                }
                Err(e) => error!(error = %e, "cannot reopen the netlink socket"),
            }
        }
        self.resync_at = Some(Instant::now() + self.config.retry_interval);
    }

    fn publish(&self) {
        self.counters_tx.send_if_modified(|published| {
            if *published == self.counters {
                false
            } else {
                published.clone_from(&self.counters);
                true
            }
        });
    }
}

/// The next event of the monitor, or never if there is none.
async fn next_event(monitor: &mut Option<Monitor>) -> Option<KernelEvent> {
    match monitor {
        Some(monitor) => monitor.recv().await,
        None => std::future::pending().await,
    }
}

/// A route with the service's table, protocol and metric.
fn own(mut route: Route, params: &RouteParams) -> Route {
    route.table = params.table;
    route.protocol = params.protocol;
    route.metric = params.metric;
    route
}
