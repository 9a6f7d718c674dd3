"""Operators' habits, against the real binary and a real daemon: `hebbd --version`, the version in `status` and in
`hebbd_build_info`, `hebbd control status` indented on a terminal and one line in a pipe, `hebbd control predict`
with its rows given by `--x` or on stdin, and the stop notification that asks systemd for time for the final
checkpoint (a fake NOTIFY_SOCKET, never a real systemd)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import List, Tuple

import numpy as np

from hebbd import Control
from hebbd.testing import LocalDaemon

REPO = Path(__file__).resolve().parents[3]


def source_version() -> str:
    """The one version constant, read from its Swift source (so the tests cannot drift from it)."""
    text = (REPO / "Sources" / "HebbCore" / "Version.swift").read_text()
    match = re.search(r'static let current = "([^"]+)"', text)
    assert match, "no `static let current = \"…\"` in Sources/HebbCore/Version.swift"
    return match.group(1)


def run(args: List[str], stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)


def run_on_terminal(args: List[str], timeout: float = 30) -> Tuple[int, str]:
    """Runs `args` with stdout on a pseudo-terminal (isatty is true there); returns its exit status and output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdout=slave, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                block = os.read(master, 65536)
            except OSError:          # EIO: the child closed the terminal
                break
            if not block:
                break
            chunks.append(block)
        elif proc.poll() is not None:
            break
    os.close(master)
    status = proc.wait(timeout=10)
    return status, b"".join(chunks).decode().replace("\r\n", "\n")


def test_version_flag_prints_the_source_constant(daemon: LocalDaemon) -> None:
    result = run([daemon.binary, "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == source_version()


def test_status_and_build_info_carry_the_version(daemon: LocalDaemon) -> None:
    version = source_version()
    assert Control(daemon.control).status()["version"] == version
    lines = [l for l in daemon.scrape().splitlines() if l.startswith("hebbd_build_info")]
    assert lines == [f'hebbd_build_info{{version="{version}"}} 1.0'], lines


def test_control_status_is_one_line_in_a_pipe_and_indented_on_a_terminal(daemon: LocalDaemon) -> None:
    piped = run([daemon.binary, "control", "status", "--endpoint", daemon.control])
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.count("\n") == 1 and piped.stdout.startswith("{")
    status, shown = run_on_terminal([daemon.binary, "control", "status", "--endpoint", daemon.control])
    assert status == 0, shown
    lines = shown.rstrip("\n").split("\n")
    assert len(lines) > 10 and lines[0] == "{" and lines[-1] == "}", shown
    assert any(l.startswith('  "models": {') for l in lines) and any(l.startswith('    "demo": {') for l in lines), shown
    # The same reply either way (uptime aside).
    a, b = json.loads(piped.stdout), json.loads(shown)
    a.pop("uptime"), b.pop("uptime")
    assert a.keys() == b.keys() and a["models"].keys() == b["models"].keys()


def test_control_predict_takes_rows_from_x_or_stdin(daemon: LocalDaemon) -> None:
    base = [daemon.binary, "control", "predict", "--model", "demo", "--endpoint", daemon.control]
    rows = np.arange(40, dtype=np.float64).reshape(2, 20) / 10
    expected = Control(daemon.control).predict("demo", rows)
    given = run(base + ["--x", json.dumps(rows.tolist())])
    assert given.returncode == 0, given.stderr
    one_row = run(base + ["--x", json.dumps(rows[0].tolist())])
    assert one_row.returncode == 0, one_row.stderr
    stdin = run(base + ["--x", "-"], stdin="\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    assert stdin.returncode == 0, stdin.stderr
    for reply, want in ((given, expected), (stdin, expected), (one_row, expected[:1])):
        y = np.asarray(json.loads(reply.stdout)["y"], dtype=np.float64).reshape(want.shape)
        assert np.array_equal(y, want), (reply.stdout, want)


def test_control_predict_without_rows_says_how_to_give_them(daemon: LocalDaemon) -> None:
    missing = run([daemon.binary, "control", "predict", "--model", "demo", "--endpoint", daemon.control])
    assert missing.returncode == 2 and "--x" in missing.stderr, missing
    wrong = run([daemon.binary, "control", "status", "--x", "[1]", "--endpoint", daemon.control])
    assert wrong.returncode == 2 and "predict" in wrong.stderr, wrong
    bad = run([daemon.binary, "control", "predict", "--model", "demo", "--x", "-", "--endpoint", daemon.control],
              stdin="1,2,x\n")
    assert bad.returncode == 2 and "stdin line 1" in bad.stderr, bad


def test_sigterm_asks_systemd_for_time_for_the_final_checkpoint(tmp_path: Path) -> None:
    """STOPPING=1 comes with EXTEND_TIMEOUT_USEC (the engine's 60 s final-checkpoint wait plus 15 s), in one datagram,
    before the final checkpoint is written and the daemon exits 0."""
    address = str(tmp_path / "notify.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(address)
    receiver.settimeout(0.2)
    d = LocalDaemon(directory=str(tmp_path / "daemon"))
    env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY")}
    env["NOTIFY_SOCKET"] = address
    log = open(d.log_path, "ab")
    d.process = subprocess.Popen([d.binary, "run", "--config", str(d.config_path), "--state-dir", str(d.state_dir)],
                                 stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        messages: List[str] = []

        def wait_for(key: str, timeout: float = 30) -> str:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    messages.append(receiver.recv(4096).decode())
                except socket.timeout:
                    continue
                if any(line.startswith(key + "=") for line in messages[-1].split("\n")):
                    return messages[-1]
            raise AssertionError(f"no {key} within {timeout} s: {messages}\n{d.log()[-2000:]}")

        wait_for("READY")
        d.process.send_signal(signal.SIGTERM)
        stopping = dict(line.split("=", 1) for line in wait_for("STOPPING").split("\n"))
        assert stopping == {"STOPPING": "1", "EXTEND_TIMEOUT_USEC": "75000000"}, stopping
        assert d.process.wait(60) == 0
        assert list((d.state_dir / "demo").glob("ckpt-*.hebb")), "no final checkpoint"
    finally:
        log.close()
        d.stop()
        receiver.close()
