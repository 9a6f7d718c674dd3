// The learning step's inner loops, in C so they can be compiled for the vector units the machine has
// (AVX-512, AVX2+FMA, or the x86-64/arm64 baseline), chosen once at run time. Swift code is compiled for the
// baseline only, which keeps its loops to 128-bit vectors without FMA; OpenBLAS, the other option, spends most of a
// small product packing its operands. docs/ARCHITECTURE.md, §9 "The step kernels", explains what each computes, the
// include-once-per-instruction-set technique, the run-time dispatch, which kernels are bit-exact, and the threads.
//
// All matrices are row-major and contiguous; sizes are element counts.
#ifndef C_HEBB_KERNELS_H
#define C_HEBB_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// The instruction sets a kernel can be compiled for.
typedef enum {
    HEBB_ISA_BASELINE = 0,
    HEBB_ISA_AVX2 = 1,
    HEBB_ISA_AVX512 = 2,
} hebb_isa;

/// The instruction set the kernels run with (the best this CPU has, unless overridden).
hebb_isa hebb_kernels_isa(void);
/// Overrides the instruction set (tests run every path); one this CPU lacks is ignored. Returns the one in force.
hebb_isa hebb_kernels_set_isa(hebb_isa isa);
/// Whether this CPU runs `isa`.
int hebb_isa_supported(hebb_isa isa);

/// Whether hebb_products can compute a d×s synapse's products, on every instruction set: s = 1, or s a multiple of
/// 16 up to 64.
int hebb_products_computes(ptrdiff_t d, ptrdiff_t s);

/// Whether a step on a d×s synapse should use hebb_products (else the caller uses BLAS), with the instruction set in
/// force: a shape hebb_products_computes, of at most `max_weights` elements, and for s = 32, 48 or 64 only with
/// AVX-512 (with AVX2 or the baseline, OpenBLAS is faster there: kernels.c).
int hebb_products_supported(ptrdiff_t d, ptrdiff_t s, ptrdiff_t max_weights);

/// The residual and the Hebbian gradient of one step, in one pass over the rows of X:
///     e ← (y − bias) − x·w        (rows×s; bias, one value per output, may be NULL)
///     g ← −xᵀ·e                    (d×s), when g is not NULL.
/// Only for shapes that hebb_products_computes accepts.
void hebb_products(const float *x, const float *y, const float *w, const float *bias, float *e, float *g,
                   ptrdiff_t rows, ptrdiff_t d, ptrdiff_t s);

/// Threads for hebb_products (the caller's plus helpers parked between calls; at least 1). A product of at least
/// `HEBB_PARALLEL_MIN_WORK` multiply-adds is split by rows of X among them, each helper into its own gradient buffer,
/// summed at the end; smaller products, and calls made while another thread's split is running, stay on the
/// calling thread. Returns the count in force.
int hebb_kernels_set_threads(int threads);
/// The thread count in force (1 unless set).
int hebb_kernels_threads(void);

/// One part of a job split among the pool's threads: `part` of `parts` (0 is the caller's).
typedef void (*hebb_job)(void *context, int part, int parts);

/// Runs parts 0…parts−1 (at most 255) of `job`, each exactly once, claimed by the caller and the pool's helpers (the
/// threads of hebb_kernels_set_threads), and returns 1 once all have finished; or, with one thread in force, another
/// thread's job running, or while backing off (too many recent splits did not pay, kernels.c), runs them one after
/// another on the caller and returns 0. The parts must touch disjoint memory; the caller decides whether a job is
/// worth splitting (a hand-off costs ~1 µs to a spinning helper, tens to hundreds of µs to a parked one on a virtual
/// machine).
int hebb_parallel_run(hebb_job job, void *context, int parts);
/// The CPUs this process may run on (its affinity mask; at least 1).
int hebb_available_cpus(void);
/// Rows·d·s from which a product is split among threads: about 1 ms of one core's work. Measured end to end on 2 cores
/// (Benchmarks/README.md), a split of 4096×64 by 1024 rows (268M) raised a daemon's rate 1.27×, one of 1024×16 by 256
/// rows (4M) lowered it 0.7× (the helper took the core libzmq's I/O thread and the producer needed).
#define HEBB_PARALLEL_MIN_WORK (1L << 24)

/// One Adam step over n parameters, bit for bit the scalar float32 sequence (no fused multiply-add):
///     m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  den ← √(v / c2) + ε
///     w ← w − (lr·(m / c1)) / den,  then, when shrink > 0, soft-thresholded by shrink / den.
void hebb_adam_step(float *w, float *m, float *v, const float *g, ptrdiff_t n, float lr, float beta1, float beta2,
                    float one_minus_beta1, float one_minus_beta2, float c1, float c2, float epsilon, float shrink);

