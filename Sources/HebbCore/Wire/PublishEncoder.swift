import HebbianRegression

/// One message for the publish socket: topic frame, JSON frame and, in binary format, a float32 frame.
package struct PublishedMessage: Sendable, Equatable {
    /// Frame 0, e.g. `coef/demo/`.
    package var topic: [UInt8]
    /// Frame 1.
    package var json: [UInt8]
    /// Frame 2 in `publish.format = "binary"`: the thresholded coefficients, float32 little-endian, row-major.
    package var binary: [UInt8]?

    package init(topic: [UInt8], json: [UInt8], binary: [UInt8]? = nil) {
        self.topic = topic
        self.json = json
        self.binary = binary
    }

}

/// What a coefficient message is made of: a model's publishable state. The engine's ``ModelRunner`` is one;
/// the wire format depends on this, not on the engine.
package protocol PublishableModel {
    /// The model's name.
    var name: String { get }
    /// Its `coef/<name>/` topic.
    var topic: [UInt8] { get }
    /// The circuit whose coefficients, intercept and counters are published.
    var circuit: HebbianCircuit { get }
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

    package init(format: PublishFormat) { self.format = format }

    /// The coefficient message of `runner` after an update (or, with `report == nil`, of its current
    /// state: after a reset or a restore). `forceInlineCoefficients` puts them in the JSON whatever
    /// the format (the `snapshot` control reply).
    package mutating func encode(_ runner: some PublishableModel, report: UpdateReport?, sequence: UInt64, time: Double,
                                 forceInlineCoefficients: Bool = false) -> PublishedMessage {
        let circuit = runner.circuit
        let c = circuit.configuration
        if coefficients.count != circuit.weights.count { coefficients = [Float](repeating: 0, count: circuit.weights.count) }
        if intercept.count != c.sysDim { intercept = [Float](repeating: 0, count: c.sysDim) }
        let nnz = coefficients.withUnsafeMutableBufferPointer { w in
            intercept.withUnsafeMutableBufferPointer { b in circuit.coefficients(into: w, intercept: b) }
        }
        let inline = format == .json || forceInlineCoefficients
        writer.reset()
        writer.beginObject()
        writer.key("v"); writer.int(1)
        writer.key("model"); writer.string(runner.name)
        writer.key("kind"); writer.string(c.kind.rawValue)
        writer.key("seq"); writer.int(sequence)
        writer.key("step"); writer.int(circuit.updates)
        writer.key("samples"); writer.int(circuit.samples)
        writer.key("time"); writer.string(Timestamp.rfc3339(time))
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
        writer.key("threshold"); writer.float(c.threshold)
        writer.key("nnz"); writer.int(nnz)
        writer.key("shape"); writer.beginArray(); writer.int(c.dictDim); writer.int(c.sysDim); writer.endArray()
        writer.key("standardized"); writer.bool(c.standardize)
        writer.key("intercept")
        writer.beginArray()
        for b in intercept { writer.float(b) }
        writer.endArray()
        if inline {
            writer.key("coefficients")
            coefficients.withUnsafeBufferPointer { writer.matrix($0, rows: c.dictDim, columns: c.sysDim) }
        }
        writer.endObject()
        var binary: [UInt8]?
        if !inline {
            binary = coefficients.withUnsafeBytes { raw in
                #if _endian(little)
                return Array(raw)
                #else
                return coefficients.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian) { Array($0) } }
                #endif
            }
        }
        return PublishedMessage(topic: runner.topic, json: writer.bytes, binary: binary)
    }
}
