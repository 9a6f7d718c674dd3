import Foundation

/// The step kernels' instruction set (`StepKernels.use`) and the products' thread counts (`BLASThreads.set`,
/// `hebb_kernels_set_threads`) are process-wide, and suites run at once. A test that changes them runs under this
/// lock, and so does a test whose assertion compares the bits of runs that must take the same path: at s = 32 the
/// step runs on the kernels or on OpenBLAS by instruction set, and the covariance kernels contract multiply-adds into
/// FMAs on some instruction sets and not on others. Without it, NonFiniteInputTests (3 × 32) and BayesianModelTests'
/// split batch failed in 2 of 25 runs of `swift test --filter HebbianRegressionTests`, and once in a CI run.
enum KernelConfigurationLock {
    /// Runs `body` holding the lock (re-entrant: a held body may call another).
    static func held<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    private static let lock = NSRecursiveLock()
}
