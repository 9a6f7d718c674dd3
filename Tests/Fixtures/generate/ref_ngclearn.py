#!/usr/bin/env python3
"""
Generator of Tests/Fixtures/ngclearn_sys1.json: reference vectors of ngclearn's iterative sparse-regression
modules (ngclearn.modules.regression: Iterative_Lasso, Iterative_Ridge, Iterative_ElasticNet), against which
hebbd's Swift learning core is tested (docs/MATH.md, section 9 "Reference vectors").

It installs nothing. regenerate.sh beside it makes the environment (Python 3.12, requirements.txt: ngclearn
3.2.3 needs numpy >= 2.5.2, hence Python >= 3.12) and runs it; by hand, inside that environment:

    python ref_ngclearn.py --out DIR --skip-sklearn     # DIR/ngclearn_sys1.json, DIR/defaults_probe.json

Engines
-------
* default: the real ngclearn classes, built and trained through their public API only (constructor, fit(),
  thresholding(), the W.weights / W.opt_params compartments). The weights after each step are captured by
  building the model with epochs=1 and calling fit() repeatedly; the script checks that this is bit-identical
  to one fit() call on a fresh model built with epochs=N.
* a small NumPy re-implementation of the documented math (docs/MATH.md §2–§3) runs alongside, purely as a
  cross-check; its differences are stored in the JSON ("numpy_crosscheck"). With --numpy-only it is the only
  engine (for machines without ngclearn); its files are then labelled "engine": "numpy-reimplementation".

Outputs (in --out):
  ngclearn_sys1.json                  data + 6 runs (3 models x adam/sgd) + the mini-batch (repeated fit())
                                      scenario — the committed fixture
  ngclearn_sklearn_comparison.json    distance to scikit-learn's coordinate-descent optimum (not with
                                      --skip-sklearn; not committed)
  defaults_probe.json                 the constructor defaults read from the installed code (not committed)
  (with --numpy-only the files are prefixed numpy_ instead of ngclearn_, and there is no defaults probe)

Every configuration runs in its own Python subprocess: ngcsimlib keeps one global state that grows with every
model built, which would slow later runs down.
"""
import argparse
import inspect
import json
import os
import platform
import sys

import numpy as np

# --------------------------------------------------------------------------
# experiment configuration
# --------------------------------------------------------------------------
DATA_SEED = 20240611
N_SAMPLES = 200
DICT_DIM = 20
N_NONZERO = 5
NOISE_STD = 0.1
SYS_DIMS = (1,)

KINDS = ("lasso", "ridge", "elastic_net")
OPTS = ("adam", "sgd")
LR = {"adam": 0.01, "sgd": 0.001}      # sgd: gradient is a SUM over samples -> keep lr*lambda_max(X^T X) < 2
LMBDA = 4.0                            # same regularisation strength for all three models
L1_RATIO = 0.5                         # elastic net only
WEIGHT_FILL = 0.05                     # ngclearn default
THRESHOLD = 0.05                       # passed explicitly to all three models (defaults differ, see docs/MATH.md §1)
EPOCHS = 500                           # one "epoch" == one full-batch weight update in ngclearn
EPOCHS_LONG = 5000                     # only for the sklearn comparison
KEY_SEED = 0                           # jax PRNG key; has no effect on results (constant init)
N_TRAJ = 3                             # weights stored after steps 1..N_TRAJ

# mini-batch scenario (repeated fit() calls on consecutive row blocks)
MB_BATCH = 50
MB_PASSES = 3


def to_list(a):
    return np.asarray(a, dtype=np.float64).tolist()


def make_data(sys_dim):
    """Synthetic sparse regression problem; all arrays are float32."""
    rng = np.random.default_rng(DATA_SEED + sys_dim)
    X = rng.standard_normal((N_SAMPLES, DICT_DIM)).astype(np.float32)
    support = np.sort(rng.choice(DICT_DIM, size=N_NONZERO, replace=False))
    mags = rng.uniform(0.5, 2.0, size=(N_NONZERO, sys_dim))
    signs = rng.choice([-1.0, 1.0], size=(N_NONZERO, sys_dim))
    W_true = np.zeros((DICT_DIM, sys_dim), dtype=np.float32)
    W_true[support] = (mags * signs).astype(np.float32)
    noise = NOISE_STD * rng.standard_normal((N_SAMPLES, sys_dim))
    Y = (X.astype(np.float64) @ W_true.astype(np.float64) + noise).astype(np.float32)
    return X, Y, W_true, support


