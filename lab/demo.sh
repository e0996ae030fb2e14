#!/usr/bin/env bash
# The main job: the lab demo of a live migration between two data centers,
# L2 stretch versus hostroute, side by side.
#
# Not built yet: the lab arrives with the lab issue (after the speaker and
# the agent). Until then this says so instead of pretending.
set -euo pipefail
cat >&2 <<'TXT'
hostroute lab demo: not available yet.

What exists today is the wire layer (the `proto` crate: BGP-4 and BFD codecs,
tested against captures from BIRD, FRR, GoBGP and ExaBGP). The BGP/BFD
speaker, the hypervisor agent and the namespace lab that this command will
run are the next issues. Run the test suite instead:

    tests/run.sh
TXT
exit 1
