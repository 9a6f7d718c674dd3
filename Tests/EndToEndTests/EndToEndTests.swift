import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The six reference runs of the ngclearn fixture.
let referenceRuns = ["lasso_adam", "lasso_sgd", "ridge_adam", "ridge_sgd", "elastic_net_adam", "elastic_net_sgd"]

/// End-to-end: the real `hebbd` binary, real sockets on loopback, real Python (pyzmq) clients.
/// Serialized so that the timing checks (late joiner within 1 s, SIGTERM within 5 s) do not compete
/// with each other for the two cores.
@Suite("hebbd end to end", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: Executables.pythonReady, "needs python3 with pyzmq and numpy (python3 -m pip install pyzmq numpy)"))
struct EndToEndTests {
    // MARK: The streamed ngclearn scenario

    @Test("six reference runs in one daemon: every published loss and coefficient matrix of an irregular, mixed-format, partly malformed stream matches ngclearn")
    func sys1StreamSixModels() async throws {
        let models = try referenceRuns.map { try referenceModelTable(name: $0, run: $0) }.joined(separator: "\n")
        try await withDaemon("sys1", models: models) { daemon, _ in
            let r = try await runPython(Paths.script("stream_sys1.py"),
                                        ["--ingest", daemon.ingest, "--publish", daemon.publish, "--control", daemon.control,
                                         "--fixture", Paths.fixture.path, "--timeout", "45", "--late-within", "1.0"],
                                        directory: daemon.directory, timeout: 75)
            try #require(r.succeeded, "stream_sys1.py \(r)")
            let summary = try #require(lastJSONObject(r.stdout), "no JSON summary: \(r)")
            #expect(summary["ok"] as? Bool == true)
            let perModel = try #require(summary["models"] as? [String: [String: Any]])
            for run in referenceRuns {
                let m = try #require(perModel[run], "no summary for \(run)")
                #expect(m["last_seq"] as? Int == 12, "\(run)")
                #expect((m["max_loss_rel_err"] as? Double ?? 1) <= 1e-4, "\(run)")
                #expect((m["max_coef_err"] as? Double ?? 1) <= 1e-4, "\(run)")
                #expect((m["max_coef_err_vs_fixture"] as? Double ?? 1) <= 1e-4, "\(run)")
            }
            let late = try #require(summary["late_joiner"] as? [String: [String: Any]])
            for run in referenceRuns {
                #expect(late[run]?["seq"] as? Int == 12, "late joiner \(run)")
                #expect((late[run]?["seconds"] as? Double ?? 9) <= 1.0, "late joiner \(run)")
            }
            let expected = try #require(summary["rejected_expected"] as? [String: Int])
            // Every rejection reason of the protocol was exercised.
            #expect(Set(expected.keys) == ["frame_count", "unknown_model", "bad_json", "bad_header", "dimensions", "non_finite",
                                           "byte_size", "too_large"])

