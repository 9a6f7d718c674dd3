import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// The one key table of a model's configuration (`ModelConfiguration.configurationKeys`) and the places that use
/// it: the decoder, `configValue`, the control `models` reply and the checkpoint header.
@Suite struct ModelConfigurationKeyTests {
    /// A model with every optional part set and values away from their defaults.
    static func model() -> ModelConfiguration {
        var m = EngineFixtures.model("keys", kind: .elasticNet, dictDim: 2, sysDim: 3, batch: 5)
        m.circuit.epochs = 2
        m.circuit.learningRate = 0.03
        m.circuit.weightFill = 0.25
        m.circuit.prune = true
        m.circuit.update = .proximal
        m.circuit.initialization = .priorMean
        m.circuit.seed = 1_234_567_890_123
        m.circuit.standardize = true
        m.circuit.intercept = true
        m.circuit.interceptLearningRate = 0.5
        m.circuit.prior = PriorConfiguration(kind: .l1, arguments: [.weight: .numbers([0.5]), .fitHyper: .flag(false)])
        m.drift = DriftAlarm(detector: DriftDetectorConfiguration(defaultsFor: .pageHinkley), action: .reset)
        return m
    }

    /// The `models` reply lists every key of the table — seed, init, prune and weight_fill included, which it
    /// used to leave out — with the value `configValue` gives it (the seed an integer), except the two members
    /// the reply has always had in its own form: `prior` (a boolean, the table under `prior_config`) and
    /// `intercept_lr` (the rate in force).
    @Test(arguments: [true, false])
    func modelsReplyShowsEveryKeyAsTheConfigWritesIt(optionalPartsSet: Bool) throws {
        let model = optionalPartsSet ? Self.model() : EngineFixtures.model("keys")
        let core = try EngineFixtures.core([model])
        let reply = try #require(EngineFixtures.control(core, #"{"cmd":"models"}"#)["models"]?.array?.first)
        guard case let .table(config) = model.configValue else { Issue.record("not a table"); return }
        for key in ModelConfiguration.configurationKeys.map(\.name) {
            #expect(reply[key] != nil, "the models reply misses \(key)")
            switch key {
            case "prior":
                #expect(reply["prior"] == .bool(model.circuit.prior != nil))
                #expect(reply["prior_config"] == (config["prior"]?.json ?? .null))
            case "intercept_lr":
                let rate = model.circuit.interceptLearningRate ?? model.circuit.learningRate
                #expect(reply["intercept_lr"] == .number(Double(rate.description)!))
            default:
                #expect(reply[key] == (config[key]?.json ?? .null), "\(key): reply \(String(describing: reply[key]))")
            }
        }
        #expect(reply["seed"] == .integer(Int64(model.circuit.seed)))
        #expect(reply["step"] == .integer(0))
    }

    /// `configValue` writes every key of the table that the configuration has, in table order — all but the keys
    /// of uncertainty that a circuit without uncertainty does not have — and it decodes back (as a control `add` would)
    /// to the same configuration.
    @Test func configValueFollowsTheTableAndDecodesBack() throws {
        let model = Self.model()
        guard case let .table(table) = model.configValue else { Issue.record("not a table"); return }
        let absent = ["noise_std", "fit_noise", "smoothing", "uncertainty_level"]
        #expect(table.keys == ModelConfiguration.configurationKeys.map(\.name).filter { !absent.contains($0) })
        #expect(try ModelConfiguration.decode(json: Array(model.configValue.jsonText.utf8), source: "add") == model)
    }

    /// A key outside the table is refused, and the message lists exactly the table's keys.
    @Test func unknownKeysAreRefusedNamingTheTable() throws {
        #expect(throws: ConfigError.unknownKey(file: "control request", table: "[[model]] \"m\"", key: "sed",
                                               known: ModelConfiguration.configurationKeys.map(\.name))) {
            try ModelConfiguration.decode(json: Array(#"{"name": "m", "kind": "lasso", "dict_dim": 2, "sed": 1}"#.utf8), source: "control request")
        }
    }

    /// The checkpoint header's circuit object is written from the table: the keys the table gives a checkpoint
    /// form, in table order, which are exactly the keys the version-2/3 header reader looks for.
    @Test func checkpointHeaderCircuitKeysComeFromTheTable() throws {
        let model = Self.model()
        let core = try EngineFixtures.core([model])
        let file = try CheckpointFormat.encode(core.runners["keys"]!.snapshot(wallClock: 1_800_000_000), software: "test")
        let headerLength = Int(file[12]) | Int(file[13]) << 8 | Int(file[14]) << 16 | Int(file[15]) << 24
        let header = try JSONParser.parse(Array(file[24..<(24 + headerLength)]))
        let written = try #require(header["model_configuration"]?["circuit"]?.object).map { $0.0 }
        #expect(written == ModelConfiguration.configurationKeys.filter { $0.checkpoint != nil }.map(\.name))
        let k = CheckpointFormat.CircuitKeys.current
        let read = [k.kind, k.dictDim, k.sysDim, k.epochs, k.optimizer, k.learningRate, k.lmbda, k.l1Ratio, k.threshold,
                    k.weightFill, k.update, k.prune, k.initialization, k.seed, k.standardize!, k.intercept!, k.prior]
        #expect(written == read)
        #expect(try CheckpointFormat.decode(file, path: "keys").snapshot.model == model)
    }
}
