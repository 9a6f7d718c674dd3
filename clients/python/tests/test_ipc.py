"""Same-host clients on ``ipc://`` endpoints: a real daemon whose ingest, publish and control
sockets are Unix-domain socket files in a temporary directory, fed by the Producer, read by the Subscriber and
asked by Control; the socket files' mode follows the daemon's umask (the systemd unit's ``UMask=0027``). libzmq
leaves a bound socket file behind on every exit, graceful or not; the next start on the same path binds anyway
(libzmq's bind replaces the file) and serves."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path
from typing import Callable

from hebbd import Control, Producer, Subscriber
from hebbd.testing import LocalDaemon, blocks, sparse_system


def _socket_file(endpoint: str) -> Path:
    assert endpoint.startswith("ipc://"), endpoint
    return Path(endpoint[len("ipc://"):])


def test_ipc_round_trip(make_daemon: Callable[..., LocalDaemon]) -> None:
    """Producer → ipc ingest, Subscriber ← ipc publish, Control ↔ ipc control: every row learned and published,
    and the socket files are sockets of mode 0750 under umask 0027."""
    d = make_daemon(transport="ipc", umask=0o027).start()
    for endpoint in (d.ingest, d.publish, d.control):
        st = os.stat(_socket_file(endpoint))
        assert stat.S_ISSOCK(st.st_mode), f"{endpoint} is not a socket file"
        assert stat.S_IMODE(st.st_mode) == 0o750, f"{endpoint}: mode {stat.S_IMODE(st.st_mode):o}, expected 750"
    w, _, rng = sparse_system()
    sub = Subscriber(d.publish, models="demo", idle_timeout=10)
    with Producer(d.ingest, producer="ipc-test") as p:
        p.send_many("demo", blocks(w, rng, 4))          # 4 × 50 rows: 4 updates of batch 50
    seen = sub.wait_until(lambda u: u.samples == 200, timeout=20)
    sub.close()
    assert seen.step == 4 and seen.coefficients.shape == (20, 1)
    with Control(d.control, timeout=5) as c:
        model = c.status()["models"]["demo"]
    assert model["samples"] == 200 and model["buffered"] == 0


def test_ipc_restart_over_stale_files(make_daemon: Callable[..., LocalDaemon]) -> None:
    """After kill -9, and after a graceful stop, the socket files stay behind; each next start on the same paths
    binds anyway and takes samples."""
    d = make_daemon(transport="ipc").start()
    files = [_socket_file(e) for e in (d.ingest, d.publish, d.control)]
    w, _, rng = sparse_system()
    expected = 0
    for how in ("kill -9", "SIGTERM"):
        if how == "kill -9":
            d.kill()
        else:
            assert d.stop() == 0
        left = [f for f in files if f.exists()]
        assert left == files, f"after {how} only {left} remain: the stale-file case is not exercised"
        d.start()
        if how == "kill -9":
            expected = 0          # no checkpoint was written: the model starts over
        with Producer(d.ingest) as p:
            p.send_many("demo", blocks(w, rng, 2))
        expected += 100
        with Control(d.control, timeout=5) as c:
            deadline = time.monotonic() + 20
            while c.status()["models"]["demo"]["samples"] < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            assert c.status()["models"]["demo"]["samples"] == expected, f"after {how} and a restart"
