#!/usr/bin/env python3
"""End-to-end check of hebbd against ngclearn: the sys1 mini-batch scenario, streamed.

For every model given (default: the six reference runs, model name = run name) it

1. subscribes to `coef/<model>/` (and `event/`) and waits for the last-value resend of each model's
   initial state (seq 0, loss null): that resend proves the subscription is active;
2. streams the fixture's mini-batch scenario (3 passes over the 200 rows, in row order) to the ingest
   socket in irregular chunks (1, 7, 49, 3, 50, 13, 100, …), mixing binary float32 / float64 frames
   (dtype spelt "float32", "<f4", "float64", "<f8") and inline JSON (rows, one flat row, flat y
   column, a bare number), interleaving the models and malformed messages of every rejection reason;
3. checks every published message: seq 1..12 without gaps, step, samples, loss (vs −loss_per_step,
   relative ≤ 1e-4), mse, penalty, prequential_mse, window, threshold, nnz, shape and the coefficient
   matrix (vs thresholded W_after_step / W_final of the fixture, and vs a numpy re-implementation of
   ngclearn at every other update, ≤ 1e-4); a resend of an already-seen seq must be byte-identical
   and is dropped;
4. checks a late joiner: a fresh SUB receives each model's latest message (seq 12) within 1 s;
5. checks the `rejected` event summaries and (with --control) `status`: rejected counts by reason,
   globally and per model, step/samples/seq/buffered per model.

Exit 0 with a JSON summary on stdout, or 1 with `FAIL: …` on stderr (and the summary so far on stdout).
"""

import argparse
import json
import os
import time

import numpy as np
import zmq

from e2e_common import (RFC3339, RUNS, Failure, coefficient_error, control, decode_coefficients, die,
                        late_join, load_fixture, receive_until, reference_trajectory, rel_err, reporting,
                        run_parameters, succeed)

CHUNKS = [1, 7, 49, 3, 50, 13, 100, 2, 27, 61, 11, 76, 5, 38, 150, 4, 9, 24, 1, 1, 66]
FORMATS = ["float32", "inline", "float64", "<f4", "inline_flat", "<f8"]
LOSS_TOL = 1e-4
COEF_TOL = 1e-4


# ---------------------------------------------------------------------------------------------
# Messages


def good_message(model, x, y, fmt, seq):
    """One valid sample message of rows x (n × d), y (n × s) in format `fmt`."""
    n = x.shape[0]
    header = {"producer": "stream_sys1", "seq": seq}
    if seq % 3 == 0:
        header["v"] = 1
    if fmt in ("float32", "<f4", "float64", "<f8"):
        dt = "<f4" if fmt in ("float32", "<f4") else "<f8"
        header.update({"dtype": fmt, "rows": n})
        return [model.encode(), json.dumps(header).encode(),
                np.ascontiguousarray(x, dtype=dt).tobytes(), np.ascontiguousarray(y, dtype=dt).tobytes()]
    # Inline: Python floats of float32 values print exactly, so the daemon reads the same float32 back.
    xs = [[float(v) for v in row] for row in x]
    ys = [[float(v) for v in row] for row in y]
    if n == 1:
        header["x"] = xs[0]
        header["y"] = ys[0][0] if y.shape[1] == 1 and seq % 2 == 0 else ys[0]
    elif fmt == "inline_flat" and y.shape[1] == 1:
        header["x"] = xs
        header["y"] = [r[0] for r in ys]
    else:
        header["x"] = xs
        header["y"] = ys
    return [model.encode(), json.dumps(header).encode()]


def f32(a):
    return np.ascontiguousarray(a, dtype="<f4").tobytes()


def f64(a):
    return np.ascontiguousarray(a, dtype="<f8").tobytes()


