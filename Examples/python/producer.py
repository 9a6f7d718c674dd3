#!/usr/bin/env python3
"""Stream a synthetic sparse linear system to hebbd with the `hebbd` Python client (clients/python).

Each message is protocol v1's binary form (docs/PROTOCOL.md): frame 0 the model name, frame 1 the header
{"v": 1, "dtype": "float32", "rows": n, "producer": "producer.py", "seq": k}, frames 2 and 3 X and Y as
little-endian float32, C order. `hebbd.Producer` builds the frames, checks the shapes and numbers the
messages (the daemon counts gaps per producer).

y = X·W_true + noise with a few nonzero rows of W_true (seeded), printed first: run subscriber.py beside it
and watch the daemon's lasso converge to it. The default config (Configs/hebbd.toml) has a model "demo"
with dict_dim 20 and sys_dim 1:

    python3 subscriber.py --model demo &
    python3 producer.py --model demo --dict-dim 20 --sys-dim 1

`--shift-at N` changes the system abruptly before message N (a new W_true, drawn with seed + 1, printed when
it happens): what the drift alarm of Configs/drift-alarm.toml is for. `--sys-dim 3` streams a multi-output
system whose zero rows are whole rows (features that matter for no output): Configs/group-sparse.toml.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

# From a clone, use the repository's client (installed or not); elsewhere `pip install ./clients/python`.
_CLIENT = Path(__file__).resolve().parents[2] / "clients" / "python"
if (_CLIENT / "hebbd" / "__init__.py").is_file():
    sys.path.insert(0, str(_CLIENT))
from hebbd import NotTakingSamples, Producer  # noqa: E402
from hebbd.testing import sparse_system  # noqa: E402  (W_true: a few rows of ±[0.5, 1.5], the rest exactly 0)


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

    w, rows, rng = sparse_system(args.dict_dim, args.sys_dim, args.support, args.seed)
    show(w, rows, args.seed, "")

    # Waits up to 10 s for the daemon to take each message; on exit, up to 10 s for the queue to drain.
    producer = Producer(args.endpoint, producer="producer.py", timeout=10, linger=10,
                        dims={args.model: (args.dict_dim, args.sys_dim)})
    started = time.monotonic()
    try:
        while args.messages == 0 or producer.sent_messages < args.messages:
            if args.shift_at > 0 and producer.sent_messages == args.shift_at:
                w, rows, _ = sparse_system(args.dict_dim, args.sys_dim, args.support, args.seed + 1)
                show(w, rows, args.seed + 1, f"message {producer.sent_messages}: the system changes; new ")
            x = rng.standard_normal((args.rows_per_message, args.dict_dim)).astype(np.float32)
            y = x @ w + args.noise * rng.standard_normal((args.rows_per_message, args.sys_dim))
            producer.send(args.model, x, y)
            if args.rate > 0:
                pause = started + producer.sent_messages / args.rate - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
    except NotTakingSamples:
        sys.exit(f"producer: {args.endpoint} took no message within 10 s; is hebbd running?")
    except KeyboardInterrupt:
        pass
    finally:
        producer.close()
    print(f"sent {producer.sent_messages} messages, {producer.sent_rows} rows to {args.endpoint} "
          f"in {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
