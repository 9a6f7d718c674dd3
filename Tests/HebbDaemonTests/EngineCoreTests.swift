import Foundation
import HebbianRegression
import Testing
@testable import HebbDaemon

/// The engine's protocol logic driven in memory (no sockets): decoding, batching, publishing,
/// the last-value cache and every control command.
@Suite struct EngineCoreTests {
    static func model(_ name: String, kind: RegressionKind = .lasso, dictDim: Int = 3, sysDim: Int = 1, batch: Int = 4) -> ModelConfiguration {
        var c = CircuitConfiguration(kind: kind, dictDim: dictDim, sysDim: sysDim)
        c.optimizer = .sgd
        c.learningRate = 0.01
        return ModelConfiguration(name: name, batchSize: batch, circuit: c)
    }

    static func core(_ models: [ModelConfiguration], format: PublishFormat = .json) throws -> EngineCore {
        var settings = EngineSettings()
        settings.publishFormat = format
        settings.window = 3
        settings.heartbeat = 0
        settings.maxMessageBytes = 1 << 20
        settings.maxRowsPerMessage = 1000
        let core = EngineCore(settings: settings)
        for m in models { try core.addModel(m) }
        core.outbox.removeAll()
        return core
    }

    /// Sends frames (each given as bytes) through the core.
    @discardableResult
    static func send(_ core: EngineCore, _ frames: [[UInt8]]) -> Rejection? {
        var pointers: [UnsafeRawBufferPointer] = []
        let copies = frames.map { f -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(f.count, 1), alignment: 1)
            p.copyBytes(from: f)
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        for (i, c) in copies.enumerated() { pointers.append(UnsafeRawBufferPointer(rebasing: c[0..<frames[i].count])) }
        return core.handleSample(pointers)
    }

