#!/usr/bin/env python3
"""
Generator of Tests/HebbianRegressionTests/Fixtures/brainstate_priors.json: reference vectors of the
regularisers (priors) of brainstate.nn, against which hebbd's priors are tested (docs/MATH.md, section 9
"Reference vectors"; docs/PRIORS.md).

It installs nothing. regenerate.sh beside it makes the environment (Python 3.12, requirements.txt:
brainstate 0.6.0 needs Python >= 3.12) and runs it; by hand, inside that environment:

    python ref_brainstate.py --out FILE              # both precisions, merged into FILE

Without --precision the script runs itself twice in subprocesses, once with brainstate's default float32 and
once with precision=64 (JAX x64), and merges both into FILE under the keys "float64" and "float32".
`--precision 32|64 --out FILE` runs a single precision.

For every case it records
  * loss(x)                       -- reg.loss(value)
  * grad_x                        -- jax.grad of reg.loss w.r.t. the value
  * reset_value()
  * with fit_hyper=True (where the class has trainable hyper-parameters):
    the stored raw hyper-parameter values and d loss / d hyper for each
    ParamState (via brainstate.transform.grad).
In float64 mode it also evaluates closed-form formulas written out in this file (NOT brainstate code) and
stores the largest relative difference, which checks the formulas docs/PRIORS.md gives.
"""
import argparse
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "..", "HebbianRegressionTests", "Fixtures", "brainstate_priors.json")


# ----------------------------------------------------------------------------
# Fixed input vectors
# ----------------------------------------------------------------------------
X = {
    # general signed vector, contains an exact 0 (kink behaviour of |x|, relu)
    "signed6": [-2.0, -0.5, 0.0, 0.3, 1.5, 4.0],
    # strictly inside (0, 1): for Beta / Gamma / LogNormal / InverseGamma ...
    "unit6": [0.05, 0.2, 0.5, 0.8, 0.95, 0.999],
    # small weights as in a sparse regression
    "small6": [0.01, -0.02, 0.003, -0.0005, 0.0, 0.04],
    # 3x3 matrix (row-major) for Orthogonal / SpectralNorm
    "mat3x3": [[1.0, 0.2, -0.3], [0.1, 0.8, 0.4], [-0.5, 0.3, 1.2]],
    # 3x2 matrix
    "mat3x2": [[0.6, -0.2], [0.3, 0.9], [-0.4, 0.5]],
    # 4-vector for softmax-based priors
    "logits4": [0.1, -0.4, 1.3, 0.7],
}

# per-element hyper-parameters of length 6
MU6 = [0.0, -0.5, 0.1, 0.3, 1.0, 2.0]
STD6 = [1.0, 0.5, 2.0, 0.1, 1.5, 3.0]


