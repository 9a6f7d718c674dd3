"""`hebbd watch` (table mode) against a real daemon: per model a loss sparkline over the last updates and the
largest coefficients with their change since the previous message; resends are not counted twice."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import List

import numpy as np

from hebbd import Producer, Subscriber
from hebbd.testing import LocalDaemon
from hebbd.testing import blocks, sparse_system

SPARK = set("▁▂▃▄▅▆▇█")


def start(args: List[str]) -> "tuple[subprocess.Popen, List[str]]":
    """Starts a process and collects its stdout in a thread: chunks[0] is everything read so far, and
    proc.reader the thread (joined once the process ended)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    chunks: List[str] = []

    def read() -> None:
        data = b""
        while True:
            block = proc.stdout.read1(4096)  # type: ignore[union-attr]
            if not block:
                return
            data += block
            chunks[:] = [data.decode(errors="replace")]
    proc.reader = threading.Thread(target=read, daemon=True)  # type: ignore[attr-defined]
    proc.reader.start()  # type: ignore[attr-defined]
    return proc, chunks


def wait_for(chunks: List[str], text: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not (chunks and text in chunks[0]):
        assert time.monotonic() < deadline, f"no {text!r} in {chunks}"
        time.sleep(0.05)


def last_frame(output: str) -> str:
    return output.split("\x1b[H\x1b[2J")[-1]


def test_watch_table_shows_sparkline_and_changes(daemon: LocalDaemon) -> None:
    w, support, rng = sparse_system()
    with Subscriber(daemon.publish, "demo") as sub:
        sub.recv(timeout=10)
        watch, chunks = start([daemon.binary, "watch", "--endpoint", daemon.publish, "--model", "demo", "--top", "3",
                               "--history", "5", "--count", "9", "--timeout", "20"])
        try:
            wait_for(chunks, "(no update yet)")          # subscribed: the initial state (seq 0) is shown
            # A second subscriber (this one) re-triggers the resend of seq 0; watch must count it once.
            with Subscriber(daemon.publish, "demo") as trigger:
                trigger.recv(timeout=10)
            with Producer(daemon.ingest) as p:
                p.send_many("demo", blocks(w, rng, 7))
            watch.wait(30)
        finally:
            watch.kill()
    assert watch.returncode == 0, watch.stderr.read()  # type: ignore[union-attr]
    watch.reader.join(5)  # type: ignore[attr-defined]
    out = chunks[0]
    frame = last_frame(out)
    lines = frame.splitlines()
    assert any(l.startswith("demo") and l.split()[1:3] == ["7", "7"] for l in lines), frame
    spark = next(l for l in lines if "loss, last" in l)
    assert "loss, last 5 of 5 updates" in spark, frame
    assert len([c for c in spark if c in SPARK]) == 5 and "▁" in spark and "█" in spark, spark
    assert "change since seq 6" in frame, frame
    coef_lines = [l for l in lines if l.strip().startswith("w[")]
    assert len(coef_lines) == 3, frame
    for l in coef_lines:
        value, delta, arrow = float(l.split()[1]), float(l.split()[2]), l.split()[3]
        assert arrow == ("↑" if delta > 0 else "↓" if delta < 0 else "=")
    # Before the first update there is no loss yet: the initial frame says so.
    first = out.split("\x1b[H\x1b[2J")[1]
    assert "(no update yet)" in first and "change since" not in first, first


def test_watch_json_lines_unchanged(make_daemon) -> None:
    d = make_daemon(publish_format="binary").start()
    watch, chunks = start([d.binary, "watch", "--endpoint", d.publish, "--json", "--count", "3", "--timeout", "20"])
    try:
        wait_for(chunks, '"seq":0')
        with Producer(d.ingest) as p:
            p.send_many("demo", ((np.ones((50, 20)), np.ones(50)) for _ in range(2)))
        watch.wait(30)
    finally:
        watch.kill()
    watch.reader.join(5)  # type: ignore[attr-defined]
    out = chunks[0]
    rows = [json.loads(l) for l in out.splitlines()]
    assert [r["seq"] for r in rows] == [0, 1, 2], out
    assert all(len(r["coefficients"]) == 20 and "\x1b" not in l for r, l in zip(rows, out.splitlines()))
