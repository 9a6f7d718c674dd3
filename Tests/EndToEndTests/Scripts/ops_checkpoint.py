#!/usr/bin/env python3
"""Reads hebbd checkpoint files (format versions 1–4, docs/CHECKPOINTS.md) independently of the daemon's code.

    ops_checkpoint.py read FILE                 # verify + print the header and a digest of every payload array
    ops_checkpoint.py compare A B               # byte-for-byte comparison of two checkpoints' state
    ops_checkpoint.py corrupt --truncate N FILE # cut the file to N bytes (negative: drop -N bytes at the end)
    ops_checkpoint.py corrupt --flip FILE       # flip one byte in the middle of the payload (CRC left as it was)

Every command prints one JSON object on stdout. Exit status: 0 success (compare: equal), 1 a check failed
(compare: different; read: the file does not verify), 2 usage or I/O error.

`compare` compares the raw bytes of every payload array except `wall_clock` (the snapshot time), and every
header field except `created`, `wall_clock`, `software` and `arrays` (the index, whose offsets follow from the
arrays compared); in version 3 the header fields include the prior's and the drift detector's whole state,
written in shortest round-trip form, so equal JSON values are equal bits. It is meant for "a resumed model equals an uninterrupted one, bit for bit".
"""

import argparse
import hashlib
import json
import struct
import sys
import zlib

DTYPES = {"f32": ("<f4", 4), "f64": ("<f8", 8), "u64": ("<u8", 8)}
IGNORED_ARRAYS = {"wall_clock"}
IGNORED_HEADER = {"created", "wall_clock", "software", "arrays"}


class Bad(Exception):
    pass


def load(path):
    """(header, {name: (dtype, count, raw bytes)}, facts) of a verified file; raises Bad with the reason."""
    with open(path, "rb") as f:
        b = f.read()
    if len(b) < 28:
        raise Bad(f"truncated: {len(b)} bytes")
    magic, version, hlen, plen = struct.unpack_from("<8sIIQ", b, 0)
    if magic != b"HEBBCKPT":
        raise Bad(f"bad magic {magic!r}")
    if version not in (1, 2, 3, 4):   # docs/CHECKPOINTS.md: 4 is written, 1 to 3 still read
        raise Bad(f"format version {version}")
    if len(b) != 28 + hlen + plen:
        raise Bad(f"size {len(b)} != 28 + {hlen} + {plen}")
    if (24 + hlen) % 8 != 0:
        raise Bad(f"payload offset {24 + hlen} is not 8-byte aligned")
    stored = struct.unpack_from("<I", b, len(b) - 4)[0]
    computed = zlib.crc32(b[:-4]) & 0xFFFFFFFF
    if stored != computed:
        raise Bad(f"CRC mismatch: stored {stored:08x}, computed {computed:08x}")
    header = json.loads(b[24:24 + hlen])
    if header.get("format") != "hebbd-checkpoint":
        raise Bad(f"format {header.get('format')!r}")
    arrays = {}
    start = 24 + hlen
    for a in header["arrays"]:
        if a["dtype"] not in DTYPES:
            raise Bad(f"array {a['name']}: dtype {a['dtype']}")
        size = DTYPES[a["dtype"]][1]
        if a["offset"] % 8 != 0:
            raise Bad(f"array {a['name']}: offset {a['offset']} not 8-byte aligned")
        end = a["offset"] + a["count"] * size
        if end > plen:
            raise Bad(f"array {a['name']}: bytes {a['offset']}..{end} beyond the payload of {plen}")
        arrays[a["name"]] = (a["dtype"], a["count"], b[start + a["offset"]:start + end])
    facts = {"bytes": len(b), "header_bytes": hlen, "payload_bytes": plen, "crc32": f"{stored:08x}"}
    return header, arrays, facts


def describe(header, arrays, facts, with_values):
    out = {"ok": True, "header": {k: v for k, v in header.items() if k != "arrays"}, **facts, "arrays": {}}
    for name, (dtype, count, raw) in arrays.items():
        entry = {"dtype": dtype, "count": count, "sha256": hashlib.sha256(raw).hexdigest()}
        if with_values or count <= 8:
            fmt = {"f32": "f", "f64": "d", "u64": "Q"}[dtype]
            entry["values"] = list(struct.unpack(f"<{count}{fmt}", raw)) if count <= 100_000 else None
        out["arrays"][name] = entry
    return out


def cmd_read(args):
    try:
        header, arrays, facts = load(args.file)
    except Bad as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        return 1
    print(json.dumps(describe(header, arrays, facts, args.values), sort_keys=True))
    return 0


def cmd_compare(args):
    try:
        ha, aa, _ = load(args.a)
        hb, ab, _ = load(args.b)
    except Bad as e:
        print(json.dumps({"ok": False, "equal": False, "error": str(e)}))
        return 2
    differences = []
    for key in sorted(set(ha) | set(hb)):
        if key in IGNORED_HEADER:
            continue
        if ha.get(key) != hb.get(key):
            differences.append(f"header {key}: {json.dumps(ha.get(key))[:200]} != {json.dumps(hb.get(key))[:200]}")
    compared = []
    for name in sorted(set(aa) | set(ab)):
        if name in IGNORED_ARRAYS:
            continue
        if name not in aa or name not in ab:
            differences.append(f"array {name} only in {'A' if name in aa else 'B'}")
            continue
        (da, ca, ra), (db, cb, rb) = aa[name], ab[name]
        if (da, ca) != (db, cb):
            differences.append(f"array {name}: {da}×{ca} != {db}×{cb}")
        elif ra != rb:
            first = next(i for i in range(len(ra)) if ra[i] != rb[i])
            size = DTYPES[da][1]
            differences.append(f"array {name}: bytes differ, first at element {first // size}")
        compared.append(name)
    print(json.dumps({"ok": True, "equal": not differences, "differences": differences,
                      "arrays_compared": compared}, sort_keys=True))
    return 0 if not differences else 1


def cmd_corrupt(args):
    with open(args.file, "rb") as f:
        b = bytearray(f.read())
    if args.truncate is not None:
        n = args.truncate if args.truncate >= 0 else len(b) + args.truncate
        b = b[:max(0, n)]
        what = f"truncated to {len(b)} bytes"
    else:
        _, _, hlen, plen = struct.unpack_from("<8sIIQ", b, 0)
        offset = 24 + hlen + plen // 2
        b[offset] ^= 0x5A
        what = f"flipped byte {offset} (payload byte {plen // 2})"
    with open(args.file, "wb") as f:
        f.write(b)
    print(json.dumps({"ok": True, "file": args.file, "did": what, "bytes": len(b)}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("read")
    r.add_argument("file")
    r.add_argument("--values", action="store_true", help="print every array's values")
    c = sub.add_parser("compare")
    c.add_argument("a")
    c.add_argument("b")
    k = sub.add_parser("corrupt")
    k.add_argument("file")
    g = k.add_mutually_exclusive_group(required=True)
    g.add_argument("--truncate", type=int)
    g.add_argument("--flip", action="store_true")
    args = ap.parse_args()
    try:
        return {"read": cmd_read, "compare": cmd_compare, "corrupt": cmd_corrupt}[args.command](args)
    except OSError as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        return 2


if __name__ == "__main__":
    sys.exit(main())
