/// CRC-32 as in IEEE 802.3 / zlib / PNG (reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF), so `python3 -c "import zlib; print(zlib.crc32(data))"` checks a checkpoint.
///
/// Table-driven, slicing-by-8 (eight 256-entry tables, 8 bytes per iteration): a checkpoint of a
/// 4096×64 Adam model is ~3 MB, and the CRC is computed on every write and every read. Written here
/// rather than taken from zlib to add no dependency.
package struct CRC32: Sendable {
    /// The running (non-finalised) register.
    private var register: UInt32 = 0xFFFF_FFFF

    /// A fresh CRC.
    package init() {}

    /// The CRC of everything fed so far.
    package var value: UInt32 { register ^ 0xFFFF_FFFF }

    /// The CRC of `bytes`.
    package static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc = CRC32()
        crc.update(bytes)
        return crc.value
    }

    /// The CRC of `bytes`.
    package static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }

    /// Feeds more bytes.
    package mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        var crc = register
        var i = 0
        let n = bytes.count
        CRC32.tables.withUnsafeBufferPointer { t in
            while n - i >= 8 {
                let lo = UInt32(base.load(fromByteOffset: i, as: UInt8.self))
                    | UInt32(base.load(fromByteOffset: i + 1, as: UInt8.self)) << 8
                    | UInt32(base.load(fromByteOffset: i + 2, as: UInt8.self)) << 16
                    | UInt32(base.load(fromByteOffset: i + 3, as: UInt8.self)) << 24
                let hi = UInt32(base.load(fromByteOffset: i + 4, as: UInt8.self))
                    | UInt32(base.load(fromByteOffset: i + 5, as: UInt8.self)) << 8
                    | UInt32(base.load(fromByteOffset: i + 6, as: UInt8.self)) << 16
                    | UInt32(base.load(fromByteOffset: i + 7, as: UInt8.self)) << 24
                let a = crc ^ lo
                crc = t[7 * 256 + Int(a & 0xFF)] ^ t[6 * 256 + Int((a >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((a >> 16) & 0xFF)] ^ t[4 * 256 + Int(a >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[1 * 256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                let byte = UInt32(base.load(fromByteOffset: i, as: UInt8.self))
                crc = t[Int((crc ^ byte) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        register = crc
    }

    /// Table k maps a byte to its CRC contribution k bytes further on (table 0 is the classic table).
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for b in 0..<256 {
            var c = UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[b] = c
        }
        for k in 1..<8 {
            for b in 0..<256 {
                let previous = t[(k - 1) * 256 + b]
                t[k * 256 + b] = t[Int(previous & 0xFF)] ^ (previous >> 8)
            }
        }
        return t
    }()
}
