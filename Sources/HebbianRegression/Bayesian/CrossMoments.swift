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
/// One mini-batch costs one `dsyrk` on the batch's centred rows and the shift of the mean (B + 1 rows, (B+1)·(d+s)²/2
/// multiply-adds).
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
        let oldWeight = decay * weight, newWeight = oldWeight + batchWeight
        // Z: the batch's centred, √w-scaled rows, and one more row for the shift between the two means,
        // √(W_old·W_b/W)·δ (Chan's merge, as a rank-one term of the same product); then C ← decay·C + ZᵀZ on the
        // upper triangle. Loops on raw pointers: indexed arrays (bounds-checked, not vectorised) were 5 % of a
        // 256 × 1 / 64 update, and the shift's own `dsyr` another 2 %.
        let k = rows + 1
        if workspace.count < k * m { workspace = [Double](repeating: 0, count: k * m) }
        var delta = [Double](repeating: 0, count: m)
        let shift = (oldWeight > 0 ? oldWeight * batchWeight / newWeight : 0).squareRoot()
        rowWeights.withUnsafeBufferPointer { w in
            mean.withUnsafeBufferPointer { mean in
                workspace.withUnsafeMutableBufferPointer { zBuffer in
                    delta.withUnsafeMutableBufferPointer { deltaBuffer in
                        let z = zBuffer.baseAddress!, batchMean = deltaBuffer.baseAddress!
                        // The batch's weighted mean (first pass), into delta's storage.
                        for r in 0..<rows {
                            let xr = x.baseAddress! + r * d, yr = y.baseAddress! + r * s, wr = w[r]
                            for j in 0..<d { batchMean[j] += wr * xr[j] }
                            for o in 0..<s { batchMean[d + o] += wr * yr[o] }
                        }
                        for j in 0..<m { batchMean[j] /= batchWeight }
                        // The centred, scaled rows (second pass).
                        for r in 0..<rows {
                            let xr = x.baseAddress! + r * d, yr = y.baseAddress! + r * s, zr = z + r * m
                            let root = w[r].squareRoot()
                            for j in 0..<d { zr[j] = root * (xr[j] - batchMean[j]) }
                            for o in 0..<s { zr[d + o] = root * (yr[o] - batchMean[d + o]) }
                        }
                        // δ = batch mean − running mean, and the shift row.
                        let zs = z + rows * m
                        for j in 0..<m {
                            batchMean[j] -= mean[j]
                            zs[j] = shift * batchMean[j]
                        }
                    }
                }
            }
        }
        // Above SerialProducts.splitWork the dsyrk is cut by rows into parts of equal work for the pool's threads (a
        // cut fixed by the shape: the same bits whether or not the parts ran at once).
        let work = k * m * m / 2
        let parts = work >= SerialProducts.splitWork ? SerialProducts.parts(columns: m) : 1
        SerialProducts.serial {
            workspace.withUnsafeBufferPointer { zBuffer in
                upperComoment.withUnsafeMutableBufferPointer { cBuffer in
                    let z = zBuffer.baseAddress!, c = cBuffer.baseAddress!
                    SerialProducts.split(parts) { p, parts in
                        SerialProducts.symmetricRankUpdate(rows: SerialProducts.triangleRow(p, of: parts, n: m),
                                                           SerialProducts.triangleRow(p + 1, of: parts, n: m),
                                                           n: m, k: k, alpha: 1, a: z, lda: m, beta: decay, c: c, ldc: m)
                    }
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
