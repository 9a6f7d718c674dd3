"""A process's memory and CPU time as Linux reports them in ``/proc/PID/status`` and ``/proc/PID/stat``: the one
reader the tests and benchmarks use."""

from __future__ import annotations

import os
import signal
import time
from typing import Dict


def memory_mib(pid: int, *keys: str) -> Dict[str, float]:
    """``{key: MiB}`` for the ``/proc/PID/status`` lines named (default ``VmRSS`` and ``VmHWM``, the resident set
    and its peak). Raises ``KeyError`` when a line is missing (a kernel thread, or not Linux)."""
    wanted = keys or ("VmRSS", "VmHWM")
    out: Dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in wanted:
                out[key] = int(value.split()[0]) / 1024.0      # kB → MiB
    missing = [k for k in wanted if k not in out]
    if missing:
        raise KeyError(f"no {', '.join(missing)} in /proc/{pid}/status")
    return out


def rss_mib(pid: int) -> float:
    """The resident set (``VmRSS``) of ``pid``, in MiB."""
    return memory_mib(pid, "VmRSS")["VmRSS"]


def peak_rss_mib(pid: int) -> float:
    """The peak resident set (``VmHWM``) of ``pid``, in MiB."""
    return memory_mib(pid, "VmHWM")["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time ``pid`` has used so far, in seconds (``utime`` + ``stime`` of ``/proc/PID/stat``,
    all its threads; a resolution of one clock tick, 10 ms)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()     # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_states(pid: int) -> Dict[int, str]:
    """``{thread id: state letter}`` of every thread of ``pid`` (``/proc/PID/task/TID/stat``: ``R`` running, ``S``
    sleeping, ``T`` stopped, …). A thread that ends while it is read is left out."""
    states: Dict[int, str] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            pass
    return states


def freeze(pid: int, timeout: float = 10.0) -> None:
    """SIGSTOP ``pid`` and return once every one of its threads is stopped.

    ``kill`` only queues the signal: each thread stops when it next passes through the kernel, so for a moment
    after ``os.kill`` returns a thread can still answer a request (seen on a loaded CI machine). Tests that need
    the process to take no step wait here. Raises ``TimeoutError`` when a thread is still not stopped after
    ``timeout`` seconds."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while True:
        running = {tid: state for tid, state in thread_states(pid).items() if state not in ("T", "t")}
        if not running:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"threads of {pid} not stopped {timeout:g} s after SIGSTOP: {running}")
        time.sleep(0.002)


def thaw(pid: int) -> None:
    """SIGCONT ``pid``: undoes :func:`freeze`."""
    os.kill(pid, signal.SIGCONT)


__all__ = ["cpu_seconds", "freeze", "memory_mib", "peak_rss_mib", "rss_mib", "thaw", "thread_states"]
