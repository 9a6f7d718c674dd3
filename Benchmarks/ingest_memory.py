#!/usr/bin/env python3
"""Peak memory of ingesting one large message, binary frames against inline JSON.

Starts a release `hebbd run` per form, with one model whose batch buffer is allocated up front (so the
buffer is in the baseline), sends one message of the same rows, and reads the daemon's peak resident set
(VmHWM in /proc) before and after. The binary form is the baseline: its rows are copied once, straight into
the batch buffer. The inline form is parsed into a JSON tree first, so it peaks at a multiple of its size.
Prints one JSON line per form and the ratio of the two peaks' growth.

    swift build -c release --product hebbd
    python3 Benchmarks/ingest_memory.py [--mib 60] [--hebbd PATH]

The message stays under the default `limits.max_message_bytes` (64 MiB), so the inline figure is the worst
a single message can cost under the default config. Linux only (/proc). Needs pyzmq and numpy.
"""

import argparse
import json
import os
import time

import numpy as np

from hebbd.testing import benchmark_daemon


def measure(binary, form, rows, dict_dim):
    model = f"""[[model]]
name = "m"
kind = "lasso"
dict_dim = {dict_dim}
sys_dim = 1
batch_size = {rows + 1}
"""
    with benchmark_daemon(binary, model) as daemon:
        def buffered():
            return daemon.request({"cmd": "status"})["models"]["m"]["buffered"]

        before = daemon.peak_rss_mib()
        rng = np.random.default_rng(7)
        x = rng.standard_normal((rows, dict_dim)).astype("<f4")
        y = rng.standard_normal((rows, 1)).astype("<f4")
        if form == "binary":
            frames = [b"m", json.dumps({"dtype": "<f4", "rows": rows}).encode(), x.tobytes(), y.tobytes()]
        else:
            body = {"x": np.round(x.astype(float), 6).tolist(), "y": np.round(y.astype(float), 6).tolist()}
            frames = [b"m", json.dumps(body, separators=(",", ":")).encode()]
        size = sum(len(f) for f in frames)
        push = daemon.push()
        push.send_multipart(frames)
        deadline = time.monotonic() + 60
        while buffered() != rows:
            if time.monotonic() > deadline or daemon.process.poll() is not None:
                raise SystemExit(f"{form}: the message was not buffered within 60 s")
            time.sleep(0.05)
        after = daemon.peak_rss_mib()
        push.close()
        return {"form": form, "rows": rows, "dict_dim": dict_dim, "message_mib": round(size / 2**20, 1),
                "peak_rss_before_mib": round(before, 1), "peak_rss_after_mib": round(after, 1),
                "growth_mib": round(after - before, 1)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--hebbd", default=os.path.join(root, ".build/release/hebbd"))
    parser.add_argument("--mib", type=float, default=60, help="size of the inline JSON message (MiB)")
    parser.add_argument("--dict-dim", type=int, default=64)
    args = parser.parse_args()
    if not os.access(args.hebbd, os.X_OK):
        raise SystemExit(f"{args.hebbd}: no hebbd binary (swift build -c release --product hebbd)")
    # About 10 bytes of JSON per value ("-0.123456,"): rows so that the inline message is --mib.
    rows = int(args.mib * 2**20 / ((args.dict_dim + 1) * 10.2))
    binary = measure(args.hebbd, "binary", rows, args.dict_dim)
    print(json.dumps(binary), flush=True)
    inline = measure(args.hebbd, "inline", rows, args.dict_dim)
    inline["growth_over_message"] = round(inline["growth_mib"] / inline["message_mib"], 1)
    inline["growth_over_binary_growth"] = round(inline["growth_mib"] / max(binary["growth_mib"], 0.1), 1)
    print(json.dumps(inline), flush=True)


if __name__ == "__main__":
    main()
