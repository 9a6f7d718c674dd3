import Foundation
import Testing
@testable import HebbCore
@testable import HebbDaemon
import HebbTestSupport
import HebbianRegression
import Logging
#if canImport(Glibc)
import Glibc
#endif


/// Two models: "a" (Adam, a batch of 5 rows, so messages leave rows buffered between updates) and "b".
private let models: [ModelConfiguration] = {
    var a = EngineFixtures.model("a", kind: .elasticNet, dictDim: 3, sysDim: 1, batch: 5)
    a.circuit.optimizer = .adam
    return [a, EngineFixtures.model("b", dictDim: 3, sysDim: 1, batch: 4)]
}()

/// Message `i`: 1–3 rows for model "a" or "b", distinct values.
private func message(_ i: Int) -> [[UInt8]] {
    let rows = 1 + i % 3
    let x = (0..<(rows * 3)).map { Float(sin(Double(i * 7 + $0))) }, y = (0..<rows).map { Float(cos(Double(i + $0))) }
    return EngineFixtures.binary(i % 4 == 3 ? "b" : "a", x: x, y: y, rows: rows)
}

/// The reliable request of message `i` (even) from producer "p": sequence i / 2 + 1, consecutive.
private func request(_ i: Int) -> [[UInt8]] {
    [ReliableProtocol.requestHeader(ReliableOrigin(producer: "p", sequence: UInt64(i / 2 + 1)))] + message(i)
}

private func settings(_ fsync: DaemonConfiguration.Journal.FsyncPolicy = .off) -> DaemonConfiguration.Journal {
    var journal = DaemonConfiguration.Journal()
    journal.fsync = fsync
    return journal
}

/// Calls `body` with pointers to `frames`, all slices of one buffer (no recursion per frame: 70 000 frames fit).
private func pointers<R>(_ frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
    let joined = frames.flatMap { $0 }
    return joined.withUnsafeBytes { raw in
        var offset = 0
        let raws = frames.map { frame in
            defer { offset += frame.count }
            return UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + frame.count)])
        }
        return body(raws)
    }
}

/// A core with `models`, each resumed from `snapshots[name]` when given.
private func core(_ snapshots: [String: ModelSnapshot] = [:]) throws -> EngineCore {
    let core = try EngineFixtures.core([])
    for m in models { try core.addModel(m, restoring: snapshots[m.name]) }
    return core
}

/// The learned state of every model: W, optimiser state, counters, pending rows — bit for bit.
private func learned(_ core: EngineCore) -> [String: ModelSnapshot] {
    var result: [String: ModelSnapshot] = [:]
    for m in models { result[m.name] = core.runners[m.name]!.snapshot(wallClock: 0) }
    return result
}

/// Opens the journal of `state` for `core`, whose models resumed from `snapshots`, replaying into it.
private func openJournal(_ state: String, _ core: EngineCore, _ snapshots: [String: ModelSnapshot],
                         _ fsync: DaemonConfiguration.Journal.FsyncPolicy = .off) throws -> (JournaledIngest<Int>, JournalStartup) {
    var coverages: [String: JournalCoverage?] = [:]
    for m in models { coverages[m.name] = snapshots[m.name]?.journal }
    return try JournaledIngest<Int>.open(stateDirectory: state, configuration: settings(fsync), maxMessageBytes: 1 << 20,
                                         coverages: coverages, onDurable: {}, learn: { _ = core.handleSample($0) })
}

/// Sends message `i` reliably (even) or plainly (odd) through `ingest` into `core`.
@discardableResult
private func send(_ i: Int, _ ingest: JournaledIngest<Int>, _ core: EngineCore) throws -> ReliableOutcome? {
    if i % 2 == 0 {
        return pointers(request(i)) { ingest.receiveReliable(from: i, $0) { core.handleSample($0) } }
    }
    let failure: JournalError? = pointers(message(i)) { frames in
        do throws(JournalError) { try ingest.journalPlain(frames) } catch { return error }
        _ = core.handleSample(frames)
        return nil
    }
    if let failure { throw failure }
    return nil
}

