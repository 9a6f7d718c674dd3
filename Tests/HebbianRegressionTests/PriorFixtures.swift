import Foundation
import Testing
@testable import HebbianRegression

/// brainstate's reference cases (`Fixtures/brainstate_priors.json`) turned into hebbd prior configurations.
enum PriorFixtures {
    /// One entry of `cases` or `chains`.
    struct Case: Sendable, CustomTestStringConvertible {
        let id: String, precision: String
        let configuration: PriorConfiguration
        let rows: Int, columns: Int
        let x: [Double], loss: Double, gradX: [Double], resetValue: [Double]
        /// `fit_hyper.stored` and `fit_hyper.grad` by hyper-parameter name (empty when the case has none).
        let storedHyper: [String: [Double]], hyperGradients: [String: [Double]]
        var kind: PriorKind { configuration.kind }
        var testDescription: String { "\(precision) \(id)" }
    }

    static func root(_ precision: String) -> [String: Any] { Fixtures.brainstate[precision] as! [String: Any] }

    static func inputs(_ precision: String) -> [String: [Double]] {
        (root(precision)["inputs"] as! [String: Any]).mapValues { flat($0) }
    }

    /// Numbers as written in the file, with "NaN" and "±Infinity" strings read as such.
    static func numbers(_ value: Any?) -> [Double] {
        switch value {
        case let s as String: return [s == "NaN" ? .nan : (s.hasPrefix("-") ? -.infinity : .infinity)]
        case let a as [Any]: return a.flatMap { numbers($0) }
        default: return flat(value)
        }
    }

    /// The configuration of brainstate class `name` with constructor arguments `params`, set through the
    /// same key mapping a config loader uses.
    static func configuration(brainstateClass name: String, params: [String: Any]) throws -> PriorConfiguration {
        let kind = try #require(PriorKind(brainstateClass: name), "unknown class \(name)")
        var configuration = PriorConfiguration(kind: kind)
        for (key, raw) in params.sorted(by: { $0.key < $1.key }) {
            let argument = try #require(PriorArgument(rawValue: key), "unknown argument \(key)")
            let value: PriorArgumentValue
            switch kind.defaultValue(of: argument) {
            case .integer?: value = .integer((raw as! NSNumber).intValue)
            case .flag?: value = .flag((raw as! NSNumber).boolValue)
            default: value = .numbers(flat(raw))
            }
            try configuration.setArgument(key, to: value)
        }
        return configuration
    }

    /// `Class(k=v, k=v)` or `ChainedReg(Class(...), ..., weight=w)` as written in a case id (before the `@`).
    static func configuration(fromId text: Substring) throws -> PriorConfiguration {
        let open = text.firstIndex(of: "(")!
        let name = String(text[..<open])
        let body = text[text.index(after: open)..<text.index(before: text.endIndex)]
        var parts: [Substring] = [], depth = 0, start = body.startIndex
        for index in body.indices {
            switch body[index] {
            case "(", "[": depth += 1
            case ")", "]": depth -= 1
            case "," where depth == 0:
                parts.append(body[start..<index])
                start = body.index(after: index)
            default: break
            }
        }
        if start < body.endIndex { parts.append(body[start...]) }
        parts = parts.map { $0.drop(while: { $0 == " " }) }.filter { !$0.isEmpty }
        var params: [String: Any] = [:], components: [PriorConfiguration] = []
        for part in parts {
            if let equals = part.firstIndex(of: "="), !part[..<equals].contains("(") {
                let key = String(part[..<equals]), value = String(part[part.index(after: equals)...])
                params[key] = value == "True" ? NSNumber(value: true) : value == "False" ? NSNumber(value: false)
                    : try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed)
            } else {
                components.append(try configuration(fromId: part))
            }
        }
        var configuration = try Self.configuration(brainstateClass: name, params: params)
        configuration.components = components
        return configuration
    }

    static func cases(_ precision: String) throws -> [Case] {
        let inputs = Self.inputs(precision)
        return try (root(precision)["cases"] as! [[String: Any]]).map { c in
            let shape = c["shape"] as! [Int]
            let fit = c["fit_hyper"] as? [String: Any]
            return Case(
                id: c["id"] as! String, precision: precision,
                configuration: try configuration(brainstateClass: c["class"] as! String, params: c["params"] as! [String: Any]),
                rows: shape[0], columns: shape.count > 1 ? shape[1] : 1,
                x: inputs[c["x"] as! String]!, loss: numbers(c["loss"])[0], gradX: numbers(c["grad_x"]),
                resetValue: numbers(c["reset_value"]),
                storedHyper: ((fit?["stored"] as? [String: Any]) ?? [:]).mapValues { numbers($0) },
                hyperGradients: ((fit?["grad"] as? [String: Any]) ?? [:]).mapValues { numbers($0) })
        }
    }

    static func chains(_ precision: String) throws -> [Case] {
        let inputs = Self.inputs(precision)
        return try (root(precision)["chains"] as! [[String: Any]]).map { c in
            let id = c["id"] as! String
            let x = inputs[c["x"] as! String]!
            return Case(id: id, precision: precision, configuration: try configuration(fromId: id.split(separator: "@")[0]),
                        rows: x.count, columns: 1, x: x, loss: numbers(c["loss"])[0], gradX: numbers(c["grad_x"]),
                        resetValue: numbers(c["reset_value"]), storedHyper: [:], hyperGradients: [:])
        }
    }
}

/// |a − b| relative to |b|, with differences below `floor` (the float64 noise floor of values near 0) ignored.
func relativeError(_ a: Double, _ b: Double, floor: Double = 1e-6) -> Double {
    if a == b { return 0 }
    return abs(a - b) / max(abs(b), floor)
}

/// The largest difference relative to the largest magnitude in `b` (the scale of the whole gradient).
func worstRelativeError(_ a: [Double], _ b: [Double], floor: Double = 1e-6) -> Double {
    guard a.count == b.count else { return .infinity }
    let scale = max(b.map(abs).max() ?? 0, floor)
    return zip(a, b).map { $0 == $1 ? 0 : abs($0 - $1) / scale }.max() ?? 0
}

/// A scalar value or an array, expanded to `count` values.
func expanded(_ values: [Double], _ count: Int) -> [Double] {
    values.count == 1 ? Array(repeating: values[0], count: count) : values
}
