import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// The checkpoint policy (``CheckpointSchedule``) driven by a fake clock: no sockets, no files, no sleeping.
@Suite struct CheckpointScheduleTests {
    private func core(interval: Double, every: Int = 0, models: [String] = ["a", "b"]) throws -> (EngineCore, ManualClock) {
        let clock = ManualClock()
        var settings = EngineSettings()
        settings.heartbeat = 0
        settings.checkpointInterval = interval
        settings.checkpointEvery = every
        let core = EngineCore(settings: settings, clock: clock.engineClock)
        core.schedule.enabled = true
        for name in models { try core.addModel(EngineFixtures.model(name, batch: 2)) }
        return (core, clock)
    }

    private func feed(_ core: EngineCore, _ model: String, rows: Int) {
        let r = EngineFixtures.rows(0..<rows)
        #expect(EngineFixtures.send(core, EngineFixtures.binary(model, x: r.x, y: r.y, rows: rows)) == nil)
    }

    @Test func intervalWritesChangedModelsOnlyAndRestartsAfterAnExplicitRequest() throws {
        let (core, clock) = try core(interval: 30)
        #expect(core.dueCheckpoints().isEmpty)              // not yet 30 s
        clock.advance(30)
        // Fresh models get a first file at the first interval, fed or not.
        #expect(core.dueCheckpoints().map(\.name) == ["a", "b"])
        #expect(core.dueCheckpoints().isEmpty)              // the interval restarted
        feed(core, "a", rows: 2)
        clock.advance(29.9)
        #expect(core.dueCheckpoints().isEmpty)
        clock.advance(0.1)
        #expect(core.dueCheckpoints().map(\.name) == ["a"])   // b is idle: not rewritten
        // An explicit request writes every model and restarts the interval.
        clock.advance(20)
        feed(core, "b", rows: 2)
        #expect(core.checkpointAllModels().map(\.name) == ["a", "b"])
        clock.advance(29)
        #expect(core.dueCheckpoints().isEmpty)
    }

    @Test func everyCountsUpdatesSinceTheLastCheckpoint() throws {
        let (core, _) = try core(interval: 0, every: 3)
        feed(core, "a", rows: 4)                               // 2 updates
        #expect(core.dueCheckpoints().isEmpty)
        feed(core, "a", rows: 2)                               // 3
        let due = core.dueCheckpoints()
        #expect(due.map(\.name) == ["a"] && due.first?.circuit!.updates == 3)
        feed(core, "a", rows: 4)                               // 5: 2 since
        #expect(core.dueCheckpoints().isEmpty)
    }

    @Test func failedWritesAreRetriedAndRemovedModelsWrittenOnce() throws {
        let (core, clock) = try core(interval: 10)
        clock.advance(10)
        #expect(core.dueCheckpoints().count == 2)
        core.checkpointFailed(model: "a", error: "disk full", taken: clock.now)
        #expect(core.outbox.contains { $0.topic == Array("event/a/".utf8) && EngineFixtures.body($0)["event"] == .string("checkpoint_failed") })
        clock.advance(10)
        #expect(core.dueCheckpoints().map(\.name) == ["a"])    // retried though unchanged; b is not rewritten
        core.removeModel("b")
        #expect(core.dueCheckpoints().map(\.name) == ["b"])
        #expect(core.dueCheckpoints().isEmpty)
    }

    @Test func restoredModelsAreNotRewrittenUntilTheyChangeAndShutdownWritesChangedOnes() throws {
        let (core, clock) = try core(interval: 10, models: [])
        let source = try EngineFixtures.core([EngineFixtures.model("r", batch: 2)])
        let r = EngineFixtures.rows(0..<4)
        EngineFixtures.send(source, EngineFixtures.binary("r", x: r.x, y: r.y, rows: 4))
        try core.addModel(EngineFixtures.model("r", batch: 2), restoring: source.runners["r"]!.snapshot(wallClock: 0))
        try core.addModel(EngineFixtures.model("fresh", batch: 2))
        #expect(core.finalCheckpoints().map(\.name) == ["fresh"])
        clock.advance(10)
        #expect(core.dueCheckpoints().isEmpty)
        feed(core, "r", rows: 2)
        #expect(core.finalCheckpoints().map(\.name) == ["r"])
    }

