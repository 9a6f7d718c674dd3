import CHebbKernels
import HebbianRegression
import Testing
@testable import HebbCore

/// The CRC-32 of journal records and checkpoints (`CRC32`, over crc32.c): every method this CPU runs — the
/// 512-bit and 128-bit carry-less folding and the slicing-by-8 tables — against zlib's values and against a
/// bit-at-a-time reference, at every length around the folding's block sizes, every misalignment of a 64-byte line,
/// and fed in pieces.
@Suite struct CRC32Tests {
    /// The methods this CPU runs (the tables always).
    static let methods: [hebb_crc32_method] = [HEBB_CRC32_TABLE, HEBB_CRC32_PCLMUL, HEBB_CRC32_VPCLMUL]
        .filter { hebb_crc32_method_supported($0) != 0 }

    /// The definition, one bit at a time: the register after feeding `bytes` to `register`.
    static func reference(_ bytes: some Sequence<UInt8>, register: UInt32 = 0xFFFF_FFFF) -> UInt32 {
        var crc = register
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return crc
    }

    static func randomBytes(_ count: Int, using generator: inout SeededGenerator) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    /// `body` with `bytes` copied to `shift` bytes past a 64-byte boundary.
    static func misaligned<R>(_ bytes: [UInt8], by shift: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let storage = UnsafeMutableRawPointer.allocate(byteCount: bytes.count + shift, alignment: 64)
        defer { storage.deallocate() }
        bytes.withUnsafeBytes { (storage + shift).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        return body(UnsafeRawBufferPointer(start: storage + shift, count: bytes.count))
    }

    static func crc(_ method: hebb_crc32_method, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        hebb_crc32_update_using(method, 0xFFFF_FFFF, bytes.baseAddress, bytes.count) ^ 0xFFFF_FFFF
    }

    @Test func knownValuesOfZlib() {
        // zlib.crc32 of each (python3).
        #expect(CRC32.checksum(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(CRC32.checksum([UInt8]()) == 0)
        #expect(CRC32.checksum(Array("The quick brown fox jumps over the lazy dog".utf8)) == 0x414F_A339)
        #expect(CRC32.checksum([UInt8](repeating: 0, count: 1 << 16)) == 0xD797_8EEB)
        #expect(CRC32.checksum([UInt8](repeating: 0xFF, count: 100)) == 0x03D2_8681)
        // bytes((i*i + i//251) & 255 for i in range(1 << 20))
        let mebibyte = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 * $0 + $0 / 251) }
        for method in Self.methods {
            #expect(mebibyte.withUnsafeBytes { Self.crc(method, $0) } == 0x3A3F_C010, "method \(method.rawValue)")
        }
    }

    /// Every length 0…1024 (the folding's 16-, 64- and 256-byte blocks and every tail) at every start 0…63 bytes
    /// past a cache line, on every method.
    @Test func everyLengthAndMisalignmentMatchesTheReference() {
        var generator = SeededGenerator(seed: 16)
        let bytes = Self.randomBytes(1024, using: &generator)
        // The reference of each prefix, in one pass.
        var expected = [UInt32(0)]
        var register: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            register = Self.reference([byte], register: register)
            expected.append(register ^ 0xFFFF_FFFF)
        }
        for shift in 0..<64 {
            Self.misaligned(bytes, by: shift) { buffer in
                for method in Self.methods {
                    var mismatches = 0
                    for length in 0...1024 where Self.crc(method, UnsafeRawBufferPointer(rebasing: buffer[0..<length])) != expected[length] {
                        mismatches += 1
                    }
                    #expect(mismatches == 0, "method \(method.rawValue), shift \(shift)")
                }
            }
        }
    }

    @Test func randomLengthsUpToOneMebibyteMatchTheReference() {
        var generator = SeededGenerator(seed: 18)
        for _ in 0..<6 {
            let bytes = Self.randomBytes(Int.random(in: 1025...(1 << 20), using: &generator), using: &generator)
            let expected = Self.reference(bytes) ^ 0xFFFF_FFFF
            let shift = Int.random(in: 0..<64, using: &generator)
            for method in Self.methods {
                #expect(Self.misaligned(bytes, by: shift) { Self.crc(method, $0) } == expected,
                        "method \(method.rawValue), \(bytes.count) bytes at shift \(shift)")
            }
        }
    }

    /// Fed in pieces split at random points — by `CRC32`, and by the methods in turn, each continuing the register
    /// another left — the CRC is the one-shot value.
    @Test func piecesEqualOneShot() {
        var generator = SeededGenerator(seed: 1618)
        for _ in 0..<40 {
            let bytes = Self.randomBytes(Int.random(in: 0...20_000, using: &generator), using: &generator)
            let whole = CRC32.checksum(bytes)
            #expect(whole == Self.reference(bytes) ^ 0xFFFF_FFFF)
            var cuts = (0..<Int.random(in: 1...8, using: &generator)).map { _ in Int.random(in: 0...bytes.count, using: &generator) }
            cuts = [0] + cuts.sorted() + [bytes.count]
            var crc = CRC32()
            var register: UInt32 = 0xFFFF_FFFF
            bytes.withUnsafeBytes { raw in
                for (i, (from, to)) in zip(cuts, cuts.dropFirst()).enumerated() {
                    let piece = UnsafeRawBufferPointer(rebasing: raw[from..<to])
                    crc.update(piece)
                    register = hebb_crc32_update_using(Self.methods[i % Self.methods.count], register, piece.baseAddress, piece.count)
                }
            }
            #expect(crc.value == whole)
            #expect(register ^ 0xFFFF_FFFF == whole)
        }
    }

    /// The daemon uses the fastest method the step kernels' instruction set allows.
    @Test func theFastestMethodWithinTheInstructionSetIsUsed() {
        let method = hebb_crc32_method_in_force()
        switch StepKernels.current {
        case .baseline: #expect(method == HEBB_CRC32_TABLE)
        case .avx2: #expect(method == (hebb_crc32_method_supported(HEBB_CRC32_PCLMUL) != 0 ? HEBB_CRC32_PCLMUL : HEBB_CRC32_TABLE))
        case .avx512: #expect(method == Self.methods.last)
        }
    }
}
