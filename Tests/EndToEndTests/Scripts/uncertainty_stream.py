#!/usr/bin/env python3
"""Uncertainty end to end: a `kind = "bayesian"` model and a lasso with `uncertainty = true`, streamed through real
sockets with rows whose true W is known, and what the daemon published and answers (docs/PROTOCOL.md,
"Uncertainty"). The frames are read here from their bytes (JSON and float32), not through the client package.

--phase stream: subscribes, sends --messages messages of 10 float64 rows to each model (a checkpoint of every
    model is requested half-way, so a restart resumes from it and replays the rest from the journal), waits for
    every update, and reports: the bayesian model's std of the first and last message, how often the last
    messages' 95 % intervals held the true W, the lasso's zero coefficients with their std and interval, and
    `predict` (y, y_std) at fixed probe rows — Doubles printed in shortest round-trip form, so the Swift test
    compares them bit for bit.
--phase probe: only `predict` at the probe rows and `status`, for the comparison after a restart.

Prints one JSON summary line (e2e_common.succeed); the Swift test asserts on it.
"""

import argparse
import json
import time

import numpy as np
import zmq

from e2e_common import Failure, control, reporting, succeed, wait_until

TRUE_W = np.array([[1.5], [-2.0], [0.0], [0.75]])
NOISE = 0.1
PROBES = [[0.1, -0.2, 0.3, 0.4], [1.0, 1.0, -1.0, 2.0]]


def rows(rng, n):
    x = rng.standard_normal((n, 4))
    return x, x @ TRUE_W + NOISE * rng.standard_normal((n, 1))


def predict(endpoint, model, ctx):
    reply = control(endpoint, {"cmd": "predict", "model": model, "x": PROBES}, context=ctx)
    return {"y": reply["y"], "y_std": reply.get("y_std")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ingest", required=True)
    ap.add_argument("--publish", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--phase", choices=["stream", "probe"], required=True)
    ap.add_argument("--messages", type=int, default=60)
    args = ap.parse_args()

    ctx = zmq.Context()
    summary = {"phase": args.phase}
    with reporting(summary, ctx):
        if args.phase == "probe":
            summary["predict"] = {m: predict(args.control, m, ctx) for m in ("b", "l")}
            summary["status"] = {m: control(args.control, {"cmd": "status"}, context=ctx)["models"][m] for m in ("b", "l")}
            succeed(summary)
            return

        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"coef/")
        sub.connect(args.publish)
        messages = {"b": [], "l": []}

        def receive(wait_ms):
            while sub.poll(wait_ms):
                frames = sub.recv_multipart()
                body = json.loads(frames[1])
                seen = messages[body["model"]]
                if not seen or body["seq"] != seen[-1]["seq"]:   # drop last-value resends
                    seen.append(body)
                wait_ms = 0

        if not wait_until(lambda: receive(50) or (messages["b"] and messages["l"]), 10):
            raise Failure("no initial coefficient messages within 10 s of subscribing")
        first = messages["b"][0]
        summary["initial"] = {"std": first["std"], "interval_level": first["interval"]["level"],
                              "lasso_std": messages["l"][0]["std"], "lasso_lower": messages["l"][0]["interval"]["lower"]}

        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.LINGER, 5000)
        push.setsockopt(zmq.SNDTIMEO, 10000)
        push.connect(args.ingest)
        rng = np.random.default_rng(17)
        for n in range(args.messages):
            if n == args.messages // 2:
                control(args.control, {"cmd": "checkpoint"}, context=ctx, timeout=30)
            x, y = rows(rng, 10)
            header = {"v": 1, "dtype": "float64", "rows": 10, "producer": "uncertainty_stream.py", "seq": n}
            for model in ("b", "l"):
                push.send_multipart([model.encode(), json.dumps(header).encode(), x.astype("<f8").tobytes(), y.astype("<f8").tobytes()])
            receive(0)

        def done():
            receive(20)
            return all(len(messages[m]) > args.messages for m in ("b", "l"))
        if not wait_until(done, 30):
            raise Failure(f"updates published: b {len(messages['b'])}, l {len(messages['l'])} of {args.messages + 1}")

        last = messages["b"][-1]
        truth = TRUE_W[:, 0]
        held, total = 0, 0
        for body in messages["b"][args.messages // 2:]:
            lower = np.array(body["interval"]["lower"])[:, 0]
            upper = np.array(body["interval"]["upper"])[:, 0]
            held += int(((lower <= truth) & (truth <= upper)).sum())
            total += len(truth)
        summary["bayesian"] = {"first_std": messages["b"][1]["std"], "last_std": last["std"], "coefficients": last["coefficients"],
                               "coverage": held / total, "noise_std": last["noise_std"], "kind": last["kind"]}
        lasso = messages["l"][-1]
        summary["lasso"] = {key: lasso[key] for key in ("coefficients", "std", "intercept_std", "noise_std")}
        summary["lasso"]["lower"], summary["lasso"]["upper"] = lasso["interval"]["lower"], lasso["interval"]["upper"]
        summary["predict"] = {m: predict(args.control, m, ctx) for m in ("b", "l")}
        summary["status"] = {m: control(args.control, {"cmd": "status"}, context=ctx)["models"][m] for m in ("b", "l")}
        succeed(summary)


if __name__ == "__main__":
    main()
