import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// `[limits]`: what a model, a request or a message may cost is bounded, checked before anything is allocated.
@Suite struct ResourceLimitTests {
    private func core(_ configure: (inout EngineSettings) -> Void) -> EngineCore {
        var settings = EngineSettings()
        settings.heartbeat = 0
        configure(&settings)
        return EngineCore(settings: settings)
    }

    /// The request that froze the daemon (46000 × 46000, 8 GB per array) is refused at once, naming the limit.
    @Test func aHugeModelIsRefusedBeforeAnythingIsAllocated() throws {
        let core = core { $0.maxMemoryBytes = 1 << 30; $0.maxModelWeights = 1 << 24 }
        let started = ContinuousClock.now
        let reply = EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"big","kind":"lasso","dict_dim":46000,"sys_dim":46000}}"#)
        #expect(reply["ok"] == .bool(false))
        #expect(reply["error"]?.string?.contains("limits.max_model_weights") == true, "\(reply)")
        #expect(started.duration(to: .now) < .seconds(1))
        #expect(core.runners.isEmpty)
        // Under the weight limit but over the memory budget: a huge batch_size.
        let batch = EngineFixtures.control(core, #"{"cmd":"add","model":{"name":"b","kind":"lasso","dict_dim":1000,"batch_size":100000000}}"#)
        #expect(batch["error"]?.string?.contains("limits.max_memory_bytes") == true, "\(batch)")
    }

    @Test func theMemoryBudgetAndModelCountAreShared() throws {
        let one = ModelFootprint.bytes(of: EngineFixtures.model("a", dictDim: 100, sysDim: 10), publishFormat: .json)
        let core = core { $0.maxMemoryBytes = 2 * one + one / 2; $0.maxModels = 3 }
        try core.addModel(EngineFixtures.model("a", dictDim: 100, sysDim: 10))
        try core.addModel(EngineFixtures.model("b", dictDim: 100, sysDim: 10))
        #expect(throws: ModelAdmissionError.self) { try core.addModel(EngineFixtures.model("c", dictDim: 100, sysDim: 10)) }
        try core.addModel(EngineFixtures.model("small", dictDim: 2))
        #expect(core.memoryInUse <= 2 * one + one / 2)
        do {
            try core.addModel(EngineFixtures.model("d", dictDim: 1))
            Issue.record("a fourth model was admitted")
        } catch {
            #expect(error == .limit(ResourceLimitViolation(limit: "limits.max_models", maximum: 3, needed: 4, what: "models")))
        }
        let status = EngineFixtures.control(core, #"{"cmd":"status"}"#)
        #expect(status["memory"]?["models_bytes"]?.int == core.memoryInUse && status["memory"]?["limit_bytes"]?.int == 2 * one + one / 2)
        #expect(status["memory"]?["models"] == .integer(3))
    }

    /// ModelFootprint's terms, as its documentation and docs/OPERATIONS.md state them and `Benchmarks/footprint.py`
    /// measured them: 104 bytes per coefficient with Adam and JSON publish (W 4, moments 8, working arrays 12, two
    /// JSON messages 32, a checkpoint's 4 copies of W and the moments 48), and per batch row 12·(d+s) + 4·s.
    @Test func theEstimateCountsWhatTheDocumentationSays() throws {
        #expect(ModelFootprint.bytesPerWeight(adam: true, fittedPrior: false) == 104)
        #expect(ModelFootprint.bytesPerWeight(adam: false, fittedPrior: false) == 64)
        // The guard's copies of W and the moments are not in a checkpoint: +12, not +60.
        #expect(ModelFootprint.bytesPerWeight(adam: true, fittedPrior: false, guardCopies: true) == 116)
        // Binary publish: two float32 frames instead of two JSON texts at 16 bytes per value.
        #expect(ModelFootprint.bytesPerWeight(adam: true, fittedPrior: false, jsonPublish: false) == 80)
        // A fitted prior's 24 bytes are saved in checkpoints, so its 4 copies count too.
        #expect(ModelFootprint.bytesPerWeight(adam: true, fittedPrior: true) == 104 + 5 * 24)

        var model = EngineFixtures.model("a", dictDim: 100, sysDim: 10, batch: 32)
        model.circuit.optimizer = .adam
        let rowBytes = 12 * (100 + 10) + 4 * 10, perModel = 4096 + 32 * (100 + 10)
        #expect(ModelFootprint.bytes(of: model, publishFormat: .json) == 1000 * 104 + 32 * rowBytes + perModel)
        model.circuit.standardize = true
        #expect(ModelFootprint.bytes(of: model, publishFormat: .json) == 1000 * 104 + 32 * (rowBytes + 4 * 110) + perModel)
    }

    /// `set` goes through the same limit check as `add` and a reload: `epochs` 1 → 2 adds the divergence guard's
    /// copies of W and the moments, and a model at the memory budget must not grow past it that way.
    @Test func setIsRefusedWhenTheNewValuesWouldExceedTheLimits() throws {
        var model = EngineFixtures.model("a", dictDim: 100, sysDim: 10)
        model.circuit.optimizer = .adam
        var grown = model
        grown.circuit.epochs = 2
        let before = ModelFootprint.bytes(of: model, publishFormat: .json), after = ModelFootprint.bytes(of: grown, publishFormat: .json)
        try #require(after > before)
        let core = core { $0.maxMemoryBytes = before }
        try core.addModel(model)
        core.drainOutbox { _ in }
        let reply = EngineFixtures.control(core, #"{"cmd":"set","model":"a","epochs":2}"#)
        #expect(reply["ok"] == .bool(false))
        #expect(reply["error"]?.string?.contains("limits.max_memory_bytes") == true, "\(reply)")
        // Nothing changed: the model keeps its epochs, and no `set` event went out.
        #expect(core.runners["a"]!.configuration.circuit.epochs == 1)
        #expect(core.outbox.isEmpty)
        // A change that does not grow the model is still accepted at the limit.
        #expect(EngineFixtures.control(core, #"{"cmd":"set","model":"a","lr":0.05}"#)["ok"] == .bool(true))
    }

    @Test func aReloadOverTheLimitsIsRejectedWhole() throws {
        var configuration = DaemonConfiguration()
        configuration.limits.maxModels = 2
        configuration.models = [EngineFixtures.model("a")]
        let core = EngineCore(configuration: configuration)
        try core.addModel(configuration.models[0])
        var next = configuration
        next.models = [EngineFixtures.model("a"), EngineFixtures.model("b"), EngineFixtures.model("c")]
        guard case let .failure(rejection) = core.reload(next) else { Issue.record("reload over max_models applied"); return }
        #expect(rejection.reason.contains("limits.max_models"))
        #expect(core.modelNames == ["a"])
    }

    @Test func bigRepliesAndBigJSONAreRefusedWithTheLimitNamed() throws {
        let core = core { $0.maxReplyBytes = 1024; $0.maxInlineBytes = 4096 }
        try core.addModel(EngineFixtures.model("wide", dictDim: 200))
        let snapshot = EngineFixtures.control(core, #"{"cmd":"snapshot","model":"wide"}"#)
        #expect(snapshot["error"]?.string?.contains("limits.max_reply_bytes") == true, "\(snapshot)")
        let rows = (0..<100).map { _ in "[" + Array(repeating: "0", count: 200).joined(separator: ",") + "]" }.joined(separator: ",")
        let predict = EngineFixtures.control(core, #"{"cmd":"predict","model":"wide","x":[\#(rows)]}"#)
        #expect(predict["error"]?.string?.contains("limits.max_inline_bytes") == true, "\(predict)")
        let inline = EngineFixtures.send(core, EngineFixtures.inline("wide", #"{"x":[\#(rows)],"y":[0]}"#))
        #expect(inline?.reason == .tooLarge && inline?.detail.contains("limits.max_inline_bytes") == true)
    }

    @Test func limitsParseWithMachineDefaults() throws {
        let defaults = try DaemonConfiguration.parse(toml: "", file: "d.toml").limits
        #expect(defaults.maxMemoryBytes == MachineMemory.physicalBytes / 2)
        #expect(defaults.maxModelWeights > 1_000_000 && defaults.maxModels == 1000 && defaults.ingestHighWaterMark == 1000)
        let set = try DaemonConfiguration.parse(toml: "[limits]\nmax_models = 7\nmax_memory_bytes = 1000000\nmax_model_weights = 500\ningest_hwm = 10",
                                                file: "l.toml").limits
        #expect(set.maxModels == 7 && set.maxMemoryBytes == 1_000_000 && set.maxModelWeights == 500 && set.ingestHighWaterMark == 10)
        #expect(throws: ConfigError.self) { try DaemonConfiguration.parse(toml: "[limits]\nmax_models = 0", file: "l.toml") }
    }

    @Test func theIngestQueueCanBeBoundInBytes() throws {
        let off = try DaemonConfiguration.parse(toml: "[limits]\ningest_hwm = 500", file: "i.toml").limits
        #expect(off.effectiveIngestHighWaterMark == 500)
        let bytes = try DaemonConfiguration.parse(toml: "[limits]\nmax_message_bytes = 1048576\nmax_ingest_bytes = 33554432", file: "i.toml").limits
        #expect(bytes.effectiveIngestHighWaterMark == 32)   // 32 MiB / 1 MiB per message at most
        let tiny = try DaemonConfiguration.parse(toml: "[limits]\nmax_ingest_bytes = 10", file: "i.toml").limits
        #expect(tiny.effectiveIngestHighWaterMark == 1)
    }
}
