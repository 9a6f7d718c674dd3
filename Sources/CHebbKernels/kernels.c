#include "CHebbKernels.h"

// The helpers that pass 64-byte vectors are static and inlined: no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

typedef float hebb_v16 __attribute__((vector_size(64)));
typedef int hebb_i16 __attribute__((vector_size(64)));
typedef float hebb_v16u __attribute__((vector_size(64), aligned(4), may_alias));

// Rows per pass of the product kernels: as many accumulators as the register file holds beside one row of W
// (32 vector registers with AVX-512, 16 half-width ones otherwise).
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#define HEBB_SUFFIX avx512
#define HEBB_ROWS_S1 8
#define HEBB_ROWS_V1 12
#define HEBB_ROWS_V2 8
#define HEBB_ROWS_V4 4
#define HEBB_GRADIENT_ROWS(V) ((V) == 1 ? 8 : (V) == 2 ? 4 : 2)
#include "kernel_body.h"
#undef HEBB_SUFFIX
#undef HEBB_ROWS_S1
#undef HEBB_ROWS_V1
#undef HEBB_ROWS_V2
#undef HEBB_ROWS_V4
#undef HEBB_GRADIENT_ROWS
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define HEBB_SUFFIX avx2
#define HEBB_ROWS_S1 4
#define HEBB_ROWS_V1 6
#define HEBB_ROWS_V2 3
#define HEBB_ROWS_V4 2
#define HEBB_GRADIENT_ROWS(V) ((V) == 1 ? 4 : 2)
#include "kernel_body.h"
#undef HEBB_SUFFIX
#undef HEBB_ROWS_S1
#undef HEBB_ROWS_V1
#undef HEBB_ROWS_V2
#undef HEBB_ROWS_V4
#undef HEBB_GRADIENT_ROWS
#pragma clang attribute pop
#endif

#define HEBB_SUFFIX baseline
#define HEBB_ROWS_S1 4
#define HEBB_ROWS_V1 6
#define HEBB_ROWS_V2 3
#define HEBB_ROWS_V4 2
#define HEBB_GRADIENT_ROWS(V) ((V) == 1 ? 4 : 2)
#include "kernel_body.h"

static int hebb_cpu_has(hebb_isa isa) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (isa) {
    case HEBB_ISA_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw");
    case HEBB_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default: return 1;
    }
#else
    return isa == HEBB_ISA_BASELINE;
#endif
}

// -1 until first use; then the instruction set in force.
static _Atomic int hebb_selected = -1;

hebb_isa hebb_kernels_isa(void) {
    int isa = atomic_load_explicit(&hebb_selected, memory_order_relaxed);
    if (isa >= 0) return (hebb_isa)isa;
    isa = hebb_cpu_has(HEBB_ISA_AVX512) ? HEBB_ISA_AVX512 : hebb_cpu_has(HEBB_ISA_AVX2) ? HEBB_ISA_AVX2 : HEBB_ISA_BASELINE;
    atomic_store_explicit(&hebb_selected, isa, memory_order_relaxed);
    return (hebb_isa)isa;
}

hebb_isa hebb_kernels_set_isa(hebb_isa isa) {
    if (hebb_cpu_has(isa)) atomic_store_explicit(&hebb_selected, (int)isa, memory_order_relaxed);
    return hebb_kernels_isa();
}

int hebb_products_supported(ptrdiff_t d, ptrdiff_t s, ptrdiff_t max_weights) {
    if (d <= 0 || s <= 0 || d * s > max_weights) return 0;
    return s == 1 || (s % 16 == 0 && s <= 64);
}

void hebb_products(const float *x, const float *y, const float *w, const float *bias, float *e, float *g,
                   ptrdiff_t rows, ptrdiff_t d, ptrdiff_t s) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: products_avx512(x, y, w, bias, e, g, rows, d, s); return;
    case HEBB_ISA_AVX2: products_avx2(x, y, w, bias, e, g, rows, d, s); return;
#endif
    default: products_baseline(x, y, w, bias, e, g, rows, d, s); return;
    }
}

void hebb_adam_step(float *w, float *m, float *v, const float *g, ptrdiff_t n, float lr, float beta1, float beta2,
                    float one_minus_beta1, float one_minus_beta2, float c1, float c2, float epsilon, float shrink) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512:
        adam_step_avx512(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2, epsilon, shrink);
        return;
    case HEBB_ISA_AVX2:
        adam_step_avx2(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2, epsilon, shrink);
        return;
#endif
    default:
        adam_step_baseline(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2, epsilon, shrink);
        return;
    }
}

int hebb_all_finite(const float *values, ptrdiff_t n) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: return all_finite_avx512(values, n);
    case HEBB_ISA_AVX2: return all_finite_avx2(values, n);
#endif
    default: return all_finite_baseline(values, n);
    }
}

void hebb_norms(const float *w, ptrdiff_t n, double *l1, double *l2) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: norms_avx512(w, n, l1, l2); return;
    case HEBB_ISA_AVX2: norms_avx2(w, n, l1, l2); return;
#endif
    default: norms_baseline(w, n, l1, l2); return;
    }
}

void hebb_penalty_gradient(const float *w, float *g, ptrdiff_t n, float scale, float a, float b) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512: penalty_gradient_avx512(w, g, n, scale, a, b); return;
    case HEBB_ISA_AVX2: penalty_gradient_avx2(w, g, n, scale, a, b); return;
#endif
    default: penalty_gradient_baseline(w, g, n, scale, a, b); return;
    }
}

int hebb_adam_step_is_finite(const float *w, const float *m, const float *v, const float *g, ptrdiff_t n, float lr,
                             float beta1, float beta2, float one_minus_beta1, float one_minus_beta2, float c1, float c2,
                             float epsilon) {
    switch (hebb_kernels_isa()) {
#if defined(__x86_64__)
    case HEBB_ISA_AVX512:
        return adam_step_is_finite_avx512(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2, epsilon);
    case HEBB_ISA_AVX2:
        return adam_step_is_finite_avx2(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2, epsilon);
#endif
    default:
        return adam_step_is_finite_baseline(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2,
                                            epsilon);
    }
}
