#!/usr/bin/env python3
"""The exact Bayesian model (`kind = "bayesian"`) and the uncertainty of the sparse kinds: speed against
River 0.26.1 in the same run, the Gram product's cost, scaling with d, and the calibration of the intervals.

    swift build -c release --product hebbd
    scripts/setup.sh --test                  # river==0.26.1 and pandas (River's learn_many takes DataFrames)
    python3 Benchmarks/bayesian.py [--hebbd .build/release/hebbd] [--repeat 3] [--quick]
                                   [--only speed,ratio,scaling,crossover,calibration]

Sections (each repeated figure printed as its median and range over --repeat runs, a target ✓/✘ by the median):
  speed        `hebbd bench --kind bayesian` (the in-process update: prequential score, then learning the rows)
               against River's `BayesianLinearRegression` in the same run: `learn_one` over one-row updates at
               64×1 (target ≥ 100×) and `learn_many` at 256×1, batch 64 (target ≥ 10×), both with River's defaults
               (alpha = beta = 1), like hebbd's (prior std 1, noise_std 1).
  ratio        a lasso with `uncertainty = true` (`hebbd bench --kind lasso --uncertainty`: the circuit's update
               plus the Gram product of every batch) against the bayesian kind at 256×1 / 64 (target ≥ 0.5), with
               the Gram product's GFLOP/s beside the machine's `dsyrk` at the same shape.
  scaling      both at d = 64, 128, 256, 512 (one row per update and batches of 64): µs per update and the
               exponent of d between successive sizes.
  crossover    the bayesian kind at d = 16…512 and batches of 8…96 rows, each batch learned by the covariance cache
               and folded into the statistics (`hebbd bench --bayesian-batch cache|refactor`, one BLAS thread), and
               how far the model's own choice (`auto`) is from the faster of the two.
  calibration  through a real daemon (`hebbd.testing.LocalDaemon`): (a) the exact model's 95 % coefficient
               intervals over many seeded streams whose W is drawn from the prior (target 95 ± 2 %), (b) its 95 %
               predictive intervals for the next y (`predict`'s y ± z·y_std, target 95 ± 2 %), (c) a proximal
               lasso with standardize + intercept + uncertainty on strong-signal sparse streams: the true-support
               coefficients' intervals (target 90–98 %). Skipped with the reason when the daemon does not accept
               these models.

Speed figures are wall-clock rates of whole loops on whatever machine runs this (a shared one is loaded: compare
the ratios, both sides were measured in the same minutes).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from run_all import human, report, run_json, spread  # noqa: E402  (the figures print as run_all's do)


# MARK: River

def river_model():
    try:
        from river import linear_model
    except ImportError:
        raise SystemExit("river is not installed: scripts/setup.sh --test (or python3 -m pip install river==0.26.1 pandas)")
    return linear_model.BayesianLinearRegression()


def river_learn_one_rate(d: int, rows: int, seed: int) -> float:
    """Rows (= updates) per second of River's learn_one loop over `rows` dict rows (made before the clock starts)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, d))
    y = x @ rng.standard_normal(d) + 0.1 * rng.standard_normal(rows)
    dicts = [dict(enumerate(r.tolist())) for r in x]
    targets = y.tolist()
    model = river_model()
    started = time.perf_counter()
    for row, target in zip(dicts, targets):
        model.learn_one(row, target)
    return rows / (time.perf_counter() - started)


def river_learn_many_rate(d: int, batch: int, batches: int, seed: int) -> float:
    """Batches (= updates) per second of River's learn_many over pandas DataFrames (made before the clock starts)."""
    import pandas as pd
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batches * batch, d))
    y = x @ rng.standard_normal(d) + 0.1 * rng.standard_normal(batches * batch)
    frames = [(pd.DataFrame(x[i * batch:(i + 1) * batch]), pd.Series(y[i * batch:(i + 1) * batch])) for i in range(batches)]
    model = river_model()
    started = time.perf_counter()
    for fx, fy in frames:
        model.learn_many(fx, fy)
    return batches / (time.perf_counter() - started)


# MARK: hebbd bench

