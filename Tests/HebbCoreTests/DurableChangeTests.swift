import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// A run-time change made durable before it is acknowledged (``DurableChange``): with ``EngineCore/durableChanges``
/// on, `set`, `reset`, `add`, `remove` and a reload hand the driver the changed models' snapshots, hold ingest, and
/// store the run-time change and answer only when those writes are reported — driven here with a fake driver that
/// reports the writes by hand.
@Suite struct DurableChangeTests {
    /// What the core reported through its callbacks (one thread: the test's).
    private final class Reported {
        var changes: [RuntimeChange] = []
        var committed = false
    }

    /// A core with models "a" and "b", checkpoints on, durable changes as asked, and the run-time changes it reports.
    private func core(durable: Bool = true) throws -> (EngineCore, ManualClock, Reported) {
        let clock = ManualClock()
        let core = try EngineFixtures.core([EngineFixtures.model("a"), EngineFixtures.model("b")], clock: clock.engineClock)
        core.schedule.enabled = true
        core.durableChanges = durable
        let reported = Reported()
        core.runtimeChange = { reported.changes.append($0) }
        return (core, clock, reported)
    }

    /// The snapshots a control request asks the driver to write before it is answered (none: answered at once).
    private func deferred(_ core: EngineCore, _ request: String) -> [ModelSnapshot]? {
        guard case let .checkpoint(snapshots) = Array(request.utf8).withUnsafeBytes({ core.handleControl($0) }) else { return nil }
        return snapshots
    }

    private func learn(_ core: EngineCore, model: String = "a", rows: Range<Int>) {
        let r = EngineFixtures.rows(rows)
        #expect(EngineFixtures.send(core, EngineFixtures.binary(model, x: r.x, y: r.y, rows: rows.count)) == nil)
    }

    @Test func setWritesTheReconfiguredModelAndAnswersAndStoresTheChangeOnlyOnceWritten() throws {
        let (core, clock, changes) = try core()
        learn(core, rows: 0..<8)
        let snapshots = try #require(deferred(core, #"{"cmd":"set","model":"a","lr":0.05}"#))
        // The state at the change, under the new value: what a replay after a crash must start from.
        #expect(snapshots.map(\.name) == ["a"])
        #expect(snapshots[0].model.circuit.learningRate == 0.05 && snapshots[0].updates == 2)
        #expect(core.holdsIngest && core.awaitsCheckpointReply)
        #expect(changes.changes.isEmpty)
        #expect(core.takeCheckpointReply() == nil)
        core.checkpointWritten(model: "a", path: "/s/a", updates: 2, taken: clock.now)
        let reply = try JSONParser.parse(try #require(core.takeCheckpointReply()))
        #expect(reply["ok"] == .bool(true) && reply["model"]?["lr"] == .number(0.05) && reply["checkpoint_error"] == nil)
        #expect(changes.changes == [.running(core.runners["a"]!.configuration)])
        #expect(!core.holdsIngest && !core.awaitsCheckpointReply)
        // Counted as written: the schedule does not write the same state again at the interval.
        clock.advance(1)
        #expect(core.dueCheckpoints().isEmpty)
    }

    @Test func resetAndAddWriteTheNewStateAndRemoveItsFinalStateOnce() throws {
        let (core, clock, changes) = try core()
        learn(core, rows: 0..<8)
        let reset = try #require(deferred(core, #"{"cmd":"reset","model":"a"}"#))
        #expect(reset.map(\.name) == ["a"] && reset[0].updates == 0)
        core.checkpointWritten(model: "a", path: "/s/a", updates: 0, taken: clock.now)
        #expect(try JSONParser.parse(try #require(core.takeCheckpointReply()))["ok"] == .bool(true))
        #expect(changes.changes.isEmpty)          // a reset changes no stored configuration

        let add = try #require(deferred(core, #"{"cmd":"add","model":{"name":"c","kind":"ridge","dict_dim":3}}"#))
        #expect(add.map(\.name) == ["c"] && add[0].updates == 0)
        core.checkpointWritten(model: "c", path: "/s/c", updates: 0, taken: clock.now)
        #expect(try JSONParser.parse(try #require(core.takeCheckpointReply()))["model"]?["name"] == .string("c"))

        learn(core, model: "b", rows: 0..<4)
        let remove = try #require(deferred(core, #"{"cmd":"remove","model":"b"}"#))
        #expect(remove.map(\.name) == ["b"] && remove[0].updates == 1)
        #expect(core.dueCheckpoints().isEmpty)          // the final state is written by the change, not again
        core.checkpointWritten(model: "b", path: "/s/b", updates: 1, taken: clock.now)
        #expect(try JSONParser.parse(try #require(core.takeCheckpointReply()))["model"] == .string("b"))
        let stored = changes.changes
        #expect(stored.count == 2 && stored.last == .removed("b"))
        if case let .running(model) = stored.first { #expect(model.name == "c") } else { Issue.record("add not stored first: \(stored)") }
    }

    @Test func aFailedWriteLeavesTheChangeLiveStoredAndSaysSoInTheReply() throws {
        let (core, clock, changes) = try core()
        _ = try #require(deferred(core, #"{"cmd":"set","model":"a","threshold":0.5}"#))
        core.checkpointFailed(model: "a", error: "disk full", taken: clock.now)
        let reply = try JSONParser.parse(try #require(core.takeCheckpointReply()))
        #expect(reply["ok"] == .bool(true))
        #expect(reply["checkpoint_error"]?.string?.contains("a: disk full") == true)
        #expect(changes.changes.count == 1 && core.runners["a"]!.configuration.circuit.threshold == 0.5)
        #expect(!core.holdsIngest)
        // The failed model is due again at the next occasion.
        clock.advance(1)
        #expect(core.checkpointAllModels().map(\.name).contains("a"))
    }

    @Test func aWriteThatNeverFinishesReleasesIngestAtTheDeadline() throws {
        let (core, clock, _) = try core()
        _ = try #require(deferred(core, #"{"cmd":"reset","model":"a"}"#))
        clock.advance(CheckpointWait.timeout + 0.01)
        let reply = try JSONParser.parse(try #require(core.takeCheckpointReply()))
        #expect(reply["checkpoint_error"]?.string?.contains("a: timed out") == true && !core.holdsIngest)
    }

    @Test func withoutDurableChangesTheReplyAndTheStoredChangeComeAtOnce() throws {
        let (core, _, changes) = try core(durable: false)
        let reply = EngineFixtures.control(core, #"{"cmd":"set","model":"a","lr":0.05}"#)
        #expect(reply["ok"] == .bool(true) && !core.holdsIngest)
        #expect(changes.changes.count == 1)
    }

    @Test func aReloadWritesEveryModelAndRemovedOnesAndCommitsOnceWritten() throws {
        let (core, clock, reported) = try core()
        var file = DaemonConfiguration()
        core.configuredNames = ["a", "b"]                    // both came from the file…
        file.models = [EngineFixtures.model("a")]           // …and "b" leaves it: its final state is written too
        guard case .success = core.reload(file) else { Issue.record("reload refused"); return }
        let snapshots = core.finishReload { reported.committed = true }
        #expect(snapshots.map(\.name).sorted() == ["a", "b"])   // b's final state, a's state
        #expect(core.holdsIngest && !reported.committed)
        for s in snapshots { core.checkpointWritten(model: s.name, path: "/s/\(s.name)", updates: s.updates, taken: clock.now) }
        #expect(core.takeCheckpointReply() == nil)          // nobody to answer…
        #expect(reported.committed && !core.holdsIngest)   // …but stored and released
    }
}
