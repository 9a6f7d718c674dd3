"""A stop right after start-up is a graceful stop: SIGTERM/SIGINT are trapped before the daemon loads, binds or
answers anything, so a SIGTERM sent the moment `status` first answers ends with final checkpoints and exit 0, never
with the default action (killed by signal 15) — the race the reliable kill -9 test used to meet."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Callable

from hebbd.testing import LocalDaemon


def test_sigterm_the_moment_status_answers_is_a_graceful_stop(make_daemon: Callable[..., LocalDaemon]) -> None:
    d = make_daemon()
    for _ in range(8):
        d.start()                      # returns as soon as the control socket answers `status`
        assert d.stop() == 0, d.log()[-3000:]
    assert d.log().count("hebbd stopped") == 8
    # Each stop wrote the final checkpoint of the demo model.
    assert list((Path(d.state_dir) / "demo").glob("ckpt-*.hebb"))


def test_sigint_while_the_engine_starts_is_a_graceful_stop(make_daemon: Callable[..., LocalDaemon]) -> None:
    """SIGINT while the daemon is still starting (right after its `journal replayed` line, before `status` answers):
    it finishes starting, then stops gracefully (exit 0) instead of dying by the signal (before the fix: exit -2)."""
    d = make_daemon()
    d.start()
    d.kill()
    process = subprocess.Popen([d.binary, "run", "--config", str(d.config_path), "--state-dir", str(d.state_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    seen = b""
    # Wait for the first log line (logging is up, so Launcher.run has begun), then interrupt at once.
    while b"journal replayed" not in seen and time.monotonic() < deadline:
        line = process.stdout.readline() if process.stdout else b""
        if not line:
            break
        seen += line
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, (seen + out).decode(errors="replace")[-3000:]
    assert b"hebbd stopped" in seen + out
