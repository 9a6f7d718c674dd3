#define _GNU_SOURCE
#include "CHebbKernels.h"

// The helpers that pass 64-byte vectors are static and inlined: no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef float hebb_v16 __attribute__((vector_size(64)));
typedef int hebb_i16 __attribute__((vector_size(64)));
typedef float hebb_v16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float hebb_v16b __attribute__((vector_size(64), aligned(1), may_alias));

// One instruction set's kernels; kernel_body.h defines one of these per set (`kernels_<suffix>`).
typedef struct {
    void (*products)(const float *, const float *, const float *, const float *, float *, float *, ptrdiff_t, ptrdiff_t,
                     ptrdiff_t);
    void (*adam_step)(float *, float *, float *, const float *, ptrdiff_t, float, float, float, float, float, float, float,
                      float, float);
    int (*adam_step_is_finite)(const float *, const float *, const float *, const float *, ptrdiff_t, float, float, float,
                               float, float, float, float, float);
    void (*norms)(const float *, ptrdiff_t, double *, double *);
    void (*penalty_gradient)(const float *, float *, ptrdiff_t, float, float, float);
    int (*all_finite)(const void *, ptrdiff_t);
    int (*copy_finite)(float *, const void *, ptrdiff_t);
} hebb_kernel_set;

// Rows per pass of the product kernels: for s = 16·V as many accumulators as the register file holds beside one row
// of W (32 vector registers with AVX-512, 16 half-width ones otherwise); for s = 1, 4 rows, measured fastest at
// 256×1 (1.17 µs per product against 1.37 µs with 8 rows and 1.47 µs with 16, AVX-512, batch 64).
#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#define HEBB_SUFFIX avx512
#define HEBB_ROWS_S1 4
#define HEBB_ROWS_V1 12
#define HEBB_ROWS_V2 8
#define HEBB_ROWS_V4 4
#define HEBB_GRADIENT_ROWS(V) ((V) == 1 ? 8 : (V) == 2 ? 4 : 2)
#include "kernel_body.h"
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define HEBB_SUFFIX avx2
#define HEBB_ROWS_S1 4
#define HEBB_ROWS_V1 6
#define HEBB_ROWS_V2 3
#define HEBB_ROWS_V4 2
#define HEBB_GRADIENT_ROWS(V) ((V) == 1 ? 4 : 2)
#include "kernel_body.h"
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

int hebb_isa_supported(hebb_isa isa) { return hebb_cpu_has(isa); }

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

// The kernels of each instruction set, by hebb_isa.
static const hebb_kernel_set *const hebb_kernel_sets[] = {
    &kernels_baseline,
#if defined(__x86_64__)
    &kernels_avx2,
    &kernels_avx512,
#else
    &kernels_baseline,
    &kernels_baseline,
#endif
};

static const hebb_kernel_set *hebb_kernels(void) { return hebb_kernel_sets[hebb_kernels_isa()]; }

static void hebb_products_serial(const float *x, const float *y, const float *w, const float *bias, float *e, float *g,
                                 ptrdiff_t rows, ptrdiff_t d, ptrdiff_t s) {
    hebb_kernels()->products(x, y, w, bias, e, g, rows, d, s);
}

// The split of one product among threads: helper t (1…helpers) takes rows [first[t], first[t+1]) into its own
// gradient buffer; the caller takes the first share into g and then adds the helpers' buffers.
//
// Hand-offs: a helper that has just finished spins (with `pause`) for up to HEBB_SPIN_NS waiting for the next product
// before it parks on a condition variable, and the caller spins likewise waiting for the helpers. On a virtual machine
// a futex wake-up costs tens to hundreds of µs — as much as the work of a mid-sized product — while products of a
// busy model follow each other closely; an idle model's helpers park and cost nothing (on a small machine a helper
// that spun forever would take the core libzmq's I/O thread needs).
#define HEBB_MAX_THREADS 64
#define HEBB_SPIN_NS 200000L

