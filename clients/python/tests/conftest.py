"""Fixtures: a real `hebbd run` per test (loopback, free ports, a temporary state directory), always stopped.

The binary is $HEBBD_BIN, by default the repository's debug build (`swift build` → .build/debug/hebbd).
Every test is bounded: SIGALRM fails it after TEST_SECONDS.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Callable, Iterator, List

import pytest

from hebbd.testing import DEMO_MODEL, LocalDaemon

REPO = Path(__file__).resolve().parents[3]
TEST_SECONDS = 180

os.environ.setdefault("HEBBD_BIN", str(REPO / ".build" / "debug" / "hebbd"))


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    """Fails a test that runs longer than TEST_SECONDS (a hang must not stall CI)."""
    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"test exceeded {TEST_SECONDS} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., LocalDaemon]]:
    """Creates (not started) LocalDaemons in tmp_path; every one is stopped at the end of the test, and
    its log is printed when the test failed."""
    made: List[LocalDaemon] = []

    def make(models: str = DEMO_MODEL, **kwargs: object) -> LocalDaemon:
        d = LocalDaemon(models, directory=str(tmp_path / f"daemon{len(made)}"), **kwargs)  # type: ignore[arg-type]
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()
        log = d.log()
        if log:
            print(f"--- {d.directory} hebbd.log (last 3000 characters) ---\n{log[-3000:]}")


@pytest.fixture
def daemon(make_daemon: Callable[..., LocalDaemon]) -> LocalDaemon:
    """A started daemon with the demo model (lasso, 20 × 1, batches of 50) in JSON publish format."""
    return make_daemon().start()
