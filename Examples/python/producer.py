#!/usr/bin/env python3
"""Stream samples to hebbd: numpy → ZeroMQ PUSH, binary float32 frames (protocol v1).

hebbd binds a PULL socket (`endpoints.ingest`, default tcp://127.0.0.1:5555); a producer connects a
PUSH socket to it (lossless: PUSH blocks when the daemon is behind). Each message is multipart:

    frame 0   the model name, UTF-8                      b"demo"
    frame 1   a JSON header                              {"v": 1, "dtype": "float32", "rows": n,
                                                           "producer": "...", "seq": k}
    frame 2   X: n × dict_dim float32, little-endian, row-major (C order)
    frame 3   Y: n × sys_dim  float32, little-endian, row-major

("float64" works too, and small messages may be inline JSON instead: {"x": [[...]], "y": [[...]]}.)
The daemon buffers rows per model and runs one update each time `batch_size` rows are in; a message
may hold fewer or more rows than a batch. An invalid message is rejected whole and counted by reason
(`hebbd control status`). `seq` (per producer) lets the daemon count gaps.

By default this script streams a synthetic sparse linear system, y = X·W_true + noise, with a few
nonzero true coefficients (seeded), and prints W_true first: run `subscriber.py` beside it and watch
the daemon's lasso converge to it. The default config (Configs/hebbd.toml) has a model "demo" with
dict_dim 20 and sys_dim 1:

    python3 subscriber.py --model demo &
    python3 producer.py --model demo --dict-dim 20 --sys-dim 1

`--shift-at N` changes the system abruptly before message N (a new W_true, drawn with seed + 1, printed when
it happens): what the drift alarm of Configs/drift-alarm.toml is for. `--sys-dim 3` streams a multi-output
system whose zero rows are whole rows (features that matter for no output): Configs/group-sparse.toml.
"""

import argparse
import json
import sys
import time

import numpy as np
import zmq


def true_system(dict_dim, sys_dim, support, seed):
    """W_true (dict_dim × sys_dim): `support` nonzero rows, values ±[0.5, 1.5], the rest exactly 0."""
    rng = np.random.default_rng(seed)
    w = np.zeros((dict_dim, sys_dim), dtype=np.float32)
    rows = np.sort(rng.choice(dict_dim, size=min(support, dict_dim), replace=False))
    signs = rng.choice([-1.0, 1.0], size=(len(rows), sys_dim))
    w[rows] = (signs * rng.uniform(0.5, 1.5, size=(len(rows), sys_dim))).astype(np.float32)
    return w, rows, rng


def message(model, x, y, seq, producer="producer.py"):
    """The four frames of a binary float32 sample message."""
    header = {"v": 1, "dtype": "float32", "rows": int(x.shape[0]), "producer": producer, "seq": seq}
    return [model.encode(), json.dumps(header).encode(),
            np.ascontiguousarray(x, dtype="<f4").tobytes(), np.ascontiguousarray(y, dtype="<f4").tobytes()]


def main():
    ap = argparse.ArgumentParser(description="Stream a synthetic sparse linear system to hebbd (PUSH, binary float32).")
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555", help="the daemon's ingest endpoint (default %(default)s)")
    ap.add_argument("--model", default="demo", help="model name (frame 0) (default %(default)s)")
    ap.add_argument("--dict-dim", type=int, default=20, help="features per row; must match the model (default %(default)s)")
    ap.add_argument("--sys-dim", type=int, default=1, help="targets per row; must match the model (default %(default)s)")
    ap.add_argument("--rows-per-message", type=int, default=50, help="rows in each message (default %(default)s)")
    ap.add_argument("--rate", type=float, default=20.0, help="messages per second, 0 = as fast as possible (default %(default)s)")
    ap.add_argument("--messages", type=int, default=400, help="messages to send, 0 = forever (default %(default)s)")
    ap.add_argument("--support", type=int, default=3, help="number of nonzero rows of W_true (default %(default)s)")
    ap.add_argument("--noise", type=float, default=0.1, help="standard deviation of the target noise (default %(default)s)")
    ap.add_argument("--seed", type=int, default=1, help="seed of W_true and of the samples (default %(default)s)")
    ap.add_argument("--shift-at", type=int, default=0,
                    help="from this message on, stream a different system (W_true drawn with seed + 1); 0 = never (default %(default)s)")
    args = ap.parse_args()
    if args.dict_dim < 1 or args.sys_dim < 1 or args.rows_per_message < 1:
        ap.error("--dict-dim, --sys-dim and --rows-per-message must be ≥ 1")

    def show(w, rows, seed, when):
        print(f"{when}true coefficients of {args.model} ({args.dict_dim} features × {args.sys_dim} targets, seed {seed}); "
              f"support rows {[int(r) for r in rows]}:")
        for r in rows:
            for c in range(args.sys_dim):
                print(f"  w[{r},{c}] = {w[r, c]:+.6f}")
        sys.stdout.flush()

    w, rows, rng = true_system(args.dict_dim, args.sys_dim, args.support, args.seed)
    show(w, rows, args.seed, "")

    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDTIMEO, 10_000)  # do not hang forever when no daemon is there
    push.setsockopt(zmq.LINGER, 10_000)    # on close, wait (bounded) until queued messages are sent
    push.connect(args.endpoint)
    sent = 0
    started = time.monotonic()
    try:
        while args.messages == 0 or sent < args.messages:
            if args.shift_at > 0 and sent == args.shift_at:
                w, rows, _ = true_system(args.dict_dim, args.sys_dim, args.support, args.seed + 1)
                show(w, rows, args.seed + 1, f"message {sent}: the system changes; new ")
            x = rng.standard_normal((args.rows_per_message, args.dict_dim)).astype(np.float32)
            y = (x @ w + args.noise * rng.standard_normal((args.rows_per_message, args.sys_dim))).astype(np.float32)
            try:
                push.send_multipart(message(args.model, x, y, sent))
            except zmq.Again:
                sys.exit(f"producer: {args.endpoint} took no message within 10 s; is hebbd running?")
            sent += 1
            if args.rate > 0:
                pause = started + sent / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
    except KeyboardInterrupt:
        pass
    finally:
        push.close()
        ctx.term()
    seconds = time.monotonic() - started
    print(f"sent {sent} messages, {sent * args.rows_per_message} rows to {args.endpoint} in {seconds:.2f} s")


if __name__ == "__main__":
    main()
