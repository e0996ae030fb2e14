#!/usr/bin/env python3
"""Turn the pcaps written by capture.sh into golden-vector fixtures.

Standard library only.  Pieces:

* a classic-pcap reader (microsecond and nanosecond magic, both byte orders;
  link types Ethernet, Linux cooked v1/v2, raw IP),
* IPv4 / IPv6 / TCP / UDP parsing,
* TCP reassembly per direction by sequence number, connection instances
  separated by SYNs,
* a BGP message splitter (16-byte marker + length) and decoder for OPEN,
  UPDATE, NOTIFICATION, KEEPALIVE and ROUTE-REFRESH, with the negotiated
  context (4-octet AS, ADD-PATH per AFI/SAFI and direction, extended next hop,
  extended message) taken from the two OPENs of the same connection,
* a BFD control packet decoder (UDP payload, ports 3784 / 4784),
* selection / de-duplication and writing of ``<impl>/<name>.hex`` files whose
  comment lines are generated from the decoded bytes, and the README index.

Usage:
  extract.py --pcap-dir pcap --out .       # (re)write fixtures + README index
  extract.py --pcap-dir pcap --dump        # print every decoded message
  extract.py --decode bird2/open_ebgp.hex  # decode fixture files
"""

from __future__ import annotations

import argparse
import datetime as _dt
import ipaddress
import os
import re
import struct
import sys
from dataclasses import dataclass, field

###############################################################################
# pcap
###############################################################################

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276


