#!/usr/bin/env python3
"""The hostile-input campaign against two real daemons with the same model config:

  A gets a deterministic stream of valid messages with malformed ingest messages interleaved (every kind of
    KINDS, `--rounds` times, in a seeded order, on the same PUSH connection as the valid ones — except the kinds that
    libzmq itself drops, which go on their own throwaway connections), and every kind of malformed control
    request (CONTROL_KINDS);
  B gets the valid messages alone, in the same order.

Checks (any failure exits 1 with the summary so far):
  * each malformed message is counted as soon as it has been received, by exactly the expected reason — both in
    `status.rejected` and in the model's own `rejected` (checked message by message: the script waits until
    `status.messages` shows it arrived, then compares every reason's count with what it sent);
  * every malformed control request gets an {"ok": false, "error": …} reply (or, for a frame over
    max_message_bytes, none: libzmq drops it and resets the connection), and the next request is answered;
  * afterwards A answers `status` at once; `status.rejected` and `/metrics` `hebbd_rejected_messages_total{reason}`
    equal what was sent, per reason; A's RSS (VmRSS, VmHWM in /proc/PID/status) stays under --rss-limit-mb;
  * the learned state of A and B is identical bit for bit: the published coefficient frame (publish.format =
    "binary", the late joiner's copy), the snapshot's intercept and statistics, and every array of a checkpoint
    written on request (weights, optimiser moments, intercept, moments, generator, pending rows) — so the hostile
    traffic changed nothing.

Prints one JSON summary line (e2e_common.succeed): kinds, counts per reason, RSS, latencies.
"""

import argparse
import json
import random
import time
import urllib.request

import numpy as np
import zmq

from e2e_common import Failure, reporting, succeed
from hebbd import Control, HebbdTimeout
from hebbd.checkpoint import CheckpointError, load as load_checkpoint
from hebbd.proc import memory_mib

from hebbd.malformed import DROPPED, REASONS, control_kinds, ingest_kinds



# ---------------------------------------------------------------------------------------------------------------
# The valid stream


class ValidStream:
    """Deterministic valid messages for model `name` (d features, s targets) in every accepted form."""

    def __init__(self, name, d, s, seed):
        self.name, self.d, self.s = name, d, s
        self.rng = np.random.default_rng(seed)
        self.w = self.rng.normal(size=(d, s)).astype(np.float32)
        self.sent_rows = 0
        self.seq = 0

    def rows(self, n):
        x = self.rng.normal(size=(n, self.d)).astype(np.float32)
        # Subnormals and signed zeros are finite: valid values, learned by both daemons alike.
        if n > 1:
            x[0, 0] = np.float32(1e-40)
            x[1, -1] = np.float32(-0.0)
        y = (x @ self.w + 0.1 * self.rng.normal(size=(n, self.s))).astype(np.float32)
        return x, y

    def message(self, i):
        form = i % 6
        n = 1 if form == 1 else int(self.rng.integers(1, 13))
        x, y = self.rows(n)
        self.sent_rows += n
        name = self.name.encode()
        if form == 0:    # inline, rows of rows
            body = {"x": [[float(v) for v in r] for r in x], "y": [[float(v) for v in r] for r in y]}
            return [name, json.dumps(body).encode()]
        if form == 1:    # inline, one flat row, with the optional keys
            self.seq += 1
            body = {"x": [float(v) for v in x[0]], "y": [float(v) for v in y[0]], "producer": "campaign",
                    "seq": self.seq, "v": 1, "note": "unknown keys are ignored"}
            return [name, json.dumps(body).encode()]
        if form in (2, 3):   # binary float32 ("float32" / "<f4")
            dtype = "float32" if form == 2 else "<f4"
            return [name, json.dumps({"dtype": dtype, "rows": n}).encode(), x.astype("<f4").tobytes(), y.astype("<f4").tobytes()]
        if form == 4:    # binary float64: exact float32 values widened, rounded back exactly by the daemon
            return [name, json.dumps({"dtype": "<f8", "rows": n, "v": 1}).encode(), x.astype("<f8").tobytes(), y.astype("<f8").tobytes()]
        self.seq += 1
        return [name, json.dumps({"dtype": "float64", "rows": n, "producer": "campaign", "seq": self.seq}).encode(),
                x.astype("<f8").tobytes(), y.astype("<f8").tobytes()]