# --------------------------------------------------------------------------
# NumPy re-implementation of the documented math (cross-check / fallback)
# --------------------------------------------------------------------------
def reg_gradient(kind, W, lmbda, l1_ratio):
    """Gradient of the penalty as it ends up in the update handed to the optimiser."""
    if kind == "lasso":
        return lmbda * np.sign(W)
    if kind == "ridge":
        return lmbda * W
    return lmbda * (np.sign(W) * l1_ratio + W * (1.0 - l1_ratio) / 2.0)


class NumpyIterative:
    """NOT ngclearn: a re-implementation of docs/MATH.md §2–§3, used for cross-checking."""

    def __init__(self, kind, opt, dict_dim, sys_dim, lr, lmbda, l1_ratio, weight_fill,
                 threshold, dtype=np.float64):
        self.kind, self.opt, self.lr = kind, opt, lr
        self.lmbda, self.l1_ratio, self.threshold = lmbda, l1_ratio, threshold
        self.dt = dtype
        self.W = np.full((dict_dim, sys_dim), weight_fill, dtype=dtype)
        self.m = np.zeros_like(self.W)
        self.v = np.zeros_like(self.W)
        self.t = 0.0

    def step(self, Y, X):
        X = X.astype(self.dt)
        Y = Y.astype(self.dt)
        mu = X @ self.W                              # prediction (no bias)
        e = Y - mu                                   # err.dmu with Sigma = 1
        L = -0.5 * np.sum(e * e)                     # err.L (negative, summed)
        grad = -(X.T @ e) + reg_gradient(self.kind, self.W, self.lmbda, self.l1_ratio).astype(self.dt)
        self.t += 1.0
        if self.opt == "sgd":
            self.W = self.W - self.lr * grad
        else:
            b1, b2, eps = 0.9, 0.999, 1e-8
            self.m = b1 * self.m + (1 - b1) * grad
            self.v = b2 * self.v + (1 - b2) * grad * grad
            mh = self.m / (1 - b1 ** self.t)
            vh = self.v / (1 - b2 ** self.t)
            self.W = (self.W - self.lr * mh / (np.sqrt(vh) + eps)).astype(self.dt)
        return float(L)

    def thresholding(self, scale):
        kept = np.where(np.abs(self.W) >= self.threshold, self.W, 0.0)
        self.W = kept
        return kept * scale


# --------------------------------------------------------------------------
# real ngclearn engine
# --------------------------------------------------------------------------
_NAME_COUNTER = [0]
NUMPY_ONLY = [False]


def build_ngclearn(kind, opt, sys_dim, batch_size, epochs, threshold=THRESHOLD):
    from jax import random
    from ngclearn.modules.regression import Iterative_Lasso, Iterative_Ridge, Iterative_ElasticNet
    _NAME_COUNTER[0] += 1
    name = f"{kind}_{opt}_{sys_dim}_{_NAME_COUNTER[0]}"
    key = random.PRNGKey(KEY_SEED)
    common = dict(sys_dim=sys_dim, dict_dim=DICT_DIM, batch_size=batch_size, weight_fill=WEIGHT_FILL,
                  lr=LR[opt], optim_type=opt, threshold=threshold, epochs=epochs)
    if kind == "lasso":
        return Iterative_Lasso(key, name, lasso_lmbda=LMBDA, **common)
    if kind == "ridge":
        return Iterative_Ridge(key, name, ridge_lmbda=LMBDA, **common)
    return Iterative_ElasticNet(key, name, lmbda=LMBDA, l1_ratio=L1_RATIO, **common)


DOCUMENTED_SCALE = {"lasso": 2.0, "ridge": 2.0, "elastic_net": 1.0}   # defaults of thresholding(scale=...)


