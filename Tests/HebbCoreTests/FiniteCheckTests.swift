import Testing
@testable import HebbCore

/// The vectorised finiteness check agrees with `Float.isFinite` value by value: every length around the 16-lane
/// blocks, every position of a bad value, unaligned frames, and the bit patterns next to the exponent boundary.
@Suite struct FiniteCheckTests {
    /// The first index a scalar loop finds, the reference the vectorised check must match.
    static func reference32(_ values: [UInt32]) -> Int? { values.firstIndex { !Float(bitPattern: $0).isFinite } }

    /// Runs the check on `values` stored at byte offset `shift` of a buffer (ZeroMQ frames have no alignment).
    static func check32(_ values: [UInt32], shift: Int) -> Int? {
        var bytes = [UInt8](repeating: 0xAA, count: shift)
        for v in values { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes.withUnsafeBytes { FiniteCheck.firstNonFinite32(UnsafeRawBufferPointer(rebasing: $0[shift...])) }
    }

    @Test(arguments: [Float.nan, .infinity, -.infinity, Float(bitPattern: 0x7FC0_0001), Float(bitPattern: 0xFF80_0001)])
    func findsEveryBadValueAtEveryPosition(bad: Float) {
        for count in [1, 2, 15, 16, 17, 31, 32, 33, 47, 64, 100] {
            for position in 0..<count {
                var values = (0..<count).map { Float($0) * 0.37 - 3 }.map(\.bitPattern)
                values[position] = bad.bitPattern
                for shift in 0..<4 { #expect(Self.check32(values, shift: shift) == position) }
            }
        }
    }

    @Test func acceptsFiniteValuesUpToTheLargest() {
        let edge: [Float] = [0, -0, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude,
                             .greatestFiniteMagnitude, -.greatestFiniteMagnitude, Float(bitPattern: 0x7F7F_FFFF), 1, -1]
        for count in [0, 1, 16, 17, 40] {
            let values = (0..<count).map { edge[$0 % edge.count].bitPattern }
            #expect(Self.check32(values, shift: 1) == nil)
        }
    }

    @Test func agreesWithIsFiniteOnRandomBitPatterns() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let count = Int.random(in: 0...70, using: &generator)
            // Mostly finite values, with an occasional all-ones exponent.
            let values = (0..<count).map { _ -> UInt32 in
                let bits = UInt32.random(in: .min ... .max, using: &generator)
                return Int.random(in: 0..<50, using: &generator) == 0 ? bits | 0x7F80_0000 : bits & 0xBFFF_FFFF
            }
            #expect(Self.check32(values, shift: Int.random(in: 0..<4, using: &generator)) == Self.reference32(values))
        }
    }

    @Test func float64BeyondFloat32RangeIsRejectedAtItsIndex() {
        let values: [Double] = [1, 2, 3.4e38, 3.5e38, .nan]
        var bytes: [UInt8] = [0]
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        let found = bytes.withUnsafeBytes { FiniteCheck.firstNonFinite64(UnsafeRawBufferPointer(rebasing: $0[1...])) }
        #expect(found == 3)
        let fine = [1.0, -2.5, 3.4e38].flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        #expect(fine.withUnsafeBytes { FiniteCheck.firstNonFinite64($0) } == nil)
    }
}
