#!/usr/bin/env python3
"""Deterministic sample streams for the hebbd operations tests (binary ingest protocol, docs/PROTOCOL.md).

    ops_stream.py feed  --ingest E --publish E --control E --model M --dict-dim D --sys-dim S \
                        --seed K --total T --from A --to B [--chunk C] --expect-step N --expect-buffered R
        Subscribes to coef/M/ (and waits for the last-value resend of M's current state), sends rows A..B of
        the deterministic stream (seed K, T rows in all) in messages of C rows, then waits until the daemon's
        status shows step N with R rows buffered and until the coefficient message of seq N arrived.
        Prints one JSON object: the seqs received, the initial (resent) message, the last message (its
        JSON without "time", and the coefficients' bytes as hex), and the final status.
        --bad-json K also sends K messages whose header is not JSON (before the rows), --unknown-model K
        K messages for a model that does not exist.

    ops_stream.py checkpoint-race --control E --model M [--requests N] [--pause S]
        N times: `status`, then at once `checkpoint`; reports replies that name a file older than that status.

    ops_stream.py flood --ingest E --model M --dict-dim D --sys-dim S [--chunk C] [--rate R] [--duration T]
        Sends random rows continuously (R messages/s) until SIGTERM or T seconds, across daemon restarts
        (PUSH reconnects by itself; a send that finds no peer within 100 ms is retried). Prints the count.

Rows: X ~ N(0, 1) float32 (T × D), Y = X·W_true + 0.01·N(0, 1) float32 (T × S), from numpy's default_rng(K),
so two processes with the same --seed and --total send bit-identical rows.
"""

import argparse
import json
import os
import signal
import time

import numpy as np
import zmq

from e2e_common import Failure, control, die, receive_until, reporting, succeed


