import Foundation

/// A systemd unit file as (section, key, value) assignments, in file order; comments and blank lines dropped.
/// The units' tests (SystemdTests, ShardingTests) compare and read them through this one parser.
package func systemdUnitAssignments(path: String) throws -> [(section: String, key: String, value: String)] {
    var section = ""
    var out: [(String, String, String)] = []
    for raw in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
        let line = raw.trimmingCharacters(in: .whitespaces)
        if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
        if line.hasPrefix("[") { section = String(line.dropFirst().dropLast()); continue }
        guard let eq = line.firstIndex(of: "=") else { continue }
        out.append((section, String(line[..<eq]), String(line[line.index(after: eq)...])))
    }
    return out
}
