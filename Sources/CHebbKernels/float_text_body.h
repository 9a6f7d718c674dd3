// The float formatter's body, compiled once per instruction set by float_text.c, which defines FT_SUFFIX (the same
// include-once-per-set technique as kernel_body.h). Eight values at a time, one per 64-bit lane of a vector
// (clang's vector extension: one zmm register with AVX-512, two ymm with AVX2, four xmm otherwise); the algorithm
// and the layout rules are described at the top of float_text.c.
#define FT_CAT2(a, b) a##_##b
#define FT_CAT(a, b) FT_CAT2(a, b)
#define FN(name) FT_CAT(name, FT_SUFFIX)

// ⌊g·cp / 2⁶⁴⌋ with its lowest bit set when the discarded fraction is not zero (rounding to odd), from g's halves
// and cp < 2³² (two 32 × 32-bit products per lane). The upper half of the discarded 64 bits decides it: g
// over-estimates 10⁻ᵏ·2⁶⁴⁻ʳ by less than 1, so the product's error is below cp < 2³², never reaching bit 33 of the
// fraction.
static inline __attribute__((always_inline)) ft_v FN(ft_round_to_odd)(ft_v g_lo, ft_v g_hi, ft_v cp) {
    ft_v a = g_lo * cp, b = g_hi * cp;
    ft_v sum = b + (a >> 32);
    return sum >> 32 | (FT_GT(sum & 0xFFFFFFFF, 1) & 1);
}

// table[index] per lane: a gather where the set has one (the lanes' own loads otherwise).
static inline __attribute__((always_inline)) ft_v FN(ft_gather)(const uint64_t *table, ft_v index) {
#if FT_GATHER == 2
    return (ft_v)_mm512_i64gather_epi64((__m512i)index, (const void *)table, 8);
#elif FT_GATHER == 1
    __m256i low = (__m256i)__builtin_shufflevector(index, index, 0, 1, 2, 3);
    __m256i high = (__m256i)__builtin_shufflevector(index, index, 4, 5, 6, 7);
    typedef uint64_t half __attribute__((vector_size(32)));
    half a = (half)_mm256_i64gather_epi64((const long long *)table, low, 8);
    half b = (half)_mm256_i64gather_epi64((const long long *)table, high, 8);
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7);
#else
    ft_v out;
    for (int lane = 0; lane < 8; lane++) out[lane] = table[index[lane]];
    return out;
#endif
}