def case_list():
    """(case_id, class_name, kwargs, x_key). kwargs are JSON-able."""
    C = []

    def add(cls, kw, xs, tag=""):
        for xk in xs:
            cid = f"{cls}{('[' + tag + ']') if tag else ''}({', '.join(f'{k}={v}' for k, v in kw.items())})@{xk}"
            C.append((cid, cls, kw, xk))

    vec = ["signed6", "unit6", "small6"]
    # ---- GaussianReg: scalar and per-element mean/std, weight 0.01 and 1.0
    for w in (1.0, 0.01):
        add("GaussianReg", dict(mean=0.0, std=1.0, weight=w), vec)
        add("GaussianReg", dict(mean=0.5, std=2.0, weight=w), vec)
        add("GaussianReg", dict(mean=MU6, std=STD6, weight=w), vec)
        add("GaussianReg", dict(mean=0.0, std=STD6, weight=w), vec)
        add("GaussianReg", dict(mean=MU6, std=0.05, weight=w), vec)
    add("GaussianReg", dict(mean=0.0, std=1e-3, weight=1.0), ["small6"])
    add("GaussianReg", dict(mean=0.0, std=0.0, weight=1.0), ["small6"])
    # ---- simple penalties
    for w in (1.0, 0.01):
        add("L1Reg", dict(weight=w), vec)
        add("L2Reg", dict(weight=w), vec)
        add("HuberReg", dict(weight=w, delta=1.0), vec)
        add("HuberReg", dict(weight=w, delta=0.25), vec)
        add("CauchyReg", dict(weight=w, scale=1.0), vec)
        add("CauchyReg", dict(weight=w, scale=0.1), vec)
        add("StudentTReg", dict(weight=w, df=3.0, scale=1.0), vec)
        add("StudentTReg", dict(weight=w, df=1.5, scale=0.2), vec)
        add("HorseshoeReg", dict(weight=w, tau=1.0), vec)
        add("HorseshoeReg", dict(weight=w, tau=0.05), vec)
        add("SpikeAndSlabReg", dict(weight=w), vec)
        add("SpikeAndSlabReg", dict(weight=w, spike_scale=0.005, slab_scale=0.5, pi=0.8), vec)
        add("UniformReg", dict(weight=w, lower=-1.0, upper=1.0), vec)
        add("ExponentialReg", dict(weight=w, rate=2.0), vec)
        add("LogNormalReg", dict(weight=w, mu=0.0, sigma=1.0), vec)
        add("LogNormalReg", dict(weight=w, mu=-1.0, sigma=0.5), vec)
        add("GammaReg", dict(weight=w, alpha=2.0, beta=1.0), vec)
        add("GammaReg", dict(weight=w, alpha=0.5, beta=3.0), vec)
        add("InverseGammaReg", dict(weight=w, alpha=2.0, beta=1.0), vec)
        add("BetaReg", dict(weight=w, a=2.0, b=2.0), vec)
        add("BetaReg", dict(weight=w, a=0.5, b=3.0), vec)
        add("LogUniformReg", dict(weight=w, lower=1e-3, upper=1e3), vec)
        add("LogUniformReg", dict(weight=w, lower=0.1, upper=0.9), vec)
    add("ElasticNetReg", dict(), vec)
    add("ElasticNetReg", dict(l1_weight=0.01, l2_weight=0.001, alpha=0.7), vec)
    add("ElasticNetReg", dict(l1_weight=1.0, l2_weight=1.0, alpha=1.5), ["signed6"])
    add("GroupLassoReg", dict(weight=1.0, group_size=1), vec)
    add("GroupLassoReg", dict(weight=0.01, group_size=2), vec)
    add("GroupLassoReg", dict(weight=1.0, group_size=4), vec)  # 6 % 4 != 0 -> zero padding
    add("TotalVariationReg", dict(weight=1.0, order=1), vec + ["mat3x3"])
    add("TotalVariationReg", dict(weight=0.01, order=2), vec)
    add("MaxNormReg", dict(weight=1.0, max_value=1.0), vec)
    add("MaxNormReg", dict(weight=0.01, max_value=2.0), vec)
    add("EntropyReg", dict(weight=1.0, maximize=True), vec + ["logits4"])
    add("EntropyReg", dict(weight=0.01, maximize=False), ["signed6", "logits4"])
    add("DirichletReg", dict(weight=1.0, alpha=1.0), ["signed6", "logits4"])
    add("DirichletReg", dict(weight=0.01, alpha=0.5), ["signed6", "logits4"])
    add("DirichletReg", dict(weight=1.0, alpha=3.0), ["logits4"])
    add("OrthogonalReg", dict(weight=1.0), ["signed6", "mat3x3", "mat3x2"])
    add("OrthogonalReg", dict(weight=0.01), ["mat3x3"])
    add("SpectralNormReg", dict(weight=1.0, max_value=1.0), ["signed6", "mat3x3", "mat3x2"])
    add("SpectralNormReg", dict(weight=0.01, max_value=0.5), ["mat3x3"])
    return C


# chains are built separately (constructor takes sub-regularisers)
CHAINS = {
    "ChainedReg(L1Reg(weight=0.01), GaussianReg(mean=0.5, std=2.0, weight=1.0), weight=2.0)":
        lambda nn: nn.ChainedReg(nn.L1Reg(weight=0.01), nn.GaussianReg(mean=0.5, std=2.0, weight=1.0), weight=2.0),
    "ChainedReg(L1Reg(weight=0.01), L2Reg(weight=0.001), UniformReg(weight=1.0, lower=-1.0, upper=1.0), weight=1.0)":
        lambda nn: nn.ChainedReg(nn.L1Reg(weight=0.01), nn.L2Reg(weight=0.001),
                                 nn.UniformReg(weight=1.0, lower=-1.0, upper=1.0), weight=1.0),
    "ChainedReg()": lambda nn: nn.ChainedReg(),
}

