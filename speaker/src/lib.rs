//! hostroute's routing engines: BGP sessions, the RIB with mobility-aware
//! best path, policy, and BFD (RFC 5880/5881/5883) on its own thread.
//!
//! ```text
//!          SpeakerHandle (originate, withdraw, subscribe, inspect, set_neighbors)
//!                              |
//!   TCP peers <--> conn tasks <--> owner task: Peer FSMs + Rib + policy --> SpeakerEvent
//!                                   (instance.rs)                            (FIB, agent)
//! ```
//!
//! Each protocol is a sans-IO core (`bgp::Fsm`/`bgp::Peer`, `rib::Rib`)
//! with a thin tokio driver (`instance`, `bgp::conn`). One task owns all
//! peers and the RIB; connection reader and writer tasks talk to it over
//! bounded channels.
pub mod bfd;
pub mod bgp;
pub mod config;
pub mod handle;
pub mod instance;
pub mod liveness;
pub mod policy;
pub mod rib;

pub use config::{NeighborConfig, SpeakerConfig};
pub use handle::{SpeakerEvent, SpeakerHandle};
pub use instance::spawn;
