#!/usr/bin/env python3
"""Watch hebbd's coefficients converge: ZeroMQ SUB → one line per update (protocol v1).

hebbd binds an XPUB socket (`endpoints.publish`, default tcp://127.0.0.1:5556). After every update
of model M it publishes

    frame 0   topic  b"coef/M/"   (the trailing "/" keeps coef/m1/ from also matching m10)
    frame 1   JSON   {"v": 1, "model": "M", "seq": 7, "step": 7, "samples": 350, "loss": 0.42,
                      "mse": …, "prequential_mse": …, "threshold": 0.001, "nnz": 3,
                      "shape": [dict_dim, sys_dim], "coefficients": [[…], …], …}
    frame 2   only with `publish.format = "binary"`: the coefficients as float32 little-endian,
              row-major (the JSON then has no "coefficients")

`coefficients` is W with |w| < threshold set to 0; `loss` is ½Σe² of the batch before the model
learnt from it (prequential). `seq` rises by 1 per message of a model.

Late joiners: when a subscription arrives, the daemon at once resends the latest message of every
model it matches (before any update: the initial state, seq 0, loss null), so a new subscriber does
not wait for the next update. PUB cannot address one peer, so that resend reaches every subscriber
of the topic: a subscriber must drop a seq it has already seen, as this script does. A seq lower
than the last one seen means the daemon restarted without its checkpoint (or the model was
re-created): follow it from there.

    python3 subscriber.py --model demo            # until Ctrl-C
    python3 subscriber.py --count 20              # every model, stop after 20 messages
    python3 subscriber.py --model drifty --events # also the model's events (drift alarms, resets, …)

With `--events` the script also subscribes to `event/M/` and prints each event, e.g. a drift alarm
{"event": "drift", "detector": "page_hinkley", "step": 212, "seq": 212, "mse": …, "action": "alert"}.
"""

import argparse
import json
import sys
import time

import numpy as np
import zmq


def decode(frames):
    """(body, coefficients dict_dim × sys_dim) of a coef/<model>/ message, JSON or binary format."""
    body = json.loads(frames[1])
    rows, cols = body["shape"]
    if len(frames) >= 3:
        coef = np.frombuffer(frames[2], dtype="<f4").reshape(rows, cols)
    else:
        coef = np.asarray(body["coefficients"], dtype=np.float64).reshape(rows, cols)
    return body, coef


def nonzero(coef):
    return [(int(r), int(c), float(coef[r, c])) for r, c in zip(*np.nonzero(coef))]


def line(body, coef, top):
    loss, prior = body.get("loss"), body.get("prior")
    text = (f"{body['model']}  seq {body['seq']}  step {body['step']}  samples {body['samples']}  "
            f"loss {'-' if loss is None else f'{loss:.6g}'}  nnz {body['nnz']}")
    if prior:
        text += f"  prior {prior:.4g}"
    entries = nonzero(coef)
    shown = sorted(entries, key=lambda e: -abs(e[2]))[:top] if top > 0 else entries
    shown.sort()
    text += "  " + " ".join(f"w[{r},{c}]={v:+.4f}" for r, c, v in shown)
    if len(entries) > len(shown):
        text += f"  (+{len(entries) - len(shown)} smaller)"
    return text


def main():
    ap = argparse.ArgumentParser(description="Print hebbd's coefficients as they converge (SUB).")
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5556", help="the daemon's publish endpoint (default %(default)s)")
    ap.add_argument("--model", help="only this model (default: every model)")
    ap.add_argument("--count", type=int, default=0, help="exit after this many messages, resends not counted (0: never)")
    ap.add_argument("--timeout", type=float, default=0, help="exit after this many seconds without a message (0: never)")
    ap.add_argument("--top", type=int, default=8, help="largest coefficients shown per line (0: all nonzero)")
    ap.add_argument("--events", action="store_true", help="also print the models' events (event/M/: drift alarms, resets, …)")
    args = ap.parse_args()

    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, f"coef/{args.model}/".encode() if args.model else b"coef/")
    if args.events:
        sub.setsockopt(zmq.SUBSCRIBE, f"event/{args.model}/".encode() if args.model else b"event/")
    sub.connect(args.endpoint)
    print(f"subscribed to {'coef/' + args.model + '/' if args.model else 'coef/'} at {args.endpoint}", flush=True)

    last_seq = {}   # model → last seq seen
    latest = {}     # model → (body, coefficients)
    received = 0
    quiet_since = time.monotonic()
    try:
        while args.count == 0 or received < args.count:
            if not sub.poll(200):
                if args.timeout > 0 and time.monotonic() - quiet_since > args.timeout:
                    print(f"no message for {args.timeout:g} s; stopping", file=sys.stderr)
                    break
                continue
            frames = sub.recv_multipart()
            quiet_since = time.monotonic()
            if frames[0].startswith(b"event/"):
                event = json.loads(frames[1])
                details = {k: v for k, v in event.items() if k not in ("v", "model", "event", "time")}
                print(f"EVENT {event['model']}: {event['event']}  {json.dumps(details)}", flush=True)
                continue
            body, coef = decode(frames)
            model, seq = body["model"], body["seq"]
            previous = last_seq.get(model)
            if previous is not None:
                if seq == previous:
                    continue  # the last-value resend triggered by another subscriber: already seen
                if seq < previous:
                    print(f"{model}: seq went back from {previous} to {seq} (daemon restarted or model re-created)", flush=True)
                elif seq > previous + 1:
                    print(f"{model}: missed {seq - previous - 1} message(s)", flush=True)
            last_seq[model] = seq
            latest[model] = (body, coef)
            received += 1
            print(line(body, coef, args.top), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
        ctx.term()
    print(f"received {received} messages; latest coefficients:")
    for model in sorted(latest):
        body, coef = latest[model]
        print(f"{model}: seq {body['seq']}  step {body['step']}  nnz {body['nnz']}  (threshold {body.get('threshold')})")
        for r, c, v in nonzero(coef):
            print(f"  w[{r},{c}] = {v:+.6f}")


if __name__ == "__main__":
    main()
