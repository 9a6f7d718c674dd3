import Foundation
import Testing

@testable import HebbCore
@testable import HebbDaemon

/// Reading a config file is the I/O target's job (`DaemonConfiguration.load(path:)`); parsing is tested in HebbCoreTests.
@Suite struct ConfigFileTests {
    private func model(name: String, _ extra: String = "") -> String {
        "[[model]]\nname = \"\(name)\"\nkind = \"lasso\"\ndict_dim = 4\n\(extra)\n"
    }

    private func expectMessage(_ error: ConfigError, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
        for fragment in fragments {
            #expect(error.description.contains(fragment), "\(fragment) not in: \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func loadReadsARealFileAndNamesItInErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good.toml")
        try Data((model(name: "filemodel") + "lr = 0.5").utf8).write(to: good)
        let config = try DaemonConfiguration.load(path: good.path)
        #expect(config.models.map(\.name) == ["filemodel"])
        #expect(config.models[0].circuit.learningRate == 0.5)

        let bad = dir.appendingPathComponent("bad.toml")
        try Data(model(name: "filemodel", "lr = -1").utf8).write(to: bad)
        #expect(throws: ConfigError.self) { try DaemonConfiguration.load(path: bad.path) }
        do {
            _ = try DaemonConfiguration.load(path: bad.path)
        } catch {
            #expect(error.description.hasPrefix(bad.path + ": [[model]] \"filemodel\": key \"lr\": expected"))
        }

        do {
            _ = try DaemonConfiguration.load(path: dir.appendingPathComponent("missing.toml").path)
            Issue.record("missing file loaded")
        } catch {
            #expect(error == .unreadable(file: dir.appendingPathComponent("missing.toml").path, reason: "No such file or directory"))
            expectMessage(error, "missing.toml", "cannot read config", "No such file or directory")
        }
        do {
            _ = try DaemonConfiguration.load(path: dir.path)
            Issue.record("directory loaded")
        } catch {
            expectMessage(error, dir.path, "cannot read config", "directory")
        }
    }

}
