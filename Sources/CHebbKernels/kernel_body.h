// The kernels' bodies, compiled once per instruction set by kernels.c, which defines HEBB_SUFFIX and the HEBB_ROWS_…
// block sizes (undefined again at the end of this file) and wraps it in a `#pragma clang attribute` giving every
// function its target. Not a public header.

#define HEBB_CAT2(a, b) a##_##b
#define HEBB_CAT(a, b) HEBB_CAT2(a, b)
#define HN(name) HEBB_CAT(name, HEBB_SUFFIX)
// Fixed bounds, not variable-length arrays: R, V and K are constants once the block functions are inlined, and the
// loops over them unroll into registers; the arrays are only ever indexed below R, V and K.
#define HEBB_MAX_ROWS 16

static inline hebb_v16 HN(load)(const float *p) { return *(const hebb_v16u *)p; }
static inline void HN(store)(float *p, hebb_v16 v) { *(hebb_v16u *)p = v; }

static inline hebb_v16 HN(select)(hebb_i16 mask, hebb_v16 a, hebb_v16 b) {
    return (hebb_v16)(((hebb_i16)a & mask) | ((hebb_i16)b & ~mask));
}

static inline float HN(sum)(hebb_v16 v) {
    // Pairwise, so the float32 rounding does not depend on the lane order.
    hebb_v16 h = v + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    h = h + __builtin_shufflevector(h, h, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    h = h + __builtin_shufflevector(h, h, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    return h[0] + h[1];
}

// s = 1: W is a vector of d values; vectorised along d. R rows per pass share each load of w and of g.
static inline __attribute__((always_inline)) void HN(products_s1_block)(
    const float *x, const float *y, const float *w, float bias, float *e, float *g, ptrdiff_t d, const int R) {
#pragma clang fp contract(fast)
    // One pointer per row, so that every load in the loops is base + k (no address arithmetic per row).
    const float *xr[HEBB_MAX_ROWS];
    for (int i = 0; i < R; i++) xr[i] = x + i * d;
    hebb_v16 acc[HEBB_MAX_ROWS];
    for (int i = 0; i < R; i++) acc[i] = (hebb_v16){0};
    ptrdiff_t k = 0;
    for (; k + 16 <= d; k += 16) {
        hebb_v16 wv = HN(load)(w + k);
        for (int i = 0; i < R; i++) acc[i] += HN(load)(xr[i] + k) * wv;
    }
    float err[HEBB_MAX_ROWS];
    for (int i = 0; i < R; i++) {
        float p = HN(sum)(acc[i]);
        for (ptrdiff_t t = k; t < d; t++) p += xr[i][t] * w[t];
        err[i] = (y[i] - bias) - p;
        e[i] = err[i];
    }
    if (!g) return;
    // Four columns of G per pass: four independent chains of R multiply-adds, not one chain of R (whose latency,
    // not the FMA units, would set the pace).
    k = 0;
    for (; k + 64 <= d; k += 64) {
        hebb_v16 g0 = HN(load)(g + k), g1 = HN(load)(g + k + 16), g2 = HN(load)(g + k + 32), g3 = HN(load)(g + k + 48);
        for (int i = 0; i < R; i++) {
            const float *xi = xr[i] + k;
            g0 -= err[i] * HN(load)(xi);
            g1 -= err[i] * HN(load)(xi + 16);
            g2 -= err[i] * HN(load)(xi + 32);
            g3 -= err[i] * HN(load)(xi + 48);
        }
        HN(store)(g + k, g0);
        HN(store)(g + k + 16, g1);
        HN(store)(g + k + 32, g2);
        HN(store)(g + k + 48, g3);
    }
    for (; k + 16 <= d; k += 16) {
        hebb_v16 gv = HN(load)(g + k);
        for (int i = 0; i < R; i++) gv -= err[i] * HN(load)(xr[i] + k);
        HN(store)(g + k, gv);
    }
    for (; k < d; k++) {
        float gk = g[k];
        for (int i = 0; i < R; i++) gk -= err[i] * xr[i][k];
        g[k] = gk;
    }
}

// s = 16·V: a row of W is V vectors; R rows per pass keep their accumulators (then their errors) in registers
// while one row of W (then of G) is loaded per column k.
static inline __attribute__((always_inline)) void HN(products_sv_block)(
    const float *x, const float *y, const float *w, const float *bias, float *e, float *g, ptrdiff_t d, const int V,
    const int R) {
#pragma clang fp contract(fast)
    const ptrdiff_t s = 16 * V;
    const float *xr[HEBB_MAX_ROWS];
    for (int i = 0; i < R; i++) xr[i] = x + i * d;
    hebb_v16 acc[HEBB_MAX_ROWS][4];
    for (int i = 0; i < R; i++)
        for (int v = 0; v < V; v++) acc[i][v] = (hebb_v16){0};
    for (ptrdiff_t k = 0; k < d; k++) {
        hebb_v16 wv[4];
        for (int v = 0; v < V; v++) wv[v] = HN(load)(w + k * s + 16 * v);
        for (int i = 0; i < R; i++) {
            float xik = xr[i][k];
            for (int v = 0; v < V; v++) acc[i][v] += xik * wv[v];
        }
    }
    for (int i = 0; i < R; i++)
        for (int v = 0; v < V; v++) {
            hebb_v16 yv = HN(load)(y + i * s + 16 * v);
            if (bias) yv = yv - HN(load)(bias + 16 * v);
            acc[i][v] = yv - acc[i][v];
            HN(store)(e + i * s + 16 * v, acc[i][v]);
        }
    if (!g) return;
    // K rows of G per pass, for K·V independent chains of R multiply-adds (see products_s1_block).
    const int K = HEBB_GRADIENT_ROWS(V);
    ptrdiff_t k = 0;
    for (; k + K <= d; k += K) {
        hebb_v16 gv[8][4];
        for (int c = 0; c < K; c++)
            for (int v = 0; v < V; v++) gv[c][v] = HN(load)(g + (k + c) * s + 16 * v);
        for (int i = 0; i < R; i++)
            for (int c = 0; c < K; c++) {
                float xik = xr[i][k + c];
                for (int v = 0; v < V; v++) gv[c][v] -= xik * acc[i][v];
            }
        for (int c = 0; c < K; c++)
            for (int v = 0; v < V; v++) HN(store)(g + (k + c) * s + 16 * v, gv[c][v]);
    }
    for (; k < d; k++) {
        hebb_v16 gv[4];
        for (int v = 0; v < V; v++) gv[v] = HN(load)(g + k * s + 16 * v);
        for (int i = 0; i < R; i++) {
            float xik = xr[i][k];
            for (int v = 0; v < V; v++) gv[v] -= xik * acc[i][v];
        }
        for (int v = 0; v < V; v++) HN(store)(g + k * s + 16 * v, gv[v]);
    }
}

#define HEBB_SV_CASE(V, R)                                                                                       \
    case V: {                                                                                                    \
        ptrdiff_t r = 0;                                                                                         \
        for (; r + (R) <= rows; r += (R))                                                                        \
            HN(products_sv_block)(x + r * d, y + r * s, w, bias, e + r * s, g, d, V, R);                         \
        for (; r < rows; r++) HN(products_sv_block)(x + r * d, y + r * s, w, bias, e + r * s, g, d, V, 1);       \
        break;                                                                                                   \
    }

static void HN(products)(const float *x, const float *y, const float *w, const float *bias, float *e, float *g,
                         ptrdiff_t rows, ptrdiff_t d, ptrdiff_t s) {
    if (g)
        for (ptrdiff_t k = 0; k < d * s; k++) g[k] = 0;
    if (s == 1) {
        const float b = bias ? bias[0] : 0;
        ptrdiff_t r = 0;
        for (; r + HEBB_ROWS_S1 <= rows; r += HEBB_ROWS_S1)
            HN(products_s1_block)(x + r * d, y + r, w, b, e + r, g, d, HEBB_ROWS_S1);
        for (; r < rows; r++) HN(products_s1_block)(x + r * d, y + r, w, b, e + r, g, d, 1);
        return;
    }
    switch (s / 16) {
        HEBB_SV_CASE(1, HEBB_ROWS_V1)
        HEBB_SV_CASE(2, HEBB_ROWS_V2)
        HEBB_SV_CASE(3, HEBB_ROWS_V4)
        HEBB_SV_CASE(4, HEBB_ROWS_V4)
    }
}

static void HN(adam_step)(float *w, float *m, float *v, const float *g, ptrdiff_t n, float lr, float b1, float b2,
                          float omb1, float omb2, float c1, float c2, float eps, float shrink) {
#pragma clang fp contract(off)
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        hebb_v16 gi = HN(load)(g + i);
        hebb_v16 mi = b1 * HN(load)(m + i) + omb1 * gi;
        hebb_v16 vi = b2 * HN(load)(v + i) + omb2 * (gi * gi);
        HN(store)(m + i, mi);
        HN(store)(v + i, vi);
        hebb_v16 den = __builtin_elementwise_sqrt(vi / c2) + eps;
        hebb_v16 stepped = HN(load)(w + i) - lr * (mi / c1) / den;
        if (shrink > 0) {
            hebb_v16 tau = shrink / den;
            hebb_v16 shrunk = HN(select)(stepped < -tau, stepped + tau, (hebb_v16){0});
            stepped = HN(select)(stepped > tau, stepped - tau, shrunk);
        }
        HN(store)(w + i, stepped);
    }
    for (; i < n; i++) {
        float gi = g[i];
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * (gi * gi);
        m[i] = mi;
        v[i] = vi;
        float den = __builtin_elementwise_sqrt(vi / c2) + eps;
        float stepped = w[i] - lr * (mi / c1) / den;
        if (shrink > 0) {
            float tau = shrink / den;
            stepped = stepped > tau ? stepped - tau : (stepped < -tau ? stepped + tau : 0);
        }
        w[i] = stepped;
    }
}

static int HN(adam_step_is_finite)(const float *w, const float *m, const float *v, const float *g, ptrdiff_t n,
                                   float lr, float b1, float b2, float omb1, float omb2, float c1, float c2, float eps) {
#pragma clang fp contract(off)
    // New m and v are computed exactly; new w is not, but bounded: the denominator is at least ε, so
    // |w'| ≤ |w| + (lr / (c1·ε))·|m'|. Only where that bound is not finite is w' computed (rarely: lr·|m'| near
    // 10³⁰), which keeps the divisions and square roots out of the common case.
    const hebb_i16 exponent = (hebb_i16){0} + 0x7F800000, step = (hebb_i16){0} + 0x00800000;
    const float k = lr / (c1 * eps);
    hebb_i16 bad = {0}, unbounded = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        hebb_v16 gi = HN(load)(g + i);
        hebb_v16 mi = b1 * HN(load)(m + i) + omb1 * gi;
        hebb_v16 vi = b2 * HN(load)(v + i) + omb2 * (gi * gi);
        hebb_v16 bound = __builtin_elementwise_abs(HN(load)(w + i)) + k * __builtin_elementwise_abs(mi);
        bad |= (((hebb_i16)mi & exponent) + step) | (((hebb_i16)vi & exponent) + step);
        unbounded |= ((hebb_i16)bound & exponent) + step;
    }
    int any = 0, exact = 0;
    for (int l = 0; l < 16; l++) {
        any |= (int)((unsigned)bad[l] >> 31);
        exact |= (int)((unsigned)unbounded[l] >> 31);
    }
    if (any) return 0;
    for (ptrdiff_t j = exact ? 0 : i; j < n; j++) {
        float gi = g[j];
        float mi = b1 * m[j] + omb1 * gi;
        float vi = b2 * v[j] + omb2 * (gi * gi);
        float den = __builtin_elementwise_sqrt(vi / c2) + eps;
        float wi = w[j] - lr * (mi / c1) / den;
        any |= !__builtin_isfinite(mi) | !__builtin_isfinite(vi) | !__builtin_isfinite(wi);
    }
    return !any;
}

