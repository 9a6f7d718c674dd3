#!/usr/bin/env python3
"""ngclearn's `Iterative_Lasso` as a streaming learner: one `fit` (epochs=1) per block of rows, timed per block.

The reference implementation hebbd's learning core reproduces (README.md), driven the way the daemon drives its
circuit: a block of `--batch` rows arrives, the model takes one step on it. Prints one JSON line like
`hebbd bench --json` (updates_per_s, samples_per_s, p50/p99/max per update in µs).

ngclearn needs Python ≥ 3.12 and JAX; `Benchmarks/setup_ngclearn.sh` makes a virtual environment for it inside
the repository (Benchmarks/.venv-ngclearn, not committed), which `Benchmarks/run_all.py` uses when it is there.

    Benchmarks/.venv-ngclearn/bin/python Benchmarks/ngclearn_lasso.py --dict-dim 256 --batch 64 --updates 50
"""

import argparse
import json
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np
from jax import random
from ngclearn.modules.regression.lasso import Iterative_Lasso


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dict-dim", type=int, default=256)
    parser.add_argument("--sys-dim", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--updates", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3, help="untimed fits first (JAX compiles on the first)")
    args = parser.parse_args()
    d, s, n = args.dict_dim, args.sys_dim, args.batch
    rng = np.random.default_rng(7)
    truth = np.where(rng.random((d, s)) < 0.05, rng.standard_normal((d, s)), 0).astype(np.float32)
    xs = [rng.standard_normal((n, d), dtype=np.float32) for _ in range(8)]
    ys = [(x @ truth + 0.1 * rng.standard_normal((n, s), dtype=np.float32)).astype(np.float32) for x in xs]
    model = Iterative_Lasso(random.PRNGKey(0), "lasso", sys_dim=s, dict_dim=d, batch_size=n, epochs=1)
    for i in range(args.warmup):
        model.fit(ys[i % 8], xs[i % 8])
    latencies = []
    started = time.perf_counter()
    for i in range(args.updates):
        t0 = time.perf_counter()
        model.fit(ys[i % 8], xs[i % 8])
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    latencies.sort()
    per_s = args.updates / total
    print(json.dumps({"model": "ngclearn Iterative_Lasso", "dict_dim": d, "sys_dim": s, "batch": n, "updates": args.updates,
                      "updates_per_s": round(per_s, 2), "samples_per_s": round(per_s * n, 1),
                      "p50_us": round(latencies[len(latencies) // 2] * 1e6, 1),
                      "p99_us": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6, 1),
                      "max_us": round(latencies[-1] * 1e6, 1)}))


if __name__ == "__main__":
    main()
