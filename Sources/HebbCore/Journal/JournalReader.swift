/// Why a segment's bytes stop being records.
package enum JournalDamage: Sendable, Equatable, CustomStringConvertible {
    /// The bytes end inside a record's prefix or body: a write cut off by a crash.
    case cutOff(needed: Int, available: Int)
    /// The last record's length fits but its CRC does not (the file grew before its data reached the disk),
    /// with no valid record after it.
    case tailChecksum(expected: UInt32, actual: UInt32)
    /// Zero bytes where the next record's prefix should be, up to the end (space allocated, never written).
    case zeroFill(bytes: Int)
    /// A record's CRC fails and valid records follow it.
    case checksum(expected: UInt32, actual: UInt32)
    /// A length of 0 or above ``JournalFormat/maxRecordBytes``, or one that runs past the end while valid records
    /// follow it.
    case badLength(Int)
    /// The CRC holds but the body does not parse (unknown kind or flags, frame lengths that do not add up, a bad
    /// producer name): written by another program or version.
    case malformedBody(String)
    /// The last segment's header is the one of segment `found`, an earlier one: a recycled file whose new header
    /// never reached the disk (with `fsync = "off"`, renamed before its header was written back). Nothing in it
    /// belongs to the segment its name says.
    case staleHeader(found: UInt64)

    package var description: String {
        switch self {
        case let .cutOff(needed, available): "record cut off: \(needed) bytes needed, \(available) present"
        case let .tailChecksum(expected, actual): "last record's CRC fails (stored \(hex(expected)), computed \(hex(actual)))"
        case let .zeroFill(bytes): "\(bytes) zero bytes where a record should start"
        case let .checksum(expected, actual): "CRC mismatch (stored \(hex(expected)), computed \(hex(actual))) with valid records after it"
        case let .badLength(length): "impossible record length \(length)"
        case let .malformedBody(why): "malformed record: \(why)"
        case let .staleHeader(found): "the header of segment \(found), the file's previous life (a crash while it was recycled)"
        }
    }

    /// True for a torn tail: the end of what a crash interrupted, never acknowledged and never learned, cut off
    /// by recovery. False for corruption, which recovery refuses (docs/JOURNAL.md).
    package var isTornTail: Bool {
        switch self {
        case .cutOff, .tailChecksum, .zeroFill, .staleHeader: true
        case .checksum, .badLength, .malformedBody: false
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

/// Why a segment cannot be read at all.
package enum JournalSegmentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Shorter than the segment header.
    case truncatedHeader(bytes: Int)
    /// The first 8 bytes are not "HEBBJRNL".
    case badMagic
    /// A version this build does not read (never read "best effort").
    case unsupportedVersion(UInt32)
    /// The header's number differs from the file name's: a copied or renamed file.
    case numberMismatch(expected: UInt64, found: UInt64)

    package var description: String {
        switch self {
        case let .truncatedHeader(bytes): "segment header truncated (\(bytes) of \(JournalFormat.segmentHeaderBytes) bytes)"
        case .badMagic: "not a hebbd journal segment (bad magic)"
        case let .unsupportedVersion(v):
            "journal format version \(v) is not readable by this build (reads \(JournalFormat.readableVersions.lowerBound)–\(JournalFormat.readableVersions.upperBound))"
        case let .numberMismatch(expected, found): "segment header says number \(found), its file name \(expected)"
        }
    }
}

/// What reading one segment found: its records with their positions, and where and why it stopped early.
package struct JournalSegmentScan: Sendable, Equatable {
    /// The records, in order, each with its own position and the position just after it.
    package var records: [(record: JournalRecord, at: JournalPosition, end: JournalPosition)]
    /// Where the valid records end: the position to truncate to when there is a torn tail.
    package var validEnd: JournalPosition
    /// Why the bytes after ``validEnd`` are not records; nil when the segment ends exactly after a record.
    package var damage: JournalDamage?

    package static func == (a: JournalSegmentScan, b: JournalSegmentScan) -> Bool {
        a.validEnd == b.validEnd && a.damage == b.damage && a.records.count == b.records.count
            && zip(a.records, b.records).allSatisfy { $0.record == $1.record && $0.at == $1.at && $0.end == $1.end }
    }
}

/// Reads a segment's bytes into records (pure: the bytes come from the caller).
///
/// Reading stops at the first place that is not a valid record. What follows decides what that is: a **torn tail**
/// (``JournalDamage/isTornTail``) when nothing valid comes after it — the record a crash interrupted, which was never
/// synced, never acknowledged and never learned, so recovery cuts it off; **corruption** when a valid record still
/// follows (a flipped byte in the middle), which recovery refuses rather than drop acknowledged records after it.
///
/// A record is valid only under its own segment's number and format version (version 2's CRC covers the number):
/// the records a recycled segment still holds from its previous life, after its last record, are never valid — to
/// the reader they are the rest of a torn tail, not records after damage.
package enum JournalReader {
    /// Checks a segment's header — the magic, a readable version and that it is segment `number` — and returns its
    /// format version.
    @discardableResult
    package static func checkHeader(_ bytes: UnsafeRawBufferPointer, number: UInt64) throws(JournalSegmentError) -> UInt32 {
        guard bytes.count >= JournalFormat.segmentHeaderBytes else { throw .truncatedHeader(bytes: bytes.count) }
        guard Array(bytes[0..<8]) == JournalFormat.magic else { throw .badMagic }
        let version = bytes.loadLittleEndian(UInt32.self, at: 8)
        guard JournalFormat.readableVersions.contains(version) else { throw .unsupportedVersion(version) }
        let found = bytes.loadLittleEndian(UInt64.self, at: 16)
        guard found == number else { throw .numberMismatch(expected: number, found: found) }
        return version
    }

    /// Reads segment `number` whole (header and records).
    package static func scan(_ bytes: [UInt8], number: UInt64) throws(JournalSegmentError) -> JournalSegmentScan {
        let result: Result<JournalSegmentScan, JournalSegmentError> = bytes.withUnsafeBytes { raw in
            do throws(JournalSegmentError) {
                let version = try checkHeader(raw, number: number)
                return .success(scanRecords(raw, number: number, version: version))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Reads the records of segment `number` of format `version` from `bytes` (the whole file, header included).
    static func scanRecords(_ bytes: UnsafeRawBufferPointer, number: UInt64, version: UInt32) -> JournalSegmentScan {
        let segment = SegmentIdentity(number: number, version: version)
        var records: [(record: JournalRecord, at: JournalPosition, end: JournalPosition)] = []
        var offset = JournalFormat.segmentHeaderBytes
        func position(_ o: Int) -> JournalPosition { JournalPosition(segment: number, offset: UInt64(o)) }
        while offset < bytes.count {
            switch parseRecord(bytes, at: offset, in: segment) {
            case let .record(record, next):
                records.append((record, position(offset), position(next)))
                offset = next
            case let .damaged(damage):
                return JournalSegmentScan(records: records, validEnd: position(offset),
                                          damage: classify(damage, bytes, at: offset, in: segment))
            }
        }
        return JournalSegmentScan(records: records, validEnd: position(offset), damage: nil)
    }

    /// What a record's CRC depends on besides its own bytes.
    private struct SegmentIdentity {
        var number: UInt64
        var version: UInt32
    }

    private enum Parse {
        case record(JournalRecord, next: Int)
        case damaged(JournalDamage)
    }

    /// A first verdict at `offset`, refined by ``classify(_:_:at:in:)`` from what follows.
    private static func parseRecord(_ bytes: UnsafeRawBufferPointer, at offset: Int, in segment: SegmentIdentity) -> Parse {
        let available = bytes.count - offset
        guard available >= JournalFormat.recordPrefixBytes else {
            return .damaged(.cutOff(needed: JournalFormat.recordPrefixBytes, available: available))
        }
        let length = Int(bytes.loadLittleEndian(UInt32.self, at: offset))
        guard length > 0, length <= JournalFormat.maxRecordBytes else { return .damaged(.badLength(length)) }
        guard length <= available - JournalFormat.recordPrefixBytes else {
            return .damaged(.cutOff(needed: JournalFormat.recordPrefixBytes + length, available: available))
        }
        let stored = bytes.loadLittleEndian(UInt32.self, at: offset + 4)
        let bodyStart = offset + JournalFormat.recordPrefixBytes
        let computed = JournalFormat.recordChecksum(length: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4)]),
                                                    body: UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + length)]),
                                                    segment: segment.number, version: segment.version)
        guard computed == stored else { return .damaged(.checksum(expected: stored, actual: computed)) }
        switch decodeBody(UnsafeRawBufferPointer(rebasing: bytes[bodyStart..<(bodyStart + length)])) {
        case let .success(record): return .record(record, next: bodyStart + length)
        case let .failure(why): return .damaged(.malformedBody(why.text))
        }
    }

    /// A tail with nothing valid after it is torn; anything with a valid record after it is corruption.
    private static func classify(_ damage: JournalDamage, _ bytes: UnsafeRawBufferPointer, at offset: Int,
                                 in segment: SegmentIdentity) -> JournalDamage {
        if case .malformedBody = damage { return damage }  // its CRC held: written that way, not torn
        if bytes[offset...].allSatisfy({ $0 == 0 }) { return .zeroFill(bytes: bytes.count - offset) }
        if validRecordFollows(bytes, after: offset, in: segment) {
            if case let .cutOff(needed, _) = damage, needed > JournalFormat.recordPrefixBytes {
                return .badLength(needed - JournalFormat.recordPrefixBytes)
            }
            if case let .tailChecksum(expected, actual) = damage { return .checksum(expected: expected, actual: actual) }
            return damage
        }
        switch damage {
        case let .checksum(expected, actual): return .tailChecksum(expected: expected, actual: actual)
        case let .badLength(length): return .cutOff(needed: JournalFormat.recordPrefixBytes + length, available: bytes.count - offset)
        default: return damage
        }
    }

    /// Whether a complete record with a valid CRC and body starts anywhere after `offset` (so the damage at
    /// `offset` is not the end of the journal). Candidates are filtered by their length and body shape before
    /// the CRC is computed, so a torn multi-megabyte record costs little. A record of a recycled file's previous
    /// life fails its CRC here (another segment number): stale bytes are never "a valid record after it".
    private static func validRecordFollows(_ bytes: UnsafeRawBufferPointer, after offset: Int, in segment: SegmentIdentity) -> Bool {
        var candidate = offset + 1
        while candidate + JournalFormat.recordPrefixBytes + 4 <= bytes.count {
            defer { candidate += 1 }
            let length = Int(bytes.loadLittleEndian(UInt32.self, at: candidate))
            let bodyStart = candidate + JournalFormat.recordPrefixBytes
            guard length >= 4, length <= bytes.count - bodyStart,
                  bytes[bodyStart] == JournalFormat.ingestKind, bytes[bodyStart + 1] & ~JournalFormat.reliableFlag == 0
            else { continue }
            if case .record = parseRecord(bytes, at: candidate, in: segment) { return true }
        }
        return false
    }

    private struct BodyError: Error { var text: String }

    private static func decodeBody(_ body: UnsafeRawBufferPointer) -> Result<JournalRecord, BodyError> {
        var cursor = 0
        func need(_ n: Int, _ what: String) -> BodyError? {
            body.count - cursor >= n ? nil : BodyError(text: "\(what) runs past the record's end")
        }
        if let e = need(4, "the body header") { return .failure(e) }
        guard body[0] == JournalFormat.ingestKind else { return .failure(BodyError(text: "unknown record kind \(body[0])")) }
        let flags = body[1]
        guard flags & ~JournalFormat.reliableFlag == 0 else { return .failure(BodyError(text: "unknown flags \(flags)")) }
        let frameCount = Int(body.loadLittleEndian(UInt16.self, at: 2))
        cursor = 4
        var origin: ReliableOrigin?
        if flags & JournalFormat.reliableFlag != 0 {
            if let e = need(9, "the sequence number") { return .failure(e) }
            let sequence = body.loadLittleEndian(UInt64.self, at: cursor)
            let nameLength = Int(body[cursor + 8])
            cursor += 9
            if let e = need(nameLength, "the producer name") { return .failure(e) }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: body[cursor..<(cursor + nameLength)]), as: UTF8.self)
            guard ReliableOrigin.isValidProducer(name) else { return .failure(BodyError(text: "invalid producer name")) }
            cursor += nameLength
            origin = ReliableOrigin(producer: name, sequence: sequence)
        }
        var frames: [[UInt8]] = []
        frames.reserveCapacity(frameCount)
        for index in 0..<frameCount {
            if let e = need(4, "frame \(index)'s length") { return .failure(e) }
            let length = Int(body.loadLittleEndian(UInt32.self, at: cursor))
            cursor += 4
            if let e = need(length, "frame \(index)") { return .failure(e) }
            frames.append(Array(body[cursor..<(cursor + length)]))
            cursor += length
        }
        guard cursor == body.count else { return .failure(BodyError(text: "\(body.count - cursor) bytes after the last frame")) }
        return .success(JournalRecord(frames: frames, origin: origin))
    }
}
