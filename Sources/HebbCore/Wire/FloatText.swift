/// Float32 → the shortest text that parses back to the identical value, byte for byte what `Float.description`
/// gives (`0.05`, `1e-05`, `-1.5e-07`, `16777216.0`, `3.4028235e+38`, `-0.0`), written into a caller's buffer
/// without allocating. The publish path's hot loop in JSON format: one call per nonzero coefficient.
///
/// **Digits: Schubfach** (R. Giulietti, "The Schubfach way to render doubles", 2020), the float32 form. A value
/// c·2^q has a rounding interval R (the reals that read back as it: half an ulp either side, ends included when c
/// is even); the digits are the shortest decimal in R and, among the equally short ones, the one closest to c·2^q
/// (ties to an even last digit). With k = ⌊log₁₀ of the interval's spacing⌋, the three points u, v, w (R's ends and
/// the value, scaled by 4) are multiplied by 10⁻ᵏ once each — a 64 × 32-bit product with a 64-bit over-estimate of
/// 10⁻ᵏ (``powersOfTen``) rounded to odd, which the paper proves exact enough to decide every comparison below —
/// and then at most two candidates of each length are compared with R. No loop, no division by a variable.
///
/// **Text: SwiftDtoa's layout** (the standard library's formatter behind `Float.description`): decimal notation
/// when the value is at most 2²⁴ and its first digit is at most 10⁻⁴ from the point (`0.0001`, `16777216.0`,
/// with `.0` after an integer), else exponential with a two-digit signed exponent and no `.0` after one digit
/// (`9.999999e-05`, `1e+08`). The function that formatted before this one — the runtime's `swift_float32ToString`
/// — cost ~45 ns per value here; FloatTextTests compares every exponent, every subnormal boundary and a million
/// random bit patterns with `Float.description`, and all 2³² patterns with `HEBBD_LONG_TESTS=1`.
package enum FloatText {
    /// Bytes the formatter may write for one value (scratch included; the text itself is at most ``longestText``).
    package static let maximumLength = 32
    /// The longest text of a float32 (`-1.00308845e-36`: sign, 9 significant digits — a float32 may need 9 —, the
    /// point, `e-36`); FloatTextTests checks every text it compares against this bound.
    package static let longestText = 15

    /// Writes `value` (finite) at `buffer`, which has room for ``maximumLength`` bytes; returns the byte count.
    @inline(__always)
    package static func write(_ value: Float, to buffer: UnsafeMutablePointer<UInt8>) -> Int {
        let bits = value.bitPattern
        let negative = bits >> 31 != 0
        if negative { buffer[0] = UInt8(ascii: "-") }
        let start = buffer + (negative ? 1 : 0)
        let magnitude = bits & 0x7FFF_FFFF
        if magnitude == 0 {
            start[0] = UInt8(ascii: "0"); start[1] = UInt8(ascii: "."); start[2] = UInt8(ascii: "0")
            return (negative ? 1 : 0) + 3
        }
        let (digits, exponent) = shortestDecimal(exponentField: magnitude >> 23, fraction: magnitude & 0x7F_FFFF)
        return (negative ? 1 : 0) + layOut(digits: digits, exponent: exponent, exceeds2p24: magnitude > 0x4B80_0000, at: start)
    }

    /// `value` as text (tests and tools; the publish path writes into its own buffer).
    package static func string(_ value: Float) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumLength) { buffer in
            let count = write(value, to: buffer.baseAddress!)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }

    // MARK: Digits

    /// The shortest decimal `digits` × 10^`exponent` that reads back as the positive finite float32 with these
    /// fields (see the type's comment). `digits` may end in a zero.
    @inline(__always)
    static func shortestDecimal(exponentField: UInt32, fraction: UInt32) -> (digits: UInt32, exponent: Int32) {
        // The value is c·2^q.
        let c: UInt32, q: Int32
        if exponentField != 0 {
            c = fraction | 0x80_0000
            q = Int32(bitPattern: exponentField) &- 150
        } else {
            c = fraction
            q = -149
        }
        // An odd c reads back from neither end of its interval (round half to even), an even c from both.
        let odd = c & 1
        // At a power of two the float below is half as far away as the one above (except at the smallest
        // normal, whose neighbour below is a subnormal at the same spacing).
        let lowerCloser = fraction == 0 && exponentField > 1
        let cb = c &<< 2, cbr = cb &+ 2, cbl = lowerCloser ? cb &- 1 : cb &- 2
        // k = ⌊log₁₀ 2^q⌋, or ⌊log₁₀ (¾·2^q)⌋ for the asymmetric interval (exact over float32's range).
        let k = (q &* 1_262_611 &- (lowerCloser ? 524_031 : 0)) &>> 22
        // Shifts the product so that the scaled points keep 2 bits below the units of 10^k.
        let h = q &+ (((0 &- k) &* 1_741_647) &>> 19) &+ 1
        let g = powersOfTen.withUnsafeBufferPointer { $0[Int(31 &- k)] }
        let vbl = roundToOdd(g, cbl &<< h), vb = roundToOdd(g, cb &<< h), vbr = roundToOdd(g, cbr &<< h)
        let lower = vbl &+ odd, upper = vbr &- odd
        let s = vb &>> 2
        // One digit fewer: at most one multiple of 10·10^k lies in the interval (none when s < 10, as sp = 0).
        let sp = s / 10
        let upInside = lower <= 40 &* sp, wpInside = 40 &* sp &+ 40 <= upper
        let shorter = upInside != wpInside && s >= 10
        // Else s·10^k and (s+1)·10^k bracket the value, at least one inside the interval: the one inside, or the
        // closer one when both are, the even one on a tie. All candidates are computed and one is selected, without
        // a branch: which one wins depends on the value's last digits, which branch prediction cannot guess.
        let t = s &+ 1
        let uInside = lower <= 4 &* s, wInside = 4 &* t <= upper
        let middle = 4 &* s &+ 2
        let closer = vb > middle || (vb == middle && s & 1 != 0) ? t : s
        let bracketing = uInside != wInside ? (uInside ? s : t) : closer
        return (shorter ? (wpInside ? sp &+ 1 : sp) : bracketing, shorter ? k &+ 1 : k)
    }

    /// ⌊g·cp / 2⁶⁴⌋ with its lowest bit set when the discarded fraction is not zero (rounding to odd). The upper
    /// half of the discarded 64 bits decides it: `g` over-estimates 10⁻ᵏ·2⁶⁴⁻ʳ by less than 1, so the product's
    /// error is below cp < 2³², never reaching bit 33 of the fraction.
    @inline(__always)
    private static func roundToOdd(_ g: UInt64, _ cp: UInt32) -> UInt32 {
        let (high, low) = g.multipliedFullWidth(by: UInt64(cp))
        return UInt32(truncatingIfNeeded: high) | (low &>> 32 > 1 ? 1 : 0)
    }

    /// ⌈10^e · 2^(63 − ⌊log₂ 10^e⌋)⌉ for e = −31…45 (index e + 31): 10^e as a 64-bit significand with its top bit
    /// set, rounded up. FloatTextTests recomputes every entry exactly.
    static let powersOfTen: [UInt64] = [
        0x81CE_B32C_4B43_FCF5, 0xA242_5FF7_5E14_FC32, 0xCAD2_F7F5_359A_3B3F, 0xFD87_B5F2_8300_CA0E,
        0x9E74_D1B7_91E0_7E49, 0xC612_0625_7658_9DDB, 0xF796_87AE_D3EE_C552, 0x9ABE_14CD_4475_3B53,
        0xC16D_9A00_9592_8A28, 0xF1C9_0080_BAF7_2CB2, 0x971D_A050_74DA_7BEF, 0xBCE5_0864_9211_1AEB,
        0xEC1E_4A7D_B695_61A6, 0x9392_EE8E_921D_5D08, 0xB877_AA32_36A4_B44A, 0xE695_94BE_C44D_E15C,
        0x901D_7CF7_3AB0_ACDA, 0xB424_DC35_095C_D810, 0xE12E_1342_4BB4_0E14, 0x8CBC_CC09_6F50_88CC,
        0xAFEB_FF0B_CB24_AAFF, 0xDBE6_FECE_BDED_D5BF, 0x8970_5F41_36B4_A598, 0xABCC_7711_8461_CEFD,
        0xD6BF_94D5_E57A_42BD, 0x8637_BD05_AF6C_69B6, 0xA7C5_AC47_1B47_8424, 0xD1B7_1758_E219_652C,
        0x8312_6E97_8D4F_DF3C, 0xA3D7_0A3D_70A3_D70B, 0xCCCC_CCCC_CCCC_CCCD, 0x8000_0000_0000_0000,
        0xA000_0000_0000_0000, 0xC800_0000_0000_0000, 0xFA00_0000_0000_0000, 0x9C40_0000_0000_0000,
        0xC350_0000_0000_0000, 0xF424_0000_0000_0000, 0x9896_8000_0000_0000, 0xBEBC_2000_0000_0000,
        0xEE6B_2800_0000_0000, 0x9502_F900_0000_0000, 0xBA43_B740_0000_0000, 0xE8D4_A510_0000_0000,
        0x9184_E72A_0000_0000, 0xB5E6_20F4_8000_0000, 0xE35F_A931_A000_0000, 0x8E1B_C9BF_0400_0000,
        0xB1A2_BC2E_C500_0000, 0xDE0B_6B3A_7640_0000, 0x8AC7_2304_89E8_0000, 0xAD78_EBC5_AC62_0000,
        0xD8D7_26B7_177A_8000, 0x8786_7832_6EAC_9000, 0xA968_163F_0A57_B400, 0xD3C2_1BCE_CCED_A100,
        0x8459_5161_4014_84A0, 0xA56F_A5B9_9019_A5C8, 0xCECB_8F27_F420_0F3A, 0x813F_3978_F894_0985,
        0xA18F_07D7_36B9_0BE6, 0xC9F2_C9CD_0467_4EDF, 0xFC6F_7C40_4581_2297, 0x9DC5_ADA8_2B70_B59E,
        0xC537_1912_364C_E306, 0xF684_DF56_C3E0_1BC7, 0x9A13_0B96_3A6C_115D, 0xC097_CE7B_C907_15B4,
        0xF0BD_C21A_BB48_DB21, 0x9676_9950_B50D_88F5, 0xBC14_3FA4_E250_EB32, 0xEB19_4F8E_1AE5_25FE,
        0x92EF_D1B8_D0CF_37BF, 0xB7AB_C627_0503_05AE, 0xE596_B7B0_C643_C71A, 0x8F7E_32CE_7BEA_5C70,
        0xB35D_BF82_1AE4_F38C,
    ]

    // MARK: Text

    /// Writes `digits` × 10^`exponent` (digits > 0) in `Float.description`'s layout; returns the byte count. Stores
    /// are 8 bytes wide and may write past the returned count, never past 18 bytes. The common layouts (`0.0ddd`,
    /// `d.ddd`, `d.ddde-XX`) are written by the same few stores at computed offsets: which of them a value takes
    /// depends on its magnitude and digit count, which branch prediction cannot guess.
    @inline(__always)
    private static func layOut(digits: UInt32, exponent: Int32, exceeds2p24: Bool, at out: UnsafeMutablePointer<UInt8>) -> Int {
        var digits = digits, exponent = Int(exponent)
        while digits % 10 == 0 { digits /= 10; exponent &+= 1 }
        let count = digitCount(digits)
        // The value is 0.d₁…dₙ × 10^point.
        let point = exponent &+ count
        let raw = UnsafeMutableRawPointer(out)
        // The digits as text in two words, first digit in the lowest byte: d₁…d₈ and d₉.
        let high = digits / 100_000_000, low = digits &- high &* 100_000_000
        let eight = eightDigits(low)
        let nine = count == 9
        let word0 = nine ? UInt64(0x30 &+ high) | eight &<< 8 : eight &>> (UInt64(8 &- count) &* 8)
        let word1 = nine ? eight &>> 56 : 0
        if point < -3 || exceeds2p24 {
            // d₁[.d₂…dₙ]e±XX: the digits with a point after the first, then the exponent over the point when n = 1.
            placeDigits(word0, word1, pointAfter: 1, at: raw)
            let length = count == 1 ? 1 : count &+ 1
            let power = point &- 1
            let magnitude = UInt32(truncatingIfNeeded: power < 0 ? 0 &- power : power)
            let sign: UInt32 = power < 0 ? 0x2D00 : 0x2B00   // "-" or "+" in the second byte
            let tens: UInt32 = (0x30 &+ magnitude / 10) &<< 16, units: UInt32 = (0x30 &+ magnitude % 10) &<< 24
            raw.storeBytes(of: (0x65 | sign | tens | units).littleEndian, toByteOffset: length, as: UInt32.self)   // "e" first
            return length &+ 4
        }
        if point < count {
            if point > 0 {
                // ddd.ddd
                placeDigits(word0, word1, pointAfter: point, at: raw)
                return count &+ 1
            }
            // 0.ddd to 0.000ddd: "0.000000", then the digits over the zeros after the first 0 − point of them.
            let zeros = 0 &- point
            raw.storeBytes(of: UInt64(0x3030_3030_3030_2E30).littleEndian, as: UInt64.self)
            raw.storeBytes(of: word0.littleEndian, toByteOffset: 2 &+ zeros, as: UInt64.self)
            raw.storeBytes(of: UInt8(truncatingIfNeeded: word1), toByteOffset: 10 &+ zeros, as: UInt8.self)
            return 2 &+ zeros &+ count
        }
        // ddd000.0 (at most 2²⁴, so at most 8 digits before the point, and n < 9).
        let filled = count < 8 ? word0 | UInt64(0x3030_3030_3030_3030) &<< (UInt64(count) &* 8) : word0
        raw.storeBytes(of: filled.littleEndian, as: UInt64.self)
        raw.storeBytes(of: UInt16(0x302E).littleEndian, toByteOffset: point, as: UInt16.self)   // ".0"
        return point &+ 2
    }

    /// Writes the digits (``layOut``'s two words) with a `.` after the first `pointAfter` (1…8) of them: the words,
    /// the point over the next digit, and the rest shifted by `pointAfter` bytes after it. Bytes past the last digit
    /// (up to offset 17) are garbage.
    @inline(__always)
    private static func placeDigits(_ word0: UInt64, _ word1: UInt64, pointAfter: Int, at raw: UnsafeMutableRawPointer) {
        raw.storeBytes(of: word0.littleEndian, as: UInt64.self)
        raw.storeBytes(of: UInt8(truncatingIfNeeded: word1), toByteOffset: 8, as: UInt8.self)
        raw.storeBytes(of: UInt8(ascii: "."), toByteOffset: pointAfter, as: UInt8.self)
        let shift = UInt64(pointAfter) &* 8
        // (word1:word0) >> shift for shift 8…64; 64 is word1 itself (a 64-bit shift by 64 would be masked to 0).
        let rest = pointAfter == 8 ? word1 : word0 &>> shift | word1 &<< (64 &- shift)
        raw.storeBytes(of: rest.littleEndian, toByteOffset: pointAfter &+ 1, as: UInt64.self)
    }

    /// The eight decimal digits of `value` (< 10⁸, leading zeros included) as ASCII, first digit in the lowest byte:
    /// halved into 4-digit lanes, then 2-digit, then 1-digit ones, each step a multiply-shift per lane (SWAR).
    @inline(__always)
    private static func eightDigits(_ value: UInt32) -> UInt64 {
        let high = value / 10_000
        let fours = UInt64(high) | UInt64(value &- high &* 10_000) &<< 32
        // ⌊x/100⌋ = ⌊x·10486/2²⁰⌋ for x < 10⁴; ⌊x/10⌋ = ⌊x·103/2¹⁰⌋ for x < 100.
        let hundreds = ((fours &* 10486) &>> 20) & 0x0000_007F_0000_007F
        let twos = hundreds | (fours &- hundreds &* 100) &<< 16
        let tens = ((twos &* 103) &>> 10) & 0x000F_000F_000F_000F
        return (tens | (twos &- tens &* 10) &<< 8) | 0x3030_3030_3030_3030
    }

    /// Decimal digits of `value` (1…9 here: the significands Schubfach gives stay below 10⁹), without a branch.
    @inline(__always)
    private static func digitCount(_ value: UInt32) -> Int {
        var count = 1
        count &+= value >= 10 ? 1 : 0
        count &+= value >= 100 ? 1 : 0
        count &+= value >= 1000 ? 1 : 0
        count &+= value >= 10_000 ? 1 : 0
        count &+= value >= 100_000 ? 1 : 0
        count &+= value >= 1_000_000 ? 1 : 0
        count &+= value >= 10_000_000 ? 1 : 0
        count &+= value >= 100_000_000 ? 1 : 0
        return count
    }
}
