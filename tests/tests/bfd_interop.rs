//! BFD interop: our driver against BIRD 2 and FRR bfdd, and against itself,
//! in network namespaces.
//!
//! ```text
//!   netns <run>-d                          netns <run>-p
//!  +----------------------+    veth     +--------------------------+
//!  | speaker::bfd driver  | dut0 -- peer0 | bird -f  or  bfdd        |
//!  | 203.0.113.1/24         |             | 203.0.113.2/24             |
//!  | 2001:db8:77::1/64    |             | 2001:db8:77::2/64        |
//!  +----------------------+             +--------------------------+
//! ```
//!
//! Each run has its own namespaces and directory, named after the process
//! and a counter; a guard kills the daemons it started (by PID) and deletes
//! the namespaces on drop, panics included. The runs share the machine's
//! two cores with other jobs, so they take a lock and run one at a time.

use std::fs::File;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use proto::bfd::{ControlPacket, Diagnostic, State};
use speaker::bfd::{
    BfdHandle, Damping, DriverConfig, Liveness, SessionConfig, SessionSnapshot, Timers,
};
use tokio::sync::watch;

static SERIAL: Mutex<()> = Mutex::new(());
static RUNS: AtomicU32 = AtomicU32::new(0);

const DUT: &str = "203.0.113.1";
const PEER: &str = "203.0.113.2";