def bench(args, kind: str, d: int, batch: int, updates: int, *extra: str) -> dict:
    return run_json([args.hebbd, "bench", "--json", "--kind", kind, "--dict-dim", str(d), "--batch", str(batch),
                     "--updates", str(updates), *extra])


def speed(args) -> None:
    print("speed: hebbd bench --kind bayesian vs River 0.26.1 BayesianLinearRegression, updates/s (same run)", flush=True)
    scale = 0.25 if args.quick else 1.0
    cases = [  # label, d, batch, hebbd updates, River updates, River's loop, target
        ("learn_one 64×1, one row per update", 64, 1, 400_000, 20_000, "learn_one", 100.0),
        ("learn_many 256×1, batch 64", 256, 64, 4_000, 100, "learn_many", 10.0),
    ]
    for label, d, batch, ours_n, theirs_n, loop, target in cases:
        ours, theirs, ratios = [], [], []
        for rep in range(args.repeat):
            h = bench(args, "bayesian", d, batch, max(100, int(ours_n * scale)))
            if loop == "learn_one":
                r = river_learn_one_rate(d, max(1000, int(theirs_n * scale)), seed=rep)
            else:
                r = river_learn_many_rate(d, batch, max(10, int(theirs_n * scale)), seed=rep)
            ours.append(h["updates_per_s"])
            theirs.append(r)
            ratios.append(h["updates_per_s"] / r)
        report("speed", label, f"{human(statistics.median(ours))} ({human(min(ours))}–{human(max(ours))})",
               f"River {loop} {human(statistics.median(theirs))}", spread(ratios, "{:.1f}") + "×", f"≥ {target:g}×",
               statistics.median(ratios) >= target)


def ratio(args) -> None:
    print("ratio: lasso + uncertainty vs bayesian at 256×1 / 64, updates/s (same run)", flush=True)
    updates = 1_000 if args.quick else 4_000
    lasso, bayes, ratios, gram, machine = [], [], [], [], []
    for _ in range(args.repeat):
        u = bench(args, "lasso", 256, 64, updates, "--uncertainty")
        b = bench(args, "bayesian", 256, 64, updates)
        lasso.append(u["updates_per_s"])
        bayes.append(b["updates_per_s"])
        ratios.append(u["updates_per_s"] / b["updates_per_s"])
        gram.append(u["gram_gflops"])
        machine.append(u["dsyrk_gflops"])
    report("ratio", "lasso+uncertainty / bayesian, 256×1 batch 64", human(statistics.median(lasso)),
           f"bayesian {human(statistics.median(bayes))}", spread(ratios) + "×", "≥ 0.5×", statistics.median(ratios) >= 0.5)
    share = [g / m for g, m in zip(gram, machine)]
    report("ratio", "Gram product (dsyrk 257×257, k = 64) GFLOP/s", spread(gram), f"dsyrk alone {spread(machine)}",
           spread(share) + "×", "(share of dsyrk's rate)", None)


def scaling(args) -> None:
    print("scaling: µs per update against d (median of --repeat), and the exponent between successive d", flush=True)
    sizes = [64, 128, 256, 512]
    for batch in (1, 64):
        for kind, extra in (("bayesian", ()), ("lasso", ("--uncertainty",))):
            times = []
            for d in sizes:
                # About a second of work per run at the machine's pace (fewer updates as d grows).
                updates = max(50, int((20_000 if batch == 1 else 2_000) * (64 / d) ** 2 * (0.25 if args.quick else 1)))
                runs = [bench(args, kind, d, batch, updates, *extra)["updates_per_s"] for _ in range(args.repeat)]
                times.append(1e6 / statistics.median(runs))
            exponents = [math.log(times[i + 1] / times[i]) / math.log(sizes[i + 1] / sizes[i]) for i in range(len(sizes) - 1)]
            name = f"{kind}{' + uncertainty' if extra else ''}, batch {batch}"
            cells = ", ".join(f"d={d}: {t:.1f} µs" for d, t in zip(sizes, times))
            print(f"  {name:<34} {cells};  exponent of d: " + ", ".join(f"{e:.2f}" for e in exponents), flush=True)


