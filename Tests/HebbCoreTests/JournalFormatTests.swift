import Foundation
import Testing

@testable import HebbCore

/// A binary sample message for model "demo" (3 features, 1 target), `rows` rows of distinct values.
private func sampleFrames(rows: Int, base: Float) -> [[UInt8]] {
    func floats(_ values: [Float]) -> [UInt8] { values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) } }
    let x = (0..<(rows * 3)).map { base + Float($0) }, y = (0..<rows).map { -base - Float($0) }
    return [Array("demo".utf8), Array("{\"dtype\": \"float32\", \"rows\": \(rows)}".utf8), floats(x), floats(y)]
}

/// Segment 7 (of format `version`) holding `records`, and the offset where each record starts.
private func segment(_ records: [JournalRecord], number: UInt64 = 7,
                     version: UInt32 = JournalFormat.version) -> (bytes: [UInt8], starts: [Int]) {
    var bytes = JournalFormat.segmentHeader(number, version: version)
    var starts: [Int] = []
    for record in records {
        starts.append(bytes.count)
        JournalFormat.append(record, segment: number, version: version, to: &bytes)
    }
    return (bytes, starts)
}

private let threeRecords = [
    JournalRecord(frames: sampleFrames(rows: 2, base: 1), origin: ReliableOrigin(producer: "sensor-1", sequence: 41)),
    JournalRecord(frames: sampleFrames(rows: 1, base: 10)),
    JournalRecord(frames: sampleFrames(rows: 3, base: 100), origin: ReliableOrigin(producer: "sensor-1", sequence: 42)),
]

@Suite struct JournalFormatTests {
    @Test func recordsRoundTripWithTheirPositionsAndSizes() throws {
        let (bytes, starts) = segment(threeRecords)
        let scan = try JournalReader.scan(bytes, number: 7)
        #expect(scan.damage == nil)
        #expect(scan.records.map(\.record) == threeRecords)
        #expect(scan.records.map(\.at) == starts.map { JournalPosition(segment: 7, offset: UInt64($0)) })
        #expect(scan.records.last?.end == JournalPosition(segment: 7, offset: UInt64(bytes.count)))
        #expect(scan.validEnd == JournalPosition(segment: 7, offset: UInt64(bytes.count)))
        for (index, record) in threeRecords.enumerated() {
            let end = index + 1 < starts.count ? starts[index + 1] : bytes.count
            #expect(JournalFormat.encodedBytes(record) == end - starts[index])
        }
        #expect(threeRecords[0].model == "demo")
    }

    @Test func recordLayoutIsTheDocumentedOne() {
        // docs/JOURNAL.md's example: a reliable 2-frame message from producer "p", sequence 5, in segment 1.
        let record = JournalRecord(frames: [Array("m".utf8), Array("{}".utf8)], origin: ReliableOrigin(producer: "p", sequence: 5))
        var bytes: [UInt8] = []
        JournalFormat.append(record, segment: 1, to: &bytes)
        let body: [UInt8] = [1, 1, 2, 0, 5, 0, 0, 0, 0, 0, 0, 0, 1, 0x70, 1, 0, 0, 0, 0x6d, 2, 0, 0, 0, 0x7b, 0x7d]
        #expect(Array(bytes[0..<4]) == [UInt8(body.count), 0, 0, 0])
        #expect(Array(bytes[8...]) == body)
        // Version 2: the CRC covers the segment's number first, zlib.crc32(body, zlib.crc32(segment_le8 + length_le4)).
        #expect(Array(bytes[4..<8]) == [0x3e, 0xfe, 0xad, 0xd6])
        #expect(CRC32.checksum([1, 0, 0, 0, 0, 0, 0, 0] + Array(bytes[0..<4]) + body) == 0xd6ad_fe3e)
        #expect(JournalFormat.segmentHeader(1) == Array("HEBBJRNL".utf8) + [2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
        // Version 1 (still read): the CRC of the length and the body only.
        var v1: [UInt8] = []
        JournalFormat.append(record, segment: 1, version: 1, to: &v1)
        #expect(Array(v1[4..<8]) == [0x63, 0x53, 0xd8, 0x79] && Array(v1[8...]) == body)
        #expect(JournalFormat.segmentHeader(1, version: 1) == Array("HEBBJRNL".utf8) + [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
    }

