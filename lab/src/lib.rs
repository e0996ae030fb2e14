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
//! Waiting is always bounded: [`wait_until`] polls a condition for at most
//! a given time, and every daemon launcher waits for its control socket
//! with [`peers::START_TIMEOUT`].

#![forbid(unsafe_code)]

pub mod bench;
pub mod bfd_bench;
pub mod delay;
pub mod error;
pub mod link;
pub mod netns;
pub mod peers;
pub mod process;
pub mod rawbgp;
pub mod run;

pub use error::{Error, Result};
pub use link::{Iface, Mac, Veth, veth};
pub use netns::Netns;
pub use process::{Child, Signal, wait_until};
pub use run::{Lab, unique_name};
