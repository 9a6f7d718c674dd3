/// A fixed number of doubles starting on a 64-byte cache line, with an array's value semantics (copied on the first
/// write after a copy).
///
/// For the covariance cache's Σ and its product scratch: the per-row kernel (`hebb_covariance_rank_one`) reads Σ
/// twice and writes it once per row with 64-byte vectors, and a Swift array's elements start 16, 32 or 48 bytes past
/// a line as often as on one, so that every such load and store straddles two lines. The kernel alone ran 1.5–1.7×
/// slower that way at d = 64 … 256 (`sh Benchmarks/covariance.sh`; Benchmarks/README.md, "The per-row floor").
struct CacheLineAlignedDoubles {
    /// The bytes every buffer starts on.
    static let alignment = 64

    private final class Storage {
        let base: UnsafeMutablePointer<Double>
        let count: Int

        init(count: Int) {
            self.count = count
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Double>.stride,
                                                       alignment: CacheLineAlignedDoubles.alignment)
            base = raw.initializeMemory(as: Double.self, repeating: 0, count: max(count, 1))
        }

        func copy() -> Storage {
            let copy = Storage(count: count)
            copy.base.update(from: base, count: count)
            return copy
        }

        deinit {
            base.deinitialize(count: max(count, 1))
            UnsafeMutableRawPointer(base).deallocate()
        }
    }

    private var storage: Storage

    /// `count` zeros.
    init(zeros count: Int) {
        precondition(count >= 0, "CacheLineAlignedDoubles: negative count")
        storage = Storage(count: count)
    }

    subscript(index: Int) -> Double {
        get {
            precondition(index >= 0 && index < storage.count, "CacheLineAlignedDoubles: index out of range")
            return storage.base[index]
        }
        set {
            precondition(index >= 0 && index < storage.count, "CacheLineAlignedDoubles: index out of range")
            makeUnique()
            storage.base[index] = newValue
        }
    }

    func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Double>) throws -> R) rethrows -> R {
        try withExtendedLifetime(storage) { try body(UnsafeBufferPointer(start: storage.base, count: storage.count)) }
    }

    mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Double>) throws -> R) rethrows -> R {
        makeUnique()
        return try withExtendedLifetime(storage) { try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count)) }
    }

    private mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }
}
