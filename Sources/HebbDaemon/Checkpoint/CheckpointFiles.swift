#if canImport(Glibc)
import HebbCore
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few POSIX calls the checkpoint store needs, with `errno` turned into ``CheckpointError/io(path:operation:code:)``.
///
/// Plain system calls rather than Foundation's `FileManager`/`Data.write`, because durability needs
/// control over exactly when `fsync` runs, on which descriptor, and on the directory.
enum CheckpointFiles {
    static func fail(_ path: String, _ operation: String) -> CheckpointError {
        .io(path: path, operation: operation, code: errno)
    }

    /// Creates `path` and any missing parents with `mode`; fsyncs the parent of each directory it creates,
    /// so the new directory entry survives a power loss along with the checkpoint written into it.
    static func makeDirectories(_ path: String, mode: mode_t) throws(CheckpointError) {
        var st = stat()
        if stat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFDIR else { throw .io(path: path, operation: "mkdir", code: ENOTDIR) }
            return
        }
        let parent = parentDirectory(of: path)
        if parent != path { try makeDirectories(parent, mode: mode) }
        if mkdir(path, mode) != 0 {
            if errno == EEXIST { return }  // created concurrently
            throw fail(path, "mkdir")
        }
        try syncDirectory(parent)
    }

    static func parentDirectory(of path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    /// fsync on a directory makes its entries (a rename, a new file) durable: fsync on the file alone
    /// persists the file's data, not the name pointing at it (ext4, XFS; POSIX leaves it unspecified).
    static func syncDirectory(_ path: String) throws(CheckpointError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw fail(path, "open directory") }
        defer { close(fd) }
        if fsync(fd) != 0 {
            // Some file systems do not support fsync on directories; there is nothing more to do there.
            if errno == EINVAL || errno == ENOTSUP { return }
            throw fail(path, "fsync directory")
        }
    }

    /// Creates `path` exclusively, writes all of `bytes`, fsyncs and closes it.
    static func writeFile(_ path: String, _ bytes: [UInt8], mode: mode_t) throws(CheckpointError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw fail(path, "open") }
        var closed = false
        defer { if !closed { close(fd) } }
        try writeAll(fd, bytes, path: path)
        // Without this the rename below could reach the disk before the data: after a crash the final
        // name would point at an empty or partial file (the classic ext4 zero-length-file problem).
        try sync(fd, path: path)
        closed = true
        // close can report a deferred write error (e.g. NFS); it must not be ignored.
        if close(fd) != 0 && errno != EINTR { throw fail(path, "close") }
    }

    /// Writes all of `bytes` to `fd` at its offset: short writes continue, EINTR is retried, and a write of 0 bytes
    /// is an error (EIO) rather than a loop that never ends. The one write loop of the checkpoint and journal files.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(CheckpointError) {
        var written = 0
        let error: CheckpointError? = bytes.withUnsafeBytes { raw in
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    return fail(path, "write")
                }
                if n == 0 { return .io(path: path, operation: "write", code: EIO) }
                written += n
            }
            return nil
        }
        if let error { throw error }
    }

    /// `fsync` (or `fdatasync` with `dataOnly`: the data and the size, not the times) of `fd`, EINTR retried.
    static func sync(_ fd: Int32, path: String, dataOnly: Bool = false) throws(CheckpointError) {
        while (dataOnly ? fdatasync(fd) : fsync(fd)) != 0 {
            if errno == EINTR { continue }
            throw fail(path, dataOnly ? "fdatasync" : "fsync")
        }
    }

    /// The whole content of `path` (``FileReading/bytes(_:)``), its failure as a checkpoint I/O error.
    static func readFile(_ path: String) throws(CheckpointError) -> [UInt8] {
        do { return try FileReading.bytes(path) } catch { throw .io(path: error.path, operation: error.operation, code: error.code) }
    }

    /// The names in a directory, without `.` and `..`. `nil` when the directory does not exist.
    static func list(_ path: String) throws(CheckpointError) -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT { return nil }
            throw fail(path, "opendir")
        }
        defer { closedir(dir) }
        var names = [String]()
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { throw fail(path, "readdir") }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func renameFile(_ from: String, _ to: String) throws(CheckpointError) {
        if rename(from, to) != 0 { throw fail(from, "rename to \(to)") }
    }

    static func removeFile(_ path: String) throws(CheckpointError) {
        if unlink(path) != 0 { throw fail(path, "unlink") }
    }
}
