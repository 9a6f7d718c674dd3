import Foundation
import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// The engine's protocol logic driven in memory (no sockets): decoding, batching, publishing,
/// the last-value cache and every control command.
@Suite struct EngineCoreTests {
    // MARK: Decoder rejections: each reason, and nothing changes.

    @Test func everyRejectionReasonLeavesTheModelUntouched() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m")])
        let before = core.runners["m"]!.circuit!.state
        let ok = EngineFixtures.rows(0..<2)
        let cases: [(RejectionReason, [[UInt8]])] = [
            (.frameCount, [Array("m".utf8)]),
            (.frameCount, [Array("m".utf8), Array("{}".utf8), [1]]),
            (.unknownModel, EngineFixtures.binary("nope", x: ok.x, y: ok.y, rows: 2)),
            (.unknownModel, [[0xFF, 0xFE], Array("{}".utf8)]),
            (.badJSON, EngineFixtures.inline("m", "{\"x\": [1,2,")),
            (.badJSON, EngineFixtures.inline("m", "[1,2,3]")),
            (.badHeader, EngineFixtures.inline("m", #"{"y": 1}"#)),
            (.badHeader, [Array("m".utf8), Array(#"{"rows":2}"#.utf8), [], []]),
            (.badHeader, [Array("m".utf8), Array(#"{"dtype":"int8","rows":2}"#.utf8), [], []]),
            (.badHeader, EngineFixtures.binary("m", x: ok.x, y: ok.y, rows: 2, extra: #","v":2"#)),
            (.badHeader, EngineFixtures.binary("m", x: ok.x, y: ok.y, rows: 2, extra: #","seq":-1"#)),
            (.badHeader, EngineFixtures.inline("m", #"{"x": [1, "a", 3], "y": 1}"#)),
            (.dimensions, EngineFixtures.inline("m", #"{"x": [[1,2]], "y": [1]}"#)),
            (.dimensions, EngineFixtures.inline("m", #"{"x": [[1,2,3],[4,5,6]], "y": [1]}"#)),
            (.nonFinite, EngineFixtures.binary("m", x: [1, .nan, 3], y: [1], rows: 1)),
            (.nonFinite, EngineFixtures.binary("m", x: [1, 2, 3], y: [.infinity], rows: 1)),
            (.nonFinite, EngineFixtures.binary64("m", x: [1, 2, 1e300], y: [1], rows: 1)),
            (.nonFinite, EngineFixtures.inline("m", #"{"x": [1, 2, 1e39], "y": 1}"#)),
            (.byteSize, EngineFixtures.binary("m", x: Array(ok.x.dropLast()), y: ok.y, rows: 2)),
            (.byteSize, EngineFixtures.binary("m", x: ok.x, y: ok.y + [1], rows: 2)),
            (.tooLarge, EngineFixtures.binary("m", x: [Float](repeating: 0, count: 3 * 1001), y: [Float](repeating: 0, count: 1001), rows: 1001)),
            (.tooLarge, EngineFixtures.binary("m", x: [Float](repeating: 0, count: 3 << 17), y: [Float](repeating: 0, count: 1 << 17), rows: 1 << 17)),
        ]
        for (reason, frames) in cases {
            let rejection = EngineFixtures.send(core, frames)
            #expect(rejection?.reason == reason, "expected \(reason), got \(String(describing: rejection))")
        }
        let runner = core.runners["m"]!
        #expect(runner.circuit!.state == before)
        #expect(runner.pendingRows == 0)
        #expect(core.outbox.isEmpty)
        #expect(core.counters.rejected.values.reduce(0, +) == cases.count)
        #expect(core.counters.samplesReceived == 0)
        // A partly valid message is rejected whole: rows before the bad value are not buffered.
        var x = EngineFixtures.rows(0..<3).x
        x[7] = .nan
        #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: x, y: [1, 2, 3], rows: 3))?.reason == .nonFinite)
        #expect(runner.pendingRows == 0)
        // Status reports the per-model counts by reason.
        let status = EngineFixtures.control(core, #"{"cmd":"status"}"#)
        #expect(status["models"]?["m"]?["rejected"]?["non_finite"]?.int == 5)
        #expect(status["rejected"]?["unknown_model"]?.int == 2)
    }

    /// A huge `rows` from the wire must not overflow the byte-size arithmetic (max_rows_per_message has no bound).
    @Test func hugeRowCountsAreRejectedNotTrapped() throws {
        var settings = EngineSettings()
        settings.maxRowsPerMessage = .max
        let core = EngineCore(settings: settings)
        // rows × dict_dim × 8 exceeds Int.max: 8e15 × 2²¹ × 8 ≈ 1.3e23.
        try core.addModel(EngineFixtures.model("m", dictDim: 1 << 21, batch: 1))
        for rows in [8_000_000_000_000_000, 1 << 52] {
            let frames = [Array("m".utf8), Array(#"{"dtype":"float64","rows":\#(rows)}"#.utf8), [0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0, 0]]
            #expect(EngineFixtures.send(core, frames)?.reason == .byteSize)
        }
    }

    @Test func inlineFormsAreAccepted() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: 100), EngineFixtures.model("one", dictDim: 2, batch: 100)])
        #expect(EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x": [[1,2,3],[4,5,6]], "y": [[1],[2]]}"#)) == nil)
        #expect(EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x": [[1,2,3],[4,5,6]], "y": [1, 2]}"#)) == nil)
        #expect(EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x": [1,2,3], "y": 1.5, "producer": "p", "seq": 4, "v": 1}"#)) == nil)
        #expect(EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x": [1,2,3], "y": [1.5]}"#)) == nil)
        #expect(core.runners["m"]!.pendingRows == 6)
        #expect(EngineFixtures.send(core, EngineFixtures.binary64("one", x: [1, 2, 3, 4], y: [5, 6], rows: 2)) == nil)
        #expect(core.runners["one"]!.pendingRows == 2)
    }

    // MARK: Batching across message boundaries.

    /// Chunks of 1, 7, batch−1 and 3×batch rows give exactly the updates (and weights) of feeding the
    /// circuit whole batches, whatever the message boundaries.
    @Test(arguments: [1, 7, 3, 12])
    func batchingIsIndependentOfMessageBoundaries(chunk: Int) throws {
        let batch = 4, total = 48
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: batch)])
        let reference = try HebbianCircuit(EngineFixtures.model("m").circuit)
        let all = EngineFixtures.rows(0..<total)
        var referenceLosses: [Double] = []
        for b in 0..<(total / batch) {
            let r = EngineFixtures.rows((b * batch)..<((b + 1) * batch))
            referenceLosses.append(try r.x.withUnsafeBufferPointer { x in try r.y.withUnsafeBufferPointer { y in try reference.update(x: x, y: y, rows: batch).loss } })
        }
        var start = 0
        while start < total {
            let end = min(start + chunk, total)
            let x = Array(all.x[(start * 3)..<(end * 3)]), y = Array(all.y[start..<end])
            // Alternate binary and inline encodings.
            let frames = start % 2 == 0
                ? EngineFixtures.binary("m", x: x, y: y, rows: end - start)
                : EngineFixtures.inline("m", #"{"x": [\#((0..<(end - start)).map { "[\(x[$0 * 3]),\(x[$0 * 3 + 1]),\(x[$0 * 3 + 2])]" }.joined(separator: ","))], "y": \#(y)}"#)
            #expect(EngineFixtures.send(core, frames) == nil)
            start = end
        }
        let runner = core.runners["m"]!
        #expect(runner.circuit!.weights == reference.weights)
        #expect(runner.circuit!.updates == total / batch)
        let messages = core.outbox.filter { $0.topic == Array("coef/m/".utf8) }.map(EngineFixtures.body)
        #expect(messages.count == total / batch)
        #expect(messages.map { $0["loss"]!.double! } == referenceLosses)
        #expect(messages.map { $0["seq"]!.int! } == Array(1...(total / batch)))
        #expect(messages.last?["samples"]?.int == total)
    }

    // MARK: Publishing.

    @Test func publishedMessageHasEveryField() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m", kind: .elasticNet, sysDim: 2, batch: 2)])
        let r = EngineFixtures.rows(0..<2)
        #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: r.x, y: r.y.flatMap { [$0, -$0] }, rows: 2)) == nil)
        let m = try #require(core.outbox.last)
        #expect(m.topic == Array("coef/m/".utf8))
        let j = EngineFixtures.body(m)
        for key in ["v", "model", "seq", "step", "samples", "time", "loss", "mse", "penalty", "prior", "threshold", "nnz", "shape", "coefficients", "prequential_mse", "window"] {
            #expect(j[key] != nil, "missing \(key)")
        }
        #expect(j["shape"] == .array([.integer(3), .integer(2)]))
        #expect(j["coefficients"]?.array?.count == 3 && j["coefficients"]?.array?.first?.array?.count == 2)
        #expect(j["threshold"]?.double == 0.05)
        #expect(abs(j["mse"]!.double! - 2 * j["loss"]!.double! / 4) < 1e-12)
        let time = j["time"]!.string!
        #expect(time.count == 24 && time.hasSuffix("Z") && time.contains("T"))
        // Coefficients are the thresholded W; W itself keeps its small values.
        let circuit = core.runners["m"]!.circuit!
        let published = j["coefficients"]!.array!.flatMap { $0.array!.map { Float($0.double!) } }
        #expect(published == circuit.coefficients)
    }

    @Test func binaryFormatMovesCoefficientsToAFrame() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: 2)], format: .binary)
        let r = EngineFixtures.rows(0..<2)
        EngineFixtures.send(core, EngineFixtures.binary("m", x: r.x, y: r.y, rows: 2))
        let m = try #require(core.outbox.last)
        #expect(EngineFixtures.body(m)["coefficients"] == nil)
        let binary = try #require(m.binary)
        let values = binary.withUnsafeBytes { raw in (0..<3).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
        #expect(values == core.runners["m"]!.circuit!.coefficients)
        // The snapshot reply always carries them inline.
        let snap = EngineFixtures.control(core, #"{"cmd":"snapshot","model":"m"}"#)
        #expect(snap["snapshot"]?["coefficients"]?.array?.count == 3)
    }

    @Test func topicsAreIsolatedAndSeqIsPerModel() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m1", batch: 2), EngineFixtures.model("m10", batch: 2)])
        let r = EngineFixtures.rows(0..<2)
        for _ in 0..<3 { EngineFixtures.send(core, EngineFixtures.binary("m1", x: r.x, y: r.y, rows: 2)) }
        EngineFixtures.send(core, EngineFixtures.binary("m10", x: r.x, y: r.y, rows: 2))
        let m1 = core.outbox.filter { $0.topic == Array("coef/m1/".utf8) }
        let m10 = core.outbox.filter { $0.topic == Array("coef/m10/".utf8) }
        #expect(m1.count == 3 && m10.count == 1)
        // A subscriber to coef/m1/ (ZeroMQ prefix match) never matches m10's topic.
        #expect(!Array("coef/m10/".utf8).starts(with: Array("coef/m1/".utf8)))
        #expect(m1.map { EngineFixtures.body($0)["seq"]!.int! } == [1, 2, 3])
        #expect(EngineFixtures.body(m10[0])["seq"]?.int == 1)
    }

    @Test func lastValueCacheResendsToLateJoiners() throws {
        let clock = ManualClock()
        let core = try EngineFixtures.core([EngineFixtures.model("m1", batch: 2), EngineFixtures.model("m10", batch: 2)], clock: clock.engineClock)
        func subscribe(_ topic: String) {
            clock.advance(1)   // late joiners one second apart: each gets the resend at once
            ([1] + Array(topic.utf8)).withUnsafeBytes { core.handleSubscription($0) }
        }
        // Before any update the model's current state is the latest value (loss null).
        subscribe("coef/m1/")
        #expect(core.outbox.count == 1)
        #expect(EngineFixtures.body(core.outbox[0])["loss"] == .null && EngineFixtures.body(core.outbox[0])["seq"]?.int == 0)
        core.drainOutbox { _ in }
        let r = EngineFixtures.rows(0..<2)
        EngineFixtures.send(core, EngineFixtures.binary("m1", x: r.x, y: r.y, rows: 2))
        let last = core.outbox.last!
        core.drainOutbox { _ in }
        subscribe("coef/m1/")
        #expect(core.outbox == [last])
        core.drainOutbox { _ in }
        subscribe("coef/")      // every model
        #expect(Set(core.outbox.map(\.topic)) == [Array("coef/m1/".utf8), Array("coef/m10/".utf8)])
        core.drainOutbox { _ in }
        subscribe("event/")     // not a coefficient topic
        subscribe("coef/m2")    // no such model
        ([0] + Array("coef/m1/".utf8)).withUnsafeBytes { core.handleSubscription($0) }   // unsubscribe
        #expect(core.outbox.isEmpty)
    }

    // MARK: Control.

    @Test func controlCommands() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: 2)])
        let r = EngineFixtures.rows(0..<4)
        EngineFixtures.send(core, EngineFixtures.binary("m", x: r.x, y: r.y, rows: 4))
        EngineFixtures.send(core, EngineFixtures.binary("m", x: Array(r.x.prefix(3)), y: [r.y[0]], rows: 1))

        let status = EngineFixtures.control(core, #"{"cmd":"status"}"#)
        #expect(status["ok"]?.bool == true)
        #expect(status["models"]?["m"]?["step"]?.int == 2)
        #expect(status["models"]?["m"]?["buffered"]?.int == 1)
        #expect(status["samples"]?.int == 5)

        let models = EngineFixtures.control(core, #"{"cmd":"models"}"#)
        #expect(models["models"]?.array?.first?["name"]?.string == "m")
        #expect(models["models"]?.array?.first?["dict_dim"]?.int == 3)

        let snapshot = EngineFixtures.control(core, #"{"cmd":"snapshot","model":"m"}"#)
        #expect(snapshot["snapshot"]?["seq"]?.int == 2)
        #expect(snapshot["snapshot"] == (try JSONParser.parse(core.runners["m"]!.latest!.json)))
        #expect(snapshot["snapshot"]?["json"] == nil)

        let predicted = EngineFixtures.control(core, #"{"cmd":"predict","model":"m","x":[[1,0,0],[0,1,0]]}"#)
        let w = core.runners["m"]!.circuit!.weights
        // Floats are written in their shortest float32 form; parsed back they are exact.
        #expect(predicted["y"]?.array?.map { Float($0.array![0].double!) } == [w[0], w[1]])

        let set = EngineFixtures.control(core, #"{"cmd":"set","model":"m","lr":0.5,"threshold":0.2,"epochs":3}"#)
        #expect(set["ok"]?.bool == true)
        #expect(core.runners["m"]!.configuration.circuit.learningRate == 0.5)
        #expect(core.runners["m"]!.configuration.circuit.epochs == 3)
        #expect(EngineFixtures.control(core, #"{"cmd":"set","model":"m","lr":-1}"#)["ok"]?.bool == false)
        #expect(EngineFixtures.control(core, #"{"cmd":"set","model":"m","dict_dim":4}"#)["ok"]?.bool == false)
        #expect(core.runners["m"]!.configuration.circuit.learningRate == 0.5)

        core.drainOutbox { _ in }
        let reset = EngineFixtures.control(core, #"{"cmd":"reset","model":"m"}"#)
        #expect(reset["ok"]?.bool == true)
        let runner = core.runners["m"]!
        #expect(runner.circuit!.weights == [0.05, 0.05, 0.05] && runner.circuit!.updates == 0 && runner.pendingRows == 0)
        #expect(core.outbox.contains { $0.topic == Array("coef/m/".utf8) && EngineFixtures.body($0)["seq"]?.int == 3 })
        #expect(core.outbox.contains { $0.topic == Array("event/m/".utf8) && EngineFixtures.body($0)["event"]?.string == "reset" })

        core.drainOutbox { _ in }
        let add = EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"n","kind":"ridge","dict_dim":2,"batch_size":1}}"#)
        #expect(add["ok"]?.bool == true, "\(add)")
        // Existing subscribers of coef/ see the new model's initial state at once.
        #expect(core.outbox.contains { $0.topic == Array("coef/n/".utf8) && EngineFixtures.body($0)["seq"]?.int == 0 })
        #expect(core.runners["n"]?.configuration.circuit.kind == .ridge)
        #expect(EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"n","kind":"ridge","dict_dim":2}}"#)["ok"]?.bool == false)
        let badAdd = EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"k","kind":"ridge","dict_dim":-2}}"#)
        #expect(badAdd["ok"]?.bool == false && badAdd["error"]?.string?.contains("dict_dim") == true)

        #expect(EngineFixtures.control(core, #"{"cmd":"checkpoint"}"#)["error"]?.string == "checkpoints are disabled")
        core.schedule.enabled = true
        guard case let .checkpoint(snapshots) = Array(#"{"cmd":"checkpoint"}"#.utf8).withUnsafeBytes({ core.handleControl($0) }) else {
            Issue.record("checkpoint must be deferred to the driver"); return
        }
        #expect(snapshots.map(\.model.name) == ["m", "n"])

        let remove = EngineFixtures.control(core, #"{"cmd":"remove","model":"n"}"#)
        #expect(remove["ok"]?.bool == true && core.runners["n"] == nil)
        #expect(core.dueCheckpoints().map(\.model.name) == ["n"])
        #expect(EngineFixtures.send(core, EngineFixtures.inline("n", #"{"x":[1,2],"y":1}"#))?.reason == .unknownModel)
    }

    @Test func malformedControlRequestsAlwaysGetAnErrorReply() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m")])
        for request in ["", "not json", "[]", "{}", #"{"cmd":7}"#, #"{"cmd":"fly"}"#, #"{"cmd":"snapshot"}"#,
                        #"{"cmd":"snapshot","model":"zz"}"#, #"{"cmd":"predict","model":"m","x":[[1,2]]}"#,
                        #"{"cmd":"predict","model":"m"}"#, #"{"cmd":"add","model":5}"#, String(repeating: "[", count: 10_000)] {
            let reply = EngineFixtures.control(core, request)
            #expect(reply["ok"]?.bool == false, "\(request.prefix(40))")
            #expect(reply["error"]?.string?.isEmpty == false)
        }
        #expect(core.counters.controlErrors == 12)
    }

    @Test func sequenceGapsAreCountedPerProducer() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: 100)])
        for (producer, seq) in [("a", 0), ("a", 1), ("b", 0), ("a", 4), ("b", 1), ("a", 2)] {
            EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x":[1,2,3],"y":1,"producer":"\#(producer)","seq":\#(seq)}"#))
        }
        let runner = core.runners["m"]!
        #expect(runner.gaps == 2)
        #expect(runner.sequenceResets == 1)
    }

    /// `seq` may be any non-negative Int64: after Int64.max the next message of that producer is counted as a
    /// reset, and gaps that would pass Int.max saturate — the daemon does not trap (fuzz finding 7).
    @Test func sequenceNumbersAtInt64MaxDoNotOverflow() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: 100)])
        for seq in [Int64.max, 0, Int64.max, 0, Int64.max, Int64.max - 1] {
            EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x":[1,2,3],"y":1,"producer":"p","seq":\#(seq)}"#))
        }
        let runner = core.runners["m"]!
        #expect(runner.samples + runner.pendingRows == 6)
        #expect(runner.sequenceResets == 3)
        #expect(runner.gaps == Int.max)
    }

    @Test func rejectionSummariesAndHeartbeat() throws {
        var settings = EngineSettings()
        settings.heartbeat = 5
        let clock = ManualClock()
        let core = EngineCore(settings: settings, clock: clock.engineClock)
        try core.addModel(EngineFixtures.model("m"))
        core.drainOutbox { _ in }
        EngineFixtures.send(core, EngineFixtures.inline("m", "garbage"))
        EngineFixtures.send(core, EngineFixtures.inline("m", "garbage"))
        EngineFixtures.send(core, EngineFixtures.inline("zz", "{}"))
        clock.advance(2)
        core.tick()
        let events = core.outbox.filter { String(decoding: $0.topic, as: UTF8.self).hasPrefix("event/") }
        #expect(events.count == 2)
        let m = try #require(events.first { $0.topic == Array("event/m/".utf8) })
        #expect(EngineFixtures.body(m)["counts"]?["bad_json"]?.int == 2)
        #expect(events.contains { $0.topic == Array("event/*/".utf8) && EngineFixtures.body($0)["counts"]?["unknown_model"]?.int == 1 })
        core.drainOutbox { _ in }
        clock.advance(6)
        core.tick()
        #expect(core.outbox.map(\.topic) == [Array("hb/".utf8)])
    }

    @Test func reloadAppliesWholeOrNothing() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("a"), EngineFixtures.model("b")])
        core.configuredNames = ["a", "b"]
        // Added at run time, never in a file: a reload keeps it.
        try core.addModel(EngineFixtures.model("runtime"))
        var good = DaemonConfiguration()
        var changed = EngineFixtures.model("a")
        changed.circuit.learningRate = 0.3
        good.models = [changed, EngineFixtures.model("c")]
        #expect(try core.reload(good).get().modelNames == ["a", "runtime", "c"])
        #expect(core.modelNames == ["a", "runtime", "c"])
        #expect(core.runners["a"]?.configuration.circuit.learningRate == 0.3)
        #expect(core.dueCheckpoints().map(\.model.name) == ["b"])
        var bad = good
        bad.models = [EngineFixtures.model("a", dictDim: 5), EngineFixtures.model("d")]
        guard case let .failure(rejection) = core.reload(bad) else { Issue.record("incompatible reload applied"); return }
        #expect(rejection.model == "a" && rejection.reason.contains("shape"))
        #expect(core.modelNames == ["a", "runtime", "c"])
    }

    @Test func reloadResizesTheRollingErrorWindowOfRunningModels() throws {
        let model = EngineFixtures.model("a", batch: 2)
        let core = try EngineFixtures.core([model])   // publish.window 3
        core.configuredNames = ["a"]
        let rows = EngineFixtures.rows(0..<10)
        #expect(EngineFixtures.send(core, EngineFixtures.binary("a", x: rows.x, y: rows.y, rows: 10)) == nil)
        let runner = try #require(core.runners["a"])
        #expect(runner.window.count == 3)
        let lastThree = runner.window
        var configuration = DaemonConfiguration()
        configuration.models = [model]
        configuration.publish.window = 2
        #expect((try? core.reload(configuration).get()) != nil)
        #expect(runner.windowSize == 2 && runner.window == Array(lastThree.suffix(2)))
        configuration.publish.window = 4
        #expect((try? core.reload(configuration).get()) != nil)
        let more = EngineFixtures.rows(10..<14)
        #expect(EngineFixtures.send(core, EngineFixtures.binary("a", x: more.x, y: more.y, rows: 4)) == nil)
        #expect(runner.window.count == 4 && Array(runner.window.prefix(2)) == Array(lastThree.suffix(2)))
    }

    @Test func addKeepsIntegersAndFloatsApartThroughTheWholeControlPath() throws {
        let core = try EngineFixtures.core([])
        // An integer key written as a float is refused, as it is in a TOML file.
        let float = EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"a","kind":"lasso","dict_dim":2.0}}"#)
        #expect(float["ok"] == .bool(false))
        #expect(float["error"]?.string?.contains("got a float 2.0") == true, "\(float)")
        // A seed beyond 2^53 arrives exact (a Double would round it).
        let seed: UInt64 = 9_007_199_254_740_993
        let ok = EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"b","kind":"lasso","dict_dim":2,"seed":\#(seed)}}"#)
        #expect(ok["ok"] == .bool(true), "\(ok)")
        #expect(core.runners["b"]?.configuration.circuit.seed == seed)
    }

    @Test func aDivergingModelIsRolledBackAnnouncedOnceAndRecoversWithASmallerRate() throws {
        var model = EngineFixtures.model("m", batch: 2)
        model.circuit.learningRate = 1e30
        let core = try EngineFixtures.core([model])
        let before = core.runners["m"]!.circuit!.state
        let huge: [Float] = [1e18, -1e18, 1, 2e18, 1e18, 1], y: [Float] = [1e18, -1e18]
        for _ in 0..<3 { #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: huge, y: y, rows: 2)) == nil) }
        let runner = core.runners["m"]!
        #expect(runner.circuit!.state == before && runner.divergences == 3 && core.counters.divergences == 3)
        #expect(!core.outbox.contains { $0.topic == Array("coef/m/".utf8) }, "a rolled-back update published coefficients")
        let events = core.outbox.filter { $0.topic == Array("event/m/".utf8) }.map(EngineFixtures.body)
        #expect(events.filter { $0["event"] == .string("diverged") }.count == 1)
        let status = EngineFixtures.control(core, #"{"cmd":"status"}"#)
        #expect(status["models"]?["m"]?["diverged"] == .bool(true) && status["models"]?["m"]?["divergences"] == .integer(3))
        #expect(EngineFixtures.control(core, #"{"cmd":"set","model":"m","lr":0.01}"#)["ok"] == .bool(true))
        #expect(EngineFixtures.control(core, #"{"cmd":"status"}"#)["models"]?["m"]?["diverged"] == .bool(false))
        let rows = EngineFixtures.rows(0..<2)
        #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: rows.x, y: rows.y, rows: 2)) == nil)
        #expect(runner.circuit!.updates == 1 && core.outbox.contains { $0.topic == Array("coef/m/".utf8) })
    }

    /// A client that subscribes in a loop (and never reads) costs one resend per model per interval, not one per
    /// subscription; the subscription gauge counts distinct topics and returns to 0 when they are all gone.
    @Test func resendsAreConflatedAndTheSubscriptionGaugeStaysExact() throws {
        let clock = ManualClock()
        let core = try EngineFixtures.core([EngineFixtures.model("m", batch: 2)], clock: clock.engineClock)
        func frame(_ kind: UInt8, _ topic: String) { ([kind] + Array(topic.utf8)).withUnsafeBytes { core.handleSubscription($0) } }
        for _ in 0..<500 { frame(1, "coef/m/") }
        #expect(core.outbox.count == 1, "500 subscriptions made \(core.outbox.count) resends")
        #expect(core.counters.subscriptions == 1)
        core.drainOutbox { _ in }
        core.tick()
        #expect(core.outbox.isEmpty)                     // the pending resend waits for the interval
        clock.advance(0.11)
        core.tick()
        #expect(core.outbox.count == 1)                  // then goes once, for the joiners that came meanwhile
        core.drainOutbox { _ in }
        clock.advance(1)
        core.tick()
        #expect(core.outbox.isEmpty)                     // nothing pending any more
        frame(1, "event/")
        #expect(core.counters.subscriptions == 2)
        // XPUB reports one unsubscribe per topic when its last subscriber leaves.
        frame(0, "coef/m/")
        frame(0, "event/")
        #expect(core.counters.subscriptions == 0)
    }

    @Test func aMultiFrameControlRequestIsCountedAndAnswered() throws {
        let core = try EngineFixtures.core([EngineFixtures.model("m")])
        let reply = try JSONParser.parse(core.malformedControlRequest(frames: 3))
        #expect(reply["ok"] == .bool(false) && reply["error"]?.string?.contains("one frame") == true)
        #expect(core.counters.controlRequests == 1 && core.counters.controlErrors == 1)
    }
}
