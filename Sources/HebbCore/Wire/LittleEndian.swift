/// The little-endian integer fields of hebbd's binary formats (checkpoint files, journal records, reliable ingest
/// frames): one set of helpers for writing and reading them, unaligned.
extension Array where Element == UInt8 {
    /// Appends `value` as `T.bitWidth / 8` little-endian bytes.
    package mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    /// Overwrites the bytes at `offset` with `value`, little-endian (a length or CRC filled in after the body).
    package mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { raw in
            for (i, b) in raw.enumerated() { self[offset + i] = b }
        }
    }

    /// The little-endian `T` at `offset` (the caller has checked the bounds).
    package func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        withUnsafeBytes { $0.loadLittleEndian(T.self, at: offset) }
    }
}

extension UnsafeRawBufferPointer {
    /// The little-endian `T` at `offset`, unaligned (the caller has checked the bounds).
    package func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
