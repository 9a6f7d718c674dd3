import Foundation
import Testing
@testable import HebbianRegression

/// `sample_init`: reproducible from the seed, and drawing what brainstate draws for each kind.
@Suite struct PriorSamplingTests {
    static func draws(_ kind: PriorKind, _ arguments: [PriorArgument: PriorArgumentValue] = [:], rows: Int = 20_000, columns: Int = 1,
                      seed: UInt64 = 3) -> [Double] {
        let prior = WeightPrior<Double>(PriorConfiguration(kind: kind, arguments: arguments), rows: rows, columns: columns, optimizer: .sgd)
        var generator = SeededGenerator(seed: seed)
        return prior.sampleInit(count: rows * columns, using: &generator)
    }

    static func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
    static func std(_ x: [Double]) -> Double {
        let m = mean(x)
        return (x.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(x.count)).squareRoot()
    }
    static func median(_ x: [Double]) -> Double { x.sorted()[x.count / 2] }

    @Test(arguments: PriorKind.allCases)
    func reproducibleFromTheSeed(_ kind: PriorKind) {
        let configuration = kind == .chain ? PriorConfiguration.chain([PriorConfiguration(kind: .cauchy)]) : PriorConfiguration(kind: kind)
        let prior = WeightPrior<Float>(configuration, rows: 4, columns: 3, optimizer: .sgd)
        var a = SeededGenerator(seed: 11), b = SeededGenerator(seed: 11), c = SeededGenerator(seed: 12)
        let first = prior.sampleInit(count: 12, using: &a)
        #expect(first.count == 12 && first.allSatisfy(\.isFinite))
        #expect(prior.sampleInit(count: 12, using: &b) == first)
        // Entropy (maximize) starts at the uniform softmax: zeros, whatever the seed.
        if kind == .entropy {
            #expect(first == [Float](repeating: 0, count: 12))
        } else {
            #expect(prior.sampleInit(count: 12, using: &c) != first)
        }
    }

    /// Moments and supports, each within a few standard errors of the 20 000 draws.
    @Test func distributionsMatchBrainstatesDraws() {
        // Laplace(0, b = 1/w): std b√2.
        #expect(abs(Self.std(Self.draws(.l1, [.weight: .numbers([2])])) - 0.5 * 2.0.squareRoot()) < 0.02)
        // L2 draws with std 1/√w (brainstate's choice, not the 1/√(2w) of exp(−w x²)).
        #expect(abs(Self.std(Self.draws(.l2, [.weight: .numbers([4])])) - 0.5) < 0.01)
        #expect(abs(Self.std(Self.draws(.huber, [.weight: .numbers([4])])) - 0.5) < 0.01)
        // Student-t draws a Gaussian of std = scale.
        #expect(abs(Self.std(Self.draws(.studentT, [.scale: .numbers([0.3])])) - 0.3) < 0.006)
        let cauchy = Self.draws(.cauchy, [.scale: .numbers([0.5])])
        #expect(abs(Self.median(cauchy)) < 0.03 && abs(Self.median(cauchy.map(abs)) - 0.5) < 0.03)
        let uniform = Self.draws(.uniform, [.lower: .numbers([-2]), .upper: .numbers([3])])
        #expect(uniform.allSatisfy { (-2..<3).contains($0) } && abs(Self.mean(uniform) - 0.5) < 0.05)
        let logNormal = Self.draws(.logNormal, [.mu: .numbers([-1]), .sigma: .numbers([0.5])])
        #expect(logNormal.allSatisfy { $0 > 0 } && abs(Self.median(logNormal) - exp(-1)) < 0.01)
        let exponential = Self.draws(.exponential, [.rate: .numbers([2])])
        #expect(exponential.allSatisfy { $0 >= 0 } && abs(Self.mean(exponential) - 0.5) < 0.015)
        let gamma = Self.draws(.gamma, [.alpha: .numbers([3]), .beta: .numbers([2])])
        #expect(gamma.allSatisfy { $0 > 0 } && abs(Self.mean(gamma) - 1.5) < 0.03 && abs(Self.std(gamma) - 3.0.squareRoot() / 2) < 0.03)
        let smallShape = Self.draws(.gamma, [.alpha: .numbers([0.5]), .beta: .numbers([1])])
        #expect(smallShape.allSatisfy { $0 >= 0 } && abs(Self.mean(smallShape) - 0.5) < 0.03)
        let inverseGamma = Self.draws(.inverseGamma, [.alpha: .numbers([4]), .beta: .numbers([3])])
        #expect(inverseGamma.allSatisfy { $0 > 0 } && abs(Self.mean(inverseGamma) - 1) < 0.03)
        let beta = Self.draws(.beta, [.a: .numbers([2]), .b: .numbers([6])])
        #expect(beta.allSatisfy { $0 > 0 && $0 < 1 } && abs(Self.mean(beta) - 0.25) < 0.01)
        let logUniform = Self.draws(.logUniform, [.lower: .numbers([0.01]), .upper: .numbers([100])])
        #expect(logUniform.allSatisfy { $0 >= 0.01 && $0 <= 100.0001 } && abs(Self.median(logUniform) - 1) < 0.1)
        let spike = Self.draws(.spikeAndSlab, [.pi: .numbers([0.8]), .spikeScale: .numbers([0.001])])
        let nearZero = Double(spike.filter { abs($0) < 0.01 }.count) / Double(spike.count)
        #expect(abs(nearZero - (0.8 + 0.2 * 0.008)) < 0.015)
        let horseshoe = Self.draws(.horseshoe, [.tau: .numbers([0.1])])
        #expect(abs(Self.median(horseshoe)) < 0.01 && Self.median(horseshoe.map(abs)) < 0.1)
        let gaussian = Self.draws(.gaussian, [.mean: .numbers([0.5]), .std: .numbers([2])])
        #expect(abs(Self.mean(gaussian) - 0.5) < 0.05 && abs(Self.std(gaussian) - 2) < 0.04)
        let net = Self.draws(.elasticNet, [.alpha: .numbers([1]), .l1Weight: .numbers([2])])
        #expect(abs(Self.std(net) - 0.5 * 2.0.squareRoot()) < 0.02)
    }

