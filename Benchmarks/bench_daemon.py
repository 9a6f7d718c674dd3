"""A `hebbd run` for one benchmark: free loopback ports, a config of its own, a control client, always killed.

    with BenchDaemon(binary, model_toml) as daemon:
        reply = daemon.request({"cmd": "status"})
        push = daemon.push()
"""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import zmq


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchDaemon:
    """Starts `binary run` on a config with `model_toml` (one or more [[model]] tables, optionally preceded by
    other tables such as [publish]) and `daemon_toml` (extra [daemon] keys) and waits until it
    answers `status`. Leaving the `with` block kills it (SIGKILL: benchmarks want no final checkpoint)."""

    def __init__(self, binary, model_toml, start_timeout=30.0, daemon_toml=""):
        self.directory = tempfile.mkdtemp(prefix="hebbd-bench-")
        self.ingest, self.publish, self.control = (f"tcp://127.0.0.1:{free_port()}" for _ in range(3))
        config = os.path.join(self.directory, "hebbd.toml")
        with open(config, "w") as f:
            f.write(f"""[daemon]
state_dir = "{self.directory}/state"
checkpoint_interval = "0s"
log_level = "warning"
{daemon_toml}
[endpoints]
ingest = "{self.ingest}"
publish = "{self.publish}"
control = "{self.control}"
metrics = ""
{model_toml}
""")
        self.process = subprocess.Popen([binary, "run", "--config", config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.context = zmq.Context()
        self._req = None
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                self.request({"cmd": "status"}, timeout_ms=200)
                break
            except zmq.Again:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise SystemExit(f"{binary}: hebbd did not answer status within {start_timeout} s")

    def request(self, command, timeout_ms=120_000):
        """One control round trip; raises zmq.Again (and drops the socket) when no reply comes in time."""
        if self._req is None:
            self._req = self.context.socket(zmq.REQ)
            self._req.setsockopt(zmq.LINGER, 0)
            self._req.connect(self.control)
        self._req.setsockopt(zmq.RCVTIMEO, timeout_ms)
        self._req.send(json.dumps(command).encode())
        try:
            return json.loads(self._req.recv())
        except zmq.Again:
            self._req.close()
            self._req = None
            raise

    def push(self, hwm=0):
        """A PUSH socket connected to the ingest endpoint."""
        s = self.context.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDHWM, hwm)
        s.connect(self.ingest)
        return s

    def _status_mib(self, key):
        """A memory line of the daemon's /proc status (Linux), in MiB."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {key} in /proc")

    def peak_rss_mib(self):
        """VmHWM of the daemon (Linux)."""
        return self._status_mib("VmHWM")

    def rss_mib(self):
        """VmRSS of the daemon (Linux)."""
        return self._status_mib("VmRSS")

    def close(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.context.destroy(linger=0)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
