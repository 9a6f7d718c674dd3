#!/usr/bin/env python3
"""One producer for several sharded hebbd daemons (docs/OPERATIONS.md, "Several instances").

    shard_producer.py --bind tcp://127.0.0.1:P --model NAME:DICT_DIM [--model NAME:DICT_DIM …] \
                      [--messages N] [--rows R] [--support K] [--seed S] [--rate M] [--wait-subscribers T]

Binds one publisher socket and publishes every model's samples on it once, frame 0 = the model name (binary
float32 form of protocol v1: [name, header, X, Y]); each daemon's `endpoints.subscribe` tap picks its own
models. For each model a sparse W_true (dict_dim × 1, K nonzero rows, |w| in [0.5, 1.5], seeded) and
y = X·W_true + 0.05·noise.

The socket is an XPUB: on the wire it is a PUB (the daemons' SUB sockets cannot tell), but it also hands the
producer each subscription it receives. The producer sends nothing until every model has a subscriber, so
that no sample is lost to ZeroMQ's slow-joiner window and the daemons' sample counts are exact. The
subscriptions seen are reported: each daemon subscribes to its own model names, nothing else.

Messages of the models are interleaved (m1, m2, m1, m2, …), N per model of R rows each, at most M messages
per second in all (0 = as fast as possible). Prints one JSON line: per model its support rows, W_true,
messages and rows sent; the subscriptions received.
"""

import argparse
import json
import sys
import time

import numpy as np
import zmq


def system(dict_dim, support, seed):
    rng = np.random.default_rng(seed)
    w = np.zeros((dict_dim, 1), dtype=np.float32)
    rows = np.sort(rng.choice(dict_dim, size=min(support, dict_dim), replace=False))
    signs = rng.choice([-1.0, 1.0], size=(len(rows), 1))
    w[rows] = (signs * rng.uniform(0.5, 1.5, size=(len(rows), 1))).astype(np.float32)
    return w, [int(r) for r in rows], rng


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--model", action="append", required=True, help="NAME:DICT_DIM (repeat per model)")
    ap.add_argument("--messages", type=int, default=400, help="messages per model")
    ap.add_argument("--rows", type=int, default=50, help="rows per message")
    ap.add_argument("--support", type=int, default=3)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--rate", type=float, default=2000.0)
    ap.add_argument("--wait-subscribers", type=float, default=20.0, help="seconds to wait for every model's subscriber")
    args = ap.parse_args()

    models = []
    for i, spec in enumerate(args.model):
        name, _, dim = spec.rpartition(":")
        w, support, rng = system(int(dim), args.support, args.seed + i)
        models.append({"name": name, "dict_dim": int(dim), "w": w, "support": support, "rng": rng})

    ctx = zmq.Context()
    sock = ctx.socket(zmq.XPUB)
    sock.setsockopt(zmq.LINGER, 5000)
    sock.setsockopt(zmq.SNDHWM, 0)          # never drop on this side; the daemons' taps keep up at this rate
    sock.setsockopt(zmq.XPUB_VERBOSE, 1)    # every subscription, even one already seen from another peer
    # The daemons were started first and are already reconnecting to this port, and other tests pick free ports on
    # the same machine: the port can be briefly taken (a reconnect attempt's own source port, another test's socket).
    # Retry for a few seconds rather than fail on a collision that clears by itself.
    for attempt in range(50):
        try:
            sock.bind(args.bind)
            break
        except zmq.ZMQError as error:
            if error.errno != zmq.EADDRINUSE or attempt == 49:
                raise
            time.sleep(0.1)

    subscriptions = []
    deadline = time.monotonic() + args.wait_subscribers
    wanted = {m["name"] for m in models}

    def covered():
        # Each daemon subscribes to exactly its own model names. (A prefix would deliver too, but "line1"
        # would then count as a subscriber of "line10" before line10's own daemon is connected.)
        return wanted <= set(subscriptions)

    while not covered():
        left = deadline - time.monotonic()
        if left <= 0:
            print(json.dumps({"ok": False, "error": f"no subscriber for {sorted(wanted)} within {args.wait_subscribers} s",
                              "subscriptions": subscriptions}))
            sys.exit(1)
        if sock.poll(min(left, 0.1) * 1000):
            frame = sock.recv()
            if frame[:1] == b"\x01":
                subscriptions.append(frame[1:].decode(errors="replace"))

    sent = {m["name"]: 0 for m in models}
    started = time.monotonic()
    total = 0
    for k in range(args.messages):
        for m in models:
            x = m["rng"].standard_normal((args.rows, m["dict_dim"])).astype(np.float32)
            y = (x @ m["w"] + np.float32(0.05) * m["rng"].standard_normal((args.rows, 1)).astype(np.float32)).astype(np.float32)
            header = {"v": 1, "dtype": "float32", "rows": args.rows, "producer": "shard_producer", "seq": k}
            sock.send_multipart([m["name"].encode(), json.dumps(header).encode(),
                                 np.ascontiguousarray(x, "<f4").tobytes(), np.ascontiguousarray(y, "<f4").tobytes()])
            sent[m["name"]] += 1
            total += 1
            if args.rate > 0:
                pause = started + total / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            # Late subscriptions (none expected) are recorded too.
            while sock.poll(0):
                frame = sock.recv()
                if frame[:1] == b"\x01":
                    subscriptions.append(frame[1:].decode(errors="replace"))

    sock.close()   # LINGER: queued messages still go out
    ctx.term()
    print(json.dumps({
        "ok": True,
        "seconds": round(time.monotonic() - started, 3),
        "subscriptions": subscriptions,
        "models": {m["name"]: {"dict_dim": m["dict_dim"], "support": m["support"],
                               "w_true": [float(v) for v in m["w"][:, 0]],
                               "messages": sent[m["name"]], "rows": sent[m["name"]] * args.rows} for m in models},
    }, sort_keys=True))


if __name__ == "__main__":
    main()
