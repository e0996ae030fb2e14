#!/usr/bin/env bash
# Capture golden BGP / BFD vectors from real implementations peering with each
# other inside throw-away network namespaces, then run extract.py on the pcaps.
#
#   sudo proto/tests/vectors/capture.sh            # capture + extract
#   sudo proto/tests/vectors/capture.sh --no-extract
#
# Scenario A  BIRD 2 (ns "b") <-> FRR bgpd/bfdd (ns "f"), link 192.0.2.0/30, 2001:db8:12::/64
#   frr4  eBGP over IPv4: BIRD AS 4200000001 (4-octet) <-> FRR AS 65002 (2-octet),
#         ipv4+ipv6 unicast, GR, LLGR, ADD-PATH ipv4 (both ways), RFC 9234 roles,
#         extended messages, BFD single-hop; withdraw, route refresh, RFC 9003 shutdown.
#   frr6  iBGP over IPv6 (AS 65002 both): ipv6 unicast + ipv4 unicast with an
#         IPv6 next hop (RFC 8950 extended next hop), LOCAL_PREF; BIRD shutdown message.
#   BFD   single-hop 192.0.2.1<->192.0.2.2 (driven by BGP), multihop (port 4784)
#         between loopbacks 192.0.2.129<->192.0.2.130, AdminDown from FRR.
#   bfd-fail: BIRD is frozen (SIGSTOP) for 2.5 s so BFD detection time expires
#         at FRR (FRR then tears the BGP session down) and at the second BIRD.
# Scenario B  BIRD 2 (ns "b") <-> second BIRD 2 (ns "c"), link 192.0.2.8/30:
#         BFD single-hop with keyed SHA1 authentication (FRR 8.4 bfdd has no auth).
# Scenario C  GoBGP (ns "g") <-> ExaBGP (ns "e"), one link carrying 192.0.2.4/30,
#         192.0.2.12/30, 192.0.2.16/30 and 2001:db8:34::/64:
#   g1    eBGP 4200000003 <-> 65004, ipv4 (ADD-PATH both ways) + ipv6 unicast, all
#         path attributes, raw unknown optional transitive attribute.
#   g2    eBGP 4200000003 <-> 65005 with ExaBGP "asn4 disable": AS_TRANS, AS4_PATH,
#         AS4_AGGREGATOR.
#   g3    iBGP 4200000003 over IPv6: LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST.
#   g4    GoBGP configured with the wrong peer AS: OPEN error (Bad Peer AS).
#   hold-expire: ExaBGP is frozen (SIGSTOP) for 11 s: Hold Timer Expired from GoBGP.
#
# Hard rules honoured: every daemon runs in namespaces created here (unique
# names per run), addresses are documentation ranges on veth links between
# those namespaces only, cleanup kills by PID and deletes the namespaces on
# EXIT/INT/TERM, every wait loop is bounded.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PCAP_DIR=${PCAP_DIR:-$HERE/pcap}
EXTRACT=1
[[ "${1:-}" == "--no-extract" ]] && EXTRACT=0

if [[ $EUID -ne 0 ]]; then
    echo "capture.sh: must run as root (network namespaces)" >&2
    exit 1
fi
for bin in ip tcpdump bird birdc /usr/lib/frr/zebra /usr/lib/frr/bgpd /usr/lib/frr/bfdd vtysh gobgpd gobgp exabgp python3; do
    command -v "$bin" >/dev/null || { echo "capture.sh: missing $bin" >&2; exit 1; }
done

RUN="hrv$$"
NS_B="${RUN}b"   # BIRD 2
NS_F="${RUN}f"   # FRR
NS_C="${RUN}c"   # second BIRD 2 (BFD auth)
NS_G="${RUN}g"   # GoBGP
NS_E="${RUN}e"   # ExaBGP
ALL_NS=("$NS_B" "$NS_F" "$NS_C" "$NS_G" "$NS_E")
W=$(mktemp -d "/tmp/hostroute-vectors.${RUN}.XXXXXX")
chmod 755 "$W"
PIDS=()          # every process we started, in start order
CLEANED=0