    /// A journal written by the previous release (format 1) is read as before.
    @Test func aVersionOneSegmentIsStillRead() throws {
        let (bytes, starts) = segment(threeRecords, version: 1)
        let scan = try JournalReader.scan(bytes, number: 7)
        #expect(scan.damage == nil && scan.records.map(\.record) == threeRecords)
        #expect(scan.records.map(\.at.offset) == starts.map(UInt64.init))
        // Its torn tail is still a torn tail, its corruption still corruption.
        #expect(try JournalReader.scan(Array(bytes.dropLast(3)), number: 7).damage?.isTornTail == true)
        var flipped = bytes
        flipped[starts[1] + 10] ^= 0x20
        #expect(try JournalReader.scan(flipped, number: 7).damage?.isTornTail == false)
    }

    /// The bytes a recycled segment keeps from its previous life (records of another segment number, with CRCs that
    /// held there) are never records of the new one: not when read, and not as "a valid record after the damage" —
    /// so a torn write over them is a torn tail, cut off, never corruption that refuses the start.
    @Test func recordsOfAnotherSegmentNumberAreNeverValid() throws {
        let (old, oldStarts) = segment(threeRecords, number: 3)
        // Segment 9 in the same file: a header and one record written over the start, the old records behind.
        var new = JournalFormat.segmentHeader(9)
        JournalFormat.append(threeRecords[1], segment: 9, to: &new)
        let stale = Array(old[oldStarts[1]...])  // two complete records of segment 3 after it
        let scan = try JournalReader.scan(new + stale, number: 9)
        #expect(scan.records.map(\.record) == [threeRecords[1]])
        #expect(scan.validEnd.offset == UInt64(new.count))
        let damage = try #require(scan.damage)
        #expect(damage.isTornTail, "\(damage)")
        // A record copied byte for byte from segment 3 to the same offset of segment 9 fails its CRC there.
        var copied = JournalFormat.segmentHeader(9)
        copied += old[oldStarts[0]..<oldStarts[1]]
        #expect(try JournalReader.scan(copied, number: 9).records.isEmpty)
        // A v1 file recycled as v2: its old records fail version 2's CRC in the same way.
        let (oldV1, v1Starts) = segment(threeRecords, number: 3, version: 1)
        #expect(try JournalReader.scan(new + Array(oldV1[v1Starts[1]...]), number: 9).damage?.isTornTail == true)
        // Real corruption before a valid record of the segment's own number is still corruption.
        var corrupt = new
        JournalFormat.append(threeRecords[2], segment: 9, to: &corrupt)
        corrupt[JournalFormat.segmentHeaderBytes + 12] ^= 0x01
        #expect(try JournalReader.scan(corrupt + stale, number: 9).damage?.isTornTail == false)
    }

    @Test func everyCutInsideTheLastRecordIsATornTailThatKeepsTheRecordsBeforeIt() throws {
        let (bytes, starts) = segment(threeRecords)
        let last = starts[2]
        for cut in last..<bytes.count {
            let scan = try JournalReader.scan(Array(bytes[0..<cut]), number: 7)
            #expect(scan.records.map(\.record) == Array(threeRecords[0..<2]), "cut at \(cut)")
            #expect(scan.validEnd.offset == UInt64(last), "cut at \(cut)")
            if cut == last {
                #expect(scan.damage == nil)
            } else {
                #expect(scan.damage?.isTornTail == true, "cut at \(cut): \(String(describing: scan.damage))")
            }
        }
    }

    @Test func aFlippedByteAnywhereInAMiddleRecordIsCorruptionNotATornTail() throws {
        let (bytes, starts) = segment(threeRecords)
        for index in starts[1]..<starts[2] {
            var damaged = bytes
            damaged[index] ^= 0x20
            let scan = try JournalReader.scan(damaged, number: 7)
            #expect(scan.records.map(\.record) == [threeRecords[0]], "byte \(index)")
            #expect(scan.validEnd.offset == UInt64(starts[1]), "byte \(index)")
            let damage = try #require(scan.damage, "byte \(index)")
            #expect(!damage.isTornTail, "byte \(index): \(damage)")
        }
    }

