//! The BFD driver: a dedicated OS thread running a current-thread tokio
//! runtime that owns the [`Table`] and the UDP sockets.
//!
//! BFD timers are milliseconds apart; on their own thread they never wait
//! behind best-path runs or FIB batches on the main runtime, and the
//! thread runs SCHED_FIFO (see [`priority`](super::priority)) so that
//! nothing of the normal class delays its wake-ups. The loop sleeps until
//! the table's next deadline, a readable socket, or a command, whichever
//! comes first; then it reads every queued datagram, then runs the timers
//! that are due, then carries out the table's outputs: packets to send,
//! and liveness changes published on one `tokio::sync::watch` per session.
//! Datagrams before timers: when the thread wakes late, packets that
//! arrived in time are in the socket and must count before any detection
//! timer is looked at.
//!
//! Sockets (Linux):
//!
//! - single-hop: UDP 3784 on IPv4 and IPv6, with IP_RECVTTL /
//!   IPV6_RECVHOPLIMIT and IP_PKTINFO / IPV6_RECVPKTINFO, so the table can
//!   drop any single-hop packet whose TTL is not 255 and match the
//!   interface;
//! - multihop: UDP 4784 likewise, with the session's minimum TTL;
//! - one sending socket per session, from a source port in 49152-65535
//!   kept for the session's life, TTL 255, bound to the local address and
//!   (SO_BINDTODEVICE) the interface when configured.
//!
//! The driver thread lives in the network namespace of the thread that
//! called [`BfdHandle::spawn`].

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::time::Instant;

use proto::bfd::Discriminator;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

use super::priority;
use super::session::Timers;
use super::sockets::{Datagram, Listener, Sender};
use super::table::{Damping, Liveness, Output, RxMeta, SessionConfig, SessionKey, SessionSnapshot};
use super::{ConfigError, MULTIHOP_PORT, SINGLE_HOP_PORT, SplitMix64, Table, sockets};

/// Datagrams read from one listener per turn of the loop, at most.
const DRAIN_LIMIT: usize = 1024;

/// How the driver starts.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Flap damping of liveness reports.
    pub damping: Damping,
    /// Seed for discriminators, jitter and source ports; random if `None`.
    pub seed: Option<u64>,
    /// Listen for single-hop sessions on UDP 3784.
    pub single_hop: bool,
    /// Listen for multihop sessions on UDP 4784.
    pub multihop: bool,
    /// Listen on IPv6 too (a failure to bind IPv6 is then an error).
    pub ipv6: bool,
    /// SCHED_FIFO priority of the BFD thread (1 to 99), `None` to stay in
    /// the normal class; see [`priority`](super::priority).
    pub realtime_priority: Option<u8>,
    /// Nice value of the BFD thread when it is not real-time (Linux nice
    /// is per thread), `None` to leave it.
    pub thread_nice: Option<i32>,
}

/// The BFD thread's default SCHED_FIFO priority: above every normal thread
/// (the RIB's included), below the kernel's interrupt threads (50).
pub const DEFAULT_REALTIME_PRIORITY: u8 = 10;

/// The BFD thread's nice value when real-time scheduling is refused.
pub const DEFAULT_THREAD_NICE: i32 = -10;

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            damping: Damping::default(),
            seed: None,
            single_hop: true,
            multihop: true,
            ipv6: true,
            realtime_priority: Some(DEFAULT_REALTIME_PRIORITY),
            thread_nice: Some(DEFAULT_THREAD_NICE),
        }
    }
}

/// Why the driver could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The session configuration is invalid, or the session exists or not.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A socket could not be opened.
    #[error("BFD {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        source: io::Error,
    },
    /// The driver thread is gone.
    #[error("the BFD driver has stopped")]
    Stopped,
}

