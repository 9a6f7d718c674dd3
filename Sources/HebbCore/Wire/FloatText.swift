import CHebbKernels

/// Float32 → the shortest text that parses back to the identical value, byte for byte what `Float.description`
/// gives (`0.05`, `1e-05`, `-1.5e-07`, `16777216.0`, `3.4028235e+38`, `-0.0`), written into a caller's buffer
/// without allocating. The publish path's hot loop in JSON format: ``writeList(_:count:to:)`` formats a matrix row.
///
/// The formatter is C (Sources/CHebbKernels/float_text.c: Schubfach digits in SwiftDtoa's layout, eight values at a
/// time in vector lanes, for the instruction set the step kernels run with); this is its Swift face. Measured with
/// `sh Benchmarks/float_text.sh` against the runtime's `swift_float32ToString` (~30 ns per value here) and in
/// docs/ARCHITECTURE.md §8: 8.7 ns per value in rows with AVX-512, where the same algorithm one value at a time in
/// Swift took 23.6. FloatTextTests compares every exponent, every subnormal boundary and a million random bit
/// patterns with `Float.description` (rows on every instruction set), and all 2³² patterns with `HEBBD_LONG_TESTS=1`.
package enum FloatText {
    /// Bytes ``write(_:to:)`` may write (scratch included; the text itself is at most ``longestText``).
    package static let maximumLength = Int(HEBB_FLOAT_TEXT_MAXIMUM)
    /// The longest text of a float32 (`-1.00308845e-36`: sign, 9 significant digits — a float32 may need 9 —, the
    /// point, `e-36`); FloatTextTests checks every text it compares against this bound.
    package static let longestText = Int(HEBB_FLOAT_TEXT_LONGEST)

    /// Writes `value` (finite) at `buffer`, which has room for ``maximumLength`` bytes; returns the byte count. One
    /// value costs a block of eight (~80 ns): rows go through ``writeList(_:count:to:)``.
    @inline(__always)
    package static func write(_ value: Float, to buffer: UnsafeMutablePointer<UInt8>) -> Int {
        Int(hebb_float_text(value, buffer))
    }

    /// Bytes ``writeList(_:count:to:)`` may write for `count` values (texts, commas and scratch).
    package static func listCapacity(_ count: Int) -> Int { count * (longestText + 1) + 16 }

    /// Writes `count` values at `values` at `buffer`, separated by commas: finite ones as ``write(_:to:)`` does, the
    /// rest as `null` (JSON has no NaN or infinity). `buffer` has room for ``listCapacity(_:)`` bytes; returns the
    /// byte count (no comma after the last value).
    @inline(__always)
    package static func writeList(_ values: UnsafePointer<Float>, count: Int, to buffer: UnsafeMutablePointer<UInt8>) -> Int {
        Int(hebb_float_text_list(values, count, buffer))
    }

    /// `value` as text (tests and tools; the publish path writes into its own buffer).
    package static func string(_ value: Float) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumLength) { buffer in
            let count = write(value, to: buffer.baseAddress!)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }

    /// ⌈10^e · 2^(63 − ⌊log₂ 10^e⌋)⌉ for e = −31…45 (index e + 31), the C formatter's table (FloatTextTests
    /// recomputes every entry exactly).
    static var powersOfTen: [UInt64] {
        withUnsafeBytes(of: hebb_float_text_powers_of_ten) { Array($0.bindMemory(to: UInt64.self)) }
    }
}
