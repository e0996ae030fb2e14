#!/usr/bin/env python3
"""Builds the seed corpus of the fuzz targets from the golden vectors.

Each BGP vector in proto/tests/vectors/<impl>/*.hex becomes a seed for
`bgp_message` (whole message) and, for UPDATEs, `bgp_update` (body only),
prefixed with the context byte (see proto/src/fuzzing.rs) that its
`# context:` line describes. BFD vectors seed `bfd_packet`. A few
hand-made seeds cover what captures rarely show (malformed attributes,
RFC 9072 OPENs, ADD-PATH).

Usage: python3 proto/fuzz/seeds.py   (from the repository root)
"""
import hashlib
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent
VECTORS = ROOT.parent / "tests" / "vectors"
CORPUS = ROOT / "corpus"


def context_byte(comment: str) -> int:
    """The fuzzing context byte for a vector's `# context:` and `# scenario:` lines."""
    m = re.search(r"^# context:(.*)$", comment, re.M)
    text = m.group(1) if m else ""
    scenario = re.search(r"^# scenario:(.*)$", comment, re.M)
    flags = 0
    if re.search(r"as4=true", text):
        flags |= 1
    if re.search(r"addpath_rx=[^ ]*ipv4", text):
        flags |= 2
    if re.search(r"addpath_rx=[^ ]*ipv6", text):
        flags |= 4
    if re.search(r"extended_nexthop=[^ ]*ipv4-unicast/ipv6", text):
        flags |= 8
    if re.search(r"extended_message=true", text):
        flags |= 16
    if not (scenario and scenario.group(1).strip().startswith("iBGP")):
        flags |= 32
    return flags


def write(target: str, name: str, data: bytes) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(data).hexdigest()[:12]
    (d / f"{name}-{digest}").write_bytes(data)


def main() -> None:
    count = 0
    for path in sorted(VECTORS.glob("*/*.hex")):
        text = path.read_text()
        comment = "\n".join(l for l in text.splitlines() if l.startswith("#"))
        hexpart = "".join(l for l in text.splitlines() if not l.startswith("#"))
        data = bytes.fromhex("".join(hexpart.split()))
        name = f"{path.parent.name}_{path.stem}"
        if data[:16] == b"\xff" * 16:
            ctx = context_byte(comment)
            write("bgp_message", name, bytes([ctx]) + data)
            if len(data) >= 19 and data[18] == 2:
                write("bgp_update", name, bytes([ctx]) + data[19:])
        else:
            write("bfd_packet", name, data)
        count += 1
    for name, ctx, data in HANDMADE:
        if ctx is None:
            write("bfd_packet", name, data)
        else:
            write("bgp_update", name, bytes([ctx]) + data)
            write("bgp_message", name, bytes([ctx]) + message(2, data))
        count += 1
    for name, ctx, data in HANDMADE_MESSAGES:
        write("bgp_message", name, bytes([ctx]) + data)
        count += 1
    print(f"seeds: wrote {count} inputs under {CORPUS}")


def attr(flags: int, code: int, value: bytes) -> bytes:
    if flags & 0x10:
        return bytes([flags, code]) + len(value).to_bytes(2, "big") + value
    return bytes([flags, code, len(value)]) + value


def body(withdrawn: bytes, attrs: bytes, nlri: bytes) -> bytes:
    return (len(withdrawn).to_bytes(2, "big") + withdrawn
            + len(attrs).to_bytes(2, "big") + attrs + nlri)


def message(kind: int, payload: bytes) -> bytes:
    return b"\xff" * 16 + (19 + len(payload)).to_bytes(2, "big") + bytes([kind]) + payload


V6 = lambda s: __import__("ipaddress").IPv6Address(s).packed
ORIGIN = attr(0x40, 1, b"\x00")
AS_PATH = attr(0x40, 2, bytes([2, 1]) + (65001).to_bytes(4, "big"))
NEXT_HOP = attr(0x40, 3, bytes([192, 0, 2, 1]))
HOST = bytes([32, 198, 51, 100, 7])
MOBILITY = attr(0xC0, 16, bytes([6, 0, 0, 0]) + (42).to_bytes(4, "big"))
MP_V6 = attr(0x90, 14, bytes([0, 2, 1, 32]) + V6("2001:db8::1") + V6("fe80::1")
             + bytes([0, 128]) + V6("2001:db8:1::5"))

# (name, context byte or None for BFD, bytes)
HANDMADE = [
    ("announce_v4", 0x21, body(b"", ORIGIN + AS_PATH + NEXT_HOP, HOST)),
    ("bad_origin", 0x21, body(b"", attr(0x40, 1, b"\x07") + AS_PATH + NEXT_HOP, HOST)),
    ("overrun", 0x21, body(b"", ORIGIN + bytes([0x40, 3, 9, 1, 2]), HOST)),
    ("mp_reach_v6_mobility", 0x21, body(b"", MP_V6 + ORIGIN + AS_PATH + MOBILITY, b"")),
    ("eor_v6", 0x21, body(b"", attr(0x80, 15, bytes([0, 2, 1])), b"")),
    ("addpath_v4", 0x23, body(b"", ORIGIN + AS_PATH + NEXT_HOP, (9).to_bytes(4, "big") + HOST)),
    ("dup_mp", 0x21, body(b"", attr(0x80, 15, bytes([0, 2, 1])) * 2, b"")),
    ("bfd_up", None, bytes.fromhex("20c00318" "00000001" "00000002" "0000c350" "0000c350" "00000000")),
    ("bfd_sha1", None, bytes.fromhex("20440334" "00000001" "00000000" "000f4240" "000f4240" "00000000"
                                     "041c0100" "00000001") + bytes(20)),
]
# Whole messages: (name, context byte, bytes)
CAPS = (bytes([1, 4, 0, 1, 0, 1]) + bytes([1, 4, 0, 2, 0, 1]) + bytes([2, 0]) + bytes([65, 4])
        + (4200000001).to_bytes(4, "big") + bytes([64, 6, 0x40, 120, 0, 1, 1, 0x80])
        + bytes([69, 4, 0, 1, 1, 3]) + bytes([70, 0]) + bytes([5, 6, 0, 1, 0, 1, 0, 2]))
HANDMADE_MESSAGES = [
    ("open_all_caps", 0x21, message(1, bytes([4]) + (23456).to_bytes(2, "big") + (9).to_bytes(2, "big")
                                    + bytes([192, 0, 2, 1, len(CAPS) + 2, 2, len(CAPS)]) + CAPS)),
    ("keepalive", 0x21, message(4, b"")),
    ("notification_shutdown", 0x21, message(3, bytes([6, 2, 11]) + b"maintenance")),
    ("route_refresh_borr", 0x21, message(5, bytes([0, 1, 1, 1]))),
]

if __name__ == "__main__":
    main()
