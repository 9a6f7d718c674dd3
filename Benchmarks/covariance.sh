#!/bin/sh
# The exact Bayesian model's per-row kernel alone (Sources/CHebbKernels/covariance.c, the instruction set the machine
# has), µs per row at d = 64, 128, 256, with Σ on a cache line and 16 bytes past one: the floor under
# `hebbd bench --kind bayesian --batch 1`, and so under the learn_one ratio `Benchmarks/bayesian.py --only speed`
# prints (Benchmarks/README.md, "The per-row floor").
#   Benchmarks/covariance.sh [REPETITIONS]   (default 7)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kernels="$here/../Sources/CHebbKernels"
out=${TMPDIR:-/tmp}/hebbd-covariance-bench
clang -O2 -I"$kernels/include" -o "$out" "$here/covariance/main.c" "$kernels/covariance.c" "$kernels/kernels.c" -lpthread -lm
"$out" "${1:-7}"
