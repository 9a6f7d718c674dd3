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
from typing import Callable, List, Tuple

import numpy as np
import pytest

from hebbd import ReliableProducer
from hebbd.proc import freeze
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


def final_state(d: LocalDaemon, models: tuple = ("r",)) -> dict:
    """Stops the daemon (final checkpoint) and reads each model's newest checkpoint with `hebbd checkpoint inspect
    --json` (the first model's alone when only one is asked for)."""
    assert d.process is not None and d.process.poll() is None, f"the daemon is not running (exit {d.process.poll() if d.process else None})"
    assert d.stop() == 0
    states = {}
    for model in models:
        newest = sorted((Path(d.state_dir) / model).glob("ckpt-*.hebb"))[-1]
        out = subprocess.run([d.binary, "checkpoint", "inspect", str(newest), "--json"], check=True, capture_output=True, timeout=60)
        states[model] = json.loads(out.stdout)
    return states if len(models) > 1 else states[models[0]]


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


def kill_repeatedly(daemon: LocalDaemon, seed: int, pause: Tuple[float, float]
                    ) -> Tuple[threading.Event, List[float], threading.Thread]:
    """On a thread: SIGKILL `daemon` and start it again, KILLS times, after random pauses in `pause` (seconds, a
    seeded draw). Returns the event that stops it early, the list the kill times are appended to, and the thread."""
    stop = threading.Event()
    kills: List[float] = []

    def killer() -> None:
        rnd = random.Random(seed)
        while not stop.is_set() and len(kills) < KILLS:
            time.sleep(rnd.uniform(*pause))
            if stop.is_set():
                break
            daemon.kill()
            kills.append(time.monotonic())
            daemon.start()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return stop, kills, thread


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_kill_9_during_a_reliable_stream_learns_every_row_exactly_once(make_daemon: Callable[..., LocalDaemon],
                                                                      fsync: str) -> None:
    data = batches(MESSAGES)
    journal = f'\n[journal]\nfsync = "{fsync}"\n'
    calm = make_daemon(MODEL + journal).start()
    stream(calm, data, "calm").close()
    expected = final_state(calm)

    crashing = make_daemon(MODEL + journal).start()
    stop, kills, thread = kill_repeatedly(crashing, seed=11, pause=(0.02, 0.3))
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


def test_kill_9_while_journal_segments_are_recycled_learns_every_row_exactly_once(
        make_daemon: Callable[..., LocalDaemon]) -> None:
    """As above, with 4 KiB segments, a checkpoint every 100 ms and a paced stream: covered segments become spares and
    the next segments are written over them, so kills land in recycled segments whose previous life's records
    (another segment number in their CRC) lie behind the last record. Every such restart cuts them off as a torn tail
    — never refuses the start, never replays them — and the weights are bit-identical to an uninterrupted daemon's."""
    data = batches(MESSAGES)
    journal = '\n[journal]\nsegment_bytes = 4096\nspare_segments = 8\n'

    def paced(d: LocalDaemon, producer: str) -> ReliableProducer:
        p = ReliableProducer(d.reliable, producer, seq=1, max_outbox=200, timeout=120, resend_after=0.5)
        for x, y in data:
            p.send("r", x, y)
            time.sleep(0.002)
        p.flush(timeout=120)
        return p

    calm = make_daemon(MODEL + journal, checkpoint_interval="100ms").start()
    paced(calm, "calm").close()
    expected = final_state(calm)

    crashing = make_daemon(MODEL + journal, checkpoint_interval="100ms").start()
    stop, kills, thread = kill_repeatedly(crashing, seed=12, pause=(0.15, 0.35))
    try:
        producer = paced(crashing, "crashy")
        thread.join(120)
        producer.flush(timeout=60)
    finally:
        stop.set()
        thread.join(60)
    assert producer.pending == 0 and not producer.rejected and len(kills) == KILLS
    log = crashing.log()
    assert "journal torn tail cut off" in log, "no kill landed in a recycled segment (with its old records behind)"
    got = final_state(crashing)
    assert (got["samples"], got["updates"]) == (expected["samples"], expected["updates"])
    assert got["weights"] == expected["weights"]
    print(f"{len(kills)} kills, {log.count('journal torn tail cut off')} in a recycled segment")


