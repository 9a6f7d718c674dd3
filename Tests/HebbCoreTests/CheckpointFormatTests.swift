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
        #expect(s.circuit.updates == inspected["updates"]?.int && s.circuit.samples == inspected["samples"]?.int)
        #expect(s.sequence == UInt64(inspected["seq"]?.int ?? -1) && s.pendingRows == inspected["pending_rows"]?.int)
        #expect(s.wallClockSeconds == inspected["wall_clock"]?.double)
        let weights = inspected["weights"]?.array?.flatMap { $0.array ?? [] }.compactMap { $0.double.map(Float.init) }
        #expect(s.circuit.weights == weights)
        #expect(s.circuit.configuration.kind.rawValue == inspected["kind"]?.string)
        #expect(s.circuit.intercept.isEmpty && s.circuit.xMoments == nil && !s.model.circuit.standardize)

        // It resumes, learns, and is written again as the current version, reading back identical.
        let circuit = try HebbianCircuit(restoring: s.circuit)
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
        #expect(back.circuit.xMoments?.count == 3 && back.pendingRows == 1 && back.model.circuit.interceptLearningRate == 0.25)
    }
}