def crossover(args) -> None:
    """Where a batch is better folded into the statistics than learned by the covariance cache."""
    print("crossover: µs per update (median of --repeat) with each way forced (hebbd bench --bayesian-batch, one BLAS "
          "thread), and the model's own choice (auto) against the faster", flush=True)
    for d in (16, 64, 128, 256, 512):
        cells, worst = [], 1.0
        for k in (8, 16, 24, 32, 48, 64, 96):
            # About a quarter of a second of work per run at the machine's pace.
            updates = max(50, min(20_000, int(8e6 / (d * d * k) * (0.25 if args.quick else 1))))
            µs = {}
            for way in ("cache", "refactor", "auto"):
                runs = [bench(args, "bayesian", d, k, updates, "--blas-threads", "1", "--bayesian-batch", way)["updates_per_s"]
                        for _ in range(args.repeat)]
                µs[way] = 1e6 / statistics.median(runs)
            faster = min(µs["cache"], µs["refactor"])
            worst = max(worst, µs["auto"] / faster)
            cells.append(f"k={k}: {µs['cache']:.0f}/{µs['refactor']:.0f}{'*' if µs['refactor'] < µs['cache'] else ''}")
        print(f"  d={d:<4} cache/refactor µs (* refactor faster)  " + ", ".join(cells) +
              f";  auto at most {worst:.2f}× the faster", flush=True)


# MARK: calibration (through a real daemon)

Z95 = 1.959963984540054


def calibration(args) -> None:
    print("calibration: 95 % intervals through a real daemon (hebbd run), coverage of the truth", flush=True)
    from hebbd import Control, Producer, Subscriber
    from hebbd.testing import LocalDaemon

    seeds = 60 if args.quick else 300
    d, rows, ahead = 4, 6, 5   # features, rows learned per stream, next rows predicted per stream
    models = f'''[[model]]
name = "exact"
kind = "bayesian"
dict_dim = {d}
batch_size = 1
noise_std = 0.5
[model.prior]
kind = "gaussian"
std = 1.0
'''
    try:
        daemon = LocalDaemon(models, binary=args.hebbd).start()
    except Exception as error:  # the daemon refusing the config is the expected reason before kind = "bayesian" lands
        print(f"  skipped: the daemon does not accept kind = \"bayesian\" ({str(error).splitlines()[0][:160]})", flush=True)
        return
    coefficient_hits = predictive_hits = coefficient_cases = predictive_cases = 0
    try:
        with Control(daemon.control, timeout=30) as control, Producer(daemon.ingest, dtype="float64") as producer, \
                Subscriber(daemon.publish, "exact", events=False) as sub:
            seq = sub.recv(timeout=10).seq
            for seed in range(seeds):
                control.reset("exact")
                seq = sub.wait_until(lambda u: u.loss is None and u.seq > seq, 20).seq   # the reset's message
                rng = np.random.default_rng(1000 + seed)
                w = rng.standard_normal(d)                         # drawn from the prior N(0, 1)
                x = rng.standard_normal((rows + ahead, d))
                y = x @ w + 0.5 * rng.standard_normal(rows + ahead)
                for r in range(rows):
                    producer.send("exact", x[r:r + 1], y[r:r + 1])
                u = sub.wait_until(lambda u: u.seq >= seq + rows, 20)   # one message per row (batch_size 1)
                seq = u.seq
                lower, upper = u.interval.lower[:, 0].astype(float), u.interval.upper[:, 0].astype(float)
                coefficient_hits += int(np.sum((lower <= w) & (w <= upper)))
                coefficient_cases += d
                mean, std = control.predict_with_std("exact", x[rows:])
                predictive_hits += int(np.sum(np.abs(y[rows:] - mean[:, 0]) <= Z95 * std[:, 0]))
                predictive_cases += ahead
    except Exception as error:
        print(f"  skipped: {type(error).__name__}: {str(error)[:200]}", flush=True)
        return
    finally:
        daemon.cleanup()
    c = coefficient_hits / coefficient_cases
    p = predictive_hits / predictive_cases
    report("calibration", f"bayesian: W ~ prior, {seeds} streams × {rows} rows, 95 % coefficient intervals",
           f"{c:.1%}", f"{coefficient_cases} cases", "", "95 ± 2 %", abs(c - 0.95) <= 0.02)
    report("calibration", f"bayesian: 95 % predictive interval of the next y", f"{p:.1%}", f"{predictive_cases} cases",
           "", "95 ± 2 %", abs(p - 0.95) <= 0.02)
    sparse_coverage(args, seeds)


