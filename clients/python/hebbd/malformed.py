"""Malformed messages for hebbd's ingest and control sockets: every kind the hostile-input campaign sends.

One list, used by the end-to-end campaign (Tests/EndToEndTests/Scripts/hostile_campaign.py) and the soak benchmark
(Benchmarks/soak.py). Each ingest kind is ``(description, reason, build)``: ``reason`` is the rejection reason the
daemon must count (``status.rejected``, ``hebbd_rejected_messages_total{reason}``), or :data:`DROPPED` for a frame
libzmq itself refuses (never reaches the daemon, never counted); ``build()`` returns the frames. Each control kind is
``(description, frames, expect)`` with ``expect`` ``"error"`` (an ``{"ok": false}`` reply) or ``"no_reply"``.
"""

from __future__ import annotations

import json
import math
import random
import struct
import sys

REASONS = ["frame_count", "unknown_model", "bad_json", "bad_header", "dimensions", "non_finite", "byte_size", "too_large"]
DROPPED = "dropped_by_libzmq"   # a frame over ZMQ_MAXMSGSIZE: never reaches the daemon, never counted

F32_NAN = struct.pack("<I", 0x7FC00000)
F32_SNAN = struct.pack("<I", 0x7F800001)    # signalling NaN with a payload
F32_INF = struct.pack("<f", math.inf)
F32_NINF = struct.pack("<f", -math.inf)
F64_NAN = struct.pack("<d", math.nan)
F64_INF = struct.pack("<d", math.inf)


# Malformed ingest messages: (kind, reason, build)


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
    # More frames than a journal record counts (UInt16): rejected before it is journaled, never a crash.
    add("70000 empty frames", "frame_count", lambda: [m] + [b""] * 69_999)
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


__all__ = ["DROPPED", "REASONS", "control_kinds", "ingest_kinds"]
