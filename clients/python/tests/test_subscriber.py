"""Subscriber against a real daemon: a known sparse system is learnt (JSON and binary publish formats),
last-value resends are dropped, restarts are reported, events arrive, timeouts end waits."""

from __future__ import annotations

import time

import numpy as np
import pytest

from hebbd import Control, HebbdTimeout, Producer, Subscriber, Update
from hebbd.testing import DEMO_MODEL, blocks, sparse_system


@pytest.mark.parametrize("publish_format", ["json", "binary"])
def test_producer_daemon_subscriber_learns_a_sparse_system(make_daemon, publish_format: str) -> None:
    d = make_daemon(publish_format=publish_format).start()
    w, support, rng = sparse_system(seed=7)
    updates = 300
    with Subscriber(d.publish, "demo") as sub, Producer(d.ingest, producer="test") as p:
        first = sub.recv(timeout=10)                       # the last-value resend of the initial state
        assert (first.seq, first.step, first.loss, first.restarted) == (0, 0, None, False)
        assert first.coefficients.shape == (20, 1) and np.all(first.coefficients == np.float32(0.05))
        assert p.send_many("demo", blocks(w, rng, updates)) == updates
        seen = [sub.recv(timeout=20) for _ in range(updates)]
        with pytest.raises(HebbdTimeout):
            sub.recv(timeout=0.3)                          # exactly one update per batch, nothing more
    assert [u.seq for u in seen] == list(range(1, updates + 1))
    assert all(u.missed == 0 and not u.restarted for u in seen)
    last = seen[-1]
    assert (last.model, last.kind, last.step, last.samples) == ("demo", "lasso", updates, updates * 50)
    assert last.coefficients.dtype == np.float32 and last.coefficients.shape == (20, 1)
    assert last.loss is not None and last.loss < seen[0].loss / 20, (seen[0].loss, last.loss)
    assert last.nnz == int(np.count_nonzero(last.coefficients))
    # The lasso found the true support, and the values.
    largest = np.argsort(-np.abs(last.coefficients[:, 0]))[:len(support)]
    assert set(largest) == set(support)
    assert np.max(np.abs(last.coefficients - w)) < 0.05, np.c_[last.coefficients, w]
    # No intercept/standardized fields in these messages yet: None and False; present ones are parsed.
    assert last.intercept is None if "intercept" not in last.raw else last.intercept.shape == (1,)
    assert last.standardized is bool(last.raw.get("standardized", False))
    # The snapshot is the same message, coefficients inline in both formats (float32 values).
    snap = Control(d.control).snapshot("demo")
    assert snap.seq == updates and np.array_equal(snap.coefficients, last.coefficients)


def test_update_parses_intercept_and_standardized() -> None:
    body = {"v": 1, "model": "m", "kind": "ridge", "seq": 3, "step": 3, "samples": 30, "loss": 1.5, "mse": 0.1,
            "nnz": 2, "shape": [2, 2], "coefficients": [[1, 0], [0, 2]], "intercept": [0.5, -1], "standardized": True}
    u = Update.from_json(body)
    assert u.intercept is not None and u.intercept.tolist() == [0.5, -1.0] and u.standardized is True
    binary = np.array([[1, 0], [0, 2]], dtype="<f4").tobytes()
    del body["coefficients"], body["intercept"], body["standardized"]
    u = Update.from_json(body, binary)
    assert u.coefficients.tolist() == [[1.0, 0.0], [0.0, 2.0]] and u.intercept is None and u.standardized is False
    with pytest.raises(ValueError, match="coefficient frame of 12 bytes"):
        Update.from_json(body, binary[:12])


def test_a_late_joiners_resend_is_dropped(daemon) -> None:
    w, _, rng = sparse_system()
    with Subscriber(daemon.publish, "demo") as a, Producer(daemon.ingest) as p:
        assert a.recv(timeout=10).seq == 0
        p.send_many("demo", blocks(w, rng, 20))
        assert [a.recv(timeout=10).seq for _ in range(20)] == list(range(1, 21))
        # A second subscriber joins: the daemon resends seq 20 to every subscriber of coef/demo/.
        with Subscriber(daemon.publish, "demo") as b:
            late = b.recv(timeout=10)
            assert late.seq == 20 and late.missed == 0 and not late.restarted
            deadline = time.monotonic() + 5
            while a.duplicates == 0 and time.monotonic() < deadline:
                with pytest.raises(HebbdTimeout):
                    a.recv(timeout=0.2)                    # the resend is not yielded again
            assert a.duplicates == 1 and a.received == 21
            p.send_many("demo", blocks(w, rng, 1))
            assert a.recv(timeout=10).seq == 21 and b.recv(timeout=10).seq == 21


