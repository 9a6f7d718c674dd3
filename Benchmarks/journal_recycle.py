#!/usr/bin/env python3
"""Journal segment recycling: the journal-bound ingest rate with `[journal] spare_segments` = 0, 4, 16 (and, with
--base, another hebbd binary as it is), interleaved round by round so that the machine's drift hits every setting alike.

    python3 Benchmarks/journal_recycle.py [--hebbd .build/release/hebbd] [--base OTHER/hebbd] [--rounds 5]
                                          [--messages 30000]

Each run is a benchmark daemon (`hebbd.testing.benchmark_daemon`: journal on with the default `fsync = "batch"`,
64 MiB segments and 1 GiB `max_journal_bytes`, no periodic checkpoint) fed `--messages` binary messages of 256×1 with
64 rows (66 KB each, 2 GB at the default) by `hebbd feed`, no subscriber. With no periodic checkpoint the journal
fills up, the daemon forces a checkpoint and deletes the covered segments — the ones that become spares — so the
first GiB goes to new files in every setting, and only what follows can be recycled. Printed per run: samples/s from
the start of `hebbd feed` to the last row learned (by `status`), the daemon's CPU seconds (user + system, from
/proc) as GB journaled per CPU-second, and the journal's figures from `status`; at the end, per setting, the median
and range of the rate, of its ratio to the first setting's run of the same round, and of GB per CPU-second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np

from hebbd.testing import benchmark_daemon

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D, ROWS = 256, 64
MODEL = f'[[model]]\nname = "bench"\nkind = "lasso"\ndict_dim = {D}\nsys_dim = 1\nbatch_size = {ROWS}\n'


def run(binary: str, spares: int | None, messages: int, data: str) -> dict:
    extra = "" if spares is None else f"\n[journal]\nspare_segments = {spares}\n"
    with benchmark_daemon(binary, MODEL, publish_format="binary", extra_daemon=extra) as d:
        started = time.monotonic()
        subprocess.run([binary, "feed", "--model", "bench", "--data", data, "--dict-dim", str(D), "--sys-dim", "1",
                        "--batch-rows", str(ROWS), "--passes", str(messages // 1000), "--endpoint", d.ingest],
                       check=True, stdout=subprocess.DEVNULL)
        d.wait_for_rows("bench", messages * ROWS, timeout=900)
        seconds = time.monotonic() - started
        journal = d.request({"cmd": "status"})["journal"]
        fields = open(f"/proc/{d.pid}/stat").read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    gigabytes = messages * ROWS * (D + 1) * 4 / 1e9
    return {"rate": messages * ROWS / seconds, "gb_per_cpu": gigabytes / cpu, "journal": journal}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hebbd", default=os.path.join(ROOT, ".build/release/hebbd"))
    parser.add_argument("--base", help="another hebbd binary, run as it is (its own spare_segments default, if any)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=30000, help="a multiple of 1000 (the data file's messages)")
    args = parser.parse_args()
    settings = ([("base", args.base, None)] if args.base else []) + [(f"spare_segments = {n}", args.hebbd, n) for n in (0, 4, 16)]
    with tempfile.TemporaryDirectory(prefix="hebbd-recycle-") as work:
        data = os.path.join(work, "data.npy")
        rng = np.random.default_rng(3)
        x = rng.standard_normal((1000 * ROWS, D), dtype=np.float32)
        np.save(data, np.hstack([x, x[:, :1]]))
        results: dict = {name: [] for name, _, _ in settings}
        print(f"load average {open('/proc/loadavg').read().split()[:3]}", flush=True)
        for round_ in range(1, args.rounds + 1):
            for name, binary, spares in settings:
                r = run(binary, spares, args.messages, data)
                results[name].append(r)
                j = r["journal"]
                print(f"{round_} {name}: {r['rate'] / 1e3:.0f}k samples/s, {r['gb_per_cpu']:.2f} GB/CPU-s; "
                      f"deleted {j['deleted_segments']}, recycled {j.get('recycled_segments')}, spares {j.get('spares')}",
                      flush=True)
        first = settings[0][0]
        print(f"load average {open('/proc/loadavg').read().split()[:3]}")
        for name, _, _ in settings:
            rates = [r["rate"] for r in results[name]]
            ratios = [r["rate"] / f["rate"] for r, f in zip(results[name], results[first])]
            cpu = [r["gb_per_cpu"] for r in results[name]]
            print(f"{name}: {statistics.median(rates) / 1e3:.0f}k samples/s ({min(rates) / 1e3:.0f}–{max(rates) / 1e3:.0f}k), "
                  f"× {first}: {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}), "
                  f"{statistics.median(cpu):.2f} GB/CPU-s ({min(cpu):.2f}–{max(cpu):.2f})")


if __name__ == "__main__":
    main()