    @Test func aFlippedByteInTheLastRecordCannotBeToldFromATornWriteAndIsCutOff() throws {
        // Documented limit (docs/JOURNAL.md): the last record's damage looks like an interrupted write.
        let (bytes, starts) = segment(threeRecords)
        var damaged = bytes
        damaged[starts[2] + 20] ^= 0x01
        let scan = try JournalReader.scan(damaged, number: 7)
        #expect(scan.records.count == 2)
        #expect(scan.damage?.isTornTail == true)
        if case .tailChecksum = scan.damage {} else { Issue.record("expected tailChecksum, got \(String(describing: scan.damage))") }
    }

    @Test func zerosAfterTheLastRecordAreATornTail() throws {
        let (bytes, _) = segment(threeRecords)
        let scan = try JournalReader.scan(bytes + [UInt8](repeating: 0, count: 4096), number: 7)
        #expect(scan.records.count == 3)
        #expect(scan.damage == .zeroFill(bytes: 4096))
    }

    @Test func aRecordWithAValidCRCButAnUnknownKindIsCorruption() throws {
        var bytes = JournalFormat.segmentHeader(7)
        let body: [UInt8] = [9, 0, 0, 0]
        bytes.appendLittleEndian(UInt32(body.count))
        bytes.appendLittleEndian(CRC32.checksum([7, 0, 0, 0, 0, 0, 0, 0, UInt8(body.count), 0, 0, 0] + body))
        bytes += body
        let scan = try JournalReader.scan(bytes, number: 7)
        #expect(scan.damage == .malformedBody("unknown record kind 9"))
        #expect(scan.damage?.isTornTail == false)
    }

    @Test func segmentHeadersAreChecked() {
        let (bytes, _) = segment(threeRecords)
        #expect(throws: JournalSegmentError.numberMismatch(expected: 8, found: 7)) { try JournalReader.scan(bytes, number: 8) }
        #expect(throws: JournalSegmentError.truncatedHeader(bytes: 10)) { try JournalReader.scan(Array(bytes[0..<10]), number: 7) }
        var foreign = bytes
        foreign[0] = 0x58
        #expect(throws: JournalSegmentError.badMagic) { try JournalReader.scan(foreign, number: 7) }
        var newer = bytes
        newer[8] = 3
        #expect(throws: JournalSegmentError.unsupportedVersion(3)) { try JournalReader.scan(newer, number: 7) }
    }

    @Test func segmentFileNamesSortAsTheirNumbers() {
        #expect(JournalFormat.segmentFileName(12) == "journal-00000000000000000012.log")
        #expect(JournalFormat.segmentNumber(fileName: "journal-00000000000000000012.log") == 12)
        #expect(JournalFormat.segmentNumber(fileName: "journal-12.log") == nil)
        #expect(JournalFormat.segmentNumber(fileName: "journal-00000000000000000012.log.tmp") == nil)
        #expect(JournalFormat.segmentFileName(9) < JournalFormat.segmentFileName(10))
        // Spares are named apart: never taken for segments.
        #expect(JournalFormat.spareFileName(12) == "spare-00000000000000000012.log")
        #expect(JournalFormat.isSpareFileName("spare-00000000000000000012.log") && !JournalFormat.isSpareFileName("spare-12.log"))
        #expect(JournalFormat.segmentNumber(fileName: JournalFormat.spareFileName(12)) == nil)
    }

    @Test func positionsOrderBySegmentThenOffsetAndRoundTripThroughJSON() {
        let a = JournalPosition(segment: 1, offset: 900), b = JournalPosition(segment: 2, offset: 24)
        #expect(a < b && !(b < a))
        #expect(JournalPosition(json: b.json) == b)
        #expect(JournalPosition(json: .object([("segment", .integer(-1)), ("offset", .integer(0))])) == nil)
    }
}

