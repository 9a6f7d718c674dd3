import HebbCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reading files is I/O: the parsers live in HebbCore and take text or bytes; these wrappers read the file.

/// Why a whole file could not be read: the system call that failed and its `errno`.
package struct FileReadError: Error, Equatable, CustomStringConvertible {
    /// The file.
    package var path: String
    /// The failing call: `open`, `fstat`, `read`.
    package var operation: String
    /// Its `errno` (`EISDIR` when the path is not a regular file).
    package var code: Int32

    /// The operating system's text for ``code``, e.g. "No such file or directory".
    package var reason: String { String(cString: strerror(code)) }

    package var description: String { "\(path): \(operation): \(reason)" }
}

/// The one whole-file reader of the daemon: config files, sample tables, CURVE key files and checkpoints all
/// go through ``bytes(_:)``.
package enum FileReading {
    /// The whole content of the regular file at `path`. Plain `open`/`fstat`/`read` (no Foundation), sized by
    /// `fstat` so a checkpoint's megabytes arrive in one allocation; `read` is retried on `EINTR`.
    package static func bytes(_ path: String) throws(FileReadError) -> [UInt8] {
        func failure(_ operation: String, _ code: Int32 = errno) -> FileReadError {
            FileReadError(path: path, operation: operation, code: code)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("open") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("fstat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw failure("open", EISDIR) }
        var bytes = [UInt8]()
        bytes.reserveCapacity(max(Int(st.st_size), 0))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("read")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return bytes
    }

    /// The whole file as UTF-8 text; nil (with the bytes read fine) when it is not valid UTF-8.
    package static func text(_ path: String) throws(FileReadError) -> String? {
        String(validating: try bytes(path), as: UTF8.self)
    }
}

extension DaemonConfiguration {
    /// Reads and parses a config file; `path` is used as the file name in error messages.
    package static func load(path: String) throws(ConfigError) -> DaemonConfiguration {
        try parse(toml: try readText(path: path), file: path)
    }

    /// Reads a whole file as UTF-8, with the operating system's reason when that fails.
    package static func readText(path: String) throws(ConfigError) -> String {
        let text: String?
        do { text = try FileReading.text(path) } catch { throw .unreadable(file: path, reason: error.reason) }
        guard let text else { throw .unreadable(file: path, reason: "not valid UTF-8") }
        return text
    }
}

extension SampleTable {
    /// Reads a CSV file (see ``SampleTable/parseCSV(_:file:dictDim:sysDim:)``).
    package static func readCSV(path: String, dictDim: Int, sysDim: Int) throws(ReadError) -> SampleTable {
        let text: String?
        do { text = try FileReading.text(path) } catch { throw .unreadable(file: path, reason: error.reason) }
        guard let text else { throw .unreadable(file: path, reason: "not valid UTF-8") }
        return try parseCSV(text, file: path, dictDim: dictDim, sysDim: sysDim)
    }

    /// Reads a NumPy `.npy` file (see ``SampleTable/parseNPY(_:path:dictDim:sysDim:)``).
    package static func readNPY(path: String, dictDim: Int, sysDim: Int) throws(ReadError) -> SampleTable {
        let data: [UInt8]
        do { data = try FileReading.bytes(path) } catch { throw .unreadable(file: path, reason: error.reason) }
        return try parseNPY(data, path: path, dictDim: dictDim, sysDim: sysDim)
    }
}
