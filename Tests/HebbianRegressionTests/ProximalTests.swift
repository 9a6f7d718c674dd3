import Foundation
import Testing
@testable import HebbianRegression

/// `update = "proximal"` against scikit-learn's coordinate descent (docs/MATH.md §4's α mapping), on
/// scikit-learn's bundled diabetes data. `Scripts/sklearn_reference.py` computes the reference.
@Suite struct ProximalTests {
    struct Reference {
        let x: [Float], y: [Float], rows: Int, dictDim: Int, lambdaMax: Double
        let cases: [(kind: RegressionKind, lmbda: Float, l1Ratio: Float, coef: [Double])]
    }

    static func reference() throws -> Reference {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/sklearn_reference.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CircuitError.incompatibleState("sklearn_reference.py exited \(process.terminationStatus); run scripts/test.sh to install scikit-learn")
        }
        let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        return Reference(
            x: flatFloat(json["x"]), y: flatFloat(json["y"]), rows: json["rows"] as! Int, dictDim: json["dict_dim"] as! Int,
            lambdaMax: json["lambda_max_xtx"] as! Double,
            cases: (json["cases"] as! [[String: Any]]).map {
                (RegressionKind(rawValue: $0["kind"] as! String)!, Float($0["lmbda"] as! Double),
                 Float($0["l1_ratio"] as! Double), flat($0["coef"]))
            })
    }

    @Test func convergesToCoordinateDescentWithExactZeros() throws {
        let ref = try Self.reference()
        #expect(ref.cases.count == 4)
        for c in ref.cases {
            var config = CircuitConfiguration(kind: c.kind, dictDim: ref.dictDim, sysDim: 1)
            config.optimizer = .sgd
            config.update = .proximal
            config.lmbda = c.lmbda
            config.l1Ratio = c.l1Ratio
            // lr ≤ 1/L where L = λmax(XᵀX) plus the smooth L2 part's curvature.
            let l2 = c.kind == .elasticNet ? Double(c.lmbda * (1 - c.l1Ratio) / 2) : 0
            config.learningRate = Float(1 / (ref.lambdaMax + l2))
            let circuit = try HebbianCircuit(config)
            for _ in 0..<3000 { try circuit.update(ref.x, ref.y, rows: ref.rows) }
            let scale = c.coef.map(abs).max()!
            let deviation = zip(circuit.weights, c.coef).map { abs(Double($0) - $1) }.max()! / scale
            #expect(deviation <= 1e-4, "\(c.kind) λ=\(c.lmbda): max deviation \(deviation) relative")
            let zeros = c.coef.indices.filter { c.coef[$0] == 0 }
            #expect(!zeros.isEmpty, "the reference should have zeros to check")
            for i in zeros { #expect(circuit.weights[i] == 0, "\(c.kind) λ=\(c.lmbda): coefficient \(i) should be exactly 0") }
            #expect(circuit.weights.filter { $0 == 0 }.count == zeros.count)
        }
    }

    /// ngclearn's subgradient update never reaches exact zeros on the same problem: what proximal fixes.
    @Test func hebbianUpdateChattersWhereProximalIsExact() throws {
        let ref = try Self.reference()
        let c = ref.cases[0]
        var config = CircuitConfiguration(kind: .lasso, dictDim: ref.dictDim, sysDim: 1)
        config.optimizer = .sgd
        config.lmbda = c.lmbda
        config.learningRate = Float(1 / ref.lambdaMax)
        let hebbian = try HebbianCircuit(config)
        config.update = .proximal
        let proximal = try HebbianCircuit(config)
        for _ in 0..<3000 {
            try hebbian.update(ref.x, ref.y, rows: ref.rows)
            try proximal.update(ref.x, ref.y, rows: ref.rows)
        }
        let zeros = c.coef.indices.filter { c.coef[$0] == 0 }
        #expect(zeros.allSatisfy { proximal.weights[$0] == 0 })
        #expect(zeros.contains { hebbian.weights[$0] != 0 })
    }

    /// Proximal Adam: soft-thresholding in Adam's per-coordinate metric also yields exact zeros on
    /// the reference's zero set and converges to the same optimum (measured in float64: 1e-10 after 4000 steps at lr 2).
    @Test func proximalAdamGivesExactZeros() throws {
        let ref = try Self.reference()
        let c = ref.cases[1]
        var config = CircuitConfiguration(kind: .lasso, dictDim: ref.dictDim, sysDim: 1)
        config.update = .proximal
        config.lmbda = c.lmbda
        config.learningRate = 2
        let circuit = try HebbianCircuit(config)
        for _ in 0..<4000 { try circuit.update(ref.x, ref.y, rows: ref.rows) }
        let zeros = c.coef.indices.filter { c.coef[$0] == 0 }
        #expect(zeros.allSatisfy { circuit.weights[$0] == 0 }, "\(circuit.weights)")
        let scale = c.coef.map(abs).max()!
        let deviation = zip(circuit.weights, c.coef).map { abs(Double($0) - $1) }.max()! / scale
        #expect(deviation <= 1e-4, "proximal Adam deviation \(deviation)")
    }
}