    /// The structured priors' draws have the structure their penalty asks for.
    @Test func structuredDrawsHaveTheirStructure() {
        // Orthogonal: orthonormal columns (tall W) or rows (wide W).
        let tall = Self.draws(.orthogonal, rows: 6, columns: 3)
        for a in 0..<3 {
            for b in 0..<3 {
                let dot = (0..<6).map { tall[$0 * 3 + a] * tall[$0 * 3 + b] }.reduce(0, +)
                #expect(abs(dot - (a == b ? 1 : 0)) < 1e-12)
            }
        }
        let wide = Self.draws(.orthogonal, rows: 2, columns: 5)
        for a in 0..<2 {
            for b in 0..<2 {
                let dot = (0..<5).map { wide[a * 5 + $0] * wide[b * 5 + $0] }.reduce(0, +)
                #expect(abs(dot - (a == b ? 1 : 0)) < 1e-12)
            }
        }
        // Spectral norm: largest singular value = max_value; max norm: Frobenius norm = max_value / 2.
        let spectral = Self.draws(.spectralNorm, [.maxValue: .numbers([1.5])], rows: 4, columns: 3)
        #expect(abs(spectral.withUnsafeBufferPointer { PriorMath.topSingularTriple($0, rows: 4, columns: 3).sigma } - 1.5) < 1e-6)
        let maxNorm = Self.draws(.maxNorm, [.maxValue: .numbers([3])], rows: 4, columns: 3)
        #expect(abs(maxNorm.map { $0 * $0 }.reduce(0, +).squareRoot() - 1.5) < 1e-6)
        // Dirichlet: logits of a point on the simplex.
        let logits = Self.draws(.dirichlet, [.alpha: .numbers([2])], rows: 10)
        #expect(abs(logits.map { exp($0) }.reduce(0, +) - 1) < 1e-12)
        // Total variation: a random walk, its steps N(0, 1/w)/√size.
        let walk = Self.draws(.totalVariation, [.weight: .numbers([4])])
        let steps = zip(walk.dropFirst(), walk).map { ($0 - $1) * Double(walk.count).squareRoot() }
        #expect(abs(Self.std(steps) - 0.5) < 0.01)
        // Entropy with maximize = false draws N(0, 1).
        #expect(abs(Self.std(Self.draws(.entropy, [.maximize: .flag(false)])) - 1) < 0.02)
    }

    /// The top singular triple the spectral norm uses: W = σ u vᵀ + the rest, checked on a known matrix.
    @Test func topSingularTripleOfAKnownMatrix() {
        // W = 3·e₁f₁ᵀ + 1·e₂f₂ᵀ with orthonormal f₁ = (0.6, 0.8), f₂ = (0.8, −0.6).
        let w: [Double] = [1.8, 2.4, 0.8, -0.6, 0, 0]
        let top = w.withUnsafeBufferPointer { PriorMath.topSingularTriple($0, rows: 3, columns: 2) }
        #expect(abs(top.sigma - 3) < 1e-12)
        #expect(abs(abs(top.v[0]) - 0.6) < 1e-12 && abs(abs(top.v[1]) - 0.8) < 1e-12)
        #expect(abs(abs(top.u[0]) - 1) < 1e-12 && abs(top.u[1]) < 1e-12)
        let wide = [1.8, 0.8, 0, 2.4, -0.6, 0]   // its transpose
        #expect(abs(wide.withUnsafeBufferPointer { PriorMath.topSingularTriple($0, rows: 2, columns: 3) }.sigma - 3) < 1e-12)
    }
}
