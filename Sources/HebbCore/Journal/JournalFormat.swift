/// # hebbd journal format, version 2 (docs/JOURNAL.md)
///
/// The journal is a write-ahead log of the ingest messages the engine accepted, in numbered segment files
/// (`<state_dir>/journal/journal-<segment, 20 digits>.log`). All integers are little-endian.
///
/// A segment starts with a 24-byte header:
///
///     offset  size  field
///     0       8     magic, the ASCII bytes "HEBBJRNL"
///     8       4     format version, UInt32 = 2 (1 is still read)
///     12      4     reserved, 0
///     16      8     the segment's number, UInt64 (equal to the number in its file name)
///
/// then records back to back, each:
///
///     offset  size  field
///     0       4     body length L, UInt32 (1 ... maxRecordBytes)
///     4       4     CRC-32 (IEEE, = zlib.crc32), UInt32: version 2, of the segment's number (8 bytes), bytes [0, 4)
///                   and the body; version 1, of bytes [0, 4) and the body
///     8       L     body
///
/// and a body is:
///
///     0       1     kind, 1 = an accepted ingest message
///     1       1     flags: bit 0 = reliable (sent on `endpoints.reliable` with a producer and a sequence number)
///     2       2     frame count F, UInt16
///     4       …     reliable only: sequence number UInt64, producer name length UInt8 (1–64), producer name (UTF-8)
///     …       …     F times: frame length UInt32, the frame's bytes as received
///
/// Why this shape: the length prefix lets a reader skip to the next record without parsing; the CRC over the
/// length and the body catches a torn write and bit rot (a flipped length is caught too); frames are stored
/// exactly as received, so replay goes through the same decoder as live ingest and the model is the one the
/// live daemon learned; the segment number in the header ties a file to its place in the sequence (a copied or
/// renamed file is refused).
///
/// Version 2 differs from 1 only in the record's CRC, which also covers the segment's number: segment files are
/// recycled (a covered segment is renamed to a spare and overwritten in place as a later segment), so the bytes after
/// a recycled segment's last record are records of its previous life — complete, with CRCs that held there. Under
/// version 2 they can never pass as records of the new segment (nor as a valid record after damage, which would make a
/// torn tail look like corruption). Version 1 segments, written by earlier builds, are read as before.
package enum JournalFormat {
    /// "HEBBJRNL".
    package static let magic: [UInt8] = Array("HEBBJRNL".utf8)
    /// The version this build writes.
    package static let version: UInt32 = 2
    /// The versions this build reads: 1 (records' CRC without the segment's number) and 2.
    package static let readableVersions: ClosedRange<UInt32> = 1...2
    /// Bytes of a segment's header.
    package static let segmentHeaderBytes = 24
    /// Bytes before a record's body: its length and its CRC.
    package static let recordPrefixBytes = 8
    /// The largest body a record may have (2 GiB − 1): `limits.max_message_bytes` is at most Int32.max, plus the
    /// frame lengths and the producer. A length above it is corruption, never a torn tail.
    package static let maxRecordBytes = Int(Int32.max)
    /// Kind byte of an ingest message.
    static let ingestKind: UInt8 = 1
    /// Flag bit of a reliable message.
    static let reliableFlag: UInt8 = 1
    /// The longest producer name (as for model names).
    package static let maxProducerBytes = WireName.maxBytes

    /// The file name of segment `number`: `journal-<number, 20 digits>.log`; lexical order is numeric order.
    package static func segmentFileName(_ number: UInt64) -> String {
        let digits = String(number)
        return "journal-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The segment number in a file name written by ``segmentFileName(_:)``, or nil for any other name.
    package static func segmentNumber(fileName: String) -> UInt64? {
        guard fileName.hasPrefix("journal-"), fileName.hasSuffix(".log") else { return nil }
        let digits = fileName.dropFirst(8).dropLast(4)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// The file name of a spare: a covered segment kept for reuse (`spare-<its former number, 20 digits>.log`).
    /// Recovery and the segment listing ignore it.
    package static func spareFileName(_ formerNumber: UInt64) -> String {
        "spare-" + segmentFileName(formerNumber).dropFirst(8)
    }

    /// Whether `fileName` is a spare's (``spareFileName(_:)``).
    package static func isSpareFileName(_ fileName: String) -> Bool {
        fileName.hasPrefix("spare-") && segmentNumber(fileName: "journal-" + fileName.dropFirst(6)) != nil
    }

    /// The header of segment `number` in format `version` (tests write version 1 segments as earlier builds did).
    package static func segmentHeader(_ number: UInt64, version: UInt32 = version) -> [UInt8] {
        var bytes = magic
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(UInt32(0))
        bytes.appendLittleEndian(number)
        return bytes
    }

    /// The CRC a record stores in segment `segment` of format `version`: of the segment's number as 8 bytes (version
    /// 2 only), the 4 length bytes and the body — `zlib.crc32(body, zlib.crc32(segment_le8 + length_le4))`.
    package static func recordChecksum(length: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer,
                                       segment: UInt64, version: UInt32) -> UInt32 {
        var crc = CRC32()
        if version >= 2 {
            withUnsafeBytes(of: segment.littleEndian) { crc.update($0) }
        }
        crc.update(length)
        crc.update(body)
        return crc.value
    }

    /// Encodes `record` (prefix and body) for segment `segment` of format `version`, appending to `bytes`.
    package static func append(_ record: JournalRecord, segment: UInt64, version: UInt32 = version, to bytes: inout [UInt8]) {
        append(frames: record.frames, origin: record.origin, segment: segment, version: version, to: &bytes)
    }

    /// Encodes the record of a message of `frames` (prefix and body) for segment `segment` of format `version`,
    /// appending to `bytes`. Generic so that the engine encodes straight from the received frames
    /// (`UnsafeRawBufferPointer`), with no copy of them first; specialized for those here, since the engine calls it
    /// from another module, where the generic version ran with run-time metadata look-ups (7.8 % of the daemon's
    /// samples at one row per message).
    @_specialize(exported: true, where Frame == UnsafeRawBufferPointer)
    package static func append<Frame: Collection<UInt8>>(frames: [Frame], origin: ReliableOrigin?, segment: UInt64,
                                                         version: UInt32 = version, to bytes: inout [UInt8]) {
        let start = bytes.count
        bytes.appendLittleEndian(UInt32(0))  // length, patched below
        bytes.appendLittleEndian(UInt32(0))  // CRC, patched below
        bytes.append(ingestKind)
        bytes.append(origin == nil ? 0 : reliableFlag)
        bytes.appendLittleEndian(UInt16(frames.count))
        if let origin {
            bytes.appendLittleEndian(origin.sequence)
            let name = Array(origin.producer.utf8)
            bytes.append(UInt8(name.count))
            bytes.append(contentsOf: name)
        }
        for frame in frames {
            bytes.appendLittleEndian(UInt32(frame.count))
            bytes.append(contentsOf: frame)
        }
        let length = UInt32(bytes.count - start - recordPrefixBytes)
        bytes.storeLittleEndian(length, at: start)
        let crc = bytes.withUnsafeBytes { raw in
            recordChecksum(length: UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4)]),
                           body: UnsafeRawBufferPointer(rebasing: raw[(start + recordPrefixBytes)...]), segment: segment, version: version)
        }
        bytes.storeLittleEndian(crc, at: start + 4)
    }

    /// The encoded size of `record`, prefix included.
    package static func encodedBytes(_ record: JournalRecord) -> Int {
        encodedBytes(frames: record.frames, origin: record.origin)
    }

    /// The encoded size of the record of a message of `frames`, prefix included (specialized as ``append(frames:origin:segment:version:to:)``).
    @_specialize(exported: true, where Frame == UnsafeRawBufferPointer)
    package static func encodedBytes<Frame: Collection<UInt8>>(frames: [Frame], origin: ReliableOrigin?) -> Int {
        recordPrefixBytes + 4 + (origin.map { 9 + $0.producer.utf8.count } ?? 0) + frames.reduce(0) { $0 + 4 + $1.count }
    }
}

