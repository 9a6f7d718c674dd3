import CHebbKernels
import Foundation
import HebbianRegression
import Testing
@testable import HebbCore

/// The publish path's float formatter (Schubfach digits in SwiftDtoa's layout, in C, eight values at a time):
/// byte for byte `Float.description`, and every text parses back to the identical Float — through Swift's parser and
/// through the daemon's own JSON parser (as a Double, then float32, the way JSON clients read it). Rows are checked on
/// every instruction set the CPU has; single values use the one in force.
@Suite struct FloatTextTests {
    static func roundTrips(_ value: Float) -> Bool {
        let text = FloatText.string(value)
        guard text == value.description, text.utf8.count <= FloatText.longestText,
              let back = Float(text), back.bitPattern == value.bitPattern else { return false }
        guard let json = try? JSONParser.parse(Array(text.utf8)), let d = json.double else { return false }
        return Float(d).bitPattern == value.bitPattern
    }

    @Test func edgeCases() {
        var values: [Float] = [0, -0.0, 1, -1, 0.05, 0.1, 1e-5, 1.5e-7, 3.4028235e38, -3.4028235e38, .leastNonzeroMagnitude,
                               -.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, .ulpOfOne, 16777216, Float(16777216).nextUp,
                               Float(bitPattern: 0x007F_FFFF), Float(bitPattern: 0x0080_0000), Float(bitPattern: 0x7F7F_FFFF)]
        for e in -149...127 { values.append(Float(sign: .plus, exponent: e, significand: 1)) }
        for v in values {
            for neighbour in [v, v.nextUp, v.nextDown] where neighbour.isFinite {
                #expect(Self.roundTrips(neighbour), "\(neighbour)")
            }
        }
    }

    /// Every biased exponent (0 = subnormal … 254), both signs, with the mantissas at and next to the boundaries
    /// of the exponent's range (where the rounding interval is asymmetric or the digit count changes) and a few
    /// in between: the formatter's text is `Float.description`'s and reads back as the same float.
    @Test func everyExponentWithBoundaryMantissas() {
        let mantissas: [UInt32] = [0, 1, 2, 3, 4, 5, 0x40_0000, 0x3F_FFFF, 0x40_0001, 0x12_3456, 0x65_4321, 0x55_5555,
                                   0x2A_AAAA, 0x7F_FFFD, 0x7F_FFFE, 0x7F_FFFF]
        var failed = 0
        for exponent: UInt32 in 0...254 {
            for mantissa in mantissas {
                for sign: UInt32 in [0, 1] {
                    let value = Float(bitPattern: sign << 31 | exponent << 23 | mantissa)
                    if !Self.roundTrips(value) {
                        failed += 1
                        if failed < 5 { Issue.record("\(value) (bits \(String(value.bitPattern, radix: 16))) → \(FloatText.string(value))") }
                    }
                }
            }
        }
        #expect(failed == 0)
    }

    /// The subnormals: every power of two among their mantissas and its neighbours, and the ends of the range.
    @Test func subnormalBoundaries() {
        var patterns: [UInt32] = [1, 2, 3, 0x7F_FFFF, 0x7F_FFFE, 0x80_0000, 0x80_0001]
        for bit in 0..<23 {
            let power = UInt32(1) << bit
            patterns += [power - 1, power, power + 1].filter { $0 > 0 }
        }
        for bits in patterns {
            for sign: UInt32 in [0, 1 << 31] {
                let value = Float(bitPattern: sign | bits)
                #expect(Self.roundTrips(value), "\(value) (bits \(String(value.bitPattern, radix: 16))) → \(FloatText.string(value))")
            }
        }
    }

