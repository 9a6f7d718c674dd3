"""A real ``hebbd run`` for tests and benchmarks: loopback (or ``ipc://``) endpoints, its own config and state
directory, bounded start and stop. No mocks — the client's tests (and yours) talk to the actual daemon::

    with LocalDaemon(models=DEMO_MODEL) as d:
        Producer(d.ingest).send("demo", X, Y)
        Control(d.control).status()

The binary is ``binary=`` or ``$HEBBD_BIN``, else ``hebbd`` on ``$PATH``.

This module is the repository's one Python support library (with :mod:`hebbd.proc` for a process's memory,
:mod:`hebbd.checkpoint` for checkpoint files and :mod:`hebbd.malformed` for the hostile-input kinds): the client's
tests, the end-to-end scripts of ``Tests/``, ``Benchmarks/`` and ``Fuzz/`` all start daemons, pick ports and read
memory through it. The Swift end-to-end harness (``Tests/EndToEndTests/Harness.swift``) has its own counterpart
for the Swift tests (``Ports.free``, its daemon launcher); the two are kept alike (e.g. both retry a start whose
port was taken meanwhile).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO, Any, Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import zmq

from .control import Control
from .curve import CurveKeys
from .errors import HebbdError, HebbdTimeout
from .proc import memory_mib

#: The demo model of Configs/hebbd.toml (lasso, 20 features, 1 target, batches of 50, Adam).
DEMO_MODEL = """
[[model]]
name = "demo"
kind = "lasso"
dict_dim = 20
sys_dim = 1
batch_size = 50
epochs = 1
optim = "adam"
lr = 0.01
lmbda = 0.0001
threshold = 0.001
weight_fill = 0.05
update = "hebbian"
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(binary: Optional[str] = None) -> str:
    """``binary``, else ``$HEBBD_BIN``, else ``hebbd`` on ``$PATH``, as an absolute path (the daemon runs in its
    own directory, so a relative path would not find it there); raises FileNotFoundError."""
    path = binary or os.environ.get("HEBBD_BIN") or shutil.which("hebbd")
    if not path or not os.access(path, os.X_OK):
        raise FileNotFoundError(f"no hebbd binary at {path!r} (build it with `swift build`, set HEBBD_BIN)")
    return os.path.abspath(path)


