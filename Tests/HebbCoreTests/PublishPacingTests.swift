@testable import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// `publish.every` and `publish.max_rate`, driven in memory with a hand-moved clock.
@Suite struct PublishPacingTests {
    static func core(every: Int = 1, maxRate: Double = 0, clock: ManualClock) throws -> EngineCore {
        var settings = EngineSettings()
        settings.heartbeat = 0
        settings.pacing.every = every
        settings.pacing.maxRate = maxRate
        let core = EngineCore(settings: settings, clock: clock.engineClock)
        try core.addModel(EngineFixtures.model("m", batch: 2))
        core.drainOutbox { _ in }
        return core
    }

    /// Sends `batches` batches of 2 rows (one update each) and returns the coefficient messages published.
    static func update(_ core: EngineCore, batches: Int, from first: Int = 0) -> [JSON] {
        for b in 0..<batches {
            let rows = EngineFixtures.rows((first + 2 * b)..<(first + 2 * b + 2))
            #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: rows.x, y: rows.y, rows: 2)) == nil)
        }
        var bodies: [JSON] = []
        core.drainOutbox { if $0.topic == Array("coef/m/".utf8) { bodies.append(EngineFixtures.body($0)) } }
        return bodies
    }

    /// A Bayesian model learns its long batches the way that suits how often its posterior is published
    /// (``BayesianRegression/readShare``): the share `publish.every` leaves, 1 with `max_rate`; set when the model is
    /// added and on every reload, and deciding the way a 64-row batch of a 64-feature model is learned.
    @Test func aBayesianModelLearnsByTheShareOfUpdatesPublished() throws {
        let core = try Self.core(every: 8, clock: ManualClock())
        let model = try UncertaintyEngineTests.bayesian("b", dictDim: 64, batch: 64)
        try core.addModel(model)
        let bayesian = try #require(core.runners["b"]?.bayesian)
        #expect(bayesian.readShare == 0.125)
        var g = SeededGenerator(seed: 3)
        let x = (0..<(64 * 64)).map { _ in g.nextGaussian() }, y = (0..<64).map { _ in g.nextGaussian() }
        #expect(EngineFixtures.send(core, EngineFixtures.binary64("b", x: x, y: y, rows: 64)) == nil)
        #expect(bayesian.lastBatchMethod == .refactor)
        var configuration = DaemonConfiguration()
        configuration.models = [model]
        core.configuredNames = ["b"]
        #expect((try? core.reload(configuration).get()) != nil)
        #expect(bayesian.readShare == 1)
        #expect(EngineFixtures.send(core, EngineFixtures.binary64("b", x: x, y: y, rows: 64)) == nil)
        #expect(bayesian.lastBatchMethod == .rowByRow)
        configuration.publish.every = 4
        #expect((try? core.reload(configuration).get()) != nil && bayesian.readShare == 0.25)
        configuration.publish.maxRate = 10
        #expect((try? core.reload(configuration).get()) != nil && bayesian.readShare == 1)
    }

