import CHebbKernels

/// A circuit's online standardisation (`standardize = true`): the running statistics of X and Y, the float32
/// shift and scale they imply, reusable buffers for a standardised batch, and the mappings between the
/// learning space and the user's units.
///
/// For standardised X̃ = (X − μx)/σx and Ỹ = (Y − μy)/σy the circuit learns W̃ and b̃ with Ỹ ≈ X̃·W̃ + 1·b̃ᵀ;
/// in the user's units that is ŷ = x·W + b with W_jk = W̃_jk·σy_k/σx_j and b_k = μy_k + σy_k·b̃_k − Σ_j μx_j·W_jk
/// (``userUnitCoefficients(weights:intercept:threshold:into:intercept:)``), and a residual ẽ is σy·ẽ in target units
/// (``targetScale``).
///
/// A value: copying it (the divergence guard's rollback) copies the statistics; the float32 mapping is derived
/// from them and recomputed whenever they change (``add(x:y:rows:)``, ``restore(x:y:)``, ``clear()``).
struct Standardizer {
    /// Running mean and variance of every column of X.
    private(set) var xMoments: RunningMoments
    /// Running mean and variance of every output of Y.
    private(set) var yMoments: RunningMoments

    /// The standardisation in force, as float32 shift and 1/scale per column, and Y's scale per output.
    private var xShift: [Float] = [], xInverseScale: [Float] = []
    /// σx per column in Double, 0 for a column with no spread yet (its coefficients are 0 in raw units): the divisor
    /// of ``userUnitCoefficients(weights:intercept:threshold:into:intercept:)``.
    private var xScale: [Double] = []
    private var yShift: [Float] = [], yInverseScale: [Float] = []
    /// σy per output (1 for an output with no spread yet): the factor from a standardised residual to target units.
    private(set) var targetScale: [Double] = []
    /// Standardised copies of the batch in hand (grown to the largest batch, then reused).
    private var scaledX: [Float] = [], scaledY: [Float] = []

    /// No rows seen yet: every column standardises to 0 until it shows a spread.
    init(dictDim: Int, sysDim: Int) {
        self.init(x: RunningMoments(columns: dictDim), y: RunningMoments(columns: sysDim))
    }

    /// Continues from saved statistics.
    init(x: RunningMoments, y: RunningMoments) {
        xMoments = x
        yMoments = y
        refresh()
    }

    /// Whether the statistics are finite (an overflowing batch can make them infinite; the circuit then refuses it).
    var isFinite: Bool { xMoments.isFinite && yMoments.isFinite }

    /// Folds a raw batch into the statistics; the mapping follows them when they stay finite. Returns whether
    /// they did (if not, the caller rolls the whole update back, statistics included).
    mutating func add(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) -> Bool {
        xMoments.add(x, rows: rows)
        yMoments.add(y, rows: rows)
        guard isFinite else { return false }
        refresh()
        return true
    }

    /// Back to earlier statistics (a rolled-back update).
    mutating func restore(x: RunningMoments, y: RunningMoments) {
        xMoments = x
        yMoments = y
        refresh()
    }

    /// Forgets every row (a reset without `keep_statistics`).
    mutating func clear() {
        restore(x: RunningMoments(columns: xMoments.columns), y: RunningMoments(columns: yMoments.columns))
    }

    /// Standardises a raw batch with the statistics in force into the reused buffers; read it with
    /// ``withStandardizedBatch(rows:_:)``. Kept apart from the read so that the step that learns from the batch
    /// only reads the standardiser while it runs.
    mutating func standardize(x: UnsafeBufferPointer<Float>, y: UnsafeBufferPointer<Float>, rows: Int) {
        let d = xMoments.columns, s = yMoments.columns
        if scaledX.count < rows * d { scaledX = [Float](repeating: 0, count: rows * d) }
        if scaledY.count < rows * s { scaledY = [Float](repeating: 0, count: rows * s) }
        Self.standardize(x, rows: rows, columns: d, shift: xShift, inverseScale: xInverseScale, into: &scaledX)
        Self.standardize(y, rows: rows, columns: s, shift: yShift, inverseScale: yInverseScale, into: &scaledY)
    }

    /// Runs `body` on the first `rows` rows of the batch last passed to ``standardize(x:y:rows:)``.
    func withStandardizedBatch<R>(rows: Int, _ body: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>) -> R) -> R {
        let d = xMoments.columns, s = yMoments.columns
        return scaledX.withUnsafeBufferPointer { sx in
            scaledY.withUnsafeBufferPointer { sy in
                body(UnsafeBufferPointer(rebasing: sx[0..<(rows * d)]), UnsafeBufferPointer(rebasing: sy[0..<(rows * s)]))
            }
        }
    }

    /// Raw-unit W (entries of W̃ with |w̃| < `threshold` as exactly 0, the threshold judged in the standardised
    /// space) into `out`, and b into `bias` when given; `intercept` is b̃ (empty without an intercept). A constant
    /// column's effect is the intercept's (its standardised value is 0), so its coefficients are 0. Returns the
    /// number of nonzero coefficients.
    func userUnitCoefficients(weights w: UnsafeBufferPointer<Float>, intercept: [Float], threshold: Float,
                              into out: UnsafeMutableBufferPointer<Float>, intercept b: UnsafeMutableBufferPointer<Float>?) -> Int {
        let d = xMoments.columns, s = yMoments.columns
        var bias = [Double](repeating: 0, count: s)
        for k in 0..<s { bias[k] = yMoments.mean[k] + targetScale[k] * Double(intercept.isEmpty ? 0 : intercept[k]) }
        let nonzero = hebb_user_unit_coefficients(w.baseAddress, d, s, threshold, targetScale, xScale, xMoments.mean,
                                                  out.baseAddress, &bias)
        if let b { for k in 0..<s { b[k] = Float(bias[k]) } }
        return nonzero
    }

    private static func standardize(_ values: UnsafeBufferPointer<Float>, rows: Int, columns: Int, shift: [Float],
                                    inverseScale: [Float], into out: inout [Float]) {
        hebb_standardize(values.baseAddress, rows, columns, shift, inverseScale, &out)
    }

    /// Recomputes the float32 shift and inverse scale of every column from the running statistics.
    private mutating func refresh() {
        let xm = xMoments, ym = yMoments
        xShift = xm.mean.map { Float($0) }
        // A column with no spread yet (every column before the first row) standardises to exactly 0: it can
        // neither be told apart from the intercept nor divide by a zero deviation. Before any row, the model
        // therefore predicts its intercept, not weight_fill times raw values.
        xScale = (0..<xm.columns).map { xm.isConstant($0) ? 0 : xm.scale($0) }
        xInverseScale = xScale.map { $0 == 0 ? 0 : Float(1 / $0) }
        yShift = ym.mean.map { Float($0) }
        targetScale = (0..<ym.columns).map { ym.scale($0) }
        yInverseScale = targetScale.map { Float(1 / $0) }
    }
}
