import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The end-to-end harness of both suites (EndToEndTests.swift, OperationsTests.swift): finds the built
// `hebbd`, writes configs with free loopback ports and a temporary state directory, starts the real daemon
// and real Python clients as processes, and stops every process it started — SIGTERM, then SIGKILL after a
// timeout — on every path. Every wait is bounded. Output of each process goes to a file (never a pipe that
// could fill up and block it).

enum Paths {
    /// The package root, derived from this file's path (Tests/EndToEndTests/Harness.swift).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let scripts = packageRoot.appendingPathComponent("Tests/EndToEndTests/Scripts")
    /// The one copy of the ngclearn reference vectors, shared with HebbianRegressionTests (Tests/Fixtures).
    static let fixture = packageRoot.appendingPathComponent("Tests/Fixtures/ngclearn_sys1.json")
    static let configs = packageRoot.appendingPathComponent("Configs")
    static let examples = packageRoot.appendingPathComponent("Examples/python")

    static func script(_ name: String) -> String { scripts.appendingPathComponent(name).path }

    /// The Python support library (`hebbd`, `hebbd.testing`, …: clients/python) the scripts import. Every Python
    /// process started here gets it first on `PYTHONPATH`, so a script runs against this tree's client package
    /// rather than whichever copy `scripts/setup.sh --test` installed last. This harness's own Swift counterparts
    /// (`Ports`, `Daemon`, `Spawned`) serve the Swift tests; the Python side starts daemons through
    /// `hebbd.testing` (clients/python/hebbd/testing.py).
    static let pythonLibrary = packageRoot.appendingPathComponent("clients/python")

    /// `environment` with `pythonLibrary` put first on `PYTHONPATH`.
    static func withPythonLibrary(_ environment: [String: String]) -> [String: String] {
        var env = environment
        env["PYTHONPATH"] = [pythonLibrary.path, env["PYTHONPATH"]].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":")
        return env
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Executables

enum Executables {
    /// The `hebbd` binary under test, looked up once:
    /// 1. `$HEBBD_BINARY` when set;
    /// 2. `hebbd` next to the running test bundle (`swift test` builds every product of the package into
    ///    the same directory, so this is the binary of the same build and scratch path);
    /// 3. the newest of `<package>/.build*/{debug,release}/hebbd`;
    /// 4. otherwise `swift build --product hebbd` is run once in the package (default scratch path; up to
    ///    10 minutes) and step 3 is repeated. That build can wait on SwiftPM's lock of `.build` when the
    ///    tests themselves run from it — it only happens when the test bundle was built without the product.
    static let hebbd: Result<String, HarnessError> = {
        let fm = FileManager.default
        if let path = ProcessInfo.processInfo.environment["HEBBD_BINARY"], !path.isEmpty {
            return fm.isExecutableFile(atPath: path) ? .success(path) : .failure(HarnessError("HEBBD_BINARY=\(path) is not an executable file"))
        }
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        let sibling = bundleDirectory.appendingPathComponent("hebbd").path
        if fm.isExecutableFile(atPath: sibling) { return .success(sibling) }
        if let found = newestBuiltBinary() { return .success(found) }
        let build = Process()
        build.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        build.arguments = ["swift", "build", "--product", "hebbd", "--package-path", Paths.packageRoot.path]
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-e2e-build-\(getpid()).log")
        _ = fm.createFile(atPath: log.path, contents: nil)
        if let handle = try? FileHandle(forWritingTo: log) {
            build.standardOutput = handle
            build.standardError = handle
        }
        do { try build.run() } catch { return .failure(HarnessError("no hebbd binary found and `swift build` could not start: \(error)")) }
        let deadline = Date().addingTimeInterval(600)
        while build.isRunning && Date() < deadline { usleep(100_000) }
        if build.isRunning {
            kill(build.processIdentifier, SIGKILL)
            return .failure(HarnessError("`swift build --product hebbd` did not finish within 10 minutes (log: \(log.path))"))
        }
        if let found = newestBuiltBinary() { return .success(found) }
        return .failure(HarnessError("`swift build --product hebbd` exited \(build.terminationStatus) without a binary (log: \(log.path))"))
    }()

