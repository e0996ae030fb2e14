//! Replays the committed cargo-fuzz corpus (`proto/fuzz/corpus/<target>/`)
//! through the same functions the fuzz targets call, so every input the
//! fuzzer ever kept, and every regression it found, runs in `cargo test`.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut count = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let data = std::fs::read(&path).expect("read corpus file");
        let result = std::panic::catch_unwind(|| run(&data));
        assert!(
            result.is_ok(),
            "{target}: input {} broke an invariant",
            path.display()
        );
        count += 1;
    }
    assert!(
        count > 0,
        "{target}: the corpus in {} is empty",
        dir.display()
    );
    eprintln!("{target}: replayed {count} inputs");
}

#[test]
fn bgp_message_corpus() {
    replay("bgp_message", proto::fuzzing::bgp_message);
}

#[test]
fn bgp_update_corpus() {
    replay("bgp_update", proto::fuzzing::bgp_update);
}

#[test]
fn bfd_packet_corpus() {
    replay("bfd_packet", proto::fuzzing::bfd_packet);
}
