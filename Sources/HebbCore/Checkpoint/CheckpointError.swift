#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Everything that can go wrong writing, reading or verifying a checkpoint.
///
/// Every case carries the file (or model) it is about and what exactly was wrong, so the caller can
/// log one self-explanatory line without extra context. Reading failures that mean "this file is damaged"
/// (``isCorruption``) make ``CheckpointStore/loadLatest(model:)`` quarantine the file and fall back to the
/// previous one; any other reading failure stops the load with the file untouched.
package enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed. `operation` names it (`open`, `fsync`, `rename`, …); `code` is `errno`.
    case io(path: String, operation: String, code: Int32)
    /// The file ends before the length its own fields announce (or is too short for the fixed prefix).
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    /// The file is longer than its header and payload lengths announce.
    case trailingBytes(path: String, expectedBytes: Int, actualBytes: Int)
    /// The first 8 bytes are not `HEBBCKPT`: not a hebbd checkpoint at all.
    case badMagic(path: String, found: [UInt8])
    /// A format version this build does not read. Versions are never guessed at or read "best effort".
    case unsupportedVersion(path: String, version: UInt32, supported: UInt32)
    /// The CRC32 stored at the end of the file (`expected`) differs from the one computed over its bytes (`actual`).
    case crcMismatch(path: String, expected: UInt32, actual: UInt32)
    /// The JSON header cannot be parsed or has impossible values.
    case malformedHeader(path: String, reason: String)
    /// The header's array index lacks an array the state needs.
    case missingArray(path: String, name: String)
    /// An array has a different number of elements than the state's shape requires.
    case arrayCountMismatch(path: String, name: String, expected: Int, actual: Int)
    /// An array has an unexpected element type.
    case arrayTypeMismatch(path: String, name: String, expected: String, actual: String)
    /// An array's byte range lies (partly) outside the payload.
    case arrayOutOfBounds(path: String, name: String, offset: Int, bytes: Int, payloadBytes: Int)
    /// The decoded state is rejected by the learning core (`HebbianCircuit(restoring:)`).
    case invalidState(path: String, reason: String)
    /// The file belongs to another model than the directory it was found in.
    case modelMismatch(path: String, expected: String, found: String)
    /// A model name that cannot be used as a directory name (empty, `.`/`..`, contains `/` or NUL, starts with `.`).
    case invalidModelName(String)
    /// A snapshot that is inconsistent with itself (e.g. `pendingX` is not pendingRows × dictDim) and is not written.
    case invalidSnapshot(model: String, reason: String)
    /// The snapshot cannot be encoded so that it reads back identical; nothing was written.
    case encodingFailed(model: String, reason: String)
    /// The ``CheckpointWriter`` was stopped before this snapshot was written.
    case writerStopped(model: String)

    /// True when the error means the file's content is damaged: not a valid checkpoint of this model. Such files
    /// are quarantined as `*.broken` by `loadLatest`. False for a file this build cannot read for another reason —
    /// a newer format version (``unsupportedVersion(path:version:supported:)``, written by a newer hebbd: valid,
    /// just not ours to read) or a failing system call (EIO, EACCES, EMFILE, a directory in its place): those hold
    /// learned state and are left untouched (see ``ResumeRefusal/unreadable(model:error:)``).
    package var isCorruption: Bool {
        switch self {
        case .truncated, .trailingBytes, .badMagic, .crcMismatch, .malformedHeader,
             .missingArray, .arrayCountMismatch, .arrayTypeMismatch, .arrayOutOfBounds, .invalidState, .modelMismatch:
            return true
        case .io, .unsupportedVersion, .invalidModelName, .invalidSnapshot, .encodingFailed, .writerStopped:
            return false
        }
    }

    package var description: String {
        switch self {
        case let .io(path, operation, code):
            return "\(path): \(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .truncated(path, expected, actual):
            return "\(path): truncated checkpoint: \(actual) bytes, expected \(expected)"
        case let .trailingBytes(path, expected, actual):
            return "\(path): checkpoint has trailing bytes: \(actual) bytes, expected \(expected)"
        case let .badMagic(path, found):
            let hex = found.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            return "\(path): not a hebbd checkpoint (magic \(hex.joined(separator: " ")), expected \"HEBBCKPT\")"
        case let .unsupportedVersion(path, version, supported):
            return "\(path): unsupported checkpoint format version \(version) (this build reads version \(supported))"
        case let .crcMismatch(path, expected, actual):
            return "\(path): CRC32 mismatch: stored \(checkpointHex32(expected)), computed \(checkpointHex32(actual)) (file is corrupt)"
        case let .malformedHeader(path, reason):
            return "\(path): malformed checkpoint header: \(reason)"
        case let .missingArray(path, name):
            return "\(path): checkpoint lacks array \"\(name)\""
        case let .arrayCountMismatch(path, name, expected, actual):
            return "\(path): array \"\(name)\" has \(actual) values, expected \(expected)"
        case let .arrayTypeMismatch(path, name, expected, actual):
            return "\(path): array \"\(name)\" has dtype \(actual), expected \(expected)"
        case let .arrayOutOfBounds(path, name, offset, bytes, payloadBytes):
            return "\(path): array \"\(name)\" (offset \(offset), \(bytes) bytes) lies outside the \(payloadBytes)-byte payload"
        case let .invalidState(path, reason):
            return "\(path): checkpoint state rejected: \(reason)"
        case let .modelMismatch(path, expected, found):
            return "\(path): checkpoint of model \"\(found)\" found where model \"\(expected)\" was expected"
        case let .invalidModelName(name):
            return "invalid model name \"\(name)\" for a checkpoint directory: expected a non-empty name without '/', NUL or a leading '.'"
        case let .invalidSnapshot(model, reason):
            return "model \(model): snapshot not written: \(reason)"
        case let .encodingFailed(model, reason):
            return "model \(model): checkpoint encoding failed: \(reason)"
        case let .writerStopped(model):
            return "model \(model): checkpoint writer stopped before the snapshot was written"
        }
    }
}

func checkpointHex32(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