def read_pcap(path):
    """Yield (frame_no, ts_float, linktype, bytes) from a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1":
        endian, nano = "<", False
    elif magic == b"\xa1\xb2\xc3\xd4":
        endian, nano = ">", False
    elif magic == b"\x4d\x3c\xb2\xa1":
        endian, nano = "<", True
    elif magic == b"\xa1\xb2\x3c\x4d":
        endian, nano = ">", True
    else:
        raise ValueError(f"{path}: not a classic pcap file (pcapng is not supported)")
    _vmaj, _vmin, _tz, _sig, _snap, linktype = struct.unpack(endian + "HHiIII", data[4:24])
    off, n = 24, 0
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off : off + 16])
        off += 16
        pkt = data[off : off + incl]
        off += incl
        n += 1
        ts = sec + frac / (1e9 if nano else 1e6)
        yield n, ts, linktype & 0x0FFFFFFF, pkt


def l3_from_frame(linktype, pkt):
    """Return (ethertype, l3_bytes) or None."""
    if linktype == LINKTYPE_ETHERNET:
        if len(pkt) < 14:
            return None
        etype = struct.unpack("!H", pkt[12:14])[0]
        off = 14
        while etype in (0x8100, 0x88A8) and len(pkt) >= off + 4:
            etype = struct.unpack("!H", pkt[off + 2 : off + 4])[0]
            off += 4
        return etype, pkt[off:]
    if linktype == LINKTYPE_LINUX_SLL:
        if len(pkt) < 16:
            return None
        return struct.unpack("!H", pkt[14:16])[0], pkt[16:]
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(pkt) < 20:
            return None
        return struct.unpack("!H", pkt[0:2])[0], pkt[20:]
    if linktype in (LINKTYPE_RAW, 12):
        if not pkt:
            return None
        return (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), pkt
    return None


@dataclass
class L4:
    proto: int  # 6 / 17
    src: str
    dst: str
    sport: int
    dport: int
    ttl: int
    payload: bytes
    seq: int = 0
    flags: int = 0


def parse_ip(etype, b):
    if etype == 0x0800 and len(b) >= 20 and b[0] >> 4 == 4:
        ihl = (b[0] & 0x0F) * 4
        total = struct.unpack("!H", b[2:4])[0]
        frag = struct.unpack("!H", b[6:8])[0]
        if frag & 0x1FFF:  # non-first fragment
            return None
        proto, ttl = b[9], b[8]
        src = str(ipaddress.IPv4Address(b[12:16]))
        dst = str(ipaddress.IPv4Address(b[16:20]))
        body = b[ihl:total] if total >= ihl else b[ihl:]
    elif etype == 0x86DD and len(b) >= 40 and b[0] >> 4 == 6:
        plen = struct.unpack("!H", b[4:6])[0]
        nxt, ttl = b[6], b[7]
        src = str(ipaddress.IPv6Address(b[8:24]))
        dst = str(ipaddress.IPv6Address(b[24:40]))
        body = b[40 : 40 + plen]
        # skip hop-by-hop, routing, destination options
        while nxt in (0, 43, 60) and len(body) >= 8:
            nxt, hl = body[0], (body[1] + 1) * 8
            body = body[hl:]
        proto = nxt
    else:
        return None
    if proto == 6 and len(body) >= 20:
        sport, dport, seq, _ack = struct.unpack("!HHII", body[:12])
        doff = (body[12] >> 4) * 4
        flags = body[13]
        return L4(6, src, dst, sport, dport, ttl, bytes(body[doff:]), seq, flags)
    if proto == 17 and len(body) >= 8:
        sport, dport, ulen = struct.unpack("!HHH", body[:6])
        return L4(17, src, dst, sport, dport, ttl, bytes(body[8:ulen]) if ulen >= 8 else bytes(body[8:]))
    return None


###############################################################################
# TCP reassembly
###############################################################################

TCP_SYN, TCP_ACK, TCP_FIN, TCP_RST = 0x02, 0x10, 0x01, 0x04


class Flow:
    """One direction of one TCP connection."""

    def __init__(self, conn_id, src, sport, dst, dport):
        self.conn_id = conn_id
        self.src, self.sport, self.dst, self.dport = src, sport, dst, dport
        self.isn = None
        self.buf = bytearray()
        self.pending = {}  # offset -> (data, ts, frame)
        self.chunks = []  # (end_offset, ts, frame)

    def add(self, seq, flags, data, ts, frame):
        if flags & TCP_SYN:
            self.isn = seq
            return
        if self.isn is None:  # capture started mid-stream: best effort
            self.isn = (seq - 1) & 0xFFFFFFFF
        if not data:
            return
        off = (seq - self.isn - 1) & 0xFFFFFFFF
        if off > 0x7FFFFFFF:  # before the start (weird retransmission)
            return
        self.pending.setdefault(off, (data, ts, frame))
        self._drain()

    def _drain(self):
        progress = True
        while progress:
            progress = False
            for off in sorted(self.pending):
                data, ts, frame = self.pending[off]
                end = off + len(data)
                if end <= len(self.buf):
                    del self.pending[off]  # pure retransmission
                    progress = True
                    break
                if off <= len(self.buf):
                    self.buf += data[len(self.buf) - off :]
                    self.chunks.append((len(self.buf), ts, frame))
                    del self.pending[off]
                    progress = True
                    break

    def when(self, end_offset):
        for end, ts, frame in self.chunks:
            if end >= end_offset:
                return ts, frame
        return (self.chunks[-1][1], self.chunks[-1][2]) if self.chunks else (0.0, 0)


@dataclass
class Msg:
    kind: str  # "bgp" | "bfd"
    raw: bytes
    ts: float
    frame: int
    pcap: str
    src: str
    dst: str
    sport: int
    dport: int
    conn_id: tuple | None = None
    ttl: int = 0
    decoded: dict = field(default_factory=dict)


def bgp_split(buf):
    """Split a reassembled stream into BGP messages: yields (start, end)."""
    off = 0
    while off + 19 <= len(buf):
        if buf[off : off + 16] != b"\xff" * 16:
            # resynchronise on the next marker
            nxt = buf.find(b"\xff" * 16, off + 1)
            if nxt < 0:
                return
            off = nxt
            continue
        ln = struct.unpack("!H", buf[off + 16 : off + 18])[0]
        if ln < 19 or off + ln > len(buf):
            return
        yield off, off + ln
        off += ln


def messages_from_pcap(path):
    name = os.path.basename(path)
    flows = {}
    conn_instance = {}
    out = []
    for frame, ts, lt, pkt in read_pcap(path):
        l3 = l3_from_frame(lt, pkt)
        if not l3:
            continue
        p = parse_ip(*l3)
        if p is None:
            continue
        if p.proto == 17 and (p.dport in (3784, 4784) or p.sport in (3784, 4784)):
            out.append(Msg("bfd", p.payload, ts, frame, name, p.src, p.dst, p.sport, p.dport, ttl=p.ttl))
            continue
        if p.proto != 6 or 179 not in (p.sport, p.dport):
            continue
        key = tuple(sorted([(p.src, p.sport), (p.dst, p.dport)]))
        if p.flags & TCP_SYN and not p.flags & TCP_ACK:
            conn_instance[key] = conn_instance.get(key, 0) + 1
        inst = conn_instance.setdefault(key, 1)
        fkey = (p.src, p.sport, p.dst, p.dport, inst)
        if fkey not in flows:
            flows[fkey] = Flow((name, key, inst), p.src, p.sport, p.dst, p.dport)
        flows[fkey].add(p.seq, p.flags, p.payload, ts, frame)
    for fl in flows.values():
        for s, e in bgp_split(fl.buf):
            ts, frame = fl.when(e)
            out.append(Msg("bgp", bytes(fl.buf[s:e]), ts, frame, name, fl.src, fl.dst, fl.sport, fl.dport, fl.conn_id))
    out.sort(key=lambda m: (m.ts, m.frame))
    return out


###############################################################################
# BGP decoding
###############################################################################

AFI = {1: "ipv4", 2: "ipv6", 25: "l2vpn", 16388: "bgp-ls"}
SAFI = {1: "unicast", 2: "multicast", 4: "labeled-unicast", 70: "evpn", 128: "mpls-vpn", 133: "flowspec"}


def fam(afi, safi):
    return f"{AFI.get(afi, f'afi{afi}')}-{SAFI.get(safi, f'safi{safi}')}"


CAP_NAMES = {
    1: "MULTIPROTOCOL",
    2: "ROUTE_REFRESH",
    5: "EXTENDED_NEXT_HOP",
    6: "EXTENDED_MESSAGE",
    9: "BGP_ROLE",
    64: "GRACEFUL_RESTART",
    65: "FOUR_OCTET_AS",
    67: "DYNAMIC_CAPABILITY",
    69: "ADD_PATH",
    70: "ENHANCED_ROUTE_REFRESH",
    71: "LONG_LIVED_GR",
    73: "FQDN",
    128: "ROUTE_REFRESH_CISCO",
}
ROLE = {0: "Provider", 1: "RS", 2: "RS-Client", 3: "Customer", 4: "Peer"}
ADDPATH_SR = {1: "receive", 2: "send", 3: "send/receive"}


def decode_caps(b):
    caps = []
    i = 0
    while i + 2 <= len(b):
        code, ln = b[i], b[i + 1]
        v = b[i + 2 : i + 2 + ln]
        i += 2 + ln
        c = {"code": code, "name": CAP_NAMES.get(code, f"UNKNOWN_{code}"), "raw": v}
        if code == 1 and len(v) == 4:
            afi, _r, safi = struct.unpack("!HBB", v)
            c["family"] = fam(afi, safi)
            c["text"] = f"MP {fam(afi, safi)}"
        elif code == 5:
            ent = []
            for j in range(0, len(v) - 5, 6):
                afi, safi, nh = struct.unpack("!HHH", v[j : j + 6])
                ent.append((fam(afi, safi), AFI.get(nh, str(nh))))
            c["entries"] = ent
            c["text"] = "EXTENDED_NEXT_HOP " + ", ".join(f"{f} nh {n}" for f, n in ent)
        elif code == 9 and len(v) == 1:
            c["role"] = v[0]
            c["text"] = f"ROLE {ROLE.get(v[0], v[0])}"
        elif code == 64 and len(v) >= 2:
            hdr = struct.unpack("!H", v[:2])[0]
            flags = []
            if hdr & 0x8000:
                flags.append("R")
            if hdr & 0x4000:
                flags.append("N")
            ent = []
            for j in range(2, len(v) - 3, 4):
                afi, safi, fl = struct.unpack("!HBB", v[j : j + 4])
                ent.append(f"{fam(afi, safi)}{'(F)' if fl & 0x80 else ''}")
            c["text"] = (
                f"GRACEFUL_RESTART flags={''.join(flags) or '-'} time={hdr & 0x0FFF}s"
                + (f" afi/safi: {', '.join(ent)}" if ent else " (no AFI/SAFI: helper only)")
            )
        elif code == 65 and len(v) == 4:
            c["asn"] = struct.unpack("!I", v)[0]
            c["text"] = f"FOUR_OCTET_AS {c['asn']}"
        elif code == 69:
            ent = {}
            for j in range(0, len(v) - 3, 4):
                afi, safi, sr = struct.unpack("!HBB", v[j : j + 4])
                ent[fam(afi, safi)] = sr
            c["entries"] = ent
            c["text"] = "ADD_PATH " + ", ".join(f"{k} {ADDPATH_SR.get(s, s)}" for k, s in ent.items())
        elif code == 71:
            ent = []
            for j in range(0, len(v) - 6, 7):
                afi, safi, fl = struct.unpack("!HBB", v[j : j + 4])
                st = int.from_bytes(v[j + 4 : j + 7], "big")
                ent.append(f"{fam(afi, safi)} stale={st}s{'(F)' if fl & 0x80 else ''}")
            c["text"] = "LONG_LIVED_GR " + (", ".join(ent) if ent else "(no AFI/SAFI)")
        elif code == 73 and len(v) >= 1:
            hl = v[0]
            host = v[1 : 1 + hl].decode(errors="replace")
            dl = v[1 + hl] if len(v) > 1 + hl else 0
            dom = v[2 + hl : 2 + hl + dl].decode(errors="replace")
            c["text"] = f"FQDN host={host!r} domain={dom!r}"
        else:
            c["text"] = c["name"] + (f" {v.hex()}" if v else "")
        caps.append(c)
    return caps


def decode_open(body):
    ver, myas, hold = struct.unpack("!BHH", body[:5])
    bgpid = str(ipaddress.IPv4Address(body[5:9]))
    optlen = body[9]
    opts = body[10:]
    ext_params = False
    if optlen == 255 and len(opts) >= 3 and opts[0] == 255:  # RFC 9072
        optlen = struct.unpack("!H", opts[1:3])[0]
        opts = opts[3:]
        ext_params = True
    params, caps = [], []
    i = 0
    while i < len(opts):
        if ext_params:
            ptype, plen = opts[i], struct.unpack("!H", opts[i + 1 : i + 3])[0]
            pv = opts[i + 3 : i + 3 + plen]
            i += 3 + plen
        else:
            ptype, plen = opts[i], opts[i + 1]
            pv = opts[i + 2 : i + 2 + plen]
            i += 2 + plen
        params.append((ptype, plen))
        if ptype == 2:
            caps.extend(decode_caps(pv))
    return {
        "version": ver,
        "my_as": myas,
        "hold": hold,
        "bgp_id": bgpid,
        "params": params,
        "caps": caps,
        "ext_params": ext_params,
    }


def open_ctx(op):
    """Summarise one side's OPEN for context computation."""
    d = {"as4": None, "addpath": {}, "enh": set(), "extmsg": False, "fams": set(), "enhrr": False}
    for c in op["caps"]:
        if c["code"] == 65:
            d["as4"] = c["asn"]
        elif c["code"] == 69:
            d["addpath"].update(c["entries"])
        elif c["code"] == 5:
            d["enh"].update(c["entries"])
        elif c["code"] == 6:
            d["extmsg"] = True
        elif c["code"] == 1 and "family" in c:
            d["fams"].add(c["family"])
        elif c["code"] == 70:
            d["enhrr"] = True
    return d


@dataclass
class Ctx:
    as4: bool = True
    addpath_rx: frozenset = frozenset()  # families whose NLRI in THIS message carry path ids
    addpath_tx: frozenset = frozenset()  # families where the receiver would send path ids back
    ext_nh: frozenset = frozenset()
    ext_msg: bool = False
    known: bool = False

    def line(self):
        def f(s):
            return ",".join(sorted(s)) if s else "none"

        enh = ",".join(sorted(f"{a}/{n}" for a, n in self.ext_nh)) if self.ext_nh else "false"
        return (
            f"as4={'true' if self.as4 else 'false'} addpath_rx={f(self.addpath_rx)} "
            f"addpath_tx={f(self.addpath_tx)} extended_nexthop={enh} "
            f"extended_message={'true' if self.ext_msg else 'false'}"
        )


