// Float32 → the shortest text that reads back as the same value, byte for byte `Float.description` (the publish
// path's JSON numbers; FloatText.swift is its Swift face). docs/ARCHITECTURE.md §8 records why it is C: measured
// against the same algorithm in Swift (Benchmarks/float_text.sh).
//
// Digits: Schubfach (R. Giulietti, "The Schubfach way to render doubles", 2020), the float32 form. A value c·2^q has
// a rounding interval R (the reals that read back as it: half an ulp either side, ends included when c is even); the
// digits are the shortest decimal in R and, among the equally short ones, the one closest to c·2^q (ties to an even
// last digit). With k = ⌊log₁₀ of the interval's spacing⌋, the three points u, v, w (R's ends and the value, scaled
// by 4) are multiplied by 10⁻ᵏ once each — a 64 × 32-bit product with a 64-bit over-estimate of 10⁻ᵏ rounded to odd,
// which the paper proves exact enough to decide every comparison below — and then at most two candidates of each
// length are compared with R. No loop, no division by a variable.
//
// Text: SwiftDtoa's layout (the standard library's formatter behind `Float.description`): decimal notation when the
// value is at most 2²⁴ and its first digit is at most 10⁻⁴ from the point (`0.0001`, `16777216.0`, with `.0` after an
// integer), else exponential with a two-digit signed exponent and no `.0` after one digit (`9.999999e-05`, `1e+08`).
//
// Vectorised: eight values at a time, one per 64-bit lane, every step the same instructions for every lane — no
// branch, no loop but the one over blocks. Each value's text (at most 15 bytes) is built in two 64-bit lanes (the
// digits as ASCII by multiply-shift steps, the point inserted, the zeros and the exponent shifted and masked in),
// then stored 16 bytes wide at its place in the output. Which layout a value takes depends on its magnitude and
// digit count, which branch prediction cannot guess (a coefficient is as likely to print as `0.0123` as `1.234`): one
// value at a time, with branches, cost ~24 ns per value here; scalar and branch-free in C, ~28 (the work is
// instructions, not latency). The body (float_text_body.h) is compiled for AVX-512, AVX2 and the baseline, chosen
// with the step kernels' instruction set (hebb_kernels_isa), so tests can run each.
#include "CHebbKernels.h"

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

// The body passes 64-byte vectors only to inlined static helpers: no ABI is crossed.
#pragma clang diagnostic ignored "-Wpsabi"

// ⌈10^e · 2^(63 − ⌊log₂ 10^e⌋)⌉ for e = −31…45 (index e + 31): 10^e as a 64-bit significand with its top bit set,
// rounded up. FloatTextTests recomputes every entry exactly.
const uint64_t hebb_float_text_powers_of_ten[HEBB_FLOAT_TEXT_POWERS] = {
    0x81CEB32C4B43FCF5, 0xA2425FF75E14FC32, 0xCAD2F7F5359A3B3F, 0xFD87B5F28300CA0E, 0x9E74D1B791E07E49,
    0xC612062576589DDB, 0xF79687AED3EEC552, 0x9ABE14CD44753B53, 0xC16D9A0095928A28, 0xF1C90080BAF72CB2,
    0x971DA05074DA7BEF, 0xBCE5086492111AEB, 0xEC1E4A7DB69561A6, 0x9392EE8E921D5D08, 0xB877AA3236A4B44A,
    0xE69594BEC44DE15C, 0x901D7CF73AB0ACDA, 0xB424DC35095CD810, 0xE12E13424BB40E14, 0x8CBCCC096F5088CC,
    0xAFEBFF0BCB24AAFF, 0xDBE6FECEBDEDD5BF, 0x89705F4136B4A598, 0xABCC77118461CEFD, 0xD6BF94D5E57A42BD,
    0x8637BD05AF6C69B6, 0xA7C5AC471B478424, 0xD1B71758E219652C, 0x83126E978D4FDF3C, 0xA3D70A3D70A3D70B,
    0xCCCCCCCCCCCCCCCD, 0x8000000000000000, 0xA000000000000000, 0xC800000000000000, 0xFA00000000000000,
    0x9C40000000000000, 0xC350000000000000, 0xF424000000000000, 0x9896800000000000, 0xBEBC200000000000,
    0xEE6B280000000000, 0x9502F90000000000, 0xBA43B74000000000, 0xE8D4A51000000000, 0x9184E72A00000000,
    0xB5E620F480000000, 0xE35FA931A0000000, 0x8E1BC9BF04000000, 0xB1A2BC2EC5000000, 0xDE0B6B3A76400000,
    0x8AC7230489E80000, 0xAD78EBC5AC620000, 0xD8D726B7177A8000, 0x878678326EAC9000, 0xA968163F0A57B400,
    0xD3C21BCECCEDA100, 0x84595161401484A0, 0xA56FA5B99019A5C8, 0xCECB8F27F4200F3A, 0x813F3978F8940985,
    0xA18F07D736B90BE6, 0xC9F2C9CD04674EDF, 0xFC6F7C4045812297, 0x9DC5ADA82B70B59E, 0xC5371912364CE306,
    0xF684DF56C3E01BC7, 0x9A130B963A6C115D, 0xC097CE7BC90715B4, 0xF0BDC21ABB48DB21, 0x96769950B50D88F5,
    0xBC143FA4E250EB32, 0xEB194F8E1AE525FE, 0x92EFD1B8D0CF37BF, 0xB7ABC627050305AE, 0xE596B7B0C643C71A,
    0x8F7E32CE7BEA5C70, 0xB35DBF821AE4F38C,
};

