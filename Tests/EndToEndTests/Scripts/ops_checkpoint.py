#!/usr/bin/env python3
"""Reads hebbd checkpoint files (format versions 1–3, docs/CHECKPOINTS.md) independently of the daemon's code.

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

from hebbd.checkpoint import DTYPES, CheckpointError, load as load_checkpoint, payload_span

IGNORED_ARRAYS = {"wall_clock"}
IGNORED_HEADER = {"created", "wall_clock", "software", "arrays", "journal"}  # the journal position depends on restarts


def load(path):
    """(header, {name: (dtype, count, raw bytes)}, facts) of a verified file (hebbd.checkpoint); raises
    CheckpointError with the reason."""
    cp = load_checkpoint(path)
    return cp.header, {name: (a.dtype, a.count, a.raw) for name, a in cp.arrays.items()}, cp.facts


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
    except CheckpointError as e:
        print(json.dumps({"ok": False, "error": str(e)}))
        return 1
    print(json.dumps(describe(header, arrays, facts, args.values), sort_keys=True))
    return 0


def cmd_compare(args):
    try:
        ha, aa, _ = load(args.a)
        hb, ab, _ = load(args.b)
    except CheckpointError as e:
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
        payload = payload_span(bytes(b))
        offset = payload.start + len(payload) // 2
        b[offset] ^= 0x5A
        what = f"flipped byte {offset} (payload byte {len(payload) // 2})"
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
