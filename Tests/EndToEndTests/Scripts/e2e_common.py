"""Shared helpers of the hebbd end-to-end scripts (protocol v1, docs/PROTOCOL.md).

Everything here is deliberately independent of the daemon's Swift code: the reference trajectory is
recomputed with numpy from the formulas of docs/MATH.md §2–3 and checked against the
ngclearn fixture, and the wire format is decoded from the bytes.
"""

import contextlib
import json
import math
import re
import sys
import time

import numpy as np
import zmq

from hebbd import Control, HebbdError, HebbdTimeout, Update

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

RUNS = ["lasso_adam", "lasso_sgd", "ridge_adam", "ridge_sgd", "elastic_net_adam", "elastic_net_sgd"]


class Failure(Exception):
    """A check failed; the message says which and why."""


def die(message, summary=None):
    """Prints a clear failure (and an optional JSON summary for diagnostics) and exits 1."""
    if summary is not None:
        print(json.dumps(summary, indent=None, sort_keys=True))
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# The ngclearn reference (fixture ngclearn_sys1.json)


def load_fixture(path):
    with open(path) as f:
        fixture = json.load(f)
    data = fixture["data"]
    x = np.asarray(data["X"], dtype=np.float32)
    y = np.asarray(data["Y"], dtype=np.float32)
    return fixture, x, y


def run_parameters(fixture, run):
    """kind, optim and the hyper-parameters of one reference run, as a daemon [[model]] would have them."""
    kind, optim = run.rsplit("_", 1)
    hp = fixture["hyperparameters"]
    mb = fixture["runs_minibatch_repeated_fit"][run]
    return {
        "kind": kind,
        "optim": optim,
        "lr": hp["lr"][optim],
        "lmbda": hp["lmbda"],
        "l1_ratio": hp["l1_ratio_elastic_net"],
        "weight_fill": hp["weight_fill"],
        "threshold": hp["threshold"],
        "batch_size": mb["batch_size"],
        "passes": mb["passes"],
        "epochs": mb["epochs_per_fit_call"],
    }


def reference_trajectory(fixture, x, y, run):
    """Per update k = 1..passes·(rows/batch): (loss ½Σe² before the step, W after it), float32 like ngclearn.

    The fixture only holds W after updates 1–3 and 12; this numpy re-implementation fills in 4–11 and is
    itself checked against every fixture value (it matches to ~1e-6), so the daemon is compared with
    ngclearn at every published update.
    """
    p = run_parameters(fixture, run)
    f32 = np.float32
    lr, lm, r = f32(p["lr"]), f32(p["lmbda"]), f32(p["l1_ratio"])
    w = np.full((x.shape[1], y.shape[1]), p["weight_fill"], dtype=f32)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    t = 0
    out = []
    batch = p["batch_size"]
    for _ in range(p["passes"]):
        for start in range(0, x.shape[0], batch):
            xb, yb = x[start:start + batch], y[start:start + batch]
            for _ in range(p["epochs"]):
                e = yb - xb @ w
                loss = 0.5 * float(np.sum(e.astype(np.float64) ** 2))
                if p["kind"] == "lasso":
                    g = np.sign(w)
                elif p["kind"] == "ridge":
                    g = w
                else:
                    g = r * np.sign(w) + (f32(1) - r) / f32(2) * w
                grad = -(xb.T @ e) + lm * g
                if p["optim"] == "sgd":
                    w = w - lr * grad
                else:
                    t += 1
                    m = f32(0.9) * m + f32(0.1) * grad
                    v = f32(0.999) * v + f32(0.001) * grad * grad
                    mh = m / f32(1 - 0.9 ** t)
                    vh = v / f32(1 - 0.999 ** t)
                    w = w - lr * mh / (np.sqrt(vh) + f32(1e-8))
                w = w.astype(f32)
            out.append((loss, w.copy()))
    ref = fixture["runs_minibatch_repeated_fit"][run]
    losses = -np.asarray(ref["loss_per_step"], dtype=np.float64)
    if len(losses) != len(out):
        raise Failure(f"{run}: fixture has {len(losses)} steps, the re-implementation {len(out)}")
    for k, (loss, w_k) in enumerate(out):
        if abs(loss - losses[k]) > 1e-5 * abs(losses[k]):
            raise Failure(f"{run}: numpy reference loss {loss} vs fixture {losses[k]} at update {k + 1}")
    for k, w_ref in enumerate(ref["W_after_step"]):
        if np.abs(out[k][1] - np.asarray(w_ref)).max() > 1e-5:
            raise Failure(f"{run}: numpy reference W differs from the fixture after update {k + 1}")
    if np.abs(out[-1][1] - np.asarray(ref["W_final"])).max() > 1e-5:
        raise Failure(f"{run}: numpy reference W_final differs from the fixture")
    return out


def thresholded(w, threshold):
    """What the daemon publishes: W with |w| < threshold set to 0."""
    w = np.asarray(w, dtype=np.float32)
    return np.where(np.abs(w) < np.float32(threshold), np.float32(0), w)


