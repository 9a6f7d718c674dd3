#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A prior distribution on the weights W, used as a penalty in the circuit's objective.
///
/// The circuit adds ``loss(of:)`` to its reported objective (as `prior`, separately from the data loss
/// and the sparsity penalty) and ``accumulateGradient(of:into:)`` to the gradient before the optimiser
/// step. Hyper-parameters may themselves be trainable (``fitsHyperParameters``). Conventions follow
/// brainstate's regularisers (`docs/PRIORS.md`): the loss is summed over all elements and
/// is *not* a normalised log-density.
public protocol Prior: Sendable {
    /// The prior's loss at W (summed over every coefficient), accumulated in Double.
    func loss(of weights: UnsafeBufferPointer<Float>) -> Double
    /// Adds ∂loss/∂W to `gradient`.
    func accumulateGradient(of weights: UnsafeBufferPointer<Float>, into gradient: UnsafeMutableBufferPointer<Float>)
    /// The value W returns to on `reset` (brainstate's `reset_value()`), one per coefficient.
    func resetValue(count: Int) -> [Float]
    /// A draw of `count` coefficients from the prior (brainstate's `sample_init`).
    func sampleInit(count: Int, using generator: inout SeededGenerator) -> [Float]
    /// Whether the hyper-parameters are trained along with W.
    var fitsHyperParameters: Bool { get }
    /// One optimiser step on the hyper-parameters from the prior loss at W (a no-op unless fitted).
    mutating func fitHyperParameters(at weights: UnsafeBufferPointer<Float>, learningRate: Float)
}

/// brainstate's `GaussianReg`: L = c·(Σᵢ pᵢ(wᵢ − μᵢ)² − Σⱼ log pⱼ) with p = relu(precision) + 1e-6.
///
/// `mean` and `precision` are each either one value (broadcast over W) or one value per coefficient.
/// The precision is stored, not the std: precision = 1/(std² + 1e-8), so `std = 0` gives 1e8, as in
/// brainstate. The log term runs over the precision array (once for a scalar std) and only matters
/// when the precision is fitted. Note the loss is **twice** a Gaussian negative log-likelihood; with
/// μ = 0 and a scalar σ it is ridge with λ = 2c/σ² in gradient terms.
public struct GaussianPrior: Prior, Equatable, Codable {
    /// How a Gaussian prior is specified in a config file.
    public struct Configuration: Sendable, Equatable, Codable {
        /// Prior mean: one value, or one per coefficient (row-major dict_dim × sys_dim).
        public var mean: [Float]
        /// Prior standard deviation: one value, or one per coefficient.
        public var std: [Float]
        /// The weight c of the prior's loss.
        public var weight: Float
        /// Train the mean and precision with the circuit's optimiser.
        public var fitHyper: Bool

        /// A prior configuration; scalars are one-element arrays.
        public init(mean: [Float] = [0], std: [Float] = [1], weight: Float = 0.01, fitHyper: Bool = false) {
            self.mean = mean
            self.std = std
            self.weight = weight
            self.fitHyper = fitHyper
        }

        /// Checks shapes and ranges against a W of `weightCount` coefficients.
        public func validate(weightCount: Int) throws(CircuitError) {
            if mean.count != 1 && mean.count != weightCount {
                throw .invalidParameter(name: "prior.mean", value: "\(mean.count) values",
                                        expected: "a number or an array of dict_dim×sys_dim = \(weightCount) values")
            }
            if std.count != 1 && std.count != weightCount {
                throw .invalidParameter(name: "prior.std", value: "\(std.count) values",
                                        expected: "a number or an array of dict_dim×sys_dim = \(weightCount) values")
            }
            if let bad = mean.first(where: { !$0.isFinite }) {
                throw .invalidParameter(name: "prior.mean", value: "\(bad)", expected: "finite numbers")
            }
            if let bad = std.first(where: { !($0.isFinite && $0 > 0) }) {
                throw .invalidParameter(name: "prior.std", value: "\(bad)", expected: "numbers > 0")
            }
            if !(weight.isFinite && weight >= 0) {
                throw .invalidParameter(name: "prior.weight", value: "\(weight)", expected: "a finite number ≥ 0")
            }
        }
    }

    /// The mean μ (1 or weightCount values). Trained when `fitHyper`.
    public var mean: [Float]
    /// The raw precision (1 or weightCount values). Trained when `fitHyper`; read through relu + 1e-6.
    public var precision: [Float]
    /// The loss weight c (never trained, as in brainstate).
    public var weight: Float
    /// Whether mean and precision are trained.
    public var fitHyper: Bool
    /// Optimiser state of the mean (used only when `fitHyper`).
    public var meanOptimizer: OptimizerState
    /// Optimiser state of the precision (used only when `fitHyper`).
    public var precisionOptimizer: OptimizerState

    /// A prior from its configuration; `optimizer` is the circuit's, used for `fitHyper`.
    public init(_ configuration: Configuration, optimizer: OptimizerKind) {
        mean = configuration.mean
        precision = configuration.std.map { GaussianPrior.precision(std: $0) }
        weight = configuration.weight
        fitHyper = configuration.fitHyper
        meanOptimizer = OptimizerState(kind: optimizer, count: fitHyper ? mean.count : 0)
        precisionOptimizer = OptimizerState(kind: optimizer, count: fitHyper ? precision.count : 0)
    }

    /// brainstate's stored precision 1/(std² + 1e-8), computed in Double.
    public static func precision(std: Float) -> Float {
        let s = Double(std)
        return Float(1 / (s * s + 1e-8))
    }

