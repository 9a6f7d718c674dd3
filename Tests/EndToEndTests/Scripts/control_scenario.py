#!/usr/bin/env python3
"""End-to-end check of hebbd's control socket against the ngclearn fixture.

The daemon must have a model (--model, default "ctl") configured as the reference run --run (default
lasso_adam: Adam, so a reset must also clear the optimiser's moments). The script

1. streams the mini-batch scenario (binary float32, 50 rows a message) and checks every update;
2. `snapshot`: the last published message (coefficients, seq, loss …; `time` may differ);
3. `predict`: rows of X → X·C with C = W_final thresholded (the published coefficients), one flat row too, and a
   wrong width is an error;
4. `checkpoint`: the reply names a file that exists, and `event/<model>/` announces it;
5. `reset`: a coef message with the next seq, step 0, loss null and weight_fill coefficients, an event;
   streaming the scenario again reproduces ngclearn exactly (optimiser state cleared);
6. `set`: lr and threshold change live (`models` shows them, `event` names them); bad keys are errors;
7. `add` a second model (the ridge_sgd run) from JSON: an event, its initial state for a new
   subscriber, the scenario reproduces ngclearn; `remove`: an event, and its samples are then rejected
   as unknown_model; duplicate names and unknown keys are errors;
8. malformed requests (not JSON, no cmd, unknown cmd, two frames) get {"ok": false}, and the REP socket
   keeps answering;
9. with --heartbeat S: an idle daemon publishes `hb/` within S (+1) seconds.

Exit 0 with a JSON summary on stdout, or 1 with `FAIL: …` on stderr.
"""

import argparse
import json
import os
import time

import numpy as np
import zmq

from e2e_common import (RFC3339, Failure, coefficient_error, control, control_frames, decode_coefficients,
                        load_fixture, receive_until, rel_err, reporting, run_parameters, succeed)
from stream_sys1 import ModelCheck

TOL = 1e-4


class Session:
    def __init__(self, args):
        self.args = args
        self.ctx = zmq.Context()
        self.ctx.setsockopt(zmq.LINGER, 0)
        self.sub = self.ctx.socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.push = self.ctx.socket(zmq.PUSH)
        self.push.setsockopt(zmq.SNDTIMEO, 10_000)
        self.push.setsockopt(zmq.LINGER, 5_000)
        self.push.connect(args.ingest)
        self.coef = {}     # model → list of (frames) in arrival order
        self.events = []   # (model, body)
        self.heartbeats = []

    def subscribe(self, prefix):
        self.sub.setsockopt(zmq.SUBSCRIBE, prefix.encode())

    def pump(self, seconds, until=lambda: False):
        """Collects what arrives for `seconds` or until `until()` holds (→ True)."""
        return receive_until(self.sub, time.monotonic() + seconds, until, self.collect, interval=0.1)

    def collect(self, frames):
        topic = frames[0].decode()
        if topic.startswith("coef/"):
            self.coef.setdefault(topic[5:-1], []).append(frames)
        elif topic.startswith("event/"):
            self.events.append((topic[6:-1], json.loads(frames[1])))
        elif topic == "hb/":
            self.heartbeats.append((time.monotonic(), json.loads(frames[1])))

    def request(self, req, ok=True):
        reply = control(self.args.control, req)
        if ok is not None and reply.get("ok") is not ok:
            raise Failure(f"{req} → {reply}; expected ok = {ok}")
        return reply

    def stream(self, model, x, y, passes, rows=50):
        n = x.shape[0]
        for _ in range(passes):
            for start in range(0, n, rows):
                xb, yb = x[start:start + rows], y[start:start + rows]
                header = {"v": 1, "dtype": "float32", "rows": int(xb.shape[0])}
                self.push.send_multipart([model.encode(), json.dumps(header).encode(),
                                          np.ascontiguousarray(xb, dtype="<f4").tobytes(),
                                          np.ascontiguousarray(yb, dtype="<f4").tobytes()])

    def event(self, model, name, seconds=3.0):
        found = []

        def seen():
            found[:] = [b for m, b in self.events if m == model and b.get("event") == name]
            return bool(found)

        if not self.pump(seconds, seen):
            raise Failure(f"no {name!r} event for {model} within {seconds} s (events seen: {[(m, b.get('event')) for m, b in self.events]})")
        body = found[-1]
        if body.get("v") != 1 or body.get("model") != model or not RFC3339.match(body.get("time", "")):
            raise Failure(f"malformed event {body}")
        return body