@Suite struct ProducerWatermarkTests {
    @Test func onlyTheNextSequenceIsAcceptedBelowIsADuplicateAndAboveIsOutOfOrder() {
        var marks = ProducerWatermarks()
        #expect(marks.admit(ReliableOrigin(producer: "p", sequence: 1_700_000)) == .accept)  // first contact: any number
        #expect(marks.admit(ReliableOrigin(producer: "p", sequence: 1)) == .accept)
        marks.record(ReliableOrigin(producer: "p", sequence: 1))
        #expect(marks.admit(ReliableOrigin(producer: "p", sequence: 1)) == .duplicate(highWaterMark: 1))
        #expect(marks.admit(ReliableOrigin(producer: "p", sequence: 5)) == .outOfOrder(expected: 2))
        #expect(marks.admit(ReliableOrigin(producer: "p", sequence: 2)) == .accept)
        marks.record(ReliableOrigin(producer: "p", sequence: 5))
        marks.record(ReliableOrigin(producer: "p", sequence: 3))  // a replayed older record never lowers it
        #expect(marks.highWaterMark(of: "p") == 5)
        #expect(marks.admit(ReliableOrigin(producer: "q", sequence: 1)) == .accept)
    }

    @Test func mergeKeepsTheLargerMarkAndJSONRoundTrips() {
        var a = ProducerWatermarks(["p": 5, "q": 2])
        a.merge(ProducerWatermarks(["p": 3, "q": 9, "r": 1]))
        #expect(a.marks == ["p": 5, "q": 9, "r": 1])
        #expect(ProducerWatermarks(json: a.json) == a)
        #expect(ProducerWatermarks(json: .object([("bad name", .integer(1))])) == nil)
        #expect(ProducerWatermarks(json: .object([("p", .integer(-1))])) == nil)
    }
}

@Suite struct ReliableProtocolTests {
    @Test func requestHeaderHasTheDocumentedBytes() throws {
        // docs/PROTOCOL.md, "Reliable ingest": producer "cam-1", sequence 258.
        let header = ReliableProtocol.requestHeader(ReliableOrigin(producer: "cam-1", sequence: 258))
        #expect(header == [0x48, 0x42, 0x52, 0x51, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0x63, 0x61, 0x6d, 0x2d, 0x31])
        #expect(try ReliableProtocol.decodeRequestHeader(header) == ReliableOrigin(producer: "cam-1", sequence: 258))
    }

    @Test func malformedRequestHeadersSayWhatIsWrong() {
        let good = ReliableProtocol.requestHeader(ReliableOrigin(producer: "p", sequence: 1))
        #expect(throws: ReliableRequestError.headerSize(12)) { try ReliableProtocol.decodeRequestHeader(Array(good[0..<12])) }
        #expect(throws: ReliableRequestError.headerSize(77)) { try ReliableProtocol.decodeRequestHeader(good + [UInt8](repeating: 0x61, count: 64)) }
        #expect(throws: ReliableRequestError.badMagic) { try ReliableProtocol.decodeRequestHeader([0x48, 0x42, 0x52, 0x52] + good[4...]) }
        var zero = good
        zero[4] = 0
        #expect(throws: ReliableRequestError.sequenceOutOfRange(0)) { try ReliableProtocol.decodeRequestHeader(zero) }
        var huge = good
        huge[11] = 0x80
        #expect(throws: ReliableRequestError.sequenceOutOfRange(1 << 63 | 1)) { try ReliableProtocol.decodeRequestHeader(huge) }
        #expect(throws: ReliableRequestError.badProducer) { try ReliableProtocol.decodeRequestHeader(Array(good[0..<12]) + Array("a b".utf8)) }
        #expect(throws: ReliableRequestError.badProducer) { try ReliableProtocol.decodeRequestHeader(Array(good[0..<12]) + [0xC0, 0x80]) }
    }