static void HN(norms)(const float *w, ptrdiff_t n, double *l1, double *l2) {
    // Eight double lanes per half of a float vector: exact products (float·float fits a double's mantissa).
    typedef double hebb_d8 __attribute__((vector_size(64)));
    hebb_d8 a = {0}, q = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        hebb_v16 x = HN(load)(w + i);
        hebb_d8 lo = __builtin_convertvector(__builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7), hebb_d8);
        hebb_d8 hi = __builtin_convertvector(__builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15), hebb_d8);
        a += __builtin_elementwise_abs(lo) + __builtin_elementwise_abs(hi);
        q += lo * lo + hi * hi;
    }
    double sa = 0, sq = 0;
    for (int l = 0; l < 8; l++) { sa += a[l]; sq += q[l]; }
    for (; i < n; i++) { double x = w[i]; sa += __builtin_fabs(x); sq += x * x; }
    *l1 = sa;
    *l2 = sq;
}

static void HN(penalty_gradient)(const float *w, float *g, ptrdiff_t n, float scale, float a, float b) {
#pragma clang fp contract(off)
    const hebb_v16 zero = {0}, one = zero + 1;
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        hebb_v16 x = HN(load)(w + i);
        hebb_v16 sign = HN(select)(x > zero, one, HN(select)(x < zero, -one, zero));
        HN(store)(g + i, HN(load)(g + i) + scale * (a * sign + b * x));
    }
    for (; i < n; i++) {
        float x = w[i], sign = x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f);
        g[i] = g[i] + scale * (a * sign + b * x);
    }
}