static struct {
    pthread_mutex_t lock;      // held by the one caller whose product is split
    pthread_mutex_t state;     // for parking and waking
    pthread_cond_t wake, done;
    int threads;               // in force: caller + helpers (under `lock`)
    int started;               // helpers running (under `lock`)
    _Atomic unsigned long generation;  // bumped for each split product; the job below is published with it
    _Atomic int pending;               // helpers still to answer this generation (every started one answers)
    int active;                        // threads taking part in this generation (caller included)
    const float *x, *y, *w, *bias;
    float *e;
    int with_gradient;
    ptrdiff_t d, s;
    ptrdiff_t first[HEBB_MAX_THREADS + 1];
    float *gradients[HEBB_MAX_THREADS];  // the helpers' own gradient buffers
    ptrdiff_t capacity[HEBB_MAX_THREADS];
} hebb_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 1};

static long hebb_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void hebb_pause(void) {
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

// Spins until `condition` holds or HEBB_SPIN_NS pass; evaluates to whether it held.
#define HEBB_SPIN_UNTIL(condition)                                                                             \
    ({                                                                                                         \
        int reached = 0;                                                                                       \
        long deadline = hebb_now_ns() + HEBB_SPIN_NS;                                                          \
        for (unsigned i = 1;; i++) {                                                                           \
            if (condition) { reached = 1; break; }                                                             \
            hebb_pause();                                                                                      \
            if ((i & 63) == 0 && hebb_now_ns() > deadline) break;                                              \
        }                                                                                                      \
        reached;                                                                                               \
    })

static void *hebb_helper(void *arg) {
    const int t = (int)(ptrdiff_t)arg;
    unsigned long seen = 0;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "hebbd-products");
#endif
    for (;;) {
        if (!HEBB_SPIN_UNTIL(atomic_load_explicit(&hebb_pool.generation, memory_order_acquire) != seen)) {
            pthread_mutex_lock(&hebb_pool.state);
            while (atomic_load_explicit(&hebb_pool.generation, memory_order_acquire) == seen)
                pthread_cond_wait(&hebb_pool.wake, &hebb_pool.state);
            pthread_mutex_unlock(&hebb_pool.state);
        }
        seen = atomic_load_explicit(&hebb_pool.generation, memory_order_acquire);
        if (t < hebb_pool.active) {
            const ptrdiff_t r0 = hebb_pool.first[t], r1 = hebb_pool.first[t + 1], d = hebb_pool.d, s = hebb_pool.s;
            float *g = hebb_pool.with_gradient ? hebb_pool.gradients[t] : NULL;
            if (r1 > r0)
                hebb_products_serial(hebb_pool.x + r0 * d, hebb_pool.y + r0 * s, hebb_pool.w, hebb_pool.bias,
                                     hebb_pool.e + r0 * s, g, r1 - r0, d, s);
            else if (g)
                memset(g, 0, (size_t)(d * s) * sizeof(float));
        }
        if (atomic_fetch_sub_explicit(&hebb_pool.pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&hebb_pool.state);
            pthread_cond_signal(&hebb_pool.done);
            pthread_mutex_unlock(&hebb_pool.state);
        }
    }
    return NULL;
}

int hebb_kernels_set_threads(int threads) {
    if (threads < 1) threads = 1;
    if (threads > HEBB_MAX_THREADS) threads = HEBB_MAX_THREADS;
    pthread_mutex_lock(&hebb_pool.lock);   // not while a split is running
    while (hebb_pool.started < threads - 1) {
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        int failed = pthread_create(&thread, &attributes, hebb_helper, (void *)(ptrdiff_t)(hebb_pool.started + 1));
        pthread_attr_destroy(&attributes);
        if (failed) break;
        hebb_pool.started++;
    }
    // Helpers are never stopped; fewer threads leave the extra ones parked.
    hebb_pool.threads = threads <= hebb_pool.started + 1 ? threads : hebb_pool.started + 1;
    int in_force = hebb_pool.threads;
    pthread_mutex_unlock(&hebb_pool.lock);
    return in_force;
}

int hebb_kernels_threads(void) {
    pthread_mutex_lock(&hebb_pool.lock);
    int threads = hebb_pool.threads;
    pthread_mutex_unlock(&hebb_pool.lock);
    return threads;
}

