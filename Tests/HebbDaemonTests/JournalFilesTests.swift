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
                      maxBytes: Int = 1 << 30, spares: Int = DaemonConfiguration.Journal().spareSegments) -> DaemonConfiguration.Journal {
    var journal = DaemonConfiguration.Journal()
    journal.fsync = fsync
    journal.segmentBytes = segmentBytes
    journal.maxJournalBytes = maxBytes
    journal.spareSegments = spares
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

/// The inode number of `path`.
private func inode(_ path: String) -> UInt64 {
    var st = stat()
    return stat(path, &st) == 0 ? UInt64(st.st_ino) : 0
}

/// The spare files in `directory`, as names.
private func spares(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("spare-") }.sorted()
}

/// A writer on `directory` whose segments were all covered by checkpoints and deleted, with `count` spares left
/// (each a full 4096-byte segment of records 1000…): the state in which the next segments are recycled.
private func writerWithSpares(_ directory: String, count: Int, _ fsync: DaemonConfiguration.Journal.FsyncPolicy = .always)
    throws -> JournalWriter {
    let journal = settings(fsync, segmentBytes: 4096, spares: count)
    let writer = try JournalWriter(directory: directory, configuration: journal, recovery: try recoverAll(directory).1)
    var i = 1000
    while writer.written.segment <= UInt64(count) + 1 {
        _ = try writer.append(record(i))
        i += 1
    }
    try writer.commit()
    try writer.deleteSegments(coveredBy: writer.written)
    return writer
}

