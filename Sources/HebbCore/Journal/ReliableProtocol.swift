/// The acknowledged ingest protocol on `endpoints.reliable` (docs/PROTOCOL.md, "Reliable ingest"), pure codec.
///
/// A producer's `DEALER` sends each message as one reliable header frame followed by the ordinary sample frames
/// (2 inline or 4 binary, exactly as on `PULL`). The header frame, 13–76 bytes:
///
///     offset  size  field
///     0       4     magic, the ASCII bytes "HBRQ"
///     4       8     sequence number, UInt64 little-endian, 1 … 2⁶³ − 1, increasing per message of this producer
///     12      1–64  producer name, UTF-8, `A–Z a–z 0–9 _ . -` (durable: the same name after a producer restart)
///
/// The daemon's `ROUTER` answers every request with one reply frame, 21 bytes plus an optional reason:
///
///     offset  size  field
///     0       4     magic, the ASCII bytes "HBAK"
///     4       1     status (``ReliableReply/Status``)
///     5       8     the request's sequence number (0 when the request could not be read)
///     13      8     the producer's durable high-water mark: every sequence number up to it is journaled and synced
///                   as `[journal] fsync` says, and will be learned exactly once
///     21      …     reason, UTF-8 (empty for `acknowledged` and `duplicate`)
///
/// Binary rather than JSON because it is on every message of the hot path and two integers and a name need no
/// parser; fixed offsets make the byte-level examples of the documentation exact.
package enum ReliableProtocol {
    /// "HBRQ".
    package static let requestMagic: [UInt8] = Array("HBRQ".utf8)
    /// "HBAK".
    package static let replyMagic: [UInt8] = Array("HBAK".utf8)
    /// Bytes of a request header without its producer name.
    package static let requestFixedBytes = 12
    /// Bytes of a reply without its reason.
    package static let replyFixedBytes = 21
    /// The largest sequence number (it must fit a checkpoint's JSON integer).
    package static let maxSequence = UInt64(Int64.max)
    /// The longest reason a reply carries (longer ones are cut).
    package static let maxReasonBytes = 512

    /// Encodes a request header frame.
    package static func requestHeader(_ origin: ReliableOrigin) -> [UInt8] {
        var bytes = requestMagic
        bytes.appendLittleEndian(origin.sequence)
        bytes.append(contentsOf: origin.producer.utf8)
        return bytes
    }

    /// Decodes a request header frame (the frame after the routing id); the error says what is wrong.
    package static func decodeRequestHeader(_ frame: UnsafeRawBufferPointer) throws(ReliableRequestError) -> ReliableOrigin {
        guard frame.count >= requestFixedBytes + 1, frame.count <= requestFixedBytes + JournalFormat.maxProducerBytes else {
            throw .headerSize(frame.count)
        }
        guard Array(frame[0..<4]) == requestMagic else { throw .badMagic }
        let sequence = frame.loadLittleEndian(UInt64.self, at: 4)
        guard sequence >= 1, sequence <= maxSequence else { throw .sequenceOutOfRange(sequence) }
        guard let producer = String(validating: UnsafeRawBufferPointer(rebasing: frame[requestFixedBytes...]), as: UTF8.self),
              ReliableOrigin.isValidProducer(producer) else { throw .badProducer }
        return ReliableOrigin(producer: producer, sequence: sequence)
    }

    /// Decodes a request header frame given as bytes.
    package static func decodeRequestHeader(_ frame: [UInt8]) throws(ReliableRequestError) -> ReliableOrigin {
        let result: Result<ReliableOrigin, ReliableRequestError> = frame.withUnsafeBytes { raw in
            do throws(ReliableRequestError) { return .success(try decodeRequestHeader(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

/// Why a reliable request's header frame cannot be read. Answered with status `malformed`.
package enum ReliableRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request has no header frame or no sample frames after it.
    case frameCount(Int)
    /// The header frame is not 13–76 bytes.
    case headerSize(Int)
    /// The header frame does not start with "HBRQ".
    case badMagic
    /// Sequence number 0, or above 2⁶³ − 1.
    case sequenceOutOfRange(UInt64)
    /// The producer name is not 1–64 bytes of `A–Z a–z 0–9 _ . -`.
    case badProducer

    package var description: String {
        switch self {
        case let .frameCount(n): "a reliable request is a header frame and 2 or 4 sample frames, got \(n) frames"
        case let .headerSize(n): "the reliable header frame is \(n) bytes, expected 13–76"
        case .badMagic: "the reliable header frame does not start with \"HBRQ\""
        case let .sequenceOutOfRange(s): "sequence number \(s) is outside 1 … 2^63-1"
        case .badProducer: "the producer name is not 1–64 bytes of A–Z a–z 0–9 _ . -"
        }
    }
}

/// The daemon's answer to one reliable request.
package struct ReliableReply: Sendable, Equatable {
    /// What became of the request.
    package enum Status: UInt8, Sendable, Equatable, CaseIterable {
        /// Journaled (and synced as configured): it will be learned exactly once. The producer drops every message
        /// up to the high-water mark from its outbox.
        case acknowledged = 0
        /// Already journaled earlier (a resend): dropped, the high-water mark covers it.
        case duplicate = 1
        /// The sample message is invalid (the reason is the ingest rejection, docs/PROTOCOL.md "Rejection"): it will
        /// never be learned, resending it cannot help. The high-water mark does not move.
        case rejected = 2
        /// Not taken now (journal full, or not writable): the reason says why. Resend it later; nothing was stored.
        case refused = 3
        /// The header frame could not be read (``ReliableRequestError``); sequence number and mark are 0.
        case malformed = 4
    }

    /// What became of the request.
    package var status: Status
    /// The request's sequence number.
    package var sequence: UInt64
    /// The producer's durable high-water mark.
    package var highWaterMark: UInt64
    /// Why, for `rejected`, `refused` and `malformed`.
    package var reason: String

    package init(status: Status, sequence: UInt64, highWaterMark: UInt64, reason: String = "") {
        self.status = status
        self.sequence = sequence
        self.highWaterMark = highWaterMark
        self.reason = reason
    }

    /// The reply frame.
    package var encoded: [UInt8] {
        var bytes = ReliableProtocol.replyMagic
        bytes.append(status.rawValue)
        bytes.appendLittleEndian(sequence)
        bytes.appendLittleEndian(highWaterMark)
        bytes.append(contentsOf: Array(reason.utf8).prefix(ReliableProtocol.maxReasonBytes))
        return bytes
    }

    /// Decodes a reply frame (for clients and tests); nil when it is not one.
    package init?(decoding frame: [UInt8]) {
        guard frame.count >= ReliableProtocol.replyFixedBytes, Array(frame[0..<4]) == ReliableProtocol.replyMagic,
              let status = Status(rawValue: frame[4]) else { return nil }
        let (sequence, mark) = frame.withUnsafeBytes { raw in
            (raw.loadLittleEndian(UInt64.self, at: 5),
             raw.loadLittleEndian(UInt64.self, at: 13))
        }
        self.init(status: status, sequence: sequence, highWaterMark: mark,
                  reason: String(decoding: frame[ReliableProtocol.replyFixedBytes...], as: UTF8.self))
    }
}
