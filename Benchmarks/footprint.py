#!/usr/bin/env python3
"""ModelFootprint against the daemon's real memory: prints docs/OPERATIONS.md's memory table.

For each model shape and kind it starts a real `hebbd run` (hebbd.testing.LocalDaemon) holding only a 2×1 model,
reads the daemon's resident set (VmRSS) and its peak (VmHWM) from /proc, adds the model with the control `add`,
feeds it 3 full batches as binary messages of one batch each — the next only once the previous one was learned, so
one message is in flight at a time — while a subscriber to `coef/` receives every coefficient message (without one
the daemon encodes none), writes the model's checkpoint (what `checkpoint_interval` does) and reads them again; then
the same for a second, identical model in the same daemon. The first model also pays for what all models share (the
ingest message in flight and the journal's copies of it, the encoder's and the checkpoint writer's scratch, each
thread's glibc arena), the second only for itself. The peak's growth is what the model costs at most (big
buffers are returned to the system when freed, so VmRSS after the fact understates it); `status` →
`memory.models_bytes` before and after is ModelFootprint's estimate for it. The ingest message in flight (one batch
of rows) belongs to the fixed base of the estimate (one `max_message_bytes`, see ModelFootprint.swift) and is shown
apart. A row is ✘ when the estimate is below the second model's peak growth, or the estimate plus that
message below the first model's. Each shape is measured
`--repeat` times, each in a new daemon; the range is printed.

    swift build -c release --product hebbd          # or a debug build: the same allocations, slower
    HEBBD_BIN=.build/release/hebbd python3 Benchmarks/footprint.py [--repeat 3] [--json]

Linux only (/proc). Needs pyzmq and numpy, and the client package (clients/python).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List

import numpy as np

from hebbd import Control, Producer
from hebbd.proc import memory_mib
from hebbd.testing import LocalDaemon

BASE = """
[[model]]
name = "base"
kind = "lasso"
dict_dim = 2
sys_dim = 1
"""

#: (label, model table, publish format)
SHAPES = [
    ("2048×64 lasso, Adam, batch 256", {"kind": "lasso", "dict_dim": 2048, "sys_dim": 64, "batch_size": 256, "optim": "adam"}, "json"),
    ("4096×64 lasso, Adam, batch 1024", {"kind": "lasso", "dict_dim": 4096, "sys_dim": 64, "batch_size": 1024, "optim": "adam"}, "json"),
    ("8192×128 lasso, Adam, batch 256", {"kind": "lasso", "dict_dim": 8192, "sys_dim": 128, "batch_size": 256, "optim": "adam"}, "json"),
    ("4096×64 ridge, SGD, batch 256", {"kind": "ridge", "dict_dim": 4096, "sys_dim": 64, "batch_size": 256, "optim": "sgd"}, "json"),
    ("4096×64 elastic net, Adam, epochs 2, batch 256",
     {"kind": "elastic_net", "dict_dim": 4096, "sys_dim": 64, "batch_size": 256, "optim": "adam", "epochs": 2}, "json"),
    ("4096×64 lasso, Adam, batch 256, binary publish",
     {"kind": "lasso", "dict_dim": 4096, "sys_dim": 64, "batch_size": 256, "optim": "adam"}, "binary"),
    # Models with uncertainty: the (d+s)² statistics and the posterior's d × d factors per output.
    ("1024×4 bayesian, batch 64", {"kind": "bayesian", "dict_dim": 1024, "sys_dim": 4, "batch_size": 64}, "json"),
    ("1024×4 lasso, Adam, uncertainty, batch 64",
     {"kind": "lasso", "dict_dim": 1024, "sys_dim": 4, "batch_size": 64, "optim": "adam", "uncertainty": True}, "json"),
]

MIB = 2 ** 20


def grow(d: LocalDaemon, c: Control, p: Producer, name: str, table: Dict, rng: np.random.Generator) -> Dict[str, float]:
    """Adds `name` with `table`, learns 3 batches (one message in flight at a time, each coefficient message encoded
    and sent to the subscriber), writes its checkpoint; the growth and the estimate."""
    assert d.process is not None
    before_estimate = c.status()["memory"]["models_bytes"]
    time.sleep(0.3)
    before = memory_mib(d.process.pid, "VmRSS", "VmHWM")
    c.add({"name": name, **table})
    rows, dict_dim, sys_dim = table["batch_size"], table["dict_dim"], table["sys_dim"]
    for step in range(1, 4):
        p.send(name, rng.standard_normal((rows, dict_dim)).astype(np.float32), rng.standard_normal((rows, sys_dim)).astype(np.float32))
        deadline = time.monotonic() + 300
        while c.status()["models"][name]["step"] < step:
            if time.monotonic() > deadline:
                raise SystemExit(f"{table}: step {step} not reached in 300 s")
            time.sleep(0.05)
    # What `checkpoint_interval` does in a real daemon: the snapshot's copies and the encoded file, while written.
    c.checkpoint(name)
    time.sleep(0.3)
    after = memory_mib(d.process.pid, "VmRSS", "VmHWM")
    return {"peak": after["VmHWM"] - before["VmHWM"], "rss": after["VmRSS"] - before["VmRSS"],
            "estimate": (c.status()["memory"]["models_bytes"] - before_estimate) / MIB}


def measure_once(table: Dict, publish_format: str) -> Dict[str, float]:
    """The first model of this shape in a new daemon (it also pays for the scratch all models share: the ingest
    message in flight, the publish encoder's buffers), then a second identical one (the model alone)."""
    with LocalDaemon(BASE, publish_format=publish_format, checkpoint_interval="0s") as d:
        # A subscriber to every coefficient message, as in production: without one the daemon encodes none.
        subscriber = d.subscribe("coef/")
        with Control(d.control, timeout=120) as c, Producer(d.ingest) as p:
            rng = np.random.default_rng(1)
            first = grow(d, c, p, "m", table, rng)
            second = grow(d, c, p, "m2", table, rng)
        subscriber.close()
        return {"first_peak_mib": first["peak"], "first_rss_mib": first["rss"], "second_peak_mib": second["peak"],
                "estimate_mib": first["estimate"], "message_mib": table["batch_size"] * (table["dict_dim"] + table["sys_dim"]) * 4 / MIB}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="daemons per shape (default 3)")
    parser.add_argument("--json", action="store_true", help="also print one JSON line per shape")
    parser.add_argument("--only", help="measure only shapes whose label contains this text")
    args = parser.parse_args()
    binary = os.environ.get("HEBBD_BIN", "hebbd")
    print(f"hebbd: {binary}; {args.repeat} daemon(s) per shape; growth after `add` and 3 updates, over a daemon with a 2×1 model\n")
    print("| model | first model: peak growth (VmHWM) | second identical model: peak growth | estimate per model "
          "| estimate + the ingest message in flight | estimate ÷ second | (estimate + message) ÷ first | |")
    print("|---|---|---|---|---|---|---|---|")
    missed = 0
    for label, table, publish_format in SHAPES:
        if args.only and args.only not in label:
            continue
        runs: List[Dict[str, float]] = [measure_once(table, publish_format) for _ in range(args.repeat)]
        first = [r["first_peak_mib"] for r in runs]
        second = [r["second_peak_mib"] for r in runs]
        estimate, message = runs[0]["estimate_mib"], runs[0]["message_mib"]
        covered = estimate + message
        ok = estimate >= max(second) and covered >= max(first)
        missed += 0 if ok else 1
        print(f"| {label} | {min(first):.1f}–{max(first):.1f} MiB | {min(second):.1f}–{max(second):.1f} MiB | {estimate:.1f} MiB "
              f"| {covered:.1f} MiB | {estimate / max(second):.2f} | {covered / max(first):.2f} | {'✓' if ok else '✘'} |", flush=True)
        if args.json:
            print(json.dumps({"model": label, "runs": runs}), flush=True)
    print("\n✘: the estimate is below a second model's growth, or the estimate plus the message in flight below the first's." if missed else
          "\nThe estimate covers every model's own growth, and with the message in flight the first model's (which pays for the shared scratch).")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
