import CBLAS
import CHebbKernels

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
        return serial(body)
    }

    /// Runs `body` with OpenBLAS on one thread whatever its size: a product cut into parts by ``split(_:_:)`` runs
    /// each part on one thread.
    @inline(__always)
    static func serial<T>(_ body: () -> T) -> T {
        BLASThreads.withOpenBLASOnOneThread(body)
    }
}

extension SerialProducts {
    /// Work (multiply-adds) from which a Bayesian batch product is cut into parts for the pool's threads
    /// (`hebb_parallel_run`, the step kernels' "hebbd-products" helpers): 2²¹, about 80 µs of one core — d = 256 at a
    /// batch of 64, not d = 128, whose products cut into parts ran slower on a loaded machine (Benchmarks/README.md,
    /// "The batch update at 256×1 / 64"). One-row updates (O(d²) level-2 kernels) never split.
    static let splitWork = 1 << 21

    /// Parts a product over `columns` columns above ``splitWork`` is cut into: one per 128 columns, 2 to 8 (blocks of
    /// 16 columns ran 20–35 % slower on one thread than one product). A function of the shape only, not of the threads
    /// in force, so that a model computes the same bits with one thread, two, or a busy pool (the parts then run one
    /// after another on the caller).
    static func parts(columns: Int) -> Int { min(8, max(2, columns / 128)) }

    /// Runs parts 0..<`parts` of `body` (part, parts) on the caller and the pool's helpers at once, or one after another
    /// on the caller when the pool has fewer threads or is busy. The parts must write disjoint memory.
    static func split(_ parts: Int, _ body: (Int, Int) -> Void) {
        guard parts > 1 else { return body(0, 1) }
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { pointer in
                _ = hebb_parallel_run({ context, part, parts in
                    context!.assumingMemoryBound(to: ((Int, Int) -> Void).self).pointee(Int(part), Int(parts))
                }, pointer, Int32(parts))
            }
        }
    }

    /// The first row of part `part` of `parts` of an n × n upper triangle cut by rows into parts of equal area
    /// (row i holds n − i entries), rounded to 8 rows: the top rows are the longer ones.
    static func triangleRow(_ part: Int, of parts: Int, n: Int) -> Int {
        guard part > 0 else { return 0 }
        guard part < parts else { return n }
        // Rows [r, n) hold (n − r)²/2 of n²/2: r = n·(1 − √(1 − part/parts)).
        let r = Double(n) * (1 - (1 - Double(part) / Double(parts)).squareRoot())
        return min(n, (Int(r.rounded()) + 4) / 8 * 8)
    }

    /// Rows [r0, r1) of the upper triangle of C (n × n, leading dimension ldc) ← β·C + α·AᵀA, A k × n (lda): one
    /// `dsyrk` on the diagonal block and one `dgemm` right of it. Disjoint row ranges may run at once.
    static func symmetricRankUpdate(rows r0: Int, _ r1: Int, n: Int, k: Int, alpha: Double, a: UnsafePointer<Double>, lda: Int,
                                    beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int) {
        guard r1 > r0 else { return }
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(r1 - r0), blasint(k), alpha, a + r0, blasint(lda),
                    beta, c + r0 * ldc + r0, blasint(ldc))
        guard r1 < n else { return }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, blasint(r1 - r0), blasint(n - r1), blasint(k), alpha, a + r0,
                    blasint(lda), a + r1, blasint(lda), beta, c + r0 * ldc + r1, blasint(ldc))
    }
}