def check_replay(session, model, chk, first_seq, fixture_run, threshold, x, y, passes):
    """After a reset (or for a new model): seq first_seq+1… carry steps 1..12 equal to ngclearn's."""
    ref = fixture_run
    updates = len(ref["loss_per_step"])
    want = first_seq + updates
    if not session.pump(20, lambda: len(session.coef.get(model, [])) and
                        decode_coefficients(session.coef[model][-1])[1]["seq"] >= want):
        raise Failure(f"{model}: updates up to seq {want} did not all arrive")
    seen = {}
    for frames in session.coef[model]:
        _, body, coef = decode_coefficients(frames)
        seen[body["seq"]] = (body, coef)
    for k in range(1, updates + 1):
        seq = first_seq + k
        if seq not in seen:
            raise Failure(f"{model}: seq {seq} missing")
        body, coef = seen[seq]
        if body["step"] != k or body["samples"] != 50 * k:
            raise Failure(f"{model} seq {seq}: step {body['step']} samples {body['samples']}, expected step {k}")
        want_loss = -ref["loss_per_step"][k - 1]
        if rel_err(body["loss"], want_loss) > TOL:
            raise Failure(f"{model} seq {seq}: loss {body['loss']} vs ngclearn {want_loss}")
        err = coefficient_error(coef, chk.trajectory[k - 1][1], threshold)
        if err > TOL:
            raise Failure(f"{model} seq {seq}: coefficients off the reference by {err:.3g}")
    _, last = seen[want]
    err = coefficient_error(last, ref["W_final"], threshold)
    if err > TOL:
        raise Failure(f"{model}: final coefficients off ngclearn's W_final by {err:.3g}")
    return seen


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description="hebbd control-socket scenario")
    ap.add_argument("--ingest", required=True)
    ap.add_argument("--publish", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--fixture", default=os.path.join(here, "..", "..", "Fixtures", "ngclearn_sys1.json"))
    ap.add_argument("--model", default="ctl")
    ap.add_argument("--run", default="lasso_adam")
    ap.add_argument("--heartbeat", type=float, default=0, help="the daemon's publish.heartbeat in seconds (0: do not check)")
    args = ap.parse_args()
    fixture, x, y = load_fixture(args.fixture)
    model = args.model
    p = run_parameters(fixture, args.run)
    ref = fixture["runs_minibatch_repeated_fit"][args.run]
    summary = {"ok": False}
    s = Session(args)
    with reporting(summary, s.ctx):
        chk = ModelCheck(model, args.run, fixture, x, y)
        s.subscribe(f"coef/{model}/")
        s.subscribe("event/")
        if args.heartbeat > 0:
            s.subscribe("hb/")
        s.sub.connect(args.publish)
        if not s.pump(10, lambda: model in s.coef):
            raise Failure(f"no initial state of {model} within 10 s")

        # 1. The scenario, every update checked.
        errors = []
        s.stream(model, x, y, p["passes"])
        s.pump(20, lambda: len(s.coef[model]) >= 13)
        for frames in s.coef[model]:
            chk.accept(frames, errors)
        if errors or not chk.done:
            raise Failure(f"first stream: {errors[:3] or f'last seq {chk.last_seq}'}")
        last_body = json.loads(s.coef[model][-1][1])

        # 2. snapshot = the last published message (but for its time stamp).
        snap = s.request({"cmd": "snapshot", "model": model})["snapshot"]
        for key in set(last_body) | set(snap):
            if key != "time" and snap.get(key) != last_body.get(key):
                raise Failure(f"snapshot {key} = {snap.get(key)!r}, last published {last_body.get(key)!r}")
        summary["snapshot_time_differs"] = snap.get("time") != last_body.get("time")
        s.request({"cmd": "snapshot", "model": "nope"}, ok=False)

        # 3. predict: X·C with C the published coefficients (W_final with |w| < threshold set to 0).
        w_final = np.asarray(ref["W_final"], dtype=np.float64)
        w_final = np.where(np.abs(w_final) >= p["threshold"], w_final, 0.0)
        rows = x[:7].astype(np.float64)
        reply = s.request({"cmd": "predict", "model": model, "x": rows.tolist()})
        got = np.asarray(reply["y"], dtype=np.float64)
        want = rows @ w_final
        if got.shape != want.shape or np.abs(got - want).max() > 1e-4 * max(1, np.abs(want).max()):
            raise Failure(f"predict {got.ravel()} vs X·C_final {want.ravel()}")
        summary["predict_max_abs_err"] = float(np.abs(got - want).max())
        one = s.request({"cmd": "predict", "model": model, "x": rows[0].tolist()})["y"]
        if len(one) != 1 or abs(one[0][0] - want[0, 0]) > 1e-4:
            raise Failure(f"predict of one flat row: {one}")
        bad = s.request({"cmd": "predict", "model": model, "x": [[1.0, 2.0]]}, ok=False)
        summary["predict_error"] = bad.get("error")

        # 4. checkpoint.
        written = s.request({"cmd": "checkpoint", "model": model})["written"]
        path = written.get(model)
        if not path or not os.path.isfile(path):
            raise Failure(f"checkpoint reply {written}: no file")
        ev = s.event(model, "checkpoint")
        if ev.get("path") != path:
            raise Failure(f"checkpoint event {ev} names another file than the reply ({path})")
        summary["checkpoint"] = path

        # 5. reset → seq 13 with the initial state, then the same trajectory again.
        s.request({"cmd": "reset", "model": model})
        s.event(model, "reset")
        s.pump(3, lambda: json.loads(s.coef[model][-1][1])["seq"] >= 13)
        _, body, coef = decode_coefficients(s.coef[model][-1])
        if (body["seq"], body["step"], body["samples"], body["loss"]) != (13, 0, 0, None):
            raise Failure(f"after reset: seq {body['seq']} step {body['step']} samples {body['samples']} loss {body['loss']}")
        if coefficient_error(coef, np.full((20, 1), p["weight_fill"], dtype=np.float32), p["threshold"]) > 1e-6:
            raise Failure("after reset the coefficients are not weight_fill")
        s.stream(model, x, y, p["passes"])
        check_replay(s, model, chk, 13, ref, p["threshold"], x, y, p["passes"])

        # 6. set.
        reply = s.request({"cmd": "set", "model": model, "lr": 0.005, "threshold": 0.01})
        if abs(reply["model"]["lr"] - 0.005) > 1e-9 or abs(reply["model"]["threshold"] - 0.01) > 1e-9:
            raise Failure(f"set reply {reply}")
        ev = s.event(model, "set")
        if sorted(ev.get("changed", [])) != ["lr", "threshold"]:
            raise Failure(f"set event {ev}")
        listed = {m["name"]: m for m in s.request({"cmd": "models"})["models"]}
        if abs(listed[model]["lr"] - 0.005) > 1e-9:
            raise Failure(f"models after set: {listed[model]}")
        for bad in ({"batch_size": 10}, {"lr": "fast"}, {"epochs": 1.5}, {"lr": -1}, {}):
            s.request({"cmd": "set", "model": model, **bad}, ok=False)

        # 7. add / remove a model at run time.
        extra = "extra"
        q = run_parameters(fixture, "ridge_sgd")
        table = {"name": extra, "kind": q["kind"], "dict_dim": 20, "sys_dim": 1, "batch_size": 50, "epochs": 1,
                 "optim": q["optim"], "lr": q["lr"], "lmbda": q["lmbda"], "threshold": q["threshold"],
                 "weight_fill": q["weight_fill"]}
        added = s.request({"cmd": "add", "model": table})["model"]
        if added.get("name") != extra or added.get("step") != 0:
            raise Failure(f"add reply {added}")
        s.event(extra, "added")
        s.subscribe(f"coef/{extra}/")  # a new subscription: the new model's initial state at once
        if not s.pump(2, lambda: extra in s.coef):
            raise Failure("no initial state of the added model within 2 s of subscribing")
        if json.loads(s.coef[extra][0][1])["seq"] != 0:
            raise Failure(f"added model's first message: {s.coef[extra][0][1][:200]}")
        s.request({"cmd": "add", "model": table}, ok=False)                       # duplicate
        s.request({"cmd": "add", "model": {**table, "name": "x2", "bogus": 1}}, ok=False)
        s.request({"cmd": "add", "model": {**table, "name": "bad/name"}}, ok=False)
        s.request({"cmd": "add"}, ok=False)
        s.stream(extra, x, y, q["passes"])
        extra_chk = ModelCheck(extra, "ridge_sgd", fixture, x, y)
        check_replay(s, extra, extra_chk, 0, fixture["runs_minibatch_repeated_fit"]["ridge_sgd"], q["threshold"], x, y, q["passes"])
        before = s.request({"cmd": "status"})["rejected"].get("unknown_model", 0)
        s.request({"cmd": "remove", "model": extra})
        s.event(extra, "removed")
        s.request({"cmd": "remove", "model": extra}, ok=False)
        s.stream(extra, x[:50], y[:50], 1)
        if not s.pump(3, lambda: s.request({"cmd": "status"})["rejected"].get("unknown_model", 0) == before + 1):
            raise Failure("rows for a removed model were not rejected as unknown_model")

        # 8. malformed requests, and the REP socket still answers.
        for raw in (b"not json", b"[1, 2]", b'{"model": "ctl"}', b'{"cmd": "fly"}'):
            r = control_frames(args.control, [raw])
            if r.get("ok") is not False or not r.get("error"):
                raise Failure(f"request {raw!r} → {r}")
        r = control_frames(args.control, [b'{"cmd": "status"}', b"second frame"])
        if r.get("ok") is not False:
            raise Failure(f"two-frame request → {r}")
        s.request({"cmd": "status"})

        # 9. heartbeat while idle.
        if args.heartbeat > 0:
            s.heartbeats.clear()
            if not s.pump(args.heartbeat + 1.5, lambda: bool(s.heartbeats)):
                raise Failure(f"no hb/ within {args.heartbeat + 1.5} s of idling")
            hb = s.heartbeats[0][1]
            if hb.get("v") != 1 or not RFC3339.match(hb.get("time", "")) or hb.get("models") != 1 or not isinstance(hb.get("uptime"), (int, float)):
                raise Failure(f"heartbeat {hb}")
            summary["heartbeat"] = hb

        summary["events"] = sorted({f"{m}:{b.get('event')}" for m, b in s.events})
        succeed(summary)


if __name__ == "__main__":
    main()