def run_time_history(d: LocalDaemon, data: List[tuple], producer: str) -> None:
    """The same run-time changes at the same points of the same stream, on any daemon: rows for model "n" before it
    exists (plain PUSH: journaled, rejected as unknown_model), `set lr`, `add n`, `reset r`, a reload (SIGHUP) of a
    config file whose "r" has another `lmbda`, with reliable messages acknowledged between them — so the journal
    holds records learned under three configurations of "r", a reset, and records of "n" from before it existed."""
    p = ReliableProducer(d.reliable, producer, seq=1, max_outbox=200, timeout=120, resend_after=0.5)
    part = len(data) // 5

    def send(chunk: List[tuple], *models: str) -> None:
        for x, y in chunk:
            for model in models:
                p.send(model, x, y)
        p.flush(timeout=60)

    send(data[:part], "r")
    push = d.push()
    for x, y in data[:20]:
        push.send_multipart([b"n", json.dumps({"x": x.tolist(), "y": y.tolist()}).encode()])
    deadline = time.monotonic() + 30
    while d.request({"cmd": "status"}, check=True)["rejected"].get("unknown_model", 0) < 20:
        assert time.monotonic() < deadline, "the daemon did not take the 20 messages for the absent model"
        time.sleep(0.02)
    d.request({"cmd": "set", "model": "r", "lr": 0.05}, check=True)
    send(data[part:2 * part], "r")
    d.request({"cmd": "add", "model": {"name": "n", "kind": "ridge", "dict_dim": 16, "sys_dim": 1, "batch_size": 8}}, check=True)
    send(data[2 * part:3 * part], "r", "n")
    d.request({"cmd": "reset", "model": "r"}, check=True)
    send(data[3 * part:4 * part], "r", "n")
    d.models = MODEL + "lmbda = 0.3\n"
    d.write_config()
    os.kill(d.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while next(m for m in d.request({"cmd": "models"}, check=True)["models"] if m["name"] == "r")["lmbda"] != 0.3:
        assert time.monotonic() < deadline, "the reload did not apply"
        time.sleep(0.02)
    send(data[4 * part:], "r", "n")
    p.close()


def test_run_time_changes_replay_exactly_after_kill_9(make_daemon: Callable[..., LocalDaemon]) -> None:
    """`set`, `add`, `reset` and a reload between acknowledged reliable messages, then kill -9 (the checkpoint interval is the
    default 30 s, so only the checkpoints the changes themselves write are on disk): the restart replays the journal
    and gives back both models bit for bit as an uninterrupted daemon with the same history has them — the records
    before `set` under the old lr, none of "n"'s from before `add`, nothing from before the `reset`."""
    data = batches(200)
    calm = make_daemon(MODEL).start()
    run_time_history(calm, data, "calm")
    lr = {m["name"]: m["lr"] for m in calm.request({"cmd": "models"}, check=True)["models"]}
    expected = final_state(calm, ("r", "n"))

    crashing = make_daemon(MODEL).start()
    run_time_history(crashing, data, "crashy")
    crashing.kill()
    crashing.start()
    assert {m["name"]: m["lr"] for m in crashing.request({"cmd": "models"}, check=True)["models"]} == lr
    got = final_state(crashing, ("r", "n"))
    for model in ("r", "n"):
        assert (got[model]["samples"], got[model]["updates"]) == (expected[model]["samples"], expected[model]["updates"]), model
        assert got[model]["weights"] == expected[model]["weights"], model
    assert lr["r"] == 0.05 and expected["r"]["samples"] < sum(x.shape[0] for x, _ in data)   # the set and the reset happened


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
    assert (journal["spares"], journal["spare_bytes"], journal["recycled_segments"]) == (0, 0, 0)   # nothing covered yet
    assert journal["fsync"] == "batch" and journal["fsyncs"] >= 1 and 0 < journal["fsync_max_seconds"] <= journal["fsync_seconds"]
    time.sleep(1.2)          # the metrics are fed once per loop tick
    metrics = d.scrape()
    assert 'hebbd_reliable_messages_total{outcome="acknowledged"} 50' in metrics
    assert 'hebbd_reliable_messages_total{outcome="duplicate"} 1' in metrics
    assert 'hebbd_reliable_producer_high_water_mark{producer="meter"} 50' in metrics
    assert "hebbd_journal_records_total 50" in metrics and "hebbd_journal_fsync_seconds_total" in metrics
    assert "hebbd_journal_spares 0" in metrics and "hebbd_journal_segments_recycled_total" in metrics
    p.close()
    d.kill()
    d.start()
    with Control(d.control) as c:
        after = c.status()["journal"]
    # No checkpoint was written (30 s interval): every record is replayed; the mark came back from the journal.
    assert after["replayed"] == 50 and after["producers"] == {"meter": 50} and after["acknowledged"] == 0


def test_a_message_of_70000_frames_is_rejected_on_both_paths_and_the_journal_stays_readable(
        make_daemon: Callable[..., LocalDaemon]) -> None:
    """More frames than a journal record can count (UInt16), on PULL and on the reliable ROUTER: the daemon rejects
    both (frame_count, counted; the reliable one answered `rejected`), keeps running, and restarts from its journal
    (the reliable message's sequence number was consumed: its resend is a duplicate)."""
    import zmq
    from hebbd import Control
    from hebbd.malformed import ingest_kinds
    from hebbd.reliable import DUPLICATE, REJECTED, parse_reply, request_header
    frames = next(build for kind, _, build in ingest_kinds("r", 16, 1, 1 << 20, 1000) if kind == "70000 empty frames")()
    assert len(frames) == 70_000
    d = make_daemon(MODEL).start()
    context = zmq.Context.instance()

    def reliable_reply(request: List[bytes]) -> tuple:
        with context.socket(zmq.DEALER) as dealer:
            dealer.setsockopt(zmq.LINGER, 0)
            dealer.connect(d.reliable)
            dealer.send_multipart(request)
            assert dealer.poll(10_000), "no reply to the reliable request"
            return parse_reply(dealer.recv_multipart()[-1])

    with context.socket(zmq.PUSH) as push:
        push.setsockopt(zmq.LINGER, 2000)
        push.connect(d.ingest)
        push.send_multipart(frames)
    status, seq, mark, reason = reliable_reply([request_header("hostile", 1)] + frames)
    assert (status, seq, mark) == (REJECTED, 1, 1) and "70000 frames" in reason
    with Control(d.control) as c:
        deadline = time.monotonic() + 10
        while c.status()["rejected"].get("frame_count", 0) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert c.status()["rejected"].get("frame_count", 0) == 2
        assert c.status()["journal"]["rejected"] == 1     # the reliable one: journaled (its number), answered rejected
    assert d.process is not None and d.process.poll() is None
    d.kill()
    d.start()
    status, seq, mark, _ = reliable_reply([request_header("hostile", 1)] + frames)
    assert (status, seq, mark) == (DUPLICATE, 1, 1)


def test_the_journal_replay_before_ready_asks_systemd_for_more_start_up_time(make_daemon: Callable[..., LocalDaemon],
                                                                             tmp_path: Path) -> None:
    """A restart after kill -9 replays the journal before READY=1 (the sockets are not bound yet): the daemon sends
    EXTEND_TIMEOUT_USEC (and a STATUS= saying so) to $NOTIFY_SOCKET — a fake one, a datagram socket of the test —
    before READY=1, so a long replay does not meet TimeoutStartSec."""
    import socket
    d = make_daemon(MODEL).start()
    p = ReliableProducer(d.reliable, "notify", seq=1, resend_after=0.5)
    for x, y in batches(200):
        p.send("r", x, y)
    p.flush(timeout=60)
    p.close()
    d.kill()
    address = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.settimeout(0.2)
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY")}
    env["NOTIFY_SOCKET"] = address
    with open(d.log_path, "ab") as log:
        d.process = subprocess.Popen([d.binary, "run", "--config", str(d.config_path), "--state-dir", str(d.state_dir)],
                                     stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    messages: List[str] = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and not any("READY=1" in m for m in messages):
            try:
                messages.append(receiver.recv(4096).decode())
            except socket.timeout:
                continue
    finally:
        receiver.close()
    ready = next(i for i, m in enumerate(messages) if "READY=1" in m)
    before = "\n".join(messages[:ready]).split("\n")
    assert "EXTEND_TIMEOUT_USEC=30000000" in before, messages
    assert any(line.startswith("STATUS=replaying the journal") for line in before), messages
    assert any("journal replayed" in line and "journal.replayed=200 " in line + " " for line in d.log().splitlines()), d.log()[-2000:]


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
            freeze(crashing.pid)
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
