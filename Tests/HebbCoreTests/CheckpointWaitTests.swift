import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// The `checkpoint` control reply (``CheckpointWait``): it waits for the writes of the snapshots it asked for, not
/// for older ones still in flight, and gives up after its deadline — measured on the injected clock, so these tests
/// move a ``ManualClock`` instead of sleeping.
@Suite struct CheckpointWaitTests {
    private func core() throws -> (EngineCore, ManualClock) {
        let clock = ManualClock()
        var settings = EngineSettings()
        settings.heartbeat = 0
        let core = EngineCore(settings: settings, clock: clock.engineClock)
        core.schedule.enabled = true
        for name in ["a", "b"] { try core.addModel(EngineFixtures.model(name)) }
        return (core, clock)
    }

    private func requestCheckpoint(_ core: EngineCore) -> [ModelSnapshot] {
        guard case let .checkpoint(snapshots) = Array(#"{"cmd":"checkpoint"}"#.utf8).withUnsafeBytes({ core.handleControl($0) }) else {
            Issue.record("checkpoint was answered at once")
            return []
        }
        return snapshots
    }

    @Test func theReplyWaitsForEveryRequestedWriteAndIgnoresOlderOnes() throws {
        let (core, clock) = try core()
        let requestedAt = clock.now
        #expect(requestCheckpoint(core).map(\.name) == ["a", "b"])
        #expect(core.awaitsCheckpointReply)
        // A periodic write of a snapshot taken before the request does not answer it.
        core.checkpointWritten(model: "a", path: "/old/a", updates: 0, taken: requestedAt - 5)
        core.checkpointWritten(model: "b", path: "/s/b", updates: 0, taken: requestedAt)
        #expect(core.takeCheckpointReply() == nil)
        core.checkpointWritten(model: "a", path: "/s/a", updates: 0, taken: requestedAt)
        let reply = try JSONParser.parse(try #require(core.takeCheckpointReply()))
        #expect(reply["ok"] == .bool(true) && reply["error"] == nil)
        #expect(reply["written"]?["a"] == .string("/s/a") && reply["written"]?["b"] == .string("/s/b"))
        #expect(!core.awaitsCheckpointReply && core.takeCheckpointReply() == nil)
    }

    @Test func aFailedWriteAndTheDeadlineEndTheWaitWithAnError() throws {
        let (core, clock) = try core()
        _ = requestCheckpoint(core)
        core.checkpointFailed(model: "a", error: "disk full", taken: clock.now)
        clock.advance(CheckpointWait.timeout)
        #expect(core.takeCheckpointReply() == nil)          // at the deadline, not yet past it
        clock.advance(0.01)
        let reply = try JSONParser.parse(try #require(core.takeCheckpointReply()))
        #expect(reply["ok"] == .bool(false))
        #expect(reply["error"] == .string("a: disk full; b: timed out"))
        #expect(reply["written"] == .object([]))
    }
}
