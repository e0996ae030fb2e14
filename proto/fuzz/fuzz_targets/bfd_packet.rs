//! cargo-fuzz target `bfd_packet`: see `proto::fuzzing::bfd_packet` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| proto::fuzzing::bfd_packet(data));