    /// The way a Bayesian batch is learned follows the configuration, not who reads: a daemon that encoded every message
    /// and read its posterior after every update, and one resumed from its checkpoint that encodes nothing, learn the
    /// rest alike and give the same statistics, posterior and predictions, bit for bit (batches of 32 rows of 16
    /// features with `publish.every = 8`: folded into the statistics, the posterior factored from them).
    @Test func aResumedBayesianModelLearnsTheSameWayWhoeverReads() throws {
        var settings = EngineSettings()
        settings.heartbeat = 0
        settings.pacing.every = 8
        let model = try UncertaintyEngineTests.bayesian("b", dictDim: 16, batch: 32, extra: #","intercept":true"#)
        let original = EngineCore(settings: settings, clock: ManualClock().engineClock)
        try original.addModel(model)
        var g = SeededGenerator(seed: 11)
        let batches = (0..<10).map { _ in
            let x = (0..<(32 * 16)).map { _ in 5 + g.nextGaussian() }
            return (x: x, y: (0..<32).map { r in x[r * 16] - 2 * x[r * 16 + 5] + 0.1 * g.nextGaussian() })
        }
        func learn(_ core: EngineCore, _ range: Range<Int>, reading: Bool) throws {
            for b in range {
                #expect(EngineFixtures.send(core, EngineFixtures.binary64("b", x: batches[b].x, y: batches[b].y, rows: 32)) == nil)
                if reading { _ = try core.runners["b"]!.bayesian!.uncertainty() }
                core.drainOutbox { _ in }
            }
        }
        try learn(original, 0..<4, reading: true)
        let file = try CheckpointFormat.encode(original.runners["b"]!.snapshot(wallClock: 1_800_000_000), software: "test")
        let resumed = EngineCore(settings: settings, clock: ManualClock().engineClock)
        resumed.publisher.encodesOnlyForSubscribers = true
        let decoded = try CheckpointFormat.decode(file, path: "b").snapshot
        try resumed.addModel(decoded.model, restoring: decoded)
        try learn(original, 4..<10, reading: true)
        try learn(resumed, 4..<10, reading: false)
        let a = try #require(original.runners["b"]?.bayesian), b = try #require(resumed.runners["b"]?.bayesian)
        #expect(a.lastBatchMethod == .refactor && b.lastBatchMethod == .refactor)
        #expect(a.state == b.state)
        #expect(try a.uncertainty() == b.uncertainty())
        let probe = batches[0].x
        let pa = try probe.withUnsafeBufferPointer { x throws(CircuitError) in try a.predict(x: x, rows: 32) }
        let pb = try probe.withUnsafeBufferPointer { x throws(CircuitError) in try b.predict(x: x, rows: 32) }
        #expect(pa.mean.map(\.bitPattern) == pb.mean.map(\.bitPattern) && pa.std.map(\.bitPattern) == pb.std.map(\.bitPattern))
    }

    @Test func offByDefaultEveryUpdateIsPublished() throws {
        let core = try Self.core(clock: ManualClock())
        #expect(Self.update(core, batches: 5).map { $0["step"]?.int } == [1, 2, 3, 4, 5])
    }

    @Test func everyNthUpdateOnlyWithConsecutiveSeq() throws {
        let core = try Self.core(every: 3, clock: ManualClock())
        let published = Self.update(core, batches: 10)
        #expect(published.map { $0["step"]?.int } == [3, 6, 9])
        #expect(published.map { $0["seq"]?.int } == [1, 2, 3])  // the initial state was seq 0
        #expect(core.counters.updates == 10)
    }

    @Test func maxRateHoldsBackAndTheLatestWins() throws {
        let clock = ManualClock()
        let core = try Self.core(maxRate: 10, clock: clock)
        // The first update publishes at once; the next ones within 0.1 s are held back, each replacing the last.
        #expect(Self.update(core, batches: 4).map { $0["step"]?.int } == [1])
        #expect(core.heldBackDueIn.map { abs($0 - 0.1) < 1e-9 } == true)
        clock.advance(0.05)
        core.tick()
        #expect(core.outbox.isEmpty)
        clock.advance(0.05)
        core.tick()
        var bodies: [JSON] = []
        core.drainOutbox { bodies.append(EngineFixtures.body($0)) }
        // The latest state (step 4, its own loss) went out once the interval passed, with the next seq.
        #expect(bodies.map { $0["step"]?.int } == [4])
        #expect(bodies.first?["seq"]?.int == 2)
        #expect(bodies.first?["loss"]?.double == core.runners["m"]!.lastReport!.loss)
        #expect(core.heldBackDueIn == nil)
        // After a quiet interval an update publishes at once again.
        clock.advance(1)
        #expect(Self.update(core, batches: 1, from: 100).map { $0["step"]?.int } == [5])
    }

    @Test func resetDropsWhatWasHeldBack() throws {
        let clock = ManualClock()
        let core = try Self.core(maxRate: 1, clock: clock)
        _ = Self.update(core, batches: 3)
        #expect(core.heldBackDueIn != nil)
        #expect(EngineFixtures.control(core, #"{"cmd":"reset","model":"m"}"#)["ok"]?.bool == true)
        #expect(core.heldBackDueIn == nil)
        core.drainOutbox { _ in }
        clock.advance(2)
        core.tick()
        #expect(core.outbox.isEmpty)
    }

    @Test func configKeysAreReadAndChecked() throws {
        let c = try DaemonConfiguration.parse(toml: "[publish]\nevery = 4\nmax_rate = 2.5\n[daemon]\nblas_threads = 2\n", file: "t.toml")
        #expect(c.publish.every == 4)
        #expect(c.publish.maxRate == 2.5)
        #expect(c.daemon.blasThreads == 2)
        #expect(EngineSettings(c).pacing == { var p = PublishPacing(); p.every = 4; p.maxRate = 2.5; return p }())
        #expect(throws: ConfigError.self) { try DaemonConfiguration.parse(toml: "[publish]\nevery = 0\n", file: "t.toml") }
        #expect(throws: ConfigError.self) { try DaemonConfiguration.parse(toml: "[publish]\nmax_rate = -1\n", file: "t.toml") }
        #expect(throws: ConfigError.self) { try DaemonConfiguration.parse(toml: "[daemon]\nblas_threads = 0\n", file: "t.toml") }
    }
}
