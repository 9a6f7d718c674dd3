// Fuzz target: one ingest message, every frame (Fuzz/README.md).
//
// The input is cut into frames (FuzzFrames: 2-byte length prefixes) and goes
//   1. through SampleDecoder.decode, the validator the engine runs on every PULL message, with two known models;
//   2. through EngineCore.handleSample of a long-lived core holding the same two models, so accepted rows are
//      buffered, learned from (updates run) and published.
// Invariants checked (a failure aborts, and libFuzzer keeps the input):
//   * a binary header that BinaryHeader.scan reads (the fast path, no JSON tree) has the fields the JSON parse
//     and the decoder's checks give it;
//   * an accepted message has 1 ≤ rows ≤ max_rows_per_message, the shape of the model it names, and only finite
//     values once copied out (float64 narrowed to float32 included) — but for binary float32 frames, whose
//     finiteness the engine checks in the pass that first reads them;
//   * the decoder and the engine agree: the same verdict, the same reason (a non-finite binary float32 value the
//     decoder let through is the engine's `non_finite`);
//   * a rejected message changes nothing: samples, buffered rows, updates and W of every model are untouched,
//     and exactly one rejection is counted, under the reason returned.
import HebbCore
import HebbianRegression

private let maxBytes = 1 << 16
private let maxRows = 64
private let decoder = SampleDecoder(maxMessageBytes: maxBytes, maxRowsPerMessage: maxRows)

private func makeModels() -> [ModelConfiguration] {
    var small = CircuitConfiguration(kind: .lasso, dictDim: 3, sysDim: 1)
    small.optimizer = .sgd
    small.learningRate = 0.01
    var wide = CircuitConfiguration(kind: .elasticNet, dictDim: 4, sysDim: 2)
    wide.standardize = true
    wide.intercept = true
    return [ModelConfiguration(name: "demo", batchSize: 4, circuit: small),
            ModelConfiguration(name: "wide", batchSize: 3, circuit: wide)]
}

private let models = makeModels()
private let shapes = Dictionary(uniqueKeysWithValues: models.map {
    ($0.name, SampleShape(dictDim: $0.circuit.dictDim, sysDim: $0.circuit.sysDim))
})

private func makeCore() -> EngineCore {
    var settings = EngineSettings()
    settings.heartbeat = 0
    settings.checkpointInterval = 0
    settings.maxMessageBytes = maxBytes
    settings.maxRowsPerMessage = maxRows
    let core = EngineCore(settings: settings, logger: fuzzLogger)
    for m in models { try! core.addModel(m) }
    core.drainOutbox { _ in }
    return core
}

nonisolated(unsafe) private var core = makeCore()
nonisolated(unsafe) private var inputs = 0

private struct ModelState: Equatable {
    var pending: Int
    var updates: Int
    var samples: Int
    /// Bit patterns: a model driven to NaN by huge finite rows must still compare equal to itself.
    var weights: [UInt32]
    var intercept: [UInt32]
}

private func state(_ core: EngineCore) -> [String: ModelState] {
    core.runners.mapValues { r in
        ModelState(pending: r.pendingRows, updates: r.updates, samples: r.samples,
                   weights: r.circuit!.weights.map(\.bitPattern), intercept: r.circuit!.intercept.map(\.bitPattern))
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSampleDecoder(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let frames = FuzzFrames(UnsafeRawBufferPointer(start: data, count: size))
    defer { frames.deallocate() }

    // 0. The binary header's fast path (no JSON tree) answers only where the generic parse gives the same fields.
    if frames.pointers.count == 4, let fast = BinaryHeader.scan(frames.pointers[1], maxRows: maxRows) {
        let generic = try? decoder.binaryHeader(parsed: decoder.parseHeader(frames.pointers[1], model: "demo"), model: "demo")
        fuzzCheck(generic == fast, "header fast path read \(fast), the JSON parse \(String(describing: generic))")
    }

    // 1. The decoder alone.
    var verdict: RejectionReason?
    do {
        let decoded = try decoder.decode(frames.pointers) { shapes[$0] }
        fuzzCheck(decoded.rows >= 1 && decoded.rows <= maxRows, "accepted \(decoded.rows) rows")
        fuzzCheck(shapes[decoded.model] == decoded.shape, "accepted shape \(decoded.shape) for \(decoded.model)")
        let n = decoded.rows, d = decoded.shape.dictDim, s = decoded.shape.sysDim
        var x = [Float](repeating: .nan, count: n * d), y = [Float](repeating: .nan, count: n * s)
        x.withUnsafeMutableBufferPointer { xp in
            y.withUnsafeMutableBufferPointer { yp in decoded.copyRows(0..<n, x: xp.baseAddress!, y: yp.baseAddress!) }
        }
        // A binary float32 frame's finiteness is checked by the pass that first reads it (the copy into the batch
        // buffer, or the learning step): the decoder may accept one, and the engine must then reject it below.
        if !(x.allSatisfy(\.isFinite) && y.allSatisfy(\.isFinite)) {
            fuzzCheck(!decoded.isCheckedFinite, "accepted a non-finite value in a message the decoder checked")
            verdict = .nonFinite
        }
    } catch {
        verdict = error.reason
    }

    // 2. The engine: same verdict; a rejection changes nothing.
    inputs += 1
    if inputs % 50_000 == 0 { core = makeCore() }   // keep the long-lived state from drifting to Inf forever
    let before = state(core)
    let rejectedBefore = core.counters.rejected
    let rejection = core.handleSample(frames.pointers)
    core.drainOutbox { _ in }
    fuzzCheck(rejection?.reason == verdict, "decoder said \(String(describing: verdict)), engine \(String(describing: rejection?.reason))")
    if let rejection {
        fuzzCheck(state(core) == before, "a rejected message (\(rejection.reason)) changed a model")
        var expected = rejectedBefore
        expected[rejection.reason, default: 0] += 1
        fuzzCheck(core.counters.rejected == expected, "rejection not counted once under \(rejection.reason)")
    }
    return 0
}