# ---------------------------------------------------------------------------------------------------------------
# Malformed ingest messages: (kind, expected reason, builder(ctx) -> frames)


def scrape_rejections(metrics):
    text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5).read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("hebbd_rejected_messages_total{"):
            labels, value = line.rsplit(" ", 1)
            reason = labels.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = counts.get(reason, 0) + int(float(value))
    return counts, text


def read_checkpoint(path):
    """{array name: raw bytes} and the header of a verified checkpoint file (hebbd.checkpoint)."""
    try:
        cp = load_checkpoint(path)
    except CheckpointError as error:
        raise Failure(f"{path}: {error}")
    return cp.header, {name: a.raw for name, a in cp.arrays.items()}


def main():
    ap = argparse.ArgumentParser()
    for side in ("a", "b"):
        ap.add_argument(f"--{side}-ingest", required=True)
        ap.add_argument(f"--{side}-control", required=True)
        ap.add_argument(f"--{side}-publish", required=True)
    ap.add_argument("--a-metrics", required=True)
    ap.add_argument("--a-pid", type=int, required=True)
    ap.add_argument("--model", default="h")
    ap.add_argument("--dict-dim", type=int, default=4)
    ap.add_argument("--sys-dim", type=int, default=2)
    ap.add_argument("--max-bytes", type=int, required=True, help="limits.max_message_bytes of A")
    ap.add_argument("--max-rows", type=int, required=True, help="limits.max_rows_per_message of A")
    ap.add_argument("--valid", type=int, default=400, help="valid messages")
    ap.add_argument("--rounds", type=int, default=2, help="times every malformed kind is sent")
    ap.add_argument("--seed", type=int, default=9)
    ap.add_argument("--rss-limit-mb", type=float, default=400)
    args = ap.parse_args()

    ctx = zmq.Context()
    summary = {"ok": False}
    with reporting(summary, ctx):
        a_ctl, b_ctl = Control(args.a_control, timeout=10, context=ctx), Control(args.b_control, timeout=10, context=ctx)
        name, d, s = args.model, args.dict_dim, args.sys_dim
        kinds = ingest_kinds(name, d, s, args.max_bytes, args.max_rows)
        ckinds = control_kinds(name, d, args.max_bytes)
        summary["ingest_kinds"] = len(kinds)
        summary["control_kinds"] = len(ckinds)
        models_before = a_ctl.request({"cmd": "models"})
        rss_start = memory_mib(args.a_pid)

        a_push = ctx.socket(zmq.PUSH)
        a_push.setsockopt(zmq.LINGER, 5000)
        a_push.connect(args.a_ingest)
        b_push = ctx.socket(zmq.PUSH)
        b_push.setsockopt(zmq.LINGER, 5000)
        b_push.connect(args.b_ingest)

        # The schedule: every kind `rounds` times in a seeded order, spread over the valid stream; control kinds
        # in between, too.
        order = random.Random(args.seed)
        hostile = [k for _ in range(args.rounds) for k in kinds]
        order.shuffle(hostile)
        controls = list(ckinds)
        order.shuffle(controls)
        slots = sorted(order.randrange(args.valid + 1) for _ in hostile)
        cslots = sorted(order.randrange(args.valid + 1) for _ in controls)
        stream_a = ValidStream(name, d, s, args.seed)
        stream_b = ValidStream(name, d, s, args.seed)

        expected = {r: 0 for r in REASONS}
        expected_model = {r: 0 for r in REASONS}
        sent_messages = 0   # messages that reach A (all but DROPPED)
        by_kind = {}
        mismatches = []
        dropped_checked = 0
        control_results = {}
        next_status_ms = []

        def settle(target):
            deadline = time.monotonic() + 20
            while True:
                st = a_ctl.request({"cmd": "status"})
                if st["messages"] >= target:
                    return st
                if time.monotonic() > deadline:
                    raise Failure(f"A received {st['messages']} messages; expected {target}")
                time.sleep(0.002)

        h = c = 0
        for i in range(args.valid + 1):
            while h < len(hostile) and slots[h] == i:
                kind, reason, build = hostile[h]
                frames = build()
                h += 1
                if reason == DROPPED:
                    # Its own connection: libzmq resets it when the frame exceeds ZMQ_MAXMSGSIZE.
                    throwaway = ctx.socket(zmq.PUSH)
                    throwaway.setsockopt(zmq.LINGER, 0)
                    throwaway.connect(args.a_ingest)
                    throwaway.send_multipart(frames)
                    time.sleep(0.3)
                    throwaway.close()
                    st = settle(sent_messages)
                    if st["messages"] != sent_messages or st["rejected"] != {r: n for r, n in expected.items() if n}:
                        mismatches.append({"kind": kind, "expected": "nothing counted", "messages": st["messages"],
                                           "rejected": st["rejected"]})
                    dropped_checked += 1
                    by_kind[kind] = reason
                    continue
                a_push.send_multipart(frames)
                sent_messages += 1
                expected[reason] += 1
                named = frames[0] == name.encode() if frames else False
                if named:
                    expected_model[reason] += 1
                st = settle(sent_messages)
                got = {r: n for r, n in st["rejected"].items() if n}
                want = {r: n for r, n in expected.items() if n}
                got_model = {r: n for r, n in st["models"][name]["rejected"].items() if n}
                want_model = {r: n for r, n in expected_model.items() if n}
                if got != want or got_model != want_model:
                    diff = {r: st["rejected"].get(r, 0) - expected[r] for r in REASONS if st["rejected"].get(r, 0) != expected[r]}
                    mismatches.append({"kind": kind, "expected": reason, "difference": diff})
                    # Resynchronise on what the daemon counted, so one surprise is reported once.
                    for r in REASONS:
                        expected[r] = st["rejected"].get(r, 0)
                        expected_model[r] = st["models"][name]["rejected"].get(r, 0)
                by_kind[kind] = reason
            while c < len(controls) and cslots[c] == i:
                kind, frames, expect = controls[c]
                c += 1
                with Control(args.a_control, context=ctx) as req:
                    try:
                        reply = json.loads(req.exchange(frames, 2 if expect == "no_reply" else 10, what=kind)[0])
                    except HebbdTimeout:
                        reply = None
                if expect == "error":
                    good = isinstance(reply, dict) and reply.get("ok") is False and isinstance(reply.get("error"), str)
                else:
                    good = reply is None
                control_results[kind] = "ok" if good else f"unexpected reply {reply!r}"[:300]
                # The control socket answers the next request at once.
                t0 = time.monotonic()
                a_ctl.request({"cmd": "status"}, timeout=5)
                next_status_ms.append((time.monotonic() - t0) * 1000)
            if i < args.valid:
                frames_a = stream_a.message(i)
                a_push.send_multipart(frames_a)
                b_push.send_multipart(stream_b.message(i))
                sent_messages += 1

        summary["hostile_messages_sent"] = len(hostile)
        summary["valid_messages"] = args.valid
        summary["valid_rows"] = stream_a.sent_rows
        summary["dropped_by_libzmq_checked"] = dropped_checked
        if mismatches:
            summary["mismatches"] = mismatches
            raise Failure(f"{len(mismatches)} malformed messages were not counted as expected: {mismatches[:5]}")
        bad_controls = {k: v for k, v in control_results.items() if v != "ok"}
        summary["control_results"] = control_results
        summary["status_after_each_control_max_ms"] = round(max(next_status_ms), 2)
        if bad_controls:
            raise Failure(f"control requests answered wrongly: {bad_controls}")

        # Settled: everything received and learned on both sides.
        def wait_samples(client, rows, messages=None):
            deadline = time.monotonic() + 60
            while True:
                st = client.request({"cmd": "status"})
                m = st["models"][name]
                # `samples` counts rows learned (whole batches); the rest wait in the batch buffer.
                if m["samples"] + m["buffered"] == rows and (messages is None or st["messages"] == messages):
                    return st
                if time.monotonic() > deadline:
                    raise Failure(f"{client.endpoint}: samples {m['samples']} + buffered {m['buffered']} (expected {rows}), "
                                  f"messages {st['messages']}")
                time.sleep(0.02)

        t0 = time.monotonic()
        a_ctl.request({"cmd": "status"})
        summary["status_after_campaign_ms"] = round((time.monotonic() - t0) * 1000, 2)
        st_a = wait_samples(a_ctl, stream_a.sent_rows, sent_messages)
        st_b = wait_samples(b_ctl, stream_b.sent_rows, args.valid)
        t0 = time.monotonic()
        a_ctl.request({"cmd": "status"})
        summary["status_settled_ms"] = round((time.monotonic() - t0) * 1000, 2)

        want = {r: n for r, n in expected.items() if n}
        summary["rejected_expected"] = want
        summary["rejected_status"] = st_a["rejected"]
        if {r: n for r, n in st_a["rejected"].items() if n} != want:
            raise Failure(f"status.rejected {st_a['rejected']} != sent {want}")
        if sum(st_b["rejected"].values()) != 0:
            raise Failure(f"B rejected valid messages: {st_b['rejected']}")
        metrics, text = scrape_rejections(args.a_metrics)
        summary["rejected_metrics"] = metrics
        if {r: n for r, n in metrics.items() if n} != want:
            raise Failure(f"/metrics hebbd_rejected_messages_total {metrics} != sent {want}")
        for line in text.splitlines():
            if line.startswith("hebbd_samples_received_total "):
                summary["metrics_samples_received"] = int(float(line.split()[1]))
        if summary.get("metrics_samples_received") not in (None, stream_a.sent_rows):
            raise Failure(f"/metrics samples {summary['metrics_samples_received']} != valid rows {stream_a.sent_rows}")

        # Memory.
        rss_end = memory_mib(args.a_pid)
        summary["rss_mib"] = {"start": rss_start, "end": rss_end}
        if rss_end["VmHWM"] > args.rss_limit_mb:
            raise Failure(f"A's peak RSS {rss_end['VmHWM']:.0f} MiB exceeds {args.rss_limit_mb} MiB")

        # Models unchanged by the control garbage.
        models_after = a_ctl.request({"cmd": "models"})
        strip = lambda r: [{k: v for k, v in m.items() if k != "step"} for m in r["models"]]
        if strip(models_after) != strip(models_before):
            raise Failure(f"models changed: {models_before} → {models_after}")

        # Learned state: A == B, bit for bit.
        for key in ("step", "samples", "seq", "buffered", "loss", "prequential_mse"):
            if st_a["models"][name][key] != st_b["models"][name][key]:
                raise Failure(f"status.models.{name}.{key}: A {st_a['models'][name][key]} != B {st_b['models'][name][key]}")
        frames = {}
        for side, endpoint in (("a", args.a_publish), ("b", args.b_publish)):
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, f"coef/{name}/".encode())
            sub.connect(endpoint)
            if not sub.poll(10_000):
                raise Failure(f"no coefficient message from {side} (late-joiner copy)")
            frames[side] = sub.recv_multipart()
            sub.close()
        if len(frames["a"]) != 3:
            raise Failure("publish.format must be binary for the bit-for-bit comparison")
        body_a, body_b = json.loads(frames["a"][1]), json.loads(frames["b"][1])
        if frames["a"][2] != frames["b"][2]:
            raise Failure("published coefficient frames differ between A and B")
        for key in ("seq", "step", "samples", "intercept", "nnz", "prequential_mse"):
            if body_a[key] != body_b[key]:
                raise Failure(f"published {key}: A {body_a[key]} != B {body_b[key]}")
        snap_a = a_ctl.request({"cmd": "snapshot", "model": name})["snapshot"]
        snap_b = b_ctl.request({"cmd": "snapshot", "model": name})["snapshot"]
        for key in ("coefficients", "intercept", "statistics", "loss", "mse", "step", "samples"):
            if snap_a.get(key) != snap_b.get(key):
                raise Failure(f"snapshot {key}: A {snap_a.get(key)} != B {snap_b.get(key)}")
        path_a = a_ctl.request({"cmd": "checkpoint"}, timeout=30)["written"][name]
        path_b = b_ctl.request({"cmd": "checkpoint"}, timeout=30)["written"][name]
        (ha, arrays_a), (hb, arrays_b) = read_checkpoint(path_a), read_checkpoint(path_b)
        compared = []
        for array in sorted(set(arrays_a) | set(arrays_b)):
            if array == "wall_clock":
                continue
            if arrays_a.get(array) != arrays_b.get(array):
                raise Failure(f"checkpoint array {array} differs between A and B")
            compared.append(array)
        summary["checkpoint_arrays_identical"] = compared
        summary["coefficient_bytes_identical"] = len(frames["a"][2])
        summary["step"] = st_a["models"][name]["step"]
        summary["samples"] = st_a["models"][name]["samples"]
        summary["kinds"] = {kind: reason for kind, reason in sorted(by_kind.items())}
        for sock in (a_push, b_push):
            sock.close()
        succeed(summary)


if __name__ == "__main__":
    main()