    public var fitsHyperParameters: Bool { fitHyper }

    public func loss(of weights: UnsafeBufferPointer<Float>) -> Double {
        mean.withUnsafeBufferPointer { m in
            precision.withUnsafeBufferPointer { p in
                GaussianPrior.loss(x: weights, mean: m, precision: p, weight: weight)
            }
        }
    }

    public func accumulateGradient(of weights: UnsafeBufferPointer<Float>, into gradient: UnsafeMutableBufferPointer<Float>) {
        mean.withUnsafeBufferPointer { m in
            precision.withUnsafeBufferPointer { p in
                GaussianPrior.accumulateGradient(x: weights, mean: m, precision: p, weight: weight, into: gradient)
            }
        }
    }

    public func resetValue(count: Int) -> [Float] {
        mean.count == 1 ? Array(repeating: mean[0], count: count) : mean
    }

    public func sampleInit(count: Int, using generator: inout SeededGenerator) -> [Float] {
        (0..<count).map { i in
            let mu = Double(mean.count == 1 ? mean[0] : mean[i])
            let p = Double(precision.count == 1 ? precision[0] : precision[i])
            return Float(mu + generator.nextGaussian() / (max(p, 0) + 1e-8).squareRoot())
        }
    }

    public mutating func fitHyperParameters(at weights: UnsafeBufferPointer<Float>, learningRate: Float) {
        guard fitHyper else { return }
        var gMean = [Float](repeating: 0, count: mean.count)
        var gPrecision = [Float](repeating: 0, count: precision.count)
        mean.withUnsafeBufferPointer { m in
            precision.withUnsafeBufferPointer { p in
                gMean.withUnsafeMutableBufferPointer { gm in
                    gPrecision.withUnsafeMutableBufferPointer { gp in
                        GaussianPrior.hyperGradients(x: weights, mean: m, precision: p, weight: weight,
                                                     meanGradient: gm, precisionGradient: gp)
                    }
                }
            }
        }
        meanOptimizer.apply(gradient: gMean, to: &mean, learningRate: learningRate)
        precisionOptimizer.apply(gradient: gPrecision, to: &precision, learningRate: learningRate)
    }
}

// MARK: - Kernels, generic so that tests can check them in Double against brainstate's float64 vectors.

extension GaussianPrior {
    @inlinable
    static func effectivePrecision<T: BinaryFloatingPoint>(_ raw: T) -> T { max(raw, 0) + T(1e-6) }

    /// L = c·(Σᵢ pᵢ(xᵢ − μᵢ)² − Σⱼ log pⱼ), accumulated in Double.
    @inlinable
    public static func loss<T: BinaryFloatingPoint>(
        x: UnsafeBufferPointer<T>, mean: UnsafeBufferPointer<T>, precision: UnsafeBufferPointer<T>, weight: T
    ) -> Double {
        let scalarMean = mean.count == 1, scalarPrecision = precision.count == 1
        var quadratic = 0.0
        for i in 0..<x.count {
            let d = Double(x[i]) - Double(mean[scalarMean ? 0 : i])
            quadratic += Double(effectivePrecision(precision[scalarPrecision ? 0 : i])) * d * d
        }
        var logTerm = 0.0
        for j in 0..<precision.count { logTerm += log(Double(effectivePrecision(precision[j]))) }
        return Double(weight) * (quadratic - logTerm)
    }

    /// Adds ∂L/∂xᵢ = 2c·pᵢ(xᵢ − μᵢ) to `gradient`.
    @inlinable
    public static func accumulateGradient<T: BinaryFloatingPoint>(
        x: UnsafeBufferPointer<T>, mean: UnsafeBufferPointer<T>, precision: UnsafeBufferPointer<T>, weight: T,
        into gradient: UnsafeMutableBufferPointer<T>
    ) {
        let scalarMean = mean.count == 1, scalarPrecision = precision.count == 1
        let twoC = 2 * weight
        for i in 0..<x.count {
            let p = effectivePrecision(precision[scalarPrecision ? 0 : i])
            gradient[i] += twoC * p * (x[i] - mean[scalarMean ? 0 : i])
        }
    }

    /// ∂L/∂μ = −2c·p(x − μ) and ∂L/∂precision = c·((x − μ)² − 1/p)·1[precision > 0], each summed
    /// over the coefficients that share a hyper-parameter (the log term counts once per precision element).
    @inlinable
    public static func hyperGradients<T: BinaryFloatingPoint>(
        x: UnsafeBufferPointer<T>, mean: UnsafeBufferPointer<T>, precision: UnsafeBufferPointer<T>, weight: T,
        meanGradient: UnsafeMutableBufferPointer<T>, precisionGradient: UnsafeMutableBufferPointer<T>
    ) {
        let scalarMean = mean.count == 1, scalarPrecision = precision.count == 1
        var gMean = [Double](repeating: 0, count: mean.count)
        var gSquares = [Double](repeating: 0, count: precision.count)
        for i in 0..<x.count {
            let mi = scalarMean ? 0 : i, pi = scalarPrecision ? 0 : i
            let d = Double(x[i]) - Double(mean[mi])
            gMean[mi] += -2 * Double(weight) * Double(effectivePrecision(precision[pi])) * d
            gSquares[pi] += d * d
        }
        for j in 0..<mean.count { meanGradient[j] = T(gMean[j]) }
        for j in 0..<precision.count {
            let p = Double(effectivePrecision(precision[j]))
            precisionGradient[j] = precision[j] > 0 ? T(Double(weight) * (gSquares[j] - 1 / p)) : 0
        }
    }
}
