#!/bin/sh
# CRC-32 throughput (GB/s) of each method of Sources/CHebbKernels/crc32.c — slicing-by-8 tables, 4×128-bit PCLMULQDQ
# folding, 4×512-bit VPCLMULQDQ folding — against the system zlib's crc32, for 64 KiB (a journal record at 256×1 /
# 64 rows) and 16 MiB buffers, then Python's zlib.crc32 on the same sizes. Median and range over repetitions.
#   Benchmarks/crc32.sh [REPETITIONS]   (default 7)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
kernels="$here/../Sources/CHebbKernels"
out=${TMPDIR:-/tmp}/hebbd-crc32-bench
clang -O2 -I"$kernels/include" -o "$out" "$here/crc32/main.c" "$kernels/crc32.c" "$kernels/kernels.c" -lz -lpthread
"$out" "${1:-7}"
python3 - "${1:-7}" <<'PY'
import statistics, sys, time, zlib
repetitions = int(sys.argv[1])
print("python3 zlib.crc32, GB/s: median [min-max]")
for size in (64 << 10, 16 << 20):
    data = bytes((i * 2654435761 >> 13) & 255 for i in range(size))
    rates = []
    for _ in range(repetitions):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < 0.2:
            for _ in range(8):
                zlib.crc32(data)
            count += 8
        rates.append(size * count / elapsed / 1e9)
    print(f"  {size >> 10} KiB: {statistics.median(rates):.2f} [{min(rates):.2f}-{max(rates):.2f}]")
PY
