#!/usr/bin/env python3
"""Reliable (journaled, acknowledged) ingest against plain PULL ingest, in the same run.

    python3 Benchmarks/reliable_ingest.py [--repeats 3] [--messages N] [--binary .build/release/hebbd]

Prints, per shape, plain and reliable throughput (messages/s, range over the repetitions), their ratio against the
targets (≥ 0.8 at 256×1 with 64 rows per message, ≥ 0.5 at 16×1 with one row per message, default fsync policy),
the acknowledgement latency p50/p99 (one message in flight), and the restart replay time of a journal holding
30 s of 256×1 ingest against the 30 s it took to write (target ≥ 10× real time). ✘ marks a missed target.
Both paths use the Python client (`hebbd.Producer`, `hebbd.ReliableProducer`) against a real `hebbd run`.
`Benchmarks/run_all.py --only reliable` runs the same measurements beside the other sections.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import numpy as np

from hebbd import Producer, ReliableProducer
from hebbd.testing import LocalDaemon

# dict_dim, sys_dim, rows per message, target ratio reliable / plain
TARGETS = [(256, 1, 64, 0.8), (16, 1, 1, 0.5)]


def model(d: int, s: int, batch: int) -> str:
    return f'[[model]]\nname = "b"\nkind = "lasso"\ndict_dim = {d}\nsys_dim = {s}\nbatch_size = {batch}\noptim = "adam"\n'


def throughput(binary: str, d: int, s: int, rows: int, messages: int, reliable: bool) -> float:
    daemon = LocalDaemon(model(d, s, 64), binary=binary).start()
    try:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(rows, d)).astype("<f4")
        y = rng.normal(size=(rows, s)).astype("<f4")
        started = time.perf_counter()
        if reliable:
            with ReliableProducer(daemon.reliable, "bench", seq=1, max_outbox=5000) as p:
                for _ in range(messages):
                    p.send("b", x, y)
                p.flush(300)
        else:
            with Producer(daemon.ingest) as p:
                for _ in range(messages):
                    p.send("b", x, y)
        taken = daemon.wait_for_rows("b", rows * messages, timeout=300)["models"]["b"]
        if taken["samples"] + taken["buffered"] < rows * messages:
            raise TimeoutError(f"daemon took fewer than {rows * messages} rows")
        return messages / (time.perf_counter() - started)
    finally:
        daemon.stop()
        daemon.cleanup()


def ack_latency(binary: str, count: int) -> list:
    daemon = LocalDaemon(model(256, 1, 64), binary=binary).start()
    try:
        x = np.ones((64, 256), "<f4")
        y = np.ones((64, 1), "<f4")
        out = []
        with ReliableProducer(daemon.reliable, "lat", seq=1) as p:
            for _ in range(count):
                t = time.perf_counter()
                p.send("b", x, y)
                p.flush(30)
                out.append((time.perf_counter() - t) * 1e3)
        return out
    finally:
        daemon.stop()
        daemon.cleanup()


def replay(binary: str, seconds: float, rate: float) -> tuple:
    """Streams 256×1 (64 rows per message) for `seconds` at `rate` messages/s, kill -9, restart; the replay time."""
    daemon = LocalDaemon(model(256, 1, 64), binary=binary, checkpoint_interval="1h").start()
    try:
        x = np.ones((64, 256), "<f4")
        y = np.ones((64, 1), "<f4")
        sent = 0
        with ReliableProducer(daemon.reliable, "replay", seq=1, max_outbox=100_000) as p:
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                p.send("b", x, y)
                sent += 1
                pause = start + sent / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            p.flush(120)
        daemon.kill()
        daemon.start(timeout=600)   # the replay runs before the daemon answers (and before READY=1 under systemd)
        entries = re.findall(r"journal\.replayed=(\d+) journal\.seconds=([0-9.e-]+)", daemon.log())
        replayed, took = entries[-1]
        return int(replayed), float(took), sent
    finally:
        daemon.stop()
        daemon.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=None, help="hebbd binary (default $HEBBD_BIN, else the debug build)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--replay-seconds", type=float, default=30)
    parser.add_argument("--replay-rate", type=float, default=200)
    parser.add_argument("--only", default="throughput,latency,replay")
    args = parser.parse_args()
    for (d, s, rows, target) in TARGETS if "throughput" in args.only else []:
        plain = [throughput(args.binary, d, s, rows, args.messages, False) for _ in range(args.repeats)]
        reliable = [throughput(args.binary, d, s, rows, args.messages, True) for _ in range(args.repeats)]
        ratio = statistics.median(reliable) / statistics.median(plain)
        mark = "✔" if ratio >= target else "✘"
        print(f"{d}×{s}, {rows} row(s)/message: plain {min(plain):.0f}–{max(plain):.0f} msg/s, reliable "
              f"{min(reliable):.0f}–{max(reliable):.0f} msg/s, ratio {ratio:.2f} (target ≥ {target}) {mark}")
    if "latency" in args.only:
        lat = sorted(ack_latency(args.binary, 500))
        print(f"ack latency, 256×1 × 64 rows, one in flight: p50 {lat[len(lat) // 2]:.2f} ms, p99 {lat[int(len(lat) * 0.99)]:.2f} ms")
    if "replay" not in args.only:
        return
    replayed, took, sent = replay(args.binary, args.replay_seconds, args.replay_rate)
    speed = args.replay_seconds / took if took > 0 else float("inf")
    print(f"replay of {args.replay_seconds:.0f} s of 256×1 ingest ({sent} messages, {replayed} replayed): {took:.2f} s, "
          f"{speed:.1f}× real time (target ≥ 10×) {'✔' if speed >= 10 else '✘'}")


if __name__ == "__main__":
    main()
