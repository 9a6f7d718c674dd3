#!/usr/bin/env python3
"""Control round trip of a running hebbd, idle and behind an ingest backlog.

Starts `hebbd run` (release build by default) on free loopback ports with one model, times `status`
requests on the control socket with nothing queued (the baseline), then queues a thousand binary
sample messages, more than the engine can work off at once, and times `status` again while that backlog
drains, and finally how long the whole backlog took. It also times `set` while idle: with the journal on, each one
checkpoints the model before it answers. It prints one JSON line per binary: median, p90 and
max in milliseconds for each phase, the ratio of the longest wait behind the backlog to the idle median, and the update rate
while the backlog was worked off.

The engine reads ingest for at most a few milliseconds per poll wake-up before it serves control again,
so behind a backlog a reply waits for about one update, not for the backlog. Pass several binaries
(`--hebbd LABEL=PATH`, repeatable) to compare builds in one run:

    swift build -c release --product hebbd
    python3 Benchmarks/control_latency.py
    python3 Benchmarks/control_latency.py --hebbd old=/tmp/old/hebbd --hebbd new=.build/release/hebbd

The default model (4096 × 64, batch 64, JSON publish) makes one update cost tens of milliseconds, so a
backlog forms whatever the machine. Needs pyzmq and numpy (scripts/setup.sh installs them).
"""

import argparse
import json
import os
import sys
import time

import numpy as np

from hebbd.testing import benchmark_daemon


def percentiles(values):
    v = sorted(values)
    return {"median_ms": round(v[len(v) // 2], 2), "p90_ms": round(v[int(len(v) * 0.9)], 2), "max_ms": round(v[-1], 2)}


def measure(label, binary, args):
    model = f"""[[model]]
name = "bench"
kind = "lasso"
dict_dim = {args.dict_dim}
sys_dim = {args.sys_dim}
batch_size = {args.batch}
"""
    with benchmark_daemon(binary, model) as daemon:
        def status():
            started = time.monotonic()
            reply = daemon.request({"cmd": "status"})
            return (time.monotonic() - started) * 1000, reply["models"]["bench"]["step"]

        idle = [status()[0] for _ in range(args.requests)]

        def change(i):
            # A `set` is made durable before its reply (the model's checkpoint written and synced, ingest held:
            # docs/JOURNAL.md, "Changes at run time"): its round trip is what a run-time change costs.
            started = time.monotonic()
            daemon.request({"cmd": "set", "model": "bench", "threshold": 0.05 + 0.01 * (i % 2)}, check=True)
            return (time.monotonic() - started) * 1000

        changes = [change(i) for i in range(args.changes)]

        push = daemon.push()
        rng = np.random.default_rng(1)
        x = rng.standard_normal((args.batch, args.dict_dim)).astype("<f4").tobytes()
        y = rng.standard_normal((args.batch, args.sys_dim)).astype("<f4").tobytes()
        frames = [b"bench", json.dumps({"dtype": "<f4", "rows": args.batch}).encode(), x, y]
        queued_at = time.monotonic()
        for _ in range(args.backlog):
            push.send_multipart(frames)
        time.sleep(0.5)
        backlog = [status()[0] for _ in range(args.requests)]
        # Then the backlog is worked off: the update rate shows what serving control in between costs.
        while status()[1] < args.backlog:
            if time.monotonic() - queued_at > 900:
                raise SystemExit(f"{label}: the backlog was not worked off within 900 s")
            time.sleep(0.05)
        drained = time.monotonic() - queued_at
        push.close()
        idle_p, backlog_p = percentiles(idle), percentiles(backlog)
        result = {"binary": label, "model": f"{args.dict_dim}x{args.sys_dim} batch {args.batch}", "queued": args.backlog,
                  "idle": idle_p, "set": percentiles(changes), "backlog": backlog_p,
                  "backlog_max_over_idle_median": round(backlog_p["max_ms"] / idle_p["median_ms"], 1),
                  "backlog_seconds": round(drained, 2), "updates_per_s": round(args.backlog / drained, 1)}
        print(json.dumps(result), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hebbd", action="append", default=[],
                        help="LABEL=PATH of a hebbd binary (repeatable; default release=.build/release/hebbd)")
    parser.add_argument("--dict-dim", type=int, default=4096)
    parser.add_argument("--sys-dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--backlog", type=int, default=1000, help="messages (one update each) queued at once")
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--changes", type=int, default=10, help="`set` requests timed while idle (each writes a checkpoint)")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    binaries = args.hebbd or [f"release={os.path.join(root, '.build/release/hebbd')}"]
    for spec in binaries:
        label, _, path = spec.partition("=")
        if not path:
            label, path = os.path.basename(spec), spec
        if not os.access(path, os.X_OK):
            sys.exit(f"{path}: no hebbd binary (swift build -c release --product hebbd)")
        measure(label, path, args)


if __name__ == "__main__":
    main()