    static func newestBuiltBinary() -> String? {
        let fm = FileManager.default
        let root = Paths.packageRoot
        var best: (path: String, date: Date)?
        for entry in (try? fm.contentsOfDirectory(atPath: root.path)) ?? [] where entry.hasPrefix(".build") {
            for configuration in ["debug", "release"] {
                let path = root.appendingPathComponent(entry).appendingPathComponent(configuration).appendingPathComponent("hebbd").path
                guard fm.isExecutableFile(atPath: path),
                      let date = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { continue }
                if best == nil || date > best!.date { best = (path, date) }
            }
        }
        return best?.path
    }

    static func hebbdPath() throws -> String { try hebbd.get() }

    /// `$HEBBD_PYTHON`, or the first `python3` on `$PATH`.
    static let python: String? = {
        let env = ProcessInfo.processInfo.environment
        if let p = env["HEBBD_PYTHON"], !p.isEmpty { return p }
        for dir in (env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(dir)/python3"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// Whether python3 can import zmq, numpy and the support library hebbd.testing (checked once).
    static let pythonReady: Bool = {
        guard let python else { return false }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = ["-c", "import zmq, numpy, hebbd.testing"]
        p.environment = Paths.withPythonLibrary(ProcessInfo.processInfo.environment)
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        let deadline = Date().addingTimeInterval(30)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        if p.isRunning { kill(p.processIdentifier, SIGKILL); return false }
        return p.terminationStatus == 0
    }()
}

// MARK: - Ports and temporary directories

enum Ports {
    private static let handedOut = Mutex<Set<UInt16>>([])

    /// A TCP port on 127.0.0.1 that is free now: bind port 0, read the port, close. Never hands out the
    /// same port twice in this process.
    static func free() throws -> UInt16 {
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket(): errno \(errno)") }
            defer { close(fd) }
            var address = sockaddr_in.loopback(port: 0)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw HarnessError("bind(127.0.0.1:0): errno \(errno)") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let named = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw HarnessError("getsockname(): errno \(errno)") }
            let port = UInt16(bigEndian: address.sin_port)
            let fresh = handedOut.withLock { $0.insert(port).inserted }
            if fresh { return port }
        }
        throw HarnessError("no fresh loopback port after 50 attempts")
    }

    /// The port of an endpoint `tcp://127.0.0.1:P` or `127.0.0.1:P`.
    static func port(of endpoint: String) -> UInt16 { UInt16(endpoint.split(separator: ":").last!)! }

