import HebbianRegression

/// One message for the publish socket: topic frame, JSON frame and, in binary format, a float32 frame.
package struct PublishedMessage: Sendable, Equatable {
    /// Frame 0, e.g. `coef/demo/`.
    package var topic: [UInt8]
    /// Frame 1.
    package var json: [UInt8]
    /// Frame 2 in `publish.format = "binary"`: the thresholded coefficients, float32 little-endian, row-major.
    package var binary: [UInt8]?
    /// Frames 3, 4 and 5 in binary format for a model with uncertainty: std, lower, upper, each laid out as
    /// frame 2 (docs/PROTOCOL.md); empty otherwise.
    package var uncertaintyFrames: [[UInt8]]

    package init(topic: [UInt8], json: [UInt8], binary: [UInt8]? = nil, uncertaintyFrames: [[UInt8]] = []) {
        self.topic = topic
        self.json = json
        self.binary = binary
        self.uncertaintyFrames = uncertaintyFrames
    }

    /// Every frame, in order.
    package var frames: [[UInt8]] { [topic, json] + (binary.map { [$0] } ?? []) + uncertaintyFrames }

}

/// What a coefficient message is made of: a model's publishable state. The engine's ``ModelRunner`` is one;
/// the wire format depends on this, not on the engine.
package protocol PublishableModel {
    /// The model's name.
    var name: String { get }
    /// Its `coef/<name>/` topic.
    var topic: [UInt8] { get }
    /// The model's configuration.
    var configuration: ModelConfiguration { get }
    /// What learns: its coefficients, intercept and counters are published.
    var learner: ModelLearner { get }
    /// A circuit's uncertainty statistics (`uncertainty = true`), refitted for each message encoded.
    var uncertainty: CircuitUncertainty? { get }
    /// The rolling prequential mse (nil before the first update).
    var prequentialMSE: Double? { get }
    /// How many updates the rolling error spans.
    var windowCount: Int { get }
}

/// How coefficients travel on the publish socket (`publish.format`).
package typealias PublishFormat = DaemonConfiguration.Publish.Format

/// Encodes `coef/<model>/` messages (protocol v1, docs/PROTOCOL.md) by hand into byte buffers.
package struct PublishEncoder {
    /// `json` or `binary`.
    package var format: PublishFormat
    private var writer = JSONWriter(capacity: 1024)
    private var coefficients: [Float] = []
    private var intercept: [Float] = []
    private var bands: [[Float]] = [[], [], []]

    package init(format: PublishFormat) { self.format = format }

    /// The coefficient message of `runner` after an update (or, with `report == nil`, of its current
    /// state: after a reset or a restore). `forceInlineCoefficients` puts them in the JSON whatever
    /// the format (the `snapshot` control reply).
    package mutating func encode(_ runner: some PublishableModel, report: UpdateReport?, sequence: UInt64, time: Double,
                                 forceInlineCoefficients: Bool = false) -> PublishedMessage {
        let c = runner.configuration.circuit, n = c.weightCount
        if coefficients.count != n { coefficients = [Float](repeating: 0, count: n) }
        if intercept.count != c.sysDim { intercept = [Float](repeating: 0, count: c.sysDim) }
        let nnz: Int, updates: Int, samples: Int, threshold: Float
        var uncertain: PublishedUncertainty?
        switch runner.learner {
        case let .circuit(circuit):
            nnz = coefficients.withUnsafeMutableBufferPointer { w in
                intercept.withUnsafeMutableBufferPointer { b in circuit.coefficients(into: w, intercept: b) }
            }
            (updates, samples, threshold) = (circuit.updates, circuit.samples, c.threshold)
            if let statistics = runner.uncertainty { uncertain = PublishedUncertainty(refitOf: circuit, statistics: statistics) }
        case let .bayesian(model):
            let posterior = PublishedUncertainty(posteriorOf: model)
            for i in 0..<n { coefficients[i] = Float(posterior.values.coefficients[i]) }
            for k in 0..<c.sysDim { intercept[k] = Float(posterior.values.intercept[k]) }
            nnz = coefficients.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
            // No threshold: every posterior mean is published.
            (updates, samples, threshold, uncertain) = (model.updates, model.samples, 0, posterior)
        }
        let inline = format == .json || forceInlineCoefficients
        writer.reset()
        writer.beginObject()
        writer.key("v"); writer.int(1)
        writer.key("model"); writer.string(runner.name)
        writer.key("kind"); writer.string(runner.configuration.kindName)
        writer.key("seq"); writer.int(sequence)
        writer.key("step"); writer.int(updates)
        writer.key("samples"); writer.int(samples)
        writer.key("time"); writer.timestamp(time)
        if let report {
            writer.key("loss"); writer.double(report.loss)
            writer.key("mse"); writer.double(report.mse)
            writer.key("penalty"); writer.double(report.penalty)
            writer.key("prior"); writer.double(report.prior)
        } else {
            // No batch was scored since the weights last changed (reset, restore): no loss to report.
            writer.key("loss"); writer.null()
            writer.key("mse"); writer.null()
            writer.key("penalty"); writer.null()
            writer.key("prior"); writer.null()
        }
        writer.key("prequential_mse")
        if let p = runner.prequentialMSE { writer.double(p) } else { writer.null() }
        writer.key("window"); writer.int(runner.windowCount)
        writer.key("threshold"); writer.float(threshold)
        writer.key("nnz"); writer.int(nnz)
        writer.key("shape"); writer.beginArray(); writer.int(c.dictDim); writer.int(c.sysDim); writer.endArray()
        writer.key("standardized"); writer.bool(c.standardize)
        writer.key("intercept")
        intercept.withUnsafeBufferPointer { writer.floats($0) }
        if inline {
            writer.key("coefficients")
            coefficients.withUnsafeBufferPointer { writer.matrix($0, rows: c.dictDim, columns: c.sysDim) }
        }
        if let uncertain {
            // The uncertainty keys (docs/PROTOCOL.md "Uncertainty"); in binary format the three arrays are frames 3–5.
            let u = uncertain.values
            for (band, values) in zip(bands.indices, [u.std, u.lower, u.upper]) {
                if bands[band].count != n { bands[band] = [Float](repeating: 0, count: n) }
                for i in 0..<n { bands[band][i] = Float(values[i]) }
            }
            if inline {
                writer.key("std")
                bands[0].withUnsafeBufferPointer { writer.matrix($0, rows: c.dictDim, columns: c.sysDim) }
            }
            writer.key("intercept_std")
            writer.beginArray()
            for v in u.interceptStd { writer.double(v) }
            writer.endArray()
            writer.key("interval")
            writer.beginObject()
            writer.key("level"); writer.double(u.level)
            if inline {
                writer.key("lower")
                bands[1].withUnsafeBufferPointer { writer.matrix($0, rows: c.dictDim, columns: c.sysDim) }
                writer.key("upper")
                bands[2].withUnsafeBufferPointer { writer.matrix($0, rows: c.dictDim, columns: c.sysDim) }
            }
            writer.endObject()
            writer.key("noise_std")
            writer.beginArray()
            for v in uncertain.noiseStd { writer.double(v) }
            writer.endArray()
        }
        writer.endObject()
        guard !inline else { return PublishedMessage(topic: runner.topic, json: writer.bytes) }
        return PublishedMessage(topic: runner.topic, json: writer.bytes, binary: Self.frame(coefficients),
                                uncertaintyFrames: uncertain == nil ? [] : bands.map(Self.frame))
    }

    /// float32 values as a little-endian frame.
    private static func frame(_ values: [Float]) -> [UInt8] {
        values.withUnsafeBytes { raw in
            #if _endian(little)
            return Array(raw)
            #else
            return values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
            #endif
        }
    }
}

