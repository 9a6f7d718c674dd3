import Testing
@testable import HebbianRegression

@Suite("CacheLineAlignedDoubles: the covariance cache's storage")
struct CacheLineAlignedDoublesTests {
    /// Every buffer, of any size, starts on a 64-byte line, and so does the copy a write after a copy makes.
    @Test("buffers of 1 to 1000 doubles start on a 64-byte line, copies too")
    func buffersStartOnACacheLine() {
        for count in [1, 3, 8, 63, 64, 65, 1000] {
            var buffer = CacheLineAlignedDoubles(zeros: count)
            let original = buffer
            buffer[0] = 1
            for b in [buffer, original] {
                b.withUnsafeBufferPointer { p in
                    #expect(Int(bitPattern: p.baseAddress) % CacheLineAlignedDoubles.alignment == 0, "count \(count)")
                    #expect(p.count == count)
                }
            }
        }
    }

    /// A copy is a value: writing to one side (by subscript or through the mutable pointer) leaves the other as it
    /// was, and a buffer with no copy is written in place.
    @Test("a copy keeps its values when the original is written, by subscript or pointer")
    func copiesAreValues() {
        var a = CacheLineAlignedDoubles(zeros: 16)
        for i in 0..<16 { a[i] = Double(i) }
        let b = a
        a[3] = -1
        a.withUnsafeMutableBufferPointer { p in p[5] = -2 }
        #expect(b[3] == 3 && b[5] == 5 && a[3] == -1 && a[5] == -2)
        var c = CacheLineAlignedDoubles(zeros: 4)
        let before = c.withUnsafeBufferPointer { $0.baseAddress }
        c[2] = 7
        #expect(c.withUnsafeBufferPointer { $0.baseAddress } == before && c[2] == 7 && c[0] == 0)
    }
}