def malformed_catalogue(x, y):
    """(reason, is_model_known, builder(model) → frames). Every reason of the protocol at least once."""
    d, s = x.shape[1], y.shape[1]
    x3, y3 = x[:3], y[:3]
    x_nan = x3.copy()
    x_nan[2, d - 1] = np.nan  # last value of the last row: the whole message must still be rejected
    y_inf = y3.astype(np.float64)
    y_inf[1, 0] = np.inf
    x_big = x3.astype(np.float64)
    x_big[0, 0] = 1e39  # finite as a double, not as a float32
    row = [float(v) for v in x[0]]

    def hdr(**kw):
        return json.dumps(kw).encode()

    return [
        ("bad_json", True, lambda m: [m, b'{"x": [[1, 2'] ),
        ("dimensions", True, lambda m: [m, hdr(x=[row[:-1]], y=[[1.0]])]),
        ("non_finite", True, lambda m: [m, hdr(dtype="float32", rows=3), f32(x_nan), f32(y3)]),
        ("unknown_model", False, lambda m: [b"no_such_model", hdr(dtype="float32", rows=3), f32(x3), f32(y3)]),
        ("byte_size", True, lambda m: [m, hdr(dtype="float32", rows=3), f32(x[:2]), f32(y3)]),
        ("frame_count", True, lambda m: [m, hdr(dtype="float32", rows=3), f32(x3)]),
        ("bad_header", True, lambda m: [m, hdr(rows=3), f32(x3), f32(y3)]),
        ("non_finite", True, lambda m: [m, hdr(dtype="<f8", rows=3), f64(x3), f64(y_inf)]),
        ("too_large", True, lambda m: [m, hdr(dtype="float32", rows=2_000_000), b"", b""]),
        ("bad_json", True, lambda m: [m, b"[1, 2, 3]"]),
        ("dimensions", True, lambda m: [m, hdr(x=[row, row], y=[[1.0], [2.0], [3.0]])]),
        ("bad_header", True, lambda m: [m, hdr(v=2, dtype="float32", rows=3), f32(x3), f32(y3)]),
        ("non_finite", True, lambda m: [m, hdr(dtype="float64", rows=3), f64(x_big), f64(y3)]),
        ("byte_size", True, lambda m: [m, hdr(dtype="float64", rows=3), f64(x3), f64(y[:2])]),
        ("unknown_model", False, lambda m: [b"", hdr(x=[row], y=[[1.0]])]),
        ("bad_header", True, lambda m: [m, hdr(dtype="int32", rows=3), f32(x3), f32(y3)]),
        ("non_finite", True, lambda m: [m, json.dumps({"x": [row], "y": [[1e39]]}).encode()]),
        ("dimensions", True, lambda m: [m, hdr(x=[row, row, row], y=[1.0, 2.0])]),
        ("bad_header", True, lambda m: [m, hdr(x=[row], y=[[1.0]], seq=-1)]),
        ("bad_header", True, lambda m: [m, hdr(x="abc", y=[[1.0]])]),
        ("frame_count", True, lambda m: [m, hdr(dtype="float32", rows=3), f32(x3), f32(y3), b"extra"]),
        ("unknown_model", False, lambda m: [b"\xff\xfe", hdr(x=[row], y=[[1.0]])]),
    ]


