import Foundation
import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// The checkpoint format across versions: files written by an older hebbd keep loading, and the current
/// writer's header uses explicit keys.
@Suite struct CheckpointFormatTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoint-v1")

    static func fixture(_ name: String) throws -> (bytes: [UInt8], inspected: JSON) {
        let bytes = try Array(Data(contentsOf: fixtures.appendingPathComponent("\(name).hebb")))
        let inspected = try JSONParser.parse(Array(Data(contentsOf: fixtures.appendingPathComponent("\(name).inspect.json"))))
        return (bytes, inspected)
    }

    /// Two version-1 files written by hebbd before the format moved to explicit keys (`legacy`: elastic net,
    /// Adam, a fitted per-coefficient Gaussian prior, a 2^53 + 1 seed, buffered rows; `plain`: ridge, SGD), with
    /// what that hebbd's `checkpoint inspect --json` printed for them.
    @Test(arguments: ["legacy", "plain"])
    func versionOneFilesStillLoad(name: String) throws {
        let (bytes, inspected) = try Self.fixture(name)
        #expect(bytes[8] == 1)   // format version 1
        let decoded = try CheckpointFormat.decode(bytes, path: name)
        let s = decoded.snapshot
        #expect(decoded.formatVersion == 1)
        #expect(s.name == inspected["model"]?.string)
        #expect(s.circuit!.updates == inspected["updates"]?.int && s.circuit!.samples == inspected["samples"]?.int)
        #expect(s.sequence == UInt64(inspected["seq"]?.int ?? -1) && s.pendingRows == inspected["pending_rows"]?.int)
        #expect(s.wallClockSeconds == inspected["wall_clock"]?.double)
        let weights = inspected["weights"]?.array?.flatMap { $0.array ?? [] }.compactMap { $0.double.map(Float.init) }
        #expect(s.circuit!.weights == weights)
        #expect(s.circuit!.configuration.kind.rawValue == inspected["kind"]?.string)
        #expect(s.circuit!.intercept.isEmpty && s.circuit!.xMoments == nil && !s.model.circuit.standardize)

        // It resumes, learns, and is written again as the current version, reading back identical.
        let circuit = try HebbianCircuit(restoring: s.circuit!)
        let d = circuit.configuration.dictDim, k = circuit.configuration.sysDim
        let x = (0..<(2 * d)).map { Float($0) / 10 }, y = (0..<(2 * k)).map { Float($0) }
        _ = try x.withUnsafeBufferPointer { x in try y.withUnsafeBufferPointer { y in try circuit.update(x: x, y: y, rows: 2) } }
        var next = s
        next.circuit = circuit.state
        let rewritten = try CheckpointFormat.encode(next, software: "test")
        #expect(rewritten[8] == UInt8(CheckpointFormat.version))
        #expect(try CheckpointFormat.decode(rewritten, path: "rewritten").snapshot == next)
    }

    @Test func versionOneConfigurationIsReadFieldByField() throws {
        let c = try CheckpointFormat.decode(Self.fixture("legacy").bytes, path: "legacy").snapshot.model
        #expect(c.name == "legacy" && c.batchSize == 4)
        #expect(c.circuit.kind == .elasticNet && c.circuit.dictDim == 3 && c.circuit.sysDim == 2)
        #expect(c.circuit.learningRate == 0.05 && c.circuit.lmbda == 0.01 && c.circuit.l1Ratio == 0.3)
        #expect(c.circuit.update == .proximal && c.circuit.initialization == .priorSample && c.circuit.optimizer == .adam)
        #expect(c.circuit.seed == 9_007_199_254_740_993)
        #expect(c.circuit.prior == .gaussian(mean: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], std: [0.7], weight: 0.02, fitHyper: true))
    }

    /// The header's keys are written by hand: the config file's own names, so they do not follow Swift property names.
    @Test func currentHeaderUsesTheConfigFileKeys() throws {
        var model = EngineFixtures.model("keys", dictDim: 2, sysDim: 2, batch: 3)
        model.circuit.standardize = true
        model.circuit.intercept = true
        model.circuit.interceptLearningRate = 0.25
        model.circuit.seed = UInt64.max
        let core = try EngineFixtures.core([model])
        let x: [Float] = [1, 700_000, 2, 700_010, 3, 700_020, 4, 700_030], y: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        #expect(EngineFixtures.send(core, EngineFixtures.binary("keys", x: x, y: y, rows: 4)) == nil)
        let snapshot = core.runners["keys"]!.snapshot(wallClock: 1_800_000_000.25)
        let file = try CheckpointFormat.encode(snapshot, software: "test")
        let headerLength = Int(file[12]) | Int(file[13]) << 8 | Int(file[14]) << 16 | Int(file[15]) << 24
        let header = try JSONParser.parse(Array(file[24..<(24 + headerLength)]))
        let circuit = try #require(header["model_configuration"]?["circuit"])
        for key in ["dict_dim", "sys_dim", "optim", "lr", "l1_ratio", "weight_fill", "init", "seed", "standardize", "intercept"] {
            #expect(circuit[key] != nil, "missing \(key)")
        }
        #expect(circuit["seed"] == .string("18446744073709551615"))
        let back = try CheckpointFormat.decode(file, path: "keys").snapshot
        #expect(back == snapshot)
        #expect(back.circuit!.xMoments?.count == 3 && back.pendingRows == 1 && back.model.circuit.interceptLearningRate == 0.25)
    }

    static let versionThree = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoint-v3")

    /// A version-3 file written before the configuration's key table existed is written again, from its decoded
    /// snapshot, by today's writer: the payload byte for byte, and the header member for member as the earlier writer
    /// produced it (every key of the model's configuration set away from its default) — but for the members later
    /// formats add: `journal` (4), null for a file that covers no journal position, and `model_configuration.learner`
    /// (5), the kind and `uncertainty = false` of a plain circuit. Its configuration is what its config file decodes
    /// to today.
    @Test func versionThreeFileIsRewrittenByteForByte() throws {
        let bytes = try Array(Data(contentsOf: Self.versionThree.appendingPathComponent("golden.hebb")))
        #expect(bytes[8] == 3)
        let decoded = try CheckpointFormat.decode(bytes, path: "golden")
        let rewritten = try CheckpointFormat.encode(decoded.snapshot, software: decoded.header.software)
        #expect(rewritten[8] == UInt8(CheckpointFormat.version))
        let (oldHeader, oldPayload) = try Self.headerAndPayload(bytes)
        let (newHeader, newPayload) = try Self.headerAndPayload(rewritten)
        #expect(newPayload == oldPayload)
        guard case var .object(members) = newHeader else { Issue.record("the header is not an object"); return }
        #expect(members.first { $0.0 == "journal" }?.1 == .null)
        members.removeAll { $0.0 == "journal" }
        let model = members.firstIndex { $0.0 == "model_configuration" }!
        guard case var .object(configuration) = members[model].1 else { Issue.record("model_configuration is not an object"); return }
        #expect(configuration.first { $0.0 == "learner" }?.1 == .object([("kind", .string("elastic_net")), ("uncertainty", .bool(false))]))
        configuration.removeAll { $0.0 == "learner" }
        members[model].1 = .object(configuration)
        #expect(JSON.object(members).serialized == oldHeader.serialized, "the rewritten header differs beyond journal and learner")
        let toml = try String(contentsOf: Self.versionThree.appendingPathComponent("golden.toml"), encoding: .utf8)
        #expect(try DaemonConfiguration.parse(toml: toml, file: "golden.toml").models[0] == decoded.snapshot.model)
    }

    /// A file's JSON header and its payload bytes, split by the lengths of its preamble (docs/CHECKPOINTS.md).
    static func headerAndPayload(_ bytes: [UInt8]) throws -> (JSON, [UInt8]) {
        func integer(_ at: Int, _ count: Int) -> Int { (0..<count).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        let headerLength = integer(12, 4), payloadLength = integer(16, 8)
        let header = try JSONParser.parse(Array(bytes[24..<(24 + headerLength)]))
        return (header, Array(bytes[(24 + headerLength)..<(24 + headerLength + payloadLength)]))
    }

    static let versionTwo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/checkpoint-v2")

    /// A NaN in a prior's optimiser state (a crafted but CRC-valid file: Fuzz/Regressions/checkpoint_reader/
    /// prior-optimizer-nan.hebb) is written back and read again as NaN. The state travels as JSON ("nan"); the encoder's
    /// read-back check compared it with `==`, for which NaN differs from itself, and refused to write the model.
    @Test func aNaNInAPriorsOptimizerStateRoundTrips() throws {
        var s = try CheckpointFormat.decode(Array(Data(contentsOf: Self.versionTwo.appendingPathComponent("gaussian.hebb"))), path: "g").snapshot
        s.circuit!.prior!.hyperParameters[1].optimizer.v[0] = Float(nan: 0x1fffff, signaling: false)
        let bytes = try CheckpointFormat.encode(s, software: "test")
        let back = try CheckpointFormat.decode(bytes, path: "back").snapshot
        #expect(back.circuit!.prior!.hyperParameters[1].optimizer.v[0].isNaN)
        #expect(try CheckpointFormat.encode(back, software: "test") == bytes)
    }

    /// A version-2 file written by the format-2 build (a fitted per-coefficient Gaussian prior, Adam, intercept,
    /// standardisation, buffered rows) loads, means what its config file means today, and resumes under it.
    @Test func versionTwoFileStillLoads() throws {
        let bytes = try Array(Data(contentsOf: Self.versionTwo.appendingPathComponent("gaussian.hebb")))
        let inspected = try JSONParser.parse(Array(Data(contentsOf: Self.versionTwo.appendingPathComponent("gaussian.inspect.json"))))
        #expect(bytes[8] == 2)
        let decoded = try CheckpointFormat.decode(bytes, path: "gaussian")
        let s = decoded.snapshot
        #expect(decoded.formatVersion == 2 && s.drift == nil && s.model.drift == nil)
        #expect(s.circuit!.updates == inspected["updates"]?.int && s.sequence == 7 && s.pendingRows == inspected["pending_rows"]?.int)
        let weights = inspected["weights"]?.array?.flatMap { $0.array ?? [] }.compactMap { $0.double.map(Float.init) }
        #expect(s.circuit!.weights == weights)
        // The configuration in the file is exactly what its config file decodes to now (gaussian weight 0.02 given).
        let toml = try String(contentsOf: Self.versionTwo.appendingPathComponent("hebbd.toml"), encoding: .utf8)
        let configured = try DaemonConfiguration.parse(toml: toml, file: "hebbd.toml").models[0]
        #expect(s.model == configured)
        #expect(configured.circuit.incompatibility(with: s.circuit!.configuration) == nil)
        // The Gaussian prior's fitted state became a WeightPrior: mean trained for 7 steps, precision too.
        let prior = try #require(s.circuit!.prior)
        #expect(prior.kind == .gaussian && prior.weight == 0.02 && prior.fitHyper)
        #expect(prior.hyperParameters.map(\.name) == ["mean", "precision"] && prior.hyperParameters.allSatisfy { $0.trainable && $0.optimizer.t == 7 })
        #expect(prior.hyperParameter("mean")?.count == 6 && prior.hyperParameter("mean") != [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])

        // It resumes under today's configuration, learns, and is written again in today's version, reading back identical.
        let core = try EngineFixtures.core([])
        try core.addModel(configured, restoring: s)
        let rows = EngineFixtures.rows(0..<2)
        let x = rows.x, y = rows.y.flatMap { [$0, -$0] }
        #expect(EngineFixtures.send(core, EngineFixtures.binary("gaussian", x: x, y: y, rows: 2)) == nil)
        let next = core.runners["gaussian"]!.snapshot(wallClock: 1_800_000_000)
        #expect(next.circuit!.updates == 8)
        let rewritten = try CheckpointFormat.encode(next, software: "test")
        #expect(rewritten[8] == UInt8(CheckpointFormat.version))
        #expect(try CheckpointFormat.decode(rewritten, path: "rewritten").snapshot == next)
    }

    /// Version 3 stores every prior's full state (fitted hyper-parameters and their optimiser state, chains) and
    /// the drift detector: a model restored from a file continues exactly as the uninterrupted one.
    @Test(arguments: [
        "[model.prior]\nkind = \"student_t\"\ndf = [1, 2, 3, 4, 5, 6]\nfit_hyper = true\n",
        "[model.prior]\nkind = \"group_lasso\"\ngroup_size = 2\n",
        "[[model.prior]]\nkind = \"l1\"\nweight = 0.1\n[[model.prior]]\nkind = \"gamma\"\nfit_hyper = true\n",
        "[model.prior]\nkind = \"spectral_norm\"\nmax_value = 0.5\nfit_hyper = true\n",
    ])
    func versionThreeKeepsEveryPriorAndTheDriftDetector(prior: String) throws {
        let toml = """
            [[model]]
            name = "p"
            kind = "lasso"
            dict_dim = 3
            sys_dim = 2
            batch_size = 2
            update = "proximal"
            init = "prior_sample"
            seed = 3
            [model.drift]
            detector = "page_hinkley"
            min_instances = 2
            threshold = 0.01

            """ + prior
        let model = try DaemonConfiguration.parse(toml: toml, file: "t.toml").models[0]
        let uninterrupted = try EngineFixtures.core([model]), resumed = try EngineFixtures.core([])
        func rows(_ range: Range<Int>) -> [[UInt8]] {
            let r = EngineFixtures.rows(range)
            return EngineFixtures.binary("p", x: r.x, y: r.y.flatMap { [$0, 2 * $0] }, rows: range.count)
        }
        EngineFixtures.send(uninterrupted, rows(0..<13))
        let snapshot = uninterrupted.runners["p"]!.snapshot(wallClock: 1_800_000_000)
        #expect(snapshot.drift != nil && snapshot.circuit!.prior != nil)
        let file = try CheckpointFormat.encode(snapshot, software: "test")
        let decoded = try CheckpointFormat.decode(file, path: "p")
        let back = decoded.snapshot
        #expect(back == snapshot)
        let inspection = CheckpointInspection(path: "p", decoded: decoded)
        #expect(inspection.prior == (prior.hasPrefix("[[") ? "chain(l1, gamma)" : model.circuit.prior?.kind.rawValue))
        #expect(inspection.drift == .init(detector: "page_hinkley", drifts: snapshot.drift!.drifts, lastDriftStep: snapshot.drift!.lastDriftStep))
        try resumed.addModel(model, restoring: back)
        for range in [13..<40, 40..<41, 41..<90] {
            EngineFixtures.send(uninterrupted, rows(range))
            EngineFixtures.send(resumed, rows(range))
        }
        let a = uninterrupted.runners["p"]!, b = resumed.runners["p"]!
        #expect(a.circuit!.state == b.circuit!.state && a.drift == b.drift)
        #expect(a.circuit!.weights.map(\.bitPattern) == b.circuit!.weights.map(\.bitPattern))
    }
}
