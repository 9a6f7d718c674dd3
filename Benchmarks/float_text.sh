#!/bin/sh
# The float32 formatter of the publish path against the Swift runtime's, in one release-mode program
# (Benchmarks/float_text/main.swift). The formatter is C (Sources/CHebbKernels/float_text.c, with kernels.c for the
# instruction-set choice), compiled as SwiftPM compiles it in release (-O2) and imported through a module map.
# Arguments are passed on (--exhaustive: all 2^32 patterns).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kernels="$here/../Sources/CHebbKernels"
work=${TMPDIR:-/tmp}/hebbd-float-text-bench.d
mkdir -p "$work/module"
printf 'module CHebbKernels {\n    header "%s/include/CHebbKernels.h"\n    export *\n}\n' "$kernels" > "$work/module/module.modulemap"
for source in float_text kernels; do
    clang -O2 -I "$kernels/include" -c "$kernels/$source.c" -o "$work/$source.o"
done
out=${TMPDIR:-/tmp}/hebbd-float-text-bench
swiftc -O -package-name hebbd -I "$work/module" -o "$out" "$here/../Sources/HebbCore/Wire/FloatText.swift" \
    "$here/float_text/main.swift" "$work/float_text.o" "$work/kernels.o" -lpthread
exec "$out" "$@"
