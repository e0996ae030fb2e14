#!/usr/bin/env bash
# The main job: the lab demo of a live migration between two data centers,
# L2 stretch versus hostroute, side by side.
#
# Usage (as root, from anywhere): lab/demo.sh [lab demo options]
#   e.g. lab/demo.sh --out /tmp/demo      lab/demo.sh my-topology.toml
#
# It installs the test dependencies (BIRD, FRR, iproute2, ... without
# starting any of them), builds the release binaries, and runs `lab demo`,
# which brings the default topology (lab/topologies/default.toml) up in
# L2-stretch mode and then in hostroute mode, moves vm1 from hv1 (DC1) to
# hv3 (DC2) under a 1 ms ping and a TCP stream, prints the table, and
# writes target/lab-demo/lab-demo.json and target/lab-demo/lab-demo-rtt.svg.
# Everything runs in network namespaces created for the run and removed at
# the end, on failure, and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "lab/demo.sh: the lab creates network namespaces and needs root: sudo $0 $*" >&2
    exit 1
fi

tests/install-deps.sh
# The lab, its WAN delay line, and the hypervisors' daemon.
cargo build --release --quiet -p hostroute-lab --bin lab --bin hr-delayline \
    -p hostroute-agent --bin hostroute
exec "${CARGO_TARGET_DIR:-target}/release/lab" demo "$@"