def sparse_coverage(args, seeds: int) -> None:
    from hebbd import Producer, Subscriber
    from hebbd.testing import LocalDaemon

    d, support = 10, 3
    models = f'''[[model]]
name = "sparse"
kind = "lasso"
update = "proximal"
dict_dim = {d}
batch_size = 10
lr = 0.05
lmbda = 2.0
standardize = true
intercept = true
uncertainty = true
'''
    try:
        daemon = LocalDaemon(models, binary=args.hebbd).start()
    except Exception as error:
        print(f"  sparse: skipped: the daemon does not accept uncertainty = true ({str(error).splitlines()[0][:160]})", flush=True)
        return
    hits = cases = zeros_ok = zeros = 0
    runs = max(20, seeds // 2)
    try:
        with Producer(daemon.ingest) as producer, Subscriber(daemon.publish, "sparse", events=False) as sub:
            from hebbd import Control
            control = Control(daemon.control, timeout=30)
            last = sub.recv(timeout=10).seq
            for seed in range(runs):
                control.reset("sparse")
                last = sub.wait_until(lambda u: u.loss is None and u.seq > last, 20).seq
                rng = np.random.default_rng(5000 + seed)
                w = np.zeros(d)
                chosen = rng.choice(d, support, replace=False)
                w[chosen] = rng.uniform(1, 2, support) * rng.choice([-1, 1], support)
                x = rng.standard_normal((1000, d))
                y = x @ w + 0.5 * rng.standard_normal(1000) + 3.0
                for b in range(100):
                    producer.send("sparse", x[b * 10:(b + 1) * 10], y[b * 10:(b + 1) * 10])
                u = sub.wait_until(lambda u: u.seq >= last + 100, 30)   # one message per batch of 10
                last = u.seq
                lower, upper = u.interval.lower[:, 0].astype(float), u.interval.upper[:, 0].astype(float)
                hits += int(np.sum((lower[chosen] <= w[chosen]) & (w[chosen] <= upper[chosen])))
                cases += support
                published_zero = u.coefficients[:, 0] == 0
                zeros += int(np.sum(published_zero))
                zeros_ok += int(np.sum(published_zero & (u.std[:, 0] == 0) & (lower == 0) & (upper == 0)))
            control.close()
    except Exception as error:
        print(f"  sparse: skipped: {type(error).__name__}: {str(error)[:200]}", flush=True)
        return
    finally:
        daemon.cleanup()
    rate = hits / cases
    report("calibration", f"proximal lasso, standardize+intercept: true support, {runs} streams", f"{rate:.1%}",
           f"{cases} cases", "", "90–98 %", 0.90 <= rate <= 0.98)
    report("calibration", "published exact zeros with std 0 and [0, 0]", f"{zeros_ok}/{zeros}", "", "", "all",
           zeros_ok == zeros)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hebbd", default=os.path.join(ROOT, ".build", "release", "hebbd"), help="the hebbd binary (default %(default)s)")
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of each speed figure (default %(default)s)")
    ap.add_argument("--quick", action="store_true", help="shorter runs (and 1 repetition unless --repeat is given)")
    ap.add_argument("--only", default="speed,ratio,scaling,crossover,calibration", help="sections, comma-separated (default: all)")
    args = ap.parse_args()
    if args.quick and "--repeat" not in sys.argv:
        args.repeat = 1
    if not os.access(args.hebbd, os.X_OK):
        raise SystemExit(f"{args.hebbd} is not an executable: swift build -c release --product hebbd")
    sections = {"speed": speed, "ratio": ratio, "scaling": scaling, "crossover": crossover, "calibration": calibration}
    for name in args.only.split(","):
        sections[name.strip()](args)


if __name__ == "__main__":
    main()