    /// A million finite bit patterns from a fixed seed (the same ones on every run).
    @Test func aMillionSeededRandomBitPatterns() {
        var generator = SeededGenerator(seed: 18)
        var checked = 0, failed = 0
        while checked < 1_000_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
            guard value.isFinite else { continue }
            checked += 1
            if !Self.roundTrips(value) {
                failed += 1
                if failed < 5 { Issue.record("\(value) (bits \(String(value.bitPattern, radix: 16))) → \(FloatText.string(value))") }
            }
        }
        #expect(failed == 0)
    }

    /// The list form on every instruction set this CPU has: a million seeded bit patterns (infinities and NaNs
    /// included, which become `null`), zeros of both signs, in rows of every length from 1 to 19 (so that every lane
    /// of a block ends a row), each row the values' descriptions joined by commas.
    @Test func listsOnEveryInstructionSet() {
        var generator = SeededGenerator(seed: 19)
        var values = (0..<1_000_000).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: generator.next())) }
        for i in stride(from: 0, to: values.count, by: 97) { values[i] = i % 2 == 0 ? 0 : -0.0 }
        for i in stride(from: 5, to: values.count, by: 1009) { values[i] = i % 2 == 0 ? .infinity : -.nan }
        let isas = StepKernels.InstructionSet.allCases.filter { hebb_isa_supported(hebb_isa(rawValue: UInt32($0.rawValue))) != 0 }
        #expect(isas.contains(.baseline))
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: FloatText.listCapacity(19))
        defer { buffer.deallocate() }
        for isa in isas {
            var start = 0, length = 1, failed = 0
            values.withUnsafeBufferPointer { all in
                while start < all.count {
                    let count = min(length, all.count - start)
                    let n = hebb_float_text_list_isa(hebb_isa(rawValue: UInt32(isa.rawValue)), all.baseAddress! + start, count, buffer)
                    let expected = all[start..<start + count].map { $0.isFinite ? $0.description : "null" }.joined(separator: ",")
                    if !expected.utf8.elementsEqual(UnsafeBufferPointer(start: buffer, count: n)) {
                        failed += 1
                        if failed < 5 { Issue.record("\(isa): \(expected) → \(String(decoding: UnsafeBufferPointer(start: buffer, count: n), as: UTF8.self))") }
                    }
                    start += count
                    length = length % 19 + 1
                }
            }
            #expect(failed == 0, "\(isa)")
        }
    }

    /// All 2³² bit patterns (the finite ones) against `Float.description`, on every core. Minutes in release,
    /// much longer in debug: opt-in.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HEBBD_LONG_TESTS"] == "1", "set HEBBD_LONG_TESTS=1"))
    func everyFloat32() async {
        let chunks = 256, perChunk = (1 << 32) / chunks
        let failed = await withTaskGroup(of: [UInt32].self) { group in
            var next = 0, running = 0, failed: [UInt32] = []
            func add(_ chunk: Int) {
                group.addTask {
                    var bad: [UInt32] = []
                    // A block of 4096 patterns at a time through the list form (the publish path's), its texts
                    // split at the commas.
                    let block = 4096
                    let values = UnsafeMutablePointer<Float>.allocate(capacity: block)
                    let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: FloatText.listCapacity(block))
                    defer { values.deallocate(); buffer.deallocate() }
                    for first in stride(from: 0, to: perChunk, by: block) {
                        for i in 0..<block { values[i] = Float(bitPattern: UInt32(chunk * perChunk + first + i)) }
                        let n = FloatText.writeList(values, count: block, to: buffer)
                        var i = 0
                        for text in UnsafeBufferPointer(start: buffer, count: n).split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false) {
                            let value = values[i]
                            if value.isFinite ? !value.description.utf8.elementsEqual(text) : !"null".utf8.elementsEqual(text) {
                                bad.append(value.bitPattern)
                            }
                            i += 1
                        }
                        if i != block { bad.append(UInt32(chunk * perChunk + first)) }
                    }
                    return bad
                }
            }
            while next < min(chunks, ProcessInfo.processInfo.activeProcessorCount) { add(next); next += 1; running += 1 }
            for await bad in group {
                failed += bad
                if next < chunks { add(next); next += 1 }
            }
            return failed
        }
        #expect(failed.isEmpty, "\(failed.count) differ, first \(failed.prefix(5).map { String($0, radix: 16) })")
    }

    /// The table of powers of ten the digits are computed with, recomputed exactly: ⌈10^e·2^(63−⌊log₂ 10^e⌋)⌉ for
    /// e = −31…45, from 10^e (e ≥ 0) or 2^N / 10^−e (e < 0) in multi-word integers.
    @Test func powersOfTenAreExact() {
        /// Little-endian 32-bit words.
        typealias Big = [UInt32]
        func bitLength(_ x: Big) -> Int {
            guard let top = x.lastIndex(where: { $0 != 0 }) else { return 0 }
            return top * 32 + (32 - x[top].leadingZeroBitCount)
        }
        func times10(_ x: Big) -> Big {
            var carry: UInt64 = 0, out = Big()
            for word in x { let p = UInt64(word) * 10 + carry; out.append(UInt32(truncatingIfNeeded: p)); carry = p >> 32 }
            if carry > 0 { out.append(UInt32(carry)) }
            return out
        }
        func dividedBy10(_ x: Big) -> (Big, remainder: UInt64) {
            var out = Big(repeating: 0, count: x.count), remainder: UInt64 = 0
            for i in x.indices.reversed() {
                let d = remainder << 32 | UInt64(x[i])
                out[i] = UInt32(d / 10); remainder = d % 10
            }
            return (out, remainder)
        }
        /// The 64 bits of x from bit `shift` up, and whether any bit below was set.
        func top64(_ x: Big, from shift: Int) -> (UInt64, inexact: Bool) {
            var value: UInt64 = 0
            for bit in 0..<64 where shift + bit >= 0 {
                let b = shift + bit
                if b / 32 < x.count, x[b / 32] >> (b % 32) & 1 == 1 { value |= 1 << bit }
            }
            let inexact = shift > 0 && (0..<shift).contains { x[$0 / 32] >> ($0 % 32) & 1 == 1 }
            return (value, inexact)
        }
        var power: Big = [1]
        for e in 0...45 {
            // 10^e = β·2^r with 2^63 ≤ β < 2^64: r = bitLength − 64.
            let (bits, inexact) = top64(power, from: bitLength(power) - 64)
            #expect(FloatText.powersOfTen[e + 31] == bits + (inexact ? 1 : 0), "10^\(e)")
            power = times10(power)
        }
        for m in 1...31 {
            // 2^N / 10^m with N = 64 + ⌊log₂ 10^m⌋ lies in (2^63, 2^64] and is never an integer: ⌈⌉ = ⌊⌋ + 1.
            var tenToM: Big = [1]
            for _ in 0..<m { tenToM = times10(tenToM) }
            let n = 64 + bitLength(tenToM) - 1
            var quotient = Big(repeating: 0, count: n / 32 + 1)
            quotient[n / 32] = 1 << (n % 32)
            for _ in 0..<m { quotient = dividedBy10(quotient).0 }
            #expect(FloatText.powersOfTen[31 - m] == top64(quotient, from: 0).0 + 1, "10^-\(m)")
        }
    }

    @Test func typicalCoefficientsRoundTrip() {
        var generator = SeededGenerator(seed: 2)
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
        var array = JSONWriter()
        values.withUnsafeBufferPointer { array.floats($0) }
        #expect(String(decoding: array.bytes, as: UTF8.self) == "[0.05,-0.0,1e-05,null,3.0,-2.5e-12]")
        var empty = JSONWriter()
        empty.beginObject(); empty.key("a"); [Float]().withUnsafeBufferPointer { empty.floats($0) }
        empty.key("b"); [Float]().withUnsafeBufferPointer { empty.matrix($0, rows: 2, columns: 0) }; empty.endObject()
        #expect(String(decoding: empty.bytes, as: UTF8.self) == #"{"a":[],"b":[[],[]]}"#)
    }

    /// Rows narrower than a formatter block (1…7 values: every `sys_dim` < 8 model) are formatted as one list and then
    /// bracketed in place; the text is the same as one float at a time, for every width around the switch, with the
    /// longest texts, zeros, NaN and random bit patterns, and whatever the writer held before.
    @Test(arguments: 1...9)
    func narrowAndWideRowsMatchOneFloatAtATime(columns: Int) {
        var generator = SeededGenerator(seed: UInt64(columns))
        for rows in [1, 2, 3, 17, 64] {
            let values: [Float] = (0..<(rows * columns)).map { i in
                switch i % 5 {
                case 0: return -1.00308845e-36
                case 1: return 0
                case 2: return .nan
                default: return Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
                }
            }
            #expect(Self.matrixAfterAKey(values, rows: rows, columns: columns) == Self.oneFloatAtATime(values, rows: rows, columns: columns),
                    "\(rows)×\(columns)")
        }
    }

    /// The matrix is formatted straight into the writer's storage after what it already holds: a large one of
    /// longest-text values (15 bytes each, the bound's worst case), zeros and random values, after a key.
    @Test func writerMatrixAfterOtherKeysMatchesOneFloatAtATime() {
        var generator = SeededGenerator(seed: 5)
        let rows = 300, columns = 70
        let values: [Float] = (0..<(rows * columns)).map { i in
            switch i % 3 {
            case 0: return -1.00308845e-36
            case 1: return 0
            default: return Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &generator))
            }
        }
        #expect(Self.matrixAfterAKey(values, rows: rows, columns: columns) == Self.oneFloatAtATime(values, rows: rows, columns: columns))
        #expect(FloatText.string(-1.00308845e-36).utf8.count == FloatText.longestText)
    }

    /// `{"w":[[…],…]}` through `JSONWriter.matrix`, into a writer that starts small and already holds a key.
    private static func matrixAfterAKey(_ values: [Float], rows: Int, columns: Int) -> [UInt8] {
        var fast = JSONWriter(capacity: 8)
        fast.beginObject(); fast.key("w")
        values.withUnsafeBufferPointer { fast.matrix($0, rows: rows, columns: columns) }
        fast.endObject()
        return fast.bytes
    }

    /// The same object written one `JSONWriter.float` at a time: the reference.
    private static func oneFloatAtATime(_ values: [Float], rows: Int, columns: Int) -> [UInt8] {
        var slow = JSONWriter()
        slow.beginObject(); slow.key("w"); slow.beginArray()
        for r in 0..<rows {
            slow.beginArray()
            for c in 0..<columns { slow.float(values[r * columns + c]) }
            slow.endArray()
        }
        slow.endArray(); slow.endObject()
        return slow.bytes
    }
}
