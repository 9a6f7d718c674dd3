import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// Uncertainty in the engine: `kind = "bayesian"` and `uncertainty = true` through the config decoder, the runner,
/// checkpoints, the publish encoder (JSON and binary, lazy and eager) and `predict`.
@Suite struct UncertaintyEngineTests {
    static func bayesian(_ name: String = "b", dictDim: Int = 3, batch: Int = 2, extra: String = "") throws -> ModelConfiguration {
        try ModelConfiguration.decode(json: Array(#"{"name":"\#(name)","kind":"bayesian","dict_dim":\#(dictDim),"batch_size":\#(batch)\#(extra)}"#.utf8),
                                      source: "test")
    }

    /// Rows of y = 2·x₀ − x₁ + 0.5·x₂ + small deterministic noise, in Double.
    static func rows(_ range: Range<Int>) -> (x: [Double], y: [Double]) {
        var x: [Double] = [], y: [Double] = []
        for i in range {
            let a = Double((i * 37) % 101) / 101 - 0.5, b = Double((i * 53) % 97) / 97 - 0.5, c = Double((i * 71) % 89) / 89 - 0.5
            x += [a, b, c]
            y.append(2 * a - b + 0.5 * c + 0.01 * (Double((i * 13) % 11) / 11 - 0.5))
        }
        return (x, y)
    }

    // MARK: Configuration

    @Test func theBayesianKeysDecodeAndTheTableRoundTrips() throws {
        let m = try Self.bayesian(extra: #","noise_std":0.5,"fit_noise":true,"smoothing":0.99,"uncertainty_level":0.9,"intercept":true"#)
        #expect(m.isBayesian && m.publishesUncertainty && m.kindName == "bayesian")
        #expect(m.noiseStd == 0.5 && m.fitNoise && m.smoothing == 0.99 && m.uncertaintyLevel == 0.9 && m.circuit.intercept)
        #expect(try ModelConfiguration.decode(m.configValue, source: "round trip") == m)
        guard case let .table(table) = m.configValue else { Issue.record("not a table"); return }
        #expect(table["lr"] == nil && table["threshold"] == nil && table["kind"] == .string("bayesian"))
    }

    @Test(arguments: [
        (#"{"name":"b","kind":"bayesian","dict_dim":2,"lr":0.1}"#, #"key "lr""#),
        (#"{"name":"b","kind":"bayesian","dict_dim":2,"threshold":0.1}"#, #"no threshold for kind = "bayesian""#),
        (#"{"name":"b","kind":"bayesian","dict_dim":2,"uncertainty":false}"#, "always publishes its uncertainty"),
        (#"{"name":"b","kind":"bayesian","dict_dim":2,"smoothing":1.5}"#, "(0, 1)"),
        (#"{"name":"b","kind":"bayesian","dict_dim":2,"noise_std":0}"#, #"key "noise_std""#),
        (#"{"name":"b","kind":"bayesian","dict_dim":2,"prior":{"kind":"l1","weight":1}}"#, #""gaussian" for kind = "bayesian""#),
        (#"{"name":"l","kind":"lasso","dict_dim":2,"noise_std":0.5}"#, #"it is a key of kind = "bayesian""#),
        (#"{"name":"l","kind":"lasso","dict_dim":2,"smoothing":0.9}"#, "uncertainty = true"),
        (#"{"name":"l","kind":"lasso","dict_dim":2,"uncertainty":true,"uncertainty_level":1}"#, #"key "uncertainty_level""#),
    ])
    func contradictionsAreRefusedNamingTheKey(json: String, fragment: String) {
        #expect(throws: ConfigError.self) { try ModelConfiguration.decode(json: Array(json.utf8), source: "test") }
        do { _ = try ModelConfiguration.decode(json: Array(json.utf8), source: "test") } catch {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }

    @Test func liveChangesFollowTheLearnersRules() throws {
        let core = try EngineFixtures.core([try Self.bayesian()])
        // noise_std, the level and the prior may change live; smoothing may not.
        #expect(EngineFixtures.control(core, #"{"cmd":"set","model":"b","noise_std":0.25,"uncertainty_level":0.8}"#)["ok"] == .bool(true))
        #expect(core.runners["b"]!.bayesian!.configuration.noiseStd == 0.25)
        let refused = EngineFixtures.control(core, #"{"cmd":"set","model":"b","lr":0.1}"#)
        #expect(refused["ok"] == .bool(false) && refused["error"]?.string?.contains("lr") == true)
    }

    // MARK: Learning, checkpoints

    /// float64 rows reach the posterior exactly: the runner's model equals a BayesianRegression fed the same Doubles.
    @Test func float64RowsKeepTheirPrecisionIntoThePosterior() throws {
        let m = try Self.bayesian()
        let core = try EngineFixtures.core([m])
        let reference = try BayesianRegression(m.bayesianConfiguration)
        let r = Self.rows(0..<6)
        #expect(EngineFixtures.send(core, EngineFixtures.binary64("b", x: r.x, y: r.y, rows: 6)) == nil)
        for b in 0..<3 {
            _ = try r.x.withUnsafeBufferPointer { x in
                try r.y.withUnsafeBufferPointer { y in
                    try reference.update(x: UnsafeBufferPointer(rebasing: x[(6 * b)..<(6 * b + 6)]),
                                         y: UnsafeBufferPointer(rebasing: y[(2 * b)..<(2 * b + 2)]), rows: 2)
                }
            }
        }
        #expect(core.runners["b"]!.bayesian!.state == reference.state)
        #expect(core.runners["b"]!.updates == 3)
    }

    /// A snapshot with buffered Double rows writes and reads back identical, and a model resumed from it continues
    /// bit for bit like one that never stopped.
    @Test func aBayesianCheckpointRoundTripsAndResumesBitIdentical() throws {
        let m = try Self.bayesian(extra: #","fit_noise":true,"smoothing":0.95,"intercept":true"#)
        let core = try EngineFixtures.core([m])
        let r = Self.rows(0..<12)
        #expect(EngineFixtures.send(core, EngineFixtures.binary64("b", x: Array(r.x[0..<15]), y: Array(r.y[0..<5]), rows: 5)) == nil)
        let snapshot = core.runners["b"]!.snapshot(wallClock: 1_800_000_000)
        #expect(snapshot.pendingRows == 1 && snapshot.pendingX64.count == 3 && snapshot.bayesian?.updates == 2)
        let file = try CheckpointFormat.encode(snapshot, software: "test")
        #expect(file[8] == UInt8(CheckpointFormat.version))
        let decoded = try CheckpointFormat.decode(file, path: "b").snapshot
        #expect(decoded == snapshot)
        let resumed = try EngineFixtures.core([])
        try resumed.addModel(decoded.model, restoring: decoded)
        let rest = EngineFixtures.binary64("b", x: Array(r.x[15...]), y: Array(r.y[5...]), rows: 7)
        for c in [core, resumed] { #expect(EngineFixtures.send(c, rest) == nil) }
        #expect(resumed.runners["b"]!.bayesian!.state == core.runners["b"]!.bayesian!.state)
        #expect(resumed.runners["b"]!.updates == 6)
        let inspection = CheckpointInspection(path: "b", decoded: try CheckpointFormat.decode(file, path: "b"))
        #expect(inspection.kind == "bayesian" && inspection.uncertainty != nil && inspection.json.contains("\"std\":[["))
    }

    @Test func aSparseModelsUncertaintyStatisticsRoundTrip() throws {
        var m = EngineFixtures.model("l", batch: 4)
        m.uncertainty = true
        m.smoothing = 0.99
        let core = try EngineFixtures.core([m])
        let r = EngineFixtures.rows(0..<8)
        #expect(EngineFixtures.send(core, EngineFixtures.binary("l", x: r.x, y: r.y, rows: 8)) == nil)
        let snapshot = core.runners["l"]!.snapshot(wallClock: 1_800_000_000)
        #expect(snapshot.uncertainty?.count == 8)
        let decoded = try CheckpointFormat.decode(try CheckpointFormat.encode(snapshot, software: "test"), path: "l").snapshot
        #expect(decoded == snapshot && decoded.model.uncertainty && decoded.model.smoothing == 0.99)
    }

    // MARK: Publishing

    @Test func aBayesianMessageCarriesItsUncertaintyAndTheStdShrinks() throws {
        let core = try EngineFixtures.core([try Self.bayesian()])
        let first = Self.rows(0..<2), more = Self.rows(2..<40)
        EngineFixtures.send(core, EngineFixtures.binary64("b", x: first.x, y: first.y, rows: 2))
        let early = EngineFixtures.body(core.outbox.last!)
        EngineFixtures.send(core, EngineFixtures.binary64("b", x: more.x, y: more.y, rows: 38))
        let late = EngineFixtures.body(core.outbox.last!)
        func column(_ j: JSON, _ key: String) -> [Double] { j[key]!.array!.map { $0.array![0].double! } }
        #expect(late["kind"] == .string("bayesian") && late["threshold"]?.double == 0)
        let earlyStd = column(early, "std"), lateStd = column(late, "std")
        // 2 → 40 rows of spread ~0.29 at noise_std 1: the posterior std falls from ~0.9 to ~0.48.
        #expect(zip(earlyStd, lateStd).allSatisfy { $1 < 0.6 * $0 }, "\(earlyStd) → \(lateStd)")
        let coefficients = column(late, "coefficients"), lower = late["interval"]!["lower"]!.array!.map { $0.array![0].double! }
        #expect(late["interval"]?["level"]?.double == 0.95 && late["noise_std"]?.array?.first?.double == 1)
        for (j, truth) in [2.0, -1, 0.5].enumerated() {
            #expect(abs(coefficients[j] - truth) < 3 * lateStd[j] + 0.05 && lower[j] < coefficients[j])
        }
    }

    @Test func binaryFormatSendsStdLowerUpperAsFramesThreeToFive() throws {
        let json = try EngineFixtures.core([try Self.bayesian()]), binary = try EngineFixtures.core([try Self.bayesian()], format: .binary)
        let r = Self.rows(0..<10)
        for core in [json, binary] { EngineFixtures.send(core, EngineFixtures.binary64("b", x: r.x, y: r.y, rows: 10)) }
        let message = binary.outbox.last!, inline = EngineFixtures.body(json.outbox.last!)
        #expect(message.frames.count == 6 && message.uncertaintyFrames.count == 3)
        let head = EngineFixtures.body(message)
        #expect(head["coefficients"] == nil && head["std"] == nil && head["interval"]?["lower"] == nil)
        #expect(head["interval"]?["level"]?.double == 0.95 && head["intercept_std"] != nil && head["noise_std"] != nil)
        func floats(_ frame: [UInt8]) -> [Float] { frame.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } }
        for (frame, key) in zip(message.uncertaintyFrames, ["std", "lower", "upper"]) {
            let values = (key == "std" ? inline[key]! : inline["interval"]![key]!).array!.map { Float($0.array![0].double!) }
            #expect(floats(frame) == values, "\(key)")
        }
        // A model without uncertainty keeps exactly frames 0–2.
        let plain = try EngineFixtures.core([EngineFixtures.model("m")], format: .binary)
        let p = EngineFixtures.rows(0..<4)
        EngineFixtures.send(plain, EngineFixtures.binary("m", x: p.x, y: p.y, rows: 4))
        #expect(plain.outbox.last!.frames.count == 3 && EngineFixtures.body(plain.outbox.last!)["std"] == nil)
    }

    @Test(arguments: [PublishFormat.json, .binary])
    func lazyEncodingIsByteForByteTheEagerMessage(format: PublishFormat) throws {
        let clock = ManualClock()
        var sparse = EngineFixtures.model("l", batch: 4)
        sparse.uncertainty = true
        let models = [try Self.bayesian(), sparse]
        let lazy = try EngineFixtures.core(models, format: format, clock: clock.engineClock)
        let eager = try EngineFixtures.core(models, format: format, clock: clock.engineClock)
        lazy.publisher.encodesOnlyForSubscribers = true
        let r = Self.rows(0..<8), s = EngineFixtures.rows(0..<8)
        for core in [lazy, eager] {
            EngineFixtures.send(core, EngineFixtures.binary64("b", x: r.x, y: r.y, rows: 8))
            EngineFixtures.send(core, EngineFixtures.binary("l", x: s.x, y: s.y, rows: 8))
        }
        #expect(lazy.outbox.isEmpty)
        for topic in ["coef/b/", "coef/l/"] {
            let eagerLast = try #require(eager.outbox.last { $0.topic == Array(topic.utf8) })
            ([1] + Array(topic.utf8)).withUnsafeBytes { lazy.handleSubscription($0) }
            #expect(lazy.outbox.last == eagerLast, "\(topic)")
        }
    }

    /// A lasso with uncertainty = true: an exactly-zero published coefficient has std 0 and the interval [0, 0].
    @Test func aSparseModelsZeroCoefficientsHaveZeroStdAndInterval() throws {
        var m = EngineFixtures.model("l", batch: 4)
        m.uncertainty = true
        m.circuit.threshold = 0.5
        let core = try EngineFixtures.core([m])
        let r = EngineFixtures.rows(0..<40)
        EngineFixtures.send(core, EngineFixtures.binary("l", x: r.x, y: r.y, rows: 40))
        let j = EngineFixtures.body(core.outbox.last!)
        let coefficients = j["coefficients"]!.array!.map { $0.array![0].double! }
        let std = j["std"]!.array!.map { $0.array![0].double! }
        let lower = j["interval"]!["lower"]!.array!.map { $0.array![0].double! }, upper = j["interval"]!["upper"]!.array!.map { $0.array![0].double! }
        #expect(coefficients.contains(0))
        for i in coefficients.indices where coefficients[i] == 0 { #expect(std[i] == 0 && lower[i] == 0 && upper[i] == 0) }
        for i in coefficients.indices where coefficients[i] != 0 { #expect(std[i] > 0 && lower[i] < upper[i]) }
    }

    // MARK: predict

    @Test func predictAnswersTheBayesianPredictiveMeanAndStd() throws {
        let m = try Self.bayesian()
        let core = try EngineFixtures.core([m])
        let reference = try BayesianRegression(m.bayesianConfiguration)
        let r = Self.rows(0..<8)
        EngineFixtures.send(core, EngineFixtures.binary64("b", x: r.x, y: r.y, rows: 8))
        try r.x.withUnsafeBufferPointer { x in try r.y.withUnsafeBufferPointer { y in
            for b in 0..<4 { try reference.update(x: UnsafeBufferPointer(rebasing: x[(6 * b)..<(6 * b + 6)]), y: UnsafeBufferPointer(rebasing: y[(2 * b)..<(2 * b + 2)]), rows: 2) }
        } }
        let reply = EngineFixtures.control(core, #"{"cmd":"predict","model":"b","x":[[0.1,0.2,0.3],[736389.5,-1,2]]}"#)
        let expected = try [0.1, 0.2, 0.3, 736389.5, -1, 2].withUnsafeBufferPointer { try reference.predict(x: $0, rows: 2) }
        #expect(reply["y"]?.array?.map { $0.array![0].double! } == expected.mean)
        #expect(reply["y_std"]?.array?.map { $0.array![0].double! } == expected.std)
        // A lasso with uncertainty = true answers the refit's predictive std: at least the refit's noise std
        // (published as noise_std), more far from the data.
        var sparse = EngineFixtures.model("l", batch: 4)
        sparse.uncertainty = true
        let lasso = try EngineFixtures.core([sparse])
        let s = EngineFixtures.rows(0..<40)
        EngineFixtures.send(lasso, EngineFixtures.binary("l", x: s.x, y: s.y, rows: 40))
        let noise = try #require(EngineFixtures.body(lasso.outbox.last!)["noise_std"]?.array?.first?.double)
        let sparseReply = EngineFixtures.control(lasso, #"{"cmd":"predict","model":"l","x":[[0.5,-0.5,1],[50,-50,1]]}"#)
        let std = try #require(sparseReply["y_std"]?.array?.map { $0.array![0].double! })
        #expect(std[0] >= noise && std[1] > std[0] && sparseReply["y"]?.array?.count == 2)
        // A circuit without uncertainty answers as before: no y_std.
        let plain = try EngineFixtures.core([EngineFixtures.model("m")])
        #expect(EngineFixtures.control(plain, #"{"cmd":"predict","model":"m","x":[[1,2,3]]}"#)["y_std"] == nil)
    }

    // MARK: The same paths as every model

    /// reset (a request, or a drift alarm with action = "reset") takes a bayesian model back to its prior; remove and
    /// add with its snapshot resume it; a reload may change noise_std but not smoothing; a `set` value survives a
    /// restart through the run-time state, whose table is the config file's.
    @Test func resetDriftRemoveAddReloadAndRuntimeStateWorkForBayesian() throws {
        var m = try Self.bayesian(batch: 5)
        m.drift = DriftAlarm(detector: .pageHinkley(PageHinkley.Parameters(minInstances: 5, delta: 0.005, threshold: 0.5, mode: .up)),
                             action: .reset)
        let core = try EngineFixtures.core([m])
        let r = Self.rows(0..<100)
        EngineFixtures.send(core, EngineFixtures.binary64("b", x: Array(r.x[0..<150]), y: Array(r.y[0..<50]), rows: 50))
        #expect(core.runners["b"]!.updates == 10)
        // The target flips sign: the error jumps, the alarm fires and resets the model to its prior.
        EngineFixtures.send(core, EngineFixtures.binary64("b", x: Array(r.x[150...]), y: r.y[50...].map { -10 * $0 }, rows: 50))
        let runner = core.runners["b"]!
        #expect(runner.drift?.drifts ?? 0 >= 1 && runner.updates < 10, "drifts \(runner.drift?.drifts ?? 0), updates \(runner.updates)")

        #expect(EngineFixtures.control(core, #"{"cmd":"reset","model":"b"}"#)["ok"] == .bool(true))
        let prior = try BayesianRegression(m.bayesianConfiguration).state
        #expect(runner.updates == 0 && runner.bayesian!.state == prior)

        EngineFixtures.send(core, EngineFixtures.binary64("b", x: Array(r.x[0..<30]), y: Array(r.y[0..<10]), rows: 10))
        let snapshot = runner.snapshot(wallClock: 0)
        core.removeModel("b")
        try core.addModel(m, restoring: snapshot)
        #expect(core.runners["b"]!.bayesian!.state == snapshot.bayesian)

        var reloaded = DaemonConfiguration()
        var quieter = m
        quieter.noiseStd = 0.3
        reloaded.models = [quieter]
        #expect(try core.reload(reloaded).get().modelNames == ["b"])
        #expect(core.runners["b"]!.bayesian!.configuration.noiseStd == 0.3 && core.runners["b"]!.updates == 2)
        var forgetting = quieter
        forgetting.smoothing = 0.9
        reloaded.models = [forgetting]
        guard case let .failure(rejection) = core.reload(reloaded) else { Issue.record("smoothing changed live"); return }
        #expect(rejection.reason.contains("smoothing"))

        var state = RuntimeState()
        state.recordRunning(quieter, fileModel: m)
        #expect(state.reconcile(file: [m]).models == [quieter])
        #expect(try RuntimeModelTable.model(from: RuntimeModelTable.table(of: quieter), source: "runtime") == quieter)
    }

    /// `uncertainty = true` added to a running lasso by a reload starts empty statistics (its W is kept); taking it
    /// away would discard them and is refused.
    @Test func uncertaintyCanBeTurnedOnLiveButNotOff() throws {
        let plain = EngineFixtures.model("l", batch: 4)
        let core = try EngineFixtures.core([plain])
        let r = EngineFixtures.rows(0..<8)
        EngineFixtures.send(core, EngineFixtures.binary("l", x: r.x, y: r.y, rows: 8))
        let weights = core.runners["l"]!.circuit!.weights
        var on = plain
        on.uncertainty = true
        var file = DaemonConfiguration()
        file.models = [on]
        #expect(try core.reload(file).get().modelNames == ["l"])
        #expect(core.runners["l"]!.circuit!.weights == weights && core.runners["l"]!.uncertainty?.moments.count == 0)
        EngineFixtures.send(core, EngineFixtures.binary("l", x: r.x, y: r.y, rows: 8))
        #expect(core.runners["l"]!.uncertainty?.moments.count == 8)
        file.models = [plain]
        guard case let .failure(rejection) = core.reload(file) else { Issue.record("uncertainty turned off live"); return }
        #expect(rejection.reason.contains("uncertainty true → false"))
    }
}
