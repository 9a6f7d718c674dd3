import CBLAS
import CHebbKernels
import Synchronization

/// The two products of a training step: on the fused kernels of `CHebbKernels` for the shapes they are chosen for
/// (s = 1 or 16, and with AVX-512 also 32, 48 and 64; up to ``fusedKernelMaxWeights``), on OpenBLAS otherwise. The
/// kernels read each block of rows of X once for both products and skip OpenBLAS's packing of its operands, which was
/// most of a small product's time (docs/ARCHITECTURE.md §8). All matrices are row-major and contiguous.
enum LinearAlgebra {
    /// Pins OpenBLAS to one thread (the engine thread) until ``BLASThreads/set(_:)`` says otherwise; evaluated once.
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

extension LinearAlgebra {
    /// The largest synapse (dict_dim × sys_dim elements) the fused step kernels take; bigger ones go to OpenBLAS.
    /// With AVX-512 the kernels were faster than OpenBLAS at every size measured, up to this one (16384×64: 1.5×), but
    /// W and G then no longer fit in a core's cache and OpenBLAS's blocking must win somewhere beyond; with AVX2 that
    /// happens from s = 32 already (docs/ARCHITECTURE.md §8).
    static let fusedKernelMaxWeights = 1 << 20

    /// Whether a step on a dict_dim × sys_dim synapse runs on the fused kernels (`CHebbKernels`), given OpenBLAS's
    /// thread count: with more than one BLAS thread, big products are OpenBLAS's.
    static func fusedKernelApplies(dictDim d: Int, sysDim s: Int) -> Bool {
        !StepKernels.blasOnly.load(ordering: .relaxed) && hebb_products_supported(d, s, fusedKernelMaxWeights) != 0
    }

    /// e ← (y − bias) − x·w and, when `gradient` is given, G ← −xᵀ·e (the Hebbian term preᵀ·post, times
    /// sign_value −1), on the fused kernels or on OpenBLAS.
    static func residual(
        x: UnsafePointer<Float>, y: UnsafePointer<Float>, w: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        into e: UnsafeMutablePointer<Float>, gradient: UnsafeMutablePointer<Float>?, rows: Int, d: Int, s: Int
    ) {
        if fusedKernelApplies(dictDim: d, sysDim: s) {
            hebb_products(x, y, w, bias, e, gradient, rows, d, s)
            return
        }
        e.update(from: y, count: rows * s)
        if let bias {
            for r in 0..<rows { for k in 0..<s { e[r * s + k] -= bias[k] } }
        }
        multiply(x, w, into: e, m: rows, k: d, n: s, alpha: -1, beta: 1)
        if let gradient { multiplyTransposed(x, e, into: gradient, m: d, k: rows, n: s, alpha: -1, beta: 0) }
    }
}

/// Which instruction set the step kernels use (`hebbd bench` prints it; tests run every one).
public enum StepKernels {
    /// The instruction sets a kernel is compiled for.
    public enum InstructionSet: Int, Sendable, CaseIterable, CustomStringConvertible {
        case baseline = 0, avx2 = 1, avx512 = 2
        public var description: String { ["baseline", "avx2", "avx512"][rawValue] }
    }

    /// The instruction set in force: the best the CPU has, unless ``use(_:)`` chose another.
    public static var current: InstructionSet { InstructionSet(rawValue: Int(hebb_kernels_isa().rawValue)) ?? .baseline }

    /// Uses `isa` if the CPU has it (else keeps the current one); returns the one in force.
    @discardableResult
    public static func use(_ isa: InstructionSet) -> InstructionSet {
        InstructionSet(rawValue: Int(hebb_kernels_set_isa(hebb_isa(rawValue: UInt32(isa.rawValue))).rawValue)) ?? .baseline
    }

    /// Whether a dict_dim × sys_dim synapse learns on the fused kernels rather than on OpenBLAS.
    public static func fused(dictDim: Int, sysDim: Int) -> Bool {
        LinearAlgebra.fusedKernelApplies(dictDim: dictDim, sysDim: sysDim)
    }

    /// Sends every product to OpenBLAS (`hebbd bench --products blas`: the comparison behind the fused kernels'
    /// size limit). Off by default.
    public static func useBLASOnly(_ on: Bool) { blasOnly.store(on, ordering: .relaxed) }

    static let blasOnly = Atomic<Bool>(false)
}

/// The threads a step's products may use, process-wide (`daemon.blas_threads`, `hebbd bench --blas-threads`):
/// OpenBLAS's thread count, and the fused kernels', which split a product of at least `HEBB_PARALLEL_MIN_WORK`
/// multiply-adds (about 1 ms of one core's work) by rows among that many threads. Smaller products stay on the
/// calling thread, so small models never pay for a hand-off.
public enum BLASThreads {
    /// The default: the CPUs this process may run on (its affinity mask, which systemd's `CPUAffinity=` and
    /// container limits set), at most 4 — each helper keeps a gradient buffer as large as the biggest model's W.
    public static var automatic: Int { min(Int(hebb_available_cpus()), 4) }

    /// Sets the thread count (at least 1) for every later product (1 until set). OpenBLAS takes it once no
    /// ``withOpenBLASOnOneThread(_:)`` body is running.
    public static func set(_ count: Int) {
        _ = LinearAlgebra.singleThreaded
        let threads = Int32(clamping: max(count, 1))
        oneThreadBodies.withLock { bodies in
            _ = hebb_kernels_set_threads(threads)
            if bodies == 0 { openblas_set_num_threads(threads) }
        }
    }

    /// Runs `body` with OpenBLAS on one thread. OpenBLAS's count is process-wide, so bodies running at once on
    /// several threads share it: it stays 1 until the last of them ends, which restores the count in force — a
    /// product in a body never runs on a count another thread chose meanwhile (each body saving and restoring the
    /// count itself let one thread's restore land inside another's body; tests running at once then saw a batch's
    /// bits change with the other tests' timing).
    static func withOpenBLASOnOneThread<T>(_ body: () -> T) -> T {
        _ = LinearAlgebra.singleThreaded
        oneThreadBodies.withLock { bodies in
            if bodies == 0 && openblas_get_num_threads() > 1 { openblas_set_num_threads(1) }
            bodies += 1
        }
        defer {
            oneThreadBodies.withLock { bodies in
                bodies -= 1
                if bodies == 0 && hebb_kernels_threads() > 1 { openblas_set_num_threads(hebb_kernels_threads()) }
            }
        }
        return body()
    }

    /// Threads inside ``withOpenBLASOnOneThread(_:)`` bodies; its lock also orders every change of OpenBLAS's count.
    private static let oneThreadBodies = Mutex(0)

    /// The thread count in force.
    public static var current: Int {
        _ = LinearAlgebra.singleThreaded
        return Int(hebb_kernels_threads())
    }
}
