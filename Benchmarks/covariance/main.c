// The exact Bayesian model's per-row kernel alone (hebb_covariance_rank_one, Sources/CHebbKernels/covariance.c: v = Σa,
// the prediction vᵀη, Σ − γ·v·vᵀ), with none of the daemon's code around it: µs per row at d = 64, 128 and 256, with
// Σ and v on a 64-byte cache line and 16 bytes past one (a Swift array's elements, as the daemon keeps them, start 16,
// 32 or 48 bytes past a line as often as on one). Median and range over repetitions. Built and run by covariance.sh.
#include "CHebbKernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// µs per row of `repetitions` runs into `times` (sorted), Σ and v `offset` doubles past a cache line.
static void measure(int d, int offset, int repetitions, double *times) {
    const int pool = 1024;
    double *sigmaBlock = aligned_alloc(64, sizeof(double) * ((size_t)d * (size_t)d + 8));
    double *vBlock = aligned_alloc(64, sizeof(double) * ((size_t)d + 8));
    double *sigma = sigmaBlock + offset, *v = vBlock + offset;
    double *eta = calloc((size_t)d, sizeof(double)), *x = malloc(sizeof(double) * (size_t)d * pool);
    unsigned state = 1;
    for (int i = 0; i < d * pool; i++) {
        state = state * 1664525u + 1013904223u;
        x[i] = (double)(state >> 8) / (double)(1u << 24) - 0.5;
    }
    for (int i = 0; i < d * d; i++) sigma[i] = i % (d + 1) == 0 ? 1 : 0;
    // ~0.1 s a repetition on a 2020s core. The prior's Σ shrinks as the rows come, as in the model.
    const long rows = 20000000L / ((long)d * d / 64);
    double prediction = 0;
    for (int r = 0; r < repetitions; r++) {
        double start = seconds();
        for (long i = 0; i < rows; i++)
            hebb_covariance_rank_one(sigma, x + (i % pool) * d, eta, v, d, 1.0, 1.0, &prediction);
        times[r] = (seconds() - start) / (double)rows * 1e6;
    }
    qsort(times, (size_t)repetitions, sizeof(double), ascending);
    free(sigmaBlock); free(vBlock); free(eta); free(x);
}

int main(int argc, char **argv) {
    int repetitions = argc > 1 ? atoi(argv[1]) : 7;
    if (repetitions < 1 || repetitions > 100) repetitions = 7;
    printf("hebb_covariance_rank_one alone, µs per row: median [min-max] of %d repetitions\n", repetitions);
    const int dims[] = {64, 128, 256};
    for (int k = 0; k < 3; k++) {
        double aligned[100], offset[100];
        // Alternated, so that a change in the machine's load falls on both.
        measure(dims[k], 0, repetitions, aligned);
        measure(dims[k], 2, repetitions, offset);
        int m = repetitions / 2;
        printf("  d = %3d: on a cache line %.3f [%.3f-%.3f], 16 bytes past one %.3f [%.3f-%.3f]: %.2fx\n", dims[k],
               aligned[m], aligned[0], aligned[repetitions - 1], offset[m], offset[0], offset[repetitions - 1], offset[m] / aligned[m]);
    }
    return 0;
}