/// Appends `filler` until the open segment is sealed and the next one started; returns the new segment's number.
@discardableResult
private func fillToNextSegment(_ writer: JournalWriter, with filler: JournalRecord) throws -> UInt64 {
    let open = writer.written.segment
    while writer.written.segment == open { _ = try writer.append(filler) }
    return writer.written.segment
}

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

    /// Plain records wait in the writer's buffer until the commit, which writes the burst with one `write`: the file
    /// does not grow before it, `written` does not move, `appended` does; after it the file holds every record, in
    /// order, and (`off`) they are durable. A reliable record is written at once, with the plain ones before it.
    @Test func plainRecordsAreWrittenAtTheCommitAReliableOneAtOnce() throws {
        try withJournalDirectory { dir in
            let writer = try JournalWriter(directory: dir, configuration: settings(.off), recovery: try recoverAll(dir).1)
            defer { writer.close() }
            let segment = try #require(try JournalDirectory.segmentNumbers(in: dir).last)
            func fileBytes() -> Int {
                (try? FileManager.default.attributesOfItem(atPath: JournalDirectory.segmentPath(dir, segment))[.size] as? Int) ?? -1
            }
            let start = fileBytes()
            var end = writer.written
            for i in 0..<10 { end = try writer.append(record(i, reliable: false)) }
            #expect(fileBytes() == start && writer.written == .start(of: segment) && writer.durable == writer.written)
            #expect(writer.appended == end && end > writer.written)
            try writer.commit()
            #expect(writer.written == end && writer.durable == end && fileBytes() == Int(end.offset))
            _ = try writer.append(record(10, reliable: false))
            let reliableEnd = try writer.append(record(11))
            #expect(writer.written == reliableEnd && fileBytes() == Int(reliableEnd.offset))
            writer.close()
            #expect(try recoverAll(dir).0 == (0..<10).map { record($0, reliable: false) } + [record(10, reliable: false), record(11)])
        }
    }

    /// A buffer that reaches ``JournalWriter/bufferBytes`` is written without waiting for the commit, and `flush()`
    /// writes whatever is buffered (what a checkpoint's coverage does before it reads `written`).
    @Test func aFullBufferIsWrittenAtOnceAndFlushWritesTheRest() throws {
        try withJournalDirectory { dir in
            let writer = try JournalWriter(directory: dir, configuration: settings(.off), recovery: try recoverAll(dir).1)
            defer { writer.close() }
            let big = JournalRecord(frames: [Array("m".utf8), Array(repeating: 7, count: JournalWriter.bufferBytes)], origin: nil)
            let bigEnd = try writer.append(big)
            #expect(writer.written == bigEnd)
            let small = try writer.append(record(0, reliable: false))
            #expect(writer.written == bigEnd && writer.appended == small)
            try writer.flush()
            #expect(writer.written == small)
            try writer.flush()   // nothing buffered: nothing to do
            #expect(writer.written == small && writer.statistics.appended == 2)
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

    // MARK: Recycling (format version 2)

    /// A journal written by the previous release (format version 1) is recovered and replayed exactly, its torn tail
    /// cut off as before, and the segments written after it are version 2.
    @Test func aVersionOneJournalIsRecoveredAndReplayedAndFollowedByVersionTwoSegments() throws {
        try withJournalDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (number, range) in [(UInt64(1), 0..<3), (2, 3..<5)] {
                var bytes = JournalFormat.segmentHeader(number, version: 1)
                for i in range { JournalFormat.append(record(i), segment: number, version: 1, to: &bytes) }
                if number == 2 { bytes += [0x30, 0, 0, 0, 1, 2] }  // a torn record at the end, as a crash leaves it
                try Data(bytes).write(to: URL(fileURLWithPath: JournalDirectory.segmentPath(dir, number)))
            }
            let (records, recovery) = try recoverAll(dir)
            #expect(records == (0..<5).map { record($0) })
            #expect(recovery.tornTail?.bytesCut == 6 && recovery.segments.map(\.number) == [1, 2])
            try write([record(5)], to: dir)
            let third = try fileBytes(JournalDirectory.segmentPath(dir, 3))
            #expect(third[8] == 2, "new segments are version 2")
            #expect(try recoverAll(dir).0 == (0..<6).map { record($0) })
        }
    }

    /// Covered segments become spares (at most `spare_segments`, the rest unlinked), recovery and the segment
    /// listing ignore them, and the next segments are the same files (same inodes) overwritten in place — sealed at
    /// the end of their own records, without their previous life's bytes.
    @Test func coveredSegmentsBecomeBoundedSparesThatTheNextSegmentsReuse() throws {
        try withJournalDirectory { dir in
            let writer = try JournalWriter(directory: dir, configuration: settings(segmentBytes: 4096, spares: 2),
                                           recovery: try recoverAll(dir).1)
            defer { writer.close() }
            for i in 0..<400 { _ = try writer.append(record(i)) }
            try writer.commit()
            let covered = writer.written.segment - 1
            #expect(covered >= 4)
            #expect(try writer.deleteSegments(coveredBy: writer.written) == Int(covered))
            // The newest two covered segments are the spares; the older ones are gone.
            #expect(try spares(dir) == [JournalFormat.spareFileName(covered - 1), JournalFormat.spareFileName(covered)])
            #expect(try JournalDirectory.segmentNumbers(in: dir) == [writer.written.segment])
            #expect(writer.statistics.spares == 2 && writer.statistics.spareBytes > 2 * 4000 && writer.statistics.deletedSegments == Int(covered))
            let spareInodes = Set(try spares(dir).map { inode(dir + "/" + $0) })
            let (stillThere, recovery) = try recoverAll(dir)
            #expect(!stillThere.isEmpty && stillThere == Array((0..<400).map { record($0) }.suffix(stillThere.count)))
            #expect(recovery.segments.count == 1, "spares are no part of the journal")

            // The next two segments are the spares' files; the third is a new one. Each is sealed after a few records,
            // far short of the spare's old size: the seal cuts the old bytes off.
            let first = writer.written.segment
            var i = 400
            for _ in 0..<3 {
                for _ in 0..<3 { _ = try writer.append(record(i)); i += 1 }
                try writer.sealOpenSegment()
            }
            try writer.commit()
            #expect(writer.statistics.recycledSegments == 2 && writer.statistics.spares == 0)
            #expect(try spares(dir).isEmpty)
            let reused = Set([first + 1, first + 2].map { inode(JournalDirectory.segmentPath(dir, $0)) })
            #expect(reused == spareInodes)
            #expect(!spareInodes.contains(inode(JournalDirectory.segmentPath(dir, first + 3))))
            // Sealed recycled segments hold their records only (recovery finds no damage in them) and are version 2.
            let (records, after) = try recoverAll(dir)
            #expect(records.suffix(i - 400) == ArraySlice((400..<i).map { record($0) }))
            for number in [first + 1, first + 2] {
                let bytes = try fileBytes(JournalDirectory.segmentPath(dir, number))
                #expect(bytes[8] == 2 && after.segments.first(where: { $0.number == number })?.bytes == bytes.count)
                #expect(try JournalReader.scan(bytes, number: number).damage == nil)
            }
            #expect(after.tornTail == nil)
        }
    }

    /// `spare_segments = 0`: covered segments are unlinked, as before recycling.
    @Test func noSparesWithSpareSegmentsZero() throws {
        try withJournalDirectory { dir in
            let writer = try writerWithSpares(dir, count: 0)
            defer { writer.close() }
            #expect(try spares(dir).isEmpty && writer.statistics.deletedSegments >= 1)
            try fillToNextSegment(writer, with: record(1))
            #expect(writer.statistics.recycledSegments == 0)
        }
    }

    /// A crash (the writer dropped without `close`, as `kill -9` leaves it) while writing a recycled segment leaves
    /// the previous life's records after the last record: recovery cuts them off as a torn tail — also when the last
    /// record itself is torn — and the journal goes on; nothing stale is replayed.
    @Test func aCrashInARecycledSegmentCutsTheStaleBytesOffAsATornTail() throws {
        try withJournalDirectory { dir in
            var writer: JournalWriter? = try writerWithSpares(dir, count: 1)
            let recycled = try fillToNextSegment(writer!, with: record(0))
            #expect(writer!.statistics.recycledSegments == 1)
            var ends: [JournalPosition] = []
            for i in 1...3 { ends.append(try writer!.append(record(i))) }
            try writer!.commit()
            writer = nil  // a crash: no close, no cut
            let path = JournalDirectory.segmentPath(dir, recycled)
            let crashed = try fileBytes(path)
            #expect(crashed.count > Int(ends[2].offset), "the stale bytes are still there")
            // The last record torn as well: its last byte flipped.
            var torn = crashed
            torn[Int(ends[2].offset) - 1] ^= 0x40
            try Data(torn).write(to: URL(fileURLWithPath: path))
            let (records, recovery) = try recoverAll(dir)
            #expect(Array(records.suffix(3)) == [record(0), record(1), record(2)], "the recycled segment's own records, nothing stale")
            let cut = try #require(recovery.tornTail)
            #expect(cut.position == ends[1] && cut.damage.isTornTail && cut.bytesCut == crashed.count - Int(ends[1].offset))
            #expect(try fileBytes(path).count == Int(ends[1].offset))
            // The journal goes on after it.
            try write([record(3)], to: dir, settings(segmentBytes: 4096, spares: 1))
            #expect(Array(try recoverAll(dir).0.suffix(3)) == [record(1), record(2), record(3)])
        }
    }

    /// Real corruption in a recycled segment — a flipped byte with a valid record of its own after it — still
    /// refuses the start, stale bytes behind or not.
    @Test func corruptionInARecycledSegmentBeforeAValidRecordStillRefuses() throws {
        try withJournalDirectory { dir in
            var writer: JournalWriter? = try writerWithSpares(dir, count: 1)
            let recycled = try fillToNextSegment(writer!, with: record(0))
            let first = try writer!.append(record(1))
            _ = try writer!.append(record(2))
            try writer!.commit()
            writer = nil
            let path = JournalDirectory.segmentPath(dir, recycled)
            var bytes = try fileBytes(path)
            bytes[Int(first.offset) - 3] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            #expect {
                try recoverAll(dir)
            } throws: { error in
                guard case let .corrupt(p, _, damage) = error as? JournalError else { return false }
                return p == path && !damage.isTornTail
            }
            #expect(try fileBytes(path) == bytes, "left untouched")
        }
    }

    /// Crash points of starting a segment in a spare. (1) The new header written, not yet renamed: still a spare,
    /// ignored by recovery and reused. (2) Renamed, but the new header never reached the disk (only possible with
    /// `fsync = "off"`, which does not sync it before the rename): the last segment still has its previous life's
    /// header; it is removed as a torn start, not refused — under `always`/`batch` (the header synced before the
    /// rename) such a file was renamed by someone else and is refused.
    @Test func crashPointsOfTheRecycleSequenceRecover() throws {
        try withJournalDirectory { dir in
            try write([record(0), record(1)], to: dir)
            try write([record(2)], to: dir)
            // (1) A spare with segment 3's header over an old segment 1's records.
            let spare = dir + "/" + JournalFormat.spareFileName(1)
            let old = try fileBytes(JournalDirectory.segmentPath(dir, 1))
            try Data(JournalFormat.segmentHeader(3) + old[JournalFormat.segmentHeaderBytes...]).write(to: URL(fileURLWithPath: spare))
            let spareInode = inode(spare)
            #expect(try recoverAll(dir).0 == [record(0), record(1), record(2)])
            try write([record(3)], to: dir, settings(spares: 1))
            #expect(try inode(JournalDirectory.segmentPath(dir, 3)) == spareInode && spares(dir).isEmpty)
            #expect(try recoverAll(dir).0 == [record(0), record(1), record(2), record(3)])

            // (2) Segment 4 is a file renamed from a spare whose header (segment 2's) was never overwritten.
            let stale = try fileBytes(JournalDirectory.segmentPath(dir, 2))
            let path4 = JournalDirectory.segmentPath(dir, 4)
            try Data(stale).write(to: URL(fileURLWithPath: path4))
            #expect(throws: JournalError.unreadableSegment(path: path4, error: .numberMismatch(expected: 4, found: 2))) { try recoverAll(dir) }
            var records: [JournalRecord] = []
            let recovery = try JournalDirectory.recover(dir, unsyncedSealedSegments: true) { record, _, _ in records.append(record) }
            #expect(records == [record(0), record(1), record(2), record(3)])
            #expect(recovery.tornTail?.damage == .staleHeader(found: 2) && recovery.tornTail?.bytesCut == stale.count)
            #expect(!FileManager.default.fileExists(atPath: path4))
            try write([record(4)], to: dir, settings(.off))
            #expect(try recoverAll(dir).0 == (0..<5).map { record($0) })
        }
    }

    /// Spares count towards `max_journal_bytes`, and an append that needs their room deletes them rather than being
    /// refused.
    @Test func sparesGiveWayToAppendsWhenTheJournalIsFull() throws {
        try withJournalDirectory { dir in
            let journal = settings(segmentBytes: 4096, maxBytes: 3 * 4096, spares: 2)
            let writer = try JournalWriter(directory: dir, configuration: journal, recovery: try recoverAll(dir).1)
            defer { writer.close() }
            var i = 0
            while writer.written.segment < 3 { _ = try writer.append(record(i)); i += 1 }
            try writer.deleteSegments(coveredBy: writer.written)
            #expect(writer.statistics.spares == 2)
            // The open segment (3) grows up to the limit: its next segments are recycled, but an append that would
            // pass max_journal_bytes with the spares counted deletes them first.
            var refused = false
            for _ in 0..<400 {
                do { _ = try writer.append(record(i)); i += 1 } catch let error as JournalError {
                    guard case .full = error else { throw error }
                    refused = true
                    break
                }
                let total = writer.statistics.bytes + writer.statistics.spareBytes
                #expect(total <= 3 * 4096, "segments \(writer.statistics.bytes) + spares \(writer.statistics.spareBytes)")
            }
            #expect(try refused && writer.statistics.spares == 0 && spares(dir).isEmpty)
        }
    }

    /// Spares left by an earlier run are kept up to the bound at start (the rest removed), whatever they hold.
    @Test func sparesBeyondTheBoundAreRemovedAtStart() throws {
        try withJournalDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for n in 1...4 { try Data([UInt8](repeating: 0xAB, count: 100)).write(to: URL(fileURLWithPath: dir + "/" + JournalFormat.spareFileName(UInt64(n)))) }
            let writer = try JournalWriter(directory: dir, configuration: settings(spares: 2), recovery: try recoverAll(dir).1)
            defer { writer.close() }
            // One of the two newest became segment 1 at once; the other is waiting.
            #expect(try spares(dir) == [JournalFormat.spareFileName(3)])
            #expect(writer.statistics.recycledSegments == 1 && writer.statistics.spares == 1)
            _ = try writer.append(record(0))
            writer.close()
            #expect(try fileBytes(JournalDirectory.segmentPath(dir, 1)).count == Int(writer.written.offset), "closed at its records")
            let (records, recovery) = try recoverAll(dir)
            #expect(records == [record(0)] && recovery.tornTail == nil)
        }
    }
}