def coefficient_error(got, w_ref, threshold):
    """Max |published − thresholded(w_ref)|. An entry whose reference magnitude lies within 1e-4 of the
    threshold may legitimately fall on either side of it, so there either 0 or the value is accepted."""
    got = np.asarray(got, dtype=np.float64)
    w_ref = np.asarray(w_ref, dtype=np.float64)
    expect = thresholded(w_ref, threshold).astype(np.float64)
    diff = np.abs(got - expect)
    ambiguous = np.abs(np.abs(w_ref) - threshold) <= 1e-4
    diff = np.where(ambiguous, np.minimum(diff, np.abs(got)), diff)
    return float(diff.max()) if diff.size else 0.0


# ---------------------------------------------------------------------------------------------
# Wire helpers


def decode_coefficients(frames):
    """(topic, body, coefficients as a dict_dim × sys_dim float64 array) of a `coef/<model>/` message,
    JSON format (2 frames) or binary format (3 frames: the float32 little-endian, row-major matrix).

    The decoding is the client's (hebbd.Update.from_frames); the checks here are the wire format's, stricter
    than a client needs to be (the frame count, the shape, no inline coefficients beside a binary frame)."""
    if len(frames) not in (2, 3):
        raise Failure(f"coefficient message has {len(frames)} frames; expected 2 (json) or 3 (binary)")
    topic = frames[0].decode()
    body = json.loads(frames[1])
    shape = body.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2):
        raise Failure(f"{topic}: bad shape {shape!r}")
    if len(frames) == 3 and "coefficients" in body:
        raise Failure(f"{topic}: binary format but the JSON still carries coefficients")
    if len(frames) == 2:
        rows = body.get("coefficients")
        if not isinstance(rows, list) or len(rows) != shape[0] or any(len(r) != shape[1] for r in rows):
            raise Failure(f"{topic}: coefficients do not have shape {shape}")
    try:
        update = Update.from_frames(frames)
    except ValueError as error:
        raise Failure(f"{topic}: {error}")
    return topic, body, update.coefficients.astype(np.float64)


def control(endpoint, request, timeout=5.0, context=None):
    """One control request (a dict) → the reply (a dict, `ok` false included), through the client's Control.
    Raises Failure on timeout."""
    with Control(endpoint, timeout=timeout, context=context) as c:
        try:
            return c.request(request, check=False)
        except HebbdTimeout:
            raise Failure(f"no control reply from {endpoint} to {request.get('cmd')} within {timeout} s")


def control_frames(endpoint, frames, timeout=5.0, context=None):
    """One control request of raw frames (malformed on purpose) → the reply (a dict). Raises Failure on timeout."""
    with Control(endpoint, timeout=timeout, context=context) as c:
        try:
            return json.loads(c.exchange(frames, what=repr(frames)[:80])[0])
        except HebbdTimeout:
            raise Failure(f"no reply to {frames!r} within {timeout} s")


# ---------------------------------------------------------------------------------------------
# Script skeleton: every check script prints one JSON summary, the line the Swift tests parse


@contextlib.contextmanager
def reporting(summary, ctx):
    """Wraps the body of a check script: a Failure raised inside ends the script through die() with the
    summary so far, and the zmq context is destroyed on every path, so that no open socket delays the exit."""
    try:
        yield
    except (Failure, HebbdError, HebbdTimeout) as e:   # a check failed, or a control request did
        die(str(e), summary)
    finally:
        ctx.destroy(linger=0)


def succeed(summary):
    """Marks the summary ok and prints it (exit status 0)."""
    summary["ok"] = True
    print(json.dumps(summary, sort_keys=True))


# ---------------------------------------------------------------------------------------------
# Subscribers


def receive_until(sock, until, stop, handle, interval):
    """Passes every multipart message arriving on `sock` to `handle` until `stop()` holds (→ True) or the
    time.monotonic() deadline `until` passes (→ False). One wait lasts at most `interval` s, so `stop` is
    checked again soon after each message and the deadline is never overshot."""
    while not stop():
        left = until - time.monotonic()
        if left <= 0:
            return False
        if sock.poll(min(left, interval) * 1000):
            handle(sock.recv_multipart())
    return True


def late_join(ctx, endpoint, names, within):
    """A late joiner: a fresh SUB to `coef/<name>/` of every model in `names`, connected now, which the
    daemon's last-value cache must serve each model's latest message at once.

    Returns ({name: (seconds since subscribing, frames, body, coefficients)} for the first message of each
    model that came, the seconds waited at most). It waits `within` + 2 s: longer than allowed, so that a
    late message is reported with how late it was rather than as missing."""
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    try:
        t0 = time.monotonic()
        for name in names:
            sub.setsockopt(zmq.SUBSCRIBE, f"coef/{name}/".encode())
        sub.connect(endpoint)
        got = {}

        def first(frames):
            topic, body, coef = decode_coefficients(frames)
            name = topic[len("coef/"):-1]
            if name in names and name not in got:
                got[name] = (time.monotonic() - t0, frames, body, coef)

        waited = max(within, 0) + 2
        receive_until(sub, t0 + waited, lambda: len(got) == len(names), first, interval=0.05)
        return got, waited
    finally:
        sub.close()


def wait_until(predicate, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def rel_err(a, b):
    if a is None or b is None:
        return math.inf
    return abs(a - b) / max(abs(b), 1e-12)
