//! cargo-fuzz target `bgp_update`: see `proto::fuzzing::bgp_update` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proto::fuzzing::bgp_update(data));