            // `status` through the daemon's own CLI shows the rejected counts by reason.
            let hebbd = try Executables.hebbdPath()
            let status = try await run("hebbd-control", hebbd, ["control", "status", "--endpoint", daemon.control, "--timeout", "10"],
                                       directory: daemon.directory, timeout: 20)
            try #require(status.succeeded, "hebbd control status \(status)")
            let reply = try #require(lastJSONObject(status.stdout), "status reply: \(status.stdout)")
            #expect(reply["ok"] as? Bool == true)
            #expect(reply["rejected"] as? [String: Int] == expected, "status: \(status.stdout)")
            let messages = try #require(summary["messages"] as? [String: Any])
            #expect(reply["samples"] as? Int == messages["rows"] as? Int)
            #expect(reply["updates"] as? Int == 6 * 12)
            let statusModels = try #require(reply["models"] as? [String: [String: Any]])
            let perModelExpected = summary["rejected_expected_per_model"] as? [String: [String: Int]] ?? [:]
            for run in referenceRuns {
                #expect(statusModels[run]?["rejected"] as? [String: Int] == perModelExpected[run] ?? [:], "status.models.\(run).rejected")
                #expect(statusModels[run]?["step"] as? Int == 12)
            }
        }
    }

    @Test("a late joiner gets each model's latest message within 1 s (binary publish format; updated and initial states)")
    func lateJoiner() async throws {
        let models = try referenceModelTable(name: "alpha", run: "lasso_sgd") + "\n" + referenceModelTable(name: "beta", run: "ridge_adam")
        try await withDaemon("late", models: models, settings: .init(publishFormat: "binary")) { daemon, _ in
            // alpha learns the whole scenario (every binary-format message checked against ngclearn) …
            let stream = try await streamScenario(to: daemon, model: "alpha=lasso_sgd")
            try #require(stream.succeeded, "stream_sys1.py \(stream)")
            // … beta none: a fresh subscriber gets alpha at seq 12 and beta's initial state (seq 0, loss null).
            let late = try await runPython(Paths.script("late_joiner.py"),
                                           ["--publish", daemon.publish, "--control", daemon.control, "--within", "1.0",
                                            "--expect", "alpha=12", "--expect", "beta=0"],
                                           directory: daemon.directory, timeout: 20)
            try #require(late.succeeded, "late_joiner.py \(late)")
            let summary = try #require(lastJSONObject(late.stdout))
            let models = try #require(summary["models"] as? [String: [String: Any]])
            #expect(models["alpha"]?["frames"] as? Int == 3, "binary format: topic, JSON, float32 frame")
            #expect((models["alpha"]?["seconds"] as? Double ?? 9) <= 1.0)
            #expect((models["beta"]?["seconds"] as? Double ?? 9) <= 1.0)
        }
    }

    @Test("control socket: snapshot, predict, checkpoint, reset (replays ngclearn exactly), set, add/remove at run time, bad requests; hb/ when idle")
    func controlSocket() async throws {
        let model = try referenceModelTable(name: "ctl", run: "lasso_adam")
        try await withDaemon("control", models: model, settings: .init(heartbeat: "500ms")) { daemon, _ in
            let r = try await runPython(Paths.script("control_scenario.py"),
                                        ["--ingest", daemon.ingest, "--publish", daemon.publish, "--control", daemon.control,
                                         "--fixture", Paths.fixture.path, "--model", "ctl", "--run", "lasso_adam", "--heartbeat", "0.5"],
                                        directory: daemon.directory, timeout: 60)
            try #require(r.succeeded, "control_scenario.py \(r)")
            let summary = try #require(lastJSONObject(r.stdout))
            #expect(summary["ok"] as? Bool == true)
        }
    }

    // MARK: Lifecycle

    @Test("SIGTERM: exit 0 within 5 s, the log says it stopped, the final checkpoint resumes in a new daemon")
    func sigtermAndResume() async throws {
        try await withTemporaryDirectory("sigterm") { temp in
            let state = temp.file("state").path
            let model = try referenceModelTable(name: "lasso_sgd", run: "lasso_sgd")
            let first = try Daemon(directory: temp.file("first"), models: model, stateDirectory: state)
            defer { first.stop() }
            try await first.start()
            let stream = try await streamScenario(to: first, model: "lasso_sgd")
            try #require(stream.succeeded, "stream_sys1.py \(stream)\n--- daemon log ---\n\(first.log)")

            let process = try #require(first.process)
            let sent = Date()
            first.signal(SIGTERM)
            let exited = await process.waitForExit(timeout: 5)
            let seconds = Date().timeIntervalSince(sent)
            let result = process.result()
            try #require(exited, "hebbd still running 5 s after SIGTERM\n--- log ---\n\(first.log.suffix(4000))")
            #expect(result.exited && result.status == 0, "exit after SIGTERM: \(result)")
            #expect(seconds < 5)
            #expect(first.log.contains("hebbd stopped"), "log:\n\(first.log.suffix(4000))")
            // The final checkpoint went to --state-dir (which wins over state_dir in the file).
            let files = FileManager.default.subpaths(atPath: state) ?? []
            #expect(files.contains { $0.hasPrefix("lasso_sgd/") && $0.hasSuffix(".hebb") }, "state dir holds \(files)")
            #expect(!FileManager.default.fileExists(atPath: first.directory.appendingPathComponent("state-from-config").path))

            // A new daemon on the same state dir resumes at step 12 / seq 12 and serves it to a late joiner.
            let second = try Daemon(directory: temp.file("second"), models: model, stateDirectory: state)
            defer { second.stop() }
            try await second.start()
            let status = try await second.request(#"{"cmd":"status"}"#)
            let m = (status["models"] as? [String: [String: Any]])?["lasso_sgd"]
            #expect(m?["step"] as? Int == 12, "status after restart: \(status)")
            #expect(m?["seq"] as? Int == 12, "status after restart: \(status)")
            let late = try await runPython(Paths.script("late_joiner.py"),
                                           ["--publish", second.publish, "--control", second.control, "--within", "1.0", "--expect", "lasso_sgd=12"],
                                           directory: second.directory, timeout: 20)
            #expect(late.succeeded, "late joiner after restart: \(late)\n--- log ---\n\(second.log.suffix(4000))")
            // A clean stop within 8 s (SIGKILL after that would make it `timedOut`).
            let final = try #require(second.stop(grace: 8))
            #expect(final.exited && final.status == 0 && !final.timedOut, "second daemon: \(final)")
        }
    }

    // MARK: hebbd fit

    @Test("hebbd fit --json on the sys1 CSV reproduces ngclearn's mini-batch run (lasso_sgd, batch 50, 3 passes)")
    func fitMatchesNgclearn() async throws {
        let temp = try TemporaryDirectory("fit")
        defer { temp.remove() }
        let csv = temp.file("sys1.csv")
        try Fixture.shared.csv().write(to: csv, atomically: true, encoding: .utf8)
        let config = try Daemon(directory: temp.url, models: referenceModelTable(name: "lasso_sgd", run: "lasso_sgd")).configPath
        let r = try await run("hebbd-fit", Executables.hebbdPath(),
                              ["fit", "--config", config, "--model", "lasso_sgd", "--data", csv.path, "--passes", "3", "--json"],
                              directory: temp.url, timeout: 60)
        try #require(r.succeeded, "hebbd fit \(r)")
        let out = try #require(lastJSONObject(r.stdout), "stdout is not JSON: \(r.stdout)")
        let reference = try Fixture.shared.minibatchRun("lasso_sgd")
        let wFinal = flatNumbers(reference["W_final"])
        let losses = flatNumbers(reference["loss_per_step"]).map { -$0 }
        let threshold = try Fixture.shared.hyperparameters["threshold"] as! Double
        #expect(out["model"] as? String == "lasso_sgd")
        #expect(out["steps"] as? Int == 12)
        let weights = flatNumbers(out["weights"])
        #expect(weights.count == 20)
        #expect(maxAbsDiff(weights, wFinal) <= 1e-4, "weights \(weights) vs \(wFinal)")
        #expect(maxAbsDiff(flatNumbers(out["coefficients"]), thresholded(wFinal, threshold)) <= 1e-4)
        let loss = flatNumbers(out["loss"])
        try #require(loss.count == 12, "loss has \(loss.count) entries")
        for (k, (got, want)) in zip(loss, losses).enumerated() {
            #expect(abs(got - want) <= 1e-4 * abs(want), "loss of step \(k + 1): \(got) vs ngclearn \(want)")
        }
    }

    enum BadCSV: String, CaseIterable, CustomTestStringConvertible {
        case wrongColumnCount, nonNumeric, notANumber
        var testDescription: String { rawValue }

        /// Line 7 (data row 6; line 1 is the header) broken in this way.
        func apply(_ lines: inout [String]) {
            var cells = lines[6].split(separator: ",").map(String.init)
            switch self {
            case .wrongColumnCount: cells.removeLast()
            case .nonNumeric: cells[3] = "abc"
            case .notANumber: cells[5] = "nan"
            }
            lines[6] = cells.joined(separator: ",")
        }
    }

    @Test("hebbd fit rejects a bad CSV: exit non-zero, the file and line in stderr, nothing on stdout", arguments: BadCSV.allCases)
    func fitRejectsBadCSV(_ bad: BadCSV) async throws {
        let temp = try TemporaryDirectory("fit-bad")
        defer { temp.remove() }
        var lines = try Fixture.shared.csv().split(separator: "\n").map(String.init)
        bad.apply(&lines)
        let csv = temp.file("bad.csv")
        try (lines.joined(separator: "\n") + "\n").write(to: csv, atomically: true, encoding: .utf8)
        let config = try Daemon(directory: temp.url, models: referenceModelTable(name: "lasso_sgd", run: "lasso_sgd")).configPath
        let r = try await run("hebbd-fit", Executables.hebbdPath(),
                              ["fit", "--config", config, "--model", "lasso_sgd", "--data", csv.path, "--json"],
                              directory: temp.url, timeout: 60)
        #expect(!r.timedOut)
        #expect(r.exited && r.status != 0, "\(r)")
        #expect(r.stdout.isEmpty, "stdout: \(r.stdout)")
        #expect(r.stderr.contains("\(csv.path):7:"), "stderr lacks \(csv.path):7: — \(r.stderr)")
    }

    // MARK: The Python examples

    @Test("Examples/python: subscriber.py sees every update of producer.py's stream once (a late joiner's resend dropped) and the demo's proximal lasso publishes exactly the true support",
          arguments: ["json", "binary"])
    func pythonExamples(publishFormat: String) async throws {
        try await withDaemon("examples-\(publishFormat)", models: demoModelTable, settings: .init(publishFormat: publishFormat)) { daemon, _ in
            let half = 150, updates = 300
            let subscriberScript = Paths.examples.appendingPathComponent("subscriber.py").path
            let producerScript = Paths.examples.appendingPathComponent("producer.py").path
            let producerArguments = ["--endpoint", daemon.ingest, "--model", "demo", "--dict-dim", "20", "--sys-dim", "1",
                                     "--rows-per-message", "50", "--rate", "0", "--messages", "\(half)", "--seed", "7"]
            let subscriber = try spawnPython(subscriberScript,
                                             ["--endpoint", daemon.publish, "--model", "demo", "--count", "\(updates + 1)",
                                              "--timeout", "30", "--top", "0"],
                                             directory: daemon.directory)
            defer { subscriber.stop() }
            // Subscribed once the last-value resend of the initial state (seq 0) is printed.
            let subscribed = await subscriber.waitForOutput(timeout: 15) { $0.contains("demo  seq 0 ") }
            try #require(subscribed, "subscriber.py got no initial state: \(subscriber.result())")
            let first = try await runPython(producerScript, producerArguments, directory: daemon.directory, timeout: 60)
            try #require(first.succeeded, "producer.py \(first)")
            let halfway = await subscriber.waitForOutput(timeout: 20) { $0.contains("demo  seq \(half) ") }
            try #require(halfway, "subscriber.py did not reach seq \(half): \(subscriber.result())")

            // A late joiner gets seq 150 at once; the same resend reaches the first subscriber, which drops it.
            let late = try await runPython(subscriberScript, ["--endpoint", daemon.publish, "--model", "demo", "--count", "1", "--timeout", "10"],
                                           directory: daemon.directory, timeout: 20)
            try #require(late.succeeded, "late subscriber.py \(late)")
            #expect(late.stdout.split(separator: "\n").filter { $0.hasPrefix("demo  seq ") }.map { $0.split(separator: " ")[2] } == ["\(half)"],
                    "late joiner: \(late.stdout)")

            // The same seeded system again: another 150 updates.
            let producer = try await runPython(producerScript, producerArguments, directory: daemon.directory, timeout: 60)
            try #require(producer.succeeded, "producer.py \(producer)")
            let finished = await subscriber.waitForExit(timeout: 30)
            let sub = subscriber.result()
            try #require(finished && sub.succeeded, "subscriber.py \(sub)")

            // The producer's truth: "… support rows [a, b, c]:" then "  w[r,c] = v" lines.
            let truth = parseCoefficients(producer.stdout)
            let supportLine = try #require(producer.stdout.split(separator: "\n").first { $0.contains("support rows [") })
            let support = supportLine.split(separator: "[").last!.split(separator: "]").first!
                .split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            #expect(support.count == 3 && Set(truth.keys.map(\.row)) == Set(support), "producer: \(producer.stdout)")

            // One line per update, seq 0…300, each exactly once.
            let lines = sub.stdout.split(separator: "\n").filter { $0.hasPrefix("demo  seq ") }
            #expect(lines.count == updates + 1, "subscriber printed \(lines.count) update lines")
            let seqs = lines.compactMap { Int($0.split(separator: " ").dropFirst(2).first ?? "") }
            #expect(seqs == Array(0...updates))
            // The final block: every nonzero coefficient of the latest message.
            let finalBlock = try #require(sub.stdout.range(of: "received \(updates + 1) messages"), "no final block: \(sub.stdout.suffix(2000))")
            let estimate = parseCoefficients(String(sub.stdout[finalBlock.upperBound...]))
            let largest = estimate.sorted { abs($0.value) > abs($1.value) }.prefix(support.count).map(\.key.row)
            #expect(Set(largest) == Set(support), "largest coefficients \(estimate) vs support \(support)")
            for (key, value) in truth {
                #expect(abs((estimate[key] ?? 0) - value) < 0.05, "w[\(key.row),\(key.column)] = \(estimate[key] ?? 0), true \(value)")
            }
            let offSupport = estimate.filter { !support.contains($0.key.row) }.map { abs($0.value) }.max() ?? 0
            #expect(offSupport < 0.05, "off-support coefficients up to \(offSupport)")
            // Configs/hebbd.toml's demo model is proximal: exactly the true support is published, nothing else.
            #expect(Set(estimate.keys.map(\.row)) == Set(support),
                    "published nonzero rows \(estimate.keys.map(\.row).sorted()) vs true support \(support) (Configs/hebbd.toml's demo model)")
        }
    }

    // MARK: hebbd feed + hebbd watch

    @Test("hebbd feed (CSV) into a running daemon, hebbd watch --json --count 13: every update, final coefficients match ngclearn")
    func feedAndWatch() async throws {
        let model = try referenceModelTable(name: "lasso_sgd", run: "lasso_sgd")
        try await withDaemon("feed", models: model) { daemon, temp in
            let hebbd = try Executables.hebbdPath()
            let csv = temp.file("sys1.csv")
            try Fixture.shared.csv().write(to: csv, atomically: true, encoding: .utf8)
            let watch = try Spawned("hebbd-watch", hebbd,
                                    ["watch", "--endpoint", daemon.publish, "--model", "lasso_sgd", "--json", "--count", "13", "--timeout", "20"],
                                    directory: daemon.directory)
            defer { watch.stop() }
            // The initial state's resend (seq 0) shows the subscription is active.
            let subscribed = await watch.waitForOutput(timeout: 15) { $0.contains("\"seq\":0") }
            try #require(subscribed, "hebbd watch printed nothing: \(watch.result())")
            let feed = try await run("hebbd-feed", hebbd,
                                     ["feed", "--model", "lasso_sgd", "--data", csv.path, "--endpoint", daemon.ingest,
                                      "--config", daemon.configPath, "--batch-rows", "30", "--passes", "3"],
                                     directory: daemon.directory, timeout: 30)
            try #require(feed.succeeded, "hebbd feed \(feed)")
            #expect(feed.stdout.contains("600 rows"), "feed: \(feed.stdout)")
            let finished = await watch.waitForExit(timeout: 20)
            let result = watch.result()
            try #require(finished && result.succeeded, "hebbd watch \(result)")

            let messages = result.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            try #require(messages.count == 13, "watch printed \(messages.count) JSON lines: \(result.stdout.suffix(2000))")
            #expect(messages.map { $0["seq"] as? Int } == Array(0...12).map { Optional($0) })
            let reference = try Fixture.shared.minibatchRun("lasso_sgd")
            let losses = flatNumbers(reference["loss_per_step"]).map { -$0 }
            for (k, message) in messages.dropFirst().enumerated() {
                let loss = message["loss"] as? Double ?? .nan
                #expect(abs(loss - losses[k]) <= 1e-4 * abs(losses[k]), "loss of update \(k + 1): \(loss) vs \(losses[k])")
            }
            let threshold = try Fixture.shared.hyperparameters["threshold"] as! Double
            let final = flatNumbers(messages.last?["coefficients"])
            #expect(maxAbsDiff(final, thresholded(flatNumbers(reference["W_final"]), threshold)) <= 1e-4, "final \(final)")
        }
    }
}

