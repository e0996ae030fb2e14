//! cargo-fuzz target `bgp_message`: see `proto::fuzzing::bgp_message` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proto::fuzzing::bgp_message(data));
