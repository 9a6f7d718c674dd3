"""Shared by the tests: a seeded sparse linear system, like the one Examples/python/producer.py streams."""

from __future__ import annotations

from typing import Iterator, Tuple

import numpy as np


def sparse_system(dict_dim: int = 20, sys_dim: int = 1, support: int = 3,
                  seed: int = 1) -> Tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """(W_true, support rows, rng): `support` nonzero rows of ±[0.5, 1.5], the rest 0 (as
    Examples/python/producer.py draws it)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((dict_dim, sys_dim))
    rows = np.sort(rng.choice(dict_dim, size=support, replace=False))
    w[rows] = rng.choice([-1.0, 1.0], size=(support, sys_dim)) * rng.uniform(0.5, 1.5, size=(support, sys_dim))
    return w, rows, rng


def blocks(w: np.ndarray, rng: np.random.Generator, count: int, rows: int = 50,
           noise: float = 0.05) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """`count` (X, Y) blocks of the linear system y = X·w + noise."""
    for _ in range(count):
        x = rng.standard_normal((rows, w.shape[0]))
        yield x, x @ w + noise * rng.standard_normal((rows, w.shape[1]))