# classes whose constructor turns something into a ParamState when fit_hyper=True
HYPER_CLASSES = {"GaussianReg", "ElasticNetReg", "HuberReg", "MaxNormReg", "SpectralNormReg",
                 "StudentTReg", "CauchyReg", "UniformReg", "LogNormalReg", "ExponentialReg",
                 "GammaReg", "BetaReg", "HorseshoeReg", "InverseGammaReg", "LogUniformReg",
                 "SpikeAndSlabReg", "DirichletReg"}


# ----------------------------------------------------------------------------
# Independent closed-form formulas (numpy float64), transcribed from the documented definitions
# ----------------------------------------------------------------------------
def closed_form(cls, kw, x):
    """Return (loss, grad or None), from the formulas alone (not brainstate code)."""
    import numpy as np
    from math import lgamma, pi as PI
    x = np.asarray(x, dtype=np.float64)
    relu = lambda v: np.maximum(v, 0.0)
    w = kw.get("weight", 1.0)
    if cls == "GaussianReg":
        mu = np.asarray(kw["mean"], float)
        std = np.asarray(kw["std"], float)
        p = relu(1.0 / (std ** 2 + 1e-8)) + 1e-6
        L = w * (np.sum(p * (x - mu) ** 2) - np.sum(np.log(p)))
        g = w * 2.0 * p * (x - mu)
        return L, g
    if cls == "L1Reg":
        return w * np.sum(np.abs(x)), w * np.where(x >= 0, 1.0, -1.0)  # jax: d|x|/dx at 0 = +1
    if cls == "L2Reg":
        return relu(w) * np.sum(x ** 2), relu(w) * 2 * x
    if cls == "ElasticNetReg":
        a = min(max(kw.get("alpha", 0.5), 0.0), 1.0)
        l1 = kw.get("l1_weight", 1.0)
        l2 = kw.get("l2_weight", 1.0)
        L = a * l1 * np.sum(np.abs(x)) + (1 - a) * l2 * np.sum(x ** 2)
        g = a * l1 * np.where(x >= 0, 1.0, -1.0) + (1 - a) * l2 * 2 * x
        return L, g
    if cls == "HuberReg":
        d = relu(kw.get("delta", 1.0)) + 1e-8
        ax = np.abs(x)
        L = w * np.sum(np.where(ax <= d, 0.5 * x ** 2, d * (ax - 0.5 * d)))
        g = w * np.where(ax <= d, x, d * np.where(x >= 0, 1.0, -1.0))
        return L, g
    if cls == "CauchyReg" or cls == "HorseshoeReg":
        s = relu(kw.get("scale", kw.get("tau", 1.0))) + 1e-8
        L = w * (np.sum(np.log1p((x / s) ** 2)) + x.size * np.log(s))
        g = w * 2 * x / (s ** 2 + x ** 2)
        return L, g
    if cls == "StudentTReg":
        nu = relu(kw.get("df", 3.0)) + 1e-8
        s = relu(kw.get("scale", 1.0)) + 1e-8
        L = w * (np.sum(0.5 * (nu + 1) * np.log1p((x / s) ** 2 / nu))
                 + x.size * (np.log(s) + lgamma(nu / 2) + 0.5 * np.log(nu * PI) - lgamma((nu + 1) / 2)))
        g = w * (nu + 1) * x / (nu * s ** 2 + x ** 2)
        return L, g
    if cls == "UniformReg":
        lo, hi = kw.get("lower", -1.0), kw.get("upper", 1.0)
        L = w * np.sum(relu(lo - x) ** 2 + relu(x - hi) ** 2)
        g = w * (-2 * relu(lo - x) + 2 * relu(x - hi))
        return L, g
    if cls == "ExponentialReg":
        r = relu(kw.get("rate", 1.0)) + 1e-8
        return w * r * np.sum(relu(x)), w * r * (x > 0)
    if cls == "LogNormalReg":
        mu = kw.get("mu", 0.0)
        sg = relu(kw.get("sigma", 1.0)) + 1e-8
        xp = relu(x) + 1e-8
        lx = np.log(xp)
        L = w * (np.sum((lx - mu) ** 2 / (2 * sg ** 2) + lx) + x.size * np.log(sg))
        g = w * (x > 0) * ((lx - mu) / sg ** 2 + 1.0) / xp
        return L, g
    if cls == "GammaReg":
        a = relu(kw.get("alpha", 2.0)) + 1e-8
        b = relu(kw.get("beta", 1.0)) + 1e-8
        xp = relu(x) + 1e-8
        L = w * (np.sum(-(a - 1) * np.log(xp) + b * xp) + x.size * (-a * np.log(b) + lgamma(a)))
        g = w * (x > 0) * (-(a - 1) / xp + b)
        return L, g
    if cls == "InverseGammaReg":
        a = relu(kw.get("alpha", 2.0)) + 1e-8
        b = relu(kw.get("beta", 1.0)) + 1e-8
        xp = relu(x) + 1e-8
        L = w * (np.sum((a + 1) * np.log(xp) + b / xp) + x.size * (-a * np.log(b) + lgamma(a)))
        g = w * (x > 0) * ((a + 1) / xp - b / xp ** 2)
        return L, g
    if cls == "BetaReg":
        a = relu(kw.get("a", 2.0)) + 1e-8
        b = relu(kw.get("b", 2.0)) + 1e-8
        xc = np.clip(x, 1e-8, 1 - 1e-8)
        L = w * (np.sum(-(a - 1) * np.log(xc) - (b - 1) * np.log1p(-xc))
                 + x.size * (lgamma(a) + lgamma(b) - lgamma(a + b)))
        inside = (x > 1e-8) & (x < 1 - 1e-8)
        g = w * inside * (-(a - 1) / xc + (b - 1) / (1 - xc))
        return L, g
    if cls == "LogUniformReg":
        lo = relu(kw.get("lower", 1e-3)) + 1e-8
        hi = relu(kw.get("upper", 1e3)) + 1e-8
        xp = np.clip(relu(x) + 1e-8, lo, hi)
        inside = (x > 0) & (relu(x) + 1e-8 > lo) & (relu(x) + 1e-8 < hi)
        return w * np.sum(np.log(xp)), w * inside / xp
    if cls == "SpikeAndSlabReg":
        s0 = relu(kw.get("spike_scale", 0.01)) + 1e-8
        s1 = relu(kw.get("slab_scale", 1.0)) + 1e-8
        pi_ = min(max(kw.get("pi", 0.5), 1e-8), 1 - 1e-8)
        f0 = np.exp(-0.5 * (x / s0) ** 2) / s0
        f1 = np.exp(-0.5 * (x / s1) ** 2) / s1
        m = pi_ * f0 + (1 - pi_) * f1
        L = w * np.sum(-np.log(m + 1e-8))
        g = w * (pi_ * f0 * x / s0 ** 2 + (1 - pi_) * f1 * x / s1 ** 2) / (m + 1e-8)
        return L, g
    if cls == "GroupLassoReg":
        G = kw.get("group_size", 1)
        f = x.reshape(-1)
        n = f.size
        pad = (-n) % G
        fp = np.concatenate([f, np.zeros(pad)]).reshape(-1, G)
        nrm = np.sqrt(np.sum(fp ** 2, axis=1) + 1e-8)
        L = w * np.sum(nrm)
        g = (w * fp / nrm[:, None]).reshape(-1)[:n].reshape(x.shape)
        return L, g
    if cls == "TotalVariationReg":
        f = x.reshape(-1)
        if kw.get("order", 1) == 1:
            d = f[1:] - f[:-1]
        else:
            d = f[2:] - 2 * f[1:-1] + f[:-2]
        return w * np.sum(np.abs(d)), None
    if cls == "MaxNormReg":
        c = relu(kw.get("max_value", 1.0)) + 1e-8
        nrm = np.sqrt(np.sum(x ** 2) + 1e-8)
        v = relu(nrm - c)
        return w * v ** 2, w * 2 * v * x / nrm
    if cls == "EntropyReg":
        f = x.reshape(-1)
        e = np.exp(f - f.max())
        p = e / (e.sum() + 1e-8)
        H = -np.sum(p * np.log(p + 1e-8))
        return (-w * H if kw.get("maximize", True) else w * H), None
    if cls == "DirichletReg":
        a = relu(kw.get("alpha", 1.0)) + 1e-8
        f = x.reshape(-1)
        e = np.exp(f - f.max())
        p = e / (e.sum() + 1e-8)
        return w * np.sum(-(a - 1) * np.log(p + 1e-8)), None
    if cls == "OrthogonalReg":
        if x.ndim == 1:
            n = int(math.sqrt(x.shape[0]))
            W = x.reshape(n, n) if n * n == x.shape[0] else x.reshape(-1, 1)
        elif x.ndim > 2:
            W = x.reshape(x.shape[0], -1)
        else:
            W = x
        D = W.T @ W - np.eye(W.shape[1])
        g = (w * 4 * W @ D).reshape(x.shape)
        return w * np.sum(D ** 2), g
    if cls == "SpectralNormReg":
        c = relu(kw.get("max_value", 1.0)) + 1e-8
        if x.ndim == 1:
            s = np.sqrt(np.sum(x ** 2))
            gs = x / s
        else:
            W = x if x.ndim == 2 else x.reshape(x.shape[0], -1)
            U, S, Vt = np.linalg.svd(W)
            s = S[0]
            gs = np.outer(U[:, 0], Vt[0]).reshape(x.shape)
        v = relu(s - c)
        return w * v ** 2, w * 2 * v * gs
    return None, None


