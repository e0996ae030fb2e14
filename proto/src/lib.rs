//! Wire codecs for hostroute: BGP-4 and BFD, as typed messages.
//!
//! ```text
//!            bytes from a socket                     bytes to a socket
//!                  |                                        ^
//!   bgp::frame_len |  bfd::ControlPacket::parse             | emit (exactly buffer_len bytes)
//!                  v                                        |
//!   bgp::Message::decode(frame, &Context) --> typed values -+
//!                  |
//!                  '--> DecodeError --> .notification(): the NOTIFICATION to send
//!                  '--> Update problems: RFC 7606 verdict per malformed attribute
//! ```
//!
//! # Contract
//!
//! - No I/O, no clocks, no logging: callers own sockets and time.
//! - Parsing never panics, on any input. Every read is bounds-checked
//!   (`clippy::indexing_slicing`, `unwrap_used` and `panic` are denied in the
//!   codec modules), property tests throw random bytes at every decoder, and
//!   the cargo-fuzz targets in `proto/fuzz/` replay their corpus in
//!   `cargo test`.
//! - `emit` writes exactly `buffer_len()` bytes, and `parse(emit(x)) == x`.
//! - A BGP decode error maps to exactly one NOTIFICATION (code, subcode,
//!   data). Errors inside path attributes follow RFC 7606: the UPDATE still
//!   decodes, with a verdict per malformed attribute.
//! - Captured messages from BIRD 2, FRR, GoBGP and ExaBGP decode to the
//!   values they carry and re-encode to the same bytes
//!   (`proto/tests/golden.rs`).
//! - Decoding agrees with rustbgpd-wire, an independent Rust codec, on
//!   generated, mutated and captured messages, but for the differences
//!   listed with their RFC reasons in `proto/tests/common/allowance.rs`
//!   (`bgp/differential.rs`, `proto/tests/differential_vectors.rs`).
pub mod bfd;
pub mod bgp;
#[doc(hidden)]
pub mod fuzzing;
