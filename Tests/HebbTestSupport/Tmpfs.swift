import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small tmpfs mounted for a test: a real file system that fills up (ENOSPC) at a size the test chooses. Needs root
/// with CAP_SYS_ADMIN; tests that use it are enabled only if ``canMount``.
package enum Tmpfs {
    /// Whether this process may mount (and unmount) a tmpfs: root, and a container that allows it. Probed once.
    package static let canMount: Bool = {
        guard getuid() == 0 else { return false }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-mount-probe-\(getpid())").path
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir]) else { return false }
        return run("/bin/umount", [dir])
    }()

    /// Runs `body` with a tmpfs of `size` (mount syntax: "256k", "1m") mounted on a fresh scratch directory, and
    /// unmounts it afterwards, whatever `body` does.
    package static func withMounted<T>(size: String, _ body: (String) throws -> T) throws -> T {
        try withScratchDirectory("hebbd-tmpfs") { dir in
            guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", dir]) else {
                throw POSIXError(.EPERM)
            }
            defer { _ = run("/bin/umount", ["-l", dir]) }
            return try body(dir)
        }
    }

    private static func run(_ program: String, _ arguments: [String]) -> Bool {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }
}