def dataset(seed, total, d, s, raw_units=False):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((total, d)).astype(np.float32)
    w = np.zeros((d, s), dtype=np.float32)
    w[: max(1, d // 3)] = rng.uniform(-1, 1, (max(1, d // 3), s)).astype(np.float32)
    y = (x @ w + np.float32(0.01) * rng.standard_normal((total, s)).astype(np.float32)).astype(np.float32)
    if raw_units:
        # The same system in the units real streams arrive in: column 0 a date ordinal, column 1 a percentage,
        # the rest scaled by powers of ten; the targets far from zero. A standardising model learns it as well.
        scale = np.array([300, 5] + [10.0 ** (j % 3) for j in range(2, d)], dtype=np.float32)[:d]
        offset = np.array([736389, 40] + [0] * max(0, d - 2), dtype=np.float32)[:d]
        x = (x * scale + offset).astype(np.float32)
        y = (y * np.float32(20) + np.float32(1000)).astype(np.float32)
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def check_statistics(args, x, y, summary):
    """The daemon's standardisation statistics (`snapshot` → `statistics`) against numpy's mean and population
    variance of exactly the rows it has learned from (the first expect_step × batch rows); and the published
    coefficients and intercept against `predict`: y = x·W + b for raw rows."""
    reply = control(args.control, {"cmd": "snapshot", "model": args.model})
    stats, snap = reply.get("statistics"), reply.get("snapshot") or {}
    learned = args.expect_step * args.check_statistics
    if not stats or stats.get("count") != learned:
        die(f"statistics {stats and stats.get('count')} rows, expected {learned}", summary)
    seen_x, seen_y = x[:learned].astype(np.float64), y[:learned].astype(np.float64)
    worst = 0.0
    for name, ours, theirs in (("x_mean", stats["x_mean"], seen_x.mean(axis=0)), ("x_var", stats["x_var"], seen_x.var(axis=0)),
                               ("y_mean", stats["y_mean"], seen_y.mean(axis=0)), ("y_var", stats["y_var"], seen_y.var(axis=0))):
        ours = np.array(ours)
        relative = np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300)
        worst = max(worst, float(relative.max()))
        if not np.allclose(ours, theirs, rtol=1e-9, atol=0):
            die(f"{name} {ours.tolist()} differs from numpy's {theirs.tolist()}", summary)
    summary["statistics_max_relative_difference"] = worst
    if snap.get("standardized") is not True:
        die(f"snapshot standardized = {snap.get('standardized')}", summary)
    w = np.array(snap["coefficients"], dtype=np.float64)
    b = np.array(snap["intercept"], dtype=np.float64)
    probe = x[:20]
    predicted = np.array(control(args.control, {"cmd": "predict", "model": args.model, "x": probe.tolist()})["y"])
    by_hand = probe.astype(np.float64) @ w + b
    if not np.allclose(predicted, by_hand, rtol=1e-4, atol=1e-3):
        die(f"predict {predicted[:2].tolist()} is not x·W + b {by_hand[:2].tolist()}", summary)
    summary["mapping_max_abs_difference"] = float(np.abs(predicted - by_hand).max())


def message(model, x, y, producer=None, seq=None):
    header = {"v": 1, "dtype": "float32", "rows": int(x.shape[0])}
    if producer is not None:
        header["producer"] = producer
        header["seq"] = seq
    return [model.encode(), json.dumps(header).encode(), x.astype("<f4").tobytes(), y.astype("<f4").tobytes()]


def strip(body):
    return {k: v for k, v in body.items() if k != "time"}


def cmd_feed(args):
    deadline = time.monotonic() + args.timeout
    x, y = dataset(args.seed, args.total, args.dict_dim, args.sys_dim, args.raw_units)
    if not (0 <= args.start <= args.stop <= args.total):
        die(f"rows {args.start}..{args.stop} outside 0..{args.total}")
    ctx = zmq.Context()
    ctx.setsockopt(zmq.LINGER, 0)
    summary = {"ok": False}
    with reporting(summary, ctx):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        topic = f"coef/{args.model}/".encode()
        sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(args.publish)
        seqs, messages = [], {}

        def record(frames):
            """Every seq in arrival order; by seq the JSON body and the binary coefficient frame (if any)."""
            body = json.loads(frames[1])
            seqs.append(body["seq"])
            messages[body["seq"]] = (body, frames[2] if len(frames) == 3 else None)

        def receive(until, stop):
            return receive_until(sub, until, stop, record, interval=0.1)

        if not receive(min(deadline, time.monotonic() + 10), lambda: seqs):
            die(f"no last-value resend on {topic.decode()} within 10 s")
        initial_seq = seqs[0]
        summary["initial"] = strip(messages[initial_seq][0])
        initial_binary = messages[initial_seq][1]
        summary["initial_binary"] = initial_binary.hex() if initial_binary is not None else None

        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDTIMEO, 10_000)
        push.setsockopt(zmq.LINGER, 5_000)
        push.connect(args.ingest)
        sent = 0
        for i in range(args.bad_json):
            push.send_multipart([args.model.encode(), b"{this is not json", b"", b""])
            sent += 1
        for i in range(args.unknown_model):
            push.send_multipart(message("no-such-model", x[:1], y[:1]))
            sent += 1
        row = args.start
        while row < args.stop:
            end = min(row + args.chunk, args.stop)
            push.send_multipart(message(args.model, x[row:end], y[row:end]))
            sent += 1
            row = end
        summary["messages_sent"] = sent
        summary["rows_sent"] = args.stop - args.start

        # Wait for the last update's message and for the status to settle.
        receive(deadline, lambda: args.expect_step in messages)
        status = None
        while time.monotonic() < deadline:
            status = control(args.control, {"cmd": "status"})
            m = (status.get("models") or {}).get(args.model) or {}
            if m.get("step") == args.expect_step and m.get("buffered") == args.expect_buffered:
                break
            time.sleep(0.02)
        receive(time.monotonic() + args.linger, lambda: False)
        summary["status"] = status
        summary["seqs"] = seqs
        if args.expect_step not in messages:
            die(f"no coefficient message with seq {args.expect_step} (got {seqs[-5:]})", summary)
        m = (status.get("models") or {}).get(args.model) or {}
        if m.get("step") != args.expect_step or m.get("buffered") != args.expect_buffered:
            die(f"status step {m.get('step')} buffered {m.get('buffered')}, expected "
                f"{args.expect_step} / {args.expect_buffered}", summary)
        last = max(messages)
        body, binary = messages[last]
        summary["last"] = strip(body)
        summary["last_binary"] = binary.hex() if binary is not None else None
        if args.check_statistics:
            check_statistics(args, x, y, summary)
        succeed(summary)


