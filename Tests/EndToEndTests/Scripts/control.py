#!/usr/bin/env python3
"""Sends one control request to a hebbd daemon (REQ → its REP socket) and prints the JSON reply.

    control.py --endpoint tcp://127.0.0.1:5557 '{"cmd": "status"}'
    control.py --endpoint … --wait 10 '{"cmd": "status"}'   # retry until the daemon answers (readiness)

Exit status: 0 for {"ok": true, …}, 1 for {"ok": false, …}, 2 when no reply came in time.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Failure, control  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description="one hebbd control request")
    ap.add_argument("request", help="a JSON request, or a bare command name")
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one reply")
    ap.add_argument("--wait", type=float, default=0.0, help="retry (with a fresh socket) until a reply comes, this many seconds")
    args = ap.parse_args()
    request = json.loads(args.request) if args.request.lstrip().startswith("{") else {"cmd": args.request}
    deadline = time.monotonic() + args.wait
    while True:
        try:
            reply = control(args.endpoint, request, timeout=min(args.timeout, max(0.2, args.wait)) if args.wait else args.timeout)
            break
        except Failure as e:
            if time.monotonic() >= deadline:
                print(f"FAIL: {e}", file=sys.stderr)
                sys.exit(2)
            time.sleep(0.05)
    print(json.dumps(reply, sort_keys=True))
    sys.exit(0 if reply.get("ok") is True else 1)


if __name__ == "__main__":
    main()