def make_ctx(sender_open, receiver_open):
    if not sender_open or not receiver_open:
        return Ctx(known=False)
    s, r = open_ctx(sender_open), open_ctx(receiver_open)
    rx = frozenset(f for f, v in s["addpath"].items() if v & 2 and r["addpath"].get(f, 0) & 1)
    tx = frozenset(f for f, v in r["addpath"].items() if v & 2 and s["addpath"].get(f, 0) & 1)
    return Ctx(
        as4=s["as4"] is not None and r["as4"] is not None,
        addpath_rx=rx,
        addpath_tx=tx,
        ext_nh=frozenset(s["enh"] & r["enh"]),
        ext_msg=s["extmsg"] and r["extmsg"],
        known=True,
    )


def prefix(afi, b, i, addpath):
    pid = None
    if addpath:
        pid = struct.unpack("!I", b[i : i + 4])[0]
        i += 4
    plen = b[i]
    nb = (plen + 7) // 8
    raw = b[i + 1 : i + 1 + nb]
    i += 1 + nb
    if afi == 1:
        addr = ipaddress.IPv4Address(raw.ljust(4, b"\0"))
    elif afi == 2:
        addr = ipaddress.IPv6Address(raw.ljust(16, b"\0"))
    else:
        return f"afi{afi}:{raw.hex()}/{plen}", pid, i
    return f"{addr}/{plen}", pid, i


def nlri_list(afi, b, addpath):
    out, i = [], 0
    while i < len(b):
        p, pid, i = prefix(afi, b, i, addpath)
        out.append((p, pid))
    return out


def fmt_nlri(lst):
    return ", ".join(p + (f" (path-id {pid})" if pid is not None else "") for p, pid in lst)


ORIGIN = {0: "IGP", 1: "EGP", 2: "INCOMPLETE"}
ATTR_NAMES = {
    1: "ORIGIN",
    2: "AS_PATH",
    3: "NEXT_HOP",
    4: "MULTI_EXIT_DISC",
    5: "LOCAL_PREF",
    6: "ATOMIC_AGGREGATE",
    7: "AGGREGATOR",
    8: "COMMUNITIES",
    9: "ORIGINATOR_ID",
    10: "CLUSTER_LIST",
    14: "MP_REACH_NLRI",
    15: "MP_UNREACH_NLRI",
    16: "EXTENDED_COMMUNITIES",
    17: "AS4_PATH",
    18: "AS4_AGGREGATOR",
    26: "AIGP",
    32: "LARGE_COMMUNITY",
    35: "OTC",
}
WELL_KNOWN_COMM = {
    0xFFFFFF01: "NO_EXPORT",
    0xFFFFFF02: "NO_ADVERTISE",
    0xFFFFFF03: "NO_EXPORT_SUBCONFED",
    0xFFFFFF04: "NOPEER",
    0xFFFF0000: "GRACEFUL_SHUTDOWN",
    0xFFFF029A: "BLACKHOLE",
    0xFFFF0006: "LLGR_STALE",
    0xFFFF0007: "NO_LLGR",
}
SEG = {1: "AS_SET", 2: "AS_SEQUENCE", 3: "AS_CONFED_SEQUENCE", 4: "AS_CONFED_SET"}


def aspath(b, width):
    segs, i = [], 0
    while i + 2 <= len(b):
        t, n = b[i], b[i + 1]
        fmt = "!" + ("I" if width == 4 else "H") * n
        asns = struct.unpack(fmt, b[i + 2 : i + 2 + n * width])
        i += 2 + n * width
        segs.append((t, asns))
    return segs


def fmt_aspath(segs):
    parts = []
    for t, asns in segs:
        s = " ".join(str(a) for a in asns)
        parts.append(f"[{s}]" if t == 2 else f"{SEG.get(t, t)}{{{s}}}")
    return " ".join(parts) if parts else "(empty)"


def ext_comm(e):
    t, st = e[0], e[1]
    v = e[2:]
    trans = "" if not t & 0x40 else " non-transitive"
    base = t & 0x3F
    if base == 0x00 and st in (0x02, 0x03):
        asn, val = struct.unpack("!HI", v)
        return f"{'rt' if st == 2 else 'soo'} {asn}:{val} (two-octet-AS{trans})"
    if base == 0x01 and st in (0x02, 0x03):
        ip = ipaddress.IPv4Address(v[:4])
        val = struct.unpack("!H", v[4:])[0]
        return f"{'rt' if st == 2 else 'soo'} {ip}:{val} (IPv4-address{trans})"
    if base == 0x02 and st in (0x02, 0x03):
        asn, val = struct.unpack("!IH", v)
        return f"{'rt' if st == 2 else 'soo'} {asn}:{val} (four-octet-AS{trans})"
    if base == 0x00 and st == 0x04:
        asn = struct.unpack("!H", v[:2])[0]
        bw = struct.unpack("!f", v[2:])[0]
        return f"link-bandwidth AS {asn} {bw:g} bytes/s ({bw * 8 / 1e6:g} Mbit/s){trans}"
    if t == 0x06 and st == 0x00:
        fl, _res, seq = struct.unpack("!BBI", v)
        return f"EVPN MAC-mobility seq={seq} flags=0x{fl:02x}{' (sticky)' if fl & 1 else ''}"
    return f"type 0x{t:02x} subtype 0x{st:02x} value {v.hex()}"


def aigp(b):
    out, i = [], 0
    while i + 3 <= len(b):
        t, ln = b[i], struct.unpack("!H", b[i + 1 : i + 3])[0]
        v = b[i + 3 : i + ln]
        out.append(f"TLV type {t} metric {int.from_bytes(v, 'big')}" if t == 1 else f"TLV type {t} {v.hex()}")
        i += ln if ln >= 3 else 3
    return "; ".join(out)


def nexthop(afi, b):
    if len(b) == 4:
        return str(ipaddress.IPv4Address(b))
    if len(b) == 16:
        return str(ipaddress.IPv6Address(b))
    if len(b) == 32:
        return f"{ipaddress.IPv6Address(b[:16])} + link-local {ipaddress.IPv6Address(b[16:])}"
    if len(b) == 12:  # RD + IPv4 (VPN)
        return f"rd {b[:8].hex()} {ipaddress.IPv4Address(b[8:])}"
    return b.hex()


