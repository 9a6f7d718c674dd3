import CBLAS
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The sufficient statistics of a linear-Gaussian model, in raw units and Double, with optional exponential
/// forgetting: the weighted mean and co-moment matrix of the joined rows z = [x, y] (dict_dim + sys_dim columns).
///
/// From them every Gram quantity of the stream is exact: Σw·xxᵀ = Cxx + W·m_x·m_xᵀ, Σw·x·y = Cxy + W·m_x·m_y,
/// Σw·y² = Cyy + W·m_y², the count and the weight W = Σw. They are kept *centred* (mean and co-moments, merged per
/// mini-batch with Chan et al.'s parallel update, weighted) rather than as raw sums because the centred Gram is what
/// an intercept needs, and recovering it from raw sums (Σxxᵀ − W·m·mᵀ) loses every digit on a column like a date
/// ordinal near 736 389 with a spread of a few hundred (see ``RunningMoments``, the same idea per column).
///
/// One mini-batch costs one `dsyrk` on the batch's centred rows (B·(d+s)² multiply-adds) and one rank-one `dsyr`.
///
/// **Forgetting** (`smoothing` s in (0, 1), River's meaning): a row enters with weight 1 − s and everything
/// before it is multiplied by s, so after N rows row k weighs (1 − s)·s^(N−1−k) and the prior's weight is s^N
/// (``priorWeight``; floored at ``minimumPriorWeight`` so the posterior stays proper on directions the data never
/// visits). Without smoothing every row weighs 1 and the prior's weight stays 1.
public struct CrossMoments: Sendable, Equatable, Codable {
    /// Columns of x (dict_dim).
    public let features: Int
    /// Columns of y (sys_dim).
    public let outputs: Int
    /// Rows folded in.
    public private(set) var count: Int = 0
    /// W = Σ w over the rows (the count without smoothing).
    public private(set) var weight: Double = 0
    /// Σ w² over the rows (the count without smoothing): with ``weight``, Kish's effective sample size W²/Σw².
    public private(set) var squaredWeight: Double = 0
    /// The weighted mean of each column of z = [x, y].
    public private(set) var mean: [Double]
    /// The weighted co-moment matrix Σ w (z − m)(z − m)ᵀ, (d + s) × (d + s) row-major; only the upper triangle
    /// (column ≥ row) is kept up to date: read it with ``comoment(_:_:)``.
    public private(set) var upperComoment: [Double]
    /// The weight of the prior relative to its initial weight: s^N with smoothing (floored), 1 without.
    public private(set) var priorWeight: Double = 1

    /// The prior's weight never drops below this (see the type's comment). Invisible next to any data Gram
    /// larger than 10⁻⁴ per row at Double precision.
    public static let minimumPriorWeight = 1e-12

    /// No rows yet.
    public init(features: Int, outputs: Int) {
        self.features = features
        self.outputs = outputs
        mean = [Double](repeating: 0, count: features + outputs)
        upperComoment = [Double](repeating: 0, count: (features + outputs) * (features + outputs))
    }

    /// d + s.
    public var columns: Int { features + outputs }

    /// Kish's effective number of rows, W²/Σw² (the count without smoothing; 0 before any row).
    public var effectiveCount: Double { squaredWeight > 0 ? weight * weight / squaredWeight : 0 }

    /// The centred co-moment Σ w (z_i − m_i)(z_j − m_j) of columns i and j of z = [x, y].
    @inlinable
    public func comoment(_ i: Int, _ j: Int) -> Double {
        i <= j ? upperComoment[i * columns + j] : upperComoment[j * columns + i]
    }

    /// The raw (uncentred) moment Σ w·z_i·z_j.
    @inlinable
    public func rawMoment(_ i: Int, _ j: Int) -> Double { comoment(i, j) + weight * mean[i] * mean[j] }

    /// The weighted variance of column i (co-moment / W; 0 before any row).
    public func variance(_ i: Int) -> Double { weight > 0 ? max(comoment(i, i), 0) / weight : 0 }

    /// Whether every statistic is finite.
    public var isFinite: Bool { weight.isFinite && mean.allSatisfy(\.isFinite) && upperComoment.allSatisfy(\.isFinite) }

