#!/usr/bin/env python3
"""Helpers of HostileTests.swift, one subcommand each; every one prints a JSON summary line.

  events       subscribe to event/<model>/ and print every event as one JSON line, until --duration s pass
  feed         send --messages binary messages of --rows random rows, wait until the model has them all
  raw          send one multipart message, each --frame given in hex
  backpressure a producer bursting as fast as PUSH lets it against a slow model: every row must be learned
               (samples + buffered == rows sent); prints the send rate, the learning rate, their ratio and the
               daemon's RSS over the burst. --stalled-subscriber adds a SUB to coef/ that never reads.
"""

import argparse
import json
import sys
import threading
import time

import numpy as np
import zmq

from e2e_common import Failure, control, reporting, succeed
from hebbd.proc import rss_mib


def model_rows(ctx, endpoint, model):
    m = control(endpoint, {"cmd": "status"}, timeout=10.0, context=ctx)["models"][model]
    return m["samples"] + m["buffered"], m


def wait_for_rows(ctx, endpoint, model, start, want, timeout, interval):
    """Polls `status` until the model holds `want` rows (learned + buffered); (rows, its status entry)."""
    deadline = time.monotonic() + timeout
    while True:
        have, m = model_rows(ctx, endpoint, model)
        if have >= want:
            return have, m
        if time.monotonic() > deadline:
            raise Failure(f"after {timeout} s the model has {have - start} of {want - start} rows")
        time.sleep(interval)


def events(args):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, f"event/{args.model}/".encode())
    sub.connect(args.publish)
    print(json.dumps({"event": "subscribed"}), flush=True)
    end = time.monotonic() + args.duration
    while time.monotonic() < end:
        if sub.poll(100):
            frames = sub.recv_multipart()
            print(frames[1].decode(), flush=True)
    ctx.destroy(linger=0)


def feed(args):
    ctx = zmq.Context()
    summary = {"ok": False}
    with reporting(summary, ctx):
        rng = np.random.default_rng(args.seed)
        before, _ = model_rows(ctx, args.control, args.model)
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.connect(args.ingest)
        header = json.dumps({"dtype": "float32", "rows": args.rows}).encode()
        for _ in range(args.messages):
            x = rng.standard_normal((args.rows, args.dict_dim)).astype("<f4")
            y = rng.standard_normal((args.rows, args.sys_dim)).astype("<f4")
            push.send_multipart([args.model.encode(), header, x.tobytes(), y.tobytes()])
        have, m = wait_for_rows(ctx, args.control, args.model, before, before + args.messages * args.rows, args.timeout, 0.02)
        push.close()
        summary.update(rows=have, step=m["step"], samples=m["samples"], buffered=m["buffered"])
        succeed(summary)


