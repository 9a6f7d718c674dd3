#!/usr/bin/env python3
"""The numpy baseline of `hebbd bench`: the same lasso/Adam step in-process, float32, timed per update.

    pred = X·W, e = Y − pred, loss = ½Σe², G = −Xᵀe + λ·sign(W), Adam (ngclearn's order), as
    HebbianCircuit with its defaults (lr 0.01, λ 1e-4, W filled with 0.05, hebbian update).

Prints one JSON line: updates_per_s, samples_per_s and p50/p99/max per update in µs, like `hebbd bench --json`.
numpy keeps its own BLAS threading (the strongest plain numpy loop on this machine).

    python3 Benchmarks/numpy_lasso.py --dict-dim 256 --sys-dim 1 --batch 64 --updates 2000
"""

import argparse
import json
import time

import numpy as np


def synthetic(rng, count, rows, dict_dim, sys_dim):
    """Batches of a sparse linear system, as hebbd bench makes them (5% of W* nonzero, noise 0.1)."""
    truth = np.where(rng.random((dict_dim, sys_dim)) < 0.05, rng.standard_normal((dict_dim, sys_dim)), 0).astype(np.float32)
    xs = [rng.standard_normal((rows, dict_dim), dtype=np.float32) for _ in range(count)]
    ys = [(x @ truth + 0.1 * rng.standard_normal((rows, sys_dim), dtype=np.float32)).astype(np.float32) for x in xs]
    return xs, ys


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dict-dim", type=int, default=256)
    parser.add_argument("--sys-dim", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    d, s, n = args.dict_dim, args.sys_dim, args.batch
    pool = max(1, min(16, (64 << 20) // (n * (d + s) * 4)))
    xs, ys = synthetic(np.random.default_rng(7), pool, n, d, s)

    lr, lmbda = np.float32(0.01), np.float32(1e-4)
    b1, b2, eps = np.float32(0.9), np.float32(0.999), np.float32(1e-8)
    W = np.full((d, s), 0.05, dtype=np.float32)
    m = np.zeros_like(W)
    v = np.zeros_like(W)
    t = 0

    def update(x, y):
        nonlocal W, m, v, t
        e = y - x @ W
        loss = 0.5 * float(np.sum(e * e))
        G = -(x.T @ e) + lmbda * np.sign(W)
        t += 1
        m = b1 * m + np.float32(1 - 0.9) * G
        v = b2 * v + np.float32(1 - 0.999) * (G * G)
        m_hat = m / np.float32(1 - 0.9 ** t)
        v_hat = v / np.float32(1 - 0.999 ** t)
        W = W - lr * m_hat / (np.sqrt(v_hat) + eps)
        return loss

    for i in range(args.warmup):
        update(xs[i % pool], ys[i % pool])
    latencies = []
    started = time.perf_counter()
    for i in range(args.updates):
        t0 = time.perf_counter()
        update(xs[i % pool], ys[i % pool])
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    latencies.sort()
    per_s = args.updates / total
    print(json.dumps({"model": "numpy", "dict_dim": d, "sys_dim": s, "batch": n, "updates": args.updates,
                      "updates_per_s": round(per_s, 1), "samples_per_s": round(per_s * n, 1),
                      "p50_us": round(latencies[len(latencies) // 2] * 1e6, 1),
                      "p99_us": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e6, 1),
                      "max_us": round(latencies[-1] * 1e6, 1)}))


if __name__ == "__main__":
    main()