enum Command {
    Add(
        SessionConfig,
        oneshot::Sender<Result<watch::Receiver<Liveness>, DriverError>>,
    ),
    Remove(SessionKey, oneshot::Sender<Result<(), DriverError>>),
    AdminDown(SessionKey, bool, oneshot::Sender<Result<(), DriverError>>),
    SetTimers(SessionKey, Timers, oneshot::Sender<Result<(), DriverError>>),
    Subscribe(
        SessionKey,
        oneshot::Sender<Option<watch::Receiver<Liveness>>>,
    ),
    Snapshot(oneshot::Sender<Vec<SessionSnapshot>>),
    Shutdown(oneshot::Sender<()>),
}

/// Talks to the driver thread; cheap to clone. The thread stops when
/// [`shutdown`](Self::shutdown) is called or the last handle is dropped,
/// after telling every peer AdminDown.
#[derive(Debug, Clone)]
pub struct BfdHandle {
    commands: mpsc::UnboundedSender<Command>,
}

impl BfdHandle {
    /// Starts the driver thread and opens the listening sockets.
    pub fn spawn(config: DriverConfig) -> Result<Self, DriverError> {
        let (commands, receiver) = mpsc::unbounded_channel();
        let (ready, started) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("bfd".into())
            .spawn(move || {
                let scheduling = priority::apply(config.realtime_priority, config.thread_nice);
                info!(?scheduling, "BFD thread scheduling");
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(source) => {
                        let what = "runtime".to_owned();
                        let _ = ready.send(Err(DriverError::Io { what, source }));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match Driver::open(&config) {
                        Ok(driver) => {
                            let _ = ready.send(Ok(()));
                            driver.run(receiver).await;
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                });
            });
        if let Err(source) = spawned {
            let what = "thread".to_owned();
            return Err(DriverError::Io { what, source });
        }
        started.recv().map_err(|_| DriverError::Stopped)??;
        Ok(Self { commands })
    }

    /// Creates a session and returns its liveness, starting at
    /// [`Liveness::INITIAL`].
    pub async fn add_session(
        &self,
        config: SessionConfig,
    ) -> Result<watch::Receiver<Liveness>, DriverError> {
        self.call(|reply| Command::Add(config, reply)).await?
    }

    /// Deletes a session after telling the peer AdminDown. Subscribers see
    /// `AdminDown { by_peer: false }`, then the channel closes.
    pub async fn remove_session(&self, key: SessionKey) -> Result<(), DriverError> {
        self.call(|reply| Command::Remove(key, reply)).await?
    }

    /// Sets (`true`) or clears AdminDown on a session.
    pub async fn set_admin_down(&self, key: SessionKey, down: bool) -> Result<(), DriverError> {
        self.call(|reply| Command::AdminDown(key, down, reply))
            .await?
    }

    /// Changes a session's timers.
    pub async fn set_timers(&self, key: SessionKey, timers: Timers) -> Result<(), DriverError> {
        self.call(|reply| Command::SetTimers(key, timers, reply))
            .await?
    }

    /// Another receiver of a session's liveness, `None` if there is no such
    /// session.
    pub async fn subscribe(
        &self,
        key: SessionKey,
    ) -> Result<Option<watch::Receiver<Liveness>>, DriverError> {
        self.call(|reply| Command::Subscribe(key, reply)).await
    }

    /// Every session, for `show bfd`.
    pub async fn snapshot(&self) -> Result<Vec<SessionSnapshot>, DriverError> {
        self.call(Command::Snapshot).await
    }

    /// Tells every peer AdminDown and stops the thread.
    pub async fn shutdown(&self) -> Result<(), DriverError> {
        self.call(Command::Shutdown).await
    }

    async fn call<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, DriverError> {
        let (reply, response) = oneshot::channel();
        self.commands
            .send(command(reply))
            .map_err(|_| DriverError::Stopped)?;
        response.await.map_err(|_| DriverError::Stopped)
    }
}

/// What the driver keeps per session besides the table's state.
struct Link {
    key: SessionKey,
    sender: Sender,
    liveness: watch::Sender<Liveness>,
}

struct Driver {
    table: Table,
    listeners: [Option<Listener>; 4],
    links: HashMap<Discriminator, Link>,
    ifnames: HashMap<u32, String>,
    rng: SplitMix64,
    out: Vec<Output>,
}

impl Driver {
    fn open(config: &DriverConfig) -> Result<Self, DriverError> {
        let seed = config
            .seed
            .unwrap_or_else(|| RandomState::new().hash_one(Instant::now()));
        let mut rng = SplitMix64(seed);
        let table = Table::new(rng.next_u64(), config.damping);
        let bind = |wanted: bool, ipv6: bool, port: u16| {
            if !wanted {
                return Ok(None);
            }
            Listener::bind(ipv6, port)
                .map(Some)
                .map_err(|source| DriverError::Io {
                    what: format!(
                        "listen on UDP {port} ({})",
                        if ipv6 { "IPv6" } else { "IPv4" }
                    ),
                    source,
                })
        };
        let listeners = [
            bind(config.single_hop, false, SINGLE_HOP_PORT)?,
            bind(config.single_hop && config.ipv6, true, SINGLE_HOP_PORT)?,
            bind(config.multihop, false, MULTIHOP_PORT)?,
            bind(config.multihop && config.ipv6, true, MULTIHOP_PORT)?,
        ];
        Ok(Self {
            table,
            listeners,
            links: HashMap::new(),
            ifnames: HashMap::new(),
            rng,
            out: Vec::new(),
        })
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        info!("BFD driver started");
        loop {
            let deadline = self.table.next_deadline();
            let [l0, l1, l2, l3] = &self.listeners;
            tokio::select! {
                biased;
                command = commands.recv() => match command {
                    Some(Command::Shutdown(reply)) => {
                        self.stop();
                        let _ = reply.send(());
                        break;
                    }
                    Some(command) => self.command(command),
                    None => {
                        self.stop();
                        break;
                    }
                },
                () = sleep(deadline) => {}
                ready = readable(l0) => log_readiness(ready),
                ready = readable(l1) => log_readiness(ready),
                ready = readable(l2) => log_readiness(ready),
                ready = readable(l3) => log_readiness(ready),
            }
            // Whatever woke the thread, every datagram already queued is
            // read before any timer runs: a packet that arrived before its
            // session's detection deadline keeps the session Up even when
            // this thread got the CPU late (a timer-first order turned one
            // 20 ms stall of the thread into a Down of every session).
            self.drain();
            self.table.on_timer(Instant::now(), &mut self.out);
            self.flush();
        }
        info!("BFD driver stopped");
    }

