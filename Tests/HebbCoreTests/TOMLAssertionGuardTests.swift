import Foundation
import Testing

@testable import HebbCore

// The inputs on which toml++ 3.4.0 aborts the process (SIGABRT, an assertion) instead of throwing, found by the
// config_loader fuzz target (Fuzz/README.md, findings 1–2, 5, 8 and 10), and text holding U+0000 (finding 9), are refused by TOMLAssertionGuard first, as syntax errors
// with a line and a column; nothing valid is refused.
@Suite("TOML inputs that crash toml++ are refused before it sees them")
struct TOMLAssertionGuardTests {
    static let crashing: [(text: String, line: Int, column: Int)] = [
        ("[\n", 1, 2),                                        // Fuzz/Regressions/config_loader/toml-unclosed-table-header
        ("[", 1, 2),
        ("[daemon]\nlog_level = \"info\"\n[\n", 3, 2),
        ("[[ \n", 1, 4),
        ("  [.model]\n", 1, 4),
        ("[=]\n", 1, 2),
        ("[      \rb\0", 1, 8),                             // found by the fuzzer after the first fix: CR is no blank
        ("[a]\r\n[ \r\n", 2, 3),
        ("\u{FEFF}[\n", 1, 2),                                // Fuzz/Regressions/config_loader/toml-bom-unclosed-table-header
        ("\u{FEFF}  [[\n", 1, 5),
        ("s=1979-05-27T:", 1, 14),                            // Fuzz/Regressions/config_loader/toml-date-time-colon
        ("s = 1979-05-27Tx:00\n", 1, 16),
        ("s = 1979-05-27tY07:32:00Z\n", 1, 16),
        ("[t]\na = [1, 1979-05-27T.:]\n", 2, 20),
        ("a = { b = 1979-05-27T- }\n", 1, 22),
        ("s=[}", 1, 4),                                       // Fuzz/Regressions/config_loader/toml-array-closing-brace
        ("s=[[[[[[[[[[[}\0\0\0[[", 1, 14),                  // the CI run's input, shortened
        ("s = [1, }\n", 1, 9),
        ("s = [\n  # a comment\n  }\n", 3, 3),
        ("t = { a = [ } }\n", 1, 13),
        ("s = [\u{2028}]\n", 1, 6),                           // a Unicode line break where a value must start
        ("s = [1,\u{2029}]\n", 1, 8),
        ("s = [\u{85}]\n", 1, 6),
        (#""\b\\\\\U0000000000000db"=2"#, 1, 8),               // Fuzz/Regressions/config_loader/tomlkit-key-with-nul-escape
        (#""a\u0000b" = 1"# + "\n", 1, 3),                     // U+0000 in a key crashed TOMLKit's table iterator
        (#"name = "x\U00000000""# + "\n", 1, 10),             // ... and was cut short in a value
        ("[\"t\\u0000\"]\n", 1, 4),
        ("a = 1\nb = 2\0 junk\n", 2, 6),                        // toml++ would read only up to the NUL byte
        ("s=1979-05-rh 9\nstate_dir = \"\"\n", 1, 14),          // Fuzz/Regressions/config_loader/toml-date-space-one-digit
        ("d = 1979-05-27 9\n", 1, 16),
        ("d = [1979-05-27 9]\n", 1, 17),
        ("d = 0000-00-00 0#\n", 1, 16),
        ("d = 1979_-05-27 9,\n", 1, 17),
    ]

    @Test("each crashing shape is a syntax error at its place", arguments: 0..<crashing.count)
    func refused(_ index: Int) throws {
        let (text, line, column) = Self.crashing[index]
        let problem = try #require(TOMLAssertionGuard.problem(in: text), "not refused: \(text.debugDescription)")
        #expect(problem.line == line && problem.column == column, "\(text.debugDescription): \(problem)")
        #expect(throws: ConfigError.self) { try DaemonConfiguration.parse(toml: text, file: "bad.toml") }
        do {
            _ = try DaemonConfiguration.parse(toml: text, file: "bad.toml")
        } catch {
            guard case let .syntax(file, _, l, c) = error else { Issue.record("not a syntax error: \(error)"); return }
            #expect(file == "bad.toml" && l == line && c == column)
        }
    }

    static let valid: [String] = [
        "[daemon]\n[endpoints]\n[[model]]\n[ model.prior ]\n[\"quoted key\"]\n['literal']\n[a.\"b c\".d]\n[_x]\n[-y]\n[1]\n",
        "a = [\n  [\n    1, 2\n  ],\n  [3]\n]\n[t]\n",
        "s = \"\"\"\n[\n\"\"\"\n[t]\n",
        "s = '''\n[\n'''\nu = \"\"\"a\"\"\"\"\"\nv = '''b'''''\n",
        "s = \"a [\\\" [\"\n# [\n  # [\n",
        "1979-05-27T = 1\nt = { 1979-05-27t = 2, k = 1979-05-27T07:32:00Z }\n",
        "d = 1979-05-27\ndt = 1979-05-27T07:32:00\nlo = 1979-05-27t07:32:00.5+01:00\nsp = 1979-05-27 07:32:00\n",
        "a = [1979-05-27T07:32:00Z, 1979-05-27]\nv = \"1979-05-27T:\"\n",
        "\u{FEFF}[daemon]\nlog_level = \"info\"\n",
        #""a\\u0000" = 'C:\u0000'"# + "\n# \\u0000 in a comment\n",
        "d = 1979-05-27 07:32:00\ne = 1979-05-27 # a comment\nf = [1979-05-27 ]\ng = 1979-05-27 12:00:00Z\n",
        "a = [ # c }\n  1, # d\n  2,\n]\nt = { a = [1], b = [], c = [[]] }\nq = [\"}\", '}', \"\u{2028}\"]\n",
    ]

    @Test("valid TOML (nested arrays over lines, brackets and braces in strings and comments, empty arrays, keys that look like dates, every date-time form) is not refused",
          arguments: 0..<valid.count)
    func accepted(_ index: Int) {
        let text = Self.valid[index]
        #expect(TOMLAssertionGuard.problem(in: text) == nil, "refused: \(text.debugDescription)")
    }

    @Test("the repository's configs pass the guard")
    func repositoryConfigs() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let files = ["Configs/hebbd.toml", "Configs/multi-model.toml", "Configs/shard-a.toml", "Configs/shard-b.toml",
                     "Examples/data/sparse20.toml"]
        for file in files {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            #expect(TOMLAssertionGuard.problem(in: text) == nil, "\(file) refused")
        }
    }
}
