#!/usr/bin/env python3
"""hebbd beside River on River's own raw-unit stream: prequential mean absolute error on `TrumpApproval`.

TrumpApproval (1001 rows, bundled with River) is a stream nobody cleaned for a linear model: one feature is
a date ordinal near 736 389, the others are poll percentages, and the target sits near 43. The baseline is
River's documented pipeline `preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=.1)`,
scored prequentially (each row predicted before it is learned), on the same rows in the same order.

hebbd runs as a real daemon (`hebbd run`, loopback ports), fed one row per message over PUSH; the model is
the default lasso/Adam (lr 0.01, λ 1e-4) with `standardize = true` and `intercept = true`, and `batch_size = 1`
so that, like River, it learns from every row as it arrives. Each coefficient message carries the `mse` of its
batch scored *before* the update learned from it, in the target's units, so with one row per batch
√mse is that row's prequential absolute error; hebbd's MAE is their mean over the 1001 messages.

    swift build -c release --product hebbd
    python3 -m pip install river          # once
    python3 Benchmarks/river_trump.py [--hebbd .build/release/hebbd] [--optim adam|sgd] [--lr 0.01]

Prints one JSON line: both MAEs, their ratio (hebbd / River) and the target (≤ 1.0).
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import zmq

from hebbd.testing import benchmark_daemon


def river_rows():
    try:
        from river import datasets
    except ImportError:
        raise SystemExit("river is not installed: python3 -m pip install river")
    rows = list(datasets.TrumpApproval())
    keys = list(rows[0][0].keys())
    return keys, rows


def river_mae(rows):
    from river import linear_model, metrics, preprocessing
    model = preprocessing.StandardScaler() | linear_model.LinearRegression(intercept_lr=.1)
    mae = metrics.MAE()
    for x, y in rows:
        mae.update(y, model.predict_one(x))
        model.learn_one(x, y)
    return mae.get()


def hebbd_mae(binary, keys, rows, optim, lr, timeout=120.0):
    model = f"""[[model]]
name = "trump"
kind = "lasso"
dict_dim = {len(keys)}
batch_size = 1
optim = "{optim}"
lr = {lr}
standardize = true
intercept = true
"""
    with benchmark_daemon(binary, model) as daemon:
        sub = daemon.context.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        sub.setsockopt(zmq.SUBSCRIBE, b"coef/trump/")
        sub.connect(daemon.publish)
        sub.recv_multipart()          # the initial state (last-value cache): the subscription is live
        push = daemon.push()
        for x, y in rows:
            X = np.array([[x[k] for k in keys]], dtype=np.float64)
            Y = np.array([[y]], dtype=np.float64)
            push.send_multipart([b"trump", json.dumps({"dtype": "float64", "rows": 1}).encode(), X.tobytes(), Y.tobytes()])
        errors = {}
        deadline = time.monotonic() + timeout
        while len(errors) < len(rows) and time.monotonic() < deadline:
            topic, body, *rest = sub.recv_multipart()
            message = json.loads(body)
            if message.get("mse") is not None:
                errors[message["step"]] = message["mse"] ** 0.5
        if len(errors) < len(rows):
            raise SystemExit(f"only {len(errors)} of {len(rows)} updates arrived")
        last = daemon.request({"cmd": "snapshot", "model": "trump"})["snapshot"]
        return sum(errors.values()) / len(errors), last


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--hebbd", default=os.path.join(here, "..", ".build", "release", "hebbd"))
    parser.add_argument("--optim", default="adam")
    parser.add_argument("--lr", type=float, default=0.01)
    args = parser.parse_args()
    keys, rows = river_rows()
    baseline = river_mae(rows)
    ours, last = hebbd_mae(args.hebbd, keys, rows, args.optim, args.lr)
    print(json.dumps({
        "dataset": "TrumpApproval", "rows": len(rows),
        "river_mae": round(baseline, 4), "hebbd_mae": round(ours, 4),
        "ratio": round(ours / baseline, 3), "target": "<= 1.0", "met": ours / baseline <= 1.0,
        "hebbd": {"optim": args.optim, "lr": args.lr, "coefficients": last["coefficients"], "intercept": last["intercept"]},
    }))


if __name__ == "__main__":
    sys.exit(main())