// The one finiteness test of the project, on raw bits: NaN and ±Inf have an all-ones exponent, and adding one
// exponent step carries exactly those into the sign bit, so OR-ing the sums of a block leaves bit 31 clear exactly
// when every value is finite. A load, an AND, an ADD and an OR per vector, no branch. `values` may have any alignment
// (an ingest frame is where libzmq put it).
static inline hebb_i16 HN(nonfinite_bits)(hebb_v16 v) {
    const hebb_i16 exponent = (hebb_i16){0} + 0x7F800000, step = (hebb_i16){0} + 0x00800000;
    return ((hebb_i16)v & exponent) + step;
}

static inline int HN(any_sign_bit)(hebb_i16 bad, unsigned tail) {
    int any = (int)(tail >> 31);
    for (int l = 0; l < 16; l++) any |= (int)((unsigned)bad[l] >> 31);
    return any;
}

static int HN(all_finite)(const void *values, ptrdiff_t n) {
    const char *bytes = (const char *)values;
    hebb_i16 bad = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) bad |= HN(nonfinite_bits)(*(const hebb_v16b *)(bytes + 4 * i));
    unsigned tail = 0;
    for (; i < n; i++) {
        unsigned bits;
        __builtin_memcpy(&bits, bytes + 4 * i, 4);
        tail |= (bits & 0x7F800000u) + 0x00800000u;
    }
    return !HN(any_sign_bit)(bad, tail);
}

