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
    ptrdiff_t (*threshold)(const float *, ptrdiff_t, float, float *);
    ptrdiff_t (*user_units)(const float *, ptrdiff_t, ptrdiff_t, float, const double *, const double *, const double *,
                            float *, double *);
    void (*batch_moments)(const float *, ptrdiff_t, ptrdiff_t, double *, double *);
    void (*standardize)(const float *, ptrdiff_t, ptrdiff_t, const float *, const float *, float *);
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

int hebb_products_computes(ptrdiff_t d, ptrdiff_t s) { return d > 0 && (s == 1 || (s % 16 == 0 && s > 0 && s <= 64)); }

// s = 32, 48 and 64 only with AVX-512: a row of W that wide is 2–4 of its 32 registers, leaving room for 4–8 rows per
// pass, but 4–8 of AVX2's 16, leaving 1–3 rows whose accumulators spill; there OpenBLAS's packed sgemm was 1.1–2.2×
// faster than the kernel at every wide shape measured (medians, one thread; 1.2–1.5× with two; docs/ARCHITECTURE.md
// §8), and the kernel 1.4–1.6× faster than OpenBLAS at s = 1 and 16.
int hebb_products_supported(ptrdiff_t d, ptrdiff_t s, ptrdiff_t max_weights) {
    if (!hebb_products_computes(d, s) || d * s > max_weights) return 0;
    return s <= 16 || hebb_kernels_isa() == HEBB_ISA_AVX512;
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

// The pool of helper threads ("hebbd-products"): a job of n parts is published with a ticket; the caller and the
// helpers claim its parts one at a time until none is left, and the caller returns when every part has finished.
// hebb_products splits a product by rows with it; the Bayesian covariance cache splits its level-3 products by
// columns with it (docs/MATH.md §10). Claiming rather than assigning parts keeps a loaded machine from stalling the
// caller: when the other cores are busy and a helper is not scheduled, the caller runs that helper's part itself
// instead of waiting a time slice for it. Measured with compilers holding both cores (256×1 Bayesian batches of 64,
// p50): parts assigned to threads 2.2 ms against 0.62 ms on one thread, claimed 0.76–0.81 ms; with
// hebb_parallel_run's back-off below, 0.60–0.61 ms, no slower than one thread.
//
// Hand-offs: a helper that has just finished spins (with `pause`) for up to HEBB_SPIN_NS waiting for the next job
// before it parks on a condition variable, and the caller spins likewise waiting for the helpers. On a virtual machine
// a futex wake-up costs tens to hundreds of µs — as much as the work of a mid-sized product — while products of a
// busy model follow each other closely; an idle model's helpers park and cost nothing (on a small machine a helper
// that spun forever would take the core libzmq's I/O thread needs).
#define HEBB_MAX_THREADS 64   // parts fit the ticket's 8 bits
#define HEBB_SPIN_NS 200000L

static struct {
    pthread_mutex_t lock;      // held by the one caller whose job is split
    pthread_mutex_t state;     // for parking and waking
    pthread_cond_t wake, done;
    int threads;               // in force: caller + helpers (under `lock`)
    int started;               // helpers running (under `lock`)
    // generation << 16 | parts << 8 | next unclaimed part: a part is claimed by a compare-and-swap on the whole word,
    // so a thread that read an older generation can never claim a part of the new one.
    _Atomic unsigned long ticket;
    _Atomic int finished;              // parts of this generation done
    _Atomic long work_ns;              // CPU time its parts took, summed over the threads that ran them
    hebb_job job;                      // the job and its context, published with the ticket
    void *context;
    // hebb_parallel_run's record (under `lock`): one bit per recent job, set when splitting it did not pay, and the
    // jobs still to run on the caller alone after too many did not.
    unsigned misses;
    int alone;
} hebb_pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 1};

static long hebb_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

// The calling thread's CPU time (not advancing while it is descheduled).
static long hebb_thread_cpu_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
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