/// Whether hebb_adam_step with these arguments would leave w, m and v finite: the same arithmetic, nothing stored.
/// (Soft-thresholding maps finite values to finite values, so it is left out.)
int hebb_adam_step_is_finite(const float *w, const float *m, const float *v, const float *g, ptrdiff_t n, float lr,
                             float beta1, float beta2, float one_minus_beta1, float one_minus_beta2, float c1, float c2,
                             float epsilon);

/// Σ|w| and Σw² over n values, accumulated in double (the penalty's value).
void hebb_norms(const float *w, ptrdiff_t n, double *l1, double *l2);

/// g ← g + scale·(a·sign(w) + b·w) in float32 without fused multiply-adds; sign(0) = 0. Lasso's λ·sign(w) is
/// (λ, 1, 0), ridge's λ·w is (λ, 0, 1), elastic net's λ·(r·sign(w) + w·(1−r)/2) is (λ, r, (1−r)/2): a zero
/// term adds an exact ±0, so each is bit for bit its own scalar expression.
void hebb_penalty_gradient(const float *w, float *g, ptrdiff_t n, float scale, float a, float b);

/// Whether all n float32 values at `values` (native byte order, any alignment) are finite: one OR-reduced pass over
/// the raw bits, no branch per element.
int hebb_all_finite(const void *values, ptrdiff_t n);

/// Copies n float32 values from `values` (any alignment) to `out` and returns whether all are finite, in the same one
/// pass: an ingest frame is checked as it is copied into the batch buffer.
int hebb_copy_finite(float *out, const void *values, ptrdiff_t n);

/// The published coefficients of a model without standardisation: out[i] = |w[i]| ≥ threshold ? w[i] : 0 (−0 kept as
/// −0). Returns how many are nonzero. `out` may be `w` (`prune`: W thresholded in place).
ptrdiff_t hebb_threshold(const float *w, ptrdiff_t n, float threshold, float *out);

/// The published coefficients of a standardised model in raw units, from W̃ (d × s, row-major): for each feature j
/// with x_scale[j] > 0 and each output k, out = |w̃| ≥ threshold ? (float)((double)w̃ · target_scale[k] / x_scale[j])
/// : 0, and for the kept entries bias[k] ← bias[k] − x_mean[j] · that Double value; a feature with x_scale[j] = 0 (a
/// constant column) gets zeros and leaves the bias alone. Double arithmetic without fused multiply-adds, in the order
/// given, so every instruction set gives the same bits. Returns how many of the float values are nonzero.
ptrdiff_t hebb_user_unit_coefficients(const float *w, ptrdiff_t d, ptrdiff_t s, float threshold, const double *target_scale,
                                      const double *x_scale, const double *x_mean, float *out, double *bias);

/// The batch statistics of each column j of a rows × cols float32 batch (row-major), in Double: mean[j] = (Σ_r
/// x[r][j]) / rows, then m2[j] = Σ_r (x[r][j] − mean[j])², each sum taken over the rows in order (so every
/// instruction set gives the bits of the scalar column loops).
void hebb_batch_moments(const float *values, ptrdiff_t rows, ptrdiff_t cols, double *mean, double *m2);

/// out[r][j] = (values[r][j] − shift[j]) · inverse_scale[j] in float32, without fused multiply-adds.
void hebb_standardize(const float *values, ptrdiff_t rows, ptrdiff_t cols, const float *shift, const float *inverse_scale,
                      float *out);

// The process's C allocator (allocator.c).

/// Serves blocks up to `largest_heap_block` bytes from the heap instead of fresh mappings, and returns free memory at
/// a heap's top to the kernel only beyond `kept_free` bytes (glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD; glibc
/// caps the first at 32 MiB on 64-bit systems). Returns 1 when both were set, 0 elsewhere (another C library, or a
/// value glibc refused).
int hebb_allocator_keep_freed(size_t largest_heap_block, size_t kept_free);

// The exact Bayesian model's covariance cache (covariance.c; docs/MATH.md §10), in Double. S is a symmetric d × d
// matrix stored whole, row-major; these per-row kernels are never split among threads.

/// Rows [r0, r1) of S's upper triangle scaled by `scale` and copied to the lower triangle (S[j][i] ← S[i][j] for
/// j ≥ i), in tiles so the column-wise writes stay in cache: S exactly symmetric after a product that updated only
/// the upper triangle. Rows [r0, r1) write only S[j][i] with i in [r0, r1), so disjoint row ranges may run at once.
void hebb_mirror_upper(double *s, ptrdiff_t d, ptrdiff_t r0, ptrdiff_t r1, double scale);

