//! The golden vectors (`proto/tests/vectors/<implementation>/*.hex`, BGP
//! messages captured from BIRD, FRR, GoBGP and ExaBGP) through both
//! hostroute's decoder and rustbgpd-wire 0.27, an independent Rust codec:
//! the two must make the same of every BGP message, allowing only the known
//! differences listed, with their RFC reasons, in `common/compare.rs`.
//!
//! Until the vectors directory exists this test has nothing to compare and
//! passes; once it exists it must hold at least one BGP vector.
//! `DIFF_VECTORS_DIR=<dir>` compares another tree instead.

use std::path::Path;

use proto as codec;

mod common;

#[test]
fn golden_vectors_decode_alike_in_both_decoders() {
    // DIFF_VECTORS_DIR points at another tree of vectors (a fresh capture).
    let dir = std::env::var_os("DIFF_VECTORS_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors"),
        Into::into,
    );
    if !dir.is_dir() {
        eprintln!("{}: no vectors yet, nothing compared", dir.display());
        return;
    }
    let vectors = common::vectors::read_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let report = common::vectors::check_all(&vectors);
    eprintln!(
        "golden vectors: {} BGP messages compared, {} other vectors skipped, allowances used {:?}",
        report.compared, report.skipped, report.allowances
    );
    assert!(
        report.failures.is_empty(),
        "{} vector(s) decode differently:\n{}",
        report.failures.len(),
        report.failures.join("\n")
    );
    assert!(
        report.compared > 0,
        "{} exists but holds no BGP vector",
        dir.display()
    );
}
