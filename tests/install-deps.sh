#!/usr/bin/env bash
# Installs what hostroute's tests and lab need from Debian's packages,
# without starting any service in the root network namespace.
#
# Usage (as root): tests/install-deps.sh
# Idempotent: packages already present are left alone.
set -euo pipefail

# python3: tests/detect.rs sends hand-built Ethernet frames (RARP, gratuitous
# ARP, neighbour advertisements) from a VM namespace through its AF_PACKET.
packages=(bird2 frr gobgpd exabgp tcpdump iproute2 iputils-ping procps ethtool python3)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all packages present (${packages[*]})"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root to install them (apt-get install ${missing[*]})" >&2
    exit 1
fi

# Keep maintainer scripts from starting bird, frr or gobgpd in the root
# namespace: invoke-rc.d asks policy-rc.d, and 101 means "not allowed".
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# Belt and braces: if a unit was started anyway (systemd without policy-rc.d
# support), stop it. systemctl is absent in most containers.
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    for unit in bird frr gobgpd exabgp; do
        systemctl stop "$unit" 2>/dev/null || true
        systemctl disable "$unit" 2>/dev/null || true
    done
fi
echo "install-deps: done"
