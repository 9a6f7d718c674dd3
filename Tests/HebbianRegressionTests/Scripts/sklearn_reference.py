#!/usr/bin/env python3
"""Reference solutions for hebbd's proximal update, from scikit-learn's coordinate descent.

Data: scikit-learn's bundled diabetes set (442 × 10, no download), y centred, as float32.
hebbd minimises ½‖y − Xw‖² + λ‖w‖₁ (lasso) or ½‖y − Xw‖² + λr‖w‖₁ + λ(1−r)/4‖w‖² (elastic net);
docs/MATH.md §4 maps these onto scikit-learn: Lasso(alpha=λ/n), ElasticNet(alpha=λ(1+r)/(2n), l1_ratio=2r/(1+r)).
Prints one JSON object on stdout.
"""
import json
import sys

import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet, Lasso


def main():
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(np.float32)
    y = (y - y.mean()).astype(np.float32)
    n = X.shape[0]
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    lam_max = float(np.linalg.eigvalsh(X64.T @ X64).max())
    cases = []
    for lam in (20.0, 60.0):
        model = Lasso(alpha=lam / n, fit_intercept=False, tol=1e-12, max_iter=1_000_000).fit(X64, y64)
        cases.append({"kind": "lasso", "lmbda": lam, "l1_ratio": 0.5, "coef": model.coef_.tolist()})
    for lam, r in ((60.0, 0.9), (100.0, 0.7)):
        model = ElasticNet(alpha=lam * (1 + r) / (2 * n), l1_ratio=2 * r / (1 + r), fit_intercept=False,
                           tol=1e-12, max_iter=1_000_000).fit(X64, y64)
        cases.append({"kind": "elastic_net", "lmbda": lam, "l1_ratio": r, "coef": model.coef_.tolist()})
    json.dump({"dataset": "sklearn.datasets.load_diabetes, y centred", "rows": n, "dict_dim": X.shape[1],
               "x": X.ravel().tolist(), "y": y.tolist(), "lambda_max_xtx": lam_max, "cases": cases}, sys.stdout)


if __name__ == "__main__":
    main()