fn ip(address: &str) -> IpAddr {
    address.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// Two namespaces on a veth, a directory, and the daemons started there.
struct Lab {
    name: String,
    dut: String,
    peer: String,
    dir: PathBuf,
    daemons: Vec<Child>,
    frr_pathspace: Option<String>,
}

impl Lab {
    fn new(tag: &str) -> Result<Self> {
        let serial = RUNS.fetch_add(1, Ordering::SeqCst);
        let name = format!("hrbfd-{}-{tag}-{serial}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let lab = Self {
            dut: format!("{name}-d"),
            peer: format!("{name}-p"),
            name,
            dir,
            daemons: Vec::new(),
            frr_pathspace: None,
        };
        // From here on, Drop cleans up whatever was made.
        std::fs::create_dir_all(&lab.dir)?;
        // FRR drops privileges to its own user, which must write here.
        run("chmod", &["0777", &lab.dir.to_string_lossy()])?;
        run("ip", &["netns", "add", &lab.dut])?;
        run("ip", &["netns", "add", &lab.peer])?;
        run(
            "ip",
            &[
                "link", "add", "dut0", "netns", &lab.dut, "type", "veth", "peer", "name", "peer0",
                "netns", &lab.peer,
            ],
        )?;
        for ns in [&lab.dut, &lab.peer] {
            // Keep IPv6 addresses across a link flap, as IPv4 does.
            let sysctl = "net.ipv6.conf.all.keep_addr_on_down=1";
            run("ip", &["netns", "exec", ns, "sysctl", "-qw", sysctl])?;
        }
        for (ns, dev, v4, v6) in [
            (&lab.dut, "dut0", "203.0.113.1/24", "2001:db8:77::1/64"),
            (&lab.peer, "peer0", "203.0.113.2/24", "2001:db8:77::2/64"),
        ] {
            run("ip", &["-n", ns, "addr", "add", v4, "dev", dev])?;
            run("ip", &["-n", ns, "addr", "add", v6, "dev", dev, "nodad"])?;
            run("ip", &["-n", ns, "link", "set", dev, "up"])?;
            run("ip", &["-n", ns, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Starts a daemon in the peer namespace, in the foreground, so that
    /// the child's PID is the daemon's (`ip netns exec` execs it).
    fn start_in_peer(&mut self, log: &str, program: &str, args: &[&str]) -> Result<Pid> {
        let out = File::create(self.path(log))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.peer, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("starting {program}"))?;
        let pid = Pid::from_raw(i32::try_from(child.id())?);
        self.daemons.push(child);
        Ok(pid)
    }

    /// Waits for a daemon's pidfile and checks it names the child we
    /// started.
    fn check_pidfile(&self, file: &str, pid: Pid) -> Result<()> {
        let path = self.path(file);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(&path)
                && let Ok(written) = text.trim().parse::<i32>()
            {
                ensure!(
                    written == pid.as_raw(),
                    "{file} says {written}, we started {pid}"
                );
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "no pidfile {}", path.display());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn signal(&self, pid: Pid, signal: Signal) -> Result<()> {
        nix::sys::signal::kill(pid, signal).with_context(|| format!("{signal} to {pid}"))
    }

    /// Starts a BFD driver whose thread lives in `netns`.
    fn driver_in(&self, netns: &str) -> Result<BfdHandle> {
        let path = format!("/var/run/netns/{netns}");
        let config = DriverConfig {
            damping: Damping::DISABLED,
            seed: Some(u64::from(std::process::id())),
            ..DriverConfig::default()
        };
        std::thread::spawn(move || -> Result<BfdHandle> {
            let namespace = File::open(&path).with_context(|| path.clone())?;
            nix::sched::setns(&namespace, CloneFlags::CLONE_NEWNET)?;
            Ok(BfdHandle::spawn(config)?)
        })
        .join()
        .map_err(|_| anyhow::anyhow!("driver thread panicked"))?
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.daemons {
            // A stopped process still dies of SIGKILL.
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = run("ip", &["netns", "del", &self.dut]);
        let _ = run("ip", &["netns", "del", &self.peer]);
        if let Some(pathspace) = &self.frr_pathspace {
            let _ = std::fs::remove_dir_all(Path::new("/var/run/frr").join(pathspace));
        }
        if std::env::var_os("HOSTROUTE_KEEP_LAB").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    let output = Command::new(program).args(args).output()?;
    ensure!(
        output.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Daemon {
    Bird,
    Frr,
}

impl Daemon {
    /// Writes the configuration for `interval_ms` x 3 and starts the daemon
    /// in the peer namespace.
    fn start(self, lab: &mut Lab, interval_ms: u64) -> Result<Pid> {
        match self {
            Self::Bird => {
                let config = format!(
                    "router id {PEER};\n\
                     log \"{log}\" all;\n\
                     protocol device {{}}\n\
                     protocol bfd {{\n\
                     \x20 interface \"*\" {{ min rx interval {interval_ms} ms; min tx interval {interval_ms} ms; multiplier 3; }};\n\
                     \x20 neighbor {DUT} dev \"peer0\" local {PEER};\n\
                     }}\n",
                    log = lab.path("bird.log").display(),
                );
                std::fs::write(lab.path("bird.conf"), config)?;
                let (conf, ctl, pidfile) = (
                    lab.path("bird.conf"),
                    lab.path("bird.ctl"),
                    lab.path("bird.pid"),
                );
                let pid = lab.start_in_peer(
                    "bird.out",
                    "bird",
                    &[
                        "-f",
                        "-c",
                        &conf.to_string_lossy(),
                        "-s",
                        &ctl.to_string_lossy(),
                        "-P",
                        &pidfile.to_string_lossy(),
                    ],
                )?;
                lab.check_pidfile("bird.pid", pid)?;
                Ok(pid)
            }
            Self::Frr => {
                // bfdd alone has no zebra to learn interfaces from, so the
                // peer is bound by local address only.
                let config = format!(
                    "bfd\n peer {DUT} local-address {PEER}\n  receive-interval {interval_ms}\n  \
                     transmit-interval {interval_ms}\n  detect-multiplier 3\n !\n!\n"
                );
                std::fs::write(lab.path("frr.conf"), config)?;
                let pathspace = lab.name.replace('-', "");
                lab.frr_pathspace = Some(pathspace.clone());
                let paths = ["frr.conf", "bfdd.pid", "zserv.api", "bfdd.sock", "bfdd.log"]
                    .map(|file| lab.path(file).to_string_lossy().into_owned());
                let log = format!("file:{}", paths[4]);
                let dir = lab.dir.to_string_lossy().into_owned();
                let pid = lab.start_in_peer(
                    "bfdd.out",
                    "/usr/lib/frr/bfdd",
                    &[
                        "-N",
                        &pathspace,
                        "-f",
                        &paths[0],
                        "-i",
                        &paths[1],
                        "-z",
                        &paths[2],
                        "--vty_socket",
                        &dir,
                        "--bfdctl",
                        &paths[3],
                        "--log",
                        &log,
                    ],
                )?;
                lab.check_pidfile("bfdd.pid", pid)?;
                Ok(pid)
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn session(peer: &str, local: &str, interval_ms: u64) -> SessionConfig {
    SessionConfig {
        local: Some(ip(local)),
        interface: Some(if peer == PEER || peer.ends_with("::2") {
            "dut0".to_owned()
        } else {
            "peer0".to_owned()
        }),
        timers: Timers::symmetric(Duration::from_millis(interval_ms), 3),
        ..SessionConfig::single_hop(ip(peer))
    }
}

async fn wait_for(
    live: &mut watch::Receiver<Liveness>,
    within: Duration,
    what: &str,
    want: impl FnMut(&Liveness) -> bool,
) -> Result<Liveness> {
    let result = tokio::time::timeout(within, live.wait_for(want))
        .await
        .map(|r| r.map(|value| *value));
    match result {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => bail!("{what}: the driver stopped"),
        Err(_) => bail!("{what}: not within {within:?}, last {:?}", *live.borrow()),
    }
}

async fn snapshot_of(handle: &BfdHandle, peer: &str) -> Result<SessionSnapshot> {
    let all = handle.snapshot().await?;
    all.into_iter()
        .find(|s| s.key.peer() == ip(peer))
        .context("session missing from snapshot")
}

fn is_up(l: &Liveness) -> bool {
    *l == Liveness::Up
}

/// What one run against a daemon showed.
#[derive(Debug)]
struct Report {
    up_after: Duration,
    flaps_in_5s: usize,
    detected_after: Duration,
    back_up_after: Duration,
}

/// Our driver against `daemon`, both at `interval_ms` x 3: Up, negotiated
/// intervals, five seconds of stability, SIGSTOP -> Down with Diag 1,
/// SIGCONT -> Up again.
fn interop(daemon: Daemon, interval_ms: u64) -> Result<Report> {
    let mut lab = Lab::new(&format!("{daemon:?}").to_lowercase())?;
    let pid = daemon.start(&mut lab, interval_ms)?;
    let handle = lab.driver_in(&lab.dut.clone())?;
    let report = runtime()?.block_on(async {
        let mut live = handle.add_session(session(PEER, DUT, interval_ms)).await?;
        let started = Instant::now();
        wait_for(&mut live, Duration::from_secs(30), "Up", is_up).await?;
        let up_after = started.elapsed();
        // Let both Poll Sequences finish, then check what was negotiated.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let snap = snapshot_of(&handle, PEER).await?;
        let us = interval_ms * 1000;
        ensure!(
            (snap.status.tx_interval_us, snap.status.rx_interval_us) == (us, us),
            "negotiated tx {} rx {} us, wanted {us}: {snap:#?}",
            snap.status.tx_interval_us,
            snap.status.rx_interval_us
        );
        ensure!(snap.status.detection_time_us == Some(3 * us), "{snap:#?}");
        ensure!(snap.status.remote_detect_mult == 3);
        ensure!(!snap.status.poll_active, "Poll never answered: {snap:#?}");

        let mut flaps_in_5s = 0;
        let quiet_from = Instant::now();
        let quiet_until = tokio::time::Instant::now() + Duration::from_secs(5);
        while let Ok(changed) = tokio::time::timeout_at(quiet_until, live.changed()).await {
            changed?;
            let now = *live.borrow();
            eprintln!("  {:?} after Up + 500 ms: {now:?}", quiet_from.elapsed());
            if !is_up(&now) {
                flaps_in_5s += 1;
            }
        }
        // Damping may hold an Up back after flaps on a loaded machine
        // (up to 30 s by default): wait past that.
        wait_for(
            &mut live,
            Duration::from_secs(45),
            "Up before SIGSTOP",
            is_up,
        )
        .await?;

        lab.signal(pid, Signal::SIGSTOP)?;
        let stopped = Instant::now();
        let down = wait_for(
            &mut live,
            Duration::from_secs(5),
            "Down after SIGSTOP",
            |l| !is_up(l),
        )
        .await;
        let detected_after = stopped.elapsed();
        // Read the diagnostic while the peer is still frozen: once it
        // thaws, the session moves on to Init and clears it.
        let snap = snapshot_of(&handle, PEER).await;
        lab.signal(pid, Signal::SIGCONT)?;
        let down = down?;
        ensure!(
            down == Liveness::Down {
                diag: Diagnostic::ControlDetectionTimeExpired
            },
            "{down:?}"
        );
        let snap = snap?;
        ensure!(u8::from(snap.status.local_diag) == 1, "{snap:#?}");

        let resumed = Instant::now();
        wait_for(
            &mut live,
            Duration::from_secs(30),
            "Up after SIGCONT",
            is_up,
        )
        .await?;
        let back_up_after = resumed.elapsed();
        let snap = snapshot_of(&handle, PEER).await?;
        ensure!(snap.status.counters.dropped.ttl == 0, "{snap:#?}");
        handle.shutdown().await?;
        anyhow::Ok(Report {
            up_after,
            flaps_in_5s,
            detected_after,
            back_up_after,
        })
    })?;
    eprintln!(
        "BFD interop {daemon:?} at {interval_ms} ms x 3: up after {:?}, {} flaps in 5 s, \
         SIGSTOP detected after {:?}, up again {:?} after SIGCONT",
        report.up_after, report.flaps_in_5s, report.detected_after, report.back_up_after
    );
    Ok(report)
}

/// The contract at 50 ms x 3: no flap, and the stopped daemon is detected
/// within the detection time (150 ms) plus scheduling slack.
fn interop_50ms(daemon: Daemon, test: &str) -> Result<()> {
    if !hostroute_tests::netns_available(test) {
        return Ok(());
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let report = interop(daemon, 50)?;
    ensure!(report.flaps_in_5s == 0, "{report:?}");
    ensure!(
        report.detected_after <= Duration::from_millis(400),
        "{report:?}"
    );
    Ok(())
}

#[test]
fn bfd_interop_bird_50ms() -> Result<()> {
    interop_50ms(Daemon::Bird, "bfd_interop_bird_50ms")
}

#[test]
fn bfd_interop_frr_50ms() -> Result<()> {
    interop_50ms(Daemon::Frr, "bfd_interop_frr_50ms")
}

/// 20 ms and 10 ms x 3: must come up at the interval asked for and detect
/// the stopped daemon; flaps on two loaded shared cores are reported, not
/// failed.
fn interop_fast(daemon: Daemon, test: &str) -> Result<()> {
    if !hostroute_tests::netns_available(test) {
        return Ok(());
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    for interval_ms in [20, 10] {
        let report = interop(daemon, interval_ms)?;
        ensure!(
            report.detected_after <= Duration::from_millis(3 * interval_ms + 250),
            "{interval_ms} ms: {report:?}"
        );
    }
    Ok(())
}

#[test]
fn bfd_interop_bird_20ms_and_10ms() -> Result<()> {
    interop_fast(Daemon::Bird, "bfd_interop_bird_20ms_and_10ms")
}

#[test]
fn bfd_interop_frr_20ms_and_10ms() -> Result<()> {
    interop_fast(Daemon::Frr, "bfd_interop_frr_20ms_and_10ms")
}

/// Two of our drivers, one per namespace, over IPv4 and IPv6 single-hop
/// and IPv4 multihop at 10 ms x 3: AdminDown is reported as such, and a
/// link taken down is detected with Diag 1.
#[test]
fn bfd_driver_pair_admin_down_and_link_failure() -> Result<()> {
    if !hostroute_tests::netns_available("bfd_driver_pair_admin_down_and_link_failure") {
        return Ok(());
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("pair")?;
    let ours = lab.driver_in(&lab.dut)?;
    let theirs = lab.driver_in(&lab.peer)?;
    runtime()?.block_on(async {
        let multihop = |local: &str, peer: &str| SessionConfig {
            timers: Timers::symmetric(Duration::from_millis(10), 3),
            ..SessionConfig::multihop(ip(local), ip(peer), 254)
        };
        let pairs = [
            (session(PEER, DUT, 10), session(DUT, PEER, 10)),
            (
                session("2001:db8:77::2", "2001:db8:77::1", 10),
                session("2001:db8:77::1", "2001:db8:77::2", 10),
            ),
            (multihop(DUT, PEER), multihop(PEER, DUT)),
        ];
        let mut lives = Vec::new();
        for (a, b) in &pairs {
            let la = ours.add_session(a.clone()).await?;
            let lb = theirs.add_session(b.clone()).await?;
            lives.push((a.key(), la, b.key(), lb));
        }
        for (key, la, _, lb) in &mut lives {
            let what = format!("{key} Up");
            wait_for(la, Duration::from_secs(10), &what, is_up).await?;
            wait_for(lb, Duration::from_secs(10), &what, is_up).await?;
        }
        let snaps = ours.snapshot().await?;
        ensure!(snaps.len() == 3);
        for snap in &snaps {
            ensure!(snap.status.state == State::Up, "{snap:#?}");
            ensure!(snap.status.tx_interval_us == 10_000, "{snap:#?}");
        }

        // AdminDown on their side: ours is told, and it is no failure.
        let (key_a, la, key_b, lb) = &mut lives[0];
        theirs.set_admin_down(key_b.clone(), true).await?;
        let seen = wait_for(la, Duration::from_secs(2), "peer AdminDown", |l| !is_up(l)).await?;
        ensure!(seen == Liveness::AdminDown { by_peer: true }, "{seen:?}");
        ensure!(*lb.borrow() == Liveness::AdminDown { by_peer: false });
        theirs.set_admin_down(key_b.clone(), false).await?;
        wait_for(la, Duration::from_secs(10), "Up after AdminDown", is_up).await?;
        let _ = key_a;

        // The link fails: every session on it is detected Down, Diag 1.
        run("ip", &["-n", &lab.peer, "link", "set", "peer0", "down"])?;
        let cut = Instant::now();
        for (key, la, _, _) in &mut lives {
            let seen = wait_for(la, Duration::from_secs(2), &format!("{key} Down"), |l| {
                !is_up(l)
            })
            .await?;
            let detect = Liveness::Down {
                diag: Diagnostic::ControlDetectionTimeExpired,
            };
            ensure!(seen == detect, "{key}: {seen:?}");
        }
        let detected = cut.elapsed();
        ensure!(detected <= Duration::from_millis(300), "{detected:?}");
        eprintln!("BFD driver pair at 10 ms x 3: link failure detected in {detected:?}");
        run("ip", &["-n", &lab.peer, "link", "set", "peer0", "up"])?;
        for (key, la, _, _) in &mut lives {
            let what = format!("{key} Up after link up");
            wait_for(la, Duration::from_secs(10), &what, is_up).await?;
        }
        ours.shutdown().await?;
        theirs.shutdown().await?;
        anyhow::Ok(())
    })
}

/// RFC 5881 section 5: single-hop packets must arrive with TTL 255. A Down
/// packet sent with TTL 64 is dropped and counted; the same with TTL 255
/// moves the session to Init.
#[test]
fn bfd_driver_drops_single_hop_ttl_below_255() -> Result<()> {
    if !hostroute_tests::netns_available("bfd_driver_drops_single_hop_ttl_below_255") {
        return Ok(());
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lab = Lab::new("ttl")?;
    let ours = lab.driver_in(&lab.dut)?;
    let peer_ns = format!("/var/run/netns/{}", lab.peer);
    runtime()?.block_on(async {
        let config = SessionConfig {
            timers: Timers::symmetric(Duration::from_secs(1), 3),
            ..session(PEER, DUT, 1000)
        };
        let _live = ours.add_session(config).await?;
        let down = ControlPacket {
            diagnostic: Diagnostic::NoDiagnostic,
            state: State::Down,
            poll: false,
            final_: false,
            control_plane_independent: false,
            demand: false,
            multipoint: false,
            detect_mult: 3,
            my_discriminator: 0x7777,
            your_discriminator: 0,
            desired_min_tx_us: 1_000_000,
            required_min_rx_us: 1_000_000,
            required_min_echo_rx_us: 0,
            auth: None,
        }
        .to_bytes()?;
        let send = |ttl: u32| {
            let (path, bytes) = (peer_ns.clone(), down.clone());
            std::thread::spawn(move || -> Result<()> {
                nix::sched::setns(File::open(&path)?, CloneFlags::CLONE_NEWNET)?;
                let socket = UdpSocket::bind((ip(PEER), 49999))?;
                socket.set_ttl(ttl)?;
                socket.send_to(&bytes, SocketAddr::new(ip(DUT), 3784))?;
                Ok(())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("sender panicked"))?
        };
        send(64)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let snap = snapshot_of(&ours, PEER).await?;
            if snap.status.counters.dropped.ttl == 1 {
                ensure!(snap.status.state == State::Down, "{snap:#?}");
                break;
            }
            ensure!(Instant::now() < deadline, "TTL 64 not dropped: {snap:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        send(255)?;
        loop {
            let snap = snapshot_of(&ours, PEER).await?;
            if snap.status.state == State::Init {
                ensure!(snap.status.counters.dropped.ttl == 1, "{snap:#?}");
                ensure!(snap.status.remote_discriminator.map(|d| d.get()) == Some(0x7777));
                break;
            }
            ensure!(Instant::now() < deadline, "TTL 255 not accepted: {snap:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ours.shutdown().await?;
        anyhow::Ok(())
    })
}

/// The scheduling policy (`/proc/self/task/<tid>/stat` field 41; 1 is
/// SCHED_FIFO) of every thread of this process named `bfd`.
fn bfd_threads_policy() -> Result<Vec<u32>> {
    let mut policies = Vec::new();
    for task in std::fs::read_dir("/proc/self/task")? {
        let path = task?.path();
        if std::fs::read_to_string(path.join("comm"))?.trim() != "bfd" {
            continue;
        }
        let stat = std::fs::read_to_string(path.join("stat"))?;
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let policy = after_name
            .split_whitespace()
            .nth(38)
            .and_then(|f| f.parse().ok())
            .context("no policy field")?;
        policies.push(policy);
    }
    ensure!(!policies.is_empty(), "no thread named bfd");
    Ok(policies)
}

/// Stops this whole test process (BFD thread included) for `pause`: a
/// helper process sends SIGCONT once it has slept that long.
fn stall_this_process(pause: Duration) -> Result<()> {
    let me = std::process::id();
    Command::new("sh")
        .args([
            "-c",
            &format!("sleep {}; kill -CONT {me}", pause.as_secs_f64()),
        ])
        .spawn()
        .context("starting the SIGCONT helper")?;
    nix::sys::signal::kill(Pid::from_raw(i32::try_from(me)?), Signal::SIGSTOP)?;
    Ok(())
}

/// A BFD thread that gets the CPU late still counts the packets that
/// arrived in time: BIRD sends every 10 ms (detection time here 30 ms)
/// while this process is stopped for 80 ms, five times. On resuming, the
/// driver reads the queued packets before it runs any timer, so the
/// session stays Up (timers first, it expired at once: the false Downs of
/// bench-bfd-cpu under load). We send every 100 ms, so BIRD's detection
/// time (300 ms) outlasts each stop and BIRD sees no failure either.
#[test]
fn bfd_driver_stalled_thread_reads_queued_packets_before_timers() -> Result<()> {
    if !hostroute_tests::netns_available(
        "bfd_driver_stalled_thread_reads_queued_packets_before_timers",
    ) {
        return Ok(());
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let mut lab = Lab::new("stall")?;
    Daemon::Bird.start(&mut lab, 10)?;
    let ours = lab.driver_in(&lab.dut)?;
    runtime()?.block_on(async {
        let config = SessionConfig {
            timers: Timers {
                desired_min_tx: Duration::from_millis(100),
                required_min_rx: Duration::from_millis(10),
                detect_mult: 3,
            },
            ..session(PEER, DUT, 10)
        };
        let mut live = ours.add_session(config).await?;
        wait_for(&mut live, Duration::from_secs(10), "Up with BIRD", is_up).await?;
        let mut watch = live.clone();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let record = std::sync::Arc::clone(&seen);
        tokio::spawn(async move {
            while watch.changed().await.is_ok() {
                let now = *watch.borrow_and_update();
                record.lock().unwrap_or_else(|e| e.into_inner()).push(now);
            }
        });
        // BIRD's Poll Sequence from its 1 s start-up rate to 10 ms.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let before = snapshot_of(&ours, PEER).await?;
        ensure!(
            before.status.detection_time_us == Some(30_000),
            "detection time {:?}",
            before.status.detection_time_us
        );
        for _ in 0..5 {
            stall_this_process(Duration::from_millis(80))?;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        let after = snapshot_of(&ours, PEER).await?;
        ensure!(
            bfd_threads_policy()?.iter().all(|p| *p == 1),
            "BFD threads not SCHED_FIFO: {:?}",
            bfd_threads_policy()?
        );
        let gaps = &after.status.counters.rx_gaps;
        ensure!(
            gaps.max() >= Duration::from_millis(80),
            "no stall seen: longest gap {:?}",
            gaps.max()
        );
        ensure!(
            after.status.counters.down_transitions == before.status.counters.down_transitions
                && *live.borrow() == Liveness::Up,
            "the session left Up during a stall: {after:?}; liveness seen: {:?}",
            seen.lock().unwrap_or_else(|e| e.into_inner())
        );
        Ok(())
    })
}
