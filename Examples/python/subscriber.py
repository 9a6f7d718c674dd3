#!/usr/bin/env python3
"""Watch hebbd's coefficients converge, with the `hebbd` Python client (clients/python): one line per update.

`hebbd.Subscriber` subscribes to `coef/<model>/` (or `coef/` for every model) on the daemon's publish socket,
reads the JSON and the binary publish format alike, and drops the seqs it has already seen: a new subscription
makes the daemon resend the latest message of each model to *every* subscriber of it. A seq lower than the
last one means the daemon went back to an older state (restarted without its latest checkpoint, or the model
was re-created): the update has `restarted` set, and this script says so.

    python3 subscriber.py --model demo            # until Ctrl-C
    python3 subscriber.py --count 20              # every model, stop after 20 messages
    python3 subscriber.py --model drifty --events # also the model's events (drift alarms, resets, …)

With `--events` the script also subscribes to `event/M/` and prints each event, e.g. a drift alarm
{"event": "drift", "detector": "page_hinkley", "step": 212, "seq": 212, "mse": …, "action": "alert"}.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

# From a clone, use the repository's client (installed or not); elsewhere `pip install ./clients/python`.
_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
if (_CLIENT / "hebbd" / "__init__.py").is_file():
    sys.path.insert(0, str(_CLIENT))
from hebbd import HebbdTimeout, Subscriber  # noqa: E402


def nonzero(coef):
    return [(int(r), int(c), float(coef[r, c])) for r, c in zip(*np.nonzero(coef))]


def line(u, top):
    text = (f"{u.model}  seq {u.seq}  step {u.step}  samples {u.samples}  "
            f"loss {'-' if u.loss is None else f'{u.loss:.6g}'}  nnz {u.nnz}")
    if u.prior:
        text += f"  prior {u.prior:.4g}"
    if u.intercept is not None and np.any(u.intercept):
        text += "  b=" + ",".join(f"{b:+.4f}" for b in u.intercept)
    entries = nonzero(u.coefficients)
    shown = sorted(sorted(entries, key=lambda e: -abs(e[2]))[:top] if top > 0 else entries)
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

    sub = Subscriber(args.endpoint, args.model, events=args.events, idle_timeout=args.timeout or None)

    def print_events():
        while True:
            try:
                e = sub.recv_event(timeout=0)
            except HebbdTimeout:
                return
            details = {k: v for k, v in e.data.items() if k not in ("v", "model", "event", "time")}
            print(f"EVENT {e.model}: {e.event}  {json.dumps(details)}", flush=True)

    print(f"subscribed to {'coef/' + args.model + '/' if args.model else 'coef/'} at {args.endpoint}", flush=True)
    latest = {}     # model → its latest Update
    received = 0
    try:
        for u in sub:
            if u.restarted:
                print(f"{u.model}: seq went back to {u.seq} (daemon restarted without its latest checkpoint, "
                      "or model re-created)", flush=True)
            elif u.missed:
                print(f"{u.model}: missed {u.missed} message(s)", flush=True)
            latest[u.model] = u
            received += 1
            print(line(u, args.top), flush=True)
            if args.events:
                print_events()
            if received == args.count:
                break
        else:
            print(f"no message for {args.timeout:g} s; stopping", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        sub.close()
    print(f"received {received} messages; latest coefficients:")
    for model in sorted(latest):
        u = latest[model]
        print(f"{model}: seq {u.seq}  step {u.step}  nnz {u.nnz}  (threshold {u.threshold})")
        for r, c, v in nonzero(u.coefficients):
            print(f"  w[{r},{c}] = {v:+.6f}")


if __name__ == "__main__":
    main()