def default_scale(kind):
    """Default `scale` argument of thresholding(), read from the real signature when possible."""
    if NUMPY_ONLY[0]:
        return DOCUMENTED_SCALE[kind]
    try:
        from ngclearn.modules.regression import Iterative_Lasso, Iterative_Ridge, Iterative_ElasticNet
        cls = {"lasso": Iterative_Lasso, "ridge": Iterative_Ridge, "elastic_net": Iterative_ElasticNet}[kind]
        return float(inspect.signature(cls.thresholding).parameters["scale"].default)
    except Exception:
        return DOCUMENTED_SCALE[kind]


def opt_state_to_json(opt, state):
    if opt == "adam":
        g1, g2, t = state
        return {"m": to_list(g1[0]), "v": to_list(g2[0]), "t": float(t)}
    return {"t": float(state)}


def run_ngclearn(kind, opt, X, Y):
    sys_dim = Y.shape[1]
    n = X.shape[0]
    # (a) per-step capture: epochs=1, fit() called EPOCHS times
    m = build_ngclearn(kind, opt, sys_dim, n, epochs=1)
    W0 = np.asarray(m.W.weights.get())
    traj, losses, opt_after_1 = [], [], None
    for step in range(EPOCHS):
        coef, mu, L = m.fit(Y, X)
        losses.append(float(L))
        if step < N_TRAJ:
            traj.append(to_list(coef))
        if step == 0:
            opt_after_1 = opt_state_to_json(opt, m.W.opt_params.get())
    W_final = np.asarray(m.W.weights.get())
    opt_final = opt_state_to_json(opt, m.W.opt_params.get())
    # (b) one fit() call with epochs=EPOCHS on a fresh model -> must be identical
    m2 = build_ngclearn(kind, opt, sys_dim, n, epochs=EPOCHS)
    coef2, mu2, L2 = m2.fit(Y, X)
    fit_diff = float(np.max(np.abs(np.asarray(coef2) - W_final)))
    # (c) thresholding through the public method (default scale of each class)
    scale = default_scale(kind)
    coef_scaled, coef_old = m2.thresholding()
    W_after_thr = np.asarray(m2.W.weights.get())
    return {
        "W_init": to_list(W0),
        "W_after_step": traj,
        "W_final": to_list(W_final),
        "loss_per_step": losses,
        "fit_returned_L_last_call": float(L2),
        "loss_at_W_final_numpy": float(-0.5 * np.sum((Y.astype(np.float64) - X.astype(np.float64) @ W_final.astype(np.float64)) ** 2)),
        "opt_state_after_step_1": opt_after_1,
        "opt_state_final": opt_final,
        "thresholding": {
            "scale_used": scale,
            "threshold": THRESHOLD,
            "coef_returned_scaled": to_list(coef_scaled),
            "coef_old_returned": to_list(coef_old),
            "W_after_thresholding": to_list(W_after_thr),
        },
        "check_repeated_fit_vs_single_fit_max_abs_diff": fit_diff,
    }


def run_numpy(kind, opt, X, Y, dtype, epochs=EPOCHS):
    r = NumpyIterative(kind, opt, DICT_DIM, Y.shape[1], LR[opt], LMBDA, L1_RATIO, WEIGHT_FILL, THRESHOLD, dtype)
    W0 = r.W.copy()
    traj, losses = [], []
    for step in range(epochs):
        losses.append(r.step(Y, X))
        if step < N_TRAJ:
            traj.append(to_list(r.W))
    W_final = r.W.copy()
    coef_scaled = r.thresholding(default_scale(kind))
    return {
        "W_init": to_list(W0), "W_after_step": traj, "W_final": to_list(W_final),
        "loss_per_step": losses,
        "loss_at_W_final_numpy": float(-0.5 * np.sum((Y.astype(np.float64) - X.astype(np.float64) @ W_final.astype(np.float64)) ** 2)),
        "thresholding": {"scale_used": default_scale(kind), "threshold": THRESHOLD,
                         "coef_returned_scaled": to_list(coef_scaled), "coef_old_returned": to_list(W_final),
                         "W_after_thresholding": to_list(r.W)},
    }


