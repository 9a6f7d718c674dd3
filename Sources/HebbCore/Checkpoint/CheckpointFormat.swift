import HebbianRegression
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// # hebbd checkpoint file format, version 5 (reads 1 to 5)
///
/// One file holds one ``ModelSnapshot``. All integers are little-endian. Layout:
///
///     offset      size  field
///     0           8     magic, the ASCII bytes "HEBBCKPT"
///     8           4     format version, UInt32 = 5
///     12          4     header length H, UInt32 (bytes of the JSON header, including its padding)
///     16          8     payload length P, UInt64
///     24          H     header: UTF-8 JSON object, padded with spaces so that 24 + H is a multiple of 8
///     24+H        P     payload: raw little-endian arrays, each starting at a multiple of 8
///     24+H+P      4     CRC-32 (IEEE 802.3, as zlib.crc32) of bytes [0, 24+H+P), UInt32
///
/// The file size is exactly 28 + H + P; anything shorter is "truncated", anything longer has
/// "trailing bytes". A reader checks, in this order and before decoding anything: magic, format version
/// (**strictly**: a version outside ``readableVersions`` is refused, never read "best effort"), the lengths against the
/// file size, the CRC, then parses the header and the arrays it indexes. The software version that wrote
/// the file is recorded (`software`) for humans and never checked: only the format version decides.
///
/// ## Header (JSON, keys sorted so that equal snapshots give identical files)
///
///     format                "hebbd-checkpoint"
///     software              writer's version string (informational)
///     model                 model name (= model_configuration.name = the directory name)
///     kind, shape           regression kind (`bayesian` too), [dict_dim, sys_dim] (informational; the configuration decides)
///     updates, samples      the learner's counters
///     seq                   the model's last publish seq (UInt64)
///     pending_rows          rows buffered toward the next mini-batch
///     created, wall_clock   snapshot time as RFC 3339 and as Unix seconds (informational; exact value in `wall_clock`)
///     optimizer             optimiser kind of W's state ("none" for a bayesian model, which has no W to optimise)
///     prior                 null, or the circuit's WeightPrior in its explicit-key Codable JSON (version 3; versions
///                           1 and 2: {"fit_hyper", "optimizer"} of a Gaussian prior whose values are payload arrays)
///     drift                 null, or {"detector": AnyDriftDetector's Codable JSON, "drifts", "last_drift_step"} (version 3)
///     journal               null, or {"position": {"segment", "offset"}, "producers": {name: mark}}: the journal position
///                           the state covers and the reliable producers' high-water marks there (version 4, docs/JOURNAL.md)
///     model_configuration   {"name", "batch_size", "circuit": CircuitConfiguration as JSON, "drift": null or
///                           {"action", "detector": DriftDetectorConfiguration's flat table}}; the circuit's "prior"
///                           is the PriorConfiguration's Codable JSON (version 3); version 5 adds "learner": the
///                           keys `kind`, `uncertainty`, `noise_std`, `fit_noise`, `smoothing`, `uncertainty_level` as
///                           the model's config table has them (``ModelConfiguration/learnerKeys``; a bayesian model's
///                           "circuit" object then only carries the shape, prior, standardize and intercept)
///     circuit_configuration null when the circuit's configuration equals model_configuration.circuit, else it
///     arrays                the payload index: [{"name", "dtype", "count", "offset"}], dtype ∈ f32 | f64 | u64,
///                           count in elements, offset in bytes from the start of the payload
///
/// The configuration's Float fields travel as bit patterns: the header's copies are informational, and the
/// reader takes them from the payload (`*.scalars`). The prior and drift state (version 3) are JSON in the
/// header instead, because they are trees (chains, ADWIN's bucket rows) the flat payload index cannot express;
/// their numbers are in shortest round-trip form (non-finite ones as "inf", "-inf", "nan"), so they come back
/// bit for bit, and the writer checks that they do before anything reaches the disk.
///
/// ## Payload arrays
///
///     weights                      f32  dict_dim × sys_dim, row-major
///     optimizer.m, optimizer.v     f32  Adam moments (dict_dim × sys_dim for Adam, 0 for SGD)
///     optimizer.t                  f32  1, the optimiser step counter
///     prior.*                      versions 1 and 2 only: a Gaussian prior's mean, precision, weight and their
///                                  optimiser states
///     generator                    u64  4, xoshiro256** state
///     pending.x, pending.y         f32  pending_rows × dict_dim, pending_rows × sys_dim
///     window                       f64  the rolling prequential error values, oldest first
///     wall_clock                   f64  1, Unix seconds
///     model.circuit.scalars        f32  5: lr, lmbda, l1_ratio, threshold, weight_fill
///     bayesian.moments.*           version 5, kind = "bayesian" (instead of weights, optimizer.*, generator, intercept.*,
///                                  moments.*): ``CrossMoments`` — `.count` u64 1, `.scalars` f64 3 (weight, squared
///                                  weight, prior weight), `.mean` f64 d + s, `.comoment` f64 (d + s)², row-major upper
///                                  triangle in force; pending.x and pending.y are then f64 (float64 ingest kept exact)
///     bayesian.noise.*             f64: `.sum` s, `.weight` s, `.start_weight` 1 (``NoiseEstimate``)
///     uncertainty.moments.*        version 5, a sparse kind with uncertainty = true: its ``CrossMoments``, as above
///     model.circuit.prior.{mean,std,weight}   f32   versions 1 and 2: the configured Gaussian prior
///     circuit.configuration.*      the same three for the circuit's own configuration, only when it differs
///
/// Unknown header keys and unknown arrays are ignored by this reader, so version 1 may gain optional
/// fields; a change to the meaning or layout of an existing field requires a new format version.
///
/// Why this shape: a fixed binary prefix lets a reader reject foreign, truncated or future files before
/// parsing anything; JSON keeps the header readable with `head -c` and any language; raw little-endian
/// arrays keep a 4096 × 64 model's 3 MB of state out of decimal text (exact and fast), readable with
/// `numpy.frombuffer(data, "<f4", count, offset)`; the CRC catches torn writes and bit rot.
package enum CheckpointFormat {
    /// "HEBBCKPT".
    package static let magic: [UInt8] = Array("HEBBCKPT".utf8)
    /// The format version this build writes.
    package static let version: UInt32 = 5
    /// The versions it reads: 1 (before intercepts, standardisation and the explicit header keys), 2 (a
    /// Gaussian prior only, in payload arrays), 3 (before the journal position), 4 (before bayesian models and
    /// uncertainty) and 5.
    package static let readableVersions: ClosedRange<UInt32> = 1...5
    /// Magic, version, header length, payload length.
    package static let prefixBytes = 24
    /// The trailing CRC.
    package static let trailerBytes = 4
    /// Value of the header's `format` field.
    package static let formatName = "hebbd-checkpoint"

    // MARK: Header

    package struct ArrayEntry: Equatable {
        var name: String
        var dtype: String
        var count: Int
        var offset: Int
    }

    /// The prior part of the header: whether its hyper-parameters are fitted, and with which optimiser.
    package struct PriorHeader: Equatable {
        var fitHyper: Bool
        var optimizer: String
    }

    /// The JSON header, written and read field by field with explicit keys (``HeaderKeys``), never through a
    /// compiler-generated `Codable`: renaming a Swift property cannot change the file format.
    package struct Header {
        var format: String
        var software: String
        var model: String
        var kind: String
        var shape: [Int]
        var updates: Int
        var samples: Int
        var seq: UInt64
        var pendingRows: Int
        var created: String
        var wallClock: Double
        var optimizer: String
        /// Versions 1 and 2: the Gaussian prior's flags (its values are payload arrays).
        var prior: PriorHeader?
        /// Version 3: the circuit's ``WeightPrior`` in its explicit-key `Codable` form, or null.
        var priorState: JSON = .null
        /// Version 3: the drift alarm's state, `{"detector", "drifts", "last_drift_step"}`, or null.
        var drift: JSON = .null
        /// Version 4: the journal coverage (``JournalCoverage/json``), or null.
        var journal: JSON = .null
        var modelName: String
        var batchSize: Int
        var modelCircuit: CircuitConfiguration
        /// Version 3: the model's `[model.drift]`.
        var modelDrift: DriftAlarm? = nil
        /// Version 5: `model_configuration.learner`, the model's issue-17 keys (``ModelConfiguration/learnerKeys``).
        var learner: JSON = .null
        var circuitConfiguration: CircuitConfiguration?
        var arrays: [ArrayEntry]
    }

    /// A `Codable` value of the learning core (a prior, a prior configuration, a drift detector) as JSON, through
    /// its own explicit coding keys (``JSONCoding``: no Foundation coder). A value that cannot be encoded becomes
    /// null, which the writer's read-back check then refuses.
    static func codableJSON<T: Encodable>(_ value: T) -> JSON {
        (try? JSONCoding.encode(value)) ?? .null
    }

    /// The inverse of ``codableJSON(_:)``; the error names `path`.
    static func decodeCodable<T: Decodable>(_ type: T.Type, _ json: JSON, path: String) throws(HeaderError) -> T {
        do {
            return try JSONCoding.decode(type, from: json)
        } catch {
            throw HeaderError("\"\(path)\" is not a valid \(type): \(error)")
        }
    }

    /// The drift state in the header (version 3).
    static func json(_ drift: DriftState?) -> JSON {
        guard let drift else { return .null }
        return .object([("detector", codableJSON(drift.detector)), ("drifts", .integer(Int64(drift.drifts))),
                        ("last_drift_step", drift.lastDriftStep.map { .integer(Int64($0)) } ?? .null)])
    }

    /// The model's drift alarm in the header (version 3).
    static func json(_ alarm: DriftAlarm?) -> JSON {
        guard let alarm else { return .null }
        return .object([("action", .string(alarm.action.rawValue)), ("detector", codableJSON(alarm.detector))])
    }

    /// The names a circuit configuration's fields have in the header, for reading. Versions 2 and 3 use the config
    /// file's own keys (written through ``ModelConfiguration/configurationKeys``, which a test holds equal to
    /// ``current``); version 1 files (written before the header was explicit) carry the Swift property names of the
    /// time, frozen here so that they keep loading.
    struct CircuitKeys {
        var kind = "kind", dictDim = "dict_dim", sysDim = "sys_dim", epochs = "epochs", optimizer = "optim"
        var learningRate = "lr", lmbda = "lmbda", l1Ratio = "l1_ratio", threshold = "threshold", weightFill = "weight_fill"
        var update = "update", prune = "prune", initialization = "init", seed = "seed", prior = "prior", fitHyper = "fit_hyper"
        var standardize: String? = "standardize", intercept: String? = "intercept"

        static let current = CircuitKeys()
        static let version1 = CircuitKeys(
            dictDim: "dictDim", sysDim: "sysDim", optimizer: "optimizer", learningRate: "learningRate", l1Ratio: "l1Ratio",
            weightFill: "weightFill", initialization: "initialization", fitHyper: "fitHyper", standardize: nil, intercept: nil)
    }

    /// The header as JSON, keys in a fixed order, so equal snapshots give identical files.
    static func json(_ h: Header) -> JSON {
        // The circuit's keys as the one configuration key table writes them for checkpoints (frozen format).
        func circuit(_ c: CircuitConfiguration) -> JSON {
            .object(ModelConfiguration.configurationKeys.compactMap { key in key.checkpoint.map { (key.name, $0(c)) } })
        }
        let arrays: [JSON] = h.arrays.map {
            .object([("name", .string($0.name)), ("dtype", .string($0.dtype)), ("count", .integer(Int64($0.count))), ("offset", .integer(Int64($0.offset)))])
        }
        return .object([
            ("format", .string(h.format)), ("software", .string(h.software)), ("model", .string(h.model)), ("kind", .string(h.kind)),
            ("shape", .array(h.shape.map { .integer(Int64($0)) })), ("updates", .integer(Int64(h.updates))),
            ("samples", .integer(Int64(h.samples))), ("seq", .string(String(h.seq))), ("pending_rows", .integer(Int64(h.pendingRows))),
            ("created", .string(h.created)), ("wall_clock", .number(h.wallClock.isFinite ? h.wallClock : 0)),
            ("optimizer", .string(h.optimizer)),
            ("prior", h.priorState), ("drift", h.drift), ("journal", h.journal),
            ("model_configuration", .object([("name", .string(h.modelName)), ("batch_size", .integer(Int64(h.batchSize))),
                                             ("circuit", circuit(h.modelCircuit)), ("drift", json(h.modelDrift)),
                                             ("learner", h.learner)])),
            ("circuit_configuration", h.circuitConfiguration.map(circuit) ?? .null),
            ("arrays", .array(arrays)),
        ])
    }

    /// Reads a header of format `version`; every missing or mistyped field is named in the error.
    static func header(_ json: JSON, version: UInt32) throws(HeaderError) -> Header {
        let keys = version == 1 ? CircuitKeys.version1 : CircuitKeys.current
        func field(_ object: JSON, _ key: String, _ path: String) throws(HeaderError) -> JSON {
            guard let value = object[key] else { throw HeaderError("missing key \"\(path)\(key)\"") }
            return value
        }
        func string(_ o: JSON, _ k: String, _ path: String = "") throws(HeaderError) -> String {
            guard let v = try field(o, k, path).string else { throw HeaderError("\"\(path)\(k)\" is not a string") }
            return v
        }
        func int(_ o: JSON, _ k: String, _ path: String = "") throws(HeaderError) -> Int {
            guard let v = try field(o, k, path).int else { throw HeaderError("\"\(path)\(k)\" is not an integer") }
            return v
        }
        func bool(_ o: JSON, _ k: String, _ path: String = "") throws(HeaderError) -> Bool {
            guard let v = try field(o, k, path).bool else { throw HeaderError("\"\(path)\(k)\" is not a boolean") }
            return v
        }
        func double(_ o: JSON, _ k: String, _ path: String = "") throws(HeaderError) -> Double {
            guard let v = try field(o, k, path).double else { throw HeaderError("\"\(path)\(k)\" is not a number") }
            return v
        }
        /// A UInt64 written as a JSON integer (version 1) or a decimal string (version 2: exact in every JSON reader).
        func word(_ o: JSON, _ k: String, _ path: String = "") throws(HeaderError) -> UInt64 {
            let v = try field(o, k, path)
            if let s = v.string, let w = UInt64(s) { return w }
            if let i = v.int64, i >= 0 { return UInt64(i) }
            if case let .number(d) = v, d >= 0, d < 1.8446744073709552e19, d == d.rounded() { return UInt64(d) }
            throw HeaderError("\"\(path)\(k)\" is not an unsigned integer")
        }
        func choice<T: RawRepresentable>(_ o: JSON, _ k: String, _ path: String) throws(HeaderError) -> T where T.RawValue == String {
            let raw = try string(o, k, path)
            guard let v = T(rawValue: raw) else { throw HeaderError("\"\(path)\(k)\" has an unknown value \"\(raw)\"") }
            return v
        }
        func circuit(_ o: JSON, _ path: String) throws(HeaderError) -> CircuitConfiguration {
            guard o.object != nil else { throw HeaderError("\"\(path)\" is not an object") }
            let p = path + "."
            var c = CircuitConfiguration(kind: try choice(o, keys.kind, p), dictDim: try int(o, keys.dictDim, p), sysDim: try int(o, keys.sysDim, p))
            c.epochs = try int(o, keys.epochs, p)
            c.optimizer = try choice(o, keys.optimizer, p)
            c.update = try choice(o, keys.update, p)
            c.prune = try bool(o, keys.prune, p)
            c.initialization = try choice(o, keys.initialization, p)
            c.seed = try word(o, keys.seed, p)
            if let k = keys.standardize { c.standardize = try bool(o, k, p) }
            if let k = keys.intercept { c.intercept = try bool(o, k, p) }
            // Version 1 omits a nil prior; versions 2 and 3 write null.
            switch o[keys.prior] ?? .null {
            case .null: c.prior = nil
            case let prior where version >= 3:
                c.prior = try decodeCodable(PriorConfiguration.self, prior, path: p + keys.prior)
            case let prior where prior.object != nil:
                // A Gaussian prior: mean, std and weight come from the payload (exact bits); only fit_hyper is in the header.
                c.prior = PriorConfiguration(kind: .gaussian, arguments: [.fitHyper: .flag(try bool(prior, keys.fitHyper, p + keys.prior + "."))])
            default: throw HeaderError("\"\(p)\(keys.prior)\" is neither null nor an object")
            }
            return c
        }
        let model = try field(json, "model_configuration", "")
        var arrays: [ArrayEntry] = []
        guard let listed = try field(json, "arrays", "").array else { throw HeaderError("\"arrays\" is not an array") }
        for (i, entry) in listed.enumerated() {
            let p = "arrays[\(i)]."
            arrays.append(ArrayEntry(name: try string(entry, "name", p), dtype: try string(entry, "dtype", p),
                                     count: try int(entry, "count", p), offset: try int(entry, "offset", p)))
        }
        var prior: PriorHeader?
        let priorField = try field(json, "prior", "")
        if version < 3, priorField != .null {
            prior = PriorHeader(fitHyper: try bool(priorField, "fit_hyper", "prior."), optimizer: try string(priorField, "optimizer", "prior."))
        }
        var modelDrift: DriftAlarm?
        if version >= 3, let alarm = model["drift"], alarm != .null {
            let path = "model_configuration.drift."
            guard let action = DriftAction(rawValue: try string(alarm, "action", path)) else { throw HeaderError("\"\(path)action\" has an unknown value") }
            modelDrift = DriftAlarm(detector: try decodeCodable(DriftDetectorConfiguration.self, try field(alarm, "detector", path), path: path + "detector"),
                                    action: action)
        }
        let separate = try field(json, "circuit_configuration", "")
        guard let shape = try field(json, "shape", "").array?.compactMap(\.int), shape.count == 2 else {
            throw HeaderError("\"shape\" is not two integers")
        }
        var journal = JSON.null
        if version >= 4 {
            journal = try field(json, "journal", "")
            if journal != .null, JournalCoverage(json: journal) == nil {
                throw HeaderError("\"journal\" is not {\"position\": {\"segment\", \"offset\"}, \"producers\": {name: mark}}")
            }
        }
        var header = Header(
            format: try string(json, "format"), software: try string(json, "software"), model: try string(json, "model"),
            kind: try string(json, "kind"), shape: shape, updates: try int(json, "updates"), samples: try int(json, "samples"),
            seq: try word(json, "seq"), pendingRows: try int(json, "pending_rows"), created: try string(json, "created"),
            wallClock: try double(json, "wall_clock"), optimizer: try string(json, "optimizer"), prior: prior,
            priorState: version >= 3 ? priorField : .null, drift: version >= 3 ? (json["drift"] ?? .null) : .null,
            modelName: try string(model, "name", "model_configuration."), batchSize: try int(model, "batch_size", "model_configuration."),
            modelCircuit: try circuit(try field(model, "circuit", "model_configuration."), "model_configuration.circuit"),
            modelDrift: modelDrift,
            circuitConfiguration: separate == .null ? nil : try circuit(separate, "circuit_configuration"),
            arrays: arrays)
        header.journal = journal
        if version >= 5 { header.learner = try field(model, "learner", "model_configuration.") }
        return header
    }

    /// The model's issue-17 keys for the header (version 5), written by the one key table.
    static func learnerJSON(_ model: ModelConfiguration) -> JSON {
        guard case let .table(table) = model.configValue else { return .null }
        return .object(ModelConfiguration.learnerKeys.compactMap { key in table[key].map { (key, $0.json) } })
    }

    /// Applies `model_configuration.learner` (version 5) to a model whose circuit the header gave: through the key
    /// table's own readers, so the header accepts exactly what a config file would.
    static func applyLearner(_ learner: JSON, to model: inout ModelConfiguration) throws(HeaderError) {
        let path = "model_configuration.learner"
        guard learner != .null else { return }
        do {
            guard case let .table(table) = try ConfigValue(json: learner, source: "checkpoint header") else {
                throw HeaderError("\"\(path)\" is not an object")
            }
            guard case let .string(kind)? = table["kind"] else { throw HeaderError("\"\(path).kind\" is not a string") }
            model.isBayesian = kind == ModelConfiguration.bayesianKind
            guard model.kindName == kind else { throw HeaderError("\"\(path).kind\" is \"\(kind)\", the circuit's is \"\(model.circuit.kind.rawValue)\"") }
            let reader = try TableReader(table, file: "checkpoint header", table: path, known: ModelConfiguration.learnerKeys)
            let context = ModelTableContext(file: "checkpoint header", label: path)
            for key in ModelConfiguration.configurationKeys where key.name != "kind" && ModelConfiguration.learnerKeys.contains(key.name) {
                try key.read(reader, &model, context)
            }
        } catch let error as HeaderError {
            throw error
        } catch {
            throw HeaderError("\"\(path)\": \(error)")
        }
    }

    /// The payload arrays of a ``CrossMoments`` under `prefix`.
    fileprivate static func append(_ moments: CrossMoments, prefix: String, to payload: inout PayloadBuilder) {
        payload.append("\(prefix).count", [UInt64(moments.count)])
        payload.append("\(prefix).scalars", [moments.weight, moments.squaredWeight, moments.priorWeight])
        payload.append("\(prefix).mean", moments.mean)
        payload.append("\(prefix).comoment", moments.upperComoment)
    }

    /// The ``CrossMoments`` of a d × s model under `prefix`, rebuilt through its `Codable` form (the learning core
    /// keeps its fields read-only; ``JSONCoding`` carries the exact Doubles).
    fileprivate static func moments(_ prefix: String, features d: Int, outputs s: Int, from payload: PayloadReader,
                                    path: String) throws(CheckpointError) -> CrossMoments {
        let m = d + s
        let count = try payload.words("\(prefix).count", count: 1)[0]
        let scalars = try payload.doubles("\(prefix).scalars", count: 3)
        let mean = try payload.doubles("\(prefix).mean", count: m)
        let comoment = try payload.doubles("\(prefix).comoment", count: m * m)
        guard count <= UInt64(Int.max) else { throw .invalidState(path: path, reason: "\(prefix).count is \(count)") }
        let json = JSON.object([
            ("features", .integer(Int64(d))), ("outputs", .integer(Int64(s))), ("count", .integer(Int64(count))),
            ("weight", JSONCoding.number(scalars[0])), ("squaredWeight", JSONCoding.number(scalars[1])),
            ("priorWeight", JSONCoding.number(scalars[2])),
            ("mean", .array(mean.map(JSONCoding.number))), ("upperComoment", .array(comoment.map(JSONCoding.number))),
        ])
        let restored: CrossMoments
        do { restored = try JSONCoding.decode(CrossMoments.self, from: json) } catch {
            throw .invalidState(path: path, reason: "\(prefix) holds invalid statistics: \(error)")
        }
        guard restored.isFinite, restored.weight >= 0, restored.squaredWeight >= 0, restored.priorWeight > 0 else {
            throw .invalidState(path: path, reason: "\(prefix) holds non-finite or negative statistics")
        }
        return restored
    }

    /// A header field that is missing or of the wrong type.
    struct HeaderError: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// A decoded file: its header, the snapshot, and the facts `inspect` shows.
    package struct Decoded {
        package var header: Header
        package var snapshot: ModelSnapshot
        package var formatVersion: UInt32
        package var bytes: Int
        package var crc: UInt32
    }

    // MARK: Encoding

    /// The complete file for `snapshot`. Throws if the snapshot is inconsistent or would not read back equal.
    package static func encode(_ snapshot: ModelSnapshot, software: String) throws(CheckpointError) -> [UInt8] {
        try snapshot.validate()
        if let bayesian = snapshot.bayesian { return try encode(snapshot, bayesian: bayesian, software: software) }
        // validate() guarantees a circuit state for the other kinds.
        let state = snapshot.circuit!
        if let reason = restorationProblem(state) {
            throw .invalidSnapshot(model: snapshot.name, reason: reason)
        }
        var payload = PayloadBuilder()
        payload.append("weights", state.weights)
        payload.append("optimizer.m", state.optimizer.m)
        payload.append("optimizer.v", state.optimizer.v)
        payload.append("optimizer.t", [state.optimizer.t])
        payload.append("generator", state.generator.state)
        payload.append("intercept", state.intercept)
        payload.append("intercept.m", state.interceptOptimizer.m)
        payload.append("intercept.v", state.interceptOptimizer.v)
        payload.append("intercept.t", [state.interceptOptimizer.t])
        for (name, moments) in [("moments.x", state.xMoments), ("moments.y", state.yMoments)] {
            guard let moments else { continue }
            payload.append("\(name).count", [UInt64(moments.count)])
            payload.append("\(name).mean", moments.mean)
            payload.append("\(name).m2", moments.m2)
        }
        if let moments = snapshot.uncertainty { append(moments, prefix: "uncertainty.moments", to: &payload) }
        payload.append("pending.x", snapshot.pendingX)
        payload.append("pending.y", snapshot.pendingY)
        payload.append("window", snapshot.window)
        payload.append("wall_clock", [snapshot.wallClockSeconds])
        let separateCircuitConfiguration = state.configuration != snapshot.model.circuit
        appendConfigurationFloats(snapshot.model.circuit, prefix: "model.circuit", to: &payload)
        if separateCircuitConfiguration {
            appendConfigurationFloats(state.configuration, prefix: "circuit.configuration", to: &payload)
        }

        let c = state.configuration
        var header = Header(
            format: formatName, software: software, model: snapshot.name, kind: c.kind.rawValue,
            shape: [c.dictDim, c.sysDim], updates: state.updates, samples: state.samples, seq: snapshot.sequence,
            pendingRows: snapshot.pendingRows, created: Timestamp.rfc3339(snapshot.wallClockSeconds),
            wallClock: snapshot.wallClockSeconds, optimizer: state.optimizer.kind.rawValue,
            prior: nil, priorState: state.prior.map { codableJSON($0) } ?? .null, drift: json(snapshot.drift),
            modelName: snapshot.model.name, batchSize: snapshot.model.batchSize, modelCircuit: snapshot.model.circuit,
            modelDrift: snapshot.model.drift,
            circuitConfiguration: separateCircuitConfiguration ? c : nil, arrays: payload.index)
        header.journal = snapshot.journal?.json ?? .null
        header.learner = learnerJSON(snapshot.model)
        return try assemble(header, payload: payload, snapshot: snapshot)
    }

    /// The file of a bayesian model's snapshot: its statistics and noise estimate instead of a circuit's arrays.
    private static func encode(_ snapshot: ModelSnapshot, bayesian state: BayesianState, software: String) throws(CheckpointError) -> [UInt8] {
        do { _ = try BayesianRegression(restoring: state) } catch {
            throw .invalidSnapshot(model: snapshot.name, reason: error.description)
        }
        var payload = PayloadBuilder()
        append(state.moments, prefix: "bayesian.moments", to: &payload)
        payload.append("bayesian.noise.sum", state.noise.sum)
        payload.append("bayesian.noise.weight", state.noise.weight)
        payload.append("bayesian.noise.start_weight", [state.noise.startWeight])
        payload.append("pending.x", snapshot.pendingX64)
        payload.append("pending.y", snapshot.pendingY64)
        payload.append("window", snapshot.window)
        payload.append("wall_clock", [snapshot.wallClockSeconds])
        appendConfigurationFloats(snapshot.model.circuit, prefix: "model.circuit", to: &payload)
        let c = state.configuration
        var header = Header(
            format: formatName, software: software, model: snapshot.name, kind: ModelConfiguration.bayesianKind,
            shape: [c.dictDim, c.sysDim], updates: state.updates, samples: state.samples, seq: snapshot.sequence,
            pendingRows: snapshot.pendingRows, created: Timestamp.rfc3339(snapshot.wallClockSeconds),
            wallClock: snapshot.wallClockSeconds, optimizer: "none",
            prior: nil, priorState: .null, drift: json(snapshot.drift),
            modelName: snapshot.model.name, batchSize: snapshot.model.batchSize, modelCircuit: snapshot.model.circuit,
            modelDrift: snapshot.model.drift, circuitConfiguration: nil, arrays: payload.index)
        header.journal = snapshot.journal?.json ?? .null
        header.learner = learnerJSON(snapshot.model)
        return try assemble(header, payload: payload, snapshot: snapshot)
    }

    /// Header and payload into the file, after proving that they read back to `snapshot`.
    private static func assemble(_ header: Header, payload: PayloadBuilder, snapshot: ModelSnapshot) throws(CheckpointError) -> [UInt8] {
        var headerBytes = json(header).serialized
        // Pad with spaces (insignificant JSON whitespace) so the payload starts 8-byte aligned.
        while (prefixBytes + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        guard headerBytes.count <= Int(UInt32.max) else {
            throw .encodingFailed(model: snapshot.name, reason: "header of \(headerBytes.count) bytes exceeds 4 GiB")
        }

        // Prove the file reads back to the same snapshot before anything reaches the disk (e.g. if the
        // configuration grows a field this format does not store yet).
        let reparsed: Header
        do {
            reparsed = try Self.header(JSONParser.parse(headerBytes), version: version)
        } catch {
            throw .encodingFailed(model: snapshot.name, reason: "header does not parse back: \(error)")
        }
        let reread = try decodeSnapshot(reparsed, payload: PayloadReader(bytes: payload.bytes, start: 0, length: payload.bytes.count,
                                                                         index: payload.index, path: ""), path: "", version: version)
        // The arrays round-trip by construction (raw bytes, NaN included); what could be lost is a field of the configuration.
        // The prior's and the drift detector's states travel as JSON (NaN as "nan"), so they are compared as the JSON
        // they are written as: a NaN in them (a crafted but CRC-valid file, found by the checkpoint_reader fuzz target)
        // reads back as NaN, which `==` would call a difference.
        guard reread.model == snapshot.model, reread.circuit?.configuration == snapshot.circuit?.configuration,
              (reread.circuit?.prior).map({ codableJSON($0) }) == (snapshot.circuit?.prior).map({ codableJSON($0) }),
              reread.bayesian == snapshot.bayesian,
              reread.uncertainty == snapshot.uncertainty, json(reread.drift) == json(snapshot.drift), reread.journal == snapshot.journal else {
            throw .encodingFailed(model: snapshot.name, reason: "the snapshot does not read back identical; the checkpoint format misses one of its fields")
        }

        var file = [UInt8]()
        file.reserveCapacity(prefixBytes + headerBytes.count + payload.bytes.count + trailerBytes)
        file.append(contentsOf: magic)
        file.appendLittleEndian(version)
        file.appendLittleEndian(UInt32(headerBytes.count))
        file.appendLittleEndian(UInt64(payload.bytes.count))
        file.append(contentsOf: headerBytes)
        file.append(contentsOf: payload.bytes)
        file.appendLittleEndian(CRC32.checksum(file))
        return file
    }

    private static func appendConfigurationFloats(_ c: CircuitConfiguration, prefix: String, to payload: inout PayloadBuilder) {
        payload.append("\(prefix).scalars", [c.learningRate, c.lmbda, c.l1Ratio, c.threshold, c.weightFill])
        payload.append("\(prefix).intercept_lr", c.interceptLearningRate.map { [$0] } ?? [])
    }

    private static func restoreConfigurationFloats(_ c: inout CircuitConfiguration, prefix: String, version: UInt32,
                                                   from payload: PayloadReader) throws(CheckpointError) {
        if version >= 2 {
            let rate = try payload.floats("\(prefix).intercept_lr")
            guard rate.count <= 1 else { throw .arrayCountMismatch(path: payload.path, name: "\(prefix).intercept_lr", expected: 1, actual: rate.count) }
            c.interceptLearningRate = rate.first
        }
        let s = try payload.floats("\(prefix).scalars", count: 5)
        c.learningRate = s[0]
        c.lmbda = s[1]
        c.l1Ratio = s[2]
        c.threshold = s[3]
        c.weightFill = s[4]
        if version < 3, c.prior != nil {
            // The Gaussian prior of versions 1 and 2, as `[model.prior]` decodes it (Float values, every argument explicit).
            c.prior!.arguments[.mean] = .numbers(try payload.floats("\(prefix).prior.mean").map(Double.init))
            c.prior!.arguments[.std] = .numbers(try payload.floats("\(prefix).prior.std").map(Double.init))
            c.prior!.arguments[.weight] = .numbers([Double(try payload.floats("\(prefix).prior.weight", count: 1)[0])])
        }
    }


    // MARK: Decoding

    /// Verifies and decodes a whole file. `path` is only used in errors.
    package static func decode(_ bytes: [UInt8], path: String) throws(CheckpointError) -> Decoded {
        let size = bytes.count
        guard size >= magic.count else {
            throw .truncated(path: path, expectedBytes: prefixBytes + trailerBytes, actualBytes: size)
        }
        guard Array(bytes[0..<8]) == magic else { throw .badMagic(path: path, found: Array(bytes[0..<8])) }
        guard size >= 12 else { throw .truncated(path: path, expectedBytes: prefixBytes + trailerBytes, actualBytes: size) }
        let formatVersion = bytes.loadLittleEndian(UInt32.self, at: 8)
        guard readableVersions.contains(formatVersion) else {
            throw .unsupportedVersion(path: path, version: formatVersion, supported: version)
        }
        guard size >= prefixBytes + trailerBytes else {
            throw .truncated(path: path, expectedBytes: prefixBytes + trailerBytes, actualBytes: size)
        }
        let headerLength = Int(bytes.loadLittleEndian(UInt32.self, at: 12))
        let payloadLength64 = bytes.loadLittleEndian(UInt64.self, at: 16)
        // UInt64 lengths beyond Int.max cannot be a real file; treat them as a (very) truncated one.
        guard payloadLength64 <= UInt64(Int.max - prefixBytes - trailerBytes - headerLength) else {
            throw .truncated(path: path, expectedBytes: Int.max, actualBytes: size)
        }
        let payloadLength = Int(payloadLength64)
        let expected = prefixBytes + headerLength + payloadLength + trailerBytes
        if size < expected { throw .truncated(path: path, expectedBytes: expected, actualBytes: size) }
        if size > expected { throw .trailingBytes(path: path, expectedBytes: expected, actualBytes: size) }
        let stored = bytes.loadLittleEndian(UInt32.self, at: size - trailerBytes)
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(size - trailerBytes)])) }
        guard stored == computed else { throw .crcMismatch(path: path, expected: stored, actual: computed) }

        let header: Header
        do {
            let json = try bytes.withUnsafeBytes { raw throws(JSONParseError) in
                try JSONParser.parse(UnsafeRawBufferPointer(rebasing: raw[prefixBytes..<(prefixBytes + headerLength)]))
            }
            header = try Self.header(json, version: formatVersion)
        } catch let error as JSONParseError {
            throw .malformedHeader(path: path, reason: "invalid JSON: \(error)")
        } catch let error as HeaderError {
            throw .malformedHeader(path: path, reason: error.reason)
        } catch {
            throw .malformedHeader(path: path, reason: "\(error)")
        }
        guard header.format == formatName else {
            throw .malformedHeader(path: path, reason: "format is \"\(header.format)\", expected \"\(formatName)\"")
        }
        var seen = Set<String>()
        for entry in header.arrays where !seen.insert(entry.name).inserted {
            throw .malformedHeader(path: path, reason: "array \"\(entry.name)\" listed twice")
        }
        let payload = PayloadReader(bytes: bytes, start: prefixBytes + headerLength, length: payloadLength,
                                    index: header.arrays, path: path)
        let snapshot = try decodeSnapshot(header, payload: payload, path: path, version: formatVersion)
        return Decoded(header: header, snapshot: snapshot, formatVersion: formatVersion, bytes: size, crc: stored)
    }

    private static func decodeSnapshot(_ h: Header, payload: PayloadReader, path: String, version: UInt32) throws(CheckpointError) -> ModelSnapshot {
        func malformed(_ reason: String) -> CheckpointError { .malformedHeader(path: path, reason: reason) }
        guard h.model == h.modelName else {
            throw malformed("model \"\(h.model)\" differs from model_configuration.name \"\(h.modelName)\"")
        }
        guard h.updates >= 0, h.samples >= 0, h.pendingRows >= 0 else {
            throw malformed("negative counter (updates \(h.updates), samples \(h.samples), pending_rows \(h.pendingRows))")
        }
        var modelCircuit = h.modelCircuit
        try restoreConfigurationFloats(&modelCircuit, prefix: "model.circuit", version: version, from: payload)
        var model = ModelConfiguration(name: h.modelName, batchSize: h.batchSize, circuit: modelCircuit, drift: h.modelDrift)
        do { try applyLearner(h.learner, to: &model) } catch { throw malformed(error.reason) }
        if model.isBayesian { return try decodeBayesianSnapshot(h, model: model, payload: payload, path: path) }
        guard let optimizerKind = OptimizerKind(rawValue: h.optimizer) else {
            throw malformed("unknown optimizer \"\(h.optimizer)\"")
        }
        var configuration = modelCircuit
        if var separate = h.circuitConfiguration {
            try restoreConfigurationFloats(&separate, prefix: "circuit.configuration", version: version, from: payload)
            configuration = separate
        }
        let d = configuration.dictDim, s = configuration.sysDim
        guard d > 0, s > 0, !d.multipliedReportingOverflow(by: s).overflow else { throw malformed("shape \(d)×\(s)") }
        guard h.shape == [d, s] else { throw malformed("shape \(h.shape) differs from the configuration's [\(d), \(s)]") }
        let n = d * s
        let (px, ox) = h.pendingRows.multipliedReportingOverflow(by: d)
        let (py, oy) = h.pendingRows.multipliedReportingOverflow(by: s)
        guard !ox, !oy else { throw malformed("pending_rows \(h.pendingRows) overflows") }

        let moments = optimizerKind == .adam ? n : 0
        var optimizer = OptimizerState(kind: optimizerKind, count: 0)
        optimizer.m = try payload.floats("optimizer.m", count: moments)
        optimizer.v = try payload.floats("optimizer.v", count: moments)
        optimizer.t = try payload.floats("optimizer.t", count: 1)[0]

        var prior: WeightPrior<Float>?
        if version >= 3, h.priorState != .null {
            do { prior = try decodeCodable(WeightPrior<Float>.self, h.priorState, path: "prior") } catch { throw malformed(error.reason) }
        } else if let ph = h.prior {
            guard let priorOptimizerKind = OptimizerKind(rawValue: ph.optimizer) else {
                throw malformed("unknown prior optimizer \"\(ph.optimizer)\"")
            }
            var p = GaussianPrior(.init(), optimizer: priorOptimizerKind)
            p.fitHyper = ph.fitHyper
            p.mean = try payload.floats("prior.mean")
            p.precision = try payload.floats("prior.precision")
            p.weight = try payload.floats("prior.weight", count: 1)[0]
            func optimizerState(_ name: String) throws(CheckpointError) -> OptimizerState {
                var o = OptimizerState(kind: priorOptimizerKind, count: 0)
                o.m = try payload.floats("\(name).m")
                o.v = try payload.floats("\(name).v", count: o.m.count)
                o.t = try payload.floats("\(name).t", count: 1)[0]
                return o
            }
            p.meanOptimizer = try optimizerState("prior.mean")
            p.precisionOptimizer = try optimizerState("prior.precision")
            if let problem = gaussianStateProblem(p, weightCount: n) { throw .invalidState(path: path, reason: problem) }
            prior = WeightPrior(p, rows: d, columns: s)
        }
        let drift = try driftState(h, version: version, path: path)
        let generator: SeededGenerator
        do {
            generator = try SeededGenerator(state: payload.words("generator", count: 4))
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .invalidState(path: path, reason: "\(error)")
        }
        var state = CircuitState(configuration: configuration, weights: try payload.floats("weights", count: n),
                                 optimizer: optimizer, prior: prior, generator: generator,
                                 updates: h.updates, samples: h.samples)
        if version >= 2 {
            let biases = configuration.intercept ? s : 0
            state.intercept = try payload.floats("intercept", count: biases)
            state.interceptOptimizer.m = try payload.floats("intercept.m", count: optimizerKind == .adam ? biases : 0)
            state.interceptOptimizer.v = try payload.floats("intercept.v", count: state.interceptOptimizer.m.count)
            state.interceptOptimizer.t = try payload.floats("intercept.t", count: 1)[0]
            if configuration.standardize {
                func moments(_ name: String, _ columns: Int) throws(CheckpointError) -> RunningMoments {
                    let count = try payload.words("\(name).count", count: 1)[0]
                    guard count <= UInt64(Int.max),
                          let m = RunningMoments(count: Int(count), mean: try payload.doubles("\(name).mean", count: columns),
                                                 m2: try payload.doubles("\(name).m2", count: columns), columns: columns)
                    else { throw .invalidState(path: path, reason: "\(name) holds invalid statistics") }
                    return m
                }
                state.xMoments = try moments("moments.x", d)
                state.yMoments = try moments("moments.y", s)
            }
        }
        if let reason = restorationProblem(state) { throw .invalidState(path: path, reason: reason) }
        var snapshot = ModelSnapshot(
            model: model, circuit: state, sequence: h.seq, pendingRows: h.pendingRows,
            pendingX: try payload.floats("pending.x", count: px), pendingY: try payload.floats("pending.y", count: py),
            window: try payload.doubles("window"), wallClockSeconds: try payload.doubles("wall_clock", count: 1)[0], drift: drift)
        snapshot.journal = JournalCoverage(json: h.journal)
        if model.uncertainty { snapshot.uncertainty = try Self.moments("uncertainty.moments", features: d, outputs: s, from: payload, path: path) }
        return snapshot
    }

    /// The drift state of the header (version 3 and later), nil without an alarm.
    private static func driftState(_ h: Header, version: UInt32, path: String) throws(CheckpointError) -> DriftState? {
        guard version >= 3, h.drift != .null else { return nil }
        func malformed(_ reason: String) -> CheckpointError { .malformedHeader(path: path, reason: reason) }
        let detector: AnyDriftDetector
        do {
            detector = try decodeCodable(AnyDriftDetector.self, h.drift["detector"] ?? .null, path: "drift.detector")
        } catch {
            throw malformed(error.reason)
        }
        guard let drifts = h.drift["drifts"]?.int, drifts >= 0 else { throw malformed("\"drift.drifts\" is not an integer ≥ 0") }
        let last = h.drift["last_drift_step"]
        guard last == nil || last == .null || last?.int != nil else { throw malformed("\"drift.last_drift_step\" is neither null nor an integer") }
        return DriftState(detector: detector, drifts: drifts, lastDriftStep: last?.int)
    }

    /// A bayesian model's snapshot (version 5): its statistics, noise estimate and Double-buffered rows.
    private static func decodeBayesianSnapshot(_ h: Header, model: ModelConfiguration, payload: PayloadReader,
                                               path: String) throws(CheckpointError) -> ModelSnapshot {
        func malformed(_ reason: String) -> CheckpointError { .malformedHeader(path: path, reason: reason) }
        let d = model.circuit.dictDim, s = model.circuit.sysDim
        guard d > 0, s > 0, !(d + s).multipliedReportingOverflow(by: d + s).overflow else { throw malformed("shape \(d)×\(s)") }
        guard h.shape == [d, s] else { throw malformed("shape \(h.shape) differs from the configuration's [\(d), \(s)]") }
        let (px, ox) = h.pendingRows.multipliedReportingOverflow(by: d)
        let (py, oy) = h.pendingRows.multipliedReportingOverflow(by: s)
        guard !ox, !oy else { throw malformed("pending_rows \(h.pendingRows) overflows") }
        let noise = NoiseEstimate(sum: try payload.doubles("bayesian.noise.sum", count: s),
                                  weight: try payload.doubles("bayesian.noise.weight", count: s),
                                  startWeight: try payload.doubles("bayesian.noise.start_weight", count: 1)[0])
        let state = BayesianState(configuration: model.bayesianConfiguration,
                                  moments: try Self.moments("bayesian.moments", features: d, outputs: s, from: payload, path: path),
                                  noise: noise, updates: h.updates, samples: h.samples)
        do { _ = try BayesianRegression(restoring: state) } catch { throw .invalidState(path: path, reason: error.description) }
        var snapshot = ModelSnapshot(
            model: model, bayesian: state, sequence: h.seq, pendingRows: h.pendingRows,
            pendingX: try payload.doubles("pending.x", count: px), pendingY: try payload.doubles("pending.y", count: py),
            window: try payload.doubles("window"), wallClockSeconds: try payload.doubles("wall_clock", count: 1)[0],
            drift: try driftState(h, version: 5, path: path))
        snapshot.journal = JournalCoverage(json: h.journal)
        return snapshot
    }

    /// Why `HebbianCircuit(restoring:)` would reject `state`, or could crash on it later; nil when it is fine.
    ///
    /// The learning core checks the prior's state against its configuration (``WeightPrior/incompatibility(with:rows:columns:optimizer:)``).
    static func restorationProblem(_ state: CircuitState) -> String? {
        do {
            _ = try HebbianCircuit(restoring: state)
        } catch {
            return error.description
        }
        return nil
    }

    /// Why a version-1 or -2 Gaussian prior state is inconsistent (nil when fine): its optimiser moments must
    /// match its parameters, and each parameter must have 1 or `weightCount` values.
    static func gaussianStateProblem(_ p: GaussianPrior, weightCount: Int) -> String? {
        for (what, o, count) in [("prior mean", p.meanOptimizer, p.mean.count),
                                 ("prior precision", p.precisionOptimizer, p.precision.count)] {
            // Adam keeps one moment per parameter once the hyper-parameters are fitted; otherwise none.
            let consistent = o.m.count == o.v.count
                && (o.kind == .adam ? (o.m.count == count || (!p.fitHyper && o.m.count == 0)) : o.m.count == 0)
            if !consistent {
                return "\(what) optimizer state has \(o.m.count)/\(o.v.count) moments for \(count) parameters"
            }
        }
        for (what, count) in [("prior mean", p.mean.count), ("prior precision", p.precision.count)]
        where count != 1 && count != weightCount {
            return "\(what) has \(count) values, expected 1 or \(weightCount)"
        }
        return nil
    }
}