    @Test func repliesHaveTheDocumentedBytesAndRoundTrip() {
        let ack = ReliableReply(status: .acknowledged, sequence: 258, highWaterMark: 258)
        #expect(ack.encoded == [0x48, 0x42, 0x41, 0x4b, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0, 0x02, 0x01, 0, 0, 0, 0, 0, 0])
        #expect(ReliableReply(decoding: ack.encoded) == ack)
        let refused = ReliableReply(status: .refused, sequence: 9, highWaterMark: 8, reason: "journal full")
        #expect(ReliableReply(decoding: refused.encoded) == refused)
        #expect(ReliableReply(decoding: Array(ack.encoded[0..<20])) == nil)
        #expect(ReliableReply(decoding: [0x48, 0x42, 0x41, 0x4b, 7] + [UInt8](repeating: 0, count: 16)) == nil)
        let long = ReliableReply(status: .rejected, sequence: 1, highWaterMark: 0, reason: String(repeating: "x", count: 2000))
        #expect(long.encoded.count == ReliableProtocol.replyFixedBytes + ReliableProtocol.maxReasonBytes)
    }
}

/// Producer and model names follow one rule (WireName); only a model name, which is also a directory, may not
/// start with ".".
@Suite struct WireNameTests {
    @Test func producerAndModelNamesShareOneRuleButALeadingDot() {
        for name in ["p", "A-z_0.9", String(repeating: "x", count: 64)] {
            #expect(ReliableOrigin.isValidProducer(name) && ModelConfiguration.isValidName(name), "\(name)")
        }
        for name in ["", "a b", "é", "a/b", String(repeating: "x", count: 65)] {
            #expect(!ReliableOrigin.isValidProducer(name) && !ModelConfiguration.isValidName(name), "\(name)")
        }
        #expect(ReliableOrigin.isValidProducer(".p") && !ModelConfiguration.isValidName(".m"))
    }
}

@Suite struct JournalConfigTests {
    @Test func defaultsAndEveryKey() throws {
        #expect(try DaemonConfiguration.parse(toml: "", file: "t.toml").journal == DaemonConfiguration.Journal())
        let config = try DaemonConfiguration.parse(toml: """
            [limits]
            max_message_bytes = 1048576
            [journal]
            enabled = false
            fsync = "always"
            batch_interval = "25ms"
            segment_bytes = 1048576
            max_journal_bytes = 8388608
            spare_segments = 0
            """, file: "t.toml")
        #expect(!config.journal.enabled && config.journal.fsync == .always)
        #expect(config.journal.batchInterval == 0.025)
        #expect(config.journal.segmentBytes == 1 << 20 && config.journal.maxJournalBytes == 8 << 20)
        #expect(config.journal.spareSegments == 0 && DaemonConfiguration.Journal().spareSegments > 0)
    }

    @Test func badValuesNameTheTableAndKey() {
        for (toml, fragment) in [("fsync = \"sometimes\"", "fsync"), ("batch_interval = \"0ms\"", "batch_interval"),
                                 ("segment_bytes = 10", "segment_bytes"), ("max_journal_bytes = 4096\nsegment_bytes = 8192", "max_journal_bytes"),
                                 ("fsnyc = \"off\"", "fsnyc"), ("spare_segments = -1", "spare_segments")] {
            do {
                _ = try DaemonConfiguration.parse(toml: "[journal]\n" + toml, file: "t.toml")
                Issue.record("parsed \(toml)")
            } catch {
                #expect(error.description.contains("[journal]") && error.description.contains(fragment), "\(error)")
            }
        }
    }