// Formats the eight values of `raw` (float32 bit patterns) into lanes: bytes 0–7 of each text in *text_lo, bytes
// 8–15 in *text_hi (first byte lowest), the byte count in *length.
static inline __attribute__((always_inline)) void FN(ft_block)(const uint32_t *raw, ft_v *text_lo, ft_v *text_hi,
                                                            ft_v *length) {
    ft_u32x8 packed;
    __builtin_memcpy(&packed, raw, sizeof packed);
    ft_v bits = __builtin_convertvector(packed, ft_v);
    ft_v negative = bits >> 31;                       // 0 or 1
    ft_v magnitude = bits & 0x7FFFFFFF;
    ft_v exponent_field = magnitude >> 23, fraction = magnitude & 0x7FFFFF;

    // --- Digits (Schubfach). The value is c·2^q; qb = q + 150 (≥ 1) keeps every quantity below non-negative, so
    // that shifts are logical and products are 32 × 32-bit ones (one instruction per lane pair even without AVX-512).
    ft_v normal = FT_NE(exponent_field, 0);
    ft_v c = FT_SEL(normal, fraction | 0x800000, fraction);
    ft_v qb = FT_SEL(normal, exponent_field, FT_SPLAT(1));
    // An odd c reads back from neither end of its interval (round half to even), an even c from both.
    ft_v odd = c & 1;
    // At a power of two the float below is half as far away as the one above (except at the smallest normal, whose
    // neighbour below is a subnormal at the same spacing).
    ft_v lower_closer = FT_EQ(fraction, 0) & FT_GT(exponent_field, 1);
    ft_v cb = c << 2, cbr = cb + 2, cbl = cb - 2 + (lower_closer & 1);
    // kb = k + 64 with k = ⌊log₁₀ 2^q⌋, or ⌊log₁₀ (¾·2^q)⌋ for the asymmetric interval: ⌊(q·1262611 − 524031·[lower
    // closer]) / 2²²⌋, computed as ⌊(qb·1262611 − 150·1262611 + 64·2²² − …) / 2²²⌋ (79043806 = 64·2²² − 150·1262611).
    ft_v kb = (qb * 1262611 + 79043806 - (lower_closer & 524031)) >> 22;
    // h = q + ⌊−k·log₂10⌋ + 1 shifts the product so that the scaled points keep 2 bits below the units of 10^k:
    // ⌊(64 − kb)·1741647 / 2¹⁹⌋ = ((178574272 − kb·1741647) >> 19) − 128 (178574272 = 64·1741647 + 128·2¹⁹).
    ft_v h = qb + ((178574272 - kb * 1741647) >> 19) - 277;
    // 10⁻ᵏ, index 31 − k = 95 − kb; the table is small and stays in L1. Every lane goes through every step, zeros,
    // infinities, NaNs and a partial block's padding included: their fields give kb in 19…95 and digits below 10⁹
    // like any float's, so both tables' indices stay in range.
    ft_v g = FN(ft_gather)(hebb_float_text_powers_of_ten, 95 - kb);
    ft_v g_lo = g & 0xFFFFFFFF, g_hi = g >> 32;
    ft_v vbl = FN(ft_round_to_odd)(g_lo, g_hi, (cbl << h) & 0xFFFFFFFF);
    ft_v vb = FN(ft_round_to_odd)(g_lo, g_hi, (cb << h) & 0xFFFFFFFF);
    ft_v vbr = FN(ft_round_to_odd)(g_lo, g_hi, (cbr << h) & 0xFFFFFFFF);
    ft_v lower = vbl + odd, upper = vbr - odd;
    ft_v s = vb >> 2;
    // One digit fewer: at most one multiple of 10·10^k lies in the interval (none when s < 10, as sp = 0).
    ft_v sp = (s * 0xCCCCCCCD) >> 35;   // ⌊s/10⌋ for s < 2³²
    ft_v up_inside = FT_LE(lower, sp * 40), wp_inside = FT_LE(sp * 40 + 40, upper);
    ft_v shorter = (up_inside ^ wp_inside) & FT_GE(s, 10);
    // Else s·10^k and (s+1)·10^k bracket the value, at least one inside the interval: the one inside, or the closer
    // one when both are, the even one on a tie.
    ft_v u_inside = FT_LE(lower, s * 4), w_inside = FT_LE(s * 4 + 4, upper);
    ft_v middle = s * 4 + 2;
    ft_v round_up = FT_GT(vb, middle) | (FT_EQ(vb, middle) & (0 - (s & 1)));
    ft_v bracketing = s + (w_inside & (~u_inside | round_up) & 1);
    ft_v digits = FT_SEL(shorter, sp + (wp_inside & 1), bracketing);
    ft_v exponent10 = kb - 64 + (shorter & 1);   // signed, in two's complement

    // --- Text. Nine digits, left-aligned (the padding is zeros); the value is 0.d₁…d₉ × 10^point.
    // The digit count n from the bit length: ⌊log₂ digits⌋ is the exponent of digits as a double (exact: digits < 2³⁰,
    // written into the significand of 2⁵², minus 2⁵²), and numbers of one bit length have one of two digit counts.
    // The table gives the larger, m, and 10^(9 − m); when the product is under 10⁸ the count was m − 1.
    ft_v as_double = (ft_v)((ft_d)((digits | 1) | 0x4330000000000000ULL) - 4503599627370496.0);
    ft_v by_length = FN(ft_gather)(ft_digits_by_bit_length, (as_double >> 52) - 1023);
    ft_v wide = (digits & 0xFFFFFFFF) * (by_length & 0xFFFFFFFF);
    ft_v short_by_one = FT_LT(wide, 100000000);
    ft_v nine = FT_SEL(short_by_one, wide * 10, wide);
    ft_v count = (by_length >> 32) + short_by_one;     // (the mask is −1)
    ft_v point = exponent10 + count;
    ft_v first = (nine * 1441151881) >> 57;            // ⌊x/10⁸⌋ for x < 10⁹
    ft_v rest = nine - first * 100000000;              // d₂…d₉ as a number
    // d₂…d₉ as numbers 0…9, one per byte, d₂ in the lowest: halved into 4-digit lanes, then 2-digit, then 1-digit
    // ones, each step a multiply-shift per lane (⌊x/10⁴⌋ = ⌊x·109951163/2⁴⁰⌋ for x < 10⁸, ⌊x/100⌋ = ⌊x·10486/2²⁰⌋
    // for x < 10⁴, ⌊x/10⌋ = ⌊x·103/2¹⁰⌋ for x < 100).
    ft_v high = (rest * 109951163) >> 40;
    ft_v fours = high | (rest - high * 10000) << 32;
    ft_v hundreds = ((fours * 10486) >> 20) & 0x0000007F0000007FULL;
    ft_v twos = hundreds | (fours - hundreds * 100) << 16;
    ft_v tens = ((twos * 103) >> 10) & 0x000F000F000F000FULL;
    ft_v bcd = tens | (twos - tens * 10) << 8;
    // Significant digits: the zeros at the end are zero bytes at the top of bcd. Bit 7 of each nonzero byte (a byte
    // is at most 9, so adding 0x7F carries into no other byte), moved to bit 8j + 1 for byte j with bit 0 set, as a
    // double: its exponent is 8j + 1 for the highest nonzero byte j (d_{j+2}), 0 when there is none (sparse bits
    // round to no other power of two).
    ft_v nonzero = (((bcd + 0x7F7F7F7F7F7F7F7FULL) & 0x8080808080808080ULL) >> 6) | 1;
    ft_v highest = ((ft_v)__builtin_convertvector(nonzero, ft_d) >> 52) - 1023;
    ft_v significant = ((highest + 7) >> 3) + 1;
    ft_v lo = (first + 0x30) | (bcd | 0x3030303030303030ULL) << 8;   // d₁…d₈
    ft_v hi = (bcd >> 56) | 0x30;                                     // d₉

    // --- Layout. Exponential (d₁[.d₂…dₙ]e±XX), 0.000ddd (point ≤ 0: the digits after point + 1 zeros and a `.`
    // after the first zero), or ddd.ddd / ddd000.0 (the padding zeros fill the integer's digits, then `.0`): the
    // digits, shifted by `zeros` bytes of '0', with a `.` inserted after `dot` bytes, cut at `cut` bytes and followed by
    // e±XX when exponential.
    ft_v exponential = FT_LT(point, -3) | FT_GT(magnitude, 0x4B800000);
    ft_v fraction_only = ~exponential & FT_LE(point, 0);
    ft_v zeros = fraction_only & (1 - point);                  // 1…4
    ft_v dot = FT_SEL(exponential | fraction_only, FT_SPLAT(1), point);   // 1…8
    ft_v zb = zeros * 8;
    // (lo >> 1 >> (63 − zb) is lo >> (64 − zb), also for zb = 0: the top bit of an ASCII byte is 0.)
    ft_v xlo = lo << zb | (0x30303030 & ((FT_SPLAT(1) << zb) - 1)), xhi = hi << zb | (lo >> 1) >> (63 - zb);
    ft_v db = dot * 8;
    ft_v below = FT_SPLAT(~0ULL) >> (64 - db);
    // ('.' << db, written ('.' << (db − 1)) << 1 so that db = 64 gives 0: '.' is even.)
    ft_v ylo = (xlo & below) | ((FT_SPLAT('.') << (db - 1)) << 1) | (xlo & ~below) << 8;
    ft_v yhi = xhi << 8 | FT_SEL(FT_EQ(dot, 8), FT_SPLAT('.'), xlo >> 56);
    ft_v exponential_cut = significant + 1 + FT_EQ(significant, 1);                 // no point after one digit
    ft_v decimal_cut = FT_SEL(FT_GT(significant, point), significant + 1, point + 2);
    ft_v cut = FT_SEL(exponential, exponential_cut, FT_SEL(fraction_only, zeros + 1 + significant, decimal_cut));
    // e±XX, for the exponent of d₁.
    ft_v power = point - 1;
    ft_v power_negative = FT_LT(power, 0);
    ft_v power_magnitude = FT_SEL(power_negative, 0 - power, power);
    ft_v power_tens = (power_magnitude * 103) >> 10;
    ft_v suffix = exponential & (0x65 | FT_SEL(power_negative, FT_SPLAT(0x2D00), FT_SPLAT(0x2B00)) |
                                 (0x30 + power_tens) << 16 | (0x30 + power_magnitude - power_tens * 10) << 24);
    // The text up to `cut` (1…14 bytes), then the suffix.
    ft_v cb8 = cut * 8, in_lo = FT_LT(cut, 8);
    ft_v keep_lo = FT_SEL(in_lo, (FT_SPLAT(1) << (cb8 & 63)) - 1, FT_SPLAT(~0ULL));
    ft_v keep_hi = FT_SEL(in_lo, FT_SPLAT(0), (FT_SPLAT(1) << (cb8 & 63)) - 1);
    ft_v zlo = (ylo & keep_lo) | (in_lo & (suffix << (cb8 & 63)));
    ft_v zhi = (yhi & keep_hi) | FT_SEL(in_lo, suffix >> ((64 - cb8) & 63), suffix << (cb8 & 63));
    ft_v total = cut + (exponential & 4);

    // --- Zeros ("0.0"), the sign, and non-finite values ("null", JSON's stand-in).
    ft_v zero = FT_EQ(magnitude, 0);
    zlo = FT_SEL(zero, FT_SPLAT(0x302E30), zlo);
    zhi = zhi & ~zero;
    total = FT_SEL(zero, FT_SPLAT(3), total);
    ft_v nonfinite = FT_EQ(exponent_field, 255);
    ft_v minus = (0 - negative) & ~nonfinite;
    *text_lo = FT_SEL(nonfinite, FT_SPLAT(0x6C6C756E), FT_SEL(minus, zlo << 8 | '-', zlo));
    *text_hi = FT_SEL(minus, zhi << 8 | zlo >> 56, zhi);
    *length = FT_SEL(nonfinite, FT_SPLAT(4), total + (minus & 1));
}