/// The uncertainty one coefficient message carries (docs/PROTOCOL.md): the coefficients' std and intervals, the
/// intercept's std, the noise std. Non-finite where it cannot be known yet (JSON `null`, binary NaN): a sparse
/// model's active set with fewer rows behind it than parameters, or the intercept's std before any row.
struct PublishedUncertainty {
    /// Means, stds, intercept and its std at the level (a sparse model's refit means, not its coefficients).
    var values: CoefficientUncertainty
    /// The noise standard deviation per output, raw units.
    var noiseStd: [Double]

    /// A bayesian model's exact posterior.
    init(posteriorOf model: BayesianRegression) {
        let c = model.configuration
        do {
            values = try model.uncertainty()
        } catch {
            // The posterior is proper by construction (prior precision > 0); should its factorisation fail
            // anyway, the message says "unknown" rather than a wrong number.
            values = Self.unknown(count: c.weightCount, outputs: c.sysDim, level: c.uncertaintyLevel, active: nil)
        }
        noiseStd = model.noiseStd
    }

    /// A sparse circuit's relaxed active-set refit at its published coefficients.
    init(refitOf circuit: HebbianCircuit, statistics: CircuitUncertainty) {
        let c = circuit.configuration, published = circuit.coefficients
        let active = published.map { $0 != 0 }
        let intercept = c.intercept || c.standardize
        do {
            values = try statistics.uncertainty(of: circuit)
        } catch {
            values = Self.unknown(count: c.weightCount, outputs: c.sysDim, level: statistics.level, active: active)
            // Nothing active: every coefficient is exactly 0 with std 0, whatever the rows.
            if !active.contains(true) { values.interceptStd = [Double](repeating: intercept ? .nan : 0, count: c.sysDim) }
        }
        noiseStd = Self.refitNoise(statistics.moments, values.coefficients, active: active, intercept: intercept)
    }

    /// Unknown (NaN) std and intervals for the `active` coefficients (all when nil), exact zeros elsewhere.
    static func unknown(count: Int, outputs: Int, level: Double, active: [Bool]?) -> CoefficientUncertainty {
        let std = (0..<count).map { active?[$0] == false ? 0 : Double.nan }
        return CoefficientUncertainty(coefficients: std.map { $0 == 0 ? 0 : .nan }, std: std,
                                      intercept: [Double](repeating: .nan, count: outputs),
                                      interceptStd: [Double](repeating: .nan, count: outputs), level: level)
    }

    /// The refit's noise std per output: √(RSS / (n_eff − |A| − intercept)), the residuals of the refit's means
    /// `w` on the active set, from the raw statistics (what ``ActiveSetRefit`` estimates); NaN without freedom.
    static func refitNoise(_ moments: CrossMoments, _ w: [Double], active: [Bool], intercept: Bool) -> [Double] {
        let d = moments.features, s = moments.outputs
        func moment(_ i: Int, _ j: Int) -> Double { intercept ? moments.comoment(i, j) : moments.rawMoment(i, j) }
        return (0..<s).map { k in
            let set = (0..<d).filter { active[$0 * s + k] }
            let freedom = moments.effectiveCount - Double(set.count) - (intercept ? 1 : 0)
            guard freedom > 0, set.allSatisfy({ w[$0 * s + k].isFinite }) else { return .nan }
            var rss = moment(d + k, d + k)
            for i in set {
                rss -= 2 * w[i * s + k] * moment(i, d + k)
                for j in set { rss += w[i * s + k] * moment(i, j) * w[j * s + k] }
            }
            return (max(rss, 0) / freedom).squareRoot()
        }
    }
}