def backpressure(args):
    ctx = zmq.Context()
    summary = {"ok": False, "stalled_subscriber": args.stalled_subscriber}
    with reporting(summary, ctx):
        stalled = None
        if args.stalled_subscriber:
            # Subscribes to every coefficient message and never reads one: its queue (and the daemon's XPUB
            # queue for it) fills up; learning must not slow down.
            stalled = ctx.socket(zmq.SUB)
            stalled.setsockopt(zmq.LINGER, 0)
            stalled.setsockopt(zmq.RCVHWM, 1)
            stalled.setsockopt(zmq.RCVBUF, 4096)
            stalled.setsockopt(zmq.SUBSCRIBE, b"coef/")
            stalled.connect(args.publish)
            time.sleep(0.5)
        start_rows, m0 = model_rows(ctx, args.control, args.model)
        step0 = m0["step"]
        rng = np.random.default_rng(args.seed)
        x = rng.standard_normal((args.rows, args.dict_dim)).astype("<f4").tobytes()
        y = rng.standard_normal((args.rows, args.sys_dim)).astype("<f4").tobytes()
        header = json.dumps({"dtype": "float32", "rows": args.rows}).encode()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 10_000)
        push.connect(args.ingest)

        rss = []
        done = threading.Event()

        def sample_rss():
            while not done.is_set():
                rss.append(rss_mib(args.pid))
                done.wait(0.1)

        sampler = threading.Thread(target=sample_rss, daemon=True)
        sampler.start()
        t0 = time.monotonic()
        for _ in range(args.messages):
            push.send_multipart([args.model.encode(), header, x, y])   # blocks at the HWM: back-pressure
        sent_seconds = time.monotonic() - t0
        want = start_rows + args.messages * args.rows
        have, m = wait_for_rows(ctx, args.control, args.model, start_rows, want, args.timeout, 0.05)
        learn_seconds = time.monotonic() - t0
        done.set()
        sampler.join()
        push.close()
        if stalled is not None:
            stalled.close()
        sent_rows = args.messages * args.rows
        updates = m["step"] - step0
        # The rate the producer could offer: the first part of the burst, before the queues filled and PUSH
        # started to block (the messages the daemon's and the socket's queues hold go out at once).
        summary.update(
            rows_sent=sent_rows, rows_learned=have - start_rows, lost=want - have,
            send_seconds=round(sent_seconds, 3), learn_seconds=round(learn_seconds, 3),
            updates=updates, updates_per_second=round(updates / learn_seconds, 1),
            rows_per_second_learned=round(sent_rows / learn_seconds, 1),
            rss_mib={"min": round(min(rss), 1), "max": round(max(rss), 1), "end": round(rss[-1], 1)},
        )
        if have != want:
            raise Failure(f"{want - have} rows lost")
        succeed(summary)


def offered_rate(args):
    """Rows per second the producer offers when nothing pushes back: a PULL that drops everything."""
    ctx = zmq.Context()
    summary = {"ok": False}
    with reporting(summary, ctx):
        pull = ctx.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        stop = threading.Event()

        def drain():
            while not stop.is_set():
                if pull.poll(50):
                    while True:
                        try:
                            pull.recv_multipart(flags=zmq.NOBLOCK)
                        except zmq.Again:
                            break

        t = threading.Thread(target=drain, daemon=True)
        t.start()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 0)
        push.connect(f"tcp://127.0.0.1:{port}")
        rng = np.random.default_rng(args.seed)
        x = rng.standard_normal((args.rows, args.dict_dim)).astype("<f4").tobytes()
        y = rng.standard_normal((args.rows, args.sys_dim)).astype("<f4").tobytes()
        header = json.dumps({"dtype": "float32", "rows": args.rows}).encode()
        t0 = time.monotonic()
        for _ in range(args.messages):
            push.send_multipart([b"m", header, x, y])
        seconds = time.monotonic() - t0
        stop.set()
        t.join()
        push.close()
        pull.close()
        summary.update(rows_per_second=round(args.messages * args.rows / seconds, 1))
        succeed(summary)


def raw(args):
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.connect(args.ingest)
    push.send_multipart([bytes.fromhex(f) for f in args.frame])
    push.close()
    ctx.term()
    print(json.dumps({"ok": True, "frames": len(args.frame)}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    e = sub.add_parser("events")
    e.add_argument("--publish", required=True)
    e.add_argument("--model", required=True)
    e.add_argument("--duration", type=float, default=120)
    for name in ("feed", "backpressure", "offered-rate"):
        p = sub.add_parser(name)
        p.add_argument("--ingest")
        p.add_argument("--control")
        p.add_argument("--publish")
        p.add_argument("--pid", type=int)
        p.add_argument("--model", default="m")
        p.add_argument("--dict-dim", type=int, required=True)
        p.add_argument("--sys-dim", type=int, default=1)
        p.add_argument("--messages", type=int, default=10)
        p.add_argument("--rows", type=int, default=16)
        p.add_argument("--seed", type=int, default=3)
        p.add_argument("--timeout", type=float, default=60)
        p.add_argument("--stalled-subscriber", action="store_true")
    r = sub.add_parser("raw")
    r.add_argument("--ingest", required=True)
    r.add_argument("--frame", action="append", required=True, help="one frame, hex (repeat)")
    args = ap.parse_args()
    {"raw": raw, "events": events, "feed": feed, "backpressure": backpressure, "offered-rate": offered_rate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