    /// Reads what every listener has queued, at most [`DRAIN_LIMIT`] each
    /// per turn so that a flood cannot hold the timers back for long.
    fn drain(&mut self) {
        for index in 0..self.listeners.len() {
            let multihop = index >= 2;
            for _ in 0..DRAIN_LIMIT {
                let Some(listener) = self.listeners.get_mut(index).and_then(Option::as_mut) else {
                    break;
                };
                match listener.try_recv() {
                    Ok(datagram) => self.datagram(datagram, multihop),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        warn!(error = %e, "BFD receive failed");
                        break;
                    }
                }
            }
        }
    }

    fn datagram(&mut self, datagram: Datagram, multihop: bool) {
        if let Some(index) = datagram.ifindex
            && !self.ifnames.contains_key(&index)
            && let Some(name) = sockets::ifname(index)
        {
            self.ifnames.insert(index, name);
        }
        let meta = RxMeta {
            source: datagram.source,
            destination: datagram.destination,
            interface: datagram
                .ifindex
                .and_then(|index| self.ifnames.get(&index))
                .map(String::as_str),
            ttl: datagram.ttl.unwrap_or(0),
            multihop,
        };
        self.table
            .receive(Instant::now(), &datagram.bytes, &meta, &mut self.out);
    }

    fn command(&mut self, command: Command) {
        let now = Instant::now();
        match command {
            Command::Add(config, reply) => {
                let _ = reply.send(self.add(now, config));
            }
            Command::Remove(key, reply) => {
                let result = self.table.remove_session(now, &key, &mut self.out);
                let _ = reply.send(match result {
                    Ok(local) => {
                        self.flush();
                        if let Some(link) = self.links.remove(&local) {
                            link.liveness
                                .send_replace(Liveness::AdminDown { by_peer: false });
                        }
                        Ok(())
                    }
                    Err(e) => Err(e.into()),
                });
            }
            Command::AdminDown(key, down, reply) => {
                let result = self.table.set_admin_down(now, &key, down, &mut self.out);
                let _ = reply.send(result.map_err(DriverError::from));
            }
            Command::SetTimers(key, timers, reply) => {
                let result = self.table.set_timers(now, &key, timers, &mut self.out);
                let _ = reply.send(result.map_err(DriverError::from));
            }
            Command::Subscribe(key, reply) => {
                let receiver = self
                    .table
                    .lookup(&key)
                    .and_then(|local| self.links.get(&local))
                    .map(|link| link.liveness.subscribe());
                let _ = reply.send(receiver);
            }
            Command::Snapshot(reply) => {
                let _ = reply.send(self.table.snapshot(now));
            }
            Command::Shutdown(reply) => {
                self.stop();
                let _ = reply.send(());
            }
        }
    }

