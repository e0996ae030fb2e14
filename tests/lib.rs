//! Shared helpers for the workspace integration tests in `tests/tests/`.
//!
//! Tests that need root and network namespaces run in CI (`CI=true`), where
//! they must never skip; elsewhere, without root, they skip and say why.

/// Whether namespace tests can run here. Panics in CI without root, so a
/// misconfigured CI fails loudly instead of skipping.
pub fn netns_available(test: &str) -> bool {
    let root = lab_is_root();
    if root {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: CI must run namespace tests as root"
    );
    eprintln!("{test}: skipped: needs root to create network namespaces (run as root, or in CI)");
    false
}

fn lab_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}
