import Foundation
import HebbianRegression
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// # hebbd checkpoint file format, version 1
///
/// One file holds one ``ModelSnapshot``. All integers are little-endian. Layout:
///
///     offset      size  field
///     0           8     magic, the ASCII bytes "HEBBCKPT"
///     8           4     format version, UInt32 = 1
///     12          4     header length H, UInt32 (bytes of the JSON header, including its padding)
///     16          8     payload length P, UInt64
///     24          H     header: UTF-8 JSON object, padded with spaces so that 24 + H is a multiple of 8
///     24+H        P     payload: raw little-endian arrays, each starting at a multiple of 8
///     24+H+P      4     CRC-32 (IEEE 802.3, as zlib.crc32) of bytes [0, 24+H+P), UInt32
///
/// The file size is exactly 28 + H + P; anything shorter is "truncated", anything longer has
/// "trailing bytes". A reader checks, in this order and before decoding anything: magic, format version
/// (**strictly**: any version other than 1 is refused, never read "best effort"), the lengths against the
/// file size, the CRC, then parses the header and the arrays it indexes. The software version that wrote
/// the file is recorded (`software`) for humans and never checked: only the format version decides.
///
/// ## Header (JSON, keys sorted so that equal snapshots give identical files)
///
///     format                "hebbd-checkpoint"
///     software              writer's version string (informational)
///     model                 model name (= model_configuration.name = the directory name)
///     kind, shape           regression kind, [dict_dim, sys_dim] (informational; the configuration decides)
///     updates, samples      the circuit's counters
///     seq                   the model's last publish seq (UInt64)
///     pending_rows          rows buffered toward the next mini-batch
///     created, wall_clock   snapshot time as RFC 3339 and as Unix seconds (informational; exact value in `wall_clock`)
///     optimizer             optimiser kind of W's state
///     prior                 null, or {"fit_hyper": Bool, "optimizer": kind} when the circuit has a prior
///     model_configuration   {"name", "batch_size", "circuit": CircuitConfiguration as JSON}
///     circuit_configuration null when the circuit's configuration equals model_configuration.circuit, else it
///     arrays                the payload index: [{"name", "dtype", "count", "offset"}], dtype ∈ f32 | f64 | u64,
///                           count in elements, offset in bytes from the start of the payload
///
/// Floating-point values never travel as decimal text: the header's copies of the configuration's Float
/// fields are informational, and the exact bit patterns are in the payload (`*.scalars`), where the reader
/// takes them from. The configurations' per-coefficient prior arrays are stored only in the payload (the
/// header has `[]` in their place), which also keeps the header small.
///
/// ## Payload arrays
///
///     weights                      f32  dict_dim × sys_dim, row-major
///     optimizer.m, optimizer.v     f32  Adam moments (dict_dim × sys_dim for Adam, 0 for SGD)
///     optimizer.t                  f32  1, the optimiser step counter
///     prior.mean, prior.precision  f32  1 or dict_dim × sys_dim (only with a prior)
///     prior.weight                 f32  1
///     prior.mean.{m,v,t}           f32  the mean's optimiser state (m, v empty unless fit_hyper with Adam)
///     prior.precision.{m,v,t}      f32  the precision's optimiser state
///     generator                    u64  4, xoshiro256** state
///     pending.x, pending.y         f32  pending_rows × dict_dim, pending_rows × sys_dim
///     window                       f64  the rolling prequential error values, oldest first
///     wall_clock                   f64  1, Unix seconds
///     model.circuit.scalars        f32  5: lr, lmbda, l1_ratio, threshold, weight_fill
///     model.circuit.prior.{mean,std,weight}   f32   the configured prior (only when configured)
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
    /// The only format version this build writes and reads.
    package static let version: UInt32 = 1
    /// Magic, version, header length, payload length.
    package static let prefixBytes = 24
    /// The trailing CRC.
    package static let trailerBytes = 4
    /// Value of the header's `format` field.
    package static let formatName = "hebbd-checkpoint"

    // MARK: Header

    package struct ArrayEntry: Codable, Equatable {
        var name: String
        var dtype: String
        var count: Int
        var offset: Int
    }

    package struct PriorHeader: Codable, Equatable {
        var fitHyper: Bool
        var optimizer: String
        enum CodingKeys: String, CodingKey {
            case fitHyper = "fit_hyper"
            case optimizer
        }
    }

    /// `ModelConfiguration` stored field by field, so the file format does not depend on however the
    /// config module chooses to make `ModelConfiguration` Codable (e.g. for TOML).
    package struct StoredModelConfiguration: Codable, Equatable {
        var name: String
        var batchSize: Int
        var circuit: CircuitConfiguration
        enum CodingKeys: String, CodingKey {
            case name
            case batchSize = "batch_size"
            case circuit
        }
    }

    package struct Header: Codable {
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
        var prior: PriorHeader?
        var modelConfiguration: StoredModelConfiguration
        var circuitConfiguration: CircuitConfiguration?
        var arrays: [ArrayEntry]

        enum CodingKeys: String, CodingKey {
            case format, software, model, kind, shape, updates, samples, seq
            case pendingRows = "pending_rows"
            case created
            case wallClock = "wall_clock"
            case optimizer, prior
            case modelConfiguration = "model_configuration"
            case circuitConfiguration = "circuit_configuration"
            case arrays
        }

        // Explicit so that a `nil` prior / circuit configuration is written as `null`, not omitted.
        package func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(format, forKey: .format)
            try c.encode(software, forKey: .software)
            try c.encode(model, forKey: .model)
            try c.encode(kind, forKey: .kind)
            try c.encode(shape, forKey: .shape)
            try c.encode(updates, forKey: .updates)
            try c.encode(samples, forKey: .samples)
            try c.encode(seq, forKey: .seq)
            try c.encode(pendingRows, forKey: .pendingRows)
            try c.encode(created, forKey: .created)
            try c.encode(wallClock.isFinite ? wallClock : 0, forKey: .wallClock)
            try c.encode(optimizer, forKey: .optimizer)
            try c.encode(prior, forKey: .prior)
            try c.encode(modelConfiguration, forKey: .modelConfiguration)
            try c.encode(circuitConfiguration, forKey: .circuitConfiguration)
            try c.encode(arrays, forKey: .arrays)
        }
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
        if let reason = restorationProblem(snapshot.circuit) {
            throw .invalidSnapshot(model: snapshot.name, reason: reason)
        }
        let state = snapshot.circuit
        var payload = PayloadBuilder()
        payload.append("weights", state.weights)
        payload.append("optimizer.m", state.optimizer.m)
        payload.append("optimizer.v", state.optimizer.v)
        payload.append("optimizer.t", [state.optimizer.t])
        if let prior = state.prior {
            payload.append("prior.mean", prior.mean)
            payload.append("prior.precision", prior.precision)
            payload.append("prior.weight", [prior.weight])
            payload.append("prior.mean.m", prior.meanOptimizer.m)
            payload.append("prior.mean.v", prior.meanOptimizer.v)
            payload.append("prior.mean.t", [prior.meanOptimizer.t])
            payload.append("prior.precision.m", prior.precisionOptimizer.m)
            payload.append("prior.precision.v", prior.precisionOptimizer.v)
            payload.append("prior.precision.t", [prior.precisionOptimizer.t])
        }
        payload.append("generator", state.generator.state)
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
        let header = Header(
            format: formatName, software: software, model: snapshot.name, kind: c.kind.rawValue,
            shape: [c.dictDim, c.sysDim], updates: state.updates, samples: state.samples, seq: snapshot.sequence,
            pendingRows: snapshot.pendingRows, created: rfc3339(snapshot.wallClockSeconds),
            wallClock: snapshot.wallClockSeconds, optimizer: state.optimizer.kind.rawValue,
            prior: state.prior.map { PriorHeader(fitHyper: $0.fitHyper, optimizer: $0.meanOptimizer.kind.rawValue) },
            modelConfiguration: StoredModelConfiguration(name: snapshot.model.name, batchSize: snapshot.model.batchSize,
                                                         circuit: withoutPriorArrays(snapshot.model.circuit)),
            circuitConfiguration: separateCircuitConfiguration ? withoutPriorArrays(c) : nil,
            arrays: payload.index)
        var headerBytes: [UInt8]
        do {
            // Sorted keys: the same snapshot always gives the same bytes (Foundation's key order is not stable).
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            headerBytes = Array(try encoder.encode(header))
        } catch {
            throw .encodingFailed(model: snapshot.name, reason: "header: \(error)")
        }
        // Pad with spaces (insignificant JSON whitespace) so the payload starts 8-byte aligned.
        while (prefixBytes + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        guard headerBytes.count <= Int(UInt32.max) else {
            throw .encodingFailed(model: snapshot.name, reason: "header of \(headerBytes.count) bytes exceeds 4 GiB")
        }

        // The configuration is the one part that goes through JSON; prove it reads back identical
        // before anything reaches the disk (e.g. if ModelConfiguration grows a field this format omits).
        do {
            let reread = try JSONDecoder().decode(Header.self, from: Data(headerBytes))
            var model = reread.modelConfiguration.circuit
            try restoreConfigurationFloats(&model, prefix: "model.circuit", from: PayloadReader(
                bytes: payload.bytes, start: 0, length: payload.bytes.count, index: payload.index, path: ""))
            let roundTripped = ModelConfiguration(name: reread.modelConfiguration.name,
                                                  batchSize: reread.modelConfiguration.batchSize, circuit: model)
            guard roundTripped == snapshot.model else {
                throw CheckpointError.encodingFailed(
                    model: snapshot.name, reason: "the model configuration does not read back identical; "
                        + "ModelConfiguration probably has fields this checkpoint format does not store")
            }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .encodingFailed(model: snapshot.name, reason: "header does not parse back: \(error)")
        }

        var file = [UInt8]()
        file.reserveCapacity(prefixBytes + headerBytes.count + payload.bytes.count + trailerBytes)
        file.append(contentsOf: magic)
        appendLE(version, to: &file)
        appendLE(UInt32(headerBytes.count), to: &file)
        appendLE(UInt64(payload.bytes.count), to: &file)
        file.append(contentsOf: headerBytes)
        file.append(contentsOf: payload.bytes)
        appendLE(CRC32.checksum(file), to: &file)
        return file
    }

    private static func appendConfigurationFloats(_ c: CircuitConfiguration, prefix: String, to payload: inout PayloadBuilder) {
        payload.append("\(prefix).scalars", [c.learningRate, c.lmbda, c.l1Ratio, c.threshold, c.weightFill])
        if let prior = c.prior {
            payload.append("\(prefix).prior.mean", prior.mean)
            payload.append("\(prefix).prior.std", prior.std)
            payload.append("\(prefix).prior.weight", [prior.weight])
        }
    }

    private static func restoreConfigurationFloats(_ c: inout CircuitConfiguration, prefix: String,
                                                   from payload: PayloadReader) throws(CheckpointError) {
        let s = try payload.floats("\(prefix).scalars", count: 5)
        c.learningRate = s[0]
        c.lmbda = s[1]
        c.l1Ratio = s[2]
        c.threshold = s[3]
        c.weightFill = s[4]
        if c.prior != nil {
            c.prior!.mean = try payload.floats("\(prefix).prior.mean")
            c.prior!.std = try payload.floats("\(prefix).prior.std")
            c.prior!.weight = try payload.floats("\(prefix).prior.weight", count: 1)[0]
        }
    }

    private static func withoutPriorArrays(_ c: CircuitConfiguration) -> CircuitConfiguration {
        var c = c
        c.prior?.mean = []
        c.prior?.std = []
        return c
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
        let formatVersion = readLE(UInt32.self, bytes, at: 8)
        guard formatVersion == version else {
            throw .unsupportedVersion(path: path, version: formatVersion, supported: version)
        }
        guard size >= prefixBytes + trailerBytes else {
            throw .truncated(path: path, expectedBytes: prefixBytes + trailerBytes, actualBytes: size)
        }
        let headerLength = Int(readLE(UInt32.self, bytes, at: 12))
        let payloadLength64 = readLE(UInt64.self, bytes, at: 16)
        // UInt64 lengths beyond Int.max cannot be a real file; treat them as a (very) truncated one.
        guard payloadLength64 <= UInt64(Int.max - prefixBytes - trailerBytes - headerLength) else {
            throw .truncated(path: path, expectedBytes: Int.max, actualBytes: size)
        }
        let payloadLength = Int(payloadLength64)
        let expected = prefixBytes + headerLength + payloadLength + trailerBytes
        if size < expected { throw .truncated(path: path, expectedBytes: expected, actualBytes: size) }
        if size > expected { throw .trailingBytes(path: path, expectedBytes: expected, actualBytes: size) }
        let stored = readLE(UInt32.self, bytes, at: size - trailerBytes)
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(size - trailerBytes)])) }
        guard stored == computed else { throw .crcMismatch(path: path, expected: stored, actual: computed) }

        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[prefixBytes..<(prefixBytes + headerLength)]))
        } catch {
            throw .malformedHeader(path: path, reason: describe(error))
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
        let snapshot = try decodeSnapshot(header, payload: payload, path: path)
        return Decoded(header: header, snapshot: snapshot, formatVersion: formatVersion, bytes: size, crc: stored)
    }

    private static func decodeSnapshot(_ h: Header, payload: PayloadReader, path: String) throws(CheckpointError) -> ModelSnapshot {
        func malformed(_ reason: String) -> CheckpointError { .malformedHeader(path: path, reason: reason) }
        guard h.model == h.modelConfiguration.name else {
            throw malformed("model \"\(h.model)\" differs from model_configuration.name \"\(h.modelConfiguration.name)\"")
        }
        guard h.updates >= 0, h.samples >= 0, h.pendingRows >= 0 else {
            throw malformed("negative counter (updates \(h.updates), samples \(h.samples), pending_rows \(h.pendingRows))")
        }
        guard let optimizerKind = OptimizerKind(rawValue: h.optimizer) else {
            throw malformed("unknown optimizer \"\(h.optimizer)\"")
        }

        var modelCircuit = h.modelConfiguration.circuit
        try restoreConfigurationFloats(&modelCircuit, prefix: "model.circuit", from: payload)
        let model = ModelConfiguration(name: h.modelConfiguration.name, batchSize: h.modelConfiguration.batchSize,
                                       circuit: modelCircuit)
        var configuration = modelCircuit
        if var separate = h.circuitConfiguration {
            try restoreConfigurationFloats(&separate, prefix: "circuit.configuration", from: payload)
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

        var prior: GaussianPrior?
        if let ph = h.prior {
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
            prior = p
        }
        let generator: SeededGenerator
        do {
            generator = try SeededGenerator(state: payload.words("generator", count: 4))
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw .invalidState(path: path, reason: "\(error)")
        }
        let state = CircuitState(configuration: configuration, weights: try payload.floats("weights", count: n),
                                 optimizer: optimizer, prior: prior, generator: generator,
                                 updates: h.updates, samples: h.samples)
        if let reason = restorationProblem(state) { throw .invalidState(path: path, reason: reason) }
        return ModelSnapshot(
            model: model, circuit: state, sequence: h.seq, pendingRows: h.pendingRows,
            pendingX: try payload.floats("pending.x", count: px), pendingY: try payload.floats("pending.y", count: py),
            window: try payload.doubles("window"), wallClockSeconds: try payload.doubles("wall_clock", count: 1)[0])
    }

    /// Why `HebbianCircuit(restoring:)` would reject `state`, or could crash on it later; nil when it is fine.
    ///
    /// The learning core checks W's optimiser state but not the prior's: a prior optimiser whose moments do
    /// not match its parameters would only fail at the next update, so it is checked here.
    static func restorationProblem(_ state: CircuitState) -> String? {
        do {
            _ = try HebbianCircuit(restoring: state)
        } catch {
            return error.description
        }
        if let p = state.prior {
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
            where count != 1 && count != state.configuration.weightCount {
                return "\(what) has \(count) values, expected 1 or \(state.configuration.weightCount)"
            }
        }
        return nil
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.dataCorrupted(context):
            return "invalid JSON: \(context.debugDescription)"
        case let DecodingError.keyNotFound(key, context):
            return "missing key \"\(path(context.codingPath + [key]))\""
        case let DecodingError.typeMismatch(type, context):
            return "\"\(path(context.codingPath))\" is not a \(type)"
        case let DecodingError.valueNotFound(type, context):
            return "\"\(path(context.codingPath))\" is null, expected a \(type)"
        default:
            return "\(error)"
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// RFC 3339 UTC with milliseconds, e.g. `2025-11-25T00:12:03.250Z`.
    static func rfc3339(_ seconds: Double) -> String {
        guard seconds.isFinite, abs(seconds) < 1e15 else { return "invalid" }
        let whole = seconds.rounded(.down)
        var millis = Int(((seconds - whole) * 1000).rounded(.down))
        millis = min(max(millis, 0), 999)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}

// MARK: - Little-endian helpers

fileprivate func appendLE<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
    var v = value.littleEndian
    withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
}

fileprivate func readLE<T: FixedWidthInteger>(_: T.Type, _ bytes: [UInt8], at offset: Int) -> T {
    bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
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
            for v in values { appendLE(v.bitPattern, to: &out) }
            #endif
        }
    }

    mutating func append(_ name: String, _ values: [Double]) {
        appendRaw(name, "f64", values.count) { out in
            #if _endian(little)
            values.withUnsafeBytes { out.append(contentsOf: $0) }
            #else
            for v in values { appendLE(v.bitPattern, to: &out) }
            #endif
        }
    }

    mutating func append(_ name: String, _ values: [UInt64]) {
        appendRaw(name, "u64", values.count) { out in
            for v in values { appendLE(v, to: &out) }
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
