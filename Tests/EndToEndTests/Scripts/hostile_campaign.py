#!/usr/bin/env python3
"""The hostile-input campaign (issue 9) against two real daemons with the same model config:

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
import math
import random
import struct
import sys
import time
import urllib.request

import numpy as np
import zmq

from e2e_common import Failure, control, reporting, succeed

REASONS = ["frame_count", "unknown_model", "bad_json", "bad_header", "dimensions", "non_finite", "byte_size", "too_large"]
DROPPED = "dropped_by_libzmq"   # a frame over ZMQ_MAXMSGSIZE: never reaches the daemon, never counted

F32_NAN = struct.pack("<I", 0x7FC00000)
F32_SNAN = struct.pack("<I", 0x7F800001)    # signalling NaN with a payload
F32_INF = struct.pack("<f", math.inf)
F32_NINF = struct.pack("<f", -math.inf)
F64_NAN = struct.pack("<d", math.nan)
F64_INF = struct.pack("<d", math.inf)


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


def ingest_kinds(name, d, s, max_bytes, max_rows):
    m = name.encode()
    r = random.Random(1234)

    def f32(*v):
        return struct.pack(f"<{len(v)}f", *v)

    def f64(*v):
        return struct.pack(f"<{len(v)}d", *v)

    def bhdr(rows=1, dtype="float32", **extra):
        h = {"dtype": dtype, "rows": rows}
        h.update(extra)
        return json.dumps(h).encode()

    ones_x, ones_y = f32(*([1.0] * d)), f32(*([1.0] * s))
    ones_x8, ones_y8 = f64(*([1.0] * d)), f64(*([1.0] * s))
    row_x, row_y = [1.0] * d, [1.0] * s

    def inline(x, y, **extra):
        h = {"x": x, "y": y}
        h.update(extra)
        return [m, json.dumps(h).encode()]

    def rand(n):
        return bytes(r.getrandbits(8) for _ in range(n))

    big = max_bytes * 6 // 10       # two frames of this size: each under the limit, together over it
    k = []
    add = lambda kind, reason, build: k.append((kind, reason, build))

    # frame counts
    add("one frame (name only)", "frame_count", lambda: [m])
    add("three frames", "frame_count", lambda: [m, bhdr(), ones_x])
    add("five frames", "frame_count", lambda: [m, bhdr(), ones_x, ones_y, b""])
    add("six frames of random bytes", "frame_count", lambda: [m] + [rand(17) for _ in range(5)])
    add("10000 empty frames", "frame_count", lambda: [m] + [b""] * 9999)
    # model names
    add("empty model name", "unknown_model", lambda: [b"", bhdr(), ones_x, ones_y])
    add("unknown model", "unknown_model", lambda: [b"nosuchmodel", bhdr(), ones_x, ones_y])
    add("model name differs in case", "unknown_model", lambda: [m.upper() + b"X", bhdr(), ones_x, ones_y])
    add("model name with trailing NUL", "unknown_model", lambda: [m + b"\x00", bhdr(), ones_x, ones_y])
    add("model name with a newline (log forgery)", "unknown_model",
        lambda: [m + b"\n2026-01-01 critical forged line", bhdr(), ones_x, ones_y])
    add("model name: invalid UTF-8 (0xff)", "unknown_model", lambda: [b"\xff\xfe" + m, bhdr(), ones_x, ones_y])
    add("model name: overlong UTF-8 '/'", "unknown_model", lambda: [b"\xc0\xaf", bhdr(), ones_x, ones_y])
    add("model name: lone surrogate (CESU-8 ED A0 80)", "unknown_model", lambda: [m + b"\xed\xa0\x80", bhdr(), ones_x, ones_y])
    add("model name: truncated UTF-8 sequence", "unknown_model", lambda: [m + b"\xe2\x82", bhdr(), ones_x, ones_y])
    add("model name of 100 KB", "unknown_model", lambda: [b"h" * 100_000, bhdr(), ones_x, ones_y])
    add("random bytes in all 4 frames, random name", "unknown_model", lambda: [b"\xff" + rand(7), rand(30), rand(16), rand(4)])
    # the header's JSON
    add("header: random bytes", "bad_json", lambda: [m, b"\x00" + rand(40), ones_x, ones_y])
    add("header: empty", "bad_json", lambda: [m, b"", ones_x, ones_y])
    add("header: truncated object", "bad_json", lambda: [m, b'{"dtype": "float32", "rows": 1', ones_x, ones_y])
    add("header: a JSON array", "bad_json", lambda: [m, b"[1, 2]", ones_x, ones_y])
    add("header: a JSON string", "bad_json", lambda: [m, b'"float32"', ones_x, ones_y])
    add("header: null", "bad_json", lambda: [m, b"null", ones_x, ones_y])
    add("header: trailing garbage after the object", "bad_json", lambda: [m, bhdr() + b" }", ones_x, ones_y])
    add("header: UTF-8 BOM before the object", "bad_json", lambda: [m, b"\xef\xbb\xbf" + bhdr(), ones_x, ones_y])
    add("header: depth bomb, 100000 nested arrays", "bad_json", lambda: [m, b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])
    add("header: depth bomb, 65 nested objects", "bad_json", lambda: [m, b'{"a":' * 65 + b"1" + b"}" * 65, ones_x, ones_y])
    add("header: invalid UTF-8 inside a string", "bad_json", lambda: [m, b'{"dtype": "float32\xff", "rows": 1}', ones_x, ones_y])
    add("header: lone high surrogate escape", "bad_json", lambda: [m, b'{"dtype": "float32", "rows": 1, "producer": "\\ud800"}', ones_x, ones_y])
    add("header: lone low surrogate escape", "bad_json", lambda: [m, b'{"dtype": "float32", "rows": 1, "producer": "\\udc00x"}', ones_x, ones_y])
    add("header: raw control character in a string", "bad_json", lambda: [m, b'{"dtype": "float\x0132", "rows": 1}', ones_x, ones_y])
    add("header: NaN literal", "bad_json", lambda: [m, b'{"x": [NaN, 1, 2, 3], "y": [1, 2]}'])
    add("header: Infinity literal", "bad_json", lambda: [m, b'{"x": [Infinity, 1, 2, 3], "y": [1, 2]}'])
    add("header: single-quoted keys", "bad_json", lambda: [m, b"{'dtype': 'float32', 'rows': 1}", ones_x, ones_y])
    add("header: leading zero number", "bad_json", lambda: [m, b'{"dtype": "float32", "rows": 01}', ones_x, ones_y])
    # header keys: missing, mistyped, lying
    add("binary: dtype missing", "bad_header", lambda: [m, b'{"rows": 1}', ones_x, ones_y])
    add("binary: dtype unknown (int8)", "bad_header", lambda: [m, bhdr(dtype="int8"), ones_x, ones_y])
    add("binary: dtype big-endian >f4", "bad_header", lambda: [m, bhdr(dtype=">f4"), ones_x, ones_y])
    add("binary: dtype a number", "bad_header", lambda: [m, b'{"dtype": 4, "rows": 1}', ones_x, ones_y])
    add("binary: rows missing", "bad_header", lambda: [m, b'{"dtype": "float32"}', ones_x, ones_y])
    add("binary: rows 0", "bad_header", lambda: [m, bhdr(rows=0), b"", b""])
    add("binary: rows -1", "bad_header", lambda: [m, bhdr(rows=-1), ones_x, ones_y])
    add("binary: rows 1.5", "bad_header", lambda: [m, bhdr(rows=1.5), ones_x, ones_y])
    add("binary: rows a string", "bad_header", lambda: [m, bhdr(rows="1"), ones_x, ones_y])
    add("binary: rows true", "bad_header", lambda: [m, bhdr(rows=True), ones_x, ones_y])
    add("binary: rows 2^64 (beyond int64)", "bad_header", lambda: [m, b'{"dtype": "float32", "rows": 18446744073709551616}', ones_x, ones_y])
    add("version 2", "bad_header", lambda: [m, bhdr(v=2), ones_x, ones_y])
    add("version \"1\" (a string)", "bad_header", lambda: [m, bhdr(v="1"), ones_x, ones_y])
    add("producer a number", "bad_header", lambda: [m, bhdr(producer=7), ones_x, ones_y])
    add("seq negative", "bad_header", lambda: [m, bhdr(seq=-1), ones_x, ones_y])
    add("seq 1.5", "bad_header", lambda: [m, bhdr(seq=1.5), ones_x, ones_y])
    add("seq a string", "bad_header", lambda: [m, bhdr(seq="7"), ones_x, ones_y])
    add("inline: x missing", "bad_header", lambda: [m, json.dumps({"y": row_y}).encode()])
    add("inline: y missing", "bad_header", lambda: [m, json.dumps({"x": row_x}).encode()])
    add("inline: x a string", "bad_header", lambda: inline("1,2,3,4", row_y))
    add("inline: x an object", "bad_header", lambda: inline({"0": 1}, row_y))
    add("inline: x null", "bad_header", lambda: inline(None, row_y))
    add("inline: x true", "bad_header", lambda: inline(True, row_y))
    add("inline: a cell is a string", "bad_header", lambda: inline([["1"] + row_x[1:]], [row_y]))
    add("inline: a cell is null", "bad_header", lambda: inline([[None] + row_x[1:]], [row_y]))
    add("inline: rows and numbers mixed", "bad_header", lambda: inline([row_x, 1.0], [row_y, row_y]))
    add("inline: a lone surrogate in a string cell", "bad_json", lambda: [m, b'{"x": [["\\udfff", 1, 2, 3]], "y": [[1, 2]]}'])
    # dimensions
    add("inline: x empty", "dimensions", lambda: inline([], [row_y]))
    add("inline: x [[]]", "dimensions", lambda: inline([[]], [row_y]))
    add("inline: a row one feature short", "dimensions", lambda: inline([row_x[:-1]], [row_y]))
    add("inline: a row one feature long", "dimensions", lambda: inline([row_x + [1.0]], [row_y]))
    add("inline: ragged rows", "dimensions", lambda: inline([row_x, row_x[:-1]], [row_y, row_y]))
    add("inline: x 2 rows, y 3 rows", "dimensions", lambda: inline([row_x] * 2, [row_y] * 3))
    add("inline: y a scalar for sys_dim > 1", "dimensions" if s > 1 else None, lambda: inline(row_x, 1.0))
    add("inline: y with one target too many", "dimensions", lambda: inline([row_x], [row_y + [1.0]]))
    # non-finite values, every dtype and both frames
    add("binary f32: NaN in X", "non_finite", lambda: [m, bhdr(), F32_NAN + ones_x[4:], ones_y])
    add("binary f32: signalling NaN in X", "non_finite", lambda: [m, bhdr(), ones_x[:-4] + F32_SNAN, ones_y])
    add("binary f32: +Inf in X", "non_finite", lambda: [m, bhdr(), F32_INF + ones_x[4:], ones_y])
    add("binary f32: -Inf in Y", "non_finite", lambda: [m, bhdr(), ones_x, F32_NINF + ones_y[4:]])
    add("binary f32: NaN after subnormals", "non_finite",
        lambda: [m, bhdr(rows=2), f32(*([1e-45] * d)) + f32(*([1e-40] * (d - 1))) + F32_NAN, ones_y * 2])
    add("binary f64: NaN in X", "non_finite", lambda: [m, bhdr(dtype="<f8"), F64_NAN + ones_x8[8:], ones_y8])
    add("binary f64: -Inf in Y", "non_finite", lambda: [m, bhdr(dtype="float64"), ones_x8, struct.pack("<d", -math.inf) + ones_y8[8:]])
    add("binary f64: 1e39 (finite, beyond float32)", "non_finite", lambda: [m, bhdr(dtype="<f8"), f64(1e39) + ones_x8[8:], ones_y8])
    add("binary f64: -DBL_MAX", "non_finite", lambda: [m, bhdr(dtype="<f8"), ones_x8, f64(-sys.float_info.max) + ones_y8[8:]])
    add("inline: 1e39 (beyond float32)", "non_finite", lambda: [m, b'{"x": [1e39, 1, 2, 3], "y": [1, 2]}'])
    add("inline: 1e400 (beyond float64: malformed to the parser)", "bad_json", lambda: [m, b'{"x": [[1, 2, 3, 4]], "y": [[1e400, 2]]}'])
    add("inline: -1e309 (beyond float64)", "bad_json", lambda: [m, b'{"x": [[1, 2, 3, -1e309]], "y": [[1, 2]]}'])
    # byte sizes (headers that lie)
    add("binary: rows 2, one row of bytes", "byte_size", lambda: [m, bhdr(rows=2), ones_x, ones_y])
    add("binary: rows 1, two rows of X", "byte_size", lambda: [m, bhdr(rows=1), ones_x * 2, ones_y])
    add("binary: X one byte short", "byte_size", lambda: [m, bhdr(), ones_x[:-1], ones_y])
    add("binary: Y empty", "byte_size", lambda: [m, bhdr(), ones_x, b""])
    add("binary: dtype float64, float32-sized frames", "byte_size", lambda: [m, bhdr(dtype="float64"), ones_x, ones_y])
    add("binary: dtype float32, X and Y swapped", "byte_size" if d != s else None, lambda: [m, bhdr(), ones_y, ones_x])
    add("binary: rows 1000 (at the limit), 1 row of bytes", "byte_size", lambda: [m, bhdr(rows=max_rows), ones_x, ones_y])
    # absurd sizes and row counts
    add("binary: rows max_rows + 1", "too_large", lambda: [m, bhdr(rows=max_rows + 1), ones_x, ones_y])
    add("binary: rows 2^62 (bytes would overflow)", "too_large", lambda: [m, bhdr(rows=2 ** 62), ones_x, ones_y])
    add("binary: rows int64 max", "too_large", lambda: [m, bhdr(rows=2 ** 63 - 1), ones_x, ones_y])
    add("inline: max_rows + 1 rows", "too_large", lambda: inline([row_x] * (max_rows + 1), [row_y] * (max_rows + 1)))
    add("two frames each under max_message_bytes, together over", "too_large", lambda: [m, bhdr(), b"\x00" * big, b"\x00" * big])
    add("unknown model, over max_message_bytes in total", "too_large", lambda: [b"nosuchmodel", b"{}", b"\x00" * big, b"\x00" * big])
    add("one frame over max_message_bytes (libzmq drops it)", DROPPED, lambda: [m, bhdr(), b"\x00" * (max_bytes + 1), ones_y])
    return [x for x in k if x[1] is not None]


# ---------------------------------------------------------------------------------------------------------------
# Malformed control requests: (kind, frames, expect) with expect "error" ({"ok": false}) or "no_reply"


def control_kinds(name, d, max_bytes):
    r = random.Random(99)
    row = [1.0] * d
    k = []
    add = lambda kind, frames, expect="error": k.append((kind, frames, expect))
    add("random bytes", [bytes(r.getrandbits(8) for _ in range(64))])
    add("empty request", [b""])
    add("truncated JSON", [b'{"cmd": "status"'])
    add("a JSON array", [b'["status"]'])
    add("a JSON string", [b'"status"'])
    add("null", [b"null"])
    add("a number", [b"42"])
    add("object without cmd", [b'{"model": "h"}'])
    add("cmd a number", [b'{"cmd": 1}'])
    add("cmd null", [b'{"cmd": null}'])
    add("unknown cmd", [b'{"cmd": "shutdown"}'])
    add("cmd with a lone surrogate", [b'{"cmd": "status\\ud800"}'])
    add("cmd with invalid UTF-8", [b'{"cmd": "stat\xffus"}'])
    add("depth bomb: 100000 nested arrays", [b'{"cmd": "status", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"])
    add("depth bomb: 70 nested objects", [b'{"a":' * 70 + b"1" + b"}" * 70])
    add("trailing garbage after the object", [b'{"cmd": "status"} {"cmd": "status"}'])
    add("two frames", [b'{"cmd": "status"}', b'{"cmd": "status"}'])
    add("snapshot without model", [b'{"cmd": "snapshot"}'])
    add("snapshot of an unknown model", [b'{"cmd": "snapshot", "model": "nosuchmodel"}'])
    add("snapshot, model a number", [b'{"cmd": "snapshot", "model": 5}'])
    add("snapshot, model name with a lone surrogate", [b'{"cmd": "snapshot", "model": "h\\udc00"}'])
    add("predict, x with a wrong row length", [json.dumps({"cmd": "predict", "model": name, "x": [row + [1.0]]}).encode()])
    add("predict, x a string", [json.dumps({"cmd": "predict", "model": name, "x": "1,2"}).encode()])
    add("predict, x 1e400", [b'{"cmd": "predict", "model": "' + name.encode() + b'", "x": [[1e400' + b", 1" * (d - 1) + b"]]}"])
    add("predict, x empty", [json.dumps({"cmd": "predict", "model": name, "x": []}).encode()])
    add("set lr -1", [json.dumps({"cmd": "set", "model": name, "lr": -1}).encode()])
    add("set lr a string", [json.dumps({"cmd": "set", "model": name, "lr": "fast"}).encode()])
    add("set lr 1e400", [b'{"cmd": "set", "model": "' + name.encode() + b'", "lr": 1e400}'])
    add("set epochs 0", [json.dumps({"cmd": "set", "model": name, "epochs": 0}).encode()])
    add("set epochs 10^9", [json.dumps({"cmd": "set", "model": name, "epochs": 10 ** 9}).encode()])
    add("set a valid lr together with an invalid epochs", [json.dumps({"cmd": "set", "model": name, "lr": 0.5, "epochs": -3}).encode()])
    add("set a valid threshold together with an unknown key", [json.dumps({"cmd": "set", "model": name, "threshold": 0.5, "dict_dim": 9}).encode()])
    add("set on an unknown model", [json.dumps({"cmd": "set", "model": "nosuchmodel", "lr": 0.1}).encode()])
    add("reset an unknown model", [json.dumps({"cmd": "reset", "model": "nosuchmodel"}).encode()])
    add("remove an unknown model", [json.dumps({"cmd": "remove", "model": "nosuchmodel"}).encode()])
    add("add: model not an object", [json.dumps({"cmd": "add", "model": "h2"}).encode()])
    add("add: a name that exists", [json.dumps({"cmd": "add", "model": {"name": name, "kind": "lasso", "dict_dim": d}}).encode()])
    add("add: a name with a slash", [json.dumps({"cmd": "add", "model": {"name": "a/b", "kind": "lasso", "dict_dim": 2}}).encode()])
    add("add: a 65-character name", [json.dumps({"cmd": "add", "model": {"name": "n" * 65, "kind": "lasso", "dict_dim": 2}}).encode()])
    add("add: kind missing", [json.dumps({"cmd": "add", "model": {"name": "h2", "dict_dim": 2}}).encode()])
    add("add: dict_dim 0", [json.dumps({"cmd": "add", "model": {"name": "h2", "kind": "lasso", "dict_dim": 0}}).encode()])
    add("add: dict_dim a string", [json.dumps({"cmd": "add", "model": {"name": "h2", "kind": "lasso", "dict_dim": "4"}}).encode()])
    add("add: dict_dim × sys_dim over 2^31", [json.dumps({"cmd": "add", "model": {"name": "h2", "kind": "lasso", "dict_dim": 2 ** 20, "sys_dim": 2 ** 12}}).encode()])
    add("add: an unknown key", [json.dumps({"cmd": "add", "model": {"name": "h2", "kind": "lasso", "dict_dim": 2, "colour": "red"}}).encode()])
    add("a frame over max_message_bytes", [b'{"cmd": "status", "pad": "' + b" " * (max_bytes + 1) + b'"}'], "no_reply")
    return k


# ---------------------------------------------------------------------------------------------------------------


def scrape_rejections(metrics):
    text = urllib.request.urlopen(f"http://{metrics}/metrics", timeout=5).read().decode()
    counts = {}
    for line in text.splitlines():
        if line.startswith("hebbd_rejected_messages_total{"):
            labels, value = line.rsplit(" ", 1)
            reason = labels.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = counts.get(reason, 0) + int(float(value))
    return counts, text


def rss(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024.0   # kB → MiB
    return fields


def read_checkpoint(path):
    """{array name: raw bytes} and the header of a checkpoint file (docs/CHECKPOINTS.md)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"HEBBCKPT":
        raise Failure(f"{path}: not a checkpoint")
    h, p = struct.unpack_from("<IQ", data, 12)
    header = json.loads(data[24:24 + h])
    payload = data[24 + h:24 + h + p]
    sizes = {"f32": 4, "f64": 8, "u64": 8}
    arrays = {a["name"]: payload[a["offset"]:a["offset"] + a["count"] * sizes[a["dtype"]]] for a in header["arrays"]}
    return header, arrays


