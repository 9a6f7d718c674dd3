import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// `[model.drift]` in the engine, in memory: the detector sees each update's prequential MSE (the `mse` of that
/// update's coefficient message), and an alarm is published, counted, shown in `status`, and with
/// `action = "reset"` resets the model.
@Suite struct DriftAlarmEngineTests {
    /// A model on x = (a, −b, 1) whose target flips from 2a − b to −3a + 2b + 1 after `shiftAt` rows.
    static func model(action: DriftAction) -> ModelConfiguration {
        var m = EngineFixtures.model("d", batch: 10)
        m.circuit.learningRate = 0.02
        m.drift = DriftAlarm(detector: .pageHinkley(PageHinkley.Parameters(minInstances: 10, delta: 0.005, threshold: 0.5, mode: .up)),
                             action: action)
        return m
    }

    static func stream(_ core: EngineCore, rows: Range<Int>, shiftAt: Int) -> [PublishedMessage] {
        var messages: [PublishedMessage] = []
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: 10) {
            var x: [Float] = [], y: [Float] = []
            let r = EngineFixtures.rows(start..<(start + 10))
            for i in 0..<10 {
                let a = r.x[3 * i], b = -r.x[3 * i + 1]
                x += Array(r.x[(3 * i)..<(3 * i + 3)])
                y.append(start + i < shiftAt ? 2 * a - b : -3 * a + 2 * b + 1)
            }
            #expect(EngineFixtures.send(core, EngineFixtures.binary("d", x: x, y: y, rows: 10)) == nil)
            core.drainOutbox { messages.append($0) }
        }
        return messages
    }

    static func topic(_ m: PublishedMessage) -> String { String(decoding: m.topic, as: UTF8.self) }

    @Test func alarmCarriesTheStepAndSeqOfTheUpdateWhoseErrorRaisedIt() throws {
        let core = try EngineFixtures.core([Self.model(action: .alert)])
        let status0 = EngineFixtures.control(core, #"{"cmd":"status"}"#)
        #expect(status0["models"]?["d"]?["last_drift_step"] == .null && status0["models"]?["d"]?["drifts"] == .integer(0))
        let messages = Self.stream(core, rows: 0..<3000, shiftAt: 2000)
        let coefs = messages.filter { Self.topic($0) == "coef/d/" }.map(EngineFixtures.body)
        let events = messages.filter { Self.topic($0) == "event/d/" }.map(EngineFixtures.body).filter { $0["event"]?.string == "drift" }
        // The same detector, fed the published mse values, fires at the same updates.
        var reference = try PageHinkley(PageHinkley.Parameters(minInstances: 10, delta: 0.005, threshold: 0.5, mode: .up))
        let firing = coefs.filter { reference.update($0["mse"]!.double!) }
        try #require(!firing.isEmpty)
        #expect(events.count == firing.count)
        for (event, coef) in zip(events, firing) {
            #expect(event["detector"] == .string("page_hinkley") && event["action"] == .string("alert"))
            #expect(event["step"] == coef["step"] && event["seq"] == coef["seq"] && event["mse"] == coef["mse"])
        }
        // The first alarm comes after the shift (update 200 learned rows 1990…1999, the last before it).
        let first = try #require(events.first?["step"]?.int)
        #expect(first > 200 && first < 230, "first alarm at step \(first)")
        let status = EngineFixtures.control(core, #"{"cmd":"status"}"#)
        #expect(status["models"]?["d"]?["last_drift_step"] == events.last?["step"])
        #expect(status["models"]?["d"]?["drifts"]?.int == events.count && core.counters.drifts == events.count)
        // Nothing was reset: steps keep rising.
        #expect(coefs.last?["step"]?.int == 300)
    }

    @Test func resetActionResetsTheModelAndSaysSo() throws {
        let core = try EngineFixtures.core([Self.model(action: .reset)])
        let messages = Self.stream(core, rows: 0..<3000, shiftAt: 2000)
        let bodies = messages.map { (Self.topic($0), EngineFixtures.body($0)) }
        let index = try #require(bodies.firstIndex { $0.0 == "event/d/" && $0.1["event"]?.string == "drift" })
        let event = bodies[index].1
        #expect(event["action"] == .string("reset"))
        // Right before the event: the coefficient message of the update that raised it; right after: the reset state.
        let before = bodies[index - 1], after = bodies[index + 1]
        #expect(before.0 == "coef/d/" && before.1["seq"] == event["seq"] && before.1["step"] == event["step"])
        #expect(after.0 == "coef/d/" && after.1["step"] == .integer(0) && after.1["loss"] == .null)
        #expect(after.1["seq"]?.int == (event["seq"]?.int ?? 0) + 1)
        let runner = core.runners["d"]!
        #expect(runner.drift?.lastDriftStep == event["step"]?.int)
        // It learned the new relationship from scratch afterwards.
        #expect(runner.circuit!.updates < 100 && abs(runner.circuit!.weights[0] + 3) < 1)
    }

    /// Drift settings are hyper-parameters: a reload may change them, a changed detector restarts, history stays.
    /// A drift reset goes through the same reset path as the control `reset`: with `publish.max_rate` holding back
    /// the message of the update that raised the alarm, that message describes the state before the reset and must
    /// never be published after it (the old drift reset left it held back, to go out at the next interval).
    @Test func aDriftResetDropsTheMessageMaxRateHeldBack() throws {
        let clock = ManualClock()
        var settings = EngineSettings()
        settings.heartbeat = 0
        settings.window = 3
        settings.pacing.maxRate = 1
        let core = EngineCore(settings: settings, clock: clock.engineClock)
        try core.addModel(Self.model(action: .reset))
        core.drainOutbox { _ in }
        // One update per message and a clock that stands still: after the first, every update's message is held
        // back. Stop at the message whose update raised the alarm.
        var afterAlarm: [(String, JSON)] = []
        for start in stride(from: 0, to: 3000, by: 10) {
            let messages = Self.stream(core, rows: start..<(start + 10), shiftAt: 2000).map { (Self.topic($0), EngineFixtures.body($0)) }
            if let index = messages.firstIndex(where: { $0.0 == "event/d/" && $0.1["event"]?.string == "drift" }) {
                afterAlarm = Array(messages[(index + 1)...])
                break
            }
        }
        // The reset state went out at once...
        try #require(afterAlarm.count == 1)
        #expect(afterAlarm[0].0 == "coef/d/" && afterAlarm[0].1["step"] == .integer(0) && afterAlarm[0].1["loss"] == .null)
        // ...and nothing from before the reset is waiting behind it.
        #expect(core.heldBackDueIn == nil)
        clock.advance(2)
        core.tick()
        var later: [JSON] = []
        core.drainOutbox { if Self.topic($0) == "coef/d/" { later.append(EngineFixtures.body($0)) } }
        #expect(later.isEmpty, "published after the reset: \(later)")
    }

    @Test func reconfiguringTheDetectorRestartsItAndKeepsTheHistory() throws {
        let core = try EngineFixtures.core([Self.model(action: .alert)])
        _ = Self.stream(core, rows: 0..<2500, shiftAt: 2000)
        let before = try #require(core.runners["d"]!.drift)
        #expect(before.drifts > 0)
        var changed = Self.model(action: .alert)
        changed.drift = DriftAlarm(detector: .adwin(ADWIN.Parameters()), action: .reset)
        try core.reconfigureModel(changed)
        let after = try #require(core.runners["d"]!.drift)
        #expect(after.detector == .adwin(ADWIN()) && after.drifts == before.drifts && after.lastDriftStep == before.lastDriftStep)
        changed.drift = nil
        try core.reconfigureModel(changed)
        #expect(core.runners["d"]!.drift == nil)
    }

    /// The `models` reply shows a model's prior and drift alarm as their config tables.
    @Test func modelsReplyShowsThePriorAndTheDriftAlarm() throws {
        var m = Self.model(action: .reset)
        m.circuit.prior = .chain([PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([0.5]), .fitHyper: .flag(false)])])
        let core = try EngineFixtures.core([m, EngineFixtures.model("plain")])
        let models = try #require(EngineFixtures.control(core, #"{"cmd":"models"}"#)["models"]?.array)
        let d = try #require(models.first { $0["name"] == .string("d") }), plain = try #require(models.first { $0["name"] == .string("plain") })
        #expect(d["prior"] == .bool(true) && d["prior_config"] == .array([.object([("kind", .string("l1")), ("weight", .number(0.5)), ("fit_hyper", .bool(false))])]))
        #expect(d["drift"]?["detector"] == .string("page_hinkley") && d["drift"]?["action"] == .string("reset") && d["drift"]?["threshold"] == .number(0.5))
        #expect(plain["prior_config"] == .null && plain["drift"] == .null)
    }
}
