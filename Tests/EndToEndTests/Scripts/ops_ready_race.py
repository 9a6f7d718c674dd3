#!/usr/bin/env python3
"""Is hebbd really ready when it says READY=1? Acts on READY=1 the instant it arrives, as systemd may.

    ops_ready_race.py --signal HUP|TERM|NONE --metrics HOST:PORT [--attempts N] -- hebbd run --config …

For each attempt: binds a fresh AF_UNIX datagram socket, starts the command with NOTIFY_SOCKET pointing at it
(no WATCHDOG_USEC), waits for READY=1, then at once (well under a millisecond later) tries a TCP connect to the
metrics endpoint and sends the signal. Then:

  HUP:  RELOADING=1 and a second READY=1 must follow and the process must still be running after 0.5 s;
        it is then stopped with SIGTERM (exit 0 expected);
  TERM: STOPPING=1 must follow and the process must exit 0 (a graceful stop, final checkpoint written);
  NONE: only the metrics probe (it must be bound); the process is stopped with SIGTERM 0.5 s later.

Every child is stopped (SIGTERM, then SIGKILL after 10 s) on every path. Prints one JSON object:
{"attempts": [{"ready_ms", "metrics_bound", "outcome", "returncode", "notify": [...], "log_tail"}], "ok": all fine}.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

SIGNALS = {"HUP": signal.SIGHUP, "TERM": signal.SIGTERM, "NONE": None}


def receive(sock, until, want, notes, child):
    """Datagrams until one contains `want` (True), or `until` (monotonic) passes or the child has exited
    with nothing more queued (False)."""
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(min(left, 0.05))
        try:
            data = sock.recv(65536).decode("utf-8", "replace")
        except socket.timeout:
            if child.poll() is not None:
                return False
            continue
        notes.append(data)
        if want in data.split("\n"):
            return True


def stop(child):
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
    return child.returncode


def attempt(args, command, workdir, index):
    path = os.path.join(workdir, f"notify-{index}.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    log_path = os.path.join(workdir, f"hebbd-{index}.log")
    env = dict(os.environ, NOTIFY_SOCKET=path)
    for key in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(key, None)
    result = {"notify": []}
    started = time.monotonic()
    with open(log_path, "wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    try:
        if not receive(sock, started + 20, "READY=1", result["notify"], child):
            result["outcome"] = "no READY=1 within 20 s"
            return result
        result["ready_ms"] = round((time.monotonic() - started) * 1000, 1)
        host, port = args.metrics.rsplit(":", 1)
        probe = socket.socket()
        result["metrics_bound"] = probe.connect_ex((host, int(port))) == 0
        probe.close()
        sig = SIGNALS[args.signal]
        if sig is not None:
            child.send_signal(sig)
        if args.signal == "HUP":
            reloading = receive(sock, time.monotonic() + 5, "RELOADING=1", result["notify"], child)
            ready = reloading and receive(sock, time.monotonic() + 5, "READY=1", result["notify"], child)
            if ready:
                time.sleep(0.5)
            alive = child.poll() is None
            result["outcome"] = "reloaded" if reloading and ready and alive else \
                f"reloading={reloading} ready={ready} alive={alive} returncode={child.poll()}"
            result["returncode"] = stop(child)
            result["ok"] = result["outcome"] == "reloaded" and result["returncode"] == 0
        elif args.signal == "TERM":
            stopping = receive(sock, time.monotonic() + 10, "STOPPING=1", result["notify"], child)
            try:
                child.wait(15)
            except subprocess.TimeoutExpired:
                pass
            result["returncode"] = stop(child)
            result["outcome"] = "stopped" if stopping and result["returncode"] == 0 else \
                f"stopping={stopping} returncode={result['returncode']}"
            result["ok"] = result["outcome"] == "stopped"
        else:
            time.sleep(0.5)  # past the signal-handler race, so the stop itself is graceful
            result["returncode"] = stop(child)
            result["outcome"] = "probed"
            result["ok"] = result["metrics_bound"] and result["returncode"] == 0
        return result
    finally:
        stop(child)
        sock.close()
        os.unlink(path)
        with open(log_path, "rb") as log:
            result["log_tail"] = log.read()[-1500:].decode("utf-8", "replace")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--signal", choices=sorted(SIGNALS), required=True)
    ap.add_argument("--metrics", required=True, help="host:port of endpoints.metrics")
    ap.add_argument("--attempts", type=int, default=3)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command after --")
    with tempfile.TemporaryDirectory(prefix="hebbd-ops-race-") as workdir:
        attempts = [attempt(args, command, workdir, i) for i in range(args.attempts)]
    print(json.dumps({"ok": all(a.get("ok") for a in attempts), "attempts": attempts}, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
