"""Update's uncertainty fields (docs/PROTOCOL.md): coefficient messages of a model with uncertainty,
built as the wire format says, sent through a real PUB → SUB pair on loopback and decoded by the Subscriber —
JSON (std and interval inline) and binary (frames 3–5) give the same values; a message without uncertainty gives
None for all four fields; a malformed one is refused with a clear error."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List

import numpy as np
import pytest
import zmq

from hebbd import HebbdTimeout, Interval, Subscriber, Update
from hebbd.testing import free_port

COEF = np.array([[0.5, 0.0], [-1.25, 2.0], [0.0, 0.125]], dtype=np.float32)          # dict_dim 3 × sys_dim 2
STD = np.array([[0.1, 0.0], [0.25, 0.5], [0.0, 0.0625]], dtype=np.float32)
LOWER = np.array([[0.3, 0.0], [-1.75, 1.0], [0.0, 0.0]], dtype=np.float32)            # a refit: not centred at COEF
UPPER = np.array([[0.7, 0.0], [-0.75, 3.0], [0.0, 0.25]], dtype=np.float32)


def body(seq: int, *, inline: bool, uncertainty: bool = True) -> Dict[str, Any]:
    """The JSON body of coef/m/ (frame 1): the arrays inline (JSON format) or left to the frames (binary)."""
    b: Dict[str, Any] = {"v": 1, "model": "m", "kind": "bayesian", "seq": seq, "step": seq, "samples": 10 * seq,
                         "loss": 1.5, "mse": 0.25, "nnz": 4, "shape": [3, 2], "intercept": [0.5, -1.0]}
    if inline:
        b["coefficients"] = COEF.tolist()
    if uncertainty:
        if inline:
            b["std"] = STD.tolist()
        b["intercept_std"] = [0.03125, 0.0]
        b["interval"] = {"level": 0.9, **({"lower": LOWER.tolist(), "upper": UPPER.tolist()} if inline else {})}
        b["noise_std"] = [0.75, 1.5]
    return b


def frames(seq: int, publish_format: str, uncertainty: bool = True) -> List[bytes]:
    """One whole message as the daemon publishes it in `publish_format`."""
    head = [b"coef/m/", json.dumps(body(seq, inline=publish_format == "json", uncertainty=uncertainty)).encode()]
    if publish_format == "json":
        return head
    arrays = [COEF, STD, LOWER, UPPER] if uncertainty else [COEF]
    return head + [a.astype("<f4").tobytes() for a in arrays]


def through_loopback(messages: List[List[bytes]]) -> List[Update]:
    """Publishes `messages` on a real PUB socket (a free loopback port) and receives them with a Subscriber."""
    context = zmq.Context.instance()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(endpoint)
    try:
        with Subscriber(endpoint, "m", events=False) as sub:
            # PUB drops messages until the subscription has arrived: probe with a throwaway seq 0 until one is seen.
            deadline = time.monotonic() + 10
            while True:
                pub.send_multipart(frames(0, "json", uncertainty=False))
                try:
                    if sub.recv(timeout=0.05).seq == 0:
                        break
                except HebbdTimeout:
                    if time.monotonic() > deadline:
                        raise
            for m in messages:
                pub.send_multipart(m)
            return [sub.recv(timeout=10) for _ in messages]
    finally:
        pub.close(0)


def check_uncertainty(u: Update) -> None:
    assert u.std is not None and u.std.dtype == np.float32 and u.std.shape == (3, 2)
    assert np.array_equal(u.std, STD) and np.array_equal(u.coefficients, COEF)
    assert isinstance(u.interval, Interval) and u.interval.level == 0.9
    assert np.array_equal(u.interval.lower, LOWER) and np.array_equal(u.interval.upper, UPPER)
    assert u.interval.lower.shape == u.interval.upper.shape == (3, 2)
    # Exact zeros: std 0 and the interval [0, 0].
    zero = COEF == 0
    assert np.all(u.std[zero] == 0) and np.all(u.interval.lower[zero] == 0) and np.all(u.interval.upper[zero] == 0)
    assert u.intercept_std is not None and u.intercept_std.tolist() == [0.03125, 0.0]
    assert u.noise_std is not None and u.noise_std.dtype == np.float64 and u.noise_std.tolist() == [0.75, 1.5]


def test_json_and_binary_messages_carry_the_same_uncertainty() -> None:
    updates = through_loopback([frames(1, "json"), frames(2, "binary")])
    assert [u.seq for u in updates] == [1, 2]
    for u in updates:
        check_uncertainty(u)


@pytest.mark.parametrize("publish_format", ["json", "binary"])
def test_a_model_without_uncertainty_parses_as_before(publish_format: str) -> None:
    (u,) = through_loopback([frames(1, publish_format, uncertainty=False)])
    assert np.array_equal(u.coefficients, COEF) and u.intercept is not None
    assert (u.std, u.interval, u.intercept_std, u.noise_std) == (None, None, None, None)


def test_snapshot_body_with_the_arrays_inline() -> None:
    """The `snapshot` reply of a binary-format model puts the four arrays inline: from_json alone decodes it."""
    check_uncertainty(Update.from_json(body(4, inline=True)))


def test_malformed_uncertainty_is_refused() -> None:
    good = frames(1, "binary")
    with pytest.raises(ValueError, match="std frame of 20 bytes for shape 3×2"):
        Update.from_frames(good[:3] + [good[3][:20]] + good[4:])
    with pytest.raises(ValueError, match="expected 3, or 6"):
        Update.from_frames(good[:5])                                   # upper frame missing
    no_interval = json.loads(good[1])
    del no_interval["interval"]
    with pytest.raises(ValueError, match="expected 3, or 6"):
        Update.from_frames([good[0], json.dumps(no_interval).encode()] + good[2:])
    inline = body(1, inline=True)
    inline["std"] = STD[:2].tolist()
    with pytest.raises(ValueError, match="std has 4 values for shape 3×2"):
        Update.from_json(inline)
    inline = body(1, inline=True)
    del inline["interval"]
    with pytest.raises(ValueError, match="no \"interval\""):
        Update.from_json(inline)
    inline = body(1, inline=True)
    del inline["std"]
    with pytest.raises(ValueError, match="no \"std\""):
        Update.from_json(inline)


def test_predict_with_std_reads_y_std_when_the_model_has_uncertainty() -> None:
    """`predict` replies as docs/PROTOCOL.md says, from a real REP socket on loopback: "y_std" beside "y" for a model with
    uncertainty (returned with the same shape), absent for one without (None); `predict` itself returns y alone."""
    import threading

    from hebbd import Control

    context = zmq.Context.instance()
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    rep = context.socket(zmq.REP)
    rep.setsockopt(zmq.LINGER, 0)
    rep.bind(endpoint)
    requests: List[Dict[str, Any]] = []

    def serve() -> None:
        for _ in range(3):
            if not rep.poll(10_000):
                return
            request = json.loads(rep.recv())
            requests.append(request)
            rows = request["x"]
            reply: Dict[str, Any] = {"ok": True, "model": request["model"], "y": [[float(sum(r)), 2.0] for r in rows]}
            if request["model"] == "bayes":
                reply["y_std"] = [[0.5, 0.25 * (i + 1)] for i in range(len(rows))]
            rep.send(json.dumps(reply).encode())

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        with Control(endpoint, timeout=10) as control:
            y, y_std = control.predict_with_std("bayes", [[1, 2, 3], [4, 5, 6]])
            assert y.tolist() == [[6.0, 2.0], [15.0, 2.0]]
            assert y_std is not None and y_std.shape == (2, 2) and y_std.tolist() == [[0.5, 0.25], [0.5, 0.5]]
            y, y_std = control.predict_with_std("lasso", [1, 2, 3])
            assert y.tolist() == [[6.0, 2.0]] and y_std is None
            assert control.predict("bayes", [[1, 2, 3], [4, 5, 6]]).tolist() == [[6.0, 2.0], [15.0, 2.0]]
        assert [r["x"] for r in requests] == [[[1, 2, 3], [4, 5, 6]], [[1, 2, 3]], [[1, 2, 3], [4, 5, 6]]]
    finally:
        server.join(timeout=15)
        rep.close(0)
