import CHebbKernels
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
import Testing
@testable import HebbianRegression

/// The C step kernels (`CHebbKernels`) on every instruction set this CPU has, against plain Swift references:
/// the products against Double sums, the element-wise loops (Adam, the penalty's gradient) bit for bit against the
/// scalar float32 expressions they replace.
@Suite(.serialized) struct StepKernelTests {
    /// Every instruction set the CPU runs; the one in force is restored after `body`.
    static func onEveryInstructionSet(_ body: (StepKernels.InstructionSet) throws -> Void) rethrows {
        try KernelConfigurationLock.held {
            let original = StepKernels.current
            defer { StepKernels.use(original) }
            for isa in StepKernels.InstructionSet.allCases where StepKernels.use(isa) == isa {
                try body(isa)
            }
        }
    }


    static func gaussian(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<count).map { _ in scale * Float(g.nextGaussian()) }
    }

    @Test func theBestInstructionSetIsChosenAndTheBaselineAlwaysRuns() {
        KernelConfigurationLock.held {
            let original = StepKernels.current
            defer { StepKernels.use(original) }
            #expect(StepKernels.use(.baseline) == .baseline)
            #if arch(x86_64)
            // Whatever the CPU, the automatic choice is at least as wide as AVX2 when the CPU has AVX2.
            #expect(original != .baseline || StepKernels.use(.avx2) == .baseline)
            #endif
        }
    }

    @Test(arguments: [
        // (rows, dict_dim, sys_dim): s = 1 with d below, at and off the vector width and rows off the row blocks;
        // s = 16·V with odd d and rows.
        (1, 1, 1), (3, 7, 1), (8, 16, 1), (13, 100, 1), (64, 256, 1), (65, 67, 1),
        (1, 5, 16), (13, 33, 16), (25, 64, 32), (7, 9, 48), (11, 128, 64), (5, 3, 64),
    ])
    func productsMatchADoublePrecisionReference(shape: (Int, Int, Int)) throws {
        let (rows, d, s) = shape
        let x = Self.gaussian(rows * d, seed: 1), y = Self.gaussian(rows * s, seed: 2)
        let w = Self.gaussian(d * s, seed: 3, scale: 0.3), bias = Self.gaussian(s, seed: 4)
        // Reference in Double: e = (y − b) − x·w, g = −xᵀe.
        var eRef = [Double](repeating: 0, count: rows * s), gRef = [Double](repeating: 0, count: d * s)
        for r in 0..<rows {
            for k in 0..<s {
                var p = 0.0
                for j in 0..<d { p += Double(x[r * d + j]) * Double(w[j * s + k]) }
                eRef[r * s + k] = Double(y[r * s + k]) - Double(bias[k]) - p
            }
        }
        for j in 0..<d { for k in 0..<s { for r in 0..<rows { gRef[j * s + k] -= Double(x[r * d + j]) * eRef[r * s + k] } } }
        #expect(hebb_products_computes(d, s) != 0)
        Self.onEveryInstructionSet { isa in
            for withBias in [false, true] {
                var e = [Float](repeating: .nan, count: rows * s), g = [Float](repeating: .nan, count: d * s)
                x.withUnsafeBufferPointer { x in
                    y.withUnsafeBufferPointer { y in
                        w.withUnsafeBufferPointer { w in
                            bias.withUnsafeBufferPointer { b in
                                hebb_products(x.baseAddress!, y.baseAddress!, w.baseAddress!, withBias ? b.baseAddress : nil,
                                              &e, &g, rows, d, s)
                            }
                        }
                    }
                }
                let shift = withBias ? 0 : 1.0
                for i in 0..<(rows * s) {
                    let expected = eRef[i] + (withBias ? 0 : shift * Double(bias[i % s]))
                    #expect(abs(Double(e[i]) - expected) <= 1e-4 * (1 + abs(expected)), "\(isa) e[\(i)] of \(shape)")
                }
                if withBias {
                    for i in 0..<(d * s) {
                        #expect(abs(Double(g[i]) - gRef[i]) <= 1e-3 * (1 + abs(gRef[i])), "\(isa) g[\(i)] of \(shape)")
                    }
                }
                // Without a gradient buffer only e is written.
                var e2 = [Float](repeating: .nan, count: rows * s)
                x.withUnsafeBufferPointer { x in
                    y.withUnsafeBufferPointer { y in
                        w.withUnsafeBufferPointer { w in hebb_products(x.baseAddress!, y.baseAddress!, w.baseAddress!, nil, &e2, nil, rows, d, s) }
                    }
                }
                #expect(e2.allSatisfy { $0.isFinite })
            }
        }
    }

    @Test func aBigProductSplitAmongThreadsGivesTheSameResidualAndGradient() throws {
        let (rows, d, s) = (1024, 1024, 16)   // 2²⁴ multiply-adds: the smallest product that is split
        #expect(rows * d * s >= HEBB_PARALLEL_MIN_WORK)
        let x = Self.gaussian(rows * d, seed: 21), y = Self.gaussian(rows * s, seed: 22), w = Self.gaussian(d * s, seed: 23, scale: 0.1)
        func run() -> (e: [Float], g: [Float]) {
            var e = [Float](repeating: .nan, count: rows * s), g = [Float](repeating: .nan, count: d * s)
            hebb_products(x, y, w, nil, &e, &g, rows, d, s)
            return (e, g)
        }
        KernelConfigurationLock.held {
            let before = hebb_kernels_threads()
            defer { _ = hebb_kernels_set_threads(before) }
            _ = hebb_kernels_set_threads(1)
            let serial = run()
            #expect(hebb_kernels_set_threads(3) == 3)
            for _ in 0..<3 {
                let split = run()
                // Each row's residual is computed by one thread, whole: bit for bit. The gradient is summed per share.
                #expect(split.e.map(\.bitPattern) == serial.e.map(\.bitPattern))
                let worst = zip(split.g, serial.g).map { abs($0 - $1) / (1 + abs($1)) }.max() ?? .nan
                #expect(worst < 1e-4)
            }
        }
    }

    /// `hebb_parallel_run` hands each part of a job to exactly one thread — claimed by the caller or a helper — and
    /// returns only when every part has finished, whether it split the job (two threads) or ran it alone (one thread,
    /// or backing off); many short jobs in a row cross the helpers' spin-then-park hand-offs.
    @Test func everyPartOfAJobRunsExactlyOnce() {
        let parts = 8, jobs = 2000
        KernelConfigurationLock.held {
            let before = hebb_kernels_threads()
            defer { _ = hebb_kernels_set_threads(before) }
            for threads: Int32 in [1, 2, 3] {
                _ = hebb_kernels_set_threads(threads)
                var counts = [Int](repeating: 0, count: parts * jobs)
                counts.withUnsafeMutableBufferPointer { c in
                    var context = (counts: c.baseAddress!, job: 0)
                    for job in 0..<jobs {
                        context.job = job
                        _ = hebb_parallel_run({ raw, part, parts in
                            let context = raw!.assumingMemoryBound(to: (counts: UnsafeMutablePointer<Int>, job: Int).self).pointee
                            context.counts[context.job * Int(parts) + Int(part)] += 1
                        }, &context, Int32(parts))
                    }
                }
                #expect(counts.allSatisfy { $0 == 1 }, "\(threads) threads")
            }
        }
    }

    /// Which products the fused kernels take depends on the instruction set in force: s = 1 and 16 on every one,
    /// s = 32, 48 and 64 only with AVX-512 (with 16 vector registers OpenBLAS was faster there), whatever the kernels
    /// can compute; a step follows the choice (`StepKernels.fused`).
    @Test func wideSynapsesGoToTheKernelsOnlyWithAVX512() {
        Self.onEveryInstructionSet { isa in
            for s in [1, 16] {
                #expect(hebb_products_supported(1024, s, 1 << 20) != 0, "\(isa) s = \(s)")
                #expect(StepKernels.fused(dictDim: 1024, sysDim: s), "\(isa) s = \(s)")
            }
            for s in [32, 48, 64] {
                #expect(hebb_products_computes(1024, s) != 0)
                #expect((hebb_products_supported(1024, s, 1 << 20) != 0) == (isa == .avx512), "\(isa) s = \(s)")
                #expect(StepKernels.fused(dictDim: 1024, sysDim: s) == (isa == .avx512), "\(isa) s = \(s)")
            }
        }
    }

    @Test func shapesOutsideTheKernelsGoToBLAS() {
        #expect(hebb_products_supported(64, 2, 1 << 20) == 0 && hebb_products_computes(64, 2) == 0)
        #expect(hebb_products_supported(64, 80, 1 << 20) == 0 && hebb_products_computes(64, 80) == 0)
        #expect(hebb_products_supported(32768, 64, LinearAlgebra.fusedKernelMaxWeights) == 0)   // 2²¹ weights: beyond the limit
        #expect(StepKernels.fused(dictDim: 256, sysDim: 1) && StepKernels.fused(dictDim: 1024, sysDim: 16))
    }

    /// The scalar float32 Adam step the kernel replaces (ngclearn's order, no fused multiply-add: Swift never fuses).
    static func scalarAdam(w: inout [Float], m: inout [Float], v: inout [Float], g: [Float], lr: Float, t: Float, shrink: Float) {
        let b1 = OptimizerState.beta1, b2 = OptimizerState.beta2, eps = OptimizerState.epsilon
        let o1 = OptimizerState.oneMinusBeta1, o2 = OptimizerState.oneMinusBeta2
        let c1: Float = 1 - powf(b1, t), c2: Float = 1 - powf(b2, t)
        for i in w.indices {
            let mi = b1 * m[i] + o1 * g[i]
            let vi = b2 * v[i] + o2 * (g[i] * g[i])
            m[i] = mi
            v[i] = vi
            let den = (vi / c2).squareRoot() + eps
            let stepped = w[i] - lr * (mi / c1) / den
            w[i] = shrink > 0 ? OptimizerState.softThreshold(stepped, shrink / den) : stepped
        }
    }

    @Test(arguments: [1, 15, 16, 17, 250, 1027])
    func adamIsBitForBitTheScalarStep(count: Int) throws {
        Self.onEveryInstructionSet { isa in
            for shrink: Float in [0, 0.05] {
                var w = Self.gaussian(count, seed: 5), wRef = w
                var state = OptimizerState(kind: .adam, count: count)
                var m = [Float](repeating: 0, count: count), v = m
                for step in 1...4 {
                    let g = Self.gaussian(count, seed: UInt64(10 + step), scale: step == 3 ? 1e6 : 1)
                    #expect(w.withUnsafeBufferPointer { w in g.withUnsafeBufferPointer { g in state.stepIsFinite(weights: w, gradient: g, learningRate: 0.01, l1Shrink: shrink) } })
                    w.withUnsafeMutableBufferPointer { w in
                        g.withUnsafeBufferPointer { g in state.step(weights: w, gradient: g, learningRate: 0.01, l1Shrink: shrink) }
                    }
                    Self.scalarAdam(w: &wRef, m: &m, v: &v, g: g, lr: 0.01, t: Float(step), shrink: 0.01 * shrink)
                    #expect(w.map(\.bitPattern) == wRef.map(\.bitPattern), "\(isa) W after step \(step), shrink \(shrink)")
                    #expect(state.m.map(\.bitPattern) == m.map(\.bitPattern) && state.v.map(\.bitPattern) == v.map(\.bitPattern))
                }
            }
        }
    }

    @Test(arguments: [1, 16, 33])
    func anAdamStepThatWouldOverflowIsJudgedSoAndWritesNothing(count: Int) throws {
        Self.onEveryInstructionSet { isa in
            // The non-finite lane anywhere: first, in the vector body, in the tail.
            for bad in Set([0, count / 2, count - 1]) {
                let state = OptimizerState(kind: .adam, count: count)
                let w = Self.gaussian(count, seed: 6)
                var g = Self.gaussian(count, seed: 7)
                g[bad] = 3e19   // g² overflows v
                let finite = w.withUnsafeBufferPointer { w in g.withUnsafeBufferPointer { g in state.stepIsFinite(weights: w, gradient: g, learningRate: 0.01) } }
                #expect(!finite, "\(isa) lane \(bad) of \(count)")
                #expect(state.m.allSatisfy { $0 == 0 } && state.v.allSatisfy { $0 == 0 })
                var sgd = OptimizerState(kind: .sgd, count: count)
                let sgdFinite = w.withUnsafeBufferPointer { w in g.withUnsafeBufferPointer { g in sgd.stepIsFinite(weights: w, gradient: g, learningRate: 1e20) } }
                #expect(!sgdFinite)
                sgd.reset()
            }
        }
    }

    @Test func thePenaltyGradientIsBitForBitEachKindsScalarExpression() throws {
        let w = Self.gaussian(37, seed: 8) + [0, -0.0, 1e-30]
        let g0 = Self.gaussian(w.count, seed: 9)
        func sign(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : 0) }
        Self.onEveryInstructionSet { isa in
            for kind in [RegressionKind.lasso, .ridge, .elasticNet] {
                for includeL1 in [true, false] {
                    let p = Penalty(kind: kind, lmbda: 0.37, l1Ratio: 0.3)
                    var g = g0
                    w.withUnsafeBufferPointer { w in g.withUnsafeMutableBufferPointer { g in p.accumulateGradient(of: w, into: g, includeL1: includeL1) } }
                    let lam: Float = 0.37, r: Float = 0.3, half = (1 - r) / 2
                    let expected: [Float] = zip(w, g0).map { x, gi in
                        switch (kind, includeL1) {
                        case (.lasso, true): gi + lam * sign(x)
                        case (.lasso, false): gi
                        case (.ridge, _): gi + lam * x
                        case (.elasticNet, true): gi + lam * (r * sign(x) + x * half)
                        case (.elasticNet, false): gi + lam * (x * half)
                        }
                    }
                    #expect(g.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) \(kind) includeL1 \(includeL1)")
                    let value = w.withUnsafeBufferPointer { p.value(of: $0) }
                    let l1 = w.reduce(0.0) { $0 + Double(abs($1)) }, l2 = w.reduce(0.0) { $0 + Double($1) * Double($1) }
                    let expectedValue = switch kind {
                    case .lasso: 0.37 * l1
                    case .ridge: 0.37 / 2 * l2
                    case .elasticNet: 0.37 * 0.3 * l1 + 0.37 * 0.7 / 4 * l2
                    }
                    #expect(abs(value - Double(Float(0.37)) / 0.37 * expectedValue) <= 1e-6 * abs(expectedValue))
                }
            }
        }
    }

    /// A batch's per-column statistics (`hebb_batch_moments`, what `RunningMoments.add` merges) are bit for bit the
    /// scalar column loops — the sum over the rows in order, the mean, then the squared deviations in order — on
    /// every instruction set, for widths on and off the vector lengths and columns far from zero (a date ordinal).
    @Test(arguments: [(1, 1), (7, 3), (64, 17), (256, 33), (3, 1040)])
    func batchMomentsAreBitForBitTheColumnLoops(shape: (Int, Int)) {
        let (rows, cols) = shape
        let noise = Self.gaussian(rows * cols, seed: 27, scale: 3)
        let values: [Float] = (0..<(rows * cols)).map { i in (i % cols) % 4 == 1 ? 736_389 + noise[i] * 100 : noise[i] }
        var expectedMean = [Double](repeating: 0, count: cols), expectedM2 = expectedMean
        for j in 0..<cols {
            var sum = 0.0
            for r in 0..<rows { sum += Double(values[r * cols + j]) }
            expectedMean[j] = sum / Double(rows)
            var m2 = 0.0
            for r in 0..<rows {
                let d = Double(values[r * cols + j]) - expectedMean[j]
                m2 += d * d
            }
            expectedM2[j] = m2
        }
        Self.onEveryInstructionSet { isa in
            var mean = [Double](repeating: .nan, count: cols), m2 = mean
            hebb_batch_moments(values, rows, cols, &mean, &m2)
            #expect(mean.map(\.bitPattern) == expectedMean.map(\.bitPattern), "\(isa) \(rows)×\(cols): means")
            #expect(m2.map(\.bitPattern) == expectedM2.map(\.bitPattern), "\(isa) \(rows)×\(cols): M2")
        }
    }

    /// A standardised batch (`hebb_standardize`) is bit for bit (x − shift)·inverse_scale in float32 on every
    /// instruction set, a zero inverse scale (a constant column) included.
    @Test(arguments: [(1, 1), (5, 15), (9, 16), (4, 1041)])
    func standardisingIsBitForBitTheScalarExpression(shape: (Int, Int)) {
        let (rows, cols) = shape
        let values = Self.gaussian(rows * cols, seed: 28, scale: 50)
        let shift = Self.gaussian(cols, seed: 29, scale: 10)
        let inverseScale = Self.gaussian(cols, seed: 30).enumerated().map { $0.offset % 5 == 2 ? 0 : abs($0.element) + 0.01 }
        var expected = [Float](repeating: 0, count: rows * cols)
        for r in 0..<rows { for j in 0..<cols { expected[r * cols + j] = (values[r * cols + j] - shift[j]) * inverseScale[j] } }
        Self.onEveryInstructionSet { isa in
            var out = [Float](repeating: .nan, count: rows * cols)
            hebb_standardize(values, rows, cols, shift, inverseScale, &out)
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) \(rows)×\(cols)")
        }
    }

    /// The published coefficients without standardisation (`hebb_threshold`) are bit for bit the scalar select —
    /// values at, just under and over the threshold, ±0 — and the count is of the nonzero ones, on every
    /// instruction set and at lengths on and off the vector widths.
    @Test(arguments: [1, 15, 16, 17, 250, 1027])
    func thresholdingIsBitForBitTheScalarSelect(n: Int) {
        for threshold: Float in [0, 0.25] {
            var w = Self.gaussian(n, seed: 26, scale: 0.4)
            w[0] = n > 1 ? -0.0 : threshold
            if n > 3 { w[1] = threshold; w[2] = -threshold.nextDown; w[3] = threshold.nextUp }
            let expected = w.map { abs($0) >= threshold ? $0 : 0 }
            Self.onEveryInstructionSet { isa in
                var out = [Float](repeating: .nan, count: n)
                let count = hebb_threshold(w, n, threshold, &out)
                #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) n = \(n) threshold \(threshold)")
                #expect(count == expected.count { $0 != 0 }, "\(isa) n = \(n) threshold \(threshold): nonzero count")
                // In place, as `prune` uses it.
                var inPlace = w
                _ = inPlace.withUnsafeMutableBufferPointer { hebb_threshold($0.baseAddress, n, threshold, $0.baseAddress) }
                #expect(inPlace.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) n = \(n) threshold \(threshold): in place")
            }
        }
    }

    /// The raw-unit coefficients of a standardised model (`hebb_user_unit_coefficients`, what
    /// `Standardizer.userUnitCoefficients` publishes) are bit for bit the scalar Double expressions — value, bias
    /// and count — on every instruction set: widths on and off the vector lengths, entries at, just under and over
    /// the threshold, ±0, and constant columns (scale 0: zeros, the bias untouched).
    @Test(arguments: [(7, 1), (33, 1), (5, 16), (9, 17), (4, 64), (3, 3)])
    func userUnitCoefficientsAreBitForBitTheScalarExpressions(shape: (Int, Int)) {
        let (d, s) = shape
        let threshold: Float = 0.25
        var w = Self.gaussian(d * s, seed: 21, scale: 0.4)
        w[0] = threshold; w[w.count - 1] = -threshold.nextDown; w[w.count / 2] = -0.0
        if w.count > 3 { w[1] = threshold.nextUp; w[2] = 0 }
        let targetScale: [Double] = Self.gaussian(s, seed: 22).map { 0.5 + 7 * Double(abs($0)) }
        let xMean: [Double] = Self.gaussian(d, seed: 23).map { 1e3 * Double($0) }
        // Every third feature is a constant column.
        let spreads = Self.gaussian(d, seed: 25)
        let xScale: [Double] = (0..<d).map { j -> Double in j % 3 == 1 ? 0 : 0.01 + 3 * Double(abs(spreads[j])) }
        let biasStart: [Double] = Self.gaussian(s, seed: 24).map { 9 * Double($0) }
        var expected = [Float](repeating: 0, count: d * s), expectedBias = biasStart, expectedCount = 0
        for j in 0..<d where xScale[j] != 0 {
            for k in 0..<s {
                let v = w[j * s + k]
                guard abs(v) >= threshold else { continue }
                let raw = Double(v) * targetScale[k] / xScale[j]
                expected[j * s + k] = Float(raw)
                expectedBias[k] = expectedBias[k] - xMean[j] * raw
                if Float(raw) != 0 { expectedCount += 1 }
            }
        }
        Self.onEveryInstructionSet { isa in
            var out = [Float](repeating: .nan, count: d * s), bias = biasStart
            let count = hebb_user_unit_coefficients(w, d, s, threshold, targetScale, xScale, xMean, &out, &bias)
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(isa) \(d)×\(s): coefficients")
            #expect(bias.map(\.bitPattern) == expectedBias.map(\.bitPattern), "\(isa) \(d)×\(s): bias")
            #expect(count == expectedCount, "\(isa) \(d)×\(s): nonzero count")
        }
    }

    @Test func finitenessIsFoundInEveryLane() throws {
        Self.onEveryInstructionSet { isa in
            for count in [1, 16, 35] {
                let clean = Self.gaussian(count, seed: 12, scale: 1e30)
                #expect(hebb_all_finite(clean, count) != 0)
                for position in 0..<count {
                    for bad: Float in [.nan, .infinity, -.infinity] {
                        var values = clean
                        values[position] = bad
                        #expect(hebb_all_finite(values, count) == 0, "\(isa) \(bad) at \(position) of \(count)")
                    }
                }
            }
        }
    }

    /// Unaligned input (an ingest frame lies where libzmq put it): the same answers at every byte offset.
    @Test func finitenessIsFoundAtAnyAlignment() {
        Self.onEveryInstructionSet { isa in
            for count in [1, 17, 40] {
                let clean = Self.gaussian(count, seed: 13)
                for shift in 1..<4 {
                    for position in [0, count / 2, count - 1] {
                        var bytes = [UInt8](repeating: 0, count: shift)
                        var values = clean
                        values[position] = .infinity
                        for v in values { withUnsafeBytes(of: v) { bytes.append(contentsOf: $0) } }
                        #expect(bytes.withUnsafeBytes { hebb_all_finite($0.baseAddress! + shift, count) } == 0, "\(isa) \(shift) \(position)")
                        var copy = [Float](repeating: 0, count: count)
                        #expect(bytes.withUnsafeBytes { hebb_copy_finite(&copy, $0.baseAddress! + shift, count) } == 0)
                        #expect(copy.map(\.bitPattern) == values.map(\.bitPattern), "\(isa): the copy is whole, bad value included")
                    }
                }
            }
        }
    }

    /// The copy that checks: the values bit for bit, and the same verdict as the check alone, in every lane.
    @Test func copyingChecksEveryLane() {
        Self.onEveryInstructionSet { isa in
            for count in [1, 16, 35] {
                let clean = Self.gaussian(count, seed: 14, scale: 1e30)
                var copy = [Float](repeating: 0, count: count)
                #expect(hebb_copy_finite(&copy, clean, count) != 0)
                #expect(copy.map(\.bitPattern) == clean.map(\.bitPattern))
                for position in 0..<count {
                    for bad: Float in [.nan, .infinity, -.infinity] {
                        var values = clean
                        values[position] = bad
                        #expect(hebb_copy_finite(&copy, values, count) == 0, "\(isa) \(bad) at \(position) of \(count)")
                    }
                }
            }
        }
    }

    /// What lets the step check its own input (HebbianCircuit.updateRefusingNonFinite): a NaN or ±Inf in a row of X
    /// makes every residual of that row and every gradient entry non-finite, one in Y its residual and its output's
    /// gradient column, on every instruction set and kernel shape — also where W is zero (∞·0 is NaN).
    @Test(arguments: [(5, 7, 1), (9, 37, 1), (13, 33, 16), (7, 9, 32), (3, 5, 48), (11, 20, 64)])
    func aNonFiniteInputMakesItsRowsResidualNonFinite(shape: (Int, Int, Int)) {
        let (rows, d, s) = shape
        let x = Self.gaussian(rows * d, seed: 15), y = Self.gaussian(rows * s, seed: 16)
        var e = [Float](repeating: 0, count: rows * s), g = [Float](repeating: 0, count: d * s)
        Self.onEveryInstructionSet { isa in
            for weights in [[Float](repeating: 0, count: d * s), Self.gaussian(d * s, seed: 17)] {
                for bad: Float in [.nan, .infinity, -.infinity] {
                    for (inX, position) in [(true, 0), (true, rows * d / 2), (true, rows * d - 1), (false, 0), (false, rows * s - 1)] {
                        var xb = x, yb = y
                        if inX { xb[position] = bad } else { yb[position] = bad }
                        hebb_products(xb, yb, weights, nil, &e, &g, rows, d, s)
                        let place = "\(isa) \(bad) in \(inX ? "x" : "y")[\(position)]"
                        // A bad x poisons its whole row of residuals and so every gradient entry; a bad y its own
                        // output's residual and that output's column of the gradient. Either way the step is refused.
                        let row = inX ? position / d : position / s
                        let outputs = inX ? Array(0..<s) : [position % s]
                        #expect(outputs.allSatisfy { !e[row * s + $0].isFinite }, "\(place)")
                        #expect((0..<d).allSatisfy { k in outputs.allSatisfy { !g[k * s + $0].isFinite } }, "\(place): the gradient")
                    }
                }
            }
        }
    }
}
