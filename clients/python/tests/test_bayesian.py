"""kind = "bayesian" against River 0.26.1's BayesianLinearRegression through a real daemon (the parity target):
one row per float64 ingest message, `predict` before each row. On River's TrumpApproval (raw units, prior std 1,
noise_std 1, no standardize, no intercept; its precision matrix reaches a condition number near 3·10¹¹), predict's
y and y_std equal River's predict_one(x, with_dist=True) μ and σ within 1e-4 relative before every row and the
prequential MAE within 1e-5 relative; on a well-conditioned synthetic stream within 1e-9; the same with smoothing.
μ's error is taken relative to max(|μ|, σ) (River's μ is exactly 0 before the first row), as in the Swift parity
tests (Tests/HebbianRegressionTests/BayesianRiverParityTests.swift)."""

from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest

from hebbd import Control, Producer, Subscriber
from hebbd.testing import LocalDaemon

river = pytest.importorskip("river", reason="river is not installed (scripts/setup.sh --test installs river==0.26.1)")
from river import datasets, linear_model  # noqa: E402

CASES = {  # model name: (stream, smoothing, tolerance of μ and σ, tolerance of the MAE)
    "trump": ("trump", None, 1e-4, 1e-5),
    "trump_smooth": ("trump", 0.8, 1e-4, 1e-5),
    "synthetic": ("synthetic", None, 1e-9, 1e-9),
    "synthetic_smooth": ("synthetic", 0.9, 1e-9, 1e-9),
}


def streams() -> Dict[str, Tuple[List[str], np.ndarray, np.ndarray]]:
    """Feature names, X and y of TrumpApproval (River's own rows, in order) and of a well-conditioned synthetic
    stream (5 standard-normal features, 400 rows, noise 0.5)."""
    rows = list(datasets.TrumpApproval())
    names = list(rows[0][0].keys())
    trump = (names, np.array([[x[n] for n in names] for x, _ in rows], dtype=np.float64), np.array([y for _, y in rows], dtype=np.float64))
    rng = np.random.default_rng(17)
    x = rng.standard_normal((400, 5))
    y = x @ np.array([1.5, -2.0, 0.5, 0.0, 3.0]) + 0.5 * rng.standard_normal(400)
    return {"trump": trump, "synthetic": ([f"f{j}" for j in range(5)], x, y)}


def model_table(name: str, d: int, smoothing: Optional[float]) -> str:
    return (f'[[model]]\nname = "{name}"\nkind = "bayesian"\ndict_dim = {d}\nbatch_size = 1\nnoise_std = 1.0\n'
            + (f"smoothing = {smoothing}\n" if smoothing is not None else "")
            + '[model.prior]\nkind = "gaussian"\nstd = 1.0\n')


def river_run(names: List[str], x: np.ndarray, y: np.ndarray, smoothing: Optional[float]) -> Tuple[np.ndarray, np.ndarray]:
    """River's μ and σ before each row (alpha = beta = 1: prior std 1, noise_std 1), learning one row at a time."""
    model = linear_model.BayesianLinearRegression(smoothing=smoothing)
    mu, sigma = [], []
    for row, target in zip(x, y):
        features = dict(zip(names, row.tolist()))
        dist = model.predict_one(features, with_dist=True)
        mu.append(dist.mu)
        sigma.append(dist.sigma)
        model.learn_one(features, float(target))
    return np.array(mu), np.array(sigma)


def daemon_run(daemon: LocalDaemon, name: str, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The daemon's predict (y, y_std) before each row, each row sent as one float64 message and learned (its
    coefficient message received) before the next prediction."""
    mu, sigma = [], []
    with Control(daemon.control, timeout=30) as control, Producer(daemon.ingest, dtype="float64", timeout=30) as producer, \
            Subscriber(daemon.publish, name, events=False) as sub:
        assert sub.recv(timeout=20).step == 0
        for i in range(len(y)):
            mean, std = control.predict_with_std(name, x[i:i + 1])
            assert std is not None, "predict has no y_std for a bayesian model"
            mu.append(mean[0, 0])
            sigma.append(std[0, 0])
            producer.send(name, x[i:i + 1], y[i:i + 1])
            update = sub.wait_until(lambda u: u.step == i + 1, 30)
            if i == 0:
                assert update.std is not None and update.interval is not None and update.noise_std is not None
    return np.array(mu), np.array(sigma)


def worst_relative(a: np.ndarray, b: np.ndarray, scale: np.ndarray) -> float:
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), scale)))


def test_predictions_before_every_row_equal_rivers(make_daemon: Callable[..., LocalDaemon]) -> None:
    data = streams()
    tables = "\n".join(model_table(name, data[stream][1].shape[1], smoothing) for name, (stream, smoothing, _, _) in CASES.items())
    daemon = make_daemon(tables).start()
    for name, (stream, smoothing, tolerance, mae_tolerance) in CASES.items():
        names, x, y = data[stream]
        river_mu, river_sigma = river_run(names, x, y, smoothing)
        mu, sigma = daemon_run(daemon, name, x, y)
        mu_error = worst_relative(mu, river_mu, river_sigma)
        sigma_error = worst_relative(sigma, river_sigma, river_sigma)
        assert mu_error <= tolerance, f"{name}: μ off by {mu_error:.3g} relative (tolerance {tolerance:g})"
        assert sigma_error <= tolerance, f"{name}: σ off by {sigma_error:.3g} relative (tolerance {tolerance:g})"
        mae, river_mae = float(np.mean(np.abs(y - mu))), float(np.mean(np.abs(y - river_mu)))
        assert math.isclose(mae, river_mae, rel_tol=mae_tolerance), f"{name}: MAE {mae!r} vs River's {river_mae!r}"
        if name == "trump":
            assert abs(river_mae - 0.586) < 0.001                 # the figure: the same stream, the same model