@Suite struct JournaledIngestTests {
    /// The heart of exactly-once: a daemon that checkpoints at message 17 and crashes after message 40 comes back,
    /// from that checkpoint plus the journal, with every model bit for bit equal to one that never stopped; the
    /// producer's resends are then duplicates and change nothing.
    @Test(arguments: [DaemonConfiguration.Journal.FsyncPolicy.off, .always, .batch])
    func checkpointPlusReplayIsBitIdenticalToAnUninterruptedDaemon(fsync: DaemonConfiguration.Journal.FsyncPolicy) throws {
        try withScratchDirectory("hebbd-replay") { state in
            let uninterrupted = try core()
            for i in 0..<40 { EngineFixtures.send(uninterrupted, message(i)) }

            let live = try core()
            let (ingest, startup) = try openJournal(state, live, [:], fsync)
            #expect(startup.recovery.records == 0)
            var checkpoint: [String: ModelSnapshot] = [:]
            for i in 0..<40 {
                #expect(try send(i, ingest, live) ?? .acknowledged == .acknowledged)
                if i == 17 {
                    for m in models {
                        var snapshot = live.runners[m.name]!.snapshot(wallClock: 0)
                        snapshot.journal = ingest.coverage
                        checkpoint[m.name] = snapshot
                    }
                }
            }
            #expect(learned(live) == learned(uninterrupted))
            ingest.writer.close()  // the process dies; with fsync "off" nothing was synced, the page cache keeps it

            let restarted = try core(checkpoint)
            let (again, recovered) = try openJournal(state, restarted, checkpoint, fsync)
            defer { again.writer.close() }
            #expect(recovered.recovery.records == 40 && recovered.recovery.tornTail == nil)
            #expect(recovered.replayed.values.reduce(0, +) == 22)  // messages 18…39
            #expect(learned(restarted) == learned(uninterrupted))
            #expect(again.watermarks.highWaterMark(of: "p") == 20)
            // The producer did not see the last acknowledgements and resends everything from message 30.
            for i in stride(from: 30, to: 40, by: 2) { #expect(try send(i, again, restarted) == .duplicate) }
            #expect(learned(restarted) == learned(uninterrupted))
        }
    }

    /// A crash in the middle of an append leaves part of the last record: it is cut off, the model is the one fed
    /// every message before it, and the producer's resend of the lost message makes it whole.
    @Test func aTornLastRecordIsLostOnlyUntilTheProducerResendsIt() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let uninterrupted = try core()
            for i in 0..<21 { EngineFixtures.send(uninterrupted, message(i)) }
            let live = try core()
            let (ingest, _) = try openJournal(state, live, [:])
            for i in 0..<20 { try send(i, ingest, live) }
            let before = ingest.writer.appended   // message 19 is plain: maybe still buffered, written with 20 (reliable)
            try send(20, ingest, live)
            ingest.writer.close()
            let path = JournalDirectory.segmentPath(JournalDirectory.path(stateDirectory: state), before.segment)
            #expect(truncate(path, off_t(before.offset) + 11) == 0)  // the crash: 11 bytes of the last record made it

            let restarted = try core()  // no checkpoint: everything replays
            let (again, startup) = try openJournal(state, restarted, [:])
            defer { again.writer.close() }
            #expect(startup.recovery.tornTail?.bytesCut == 11)
            #expect(again.watermarks.highWaterMark(of: "p") == 10)
            #expect(try send(20, again, restarted) == .acknowledged)
            #expect(learned(restarted) == learned(uninterrupted))
        }
    }

    /// An invalid reliable message is journaled as received, rejected live and again on replay: no model changes.
    @Test func aRejectedReliableMessageChangesNoModelLiveOrOnReplay() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            let (ingest, _) = try openJournal(state, live, [:])
            try send(0, ingest, live)
            let bad = [ReliableProtocol.requestHeader(ReliableOrigin(producer: "p", sequence: 2))] + EngineFixtures.inline("a", #"{"x": [1, 2], "y": 1}"#)
            let outcome = pointers(bad) { ingest.receiveReliable(from: 1, $0) { live.handleSample($0) } }
            guard case let .rejected(rejection) = outcome else { Issue.record("expected rejected, got \(outcome)"); return }
            #expect(rejection.reason == .dimensions)
            let replies = ingest.commit()
            #expect(replies.map(\.reply.status) == [.acknowledged, .rejected])
            #expect(replies.last?.reply.reason.contains("dimensions") == true)
            let state1 = learned(live)
            ingest.writer.close()
            let restarted = try core()
            let (again, _) = try openJournal(state, restarted, [:])
            defer { again.writer.close() }
            #expect(learned(restarted) == state1)
            #expect(pointers(bad) { again.receiveReliable(from: 1, $0) { restarted.handleSample($0) } } == .duplicate)
        }
    }

    /// A message of 70 000 frames (more than a record's UInt16 frame count) or over `limits.max_message_bytes` is
    /// rejected by the decoder and never journaled: no trap, the journal stays readable, and on the reliable path
    /// its sequence number is still consumed (a frameless record), so a resend is a duplicate, also after a restart.
    @Test func aMessageThatCannotBeASampleIsRejectedWithoutBeingJournaled() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            let (ingest, _) = try openJournal(state, live, [:])
            let manyFrames = [Array("a".utf8)] + Array(repeating: [UInt8](), count: 69_999)
            #expect(pointers(manyFrames) { frames in (try? ingest.journalPlain(frames)) != nil })
            #expect(ingest.writer.statistics.appended == 0)
            #expect(pointers(manyFrames) { live.handleSample($0) }?.reason == .frameCount)
            let oversized = EngineFixtures.binary("a", x: [Float](repeating: 1, count: 3 * 100_000), y: [Float](repeating: 1, count: 100_000),
                                                  rows: 100_000)
            #expect(pointers(oversized) { frames in (try? ingest.journalPlain(frames)) != nil })
            #expect(ingest.writer.statistics.appended == 0)
            let request = [ReliableProtocol.requestHeader(ReliableOrigin(producer: "p", sequence: 1))] + manyFrames
            let outcome = pointers(request) { ingest.receiveReliable(from: 1, $0) { live.handleSample($0) } }
            guard case let .rejected(rejection) = outcome else { Issue.record("expected rejected, got \(outcome)"); return }
            #expect(rejection.reason == .frameCount)
            #expect(ingest.commit().map(\.reply.status) == [.rejected])
            #expect(ingest.writer.statistics.appended == 1)  // the frameless record of sequence 1
            try send(2, ingest, live)                         // sequence 2 follows
            let learnedLive = learned(live)
            ingest.writer.close()
            let restarted = try core()
            let (again, startup) = try openJournal(state, restarted, [:])
            defer { again.writer.close() }
            #expect(startup.recovery.records == 2 && again.watermarks.highWaterMark(of: "p") == 2)
            #expect(learned(restarted) == learnedLive)
            #expect(pointers(request) { again.receiveReliable(from: 1, $0) { restarted.handleSample($0) } } == .duplicate)
        }
    }

    /// A full disk (a 256 KiB tmpfs, `fsync = "batch"`): the append that fails is refused with ENOSPC, no reply is
    /// left waiting (before: the writer closed for good and every later reply, even a refusal, waited forever), the
    /// writer counts the failure and refuses appends during its back-off, then — once there is room again — starts
    /// a new segment and acknowledges the producer's resend. A restart replays every acknowledged message: the
    /// failed segment ends at its last whole record (no corruption).
    @Test(.enabled(if: Tmpfs.canMount, "mounts a tmpfs: needs root with CAP_SYS_ADMIN"))
    func aFullDiskFailsTheSegmentAnswersEveryWaitingReplyAndANewSegmentFollows() throws {
        try Tmpfs.withMounted(size: "256k") { state in
            let filler = state + "/filler"
            #expect(FileManager.default.createFile(atPath: filler, contents: Data(count: 64 << 10)))
            let live = try core()
            var journal = settings(.batch)
            journal.batchInterval = 0.05
            var coverages: [String: JournalCoverage?] = [:]
            for m in models { coverages[m.name] = .some(nil) }
            let (ingest, _) = try JournaledIngest<Int>.open(stateDirectory: state, configuration: journal, maxMessageBytes: 1 << 20,
                                                            coverages: coverages, onDurable: {}, learn: { _ = live.handleSample($0) })
            defer { ingest.writer.close() }
            var replies: [(peer: Int, reply: ReliableReply)] = []
            var i = 0
            var failed: Int?
            while failed == nil, i < 20_000 {
                let outcome = try send(i, ingest, live)
                if case .refused = outcome { failed = i } else { i += 2 }
            }
            let refusedAt = try #require(failed, "the tmpfs never filled")
            #expect(ingest.writer.failures == 1 && ingest.writer.statistics.failures == 1)
            // During the back-off the next message is refused too, and nothing waits for a sync that will not come.
            let resent = try send(refusedAt, ingest, live)
            guard case .refused(.failed)? = resent else { Issue.record("expected refused (failed), got \(String(describing: resent))"); return }
            replies += ingest.commit()
            #expect(ingest.pendingReplies == 0)
            #expect(replies.count == refusedAt / 2 + 2)
            #expect(replies.suffix(2).allSatisfy { $0.reply.status == .refused })
            #expect(replies.last?.reply.reason.contains("journal failed") == true)
            #expect(replies.dropLast(2).allSatisfy { $0.reply.status == .acknowledged })
            // Room again; after the back-off the resend goes to a new segment and is acknowledged once synced.
            try FileManager.default.removeItem(atPath: filler)
            Thread.sleep(forTimeInterval: 1.1)
            #expect(try send(refusedAt, ingest, live) == .acknowledged)
            #expect(try send(refusedAt + 2, ingest, live) == .acknowledged)  // the next sequence number follows
            let deadline = Date().addingTimeInterval(10)
            var late: [(peer: Int, reply: ReliableReply)] = []
            while late.count < 2, Date() < deadline { late += ingest.commit(); Thread.sleep(forTimeInterval: 0.01) }
            #expect(late.map(\.reply.status) == [.acknowledged, .acknowledged])
            #expect(ingest.writer.failure == nil)
            let acknowledged = refusedAt / 2 + 2
            let learnedLive = learned(live)
            ingest.writer.close()
            let restarted = try core()
            let (again, startup) = try openJournal(state, restarted, [:])
            defer { again.writer.close() }
            #expect(startup.recovery.tornTail == nil && startup.recovery.records == acknowledged)
            #expect(again.watermarks.highWaterMark(of: "p") == UInt64(acknowledged))
            #expect(learned(restarted) == learnedLive)
        }
    }

    /// The documented recovery from a damaged segment — move it and every later one out — leaves checkpoints that
    /// point past the journal's end. The next writer numbers its segments after the highest checkpoint position (the
    /// gap filled with empty segments), so the records written after the restart are replayed by the next one and
    /// never deleted as "covered" (before: the new segment reused the number the checkpoint points into).
    @Test func segmentsAfterCheckpointsThatPointPastTheJournalAreReplayedAndKept() throws {
        try withScratchDirectory("hebbd-replay") { state in
            var journal = settings(.off)
            journal.segmentBytes = 4096
            func open(_ core: EngineCore, _ snapshots: [String: ModelSnapshot]) throws -> (JournaledIngest<Int>, JournalStartup) {
                var coverages: [String: JournalCoverage?] = [:]
                for m in models { coverages[m.name] = .some(snapshots[m.name]?.journal) }
                return try JournaledIngest<Int>.open(stateDirectory: state, configuration: journal, maxMessageBytes: 1 << 20,
                                                     coverages: coverages, onDurable: {}, learn: { _ = core.handleSample($0) })
            }
            let live = try core()
            let (ingest, _) = try open(live, [:])
            for i in 0..<120 { try send(i, ingest, live) }
            var checkpoint: [String: ModelSnapshot] = [:]
            for m in models {
                var snapshot = live.runners[m.name]!.snapshot(wallClock: 0)
                snapshot.journal = ingest.coverage
                checkpoint[m.name] = snapshot
            }
            let last = ingest.coverage.position.segment
            #expect(last >= 3)
            ingest.writer.close()
            let directory = JournalDirectory.path(stateDirectory: state)
            #expect(unlink(JournalDirectory.segmentPath(directory, last)) == 0)  // the operator moves the last segment out

            let resumed = try core(checkpoint)
            let (after, _) = try open(resumed, checkpoint)
            #expect(after.writer.written.segment > last)
            for i in 120..<140 { try send(i, after, resumed) }
            #expect(try after.deleteCoveredSegments(checkpointPositions: models.map { checkpoint[$0.name]?.journal?.position }) == Int(last) - 1)
            let learnedBeforeCrash = learned(resumed)
            after.writer.close()

            let restarted = try core(checkpoint)
            let (again, startup) = try open(restarted, checkpoint)
            defer { again.writer.close() }
            #expect(startup.replayed.values.reduce(0, +) == 20)
            #expect(learned(restarted) == learnedBeforeCrash)
        }
    }

    /// Journal off, then on again: the checkpoints written meanwhile have no journal position, yet their state holds
    /// every record still in the journal. A model resumed from such a checkpoint learns nothing from the existing
    /// journal (before: "no position" meant "replay everything", so those records were learned twice); a model
    /// without any checkpoint still replays it all.
    @Test func aCheckpointWrittenWithTheJournalOffIsNotFedTheOldJournalAgain() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            let (ingest, _) = try openJournal(state, live, [:])
            for i in 0..<20 { try send(i, ingest, live) }
            ingest.writer.close()
            var checkpoint = learned(live)     // written while the journal was off: no position
            checkpoint["b"] = nil              // "b" has no checkpoint at all
            var configuration = DaemonConfiguration()
            configuration.journal = settings(.off)
            let restarted = try core(checkpoint)
            let journal = try EngineJournal(stateDirectory: state, configuration: configuration, core: restarted,
                                            snapshots: ["a": checkpoint["a"], "b": nil], logger: Logger(label: "test"))
            defer { journal.close() }
            let fresh = try core(checkpoint)
            for i in 0..<20 where i % 4 == 3 { EngineFixtures.send(fresh, message(i)) }   // "b" learns its messages once
            #expect(learned(restarted) == learned(fresh))
            #expect(learned(restarted)["a"] == learned(live)["a"])
        }
    }

    /// An idle model no longer keeps the journal forever: at the interval it is checkpointed again when its
    /// checkpoint's position lies in a sealed segment, and the sealed segments go once every model is past them
    /// (before: only changed models were rewritten, so one idle model kept every segment).
    @Test func anIdleModelIsCheckpointedAgainAtTheIntervalSoThatSealedSegmentsAreDeleted() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let clock = ManualClock()
            var engineSettings = EngineSettings()
            engineSettings.heartbeat = 0
            engineSettings.checkpointInterval = 30
            let live = EngineCore(settings: engineSettings, clock: clock.engineClock)
            live.schedule.enabled = true
            for m in models { try live.addModel(m) }
            var configuration = DaemonConfiguration()
            configuration.journal = settings(.off)
            configuration.journal.segmentBytes = 4096
            let journal = try EngineJournal(stateDirectory: state, configuration: configuration, core: live,
                                            snapshots: ["a": nil, "b": nil], logger: Logger(label: "test"))
            defer { journal.close() }
            func checkpoint(_ snapshots: [ModelSnapshot]) -> [String] {
                for snapshot in journal.stamp(snapshots) {
                    journal.checkpointWritten(model: snapshot.name, taken: snapshot.wallClockSeconds, modelNames: live.modelNames)
                }
                return snapshots.map(\.name)
            }
            clock.advance(30)
            #expect(checkpoint(live.dueCheckpoints { journal.holdsBackDeletion($0) }) == ["a", "b"])
            for i in 0..<240 where i % 4 != 3 {          // model "a" only: "b" stays idle
                pointers(message(i)) { frames in journal.journalPlain(frames); _ = live.handleSample(frames) }
            }
            #expect(journal.status.writer.segments >= 3)
            #expect(journal.holdsBackDeletion("b") && journal.holdsBackDeletion("a"))
            clock.advance(30)
            #expect(checkpoint(live.dueCheckpoints { journal.holdsBackDeletion($0) }) == ["a", "b"])
            #expect(journal.status.writer.segments == 1 && journal.status.writer.deletedSegments >= 2)
            #expect(!journal.holdsBackDeletion("b"))
            clock.advance(30)
            #expect(live.dueCheckpoints { journal.holdsBackDeletion($0) }.isEmpty)  // nothing changed, nothing held back
        }
    }

    /// The checkpoint writer coalesces a queued snapshot with a newer one and reports only the newer: the journal
    /// forgets the replaced snapshots' positions too (before: one leaked entry per coalesced snapshot), and a failed
    /// write's entry goes as well.
    @Test func positionsOfCoalescedOrFailedSnapshotsAreNotKept() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            var configuration = DaemonConfiguration()
            configuration.journal = settings(.off)
            let journal = try EngineJournal(stateDirectory: state, configuration: configuration, core: live,
                                            snapshots: ["a": nil, "b": nil], logger: Logger(label: "test"))
            defer { journal.close() }
            for t in 1...3 { _ = journal.stamp([live.runners["a"]!.snapshot(wallClock: Double(t))]) }  // 1 and 2 coalesced into 3
            _ = journal.stamp([live.runners["b"]!.snapshot(wallClock: 5)])
            #expect(journal.submitted["a"]?.count == 3)
            journal.checkpointWritten(model: "a", taken: 3, modelNames: live.modelNames)
            #expect(journal.submitted["a"] == nil && journal.submitted["b"]?.count == 1)
            journal.checkpointFailed(model: "b", taken: 5)
            #expect(journal.submitted.isEmpty)
        }
    }

    /// A message above its producer's mark + 1 (one before it was lost in flight) is refused, not accepted: the mark
    /// of a later acknowledgement must never cover the missing one.
    @Test func aMessageAfterAMissingOneIsRefusedUntilTheMissingOneComes() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            let (ingest, _) = try openJournal(state, live, [:], .off)
            defer { ingest.writer.close() }
            try send(0, ingest, live)                                       // seq 1
            let outcome = try send(4, ingest, live)                          // seq 3: seq 2 is missing
            #expect(outcome == .refused(.outOfOrder(producer: "p", expected: 2)))
            #expect(try send(2, ingest, live) == .acknowledged)              // seq 2
            #expect(try send(4, ingest, live) == .acknowledged)              // seq 3, resent
            let replies = ingest.commit()
            #expect(replies.map(\.reply.status) == [.acknowledged, .refused, .acknowledged, .acknowledged])
            #expect(replies[1].reply.highWaterMark == 1 && replies[1].reply.reason.contains("next message is 2"))
        }
    }

    /// Replies wait for durability: with `always` they leave at the burst's commit, not before.
    @Test func acknowledgementsLeaveOnlyWhenTheirRecordIsDurable() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            let (ingest, _) = try openJournal(state, live, [:], .always)
            defer { ingest.writer.close() }
            for i in stride(from: 0, to: 10, by: 2) { try send(i, ingest, live) }
            #expect(ingest.releasable().isEmpty && ingest.pendingReplies == 5)
            let replies = ingest.commit()
            #expect(replies.map(\.peer) == [0, 2, 4, 6, 8] && replies.allSatisfy { $0.reply.status == .acknowledged })
            #expect(replies.map(\.reply.highWaterMark) == [1, 2, 3, 4, 5])
            #expect(ingest.counters.acknowledged == 5)
            // Malformed requests are answered at once (nothing to wait for) and say why.
            let outcome = pointers([Array("nope".utf8), Array("a".utf8)]) { ingest.receiveReliable(from: 99, $0) { _ in nil } }
            #expect(outcome == .malformed(.headerSize(4)))
            #expect(ingest.commit().map(\.reply.status) == [.malformed])
        }
    }

    /// Segments every model's checkpoint covers are deleted; a model without a checkpoint keeps them all.
    @Test func coveredSegmentsAreDeletedAndUncoveredOnesKept() throws {
        try withScratchDirectory("hebbd-replay") { state in
            let live = try core()
            var journal = settings(.off)
            journal.segmentBytes = 4096
            var coverages: [String: JournalCoverage?] = [:]
            for m in models { coverages[m.name] = .some(nil) }
            let (ingest, _) = try JournaledIngest<Int>.open(stateDirectory: state, configuration: journal, maxMessageBytes: 1 << 20,
                                                            coverages: coverages, onDurable: {}, learn: { _ = live.handleSample($0) })
            defer { ingest.writer.close() }
            for i in 0..<120 { try send(i, ingest, live) }
            let segments = ingest.writer.statistics.segments
            #expect(segments >= 3)
            #expect(try ingest.deleteCoveredSegments(checkpointPositions: [ingest.coverage.position, nil]) == 0)
            #expect(try ingest.deleteCoveredSegments(checkpointPositions: [ingest.coverage.position, ingest.coverage.position]) == segments - 1)
            #expect(ingest.writer.statistics.segments == 1)
        }
    }
}
