#!/usr/bin/env python3
"""A fake systemd NOTIFY_SOCKET: receives sd_notify datagrams and prints them.

Usage: notify_receiver.py SOCKET [--timeout SECONDS] [--idle SECONDS]

SOCKET is a filesystem path, or "@name" for a Linux abstract socket (the same
syntax as $NOTIFY_SOCKET). The script binds an AF_UNIX SOCK_DGRAM socket there,
then writes one JSON object per line to stdout, flushed at once:

  {"event": "listening", "socket": SOCKET, "monotonic_usec": N}
      once, after bind: from now on the socket accepts datagrams;
  {"event": "message", "monotonic_usec": N, "data": "READY=1", "fields": {"READY": "1"}}
      for every datagram, with CLOCK_MONOTONIC at receipt in microseconds (the
      clock of MONOTONIC_USEC=) and the KEY=VALUE lines parsed into "fields";
  {"event": "exit", "reason": "stopping" | "timeout" | "idle", "count": N}
      last line (not written when killed by SIGTERM).

It exits 0 after a datagram containing STOPPING=1, after --timeout seconds in
total (default 10), or after --idle seconds without a datagram (default: off).
A path socket is unlinked on exit (also on SIGTERM); a stale socket left at
SOCKET by an earlier run is replaced. Used by the Swift tests (SystemdTests) and
by end-to-end tests that start the real hebbd under a fake NOTIFY_SOCKET.
"""

import argparse
import json
import os
import signal
import socket
import stat
import sys
import time


def now_usec() -> int:
    return time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def parse_fields(text: str) -> dict:
    fields = {}
    for line in text.split("\n"):
        if "=" in line:
            key, value = line.split("=", 1)
            fields[key] = value
    return fields


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("socket")
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--idle", type=float, default=None)
    args = parser.parse_args()

    address = args.socket
    abstract = address.startswith("@")
    # A stale socket from an earlier run would make bind fail: remove it, but
    # never anything that is not a socket.
    if not abstract:
        try:
            if stat.S_ISSOCK(os.lstat(address).st_mode):
                os.unlink(address)
        except FileNotFoundError:
            pass
    # SIGTERM (a test killing us) still unlinks the socket and ends the output.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    # Python maps a leading NUL byte in a str address to the abstract namespace.
    sock.bind("\0" + address[1:] if abstract else address)
    emit({"event": "listening", "socket": address, "monotonic_usec": now_usec()})

    deadline = time.monotonic() + args.timeout
    count = 0
    reason = "timeout"
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wait = remaining if args.idle is None else min(remaining, args.idle)
            sock.settimeout(wait)
            try:
                data = sock.recv(65536)
            except socket.timeout:
                if args.idle is not None and wait == args.idle:
                    reason = "idle"
                    break
                continue
            count += 1
            text = data.decode("utf-8", errors="replace")
            fields = parse_fields(text)
            emit({"event": "message", "monotonic_usec": now_usec(), "data": text, "fields": fields})
            if fields.get("STOPPING") == "1":
                reason = "stopping"
                break
    finally:
        sock.close()
        if not abstract:
            try:
                os.unlink(address)
            except FileNotFoundError:
                pass
    emit({"event": "exit", "reason": reason, "count": count})
    return 0


if __name__ == "__main__":
    sys.exit(main())