    static func binary(_ model: String, x: [Float], y: [Float], rows: Int, extra: String = "") -> [[UInt8]] {
        [Array(model.utf8), Array(#"{"dtype":"float32","rows":\#(rows)\#(extra)}"#.utf8),
         x.withUnsafeBytes { Array($0) }, y.withUnsafeBytes { Array($0) }]
    }

    static func binary64(_ model: String, x: [Double], y: [Double], rows: Int) -> [[UInt8]] {
        [Array(model.utf8), Array(#"{"dtype":"<f8","rows":\#(rows)}"#.utf8), x.withUnsafeBytes { Array($0) }, y.withUnsafeBytes { Array($0) }]
    }

    static func inline(_ model: String, _ json: String) -> [[UInt8]] { [Array(model.utf8), Array(json.utf8)] }

    static func control(_ core: EngineCore, _ request: String) -> JSON {
        let outcome = Array(request.utf8).withUnsafeBytes { core.handleControl($0) }
        guard case let .reply(bytes) = outcome else { Issue.record("expected an immediate reply"); return .null }
        return try! JSONParser.parse(bytes)
    }

    static func body(_ m: PublishedMessage) -> JSON { try! JSONParser.parse(m.json) }

    /// Deterministic rows: x = (i, −i/2, 1), y = 2·x₀ − x₁.
    static func rows(_ range: Range<Int>) -> (x: [Float], y: [Float]) {
        var x: [Float] = [], y: [Float] = []
        for i in range {
            let a = Float(i % 7) / 7, b = Float(i % 5) / 5
            x += [a, -b, 1]
            y.append(2 * a - b)
        }
        return (x, y)
    }

    // MARK: Decoder rejections: each reason, and nothing changes.

    @Test func everyRejectionReasonLeavesTheModelUntouched() throws {
        let core = try Self.core([Self.model("m")])
        let before = core.runners["m"]!.circuit.state
        let ok = Self.rows(0..<2)
        let cases: [(RejectionReason, [[UInt8]])] = [
            (.frameCount, [Array("m".utf8)]),
            (.frameCount, [Array("m".utf8), Array("{}".utf8), [1]]),
            (.unknownModel, Self.binary("nope", x: ok.x, y: ok.y, rows: 2)),
            (.unknownModel, [[0xFF, 0xFE], Array("{}".utf8)]),
            (.badJSON, Self.inline("m", "{\"x\": [1,2,")),
            (.badJSON, Self.inline("m", "[1,2,3]")),
            (.badHeader, Self.inline("m", #"{"y": 1}"#)),
            (.badHeader, [Array("m".utf8), Array(#"{"rows":2}"#.utf8), [], []]),
            (.badHeader, [Array("m".utf8), Array(#"{"dtype":"int8","rows":2}"#.utf8), [], []]),
            (.badHeader, Self.binary("m", x: ok.x, y: ok.y, rows: 2, extra: #","v":2"#)),
            (.badHeader, Self.binary("m", x: ok.x, y: ok.y, rows: 2, extra: #","seq":-1"#)),
            (.badHeader, Self.inline("m", #"{"x": [1, "a", 3], "y": 1}"#)),
            (.dimensions, Self.inline("m", #"{"x": [[1,2]], "y": [1]}"#)),
            (.dimensions, Self.inline("m", #"{"x": [[1,2,3],[4,5,6]], "y": [1]}"#)),
            (.nonFinite, Self.binary("m", x: [1, .nan, 3], y: [1], rows: 1)),
            (.nonFinite, Self.binary("m", x: [1, 2, 3], y: [.infinity], rows: 1)),
            (.nonFinite, Self.binary64("m", x: [1, 2, 1e300], y: [1], rows: 1)),
            (.nonFinite, Self.inline("m", #"{"x": [1, 2, 1e39], "y": 1}"#)),
            (.byteSize, Self.binary("m", x: Array(ok.x.dropLast()), y: ok.y, rows: 2)),
            (.byteSize, Self.binary("m", x: ok.x, y: ok.y + [1], rows: 2)),
            (.tooLarge, Self.binary("m", x: [Float](repeating: 0, count: 3 * 1001), y: [Float](repeating: 0, count: 1001), rows: 1001)),
            (.tooLarge, Self.binary("m", x: [Float](repeating: 0, count: 3 << 17), y: [Float](repeating: 0, count: 1 << 17), rows: 1 << 17)),
        ]
        for (reason, frames) in cases {
            let rejection = Self.send(core, frames)
            #expect(rejection?.reason == reason, "expected \(reason), got \(String(describing: rejection))")
        }
        let runner = core.runners["m"]!
        #expect(runner.circuit.state == before)
        #expect(runner.pendingRows == 0)
        #expect(core.outbox.isEmpty)
        #expect(core.counters.rejected.values.reduce(0, +) == cases.count)
        #expect(core.counters.samplesReceived == 0)
        // A partly valid message is rejected whole: rows before the bad value are not buffered.
        var x = Self.rows(0..<3).x
        x[7] = .nan
        #expect(Self.send(core, Self.binary("m", x: x, y: [1, 2, 3], rows: 3))?.reason == .nonFinite)
        #expect(runner.pendingRows == 0)
        // Status reports the per-model counts by reason.
        let status = Self.control(core, #"{"cmd":"status"}"#)
        #expect(status["models"]?["m"]?["rejected"]?["non_finite"]?.int == 5)
        #expect(status["rejected"]?["unknown_model"]?.int == 2)
    }

    /// A huge `rows` from the wire must not overflow the byte-size arithmetic (max_rows_per_message has no bound).
    @Test func hugeRowCountsAreRejectedNotTrapped() throws {
        var settings = EngineSettings()
        settings.maxRowsPerMessage = .max
        let core = EngineCore(settings: settings)
        // rows × dict_dim × 8 exceeds Int.max: 8e15 × 2²¹ × 8 ≈ 1.3e23.
        try core.addModel(Self.model("m", dictDim: 1 << 21, batch: 1))
        for rows in [8_000_000_000_000_000, 1 << 52] {
            let frames = [Array("m".utf8), Array(#"{"dtype":"float64","rows":\#(rows)}"#.utf8), [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]
            #expect(Self.send(core, frames)?.reason == .byteSize)
        }
    }

    @Test func inlineFormsAreAccepted() throws {
        let core = try Self.core([Self.model("m", batch: 100), Self.model("one", dictDim: 2, batch: 100)])
        #expect(Self.send(core, Self.inline("m", #"{"x": [[1,2,3],[4,5,6]], "y": [[1],[2]]}"#)) == nil)
        #expect(Self.send(core, Self.inline("m", #"{"x": [[1,2,3],[4,5,6]], "y": [1, 2]}"#)) == nil)
        #expect(Self.send(core, Self.inline("m", #"{"x": [1,2,3], "y": 1.5, "producer": "p", "seq": 4, "v": 1}"#)) == nil)
        #expect(Self.send(core, Self.inline("m", #"{"x": [1,2,3], "y": [1.5]}"#)) == nil)
        #expect(core.runners["m"]!.pendingRows == 6)
        #expect(Self.send(core, Self.binary64("one", x: [1, 2, 3, 4], y: [5, 6], rows: 2)) == nil)
        #expect(core.runners["one"]!.pendingRows == 2)
    }

    // MARK: Batching across message boundaries.

    /// Chunks of 1, 7, batch−1 and 3×batch rows give exactly the updates (and weights) of feeding the
    /// circuit whole batches, whatever the message boundaries.
    @Test(arguments: [1, 7, 3, 12])
    func batchingIsIndependentOfMessageBoundaries(chunk: Int) throws {
        let batch = 4, total = 48
        let core = try Self.core([Self.model("m", batch: batch)])
        let reference = try HebbianCircuit(Self.model("m").circuit)
        let all = Self.rows(0..<total)
        var referenceLosses: [Double] = []
        for b in 0..<(total / batch) {
            let r = Self.rows((b * batch)..<((b + 1) * batch))
            referenceLosses.append(try r.x.withUnsafeBufferPointer { x in try r.y.withUnsafeBufferPointer { y in try reference.update(x: x, y: y, rows: batch).loss } })
        }
        var start = 0
        while start < total {
            let end = min(start + chunk, total)
            let x = Array(all.x[(start * 3)..<(end * 3)]), y = Array(all.y[start..<end])
            // Alternate binary and inline encodings.
            let frames = start % 2 == 0
                ? Self.binary("m", x: x, y: y, rows: end - start)
                : Self.inline("m", #"{"x": [\#((0..<(end - start)).map { "[\(x[$0 * 3]),\(x[$0 * 3 + 1]),\(x[$0 * 3 + 2])]" }.joined(separator: ","))], "y": \#(y)}"#)
            #expect(Self.send(core, frames) == nil)
            start = end
        }
        let runner = core.runners["m"]!
        #expect(runner.circuit.weights == reference.weights)
        #expect(runner.circuit.updates == total / batch)
        let messages = core.outbox.filter { $0.topic == Array("coef/m/".utf8) }.map(Self.body)
        #expect(messages.count == total / batch)
        #expect(messages.map { $0["loss"]!.double! } == referenceLosses)
        #expect(messages.map { $0["seq"]!.int! } == Array(1...(total / batch)))
        #expect(messages.last?["samples"]?.int == total)
    }

    // MARK: Publishing.

    @Test func publishedMessageHasEveryField() throws {
        let core = try Self.core([Self.model("m", kind: .elasticNet, sysDim: 2, batch: 2)])
        let r = Self.rows(0..<2)
        #expect(Self.send(core, Self.binary("m", x: r.x, y: r.y.flatMap { [$0, -$0] }, rows: 2)) == nil)
        let m = try #require(core.outbox.last)
        #expect(m.topic == Array("coef/m/".utf8))
        let j = Self.body(m)
        for key in ["v", "model", "seq", "step", "samples", "time", "loss", "mse", "penalty", "prior", "threshold", "nnz", "shape", "coefficients", "prequential_mse", "window"] {
            #expect(j[key] != nil, "missing \(key)")
        }
        #expect(j["shape"] == .array([.number(3), .number(2)]))
        #expect(j["coefficients"]?.array?.count == 3 && j["coefficients"]?.array?.first?.array?.count == 2)
        #expect(j["threshold"]?.double == 0.05)
        #expect(abs(j["mse"]!.double! - 2 * j["loss"]!.double! / 4) < 1e-12)
        let time = j["time"]!.string!
        #expect(time.count == 24 && time.hasSuffix("Z") && time.contains("T"))
        // Coefficients are the thresholded W; W itself keeps its small values.
        let circuit = core.runners["m"]!.circuit
        let published = j["coefficients"]!.array!.flatMap { $0.array!.map { Float($0.double!) } }
        #expect(published == circuit.coefficients)
    }

    @Test func binaryFormatMovesCoefficientsToAFrame() throws {
        let core = try Self.core([Self.model("m", batch: 2)], format: .binary)
        let r = Self.rows(0..<2)
        Self.send(core, Self.binary("m", x: r.x, y: r.y, rows: 2))
        let m = try #require(core.outbox.last)
        #expect(Self.body(m)["coefficients"] == nil)
        let binary = try #require(m.binary)
        let values = binary.withUnsafeBytes { raw in (0..<3).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        #expect(values == core.runners["m"]!.circuit.coefficients)
        // The snapshot reply always carries them inline.
        let snap = Self.control(core, #"{"cmd":"snapshot","model":"m"}"#)
        #expect(snap["snapshot"]?["coefficients"]?.array?.count == 3)
    }

    @Test func topicsAreIsolatedAndSeqIsPerModel() throws {
        let core = try Self.core([Self.model("m1", batch: 2), Self.model("m10", batch: 2)])
        let r = Self.rows(0..<2)
        for _ in 0..<3 { Self.send(core, Self.binary("m1", x: r.x, y: r.y, rows: 2)) }
        Self.send(core, Self.binary("m10", x: r.x, y: r.y, rows: 2))
        let m1 = core.outbox.filter { $0.topic == Array("coef/m1/".utf8) }
        let m10 = core.outbox.filter { $0.topic == Array("coef/m10/".utf8) }
        #expect(m1.count == 3 && m10.count == 1)
        // A subscriber to coef/m1/ (ZeroMQ prefix match) never matches m10's topic.
        #expect(!Array("coef/m10/".utf8).starts(with: Array("coef/m1/".utf8)))
        #expect(m1.map { Self.body($0)["seq"]!.int! } == [1, 2, 3])
        #expect(Self.body(m10[0])["seq"]?.int == 1)
    }

    @Test func lastValueCacheResendsToLateJoiners() throws {
        let core = try Self.core([Self.model("m1", batch: 2), Self.model("m10", batch: 2)])
        func subscribe(_ topic: String) { ([1] + Array(topic.utf8)).withUnsafeBytes { core.handleSubscription($0) } }
        // Before any update the model's current state is the latest value (loss null).
        subscribe("coef/m1/")
        #expect(core.outbox.count == 1)
        #expect(Self.body(core.outbox[0])["loss"] == .null && Self.body(core.outbox[0])["seq"]?.int == 0)
        core.outbox.removeAll()
        let r = Self.rows(0..<2)
        Self.send(core, Self.binary("m1", x: r.x, y: r.y, rows: 2))
        let last = core.outbox.last!
        core.outbox.removeAll()
        subscribe("coef/m1/")
        #expect(core.outbox == [last])
        core.outbox.removeAll()
        subscribe("coef/")      // every model
        #expect(Set(core.outbox.map(\.topic)) == [Array("coef/m1/".utf8), Array("coef/m10/".utf8)])
        core.outbox.removeAll()
        subscribe("event/")     // not a coefficient topic
        subscribe("coef/m2")    // no such model
        ([0] + Array("coef/m1/".utf8)).withUnsafeBytes { core.handleSubscription($0) }   // unsubscribe
        #expect(core.outbox.isEmpty)
    }

    // MARK: Control.

    @Test func controlCommands() throws {
        let core = try Self.core([Self.model("m", batch: 2)])
        let r = Self.rows(0..<4)
        Self.send(core, Self.binary("m", x: r.x, y: r.y, rows: 4))
        Self.send(core, Self.binary("m", x: Array(r.x.prefix(3)), y: [r.y[0]], rows: 1))

        let status = Self.control(core, #"{"cmd":"status"}"#)
        #expect(status["ok"]?.bool == true)
        #expect(status["models"]?["m"]?["step"]?.int == 2)
        #expect(status["models"]?["m"]?["buffered"]?.int == 1)
        #expect(status["samples"]?.int == 5)

        let models = Self.control(core, #"{"cmd":"models"}"#)
        #expect(models["models"]?.array?.first?["name"]?.string == "m")
        #expect(models["models"]?.array?.first?["dict_dim"]?.int == 3)

        let snapshot = Self.control(core, #"{"cmd":"snapshot","model":"m"}"#)
        #expect(snapshot["snapshot"]?["seq"]?.int == 2)
        #expect(snapshot["snapshot"] == (try JSONParser.parse(core.runners["m"]!.latest!.json)))
        #expect(snapshot["snapshot"]?["json"] == nil)

        let predicted = Self.control(core, #"{"cmd":"predict","model":"m","x":[[1,0,0],[0,1,0]]}"#)
        let w = core.runners["m"]!.circuit.weights
        // Floats are written in their shortest float32 form; parsed back they are exact.
        #expect(predicted["y"]?.array?.map { Float($0.array![0].double!) } == [w[0], w[1]])

        let set = Self.control(core, #"{"cmd":"set","model":"m","lr":0.5,"threshold":0.2,"epochs":3}"#)
        #expect(set["ok"]?.bool == true)
        #expect(core.runners["m"]!.configuration.circuit.learningRate == 0.5)
        #expect(core.runners["m"]!.configuration.circuit.epochs == 3)
        #expect(Self.control(core, #"{"cmd":"set","model":"m","lr":-1}"#)["ok"]?.bool == false)
        #expect(Self.control(core, #"{"cmd":"set","model":"m","dict_dim":4}"#)["ok"]?.bool == false)
        #expect(core.runners["m"]!.configuration.circuit.learningRate == 0.5)

        core.outbox.removeAll()
        let reset = Self.control(core, #"{"cmd":"reset","model":"m"}"#)
        #expect(reset["ok"]?.bool == true)
        let runner = core.runners["m"]!
        #expect(runner.circuit.weights == [0.05, 0.05, 0.05] && runner.circuit.updates == 0 && runner.pendingRows == 0)
        #expect(core.outbox.contains { $0.topic == Array("coef/m/".utf8) && Self.body($0)["seq"]?.int == 3 })
        #expect(core.outbox.contains { $0.topic == Array("event/m/".utf8) && Self.body($0)["event"]?.string == "reset" })

        core.outbox.removeAll()
        let add = Self.control(core, #"{"cmd":"add","model":{"name":"n","kind":"ridge","dict_dim":2,"batch_size":1}}"#)
        #expect(add["ok"]?.bool == true, "\(add)")
        // Existing subscribers of coef/ see the new model's initial state at once.
        #expect(core.outbox.contains { $0.topic == Array("coef/n/".utf8) && Self.body($0)["seq"]?.int == 0 })
        #expect(core.runners["n"]?.configuration.circuit.kind == .ridge)
        #expect(Self.control(core, #"{"cmd":"add","model":{"name":"n","kind":"ridge","dict_dim":2}}"#)["ok"]?.bool == false)
        let badAdd = Self.control(core, #"{"cmd":"add","model":{"name":"k","kind":"ridge","dict_dim":-2}}"#)
        #expect(badAdd["ok"]?.bool == false && badAdd["error"]?.string?.contains("dict_dim") == true)

        guard case let .checkpoint(snapshots) = Array(#"{"cmd":"checkpoint"}"#.utf8).withUnsafeBytes({ core.handleControl($0) }) else {
            Issue.record("checkpoint must be deferred to the driver"); return
        }
        #expect(snapshots.map(\.model.name) == ["m", "n"])

        let remove = Self.control(core, #"{"cmd":"remove","model":"n"}"#)
        #expect(remove["ok"]?.bool == true && core.runners["n"] == nil)
        #expect(core.removedSnapshots.map(\.model.name) == ["n"])
        #expect(Self.send(core, Self.inline("n", #"{"x":[1,2],"y":1}"#))?.reason == .unknownModel)
    }

    @Test func malformedControlRequestsAlwaysGetAnErrorReply() throws {
        let core = try Self.core([Self.model("m")])
        for request in ["", "not json", "[]", "{}", #"{"cmd":7}"#, #"{"cmd":"fly"}"#, #"{"cmd":"snapshot"}"#,
                        #"{"cmd":"snapshot","model":"zz"}"#, #"{"cmd":"predict","model":"m","x":[[1,2]]}"#,
                        #"{"cmd":"predict","model":"m"}"#, #"{"cmd":"add","model":5}"#, String(repeating: "[", count: 10_000)] {
            let reply = Self.control(core, request)
            #expect(reply["ok"]?.bool == false, "\(request.prefix(40))")
            #expect(reply["error"]?.string?.isEmpty == false)
        }
        #expect(core.counters.controlErrors == 12)
    }

    @Test func sequenceGapsAreCountedPerProducer() throws {
        let core = try Self.core([Self.model("m", batch: 100)])
        for (producer, seq) in [("a", 0), ("a", 1), ("b", 0), ("a", 4), ("b", 1), ("a", 2)] {
            Self.send(core, Self.inline("m", #"{"x":[1,2,3],"y":1,"producer":"\#(producer)","seq":\#(seq)}"#))
        }
        let runner = core.runners["m"]!
        #expect(runner.gaps == 2)
        #expect(runner.sequenceResets == 1)
    }

    @Test func rejectionSummariesAndHeartbeat() throws {
        var settings = EngineSettings()
        settings.heartbeat = 5
        let core = EngineCore(settings: settings)
        var now = 1000.0
        core.wallClock = { now }
        try core.addModel(Self.model("m"))
        core.outbox.removeAll()
        Self.send(core, Self.inline("m", "garbage"))
        Self.send(core, Self.inline("m", "garbage"))
        Self.send(core, Self.inline("zz", "{}"))
        now += 2
        core.tick()
        let events = core.outbox.filter { String(decoding: $0.topic, as: UTF8.self).hasPrefix("event/") }
        #expect(events.count == 2)
        let m = try #require(events.first { $0.topic == Array("event/m/".utf8) })
        #expect(Self.body(m)["counts"]?["bad_json"]?.int == 2)
        #expect(events.contains { $0.topic == Array("event/*/".utf8) && Self.body($0)["counts"]?["unknown_model"]?.int == 1 })
        core.outbox.removeAll()
        now += 6
        core.tick()
        #expect(core.outbox.map(\.topic) == [Array("hb/".utf8)])
    }

    @Test func reloadAppliesWholeOrNothing() throws {
        let core = try Self.core([Self.model("a"), Self.model("b")])
        core.configuredNames = ["a", "b"]
        // Added at run time, never in a file: a reload keeps it.
        try core.addModel(Self.model("runtime"))
        var good = DaemonConfiguration()
        var changed = Self.model("a")
        changed.circuit.learningRate = 0.3
        good.models = [changed, Self.model("c")]
        #expect(core.reload(good) == nil)
        #expect(core.modelNames == ["a", "runtime", "c"])
        #expect(core.runners["a"]?.configuration.circuit.learningRate == 0.3)
        #expect(core.removedSnapshots.map(\.model.name) == ["b"])
        var bad = good
        bad.models = [Self.model("a", dictDim: 5), Self.model("d")]
        let error = core.reload(bad)
        #expect(error?.contains("\"a\"") == true)
        #expect(core.modelNames == ["a", "runtime", "c"])
    }

    @Test func reloadResizesTheRollingErrorWindowOfRunningModels() throws {
        let model = Self.model("a", batch: 2)
        let core = try Self.core([model])   // publish.window 3
        core.configuredNames = ["a"]
        let rows = Self.rows(0..<10)
        #expect(Self.send(core, Self.binary("a", x: rows.x, y: rows.y, rows: 10)) == nil)
        let runner = try #require(core.runners["a"])
        #expect(runner.window.count == 3)
        let lastThree = runner.window
        var configuration = DaemonConfiguration()
        configuration.models = [model]
        configuration.publish.window = 2
        #expect(core.reload(configuration) == nil)
        #expect(runner.windowSize == 2 && runner.window == Array(lastThree.suffix(2)))
        configuration.publish.window = 4
        #expect(core.reload(configuration) == nil)
        let more = Self.rows(10..<14)
        #expect(Self.send(core, Self.binary("a", x: more.x, y: more.y, rows: 4)) == nil)
        #expect(runner.window.count == 4 && Array(runner.window.prefix(2)) == Array(lastThree.suffix(2)))
    }
}
