import HebbianRegression
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A verified checkpoint file summarised for `hebbd checkpoint inspect FILE [--json]`.
///
/// Produced only from a file that passed every check (magic, version, lengths, CRC, content), so what it
/// shows is exactly what a restart would load.
package struct CheckpointInspection: Sendable, Equatable {
    /// The file inspected.
    package var path: String
    /// The file's format version (always ``CheckpointStore``'s supported version: others fail to read).
    package var formatVersion: UInt32
    /// The writer's version string from the header (informational).
    package var software: String
    /// The model name.
    package var model: String
    /// The model's kind (`lasso`, `ridge`, `elastic_net`, `bayesian`).
    package var kind: String
    /// The optimiser (`none` for a bayesian model).
    package var optimizer: String
    /// dict_dim (rows of W).
    package var dictDim: Int
    /// sys_dim (columns of W).
    package var sysDim: Int
    /// Mini-batch updates done.
    package var updates: Int
    /// Rows learned.
    package var samples: Int
    /// The model's last publish seq.
    package var sequence: UInt64
    /// Snapshot time, Unix seconds.
    package var wallClockSeconds: Double
    /// Snapshot time, RFC 3339 UTC.
    package var created: String
    /// Rows buffered toward the next batch.
    package var pendingRows: Int
    /// Values in the prequential error window.
    package var windowCount: Int
    /// File size in bytes.
    package var bytes: Int
    /// The file's CRC32 (verified).
    package var crc: UInt32
    /// The publishing threshold.
    package var threshold: Float
    /// W, row-major dict_dim × sys_dim (a bayesian model's posterior means).
    package var weights: [Float]
    /// W with |w| < threshold set to 0 (what the daemon publishes).
    package var coefficients: [Float]
    /// Nonzero coefficients.
    package var nonzero: Int
    /// The prior's kind, a chain as `chain(l1, l2)` (nil: none).
    package var prior: String?
    /// The drift alarm's detector, alarms so far and last alarm step (nil: no `[model.drift]` state).
    package var drift: DriftSummary?
    /// What the model would publish as its uncertainty (a bayesian model's posterior, a sparse one's refit), nil
    /// without uncertainty — or when the refit cannot be formed yet (``uncertaintyProblem`` says why).
    package var uncertainty: CoefficientUncertainty?
    /// Why a model with uncertainty has none to show (too few rows for its active set), nil otherwise.
    package var uncertaintyProblem: String?

    /// What a checkpoint says about a model's drift alarm.
    package struct DriftSummary: Sendable, Equatable {
        /// `page_hinkley` or `adwin`.
        package var detector: String
        /// Alarms so far.
        package var drifts: Int
        /// The step of the last alarm (nil before any).
        package var lastDriftStep: Int?
    }

    package init(path: String, decoded: CheckpointFormat.Decoded) {
        let s = decoded.snapshot
        let c = s.model.circuit
        self.path = path
        formatVersion = decoded.formatVersion
        software = decoded.header.software
        model = s.name
        kind = s.model.kindName
        dictDim = c.dictDim
        sysDim = c.sysDim
        updates = s.updates
        samples = s.samples
        sequence = s.sequence
        wallClockSeconds = s.wallClockSeconds
        created = Timestamp.rfc3339(s.wallClockSeconds)
        pendingRows = s.pendingRows
        windowCount = s.window.count
        bytes = decoded.bytes
        crc = decoded.crc
        func name(_ p: WeightPrior<Float>) -> String {
            p.kind == .chain ? "chain(" + p.components.map(name).joined(separator: ", ") + ")" : p.kind.rawValue
        }
        // The decoder restored both states already, so the learners rebuild from them.
        if let state = s.bayesian, let model = try? BayesianRegression(restoring: state) {
            optimizer = "none"
            threshold = 0
            do { uncertainty = try model.uncertainty() } catch { uncertaintyProblem = error.description }
            weights = (uncertainty?.coefficients ?? []).map(Float.init)
            coefficients = weights
            prior = s.model.circuit.prior.map { "\($0.kind.rawValue) (the posterior's prior)" } ?? "gaussian N(0, 1) (default)"
        } else if let state = s.circuit {
            optimizer = state.configuration.optimizer.rawValue
            threshold = state.configuration.threshold
            weights = state.weights
            // The same rule as HebbianCircuit.coefficients.
            let cut = state.configuration.threshold
            coefficients = state.weights.map { abs($0) >= cut ? $0 : 0 }
            prior = state.prior.map(name)
            if let moments = s.uncertainty, let circuit = try? HebbianCircuit(restoring: state) {
                let statistics = CircuitUncertainty(moments: moments, smoothing: s.model.smoothing, level: s.model.uncertaintyLevel)
                do { uncertainty = try statistics.uncertainty(of: circuit) } catch { uncertaintyProblem = error.description }
            }
        } else {
            (optimizer, threshold, weights, coefficients, prior) = ("none", 0, [], [], nil)
        }
        let published = coefficients
        nonzero = published.reduce(0) { $0 + ($1 != 0 ? 1 : 0) }
        drift = s.drift.map { DriftSummary(detector: $0.detector.kind.rawValue, drifts: $0.drifts, lastDriftStep: $0.lastDriftStep) }
    }

    /// Human-readable: the header fields, then the thresholded coefficients as a table of dict_dim rows.
    package var text: String {
        var out = """
        checkpoint      \(path)
        format version  \(formatVersion)
        written by      hebbd \(software)
        model           \(model)
        kind            \(kind) (\(optimizer))
        shape           \(dictDim) × \(sysDim) (dict_dim × sys_dim)
        updates         \(updates)
        samples         \(samples)
        seq             \(sequence)
        created         \(created)
        pending rows    \(pendingRows)
        window          \(windowCount) values
        bytes           \(bytes)
        crc32           \(checkpointHex32(crc)) (verified)
        threshold       \(threshold)
        nonzero         \(nonzero) of \(coefficients.count)
        prior           \(prior ?? "none")
        drift alarm     \(drift.map { "\($0.detector), \($0.drifts) alarm(s)" + ($0.lastDriftStep.map { ", last at step \($0)" } ?? "") } ?? "none")
        uncertainty     \(uncertaintyLine)

        \(coefficientsTitle):

        """
        let width = 13
        func cell(_ s: String) -> String { String(repeating: " ", count: max(1, width - s.count)) + s }
        out += cell("row")
        for j in 0..<sysDim { out += cell("y\(j)") }
        out += "\n"
        for i in 0..<dictDim {
            out += cell(String(i))
            for j in 0..<sysDim {
                let v = coefficients[i * sysDim + j]
                out += cell(v == 0 ? "0" : Self.sixSignificantDigits(Double(v)))
                if let u = uncertainty {
                    out += " ±" + cell(Self.sixSignificantDigits(u.std[i * sysDim + j]))
                    if kind != ModelConfiguration.bayesianKind { out += cell(Self.sixSignificantDigits(u.coefficients[i * sysDim + j])) }
                }
            }
            out += "\n"
        }
        return out
    }

    /// The title of ``text``'s coefficient table.
    private var coefficientsTitle: String {
        if kind == ModelConfiguration.bayesianKind { return "coefficients (posterior means ± one standard deviation)" }
        return "coefficients (|w| < \(threshold) shown as 0" + (uncertainty == nil ? ")" : "; ± the refit's standard deviation, then the refit's mean)")
    }

    /// The `uncertainty` line of ``text``.
    private var uncertaintyLine: String {
        if let problem = uncertaintyProblem { return "not available yet (\(problem))" }
        guard let u = uncertainty else { return "none" }
        let what = kind == ModelConfiguration.bayesianKind ? "exact posterior" : "relaxed active-set refit"
        return "\(what), \(Self.sixSignificantDigits(u.level * 100)) % intervals"
    }

    /// C's `%.6g` (what a table of coefficients wants: six significant digits, exponent only when needed),
    /// through `vsnprintf` rather than Foundation's `String(format:)`.
    static func sixSignificantDigits(_ value: Double) -> String {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 32) { buffer in
            let written = withVaList([value]) { vsnprintf(buffer.baseAddress!, buffer.count, "%.6g", $0) }
            let bytes = UnsafeRawBufferPointer(start: buffer.baseAddress!, count: max(0, min(Int(written), buffer.count - 1)))
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Machine-readable, one JSON object: `format_version`, `model`, `kind`, `shape`, `updates`, `samples`,
    /// `seq`, `created`, `bytes`, `weights` (raw W) and `coefficients` (thresholded W), both as dict_dim rows
    /// of sys_dim values, plus `path`, `optimizer`, `wall_clock`, `pending_rows`, `crc32`, `threshold`, `nonzero`,
    /// `prior` (its kind, `chain(…)`, or null), `drift` (`{"detector", "drifts", "last_drift_step"}` or null), and for
    /// a model with uncertainty `std`, `intercept_std` and `uncertainty_level` (null otherwise).
    /// Floats are written in their shortest round-trip form; a non-finite weight is `null`.
    package var json: String {
        var w = JSONWriter(capacity: 256 + 24 * weights.count)
        func matrix(_ values: [Float]) {
            values.withUnsafeBufferPointer { w.matrix($0, rows: dictDim, columns: sysDim) }
        }
        w.beginObject()
        w.key("format_version"); w.int(formatVersion)
        w.key("model"); w.string(model)
        w.key("kind"); w.string(kind)
        w.key("shape"); w.beginArray(); w.int(dictDim); w.int(sysDim); w.endArray()
        w.key("updates"); w.int(updates)
        w.key("samples"); w.int(samples)
        w.key("seq"); w.int(sequence)
        w.key("created"); w.string(created)
        w.key("bytes"); w.int(bytes)
        w.key("weights"); matrix(weights)
        w.key("coefficients"); matrix(coefficients)
        w.key("path"); w.string(path)
        w.key("optimizer"); w.string(optimizer)
        w.key("wall_clock"); w.double(wallClockSeconds)
        w.key("pending_rows"); w.int(pendingRows)
        w.key("crc32"); w.string(checkpointHex32(crc))
        w.key("threshold"); w.float(threshold)
        w.key("nonzero"); w.int(nonzero)
        w.key("prior"); if let prior { w.string(prior) } else { w.null() }
        w.key("drift")
        if let drift {
            w.beginObject()
            w.key("detector"); w.string(drift.detector)
            w.key("drifts"); w.int(drift.drifts)
            w.key("last_drift_step"); if let step = drift.lastDriftStep { w.int(step) } else { w.null() }
            w.endObject()
        } else {
            w.null()
        }
        // A model with uncertainty: the std (same rows as the coefficients), the intercept's, and the level.
        w.key("std")
        if let u = uncertainty { matrix(u.std.map(Float.init)) } else { w.null() }
        w.key("intercept_std")
        if let u = uncertainty { w.beginArray(); for v in u.interceptStd { w.double(v) }; w.endArray() } else { w.null() }
        w.key("uncertainty_level"); if let u = uncertainty { w.double(u.level) } else { w.null() }
        w.endObject()
        return String(decoding: w.bytes, as: UTF8.self)
    }
}
