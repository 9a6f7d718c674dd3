#!/usr/bin/env python3
"""Scrapes a hebbd metrics endpoint over real HTTP and parses the Prometheus text exposition.

    ops_metrics.py --base http://127.0.0.1:9464 [--path /metrics] [--path /healthz] [--path /nope]

Prints one JSON object: for every path its HTTP status, content type and body (cut to 4 kB); for /metrics
also "samples" ({"name{labels}": value} for every sample line, labels in the exposition's order),
"types" ({name: type} from the # TYPE lines) and "malformed" (lines that are not comments nor
`name[{labels}] value`).
"""

import argparse
import json
import re
import urllib.error
import urllib.request

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$')


def fetch(url, timeout):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode("utf-8", "replace")


def parse(text):
    samples, types, malformed = {}, {}, []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            malformed.append(line)
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            malformed.append(line)
            continue
        samples[m.group(1) + (m.group(2) or "")] = value
    return samples, types, malformed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--path", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=5)
    args = ap.parse_args()
    out = {}
    for path in args.path or ["/metrics"]:
        try:
            status, ctype, body = fetch(args.base + path, args.timeout)
        except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
            out[path] = {"error": f"{type(e).__name__}: {e}"}
            continue
        entry = {"status": status, "content_type": ctype, "body": body[:4096]}
        if path == "/metrics" and status == 200:
            entry["samples"], entry["types"], entry["malformed"] = parse(body)
        out[path] = entry
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