static size_t FN(ft_list)(const float *values, ptrdiff_t n, uint8_t *out) {
    uint8_t *start = out;
    for (ptrdiff_t i = 0; i < n; i += 8) {
        ptrdiff_t block = n - i < 8 ? n - i : 8;
        ft_v lo, hi, length;
        if (block == 8) {
            FN(ft_block)((const uint32_t *)(const void *)(values + i), &lo, &hi, &length);
        } else {
            // The last, partial block: padded with zeros (a copy of variable size, through memory).
            uint32_t raw[8] = {0};
            __builtin_memcpy(raw, values + i, (size_t)block * 4);
            FN(ft_block)(raw, &lo, &hi, &length);
        }
        // Each text's 16 bytes together, then stored at its place: one 16-byte load and store per value.
        ft_v first_four = __builtin_shufflevector(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11);
        ft_v last_four = __builtin_shufflevector(lo, hi, 4, 12, 5, 13, 6, 14, 7, 15);
        uint8_t texts[128];
        uint64_t lengths[8];
        __builtin_memcpy(texts, &first_four, 64);
        __builtin_memcpy(texts + 64, &last_four, 64);
        __builtin_memcpy(lengths, &length, 64);
        for (ptrdiff_t lane = 0; lane < block; lane++) {
            __builtin_memcpy(out, texts + 16 * lane, 16);
            out += lengths[lane];
            *out++ = ',';
        }
    }
    return n > 0 ? (size_t)(out - start) - 1 : 0;
}

#undef FN
#undef FT_CAT
#undef FT_CAT2
#undef FT_SUFFIX
#undef FT_GATHER
