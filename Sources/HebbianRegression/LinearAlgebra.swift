import CBLAS

/// The two products of a training step, on OpenBLAS.
///
/// Measured on the target machines (docs/ARCHITECTURE.md, "Decisions"): OpenBLAS beats hand-written SIMD loops at every
/// size we care about, and one thread beats two, so the library is pinned to one thread once per process.
/// All matrices are row-major and contiguous.
enum LinearAlgebra {
    /// Pins OpenBLAS to one thread (the engine thread); evaluated once.
    static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// C ← α·A·B + β·C with A (m×k), B (k×n), C (m×n).
    @inlinable
    static func multiply(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, alpha: Float, beta: Float
    ) {
        if n == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, blasint(m), blasint(k), alpha, a, blasint(k), b, 1, beta, c, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                        alpha, a, blasint(k), b, blasint(n), beta, c, blasint(n))
        }
    }

    /// C ← α·Aᵀ·B + β·C with A (k×m), B (k×n), C (m×n).
    @inlinable
    static func multiplyTransposed(
        _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into c: UnsafeMutablePointer<Float>,
        m: Int, k: Int, n: Int, alpha: Float, beta: Float
    ) {
        if n == 1 {
            cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(m), alpha, a, blasint(m), b, 1, beta, c, 1)
        } else {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(m), blasint(n), blasint(k),
                        alpha, a, blasint(m), b, blasint(n), beta, c, blasint(n))
        }
    }
}

/// OpenBLAS's thread count for the process (`daemon.blas_threads`, `hebbd bench --blas-threads`).
///
/// One thread is the default: on small models a second thread costs more in hand-offs than it saves
/// (Benchmarks/README.md has the figures); big models on a machine with spare cores gain from more.
public enum BLASThreads {
    /// Sets the thread count (at least 1) for every later product, overriding the one-thread default.
    public static func set(_ count: Int) {
        _ = LinearAlgebra.singleThreaded
        openblas_set_num_threads(Int32(clamping: max(count, 1)))
    }

    /// The thread count in force.
    public static var current: Int {
        _ = LinearAlgebra.singleThreaded
        return Int(openblas_get_num_threads())
    }
}