/// One Sherman–Morrison step for the rank-one change P ← decay·P + β·ρ²·a·aᵀ of S = P⁻¹, with g = β·ρ²/decay and
/// scale = 1/decay:
///     v ← S·a;  q ← aᵀv;  *prediction ← vᵀη (= aᵀS·η, when prediction is not NULL)
///     S ← (S − w·wᵀ)·scale   with w = √γ·v, γ = g/(1 + g·q) (γ = 0 when g ≤ 0): S stays exactly symmetric
/// Returns q. v holds d values (w on return).
double hebb_covariance_rank_one(double *s, const double *a, const double *eta, double *v, ptrdiff_t d, double g,
                                double scale, double *prediction);
/// v ← S·a for a symmetric S stored whole.
void hebb_symmetric_product(const double *s, const double *a, double *v, ptrdiff_t d);
/// Σ aᵢbᵢ (in a fixed order of 8 partial sums).
double hebb_dot(const double *a, const double *b, ptrdiff_t n);

// CRC-32 (crc32.c; docs/ARCHITECTURE.md §9, "The CRC"): IEEE 802.3 / zlib / PNG, reflected polynomial 0xEDB88320. The
// functions take and return the running register, not the finished CRC: start from 0xFFFFFFFF, feed the bytes, XOR
// the result with 0xFFFFFFFF (zlib.crc32 of the bytes). Any alignment and length; data may be NULL when n is 0.

/// The ways a CRC-32 is computed, slowest first.
typedef enum {
    /// Slicing-by-8 tables: any CPU.
    HEBB_CRC32_TABLE = 0,
    /// Carry-less multiplication folding of four 128-bit lanes (PCLMULQDQ, SSE4.1).
    HEBB_CRC32_PCLMUL = 1,
    /// The same folding of four 512-bit lanes (AVX-512 with VPCLMULQDQ).
    HEBB_CRC32_VPCLMUL = 2,
} hebb_crc32_method;

/// The register after feeding n bytes at `data` to register `crc`, by the best method this CPU has within the
/// instruction set in force (hebb_kernels_isa(): the baseline uses the tables, AVX2 the 128-bit folding, AVX-512 the
/// 512-bit folding when the CPU has VPCLMULQDQ).
uint32_t hebb_crc32_update(uint32_t crc, const void *data, size_t n);
/// The method hebb_crc32_update uses now.
hebb_crc32_method hebb_crc32_method_in_force(void);
/// Whether this CPU can run `method`.
int hebb_crc32_method_supported(hebb_crc32_method method);
/// hebb_crc32_update by one method (tests and benchmarks compare them); one the CPU lacks falls back to the tables.
uint32_t hebb_crc32_update_using(hebb_crc32_method method, uint32_t crc, const void *data, size_t n);

// The publish path's float32 formatter (float_text.c; FloatText.swift is its Swift face).

/// Bytes hebb_float_text may write at `out`: the text (at most HEBB_FLOAT_TEXT_LONGEST) and scratch past it.
#define HEBB_FLOAT_TEXT_MAXIMUM 32
/// The longest text of a float32 (`-1.00308845e-36`: sign, 9 significant digits — a float32 may need 9 —, the point,
/// `e-36`).
#define HEBB_FLOAT_TEXT_LONGEST 15
/// Entries of hebb_float_text_powers_of_ten: 10^e for e = −31…45.
#define HEBB_FLOAT_TEXT_POWERS 77

/// Writes the n float32 values at `values` (any alignment) at `out`, separated by commas, and returns the byte count:
/// each finite value as the shortest text that reads back as it, byte for byte Swift's `Float.description` (`0.05`,
/// `1e-05`, `16777216.0`, `-0.0`), each infinity or NaN as `null` (JSON has neither). Eight values at a time, in
/// vectors (float_text.c). `out` must have room for n·(HEBB_FLOAT_TEXT_LONGEST + 1) + 16 bytes: each text is stored
/// 16 bytes wide, and a comma follows the last one too (not counted).
size_t hebb_float_text_list(const float *values, ptrdiff_t n, uint8_t *out);
/// hebb_float_text_list with the body compiled for `isa` (the baseline's when this CPU lacks it), for tests.
size_t hebb_float_text_list_isa(hebb_isa isa, const float *values, ptrdiff_t n, uint8_t *out);

/// One finite value as hebb_float_text_list writes it; `out` has room for HEBB_FLOAT_TEXT_MAXIMUM bytes (at most 16
/// are written). Not for infinities or NaN. It costs a whole block of eight: rows go through hebb_float_text_list.
size_t hebb_float_text(float value, uint8_t *out);

/// ⌈10^e · 2^(63 − ⌊log₂ 10^e⌋)⌉ for e = −31…45 (index e + 31), the table hebb_float_text scales by (its tests
/// recompute it).
extern const uint64_t hebb_float_text_powers_of_ten[HEBB_FLOAT_TEXT_POWERS];

#endif
