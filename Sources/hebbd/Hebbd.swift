import ArgumentParser
import Foundation
import HebbCore
import HebbDaemon
import HebbianRegression
import Logging

/// The `hebbd` command line: the daemon and its tools.
@main
struct Hebbd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hebbd",
        abstract: "A streaming online-learning daemon: Hebbian sparse regression (lasso, ridge, elastic net) over ZeroMQ.",
        version: HebbdVersion.current,
        subcommands: [Run.self, Fit.self, Bench.self, Feed.self, Watch.self, Control.self, CheckpointCommand.self, Keygen.self],
        defaultSubcommand: Run.self
    )
}

/// The config path used when `--config` is not given.
let defaultConfigPath = "/etc/hebbd/hebbd.toml"

/// Exits with a clear message instead of a stack trace.
func fail(_ message: String, code: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("hebbd: \(message)\n".utf8))
    exit(code)
}

func loadConfiguration(_ path: String) -> DaemonConfiguration {
    do { return try DaemonConfiguration.load(path: path) } catch { fail("\(error)", code: 2) }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the daemon (the default command).",
        discussion: "Reads \(defaultConfigPath) unless --config is given. SIGTERM/SIGINT stop it after a final checkpoint; SIGHUP reloads the config."
    )

    @Option(name: .long, help: "The TOML config file.")
    var config: String = defaultConfigPath

    @Option(name: .customLong("reset-model"), help: "Discard this model's checkpoints (e.g. after changing its shape) and its run-time changes. Repeatable.")
    var resetModels: [String] = []

    @Flag(name: .customLong("reset-runtime"), help: "Discard every run-time change (models added, removed or set with control commands): the state file is set aside as .runtime-state.json.discarded-<time>.")
    var resetRuntime = false

    @Option(name: .customLong("state-dir"), help: "Override daemon.state_dir (and $STATE_DIRECTORY).")
    var stateDirectory: String?

    func run() async throws {
        let configuration = loadConfiguration(config)
        DaemonLogging.bootstrap(level: configuration.daemon.logLevel)
        let logger = Logger(label: "hebbd")
        var options = Launcher.Options(configPath: config)
        options.resetModels = Set(resetModels)
        options.resetRuntime = resetRuntime
        if let stateDirectory { options.environment["STATE_DIRECTORY"] = stateDirectory }
        do {
            try await Launcher.run(options, logger: logger)
        } catch {
            logger.critical("hebbd failed", metadata: ["error": "\(error)"])
            fail("\(error)")
        }
    }
}