def test_models_filter_and_topic_prefixes(make_daemon) -> None:
    models = "\n".join(f'[[model]]\nname = "{n}"\nkind = "ridge"\ndict_dim = 2\nbatch_size = 2\n' for n in ("m1", "m10"))
    d = make_daemon(models).start()
    with Subscriber(d.publish, "m1") as one, Subscriber(d.publish) as every, Producer(d.ingest) as p:
        assert one.recv(timeout=10).model == "m1"
        assert {every.recv(timeout=10).model for _ in range(2)} == {"m1", "m10"}
        p.send("m10", np.ones((2, 2)), np.ones(2))
        p.send("m1", np.ones((2, 2)), np.ones(2))
        u = one.recv(timeout=10)
        assert (u.model, u.seq) == ("m1", 1)               # never m10 (coef/m1/ has the trailing slash)
        assert sorted((u.model, u.seq) for u in (every.recv(timeout=10), every.recv(timeout=10))) == [("m1", 1), ("m10", 1)]


@pytest.mark.parametrize("journal", [True, False], ids=["journal", "no-journal"])
def test_restarts_are_reported(make_daemon, journal: bool) -> None:
    """A graceful restart resends the restored state (a duplicate, nothing new). After a kill -9 the journal gives
    back every update learned since the last checkpoint (its resend is a duplicate too); without the journal the
    state and seq go back to the checkpoint, and the subscriber is told (``restarted``)."""
    d = make_daemon(DEMO_MODEL, checkpoint_interval="0s", journal=journal).start()
    w, _, rng = sparse_system()
    control = Control(d.control, timeout=15)
    with Subscriber(d.publish, "demo") as sub, Producer(d.ingest, timeout=15) as p:
        assert sub.recv(timeout=10).seq == 0
        p.send_many("demo", blocks(w, rng, 10))
        assert sub.wait_until(lambda u: u.seq == 10, 15).step == 10
        # A graceful restart checkpoints seq 10 and restores it: its resend is already seen, nothing new.
        d.restart()
        deadline = time.monotonic() + 15
        while sub.duplicates == 0 and time.monotonic() < deadline:
            with pytest.raises(HebbdTimeout):
                sub.recv(timeout=0.2)
        assert sub.duplicates == 1, "the restored state's resend did not arrive"
        p.send_many("demo", blocks(w, rng, 1))
        u = sub.recv(timeout=15)
        assert (u.seq, u.step, u.restarted, u.missed) == (11, 11, False, 0)

        # A crash after more updates than the last checkpoint has.
        assert "demo" in control.checkpoint()              # seq 11 on disk
        p.send_many("demo", blocks(w, rng, 9))
        assert sub.wait_until(lambda u: u.seq == 20, 15).step == 20
        d.kill()
        d.start()
        if journal:
            # Replayed from the journal: back at seq 20, whose resend the subscriber has seen.
            deadline = time.monotonic() + 20
            while sub.duplicates == 1 and time.monotonic() < deadline:
                with pytest.raises(HebbdTimeout):
                    sub.recv(timeout=0.2)
            assert sub.duplicates == 2, "the replayed state's resend did not arrive"
            p.send_many("demo", blocks(w, rng, 1))
            u = sub.recv(timeout=15)
            assert (u.seq, u.step, u.restarted, u.missed) == (21, 21, False, 0)
        else:
            # The state (and seq) goes back to the checkpoint.
            back = sub.recv(timeout=20)
            assert (back.seq, back.step, back.restarted, back.loss) == (11, 11, True, None)
            p.send_many("demo", blocks(w, rng, 1))
            u = sub.recv(timeout=15)
            assert (u.seq, u.restarted, u.missed) == (12, False, 0)


def test_events(daemon) -> None:
    control = Control(daemon.control)
    with Subscriber(daemon.publish, "demo") as sub:
        sub.recv(timeout=10)                               # subscribed (coef and event topics alike)
        control.reset("demo")
        control.set("demo", lr=0.02, threshold=0.01)
        event = sub.recv_event(timeout=10)
        assert (event.model, event.event) == ("demo", "reset") and event.time
        # With the journal on, each change is checkpointed before it is answered (docs/JOURNAL.md).
        event = sub.recv_event(timeout=10)
        assert event.event == "checkpoint" and event.data["step"] == 0
        event = sub.recv_event(timeout=10)
        assert event.event == "set" and sorted(event.data["changed"]) == ["lr", "threshold"]
        assert sub.recv_event(timeout=10).event == "checkpoint"
        assert sub.recv(timeout=10).seq == 1               # the reset's coefficient message was kept meanwhile
        control.checkpoint("demo")
        names = [e.event for e in sub.events(idle_timeout=1)]
        assert names == ["checkpoint"]


def test_iteration_ends_after_idle_timeout(daemon) -> None:
    began = time.monotonic()
    with Subscriber(daemon.publish, "demo", idle_timeout=0.5) as sub:
        assert [u.seq for u in sub] == [0]
    assert 0.5 <= time.monotonic() - began < 10
