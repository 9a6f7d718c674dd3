"""A process's memory as Linux reports it in ``/proc/PID/status``: the one reader the tests and benchmarks use."""

from __future__ import annotations

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


__all__ = ["memory_mib", "peak_rss_mib", "rss_mib"]
