#!/usr/bin/env python3
"""A late joiner: a fresh SUB that must get each model's latest coefficient message at once.

    late_joiner.py --publish tcp://127.0.0.1:5556 --expect m1=12 --expect m2=0 [--within 1.0] [--control …]

Subscribes to `coef/<model>/` for every --expect, connects, and waits for one message per model. Each
must arrive within --within seconds and carry the expected seq (the daemon's last-value cache: the
initial state has seq 0 and loss null). With --control, each message's coefficients must equal the
`snapshot` reply. Handles both publish formats. Prints a JSON summary; exit 0 if every check passed.
"""

import argparse

import numpy as np
import zmq

from e2e_common import control, die, late_join, reporting, succeed


def main():
    ap = argparse.ArgumentParser(description="late-joiner check")
    ap.add_argument("--publish", required=True)
    ap.add_argument("--expect", action="append", required=True, metavar="MODEL=SEQ")
    ap.add_argument("--within", type=float, default=1.0)
    ap.add_argument("--control")
    args = ap.parse_args()
    expect = {}
    for e in args.expect:
        name, seq = e.split("=", 1)
        expect[name] = int(seq)
    ctx = zmq.Context()
    summary = {"ok": False, "models": {}}
    errors = []
    with reporting(summary, ctx):
        got, waited = late_join(ctx, args.publish, expect, args.within)
        for name, seq in expect.items():
            if name not in got:
                errors.append(f"{name}: nothing within {waited:.1f} s")
                continue
            seconds, frames, body, coef = got[name]
            summary["models"][name] = {"seconds": round(seconds, 4), "seq": body.get("seq"), "frames": len(frames),
                                       "loss": body.get("loss"), "nnz": body.get("nnz")}
            if body.get("seq") != seq:
                errors.append(f"{name}: seq {body.get('seq')}, expected {seq}")
            if seq == 0 and body.get("loss") is not None:
                errors.append(f"{name}: initial state with loss {body.get('loss')!r}, expected null")
            if seconds > args.within:
                errors.append(f"{name}: arrived after {seconds:.3f} s (> {args.within} s)")
            if body.get("nnz") != int(np.count_nonzero(coef)):
                errors.append(f"{name}: nnz {body.get('nnz')} but {np.count_nonzero(coef)} nonzero coefficients")
            if args.control:
                reply = control(args.control, {"cmd": "snapshot", "model": name})
                snap = reply.get("snapshot") or {}
                if not reply.get("ok"):
                    errors.append(f"{name}: snapshot failed: {reply}")
                elif snap.get("seq") != body.get("seq"):
                    errors.append(f"{name}: snapshot seq {snap.get('seq')} != published {body.get('seq')}")
                # JSON carries each float32 in its shortest round-trip decimal form: compare as float32, exactly.
                elif not np.array_equal(np.asarray(snap.get("coefficients"), dtype=np.float32), coef.astype(np.float32)):
                    errors.append(f"{name}: snapshot coefficients differ from the published ones")
        if errors:
            summary["errors"] = errors
            die(errors[0], summary)
        succeed(summary)


if __name__ == "__main__":
    main()