    /// A `max_journal_bytes` that a message of `limits.max_message_bytes` could never fit in (plain ingest would
    /// never be read again) is a config error naming both keys and the bound.
    @Test func maxJournalBytesMustLeaveRoomForTheLargestMessage() throws {
        let tight = "[limits]\nmax_message_bytes = 1048576\n[journal]\nsegment_bytes = 4096\n"
        #expect(throws: Never.self) { try DaemonConfiguration.parse(toml: tight + "max_journal_bytes = \(1048576 + 1072)", file: "t.toml") }
        do {
            _ = try DaemonConfiguration.parse(toml: tight + "max_journal_bytes = \(1048576 + 1071)", file: "t.toml")
            Issue.record("accepted a max_journal_bytes below max_message_bytes + 1072")
        } catch {
            #expect(error.description.contains("[journal]") && error.description.contains("max_journal_bytes")
                    && error.description.contains("limits.max_message_bytes") && error.description.contains("1049648"), "\(error)")
        }
        // The default max_message_bytes (64 MiB) with a 16 MiB journal: refused.
        #expect(throws: ConfigError.self) { try DaemonConfiguration.parse(toml: "[journal]\nsegment_bytes = 4096\nmax_journal_bytes = 16777216", file: "t.toml") }
        // Off, the journal's sizes do not matter.
        #expect(throws: Never.self) { try DaemonConfiguration.parse(toml: "[journal]\nenabled = false\nsegment_bytes = 4096\nmax_journal_bytes = 4096", file: "t.toml") }
    }

    /// `endpoints.reliable` with the journal off was silently not opened: now a config error naming both keys.
    @Test func aReliableEndpointWithTheJournalOffIsAConfigError() throws {
        do {
            _ = try DaemonConfiguration.parse(toml: "[endpoints]\nreliable = \"tcp://127.0.0.1:5558\"\n[journal]\nenabled = false", file: "t.toml")
            Issue.record("accepted endpoints.reliable with [journal] enabled = false")
        } catch {
            #expect(error.description.contains("reliable") && error.description.contains("[journal] enabled = false"), "\(error)")
        }
        #expect(throws: Never.self) { try DaemonConfiguration.parse(toml: "[endpoints]\nreliable = \"tcp://127.0.0.1:5558\"", file: "t.toml") }
        #expect(throws: Never.self) { try DaemonConfiguration.parse(toml: "[journal]\nenabled = false", file: "t.toml") }
    }

    @Test func aChangedJournalTableNeedsARestart() throws {
        var changed = DaemonConfiguration()
        changed.journal.fsync = .always
        #expect(changed.restartOnlyChanges(from: DaemonConfiguration()) == ["journal"])
    }
}

@Suite struct JournalReplayTests {
    @Test func repliesLeaveInOrderOnlyOnceTheirPositionIsDurable() {
        var pending = PendingAcknowledgements<String>()
        let p = { (offset: UInt64) in JournalPosition(segment: 1, offset: offset) }
        pending.enqueue(ReliableReply(status: .acknowledged, sequence: 1, highWaterMark: 1), to: "a", after: p(100))
        pending.enqueue(ReliableReply(status: .duplicate, sequence: 1, highWaterMark: 1), to: "b", after: p(100))
        pending.enqueue(ReliableReply(status: .acknowledged, sequence: 2, highWaterMark: 2), to: "a", after: p(200))
        #expect(pending.release(durable: p(99)).isEmpty)
        #expect(pending.release(durable: p(150)).map { "\($0.peer)\($0.reply.sequence)" } == ["a1", "b1"])
        #expect(pending.count == 1)
        #expect(pending.release(durable: JournalPosition(segment: 2, offset: 24)).map(\.reply.sequence) == [2])
        #expect(pending.count == 0)
    }

    @Test func eachModelLearnsExactlyTheRecordsAfterItsOwnCheckpoint() {
        let at = { (offset: UInt64) in JournalPosition(segment: 3, offset: offset) }
        func message(_ model: String, _ seq: UInt64?) -> JournalRecord {
            JournalRecord(frames: [Array(model.utf8), Array("{}".utf8)], origin: seq.map { ReliableOrigin(producer: "p", sequence: $0) })
        }
        var plan = JournalReplayPlan(positions: ["a": at(200), "b": at(100)],
                                     checkpointMarks: [ProducerWatermarks(["p": 4]), ProducerWatermarks(["p": 2, "q": 7])])
        #expect(plan.start == at(100))
        #expect(plan.watermarks.marks == ["p": 4, "q": 7])
        #expect(plan.offer(message("a", 3), at: at(100), end: at(150)) == false)  // before a's checkpoint
        #expect(plan.offer(message("b", 4), at: at(150), end: at(200)) == true)
        #expect(plan.offer(message("a", 5), at: at(200), end: at(250)) == true)
        #expect(plan.offer(message("removed", 6), at: at(250), end: at(300)) == false)
        #expect(plan.offer(message("b", nil), at: at(300), end: at(350)) == true)
        #expect(plan.watermarks.marks == ["p": 6, "q": 7])
        #expect(plan.replayed == ["a": 1, "b": 2])
        // A model without a checkpoint learns the whole journal: replay starts at the first record.
        let fresh = JournalReplayPlan(positions: ["a": at(200), "new": nil], checkpointMarks: [])
        #expect(fresh.start == nil)
    }

