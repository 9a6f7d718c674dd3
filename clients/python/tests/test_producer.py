"""Producer: client-side validation of X and Y, every float dtype and shape accepted by the real daemon,
seq numbering, and NotTakingSamples when nobody takes samples."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from hebbd import NotTakingSamples, Producer, ShapeError, sample_arrays
from hebbd.testing import free_port


def test_shapes_are_normalised() -> None:
    x, y = sample_arrays(np.arange(20, dtype=np.float16), 3.0)          # one row, scalar target
    assert x.shape == (1, 20) and y.shape == (1, 1) and x.dtype == np.dtype("<f4")
    x, y = sample_arrays(np.ones((5, 3)), np.arange(5))                  # 1-D y: one target per row
    assert x.shape == (5, 3) and y.shape == (5, 1) and y[4, 0] == 4.0
    x, y = sample_arrays(np.ones(3), np.array([1.0, 2.0]))                # one row, two targets
    assert y.shape == (1, 2)
    x, y = sample_arrays(np.ones((1, 3)), np.array([1.0, 2.0]))           # a 1-row matrix, two targets
    assert y.shape == (1, 2)
    x, y = sample_arrays(np.ones((4, 3), dtype=np.float32).T.T[:, ::-1], np.zeros((4, 2)), dtype="float64")
    assert x.flags.c_contiguous and x.dtype == np.dtype("<f8") and y.shape == (4, 2)
    x, y = sample_arrays(np.ones((2, 3), dtype=np.int64), np.array([True, False]))
    assert x.dtype == np.dtype("<f4") and y.tolist() == [[1.0], [0.0]]


@pytest.mark.parametrize("x, y, message", [
    (np.ones((5, 3)), np.ones(4), "1-D Y has 4 values for 5 rows"),
    (np.ones((5, 3)), np.ones((4, 1)), "X has 5 rows but Y has 4"),
    (np.ones((2, 2, 2)), np.ones(2), "X must be 2-D"),
    (np.ones((2, 3)), np.ones((2, 1, 1)), "Y must be 2-D"),
    (np.ones((0, 3)), np.ones((0, 1)), "no rows"),
    (np.ones((2, 3)), 1.0, "a scalar Y fits one row"),
    (np.array([[1.0, np.nan]]), 1.0, "X holds NaN"),
    (np.ones((1, 2)), np.array([np.inf]), "Y holds NaN or ±Inf"),
    (np.array([[1e39, 0.0]]), 1.0, "beyond float32's range"),
])
def test_bad_arrays_raise_shape_error(x: object, y: object, message: str) -> None:
    with pytest.raises(ShapeError, match=message.replace("(", r"\(").replace("+", r"\+")):
        sample_arrays(x, y)


def test_model_dims_and_types_checked_before_sending() -> None:
    with pytest.raises(ShapeError, match="X has 3 columns, the model has dict_dim 20"):
        sample_arrays(np.ones((2, 3)), np.ones(2), dims=(20, 1))
    with pytest.raises(ShapeError, match="Y has 2 columns, the model has sys_dim 1"):
        sample_arrays(np.ones((2, 20)), np.ones((2, 2)), dims=(20, 1))
    with pytest.raises(TypeError, match="real numbers"):
        sample_arrays(np.ones((2, 3), dtype=complex), np.ones(2))
    with pytest.raises(TypeError, match="real numbers"):
        sample_arrays([["a", "b"]], [1.0])


def test_every_float_dtype_and_shape_reaches_the_daemon(daemon) -> None:
    rng = np.random.default_rng(3)
    rows = 0
    with Producer(daemon.ingest, producer="dtypes") as p, Producer(daemon.ingest, dtype="float64") as p64:
        for seq, dtype in enumerate((np.float16, np.float32, np.float64, np.longdouble)):
            x = rng.standard_normal((7, 20)).astype(dtype)
            assert p.send("demo", x, x[:, 0]) == seq              # 1-D y; seq 0, 1, 2, 3
            rows += 7
        p.send("demo", rng.standard_normal(20), 0.5)                       # a single row, scalar y
        p.send("demo", rng.standard_normal((1, 20)), [0.25])               # one row, 1-D y
        p.send_many("demo", ((rng.standard_normal((3, 20)), rng.standard_normal((3, 1))) for _ in range(4)))
        rows += 1 + 1 + 12
        assert p.next_seq == 10 and p.sent_messages == 10 and p.sent_rows == rows
        assert p64.send("demo", rng.standard_normal((5, 20)), rng.standard_normal(5)) is None   # no producer: no seq
        rows += 5
    status = daemon.wait_for_rows("demo", rows, timeout=15)
    model = status["models"]["demo"]
    assert status["rejected"] == {} or all(n == 0 for n in status["rejected"].values()), status["rejected"]
    assert model["samples"] + model["buffered"] == rows
    assert model["gaps"] == 0 and model["sequence_resets"] == 0


def test_seq_gaps_and_restarts_are_counted_by_the_daemon(daemon) -> None:
    x, y = np.zeros((1, 20)), np.zeros(1)
    with Producer(daemon.ingest, producer="gappy") as p:
        p.send("demo", x, y)                   # seq 0
        p.send("demo", x, y)                   # 1
        assert p.send("demo", x, y, seq=5) == 5   # 3 missing
        p.send("demo", x, y)                   # 6
        p.send("demo", x, y, seq=0)            # back to 0: a producer restart
    status = daemon.wait_for_rows("demo", 5, timeout=15)
    assert status["models"]["demo"]["gaps"] == 3
    assert status["models"]["demo"]["sequence_resets"] == 1


def test_not_taking_samples_when_no_daemon_listens() -> None:
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    with Producer(endpoint, producer="nobody", timeout=0.3, linger=0) as p:
        began = time.monotonic()
        with pytest.raises(NotTakingSamples, match="did not take a message at once"):
            p.send("demo", np.zeros(20), 0.0, block=False)
        assert time.monotonic() - began < 0.2
        began = time.monotonic()
        with pytest.raises(NotTakingSamples, match="within 0.3 s"):
            p.send("demo", np.zeros(20), 0.0)
        assert 0.25 <= time.monotonic() - began < 3
        assert p.next_seq == 0 and p.sent_messages == 0     # nothing was queued, no seq used up


def test_not_taking_samples_then_taking_them_once_the_daemon_is_up(make_daemon) -> None:
    d = make_daemon()
    with Producer(d.ingest, producer="early", timeout=0.2) as p:
        with pytest.raises(NotTakingSamples):
            p.send("demo", np.zeros(20), 0.0, block=False)
        d.start()
        deadline = time.monotonic() + 10
        while True:
            try:
                p.send("demo", np.zeros(20), 0.0)
                break
            except NotTakingSamples:
                assert time.monotonic() < deadline, "the producer never connected"
    status = d.wait_for_rows("demo", 1, timeout=15)
    assert status["models"]["demo"]["buffered"] == 1


def test_a_port_taken_at_start_moves_only_that_endpoint_and_an_early_producer_still_connects(make_daemon) -> None:
    """The race behind a CI failure, made certain: another socket holds the reliable port when the daemon starts.
    LocalDaemon's retry gives only that endpoint a new port, so a producer connected to the ingest endpoint before
    the start still reaches the daemon (before, every port was picked anew and it never connected)."""
    d = make_daemon()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", int(d.reliable.rsplit(":", 1)[1])))
    blocker.listen()
    try:
        before = (d.ingest, d.publish, d.control, d.reliable)
        with Producer(d.ingest, producer="early", timeout=5) as p:
            d.start()
            assert (d.ingest, d.publish, d.control) == before[:3] and d.reliable != before[3]
            p.send("demo", np.zeros(20), 0.0)
        status = d.wait_for_rows("demo", 1, timeout=15)
        assert status["models"]["demo"]["buffered"] == 1
    finally:
        blocker.close()


def test_bad_model_name_is_refused_client_side() -> None:
    with Producer(f"tcp://127.0.0.1:{free_port()}", linger=0) as p:
        with pytest.raises(ValueError, match="model name"):
            p.send("coef/x", np.zeros(2), 0.0)
