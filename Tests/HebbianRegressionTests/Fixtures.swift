import Foundation
@testable import HebbianRegression

/// Loads the reference vectors (data, not code; docs/MATH.md, "Reference vectors", says how they were made).
/// `ngclearn_sys1.json` is shared with the end-to-end tests and lives once, in the top-level `Tests/Fixtures`
/// (no target's sources); `brainstate_priors.json` only this target uses, in its own `Fixtures` directory.
enum Fixtures {
    /// Tests/HebbianRegressionTests/Fixtures.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    /// Tests/Fixtures.
    static let sharedDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func json(_ name: String, in directory: URL = directory) throws -> [String: Any] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    nonisolated(unsafe) static let ngclearn: [String: Any] = try! json("ngclearn_sys1.json", in: sharedDirectory)
    nonisolated(unsafe) static let brainstate: [String: Any] = try! json("brainstate_priors.json")
}

/// Flattens nested JSON number arrays, row-major.
func flat(_ value: Any?) -> [Double] {
    switch value {
    case let n as NSNumber: return [n.doubleValue]
    case let a as [Any]: return a.flatMap { flat($0) }
    default: return []
    }
}

func flatFloat(_ value: Any?) -> [Float] { flat(value).map(Float.init) }

func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// The sys1 data set: X (200×20), Y (200×1), float32.
struct Sys1 {
    let x: [Float], y: [Float], rows: Int, dictDim: Int, sysDim: Int
    static let shared: Sys1 = {
        let data = Fixtures.ngclearn["data"] as! [String: Any]
        return Sys1(x: flatFloat(data["X"]), y: flatFloat(data["Y"]), rows: data["n_samples"] as! Int,
                    dictDim: data["dict_dim"] as! Int, sysDim: data["sys_dim"] as! Int)
    }()

    func rows(_ range: Range<Int>) -> (x: [Float], y: [Float]) {
        (Array(x[(range.lowerBound * dictDim)..<(range.upperBound * dictDim)]),
         Array(y[(range.lowerBound * sysDim)..<(range.upperBound * sysDim)]))
    }
}

extension HebbianCircuit {
    /// Test convenience over arrays.
    @discardableResult
    func step(_ x: [Float], _ y: [Float], rows: Int) throws -> Double {
        try x.withUnsafeBufferPointer { xp in try y.withUnsafeBufferPointer { yp in try step(x: xp, y: yp, rows: rows) } }
    }

    @discardableResult
    func update(_ x: [Float], _ y: [Float], rows: Int) throws -> UpdateReport {
        try x.withUnsafeBufferPointer { xp in try y.withUnsafeBufferPointer { yp in try update(x: xp, y: yp, rows: rows) } }
    }
}

/// The configuration of one reference run (`lasso_adam`, …).
func referenceConfiguration(run: String) -> CircuitConfiguration {
    let hp = Fixtures.ngclearn["hyperparameters"] as! [String: Any]
    let parts = run.split(separator: "_")
    let optimizer = OptimizerKind(rawValue: String(parts.last!))!
    let kind = RegressionKind(rawValue: parts.dropLast().joined(separator: "_"))!
    var c = CircuitConfiguration(kind: kind, dictDim: 20, sysDim: 1)
    c.optimizer = optimizer
    c.learningRate = Float((hp["lr"] as! [String: Any])[optimizer.rawValue] as! Double)
    c.lmbda = Float(hp["lmbda"] as! Double)
    c.l1Ratio = Float(hp["l1_ratio_elastic_net"] as! Double)
    c.weightFill = Float(hp["weight_fill"] as! Double)
    c.threshold = Float(hp["threshold"] as! Double)
    return c
}

let referenceRuns = ["lasso_adam", "lasso_sgd", "ridge_adam", "ridge_sgd", "elastic_net_adam", "elastic_net_sgd"]