// The copy of an ingest frame into a batch buffer with the test above on the way: one pass over the frame.
static int HN(copy_finite)(float *out, const void *values, ptrdiff_t n) {
    const char *bytes = (const char *)values;
    hebb_i16 bad = {0};
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        hebb_v16 v = *(const hebb_v16b *)(bytes + 4 * i);
        bad |= HN(nonfinite_bits)(v);
        HN(store)(out + i, v);
    }
    unsigned tail = 0;
    for (; i < n; i++) {
        unsigned bits;
        __builtin_memcpy(&bits, bytes + 4 * i, 4);
        tail |= (bits & 0x7F800000u) + 0x00800000u;
        __builtin_memcpy(out + i, &bits, 4);
    }
    return !HN(any_sign_bit)(bad, tail);
}

// RunningMoments.add's per-column batch statistics, walked row by row: the column-by-column loops it replaced read
// the batch with a stride of a row and chained every addition on the one before (59 % of a standardised 1024×16
// update, `perf`). Each column's sums still run over the rows in order, so the bits are the same.
static void HN(batch_moments)(const float *values, ptrdiff_t rows, ptrdiff_t cols, double *mean, double *m2) {
#pragma clang fp contract(off)
    for (ptrdiff_t j = 0; j < cols; j++) mean[j] = 0;
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = values + r * cols;
        for (ptrdiff_t j = 0; j < cols; j++) mean[j] += (double)row[j];
    }
    const double nb = (double)rows;
    for (ptrdiff_t j = 0; j < cols; j++) { mean[j] = mean[j] / nb; m2[j] = 0; }
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = values + r * cols;
        for (ptrdiff_t j = 0; j < cols; j++) {
            const double d = (double)row[j] - mean[j];
            m2[j] += d * d;
        }
    }
}