/// Where a reliable message came from: the producer's durable name and its sequence number.
package struct ReliableOrigin: Sendable, Equatable, Hashable {
    /// The producer's name (1–64 bytes of `A–Z a–z 0–9 _ . -`).
    package var producer: String
    /// Its sequence number, increasing per message.
    package var sequence: UInt64

    package init(producer: String, sequence: UInt64) {
        self.producer = producer
        self.sequence = sequence
    }

    /// Whether `name` can be a producer name: ``WireName``'s rule, as for model names (so it is safe in logs and
    /// metrics), a leading "." included — a producer name is never a file name.
    package static func isValidProducer(_ name: String) -> Bool { WireName.isValid(name) }
}

/// One journal record: an ingest message as the engine accepted it.
package struct JournalRecord: Sendable, Equatable {
    /// The message's frames, exactly as received (model name, header, and X, Y for the binary form).
    package var frames: [[UInt8]]
    /// The producer and sequence number of a reliable message; nil for a message from `PULL` or a SUB tap.
    package var origin: ReliableOrigin?

    package init(frames: [[UInt8]], origin: ReliableOrigin? = nil) {
        self.frames = frames
        self.origin = origin
    }

    /// The model named in frame 0 (nil when it is not UTF-8 or there is no frame).
    package var model: String? {
        frames.first.flatMap { String(validating: $0, as: UTF8.self) }
    }
}

/// A place in the journal: a segment and a byte offset in it. Ordered as the journal is written. A checkpoint
/// records the position just after the last record its model learned; replay starts there.
package struct JournalPosition: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The segment's number.
    package var segment: UInt64
    /// Bytes from the start of the segment file (a record boundary).
    package var offset: UInt64

    package init(segment: UInt64, offset: UInt64) {
        self.segment = segment
        self.offset = offset
    }

    /// Where segment `segment`'s first record starts.
    package static func start(of segment: UInt64) -> JournalPosition {
        JournalPosition(segment: segment, offset: UInt64(JournalFormat.segmentHeaderBytes))
    }

    package static func < (a: JournalPosition, b: JournalPosition) -> Bool {
        (a.segment, a.offset) < (b.segment, b.offset)
    }

    package var description: String { "\(segment):\(offset)" }

    /// The position as JSON for a checkpoint header: `{"offset": n, "segment": n}` (keys sorted, as the header's).
    package var json: JSON {
        .object([("offset", .integer(Int64(bitPattern: offset))), ("segment", .integer(Int64(bitPattern: segment)))])
    }

    /// The inverse of ``json``; nil when `json` is not such an object.
    package init?(json: JSON) {
        guard case let .integer(segment)? = json["segment"], case let .integer(offset)? = json["offset"],
              segment >= 0, offset >= 0 else { return nil }
        self.init(segment: UInt64(segment), offset: UInt64(offset))
    }
}