def cmd_flood(args):
    rng = np.random.default_rng(args.seed)
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDTIMEO, 100)
    push.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDHWM, args.hwm)
    push.connect(args.ingest)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sent = failed = 0
    start = time.monotonic()
    pool = [dataset(args.seed + i, args.chunk, args.dict_dim, args.sys_dim) for i in range(8)]
    seq = 0
    while not stop and (args.duration <= 0 or time.monotonic() - start < args.duration):
        x, y = pool[int(rng.integers(len(pool)))]
        try:
            push.send_multipart(message(args.model, x, y, producer="ops-flood", seq=seq))
            sent += 1
            seq += 1
        except zmq.Again:
            failed += 1
        if args.rate > 0:
            due = start + sent / args.rate
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
    push.close()
    ctx.term()
    print(json.dumps({"ok": True, "sent": sent, "timeouts": failed, "seconds": round(time.monotonic() - start, 3)}))


def cmd_checkpoint_race(args):
    """status, then at once checkpoint: the file the reply names must hold at least the step status showed."""
    results = []
    try:
        for _ in range(args.requests):
            status = control(args.control, {"cmd": "status"}, timeout=args.timeout)
            before = status["models"][args.model]["step"]
            reply = control(args.control, {"cmd": "checkpoint"}, timeout=max(args.timeout, 30))
            if not reply.get("ok"):
                die(f"checkpoint: {reply}")
            path = reply["written"][args.model]
            updates = int(os.path.basename(path).split("-")[2])
            results.append({"before": before, "updates": updates, "file": os.path.basename(path)})
            time.sleep(args.pause)
    except Failure as e:
        die(str(e), {"results": results})
    older = [r for r in results if r["updates"] < r["before"]]
    print(json.dumps({"ok": True, "requests": len(results), "older": older, "results": results}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for name in ("feed", "flood"):
        p = sub.add_parser(name)
        p.add_argument("--ingest", required=True)
        p.add_argument("--model", required=True)
        p.add_argument("--dict-dim", type=int, required=True)
        p.add_argument("--sys-dim", type=int, default=1)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--chunk", type=int, default=10, help="rows per message")
        p.add_argument("--raw-units", action="store_true", help="shift and scale the columns into raw units")
    f = sub.choices["feed"]
    f.add_argument("--publish", required=True)
    f.add_argument("--control", required=True)
    f.add_argument("--total", type=int, required=True)
    f.add_argument("--from", dest="start", type=int, required=True)
    f.add_argument("--to", dest="stop", type=int, required=True)
    f.add_argument("--expect-step", type=int, required=True)
    f.add_argument("--expect-buffered", type=int, required=True)
    f.add_argument("--bad-json", type=int, default=0)
    f.add_argument("--unknown-model", type=int, default=0)
    f.add_argument("--linger", type=float, default=0.1, help="seconds to keep receiving after the last update")
    f.add_argument("--timeout", type=float, default=20)
    f.add_argument("--check-statistics", type=int, default=0, metavar="BATCH",
                   help="compare the daemon's standardisation statistics with numpy (the model's batch_size)")
    fl = sub.choices["flood"]
    fl.add_argument("--rate", type=float, default=0)
    fl.add_argument("--duration", type=float, default=0)
    fl.add_argument("--hwm", type=int, default=100)
    cr = sub.add_parser("checkpoint-race")
    cr.add_argument("--control", required=True)
    cr.add_argument("--model", required=True)
    cr.add_argument("--requests", type=int, default=30)
    cr.add_argument("--pause", type=float, default=0.05)
    cr.add_argument("--timeout", type=float, default=20, help="seconds to wait for each status reply")
    args = ap.parse_args()
    {"feed": cmd_feed, "flood": cmd_flood, "checkpoint-race": cmd_checkpoint_race}[args.command](args)


if __name__ == "__main__":
    main()