def decode_update(body, ctx: Ctx):
    wl = struct.unpack("!H", body[:2])[0]
    wd = body[2 : 2 + wl]
    al = struct.unpack("!H", body[2 + wl : 4 + wl])[0]
    ab = body[4 + wl : 4 + wl + al]
    nl = body[4 + wl + al :]
    fam4 = "ipv4-unicast"
    d = {
        "withdrawn": nlri_list(1, wd, fam4 in ctx.addpath_rx),
        "nlri": nlri_list(1, nl, fam4 in ctx.addpath_rx),
        "attrs": [],
    }
    i = 0
    while i + 3 <= len(ab):
        fl, t = ab[i], ab[i + 1]
        if fl & 0x10:
            ln = struct.unpack("!H", ab[i + 2 : i + 4])[0]
            v = ab[i + 4 : i + 4 + ln]
            i += 4 + ln
        else:
            ln = ab[i + 2]
            v = ab[i + 3 : i + 3 + ln]
            i += 3 + ln
        a = {"type": t, "flags": fl, "name": ATTR_NAMES.get(t, f"UNKNOWN_{t}"), "len": ln, "raw": v}
        if t == 1:
            a["text"] = f"ORIGIN {ORIGIN.get(v[0], v[0])}"
        elif t in (2, 17):
            width = 4 if (t == 17 or ctx.as4) else 2
            a["segs"] = aspath(v, width)
            a["text"] = f"{a['name']} {fmt_aspath(a['segs'])} ({width}-octet)"
        elif t == 3:
            a["text"] = f"NEXT_HOP {ipaddress.IPv4Address(v)}"
        elif t == 4:
            a["text"] = f"MED {struct.unpack('!I', v)[0]}"
        elif t == 5:
            a["text"] = f"LOCAL_PREF {struct.unpack('!I', v)[0]}"
        elif t == 6:
            a["text"] = "ATOMIC_AGGREGATE"
        elif t in (7, 18):
            if len(v) == 8:
                asn, ip = struct.unpack("!I", v[:4])[0], ipaddress.IPv4Address(v[4:])
            else:
                asn, ip = struct.unpack("!H", v[:2])[0], ipaddress.IPv4Address(v[2:])
            a["text"] = f"{a['name']} AS {asn} {ip} ({len(v) - 4}-octet AS)"
        elif t == 8:
            cs = []
            for j in range(0, len(v), 4):
                c = struct.unpack("!I", v[j : j + 4])[0]
                cs.append(WELL_KNOWN_COMM.get(c, f"{c >> 16}:{c & 0xFFFF}"))
            a["text"] = "COMMUNITIES " + " ".join(cs)
        elif t == 9:
            a["text"] = f"ORIGINATOR_ID {ipaddress.IPv4Address(v)}"
        elif t == 10:
            a["text"] = "CLUSTER_LIST " + " ".join(str(ipaddress.IPv4Address(v[j : j + 4])) for j in range(0, len(v), 4))
        elif t == 16:
            a["ext"] = [v[j : j + 8] for j in range(0, len(v), 8)]
            a["text"] = "EXTENDED_COMMUNITIES " + "; ".join(f"{ext_comm(e)} <{e.hex()}>" for e in a["ext"])
        elif t == 32:
            ls = [struct.unpack("!III", v[j : j + 12]) for j in range(0, len(v), 12)]
            a["text"] = "LARGE_COMMUNITY " + " ".join(f"{x}:{y}:{z}" for x, y, z in ls)
        elif t == 35:
            a["text"] = f"OTC {struct.unpack('!I', v)[0]}"
        elif t == 26:
            a["text"] = f"AIGP {aigp(v)}"
        elif t == 14:
            afi, safi, nhl = struct.unpack("!HBB", v[:4])
            nh = v[4 : 4 + nhl]
            nlb = v[5 + nhl :]
            f = fam(afi, safi)
            a["family"] = f
            a["nh_len"] = nhl
            a["nlri"] = nlri_list(afi, nlb, f in ctx.addpath_rx)
            a["text"] = (
                f"MP_REACH_NLRI {f} next-hop {nexthop(afi, nh)} (length {nhl}) NLRI {fmt_nlri(a['nlri']) or '(none)'}"
            )
        elif t == 15:
            afi, safi = struct.unpack("!HB", v[:3])
            f = fam(afi, safi)
            a["family"] = f
            a["nlri"] = nlri_list(afi, v[3:], f in ctx.addpath_rx)
            a["text"] = f"MP_UNREACH_NLRI {f} withdrawn {fmt_nlri(a['nlri']) or '(none: End-of-RIB)'}"
        else:
            a["text"] = f"{a['name']} value {v.hex()}"
        fl_txt = "".join(ch for bit, ch in ((0x80, "O"), (0x40, "T"), (0x20, "P"), (0x10, "E")) if fl & bit)
        a["text"] += f" [type {t}, flags 0x{fl:02x} {fl_txt or '-'}]"
        d["attrs"].append(a)
    return d


NOTIF_CODES = {1: "Message Header Error", 2: "OPEN Message Error", 3: "UPDATE Message Error", 4: "Hold Timer Expired",
               5: "FSM Error", 6: "Cease", 7: "ROUTE-REFRESH Message Error"}
CEASE_SUB = {0: "unspecific", 1: "Maximum Number of Prefixes Reached", 2: "Administrative Shutdown",
             3: "Peer De-configured", 4: "Administrative Reset", 5: "Connection Rejected",
             6: "Other Configuration Change", 7: "Connection Collision Resolution", 8: "Out of Resources",
             9: "Hard Reset", 10: "BFD Down"}


def decode_notification(body):
    code, sub = body[0], body[1]
    data = body[2:]
    d = {"code": code, "subcode": sub, "data": data}
    if code == 6:
        sname = CEASE_SUB.get(sub, str(sub))
    elif code == 2:
        sname = OPEN_SUB_TEXT.get(sub, str(sub))
    else:
        sname = "unspecific" if sub == 0 else str(sub)
    txt = f"NOTIFICATION {NOTIF_CODES.get(code, code)} ({code}) / {sname} ({sub})"
    if code == 6 and sub in (2, 4) and data:
        ln = data[0]
        msg = data[1 : 1 + ln].decode("utf-8", errors="replace")
        d["shutdown_msg"] = msg
        txt += f", RFC 9003 shutdown communication length {ln}: {msg!r}"
        if len(data) > 1 + ln:
            txt += f" + trailing {data[1 + ln:].hex()}"
    elif code == 6 and sub == 9 and len(data) >= 2:
        inner = decode_notification(data)
        txt += f", wrapping [{inner['text']}]"
    elif data:
        txt += f", data {data.hex()}"
        if all(32 <= c < 127 for c in data):
            txt += f" (ASCII {data.decode()!r})"
    d["text"] = txt
    return d


RR_SUB = {0: "ROUTE-REFRESH", 1: "BoRR", 2: "EoRR"}
SUBCODE_NAMES = {
    1: {1: "not_synchronized", 2: "bad_length", 3: "bad_type"},
    2: {1: "unsupported_version", 2: "bad_peer_as", 3: "bad_bgp_id", 4: "unsupported_optional_parameter",
        6: "unacceptable_hold_time", 7: "unsupported_capability", 11: "role_mismatch"},
    3: {1: "malformed_attribute_list", 2: "unrecognized_well_known", 3: "missing_well_known", 4: "attribute_flags",
        5: "attribute_length", 6: "invalid_origin", 8: "invalid_next_hop", 9: "optional_attribute",
        10: "invalid_network", 11: "malformed_as_path"},
}
OPEN_SUB_TEXT = {1: "Unsupported Version Number", 2: "Bad Peer AS", 3: "Bad BGP Identifier",
                 4: "Unsupported Optional Parameter", 6: "Unacceptable Hold Time", 7: "Unsupported Capability",
                 11: "Role Mismatch"}


def decode_bgp(raw, ctx: Ctx):
    ln = struct.unpack("!H", raw[16:18])[0]
    t = raw[18]
    body = raw[19:ln]
    d = {"type": t, "len": ln}
    if t == 1:
        d["name"] = "OPEN"
        d.update(decode_open(body))
    elif t == 2:
        d["name"] = "UPDATE"
        d.update(decode_update(body, ctx))
    elif t == 3:
        d["name"] = "NOTIFICATION"
        d.update(decode_notification(body))
    elif t == 4:
        d["name"] = "KEEPALIVE"
    elif t == 5:
        d["name"] = "ROUTE-REFRESH"
        afi, sub, safi = struct.unpack("!HBB", body[:4])
        d["family"] = fam(afi, safi)
        d["subtype"] = sub
        d["text"] = f"{RR_SUB.get(sub, f'subtype {sub}')} {fam(afi, safi)} (message subtype {sub})"
    else:
        d["name"] = f"TYPE{t}"
    return d


def describe_bgp(d):
    """Human readable lines for a decoded BGP message."""
    lines = []
    if d["name"] == "OPEN":
        lines.append(
            f"OPEN version {d['version']}, My AS {d['my_as']}"
            + (" (AS_TRANS)" if d["my_as"] == 23456 else "")
            + f", hold time {d['hold']}s, BGP Identifier {d['bgp_id']}, "
            f"{len(d['params'])} optional parameter(s){' (RFC 9072 extended)' if d['ext_params'] else ''}"
            f"{', one capability per parameter' if len(d['params']) > 1 and len(d['params']) == len(d['caps']) else ''}"
        )
        for c in d["caps"]:
            lines.append(f"  capability {c['code']} {c['text']}")
    elif d["name"] == "UPDATE":
        ann = d["nlri"]
        wd = d["withdrawn"]
        attrs = d["attrs"]
        mp_r = [a for a in attrs if a["type"] == 14]
        mp_u = [a for a in attrs if a["type"] == 15]
        if not ann and not wd and not attrs:
            lines.append("UPDATE End-of-RIB marker for ipv4-unicast (empty UPDATE)")
        elif mp_u and len(attrs) == 1 and not mp_u[0]["nlri"] and not ann and not wd:
            lines.append(f"UPDATE End-of-RIB marker for {mp_u[0]['family']} (MP_UNREACH_NLRI with no NLRI)")
        else:
            head = "UPDATE"
            if wd:
                head += f" withdrawn (ipv4-unicast) {fmt_nlri(wd)};"
            if ann:
                head += f" NLRI (ipv4-unicast) {fmt_nlri(ann)};"
            for a in mp_r:
                head += f" MP_REACH {a['family']} {fmt_nlri(a['nlri'])};"
            for a in mp_u:
                head += f" MP_UNREACH {a['family']} {fmt_nlri(a['nlri']) or '(none)'};"
            lines.append(head.rstrip(";"))
            for a in attrs:
                lines.append("  " + a["text"])
    elif d["name"] in ("NOTIFICATION", "ROUTE-REFRESH"):
        lines.append(d["text"])
    elif d["name"] == "KEEPALIVE":
        lines.append("KEEPALIVE (19 bytes, header only)")
    else:
        lines.append(d["name"])
    return lines


