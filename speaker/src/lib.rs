//! hostroute's routing engines.
//!
//! Modules land with the speaker issue: `bgp` (sans-IO FSM and tokio
//! driver), `rib` (Adj-RIB-In, Loc-RIB, Adj-RIB-Out, mobility-aware best
//! path), `policy`, and later `bfd`.
pub mod bfd;
pub mod bgp;
pub mod rib;
