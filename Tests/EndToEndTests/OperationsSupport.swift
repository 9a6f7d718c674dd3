import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Helpers of the operations end-to-end tests (OperationsTests.swift): a daemon with operational settings
// (checkpoint cadence, keep, publish format, metrics, an environment for NOTIFY_SOCKET, extra `run` flags),
// control requests through `hebbd control` (a Swift binary: ~20 ms a request, cheap enough to poll with),
// checkpoint inspection, and a few file and clock utilities. Built on Harness.swift's Spawned, Ports,
// TemporaryDirectory and run(); names start with `Ops`/`ops` to stay apart from the harness.

/// CLOCK_MONOTONIC in microseconds: the clock of notify_receiver.py's `monotonic_usec` and of `MONOTONIC_USEC=`.
func opsMonotonicMicroseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
}

/// Whether a plain TCP connect to 127.0.0.1:`port` succeeds now (the port is bound and listening).
func opsTCPConnects(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

/// The port of `tcp://127.0.0.1:P` or `127.0.0.1:P`.
func opsPort(_ endpoint: String) -> UInt16 { UInt16(endpoint.split(separator: ":").last!)! }

func opsJSON(_ text: String) -> [String: Any]? {
    guard let data = text.trimmingCharacters(in: .whitespacesAndNewlines).data(using: .utf8) else { return nil }
    return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
}

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

/// Runs a script of Tests/EndToEndTests/Scripts and parses the last JSON line of its stdout.
func opsPython(_ script: String, _ arguments: [String], directory: URL, timeout: Double = 30) async throws -> (ProcessResult, [String: Any]?) {
    let r = try await runPython(Paths.script(script), arguments, directory: directory, timeout: timeout)
    return (r, lastJSONObject(r.stdout))
}

/// `hebbd checkpoint inspect FILE --json`: the parsed object, or the failed process.
func opsInspect(_ path: String, directory: URL) async throws -> Result<[String: Any], HarnessError> {
    let r = try await run("inspect", try Executables.hebbdPath(), ["checkpoint", "inspect", path, "--json"], directory: directory, timeout: 20)
    if r.succeeded, let object = opsJSON(r.stdout) { return .success(object) }
    return .failure(HarnessError("hebbd checkpoint inspect \(path): \(r)"))
}

/// A hebbd daemon for the operations tests: its own config (free loopback ports, chosen once, so the
/// config can be rewritten for a reload or a restart), its own state directory, any number of runs.
final class OpsDaemon: @unchecked Sendable {
    struct Settings {
        var checkpointInterval = "0s"
        var checkpointEvery = 0
        var checkpointKeep = 5
        var publishFormat = "json"
        var metrics = true
        var logLevel = "info"
        /// Extra lines for the [daemon] table (e.g. an unknown key).
        var daemonExtra = ""
    }

    let directory: URL
    let configPath: String
    let stateDirectory: String
    let ingest: String
    let publish: String
    let control: String
    let metrics: String
    var settings: Settings
    private(set) var process: Spawned?
    /// Every run's process, oldest first (their logs stay readable).
    private(set) var runs: [Spawned] = []
    /// CLOCK_MONOTONIC (µs) just before the current run's process was started.
    private(set) var startedAtMicroseconds: UInt64 = 0

    init(directory: URL, models: String, settings: Settings = Settings()) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.settings = settings
        ingest = "tcp://127.0.0.1:\(try Ports.free())"
        publish = "tcp://127.0.0.1:\(try Ports.free())"
        control = "tcp://127.0.0.1:\(try Ports.free())"
        metrics = "127.0.0.1:\(try Ports.free())"
        stateDirectory = directory.appendingPathComponent("state").path
        configPath = directory.appendingPathComponent("hebbd.toml").path
        try writeConfig(models: models)
    }

    /// Rewrites the config file with these models (and the current settings); the ports stay.
    func writeConfig(models: String) throws {
        let s = settings
        let text = """
            # Written by the operations end-to-end tests (Tests/EndToEndTests/OperationsSupport.swift).
            [daemon]
            state_dir = "\(directory.appendingPathComponent("state-from-config").path)"
            checkpoint_interval = "\(s.checkpointInterval)"
            checkpoint_every = \(s.checkpointEvery)
            checkpoint_keep = \(s.checkpointKeep)
            log_level = "\(s.logLevel)"
            \(s.daemonExtra)

            [endpoints]
            ingest = "\(ingest)"
            publish = "\(publish)"
            control = "\(control)"
            subscribe = []
            metrics = "\(s.metrics ? metrics : "")"

            [publish]
            format = "\(s.publishFormat)"
            window = 100
            heartbeat = "5s"
            hwm = 10000

            [limits]
            max_message_bytes = 67108864
            max_rows_per_message = 1000000

            [security]
            curve = false

            \(models)
            """
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func modelDirectory(_ model: String) -> String { stateDirectory + "/" + model }

    /// Starts `hebbd run` (without waiting). `environment` is added to this process's environment.
    @discardableResult
    func launch(arguments extra: [String] = [], environment: [String: String] = [:]) throws -> Spawned {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "NOTIFY_SOCKET")
        env.removeValue(forKey: "WATCHDOG_USEC")
        env.removeValue(forKey: "WATCHDOG_PID")
        env.removeValue(forKey: "STATE_DIRECTORY")
        for (k, v) in environment { env[k] = v }
        startedAtMicroseconds = opsMonotonicMicroseconds()
        let p = try Spawned("hebbd-run-\(runs.count + 1)", try Executables.hebbdPath(),
                            ["run", "--config", configPath, "--state-dir", stateDirectory] + extra,
                            directory: directory, mergeOutput: true, environment: env)
        process = p
        runs.append(p)
        return p
    }

    /// Starts `hebbd run` and waits (bounded) until it answers `status`; returns the seconds that took.
    @discardableResult
    func start(arguments: [String] = [], environment: [String: String] = [:], timeout: Double = 15) async throws -> Double {
        let began = Date()
        let p = try launch(arguments: arguments, environment: environment)
        if try await waitReady(timeout: timeout) { return Date().timeIntervalSince(began) }
        let stopped = p.stop(grace: 2)
        throw HarnessError("hebbd did not answer status within \(timeout) s\n--- daemon log ---\n\(stopped.stdout.suffix(6000))")
    }

    /// Polls `status` until a reply comes, the process ends or `timeout` passes.
    func waitReady(timeout: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process?.isRunning == true else { return false }
            if (try? await request(#"{"cmd":"status"}"#, timeout: 0.5)) != nil { return true }
        }
        return false
    }

    /// One control request through `hebbd control`; the parsed reply (`ok` true or false), or throws
    /// when no reply came within `timeout`.
    func request(_ json: String, timeout: Double = 10) async throws -> [String: Any] {
        let r = try await run("control", try Executables.hebbdPath(),
                              ["control", json, "--endpoint", control, "--timeout", String(timeout)],
                              directory: directory, timeout: timeout + 10)
        guard let reply = opsJSON(r.stdout) else { throw HarnessError("control \(json): \(r)") }
        return reply
    }

    /// `status`, which must succeed.
    func status() async throws -> [String: Any] {
        let reply = try await request(#"{"cmd":"status"}"#)
        guard reply["ok"] as? Bool == true else { throw HarnessError("status: \(reply)") }
        return reply
    }

    /// `status.models[model]`.
    func modelStatus(_ model: String) async throws -> [String: Any] {
        guard let m = (try await status()["models"] as? [String: Any])?[model] as? [String: Any] else {
            throw HarnessError("status has no model \(model)")
        }
        return m
    }

    /// The `checkpoint` command: the reply's `written` map (model → path); throws unless ok.
    func checkpoint(timeout: Double = 30) async throws -> [String: String] {
        let reply = try await request(#"{"cmd":"checkpoint"}"#, timeout: timeout)
        guard reply["ok"] as? Bool == true, let written = reply["written"] as? [String: String] else {
            throw HarnessError("checkpoint: \(reply)")
        }
        return written
    }

    /// Sends `signal` to the current run.
    func signal(_ signal: Int32) {
        if let p = process, p.isRunning { kill(p.pid, signal) }
    }

    /// SIGKILL, and waits until the process is gone.
    func kill9() {
        guard let p = process else { return }
        if p.isRunning { kill(p.pid, SIGKILL) }
        _ = p.waitForExitBlocking(timeout: 10)
    }

    /// SIGTERM, then SIGKILL after `grace` s. Blocking; usable in `defer`.
    @discardableResult
    func stop(grace: Double = 10) -> ProcessResult? { process?.stop(grace: grace) }

    /// The current run's combined stdout/stderr.
    var log: String { process?.stdout ?? "" }
    /// Every run's log, oldest first.
    var allLogs: String { runs.enumerated().map { "--- run \($0.offset + 1) ---\n\($0.element.stdout)" }.joined(separator: "\n") }

    /// Arguments of `ops_stream.py feed` for this daemon.
    func feedArguments(model: String, dictDim: Int, sysDim: Int, seed: Int, total: Int, from: Int, to: Int,
                       expectStep: Int, expectBuffered: Int, chunk: Int = 10, extra: [String] = []) -> [String] {
        ["feed", "--ingest", ingest, "--publish", publish, "--control", control, "--model", model,
         "--dict-dim", String(dictDim), "--sys-dim", String(sysDim), "--seed", String(seed), "--total", String(total),
         "--from", String(from), "--to", String(to), "--expect-step", String(expectStep),
         "--expect-buffered", String(expectBuffered), "--chunk", String(chunk)] + extra
    }

    /// Feeds rows `from..<to` of the deterministic stream and waits for the expected step; the summary.
    @discardableResult
    func feed(model: String, dictDim: Int, sysDim: Int, seed: Int = 1, total: Int, from: Int, to: Int,
              expectStep: Int, expectBuffered: Int, chunk: Int = 10, extra: [String] = []) async throws -> [String: Any] {
        let (r, summary) = try await opsPython("ops_stream.py", feedArguments(
            model: model, dictDim: dictDim, sysDim: sysDim, seed: seed, total: total, from: from, to: to,
            expectStep: expectStep, expectBuffered: expectBuffered, chunk: chunk, extra: extra), directory: directory, timeout: 40)
        guard r.succeeded, let summary, summary["ok"] as? Bool == true else {
            throw HarnessError("ops_stream.py feed \(model) rows \(from)..<\(to): \(r)\n--- daemon log ---\n\(log.suffix(4000))")
        }
        return summary
    }

    deinit {
        for p in runs where p.isRunning { p.stop(grace: 2) }
    }
}

/// Runs `body` with a temporary directory that is removed afterwards (kept when HEBBD_E2E_KEEP is set);
/// every OpsDaemon made in it must be stopped by the body's `defer`s.
func withOpsDirectory<T>(_ label: String, _ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let temp = try TemporaryDirectory("ops-\(label)")
    defer { if ProcessInfo.processInfo.environment["HEBBD_E2E_KEEP"] == nil { temp.remove() } }
    return try await body(temp)
}

/// Reads notify_receiver.py's JSON lines.
struct OpsNotifyMessage {
    var monotonicMicroseconds: UInt64
    var data: String
    var fields: [String: String]
}

func opsNotifyMessages(_ receiver: Spawned) -> [OpsNotifyMessage] {
    receiver.stdout.split(separator: "\n").compactMap { line in
        guard let o = opsJSON(String(line)), o["event"] as? String == "message",
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
    static func elasticNetWithPrior(name: String = "en", dictDim: Int = 8, lr: Double = 0.02) -> String {
        """
        [[model]]
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
