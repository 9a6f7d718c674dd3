// CRC-32 (IEEE 802.3 / zlib / PNG) for the journal's records and the checkpoint files (docs/ARCHITECTURE.md §9,
// "The CRC"). Three methods, chosen per call from the instruction set in force (hebb_kernels_isa(), the step kernels'
// dispatch) and what the CPU has:
//   - VPCLMULQDQ: carry-less multiplication folding, four 512-bit lanes (256 bytes) per iteration;
//   - PCLMULQDQ: the same folding with four 128-bit lanes (64 bytes) per iteration;
//   - table: slicing-by-8, any CPU (and the tail of fewer than 16 or 64 bytes the folding leaves).
// The folding is the method of Gopal, Ozturk et al., "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
// Instruction" (Intel, 2009), in the form zlib-ng and Chromium's crc32_simd.c use: the register is XORed into the
// first 16 bytes, each 128-bit lane a is folded over a distance of D bits as a·x^(D+32)·… (two 64×64 carry-less
// products with the constants below), the lanes are folded into one, and a Barrett reduction leaves the 32-bit CRC.
//
// The constants are x^n mod P in the bit-reflected domain, shifted left by one (33 bits), for P = 0x104C11DB7:
//   n = 2080, 2016: fold a 512-bit lane 4·512 bits ahead;   n = 544, 480: fold a 128-bit lane 4·128 bits ahead
//   n = 160, 96: fold by one 128-bit lane;                   n = 64: 96 → 64 bits
// and the Barrett pair P' (the reflected polynomial) and μ' = x^64 / P reflected. A Python check:
//   P = 0x104C11DB7; r = x^n mod P by shift-and-XOR; int(f"{r:032b}"[::-1], 2) << 1.
#include "CHebbKernels.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

// MARK: - Slicing-by-8

// Table k maps a byte to its contribution k bytes further on (table 0 is the classic byte-at-a-time table). Built on
// first use rather than written out (2048 constants).
static uint32_t hebb_crc_tables[8][256];
static pthread_once_t hebb_crc_tables_once = PTHREAD_ONCE_INIT;

static void hebb_crc_build_tables(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        hebb_crc_tables[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t previous = hebb_crc_tables[k - 1][b];
            hebb_crc_tables[k][b] = hebb_crc_tables[0][previous & 0xFF] ^ (previous >> 8);
        }
}

static inline uint32_t hebb_load_le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

static uint32_t hebb_crc32_table(uint32_t crc, const uint8_t *p, size_t n) {
    pthread_once(&hebb_crc_tables_once, hebb_crc_build_tables);
    const uint32_t(*t)[256] = (const uint32_t(*)[256])hebb_crc_tables;
    for (; n >= 8; p += 8, n -= 8) {
        uint32_t a = crc ^ hebb_load_le32(p), b = hebb_load_le32(p + 4);
        crc = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^ t[3][b & 0xFF] ^
              t[2][(b >> 8) & 0xFF] ^ t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24];
    }
    for (; n > 0; p++, n--) crc = t[0][(crc ^ *p) & 0xFF] ^ (crc >> 8);
    return crc;
}

// MARK: - Carry-less multiplication folding

#if defined(__x86_64__)
#include <immintrin.h>

#pragma clang attribute push(__attribute__((target("pclmul,sse4.1"))), apply_to = function)

// a·(low constant) ⊕ a·(high constant) per half ⊕ data: one lane folded forward over the constants' distance.
static inline __m128i hebb_fold128(__m128i a, __m128i k, __m128i data) {
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00), _mm_clmulepi64_si128(a, k, 0x11)), data);
}

// The CRC of one 128-bit remainder x (the running register already folded in): 128 → 64 → 32 bits.
static inline uint32_t hebb_reduce128(__m128i x) {
    const __m128i k3k4 = _mm_set_epi64x((long long)0x00ccaa009eULL, (long long)0x01751997d0ULL);
    const __m128i mask = _mm_setr_epi32(~0, 0, ~0, 0);
    // 128 → 96 bits: the low half times x^96, added to the high half.
    x = _mm_xor_si128(_mm_srli_si128(x, 8), _mm_clmulepi64_si128(x, k3k4, 0x10));
    // 96 → 64 bits: the low 32 bits times x^64, added to the rest.
    const __m128i k5 = _mm_set_epi64x(0, (long long)0x0163cd6124ULL);
    x = _mm_xor_si128(_mm_srli_si128(x, 4), _mm_clmulepi64_si128(_mm_and_si128(x, mask), k5, 0x00));
    // Barrett: q = (low 32 bits · μ') mod x^32, remainder = x ⊕ q·P'.
    const __m128i poly = _mm_set_epi64x((long long)0x01f7011641ULL, (long long)0x01db710641ULL);
    __m128i q = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x, mask), poly, 0x10), mask);
    x = _mm_xor_si128(x, _mm_clmulepi64_si128(q, poly, 0x00));
    return (uint32_t)_mm_extract_epi32(x, 1);
}

