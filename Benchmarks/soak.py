#!/usr/bin/env python3
"""Soak: sustained mixed valid and invalid load on one `hebbd run`, its memory printed over time.

For --minutes N, a producer sends --rate valid messages per second (binary float32 and float64 and inline JSON,
1–32 rows, to two models) with --bad-rate malformed ones per second among them (every kind of the end-to-end
hostile campaign, hebbd.malformed, in turn), a subscriber reads every
coefficient message, and a control client sends `status`, `snapshot`, `predict` and malformed requests. Every
--every seconds (default 10) it prints the daemon's resident set (VmRSS, /proc), its peak (VmHWM), the rows
learned, updates per second and rejections so far. At the end it prints the growth of VmRSS after warm-up (the
first --warmup fraction of the run, default 20 %, at least 30 s): (last sample − the mean of the samples taken in
the 30 s after warm-up) / that mean, against the target (≤ 5 %), and checks that every valid row was learned
and every malformed message counted. Exit status 1 when the target or a check is missed.

    swift build -c release --product hebbd
    python3 Benchmarks/soak.py --minutes 10 [--hebbd PATH]

Linux only (/proc). Needs pyzmq and numpy.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import zmq

from hebbd.testing import benchmark_daemon

from hebbd.malformed import DROPPED, ingest_kinds   # the hostile campaign's malformed kinds, one definition
from hebbd.proc import memory_mib

HERE = os.path.dirname(os.path.abspath(__file__))

MODELS = """[[model]]
name = "s"
kind = "lasso"
dict_dim = 4
sys_dim = 2
batch_size = 8
optim = "adam"
standardize = true
intercept = true