    /// Whether a plain TCP connect to the endpoint's loopback port succeeds now: the port is bound and listening.
    /// Nothing is sent, so this tells "bound" apart from "answers" (the control request does that).
    static func isListening(_ endpoint: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in.loopback(port: port(of: endpoint))
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

extension sockaddr_in {
    /// The IPv4 address 127.0.0.1:`port` (`port` in host byte order).
    static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let url: URL

    init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-e2e-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> URL { url.appendingPathComponent(name) }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` with a fresh temporary directory and removes it afterwards, on every path. With
/// `HEBBD_E2E_KEEP` set it stays, so that the logs, configs and state of a failed test can be read.
/// Processes started in it must be stopped by the body (a `defer` next to each start).
func withTemporaryDirectory<T>(_ label: String, _ body: (TemporaryDirectory) async throws -> T) async throws -> T {
    let temp = try TemporaryDirectory(label)
    defer { if ProcessInfo.processInfo.environment["HEBBD_E2E_KEEP"] == nil { temp.remove() } }
    return try await body(temp)
}

// MARK: - Processes

/// The outcome of a finished process.
struct ProcessResult: CustomStringConvertible {
    var status: Int32
    /// False when it was killed by a signal (then `status` is the signal number).
    var exited: Bool
    var timedOut: Bool
    var stdout: String
    var stderr: String
    var seconds: Double

    var succeeded: Bool { exited && status == 0 && !timedOut }

    var description: String {
        let how = timedOut ? "timed out after \(String(format: "%.1f", seconds)) s and was killed"
            : exited ? "exited \(status) after \(String(format: "%.2f", seconds)) s" : "killed by signal \(status)"
        return "\(how)\n--- stdout ---\n\(stdout.suffix(4000))\n--- stderr ---\n\(stderr.suffix(4000))"
    }
}

/// A process started by a test. Its stdout and stderr go to files in `directory`.
final class Spawned: @unchecked Sendable {
    let name: String
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL
    let started = Date()

    /// Starts `executable arguments…`; `mergeOutput` sends stderr to the stdout file (daemon logs).
    init(_ name: String, _ executable: String, _ arguments: [String], directory: URL, mergeOutput: Bool = false,
         environment: [String: String]? = nil) throws {
        self.name = name
        let stem = "\(name)-\(UUID().uuidString.prefix(6))"
        stdoutURL = directory.appendingPathComponent("\(stem).out")
        stderrURL = mergeOutput ? stdoutURL : directory.appendingPathComponent("\(stem).err")
        let fm = FileManager.default
        _ = fm.createFile(atPath: stdoutURL.path, contents: nil)
        if !mergeOutput { _ = fm.createFile(atPath: stderrURL.path, contents: nil) }
        let out = try FileHandle(forWritingTo: stdoutURL)
        let err = mergeOutput ? out : try FileHandle(forWritingTo: stderrURL)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        var env = Paths.withPythonLibrary(environment ?? ProcessInfo.processInfo.environment)
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["OPENBLAS_NUM_THREADS"] = "1"
        process.environment = env
        try process.run()
        // The child has its own descriptors now.
        try? out.close()
        if !mergeOutput { try? err.close() }
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var stdout: String { (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "" }
    var stderr: String { stderrURL == stdoutURL ? "" : (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "" }

    /// Waits (bounded) for the process to end by itself; true if it did.
    func waitForExit(timeout: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Blocking variant, for `defer` and deinit paths.
    func waitForExitBlocking(timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() >= deadline { return false }
            usleep(10_000)
        }
        return true
    }

    /// Polls until `predicate(stdout)` holds or the process ends or `timeout` passes.
    func waitForOutput(timeout: Double, _ predicate: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(stdout) { return true }
            if !process.isRunning { return predicate(stdout) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return predicate(stdout)
    }

    /// SIGTERM, then SIGKILL if it is still running after `grace` seconds. Blocking (safe in `defer`).
    @discardableResult
    func stop(grace: Double = 5) -> ProcessResult {
        var killed = false
        if process.isRunning {
            kill(pid, SIGTERM)
            if !waitForExitBlocking(timeout: grace) {
                kill(pid, SIGKILL)
                killed = true
                _ = waitForExitBlocking(timeout: 5)
            }
        }
        return result(timedOut: killed)
    }

    func result(timedOut: Bool = false) -> ProcessResult {
        let running = process.isRunning
        return ProcessResult(status: running ? -1 : process.terminationStatus,
                             exited: !running && process.terminationReason == .exit,
                             timedOut: timedOut || running, stdout: stdout, stderr: stderr,
                             seconds: Date().timeIntervalSince(started))
    }

    deinit {
        if process.isRunning {
            kill(pid, SIGKILL)
            _ = waitForExitBlocking(timeout: 2)
        }
    }
}

/// Runs a process to completion, at most `timeout` seconds (then SIGTERM, SIGKILL).
func run(_ name: String, _ executable: String, _ arguments: [String], directory: URL, timeout: Double) async throws -> ProcessResult {
    let p = try Spawned(name, executable, arguments, directory: directory)
    if await p.waitForExit(timeout: timeout) { return p.result() }
    var r = p.stop(grace: 2)
    r.timedOut = true
    return r
}

/// Runs a Python script of Tests/EndToEndTests/Scripts or Examples/python.
func runPython(_ script: String, _ arguments: [String], directory: URL, timeout: Double) async throws -> ProcessResult {
    guard let python = Executables.python else { throw HarnessError("python3 not found on PATH") }
    return try await run(URL(fileURLWithPath: script).lastPathComponent, python, [script] + arguments, directory: directory, timeout: timeout)
}

func spawnPython(_ script: String, _ arguments: [String], directory: URL) throws -> Spawned {
    guard let python = Executables.python else { throw HarnessError("python3 not found on PATH") }
    return try Spawned(URL(fileURLWithPath: script).lastPathComponent, python, [script] + arguments, directory: directory)
}

/// The last line of `text` that parses as a JSON object.
func lastJSONObject(_ text: String) -> [String: Any]? {
    for line in text.split(separator: "\n").reversed() where line.hasPrefix("{") {
        if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] { return object }
    }
    return nil
}

/// CLOCK_MONOTONIC in microseconds: the clock of sd_notify's `MONOTONIC_USEC=` and of notify_receiver.py's
/// `monotonic_usec`, so that the daemon's notifications can be timed against moments taken here.
func monotonicMicroseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
}

// MARK: - The daemon

/// A `[[model]]` table of one reference run of the ngclearn fixture (`lasso_adam`, …, `elastic_net_sgd`),
/// with its hyper-parameters read from the fixture.
func referenceModelTable(name: String, run: String, batchSize: Int = 50) throws -> String {
    let hp = try Fixture.shared.hyperparameters
    let optim = String(run.split(separator: "_").last!)
    let kind = run.split(separator: "_").dropLast().joined(separator: "_")
    let lr = (hp["lr"] as! [String: Any])[optim] as! Double
    var table = """
        [[model]]
        name = "\(name)"
        kind = "\(kind)"
        dict_dim = 20
        sys_dim = 1
        batch_size = \(batchSize)
        epochs = 1
        optim = "\(optim)"
        lr = \(lr)
        lmbda = \(hp["lmbda"] as! Double)
        threshold = \(hp["threshold"] as! Double)
        weight_fill = \(hp["weight_fill"] as! Double)
        update = "hebbian"

        """
    if kind == "elastic_net" { table += "l1_ratio = \(hp["l1_ratio_elastic_net"] as! Double)\n" }
    return table
}

/// The `[[model]]` tables of a config file of the repository (`Configs/NAME`): its text from the first line that
/// starts a `[[model]]` table to the end, so that a test runs exactly the models the repository ships.
func configModelTables(_ name: String) throws -> String {
    let text = try String(contentsOf: Paths.configs.appendingPathComponent(name), encoding: .utf8)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let first = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix("[[model]]") }) else {
        throw HarnessError("Configs/\(name) has no [[model]] table")
    }
    return lines[first...].joined(separator: "\n") + "\n"
}

/// The demo model of Configs/hebbd.toml, read from the file (empty when it cannot be read, which the daemon then
/// refuses as a config without the model the test streams to).
let demoModelTable = (try? configModelTables("hebbd.toml")) ?? ""

/// A `hebbd run` under test: its own config with loopback ports chosen once (so the config can be rewritten
/// for a SIGHUP reload, and a restart comes back on the same endpoints), its own state directory, and any
/// number of runs one after the other (restarts, kill -9, a refused start). Every process it started is
/// stopped on every path: by `stop()` in the test's `defer`, and by `deinit` as a last resort.
final class Daemon: @unchecked Sendable {
    /// What the config file says besides the endpoints and the models; the defaults are Configs/hebbd.toml's.
    struct Settings {
        var checkpointInterval = "30s"
        var checkpointEvery = 0
        var checkpointKeep = 5
        var publishFormat = "json"
        var heartbeat = "5s"
        /// Whether to serve /metrics (on `Daemon.metrics`); false writes `metrics = ""`.
        var metrics = true
        var logLevel = "info"
        /// Extra lines for the [daemon] table (e.g. an unknown key, which a reload must refuse).
        var daemonExtra = ""
        /// `endpoints.subscribe`: PUB streams the daemon taps with SUB sockets.
        var subscribe: [String] = []
        /// `limits.max_message_bytes` (also the sockets' ZMQ_MAXMSGSIZE) and `limits.max_rows_per_message`.
        var maxMessageBytes = 67_108_864
        var maxRowsPerMessage = 1_000_000
        /// `[journal] enabled` (on by default, as in Configs/hebbd.toml). Off for the tests of checkpoint files
        /// alone: with it on, replay gives back what a lost checkpoint held, and its open segment keeps a
        /// file system from being remounted read-only.
        var journal = true
    }

    let directory: URL
    let configPath: String
    let stateDirectory: String
    let ingest: String
    let publish: String
    let control: String
    /// The metrics listener, `127.0.0.1:P` (reserved even when `settings.metrics` is false).
    let metrics: String
    /// Read by `writeConfig`; change it, then rewrite the config, to reload or restart with other settings.
    var settings: Settings
    /// The current (latest) run.
    private(set) var process: Spawned?
    /// Every run's process, oldest first: `deinit` stops any still running, and their logs stay readable.
    private(set) var runs: [Spawned] = []
    /// CLOCK_MONOTONIC (µs) just before the current run was started: the zero of sd_notify timings.
    private(set) var startedAtMicroseconds: UInt64 = 0

    /// Creates `directory` and writes the config into it (or at `configPath`). `state_dir` in the file points
    /// elsewhere on purpose: `--state-dir` or `$STATE_DIRECTORY` (`stateDirectory`, by default `directory/state`)
    /// must win.
    init(directory: URL, models: String, settings: Settings = Settings(), stateDirectory: String? = nil,
         configPath: String? = nil) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.directory = directory
        self.settings = settings
        ingest = "tcp://127.0.0.1:\(try Ports.free())"
        publish = "tcp://127.0.0.1:\(try Ports.free())"
        control = "tcp://127.0.0.1:\(try Ports.free())"
        metrics = "127.0.0.1:\(try Ports.free())"
        self.stateDirectory = stateDirectory ?? directory.appendingPathComponent("state").path
        self.configPath = configPath ?? directory.appendingPathComponent("hebbd.toml").path
        try writeConfig(models: models)
    }

    /// (Re)writes the config file (the layout of Configs/hebbd.toml) with these models and the current
    /// `settings`; the endpoints stay. A running daemon reads it on SIGHUP, a new run at its start.
    func writeConfig(models: String) throws {
        let s = settings
        let text = """
            # Written by the end-to-end tests (Tests/EndToEndTests/Harness.swift).
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
            subscribe = [\(s.subscribe.map { "\"\($0)\"" }.joined(separator: ", "))]
            metrics = "\(s.metrics ? metrics : "")"

            [publish]
            format = "\(s.publishFormat)"
            window = 100
            heartbeat = "\(s.heartbeat)"
            hwm = 10000

            [limits]
            max_message_bytes = \(s.maxMessageBytes)
            max_rows_per_message = \(s.maxRowsPerMessage)

            [journal]
            enabled = \(s.journal)

            [security]
            curve = false

            \(models)
            """
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The state directory of one model (its checkpoints).
    func modelDirectory(_ model: String) -> String { stateDirectory + "/" + model }

    /// Starts `hebbd run … extra` without waiting for it. `environment` is added to this process's
    /// environment, from which the systemd variables are removed first: a test run under systemd must not
    /// make the daemon talk to the real NOTIFY_SOCKET, and the sd_notify test sets its own. `command` (the
    /// program and its arguments) replaces `hebbd run --config configPath --state-dir stateDirectory`, e.g.
    /// with a unit's `ExecStart=` line.
    @discardableResult
    func launch(arguments extra: [String] = [], environment: [String: String] = [:], command: [String]? = nil) throws -> Spawned {
        var env = ProcessInfo.processInfo.environment
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "STATE_DIRECTORY"] { env.removeValue(forKey: key) }
        env.merge(environment) { _, new in new }
        startedAtMicroseconds = monotonicMicroseconds()
        var argv = command ?? []
        if command == nil { argv = [try Executables.hebbdPath(), "run", "--config", configPath, "--state-dir", stateDirectory] }
        guard let program = argv.first else { throw HarnessError("empty command") }
        let p = try Spawned("hebbd-run-\(runs.count + 1)", program, Array(argv.dropFirst()) + extra,
                            directory: directory, mergeOutput: true, environment: env)
        process = p
        runs.append(p)
        return p
    }

    /// Starts `hebbd run` and waits (bounded) until it answers `status` on the control socket; returns the
    /// seconds that took. A run that exits meanwhile (bad config, port taken) ends the wait at once; the
    /// error then carries the daemon's log (`withDaemon` looks there for "Address already in use").
    @discardableResult
    func start(arguments: [String] = [], environment: [String: String] = [:], command: [String]? = nil,
               timeout: Double = 15) async throws -> Double {
        let began = Date()
        let p = try launch(arguments: arguments, environment: environment, command: command)
        if try await waitReady(timeout: timeout) { return Date().timeIntervalSince(began) }
        let exited = !p.isRunning
        let stopped = p.stop(grace: 2)
        let why = exited ? "hebbd exited during start-up (\(stopped.exited ? "status \(stopped.status)" : "signal \(stopped.status)"))"
            : "hebbd did not answer status within \(timeout) s"
        throw HarnessError("\(why)\n--- daemon log ---\n\(stopped.stdout.suffix(6000))")
    }

    /// Polls `status` until a reply comes (true), the current run ends or `timeout` passes (false).
    func waitReady(timeout: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard process?.isRunning == true else { return false }
            if (try? await request(#"{"cmd":"status"}"#, timeout: 0.5)) != nil { return true }
        }
        return false
    }

    /// One control request through `hebbd control` (a Swift binary: ~20 ms a request, cheap enough to poll
    /// with); the parsed reply, `ok` true or false. Throws when no reply came within `timeout`.
    func request(_ json: String, timeout: Double = 10) async throws -> [String: Any] {
        let r = try await run("control", try Executables.hebbdPath(),
                              ["control", json, "--endpoint", control, "--timeout", String(timeout)],
                              directory: directory, timeout: timeout + 10)
        // `hebbd control` exits 0 for {"ok": true}, 1 for {"ok": false}; anything else is not a reply.
        guard r.exited, r.status == 0 || r.status == 1, let reply = lastJSONObject(r.stdout) else {
            throw HarnessError("control \(json): \(r)")
        }
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

    /// Sends `signal` to the current run, if it is running.
    func signal(_ signal: Int32) {
        if let p = process, p.isRunning { kill(p.pid, signal) }
    }

    /// SIGKILL, and waits until the process is gone: a crash, with no final checkpoint.
    func kill9() {
        guard let p = process else { return }
        if p.isRunning { kill(p.pid, SIGKILL) }
        _ = p.waitForExitBlocking(timeout: 10)
    }

    /// SIGTERM to the current run, then SIGKILL after `grace` s (the result is then `timedOut`, so a test that
    /// expects a clean stop fails). Idempotent; blocking, so usable in `defer`.
    @discardableResult
    func stop(grace: Double = 10) -> ProcessResult? { process?.stop(grace: grace) }

    /// The current run's combined stdout/stderr so far.
    var log: String { process?.stdout ?? "" }

    /// Waits (bounded) until the current run's log satisfies `predicate`; false when the run ended or the
    /// time ran out first. The daemon's log is where reloads and checkpoints show that they happened.
    func waitForLog(timeout: Double = 5, _ predicate: (String) -> Bool) async -> Bool {
        await process?.waitForOutput(timeout: timeout, predicate) ?? false
    }

    deinit {
        for p in runs where p.isRunning { p.stop(grace: 2) }
    }
}

/// Starts a daemon, runs `body`, and stops the daemon on every path (also when `body` throws); the
/// temporary directory is removed afterwards unless `HEBBD_E2E_KEEP` is set.
func withDaemon<T>(_ label: String, models: String, settings: Daemon.Settings = Daemon.Settings(),
                   _ body: (Daemon, TemporaryDirectory) async throws -> T) async throws -> T {
    try await withTemporaryDirectory(label) { temp in
        var lastError: Error?
        // A port picked as free may be taken by someone else before the daemon binds it: retry with new ports.
        for attempt in 1...3 {
            let daemon = try Daemon(directory: temp.file("daemon-\(attempt)"), models: models, settings: settings)
            defer { daemon.stop() }
            do {
                try await daemon.start()
            } catch {
                lastError = error
                if "\(error)".contains("Address already in use") { continue }
                throw error
            }
            do {
                return try await body(daemon, temp)
            } catch {
                throw HarnessError("\(error)\n--- daemon log (tail) ---\n\(daemon.log.suffix(6000))")
            }
        }
        throw lastError ?? HarnessError("daemon did not start")
    }
}

// MARK: - The ngclearn fixture

/// Tests/Fixtures/ngclearn_sys1.json, parsed once.
final class Fixture: @unchecked Sendable {
    static let shared = Fixture()
    private let loaded: Result<[String: Any], Error>

    private init() {
        loaded = Result {
            let data = try Data(contentsOf: Paths.fixture)
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw HarnessError("fixture is not a JSON object") }
            return object
        }
    }

    var root: [String: Any] { get throws { try loaded.get() } }
    var hyperparameters: [String: Any] { get throws { try root["hyperparameters"] as! [String: Any] } }
    var data: [String: Any] { get throws { try root["data"] as! [String: Any] } }

    /// `runs_minibatch_repeated_fit.<run>`.
    func minibatchRun(_ run: String) throws -> [String: Any] {
        try (root["runs_minibatch_repeated_fit"] as! [String: Any])[run] as! [String: Any]
    }

    /// X (200×20) and Y (200×1) rows, as the doubles stored in the fixture (exact float32 values).
    func rows() throws -> (x: [[Double]], y: [[Double]]) {
        let d = try data
        return (flatRows(d["X"]), flatRows(d["Y"]))
    }

    /// The sys1 data as CSV: a header line, then dict_dim feature columns and the target, one row per line.
    /// Doubles are written in their shortest round-trip form, so the daemon reads back exactly the float32 data.
    func csv() throws -> String {
        let (x, y) = try rows()
        var lines = [(0..<x[0].count).map { "x\($0)" }.joined(separator: ",") + ",y"]
        for (xr, yr) in zip(x, y) { lines.append((xr + yr).map { "\($0)" }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }
}

func flatRows(_ value: Any?) -> [[Double]] {
    (value as? [Any] ?? []).map { row in (row as? [Any] ?? [row]).map { ($0 as? NSNumber)?.doubleValue ?? .nan } }
}

func flatNumbers(_ value: Any?) -> [Double] {
    switch value {
    case let n as NSNumber: return [n.doubleValue]
    case let a as [Any]: return a.flatMap { flatNumbers($0) }
    default: return []
    }
}

/// |w| < threshold → 0, as the daemon publishes.
func thresholded(_ w: [Double], _ threshold: Double) -> [Double] {
    w.map { abs(Float($0)) < Float(threshold) ? 0 : $0 }
}

func maxAbsDiff(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
