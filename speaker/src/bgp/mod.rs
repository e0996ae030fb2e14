//! BGP sessions: the RFC 4271 finite state machine as a sans-IO core.
//!
//! ```text
//!            now + Input                         Output (in order)
//!   driver -------------> Fsm::handle -------> Connect / Send / Close
//!     ^                      |                  Established / SessionDown
//!     |  Input::Timers       | next_deadline()  PeerRestarting / FlushRoutes
//!     '----------------------'                  Received(UPDATE, ROUTE-REFRESH)
//! ```
//!
//! - [`Fsm`]: one session over one connection at a time; states, events
//!   and timers of RFC 4271 section 8, DelayOpen and IdleHold damping,
//!   graceful restart helper (RFC 4724, RFC 8538), liveness (BFD) tie-in.
//! - [`Peer`]: the FSM with connection collision detection (RFC 4271
//!   section 6.8) over up to two connections; what a driver uses.
//! - [`SessionConfig`]: the session attributes and the OPEN we send.
//!
//! The core never reads the clock or touches a socket, and never panics
//! on any input sequence: the driver owns sockets, decoding and time.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
#![cfg_attr(
    test,
    allow(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod addrs;
mod collision;
mod config;
pub mod conn;
mod event;
pub mod framer;
mod fsm;
mod session;
pub mod sockopt;
mod stats;
mod timers;

#[cfg(test)]
mod collision_tests;
#[cfg(test)]
mod fsm_table_tests;
#[cfg(test)]
mod fsm_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod script;
#[cfg(test)]
mod teardown_tests;

pub use collision::{ConnId, Peer, PeerInput, PeerOutput, PeerSnapshot};
pub use config::{GracefulRestartConfig, SessionConfig};
pub use event::{DownReason, FlushCause, Input, Liveness, Output, State};
pub use fsm::{Fsm, OPEN_HOLD_TIME};
pub use stats::{Counters, MessageCounts, Snapshot};
pub use timers::{ConnectRetry, IdleHold, Jitter, Timer};
