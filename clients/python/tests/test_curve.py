"""CURVE: keys from `hebbd keygen` (as files and as z85 strings) on Producer, Subscriber and Control
against a daemon with security.curve = true; unauthorized clients get nothing through."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from hebbd import Control, CurveKeys, HebbdTimeout, NotTakingSamples, Producer, Subscriber, read_key
from hebbd.testing import blocks, sparse_system


def test_keygen_keys_as_files_and_as_strings(make_daemon) -> None:
    d = make_daemon()
    keys_dir = d.enable_curve()
    from_files = d.authorize("alice")                      # alice.pub → clients/, CurveKeys.load(files)
    d.start()
    alice = Path(keys_dir) / "alice"
    from_strings = CurveKeys(server_public=(keys_dir / "server.pub").read_text().strip(),
                             public=Path(str(alice) + ".pub").read_text().strip(),
                             secret=Path(str(alice) + ".key").read_text().strip())
    assert from_strings == from_files and len(from_files.secret) == 40

    w, _, rng = sparse_system()
    with Subscriber(d.publish, "demo", curve=from_files) as sub, \
            Producer(d.ingest, curve=from_strings, producer="curvy") as p:
        assert sub.recv(timeout=15).seq == 0
        p.send_many("demo", blocks(w, rng, 5))
        assert [sub.recv(timeout=15).seq for _ in range(5)] == [1, 2, 3, 4, 5]
    with Control(d.control, curve=from_strings) as c:
        assert c.status()["models"]["demo"]["step"] == 5


def test_unauthorized_clients_get_nothing_through(make_daemon) -> None:
    d = make_daemon()
    keys_dir = d.enable_curve()
    d.start()
    stranger = CurveKeys.generate(keys_dir / "server.pub")  # a valid pair, but not in clients/
    with Control(d.control, curve=stranger, timeout=1) as c:
        with pytest.raises(HebbdTimeout):
            c.status()
    with Control(d.control, timeout=1) as plain:            # no CURVE at all
        with pytest.raises(HebbdTimeout):
            plain.status()
    with Producer(d.ingest, curve=stranger, timeout=1, linger=0) as p:
        with pytest.raises(NotTakingSamples):
            p.send("demo", np.zeros(20), 0.0)
    with Subscriber(d.publish, "demo", curve=stranger) as sub:
        with pytest.raises(HebbdTimeout):
            sub.recv(timeout=1)
    refused = [line for line in d.log().splitlines() if line.endswith("connection refused")]
    assert refused and "peer.address=127.0.0.1" in refused[0] and "security.mechanism=CURVE" in refused[0], d.log()
    with Control(d.control, curve=d.admin_keys()) as admin:
        status = admin.status()
    assert status["messages"] == 0


def test_bad_keys_are_refused_client_side(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="40"):
        read_key("too-short")
    (tmp_path / "k.pub").write_text("x" * 12 + "\n")
    with pytest.raises(ValueError, match="expected one 40-character z85 key"):
        read_key(tmp_path / "k.pub")
    with pytest.raises(ValueError, match="needs client=STEM"):
        CurveKeys.load(server="a" * 40)