###############################################################################
# BFD decoding
###############################################################################

BFD_STATE = {0: "AdminDown", 1: "Down", 2: "Init", 3: "Up"}
BFD_DIAG = {0: "No Diagnostic", 1: "Control Detection Time Expired", 2: "Echo Function Failed",
            3: "Neighbor Signaled Session Down", 4: "Forwarding Plane Reset", 5: "Path Down",
            6: "Concatenated Path Down", 7: "Administratively Down", 8: "Reverse Concatenated Path Down",
            9: "Mis-Connectivity Defect"}
BFD_AUTH = {1: "Simple Password", 2: "Keyed MD5", 3: "Meticulous Keyed MD5", 4: "Keyed SHA1",
            5: "Meticulous Keyed SHA1"}


# Keys configured by capture.sh for the authenticated BFD session (key id -> secret).
BFD_KEYS = {7: b"hostroute-bfd-key"}


def bfd_auth_check(b, a):
    """Verify a Keyed/Meticulous MD5 or SHA1 digest (RFC 5880 6.7.3 / 6.7.4) with BFD_KEYS."""
    import hashlib

    key = BFD_KEYS.get(a["key_id"])
    if key is None or a["type"] not in (2, 3, 4, 5):
        return None
    size, algo = (16, hashlib.md5) if a["type"] in (2, 3) else (20, hashlib.sha1)
    start = 24 + 8  # auth header (type, len, key id, reserved) + sequence number
    pkt = bytearray(b[: b[3]])
    pkt[start : start + size] = key[:size].ljust(size, b"\0")
    return algo(bytes(pkt)).digest() == bytes(b[start : start + size])


def decode_bfd(b):
    vd, sf, mult, ln = b[0], b[1], b[2], b[3]
    mine, yours, tx, rx, echo = struct.unpack("!IIIII", b[4:24])
    flags = [n for bit, n in ((0x20, "P"), (0x10, "F"), (0x08, "C"), (0x04, "A"), (0x02, "D"), (0x01, "M")) if sf & bit]
    d = {
        "version": vd >> 5,
        "diag": vd & 0x1F,
        "state": sf >> 6,
        "flags": flags,
        "mult": mult,
        "len": ln,
        "my": mine,
        "your": yours,
        "tx": tx,
        "rx": rx,
        "echo": echo,
        "auth": None,
    }
    if "A" in flags and len(b) >= 26:
        at, al = b[24], b[25]
        a = {"type": at, "len": al, "key_id": b[26]}
        if at in (2, 3, 4, 5):
            a["seq"] = struct.unpack("!I", b[28:32])[0]
            a["digest"] = b[32 : 24 + al]
            a["verified"] = bfd_auth_check(b, a)
        elif at == 1:
            a["password"] = b[27 : 24 + al]
        d["auth"] = a
    return d


def describe_bfd(d, multihop):
    s = (
        f"BFD v{d['version']} {'multihop (UDP 4784)' if multihop else 'single-hop (UDP 3784)'} "
        f"State {BFD_STATE[d['state']]}, Diag {d['diag']} ({BFD_DIAG.get(d['diag'], '?')}), "
        f"flags {''.join(d['flags']) or 'none'}, DetectMult {d['mult']}, length {d['len']}"
    )
    lines = [s, f"  My Discriminator 0x{d['my']:08x}, Your Discriminator 0x{d['your']:08x}",
             f"  Desired Min TX {d['tx']} us, Required Min RX {d['rx']} us, Required Min Echo RX {d['echo']} us"]
    if d["auth"]:
        a = d["auth"]
        t = f"  Auth {BFD_AUTH.get(a['type'], a['type'])} (type {a['type']}), auth len {a['len']}, key id {a['key_id']}"
        if "seq" in a:
            t += f", sequence {a['seq']}, digest {a['digest'].hex()}"
        lines.append(t)
        if a.get("verified") is not None:
            key = BFD_KEYS[a["key_id"]].decode()
            lines.append(f"  digest {'VERIFIED' if a['verified'] else 'DOES NOT MATCH'} with key id {a['key_id']} "
                         f"secret {key!r} (RFC 5880 6.7.4: hash over the packet with the secret, zero padded, "
                         f"in the digest field)")
    return lines


###############################################################################
# Metadata from capture.sh
###############################################################################

# Which implementation owns which address (must match capture.sh).
ENDPOINTS = {
    "192.0.2.1": "bird2",
    "2001:db8:12::1": "bird2",
    "192.0.2.129": "bird2",
    "192.0.2.9": "bird2",
    "192.0.2.10": "bird2",  # second BIRD instance (BFD auth peer)
    "192.0.2.2": "frr",
    "2001:db8:12::2": "frr",
    "192.0.2.130": "frr",
    "192.0.2.5": "gobgp",
    "192.0.2.13": "gobgp",
    "2001:db8:34::1": "gobgp",
    "192.0.2.6": "exabgp",
    "192.0.2.14": "exabgp",
    "2001:db8:34::2": "exabgp",
    "192.0.2.17": "gobgp",
    "192.0.2.18": "exabgp",
}
IMPL_PKG = {"bird2": "bird2", "frr": "frr", "gobgp": "gobgpd", "exabgp": "exabgp"}
IMPL_NAME = {"bird2": "BIRD 2", "frr": "FRR", "gobgp": "GoBGP", "exabgp": "ExaBGP"}
IMPL_DAEMON = {("frr", "bgp"): "FRR bgpd", ("frr", "bfd"): "FRR bfdd", ("bird2", "bgp"): "BIRD 2",
               ("bird2", "bfd"): "BIRD 2 (protocol bfd)", ("gobgp", "bgp"): "GoBGP gobgpd",
               ("exabgp", "bgp"): "ExaBGP"}

# Sessions: frozenset of the two addresses -> (tag, description)
SESSIONS = {
    frozenset({"192.0.2.1", "192.0.2.2"}): (
        "ebgp", "eBGP over IPv4 (frr4): BIRD AS 4200000001 (4-octet) <-> FRR AS 65002, ipv4+ipv6 unicast, "
        "GR, LLGR (BIRD), ADD-PATH ipv4, RFC 9234 roles (BIRD customer, FRR provider), BFD"),
    frozenset({"2001:db8:12::1", "2001:db8:12::2"}): (
        "ibgp6", "iBGP over IPv6 (frr6): BIRD <-> FRR, AS 65002, ipv6 unicast + ipv4 unicast with IPv6 "
        "next hop (RFC 8950 extended next hop)"),
    frozenset({"192.0.2.129", "192.0.2.130"}): ("mh", "BFD multihop between loopbacks 192.0.2.129 (BIRD) and 192.0.2.130 (FRR)"),
    frozenset({"192.0.2.9", "192.0.2.10"}): ("auth", "BFD single-hop with keyed SHA1 authentication between two BIRD 2 instances"),
    frozenset({"192.0.2.5", "192.0.2.6"}): (
        "g1", "eBGP over IPv4 (g1): GoBGP AS 4200000003 <-> ExaBGP AS 65004, both 4-octet capable, "
        "ipv4 unicast with ADD-PATH both ways, ipv6 unicast, GR"),
    frozenset({"192.0.2.13", "192.0.2.14"}): (
        "g2", "eBGP over IPv4 (g2): GoBGP AS 4200000003 <-> ExaBGP AS 65005 with 'capability { asn4 disable; }' "
        "(2-octet peer: AS_TRANS, AS4_PATH, AS4_AGGREGATOR)"),
    frozenset({"192.0.2.17", "192.0.2.18"}): (
        "g4", "eBGP over IPv4 (g4): ExaBGP AS 65006 <-> GoBGP configured with the wrong peer AS 65099 (OPEN error)"),
    frozenset({"2001:db8:34::1", "2001:db8:34::2"}): (
        "g3", "iBGP over IPv6 (g3): GoBGP <-> ExaBGP, AS 4200000003, ipv6 unicast"),
}


