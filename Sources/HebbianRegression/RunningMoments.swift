import CHebbKernels

/// Per-column running mean and variance of a stream of rows: the statistics behind `standardize = true`.
///
/// Each mini-batch is folded in at once with Chan et al.'s parallel update of Welford's algorithm: the batch's
/// own mean and sum of squared deviations are computed in two passes (in Double), then merged with the running
/// ones. This stays accurate for columns far from zero (a date ordinal near 736 389 with a spread of a few
/// hundred), where the textbook Σx² − n·x̄² loses every significant digit in float32 and most in Double.
///
/// The variance is the population variance M2/n, the same as numpy's `var()` (`ddof = 0`) and River's
/// `StandardScaler`.
public struct RunningMoments: Sendable, Equatable, Codable {
    /// Rows seen.
    public private(set) var count: Int = 0
    /// The running mean of each column.
    public private(set) var mean: [Double]
    /// The running sum of squared deviations from the mean (M2) of each column.
    public private(set) var m2: [Double]

    /// No rows yet, `columns` columns.
    public init(columns: Int) {
        mean = [Double](repeating: 0, count: columns)
        m2 = [Double](repeating: 0, count: columns)
    }

    /// Restores saved statistics; `nil` when the arrays do not describe `columns` columns.
    public init?(count: Int, mean: [Double], m2: [Double], columns: Int) {
        guard count >= 0, mean.count == columns, m2.count == columns,
              mean.allSatisfy(\.isFinite), m2.allSatisfy({ $0.isFinite && $0 >= 0 }) else { return nil }
        self.count = count
        self.mean = mean
        self.m2 = m2
    }

    /// The number of columns.
    public var columns: Int { mean.count }

    /// Whether every mean and M2 is finite (a raw value near Double's limit can overflow M2).
    public var isFinite: Bool { mean.allSatisfy(\.isFinite) && m2.allSatisfy(\.isFinite) }

    /// The population variance of column `j` (0 before any row).
    public func variance(_ j: Int) -> Double { count > 0 ? m2[j] / Double(count) : 0 }

    /// The divisor used to standardise column `j`: its standard deviation, or 1 when the column is constant
    /// so far (no rows, zero variance, or a spread below float32's resolution at the column's magnitude).
    /// A constant column therefore standardises to 0 rather than dividing by zero or amplifying rounding noise.
    public func scale(_ j: Int) -> Double {
        isConstant(j) ? 1 : variance(j).squareRoot()
    }

    /// Whether column `j` has shown no usable spread yet: no rows, zero variance, or a standard deviation below
    /// float32's resolution at the column's magnitude (rounding noise, not signal).
    public func isConstant(_ j: Int) -> Bool {
        let sd = variance(j).squareRoot()
        return !(count > 0 && sd > 0 && sd > 1e-7 * abs(mean[j]))
    }

    /// Folds in `rows` rows of `values` (row-major, rows × columns).
    public mutating func add(_ values: UnsafeBufferPointer<Float>, rows: Int) {
        guard rows > 0 else { return }
        let c = columns
        precondition(values.count >= rows * c, "RunningMoments.add: \(values.count) values for \(rows) × \(c)")
        let n = Double(count), nb = Double(rows), total = n + nb
        var batchMean = [Double](repeating: 0, count: c), batchM2 = batchMean
        hebb_batch_moments(values.baseAddress, rows, c, &batchMean, &batchM2)
        for j in 0..<c {
            let delta = batchMean[j] - mean[j]
            mean[j] += delta * nb / total
            m2[j] += batchM2[j] + delta * delta * n * nb / total
        }
        count += rows
    }
}