def run_minibatch_ngclearn(kind, opt, X, Y):
    """Mini-batch usage pattern: batch_size=MB_BATCH, epochs=1, fit() on consecutive row blocks."""
    m = build_ngclearn(kind, opt, Y.shape[1], MB_BATCH, epochs=1)
    traj, losses = [], []
    k = 0
    for p in range(MB_PASSES):
        for b in range(X.shape[0] // MB_BATCH):
            sl = slice(b * MB_BATCH, (b + 1) * MB_BATCH)
            coef, mu, L = m.fit(Y[sl], X[sl])
            losses.append(float(L))
            if k < N_TRAJ:
                traj.append(to_list(coef))
            k += 1
    return {"batch_size": MB_BATCH, "passes": MB_PASSES, "epochs_per_fit_call": 1,
            "batch_order": "rows [0:50], [50:100], [100:150], [150:200], repeated each pass, no shuffling",
            "W_after_step": traj, "W_final": to_list(m.W.weights.get()), "loss_per_step": losses,
            "opt_state_final": opt_state_to_json(opt, m.W.opt_params.get())}


def run_minibatch_numpy(kind, opt, X, Y):
    r = NumpyIterative(kind, opt, DICT_DIM, Y.shape[1], LR[opt], LMBDA, L1_RATIO, WEIGHT_FILL, THRESHOLD, np.float64)
    traj, losses, k = [], [], 0
    for p in range(MB_PASSES):
        for b in range(X.shape[0] // MB_BATCH):
            sl = slice(b * MB_BATCH, (b + 1) * MB_BATCH)
            losses.append(r.step(Y[sl], X[sl]))
            if k < N_TRAJ:
                traj.append(to_list(r.W))
            k += 1
    return {"batch_size": MB_BATCH, "passes": MB_PASSES, "epochs_per_fit_call": 1,
            "W_after_step": traj, "W_final": to_list(r.W), "loss_per_step": losses}


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


# --------------------------------------------------------------------------
# scikit-learn comparison
# --------------------------------------------------------------------------
def sklearn_alpha(kind, n):
    """Map ngclearn (lmbda, l1_ratio) onto sklearn's parameterisation (docs/MATH.md §4)."""
    if kind == "lasso":
        return {"alpha": LMBDA / n}
    if kind == "ridge":
        return {"alpha": LMBDA}
    return {"alpha": LMBDA * (1.0 + L1_RATIO) / (2.0 * n), "l1_ratio": 2.0 * L1_RATIO / (1.0 + L1_RATIO)}


def sklearn_fit(kind, X, Y, params):
    from sklearn.linear_model import Lasso, Ridge, ElasticNet
    Xd, Yd = X.astype(np.float64), Y.astype(np.float64)
    if kind == "lasso":
        est = Lasso(fit_intercept=False, max_iter=1_000_000, tol=1e-12, **params)
    elif kind == "ridge":
        est = Ridge(fit_intercept=False, solver="cholesky", **params)
    else:
        est = ElasticNet(fit_intercept=False, max_iter=1_000_000, tol=1e-12, **params)
    est.fit(Xd, Yd)
    return np.asarray(est.coef_, dtype=np.float64).reshape(Y.shape[1], X.shape[1]).T


def support_stats(W, true_support, thr):
    """Per-column support recovery of |W| >= thr against the true support."""
    out = []
    for j in range(W.shape[1]):
        est = set(np.nonzero(np.abs(W[:, j]) >= thr)[0].tolist()) if thr > 0 else set(np.nonzero(W[:, j])[0].tolist())
        tru = set(int(i) for i in true_support)
        out.append({"estimated_support": sorted(est), "true_positives": len(est & tru),
                    "false_positives": len(est - tru), "false_negatives": len(tru - est),
                    "exact_recovery": est == tru})
    return out


# --------------------------------------------------------------------------
def probe_defaults():
    from jax import random
    from ngclearn.modules.regression import Iterative_Lasso, Iterative_Ridge, Iterative_ElasticNet
    import ngclearn.utils.optim.adam as adam_mod
    import ngclearn.utils.optim.sgd as sgd_mod
    out = {}
    for kind, cls in (("lasso", Iterative_Lasso), ("ridge", Iterative_Ridge), ("elastic_net", Iterative_ElasticNet)):
        sig = inspect.signature(cls.__init__)
        defaults = {k: (v.default if v.default is not inspect.Parameter.empty else "<required>")
                    for k, v in sig.parameters.items() if k != "self"}
        _NAME_COUNTER[0] += 1
        m = cls(random.PRNGKey(0), f"probe_{kind}_{_NAME_COUNTER[0]}", sys_dim=2, dict_dim=3, batch_size=4)
        out[kind] = {
            "constructor_defaults": {k: (str(v) if not isinstance(v, (int, float, str)) else v) for k, v in defaults.items()},
            "thresholding_scale_default": inspect.signature(cls.thresholding).parameters["scale"].default,
            "instance": {
                "T": m.T, "dt": m.dt, "epochs": m.epochs, "threshold": m.threshold, "lr": m.lr,
                "weight_fill": m.weight_fill,
                "W_shape": list(np.asarray(m.W.weights.get()).shape),
                "W_init": to_list(m.W.weights.get()),
                "W_prior_type": m.W.prior_type, "W_prior_lmbda": str(m.W.prior_lmbda),
                "W_sign_value": m.W.sign_value, "W_w_bound": m.W.w_bound, "W_is_nonnegative": m.W.is_nonnegative,
                "W_bias_init": str(m.W.bias_init), "W_biases": str(m.W.biases.get()),
                "W_optimizer": getattr(m.W.opt, "func", m.W.opt).__name__,
                "W_optimizer_bound_kwargs": {k: float(v) for k, v in getattr(m.W.opt, "keywords", {}).items()},
                "err_Sigma": to_list(m.err.Sigma.get()),
            },
        }
    out["adam_step_defaults"] = {k: v.default for k, v in inspect.signature(adam_mod.adam_step).parameters.items()
                                 if v.default is not inspect.Parameter.empty}
    out["sgd_step_defaults"] = {k: v.default for k, v in inspect.signature(sgd_mod.sgd_step).parameters.items()
                                if v.default is not inspect.Parameter.empty}
    return out


def env_info(numpy_only):
    info = {"python": platform.python_version(), "numpy": np.__version__}
    if not numpy_only:
        from importlib.metadata import version
        for p in ("ngclearn", "ngcsimlib", "jax", "jaxlib", "scikit-learn"):
            try:
                info[p] = version(p)
            except Exception:
                info[p] = None
        import jax
        info["jax_enable_x64"] = bool(jax.config.jax_enable_x64)
        info["jax_backend"] = jax.default_backend()
    return info


def compare_with_sklearn(kind, opt, X, Y, support, res, numpy_only):
    sys_dim = Y.shape[1]
    params = sklearn_alpha(kind, N_SAMPLES)
    sk = sklearn_fit(kind, X, Y, params)
    naive = sklearn_fit(kind, X, Y, {"alpha": LMBDA, **({"l1_ratio": L1_RATIO} if kind == "elastic_net" else {})})
    W_final = np.asarray(res["W_final"], dtype=np.float64)
    if numpy_only:
        long_W = run_numpy(kind, opt, X, Y, np.float32, epochs=EPOCHS_LONG)["W_final"]
    else:
        m_long = build_ngclearn(kind, opt, sys_dim, N_SAMPLES, epochs=EPOCHS_LONG)
        long_W = m_long.fit(Y, X)[0]
    long_W = np.asarray(long_W, dtype=np.float64)
    W_thr = np.asarray(res["thresholding"]["W_after_thresholding"], dtype=np.float64)
    zero_mask = sk == 0.0
    return {
        "sklearn_params": params,
        "sklearn_coef": to_list(sk),
        "W_final": res["W_final"],
        "max_abs_diff_W_final_vs_sklearn": maxdiff(W_final, sk),
        "max_abs_diff_W_final_vs_sklearn_on_sklearn_support": float(np.max(np.abs(W_final - sk)[~zero_mask])) if (~zero_mask).any() else None,
        "max_abs_W_final_where_sklearn_is_zero": float(np.max(np.abs(W_final[zero_mask]))) if zero_mask.any() else None,
        "max_abs_diff_thresholded_W_vs_sklearn": maxdiff(W_thr, sk),
        "max_abs_diff_thresholding_returned_coef_vs_sklearn": maxdiff(res["thresholding"]["coef_returned_scaled"], sk),
        "epochs_long": EPOCHS_LONG,
        "W_long": to_list(long_W),
        "max_abs_diff_W_long_vs_sklearn": maxdiff(long_W, sk),
        "max_abs_W_long_where_sklearn_is_zero": float(np.max(np.abs(long_W[zero_mask]))) if zero_mask.any() else None,
        "naive_mapping_alpha_eq_lmbda_max_abs_diff_vs_W_final": maxdiff(W_final, naive),
        "naive_mapping_n_nonzero": int(np.count_nonzero(naive)),
        "support_sklearn_nonzero": support_stats(sk, support, 0.0),
        "support_ngclearn_W_final_thresholded": support_stats(W_thr, support, THRESHOLD),
        "support_ngclearn_W_long_thresholded": support_stats(long_W, support, THRESHOLD),
    }


def work(sys_dim, kind, opt, numpy_only, skip_sklearn):
    """One configuration; run in its own process (ngcsimlib keeps ONE global state that
    grows with every model built, which makes later runs in the same process slower)."""
    X, Y, W_true, support = make_data(sys_dim)
    out = {}
    if numpy_only:
        res = run_numpy(kind, opt, X, Y, np.float32)
    else:
        res = run_ngclearn(kind, opt, X, Y)
        n64 = run_numpy(kind, opt, X, Y, np.float64)
        n32 = run_numpy(kind, opt, X, Y, np.float32)
        res["numpy_crosscheck"] = {
            "float64_max_abs_diff_steps_1_3": [maxdiff(a, b) for a, b in zip(res["W_after_step"], n64["W_after_step"])],
            "float32_max_abs_diff_steps_1_3": [maxdiff(a, b) for a, b in zip(res["W_after_step"], n32["W_after_step"])],
            "float64_max_abs_diff_final": maxdiff(res["W_final"], n64["W_final"]),
            "float32_max_abs_diff_final": maxdiff(res["W_final"], n32["W_final"]),
            "float64_max_rel_diff_loss": float(np.max(np.abs(np.array(res["loss_per_step"]) - np.array(n64["loss_per_step"]))
                                                      / np.maximum(1.0, np.abs(np.array(n64["loss_per_step"]))))),
        }
        if sys_dim == 1:
            mb = run_minibatch_ngclearn(kind, opt, X, Y)
            mbn = run_minibatch_numpy(kind, opt, X, Y)
            mb["numpy_crosscheck_float64_max_abs_diff_final"] = maxdiff(mb["W_final"], mbn["W_final"])
            out["minibatch"] = mb
    out["run"] = res
    if not skip_sklearn:
        out["comparison"] = compare_with_sklearn(kind, opt, X, Y, support, res, numpy_only)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", help="directory to write into (required)")
    ap.add_argument("--numpy-only", action="store_true",
                    help="do not import ngclearn; use the NumPy re-implementation as the engine")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)       # "sys_dim:kind:opt"
    ap.add_argument("--worker-out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    NUMPY_ONLY[0] = args.numpy_only

    if args.worker:
        s, kind, opt = args.worker.split(":")
        with open(args.worker_out, "w") as f:
            json.dump(work(int(s), kind, opt, args.numpy_only, args.skip_sklearn), f)
        return

    if not args.out:
        ap.error("--out DIR is required")
    import subprocess
    import tempfile
    os.makedirs(args.out, exist_ok=True)
    engine = "numpy-reimplementation" if args.numpy_only else "ngclearn"
    prefix = "numpy_" if args.numpy_only else "ngclearn_"
    hyper = {"lr": LR, "lmbda": LMBDA, "l1_ratio_elastic_net": L1_RATIO, "weight_fill": WEIGHT_FILL,
             "threshold": THRESHOLD, "epochs": EPOCHS, "batch_size": N_SAMPLES, "T_inner_advance_steps": 100,
             "jax_key_seed": KEY_SEED,
             "thresholding_scale": {k: default_scale(k) for k in KINDS},
             "adam": {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
             "note": "epochs = number of fit() weight updates; every update uses the full clamped (Y, X)"}
    comparison = {
        "engine": engine,
        "alpha_mapping": {
            "lasso": "sklearn Lasso(alpha = lmbda / n_samples)",
            "ridge": "sklearn Ridge(alpha = lmbda)  (sklearn's Ridge loss ||y-Xw||^2 + alpha||w||^2 has no 1/(2n))",
            "elastic_net": "sklearn ElasticNet(alpha = lmbda*(1+l1_ratio)/(2n), l1_ratio = 2*l1_ratio/(1+l1_ratio))"},
        "fit_intercept": False, "epochs": EPOCHS, "threshold": THRESHOLD, "runs": {}}

    tmpdir = tempfile.mkdtemp(prefix="ref_ngclearn_")
    for sys_dim in SYS_DIMS:
        X, Y, W_true, support = make_data(sys_dim)
        doc = {
            "engine": engine,
            "environment": env_info(args.numpy_only),
            "data": {"generator": "make_data() in ref_ngclearn.py: numpy.random.default_rng(seed); X ~ N(0,1); "
                                  "5 nonzero rows with |w| ~ U(0.5,2), random sign; Y = X@W_true + N(0, noise_std^2); float32",
                     "seed": DATA_SEED + sys_dim, "n_samples": N_SAMPLES, "dict_dim": DICT_DIM,
                     "sys_dim": sys_dim, "noise_std": NOISE_STD, "dtype": "float32",
                     "X": to_list(X), "Y": to_list(Y), "W_true": to_list(W_true),
                     "true_support_rows": support.tolist()},
            "hyperparameters": hyper,
            "conventions": {
                "W_shape": "(dict_dim, sys_dim); prediction = X @ W, no bias/intercept",
                "W_after_step[k]": "weights after k+1 weight updates (k = 0..2)",
                "loss_per_step[k]": "err.L returned by the (k+1)-th fit() call = -0.5*sum((Y - X@W_k)^2), "
                                    "computed from the weights BEFORE update k+1 (W_0 = init)",
                "loss_at_W_final_numpy": "the same loss evaluated (in float64, by numpy) at W_final",
                "thresholding.coef_returned_scaled": "first return value of thresholding(): kept weights * scale",
                "thresholding.W_after_thresholding": "W after thresholding(): kept weights, NOT scaled",
                "opt_state": "adam: m (g1), v (g2), t after the update; sgd: only the step counter",
            },
            "runs": {},
        }
        if sys_dim == 1 and not args.numpy_only:
            doc["runs_minibatch_repeated_fit"] = {}
        for kind in KINDS:
            for opt in OPTS:
                key = f"{kind}_{opt}"
                print(f"[sys_dim={sys_dim}] {key} ...", flush=True)
                wout = os.path.join(tmpdir, f"{sys_dim}_{key}.json")
                cmd = [sys.executable, os.path.abspath(__file__), "--worker", f"{sys_dim}:{kind}:{opt}", "--worker-out", wout]
                if args.numpy_only:
                    cmd.append("--numpy-only")
                if args.skip_sklearn:
                    cmd.append("--skip-sklearn")
                subprocess.run(cmd, check=True)
                with open(wout) as f:
                    w = json.load(f)
                doc["runs"][key] = w["run"]
                if "minibatch" in w:
                    doc["runs_minibatch_repeated_fit"][key] = w["minibatch"]
                if "comparison" in w:
                    comparison["runs"][f"sys{sys_dim}_{key}"] = w["comparison"]
        fname = os.path.join(args.out, prefix + f"sys{sys_dim}.json")
        with open(fname, "w") as f:
            json.dump(doc, f)
        print("wrote", fname)

    if not args.skip_sklearn:
        fname = os.path.join(args.out, prefix + "sklearn_comparison.json")
        with open(fname, "w") as f:
            json.dump(comparison, f, indent=1)
        print("wrote", fname)
    if not args.numpy_only:
        with open(os.path.join(args.out, "defaults_probe.json"), "w") as f:
            json.dump(probe_defaults(), f, indent=1, default=str)
        print("wrote", os.path.join(args.out, "defaults_probe.json"))


if __name__ == "__main__":
    main()