    /// A model whose learned state the operator discarded (`--reset-model`) learns no record from before the start,
    /// however far back its (absent) checkpoint would put it; its records' producer marks still count, and the other
    /// models replay as before.
    @Test func aDiscardedModelLearnsNothingFromTheJournal() {
        let at = { (offset: UInt64) in JournalPosition(segment: 3, offset: offset) }
        func message(_ model: String, _ seq: UInt64) -> JournalRecord {
            JournalRecord(frames: [Array(model.utf8), Array("{}".utf8)], origin: ReliableOrigin(producer: "p", sequence: seq))
        }
        var plan = JournalReplayPlan(positions: ["a": nil, "b": at(100)], checkpointMarks: [], discarded: ["a"])
        #expect(plan.start == at(100))      // "a" has no checkpoint, but reads nothing: replay starts at b's position
        #expect(plan.offer(message("a", 1), at: at(100), end: at(150)) == false)
        #expect(plan.offer(message("b", 2), at: at(150), end: at(200)) == true)
        #expect(plan.offer(message("a", 3), at: at(200), end: at(250)) == false)
        #expect(plan.replayed == ["b": 1])
        #expect(plan.watermarks.marks == ["p": 3])
    }
}

@Suite struct CheckpointJournalCoverageTests {
    static let versionThree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoint-v3")

    /// A version-3 file written by the format-3 build loads (no journal position: the whole journal replays), and the
    /// same state with a journal position and producer marks is written in the current version (4 or later) and reads back identical.
    @Test func versionThreeFileStillLoadsAndVersionFourCarriesTheJournalCoverage() throws {
        let bytes = try Array(Data(contentsOf: Self.versionThree.appendingPathComponent("gaussian.hebb")))
        let inspected = try JSONParser.parse(Array(Data(contentsOf: Self.versionThree.appendingPathComponent("gaussian.inspect.json"))))
        #expect(bytes[8] == 3)
        let decoded = try CheckpointFormat.decode(bytes, path: "gaussian")
        #expect(decoded.formatVersion == 3 && decoded.snapshot.journal == nil)
        #expect(decoded.snapshot.circuit!.updates == inspected["updates"]?.int && decoded.snapshot.pendingRows == inspected["pending_rows"]?.int)
        let weights = inspected["weights"]?.array?.flatMap { $0.array ?? [] }.compactMap { $0.double.map(Float.init) }
        #expect(decoded.snapshot.circuit!.weights == weights)

        var snapshot = decoded.snapshot
        snapshot.journal = JournalCoverage(position: JournalPosition(segment: 3, offset: 4711),
                                           watermarks: ProducerWatermarks(["cam-1": 258, "feed": UInt64(Int64.max)]))
        let written = try CheckpointFormat.encode(snapshot, software: "test")
        #expect(written[8] == UInt8(CheckpointFormat.version) && CheckpointFormat.version >= 4)
        let back = try CheckpointFormat.decode(written, path: "v4")
        #expect(back.snapshot == snapshot && back.snapshot.journal == snapshot.journal)
        // Without a journal the key is null and reads back as nil.
        snapshot.journal = nil
        #expect(try CheckpointFormat.decode(try CheckpointFormat.encode(snapshot, software: "test"), path: "v4").snapshot.journal == nil)
    }

    @Test func aMalformedJournalKeyIsAMalformedHeader() throws {
        #expect(JournalCoverage(json: .object([("position", .object([("offset", .integer(1))])), ("producers", .object([]))])) == nil)
        let coverage = JournalCoverage(position: JournalPosition(segment: 1, offset: 24), watermarks: ProducerWatermarks(["p": 1]))
        #expect(JournalCoverage(json: coverage.json) == coverage)
        #expect(String(decoding: coverage.json.serialized, as: UTF8.self) == #"{"position":{"offset":24,"segment":1},"producers":{"p":1}}"#)
    }
}
