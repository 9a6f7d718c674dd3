import Foundation
import Testing
@testable import HebbCore
@testable import HebbDaemon
import HebbTestSupport
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A fresh journal directory (`<scratch>/journal`, not created yet), removed after `body`.
private func withJournalDirectory<T>(_ body: (String) throws -> T) throws -> T {
    try withScratchDirectory("hebbd-journal") { try body($0 + "/journal") }
}

/// An inline sample message for model "m" whose values encode `index`, reliable from producer "p" when `reliable`.
private func record(_ index: Int, reliable: Bool = true) -> JournalRecord {
    JournalRecord(frames: [Array("m".utf8), Array("{\"x\": [\(index), 1, 2], \"y\": \(index)}".utf8)],
                  origin: reliable ? ReliableOrigin(producer: "p", sequence: UInt64(index + 1)) : nil)
}

private func settings(_ fsync: DaemonConfiguration.Journal.FsyncPolicy = .always, segmentBytes: Int = 1 << 20,
                      maxBytes: Int = 1 << 30) -> DaemonConfiguration.Journal {
    var journal = DaemonConfiguration.Journal()
    journal.fsync = fsync
    journal.segmentBytes = segmentBytes
    journal.maxJournalBytes = maxBytes
    journal.batchInterval = 0.005
    return journal
}

/// Recovers `directory` and returns every record read (in order) with the recovery.
private func recoverAll(_ directory: String, from start: JournalPosition? = nil) throws -> ([JournalRecord], JournalRecovery) {
    var records: [JournalRecord] = []
    let recovery = try JournalDirectory.recover(directory, from: start) { record, _, _ in records.append(record) }
    return (records, recovery)
}

/// Opens a writer on `directory` after recovering it, appends `records` (one commit each) and closes it.
@discardableResult
private func write(_ records: [JournalRecord], to directory: String, _ journal: DaemonConfiguration.Journal = settings()) throws -> [JournalPosition] {
    let writer = try JournalWriter(directory: directory, configuration: journal, recovery: try recoverAll(directory).1)
    defer { writer.close() }
    return try records.map { record in
        let end = try writer.append(record)
        try writer.commit()
        return end
    }
}

