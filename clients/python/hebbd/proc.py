"""A process's memory and CPU time as Linux reports them in ``/proc/PID/status`` and ``/proc/PID/stat``: the one
reader the tests and benchmarks use."""

from __future__ import annotations

import os
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


__all__ = ["cpu_seconds", "memory_mib", "peak_rss_mib", "rss_mib"]
