#!/usr/bin/env python3
"""Reference predictive distributions for hebbd's `BayesianRegression`, from River's own model.

Generated with River 0.26.1 (`python3 -m pip install river==0.26.1`; numpy comes with it) and mpmath (a River
dependency's dependency; `python3 -m pip install mpmath` otherwise). The script refuses any other River version,
because the vectors pin that version's arithmetic.

Run from the repository root:

    python3 Tests/HebbianRegressionTests/Scripts/bayesian_reference.py

It writes Tests/HebbianRegressionTests/Fixtures/bayesian_vectors.json (overwriting it):

- `streams`: the input rows, every value written with full float64 precision (repr):
  - `trump`: River's bundled `TrumpApproval` (1001 rows, 6 raw-unit features, a date ordinal near 736 389
    among them; the posterior precision reaches a condition number near 3·10¹¹);
  - `synthetic`: a well-conditioned stream (seeded): x ~ N(0, 1)⁵, y = x·w + N(0, 0.5²), 400 rows.
- `runs`: one per (stream, alpha, beta, smoothing) setting of `linear_model.BayesianLinearRegression`, scored
  prequentially one row at a time (`predict_one(x, with_dist=True)` before `learn_one(x, y)`): River's μ and σ
  for every row, and the run's prequential MAE (River's `metrics.MAE` of μ). Runs without smoothing also carry
  `exact_mu` and `exact_sigma`: the same posterior solved directly (Gaussian elimination in 60-digit mpmath
  arithmetic, no Sherman–Morrison), which shows how far River's own rank-one covariance updates drift on the
  ill-conditioned stream (docs/MATH.md §10 uses it to choose hebbd's representation).

River 0.26.1's `alpha` is not one thing. Its precision matrix starts at I/alpha (alpha = prior variance, the
mapping docs/MATH.md gives), but the covariance it actually predicts with after `learn_one` without smoothing
starts at I/alpha too (`_grow` fills both with 1/alpha), and so does the variance it gives features it has not
seen: on that path alpha acts as the prior *precision*. The two readings agree only for alpha = 1. With
smoothing the covariance is re-inverted from the precision every row, so alpha is the variance again (except
on the very first row). Every run records `prior_variance`, the prior variance River's predictions actually
used (1/alpha without smoothing, alpha with it; the runs with smoothing use alpha = 1), and `exact_*` use it.

The Swift tests (BayesianRiverParityTests.swift) replay every run and compare μ, σ and the MAE.
"""
import json
import pathlib
import random

import mpmath
import river
from river import datasets, linear_model, metrics

RIVER_VERSION = "0.26.1"
SEED = 20261206
OUT = pathlib.Path("Tests/HebbianRegressionTests/Fixtures/bayesian_vectors.json")

if river.__version__ != RIVER_VERSION:
    raise SystemExit(f"River {river.__version__} found; these vectors are River {RIVER_VERSION}'s")


def trump_stream():
    rows = list(datasets.TrumpApproval())
    names = list(rows[0][0].keys())
    return names, [[float(x[n]) for n in names] for x, _ in rows], [float(y) for _, y in rows]


def synthetic_stream(rows=400, d=5):
    rng = random.Random(SEED)
    w = [rng.gauss(0, 1) for _ in range(d)]
    xs, ys = [], []
    for _ in range(rows):
        x = [rng.gauss(0, 1) for _ in range(d)]
        xs.append(x)
        ys.append(sum(a * b for a, b in zip(x, w)) + rng.gauss(0, 0.5))
    return [f"x{j}" for j in range(d)], xs, ys


def river_run(names, xs, ys, alpha, beta, smoothing):
    model = linear_model.BayesianLinearRegression(alpha=alpha, beta=beta, smoothing=smoothing)
    mae = metrics.MAE()
    mu, sigma = [], []
    for row, y in zip(xs, ys):
        x = dict(zip(names, row))
        dist = model.predict_one(x, with_dist=True)
        mu.append(float(dist.mu))
        sigma.append(float(dist.sigma))
        mae.update(y, dist.mu)
        model.learn_one(x, y)
    return mu, sigma, float(mae.get())


def exact_run(xs, ys, prior_variance, beta):
    """The posterior predictive before each row, by a direct high-precision solve of the precision system."""
    mpmath.mp.dps = 60
    d = len(xs[0])
    precision = mpmath.eye(d) / prior_variance
    eta = mpmath.matrix(d, 1)
    mu, sigma = [], []
    for row, y in zip(xs, ys):
        x = mpmath.matrix([mpmath.mpf(v) for v in row])
        mean = mpmath.lu_solve(precision, eta)
        spread = mpmath.lu_solve(precision, x)
        mu.append(float((x.T * mean)[0]))
        sigma.append(float(mpmath.sqrt(1 / mpmath.mpf(beta) + (x.T * spread)[0])))
        precision += beta * (x * x.T)
        eta += beta * mpmath.mpf(y) * x
    return mu, sigma


def main():
    streams = {"trump": trump_stream(), "synthetic": synthetic_stream()}
    settings = [
        ("trump", 1.0, 1.0, None),
        ("trump", 1.0, 1.0, 0.8),
        ("synthetic", 1.0, 1.0, None),
        ("synthetic", 0.5, 4.0, None),
        ("synthetic", 1.0, 2.0, 0.9),
    ]
    runs = []
    for stream, alpha, beta, smoothing in settings:
        names, xs, ys = streams[stream]
        mu, sigma, mae = river_run(names, xs, ys, alpha, beta, smoothing)
        prior_variance = 1 / alpha if smoothing is None else alpha
        run = {"stream": stream, "alpha": alpha, "beta": beta, "smoothing": smoothing, "prior_variance": prior_variance,
               "mu": mu, "sigma": sigma, "mae": mae}
        if smoothing is None:
            run["exact_mu"], run["exact_sigma"] = exact_run(xs, ys, prior_variance, beta)
        runs.append(run)
        print(f"{stream} alpha={alpha} beta={beta} smoothing={smoothing}: MAE {mae!r}")
    out = {
        "generator": "Tests/HebbianRegressionTests/Scripts/bayesian_reference.py",
        "river_version": river.__version__,
        "seed": SEED,
        "streams": {name: {"features": names, "x": xs, "y": ys} for name, (names, xs, ys) in streams.items()},
        "runs": runs,
    }
    OUT.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