    /// The weights of a batch's `rows` rows, oldest first, and the decay of everything before the batch: with
    /// `smoothing` s, row r of k weighs (1 − s)·s^(k−1−r) and the past s^k, as k rows one at a time would; without it,
    /// 1 and 1. The one rule for the statistics here and for the posterior's batch step (``CovarianceCache``).
    static func batchWeights(rows: Int, smoothing: Double?) -> (weights: [Double], decay: Double) {
        var weights = [Double](repeating: 1, count: rows)
        guard let smoothing else { return (weights, 1) }
        var w = 1 - smoothing
        for r in stride(from: rows - 1, through: 0, by: -1) { weights[r] = w; w *= smoothing }
        return (weights, pow(smoothing, Double(rows)))
    }

    /// Folds in `rows` rows of x (rows × features) and y (rows × outputs), row-major, oldest first; `smoothing`
    /// s in (0, 1) forgets as the type's comment says (nil: no forgetting). `workspace` is reused between calls.
    public mutating func add(x: UnsafeBufferPointer<Double>, y: UnsafeBufferPointer<Double>, rows: Int,
                             smoothing: Double?, workspace: inout [Double]) {
        guard rows > 0 else { return }
        let d = features, s = outputs, m = columns
        precondition(x.count >= rows * d && y.count >= rows * s, "CrossMoments.add: short batch")
        let (rowWeights, decay) = Self.batchWeights(rows: rows, smoothing: smoothing)
        var batchWeight = 0.0, batchSquaredWeight = 0.0
        for w in rowWeights { batchWeight += w; batchSquaredWeight += w * w }
        // The batch's weighted mean (first pass).
        var batchMean = [Double](repeating: 0, count: m)
        for r in 0..<rows {
            let w = rowWeights[r]
            for j in 0..<d { batchMean[j] += w * x[r * d + j] }
            for k in 0..<s { batchMean[d + k] += w * y[r * s + k] }
        }
        for j in 0..<m { batchMean[j] /= batchWeight }
        // Its centred, √w-scaled rows (second pass), then C ← decay·C + ZᵀZ on the upper triangle.
        if workspace.count < rows * m { workspace = [Double](repeating: 0, count: rows * m) }
        for r in 0..<rows {
            let root = rowWeights[r].squareRoot()
            for j in 0..<d { workspace[r * m + j] = root * (x[r * d + j] - batchMean[j]) }
            for k in 0..<s { workspace[r * m + d + k] = root * (y[r * s + k] - batchMean[d + k]) }
        }
        let oldWeight = decay * weight, newWeight = oldWeight + batchWeight
        // The shift between the two means: + (W_old·W_b / W)·δδᵀ, and the mean moves by δ·W_b/W.
        var delta = [Double](repeating: 0, count: m)
        for j in 0..<m { delta[j] = batchMean[j] - mean[j] }
        // Above SerialProducts.splitWork the dsyrk is cut by rows into parts of equal work for the pool's threads (a
        // cut fixed by the shape: the same bits whether or not the parts ran at once).
        let work = rows * m * m / 2
        let parts = work >= SerialProducts.splitWork ? SerialProducts.parts(columns: m) : 1
        SerialProducts.serial {
            workspace.withUnsafeBufferPointer { zBuffer in
                upperComoment.withUnsafeMutableBufferPointer { cBuffer in
                    let z = zBuffer.baseAddress!, c = cBuffer.baseAddress!
                    SerialProducts.split(parts) { p, parts in
                        SerialProducts.symmetricRankUpdate(rows: SerialProducts.triangleRow(p, of: parts, n: m),
                                                           SerialProducts.triangleRow(p + 1, of: parts, n: m),
                                                           n: m, k: rows, alpha: 1, a: z, lda: m, beta: decay, c: c, ldc: m)
                    }
                }
            }
            if oldWeight > 0 {
                upperComoment.withUnsafeMutableBufferPointer { c in
                    cblas_dsyr(CblasRowMajor, CblasUpper, blasint(m), oldWeight * batchWeight / newWeight, delta, 1,
                               c.baseAddress, blasint(m))
                }
            }
        }
        for j in 0..<m { mean[j] += delta[j] * batchWeight / newWeight }
        weight = newWeight
        squaredWeight = decay * decay * squaredWeight + batchSquaredWeight
        priorWeight = max(priorWeight * decay, Self.minimumPriorWeight)
        count += rows
    }
}
