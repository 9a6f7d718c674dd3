"""Exactly-once learning over ZeroMQ: a ReliableProducer streams while the daemon is killed with
kill -9 at random moments (default checkpoint interval: the journal does the work) and restarted; at the end every
row was learned exactly once and the weights are bit-identical to an uninterrupted daemon fed the same messages.
HEBBD_LONG_TESTS=1 runs 100 kills instead of 4."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, List

import numpy as np
import pytest

from hebbd import ReliableProducer
from hebbd.testing import LocalDaemon

MODEL = """[[model]]
name = "r"
kind = "elastic_net"
dict_dim = 16
sys_dim = 1
batch_size = 32
optim = "adam"
lr = 0.01
"""

LONG = os.environ.get("HEBBD_LONG_TESTS") == "1"
KILLS = 100 if LONG else 4
MESSAGES = 3000 if LONG else 600


def batches(n: int) -> List[tuple]:
    rng = np.random.default_rng(7)
    w = rng.normal(size=(16, 1))
    out = []
    for i in range(n):
        rows = 1 + i % 5
        x = rng.normal(size=(rows, 16)).astype("<f4")
        out.append((x, (x @ w).astype("<f4")))
    return out


def final_state(d: LocalDaemon) -> dict:
    """Stops the daemon (final checkpoint) and reads its newest checkpoint with `hebbd checkpoint inspect --json`."""
    assert d.process is not None and d.process.poll() is None, f"the daemon is not running (exit {d.process.poll() if d.process else None})"
    assert d.stop() == 0
    newest = sorted((Path(d.state_dir) / "r").glob("ckpt-*.hebb"))[-1]
    out = subprocess.run([d.binary, "checkpoint", "inspect", str(newest), "--json"], check=True, capture_output=True, timeout=60)
    return json.loads(out.stdout)


def stream(d: LocalDaemon, data: List[tuple], producer: str, kills: Callable[[], int] = lambda: KILLS) -> ReliableProducer:
    """Sends `data` reliably; message i waits until kills() reached KILLS·i/len(data), so the kills are spread over
    the whole stream."""
    p = ReliableProducer(d.reliable, producer, seq=1, max_outbox=200, timeout=120, resend_after=0.5)
    for i, (x, y) in enumerate(data):
        while kills() < KILLS * i // len(data):
            time.sleep(0.005)
        p.send("r", x, y)
    p.flush(timeout=120)
    return p


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_kill_9_during_a_reliable_stream_learns_every_row_exactly_once(make_daemon: Callable[..., LocalDaemon],
                                                                      fsync: str) -> None:
    data = batches(MESSAGES)
    journal = f'\n[journal]\nfsync = "{fsync}"\n'
    calm = make_daemon(MODEL + journal).start()
    stream(calm, data, "calm").close()
    expected = final_state(calm)

    crashing = make_daemon(MODEL + journal).start()
    stop = threading.Event()
    kills = []

    def killer() -> None:
        rnd = random.Random(11)
        while not stop.is_set() and len(kills) < KILLS:
            time.sleep(rnd.uniform(0.02, 0.3))
            if stop.is_set():
                break
            crashing.kill()
            kills.append(time.monotonic())
            crashing.start()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        producer = stream(crashing, data, "crashy", kills=lambda: len(kills))
        thread.join(120)      # the last kill may come after everything was acknowledged: nothing may be lost then either
        producer.flush(timeout=60)
    finally:
        stop.set()
        thread.join(60)
    assert producer.pending == 0 and not producer.rejected
    got = final_state(crashing)
    assert len(kills) == KILLS
    rows = sum(x.shape[0] for x, _ in data)
    # Every row exactly once: the same counters, and W bit for bit (shortest round-trip float32 text).
    assert got["samples"] == expected["samples"] and got["samples"] + got["pending_rows"] == rows
    assert got["updates"] == expected["updates"]
    assert got["weights"] == expected["weights"]
    print(f"{len(kills)} kills, {producer.resends} resends, {producer.duplicates} duplicates")


def test_a_corrupt_journal_refuses_the_start_and_a_torn_tail_is_cut_off(make_daemon: Callable[..., LocalDaemon]) -> None:
    d = make_daemon(MODEL).start()
    data = batches(20)
    p = stream(d, data, "p", kills=lambda: KILLS)
    p.close()
    d.kill()
    segment = sorted((Path(d.state_dir) / "journal").glob("journal-*.log"))[0]
    whole = segment.read_bytes()

    # A torn tail (the last 5 bytes of the last record never reached the file): cut off, logged, the rest replayed.
    segment.write_bytes(whole[:-5])
    d.start()
    log = d.log()
    assert "journal torn tail cut off" in log and "journal.bytes_cut=" in log
    assert "journal.replayed=19" in log
    d.kill()

    # A flipped byte in the first record, valid records after it: the start is refused, naming file and offset.
    damaged = bytearray(segment.read_bytes())
    damaged[40] ^= 0x10
    segment.write_bytes(bytes(damaged))
    run = subprocess.run([d.binary, "run", "--config", str(d.config_path), "--state-dir", str(d.state_dir)],
                         capture_output=True, timeout=60)
    assert run.returncode != 0
    message = run.stderr.decode()
    assert f"journal segment {segment} is corrupt at offset 24" in message and "CRC mismatch" in message
    assert segment.read_bytes() == bytes(damaged), "a corrupt segment is left as it is"


def test_status_and_metrics_report_the_journal_and_the_reliable_path(make_daemon: Callable[..., LocalDaemon]) -> None:
    """`status` has a "journal" member and /metrics the hebbd_journal_* and hebbd_reliable_* series: bytes and segments
    on disk, syncs, acknowledged and duplicate messages, the producer's high-water mark; `replayed` counts the records
    a restart after kill -9 learnt again."""
    from hebbd import Control
    d = make_daemon(MODEL).start()
    data = batches(50)
    p = ReliableProducer(d.reliable, "meter", seq=1, resend_after=0.5)
    for x, y in data:
        p.send("r", x, y)
    p.flush(timeout=60)
    # Resend message 50: already journaled, so a duplicate (dropped, its reply carries the mark).
    p.outbox[50] = [b"r", json.dumps({"dtype": "float32", "rows": 1}).encode(), data[0][0][:1].tobytes(), data[0][1][:1].tobytes()]
    p._send(50, p.outbox[50])
    p.flush(timeout=60)
    assert p.duplicates == 1
    with Control(d.control) as c:
        deadline = time.monotonic() + 5
        while (journal := c.status()["journal"])["duplicates"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert journal["producers"] == {"meter": 50}
    assert journal["acknowledged"] == 50 and journal["duplicates"] == 1 and journal["appended"] == 50
    assert journal["segments"] >= 1 and journal["bytes"] > sum(x.nbytes + y.nbytes for x, y in data)
    assert journal["fsync"] == "batch" and journal["fsyncs"] >= 1 and 0 < journal["fsync_max_seconds"] <= journal["fsync_seconds"]
    time.sleep(1.2)          # the metrics are fed once per loop tick
    metrics = d.scrape()
    assert 'hebbd_reliable_messages_total{outcome="acknowledged"} 50' in metrics
    assert 'hebbd_reliable_messages_total{outcome="duplicate"} 1' in metrics
    assert 'hebbd_reliable_producer_high_water_mark{producer="meter"} 50' in metrics
    assert "hebbd_journal_records_total 50" in metrics and "hebbd_journal_fsync_seconds_total" in metrics
    p.close()
    d.kill()
    d.start()
    with Control(d.control) as c:
        after = c.status()["journal"]
    # No checkpoint was written (30 s interval): every record is replayed; the mark came back from the journal.
    assert after["replayed"] == 50 and after["producers"] == {"meter": 50} and after["acknowledged"] == 0


def write_rows(path: Path, data: List[tuple]) -> int:
    """The rows of `data` as one .npy (features then target per row) for `hebbd feed`; returns the row count."""
    rows = np.concatenate([np.hstack([x, y]) for x, y in data]).astype("<f4")
    np.save(path, rows)
    return rows.shape[0]


def feed(d: LocalDaemon, data: Path, producer: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([d.binary, "feed", "--reliable", "--endpoint", d.reliable, "--producer", producer, "--model", "r",
                             "--data", str(data), "--dict-dim", "16", "--batch-rows", "3", "--seq", "1",
                             "--resend-after", "0.5", "--timeout", "60", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_hebbd_feed_reliable_goes_through_daemon_restarts_and_exits_0_once_all_is_acknowledged(
        make_daemon: Callable[..., LocalDaemon], tmp_path: Path) -> None:
    """`hebbd feed --reliable` against a daemon killed with kill -9 twice and stopped with SIGTERM once mid-feed (each
    time restarted): the feed exits 0, and the model is bit-identical to an uninterrupted daemon fed by the same
    command — every row learned exactly once."""
    data = tmp_path / "rows.npy"
    rows = write_rows(data, batches(400))
    calm = make_daemon(MODEL).start()
    out, _ = feed(calm, data, "calm").communicate(timeout=300)
    assert "all acknowledged" in out, out
    expected = final_state(calm)

    crashing = make_daemon(MODEL).start()
    feeder = feed(crashing, data, "feeder", "--rate", "60")   # ~400 messages over ~7 s
    for action in ("kill", "kill", "stop"):
        time.sleep(0.6)
        assert feeder.poll() is None, "the feed ended before the daemon was restarted"
        if action == "kill":
            # Frozen first, so the kill finds messages in flight: sent into its socket, never journaled or
            # acknowledged (a plain kill -9 can land between two acknowledged messages, with nothing to resend).
            os.kill(crashing.pid, signal.SIGSTOP)
            time.sleep(0.2)
            crashing.kill()
        else:
            crashing.stop()
        time.sleep(0.3)      # the feed meets a dead endpoint for a while
        crashing.start()
    out, _ = feeder.communicate(timeout=300)
    assert feeder.returncode == 0, out
    assert "all acknowledged" in out
    assert int(re.search(r"(\d+) resends", out).group(1)) > 0, out   # what was in flight at a kill was sent again
    got = final_state(crashing)
    assert got["samples"] + got["pending_rows"] == rows
    assert (got["samples"], got["updates"], got["weights"]) == (expected["samples"], expected["updates"], expected["weights"])


def test_hebbd_feed_reliable_exits_1_and_names_what_was_not_acknowledged(tmp_path: Path) -> None:
    """With no daemon at the endpoint, `hebbd feed --reliable` gives up after --timeout: exit 1, and the message says
    how many messages (which sequence numbers) were not acknowledged."""
    from hebbd.testing import find_binary, free_port
    data = tmp_path / "rows.npy"
    write_rows(data, batches(10))
    out = subprocess.run([find_binary(None), "feed", "--reliable", "--endpoint", f"tcp://127.0.0.1:{free_port()}", "--producer", "p",
                          "--model", "r", "--data", str(data), "--dict-dim", "16", "--batch-rows", "3", "--seq", "1",
                          "--timeout", "1.5", "--resend-after", "0.3"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "not acknowledged" in out.stderr + out.stdout and "seq 1…" in out.stderr + out.stdout
