//! The real `hostroute` daemon in lab namespaces: the harness lives in the
//! lab crate ([`lab::daemon`]) so the agent benchmarks and demos share it;
//! this module keeps the tests' import path.
//!
//! The binary is `hostroute` from the agent package, beside the test's own
//! executable's directory (`target/<profile>/hostroute`); `cargo test
//! --workspace` builds it.

pub use lab::daemon::{
    Daemon, DaemonConfig, Launch, POLL, PeerSpec, Vm, hostroute_binary, kernel_route, send_frame,
    send_frames, tail,
};
