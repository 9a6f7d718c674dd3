/// Coefficients with their posterior standard deviations and the intervals mean ± z·std at one level, in raw units:
/// what a model with uncertainty publishes (the exact posterior of `kind = "bayesian"`, or the relaxed active-set
/// refit of a sparse model with `uncertainty = true`).
public struct CoefficientUncertainty: Sendable, Equatable {
    /// The coefficients (posterior means), row-major dict_dim × sys_dim, with ŷ = x·W + b.
    public var coefficients: [Double]
    /// Their posterior standard deviations, same shape; exactly 0 for a coefficient held at zero.
    public var std: [Double]
    /// The intercept b per output (0 without one).
    public var intercept: [Double]
    /// Its posterior standard deviation per output (0 without an intercept).
    public var interceptStd: [Double]
    /// The interval's coverage.
    public var level: Double

    /// A value from its parts.
    public init(coefficients: [Double], std: [Double], intercept: [Double], interceptStd: [Double], level: Double) {
        self.coefficients = coefficients
        self.std = std
        self.intercept = intercept
        self.interceptStd = interceptStd
        self.level = level
    }

    /// z = Φ⁻¹((1 + level)/2).
    public var z: Double { StandardNormal.twoSidedQuantile(level: level) }

    /// mean − z·std per coefficient (exactly 0 for a coefficient held at zero).
    public var lower: [Double] { let z = z; return zip(coefficients, std).map { $0 - z * $1 } }

    /// mean + z·std per coefficient.
    public var upper: [Double] { let z = z; return zip(coefficients, std).map { $0 + z * $1 } }
}