[[model]]
name = "w"
kind = "elastic_net"
dict_dim = 64
sys_dim = 4
batch_size = 64
optim = "adam"
update = "proximal"
"""

LIMITS = """
[limits]
max_message_bytes = 1048576
max_rows_per_message = 1000
"""


def valid_message(rng, i):
    name, d, s = ("s", 4, 2) if i % 2 == 0 else ("w", 64, 4)
    n = int(rng.integers(1, 33))
    x = rng.standard_normal((n, d)).astype(np.float32)
    y = (x[:, :s] * 0.5 + 0.1 * rng.standard_normal((n, s))).astype(np.float32)
    form = i % 5
    if form == 0:
        return name, n, [name.encode(), json.dumps({"x": x.tolist(), "y": y.tolist()}).encode()]
    dtype, cast = ("<f8", "<f8") if form == 1 else ("float32", "<f4")
    return name, n, [name.encode(), json.dumps({"dtype": dtype, "rows": n, "producer": "soak", "seq": i}).encode(),
                     x.astype(cast).tobytes(), y.astype(cast).tobytes()]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--hebbd", default=None, help="binary (default .build/release/hebbd, else .build/debug/hebbd)")
    ap.add_argument("--rate", type=float, default=300, help="valid messages per second")
    ap.add_argument("--bad-rate", type=float, default=30, help="malformed messages per second")
    ap.add_argument("--every", type=float, default=10, help="seconds between memory samples")
    ap.add_argument("--warmup", type=float, default=0.2, help="fraction of the run before growth is measured")
    ap.add_argument("--target", type=float, default=5.0, help="largest acceptable growth after warm-up, percent")
    args = ap.parse_args()
    root = os.path.dirname(HERE)
    binary = args.hebbd
    if binary is None:
        release = os.path.join(root, ".build", "release", "hebbd")
        binary = release if os.path.exists(release) else os.path.join(root, ".build", "debug", "hebbd")
    kinds = [k for k in ingest_kinds("s", 4, 2, 1 << 20, 1000) if k[1] != DROPPED]
    duration = args.minutes * 60
    warmup = max(30.0, duration * args.warmup)
    print(f"soak: {binary}, {args.minutes:g} min, {args.rate:g} valid + {args.bad_rate:g} malformed messages/s "
          f"({len(kinds)} malformed kinds), warm-up {warmup:.0f} s, target growth ≤ {args.target:g} %", flush=True)
    rng = np.random.default_rng(11)
    with benchmark_daemon(binary, LIMITS + MODELS) as daemon:
        pid = daemon.process.pid
        push = daemon.push(hwm=1000)
        sub = daemon.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"coef/")
        sub.connect(daemon.publish)
        ctl = daemon.context.socket(zmq.REQ)
        ctl.setsockopt(zmq.LINGER, 0)
        ctl.connect(daemon.control)
        rows = {"s": 0, "w": 0}
        bad = 0
        received = 0
        samples = []
        t0 = time.monotonic()
        next_sample = t0
        sent = 0
        last_updates, last_t = 0, t0
        controls = [b'{"cmd":"status"}', b'{"cmd":"snapshot","model":"s"}',
                    b'{"cmd":"predict","model":"s","x":[[1,2,3,4]]}', b'{"cmd":"nope"}', b"[[[[", b'{"cmd":"set","model":"s","lr":-1}']
        c = 0
        ctl_pending = False
        print(f"{'t/s':>6} {'VmRSS/MiB':>10} {'VmHWM/MiB':>10} {'rows':>10} {'updates/s':>10} {'rejected':>9} {'published':>10}", flush=True)
        while True:
            now = time.monotonic()
            elapsed = now - t0
            if now >= next_sample:
                status = daemon.request({"cmd": "status"})
                m = memory_mib(pid)
                updates = status["updates"]
                rate = (updates - last_updates) / max(now - last_t, 1e-9)
                last_updates, last_t = updates, now
                samples.append((elapsed, m["VmRSS"], m["VmHWM"]))
                print(f"{elapsed:6.0f} {m['VmRSS']:10.1f} {m['VmHWM']:10.1f} {sum(rows.values()):10d} {rate:10.1f} "
                      f"{sum(status['rejected'].values()):9d} {received:10d}", flush=True)
                next_sample += args.every
                if elapsed >= duration:
                    break
            # Valid messages at --rate, malformed ones at --bad-rate among them.
            due = int(elapsed * args.rate) - sent
            for _ in range(max(0, min(due, 200))):
                name, n, frames = valid_message(rng, sent)
                push.send_multipart(frames)
                rows[name] += n
                sent += 1
            due_bad = int(elapsed * args.bad_rate) - bad
            for _ in range(max(0, min(due_bad, 50))):
                push.send_multipart(kinds[bad % len(kinds)][2]())
                bad += 1
            while sub.poll(0):
                sub.recv_multipart()
                received += 1
            if not ctl_pending:
                ctl.send(controls[c % len(controls)])
                c += 1
                ctl_pending = True
            elif ctl.poll(0):
                ctl.recv()
                ctl_pending = False
            time.sleep(0.002)
        # Drain: every valid row learned or buffered, every malformed message counted.
        deadline = time.monotonic() + 120
        while True:
            status = daemon.request({"cmd": "status"})
            have = {n: status["models"][n]["samples"] + status["models"][n]["buffered"] for n in rows}
            rejected = sum(status["rejected"].values())
            if (have == rows and rejected == bad) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        ok = have == rows and rejected == bad
        after = [s for s in samples if s[0] >= warmup]
        base = [s[1] for s in after if s[0] < warmup + 30] or [after[0][1]]
        reference = sum(base) / len(base)
        growth = (samples[-1][1] - reference) / reference * 100
        verdict = growth <= args.target
        print(json.dumps({
            "minutes": args.minutes, "valid_messages": sent, "valid_rows": sum(rows.values()), "malformed_messages": bad,
            "rows_learned_or_buffered": sum(have.values()), "rejected_counted": rejected,
            "rejected_by_reason": status["rejected"], "published_received": received,
            "rss_mib_after_warmup": round(reference, 1), "rss_mib_last": round(samples[-1][1], 1),
            "vmhwm_mib": round(samples[-1][2], 1), "growth_percent": round(growth, 2), "target_percent": args.target,
            "growth_within_target": verdict, "counts_ok": ok}), flush=True)
        print(f"soak: RSS after warm-up {reference:.1f} MiB → {samples[-1][1]:.1f} MiB at the end: growth {growth:+.2f} % "
              f"(target ≤ {args.target:g} %: {'met' if verdict else 'MISSED'}); every valid row learned and every malformed "
              f"message counted: {'yes' if ok else 'NO'}", flush=True)
        return 0 if verdict and ok else 1


if __name__ == "__main__":
    sys.exit(main())