def read_tsv(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.rstrip("\n")
                if line:
                    rows.append(line.split("\t"))
    return rows


class Meta:
    def __init__(self, pcap_dir):
        self.events = [(float(r[0]), r[1], r[2] if len(r) > 2 else "") for r in read_tsv(os.path.join(pcap_dir, "events.tsv"))]
        self.versions = {}
        self.capture_date = "unknown"
        for r in read_tsv(os.path.join(pcap_dir, "versions.tsv")):
            if r[0] == "pkg":
                self.versions[r[1]] = r[2]
            elif r[0] == "capture_date":
                self.capture_date = r[1]

    def phase(self, ts):
        cur = ("(before first event)", "")
        for t, label, txt in self.events:
            if t <= ts:
                cur = (label, txt)
        return cur

    def impl_ver(self, impl):
        pkg = IMPL_PKG[impl]
        return f"Debian {pkg} {self.versions.get(pkg, '?')}"


###############################################################################
# Analysis
###############################################################################


def analyse(pcap_dir):
    msgs = []
    for fn in sorted(os.listdir(pcap_dir)):
        if fn.endswith(".pcap"):
            msgs.extend(messages_from_pcap(os.path.join(pcap_dir, fn)))
    # OPENs per connection and direction
    opens = {}
    for m in msgs:
        if m.kind == "bgp" and len(m.raw) > 19 and m.raw[18] == 1:
            opens[(m.conn_id, m.src)] = decode_open(m.raw[19:])
    for m in msgs:
        try:
            if m.kind == "bgp":
                so = opens.get((m.conn_id, m.src))
                ro = opens.get((m.conn_id, m.dst))
                ctx = make_ctx(so, ro)
                m.decoded = decode_bgp(m.raw, ctx)
                m.decoded["ctx"] = ctx
            else:
                m.decoded = decode_bfd(m.raw)
                m.decoded["multihop"] = 4784 in (m.dport, m.sport)
        except (IndexError, struct.error, ValueError, KeyError) as e:
            print(f"extract.py: warning: cannot decode {m.pcap} frame {m.frame}: {e!r}", file=sys.stderr)
            m.decoded = {"name": "UNDECODABLE", "error": repr(e)}
    msgs.sort(key=lambda m: (m.ts, m.pcap, m.frame))
    return msgs


def update_features(d):
    """Short feature tags used for the fixture name (derived from decoded bytes)."""
    attrs = {a["type"]: a for a in d["attrs"]}
    ctx = d["ctx"]
    tags = []
    mp_r = attrs.get(14)
    if mp_r:
        f = mp_r["family"]
        tags.append(f.split("-")[0])
        if f.startswith("ipv4") and mp_r["nh_len"] in (16, 32):
            tags.append("v6nexthop")
        elif f.startswith("ipv6") and mp_r["nh_len"] == 32:
            tags.append("nh_ll")
        if mp_r["nlri"] and mp_r["nlri"][0][1] is not None:
            tags.append("addpath")
    else:
        tags.append("ipv4")
        if d["nlri"] and d["nlri"][0][1] is not None:
            tags.append("addpath")
    if 17 in attrs:
        tags.append("as4path")
    if 18 in attrs:
        tags.append("as4aggregator")
    elif 7 in attrs:
        tags.append("aggregator")
    if 6 in attrs:
        tags.append("atomic")
    if 8 in attrs:
        tags.append("communities")
    if 32 in attrs:
        tags.append("large")
    if 16 in attrs:
        ext = attrs[16]["ext"]
        if any(e[0] == 0x06 and e[1] == 0x00 for e in ext):
            tags.append("macmobility")
        if any(e[0] & 0x3F != 0x06 for e in ext):
            tags.append("extcomm")
    if 4 in attrs:
        tags.append("med")
    if 5 in attrs:
        tags.append("localpref")
    if 9 in attrs or 10 in attrs:
        tags.append("rr")
    if 26 in attrs:
        tags.append("aigp")
    if 35 in attrs:
        tags.append("otc")
    if attrs.get(1) and attrs[1]["raw"][:1] in (b"\x01", b"\x02"):
        tags.append("origin_" + ORIGIN[attrs[1]["raw"][0]].lower())
    unknown = [t for t in attrs if t not in ATTR_NAMES]
    for t in unknown:
        tags.append(f"unknown_attr{t}" + ("_partial" if attrs[t]["flags"] & 0x20 else ""))
    if 2 in attrs and not ctx.as4 and any(23456 in s[1] for s in attrs[2].get("segs", [])):
        tags.append("as_trans")
    return tags


def classify(m: Msg):
    """Return (name, dedupe_key) or None to skip."""
    d = m.decoded
    if d.get("name") == "UNDECODABLE":
        return None
    if m.kind == "bfd":
        st = BFD_STATE[d["state"]].lower()
        name = "bfd"
        if d["multihop"]:
            name += "_multihop"
        name += f"_{st}"
        if "P" in d["flags"]:
            name += "_poll"
        if "F" in d["flags"]:
            name += "_final"
        if d["diag"]:
            name += f"_diag{d['diag']}"
        if d["auth"]:
            name += "_auth_" + {1: "simple", 2: "md5", 3: "meticulous_md5", 4: "sha1", 5: "meticulous_sha1"}.get(d["auth"]["type"], "x")
        key = name
        if d["your"] == 0:
            name += "_nodisc"
            if d["diag"] == 0:
                key = name  # the very first packets of a session
        return name, key
    sess = SESSIONS.get(frozenset({m.src, m.dst}), ("unknown", ""))[0]
    n = d["name"]
    if n == "KEEPALIVE":
        return "keepalive", "keepalive"
    if n == "OPEN":
        nm = f"open_{sess}"
        if any(c["code"] == 64 and c["raw"][:1] and c["raw"][0] & 0x80 for c in d["caps"]):
            nm += "_gr_restarting"
        return nm, nm
    if n == "NOTIFICATION":
        code, sub = d["code"], d["subcode"]
        nm = "notification_" + {1: "header", 2: "open", 3: "update", 4: "hold_timer_expired", 5: "fsm", 6: "cease",
                                7: "route_refresh"}.get(code, str(code))
        if code == 6:
            nm += "_" + {0: "unspecific", 1: "max_prefix", 2: "admin_shutdown", 3: "deconfigured", 4: "admin_reset",
                         5: "rejected", 6: "config_change", 7: "collision", 8: "resources", 9: "hard_reset",
                         10: "bfd_down"}.get(sub, str(sub))
            if d.get("shutdown_msg"):
                nm += "_msg"
        elif code == 4 and sub == 0:
            pass
        else:
            nm += "_" + SUBCODE_NAMES.get(code, {}).get(sub, "unspecific" if sub == 0 else str(sub))
        return nm, nm
    if n == "ROUTE-REFRESH":
        nm = {0: "route_refresh", 1: "borr", 2: "eorr"}.get(d["subtype"], "rr_subtype%d" % d["subtype"])
        # one per subtype and implementation: the AFI/SAFI is the only difference
        return nm + "_" + d["family"].split("-")[0], nm
    if n == "UPDATE":
        attrs = d["attrs"]
        mp_u = [a for a in attrs if a["type"] == 15]
        if not d["nlri"] and not d["withdrawn"] and not attrs:
            return "update_eor_ipv4", "update_eor_ipv4"
        if mp_u and len(attrs) == 1 and not mp_u[0]["nlri"] and not d["nlri"] and not d["withdrawn"]:
            nm = "update_eor_" + mp_u[0]["family"].split("-")[0]
            return nm, nm
        if not d["nlri"] and not [a for a in attrs if a["type"] == 14]:
            # pure withdrawal
            if d["withdrawn"]:
                fam_ = "ipv4"
                ap = d["withdrawn"][0][1] is not None
            else:
                fam_ = mp_u[0]["family"].split("-")[0]
                if fam_ == "ipv4":
                    fam_ = "ipv4_mp_unreach"
                ap = bool(mp_u[0]["nlri"]) and mp_u[0]["nlri"][0][1] is not None
            nm = f"update_withdraw_{fam_}" + ("_addpath" if ap else "")
            return nm, nm
        tags = update_features(d)
        nm = "update_" + "_".join(tags)
        return nm, nm
    return None


def comment_lines(m: Msg, meta: Meta, name: str):
    d = m.decoded
    sender = ENDPOINTS.get(m.src, "unknown")
    receiver = ENDPOINTS.get(m.dst, "unknown")
    proto = "bfd" if m.kind == "bfd" else "bgp"
    tag, sdesc = SESSIONS.get(frozenset({m.src, m.dst}), ("unknown", "unknown session"))
    label, ptxt = meta.phase(m.ts)
    when = _dt.datetime.fromtimestamp(m.ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    out = [
        f"# {name}",
        f"# origin: {IMPL_DAEMON.get((sender, proto), sender)} ({meta.impl_ver(sender)})"
        if sender in IMPL_PKG else f"# origin: {sender}",
        f"# peer: {IMPL_DAEMON.get((receiver, proto), receiver)} ({meta.impl_ver(receiver)})"
        if receiver in IMPL_PKG else f"# peer: {receiver}",
        f"# scenario: {sdesc}",
        f"# phase: {label}: {ptxt}",
        f"# captured: {when} (capture run {meta.capture_date}), pcap/{m.pcap} frame {m.frame}, "
        f"{m.src} port {m.sport} -> {m.dst} port {m.dport}" + (f", IP TTL/hop limit {m.ttl}" if m.kind == "bfd" else ""),
    ]
    if m.kind == "bfd":
        out.append("# format: BFD control packet = UDP payload (RFC 5880 section 4.1)")
        out += ["# " + ln for ln in describe_bfd(d, d["multihop"])]
        out.append(f"# context: multihop={'true' if d['multihop'] else 'false'} "
                   f"auth={BFD_AUTH[d['auth']['type']].lower().replace(' ', '-') if d['auth'] else 'none'}")
    else:
        out.append(f"# format: whole BGP message including the 16-byte marker, {len(m.raw)} bytes")
        out += ["# " + ln for ln in describe_bgp(d)]
        ctx = d["ctx"]
        out.append(f"# context: {ctx.line()}" if ctx.known else "# context: (no OPEN exchanged yet) as4=unknown")
        out.append("# context legend: as4 = both OPENs carry capability 65; addpath_rx = AFI/SAFIs whose NLRI in "
                   "this message carry a 4-byte path identifier (sender may send, receiver may receive); "
                   "addpath_tx = the reverse direction; extended_nexthop = RFC 8950 tuples both sides advertised")
    return out


def hexlines(raw):
    return [" ".join(f"{b:02x}" for b in raw[i : i + 16]) for i in range(0, len(raw), 16)]


def cover_tags(m: Msg):
    """Feature tags a fixture must keep covered (per implementation), or None if
    the message is always kept when distinct."""
    d = m.decoded
    if m.kind == "bfd":
        return None
    if d["name"] == "UPDATE":
        name = classify(m)[0]
        if name.startswith(("update_eor", "update_withdraw")):
            return None
        sess = SESSIONS.get(frozenset({m.src, m.dst}), ("unknown", ""))[0]
        tags = set(update_features(d))
        # MAC mobility with the sticky bit is a separate case
        for a in d["attrs"]:
            if a["type"] == 16 and any(e[0] & 0x3F == 0x01 for e in a["ext"]):
                tags.add("extcomm_ipv4_addr")
            if a["type"] == 16 and any(e[0] & 0x3F == 0x02 for e in a["ext"]):
                tags.add("extcomm_as4")
            if a["type"] == 16 and any(e[0] & 0x40 for e in a["ext"]):
                tags.add("extcomm_non_transitive")
            if a["type"] == 8 and any(struct.unpack("!I", a["raw"][j : j + 4])[0] in WELL_KNOWN_COMM
                                      for j in range(0, len(a["raw"]), 4)):
                tags.add("well_known_community")
        # Structural features (family, next-hop form, ADD-PATH, AS4 handling,
        # communities, ...) must be covered per session and family; the other
        # attribute contents once per implementation.
        structural = ("ipv4", "ipv6", "addpath", "v6nexthop", "nh_ll", "as4path", "as4aggregator", "aggregator",
                      "as_trans", "localpref", "otc", "rr", "communities", "large")
        famtag = "ipv6" if "ipv6" in tags else "ipv4"
        return {f"{sess}:{famtag}:{t}" if t in structural or t.startswith("unknown_attr") else t for t in tags}
    return None


# BFD packets kept (first of each name): the session bring-up sequence, the
# poll/final exchange, the ways a session goes down, multihop and authenticated.
BFD_KEEP = [
    r"bfd_(down_nodisc|init|init_poll|up|up_poll|up_final|down_diag1)",
    r"bfd_multihop_(up|down_diag3|admindown)",
    r"bfd_(down_auth_sha1_nodisc|up_auth_sha1)",
]


def select(msgs):
    """Choose the fixtures.

    1. Identical bytes from the same implementation are kept once.
    2. Every message gets a name from its decoded content (classify()); the first
       message with a given name wins.
    3. OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH, End-of-RIB and withdrawals are
       kept whenever their name is new.  BFD packets are kept when their name is in
       BFD_KEEP.  Announcements go through a greedy set cover per implementation over
       per-session feature tags (cover_tags()), so each kept announcement exercises
       something the others of that implementation and session do not.
    """
    chosen = {}
    seen_bytes = set()
    cands = {}  # impl -> list of (name, m, tags)

    def prio(m):
        return 1 if SESSIONS.get(frozenset({m.src, m.dst}), ("",))[0] == "g4" else 0

    for m in sorted(msgs, key=lambda m: (prio(m), m.ts, m.pcap, m.frame)):
        c = classify(m)
        if c is None:
            continue
        name, key = c
        impl = ENDPOINTS.get(m.src, "unknown")
        if impl == "unknown":
            continue
        if prio(m) and not name.startswith("notification"):
            continue  # the misconfigured session g4 only contributes its NOTIFICATION
        if (impl, m.raw) in seen_bytes:
            continue
        seen_bytes.add((impl, m.raw))
        k = (impl, key)
        if k in chosen or any(n == name for n, _m, _t in cands.get(impl, [])):
            continue
        if m.kind == "bfd" and not any(re.fullmatch(rx, key) for rx in BFD_KEEP):
            continue
        tags = cover_tags(m)
        if tags is None:
            chosen[k] = (name, m)
        else:
            cands.setdefault(impl, []).append((name, m, tags))
    for impl, lst in cands.items():
        uncovered = set().union(*(t for _n, _m, t in lst))
        pool = list(lst)
        while uncovered and pool:
            best = max(pool, key=lambda x: (len(x[2] & uncovered), -pool.index(x)))
            if not best[2] & uncovered:
                break
            chosen[(impl, best[0])] = (best[0], best[1])
            uncovered -= best[2]
            pool.remove(best)
    return chosen


def first_line_summary(m):
    d = m.decoded
    if m.kind == "bfd":
        return describe_bfd(d, d["multihop"])[0]
    return describe_bgp(d)[0]


def exercise_text(m):
    d = m.decoded
    if m.kind == "bfd":
        ex = f"state {BFD_STATE[d['state']]}"
        if d["flags"]:
            ex += f", flags {''.join(d['flags'])}"
        if d["diag"]:
            ex += f", diag {d['diag']}"
        if d["auth"]:
            ex += f", auth {BFD_AUTH[d['auth']['type']]}"
        ex += f", TX {d['tx'] // 1000} ms / RX {d['rx'] // 1000} ms, mult {d['mult']}"
        return ex
    n = d["name"]
    if n == "OPEN":
        return "caps " + ", ".join(str(c["code"]) for c in d["caps"]) + (" (My AS AS_TRANS)" if d["my_as"] == 23456 else "")
    if n == "UPDATE":
        types = [str(a["type"]) for a in d["attrs"]]
        s = describe_bgp(d)[0].replace("UPDATE ", "")
        if len(s) > 90:
            s = s[:87] + "..."
        return s + (f"; attrs {','.join(types)}" if types else "")
    return describe_bgp(d)[0]


def ctx_short(m):
    if m.kind == "bfd":
        d = m.decoded
        return f"multihop={'true' if d['multihop'] else 'false'}" + (
            " auth=" + BFD_AUTH[d["auth"]["type"]].lower().replace(" ", "-") if d["auth"] else "")
    c = m.decoded["ctx"]
    if not c.known:
        return "-"
    s = f"as4={'y' if c.as4 else 'n'}"
    if c.addpath_rx:
        s += " addpath_rx=" + ",".join(sorted(c.addpath_rx))
    if c.ext_nh:
        s += " enh=" + ",".join(sorted(a for a, _ in c.ext_nh))
    if c.ext_msg:
        s += " extmsg"
    return s


def write_fixtures(msgs, meta, out_dir):
    chosen = select(msgs)
    for impl in IMPL_PKG:
        d = os.path.join(out_dir, impl)
        if os.path.isdir(d):
            for fn in os.listdir(d):
                if fn.endswith(".hex"):
                    os.unlink(os.path.join(d, fn))
    rows = []
    for (impl, _key), (name, m) in sorted(chosen.items(), key=lambda kv: (kv[0][0], kv[1][0])):
        d = os.path.join(out_dir, impl)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name + ".hex")
        with open(path, "w") as f:
            f.write("\n".join(comment_lines(m, meta, f"{impl}/{name}.hex")) + "\n")
            f.write("\n".join(hexlines(m.raw)) + "\n")
        typ = "BFD" if m.kind == "bfd" else m.decoded["name"]
        rows.append((f"{impl}/{name}.hex", typ, exercise_text(m), ctx_short(m)))
    return rows


def update_readme(out_dir, rows, meta):
    path = os.path.join(out_dir, "README.md")
    if not os.path.exists(path):
        return
    with open(path) as f:
        text = f.read()
    begin, end = "<!-- BEGIN INDEX (generated by extract.py) -->", "<!-- END INDEX -->"
    if begin not in text or end not in text:
        return
    tbl = [f"{len(rows)} fixtures, captured {meta.capture_date} with "
           + ", ".join(f"{p} {v}" for p, v in sorted(meta.versions.items())) + ".", "",
           "| file | message | what it exercises | decoder context |", "|---|---|---|---|"]
    for fn, typ, ex, cx in rows:
        ex = ex.replace("|", "\\|")
        tbl.append(f"| [`{fn}`]({fn}) | {typ} | {ex} | {cx} |")
    pre = text[: text.index(begin) + len(begin)]
    post = text[text.index(end) :]
    with open(path, "w") as f:
        f.write(pre + "\n" + "\n".join(tbl) + "\n" + post)


###############################################################################
# Fixture decoding (verification)
###############################################################################

CTX_RE = re.compile(r"^#\s*context:\s*(.*)$")


def parse_fixture(path):
    ctx_txt, hexs = "", []
    with open(path) as f:
        for line in f:
            s = line.strip()
            if s.startswith("#"):
                mm = CTX_RE.match(s)
                if mm:
                    ctx_txt = mm.group(1)
                continue
            hexs.append(s)
    raw = bytes.fromhex("".join(hexs).replace(" ", ""))
    kv = dict(x.split("=", 1) for x in ctx_txt.split() if "=" in x)
    return raw, kv


def ctx_from_kv(kv):
    def fams(v):
        return frozenset() if v in (None, "none", "") else frozenset(v.split(","))

    enh = kv.get("extended_nexthop", "false")
    return Ctx(
        as4=kv.get("as4", "true") == "true",
        addpath_rx=fams(kv.get("addpath_rx")),
        addpath_tx=fams(kv.get("addpath_tx")),
        ext_nh=frozenset() if enh == "false" else frozenset(tuple(x.split("/")) for x in enh.split(",")),
        ext_msg=kv.get("extended_message") == "true",
        known=True,
    )


def decode_fixture(path):
    raw, kv = parse_fixture(path)
    print(f"== {path} ({len(raw)} bytes)")
    if raw[:16] == b"\xff" * 16:
        ln = struct.unpack("!H", raw[16:18])[0]
        if ln != len(raw):
            print(f"   !! length field {ln} != {len(raw)} bytes in file")
        for line in describe_bgp(decode_bgp(raw, ctx_from_kv(kv))):
            print("   " + line)
    else:
        for line in describe_bfd(decode_bfd(raw), kv.get("multihop") == "true"):
            print("   " + line)


###############################################################################


def selftest(pcap_dir):
    """Re-encode every pcap with other link types / header variants and with
    reordered and duplicated packets; the extracted messages must not change."""
    import random
    import tempfile

    def frames(path):
        return [(ts, lt, pkt) for _n, ts, lt, pkt in read_pcap(path)]

    def write(path, fr, linktype, endian="<", nano=False):
        magic = 0xA1B23C4D if nano else 0xA1B2C3D4
        with open(path, "wb") as f:
            f.write(struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, linktype))
            for ts, pkt in fr:
                sec = int(ts)
                frac = round((ts - sec) * (1e9 if nano else 1e6))
                f.write(struct.pack(endian + "IIII", sec, frac, len(pkt), len(pkt)) + pkt)

    def relink(lt, pkt, to):
        etype, l3 = l3_from_frame(lt, pkt)
        if to == LINKTYPE_ETHERNET:
            return b"\x02" * 6 + b"\x04" * 6 + struct.pack("!H", etype) + l3
        if to == LINKTYPE_LINUX_SLL:
            return struct.pack("!HHH", 0, 1, 6) + b"\x02" * 6 + b"\0\0" + struct.pack("!H", etype) + l3
        if to == LINKTYPE_LINUX_SLL2:
            return struct.pack("!HHIHBB", etype, 0, 2, 1, 0, 6) + b"\x02" * 6 + b"\0\0" + l3
        return l3  # raw

    def sig(path):
        return [(m.kind, m.src, m.dst, m.raw) for m in sorted(messages_from_pcap(path), key=lambda m: (m.kind, m.src, m.dst, m.ts))]

    ok = True
    rnd = random.Random(4271)
    with tempfile.TemporaryDirectory() as td:
        for fn in sorted(os.listdir(pcap_dir)):
            if not fn.endswith(".pcap"):
                continue
            src = os.path.join(pcap_dir, fn)
            ref = sig(src)
            fr = frames(src)
            variants = []
            for lt in (LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, LINKTYPE_RAW):
                variants.append((f"linktype {lt}", [(ts, relink(l, p, lt)) for ts, l, p in fr], lt, "<", False))
            variants.append(("big-endian nanosecond", [(ts, p) for ts, _l, p in fr], fr[0][1] if fr else 1, ">", True))
            # TCP robustness: swap neighbours and duplicate ~10 % of the frames
            shuffled = [(ts, p) for ts, _l, p in fr]
            for i in range(0, len(shuffled) - 1, 7):
                shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
            dup = []
            for item in shuffled:
                dup.append(item)
                if rnd.random() < 0.1:
                    dup.append(item)
            variants.append(("reordered+duplicated", dup, fr[0][1] if fr else 1, "<", False))
            for label, vfr, lt, endian, nano in variants:
                path = os.path.join(td, "v.pcap")
                write(path, vfr, lt, endian, nano)
                got = sig(path)
                if label.startswith("reordered"):  # duplicated UDP datagrams are real duplicates: compare TCP only
                    got = [x for x in got if x[0] == "bgp"]
                    same = got == [x for x in ref if x[0] == "bgp"]
                else:
                    same = got == ref
                ok &= same
                print(f"selftest {fn:28s} {label:24s} {len(got):5d} messages {'ok' if same else 'MISMATCH'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pcap-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "pcap"))
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--dump", action="store_true", help="print every decoded message instead of writing fixtures")
    ap.add_argument("--decode", nargs="+", metavar="HEX", help="decode fixture files and exit")
    ap.add_argument("--selftest", action="store_true", help="check pcap/TCP handling against re-encoded pcaps")
    a = ap.parse_args()
    if a.selftest:
        sys.exit(0 if selftest(a.pcap_dir) else 1)
    if a.decode:
        for p in a.decode:
            decode_fixture(p)
        return
    meta = Meta(a.pcap_dir)
    msgs = analyse(a.pcap_dir)
    if a.dump:
        for m in msgs:
            c = classify(m)
            print(f"--- {m.pcap}#{m.frame} {m.src}:{m.sport} -> {m.dst}:{m.dport} "
                  f"{ENDPOINTS.get(m.src, '?')} phase={meta.phase(m.ts)[0]} -> {c[0] if c else '-'}")
            lines = describe_bfd(m.decoded, m.decoded["multihop"]) if m.kind == "bfd" else describe_bgp(m.decoded)
            for ln in lines:
                print("    " + ln)
            if m.kind == "bgp":
                print("    context: " + m.decoded["ctx"].line())
        return
    rows = write_fixtures(msgs, meta, a.out)
    update_readme(a.out, rows, meta)
    print(f"extract.py: wrote {len(rows)} fixtures under {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