class LocalDaemon:
    """One ``hebbd run`` on loopback: ``ingest``, ``publish``, ``control`` (tcp://127.0.0.1:P) and
    ``metrics`` (127.0.0.1:P) are chosen once, so :meth:`restart` comes back on the same endpoints and the
    same ``state_dir``. ``directory`` (default: a new temporary directory, removed by :meth:`cleanup`)
    holds ``hebbd.toml``, ``state/`` and ``hebbd.log``.

    ``models`` is the config's tail: ``[[model]]`` tables, optionally preceded by other tables (``[limits]``).
    ``transport="ipc"`` puts ``ingest``, ``publish`` and ``control`` on ``ipc://DIR/<name>.sock`` instead
    (same-host clients; docs/OPERATIONS.md). ``metrics=False`` turns the metrics listener off.
    ``kill_on_exit=True`` ends the daemon with SIGKILL when the ``with`` block is left (benchmarks: no final
    checkpoint to wait for). ``umask``: the daemon's file mode creation mask (e.g. ``0o027``, the systemd
    unit's ``UMask=``; default: inherited), which sets the mode of its ``ipc://`` socket files. ``curve_dir``: turn on CURVE with ``server.key`` and ``clients/`` in that
    directory (see :meth:`enable_curve`). ``journal=False`` writes ``[journal] enabled = false`` (and no
    ``endpoints.reliable``, which needs the journal).
    """

    def __init__(self, models: str = DEMO_MODEL, *, binary: Optional[str] = None, publish_format: str = "json",
                 checkpoint_interval: str = "30s", heartbeat: str = "5s", directory: Optional[str] = None,
                 extra_daemon: str = "", curve_dir: Optional[str] = None, transport: str = "tcp",
                 log_level: str = "info", metrics: bool = True, kill_on_exit: bool = False,
                 umask: Optional[int] = None, journal: bool = True) -> None:
        if transport not in ("tcp", "ipc"):
            raise ValueError(f"transport must be 'tcp' or 'ipc', not {transport!r}")
        self.binary = find_binary(binary)
        self._own_directory = directory is None
        self.directory = Path(directory or tempfile.mkdtemp(prefix="hebbd-test-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.directory / "state"
        self.config_path = self.directory / "hebbd.toml"
        self.log_path = self.directory / "hebbd.log"
        self.transport = transport
        self.log_level = log_level
        self.metrics_enabled = metrics
        self.kill_on_exit = kill_on_exit
        self.umask = umask
        self.journal = journal
        self._context: Optional[zmq.Context] = None
        self._client: Optional[Control] = None
        self._pick_ports()
        self._started_once = False
        self.models = models
        self.publish_format = publish_format
        self.checkpoint_interval = checkpoint_interval
        self.heartbeat = heartbeat
        self.extra_daemon = extra_daemon
        self.curve_dir: Optional[Path] = Path(curve_dir) if curve_dir else None
        self.process: Optional[subprocess.Popen] = None
        self._log: Optional[IO[bytes]] = None
        self.write_config()

    # -- configuration --------------------------------------------------------------------------------

    def _pick_ports(self) -> None:
        if self.transport == "ipc":
            self.ingest, self.publish, self.control, self.reliable = (
                f"ipc://{self.directory / name}.sock" for name in ("ingest", "publish", "control", "reliable"))
        else:
            self.ingest = f"tcp://127.0.0.1:{free_port()}"
            self.publish = f"tcp://127.0.0.1:{free_port()}"
            self.control = f"tcp://127.0.0.1:{free_port()}"
            self.reliable = f"tcp://127.0.0.1:{free_port()}"
        self.metrics = f"127.0.0.1:{free_port()}" if self.metrics_enabled else ""

    def _replace_taken_ports(self, error: str) -> None:
        """New ports for the TCP endpoints the daemon's start-up error names (``… socket on ENDPOINT: zmq_bind
        failed``); all of them when it names none."""
        taken = [name for name in ("ingest", "publish", "control", "reliable")
                 if getattr(self, name).startswith("tcp://") and f"{getattr(self, name)}:" in error]
        if not taken:
            self._pick_ports()
        for name in taken:
            setattr(self, name, f"tcp://127.0.0.1:{free_port()}")

    def write_config(self) -> None:
        """(Re)writes ``hebbd.toml`` from the current attributes."""
        if self.curve_dir is not None:
            security = (f'curve = true\nsecret_key_file = "{self.curve_dir / "server.key"}"\n'
                        f'authorized_keys_dir = "{self.curve_dir / "clients"}"\n')
        else:
            security = "curve = false\n"
        self.config_path.write_text(f"""# Written by hebbd.testing.LocalDaemon.
[daemon]
state_dir = "{self.state_dir}"
checkpoint_interval = "{self.checkpoint_interval}"
log_level = "{self.log_level}"
{self.extra_daemon}

[endpoints]
ingest = "{self.ingest}"
publish = "{self.publish}"
control = "{self.control}"
reliable = "{self.reliable if self.journal else ""}"
subscribe = []
metrics = "{self.metrics}"

[publish]
format = "{self.publish_format}"
window = 100
heartbeat = "{self.heartbeat}"

[security]
{security}
{"" if self.journal else "[journal]" + chr(10) + "enabled = false" + chr(10)}
{self.models}
""")

    def keygen(self, name: str, out: Optional[Path] = None) -> Path:
        """Runs ``hebbd keygen --out DIR --name NAME`` (DIR default: ``curve_dir``); returns the stem
        ``DIR/NAME`` (``.pub`` and ``.key`` beside it)."""
        out = out or self.curve_dir or (self.directory / "keys")
        subprocess.run([self.binary, "keygen", "--out", str(out), "--name", name], check=True,
                       capture_output=True, timeout=30)
        return Path(out) / name

    def enable_curve(self, directory: Optional[str] = None) -> Path:
        """Generates the daemon's key pair with ``hebbd keygen`` into ``directory`` (default
        ``DIR/keys``), creates ``clients/`` there and turns CURVE on in the config (before :meth:`start`)."""
        self.curve_dir = Path(directory) if directory else self.directory / "keys"
        (self.curve_dir / "clients").mkdir(parents=True, exist_ok=True)
        self.keygen("server")
        self.write_config()
        return self.curve_dir

    def authorize(self, name: str) -> CurveKeys:
        """A client key pair made by ``hebbd keygen``, its public key copied into ``clients/``; the
        :class:`CurveKeys` to use against this daemon."""
        assert self.curve_dir is not None, "enable_curve() first"
        stem = self.keygen(name)
        shutil.copy(str(stem) + ".pub", self.curve_dir / "clients" / f"{name}.pub")
        return CurveKeys.load(server=self.curve_dir / "server.pub", client=stem)

    # -- the process ----------------------------------------------------------------------------------

    def start(self, timeout: float = 30.0, args: Optional[List[str]] = None) -> "LocalDaemon":
        """Starts ``hebbd run`` and waits until it answers ``status`` (or exits: RuntimeError with its log).

        A port picked as free may be taken by another process before the daemon binds it; on the first start
        that is retried with a new port for the endpoint the daemon could not bind (up to 3 times), as the Swift
        end-to-end harness does; the other endpoints stay, so a client pointed at them before the start (a
        producer connected early) stays right. A restart keeps its endpoints."""
        attempts = 1 if self._started_once else 3
        for attempt in range(attempts):
            try:
                self._start(timeout, args)
                self._started_once = True
                return self
            except RuntimeError as error:
                if attempt + 1 == attempts or "Address already in use" not in str(error):
                    raise
                self._replace_taken_ports(str(error))
                self.write_config()
        raise AssertionError("unreachable")

    def _start(self, timeout: float, args: Optional[List[str]]) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY")}
        keys = self.admin_keys()          # authorized before the daemon reads authorized_keys_dir
        self._close_log()
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [self.binary, "run", "--config", str(self.config_path), "--state-dir", str(self.state_dir)] + (args or []),
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=str(self.directory), env=env,
            umask=-1 if self.umask is None else self.umask)
        deadline = time.monotonic() + timeout
        with Control(self.control, timeout=0.5, curve=keys) as c:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"hebbd exited with {self.process.returncode} during start-up:\n{self.log()[-4000:]}")
                try:
                    c.status()
                    return
                except (HebbdTimeout, HebbdError):
                    time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"hebbd did not answer status within {timeout} s:\n{self.log()[-4000:]}")

    def admin_keys(self) -> Optional[CurveKeys]:
        """With CURVE on: the keys of an authorized client ``admin`` (made once), which :meth:`start`
        uses to see that the daemon is up. None without CURVE."""
        if self.curve_dir is None:
            return None
        stem = self.curve_dir / "admin"
        if not Path(str(stem) + ".key").exists():
            return self.authorize("admin")
        return CurveKeys.load(server=self.curve_dir / "server.pub", client=stem)

    @property
    def running(self) -> bool:
        """Whether the current run is alive."""
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (final checkpoint, exit 0) and wait; SIGKILL after ``timeout``. Returns the exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)   # in case a test stopped it
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._close_log()
        return int(self.process.returncode)

    def kill(self) -> None:
        """SIGKILL: no final checkpoint (a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._close_log()

    def restart(self, timeout: float = 30.0) -> "LocalDaemon":
        """A graceful stop, then a start on the same config, endpoints and state directory."""
        self.stop()
        return self.start(timeout)

    # -- talking to it (one context and control client per daemon, made on first use) --------------

    @property
    def pid(self) -> int:
        """The current run's process id."""
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def context(self) -> zmq.Context:
        """A ZeroMQ context for this daemon's sockets, destroyed (linger 0) by :meth:`cleanup`."""
        if self._context is None:
            self._context = zmq.Context()
        return self._context

    def request(self, request: Mapping[str, Any], timeout: float = 120.0, *, check: bool = False) -> Dict[str, Any]:
        """One control request through this daemon's own :class:`~hebbd.Control`; the reply as it is (``ok``
        false included unless ``check``). Raises :class:`~hebbd.HebbdTimeout`."""
        if self._client is None:
            self._client = Control(self.control, timeout=timeout, context=self.context, curve=self.admin_keys())
        return self._client.request(request, timeout, check=check)

    def wait_for_rows(self, model: str, rows: int, timeout: float = 30.0) -> Dict[str, Any]:
        """Polls ``status`` until ``model`` has taken ``rows`` rows (learned or buffered for its next batch) or
        ``timeout`` seconds have passed; returns the last ``status`` reply (the caller checks it)."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.request({"cmd": "status"})
            entry = status["models"][model]
            if entry["samples"] + entry["buffered"] >= rows or time.monotonic() > deadline:
                return status
            time.sleep(0.01)

    def push(self, hwm: int = 0) -> zmq.Socket:
        """A raw PUSH socket on the ingest endpoint (send HWM ``hwm``, 0 = unbounded; linger 0), for sending
        prepared frames as fast as possible (the :class:`~hebbd.Producer` checks and converts every block)."""
        s = self.context.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, hwm)
        s.connect(self.ingest)
        return s

    def subscribe(self, *topics: str, hwm: Optional[int] = None) -> zmq.Socket:
        """A raw SUB socket on the publish endpoint, subscribed to ``topics`` (prefixes such as ``coef/``)."""
        s = self.context.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        if hwm is not None:
            s.setsockopt(zmq.RCVHWM, hwm)
        for topic in topics:
            s.setsockopt(zmq.SUBSCRIBE, topic.encode())
        s.connect(self.publish)
        return s

    def memory_mib(self) -> Dict[str, float]:
        """``{"VmRSS": MiB, "VmHWM": MiB}`` of the running daemon (:func:`hebbd.proc.memory_mib`)."""
        return memory_mib(self.pid)

    def rss_mib(self) -> float:
        """The daemon's resident set, MiB."""
        return self.memory_mib()["VmRSS"]

    def peak_rss_mib(self) -> float:
        """The daemon's peak resident set (VmHWM), MiB."""
        return self.memory_mib()["VmHWM"]

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log(self) -> str:
        """Everything the daemon wrote so far (all runs)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def scrape(self, path: str = "/metrics", timeout: float = 5.0) -> str:
        """``GET http://<metrics><path>`` as text."""
        with urllib.request.urlopen(f"http://{self.metrics}{path}", timeout=timeout) as r:
            return r.read().decode()

    def cleanup(self) -> None:
        """Stops the daemon and removes the temporary directory (if this object made it)."""
        try:
            if self.kill_on_exit:
                self.kill()
            self.stop()
        finally:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._context is not None:
                self._context.destroy(linger=0)
                self._context = None
            if self._own_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "LocalDaemon":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


