import Foundation
import HebbianRegression
import Logging
import Testing

@testable import HebbCore

/// Parses `toml` expecting failure and returns the error (nil, recorded as an issue, if it parsed).
private func configError(_ toml: String, file: String = "test.toml", sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        let config = try DaemonConfiguration.parse(toml: toml, file: file)
        Issue.record("expected an error, parsed \(config)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// A `[[model]]` table named "m" with the required keys plus `extra` lines.
private func model(name: String = "m", _ extra: String = "", prior: String? = nil) -> String {
    var text = "[[model]]\nname = \"\(name)\"\nkind = \"lasso\"\ndict_dim = 4\n\(extra)\n"
    if let prior { text += "[model.prior]\n\(prior)\n" }
    return text
}

/// Asserts that the error's message contains every fragment (file, table, key, …).
private func expectMessage(_ error: ConfigError?, _ fragments: String..., sourceLocation: SourceLocation = #_sourceLocation) {
    guard let error else { return }
    for fragment in fragments {
        #expect(error.description.contains(fragment), "\(fragment) not in: \(error)", sourceLocation: sourceLocation)
    }
}

@Suite struct ConfigTests {
    // MARK: Whole files

    @Test func fullConfigPutsEveryValueInItsPlace() throws {
        let toml = """
            [daemon]
            state_dir = "/srv/hebbd"
            checkpoint_interval = "1.5s"
            checkpoint_every = 200
            checkpoint_keep = 3
            log_level = "debug"

            [endpoints]
            ingest = "tcp://*:6000"
            publish = "ipc:///run/hebbd/pub"
            control = "inproc://control"
            subscribe = ["tcp://10.0.0.1:7000", "tcp://[::1]:7001"]
            metrics = "0.0.0.0:9100"

            [publish]
            format = "binary"
            window = 25
            heartbeat = "500ms"
            hwm = 0

            [limits]
            max_message_bytes = 1048576
            max_rows_per_message = 4096

            [security]
            curve = true
            secret_key_file = "/k/server.key"
            authorized_keys_dir = "/k/clients"

            [[model]]
            name = "demo"
            kind = "elastic_net"
            dict_dim = 3
            sys_dim = 2
            batch_size = 64
            epochs = 4
            optim = "sgd"
            lr = 0.02
            lmbda = 0.003
            l1_ratio = 0.25
            threshold = 0.01
            weight_fill = -0.5
            update = "proximal"
            prune = true
            init = "prior_sample"
            seed = 42

            [model.prior]
            kind = "gaussian"
            mean = [[1, 2], [3, 4], [5, 6.5]]
            std = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
            weight = 0.5
            fit_hyper = true

            [[model]]
            name = "second.model_2-b"
            kind = "ridge"
            dict_dim = 7
            lr = 1
            """
        let config = try DaemonConfiguration.parse(toml: toml, file: "full.toml")
        #expect(config.daemon.stateDirectory == "/srv/hebbd")
        #expect(config.daemon.checkpointInterval == 1.5)
        #expect(config.daemon.checkpointEvery == 200)
        #expect(config.daemon.checkpointKeep == 3)
        #expect(config.daemon.logLevel == .debug)
        #expect(config.endpoints.ingest == "tcp://*:6000")
        #expect(config.endpoints.publish == "ipc:///run/hebbd/pub")
        #expect(config.endpoints.control == "inproc://control")
        #expect(config.endpoints.subscribe == ["tcp://10.0.0.1:7000", "tcp://[::1]:7001"])
        #expect(config.endpoints.metrics == "0.0.0.0:9100")
        #expect(config.publish.format == .binary)
        #expect(config.publish.window == 25)
        #expect(config.publish.heartbeat == 0.5)
        #expect(config.publish.highWaterMark == 0)
        #expect(config.limits.maxMessageBytes == 1_048_576)
        #expect(config.limits.maxRowsPerMessage == 4096)
        #expect(config.security.curve)
        #expect(config.security.secretKeyFile == "/k/server.key")
        #expect(config.security.authorizedKeysDir == "/k/clients")

        try #require(config.models.count == 2)
        let m = config.models[0]
        #expect(m.name == "demo")
        #expect(m.batchSize == 64)
        let c = m.circuit
        #expect(c.kind == .elasticNet)
        #expect(c.dictDim == 3 && c.sysDim == 2)
        #expect(c.epochs == 4)
        #expect(c.optimizer == .sgd)
        #expect(c.learningRate == 0.02)
        #expect(c.lmbda == 0.003)
        #expect(c.l1Ratio == 0.25)
        #expect(c.threshold == 0.01)
        #expect(c.weightFill == -0.5)
        #expect(c.update == .proximal)
        #expect(c.prune)
        #expect(c.initialization == .priorSample)
        #expect(c.seed == 42)
        #expect(c.prior == .gaussian(mean: [1, 2, 3, 4, 5, 6.5], std: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
                                                        weight: 0.5, fitHyper: true))

        let second = config.models[1]
        #expect(second.name == "second.model_2-b")
        #expect(second.circuit.kind == .ridge)
        #expect(second.circuit.learningRate == 1.0)  // an integer where a float is expected
        #expect(second.circuit.prior == nil)
    }

    @Test func minimalConfigHasTheDocumentedDefaults() throws {
        let empty = try DaemonConfiguration.parse(toml: "", file: "empty.toml")
        #expect(empty == DaemonConfiguration())
        #expect(empty.daemon.stateDirectory == "/var/lib/hebbd")
        #expect(empty.daemon.checkpointInterval == 30)
        #expect(empty.daemon.checkpointEvery == 0)
        #expect(empty.daemon.checkpointKeep == 5)
        #expect(empty.daemon.logLevel == .info)
        #expect(empty.endpoints.ingest == "tcp://127.0.0.1:5555")
        #expect(empty.endpoints.publish == "tcp://127.0.0.1:5556")
        #expect(empty.endpoints.control == "tcp://127.0.0.1:5557")
        #expect(empty.endpoints.subscribe.isEmpty)
        #expect(empty.endpoints.metrics == "127.0.0.1:9464")
        #expect(empty.publish.format == .json)
        #expect(empty.publish.window == 100)
        #expect(empty.publish.heartbeat == 5)
        #expect(empty.publish.highWaterMark == 10_000)
        #expect(empty.limits.maxMessageBytes == 67_108_864)
        #expect(empty.limits.maxRowsPerMessage == 1_000_000)
        #expect(!empty.security.curve)
        #expect(empty.security.secretKeyFile == "/etc/hebbd/server.key")
        #expect(empty.security.authorizedKeysDir == "/etc/hebbd/clients")
        #expect(empty.models.isEmpty)

        let one = try DaemonConfiguration.parse(toml: model(name: "en").replacingOccurrences(of: "lasso", with: "elastic_net"), file: "min.toml")
        let m = try #require(one.models.first)
        #expect(m.batchSize == 50)
        let c = m.circuit
        #expect(c.kind == .elasticNet && c.dictDim == 4 && c.sysDim == 1 && c.epochs == 1)
        #expect(c.optimizer == .adam && c.learningRate == 0.01 && c.lmbda == 0.0001 && c.l1Ratio == 0.5)
        #expect(c.threshold == 0.05)  // elastic net's default threshold
        #expect(c.weightFill == 0.05 && c.update == .hebbian && !c.prune && c.initialization == .fill && c.seed == 0)
        #expect(c.prior == nil)

        let withPrior = try DaemonConfiguration.parse(toml: model(prior: ""), file: "p.toml")
        #expect(withPrior.models[0].circuit.threshold == 0.001)
        #expect(withPrior.models[0].circuit.prior == .gaussian(mean: [0], std: [1], weight: 0.01, fitHyper: false))

        let noMetrics = try DaemonConfiguration.parse(toml: "[endpoints]\nmetrics = \"\"", file: "m.toml")
        #expect(noMetrics.endpoints.metrics == nil)
    }

    @Test func repositoryConfigsLoad() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Configs")
        func load(_ name: String) throws -> DaemonConfiguration {
            let path = configs.appendingPathComponent(name).path
            return try DaemonConfiguration.parse(toml: String(contentsOfFile: path, encoding: .utf8), file: path)
        }
        let main = try load("hebbd.toml")
        try #require(main.models.count == 1)
        #expect(main.models[0].name == "demo")
        #expect(main.models[0].circuit.kind == .lasso && main.models[0].circuit.dictDim == 20 && main.models[0].circuit.sysDim == 1)
        #expect(main.models[0].batchSize == 50)
        #expect(main.daemon.stateDirectory == "/var/lib/hebbd")
        #expect(main.endpoints.ingest == "tcp://127.0.0.1:5555" && main.endpoints.metrics == "127.0.0.1:9464")

        let multi = try load("multi-model.toml")
        #expect(multi.models.map(\.name) == ["sparse", "ridge3", "enet"])
        #expect(multi.models[0].circuit.kind == .lasso && multi.models[0].circuit.update == .proximal)
        #expect(multi.models[1].circuit.kind == .ridge && multi.models[1].circuit.sysDim == 3)
        #expect(multi.models[1].circuit.prior == .gaussian(mean: [0], std: [0.5], weight: 0.01, fitHyper: false))
        #expect(multi.models[2].circuit.kind == .elasticNet && multi.models[2].circuit.optimizer == .sgd)
        #expect(multi.daemon.checkpointInterval == 60)
    }

    @Test func syntaxErrorsCarryLineAndColumn() {
        let error = configError("[daemon]\nlog_level = \"info\"\ncheckpoint_keep = = 5\n", file: "broken.toml")
        guard case let .syntax(file, _, line, column)? = error else {
            Issue.record("expected a syntax error, got \(String(describing: error))")
            return
        }
        #expect(file == "broken.toml")
        #expect(line == 3)
        #expect(column != nil)
        expectMessage(error, "broken.toml:3:", "syntax error")
    }

    // MARK: One test per error kind

    @Test func unknownKeysInEveryTable() {
        expectMessage(configError("[endpoints]\ningset = \"tcp://127.0.0.1:1\"", file: "Configs/hebbd.toml"),
                      "Configs/hebbd.toml: [endpoints]: unknown key \"ingset\" (known: ingest, publish, control, reliable, subscribe, metrics)")
        expectMessage(configError("[deamon]\n"), "test.toml", "top level", "unknown key \"deamon\"", "daemon, endpoints")
        expectMessage(configError("[daemon]\nstate_directory = \"/x\""), "test.toml", "[daemon]", "\"state_directory\"", "state_dir")
        expectMessage(configError("[publish]\nhigh_water_mark = 5"), "[publish]", "\"high_water_mark\"", "hwm")
        expectMessage(configError("[limits]\nmax_rows = 5"), "[limits]", "\"max_rows\"")
        expectMessage(configError("[security]\ncurv = true"), "[security]", "\"curv\"")
        expectMessage(configError(model(name: "demo", "learning_rate = 0.1")),
                      "test.toml: [[model]] \"demo\": unknown key \"learning_rate\"", "lr")
        expectMessage(configError(model(name: "demo", prior: "sigma = 1.0")),
                      "test.toml: [[model]] \"demo\".prior: unknown key \"sigma\" (known: kind, mean, std, weight, fit_hyper)")
    }

    @Test func wrongTypes() {
        expectMessage(configError(model(name: "demo").replacingOccurrences(of: "dict_dim = 4", with: "dict_dim = 2.5")),
                      "test.toml: [[model]] \"demo\": key \"dict_dim\": expected an integer in [1, 2147483647], got a float 2.5")
        expectMessage(configError(model(name: "demo", "lr = \"fast\"")), "[[model]] \"demo\"", "key \"lr\"", "expected a number, got a string \"fast\"")
        expectMessage(configError(model(name: "demo", "prune = 1")), "key \"prune\"", "expected a boolean", "got an integer 1")
        expectMessage(configError(model(name: "demo", "seed = 1.0")), "key \"seed\"", "got a float 1.0")
        expectMessage(configError(model(name: "demo", "prior = 3")), "key \"prior\"", "expected a table")
        expectMessage(configError(model(name: "demo", prior: "weight = true")), "[[model]] \"demo\".prior", "key \"weight\"", "got a boolean true")
        expectMessage(configError("[daemon]\ncheckpoint_keep = \"5\""), "[daemon]", "key \"checkpoint_keep\"", "got a string \"5\"")
        expectMessage(configError("[endpoints]\nsubscribe = \"tcp://a:1\""), "[endpoints]", "key \"subscribe\"", "expected an array")
        expectMessage(configError("[endpoints]\nsubscribe = [\"tcp://a:1\", 5]"), "[endpoints]", "key \"subscribe[1]\"", "got an integer 5")
        expectMessage(configError("daemon = 5"), "top level", "key \"daemon\"", "expected a table")
        expectMessage(configError("[model]\nname = \"x\""), "top level", "key \"model\"", "[[model]]", "got a table")
        expectMessage(configError("[daemon]\nstate_dir = 1979-05-27"), "[daemon]", "key \"state_dir\"", "got a TOML date")
        // A model whose name is unusable is named by its position.
        expectMessage(configError(model() + "[[model]]\nname = 7\nkind = \"ridge\"\ndict_dim = 2\n"),
                      "test.toml: [[model]] #2: key \"name\": expected a non-empty string, got an integer 7")
    }

    @Test(arguments: [("dict_dim = 0", "dict_dim"), ("sys_dim = 0", "sys_dim"), ("sys_dim = -3", "sys_dim"),
                      ("batch_size = 0", "batch_size"), ("epochs = 0", "epochs"), ("epochs = -1", "epochs")])
    func sizesMustBePositive(line: String, key: String) {
        let text = model(name: "demo").replacingOccurrences(of: "dict_dim = 4", with: key == "dict_dim" ? line : "dict_dim = 4\n" + line)
        let value = line.components(separatedBy: " = ")[1]
        expectMessage(configError(text), "test.toml: [[model]] \"demo\": key \"\(key)\": expected an integer in [1, 2147483647], got \(value)")
    }

    @Test func sizeProductIsBounded() {
        expectMessage(configError(model(name: "demo").replacingOccurrences(of: "dict_dim = 4", with: "dict_dim = 100000\nsys_dim = 100000")),
                      "[[model]] \"demo\"", "key \"sys_dim\"", "dict_dim × sys_dim")
    }

    @Test(arguments: ["lr = -1", "lr = 0", "lr = 0.0"])
    func learningRateMustBePositive(line: String) {
        let message = configError(model(name: "demo", line))?.description
        #expect(message == "test.toml: [[model]] \"demo\": key \"lr\": expected a finite number > 0, got \(line.dropFirst(5))")
    }

    @Test(arguments: ["l1_ratio = 1.5", "l1_ratio = -0.1", "l1_ratio = 2"])
    func l1RatioMustBeInUnitInterval(line: String) {
        expectMessage(configError(model(name: "demo", line)), "test.toml: [[model]] \"demo\": key \"l1_ratio\": expected a number in [0, 1]")
    }

    @Test func otherCoreRangesAreMapped() {
        expectMessage(configError(model(name: "demo", "lmbda = -0.5")), "[[model]] \"demo\": key \"lmbda\"", "≥ 0", "-0.5")
        expectMessage(configError(model(name: "demo", "threshold = -1")), "[[model]] \"demo\": key \"threshold\"")
        expectMessage(configError(model(name: "demo", "weight_fill = nan")), "[[model]] \"demo\": key \"weight_fill\"", "finite")
        expectMessage(configError(model(name: "demo", "init = \"prior_mean\"")), "[[model]] \"demo\": key \"init\"", "[model.prior]")
        expectMessage(configError(model(name: "demo", prior: "weight = -1")), "[[model]] \"demo\".prior: key \"weight\"")
    }

    @Test(arguments: ["std = 0", "std = -1.0", "std = [1, 1, -2, 1]", "std = [[1], [0], [1], [1]]"])
    func stdMustBePositive(line: String) {
        expectMessage(configError(model(name: "demo", prior: line)), "test.toml: [[model]] \"demo\".prior: key \"std\": expected numbers > 0, got ")
        #expect(configError(model(name: "demo", prior: "std = -1"))?.description.hasSuffix("key \"std\": expected numbers > 0, got -1") == true)
    }

    @Test func priorArraysMustHaveTheShapeOfW() throws {
        let base = model(name: "demo").replacingOccurrences(of: "dict_dim = 4", with: "dict_dim = 3\nsys_dim = 2")
        // Accepted: flat row-major and nested rows.
        let flat = try DaemonConfiguration.parse(toml: base + "[model.prior]\nmean = [1, 2, 3, 4, 5, 6]", file: "t")
        let nested = try DaemonConfiguration.parse(toml: base + "[model.prior]\nmean = [[1, 2], [3, 4], [5, 6]]", file: "t")
        #expect(flat.models[0].circuit.prior?.numbers(.mean) == [1, 2, 3, 4, 5, 6])
        #expect(nested == flat)

        let expectedShape = "expected a number, an array of dict_dim×sys_dim = 6 numbers, or dict_dim = 3 arrays of sys_dim = 2 numbers"
        for (mean, got) in [("[1, 2, 3, 4, 5]", "got an array of 5 values"), ("[1]", "got an array of 1 value"),
                            ("[[1, 2], [3, 4]]", "got an array of 2 rows"), ("[[1, 2], [3, 4], [5]]", "got row 3 of 1 values"),
                            ("[[1, 2, 3], [4, 5, 6]]", "got an array of 2 rows"), ("[]", "got an array of 0 values")] {
            expectMessage(configError(base + "[model.prior]\nmean = \(mean)"),
                          "test.toml: [[model]] \"demo\".prior: key \"mean\": \(expectedShape), \(got)")
        }
        expectMessage(configError(base + "[model.prior]\nstd = [1, 2, 3, 4, 5, 6, 7]"), "\"demo\".prior: key \"std\"", "got an array of 7 values")
        expectMessage(configError(base + "[model.prior]\nmean = [1, 2, 3, \"4\", 5, 6]"), "\"demo\".prior: key \"mean[3]\": expected a number, got a string \"4\"")
        expectMessage(configError(base + "[model.prior]\nmean = [[1, 2], [3, true], [5, 6]]"), "key \"mean[1][1]\": expected a number, got a boolean")
        expectMessage(configError(base + "[model.prior]\nmean = \"zero\""), "key \"mean\"", "got a string \"zero\"")
    }

    @Test func duplicateModelNames() {
        let error = configError(model(name: "twin") + model(name: "other") + model(name: "twin"), file: "dup.toml")
        #expect(error == .duplicateModelName(file: "dup.toml", name: "twin"))
        expectMessage(error, "dup.toml: [[model]] \"twin\": key \"name\": duplicate model name \"twin\"")
    }

    @Test func invalidNames() {
        for bad in ["a/b", "with space", "", String(repeating: "x", count: 65), "é"] {
            expectMessage(configError(model(name: bad)), "test.toml: [[model]] #1: key \"name\"")
        }
        #expect(ModelConfiguration.isValidName(String(repeating: "x", count: 64)))
        #expect(ModelConfiguration.isValidName("A-z_0.9"))
        expectMessage(configError("[[model]]\nkind = \"lasso\"\ndict_dim = 2"), "test.toml: [[model]] #1: missing required key \"name\"")
        expectMessage(configError("[[model]]\nname = \"k\"\ndict_dim = 2"), "[[model]] \"k\": missing required key \"kind\"", "\"lasso\", \"ridge\", \"elastic_net\"")
        expectMessage(configError("[[model]]\nname = \"k\"\nkind = \"ridge\""), "[[model]] \"k\": missing required key \"dict_dim\"")
    }

    @Test func unknownEnumerationStrings() {
        expectMessage(configError(model(name: "demo").replacingOccurrences(of: "\"lasso\"", with: "\"lass0\"")),
                      "test.toml: [[model]] \"demo\": key \"kind\": expected one of \"lasso\", \"ridge\", \"elastic_net\", \"bayesian\", got \"lass0\"")
        expectMessage(configError(model(name: "demo", "optim = \"rmsprop\"")), "key \"optim\": expected one of \"adam\", \"sgd\", got \"rmsprop\"")
        expectMessage(configError(model(name: "demo", "update = \"ista\"")), "key \"update\": expected one of \"hebbian\", \"proximal\", got \"ista\"")
        expectMessage(configError(model(name: "demo", "init = \"zeros\"")), "key \"init\": expected one of \"fill\", \"prior_mean\", \"prior_sample\", got \"zeros\"")
        expectMessage(configError(model(name: "demo", prior: "kind = \"laplace\"")), "\"demo\".prior: key \"kind\": expected one of \"gaussian\"")
        expectMessage(configError("[daemon]\nlog_level = \"verbose\""), "[daemon]: key \"log_level\"", "\"critical\"", "got \"verbose\"")
        expectMessage(configError("[publish]\nformat = \"msgpack\""), "[publish]: key \"format\": expected one of \"json\", \"binary\"")
    }

    @Test func durations() throws {
        for (text, seconds) in [("\"500ms\"", 0.5), ("\"30s\"", 30.0), ("\"1.5s\"", 1.5), ("\"5m\"", 300.0), ("\"1h\"", 3600.0),
                                ("\"0s\"", 0.0), ("12", 12.0), ("0.25", 0.25)] {
            let config = try DaemonConfiguration.parse(toml: "[daemon]\ncheckpoint_interval = \(text)", file: "d")
            #expect(config.daemon.checkpointInterval == seconds, "\(text)")
        }
        for bad in ["\"5 minutes\"", "\"-5s\"", "-1", "\"abc\"", "\"30\"", "\"s\"", "\"1e3s\"", "inf"] {
            expectMessage(configError("[daemon]\ncheckpoint_interval = \(bad)", file: "d.toml"),
                          "d.toml: [daemon]: key \"checkpoint_interval\": expected a duration ≥ 0")
        }
        expectMessage(configError("[publish]\nheartbeat = \"5sec\""), "[publish]: key \"heartbeat\"", "got \"5sec\"")
        expectMessage(configError("[publish]\nheartbeat = true"), "[publish]: key \"heartbeat\"", "got a boolean true")
    }

    @Test func endpoints() {
        for bad in ["localhost:5555", "tcp://127.0.0.1", "tcp://:5555", "tcp://host:99999", "tcp://host:port", "udp://h:1",
                    "ipc://", "inproc://", "tcp://::1:5555", ""] {
            expectMessage(configError("[endpoints]\ningest = \"\(bad)\"", file: "e.toml"),
                          "e.toml: [endpoints]: key \"ingest\": expected a ZeroMQ endpoint", "got \"\(bad)\"")
        }
        expectMessage(configError("[endpoints]\ncontrol = \"http://x:1\""), "[endpoints]: key \"control\"")
        expectMessage(configError("[endpoints]\nsubscribe = [\"tcp://a:1\", \"b:2\"]"), "[endpoints]: key \"subscribe[1]\"", "got \"b:2\"")
        for bad in ["9464", "tcp://127.0.0.1:9464", "host:", ":9464", "h:70000"] {
            expectMessage(configError("[endpoints]\nmetrics = \"\(bad)\""), "[endpoints]: key \"metrics\": expected host:port")
        }
        for good in ["tcp://*:*", "tcp://eth0:5555", "tcp://[::1]:5555", "ipc://@abstract", "inproc://x", "tcp://example.org:0"] {
            #expect(TableReader.isZeroMQEndpoint(good), "\(good)")
        }
    }

    @Test func otherRanges() {
        expectMessage(configError("[daemon]\ncheckpoint_keep = 0"), "[daemon]: key \"checkpoint_keep\": expected an integer > 0, got 0")
        expectMessage(configError("[daemon]\ncheckpoint_every = -1"), "[daemon]: key \"checkpoint_every\": expected an integer ≥ 0, got -1")
        expectMessage(configError("[daemon]\nstate_dir = \"\""), "[daemon]: key \"state_dir\": expected a non-empty string")
        expectMessage(configError("[publish]\nwindow = 0"), "[publish]: key \"window\"")
        expectMessage(configError("[publish]\nhwm = -1"), "[publish]: key \"hwm\"")
        expectMessage(configError("[limits]\nmax_message_bytes = 0"), "[limits]: key \"max_message_bytes\"")
        expectMessage(configError("[limits]\nmax_rows_per_message = 0"), "[limits]: key \"max_rows_per_message\"")
        expectMessage(configError(model(name: "demo", "seed = -1")), "[[model]] \"demo\": key \"seed\": expected an integer ≥ 0, got -1")
    }

    @Test func stateDirectoryFromSystemd() {
        let daemon = DaemonConfiguration.Daemon()
        #expect(daemon.effectiveStateDirectory(environment: [:]) == "/var/lib/hebbd")
        #expect(daemon.effectiveStateDirectory(environment: ["STATE_DIRECTORY": "/var/lib/hebbd2:/var/lib/other"]) == "/var/lib/hebbd2")
    }

    // MARK: JSON (control `add`) and round trips

    @Test func jsonModelForControlAdd() throws {
        let json = #"{"name": "live", "kind": "ridge", "dict_dim": 5, "sys_dim": 2, "lr": 1, "prune": true, "threshold": 0.0,"#
            + #" "prior": {"mean": [[0, 1], [0, 1], [0, 1], [0, 1], [0, 1.5]], "std": 2, "fit_hyper": false}}"#
        let m = try ModelConfiguration.decode(json: Array(json.utf8), source: "control request")
        #expect(m.name == "live" && m.circuit.kind == .ridge && m.circuit.dictDim == 5 && m.circuit.sysDim == 2)
        #expect(m.circuit.learningRate == 1 && m.circuit.prune && m.circuit.threshold == 0)
        #expect(m.circuit.prior?.numbers(.mean) == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1.5])
        #expect(m.circuit.prior?.numbers(.std) == [2])

        // Wrong types name the source, the model and the key; booleans, integers and floats stay distinct.
        let cases: [(String, String)] = [
            (#""dict_dim": "5""#, #"key "dict_dim": expected an integer in [1, 2147483647], got a string "5""#),
            (#""dict_dim": 5.0"#, #"key "dict_dim": expected an integer in [1, 2147483647], got a float 5.0"#),
            (#""dict_dim": true"#, #"key "dict_dim": expected an integer in [1, 2147483647], got a boolean true"#),
            (#""dict_dim": 5, "prune": 1"#, #"key "prune": expected a boolean (true or false), got an integer 1"#),
            (#""dict_dim": 5, "lr": false"#, #"key "lr": expected a number, got a boolean false"#),
            (#""dict_dim": 5, "seed": null"#, #"key "seed": expected a string, number, boolean, array or object, got null"#),
            (#""dict_dim": 5, "lrr": 0.1"#, #"unknown key "lrr""#),
        ]
        for (fields, message) in cases {
            do {
                _ = try ModelConfiguration.decode(json: Array(#"{"name": "live", "kind": "lasso", \#(fields)}"#.utf8), source: "control request")
                Issue.record("accepted \(fields)")
            } catch {
                #expect(error.description.hasPrefix("control request: "), "\(error)")
                if !message.contains("null") { #expect(error.description.contains("[[model]] \"live\""), "\(error)") }
                #expect(error.description.contains(message), "\(error)")
            }
        }
        #expect(throws: ConfigError.self) { try ModelConfiguration.decode(json: Array("[1, 2]".utf8), source: "control request") }
        do {
            _ = try ModelConfiguration.decode(json: Array("{\"name\": ".utf8), source: "control request")
            Issue.record("truncated JSON accepted")
        } catch {
            expectMessage(error, "control request: syntax error: invalid JSON")
        }
    }

    @Test func jsonNumbersKeepTheirKind() throws {
        let value = try ConfigValue.parse(json: Array(#"{"t": true, "f": false, "zero": 0, "one": 1, "onef": 1.0, "big": 9223372036854775807, "neg": -3, "e": 1e3, "s": "x", "a": [1, 2.5]}"#.utf8), source: "j")
        let expected: ConfigValue = ["t": true, "f": false, "zero": 0, "one": 1, "onef": 1.0, "big": .integer(.max), "neg": -3,
                                     "e": 1000.0, "s": "x", "a": [1, 2.5]]
        #expect(value == expected)
        // Duplicate keys and null are refused rather than silently resolved.
        #expect(throws: ConfigError.self) { try ConfigValue.parse(json: Array(#"{"a": 1, "a": 2}"#.utf8), source: "j") }
        #expect(throws: ConfigError.self) { try ConfigValue.parse(json: Array(#"{"a": null}"#.utf8), source: "j") }
    }

    @Test func configValueRoundTrip() throws {
        let config = try DaemonConfiguration.parse(toml: """
            [[model]]
            name = "rt"
            kind = "elastic_net"
            dict_dim = 2
            sys_dim = 3
            batch_size = 7
            epochs = 3
            optim = "sgd"
            lr = 0.01
            lmbda = 0.0001
            l1_ratio = 0.3
            threshold = 0.02
            weight_fill = 0.1
            update = "proximal"
            prune = true
            init = "prior_mean"
            seed = 1234567890123
            [model.prior]
            mean = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]
            std = 0.7
            weight = 0.05
            fit_hyper = true

            [[model]]
            name = "plain"
            kind = "lasso"
            dict_dim = 20
            """, file: "rt.toml")
        for model in config.models {
            let value = model.configValue
            #expect(try ModelConfiguration.decode(value, source: "round trip") == model)
            #expect(try ModelConfiguration.decode(json: Array(value.jsonText.utf8), source: "round trip") == model)
        }
        let text = config.models[0].configValue.jsonText
        #expect(text.hasPrefix(#"{"name":"rt","kind":"elastic_net","dict_dim":2,"sys_dim":3,"batch_size":7,"epochs":3,"optim":"sgd","lr":0.01,"#))
        #expect(text.hasSuffix(#""prior":{"kind":"gaussian","mean":[0.1,0.2,0.3,0.4,0.5,0.6],"std":0.7,"weight":0.05,"fit_hyper":true}}"#))
        #expect(!config.models[1].configValue.jsonText.contains("prior"))
        #expect(ConfigValue.string("a\"b\n").jsonText == #""a\"b\n""#)
    }

    @Test func restartOnlyChangesNameWhatAReloadCannotApply() throws {
        let running = try DaemonConfiguration.parse(toml: "", file: "running.toml")
        let live = try DaemonConfiguration.parse(toml: """
            [daemon]
            log_level = "debug"
            checkpoint_keep = 2
            checkpoint_interval = "5s"
            [publish]
            window = 7
            heartbeat = "1s"
            """, file: "live.toml")
        #expect(live.restartOnlyChanges(from: running).isEmpty)
        let restart = try DaemonConfiguration.parse(toml: """
            [daemon]
            state_dir = "/elsewhere"
            [endpoints]
            control = "tcp://127.0.0.1:6000"
            [publish]
            format = "binary"
            hwm = 5
            [limits]
            max_rows_per_message = 10
            [security]
            curve = true
            """, file: "restart.toml")
        #expect(restart.restartOnlyChanges(from: running)
            == ["endpoints", "limits", "security", "publish.format", "publish.hwm", "daemon.state_dir"])
    }
}