// n ≥ 64 and a multiple of 16. Four lanes of 16 bytes folded 64 bytes at a time, then into one, then 16 at a time.
static uint32_t hebb_crc32_pclmul_blocks(uint32_t crc, const uint8_t *p, size_t n) {
    const __m128i k1k2 = _mm_set_epi64x((long long)0x01c6e41596ULL, (long long)0x0154442bd4ULL);
    const __m128i k3k4 = _mm_set_epi64x((long long)0x00ccaa009eULL, (long long)0x01751997d0ULL);
    __m128i x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)crc));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    p += 64, n -= 64;
    for (; n >= 64; p += 64, n -= 64) {
        x0 = hebb_fold128(x0, k1k2, _mm_loadu_si128((const __m128i *)p));
        x1 = hebb_fold128(x1, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = hebb_fold128(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = hebb_fold128(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
    }
    x0 = hebb_fold128(x0, k3k4, x1);
    x0 = hebb_fold128(x0, k3k4, x2);
    x0 = hebb_fold128(x0, k3k4, x3);
    for (; n >= 16; p += 16, n -= 16) x0 = hebb_fold128(x0, k3k4, _mm_loadu_si128((const __m128i *)p));
    return hebb_reduce128(x0);
}

static uint32_t hebb_crc32_pclmul(uint32_t crc, const uint8_t *p, size_t n) {
    if (n >= 64) {
        size_t blocks = n & ~(size_t)15;
        crc = hebb_crc32_pclmul_blocks(crc, p, blocks);
        p += blocks, n -= blocks;
    }
    return hebb_crc32_table(crc, p, n);
}

#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,vpclmulqdq,pclmul,sse4.1"))), \
                             apply_to = function)

static inline __m512i hebb_fold512(__m512i a, __m512i k, __m512i data) {
    // (a·k_low) ⊕ (a·k_high) ⊕ data in one ternary-logic instruction (0x96: three-way XOR).
    return _mm512_ternarylogic_epi64(_mm512_clmulepi64_epi128(a, k, 0x00), _mm512_clmulepi64_epi128(a, k, 0x11), data,
                                     0x96);
}

// n ≥ 256 and a multiple of 64. Four lanes of 64 bytes folded 256 bytes at a time, then into one 512-bit lane, then 64
// at a time; the lane's four 128-bit parts are folded into one and reduced as in the 128-bit method.
static uint32_t hebb_crc32_vpclmul_blocks(uint32_t crc, const uint8_t *p, size_t n) {
    const __m512i k1k2 = _mm512_set_epi64((long long)0x01322d1430ULL, (long long)0x011542778aULL,
                                          (long long)0x01322d1430ULL, (long long)0x011542778aULL,
                                          (long long)0x01322d1430ULL, (long long)0x011542778aULL,
                                          (long long)0x01322d1430ULL, (long long)0x011542778aULL);
    const __m512i k3k4 = _mm512_broadcast_i32x4(_mm_set_epi64x((long long)0x01c6e41596ULL, (long long)0x0154442bd4ULL));
    // zext, not cast: a cast leaves the upper 384 bits undefined (zero at -O2, garbage at -O0).
    __m512i x0 = _mm512_xor_si512(_mm512_loadu_si512(p), _mm512_zextsi128_si512(_mm_cvtsi32_si128((int)crc)));
    __m512i x1 = _mm512_loadu_si512(p + 64);
    __m512i x2 = _mm512_loadu_si512(p + 128);
    __m512i x3 = _mm512_loadu_si512(p + 192);
    p += 256, n -= 256;
    for (; n >= 256; p += 256, n -= 256) {
        x0 = hebb_fold512(x0, k1k2, _mm512_loadu_si512(p));
        x1 = hebb_fold512(x1, k1k2, _mm512_loadu_si512(p + 64));
        x2 = hebb_fold512(x2, k1k2, _mm512_loadu_si512(p + 128));
        x3 = hebb_fold512(x3, k1k2, _mm512_loadu_si512(p + 192));
    }
    // Folding a 512-bit lane 512 bits ahead is folding each of its 128-bit parts 4·128 bits ahead: k1k2 of the
    // 128-bit method.
    x0 = hebb_fold512(x0, k3k4, x1);
    x0 = hebb_fold512(x0, k3k4, x2);
    x0 = hebb_fold512(x0, k3k4, x3);
    for (; n >= 64; p += 64, n -= 64) x0 = hebb_fold512(x0, k3k4, _mm512_loadu_si512(p));
    const __m128i k128 = _mm_set_epi64x((long long)0x00ccaa009eULL, (long long)0x01751997d0ULL);
    __m128i a = _mm512_extracti32x4_epi32(x0, 0);
    a = hebb_fold128(a, k128, _mm512_extracti32x4_epi32(x0, 1));
    a = hebb_fold128(a, k128, _mm512_extracti32x4_epi32(x0, 2));
    a = hebb_fold128(a, k128, _mm512_extracti32x4_epi32(x0, 3));
    return hebb_reduce128(a);
}

static uint32_t hebb_crc32_vpclmul(uint32_t crc, const uint8_t *p, size_t n) {
    if (n >= 256) {
        size_t blocks = n & ~(size_t)63;
        crc = hebb_crc32_vpclmul_blocks(crc, p, blocks);
        p += blocks, n -= blocks;
    }
    // Fewer than 256 bytes: the 128-bit folding (which leaves < 16 to the table).
    return hebb_crc32_pclmul(crc, p, n);
}

#pragma clang attribute pop
#endif

// MARK: - Dispatch

int hebb_crc32_method_supported(hebb_crc32_method method) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    switch (method) {
    case HEBB_CRC32_VPCLMUL:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("vpclmulqdq") && __builtin_cpu_supports("pclmul") &&
               __builtin_cpu_supports("sse4.1");
    case HEBB_CRC32_PCLMUL: return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
    default: return 1;
    }
#else
    return method == HEBB_CRC32_TABLE;
#endif
}

