import CBLAS

/// A Gaussian N(μ, P⁻¹) given by its precision P and natural mean η = P·μ, held as the Cholesky factor of P.
///
/// P = L·Lᵀ (LAPACK `dpotrf`), μ = P⁻¹η by two triangular solves, a quadratic form uᵀP⁻¹u = ‖L⁻¹u‖² by one, and
/// the marginal variances diag(P⁻¹) as the squared column norms of L⁻¹ (one `dtrsm` against I). The factor is
/// backward stable: the computed μ is the exact solution for a P perturbed by a few ulps of its entries, which is
/// why hebbd factors the exact accumulators instead of carrying P⁻¹ through rank-one (Sherman–Morrison) updates
/// (docs/MATH.md §10 has the measurement).
public struct GaussianPosterior: Sendable {
    /// The dimension.
    public let dimension: Int
    /// The lower Cholesky factor L of P, column-major (the upper triangle is left as it was).
    private var factor: [Double]
    /// μ = P⁻¹η.
    public let mean: [Double]

    /// Factors `precision` (dimension × dimension, symmetric, only its lower triangle in column-major order — the
    /// upper triangle in row-major — is read) and solves for the mean. Throws when P is not positive definite.
    public init(precision: [Double], naturalMean: [Double], dimension: Int) throws(PosteriorError) {
        precondition(precision.count == dimension * dimension && naturalMean.count == dimension, "GaussianPosterior: shapes")
        self.dimension = dimension
        var factor = precision
        var info: Int32 = 0
        var n = Int32(dimension)
        var lda = Int32(max(dimension, 1))
        if dimension > 0 {
            SerialProducts.run(multiplyAdds: dimension * dimension * dimension / 3) {
                factor.withUnsafeMutableBufferPointer { a in dpotrf_("L", &n, a.baseAddress, &lda, &info, 1) }
            }
        }
        guard info == 0 else { throw .notPositiveDefinite(dimension: dimension, pivot: Int(info)) }
        var mean = naturalMean
        if dimension > 0 {
            cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, n, factor, lda, &mean, 1)
            cblas_dtrsv(CblasColMajor, CblasLower, CblasTrans, CblasNonUnit, n, factor, lda, &mean, 1)
        }
        guard mean.allSatisfy(\.isFinite) else { throw .notPositiveDefinite(dimension: dimension, pivot: 0) }
        self.factor = factor
        self.mean = mean
    }

    /// uᵀP⁻¹u (the posterior variance of uᵀθ).
    public func quadraticForm(_ u: [Double]) -> Double {
        precondition(u.count == dimension, "GaussianPosterior.quadraticForm: \(u.count) values for \(dimension)")
        guard dimension > 0 else { return 0 }
        var v = u
        cblas_dtrsv(CblasColMajor, CblasLower, CblasNoTrans, CblasNonUnit, Int32(dimension), factor, Int32(dimension), &v, 1)
        var sum = 0.0
        for value in v { sum += value * value }
        return sum
    }

    /// uᵀμ.
    public func meanValue(_ u: [Double]) -> Double {
        var sum = 0.0
        for i in 0..<dimension { sum += u[i] * mean[i] }
        return sum
    }

    /// diag(P⁻¹): each coordinate's posterior variance. P⁻¹ = L⁻ᵀL⁻¹, so (P⁻¹)_jj is the squared norm of column j
    /// of L⁻¹, which LAPACK's `dtrtri` forms in place (n³/6 multiply-adds; a `dtrsm` against I took n³/2).
    public func marginalVariances() -> [Double] {
        let n = dimension
        guard n > 0 else { return [] }
        var inverse = factor
        var size = Int32(n), info: Int32 = 0
        SerialProducts.run(multiplyAdds: n * n * n / 6) {
            inverse.withUnsafeMutableBufferPointer { a in dtrtri_("L", "N", &size, a.baseAddress, &size, &info, 1, 1) }
        }
        // A factor with a positive diagonal (dpotrf's) is invertible: info is 0.
        precondition(info == 0, "GaussianPosterior.marginalVariances: dtrtri failed (\(info))")
        var variances = [Double](repeating: 0, count: n)
        inverse.withUnsafeBufferPointer { z in
            for j in 0..<n {
                var sum = 0.0
                for i in j..<n { let v = z[j * n + i]; sum += v * v }
                variances[j] = sum
            }
        }
        return variances
    }

    /// The full covariance P⁻¹ (dimension × dimension, row-major = column-major: it is symmetric), by LAPACK's
    /// `dpotri` from the factor (n³/3 multiply-adds), its lower triangle mirrored.
    public func covariance() -> [Double] {
        let n = dimension
        guard n > 0 else { return [] }
        var inverse = factor
        var size = Int32(n), info: Int32 = 0
        SerialProducts.run(multiplyAdds: n * n * n / 3) {
            inverse.withUnsafeMutableBufferPointer { a in dpotri_("L", &size, a.baseAddress, &size, &info, 1) }
        }
        precondition(info == 0, "GaussianPosterior.covariance: dpotri failed (\(info))")
        // Column-major lower (i ≥ j) is at [j·n + i]; the upper half gets the same values.
        for j in 0..<n { for i in (j + 1)..<max(n, j + 1) { inverse[i * n + j] = inverse[j * n + i] } }
        return inverse
    }
}

/// Why a posterior could not be formed.
public enum PosteriorError: Error, Equatable, CustomStringConvertible {
    /// The precision matrix is not (numerically) positive definite: LAPACK's `dpotrf` stopped at `pivot` (1-based;
    /// 0 means the solve overflowed).
    case notPositiveDefinite(dimension: Int, pivot: Int)
    /// Too few rows for the noise variance of an active-set refit: `rows` (effective) for `parameters` coefficients.
    case insufficientData(rows: Double, parameters: Int)

    public var description: String {
        switch self {
        case let .notPositiveDefinite(dimension, pivot):
            return "posterior precision (\(dimension)×\(dimension)) is not positive definite (Cholesky pivot \(pivot))"
        case let .insufficientData(rows, parameters):
            return "\(rows) effective rows cannot estimate the noise of \(parameters) coefficients"
        }
    }
}
