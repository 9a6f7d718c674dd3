import CHebbKernels

/// CRC-32 as in IEEE 802.3 / zlib / PNG (reflected polynomial 0xEDB88320, initial value and final
/// XOR 0xFFFFFFFF), so `python3 -c "import zlib; print(zlib.crc32(data))"` checks a checkpoint or a
/// journal record.
///
/// Computed by `hebb_crc32_update` in `CHebbKernels` (crc32.c): carry-less multiplication folding
/// (VPCLMULQDQ or PCLMULQDQ) where the CPU has it, slicing-by-8 tables otherwise. Every ingest message
/// is checksummed once as it is journaled and checkpoints of a few MB on every write and read; the
/// folding runs at memory speed where Swift tables managed ~1.3 GB/s (Benchmarks/README.md, "The
/// journal's cost"). Written here rather than taken from zlib to add no dependency.
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
        register = hebb_crc32_update(register, bytes.baseAddress, bytes.count)
    }
}
