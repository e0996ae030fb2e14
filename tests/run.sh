#!/usr/bin/env bash
# The whole test suite: installs what it needs, then checks formatting,
# lints and every test. This is what `.ci/run` calls and what README.md
# names as the test command.
#
# Usage (as root on Debian, for the namespace tests): tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
step() { printf '\n==> %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }

step "installing test dependencies"
if [ "$(id -u)" -eq 0 ]; then
    tests/install-deps.sh
elif [ "${CI:-}" = "true" ]; then
    echo "tests/run.sh: CI must run as root (namespace tests never skip in CI)" >&2
    exit 1
else
    echo "tests/run.sh: not root: skipping package installation; namespace tests will skip"
fi

step "rustfmt"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build"
cargo build --workspace --all-targets --locked

step "tests"
cargo test --workspace --locked

step "done"
