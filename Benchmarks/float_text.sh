#!/bin/sh
# The float32 formatter of the publish path against the Swift runtime's, in one release-mode program
# (Benchmarks/float_text/main.swift). Arguments are passed on (--exhaustive: all 2^32 patterns).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${TMPDIR:-/tmp}/hebbd-float-text-bench
swiftc -O -package-name hebbd -o "$out" "$here/../Sources/HebbCore/Wire/FloatText.swift" "$here/float_text/main.swift"
exec "$out" "$@"