    @Test func disabledScheduleHandsOutNothingButRemovedModels() throws {
        let (core, clock) = try core(interval: 1)
        core.schedule.enabled = false
        clock.advance(100)
        #expect(core.dueCheckpoints().isEmpty)
    }

    @Test func reloadChangesTheScheduleAndReportsItsSideEffects() throws {
        var configuration = DaemonConfiguration()
        configuration.models = [EngineFixtures.model("a", batch: 2)]
        let clock = ManualClock()
        let core = EngineCore(configuration: configuration, clock: clock.engineClock)
        core.schedule.enabled = true
        try core.addModel(configuration.models[0])
        var next = configuration
        next.daemon.checkpointInterval = 5
        next.daemon.logLevel = .debug
        next.daemon.checkpointKeep = 2
        next.endpoints.ingest = "tcp://127.0.0.1:6000"
        let effects = try core.reload(next).get()
        #expect(effects.logLevel == .debug && effects.checkpointKeep == 2 && effects.restartOnly == ["endpoints"])
        #expect(core.schedule.interval == 5)
        clock.advance(5)
        #expect(core.dueCheckpoints().map(\.name) == ["a"])
        // The same file again: nothing new to apply.
        let again = try core.reload(next).get()
        #expect(again.logLevel == nil && again.checkpointKeep == nil)
    }
}

/// The one resume rule, for start-up and for run-time models.
@Suite struct ResumePolicyTests {
    @Test func decisions() throws {
        let model = EngineFixtures.model("m")
        let source = try EngineFixtures.core([model])
        let snapshot = source.runners["m"]!.snapshot(wallClock: 0)
        #expect(model.resumeDecision(from: .none, resetRequested: false) == .fresh(warning: nil))
        #expect(model.resumeDecision(from: .found(snapshot, path: "p"), resetRequested: false) == .resume(snapshot))
        var changedLR = model
        changedLR.circuit.learningRate = 0.5
        #expect(changedLR.resumeDecision(from: .found(snapshot, path: "p"), resetRequested: false) == .resume(snapshot))
        // An incompatible checkpoint refuses the model, at start-up and at run time alike, naming the ways out.
        let reshaped = EngineFixtures.model("m", dictDim: 4)
        guard case let .refuse(refusal) = reshaped.resumeDecision(from: .found(snapshot, path: "p"), resetRequested: false),
              case .incompatible(model: "m", path: "p", _) = refusal else {
            Issue.record("an incompatible checkpoint must refuse the model"); return
        }
        #expect(refusal.description.contains("--reset-model m") && refusal.description.contains("\"reset\": true")
                && refusal.description.contains("shape"))
        guard case .fresh(let reset?) = reshaped.resumeDecision(from: .found(snapshot, path: "p"), resetRequested: true) else {
            Issue.record("a reset starts afresh"); return
        }
        #expect(reset.contains("reset requested") && reset.contains("incompatible"))
    }

    /// Learned state this build cannot read (a newer format, an I/O error) is refused, never replaced implicitly.
    @Test func unreadableStateIsRefusedUnlessAResetIsRequested() {
        let model = EngineFixtures.model("m")
        let error = CheckpointError.unsupportedVersion(path: "/s/m/ckpt-1.hebb", version: 9, supported: 3)
        #expect(model.resumeDecision(from: .unreadable(error), resetRequested: false) == .refuse(.unreadable(model: "m", error: error)))
        #expect(ResumeRefusal.unreadable(model: "m", error: error).description.contains("/s/m/ckpt-1.hebb"))
        guard case .fresh(let warning?) = model.resumeDecision(from: .unreadable(error), resetRequested: true) else {
            Issue.record("a reset starts afresh"); return
        }
        #expect(warning.contains("format version 9"))
    }
}