class Client:
    def __init__(self, ctx, endpoint):
        self.ctx, self.endpoint = ctx, endpoint
        self.sock = None

    def request(self, obj, timeout=10.0):
        if self.sock is None:
            self.sock = self.ctx.socket(zmq.REQ)
            self.sock.setsockopt(zmq.LINGER, 0)
            self.sock.connect(self.endpoint)
        self.sock.send(json.dumps(obj).encode())
        if not self.sock.poll(timeout * 1000):
            self.sock.close()
            self.sock = None
            raise Failure(f"no reply to {obj} from {self.endpoint} within {timeout} s")
        return json.loads(self.sock.recv())


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
        a_ctl, b_ctl = Client(ctx, args.a_control), Client(ctx, args.b_control)
        name, d, s = args.model, args.dict_dim, args.sys_dim
        kinds = ingest_kinds(name, d, s, args.max_bytes, args.max_rows)
        ckinds = control_kinds(name, d, args.max_bytes)
        summary["ingest_kinds"] = len(kinds)
        summary["control_kinds"] = len(ckinds)
        models_before = a_ctl.request({"cmd": "models"})
        rss_start = rss(args.a_pid)

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
                req = ctx.socket(zmq.REQ)
                req.setsockopt(zmq.LINGER, 0)
                req.connect(args.a_control)
                req.send_multipart(frames) if len(frames) > 1 else req.send(frames[0])
                got_reply = req.poll(2000 if expect == "no_reply" else 10_000)
                reply = json.loads(req.recv()) if got_reply else None
                req.close()
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
        rss_end = rss(args.a_pid)
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