def build_plan(models, x, y, passes, with_malformed):
    """The list of (kind, model key, reason or format, frames, rows) in send order."""
    n = x.shape[0]
    order = np.concatenate([np.arange(n)] * passes)  # 3 passes, row order
    per_model = []
    for i, name in enumerate(models):
        msgs = []
        pos, c, seq = 0, i * 3, 0
        while pos < len(order):
            size = min(CHUNKS[c % len(CHUNKS)], len(order) - pos)
            idx = order[pos:pos + size]
            fmt = FORMATS[(i + seq) % len(FORMATS)]
            msgs.append(("good", name, fmt, good_message(name, x[idx], y[idx], fmt, seq), size))
            pos += size
            c += 1
            seq += 1
        per_model.append(msgs)
    plan = []
    catalogue = malformed_catalogue(x, y)
    bad_index = 0
    rounds = max(len(m) for m in per_model)
    for r in range(rounds):
        for i, msgs in enumerate(per_model):
            if r < len(msgs):
                plan.append(msgs[r])
            if with_malformed and (r * len(per_model) + i) % 4 == 3:
                reason, known, build = catalogue[bad_index % len(catalogue)]
                name = models[bad_index % len(models)]
                plan.append(("bad", name if known else "*", reason, build(name.encode()), 0))
                bad_index += 1
    if with_malformed:  # make sure every catalogue entry was used at least once
        while bad_index < len(catalogue):
            reason, known, build = catalogue[bad_index]
            name = models[bad_index % len(models)]
            plan.insert(len(plan) // 2, ("bad", name if known else "*", reason, build(name.encode()), 0))
            bad_index += 1
    return plan


# ---------------------------------------------------------------------------------------------
# Checking


class ModelCheck:
    def __init__(self, name, run, fixture, x, y):
        self.name, self.run = name, run
        self.p = run_parameters(fixture, run)
        self.trajectory = reference_trajectory(fixture, x, y, run)
        self.fixture = fixture["runs_minibatch_repeated_fit"][run]
        self.updates = len(self.trajectory)
        self.rows = self.p["batch_size"]
        self.shape = [x.shape[1], y.shape[1]]
        self.last_seq = None
        self.messages = {}  # seq → JSON frame bytes (for resend comparison)
        self.duplicates = 0
        self.mse = []
        self.max_loss_rel = 0.0
        self.max_coef_err = 0.0
        self.max_coef_err_fixture = 0.0
        self.final = None

    @property
    def done(self):
        return self.last_seq is not None and self.last_seq >= self.updates

    def weights_before(self, k):
        """W before update k (1-based): the initial fill for k = 1."""
        if k == 1:
            return np.full(self.shape, self.p["weight_fill"], dtype=np.float32)
        return self.trajectory[k - 2][1]

    def penalty(self, w):
        w = np.asarray(w, dtype=np.float64)
        lam, r = np.float64(np.float32(self.p["lmbda"])), np.float64(np.float32(self.p["l1_ratio"]))
        l1, l2 = np.abs(w).sum(), (w * w).sum()
        kind = self.p["kind"]
        if kind == "lasso":
            return lam * l1
        if kind == "ridge":
            return lam / 2 * l2
        return lam * r * l1 + lam * (1 - r) / 4 * l2

    def accept(self, frames, errors):
        topic, body, coef = decode_coefficients(frames)
        where = f"{self.name} seq {body.get('seq')}"
        seq = body.get("seq")
        if topic != f"coef/{self.name}/":
            errors.append(f"{where}: topic {topic!r}")
        if not isinstance(seq, int):
            errors.append(f"{where}: seq is not an integer")
            return
        if self.last_seq is not None and seq <= self.last_seq:
            # A last-value resend (or a duplicate): must be the very message already seen, and is dropped.
            self.duplicates += 1
            if seq != self.last_seq:
                errors.append(f"{self.name}: seq went back from {self.last_seq} to {seq}")
            elif frames[1] != self.messages.get(seq):
                errors.append(f"{where}: resend differs from the original message")
            return
        expected_seq = 0 if self.last_seq is None else self.last_seq + 1
        if seq != expected_seq:
            errors.append(f"{self.name}: seq {seq} after {self.last_seq}; expected {expected_seq} (gap or late subscription)")
        self.last_seq = seq
        self.messages[seq] = frames[1]

        def check(cond, what):
            if not cond:
                errors.append(f"{where}: {what}")

        check(body.get("v") == 1, f"v = {body.get('v')!r}")
        check(body.get("model") == self.name, f"model = {body.get('model')!r}")
        check(body.get("kind") == self.p["kind"], f"kind = {body.get('kind')!r}, expected {self.p['kind']}")
        check(isinstance(body.get("time"), str) and RFC3339.match(body["time"]), f"time {body.get('time')!r} is not RFC 3339")
        check(body.get("shape") == self.shape, f"shape {body.get('shape')} != {self.shape}")
        check(abs((body.get("threshold") or 0) - self.p["threshold"]) < 1e-7, f"threshold {body.get('threshold')}")
        check(body.get("nnz") == int(np.count_nonzero(coef)), f"nnz {body.get('nnz')} but {np.count_nonzero(coef)} nonzero coefficients")
        check(body.get("step") == seq, f"step {body.get('step')} != seq {seq}")
        check(body.get("samples") == seq * self.rows, f"samples {body.get('samples')} != {seq * self.rows}")
        if seq == 0:
            # The initial state: weight_fill everywhere, nothing scored yet.
            for key in ("loss", "mse", "penalty", "prior", "prequential_mse"):
                check(body.get(key) is None, f"initial {key} = {body.get(key)!r}, expected null")
            check(body.get("window") == 0, f"initial window = {body.get('window')!r}")
            err = coefficient_error(coef, self.weights_before(1), self.p["threshold"])
            check(err <= 1e-6, f"initial coefficients differ from thresholded weight_fill by {err:.3g}")
            return
        if seq > self.updates:
            errors.append(f"{where}: more updates than the {self.updates} the scenario makes")
            return
        ref_loss, ref_w = self.trajectory[seq - 1]
        fixture_loss = -self.fixture["loss_per_step"][seq - 1]
        loss = body.get("loss")
        lr_ = rel_err(loss, fixture_loss)
        self.max_loss_rel = max(self.max_loss_rel, lr_)
        check(lr_ <= LOSS_TOL, f"loss {loss} vs ngclearn {fixture_loss} (rel {lr_:.3g} > {LOSS_TOL})")
        mse = body.get("mse")
        check(rel_err(mse, 2 * fixture_loss / (self.rows * self.shape[1])) <= LOSS_TOL, f"mse {mse} != 2·loss/(rows·sys_dim)")
        self.mse.append(2 * ref_loss / (self.rows * self.shape[1]))
        preq = body.get("prequential_mse")
        check(rel_err(preq, float(np.mean(self.mse))) <= LOSS_TOL, f"prequential_mse {preq} != mean mse {np.mean(self.mse)}")
        check(body.get("window") == len(self.mse), f"window {body.get('window')} != {len(self.mse)}")
        pen = self.penalty(self.weights_before(seq))
        got_pen = body.get("penalty")
        check(got_pen is not None and abs(got_pen - pen) <= 1e-4 * max(1.0, abs(pen)), f"penalty {got_pen} vs {pen} at W before the step")
        check(body.get("prior") == 0, f"prior {body.get('prior')!r}, expected 0 (no prior)")
        err = coefficient_error(coef, ref_w, self.p["threshold"])
        self.max_coef_err = max(self.max_coef_err, err)
        check(err <= COEF_TOL, f"coefficients differ from the reference by {err:.3g} (> {COEF_TOL})")
        fixture_w = None
        if seq <= len(self.fixture["W_after_step"]):
            fixture_w = self.fixture["W_after_step"][seq - 1]
        elif seq == self.updates:
            fixture_w = self.fixture["W_final"]
        if fixture_w is not None:
            ferr = coefficient_error(coef, fixture_w, self.p["threshold"])
            self.max_coef_err_fixture = max(self.max_coef_err_fixture, ferr)
            check(ferr <= COEF_TOL, f"coefficients differ from ngclearn's W by {ferr:.3g} (> {COEF_TOL})")
        if seq == self.updates:
            self.final = coef

    def summary(self):
        return {
            "run": self.run,
            "last_seq": self.last_seq,
            "duplicates_dropped": self.duplicates,
            "max_loss_rel_err": self.max_loss_rel,
            "max_coef_err": self.max_coef_err,
            "max_coef_err_vs_fixture": self.max_coef_err_fixture,
            "final_nnz": None if self.final is None else int(np.count_nonzero(self.final)),
        }


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ingest", required=True, help="the daemon's ingest endpoint (PULL)")
    ap.add_argument("--publish", required=True, help="the daemon's publish endpoint (XPUB)")
    ap.add_argument("--control", help="the daemon's control endpoint: check models and status too")
    ap.add_argument("--fixture", default=os.path.join(here, "..", "..", "Fixtures", "ngclearn_sys1.json"))
    ap.add_argument("--model", action="append", default=[], metavar="NAME=RUN",
                    help="a daemon model and the reference run it must follow (repeatable; default: every run, NAME = RUN)")
    ap.add_argument("--no-malformed", action="store_true", help="send only valid messages")
    ap.add_argument("--timeout", type=float, default=30, help="seconds for the whole scenario")
    ap.add_argument("--late-within", type=float, default=1.0, help="a late joiner must get every model's latest message within this (0: skip)")
    return ap.parse_args()


def main():
    args = parse_args()
    started = time.monotonic()
    deadline = started + args.timeout
    pairs = [m.split("=", 1) if "=" in m else (m, m) for m in args.model] or [(r, r) for r in RUNS]
    fixture, x, y = load_fixture(args.fixture)
    try:
        checks = {name: ModelCheck(name, run, fixture, x, y) for name, run in pairs}
    except Failure as e:
        die(f"reference: {e}")
    names = list(checks)
    summary = {"ok": False, "models": {}}
    errors = []

    ctx = zmq.Context()
    ctx.setsockopt(zmq.LINGER, 0)
    with reporting(summary, ctx):
        # The models the harness configured must be the reference runs.
        if args.control:
            reply = control(args.control, {"cmd": "models"})
            if not reply.get("ok"):
                die(f"models: {reply}")
            have = {m["name"]: m for m in reply["models"]}
            for name, chk in checks.items():
                m = have.get(name)
                if m is None:
                    die(f"the daemon has no model {name!r} (has {sorted(have)})")
                p = chk.p
                want = {"kind": p["kind"], "optim": p["optim"], "dict_dim": x.shape[1], "sys_dim": y.shape[1],
                        "batch_size": p["batch_size"], "epochs": p["epochs"]}
                for key, value in want.items():
                    if m.get(key) != value:
                        die(f"model {name}: {key} = {m.get(key)!r}, the reference run {chk.run} needs {value!r}")
                for key in ["lr", "lmbda", "threshold"] + (["l1_ratio"] if p["kind"] == "elastic_net" else []):
                    if abs(m.get(key, -1) - p[key]) > 1e-6 * max(1, abs(p[key])):
                        die(f"model {name}: {key} = {m.get(key)!r}, the reference run {chk.run} needs {p[key]!r}")

        # 1. Subscribe, and wait for the resend of every model's initial state.
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        for name in names:
            sub.setsockopt(zmq.SUBSCRIBE, f"coef/{name}/".encode())
        sub.setsockopt(zmq.SUBSCRIBE, b"event/")
        sub.connect(args.publish)
        rejected_events = {}
        events_seen = []

        def dispatch(frames):
            """Counts `event/` messages (rejection summaries by reason); checks every `coef/` message."""
            topic = frames[0].decode(errors="replace")
            if topic.startswith("event/"):
                ev = json.loads(frames[1])
                events_seen.append(ev.get("event"))
                if ev.get("event") == "rejected":
                    key = topic[len("event/"):-1]
                    for reason, n in (ev.get("counts") or {}).items():
                        rejected_events.setdefault(key, {}).setdefault(reason, 0)
                        rejected_events[key][reason] += n
                return
            name = topic[len("coef/"):-1]
            if name not in checks:
                errors.append(f"message on unexpected topic {topic!r}")
                return
            try:
                checks[name].accept(frames, errors)
            except Failure as e:
                errors.append(str(e))

        def receive(until, stop):
            return receive_until(sub, until, stop, dispatch, interval=0.2)

        if not receive(min(deadline, time.monotonic() + 10), lambda: all(c.last_seq is not None for c in checks.values())):
            missing = [n for n, c in checks.items() if c.last_seq is None]
            die(f"no initial-state resend for {missing} within 10 s of subscribing to {args.publish}")
        not_initial = [n for n, c in checks.items() if c.last_seq != 0]
        if not_initial:
            die(f"models {not_initial} are not in their initial state (a fresh daemon is needed)")
        subscribed_at = time.monotonic()

        # 2. Stream.
        plan = build_plan(names, x, y, checks[names[0]].p["passes"], not args.no_malformed)
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDTIMEO, 10_000)
        push.setsockopt(zmq.LINGER, 5_000)
        push.connect(args.ingest)
        formats, expected, expected_per_model = {}, {}, {}
        rows_sent = 0
        for kind, key, what, frames, rows in plan:
            try:
                push.send_multipart(frames)
            except zmq.Again:
                die(f"the ingest socket {args.ingest} took no message within 10 s")
            if kind == "good":
                formats[what] = formats.get(what, 0) + 1
                rows_sent += rows
            else:
                expected[what] = expected.get(what, 0) + 1
                expected_per_model.setdefault(key, {}).setdefault(what, 0)
                expected_per_model[key][what] += 1
        sent_at = time.monotonic()
        good = sum(formats.values())
        summary["messages"] = {"good": good, "malformed": len(plan) - good, "rows": rows_sent, "formats": formats}
        summary["rejected_expected"] = expected
        summary["rejected_expected_per_model"] = expected_per_model

        # 3. Every update of every model.
        receive(deadline, lambda: all(c.done for c in checks.values()))
        all_done_at = time.monotonic()
        summary["stream_seconds"] = round(all_done_at - subscribed_at, 3)
        summary["models"] = {n: c.summary() for n, c in checks.items()}
        incomplete = {n: c.last_seq for n, c in checks.items() if not c.done}
        if incomplete:
            status = None
            if args.control:
                try:
                    status = control(args.control, {"cmd": "status"})
                except Failure as e:
                    status = str(e)
            summary["status"] = status
            die(f"updates missing after {args.timeout} s: last seq per model {incomplete}; "
                f"first errors: {errors[:5]}", summary)

        # 4. Late joiner: a fresh SUB gets the latest message of each model within --late-within.
        if args.late_within > 0:
            got, waited = late_join(ctx, args.publish, names, args.late_within)
            summary["late_joiner"] = {n: {"seconds": round(seconds, 4), "seq": body.get("seq")}
                                      for n, (seconds, _, body, _) in got.items()}
            for name, chk in checks.items():
                if name not in got:
                    errors.append(f"late joiner: nothing for {name} within {waited:.1f} s")
                    continue
                seconds, frames, body, _ = got[name]
                seq = body.get("seq")
                if seq != chk.last_seq:
                    errors.append(f"late joiner: {name} seq {seq}, expected the latest {chk.last_seq}")
                elif frames[1] != chk.messages.get(seq):
                    errors.append(f"late joiner: {name} resend differs from the published seq {seq}")
                if seconds > args.late_within:
                    errors.append(f"late joiner: {name} after {seconds:.3f} s (> {args.late_within} s)")
            # The resends also reach the first subscriber, which must drop them.
            receive(time.monotonic() + 0.3, lambda: False)

        # 5. Rejection summaries on event/<model>/ (at most one per second per model) …
        if expected:
            receive(max(time.monotonic(), sent_at) + 3.0, lambda: rejected_events == expected_per_model)
            summary["rejected_events"] = rejected_events
            if rejected_events != expected_per_model:
                errors.append(f"rejected events {rejected_events} != sent {expected_per_model}")

        # … and status.
        if args.control:
            status = control(args.control, {"cmd": "status"})
            summary["status"] = status
            if not status.get("ok"):
                errors.append(f"status: {status}")
            else:
                if status.get("rejected") != expected:
                    errors.append(f"status rejected {status.get('rejected')} != sent {expected}")
                if status.get("messages") != len(plan):
                    errors.append(f"status messages {status.get('messages')} != {len(plan)} sent")
                if status.get("samples") != rows_sent:
                    errors.append(f"status samples {status.get('samples')} != {rows_sent} rows sent")
                for name, chk in checks.items():
                    st = (status.get("models") or {}).get(name) or {}
                    want = {"step": chk.updates, "samples": chk.updates * chk.rows, "seq": chk.updates, "buffered": 0,
                            "gaps": 0, "sequence_resets": 0, "rejected": expected_per_model.get(name, {})}
                    for key, value in want.items():
                        if st.get(key) != value:
                            errors.append(f"status models.{name}.{key} = {st.get(key)!r}, expected {value!r}")
                    if rel_err(st.get("loss"), -chk.fixture["loss_per_step"][-1]) > LOSS_TOL:
                        errors.append(f"status models.{name}.loss = {st.get('loss')!r}")
        summary["models"] = {n: c.summary() for n, c in checks.items()}
        summary["elapsed"] = round(time.monotonic() - started, 3)
        if errors:
            summary["errors"] = errors[:50]
            die(f"{len(errors)} check(s) failed; first: {errors[0]}", summary)
        succeed(summary)


if __name__ == "__main__":
    main()
