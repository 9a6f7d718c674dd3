import CHebbKernels

/// Finiteness of a frame of little-endian floats, checked on the raw bits in one branch-free vectorised pass.
///
/// The scalar loop it replaces (one load, mask, compare and branch per value) was 16–27% of the engine thread at
/// 256×1 (`perf`, Benchmarks/README.md). A float32 is NaN or ±Inf exactly when all 8 exponent bits are set; then,
/// and only then, adding 1 to the exponent field (`(bits & 0x7F80_0000) &+ 0x0080_0000`) carries into bit 31. So
/// the frame is finite exactly when the OR of those sums over all values leaves bit 31 clear: a load, an AND, an
/// ADD and an OR per 16 values, no branch to mispredict, reading ZeroMQ's frame where it lies (no alignment is
/// assumed). Only a frame that fails is scanned again, value by value, to name the first bad index.
/// (`pointwiseMax` did the same job but was not inlined: 10% of the engine thread on its own.)
package enum FiniteCheck {
    private static let exponent32: UInt32 = 0x7F80_0000
    private static let exponentOne32: UInt32 = 0x0080_0000

    /// The index of the first NaN or ±Inf float32 in `bytes` (little-endian), nil when all are finite.
    package static func firstNonFinite32(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count / 4
        guard count > 0, let base = bytes.baseAddress else { return nil }
        #if _endian(little)
        // The common case, all finite, in one pass of the step kernels' check (compiled for the CPU's widest vectors:
        // this module, like all Swift code here, is built for the baseline's 128-bit ones); a frame that is not
        // float-aligned gets the same test here.
        let finite = Int(bitPattern: base) % 4 == 0
            ? hebb_all_finite(base.assumingMemoryBound(to: Float.self), count) != 0
            : allFinite32(base, count: count)
        #else
        let finite = allFinite32(base, count: count)
        #endif
        if finite { return nil }
        for j in 0..<count where UInt32(littleEndian: base.loadUnaligned(fromByteOffset: j * 4, as: UInt32.self)) & exponent32 == exponent32 {
            return j
        }
        return nil
    }

    /// Whether `count` little-endian float32s at `base` (any alignment) are all finite: the branch-free pass above.
    private static func allFinite32(_ base: UnsafeRawPointer, count: Int) -> Bool {
        let mask = SIMD16<UInt32>(repeating: exponent32), one = SIMD16<UInt32>(repeating: exponentOne32)
        var carries = SIMD16<UInt32>(repeating: 0)
        var i = 0
        #if _endian(little)
        while i + 16 <= count {
            carries |= (base.loadUnaligned(fromByteOffset: i * 4, as: SIMD16<UInt32>.self) & mask) &+ one
            i += 16
        }
        #endif
        var all: UInt32 = 0
        while i < count {
            all |= (UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)) & exponent32) &+ exponentOne32
            i += 1
        }
        for lane in 0..<16 { all |= carries[lane] }
        return all & 0x8000_0000 == 0
    }

    /// The index of the first float64 in `bytes` (little-endian) that is NaN, ±Inf, or finite but beyond float32's
    /// range once rounded (it would become ±Inf in the model's float32 storage); nil when all convert finitely.
    package static func firstNonFinite64(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count / 8
        guard count > 0, let base = bytes.baseAddress else { return nil }
        // Rounded to float32, |x| stays finite exactly when it converts to at most Float.greatestFiniteMagnitude;
        // accumulating the largest converted magnitude (NaN poisons it through the comparison below) keeps the
        // loop free of branches.
        var bad = false
        for i in 0..<count {
            let value = Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            bad = bad || !Float(value).isFinite
        }
        guard bad else { return nil }
        for j in 0..<count {
            let value = Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: j * 8, as: UInt64.self)))
            if !Float(value).isFinite { return j }
        }
        return nil
    }
}