// Standardizer's batch, (x − shift)·inverse_scale per value in float32 (no contraction: the Swift expression's bits).
static void HN(standardize)(const float *values, ptrdiff_t rows, ptrdiff_t cols, const float *shift,
                            const float *inverse_scale, float *out) {
#pragma clang fp contract(off)
    for (ptrdiff_t r = 0; r < rows; r++) {
        const float *row = values + r * cols;
        float *o = out + r * cols;
        for (ptrdiff_t j = 0; j < cols; j++) o[j] = (row[j] - shift[j]) * inverse_scale[j];
    }
}

// The published coefficients without standardisation: a branch per value on whether it was kept mispredicted on a
// sparse W (7.8 % of the daemon's samples at 1024×16, in a scalar loop); selects and a masked count instead.
static ptrdiff_t HN(threshold)(const float *w, ptrdiff_t n, float threshold, float *out) {
    ptrdiff_t nonzero = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        const float v = w[i], kept = __builtin_fabsf(v) >= threshold ? v : 0.0f;
        out[i] = kept;
        nonzero += kept != 0;
    }
    return nonzero;
}

// Standardizer.userUnitCoefficients, row by row of W (a feature's s coefficients), the very Double expressions of the
// Swift loop it replaced (no contraction: each value and each bias step rounds as before), vectorised across the
// row: the Swift loop, compiled for the baseline's two-lane vectors, paid a Double divide per coefficient.
static ptrdiff_t HN(user_units)(const float *w, ptrdiff_t d, ptrdiff_t s, float threshold, const double *target_scale,
                                const double *x_scale, const double *x_mean, float *out, double *bias) {
#pragma clang fp contract(off)
    ptrdiff_t nonzero = 0;
    for (ptrdiff_t j = 0; j < d; j++) {
        const float *row = w + j * s;
        float *o = out + j * s;
        const double xs = x_scale[j], mean = x_mean[j];
        if (xs == 0) {
            for (ptrdiff_t k = 0; k < s; k++) o[k] = 0;
            continue;
        }
        for (ptrdiff_t k = 0; k < s; k++) {
            const float v = row[k];
            const int kept = __builtin_fabsf(v) >= threshold;
            const double raw = kept ? (double)v * target_scale[k] / xs : 0.0;
            const float value = (float)raw;
            o[k] = value;
            bias[k] = kept ? bias[k] - mean * raw : bias[k];
            nonzero += value != 0;
        }
    }
    return nonzero;
}

static const hebb_kernel_set HN(kernels) = {
    HN(products), HN(adam_step), HN(adam_step_is_finite), HN(norms), HN(penalty_gradient), HN(all_finite),
    HN(copy_finite), HN(threshold), HN(user_units), HN(batch_moments), HN(standardize),
};

#undef HEBB_SV_CASE
#undef HN
#undef HEBB_MAX_ROWS
#undef HEBB_SUFFIX
#undef HEBB_ROWS_S1
#undef HEBB_ROWS_V1
#undef HEBB_ROWS_V2
#undef HEBB_ROWS_V4
#undef HEBB_GRADIENT_ROWS
#undef HEBB_CAT
#undef HEBB_CAT2
