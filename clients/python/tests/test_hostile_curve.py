"""CURVE under hostile clients: 1000 messages from a client whose key is not authorized and 1000 from
a plain-text (NULL mechanism) client — each on its own connections, many of them — change nothing: the
coefficients are identical bit for bit, `samples` and `messages` unchanged, and the refusals are logged
(`connection refused` with `peer.address`). What /metrics exposes about them is printed (see the test's note)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
import zmq

from hebbd import Control, CurveKeys, HebbdTimeout, Producer
from hebbd.testing import blocks, sparse_system

HOSTILE_MESSAGES = 1000
CONNECTIONS = 20          # per hostile client kind: each connection is one more handshake the daemon refuses


def _hostile_burst(endpoint: str, curve: CurveKeys | None, messages: int, connections: int) -> int:
    """Sends `messages` sample messages (valid in form) over `connections` fresh PUSH connections, without
    blocking (a refused peer never takes them); returns how many were queued."""
    ctx = zmq.Context()
    queued = 0
    try:
        per = messages // connections
        x = np.ones((1, 20), dtype="<f4").tobytes()
        y = np.ones((1, 1), dtype="<f4").tobytes()
        for _ in range(connections):
            s = ctx.socket(zmq.PUSH)
            s.setsockopt(zmq.LINGER, 0)
            s.setsockopt(zmq.SNDHWM, per + 1)
            if curve is not None:
                curve.apply(s)
            s.connect(endpoint)
            for _ in range(per):
                try:
                    s.send_multipart([b"demo", b'{"dtype":"float32","rows":1}', x, y], flags=zmq.NOBLOCK)
                    queued += 1
                except zmq.Again:
                    pass
            time.sleep(0.05)      # let the handshake happen (and fail)
            s.close()
        return queued
    finally:
        ctx.destroy(linger=0)


def test_unlisted_key_and_plain_text_change_nothing(make_daemon) -> None:
    d = make_daemon(publish_format="binary")
    keys_dir = d.enable_curve()
    alice = d.authorize("alice")
    d.start()
    w, _, rng = sparse_system()
    with Producer(d.ingest, curve=alice) as p:
        p.send_many("demo", blocks(w, rng, 4))
    admin = d.admin_keys()
    with Control(d.control, curve=admin) as c:
        deadline = time.monotonic() + 15
        while c.status()["models"]["demo"]["step"] < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        before = c.status()
        snapshot_before = c.request({"cmd": "snapshot", "model": "demo"})["snapshot"]
    assert before["models"]["demo"]["step"] == 4

    stranger = CurveKeys.generate(keys_dir / "server.pub")   # a valid pair, not in clients/
    queued_stranger = _hostile_burst(d.ingest, stranger, HOSTILE_MESSAGES, CONNECTIONS)
    queued_plain = _hostile_burst(d.ingest, None, HOSTILE_MESSAGES, CONNECTIONS)
    # A stranger on the control socket, too.
    for curve in (stranger, None):
        with Control(d.control, curve=curve, timeout=0.5) as c, pytest.raises(HebbdTimeout):
            c.request({"cmd": "remove", "model": "demo"})

    with Control(d.control, curve=admin) as c:
        after = c.status()
        snapshot_after = c.request({"cmd": "snapshot", "model": "demo"})["snapshot"]
    assert after["messages"] == before["messages"]
    assert after["samples"] == before["samples"]
    assert after["models"]["demo"]["samples"] == before["models"]["demo"]["samples"]
    assert after["models"]["demo"]["step"] == before["models"]["demo"]["step"]
    assert after["rejected"] == before["rejected"]
    strip = lambda s: {k: v for k, v in s.items() if k != "time"}
    assert json.dumps(strip(snapshot_after), sort_keys=True) == json.dumps(strip(snapshot_before), sort_keys=True)
    coefficients_before = np.asarray(snapshot_before["coefficients"], dtype=np.float32)
    coefficients_after = np.asarray(snapshot_after["coefficients"], dtype=np.float32)
    assert coefficients_before.tobytes() == coefficients_after.tobytes()

    log = d.log()
    refused = [line for line in log.splitlines() if line.endswith("connection refused")]
    assert refused, log[-3000:]
    assert all("peer.address=127.0.0.1" in line for line in refused)
    mechanisms = sorted({m for line in refused for m in re.findall(r"security\.mechanism=(\S+)", line)})
    metrics = d.scrape()
    refusal_metrics = [line for line in metrics.splitlines()
                       if not line.startswith("#") and re.search(r"refus|auth|handshake|zap|curve", line, re.I)]
    # Figures for the report: how many refusals were logged, for which mechanisms, and whether any metric counts
    # them (none does at the time of writing: refusals are only in the log).
    print(f"\nCURVE: queued {queued_stranger} messages from an unlisted key and {queued_plain} plain-text ones over "
          f"{CONNECTIONS} connections each; {len(refused)} 'connection refused' lines (mechanisms {mechanisms}); "
          f"metrics about refusals: {refusal_metrics or 'none'}")
