"""Control: one method per command against a real daemon, errors as HebbdError with the daemon's
message, and a timeout that never wedges the REQ socket."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hebbd import Control, HebbdError, HebbdTimeout, Producer, Subscriber
from hebbd.proc import freeze, thaw
from hebbd.testing import free_port
from hebbd.testing import blocks, sparse_system


def test_every_command(daemon) -> None:
    c = Control(daemon.control)
    w, _, rng = sparse_system()
    with Producer(daemon.ingest) as p:
        p.send_many("demo", blocks(w, rng, 10))
    deadline = time.monotonic() + 15
    while c.status()["models"]["demo"]["step"] < 10:
        assert time.monotonic() < deadline
        time.sleep(0.05)

    status = c.status()
    assert status["ok"] is True and status["updates"] == 10 and status["samples"] == 500
    assert status["models"]["demo"]["seq"] == 10 and status["uptime"] >= 0

    (demo,) = c.models()
    assert (demo["name"], demo["kind"], demo["dict_dim"], demo["sys_dim"], demo["step"]) == ("demo", "lasso", 20, 1, 10)

    snap = c.snapshot("demo")
    assert (snap.seq, snap.step, snap.samples, snap.coefficients.shape) == (10, 10, 500, (20, 1))

    x = rng.standard_normal((4, 20))
    y = c.predict("demo", x)
    assert y.shape == (4, 1)
    assert np.allclose(y, x @ snap.coefficients.astype(np.float64), atol=1e-4)
    assert c.predict("demo", x[0]).shape == (1, 1)

    written = c.checkpoint()
    assert set(written) == {"demo"} and Path(written["demo"]).is_file()
    assert Path(written["demo"]).parent == daemon.state_dir / "demo"
    assert set(c.checkpoint("demo")) == {"demo"}

    described = c.set("demo", lr=0.05, lmbda=0.001, threshold=0.01, epochs=2)
    assert (described["lr"], described["lmbda"], described["threshold"], described["epochs"]) == (0.05, 0.001, 0.01, 2)

    added = c.add({"name": "extra", "kind": "ridge", "dict_dim": 3, "sys_dim": 2, "batch_size": 4})
    assert (added["name"], added["kind"], added["dict_dim"], added["sys_dim"]) == ("extra", "ridge", 3, 2)
    assert [m["name"] for m in c.models()] == ["demo", "extra"]
    with Subscriber(daemon.publish, "extra") as sub:
        assert sub.recv(timeout=10).coefficients.shape == (3, 2)

    c.reset("demo")
    after = c.snapshot("demo")
    assert (after.seq, after.step, after.loss) == (11, 0, None)

    assert c.remove("extra")["model"] == "extra"
    assert [m["name"] for m in c.models()] == ["demo"]


@pytest.mark.parametrize("call, message", [
    (lambda c: c.snapshot("nope"), 'no model named "nope"'),
    (lambda c: c.set("demo", momentum=0.9), 'set cannot change "momentum"'),
    (lambda c: c.set("demo"), "set needs at least one of"),
    (lambda c: c.predict("demo", np.ones((2, 3))), "x"),
    (lambda c: c.add({"name": "bad", "kind": "lasso"}), "dict_dim"),
    (lambda c: c.request({"cmd": "frobnicate"}), 'unknown cmd "frobnicate"'),
    (lambda c: c.request({"model": "demo"}), 'missing "cmd"'),
])
def test_errors_carry_the_daemons_message(daemon, call, message: str) -> None:
    c = Control(daemon.control)
    with pytest.raises(HebbdError) as raised:
        call(c)
    assert message in raised.value.message, raised.value.message
    assert raised.value.reply is not None and raised.value.reply["ok"] is False
    assert c.status()["ok"] is True                        # and the socket goes on working


def test_a_timeout_does_not_wedge_the_socket(daemon) -> None:
    c = Control(daemon.control, timeout=60)             # the default; each call below asks for 0.4 s
    assert c.status()["ok"]
    freeze(daemon.pid)                                     # the daemon takes requests but never answers
    try:
        for _ in range(2):                                 # twice: a wedged REQ socket would refuse to send
            began = time.monotonic()
            with pytest.raises(HebbdTimeout, match="'status' within 0.4 s"):
                c.status(timeout=0.4)
            # The call's own 0.4 s, not the default 60 s: the bound leaves room for a loaded machine's scheduling.
            assert time.monotonic() - began < 20
    finally:
        thaw(daemon.pid)
    # The daemon now answers the two abandoned requests (to sockets that are gone); this reply is ours.
    models = c.models()
    assert [m["name"] for m in models] == ["demo"]
    assert "uptime" in c.status()


def test_timeout_without_any_daemon() -> None:
    with Control(f"tcp://127.0.0.1:{free_port()}", timeout=0.3) as c:
        for _ in range(3):
            with pytest.raises(HebbdTimeout):
                c.models()
