"""`hebbd feed` (the plain PUSH feed) against a real daemon: every message it reports sent is learned, also when the
daemon stops taking messages for a while — the feed's own queue is small, so what it holds at its end is sent
within the linger instead of being dropped when the linger runs out."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import numpy as np

from hebbd.proc import freeze, thaw
from hebbd.testing import LocalDaemon

MODEL = """[[model]]
name = "wide"
kind = "lasso"
dict_dim = 256
sys_dim = 1
batch_size = 1000
"""


def test_feed_loses_no_message_when_the_daemon_pauses_longer_than_the_old_linger(tmp_path: Path) -> None:
    """40 messages of 1 MB to a daemon that queues one message (`ingest_hwm = 1`) and is stopped (SIGSTOP) for
    6.5 s right after the feed starts: longer than the 5 s the feed used to linger at its end with its whole
    output queued (it then reported every message sent and dropped the ones still queued), shorter than its
    10 s send timeout. The feed must exit 0 and the daemon must learn all 40 000 rows."""
    rows, width = 40_000, 256 + 1
    data = tmp_path / "rows.npy"
    rng = np.random.default_rng(5)
    np.save(data, rng.standard_normal((rows, width), dtype=np.float32))
    with LocalDaemon(MODEL, extra_daemon="[limits]\ningest_hwm = 1", journal=False) as daemon:
        freeze(daemon.process.pid)
        try:
            feed = subprocess.Popen(
                [daemon.binary, "feed", "--model", "wide", "--data", str(data), "--dict-dim", "256", "--sys-dim", "1",
                 "--batch-rows", "1000", "--endpoint", daemon.ingest],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(6.5)
        finally:
            thaw(daemon.process.pid)
        out, err = feed.communicate(timeout=60)
        assert feed.returncode == 0, f"hebbd feed exited {feed.returncode}: {out} {err}"
        assert "sent 40 messages, 40000 rows" in out, out
        model = daemon.wait_for_rows("wide", rows)["models"]["wide"]
        learned = model["samples"] + model["buffered"]
        assert learned == rows, f"the daemon took {learned} of the {rows} rows the feed reported sent"