void hebb_products(const float *x, const float *y, const float *w, const float *bias, float *e, float *g,
                   ptrdiff_t rows, ptrdiff_t d, ptrdiff_t s) {
    if (rows * d * s < HEBB_PARALLEL_MIN_WORK || pthread_mutex_trylock(&hebb_pool.lock) != 0) {
        hebb_products_serial(x, y, w, bias, e, g, rows, d, s);
        return;
    }
    int threads = hebb_pool.threads;
    if (threads > rows) threads = (int)rows;
    int ready = threads > 1;
    for (int t = 1; t < threads && ready && g; t++) {
        if (hebb_pool.capacity[t] < d * s) {
            free(hebb_pool.gradients[t]);
            hebb_pool.gradients[t] = malloc((size_t)(d * s) * sizeof(float));
            hebb_pool.capacity[t] = hebb_pool.gradients[t] ? d * s : 0;
            if (!hebb_pool.gradients[t]) ready = 0;
        }
    }
    if (!ready) {
        pthread_mutex_unlock(&hebb_pool.lock);
        hebb_products_serial(x, y, w, bias, e, g, rows, d, s);
        return;
    }
    // Equal shares of rows, in multiples of 16 (every row block of the kernels), the caller's first.
    ptrdiff_t share = (rows + threads - 1) / threads;
    share = (share + 15) / 16 * 16;
    for (int t = 0; t < threads; t++) hebb_pool.first[t] = t * share < rows ? t * share : rows;
    hebb_pool.first[threads] = rows;
    hebb_pool.x = x, hebb_pool.y = y, hebb_pool.w = w, hebb_pool.bias = bias, hebb_pool.e = e;
    hebb_pool.with_gradient = g != NULL;
    hebb_pool.d = d, hebb_pool.s = s;
    hebb_pool.active = threads;
    atomic_store_explicit(&hebb_pool.pending, hebb_pool.started, memory_order_relaxed);
    pthread_mutex_lock(&hebb_pool.state);
    atomic_fetch_add_explicit(&hebb_pool.generation, 1, memory_order_release);
    pthread_cond_broadcast(&hebb_pool.wake);
    pthread_mutex_unlock(&hebb_pool.state);

    hebb_products_serial(x, y, w, bias, e, g, hebb_pool.first[1], d, s);

    if (!HEBB_SPIN_UNTIL(atomic_load_explicit(&hebb_pool.pending, memory_order_acquire) == 0)) {
        pthread_mutex_lock(&hebb_pool.state);
        while (atomic_load_explicit(&hebb_pool.pending, memory_order_acquire) > 0)
            pthread_cond_wait(&hebb_pool.done, &hebb_pool.state);
        pthread_mutex_unlock(&hebb_pool.state);
    }
    if (g) {
        const ptrdiff_t n = d * s;
        for (int t = 1; t < threads; t++) {
            const float *gt = hebb_pool.gradients[t];
            for (ptrdiff_t i = 0; i < n; i++) g[i] += gt[i];
        }
    }
    pthread_mutex_unlock(&hebb_pool.lock);
}

void hebb_adam_step(float *w, float *m, float *v, const float *g, ptrdiff_t n, float lr, float beta1, float beta2,
                    float one_minus_beta1, float one_minus_beta2, float c1, float c2, float epsilon, float shrink) {
    hebb_kernels()->adam_step(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2, epsilon, shrink);
}

int hebb_adam_step_is_finite(const float *w, const float *m, const float *v, const float *g, ptrdiff_t n, float lr,
                             float beta1, float beta2, float one_minus_beta1, float one_minus_beta2, float c1, float c2,
                             float epsilon) {
    return hebb_kernels()->adam_step_is_finite(w, m, v, g, n, lr, beta1, beta2, one_minus_beta1, one_minus_beta2, c1, c2,
                                               epsilon);
}

void hebb_norms(const float *w, ptrdiff_t n, double *l1, double *l2) { hebb_kernels()->norms(w, n, l1, l2); }

void hebb_penalty_gradient(const float *w, float *g, ptrdiff_t n, float scale, float a, float b) {
    hebb_kernels()->penalty_gradient(w, g, n, scale, a, b);
}

int hebb_all_finite(const void *values, ptrdiff_t n) { return hebb_kernels()->all_finite(values, n); }

int hebb_copy_finite(float *out, const void *values, ptrdiff_t n) { return hebb_kernels()->copy_finite(out, values, n); }

int hebb_available_cpus(void) {
#if defined(__linux__)
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int count = CPU_COUNT(&set);
        return count > 0 ? count : 1;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (int)online : 1;
}
