import Testing
@testable import HebbCore

/// The publish path's float formatter: byte for byte `Float.description`, and every text parses back to the
/// identical Float — through Swift's parser and through the daemon's own JSON parser (as a Double, then float32,
/// the way JSON clients read it).
@Suite struct FloatTextTests {
    static func roundTrips(_ value: Float) -> Bool {
        let text = FloatText.string(value)
        guard text == value.description, let back = Float(text), back.bitPattern == value.bitPattern else { return false }
        guard let json = try? JSONParser.parse(Array(text.utf8)), let d = json.double else { return false }
        return Float(d).bitPattern == value.bitPattern
    }

    @Test func edgeCases() {
        var values: [Float] = [0, -0.0, 1, -1, 0.05, 0.1, 1e-5, 1.5e-7, 3.4028235e38, -3.4028235e38, .leastNonzeroMagnitude,
                               -.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 16777216, 16777217,
                               Float(bitPattern: 0x007F_FFFF), Float(bitPattern: 0x0080_0000), Float(bitPattern: 0x7F7F_FFFF)]
        for e in -149...127 { values.append(Float(sign: .plus, exponent: e, significand: 1)) }
        for v in values {
            for neighbour in [v, v.nextUp, v.nextDown] where neighbour.isFinite {
                #expect(Self.roundTrips(neighbour), "\(neighbour)")
            }
        }
    }

    @Test func manyRandomBitPatternsRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        var checked = 0, failed = 0
        while checked < 1_000_000 {
            let value = Float(bitPattern: UInt32.random(in: .min ... .max, using: &generator))
            guard value.isFinite else { continue }
            checked += 1
            if !Self.roundTrips(value) {
                failed += 1
                if failed < 5 { Issue.record("\(value) (bits \(String(value.bitPattern, radix: 16))) → \(FloatText.string(value))") }
            }
        }
        #expect(failed == 0)
    }

    @Test func typicalCoefficientsRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200_000 {
            #expect(Self.roundTrips(Float.random(in: -2...2, using: &generator)))
        }
    }

    @Test func writerMatrixIsTheSameAsOneFloatAtATime() {
        let values: [Float] = [0.05, -0.0, 1e-5, .nan, 3, -2.5e-12]
        var fast = JSONWriter()
        values.withUnsafeBufferPointer { fast.matrix($0, rows: 3, columns: 2) }
        var slow = JSONWriter()
        slow.beginArray()
        for r in 0..<3 {
            slow.beginArray()
            for c in 0..<2 { slow.float(values[r * 2 + c]) }
            slow.endArray()
        }
        slow.endArray()
        #expect(fast.bytes == slow.bytes)
        #expect(String(decoding: fast.bytes, as: UTF8.self) == "[[0.05,-0.0],[1e-05,null],[3.0,-2.5e-12]]")
    }
}