/// stream_sys1.py's scenario for one model (`NAME` or `NAME=RUN`), valid messages only and no late-joiner
/// check: it checks every update against ngclearn and leaves the model at step 12 / seq 12.
func streamScenario(to daemon: Daemon, model: String) async throws -> ProcessResult {
    try await runPython(Paths.script("stream_sys1.py"),
                        ["--ingest", daemon.ingest, "--publish", daemon.publish, "--control", daemon.control,
                         "--fixture", Paths.fixture.path, "--model", model, "--no-malformed", "--late-within", "0", "--timeout", "30"],
                        directory: daemon.directory, timeout: 45)
}

struct CoefficientIndex: Hashable {
    var row: Int
    var column: Int
}

/// `  w[r,c] = v` lines → values.
func parseCoefficients(_ text: String) -> [CoefficientIndex: Double] {
    var out: [CoefficientIndex: Double] = [:]
    for line in text.split(separator: "\n") {
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("w["), let close = t.firstIndex(of: "]"), let eq = t.range(of: " = ") else { continue }
        let indices = t[t.index(t.startIndex, offsetBy: 2)..<close].split(separator: ",").compactMap { Int($0) }
        guard indices.count == 2, let value = Double(t[eq.upperBound...].trimmingCharacters(in: .whitespaces)) else { continue }
        out[CoefficientIndex(row: indices[0], column: indices[1])] = value
    }
    return out
}
