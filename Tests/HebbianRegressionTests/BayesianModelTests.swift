import Foundation
import Testing
@testable import HebbianRegression

@Suite("Bayesian regression: model")
struct BayesianModelTests {
    /// A stream with a date-like column (mean 7·10⁵) and a poll-like one, two outputs.
    static func rawStream(rows: Int, seed: UInt64 = 5) -> (x: [Double], y: [Double]) {
        var g = SeededGenerator(seed: seed)
        var x: [Double] = [], y: [Double] = []
        for _ in 0..<rows {
            let a = 736_389 + 300 * g.nextGaussian(), b = 43 + 2 * g.nextGaussian(), c = g.nextGaussian()
            x += [a, b, c]
            y += [12 + 0.001 * (a - 736_389) + 0.8 * b - c + 0.2 * g.nextGaussian(), -3 + 0.5 * b + 0.2 * g.nextGaussian()]
        }
        return (x, y)
    }

    /// A batch reaches the posterior by the covariance cache's Woodbury step (T = UΣ, K = TUᵀ + I/g, Σ − WᵀW), by its
    /// rank-one steps, or straight into the statistics with the posterior factored from them when next read
    /// (``BayesianRegression/BatchMethod``). All three are the same posterior as the rows one at a time: 240 rows of a
    /// 24×2 stream (columns near 50, so centring matters) in batches of 8, each method forced, against the rows one by one.
    @Test("a batch learned at once (Woodbury, rank-one steps, or refactored from the statistics) equals the rows learned one by one",
          arguments: [(false, nil), (true, nil), (true, 0.97)] as [(Bool, Double?)],
          [BayesianRegression.BatchMethod.woodbury, .rowByRow, .refactor])
    func batchAtOnce(setting: (Bool, Double?), method: BayesianRegression.BatchMethod) throws {
        let (intercept, smoothing) = setting
        let d = 24, s = 2, rows = 240
        var g = SeededGenerator(seed: 31)
        var x: [Double] = [], y: [Double] = []
        for _ in 0..<rows {
            let row = (0..<d).map { _ in 50 + g.nextGaussian() }
            x += row
            y += [row[0] - 2 * row[5] + 0.3 * g.nextGaussian(), 0.5 * row[23] + 0.3 * g.nextGaussian()]
        }
        var c = BayesianConfiguration(dictDim: d, sysDim: s)
        c.intercept = intercept
        c.smoothing = smoothing
        let rowwise = try BayesianRegression(c), batched = try BayesianRegression(c)
        batched.batchMethodOverride = method
        var rowScores: [Double] = [], batchScores: [Double] = []
        for r in 0..<rows {
            rowScores.append(try rowwise.update(Array(x[(r * d)..<(r * d + d)]), Array(y[(r * s)..<(r * s + s)]), rows: 1).loss)
        }
        for start in stride(from: 0, to: rows, by: 8) {
            batchScores.append(try batched.update(Array(x[(start * d)..<((start + 8) * d)]), Array(y[(start * s)..<((start + 8) * s)]), rows: 8).loss)
        }
        // Uncentred, the columns near 50 make the raw Gram ill-conditioned (~10⁵), which amplifies either path's rounding.
        let tolerance = intercept ? 1e-9 : 1e-8
        let a = try rowwise.uncertainty(), b = try batched.uncertainty()
        #expect(worstRelative(b.coefficients, a.coefficients, scale: a.std) <= tolerance)
        #expect(worstRelative(b.std, a.std, scale: a.std) <= tolerance)
        if intercept { #expect(worstRelative(b.intercept, a.intercept, scale: a.interceptStd) <= tolerance) }
        let probe = Array(x[0..<(3 * d)])
        let pa = try rowwise.predict(probe, rows: 3), pb = try batched.predict(probe, rows: 3)
        #expect(worstRelative(pb.mean, pa.mean, scale: pa.std) <= tolerance && worstRelative(pb.std, pa.std, scale: pa.std) <= tolerance)
        // Scored at the posterior before each batch, so the losses differ, but both learn: the last batch scores far
        // better than the first.
        #expect(batchScores.last! < batchScores.first! / 10 && batched.samples == rows && batched.updates == rows / 8)
    }

    /// From SerialProducts.splitWork multiply-adds (k·d² ≥ 2²¹) a batch's products — the covariance's Woodbury step
    /// and, from as many of its own, the statistics' dsyrk (all a batch folded into the statistics does before the
    /// factor, which runs on one thread) — are cut into parts for the pool's threads. The same posterior as rank-one
    /// steps, and the same bits whether the parts ran at once on two threads or one after another on one: the cut
    /// depends on the shape only.
    @Test("a batch cut into parts for threads equals the rows one by one, bit for bit alike on one thread or two",
          arguments: [BayesianRegression.BatchMethod.woodbury, .refactor])
    func splitBatch(method: BayesianRegression.BatchMethod) throws {
        let d = 256, rows = 3 * 64
        var g = SeededGenerator(seed: 41)
        let x = (0..<(rows * d)).map { _ in 3 + g.nextGaussian() }
        let y = (0..<rows).map { r in x[r * d] - 0.5 * x[r * d + 7] + 0.1 * g.nextGaussian() }
        var c = BayesianConfiguration(dictDim: d, sysDim: 1)
        c.intercept = true
        #expect(65 * d * d >= SerialProducts.splitWork && 64 * (d + 1) * (d + 1) / 2 >= SerialProducts.splitWork)
        let before = BLASThreads.current
        func batched(threads: Int) throws -> CoefficientUncertainty {
            BLASThreads.set(threads)
            let model = try BayesianRegression(c)
            model.batchMethodOverride = method
            for start in stride(from: 0, to: rows, by: 64) {
                try model.update(Array(x[(start * d)..<((start + 64) * d)]), Array(y[start..<(start + 64)]), rows: 64)
            }
            return try model.uncertainty()
        }
        // Both runs on the same instruction set, and no other test changing the thread counts meanwhile.
        let (one, two) = try KernelConfigurationLock.held {
            defer { BLASThreads.set(before) }
            return (try batched(threads: 1), try batched(threads: 2))
        }
        #expect(one.coefficients == two.coefficients && one.std == two.std && one.intercept == two.intercept)
        let rowwise = try BayesianRegression(c)
        for r in 0..<rows { try rowwise.update(Array(x[(r * d)..<(r * d + d)]), [y[r]], rows: 1) }
        let a = try rowwise.uncertainty()
        #expect(worstRelative(two.coefficients, a.coefficients, scale: a.std) <= 1e-9)
        #expect(worstRelative(two.std, a.std, scale: a.std) <= 1e-9)
        #expect(worstRelative(two.intercept, a.intercept, scale: a.interceptStd) <= 1e-9)
    }

    @Test("the free intercept is the limit of a weak prior on a column of ones")
    func interceptIsFlatLimit() throws {
        let (x, y) = Self.rawStream(rows: 50)
        var centred = BayesianConfiguration(dictDim: 3, sysDim: 2)
        centred.intercept = true
        centred.noiseStd = 0.2
        let free = try BayesianRegression(centred)
        try free.update(x, y, rows: 50)
        // The same model with an explicit ones column under an almost flat prior (std 10⁶) and no intercept.
        var explicit = BayesianConfiguration(dictDim: 4, sysDim: 2)
        explicit.noiseStd = 0.2
        explicit.prior = PriorConfiguration(kind: .gaussian, arguments: [.std: .numbers([1, 1, 1, 1, 1, 1, 1e6, 1e6])])
        let ones = try BayesianRegression(explicit)
        let withOnes = (0..<50).flatMap { r -> [Double] in Array(x[(r * 3)..<(r * 3 + 3)]) + [1] }
        try ones.update(withOnes, y, rows: 50)
        let a = try free.uncertainty(), b = try ones.uncertainty()
        for k in 0..<2 {
            #expect(abs(a.intercept[k] - b.coefficients[3 * 2 + k]) <= 1e-5 * abs(a.intercept[k]), "intercept \(k)")
            #expect(abs(a.interceptStd[k] - b.std[3 * 2 + k]) <= 1e-5 * a.interceptStd[k], "intercept std \(k)")
            for j in 0..<3 {
                #expect(abs(a.coefficients[j * 2 + k] - b.coefficients[j * 2 + k]) <= 1e-5 * abs(b.coefficients[j * 2 + k]) + 1e-9)
                #expect(abs(a.std[j * 2 + k] - b.std[j * 2 + k]) <= 1e-5 * b.std[j * 2 + k])
            }
        }
        let probe = Array(x[0..<3])
        let pa = try free.predict(probe, rows: 1), pb = try ones.predict(probe + [1], rows: 1)
        for k in 0..<2 {
            #expect(abs(pa.mean[k] - pb.mean[k]) <= 1e-7 * abs(pb.mean[k]))
            #expect(abs(pa.std[k] - pb.std[k]) <= 1e-6 * pb.std[k])
        }
    }

    @Test("with standardize, rescaling a column rescales its raw coefficient and std and changes no prediction")
    func standardizeIsScaleFree() throws {
        let (x, y) = Self.rawStream(rows: 40)
        var c = BayesianConfiguration(dictDim: 3, sysDim: 2)
        c.standardize = true
        c.noiseStd = 0.3
        let plain = try BayesianRegression(c), scaled = try BayesianRegression(c)
        var x1000 = x
        for r in 0..<40 { x1000[r * 3 + 2] *= 1000 }
        try plain.update(x, y, rows: 40)
        try scaled.update(x1000, y, rows: 40)
        let a = try plain.uncertainty(), b = try scaled.uncertainty()
        for k in 0..<2 {
            #expect(abs(a.coefficients[2 * 2 + k] - 1000 * b.coefficients[2 * 2 + k]) <= 1e-9 * abs(a.coefficients[2 * 2 + k]))
            #expect(abs(a.std[2 * 2 + k] - 1000 * b.std[2 * 2 + k]) <= 1e-9 * a.std[2 * 2 + k])
        }
        let pa = try plain.predict(Array(x[3..<6]), rows: 1), pb = try scaled.predict(Array(x1000[3..<6]), rows: 1)
        for k in 0..<2 {
            #expect(abs(pa.mean[k] - pb.mean[k]) <= 1e-9 * abs(pa.mean[k]))
            #expect(abs(pa.std[k] - pb.std[k]) <= 1e-9 * pa.std[k])
        }
    }

    /// The exact path (fit_noise) and the fast path by each way a batch may take: the model that took a snapshot and the
    /// one restored from it give the same next update, the same posterior and the same predictions, bit for bit.
    @Test("a saved state continues exactly: same predictions, same next update",
          arguments: [nil, BayesianRegression.BatchMethod.rowByRow, .woodbury, .refactor])
    func stateRoundTrip(fastPath method: BayesianRegression.BatchMethod?) throws {
        let (x, y) = Self.rawStream(rows: 30)
        var c = BayesianConfiguration(dictDim: 3, sysDim: 2)
        c.intercept = true
        c.fitNoise = method == nil
        c.smoothing = 0.95
        let model = try BayesianRegression(c)
        model.batchMethodOverride = method
        try model.update(Array(x[0..<60]), Array(y[0..<40]), rows: 20)
        let data = try JSONEncoder().encode(model.state)
        let restored = try BayesianRegression(restoring: try JSONDecoder().decode(BayesianState.self, from: data))
        restored.batchMethodOverride = method
        #expect(restored.state == model.state)
        let a = try model.update(Array(x[60...]), Array(y[40...]), rows: 10)
        let b = try restored.update(Array(x[60...]), Array(y[40...]), rows: 10)
        #expect(a == b)
        #expect(try model.uncertainty() == restored.uncertainty())
        let pa = try model.predict(Array(x[0..<9]), rows: 3), pb = try restored.predict(Array(x[0..<9]), rows: 3)
        #expect(pa.mean == pb.mean && pa.std == pb.std)
        #expect(model.updates == 2 && model.samples == 30)
    }

    /// The fast path folds a batch into the statistics from max(24, 2.5·√d) rows (the crossover measured with each
    /// method forced) unless the model is read after a quarter of its updates or more; below, the cache's Woodbury step while the batch is narrower than d,
    /// its rank-one steps otherwise.
    @Test("a batch goes to the covariance cache while short or often read, and into the statistics from max(24, 2.5·√d) rows")
    func batchMethodChoice() {
        #expect(BayesianRegression.batchMethod(rows: 64, features: 256, readShare: 0.25) == .woodbury)
        #expect(BayesianRegression.batchMethod(rows: 64, features: 256, readShare: 0.2) == .refactor)
        #expect(BayesianRegression.batchMethod(rows: 64, features: 64, readShare: 1) == .rowByRow)
        #expect(BayesianRegression.batchMethod(rows: 1, features: 256) == .rowByRow)
        #expect(BayesianRegression.batchMethod(rows: 8, features: 256) == .woodbury)
        #expect(BayesianRegression.batchMethod(rows: 39, features: 256) == .woodbury)
        #expect(BayesianRegression.batchMethod(rows: 40, features: 256) == .refactor)
        #expect(BayesianRegression.batchMethod(rows: 64, features: 256) == .refactor)
        #expect(BayesianRegression.batchMethod(rows: 2, features: 64) == .woodbury)
        #expect(BayesianRegression.batchMethod(rows: 64, features: 64) == .refactor)
        #expect(BayesianRegression.batchMethod(rows: 16, features: 4) == .rowByRow)
        #expect(BayesianRegression.batchMethod(rows: 24, features: 4) == .refactor)
        #expect(BayesianRegression.batchMethod(rows: 56, features: 512) == .woodbury)
        #expect(BayesianRegression.batchMethod(rows: 57, features: 512) == .refactor)
    }

    /// A model read after at least a quarter of its updates (``BayesianRegression/readShare``, which the daemon sets
    /// from `publish.every`) keeps its long batches on the covariance cache, whose Σ has the stds on its diagonal; one
    /// read less often folds them into the statistics. The read share may change between batches, and every way gives
    /// the posterior of the rows one by one, with the statistics bit for bit those of a model that never changed.
    @Test("a model published often keeps its batches on the covariance cache, one published rarely folds them into the statistics")
    func readShareChoosesTheWay() throws {
        let d = 64, rows = 64
        var g = SeededGenerator(seed: 53)
        var c = BayesianConfiguration(dictDim: d, sysDim: 1)
        c.intercept = true
        let model = try BayesianRegression(c), unread = try BayesianRegression(c), rowwise = try BayesianRegression(c)
        var methods: [BayesianRegression.BatchMethod?] = []
        for (batch, share) in [0.0, 0.125, 1, 0.25, 0.2].enumerated() {
            model.readShare = share
            let x = (0..<(rows * d)).map { _ in 2 + g.nextGaussian() }
            let y = (0..<rows).map { r in x[r * d] - 0.5 * x[r * d + 3] + 0.1 * g.nextGaussian() }
            try model.update(x, y, rows: rows)
            try unread.update(x, y, rows: rows)
            methods.append(model.lastBatchMethod)
            for r in 0..<rows { try rowwise.update(Array(x[(r * d)..<(r * d + d)]), [y[r]], rows: 1) }
            if batch == 2 { _ = try model.uncertainty() }
        }
        #expect(methods == [.refactor, .refactor, .rowByRow, .rowByRow, .refactor])
        #expect(model.moments == unread.moments)
        let a = try rowwise.uncertainty(), b = try model.uncertainty()
        #expect(worstRelative(b.coefficients, a.coefficients, scale: a.std) <= 1e-9)
        #expect(worstRelative(b.std, a.std, scale: a.std) <= 1e-9)
        #expect(worstRelative(b.intercept, a.intercept, scale: a.interceptStd) <= 1e-9)
    }

    @Test("non-finite input is refused and leaves the posterior unchanged")
    func badInput() throws {
        let (x, y) = Self.rawStream(rows: 10)
        let model = try BayesianRegression(BayesianConfiguration(dictDim: 3, sysDim: 2))
        try model.update(x, y, rows: 10)
        let before = model.state
        var bad = Array(x[0..<3])
        bad[1] = .nan
        #expect(throws: CircuitError.self) { try model.update(bad, [1, 2], rows: 1) }
        #expect(throws: CircuitError.self) { try model.update(Array(x[0..<3]), [1, .infinity], rows: 1) }
        #expect(throws: CircuitError.shapeMismatch(what: "x", expected: 3, got: 2)) { try model.update([1, 2], [1, 2], rows: 1) }
        #expect(model.state == before)
    }

    @Test("fit_noise converges to the stream's noise from a wrong start")
    func fitNoise() throws {
        var g = SeededGenerator(seed: 9)
        var c = BayesianConfiguration(dictDim: 3)
        c.fitNoise = true
        c.noiseStd = 2          // the truth is 0.3
        let model = try BayesianRegression(c)
        for _ in 0..<400 {
            var x: [Double] = [], y: [Double] = []
            for _ in 0..<10 {
                let row = (0..<3).map { _ in g.nextGaussian() }
                x += row
                y.append(row[0] - 2 * row[1] + 0.5 * row[2] + 0.3 * g.nextGaussian())
            }
            try model.update(x, y, rows: 10)
        }
        // 4000 rows: the sampling sd of the estimate is about 0.3/√(2·4000) = 0.0034.
        #expect(abs(model.noiseStd[0] - 0.3) <= 0.015, "estimated noise std \(model.noiseStd[0])")
    }

    @Test("float32 rows are widened: the same posterior as their Double values")
    func floatRows() throws {
        let xf: [Float] = [1.5, -2.25, 0.125, 3, 0.5, -1], yf: [Float] = [0.75, -0.5]
        let c = BayesianConfiguration(dictDim: 3)
        let a = try BayesianRegression(c), b = try BayesianRegression(c)
        _ = try xf.withUnsafeBufferPointer { xp in try yf.withUnsafeBufferPointer { yp in try a.update(x: xp, y: yp, rows: 2) } }
        try b.update(xf.map(Double.init), yf.map(Double.init), rows: 2)
        #expect(a.state == b.state)
    }

    @Test("configuration errors name the parameter")
    func validation() {
        var c = BayesianConfiguration(dictDim: 2)
        c.smoothing = 1
        #expect(throws: CircuitError.invalidParameter(name: "smoothing", value: "1.0", expected: "a number in (0, 1)")) { try c.validate() }
        c.smoothing = nil
        c.noiseStd = 0
        #expect(throws: CircuitError.self) { try c.validate() }
        c.noiseStd = 1
        c.prior = PriorConfiguration(kind: .l1)
        #expect(throws: CircuitError.invalidParameter(name: "prior.kind", value: "l1", expected: "\"gaussian\" for kind = \"bayesian\"")) { try c.validate() }
    }
}
