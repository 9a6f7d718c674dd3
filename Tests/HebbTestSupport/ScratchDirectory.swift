import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `body` with a fresh directory `<system temp>/<prefix>-XXXXXX` (made with `mkdtemp`, so parallel tests never
/// share one) and removes it, whatever `body` does. The one helper for the unit tests' scratch directories.
package func withScratchDirectory<T>(_ prefix: String, _ body: (String) throws -> T) throws -> T {
    var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
    let path = try template.withUnsafeMutableBufferPointer { buffer -> String in
        guard let made = mkdtemp(buffer.baseAddress!) else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return String(cString: made)
    }
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}
