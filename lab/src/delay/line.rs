//! The userspace delay line: two `AF_PACKET` sockets, one per interface,
//! and for each direction a receiving thread, a timed queue and a sending
//! thread.
//!
//! ```text
//!            socket a (bound to a)                 socket b (bound to b)
//!   a ──▶ rx thread a ──▶ [timed queue a→b] ──▶ tx thread a→b ──▶ send on b
//!   a ◀── send on a ◀── tx thread b→a ◀── [timed queue b→a] ◀── rx thread b ◀── b
//! ```
//!
//! * Frames are stamped by the kernel when they arrive (`SO_TIMESTAMPNS`),
//!   so time the receiving thread spends waiting to be scheduled is not
//!   added to the delay: a frame leaves at its kernel arrival time plus the
//!   sampled delay ([`Schedule`]).
//! * A sending thread sleeps until the head frame's departure time minus
//!   `spin`, then spins to it, and sends every frame that is due. It
//!   records how late each frame left (the delay line's own error).
//! * A BPF filter keeps `PACKET_OUTGOING` frames (the line's own sends)
//!   out of the receiving sockets.
//! * Binding a packet socket to one interface needs a `sockaddr_ll`, which
//!   neither `socket2` nor `nix` can build without `unsafe`; the socket is
//!   therefore bound through a duplicate handed to `pnet_datalink`, and
//!   everything else is done on the original descriptor.

