import HebbCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong with the journal's files. Each case names the file and what exactly was wrong, so
/// one log line (or the refusal to start) explains itself.
package enum JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A system call failed: `operation` names it (`open`, `write`, `fdatasync`, …), `code` is `errno`.
    case io(path: String, operation: String, code: Int32)
    /// A segment that cannot be read at all (not a segment, another version, renamed).
    case unreadableSegment(path: String, error: JournalSegmentError)
    /// A segment is missing between two present ones: the records it held are gone.
    case missingSegment(directory: String, number: UInt64)
    /// Damage that is not a torn tail (a flipped byte before valid records, damage in a sealed segment): the daemon
    /// refuses to start rather than learn a wrong model or drop acknowledged records (docs/JOURNAL.md, "Corruption").
    case corrupt(path: String, position: JournalPosition, damage: JournalDamage)
    /// Appending would take the journal past `max_journal_bytes`.
    case full(bytes: Int, limit: Int)
    /// A record larger than the format holds (more than 65 535 frames or a body over 2 GiB − 1): nothing written.
    case recordTooLarge(frames: Int, bytes: Int)
    /// The writer was closed.
    case closed
    /// A write or sync failed (`reason`); the writer starts a new segment once `retryIn` has passed.
    case failed(String, retryIn: Duration)
    /// A reliable message above its producer's mark + 1: the messages before it must come first, from `expected`.
    case outOfOrder(producer: String, expected: UInt64)

    package var description: String {
        switch self {
        case let .io(path, operation, code): "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))"
        case let .unreadableSegment(path, error): "journal segment \(path): \(error)"
        case let .missingSegment(directory, number):
            "journal segment \(JournalFormat.segmentFileName(number)) is missing from \(directory) (segments after it exist)"
        case let .corrupt(path, position, damage):
            "journal segment \(path) is corrupt at offset \(position.offset): \(damage)"
        case let .full(bytes, limit): "journal full: \(bytes) bytes would exceed max_journal_bytes = \(limit)"
        case let .recordTooLarge(frames, bytes):
            "a record of \(frames) frames and \(bytes) bytes exceeds the journal format's \(UInt16.max) frames and \(JournalFormat.maxRecordBytes) bytes"
        case .closed: "journal closed"
        case let .failed(reason, retryIn):
            "journal failed (\(reason)); a new segment is tried in \(Int(retryIn.inSeconds.rounded(.up))) s"
        case let .outOfOrder(producer, expected):
            "out of order: producer \(producer)'s next message is \(expected); resend from it"
        }
    }

    /// The same error for the journal (the checkpoint store's file helpers report `CheckpointError`).
    static func from(_ error: CheckpointError) -> JournalError {
        if case let .io(path, operation, code) = error { return .io(path: path, operation: operation, code: code) }
        return .io(path: "\(error)", operation: "file operation", code: EIO)
    }
}
