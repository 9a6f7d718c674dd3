"""A restart gives back the same daemon, and learned state is never discarded implicitly.

Real ``hebbd run`` processes (hebbd.testing), real ZeroMQ sockets, real files: run-time ``add``/``set``/``remove``
across SIGTERM and ``kill -9``; a config edit that wins for the key it changed and not for another; a newer-format
checkpoint refused and left untouched; an incompatible ``add`` refused with its old state kept; ``remove`` + ``add``
repeated quickly, resuming each time from the removed model's final state.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import pytest

from hebbd import Control, HebbdError, Producer
from hebbd.testing import LocalDaemon

MODELS = """
[[model]]
name = "a"
kind = "lasso"
dict_dim = 4
sys_dim = 1
batch_size = 10
optim = "sgd"
lr = 0.01
threshold = 0.0

[[model]]
name = "b"
kind = "ridge"
dict_dim = 3
sys_dim = 1
batch_size = 10
optim = "sgd"
lr = 0.01
"""

RUNTIME_MODEL = {"name": "c", "kind": "lasso", "dict_dim": 5, "sys_dim": 1, "batch_size": 10, "optim": "sgd", "lr": 0.02}


def described(control: Control) -> Dict[str, Dict]:
    return {m["name"]: m for m in control.models()}


def feed(daemon: LocalDaemon, model: str, dict_dim: int, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, dict_dim)).astype(np.float32)
    Y = (X[:, :1] * 0.5).astype(np.float32)
    with Producer(daemon.ingest) as p:
        p.send(model, X, Y)
        time.sleep(0.2)


def wait_step(control: Control, model: str, step: int, timeout: float = 20) -> Dict:
    deadline = time.monotonic() + timeout
    while True:
        s = control.status()["models"].get(model)
        if s is not None and s["step"] >= step:
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"{model} did not reach step {step}: {s}")
        time.sleep(0.05)


@pytest.mark.parametrize("stop", ["sigterm", "kill9"])
def test_runtime_add_set_remove_survive_a_restart(make_daemon: Callable[..., LocalDaemon], stop: str) -> None:
    d = make_daemon(MODELS, checkpoint_interval="0s").start()
    with Control(d.control) as c:
        c.add(RUNTIME_MODEL)
        c.set("a", lr=0.05)
        c.remove("b")
        feed(d, "c", 5, 30, seed=1)
        wait_step(c, "c", 3)
        c.checkpoint("c")   # with kill -9 only what was checkpointed is learned state (the journal is another task)
        before = described(c)
    assert set(before) == {"a", "c"}
    if stop == "sigterm":
        assert d.stop() == 0
    else:
        d.kill()
    d.start()
    with Control(d.control) as c:
        after = described(c)
        assert set(after) == {"a", "c"}, after.keys()
        assert after["a"]["lr"] == pytest.approx(0.05) and after["a"]["sources"]["lr"] == "runtime"
        assert after["a"]["sources"]["dict_dim"] == "config"
        assert after["c"]["step"] == 3 and after["c"]["lr"] == pytest.approx(0.02)
        assert all(v == "runtime" for v in after["c"]["sources"].values())
    assert (d.state_dir / ".runtime-state.json").is_file()
    # --reset-runtime drops every run-time change (the file is set aside, not deleted); the learned state stays.
    d.stop()
    d.start(args=["--reset-runtime"])
    with Control(d.control) as c:
        reset = described(c)
        assert set(reset) == {"a", "b"} and reset["a"]["lr"] == pytest.approx(0.01)
        assert all(v == "config" for v in reset["a"]["sources"].values())
    assert list(d.state_dir.glob(".runtime-state.json.discarded-*"))
    assert list((d.state_dir / "c").glob("ckpt-*.hebb"))


def test_a_config_edit_wins_for_the_key_it_changed_and_not_for_another(make_daemon: Callable[..., LocalDaemon]) -> None:
    d = make_daemon(MODELS, checkpoint_interval="0s").start()
    with Control(d.control) as c:
        c.set("a", lr=0.05, threshold=0.01)
        c.remove("b")
    assert d.stop() == 0
    # The operator edits threshold of "a" (not lr); b's table is left as it was.
    d.models = MODELS.replace("threshold = 0.0", "threshold = 0.2")
    d.write_config()
    d.start()
    with Control(d.control) as c:
        m = described(c)
        assert set(m) == {"a"}, "a model removed at run time stays removed while its table is unchanged"
        assert m["a"]["lr"] == pytest.approx(0.05) and m["a"]["sources"]["lr"] == "runtime"
        assert m["a"]["threshold"] == pytest.approx(0.2) and m["a"]["sources"]["threshold"] == "config"
    log = d.log()
    decisions = [line for line in log.splitlines() if "run-time state decision" in line]
    assert any("decision=runtime_kept" in line and "key=lr" in line and "winner=runtime" in line for line in decisions), decisions
    assert any("decision=config_changed" in line and "key=threshold" in line and "winner=config" in line for line in decisions), decisions
    assert any("decision=stays_removed" in line and "model=b" in line for line in decisions), decisions
    # A change to b's table brings it back; the same rule applies on SIGHUP.
    d.models = d.models.replace('kind = "ridge"\ndict_dim = 3\nsys_dim = 1\nbatch_size = 10\noptim = "sgd"\nlr = 0.01',
                                'kind = "ridge"\ndict_dim = 3\nsys_dim = 1\nbatch_size = 10\noptim = "sgd"\nlr = 0.03')
    d.write_config()
    assert d.process is not None
    d.process.send_signal(signal.SIGHUP)
    with Control(d.control) as c:
        deadline = time.monotonic() + 20
        while "b" not in described(c):
            assert time.monotonic() < deadline, d.log()[-3000:]
            time.sleep(0.1)
        m = described(c)
        assert m["b"]["lr"] == pytest.approx(0.03) and m["a"]["lr"] == pytest.approx(0.05)
    # --reset-model drops that model's run-time changes too: the file's table applies whole.
    assert d.stop() == 0
    d.start(args=["--reset-model", "a"])
    with Control(d.control) as c:
        m = described(c)
        assert m["a"]["lr"] == pytest.approx(0.01) and m["a"]["threshold"] == pytest.approx(0.2)
        assert all(v == "config" for v in m["a"]["sources"].values())


def test_remove_then_add_at_once_resumes_from_the_final_state_every_time(make_daemon: Callable[..., LocalDaemon]) -> None:
    d = make_daemon(MODELS, checkpoint_interval="0s").start()
    table = {"name": "a", "kind": "lasso", "dict_dim": 4, "sys_dim": 1, "batch_size": 10, "optim": "sgd", "lr": 0.01, "threshold": 0.0}
    with Control(d.control) as c:
        step = 0
        for i in range(20):
            feed(d, "a", 4, 10, seed=100 + i)
            step += 1
            wait_step(c, "a", step)
            c.remove("a")
            added = c.add(table)
            assert added["step"] == step, f"round {i}: resumed at step {added['step']}, the removed model was at {step}"
    assert d.stop() == 0
    d.start()
    with Control(d.control) as c:
        assert described(c)["a"]["step"] == 20


def _set_version(path: Path, version: int) -> None:
    data = bytearray(path.read_bytes())
    data[8:12] = struct.pack("<I", version)
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def test_a_newer_format_checkpoint_refuses_the_start_and_is_left_untouched(make_daemon: Callable[..., LocalDaemon]) -> None:
    d = make_daemon(MODELS, checkpoint_interval="0s").start()
    feed(d, "a", 4, 20, seed=7)
    with Control(d.control) as c:
        wait_step(c, "a", 2)
    assert d.stop() == 0
    files = sorted((d.state_dir / "a").glob("ckpt-*.hebb"))
    newest = files[-1]
    _set_version(newest, 99)
    listing = sorted(p.name for p in (d.state_dir / "a").iterdir())
    content = newest.read_bytes()
    with pytest.raises(RuntimeError) as refused:
        d.start(timeout=20)
    assert d.process is not None and d.process.returncode != 0
    assert str(newest) in str(refused.value) and "format version 99" in str(refused.value)
    assert sorted(p.name for p in (d.state_dir / "a").iterdir()) == listing, "nothing renamed, nothing written"
    assert newest.read_bytes() == content
    # systemd is told why (a fake NOTIFY_SOCKET: a datagram socket of this test, never a real systemd).
    notify_path = d.directory / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(notify_path))
        receiver.settimeout(20)
        env = {k: v for k, v in os.environ.items() if k not in ("WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY")}
        env["NOTIFY_SOCKET"] = str(notify_path)
        run = subprocess.run([d.binary, "run", "--config", str(d.config_path), "--state-dir", str(d.state_dir)], env=env,
                             capture_output=True, timeout=60)
        assert run.returncode != 0
        status = receiver.recv(65536).decode()
    assert status.startswith("STATUS=refused to start:") and str(newest) in status and "format version 99" in status, status
    # The explicit way out.
    d.start(args=["--reset-model", "a"])
    with Control(d.control) as c:
        assert described(c)["a"]["step"] == 0


def test_an_incompatible_add_is_refused_and_the_old_state_kept(make_daemon: Callable[..., LocalDaemon]) -> None:
    d = make_daemon(MODELS, checkpoint_interval="0s").start()
    feed(d, "a", 4, 20, seed=9)
    with Control(d.control) as c:
        wait_step(c, "a", 2)
        c.remove("a")
        time.sleep(0.5)
        files = sorted(p.name for p in (d.state_dir / "a").glob("ckpt-*.hebb"))
        reshaped = {"name": "a", "kind": "lasso", "dict_dim": 6, "sys_dim": 1, "batch_size": 10, "optim": "sgd", "lr": 0.01}
        with pytest.raises(HebbdError) as refused:
            c.add(reshaped)
        assert "incompatible" in str(refused.value) and '"reset": true' in str(refused.value)
        assert "a" not in described(c)
        assert sorted(p.name for p in (d.state_dir / "a").glob("ckpt-*.hebb")) == files
        # The compatible table resumes; the explicit reset discards.
        assert c.add({**reshaped, "dict_dim": 4})["step"] == 2
        c.remove("a")
        added = c.request({"cmd": "add", "model": reshaped, "reset": True})["model"]
        assert added["step"] == 0 and added["dict_dim"] == 6
