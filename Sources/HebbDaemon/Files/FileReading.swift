import Foundation
import HebbCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Reading files is I/O: the parsers live in HebbCore and take text or bytes; these wrappers read the file.

extension DaemonConfiguration {
    /// Reads and parses a config file; `path` is used as the file name in error messages.
    package static func load(path: String) throws(ConfigError) -> DaemonConfiguration {
        try parse(toml: try readText(path: path), file: path)
    }

    /// Reads a whole file as UTF-8, with the operating system's reason when that fails.
    package static func readText(path: String) throws(ConfigError) -> String {
        guard let handle = fopen(path, "rb") else {
            throw .unreadable(file: path, reason: String(cString: strerror(errno)))
        }
        defer { fclose(handle) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, handle)
            bytes += buffer[0..<n]
            if n < buffer.count {
                if ferror(handle) != 0 { throw .unreadable(file: path, reason: String(cString: strerror(errno))) }
                break
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw .unreadable(file: path, reason: "not valid UTF-8")
        }
        return text
    }
}

extension SampleTable {
    /// Reads a CSV file (see ``SampleTable/parseCSV(_:file:dictDim:sysDim:)``).
    package static func readCSV(path: String, dictDim: Int, sysDim: Int) throws(ReadError) -> SampleTable {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
        return try parseCSV(text, file: path, dictDim: dictDim, sysDim: sysDim)
    }

    /// Reads a NumPy `.npy` file (see ``SampleTable/parseNPY(_:path:dictDim:sysDim:)``).
    package static func readNPY(path: String, dictDim: Int, sysDim: Int) throws(ReadError) -> SampleTable {
        let data: [UInt8]
        do { data = Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            throw .unreadable(file: path, reason: error.localizedDescription)
        }
        return try parseNPY(data, path: path, dictDim: dictDim, sysDim: sysDim)
    }
}
