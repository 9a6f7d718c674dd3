import Foundation

// Helpers of the operations end-to-end tests (OperationsTests.swift), on top of Harness.swift's `Daemon`:
// their settings, feeding a deterministic stream, checkpoint inspection, sd_notify messages, model tables,
// log metadata, and a few file and number utilities. The `ops` prefix marks what only these tests use.

/// `value` as an Int (JSON numbers come back as NSNumber).
func opsInt(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
func opsDouble(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
func opsInts(_ value: Any?) -> [Int]? { (value as? [Any])?.compactMap { opsInt($0) } }

/// Names in a directory (empty when it does not exist).
func opsList(_ path: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

func opsFileSize(_ path: String) -> Int? { (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int }

/// The `updates` part of a checkpoint name `ckpt-<generation>-<updates>-<samples>.hebb`.
func opsCheckpointUpdates(_ name: String) -> Int? {
    let base = URL(fileURLWithPath: name).lastPathComponent
    guard base.hasPrefix("ckpt-"), base.hasSuffix(".hebb") else { return nil }
    let parts = base.dropFirst(5).dropLast(5).split(separator: "-")
    return parts.count == 3 ? Int(parts[1]) : nil
}

/// Checkpoint names (`ckpt-….hebb`) in a model directory, oldest first (lexical order = write order).
func opsCheckpoints(_ modelDirectory: String) -> [String] {
    opsList(modelDirectory).filter { $0.hasPrefix("ckpt-") && $0.hasSuffix(".hebb") }
}

/// Milliseconds with one decimal, for the printed figures.
func opsMilliseconds(_ seconds: Double) -> String { String(format: "%.1f ms", seconds * 1000) }

/// A sorted-keys JSON rendering (for exact comparisons of parsed objects).
func opsCanonical(_ value: Any?) -> String {
    guard let value, JSONSerialization.isValidJSONObject(value),
          let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]) else { return "\(value ?? "nil")" }
    return String(decoding: data, as: UTF8.self)
}

/// `hebbd checkpoint inspect FILE --json`: the parsed object, or the failed process.
func opsInspect(_ path: String, directory: URL) async throws -> Result<[String: Any], HarnessError> {
    let r = try await run("inspect", try Executables.hebbdPath(), ["checkpoint", "inspect", path, "--json"], directory: directory, timeout: 20)
    if r.succeeded, let object = lastJSONObject(r.stdout) { return .success(object) }
    return .failure(HarnessError("hebbd checkpoint inspect \(path): \(r)"))
}

/// Runs a script of Tests/EndToEndTests/Scripts and parses the last JSON line of its stdout.
func opsPython(_ script: String, _ arguments: [String], directory: URL, timeout: Double = 30) async throws -> (ProcessResult, [String: Any]?) {
    let r = try await runPython(Paths.script(script), arguments, directory: directory, timeout: timeout)
    return (r, lastJSONObject(r.stdout))
}

extension Daemon.Settings {
    /// The operations tests' starting point: no timed checkpoints (`checkpoint_interval = "0s"`), so every
    /// checkpoint file a test finds was asked for — the `checkpoint` command, a stop, a reload that removes a
    /// model — and the files in a model directory can be counted and named exactly.
    static func operations(metrics: Bool) -> Self {
        var settings = Self()
        settings.checkpointInterval = "0s"
        settings.metrics = metrics
        return settings
    }
}

extension Daemon {
    /// Feeds rows `from..<to` of ops_stream.py's deterministic stream (seed, `total` rows in all) in messages
    /// of `chunk` rows, and waits until `status` shows step `expectStep` with `expectBuffered` rows buffered and
    /// the coefficient message of that step arrived; ops_stream.py's summary (seqs received, the resent
    /// initial message, the last one). `extra`: further `feed` flags (malformed messages).
    @discardableResult
    func feed(model: String, dictDim: Int, sysDim: Int, seed: Int = 1, total: Int, from: Int, to: Int,
              expectStep: Int, expectBuffered: Int, chunk: Int = 10, extra: [String] = []) async throws -> [String: Any] {
        let arguments = ["feed", "--ingest", ingest, "--publish", publish, "--control", control, "--model", model,
                         "--dict-dim", String(dictDim), "--sys-dim", String(sysDim), "--seed", String(seed), "--total", String(total),
                         "--from", String(from), "--to", String(to), "--expect-step", String(expectStep),
                         "--expect-buffered", String(expectBuffered), "--chunk", String(chunk)] + extra
        let (r, summary) = try await opsPython("ops_stream.py", arguments, directory: directory, timeout: 40)
        guard r.succeeded, let summary, summary["ok"] as? Bool == true else {
            throw HarnessError("ops_stream.py feed \(model) rows \(from)..<\(to): \(r)\n--- daemon log ---\n\(log.suffix(4000))")
        }
        return summary
    }
}

/// One sd_notify datagram as notify_receiver.py printed it: when it arrived (CLOCK_MONOTONIC µs), its text,
/// and its `KEY=value` fields.
struct OpsNotifyMessage {
    var monotonicMicroseconds: UInt64
    var data: String
    var fields: [String: String]
}

/// Every datagram notify_receiver.py has printed so far, in arrival order.
func opsNotifyMessages(_ receiver: Spawned) -> [OpsNotifyMessage] {
    receiver.stdout.split(separator: "\n").compactMap { line in
        guard let o = lastJSONObject(String(line)), o["event"] as? String == "message",
              let t = (o["monotonic_usec"] as? NSNumber)?.uint64Value else { return nil }
        return OpsNotifyMessage(monotonicMicroseconds: t, data: o["data"] as? String ?? "",
                                fields: o["fields"] as? [String: String] ?? [:])
    }
}

/// Waits (bounded) until a notify message after index `after` satisfies `predicate`; its index.
func opsWaitNotify(_ receiver: Spawned, after: Int = -1, timeout: Double,
                   _ predicate: (OpsNotifyMessage) -> Bool) async -> Int? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let messages = opsNotifyMessages(receiver)
        if let i = messages.indices.first(where: { $0 > after && predicate(messages[$0]) }) { return i }
        if Date() >= deadline { return nil }
        try? await Task.sleep(for: .milliseconds(5))
    }
}

