// CRC-32 throughput of each method of Sources/CHebbKernels/crc32.c against the system zlib's crc32 (the library
// Python's zlib.crc32 calls), in one program built with -O2 (Benchmarks/crc32.sh). Prints GB/s per buffer size:
// the median and the range over the repetitions, and the ratio of the medians to zlib's.
#include "CHebbKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// -1: zlib; otherwise a hebb_crc32_method.
static uint32_t run(int method, const unsigned char *p, size_t n) {
    if (method < 0) return (uint32_t)crc32(0, p, (uInt)n);
    return hebb_crc32_update_using((hebb_crc32_method)method, 0xFFFFFFFFu, p, n) ^ 0xFFFFFFFFu;
}

int main(int argc, char **argv) {
    int repetitions = argc > 1 ? atoi(argv[1]) : 7;
    if (repetitions < 1) repetitions = 1;
    const size_t sizes[] = {64 << 10, 16 << 20};
    const char *names[] = {"table (slicing-by-8)", "pclmul (4x128-bit fold)", "vpclmul (4x512-bit fold)"};
    printf("CRC-32 throughput, GB/s: median [min-max] over %d repetitions of >= 0.2 s; ratio = median / zlib's\n",
           repetitions);
    printf("in force: %s\n", names[hebb_crc32_method_in_force()]);
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s];
        unsigned char *buffer = malloc(n);
        for (size_t i = 0; i < n; i++) buffer[i] = (unsigned char)(i * 2654435761u >> 13);
        uint32_t expected = run(-1, buffer, n);
        double zlib_median = 0;
        printf("%zu KiB:\n", n >> 10);
        for (int method = -1; method <= HEBB_CRC32_VPCLMUL; method++) {
            if (method >= 0 && !hebb_crc32_method_supported((hebb_crc32_method)method)) {
                printf("  %-26s not supported by this CPU\n", names[method]);
                continue;
            }
            if (run(method, buffer, n) != expected) {
                printf("  %-26s WRONG CRC\n", method < 0 ? "zlib" : names[method]);
                return 1;
            }
            double rates[64];
            int count = repetitions < 64 ? repetitions : 64;
            for (int r = 0; r < count; r++) {
                size_t iterations = 0;
                volatile uint32_t sink = 0;
                double start = now(), elapsed;
                do {
                    for (int k = 0; k < 8; k++) sink ^= run(method, buffer, n);
                    iterations += 8;
                    elapsed = now() - start;
                } while (elapsed < 0.2);
                rates[r] = (double)n * (double)iterations / elapsed / 1e9;
            }
            qsort(rates, (size_t)count, sizeof rates[0], compare);
            double median = rates[count / 2];
            if (method < 0) zlib_median = median;
            printf("  %-26s %7.2f [%.2f-%.2f]  %5.1fx\n", method < 0 ? "zlib crc32 (system)" : names[method], median,
                   rates[0], rates[count - 1], median / zlib_median);
        }
        free(buffer);
    }
    return 0;
}