# ----------------------------------------------------------------------------
def to_json_num(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def tolist(a):
    import numpy as np
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 0:
        return to_json_num(a)
    return [tolist(r) for r in a]


def run_one(precision):
    import numpy as np
    import jax
    import jax.numpy as jnp
    import brainstate
    if precision == 64:
        brainstate.environ.set(precision=64)
    nn = brainstate.nn
    ft = jnp.float64 if precision == 64 else jnp.float32
    out = {"precision": precision, "dftype": str(np.dtype(brainstate.environ.dftype())),
           "versions": {"brainstate": brainstate.__version__, "jax": jax.__version__},
           "inputs": X, "cases": [], "chains": [], "param_integration": []}

    def hyper_block(reg, x):
        """d loss / d (every ParamState of reg) at value x."""
        states = reg.states(brainstate.ParamState)
        if len(states) == 0:
            return None
        stored = {".".join(map(str, k)): tolist(s.value) for k, s in states.items()}
        grads = brainstate.transform.grad(lambda: reg.loss(x), grad_states=states)()
        return {"stored": stored,
                "grad": {".".join(map(str, k)): tolist(g) for k, g in grads.items()}}

    max_dev = {}
    for cid, cls, kw, xk in case_list():
        x = jnp.asarray(np.asarray(X[xk], dtype=np.float64), dtype=ft)
        reg = getattr(nn, cls)(**kw)
        loss = reg.loss(x)
        grad = jax.grad(lambda v: reg.loss(v))(x)
        rec = {"id": cid, "class": cls, "params": kw, "x": xk, "shape": list(x.shape),
               "loss": to_json_num(loss), "grad_x": tolist(grad),
               "reset_value": tolist(reg.reset_value())}
        if cls in HYPER_CLASSES:
            regh = getattr(nn, cls)(**kw, fit_hyper=True)
            lh = regh.loss(x)
            rec["fit_hyper"] = hyper_block(regh, x)
            rec["fit_hyper"]["loss"] = to_json_num(lh)
        if precision == 64:
            cl, cg = closed_form(cls, kw, np.asarray(X[xk], dtype=np.float64))
            if cl is not None:
                dl = abs(cl - float(loss)) / max(1.0, abs(cl))
                dg = None if cg is None else float(np.max(np.abs(np.asarray(cg) - np.asarray(grad)) /
                                                          np.maximum(1.0, np.abs(np.asarray(cg)))))
                rec["closed_form_check"] = {"rel_loss_diff": dl, "rel_grad_diff": dg}
                m = max_dev.setdefault(cls, [0.0, 0.0])
                m[0] = max(m[0], dl)
                if dg is not None:
                    m[1] = max(m[1], dg)
        out["cases"].append(rec)

    for name, make in CHAINS.items():
        for xk in ("signed6", "small6"):
            x = jnp.asarray(np.asarray(X[xk]), dtype=ft)
            reg = make(nn)
            loss = reg.loss(x)
            try:
                grad = tolist(jax.grad(lambda v: jnp.asarray(reg.loss(v), dtype=ft))(x))
            except Exception as e:  # pragma: no cover
                grad = f"error: {e!r}"
            out["chains"].append({"id": f"{name}@{xk}", "x": xk, "loss": to_json_num(loss),
                                  "grad_x": grad, "reset_value": tolist(reg.reset_value())})

    # Param integration: reg sees the *constrained* value t.forward(raw)
    raw = jnp.asarray(np.asarray(X["signed6"]), dtype=ft)
    for tname in ("IdentityT", "SoftplusT"):
        t = getattr(nn, tname)() if tname == "IdentityT" else nn.SoftplusT(0.0)
        reg = nn.GaussianReg(mean=0.5, std=2.0, weight=0.01, fit_hyper=True)
        p = nn.Param(raw if tname == "IdentityT" else jax.nn.softplus(raw), t=t, reg=reg)
        states = p.states(brainstate.ParamState)
        grads = brainstate.transform.grad(lambda: p.reg_loss(), grad_states=states)()
        out["param_integration"].append({
            "id": f"Param(value, t={tname}, reg=GaussianReg(mean=0.5, std=2.0, weight=0.01, fit_hyper=True))",
            "stored_raw": {".".join(map(str, k)): tolist(s.value) for k, s in states.items()},
            "constrained_value": tolist(p.value()),
            "reg_loss": to_json_num(p.reg_loss()),
            "grad": {".".join(map(str, k)): tolist(g) for k, g in grads.items()}})
    # Module.reg_loss sums over all Params (Const / fit=False contribute 0)

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Param(jnp.asarray(np.asarray(X["small6"]), dtype=ft), reg=nn.L1Reg(0.01))
            self.b = nn.Param(jnp.asarray(0.3, dtype=ft), reg=nn.GaussianReg(0.0, 1.0, 1.0))
            self.c = nn.Const(jnp.asarray(5.0, dtype=ft), reg=nn.L2Reg(1.0))
    m = M()
    out["module_reg_loss"] = {"desc": "w=Param(small6, reg=L1Reg(0.01)) + b=Param(0.3, reg=GaussianReg(0,1,1)) + c=Const(5.0, reg=L2Reg(1)) [Const ignored]",
                              "value": to_json_num(m.reg_loss())}

    # sample_init statistics for GaussianReg (random, only moments are portable)
    brainstate.random.seed(0)
    reg = nn.GaussianReg(mean=0.5, std=2.0)
    s = np.asarray(reg.sample_init((200000,)))
    out["gaussian_sample_init_moments"] = {"mean=0.5,std=2.0,n=200000,seed=0": {
        "mean": float(s.mean()), "std": float(s.std())}}
    out["closed_form_max_rel_dev"] = max_dev
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--precision", type=int, choices=(32, 64))
    ap.add_argument("--out", default=DEFAULT_OUT)
    a = ap.parse_args()
    if a.precision:
        res = run_one(a.precision)
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
        if a.precision == 64:
            for k, v in sorted(res["closed_form_max_rel_dev"].items()):
                print(f"closed-form check {k:18s} loss {v[0]:.2e} grad {v[1]:.2e}")
        print(f"wrote {a.out}: {len(res['cases'])} cases (precision {a.precision})")
        return
    merged = {"generator": "ref_brainstate.py", "layout": "see docs/MATH.md section 'Reference vectors'"}
    tmp = {}
    for p in (64, 32):
        t = a.out + f".f{p}.tmp"
        subprocess.run([sys.executable, os.path.abspath(__file__), "--precision", str(p), "--out", t], check=True)
        with open(t) as f:
            tmp[p] = json.load(f)
        os.remove(t)
    merged["float64"] = tmp[64]
    merged["float32"] = tmp[32]
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(merged, f, indent=1)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
