#!/usr/bin/env bash
# Regenerates docs/images/demo.png (README: "Live plots") from the demo stream: a daemon on Configs/hebbd.toml
# with a fresh state directory, Examples/python/plot.py headless, Examples/python/producer.py's default system
# (seed 1) as fast as it goes, 400 updates. Needs the config's ports (5555-5557, 9464) free and matplotlib.
#   scripts/demo-plot.sh [OUT.png]        (binary: $HEBBD_BIN, default .build/debug/hebbd)
# It prints the nnz of the last update drawn (the number in the image's title) and fails unless it is the
# README's claim, exactly 3 nonzero coefficients ($EXPECT_NNZ to check another count).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/images/demo.png}"
hebbd="${HEBBD_BIN:-.build/debug/hebbd}"
[ -x "$hebbd" ] || { echo "demo-plot.sh: no $hebbd (run swift build, or set HEBBD_BIN)" >&2; exit 1; }
state="$(mktemp -d)"
"$hebbd" run --config Configs/hebbd.toml --state-dir "$state" >"$state/hebbd.log" 2>&1 &
daemon=$!
trap 'kill "$daemon" 2>/dev/null; wait "$daemon" 2>/dev/null; rm -rf "$state"' EXIT
for _ in $(seq 50); do "$hebbd" control status --timeout 0.2 >/dev/null 2>&1 && break; sleep 0.1; done
timeout 120 python3 Examples/python/plot.py --model demo --updates 400 --out "$out" | tee "$state/plot.log" &
plot=$!
# plot.py says "subscribed" once the daemon's resend of the initial state reached it: no update is missed.
for _ in $(seq 100); do grep -q subscribed "$state/plot.log" && break; sleep 0.1; done
timeout 60 python3 Examples/python/producer.py --model demo --messages 400 --rate 0
wait "$plot"
drawn="$(sed -n 's/^wrote .*, nnz \([0-9]*\)$/\1/p' "$state/plot.log")"
expected="${EXPECT_NNZ:-3}"
echo "demo-plot.sh: the image shows nnz ${drawn:-?} (expected $expected)"
[ "$drawn" = "$expected" ] || { echo "demo-plot.sh: ✘ nnz ${drawn:-?} drawn, README says $expected" >&2; exit 1; }
