/// The Swift runtime's shortest round-trip float32 formatter (SwiftDtoa), the one behind `Float.description`,
/// called into a caller's buffer. `description` wraps the same call in a new String that the JSON writer then
/// copies byte by byte: together they were ~15% of the engine thread at 256×1 with JSON publish (perf), while the
/// digit generation itself is fast. The entry point is exported by libswiftCore and declared exactly as the
/// standard library declares it for its own use; it writes at most 32 bytes and returns how many it wrote.
///
/// Since Swift 6.2 this entry point wraps the Swift port of SwiftDtoa (`_Float32ToASCII`), which writes only the
/// significant digits and leaves the zeros of the padding (`0.05`, `1.0`) to a buffer that must already hold
/// ASCII '0's. Swift 6.3's wrapper omits that fill (later standard libraries fill the buffer themselves first), so
/// ``FloatText/write(_:to:)`` fills it before every call: with the fill the text is byte for byte
/// `Float.description` (FloatTextTests checks a million random bit patterns and every power of two).
@_silgen_name("swift_float32ToString")
private func swiftFloat32ToString(_ buffer: UnsafeMutablePointer<UInt8>, _ bufferLength: UInt, _ value: Float, _ debug: Bool) -> UInt64

/// Float32 → shortest text that parses back to the identical value, byte for byte what `Float.description` gives
/// (`0.05`, `-1.5e-07`, `3.4028235e+38`), without allocating.
package enum FloatText {
    /// Bytes the formatter may write for one value.
    package static let maximumLength = 32

    /// Writes `value` (finite) at `buffer`, which has room for ``maximumLength`` bytes; returns the byte count.
    @inline(__always)
    package static func write(_ value: Float, to buffer: UnsafeMutablePointer<UInt8>) -> Int {
        // ASCII '0' in every byte (see above), as four 8-byte stores.
        let zeros = UnsafeMutableRawPointer(buffer)
        for offset in stride(from: 0, to: maximumLength, by: 8) { zeros.storeBytes(of: 0x3030_3030_3030_3030 as UInt64, toByteOffset: offset, as: UInt64.self) }
        return Int(truncatingIfNeeded: swiftFloat32ToString(buffer, UInt(maximumLength), value, false))
    }

    /// `value` as text (tests and tools; the publish path writes into its own buffer).
    package static func string(_ value: Float) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maximumLength) { buffer in
            let count = write(value, to: buffer.baseAddress!)
            return String(decoding: UnsafeBufferPointer(rebasing: buffer[0..<count]), as: UTF8.self)
        }
    }
}