/// Builds the payload: arrays appended one after another, each 8-byte aligned, and their index.
fileprivate struct PayloadBuilder {
    private(set) var bytes: [UInt8] = []
    private(set) var index: [CheckpointFormat.ArrayEntry] = []

    mutating func append(_ name: String, _ values: [Float]) {
        appendRaw(name, "f32", values.count) { out in
            #if _endian(little)
            values.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            for v in values { out.appendLittleEndian(v.bitPattern) }
            #endif
        }
    }

    mutating func append(_ name: String, _ values: [Double]) {
        appendRaw(name, "f64", values.count) { out in
            #if _endian(little)
            values.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            for v in values { out.appendLittleEndian(v.bitPattern) }
            #endif
        }
    }

    mutating func append(_ name: String, _ values: [UInt64]) {
        appendRaw(name, "u64", values.count) { out in
            for v in values { out.appendLittleEndian(v) }
        }
    }

    private mutating func appendRaw(_ name: String, _ dtype: String, _ count: Int, _ write: (inout [UInt8]) -> Void) {
        while bytes.count % 8 != 0 { bytes.append(0) }
        index.append(.init(name: name, dtype: dtype, count: count, offset: bytes.count))
        write(&bytes)
    }
}

/// Reads arrays out of a verified file's payload, checking type, count and bounds.
fileprivate struct PayloadReader {
    let bytes: [UInt8]
    /// Offset of the payload in `bytes`.
    let start: Int
    let length: Int
    let entries: [String: CheckpointFormat.ArrayEntry]
    let path: String

    init(bytes: [UInt8], start: Int, length: Int, index: [CheckpointFormat.ArrayEntry], path: String) {
        self.bytes = bytes
        self.start = start
        self.length = length
        self.entries = Dictionary(index.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.path = path
    }

    /// The byte range of `name` inside `bytes`, after checking dtype, count and bounds.
    private func locate(_ name: String, dtype: String, size: Int, count expected: Int?) throws(CheckpointError) -> (offset: Int, count: Int) {
        guard let e = entries[name] else { throw .missingArray(path: path, name: name) }
        guard e.dtype == dtype else { throw .arrayTypeMismatch(path: path, name: name, expected: dtype, actual: e.dtype) }
        if let expected, e.count != expected {
            throw .arrayCountMismatch(path: path, name: name, expected: expected, actual: e.count)
        }
        let (byteCount, overflow) = e.count.multipliedReportingOverflow(by: size)
        guard e.count >= 0, e.offset >= 0, !overflow, e.offset <= length, byteCount <= length - e.offset else {
            throw .arrayOutOfBounds(path: path, name: name, offset: e.offset, bytes: overflow ? Int.max : byteCount,
                                    payloadBytes: length)
        }
        return (start + e.offset, e.count)
    }

    func floats(_ name: String, count: Int? = nil) throws(CheckpointError) -> [Float] {
        let (offset, n) = try locate(name, dtype: "f32", size: 4, count: count)
        return bytes.withUnsafeBytes { raw in
            [Float](unsafeUninitializedCapacity: n) { buffer, initialized in
                #if _endian(little)
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 4 * n)]))
                #else
                for i in 0..<n {
                    buffer[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4 * i, as: UInt32.self)))
                }
                #endif
                initialized = n
            }
        }
    }

    func doubles(_ name: String, count: Int? = nil) throws(CheckpointError) -> [Double] {
        let (offset, n) = try locate(name, dtype: "f64", size: 8, count: count)
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 * $0, as: UInt64.self))) }
        }
    }

    func words(_ name: String, count: Int? = nil) throws(CheckpointError) -> [UInt64] {
        let (offset, n) = try locate(name, dtype: "u64", size: 8, count: count)
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8 * $0, as: UInt64.self)) }
        }
    }
}