private func fileBytes(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

@Suite struct JournalFilesTests {
    @Test func whatIsWrittenIsRecoveredInOrderAndTheNextWriterStartsANewSegment() throws {
        try withJournalDirectory { dir in
            #expect(try recoverAll(dir).1.end == nil)
            let first = try write((0..<5).map { record($0) }, to: dir)
            let second = try write((5..<8).map { record($0, reliable: false) }, to: dir)
            #expect(first.allSatisfy { $0.segment == 1 } && second.allSatisfy { $0.segment == 2 })
            let (records, recovery) = try recoverAll(dir)
            #expect(records == (0..<5).map { record($0) } + (5..<8).map { record($0, reliable: false) })
            #expect(recovery.segments.map(\.number) == [1, 2] && recovery.end == second.last && recovery.tornTail == nil)
            // Replay from a checkpoint's position hands over only the records after it.
            let (after, partial) = try recoverAll(dir, from: first[2])
            #expect(after == [record(3), record(4)] + (5..<8).map { record($0, reliable: false) })
            #expect(partial.records == 8 && partial.replayed == 5)
        }
    }

    @Test func aCutAtEveryByteOfTheLastRecordIsCutOffAndTheJournalGoesOn() throws {
        try withJournalDirectory { dir in
            let ends = try write((0..<3).map { record($0) }, to: dir)
            let path = JournalDirectory.segmentPath(dir, 1)
            let whole = try fileBytes(path)
            let lastStart = Int(ends[1].offset)
            for cut in lastStart..<whole.count {
                try Data(whole[0..<cut]).write(to: URL(fileURLWithPath: path))
                for extra in try JournalDirectory.segmentNumbers(in: dir) where extra > 1 {
                    try FileManager.default.removeItem(atPath: JournalDirectory.segmentPath(dir, extra))
                }
                let (records, recovery) = try recoverAll(dir)
                #expect(records == [record(0), record(1)], "cut at \(cut)")
                #expect(try fileBytes(path).count == lastStart, "cut at \(cut): the torn bytes are gone from the file")
                if cut > lastStart {
                    let torn = try #require(recovery.tornTail, "cut at \(cut)")
                    #expect(torn.position.offset == UInt64(lastStart) && torn.bytesCut == cut - lastStart && torn.damage.isTornTail)
                } else {
                    #expect(recovery.tornTail == nil)
                }
                // The journal goes on: a resend of the cut message is appended after the good records.
                try write([record(2)], to: dir)
                #expect(try recoverAll(dir).0 == [record(0), record(1), record(2)], "cut at \(cut)")
            }
        }
    }

    @Test func aFlippedByteInTheMiddleRefusesRecoveryAndTouchesNothing() throws {
        try withJournalDirectory { dir in
            let ends = try write((0..<3).map { record($0) }, to: dir)
            let path = JournalDirectory.segmentPath(dir, 1)
            var bytes = try fileBytes(path)
            bytes[Int(ends[0].offset) + 12] ^= 0x04
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            var visited: [JournalRecord] = []
            #expect {
                try JournalDirectory.recover(dir) { record, _, _ in visited.append(record) }
            } throws: { error in
                guard case let .corrupt(p, position, damage) = error as? JournalError else { return false }
                return p == path && position == ends[0] && !damage.isTornTail
                    && (error as! JournalError).description.contains("corrupt at offset \(ends[0].offset)")
            }
            #expect(visited == [record(0)])
            #expect(try fileBytes(path) == bytes, "a corrupt segment is left as it is for the operator")
        }
    }

    @Test func damageInASealedSegmentIsCorruptionEvenAtItsEnd() throws {
        try withJournalDirectory { dir in
            try write([record(0), record(1)], to: dir)
            try write([record(2)], to: dir)
            let path = JournalDirectory.segmentPath(dir, 1)
            let bytes = try fileBytes(path)
            try Data(bytes.dropLast(3)).write(to: URL(fileURLWithPath: path))
            #expect {
                try recoverAll(dir)
            } throws: { error in
                guard case let .corrupt(p, _, damage) = error as? JournalError else { return false }
                return p == path && damage.isTornTail  // torn-looking, but in a sealed segment: refused all the same
            }
            #expect(try fileBytes(path).count == bytes.count - 3, "left untouched")
        }
    }

    /// With `fsync = "off"` a power loss can zero the never-synced tail of a sealed segment, not only of the last
    /// one: that is recovered as a torn tail (cut off, reported) and the later segments are read — not refused as
    /// corruption, which `always`/`batch` still do.
    @Test func aZeroFilledTailOfASealedSegmentIsCutOffUnderFsyncOff() throws {
        try withJournalDirectory { dir in
            try write([record(0), record(1)], to: dir, settings(.off))
            try write([record(2)], to: dir, settings(.off))
            let path = JournalDirectory.segmentPath(dir, 1)
            let bytes = try fileBytes(path)
            let damaged = Array(bytes.dropLast(5)) + [UInt8](repeating: 0, count: 5)  // record 1's last page never reached the disk
            try Data(damaged).write(to: URL(fileURLWithPath: path))
            #expect(throws: JournalError.self) { try recoverAll(dir) }                 // the same files under always/batch: refused
            var records: [JournalRecord] = []
            let recovery = try JournalDirectory.recover(dir, unsyncedSealedSegments: true) { record, _, _ in records.append(record) }
            #expect(records == [record(0), record(2)])
            #expect(recovery.sealedTailsCut.count == 1 && recovery.sealedTailsCut.first?.path == path && recovery.tornTail == nil)
            #expect(try fileBytes(path).count < bytes.count)
        }
    }

    @Test func aMissingSegmentBetweenTwoOthersRefusesRecovery() throws {
        try withJournalDirectory { dir in
            for i in 0..<3 { try write([record(i)], to: dir) }
            try FileManager.default.removeItem(atPath: JournalDirectory.segmentPath(dir, 2))
            #expect(throws: JournalError.missingSegment(directory: dir, number: 2)) { try recoverAll(dir) }
            // Segments deleted from the front (covered by every checkpoint) are not missing.
            try FileManager.default.removeItem(atPath: JournalDirectory.segmentPath(dir, 1))
            #expect(try recoverAll(dir).0 == [record(2)])
        }
    }

    @Test func segmentsRotateAtTheirSizeAndAreDeletedOnceCovered() throws {
        try withJournalDirectory { dir in
            let ends = try write((0..<200).map { record($0) }, to: dir, settings(segmentBytes: 4096))
            let numbers = try JournalDirectory.segmentNumbers(in: dir)
            #expect(numbers.count >= 3)
            for number in numbers {
                #expect(try fileBytes(JournalDirectory.segmentPath(dir, number)).count <= 4096)
            }
            #expect(try recoverAll(dir).0 == (0..<200).map { record($0) })
            // A writer whose models' checkpoints all cover the first records up to ends[150].
            let writer = try JournalWriter(directory: dir, configuration: settings(segmentBytes: 4096), recovery: try recoverAll(dir).1)
            defer { writer.close() }
            let covered = ends[150]
            let deleted = try writer.deleteSegments(coveredBy: covered)
            #expect(deleted == Int(covered.segment) - 1)
            #expect(try JournalDirectory.segmentNumbers(in: dir).first == covered.segment)
            #expect(writer.statistics.deletedSegments == deleted)
            #expect(try recoverAll(dir, from: covered).0 == (151..<200).map { record($0) })
        }
    }

    @Test func fsyncAlwaysSyncsOncePerCommitNotPerRecord() throws {
        try withJournalDirectory { dir in
            let writer = try JournalWriter(directory: dir, configuration: settings(.always), recovery: try recoverAll(dir).1)
            defer { writer.close() }
            let atStart = writer.statistics.fsyncs  // the new segment's header
            #expect(atStart == 1)
            for burst in 0..<4 {
                for i in 0..<10 { _ = try writer.append(record(burst * 10 + i)) }
                #expect(writer.durable < writer.written)
                try writer.commit()
                #expect(writer.durable == writer.written)
            }
            try writer.commit()  // nothing new: no sync
            #expect(writer.statistics.fsyncs == atStart + 4)
            #expect(writer.statistics.fsyncSeconds > 0 && writer.statistics.appended == 40)
        }
    }

    @Test func fsyncOffNeverSyncsAndCountsWrittenAsDurable() throws {
        try withJournalDirectory { dir in
            let writer = try JournalWriter(directory: dir, configuration: settings(.off, segmentBytes: 4096), recovery: try recoverAll(dir).1)
            for i in 0..<100 {
                let end = try writer.append(record(i))
                #expect(writer.durable == end)
            }
            try writer.commit()
            writer.close()
            #expect(writer.statistics.fsyncs == 0)
            #expect(try recoverAll(dir).0.count == 100)
        }
    }

    @Test func fsyncBatchSyncsOnItsOwnThreadAndSaysSo() throws {
        try withJournalDirectory { dir in
            let wakeUps = Atomic<Int>(0)
            let writer = try JournalWriter(directory: dir, configuration: settings(.batch), recovery: try recoverAll(dir).1,
                                           onDurable: { wakeUps.add(1, ordering: .relaxed) })
            defer { writer.close() }
            var last = JournalPosition(segment: 0, offset: 0)
            for i in 0..<50 { last = try writer.append(record(i)) }
            try writer.commit()  // returns at once with batch
            let deadline = Date().addingTimeInterval(10)
            while writer.durable < last && Date() < deadline { usleep(1000) }
            #expect(writer.durable == last)
            #expect(wakeUps.load(ordering: .relaxed) >= 1)
            // Group commit: far fewer syncs than records (the header's sync, then one per batch interval at most).
            #expect(writer.statistics.fsyncs >= 2 && writer.statistics.fsyncs < 50)
        }
    }

    /// The limit reached inside the open segment (segment_bytes = max_journal_bytes): nothing more is written, and
    /// sealing it (what the forced checkpoint does) lets a checkpoint cover it, after which it is deleted and appends
    /// go on — before, the open segment could never be deleted and the journal stayed full for good.
    @Test func aFullJournalRefusesTheAppendWritesNothingAndASealLetsItBeFreed() throws {
        try withJournalDirectory { dir in
            let writer = try JournalWriter(directory: dir, configuration: settings(segmentBytes: 4096, maxBytes: 4096),
                                           recovery: try recoverAll(dir).1)
            defer { writer.close() }
            var accepted = 0
            while true {
                do {
                    _ = try writer.append(record(accepted))
                    accepted += 1
                } catch let error as JournalError {
                    guard case let .full(bytes, limit) = error else { throw error }
                    #expect(bytes > limit && limit == 4096)
                    break
                }
            }
            let before = try fileBytes(JournalDirectory.segmentPath(dir, 1))
            #expect(throws: JournalError.self) { _ = try writer.append(record(accepted)) }
            #expect(try fileBytes(JournalDirectory.segmentPath(dir, 1)) == before)
            #expect(writer.statistics.refusedFull == 2 && accepted > 10)
            try writer.commit()
            #expect(try recoverAll(dir).0 == (0..<accepted).map { record($0) })
            try writer.sealOpenSegment()
            #expect(try writer.deleteSegments(coveredBy: writer.written) == 1)
            _ = try writer.append(record(accepted))
            #expect(writer.statistics.segments == 1)
        }
    }
}
