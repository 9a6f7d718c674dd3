// The covariance cache's per-row kernels (the exact Bayesian model's fast path, docs/MATH.md §10), compiled per
// instruction set like kernels.c and chosen with the same hebb_kernels_isa(). In C rather than on OpenBLAS because
// OpenBLAS splits even a 64×64 `dsymv`/`dsyr` among its threads when it has more than one (4 µs instead of 1 µs per
// row on 2 cores, measured), and its call overhead is most of a product this small.
#include "CHebbKernels.h"

#include <math.h>

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#define HEBB_SUFFIX avx512
#include "covariance_body.h"
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define HEBB_SUFFIX avx2
#include "covariance_body.h"
#pragma clang attribute pop
#endif

#define HEBB_SUFFIX baseline
#include "covariance_body.h"

double hebb_covariance_rank_one(double *s, const double *a, const double *eta, double *v, ptrdiff_t d, double g,
                                double scale, double *prediction) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: return rank_one_avx512(s, a, eta, v, d, g, scale, prediction);
    case HEBB_ISA_AVX2: return rank_one_avx2(s, a, eta, v, d, g, scale, prediction);
#endif
    default: return rank_one_baseline(s, a, eta, v, d, g, scale, prediction);
    }
}

void hebb_symmetric_product(const double *s, const double *a, double *v, ptrdiff_t d) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: symmetric_product_avx512(s, a, v, d); return;
    case HEBB_ISA_AVX2: symmetric_product_avx2(s, a, v, d); return;
#endif
    default: symmetric_product_baseline(s, a, v, d); return;
    }
}

double hebb_dot(const double *a, const double *b, ptrdiff_t n) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: return dot_avx512(a, b, n);
    case HEBB_ISA_AVX2: return dot_avx2(a, b, n);
#endif
    default: return dot_baseline(a, b, n);
    }
}

void hebb_mirror_upper(double *s, ptrdiff_t d, ptrdiff_t r0, ptrdiff_t r1, double scale) {
    // 16 × 16 tiles: a tile's 16 lower rows (two cache lines each) stay in L1 while its upper rows are read.
    enum { tile = 16 };
    for (ptrdiff_t ib = r0; ib < r1; ib += tile) {
        const ptrdiff_t ie = ib + tile < r1 ? ib + tile : r1;
        for (ptrdiff_t jb = ib; jb < d; jb += tile) {
            const ptrdiff_t je = jb + tile < d ? jb + tile : d;
            for (ptrdiff_t i = ib; i < ie; i++) {
                for (ptrdiff_t j = jb > i ? jb : i; j < je; j++) {
                    const double value = s[i * d + j] * scale;
                    s[i * d + j] = value;
                    s[j * d + i] = value;
                }
            }
        }
    }
}