log() { printf '%s [capture] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {
    local rc=$?
    [[ $CLEANED -eq 1 ]] && return
    CLEANED=1
    trap - EXIT INT TERM
    set +e
    log "cleanup (rc=$rc)"
    [[ -n "$NAP_PID" ]] && kill "$NAP_PID" 2>/dev/null
    local i pid ns n
    # Stop in reverse start order, by PID only.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[$i]}
        kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null
    done
    for ((n = 0; n < 50; n++)); do
        local alive=0
        for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [[ $alive -eq 0 ]] && break
        nap 0.1
    done
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
    # Anything else still inside OUR namespaces (children of the daemons, e.g.
    # ExaBGP's api process) is ours too: kill it by PID.
    for ns in "${ALL_NS[@]}"; do
        if ip netns list | grep -qw "$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        fi
    done
    nap 0.2
    for ns in "${ALL_NS[@]}"; do
        ip netns list | grep -qw "$ns" && ip netns del "$ns"
    done
    # FRR creates /var/run/frr/<pathspace> when started with -N.
    for ns in "$NS_F"; do [[ -d /var/run/frr/$ns ]] && rm -rf "/var/run/frr/$ns"; done
    if [[ -n "${KEEP_WORKDIR:-}" ]]; then log "work dir kept: $W"; else rm -rf "$W"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Interruptible sleep: bash runs traps only between foreground commands, but
# at once while in "wait".
NAP_PID=
nap() { sleep "$1" & NAP_PID=$!; wait "$NAP_PID"; }

# wait_until TIMEOUT_S DESCRIPTION CMD...  (bounded poll, 0.5 s step)
wait_until() {
    local timeout=$1 desc=$2; shift 2
    local deadline=$((SECONDS + timeout)) pid
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            log "timeout after ${timeout}s waiting for: $desc"
            return 1
        fi
        for pid in "${PIDS[@]}"; do
            if ! kill -0 "$pid" 2>/dev/null; then
                log "process $pid died while waiting for: $desc"; tail -n 20 "$W"/*.out >&2 || true
                return 1
            fi
        done
        nap 0.5
    done
    log "ok: $desc"
}

EVENTS="$W/events.tsv"
: >"$EVENTS"
event() { # event LABEL free text...
    local label=$1; shift
    printf '%s\t%s\t%s\n' "$(date +%s.%N)" "$label" "$*" >>"$EVENTS"
    log "event $label: $*"
}

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# start NAME NS CMD...  -> background process, PID recorded (ip netns exec execs the cmd)
start() {
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" "$@" >"$W/$name.out" 2>&1 &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    log "started $name pid $LAST_PID in $ns"
}

###############################################################################
# Topology
###############################################################################
log "run $RUN, work dir $W"
for ns in "${ALL_NS[@]}"; do
    ip netns add "$ns"
    nsx "$ns" ip link set lo up
    nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
    nsx "$ns" sysctl -qw net.ipv4.ip_forward=0
done

# A: BIRD <-> FRR
ip link add vb0 netns "$NS_B" type veth peer name vf0 netns "$NS_F"
nsx "$NS_B" ip addr add 192.0.2.1/30 dev vb0
nsx "$NS_B" ip addr add 2001:db8:12::1/64 dev vb0 nodad
nsx "$NS_F" ip addr add 192.0.2.2/30 dev vf0
nsx "$NS_F" ip addr add 2001:db8:12::2/64 dev vf0 nodad
nsx "$NS_B" ip link set vb0 up
nsx "$NS_F" ip link set vf0 up
nsx "$NS_B" ip addr add 192.0.2.129/32 dev lo
nsx "$NS_F" ip addr add 192.0.2.130/32 dev lo
nsx "$NS_B" ip route add 192.0.2.130/32 via 192.0.2.2
nsx "$NS_F" ip route add 192.0.2.129/32 via 192.0.2.1
# B: BIRD <-> BIRD (BFD auth)
ip link add vc0 netns "$NS_B" type veth peer name vc1 netns "$NS_C"
nsx "$NS_B" ip addr add 192.0.2.9/30 dev vc0
nsx "$NS_C" ip addr add 192.0.2.10/30 dev vc1
nsx "$NS_B" ip link set vc0 up
nsx "$NS_C" ip link set vc1 up
# C: GoBGP <-> ExaBGP
ip link add vg0 netns "$NS_G" type veth peer name ve0 netns "$NS_E"
nsx "$NS_G" ip addr add 192.0.2.5/30 dev vg0
nsx "$NS_G" ip addr add 192.0.2.13/30 dev vg0
nsx "$NS_G" ip addr add 192.0.2.17/30 dev vg0
nsx "$NS_G" ip addr add 2001:db8:34::1/64 dev vg0 nodad
nsx "$NS_E" ip addr add 192.0.2.6/30 dev ve0
nsx "$NS_E" ip addr add 192.0.2.14/30 dev ve0
nsx "$NS_E" ip addr add 192.0.2.18/30 dev ve0
nsx "$NS_E" ip addr add 2001:db8:34::2/64 dev ve0 nodad
nsx "$NS_G" ip link set vg0 up
nsx "$NS_E" ip link set ve0 up

###############################################################################
# Packet capture (one tcpdump per link)
###############################################################################
FILTER='tcp port 179 or udp port 3784 or udp port 4784'
start tcpdump-bf "$NS_F" tcpdump -i vf0 -s 0 -U -n -Z root -w "$W/bird2-frr.pcap" "$FILTER"
start tcpdump-bc "$NS_C" tcpdump -i vc1 -s 0 -U -n -Z root -w "$W/bird2-bird2-bfdauth.pcap" "$FILTER"
start tcpdump-ge "$NS_E" tcpdump -i ve0 -s 0 -U -n -Z root -w "$W/gobgp-exabgp.pcap" "$FILTER"
for n in tcpdump-bf tcpdump-bc tcpdump-ge; do
    wait_until 10 "$n listening" grep -q 'listening on' "$W/$n.out"
done

###############################################################################
# Scenario A/B configs
###############################################################################
mkdir -p "$W/bird" "$W/bird2" "$W/frr" "$W/gobgp" "$W/exabgp"

cat >"$W/bird/bird.conf" <<'EOF'
router id 192.0.2.1;
log stderr all;
protocol device {}
protocol bfd {
  interface "vc0" {
    min rx interval 300 ms; min tx interval 300 ms; multiplier 3;
    authentication keyed sha1;
    password "hostroute-bfd-key" { id 7; };
  };
  interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; };
  multihop { min rx interval 300 ms; min tx interval 300 ms; multiplier 5; };
  neighbor 192.0.2.130 local 192.0.2.129 multihop;
  neighbor 192.0.2.10 dev "vc0";
}
# Routes BIRD originates.  Attributes are set on the static routes.
protocol static s4 {
  ipv4;
  route 198.51.100.1/32 blackhole {
    bgp_community.add((65001,100)); bgp_community.add((65535,65284));
    bgp_large_community.add((4200000001,100,1));
    bgp_ext_community.add((rt, 4200000001, 7));
    bgp_ext_community.add((generic, 0x06000000, 5));
    bgp_med = 50;
  };
  route 198.51.100.4/32 blackhole {
    bgp_ext_community.add((generic, 0x06000100, 0xfffffffe));
    bgp_ext_community.add((ro, 192.0.2.1, 4));
    bgp_origin = ORIGIN_INCOMPLETE;
  };
}
protocol static s4w {
  ipv4;
  route 198.51.100.5/32 blackhole { bgp_large_community.add((4200000001,5,5)); };
}
protocol static s6 {
  ipv6;
  route 2001:db8:ff00::1/128 blackhole {
    bgp_community.add((65001,600));
    bgp_large_community.add((4200000001,600,1));
    bgp_ext_community.add((generic, 0x06000000, 1));
    bgp_med = 60;
  };
}
protocol static s6w {
  ipv6;
  route 2001:db8:ff00::5/128 blackhole { bgp_community.add((65001,605)); };
}
protocol bgp frr4 {
  description "eBGP to FRR over IPv4, 4-octet local AS";
  debug { states, events };
  local 192.0.2.1 as 4200000001;
  neighbor 192.0.2.2 as 65002;
  hold time 9; keepalive time 3;
  connect delay time 1; connect retry time 2; error wait time 1, 5;
  graceful restart on;
  long lived graceful restart on;
  enable extended messages on;
  local role customer;
  bfd on;
  # BIRD drops MED toward eBGP peers unless the export filter sets it.
  ipv4 { import all; add paths on;
         export filter { if proto = "s4" || proto = "s4w" then { if net = 198.51.100.1/32 then bgp_med = 50; accept; } reject; }; };
  ipv6 { import all; next hop address 2001:db8:12::1;
         export filter { if proto = "s6" || proto = "s6w" then { if net = 2001:db8:ff00::1/128 then bgp_med = 60; accept; } reject; }; };
}
protocol bgp frr6 {
  description "iBGP to FRR over IPv6, RFC 8950 for ipv4";
  local 2001:db8:12::1 as 65002;
  neighbor 2001:db8:12::2 as 65002;
  hold time 9; keepalive time 3;
  connect delay time 1; connect retry time 2; error wait time 1, 5;
  ipv6 { import all; export where proto = "s6" || proto = "s6w"; next hop self; };
  ipv4 { import all; export where proto = "s4" || proto = "s4w"; extended next hop on; next hop self; };
}
EOF

cat >"$W/bird2/bird.conf" <<'EOF'
router id 192.0.2.10;
log stderr all;
protocol device {}
protocol bfd {
  interface "vc1" {
    min rx interval 300 ms; min tx interval 300 ms; multiplier 3;
    authentication keyed sha1;
    password "hostroute-bfd-key" { id 7; };
  };
  neighbor 192.0.2.9 dev "vc1";
}
EOF

cat >"$W/frr/zebra.conf" <<'EOF'
hostname frr-vectors
EOF
cat >"$W/frr/bfdd.conf" <<'EOF'
hostname frr-vectors
bfd
 peer 192.0.2.1 interface vf0
  receive-interval 100
  transmit-interval 100
 !
 peer 192.0.2.129 multihop local-address 192.0.2.130
  receive-interval 300
  transmit-interval 300
  detect-multiplier 5
  minimum-ttl 1
 !
!
EOF
cat >"$W/frr/bgpd.conf" <<'EOF'
frr defaults datacenter
hostname frr-vectors
!
router bgp 65002
 bgp router-id 192.0.2.2
 no bgp ebgp-requires-policy
 no bgp network import-check
 bgp graceful-restart
 neighbor 192.0.2.1 remote-as 4200000001
 neighbor 192.0.2.1 timers 3 9
 neighbor 192.0.2.1 timers connect 2
 neighbor 192.0.2.1 bfd
 neighbor 192.0.2.1 bfd profile fast
 neighbor 192.0.2.1 local-role provider
 neighbor 2001:db8:12::1 remote-as internal
 neighbor 2001:db8:12::1 timers 3 9
 neighbor 2001:db8:12::1 timers connect 2
 neighbor 2001:db8:12::1 capability extended-nexthop
 address-family ipv4 unicast
  network 198.51.100.2/32 route-map SET4
  network 198.51.100.3/32 route-map SET4B
  neighbor 192.0.2.1 addpath-tx-all-paths
  neighbor 192.0.2.1 route-map IN in
  neighbor 192.0.2.1 route-map OUT4 out
  neighbor 2001:db8:12::1 activate
  neighbor 2001:db8:12::1 route-map IN in
  neighbor 2001:db8:12::1 route-map OUT4 out
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:ff00::2/128 route-map SET6
  network 2001:db8:ff00::3/128 route-map SET6B
  neighbor 192.0.2.1 activate
  neighbor 192.0.2.1 route-map IN in
  neighbor 192.0.2.1 route-map OUT6 out
  neighbor 2001:db8:12::1 activate
  neighbor 2001:db8:12::1 route-map IN in
  neighbor 2001:db8:12::1 route-map OUT6 out
 exit-address-family
!
route-map SET4 permit 10
 set community 65002:100 65002:200 no-peer
 set large-community 65002:1:1 65002:1:2
 set extcommunity rt 65002:42
 set extcommunity soo 192.0.2.2:7
 set metric 20
 set local-preference 250
!
route-map SET4B permit 10
 set origin incomplete
 set extcommunity bandwidth 100
!
route-map SET6 permit 10
 set community 65002:600
 set large-community 65002:6:6
 set metric 60
 set local-preference 260
!
route-map SET6B permit 10
 set community 65002:666
!
route-map IN permit 10
!
route-map OUT4 permit 10
 match ip address prefix-list ONLYOWN4
!
route-map OUT6 permit 10
 match ipv6 address prefix-list ONLYOWN6
!
ip prefix-list ONLYOWN4 seq 5 permit 198.51.100.2/32
ip prefix-list ONLYOWN4 seq 6 permit 198.51.100.3/32
ipv6 prefix-list ONLYOWN6 seq 5 permit 2001:db8:ff00::2/128
ipv6 prefix-list ONLYOWN6 seq 6 permit 2001:db8:ff00::3/128
!
EOF
chown -R frr:frr "$W/frr"

FRR_D="$W/frr"
frr_common=(-N "$NS_F" --vty_socket "$FRR_D" -z "$FRR_D/zserv.api" -P 0 --log "file:$FRR_D/LOG" --log-level info)
nsx "$NS_B" bird -p -c "$W/bird/bird.conf"
nsx "$NS_C" bird -p -c "$W/bird2/bird.conf"
# Dry-run config checks (-C) inside the namespace, with the same per-run paths
# as the real daemons (otherwise bfdd creates /var/run/frr/bfdd.sock).
for d in bgpd bfdd; do
    extra=()
    [[ $d == bfdd ]] && extra=(--bfdctl "$FRR_D/bfdd-check.sock")
    if nsx "$NS_F" /usr/lib/frr/$d -C "${frr_common[@]}" "${extra[@]}" -f "$FRR_D/$d.conf" -i "$FRR_D/$d-check.pid" 2>&1 |
        grep -E 'No such command|Unknown command|error' >&2; then
        log "FRR $d config rejected"; exit 1
    fi
done
vty() { vtysh --vty_socket "$FRR_D" "$@"; }
birdc_a() { birdc -s "$W/bird/bird.ctl" "$@"; }
birdc_c() { birdc -s "$W/bird2/bird.ctl" "$@"; }

start zebra "$NS_F" /usr/lib/frr/zebra "${frr_common[@]}" -f "$FRR_D/zebra.conf" -i "$FRR_D/zebra.pid"
wait_until 15 "zebra vty socket" test -S "$FRR_D/zebra.vty"
start bfdd "$NS_F" /usr/lib/frr/bfdd "${frr_common[@]}" --bfdctl "$FRR_D/bfdd.sock" -f "$FRR_D/bfdd.conf" -i "$FRR_D/bfdd.pid"
start bgpd "$NS_F" /usr/lib/frr/bgpd "${frr_common[@]}" -f "$FRR_D/bgpd.conf" -i "$FRR_D/bgpd.pid"
wait_until 15 "bgpd vty socket" test -S "$FRR_D/bgpd.vty"
wait_until 15 "bfdd vty socket" test -S "$FRR_D/bfdd.vty"
event start-a "BIRD 2 and FRR start; sessions frr4 (eBGP v4) and frr6 (iBGP v6) open"
start bird-a "$NS_B" bird -f -c "$W/bird/bird.conf" -s "$W/bird/bird.ctl" -P "$W/bird/bird.pid"
BIRD_A_PID=$LAST_PID
start bird-c "$NS_C" bird -f -c "$W/bird2/bird.conf" -s "$W/bird2/bird.ctl" -P "$W/bird2/bird.pid"

established_bird() { birdc_a show protocols "$1" | grep -q Established; }
wait_until 60 "BIRD frr4 Established" established_bird frr4
wait_until 60 "BIRD frr6 Established" established_bird frr6
bfd_up() { "$1" show bfd sessions | grep -E "^$2 " | grep -qw Up; }
wait_until 30 "BFD single-hop up" bfd_up birdc_a 192.0.2.2
wait_until 30 "BFD multihop up" bfd_up birdc_a 192.0.2.130
wait_until 30 "BFD auth session up" bfd_up birdc_a 192.0.2.10

###############################################################################
# Scenario C configs
###############################################################################
cat >"$W/gobgp/gobgpd.toml" <<'EOF'
[global.config]
  as = 4200000003
  router-id = "192.0.2.5"
  local-address-list = ["192.0.2.5", "192.0.2.13", "192.0.2.17", "2001:db8:34::1"]

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.6"
    peer-as = 65004
  [neighbors.transport.config]
    local-address = "192.0.2.5"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [neighbors.graceful-restart.config]
    enabled = true
    restart-time = 120
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true
    [neighbors.afi-safis.add-paths.config]
      receive = true
      send-max = 8
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
    [neighbors.afi-safis.mp-graceful-restart.config]
      enabled = true

[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.14"
    peer-as = 65005
  [neighbors.transport.config]
    local-address = "192.0.2.13"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"

# g4: deliberately wrong peer-as (ExaBGP uses 65006): OPEN error Bad Peer AS
[[neighbors]]
  [neighbors.config]
    neighbor-address = "192.0.2.18"
    peer-as = 65099
  [neighbors.transport.config]
    local-address = "192.0.2.17"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 5
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"

[[neighbors]]
  [neighbors.config]
    neighbor-address = "2001:db8:34::2"
    peer-as = 4200000003
  [neighbors.transport.config]
    local-address = "2001:db8:34::1"
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
EOF

EXA_D="$W/exabgp"
mkfifo "$EXA_D/cmd.fifo"
cat >"$EXA_D/feed.py" <<'EOF'
# ExaBGP api process: forward lines written to cmd.fifo to ExaBGP (stdout),
# drain ExaBGP's acknowledgements (stdin), exit when ExaBGP goes away.
import os, select, sys
d = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(d, "feed.pid"), "w") as f:
    f.write(str(os.getpid()))
fd = os.open(os.path.join(d, "cmd.fifo"), os.O_RDWR | os.O_NONBLOCK)
buf = b""
while True:
    r, _, _ = select.select([fd, 0], [], [], 1.0)
    if 0 in r:
        if not os.read(0, 65536):
            sys.exit(0)
    if fd in r:
        buf += os.read(fd, 65536)
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.strip():
                sys.stdout.write(line.decode() + "\n")
                sys.stdout.flush()
    if os.getppid() == 1:
        sys.exit(0)
EOF
cat >"$EXA_D/exabgp.conf" <<EOF
process feed {
  run /usr/bin/python3 $EXA_D/feed.py;
  encoder text;
}
neighbor 192.0.2.5 {
  description "g1 eBGP asn4";
  router-id 192.0.2.6;
  local-address 192.0.2.6;
  local-as 65004;
  peer-as 4200000003;
  hold-time 9;
  host-name exabgp-vectors;
  domain-name example.net;
  family { ipv4 unicast; ipv6 unicast; }
  capability { route-refresh; graceful-restart 120; add-path send/receive; }
  add-path { ipv4 unicast; }
  api { processes [ feed ]; }
}
neighbor 192.0.2.13 {
  description "g2 eBGP without asn4";
  router-id 192.0.2.14;
  local-address 192.0.2.14;
  local-as 65005;
  peer-as 23456;
  hold-time 9;
  family { ipv4 unicast; }
  capability { asn4 disable; route-refresh; }
  api { processes [ feed ]; }
}
neighbor 192.0.2.17 {
  description "g4 GoBGP expects AS 65099: Bad Peer AS";
  router-id 192.0.2.18;
  local-address 192.0.2.18;
  local-as 65006;
  peer-as 4200000003;
  hold-time 9;
  family { ipv4 unicast; }
}
neighbor 2001:db8:34::1 {
  description "g3 iBGP over IPv6";
  router-id 192.0.2.6;
  local-address 2001:db8:34::2;
  local-as 4200000003;
  peer-as 4200000003;
  hold-time 9;
  family { ipv6 unicast; }
  capability { route-refresh; }
  api { processes [ feed ]; }
}
EOF

GOBGP_API="127.0.0.1:50051"
gob() { nsx "$NS_G" gobgp -u 127.0.0.1 -p 50051 "$@"; }
exa() { printf '%s\n' "$*" >"$EXA_D/cmd.fifo"; }

event start-c "GoBGP and ExaBGP start; sessions g1 (eBGP asn4), g2 (ExaBGP asn4 disabled), g3 (iBGP v6)"
start gobgpd "$NS_G" gobgpd -t toml -f "$W/gobgp/gobgpd.toml" --api-hosts "$GOBGP_API" --pprof-disable -p
wait_until 15 "gobgpd api" gob global
start exabgp "$NS_E" env exabgp_daemon_user=root exabgp_daemon_daemonize=false \
    exabgp_log_destination=stdout exabgp_api_cli=false exabgp_log_level=INFO \
    exabgp_daemon_drop=false exabgp "$EXA_D/exabgp.conf"
EXA_PID=$LAST_PID
gobgp_established() { gob neighbor "$1" | grep -qE 'BGP state *= *(BGP_FSM_)?ESTABLISHED|BGP state = established'; }
wait_until 60 "GoBGP g1 established" gobgp_established 192.0.2.6
wait_until 60 "GoBGP g2 established" gobgp_established 192.0.2.14
wait_until 60 "GoBGP g3 established" gobgp_established 2001:db8:34::2
wait_until 10 "ExaBGP feed process" test -s "$EXA_D/feed.pid"
PIDS+=("$(cat "$EXA_D/feed.pid")")

###############################################################################
# Scenario C: announcements
###############################################################################
event announce-c "GoBGP global rib add; ExaBGP announcements"
gob global rib -a ipv4 add 198.51.100.30/32 origin igp med 30 community 4200:30,no-advertise large-community 4200000003:30:1 aggregator 4200000003:192.0.2.5
gob global rib -a ipv4 add 198.51.100.31/32 origin egp aigp metric 310 community 65535:65284
gob global rib -a ipv4 add 198.51.100.32/32 identifier 7 large-community 4200000003:32:7
gob global rib -a ipv4 add 198.51.100.32/32 identifier 8 large-community 4200000003:32:8 med 8
gob global rib -a ipv6 add 2001:db8:ff00::30/128 nexthop 2001:db8:34::1 community 4200:630 large-community 4200000003:630:1 med 630 local-pref 630
gob global rib -a ipv6 add 2001:db8:ff00::31/128 nexthop 2001:db8:34::1 origin incomplete
nap 2
exa "neighbor 192.0.2.5 announce route 198.51.100.40/32 next-hop self origin igp as-path [ 65004 4200000099 ] med 40 local-preference 400 community [ 65004:40 65004:41 no-export ] large-community [ 65004:40:1 4200000099:40:2 ] extended-community [ target:65004:40 origin:192.0.2.6:40 0x0600000000000009 ] atomic-aggregate aggregator ( 4200000099:192.0.2.6 ) originator-id 192.0.2.6 cluster-list [ 192.0.2.99 192.0.2.98 ]"
exa "neighbor 192.0.2.5 announce route 198.51.100.41/32 next-hop self path-information 0.0.0.1 community [ 65004:41 ] attribute [ 0x63 0xc0 0x686f7374726f757465 ]"
exa "neighbor 192.0.2.5 announce route 198.51.100.41/32 next-hop self path-information 0.0.0.2 med 2 community [ 65004:42 ]"
exa "neighbor 192.0.2.5 announce route 198.51.100.42/32 next-hop self path-information 0.0.0.1 extended-community [ 0x0600010000000007 ]"
exa "neighbor 192.0.2.5 announce route 2001:db8:ff00::40/128 next-hop 2001:db8:34::2 med 640 community [ 65004:640 ] large-community [ 65004:640:1 ] extended-community [ target:65004:640 ]"
exa "neighbor 192.0.2.13 announce route 198.51.100.50/32 next-hop self as-path [ 65005 4200000099 65006 ] aggregator ( 4200000099:192.0.2.14 ) atomic-aggregate community [ 65005:50 ]"
exa "neighbor 192.0.2.13 announce route 198.51.100.51/32 next-hop self as-path [ 65005 ] med 51"
exa "neighbor 2001:db8:34::1 announce route 2001:db8:ff00::60/128 next-hop 2001:db8:34::2 local-preference 160 originator-id 192.0.2.66 cluster-list [ 192.0.2.77 ] community [ 4200:660 ] large-community [ 4200000003:660:1 ]"
nap 6

event withdraw-c "GoBGP and ExaBGP withdraw one route each"
gob global rib -a ipv4 del 198.51.100.31/32
gob global rib -a ipv6 del 2001:db8:ff00::31/128
exa "neighbor 192.0.2.5 withdraw route 198.51.100.42/32 next-hop self path-information 0.0.0.1"
exa "neighbor 192.0.2.5 withdraw route 2001:db8:ff00::40/128 next-hop 2001:db8:34::2"
exa "neighbor 192.0.2.13 withdraw route 198.51.100.51/32 next-hop self"
nap 4

# (gobgp neighbor X softresetin only re-runs policy on GoBGP's Adj-RIB-In; it sends no ROUTE-REFRESH)
event refresh-c "ExaBGP sends ROUTE-REFRESH (ipv4 on g1, ipv6 on g3); GoBGP re-advertises"
exa "neighbor 192.0.2.5 announce route-refresh ipv4 unicast"
exa "neighbor 2001:db8:34::1 announce route-refresh ipv6 unicast"
nap 4

event hold-expire-c "ExaBGP frozen (SIGSTOP) for 11 s: GoBGP's hold timer (9 s) expires on g1/g2/g3"
kill -STOP "$EXA_PID"
nap 11
kill -CONT "$EXA_PID"
wait_until 60 "GoBGP g1 re-established" gobgp_established 192.0.2.6
wait_until 60 "GoBGP g2 re-established" gobgp_established 192.0.2.14
wait_until 60 "GoBGP g3 re-established" gobgp_established 2001:db8:34::2
nap 3

event shutdown-c "GoBGP disables g1 (Cease/2), resets g3 with an RFC 9003 communication (Cease/4); ExaBGP tears down g2 (Cease/2)"
gob neighbor 192.0.2.6 disable || true
gob neighbor 2001:db8:34::2 reset --reason "hostroute vectors: gobgp reset" || true
exa "neighbor 192.0.2.13 teardown 2"
nap 3

###############################################################################
# Scenario A: withdraw, refresh, shutdown
###############################################################################
event bfd-fail-a "BIRD frozen (SIGSTOP) for 2.5 s: BFD detection time expires at FRR and the second BIRD"
kill -STOP "$BIRD_A_PID"
nap 2.5
kill -CONT "$BIRD_A_PID"
wait_until 60 "BIRD frr4 re-established" established_bird frr4
wait_until 60 "BIRD frr6 re-established" established_bird frr6
wait_until 30 "BFD single-hop up again" bfd_up birdc_a 192.0.2.2
wait_until 30 "BFD auth session up again" bfd_up birdc_a 192.0.2.10
nap 3

event withdraw-a "BIRD disables statics s4w/s6w; FRR removes network statements"
birdc_a disable s4w
birdc_a disable s6w
vty -c 'configure terminal' -c 'router bgp 65002' -c 'address-family ipv4 unicast' -c 'no network 198.51.100.3/32' \
    -c 'exit-address-family' -c 'address-family ipv6 unicast' -c 'no network 2001:db8:ff00::3/128'
nap 5

event refresh-a-frr "FRR soft in toward BIRD (ROUTE-REFRESH from FRR, BoRR/EoRR from BIRD)"
vty -c 'clear bgp ipv4 unicast 192.0.2.1 soft in'
nap 2
vty -c 'clear bgp ipv6 unicast 192.0.2.1 soft in'
vty -c 'clear bgp ipv4 unicast 2001:db8:12::1 soft in'
nap 3
event refresh-a-bird "BIRD reload in (ROUTE-REFRESH from BIRD, BoRR/EoRR from FRR)"
birdc_a reload in frr4
birdc_a reload in frr6
nap 4

event bfd-admin-down "FRR shuts down the multihop BFD peer (AdminDown)"
vty -c 'configure terminal' -c 'bfd' -c 'peer 192.0.2.129 multihop local-address 192.0.2.130' -c 'shutdown'
nap 3

event shutdown-a "FRR: neighbor 192.0.2.1 shutdown message; BIRD: disable frr6 with message"
vty -c 'configure terminal' -c 'router bgp 65002' -c 'neighbor 192.0.2.1 shutdown message hostroute vectors: frr maintenance'
nap 2
birdc_a disable frr6 '"hostroute vectors: bird maintenance"'
nap 3

event stop "ExaBGP stopped (SIGTERM); end of capture"
kill -TERM "$EXA_PID" 2>/dev/null || true
nap 3

# Diagnostics for the log
birdc_a show protocols all > "$W/bird-protocols.txt" 2>&1 || true
birdc_a show bfd sessions > "$W/bird-bfd.txt" 2>&1 || true
vty -c 'show bgp neighbors' > "$W/frr-neighbors.txt" 2>&1 || true
gob neighbor > "$W/gobgp-neighbors.txt" 2>&1 || true

# Stop the captures cleanly (SIGINT flushes), by PID.
for i in 0 1 2; do kill -INT "${PIDS[$i]}" 2>/dev/null || true; done
for i in 0 1 2; do
    for ((n = 0; n < 50; n++)); do kill -0 "${PIDS[$i]}" 2>/dev/null || break; sleep 0.1; done
done

###############################################################################
# Save pcaps + manifest, extract
###############################################################################
mkdir -p "$PCAP_DIR"
cp "$W"/*.pcap "$PCAP_DIR/"
cp "$EVENTS" "$PCAP_DIR/events.tsv"
{
    echo "capture_date	$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel	$(uname -r)"
    for p in bird2 frr gobgpd exabgp tcpdump; do
        echo "pkg	$(dpkg-query -W -f '${Package}\t${Version}' "$p")"
    done
} >"$PCAP_DIR/versions.tsv"
log "pcaps saved in $PCAP_DIR"
if [[ $EXTRACT -eq 1 ]]; then
    python3 "$HERE/extract.py" --pcap-dir "$PCAP_DIR" --out "$HERE"
fi
log "done"