struct Fit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train one model offline on a CSV file, exactly as the daemon learns the same rows streamed to it.",
        discussion: """
        The passes form one stream of rows, as `hebbd feed --passes P` sends them: every batch_size rows make one update of \
        epochs steps (a block may run on from the end of one pass into the next); the last (passes × rows) mod batch_size \
        rows are not learned from — the daemon would keep them buffered until more rows arrive. The output says how many.
        """
    )

    @Option(help: "The TOML config that defines the model.") var config: String
    @Option(help: "The model's name in the config.") var model: String
    @Option(help: "CSV: dict_dim feature columns then sys_dim target columns; an optional header line.") var data: String
    @Option(help: "Passes over the data.") var passes: Int = 1
    @Flag(help: "Print one JSON object: model, steps, updates, buffered_rows, weights, coefficients, intercept, standardized, loss (per step), prior (per update, with a prior).") var json = false

    func run() throws {
        let configuration = loadConfiguration(config)
        guard let m = configuration.models.first(where: { $0.name == model }) else {
            fail("\(config): no [[model]] named \"\(model)\" (have: \(configuration.models.map(\.name).joined(separator: ", ")))", code: 2)
        }
        guard passes >= 1 else { fail("--passes must be ≥ 1", code: 2) }
        let table: SampleTable
        do { table = try SampleTable.readCSV(path: data, dictDim: m.circuit.dictDim, sysDim: m.circuit.sysDim) } catch {
            fail("\(error)", code: 2)
        }
        let result: OfflineFit.Result
        do { result = try OfflineFit.run(model: m, table: table, passes: passes) } catch { fail("\(error)") }
        let c = m.circuit
        if json {
            var w = JSONWriter(capacity: 4096)
            w.beginObject()
            w.key("model"); w.string(result.model)
            w.key("steps"); w.int(result.steps)
            w.key("updates"); w.int(result.updates)
            w.key("buffered_rows"); w.int(result.bufferedRows)
            for (key, values) in [("weights", result.weights), ("coefficients", result.coefficients)] {
                w.key(key)
                values.withUnsafeBufferPointer { w.matrix($0, rows: c.dictDim, columns: c.sysDim) }
            }
            w.key("intercept"); result.intercept.withUnsafeBufferPointer { w.floats($0) }
            w.key("standardized"); w.bool(result.standardized)
            w.key("loss")
            w.beginArray()
            for l in result.loss { w.double(l) }
            w.endArray()
            if !result.prior.isEmpty {
                w.key("prior")
                w.beginArray()
                for p in result.prior { w.double(p) }
                w.endArray()
            }
            if let u = result.uncertainty {
                // A model with uncertainty: the published std and intervals (docs/PROTOCOL.md).
                for (key, values) in [("std", u.std), ("lower", u.lower), ("upper", u.upper)] {
                    w.key(key)
                    values.map(Float.init).withUnsafeBufferPointer { w.matrix($0, rows: c.dictDim, columns: c.sysDim) }
                }
                w.key("intercept_std"); w.beginArray(); for v in u.interceptStd { w.double(v) }; w.endArray()
                w.key("uncertainty_level"); w.double(u.level)
            }
            w.endObject()
            print(String(decoding: w.bytes, as: UTF8.self))
        } else {
            print(m.isBayesian ? "model \(result.model): bayesian, \(c.dictDim)×\(c.sysDim), noise_std \(m.noiseStd)\(m.fitNoise ? " (fitted)" : "")"
                               : "model \(result.model): \(c.kind.rawValue), \(c.dictDim)×\(c.sysDim), \(c.optimizer.rawValue), update \(c.update.rawValue)")
            print("data: \(table.rows) rows × \(passes) pass(es), batch_size \(m.batchSize)"
                + (result.bufferedRows > 0
                    ? "; the last \(result.bufferedRows) rows stay buffered, not learned from (as in the daemon: a partial batch waits for more rows)"
                    : ""))
            print("steps: \(result.steps) (\(result.updates) updates × \(c.epochs) epochs)")
            if let first = result.loss.first, let last = result.loss.last {
                print("loss (½Σe² of a block before its step): first \(first), final \(last)")
            }
            print(m.isBayesian ? "coefficients (posterior means, no threshold): \(result.coefficients.count)"
                               : "nonzero coefficients at threshold \(c.threshold): \(result.nonzero) of \(result.coefficients.count)")
            if let u = result.uncertainty { print("± one posterior standard deviation; \(u.level * 100) % intervals in --json") }
            for r in 0..<c.dictDim {
                let row = (0..<c.sysDim).map { result.coefficients[r * c.sysDim + $0] }
                if row.contains(where: { $0 != 0 }) {
                    let std = result.uncertainty.map { u in (0..<c.sysDim).map { u.std[r * c.sysDim + $0] } }
                    print("  w[\(r)] = " + row.indices.map { k in
                        String(format: "%+.6f", row[k]) + (std.map { String(format: " ±%.6f", $0[k]) } ?? "")
                    }.joined(separator: " "))
                }
            }
            if result.intercept.contains(where: { $0 != 0 }) {
                print("  b    = " + result.intercept.map { String(format: "%+.6f", $0) }.joined(separator: " "))
            }
        }
    }
}
