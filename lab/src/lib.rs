//! The hostroute lab: network namespaces, links between them, and real
//! routing daemons started inside them, each owned by a guard that cleans up
//! on drop (success, failure or panic).
//!
//! Everything that touches a network happens inside namespaces the lab
//! creates for the current run, under process-unique names
//! (`hr-<pid>-<n>-<label>`), so test functions running in parallel never
//! collide and nothing reaches the host's own network. Files (configs,
//! sockets, pid files, logs) live in one run directory, removed when the
//! run succeeds and kept, with the tail of every log printed, when it fails.
//!
//! ```text
//!   Lab ("hr-<pid>-<n>-test", $TMPDIR/hr-<pid>-<n>-test/)
//!    ├── Netns "hr-..-a" ──── Veth (Iface v0 <-> Iface v1) ──── Netns "hr-..-b"
//!    │     │                                                         │
//!    │     └── Bird / Frr / Gobgp / Exabgp (Child guards, by PID)    └── ...
//!    └── <daemon>-<netns>/ configs, sockets    <name>.log per process
//!
//!   Drop order in a test: peers (SIGTERM, SIGKILL after 3 s) -> namespaces
//!   (kill leftovers by PID, `ip netns del`) -> run directory.
//! ```
//!
//! Declare namespaces before the peers that run in them, so peers drop
//! first; a namespace still kills whatever runs inside when it goes.
//!
//! WAN links with delay, jitter and loss come from [`delay`]: netem where
//! the kernel has it, otherwise `hr-delayline`, a userspace delay line in a
//! namespace of its own between the two ends.
//!
//! Benchmarks (`src/bin/bench-*`) build on [`bench`] (one clock across
//! namespaces, memory from `/proc`) and [`rawbgp`] (a bare BGP session for
//! the feeder and the latency probe), and run BIRD beside hostroute in the
//! same run.
//!
//! [`daemon`] runs the real `hostroute` daemon in a hypervisor namespace
//! and VMs as namespaces behind a tap-like veth, for the agent tests and
//! the agent benchmarks; [`fabric`] puts several such hypervisors on one
//! bridge with full-mesh iBGP, and [`wire`] watches a namespace's frames
//! with kernel timestamps and cuts BGP UPDATEs out of its TCP segments.
//!
//! The demo lab builds on these: a [`topology`] (TOML, or the built-in
//! demo topology) becomes a [`scenario::Deployment`] in hostroute or
//! L2-stretch mode: namespaces, [`wan`] links (carried by the [`delay`]
//! line), site [`router`]s (BIRD or FRR), a [`hypervisor`] agent per
//! hypervisor (the real daemon, [`hostroute_agent`]), [`vm`]s, and a [`state`] file so the `lab`
//! binary ([`cli`]) can act from another shell. [`migrate`] moves a VM;
//! [`measure`], [`path`], [`plot`] and [`demo`] measure and report it.
//!
//! ```text
//!   Topology ──> Deployment ──migrate──> MoveRecord
//!                   │  threads inside namespaces (nsthread): ICMP prober,
//!                   │  TCP stream, netlink route monitors
//!                   └──> demo: table, lab-demo.json, lab-demo-rtt.svg
//! ```
//!
//! Waiting is always bounded: [`wait_until`] polls a condition for at most
//! a given time, and every daemon launcher waits for its control socket
//! with [`peers::START_TIMEOUT`].

#![forbid(unsafe_code)]

pub mod bench;
pub mod bfd_bench;
pub mod cli;
pub mod daemon;
pub mod delay;
pub mod demo;
pub mod error;
pub mod fabric;
pub mod hostroute_agent;
pub mod hypervisor;
pub mod link;
pub mod measure;
pub mod migrate;
pub mod netns;
pub mod nsthread;
pub mod path;
pub mod peers;
pub mod plot;
pub mod process;
pub mod rawbgp;
pub mod router;
pub mod rtlink;
pub mod run;
pub mod scenario;
pub mod state;
pub mod stretch;
pub mod topology;
pub mod vm;
pub mod wan;
pub mod wire;

pub use error::{Error, Result};
pub use link::{Iface, Mac, Veth, veth};
pub use netns::Netns;
pub use process::{Child, Signal, wait_until};
pub use run::{Lab, unique_name};
