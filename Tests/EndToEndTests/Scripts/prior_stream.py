#!/usr/bin/env python3
"""Streams Examples/python/producer.py's synthetic system (hebbd.testing.sparse_system: the same draws) to one hebbd model through real sockets and reports
what the daemon published: every coefficient message and event of the model, the prior term of each update
recomputed here from the previous message's coefficients (brainstate's formulas, docs/PRIORS.md), and `status`.

hebbd.testing.sparse_system makes the data with the example's draws, so the example's system is what is tested.
Prints one JSON summary line (e2e_common.succeed); the Swift test asserts on it.
"""

import argparse
import json
import math
import time

import numpy as np
import zmq

from e2e_common import Failure, control, decode_coefficients, reporting, succeed
from hebbd.testing import sparse_system


def prior_loss(spec, w):
    """brainstate's loss of the prior `spec` ({"kind", …, "weight"}, or {"chain": [specs]}) at W (float64)."""
    if "chain" in spec:
        return sum(prior_loss(s, w) for s in spec["chain"])
    kind, c, x = spec["kind"], spec.get("weight", 1.0), w.astype(np.float64)
    if kind == "l1":
        return c * np.abs(x).sum()
    if kind == "l2":
        return max(c, 0.0) * (x * x).sum()
    if kind == "group_lasso":
        flat, g = x.reshape(-1), spec["group_size"]
        flat = np.concatenate([flat, np.zeros((-len(flat)) % g)])
        return c * np.sqrt((flat.reshape(-1, g) ** 2).sum(axis=1) + 1e-8).sum()
    if kind == "student_t":
        nu, s = spec["df"], spec["scale"]
        per = 0.5 * (nu + 1) * np.log1p((x / s) ** 2 / nu) + math.log(s) + math.lgamma(nu / 2) + 0.5 * math.log(nu * math.pi) \
            - math.lgamma((nu + 1) / 2)
        return c * per.sum()
    if kind == "gamma":
        a, b = spec["alpha"], spec["beta"]
        xp = np.maximum(x, 0) + 1e-8
        return c * (-(a - 1) * np.log(xp) + b * xp - a * math.log(b) + math.lgamma(a)).sum()
    if kind == "orthogonal":
        g = x.T @ x - np.eye(x.shape[1])
        return c * (g * g).sum()
    raise Failure(f"no formula for prior kind {kind}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingest", required=True)
    ap.add_argument("--publish", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--dict-dim", type=int, required=True)
    ap.add_argument("--sys-dim", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--shift-at", type=int, default=0, help="message from which the system changes (seed + 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prior", help="JSON spec of the prior, to recompute each update's prior term")
    ap.add_argument("--timeout", type=float, default=40)
    args = ap.parse_args()

    ctx = zmq.Context()
    summary = {"model": args.model}
    with reporting(summary, ctx):
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        for topic in (f"coef/{args.model}/", f"event/{args.model}/"):
            sub.setsockopt(zmq.SUBSCRIBE, topic.encode())
        sub.connect(args.publish)
        coefs, events = [], []

        def receive(wait_ms):
            while sub.poll(wait_ms):
                frames = sub.recv_multipart()
                if frames[0].startswith(b"event/"):
                    events.append(json.loads(frames[1]))
                else:
                    _, body, coef = decode_coefficients(frames)
                    if not coefs or body["seq"] != coefs[-1][0]["seq"]:   # drop the last-value resend
                        coefs.append((body, coef))
                wait_ms = 0

        # The last-value resend of the initial state proves the subscription is in place.
        deadline = time.monotonic() + 10
        while not coefs and time.monotonic() < deadline:
            receive(100)
        if not coefs:
            raise Failure("no initial coefficient message within 10 s of subscribing")

        # `updates` in status counts every model's: wait for this stream's on top of what was there before.
        baseline = control(args.control, {"cmd": "status"}, context=ctx)["updates"]
        w, rows, rng = sparse_system(args.dict_dim, args.sys_dim, 3, args.seed)
        summary["true_support_rows"] = [int(r) for r in rows]
        summary["true_w"] = w.tolist()
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.setsockopt(zmq.SNDTIMEO, 10000)
        push.connect(args.ingest)
        for n in range(args.messages):
            if args.shift_at and n == args.shift_at:
                w, rows, _ = sparse_system(args.dict_dim, args.sys_dim, 3, args.seed + 1)
                summary["shifted_w"] = w.tolist()
            x = rng.standard_normal((50, args.dict_dim)).astype(np.float32)
            y = (x @ w + 0.1 * rng.standard_normal((50, args.sys_dim))).astype(np.float32)
            header = {"v": 1, "dtype": "float32", "rows": len(x), "producer": "prior_stream.py", "seq": n}
            push.send_multipart([args.model.encode(), json.dumps(header).encode(), x.astype("<f4").tobytes(), y.astype("<f4").tobytes()])
            receive(0)
        updates = args.messages * 50 // args.batch_size
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            receive(200)
            status = control(args.control, {"cmd": "status"}, context=ctx)
            if status["updates"] >= baseline + updates:
                break
        else:
            raise Failure(f"the daemon did not reach {updates} updates within {args.timeout} s")
        # Every message published so far is on its way: receive up to the model's last seq.
        last = status["models"][args.model]["seq"]
        while coefs[-1][0]["seq"] < last and time.monotonic() < deadline:
            receive(200)
        if coefs[-1][0]["seq"] != last:
            raise Failure(f"received up to seq {coefs[-1][0]['seq']}, the daemon published up to {last}")
        receive(200)   # events published after the last coefficient message

        summary["status"] = status["models"][args.model]
        summary["messages"] = [{k: b.get(k) for k in ("seq", "step", "loss", "mse", "prior", "nnz")} for b, _ in coefs]
        summary["events"] = [e for e in events if e.get("event") not in ("added",)]
        summary["last_coefficients"] = coefs[-1][1].tolist()
        if args.prior:
            spec = json.loads(args.prior)
            errors = []
            for (previous, w_prev), (body, _) in zip(coefs, coefs[1:]):
                # The prior term of an update is the loss at the weights it started from: the previous message's
                # coefficients (threshold 0, so they are W exactly), unless a reset came in between.
                if body["prior"] is None or body["step"] != previous["step"] + 1:
                    continue
                expected = prior_loss(spec, w_prev)
                errors.append(abs(body["prior"] - expected) / max(1e-6, abs(expected)))
            summary["prior_checked"] = len(errors)
            summary["prior_max_rel_err"] = max(errors) if errors else None
        succeed(summary)


if __name__ == "__main__":
    main()