def benchmark_daemon(binary: Optional[str], models: str, **options: Any) -> LocalDaemon:
    """A :class:`LocalDaemon` set up for a benchmark (not started; ``with`` starts it): no periodic checkpoint,
    ``warning`` logs, no metrics listener, SIGKILL at the end (no final checkpoint to wait for). ``options``
    go to :class:`LocalDaemon` (``publish_format``, ``transport``, ``extra_daemon``, …) and override these."""
    settings: Dict[str, Any] = dict(binary=binary, checkpoint_interval="0s", log_level="warning", metrics=False,
                                    kill_on_exit=True)
    settings.update(options)
    return LocalDaemon(models, **settings)


# -- data ----------------------------------------------------------------------------------------------


def sparse_system(dict_dim: int = 20, sys_dim: int = 1, support: int = 3,
                  seed: int = 1) -> Tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """(W_true, support rows, rng): ``support`` nonzero rows of ±[0.5, 1.5], the rest exactly 0, float32 — the
    system Examples/python/producer.py streams (it calls this function)."""
    rng = np.random.default_rng(seed)
    w = np.zeros((dict_dim, sys_dim), dtype=np.float32)
    rows = np.sort(rng.choice(dict_dim, size=min(support, dict_dim), replace=False))
    signs = rng.choice([-1.0, 1.0], size=(len(rows), sys_dim))
    w[rows] = (signs * rng.uniform(0.5, 1.5, size=(len(rows), sys_dim))).astype(np.float32)
    return w, rows, rng


def blocks(w: np.ndarray, rng: np.random.Generator, count: int, rows: int = 50,
           noise: float = 0.05) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
    """``count`` (X, Y) blocks of the linear system y = X·w + noise."""
    for _ in range(count):
        x = rng.standard_normal((rows, w.shape[0]))
        yield x, x @ w + noise * rng.standard_normal((rows, w.shape[1]))


__all__ = ["DEMO_MODEL", "LocalDaemon", "benchmark_daemon", "blocks", "find_binary", "free_port", "sparse_system"]