use std::collections::VecDeque;
use std::io::IoSliceMut;
use std::os::fd::{AsRawFd, IntoRawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::sys::socket::{ControlMessageOwned, LinkAddr, MsgFlags, recvmsg, setsockopt, sockopt};
use nix::sys::time::TimeSpec;
use socket2::{Domain, Protocol, SockFilter, Socket, Type};

use super::schedule::{Dropped, Impairment, Schedule};

/// How often blocked threads look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Largest frame read: MTU-sized frames with offloads off, room for jumbo.
const FRAME_MAX: usize = 65_536;

/// Kernel timestamps older than this are not trusted (the frame's own
/// receive path cannot have taken that long); the receive time is used.
const STAMP_MAX_AGE: Duration = Duration::from_secs(1);

/// Clock reads further apart than this were interrupted; read again.
const CLOCK_PAIR_SPREAD: Duration = Duration::from_micros(2);

/// Timer slack for the sending threads, in nanoseconds (the default,
/// 50 µs, would be added to every sleep).
const TIMER_SLACK_NS: u64 = 1_000;

/// Lateness buckets (upper bounds, in µs) of [`Counters::late_hist`]; the
/// last bucket holds everything later.
pub const LATE_BUCKETS_US: [u64; 6] = [50, 100, 200, 500, 1000, u64::MAX];

/// What a delay line runs with.
#[derive(Clone, Debug)]
pub struct LineConfig {
    /// The two interfaces (in the calling thread's namespace).
    pub a: String,
    pub b: String,
    /// Applied to each direction.
    pub impairment: Impairment,
    /// Seeds the a→b direction; b→a uses `seed + 1`.
    pub seed: u64,
    /// How long before a departure the sending thread stops sleeping and
    /// spins (zero: sleep all the way).
    pub spin: Duration,
    /// `SO_RCVBUF`/`SO_SNDBUF` of each socket (forced past the sysctl
    /// limits).
    pub socket_buffer: usize,
}

/// Why the line could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("interface {iface}: {what}: {source}")]
    Socket {
        iface: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {source}")]
    Thread {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("a {0} thread panicked")]
    Panicked(&'static str),
}

/// One direction's counters (all frames, in frames unless named).
#[derive(Debug, Default)]
pub struct Counters {
    pub received: AtomicU64,
    pub received_bytes: AtomicU64,
    pub forwarded: AtomicU64,
    pub lost: AtomicU64,
    pub queue_full: AtomicU64,
    pub truncated: AtomicU64,
    pub send_errors: AtomicU64,
    /// Frames without a usable kernel timestamp (received time used).
    pub unstamped: AtomicU64,
    /// Longest time from a frame's kernel stamp to its read by the
    /// receiving thread, in ns (softirq or thread scheduling delay).
    pub rx_lag_max_ns: AtomicU64,
    /// Frames read more than 1 ms after their kernel stamp.
    pub rx_lag_over_1ms: AtomicU64,
    /// The latest a frame left after its departure time, in ns.
    pub late_max_ns: AtomicU64,
    /// Frames per lateness bucket ([`LATE_BUCKETS_US`]).
    pub late_hist: [AtomicU64; 6],
}

impl Counters {
    /// The counters as JSON, for the binary's exit line.
    pub fn to_json(&self) -> serde_json::Value {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let hist: Vec<u64> = self.late_hist.iter().map(get).collect();
        serde_json::json!({
            "received": get(&self.received),
            "received_bytes": get(&self.received_bytes),
            "forwarded": get(&self.forwarded),
            "lost": get(&self.lost),
            "queue_full": get(&self.queue_full),
            "truncated": get(&self.truncated),
            "send_errors": get(&self.send_errors),
            "unstamped": get(&self.unstamped),
            "rx_lag_max_us": get(&self.rx_lag_max_ns) / 1000,
            "rx_lag_over_1ms": get(&self.rx_lag_over_1ms),
            "late_max_us": get(&self.late_max_ns) / 1000,
            "late_hist_us": {
                "le50": hist.first(), "le100": hist.get(1), "le200": hist.get(2),
                "le500": hist.get(3), "le1000": hist.get(4), "over1000": hist.get(5),
            },
        })
    }

    fn record_rx_lag(&self, lag: Duration) {
        let ns = u64::try_from(lag.as_nanos()).unwrap_or(u64::MAX);
        self.rx_lag_max_ns.fetch_max(ns, Ordering::Relaxed);
        if lag > Duration::from_millis(1) {
            self.rx_lag_over_1ms.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn record_lateness(&self, late: Duration) {
        let ns = u64::try_from(late.as_nanos()).unwrap_or(u64::MAX);
        self.late_max_ns.fetch_max(ns, Ordering::Relaxed);
        let us = ns / 1000;
        let bucket = LATE_BUCKETS_US
            .iter()
            .position(|b| us <= *b)
            .unwrap_or(LATE_BUCKETS_US.len() - 1);
        if let Some(c) = self.late_hist.get(bucket) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A frame waiting for its departure time.
struct Queued {
    departure: Instant,
    frame: Vec<u8>,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Queued>,
    bytes: usize,
}

/// One direction: the queue between its two threads, and its counters.
struct Direction {
    name: &'static str,
    queue: Mutex<Queue>,
    ready: Condvar,
    counters: Counters,
}

/// A running delay line; [`Running::stop`] ends it.
pub struct Running {
    stop: Arc<AtomicBool>,
    directions: [Arc<Direction>; 2],
    threads: Vec<(&'static str, JoinHandle<Result<(), LineError>>)>,
}

/// Opens both sockets and starts the four threads. Frames are forwarded
/// from when this returns.
pub fn start(config: &LineConfig) -> Result<Running, LineError> {
    config.impairment.check().map_err(|e| LineError::Socket {
        iface: format!("{}/{}", config.a, config.b),
        what: "checking the impairment",
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, e),
    })?;
    let a = Arc::new(open(&config.a, config.socket_buffer)?);
    let b = Arc::new(open(&config.b, config.socket_buffer)?);
    let stop = Arc::new(AtomicBool::new(false));
    let new_direction = |name| {
        Arc::new(Direction {
            name,
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            counters: Counters::default(),
        })
    };
    let a_to_b = new_direction("a->b");
    let b_to_a = new_direction("b->a");
    let mut running = Running {
        stop: stop.clone(),
        directions: [a_to_b.clone(), b_to_a.clone()],
        threads: Vec::new(),
    };
    let legs = [
        (a.clone(), b.clone(), a_to_b, config.seed),
        (b, a, b_to_a, config.seed.wrapping_add(1)),
    ];
    for (from, to, direction, seed) in legs {
        let schedule = Schedule::new(config.impairment, seed);
        let (stop_rx, stop_tx) = (stop.clone(), stop.clone());
        let dir_rx = direction.clone();
        let rx = std::thread::Builder::new()
            .name(format!("rx {}", direction.name))
            .spawn(move || receive_loop(&from, &dir_rx, schedule, &stop_rx))
            .map_err(|source| LineError::Thread {
                what: "starting a receiving thread",
                source,
            })?;
        running.threads.push(("receiving", rx));
        let spin = config.spin;
        let tx = std::thread::Builder::new()
            .name(format!("tx {}", direction.name))
            .spawn(move || send_loop(&to, &direction, spin, &stop_tx))
            .map_err(|source| LineError::Thread {
                what: "starting a sending thread",
                source,
            })?;
        running.threads.push(("sending", tx));
    }
    Ok(running)
}

impl Running {
    /// The a→b and b→a counters so far.
    pub fn counters(&self) -> [&Counters; 2] {
        let [ab, ba] = &self.directions;
        [&ab.counters, &ba.counters]
    }

    /// The counters of both directions as one JSON object.
    pub fn report(&self) -> serde_json::Value {
        let [ab, ba] = self.counters();
        serde_json::json!({ "a_to_b": ab.to_json(), "b_to_a": ba.to_json() })
    }

    /// Stops the threads (frames still queued are discarded) and returns
    /// the final counters, or the first thread's error.
    pub fn stop(mut self) -> Result<serde_json::Value, LineError> {
        self.stop.store(true, Ordering::Relaxed);
        for d in &self.directions {
            d.ready.notify_all();
        }
        let mut first_error = None;
        for (kind, thread) in self.threads.drain(..) {
            let outcome = thread.join().unwrap_or(Err(LineError::Panicked(kind)));
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(self.report()),
        }
    }
}

/// A packet socket bound to `iface` that sees every frame the interface
/// receives but none it sends.
fn open(iface: &str, buffer: usize) -> Result<Socket, LineError> {
    let err = |what| {
        move |source: std::io::Error| LineError::Socket {
            iface: iface.to_string(),
            what,
            source,
        }
    };
    let errno = |what| move |e: nix::Error| err(what)(std::io::Error::from(e));
    let index = nix::net::if_::if_nametoindex(iface).map_err(errno("looking up the index"))?;
    // Protocol 0: no frame is queued before the bind below names ETH_P_ALL
    // on this one interface.
    let socket = Socket::new(Domain::PACKET, Type::RAW.cloexec(), Some(Protocol::from(0)))
        .map_err(err("opening an AF_PACKET socket"))?;
    setsockopt(&socket, sockopt::RcvBufForce, &buffer).map_err(errno("forcing SO_RCVBUF"))?;
    setsockopt(&socket, sockopt::SndBufForce, &buffer).map_err(errno("forcing SO_SNDBUF"))?;
    setsockopt(&socket, sockopt::ReceiveTimestampns, &true)
        .map_err(errno("asking for SO_TIMESTAMPNS"))?;
    socket
        .attach_filter(&not_outgoing())
        .map_err(err("attaching the BPF filter"))?;
    bind(&socket, iface, index).map_err(err("binding"))?;
    // pnet made the (shared) file description non-blocking.
    socket
        .set_nonblocking(false)
        .map_err(err("making the socket blocking"))?;
    socket
        .set_read_timeout(Some(STOP_POLL))
        .map_err(err("setting SO_RCVTIMEO"))?;
    Ok(socket)
}

/// Binds `socket` to interface `index` with ETH_P_ALL, through a duplicate
/// descriptor that `pnet_datalink` binds and closes again.
fn bind(socket: &Socket, name: &str, index: u32) -> std::io::Result<()> {
    let duplicate = socket.try_clone()?.into_raw_fd();
    let iface = pnet_datalink::NetworkInterface {
        name: name.to_string(),
        description: String::new(),
        index,
        mac: None,
        ips: Vec::new(),
        flags: 0,
    };
    let config = pnet_datalink::Config {
        promiscuous: false,
        socket_fd: Some(duplicate),
        ..pnet_datalink::Config::default()
    };
    // The channel owns the duplicate and closes it when dropped here; the
    // binding stays with the socket.
    pnet_datalink::channel(&iface, config).map(drop)
}

/// Classic BPF: drop frames of type PACKET_OUTGOING, accept the rest whole.
fn not_outgoing() -> Vec<SockFilter> {
    const LD_W_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    // SKF_AD_OFF (-0x1000) + SKF_AD_PKTTYPE (4), as the unsigned k field.
    const PKTTYPE: u32 = 0xffff_f004;
    const PACKET_OUTGOING: u32 = 4;
    vec![
        SockFilter::new(LD_W_ABS, 0, 0, PKTTYPE),
        SockFilter::new(JEQ_K, 0, 1, PACKET_OUTGOING),
        SockFilter::new(RET_K, 0, 0, 0),
        SockFilter::new(RET_K, 0, 0, u32::MAX),
    ]
}

fn receive_loop(
    socket: &Socket,
    direction: &Direction,
    mut schedule: Schedule,
    stop: &AtomicBool,
) -> Result<(), LineError> {
    let counters = &direction.counters;
    let mut buf = vec![0u8; FRAME_MAX];
    let mut cmsg = nix::cmsg_space!(TimeSpec);
    while !stop.load(Ordering::Relaxed) {
        let (len, truncated, stamp) = match receive(socket, &mut buf, &mut cmsg) {
            Ok(frame) => frame,
            Err(e) if retry(&e) => continue,
            Err(source) => {
                return Err(LineError::Thread {
                    what: "receiving a frame",
                    source,
                });
            }
        };
        let received = arrival(stamp).unwrap_or_else(|| {
            counters.unstamped.fetch_add(1, Ordering::Relaxed);
            Instant::now()
        });
        counters.received.fetch_add(1, Ordering::Relaxed);
        counters.record_rx_lag(received.elapsed());
        counters
            .received_bytes
            .fetch_add(len as u64, Ordering::Relaxed);
        if truncated {
            counters.truncated.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let frame = buf.get(..len).unwrap_or_default().to_vec();
        let mut queue = direction
            .queue
            .lock()
            .map_err(|_| LineError::Panicked("sending"))?;
        match schedule.admit(received, len, queue.bytes) {
            Ok(departure) => {
                queue.bytes += len;
                queue.frames.push_back(Queued { departure, frame });
                let was_empty = queue.frames.len() == 1;
                drop(queue);
                if was_empty {
                    direction.ready.notify_one();
                }
            }
            Err(Dropped::Lost) => {
                counters.lost.fetch_add(1, Ordering::Relaxed);
            }
            Err(Dropped::QueueFull) => {
                counters.queue_full.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(())
}

/// One frame: its length, whether it was cut, its kernel timestamp.
fn receive(
    socket: &Socket,
    buf: &mut [u8],
    cmsg: &mut [u8],
) -> std::io::Result<(usize, bool, Option<SystemTime>)> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<LinkAddr>(
        socket.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        MsgFlags::MSG_TRUNC,
    )?;
    let mut stamp = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::ScmTimestampns(ts) = c {
                let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
                let nanos = u32::try_from(ts.tv_nsec()).unwrap_or(0);
                stamp = SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos));
            }
        }
    }
    let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC) || msg.bytes > FRAME_MAX;
    Ok((msg.bytes, truncated, stamp))
}

/// The monotonic instant matching a kernel (CLOCK_REALTIME) receive
/// stamp, if the stamp is plausible.
fn arrival(stamp: Option<SystemTime>) -> Option<Instant> {
    let (now, wall) = clocks();
    let age = wall.duration_since(stamp?).ok()?;
    if age > STAMP_MAX_AGE {
        return None;
    }
    now.checked_sub(age)
}

/// The monotonic and the wall clock read at (nearly) the same moment: a
/// thread preempted between the two reads would otherwise date frames too
/// early and send them before their time. Of a few tries, the pair read
/// closest together wins.
fn clocks() -> (Instant, SystemTime) {
    let mut best: Option<(Duration, Instant, SystemTime)> = None;
    for _ in 0..4 {
        let before = Instant::now();
        let wall = SystemTime::now();
        let spread = before.elapsed();
        if best.is_none_or(|(s, _, _)| spread < s) {
            best = Some((spread, before + spread / 2, wall));
        }
        if spread < CLOCK_PAIR_SPREAD {
            break;
        }
    }
    best.map_or_else(|| (Instant::now(), SystemTime::now()), |(_, i, w)| (i, w))
}

fn retry(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{Interrupted, TimedOut, WouldBlock};
    matches!(e.kind(), WouldBlock | TimedOut | Interrupted)
        // The interface went down for a moment (a link flap in a test).
        || e.raw_os_error() == Some(nix::errno::Errno::ENETDOWN as i32)
}

fn send_loop(
    socket: &Socket,
    direction: &Direction,
    spin: Duration,
    stop: &AtomicBool,
) -> Result<(), LineError> {
    // Per thread; without it every sleep may end 50 µs late.
    let _ = nix::sys::prctl::set_timerslack(TIMER_SLACK_NS);
    let counters = &direction.counters;
    let mut due: Vec<Queued> = Vec::new();
    loop {
        let head = {
            let mut queue = direction
                .queue
                .lock()
                .map_err(|_| LineError::Panicked("receiving"))?;
            loop {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if let Some(head) = queue.frames.front() {
                    break head.departure;
                }
                queue = direction
                    .ready
                    .wait_timeout(queue, STOP_POLL)
                    .map_err(|_| LineError::Panicked("receiving"))?
                    .0;
            }
        };
        // Frames behind the head never leave earlier (no reordering), so
        // nothing that arrives while this sleeps is due sooner.
        wait_until(head, spin);
        let now = Instant::now();
        {
            let mut queue = direction
                .queue
                .lock()
                .map_err(|_| LineError::Panicked("receiving"))?;
            while queue.frames.front().is_some_and(|q| q.departure <= now) {
                if let Some(q) = queue.frames.pop_front() {
                    queue.bytes -= q.frame.len();
                    due.push(q);
                }
            }
        }
        for q in due.drain(..) {
            let sent = Instant::now();
            match socket.send(&q.frame) {
                Ok(_) => {
                    counters.forwarded.fetch_add(1, Ordering::Relaxed);
                    counters.record_lateness(sent.saturating_duration_since(q.departure));
                }
                Err(_) => {
                    counters.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Sleeps until `spin` before `deadline`, then spins to it.
fn wait_until(deadline: Instant, spin: Duration) {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let left = deadline - now;
        if left > spin {
            std::thread::sleep(left - spin);
        } else {
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lateness_lands_in_its_bucket() {
        let c = Counters::default();
        c.record_lateness(Duration::from_micros(10));
        c.record_lateness(Duration::from_micros(150));
        c.record_lateness(Duration::from_millis(3));
        let hist: Vec<u64> = c
            .late_hist
            .iter()
            .map(|h| h.load(Ordering::Relaxed))
            .collect();
        assert_eq!(hist, [1, 0, 1, 0, 0, 1]);
        assert_eq!(c.late_max_ns.load(Ordering::Relaxed), 3_000_000);
        assert_eq!(c.to_json()["late_max_us"], 3000);
    }

    #[test]
    fn a_recent_stamp_maps_to_an_earlier_instant_and_a_stale_one_is_refused() {
        let before = Instant::now();
        let t = arrival(Some(SystemTime::now() - Duration::from_millis(5))).unwrap();
        assert!(t <= before);
        assert!(arrival(Some(SystemTime::now() - Duration::from_secs(5))).is_none());
        assert!(arrival(None).is_none());
    }

    #[test]
    fn waiting_ends_at_the_deadline_not_before() {
        for spin in [Duration::ZERO, Duration::from_micros(200)] {
            let deadline = Instant::now() + Duration::from_millis(2);
            wait_until(deadline, spin);
            assert!(Instant::now() >= deadline);
        }
    }
}
