import CHebbKernels

/// Finiteness of a frame of little-endian floats.
///
/// Float32 frames are tested by the step kernels' one bit trick (`hebb_all_finite`, compiled for the CPU's widest
/// vectors; how it works is written beside it in CHebbKernels): the scalar loop it replaced was 16–27% of the engine
/// thread at 256×1 (`perf`, Benchmarks/README.md). On the ingest path a float32 frame is not even given a pass of its
/// own: it is tested as it is copied into the batch buffer (`hebb_copy_finite`), or by the step that learns from it in
/// place (``ModelRunner/ingest(_:onUpdate:)``); this type finds the index of the first bad value for the rejection's
/// text once a frame failed, and checks the frames of the other paths.
package enum FiniteCheck {
    private static let exponent32: UInt32 = 0x7F80_0000

    /// The index of the first NaN or ±Inf float32 in `bytes` (little-endian, any alignment), nil when all are finite.
    package static func firstNonFinite32(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count / 4
        guard count > 0, let base = bytes.baseAddress else { return nil }
        #if _endian(little)
        // The common case, all finite, in one vectorised pass.
        if hebb_all_finite(base, count) != 0 { return nil }
        #endif
        // A frame that failed, value by value for the first bad index (and a big-endian host's only check).
        for j in 0..<count where UInt32(littleEndian: base.loadUnaligned(fromByteOffset: j * 4, as: UInt32.self)) & exponent32 == exponent32 {
            return j
        }
        return nil
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
