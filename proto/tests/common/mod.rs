//! Differential testing of hostroute's BGP decoder against rustbgpd-wire, an
//! independent Rust codec, shared by the unit tests in
//! `proto/src/bgp/differential.rs` and the golden-vector test in
//! `proto/tests/differential_vectors.rs`.
//!
//! ```text
//!  frame, Context --hostroute::outcome--> Outcome --+
//!                                                   +--compare--> agreement (+ allowances used)
//!  frame, Context --rustbgpd::outcome---> Outcome --+             or a described disagreement
//! ```
//!
//! [`hostroute`] and [`rustbgpd`] map what each decoder made of one message
//! into the same neutral [`summary::Outcome`]; [`compare`] decides whether
//! two outcomes agree, after the known and justified differences between
//! the two codecs (each an [`allowance::Allowance`], with its RFC
//! reasoning) are taken out of both sides. [`wire`] is a third, minimal
//! reading of the attribute TLVs that allowances state their preconditions
//! on. [`vectors`] reads the golden `.hex` files.
//!
//! The includer names the crate under test `codec` (`use proto as codec;`
//! in an integration test, `use crate as codec;` inside the crate), so the
//! same files compile in both places. Each includer uses a different part,
//! hence `dead_code` is allowed here.
#![allow(dead_code)]

use super::codec;

pub mod allowance;
pub mod compare;
pub mod hostroute;
pub mod rustbgpd;
pub mod summary;
pub mod vectors;
pub mod wire;
