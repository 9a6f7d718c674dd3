// The covariance cache's kernels (covariance.c), compiled once per instruction set: covariance.c defines
// HEBB_SUFFIX (undefined again at the end of this file) and wraps the include in a `#pragma clang attribute` giving
// every function its target. The loops are plain C that the compiler vectorises for that target (multiply-adds
// contracted into FMA where the target has it). Not a public header.

#define HEBB_COV_CAT2(a, b) a##_##b
#define HEBB_COV_CAT(a, b) HEBB_COV_CAT2(a, b)
#define HC(name) HEBB_COV_CAT(name, HEBB_SUFFIX)

// Σ aᵢbᵢ in 8 interleaved partial sums (a fixed order: the result does not depend on the data's alignment).
static double HC(dot)(const double *restrict a, const double *restrict b, ptrdiff_t n) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ptrdiff_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    }
    double tail = 0;
    for (; i < n; i++) tail += a[i] * b[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail;
}

// v = S·a for a symmetric S stored whole, as a combination of its rows (no reductions: every lane independent), in
// blocks of 32 entries of v held in registers over all the rows (S is read once, v written once).
#define HEBB_COV_BLOCK 32
static void HC(symmetric_product)(const double *restrict s, const double *restrict a, double *restrict v, ptrdiff_t d) {
    ptrdiff_t i0 = 0;
    for (; i0 + HEBB_COV_BLOCK <= d; i0 += HEBB_COV_BLOCK) {
        double acc[HEBB_COV_BLOCK];
        for (int i = 0; i < HEBB_COV_BLOCK; i++) acc[i] = 0;
        for (ptrdiff_t j = 0; j < d; j++) {
            const double aj = a[j];
            const double *restrict row = s + j * d + i0;
            for (int i = 0; i < HEBB_COV_BLOCK; i++) acc[i] += aj * row[i];
        }
        for (int i = 0; i < HEBB_COV_BLOCK; i++) v[i0 + i] = acc[i];
    }
    if (i0 == d) return;
    for (ptrdiff_t i = i0; i < d; i++) v[i] = 0;
    for (ptrdiff_t j = 0; j < d; j++) {
        const double aj = a[j];
        const double *restrict row = s + j * d;
        for (ptrdiff_t i = i0; i < d; i++) v[i] += aj * row[i];
    }
}
#undef HEBB_COV_BLOCK

static double HC(rank_one)(double *restrict s, const double *restrict a, const double *restrict eta,
                           double *restrict v, ptrdiff_t d, double g, double scale, double *restrict prediction) {
    HC(symmetric_product)(s, a, v, d);
    const double q = HC(dot)(a, v, d);
    if (prediction) *prediction = HC(dot)(v, eta, d);
    const double gamma = g > 0 ? g / (1 + g * q) : 0;
    if (gamma == 0 && scale == 1) return q;
    // S − w·wᵀ with w = √γ·v: wᵢ·wⱼ = wⱼ·wᵢ exactly (with or without a fused multiply-add), so S stays exactly
    // symmetric. With forgetting (scale > 1) an asymmetric rounding error would grow by `scale` every row, as in
    // the textbook instability of exponentially weighted RLS; (γ·vᵢ)·vⱼ ≠ (γ·vⱼ)·vᵢ would introduce one every row.
    const double root = sqrt(gamma);
    for (ptrdiff_t i = 0; i < d; i++) v[i] *= root;
    for (ptrdiff_t i = 0; i < d; i++) {
        const double c = v[i];
        double *restrict row = s + i * d;
        if (scale == 1) {
            for (ptrdiff_t j = 0; j < d; j++) row[j] -= c * v[j];
        } else {
            for (ptrdiff_t j = 0; j < d; j++) row[j] = (row[j] - c * v[j]) * scale;
        }
    }
    return q;
}

#undef HC
#undef HEBB_COV_CAT
#undef HEBB_COV_CAT2
#undef HEBB_SUFFIX