    fn add(
        &mut self,
        now: Instant,
        config: SessionConfig,
    ) -> Result<watch::Receiver<Liveness>, DriverError> {
        config.validate()?;
        let key = config.key();
        if self.table.lookup(&key).is_some() {
            return Err(ConfigError::Duplicate(key).into());
        }
        let ifindex = config.interface.as_deref().and_then(sockets::ifindex);
        if let (Some(index), Some(name)) = (ifindex, &config.interface) {
            self.ifnames.insert(index, name.clone());
        }
        let sender = Sender::open(
            config.peer,
            config.port(),
            config.local,
            config.interface.as_deref(),
            ifindex,
            &mut self.rng,
        )
        .map_err(|source| DriverError::Io {
            what: format!("socket for session {key}"),
            source,
        })?;
        let local = self.table.add_session(now, config)?;
        info!(session = %key, discriminator = %local, source_port = sender.source_port, "BFD session added");
        let (liveness, receiver) = watch::channel(Liveness::INITIAL);
        self.links.insert(
            local,
            Link {
                key,
                sender,
                liveness,
            },
        );
        Ok(receiver)
    }

    /// Tells every peer AdminDown and closes every session.
    fn stop(&mut self) {
        let now = Instant::now();
        let keys: Vec<_> = self.links.values().map(|link| link.key.clone()).collect();
        for key in keys {
            let _ = self.table.remove_session(now, &key, &mut self.out);
        }
        self.flush();
        for (_, link) in self.links.drain() {
            link.liveness
                .send_replace(Liveness::AdminDown { by_peer: false });
        }
    }

    fn flush(&mut self) {
        for output in self.out.drain(..) {
            match output {
                Output::Transmit { session, bytes } => {
                    let Some(link) = self.links.get(&session) else {
                        continue;
                    };
                    if let Err(e) = link.sender.send(&bytes) {
                        debug!(session = %link.key, error = %e, "BFD send failed");
                    }
                }
                Output::StateChange {
                    session,
                    from,
                    to,
                    diag,
                    admin_down_by_peer,
                } => {
                    let key = self.links.get(&session).map(|link| &link.key);
                    info!(session = ?key, ?from, ?to, ?diag, admin_down_by_peer, "BFD state change");
                }
                Output::Liveness { session, liveness } => {
                    if let Some(link) = self.links.get(&session) {
                        link.liveness.send_replace(liveness);
                    }
                }
            }
        }
    }
}

async fn sleep(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Never resolves for a listener that is not open.
async fn readable(listener: &Option<Listener>) -> io::Result<()> {
    match listener {
        Some(listener) => listener.readable().await,
        None => std::future::pending().await,
    }
}

fn log_readiness(ready: io::Result<()>) {
    if let Err(e) = ready {
        warn!(error = %e, "BFD socket readiness failed");
    }
}
