#!/usr/bin/env python3
"""Compares a committed fixture with a freshly generated one: same structure (keys, list lengths, strings,
booleans), and numbers equal — prints the largest absolute difference over all numbers and where it is.

    python3 compare_fixtures.py COMMITTED GENERATED [--tolerance T]

Exit 0 when the structure matches and every number differs by at most T·max(1, |committed|) (default T = 0:
identical), else 1. The largest differences are listed with their paths and relative sizes.
Standard library only, so it runs under any python3.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, List, Tuple


def number(v: Any) -> float | None:
    """A JSON number, or one of the generators' spelled-out non-finite values; None for anything else."""
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if v in ("NaN", "Infinity", "-Infinity"):
        return float(v.replace("Infinity", "inf"))
    return None


def walk(a: Any, b: Any, path: str, diffs: List[Tuple[float, str]], mismatches: List[str]) -> None:
    na, nb = number(a), number(b)
    if na is not None and nb is not None:
        if math.isnan(na) or math.isnan(nb):
            d = 0.0 if math.isnan(na) and math.isnan(nb) else math.inf
        elif na == nb:
            d = 0.0
        else:
            d = abs(na - nb)
        diffs.append((d, path))
    elif isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            mismatches.append(f"{path or '/'}: keys differ: only committed {sorted(a.keys() - b.keys())}, "
                              f"only generated {sorted(b.keys() - a.keys())}")
        for k in a.keys() & b.keys():
            walk(a[k], b[k], f"{path}/{k}", diffs, mismatches)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            mismatches.append(f"{path}: {len(a)} elements committed, {len(b)} generated")
        for i, (x, y) in enumerate(zip(a, b)):
            walk(x, y, f"{path}[{i}]", diffs, mismatches)
    elif a != b:
        mismatches.append(f"{path}: committed {json.dumps(a)[:80]}, generated {json.dumps(b)[:80]}")


def lookup(doc: Any, path: str) -> Any:
    """The value at a path as walk() spells it (/key/key[i][j])."""
    import re
    for key, index in re.findall(r"/([^/\[]+)|\[(\d+)\]", path):
        doc = doc[key] if key else doc[int(index)]
    return doc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("committed")
    ap.add_argument("generated")
    ap.add_argument("--tolerance", type=float, default=0.0)
    args = ap.parse_args()
    with open(args.committed) as f:
        committed = json.load(f)
    with open(args.generated) as f:
        generated = json.load(f)
    diffs: List[Tuple[float, str]] = []
    mismatches: List[str] = []
    walk(committed, generated, "", diffs, mismatches)
    worst = max(diffs, default=(0.0, "-"))
    differing = sum(1 for d, _ in diffs if d > 0)
    scaled = [(d / max(1.0, abs(number(lookup(committed, p)) or 0.0)), d, p) for d, p in diffs if d > 0]
    print(f"{args.committed}: {len(diffs)} numbers, {differing} differ, max abs diff {worst[0]:.3g}"
          + (f" at {worst[1]}" if worst[0] > 0 else "") + f"; {len(mismatches)} structural/text differences")
    for m in mismatches[:20]:
        print("  " + m)
    for r, d, p in sorted(scaled, reverse=True)[:12]:
        print(f"  {p}: abs {d:.3g}, relative to max(1, |value|) {r:.3g}")
    ok = not mismatches and all(r <= args.tolerance for r, _, _ in scaled)
    print("  " + ("✔ matches" if ok else f"✘ differs (tolerance {args.tolerance:g})"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