/// Model tables used by the operations tests.
enum OpsModels {
    /// elastic net, Adam, 8×2, batch 16, Gaussian prior with fitted hyper-parameters.
    static func elasticNetWithPrior(name: String = "en", dictDim: Int = 8, lr: Double = 0.02, extra: String = "") -> String {
        """
        [[model]]
        \(extra)
        name = "\(name)"
        kind = "elastic_net"
        dict_dim = \(dictDim)
        sys_dim = 2
        batch_size = 16
        epochs = 1
        optim = "adam"
        lr = \(lr)
        lmbda = 0.001
        l1_ratio = 0.5
        threshold = 0.001
        weight_fill = 0.05
        seed = 7

        [model.prior]
        kind = "gaussian"
        mean = 0.0
        std = 1.0
        weight = 0.01
        fit_hyper = true

        """
    }

    static func simple(name: String, kind: String = "lasso", dictDim: Int, sysDim: Int = 1, batchSize: Int = 16,
                       optim: String = "adam", lr: Double = 0.01) -> String {
        """
        [[model]]
        name = "\(name)"
        kind = "\(kind)"
        dict_dim = \(dictDim)
        sys_dim = \(sysDim)
        batch_size = \(batchSize)
        optim = "\(optim)"
        lr = \(lr)
        lmbda = 0.0001
        threshold = 0.001
        weight_fill = 0.05

        """
    }
}

/// The `key=value` metadata of the daemon's log lines whose message contains `message`
/// (swift-log's StreamLogHandler: `<time> <level> hebbd: k1=v1 k2=v2 [HebbDaemon] <message>`).
func opsLogEntries(_ log: String, _ message: String) -> [[String: String]] {
    log.split(separator: "\n").filter { $0.contains(message) }.map { line in
        var fields: [String: String] = [:]
        for token in line.split(separator: " ") {
            guard let eq = token.firstIndex(of: "="), eq != token.startIndex else { continue }
            fields[String(token[..<eq])] = String(token[token.index(after: eq)...])
        }
        return fields
    }
}