// Claims and runs parts of generation `generation` until none is left (or the generation is over); returns how many
// this thread ran.
static int hebb_pool_work(unsigned long generation) {
    for (int ran = 0;; ran++) {
        unsigned long ticket = atomic_load_explicit(&hebb_pool.ticket, memory_order_acquire);
        const int parts = (int)((ticket >> 8) & 0xff), part = (int)(ticket & 0xff);
        if ((ticket >> 16) != generation || part >= parts) return ran;
        if (!atomic_compare_exchange_weak_explicit(&hebb_pool.ticket, &ticket, ticket + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        // The caller keeps the job until every part finished, so it is this generation's.
        const long cpu = hebb_thread_cpu_ns();
        hebb_pool.job(hebb_pool.context, part, parts);
        atomic_fetch_add_explicit(&hebb_pool.work_ns, hebb_thread_cpu_ns() - cpu, memory_order_relaxed);
        if (atomic_fetch_add_explicit(&hebb_pool.finished, 1, memory_order_acq_rel) + 1 == parts) {
            pthread_mutex_lock(&hebb_pool.state);
            pthread_cond_signal(&hebb_pool.done);
            pthread_mutex_unlock(&hebb_pool.state);
        }
    }
}

static void *hebb_helper(void *arg) {
    (void)arg;
    unsigned long seen = 0;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "hebbd-products");
#endif
    for (;;) {
        if (!HEBB_SPIN_UNTIL((atomic_load_explicit(&hebb_pool.ticket, memory_order_acquire) >> 16) != seen)) {
            pthread_mutex_lock(&hebb_pool.state);
            while ((atomic_load_explicit(&hebb_pool.ticket, memory_order_acquire) >> 16) == seen)
                pthread_cond_wait(&hebb_pool.wake, &hebb_pool.state);
            pthread_mutex_unlock(&hebb_pool.state);
        }
        seen = atomic_load_explicit(&hebb_pool.ticket, memory_order_acquire) >> 16;
        hebb_pool_work(seen);
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

// hebb_parallel_run backs off to the caller alone for HEBB_BACK_OFF_JOBS jobs when HEBB_MISSES_TO_BACK_OFF of the
// last 8 split jobs did not pay: on a machine whose other cores are busy (other processes, libzmq's I/O thread) a
// helper is descheduled inside its part and the caller waits a time slice for it. Measured on 2 cores with two
// compilers running (Benchmarks/README.md, "The batch update at 256×1 / 64"). After the pause it tries again.
#define HEBB_RECENT_JOBS 0xffu
#define HEBB_MISSES_TO_BACK_OFF 4
#define HEBB_BACK_OFF_JOBS 1024

// Runs parts 0…parts−1 of `job` on the caller and the helpers with the pool's lock held (unless `fixed`, no more parts
// than threads in force; if `fixed`, with hebb_parallel_run's back-off);
// `prepare` (when not NULL) is called first with the part count and may return 0 to run nothing, `finish` (when not
// NULL) after every part: both under the lock, so they may use the pool's per-part buffers. Returns the part count,
// or 0 when nothing ran (the pool busy with another caller's job, too few threads in force, or `prepare` declined).
static int hebb_pool_run(hebb_job job, void *context, int parts, int fixed, int (*prepare)(void *, int),
                         void (*finish)(void *, int)) {
    if (parts < 2 || parts > 255 || pthread_mutex_trylock(&hebb_pool.lock) != 0) return 0;   // the ticket's 8 bits
    if (!fixed && parts > hebb_pool.threads) parts = hebb_pool.threads;
    if (fixed && hebb_pool.alone > 0) hebb_pool.alone--, parts = 0;   // backing off (see hebb_parallel_run)
    if (parts < 2 || hebb_pool.threads < 2 || (prepare && !prepare(context, parts))) {
        pthread_mutex_unlock(&hebb_pool.lock);
        return 0;
    }
    hebb_pool.job = job, hebb_pool.context = context;
    atomic_store_explicit(&hebb_pool.finished, 0, memory_order_relaxed);
    atomic_store_explicit(&hebb_pool.work_ns, 0, memory_order_relaxed);
    const unsigned long generation = (atomic_load_explicit(&hebb_pool.ticket, memory_order_relaxed) >> 16) + 1;
    pthread_mutex_lock(&hebb_pool.state);
    atomic_store_explicit(&hebb_pool.ticket, generation << 16 | (unsigned long)parts << 8, memory_order_release);
    pthread_cond_broadcast(&hebb_pool.wake);
    pthread_mutex_unlock(&hebb_pool.state);

    const long started = hebb_now_ns();
    const int ran = hebb_pool_work(generation);

    if (!HEBB_SPIN_UNTIL(atomic_load_explicit(&hebb_pool.finished, memory_order_acquire) == parts)) {
        pthread_mutex_lock(&hebb_pool.state);
        while (atomic_load_explicit(&hebb_pool.finished, memory_order_acquire) < parts)
            pthread_cond_wait(&hebb_pool.done, &hebb_pool.state);
        pthread_mutex_unlock(&hebb_pool.state);
    }
    if (finish) finish(context, parts);
    if (fixed) {
        // It paid if it ended in under 0.9 of the CPU time its parts took (one thread would have needed at least
        // that); it did not when the helpers never came (the caller ran every part), or when they and the caller
        // took turns on a core that another process also wanted.
        const long elapsed = hebb_now_ns() - started;
        const long work = atomic_load_explicit(&hebb_pool.work_ns, memory_order_relaxed);
        hebb_pool.misses = hebb_pool.misses << 1 | (ran == parts || elapsed * 10 > work * 9);
        if (__builtin_popcount(hebb_pool.misses & HEBB_RECENT_JOBS) >= HEBB_MISSES_TO_BACK_OFF) {
            hebb_pool.alone = HEBB_BACK_OFF_JOBS;
            hebb_pool.misses = 0;
        }
    }
    pthread_mutex_unlock(&hebb_pool.lock);
    return parts;
}

int hebb_parallel_run(hebb_job job, void *context, int parts) {
    if (hebb_pool_run(job, context, parts, 1, NULL, NULL) > 0) return 1;
    for (int part = 0; part < parts; part++) job(context, part, parts);
    return 0;
}

// A product split by rows: part t takes rows [first[t], first[t+1]) into its own gradient buffer (the caller's into
// g); the caller adds the helpers' buffers at the end. The split and the buffers are the pool's, written under its
// lock (in hebb_products_prepare): a second caller meanwhile finds the lock busy and runs serially.
typedef struct {
    const float *x, *y, *w, *bias;
    float *e, *g;
    ptrdiff_t rows, d, s;
} hebb_product_args;

static struct {
    hebb_product_args args;
    ptrdiff_t first[HEBB_MAX_THREADS + 1];
    float *gradients[HEBB_MAX_THREADS];  // the helpers' own gradient buffers
    ptrdiff_t capacity[HEBB_MAX_THREADS];
} hebb_split;

static int hebb_products_prepare(void *context, int parts) {
    hebb_split.args = *(const hebb_product_args *)context;
    const ptrdiff_t d = hebb_split.args.d, s = hebb_split.args.s, rows = hebb_split.args.rows;
    for (int t = 1; t < parts && hebb_split.args.g; t++) {
        if (hebb_split.capacity[t] < d * s) {
            free(hebb_split.gradients[t]);
            hebb_split.gradients[t] = malloc((size_t)(d * s) * sizeof(float));
            hebb_split.capacity[t] = hebb_split.gradients[t] ? d * s : 0;
            if (!hebb_split.gradients[t]) return 0;
        }
    }
    // Equal shares of rows, in multiples of 16 (every row block of the kernels), the caller's first.
    ptrdiff_t share = (rows + parts - 1) / parts;
    share = (share + 15) / 16 * 16;
    for (int t = 0; t < parts; t++) hebb_split.first[t] = t * share < rows ? t * share : rows;
    hebb_split.first[parts] = rows;
    return 1;
}

static void hebb_products_part(void *context, int t, int parts) {
    (void)context, (void)parts;
    const hebb_product_args *a = &hebb_split.args;
    const ptrdiff_t r0 = hebb_split.first[t], r1 = hebb_split.first[t + 1], d = a->d, s = a->s;
    float *g = a->g ? (t == 0 ? a->g : hebb_split.gradients[t]) : NULL;
    if (r1 > r0)
        hebb_products_serial(a->x + r0 * d, a->y + r0 * s, a->w, a->bias, a->e + r0 * s, g, r1 - r0, d, s);
    else if (g)
        memset(g, 0, (size_t)(d * s) * sizeof(float));
}

// The helpers' gradients added into the caller's g.
static void hebb_products_finish(void *context, int parts) {
    (void)context;
    float *g = hebb_split.args.g;
    if (!g) return;
    const ptrdiff_t n = hebb_split.args.d * hebb_split.args.s;
    for (int t = 1; t < parts; t++) {
        const float *gt = hebb_split.gradients[t];
        for (ptrdiff_t i = 0; i < n; i++) g[i] += gt[i];
    }
}

void hebb_products(const float *x, const float *y, const float *w, const float *bias, float *e, float *g,
                   ptrdiff_t rows, ptrdiff_t d, ptrdiff_t s) {
    hebb_product_args args = {x, y, w, bias, e, g, rows, d, s};
    if (rows * d * s < HEBB_PARALLEL_MIN_WORK
        || hebb_pool_run(hebb_products_part, &args, (int)(rows < HEBB_MAX_THREADS ? rows : HEBB_MAX_THREADS), 0,
                         hebb_products_prepare, hebb_products_finish) == 0)
        hebb_products_serial(x, y, w, bias, e, g, rows, d, s);
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

ptrdiff_t hebb_threshold(const float *w, ptrdiff_t n, float threshold, float *out) {
    return hebb_kernels()->threshold(w, n, threshold, out);
}

ptrdiff_t hebb_user_unit_coefficients(const float *w, ptrdiff_t d, ptrdiff_t s, float threshold, const double *target_scale,
                                      const double *x_scale, const double *x_mean, float *out, double *bias) {
    return hebb_kernels()->user_units(w, d, s, threshold, target_scale, x_scale, x_mean, out, bias);
}

void hebb_batch_moments(const float *values, ptrdiff_t rows, ptrdiff_t cols, double *mean, double *m2) {
    hebb_kernels()->batch_moments(values, rows, cols, mean, m2);
}

void hebb_standardize(const float *values, ptrdiff_t rows, ptrdiff_t cols, const float *shift, const float *inverse_scale,
                      float *out) {
    hebb_kernels()->standardize(values, rows, cols, shift, inverse_scale, out);
}

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
