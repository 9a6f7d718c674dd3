import Foundation
import Testing

@testable import HebbCore
@testable import HebbDaemon

/// The daemon's one whole-file reader (`FileReading`) and the readers built on it: config files, sample tables,
/// CURVE key files and checkpoints read real files through it and report the system's reason the same way.
@Suite struct FileReadingTests {
    private static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-read-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every byte comes back, beyond one read chunk (1 MiB) too; a missing file, a directory and an unreadable
    /// file fail with the call and errno that say why.
    @Test func readsWholeFilesAndNamesTheFailure() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let big = dir.appendingPathComponent("big.bin")
        let content = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try Data(content).write(to: big)
        #expect(try FileReading.bytes(big.path) == content)

        let missing = dir.appendingPathComponent("missing").path
        #expect(throws: FileReadError(path: missing, operation: "open", code: ENOENT)) { try FileReading.bytes(missing) }
        #expect(throws: FileReadError(path: dir.path, operation: "open", code: EISDIR)) { try FileReading.bytes(dir.path) }
        #expect(FileReadError(path: missing, operation: "open", code: ENOENT).description == "\(missing): open: No such file or directory")
    }

    /// Text must be UTF-8: the config reader and the CSV reader refuse other bytes with the same reason.
    @Test func textReadersRefuseInvalidUTF8() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let latin1 = dir.appendingPathComponent("latin1.csv")
        try Data([0x61, 0x2C, 0x62, 0x0A, 0x31, 0x2C, 0xE9, 0x0A]).write(to: latin1)
        #expect(try FileReading.text(latin1.path) == nil)
        #expect(throws: ConfigError.unreadable(file: latin1.path, reason: "not valid UTF-8")) { try DaemonConfiguration.readText(path: latin1.path) }
        #expect(throws: SampleTable.ReadError.unreadable(file: latin1.path, reason: "not valid UTF-8")) {
            try SampleTable.readCSV(path: latin1.path, dictDim: 1, sysDim: 1)
        }
        let csv = dir.appendingPathComponent("ok.csv")
        try Data("x, y\n 1.5 ,2\n\n3,4\r\n".utf8).write(to: csv)
        let table = try SampleTable.readCSV(path: csv.path, dictDim: 1, sysDim: 1)
        #expect(table.header == ["x", "y"] && table.x == [1.5, 3] && table.y == [2, 4])
        #expect(throws: SampleTable.ReadError.unreadable(file: dir.path, reason: "Is a directory")) {
            try SampleTable.readNPY(path: dir.path, dictDim: 1, sysDim: 1)
        }
    }
}