// The best method this CPU has, by instruction set tier; -1 until first use. The tiers follow hebb_isa, so that
// forcing the step kernels to a lower set (hebbd bench, tests) lowers the CRC with them.
static _Atomic int hebb_crc_best[3] = {-1, -1, -1};

hebb_crc32_method hebb_crc32_method_in_force(void) {
    const hebb_isa isa = hebb_kernels_isa();
    int method = atomic_load_explicit(&hebb_crc_best[isa], memory_order_relaxed);
    if (method >= 0) return (hebb_crc32_method)method;
    method = isa == HEBB_ISA_BASELINE                         ? HEBB_CRC32_TABLE
             : isa == HEBB_ISA_AVX512 && hebb_crc32_method_supported(HEBB_CRC32_VPCLMUL) ? HEBB_CRC32_VPCLMUL
             : hebb_crc32_method_supported(HEBB_CRC32_PCLMUL)                          ? HEBB_CRC32_PCLMUL
                                                                                       : HEBB_CRC32_TABLE;
    atomic_store_explicit(&hebb_crc_best[isa], method, memory_order_relaxed);
    return (hebb_crc32_method)method;
}

uint32_t hebb_crc32_update_using(hebb_crc32_method method, uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    if (n == 0) return crc;
    if (!hebb_crc32_method_supported(method)) method = HEBB_CRC32_TABLE;
    switch (method) {
#if defined(__x86_64__)
    case HEBB_CRC32_VPCLMUL: return hebb_crc32_vpclmul(crc, p, n);
    case HEBB_CRC32_PCLMUL: return hebb_crc32_pclmul(crc, p, n);
#endif
    default: return hebb_crc32_table(crc, p, n);
    }
}

uint32_t hebb_crc32_update(uint32_t crc, const void *data, size_t n) {
    const uint8_t *p = data;
    if (n == 0) return crc;
    switch (hebb_crc32_method_in_force()) {
#if defined(__x86_64__)
    case HEBB_CRC32_VPCLMUL: return hebb_crc32_vpclmul(crc, p, n);
    case HEBB_CRC32_PCLMUL: return hebb_crc32_pclmul(crc, p, n);
#endif
    default: return hebb_crc32_table(crc, p, n);
    }
}