// By ⌊log₂ x⌋ = 0…29 (x < 10⁹): the most decimal digits m a number of that bit length has (at most 9), in the upper
// half, and 10^(9 − m), the multiplier that left-aligns an m-digit number to nine digits, in the lower.
static const uint64_t ft_digits_by_bit_length[30] = {
    0x105F5E100, 0x105F5E100, 0x105F5E100, 0x200989680, 0x200989680,
    0x200989680, 0x3000F4240, 0x3000F4240, 0x3000F4240, 0x4000186A0,
    0x4000186A0, 0x4000186A0, 0x4000186A0, 0x500002710, 0x500002710,
    0x500002710, 0x6000003E8, 0x6000003E8, 0x6000003E8, 0x700000064,
    0x700000064, 0x700000064, 0x700000064, 0x80000000A, 0x80000000A,
    0x80000000A, 0x900000001, 0x900000001, 0x900000001, 0x900000001,
};

typedef uint64_t ft_v __attribute__((vector_size(64)));   // eight lanes
typedef int64_t ft_s __attribute__((vector_size(64)));
typedef uint32_t ft_u32x8 __attribute__((vector_size(32)));
typedef double ft_d __attribute__((vector_size(64)));
#define FT_SPLAT(x) ((ft_v){0} + (uint64_t)(x))
// Comparisons give all-ones or zero per lane. Every compared quantity is below 2⁶³ (or a small negative number in
// two's complement where the comparison is meant signed), so a signed comparison serves: AVX2 has no unsigned one.
#define FT_AS_S(x) ((ft_s)((ft_v){0} + (x)))
#define FT_LT(a, b) ((ft_v)(FT_AS_S(a) < FT_AS_S(b)))
#define FT_LE(a, b) ((ft_v)(FT_AS_S(a) <= FT_AS_S(b)))
#define FT_GT(a, b) ((ft_v)(FT_AS_S(a) > FT_AS_S(b)))
#define FT_GE(a, b) ((ft_v)(FT_AS_S(a) >= FT_AS_S(b)))
#define FT_EQ(a, b) ((ft_v)(FT_AS_S(a) == FT_AS_S(b)))
#define FT_NE(a, b) ((ft_v)(FT_AS_S(a) != FT_AS_S(b)))
#define FT_SEL(mask, a, b) (((a) & (mask)) | ((b) & ~(mask)))

#if defined(__x86_64__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma"))), apply_to = function)
#define FT_SUFFIX avx512
#define FT_GATHER 2
#include "float_text_body.h"
#pragma clang attribute pop

#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#define FT_SUFFIX avx2
#define FT_GATHER 1
#include "float_text_body.h"
#pragma clang attribute pop
#endif

#define FT_SUFFIX baseline
#define FT_GATHER 0
#include "float_text_body.h"

size_t hebb_float_text_list_isa(hebb_isa isa, const float *values, ptrdiff_t n, uint8_t *out) {
#if defined(__x86_64__)
    if (isa == HEBB_ISA_AVX512 && hebb_isa_supported(isa)) return ft_list_avx512(values, n, out);
    if (isa == HEBB_ISA_AVX2 && hebb_isa_supported(isa)) return ft_list_avx2(values, n, out);
#endif
    (void)isa;
    return ft_list_baseline(values, n, out);
}

size_t hebb_float_text_list(const float *values, ptrdiff_t n, uint8_t *out) {
#if defined(__x86_64__)
    // (The instruction set in force is one this CPU has: no second check.)
    switch (hebb_kernels_isa()) {
    case HEBB_ISA_AVX512: return ft_list_avx512(values, n, out);
    case HEBB_ISA_AVX2: return ft_list_avx2(values, n, out);
    default: break;
    }
#endif
    return ft_list_baseline(values, n, out);
}

size_t hebb_float_text(float value, uint8_t *out) { return hebb_float_text_list(&value, 1, out); }
