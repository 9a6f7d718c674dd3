import CBLAS

/// Keeps the statistics' and the posterior's small OpenBLAS products on the calling thread.
///
/// With more than one BLAS thread (`daemon.blas_threads`, `hebbd bench --blas-threads`, 2 by default on 2 cores)
/// OpenBLAS splits even a 257 × 257 `dsyrk` of 64 rows, or a 64 × 64 `dsyr`, among its threads; inside an update,
/// next to the step kernels' parked helpers, that split product ran at 0.6 GFLOP/s against 9.7 on one thread
/// (`hebbd bench --kind lasso --uncertainty --dict-dim 256 --batch 64`, measured on 2 shared cores). Products below the
/// step kernels' own split threshold (`HEBB_PARALLEL_MIN_WORK`, 2²⁴ multiply-adds, about 1 ms of one core) so run on
/// one thread; bigger ones keep the threads in force. OpenBLAS's count is process-wide: another thread's product
/// that starts meanwhile runs on one thread too (slower, never wrong).
enum SerialProducts {
    /// Multiply-adds from which a product keeps OpenBLAS's threads: `HEBB_PARALLEL_MIN_WORK`.
    static let splitThreshold = 1 << 24

    /// Runs `body` (a product of about `multiplyAdds`) with OpenBLAS on one thread when it is small.
    @inline(__always)
    static func run<T>(multiplyAdds: Int, _ body: () -> T) -> T {
        guard multiplyAdds < splitThreshold else { return body() }
        let threads = openblas_get_num_threads()
        guard threads > 1 else { return body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(threads) }
        return body()
    }
}
