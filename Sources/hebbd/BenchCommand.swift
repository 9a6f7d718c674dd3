import ArgumentParser
import CBLAS
import Dispatch
import Foundation
import HebbCore
import HebbDaemon
import HebbianRegression

/// `hebbd bench`: a model's learning core run in-process on synthetic data, timed per update.
///
/// `--path core` (the default) times `HebbianCircuit.update` alone, the figure to hold against an in-process
/// numpy loop (Benchmarks/numpy_lasso.py); with `--kind bayesian`, `BayesianRegression.update` (Benchmarks/bayesian.py
/// holds it against River), and with `--uncertainty` a sparse circuit's update plus the Gram product of its
/// ``CircuitUncertainty``, whose GFLOP/s it prints beside the machine's `dsyrk` rate at the same shape. `--path engine` feeds the same rows as binary ingest frames through
/// an in-memory ``EngineCore`` (decode, validate, copy, update, encode the coefficient message), the engine
/// thread's whole share of the work without sockets: the figure to compare hot-path variants on, e.g. under
/// `valgrind --tool=callgrind`, where only instruction counts matter.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a model's learning core in-process on synthetic data: updates/s, samples/s, latency percentiles.",
        discussion: "Either --dict-dim/--sys-dim/--batch (a lasso/Adam model with the config defaults) or --config FILE --model NAME."
    )

    @Option(help: "A config file defining the model (with --model).") var config: String?
    @Option(help: "The model's name in --config.") var model: String?
    @Option(name: .customLong("dict-dim"), help: "Features per row (without --config).") var dictDim: Int = 256
    @Option(name: .customLong("sys-dim"), help: "Targets per row (without --config).") var sysDim: Int = 1
    @Option(help: "Rows per update, batch_size (without --config).") var batch: Int = 64
    @Option(help: "Timed updates.") var updates: Int = 2000
    @Option(help: "Untimed updates first (warm caches, page in buffers).") var warmup: Int = 20
    @Option(help: "core: the circuit's update alone; engine: binary ingest frames through an in-memory engine (decode, copy, update, publish encoding).")
    var path: BenchPath = .core
    @Option(help: "Publish format on the engine path: json or binary.") var publish: String = "json"
    @Flag(name: .customLong("no-subscriber"), help: "Engine path: nobody subscribes (a daemon whose XPUB socket has no reader: coefficient messages are not encoded); default: every message is encoded, as for a subscriber.")
    var noSubscriber = false
    @Option(name: .customLong("rows-per-message"), help: "Rows per ingest message on the engine path (default: one batch).")
    var rowsPerMessage: Int?
    @Option(name: .customLong("checkpoint-every"),
            help: "Engine path: checkpoint the model every N updates (snapshot on the timed thread, written and synced by the daemon's background writer into a temporary directory); 0: never.")
    var checkpointEvery: Int = 0
    @Option(name: .customLong("blas-threads"), help: "Threads for an update's products (default: the daemon's, the CPUs available up to 4; only products of ~1 ms or more are split).")
    var blasThreads: Int = BLASThreads.automatic
    @Option(help: "auto: the fused step kernels where they apply, OpenBLAS elsewhere (the daemon's choice); blas: OpenBLAS for every product.")
    var products: ProductsChoice = .auto
    @Flag(help: "One JSON object instead of text.") var json = false
    @Option(help: "Core path, without --config: the model's kind, bayesian, lasso, ridge or elastic_net.")
    var kind: BenchKind = .lasso
    @Flag(help: "Core path, sparse kinds: keep the uncertainty statistics (the Gram product of every batch) beside the circuit.")
    var uncertainty = false
    @Option(name: .customLong("publish-every"),
            help: "Core path, a model with uncertainty: read its published uncertainty (the active-set refit, or the posterior's means and stds) every N updates, timed; 0: never.")
    var publishEvery: Int = 0

    /// The kinds the core path can time.
    enum BenchKind: String, ExpressibleByArgument { case bayesian, lasso, ridge, elasticNet = "elastic_net" }

    /// Which code computes a step's products.
    enum ProductsChoice: String, ExpressibleByArgument { case auto, blas }

    /// What `hebbd bench` times.
    enum BenchPath: String, ExpressibleByArgument { case core, engine }

    func run() throws {
        let model = modelConfiguration()
        let c = model.circuit
        guard updates > 0, warmup >= 0 else { fail("--updates must be > 0", code: 2) }
        let rows = model.batchSize
        // Distinct batches cycled through, at most ~64 MiB of them, so the data is not one hot cached block.
        let batchFloats = rows * (c.dictDim + c.sysDim)
        let pool = max(1, min(16, (64 << 20) / max(batchFloats * 4, 1)))
        let data = SyntheticBatches(count: pool, rows: rows, dictDim: c.dictDim, sysDim: c.sysDim, seed: 7)
        BLASThreads.set(blasThreads)
        StepKernels.useBLASOnly(products == .blas)

        if kind == .bayesian && path == .core && config == nil {
            runBayesianCore(rows: rows, dictDim: c.dictDim, sysDim: c.sysDim, data: data, pool: pool)
            return
        }
        if uncertainty && (path != .core || config != nil) { fail("--uncertainty is for the core path without --config", code: 2) }
        var latencies = [UInt64](repeating: 0, count: updates)
        let total: UInt64
        /// Runs `warmup` untimed steps, then `updates` timed ones (each into `latencies`); the total nanoseconds.
        func timeUpdates(_ step: (Int) -> Void) -> UInt64 {
            for i in 0..<warmup { step(i) }
            let started = DispatchTime.now().uptimeNanoseconds
            for i in 0..<updates {
                let t0 = DispatchTime.now().uptimeNanoseconds
                step(i)
                latencies[i] = DispatchTime.now().uptimeNanoseconds - t0
            }
            return DispatchTime.now().uptimeNanoseconds - started
        }
        var gram: (nanoseconds: Double, flops: Double)?
        switch path {
        case .core:
            let circuit: HebbianCircuit
            do { circuit = try HebbianCircuit(c) } catch { fail("\(error)", code: 2) }
            BLASThreads.set(blasThreads)
            var statistics = uncertainty ? CircuitUncertainty(dictDim: c.dictDim, sysDim: c.sysDim) : nil
            func step(_ i: Int) {
                data.x[i % pool].withUnsafeBufferPointer { x in
                    data.y[i % pool].withUnsafeBufferPointer { y in
                        _ = try! circuit.update(x: x, y: y, rows: rows)
                        if statistics != nil {
                            let t0 = DispatchTime.now().uptimeNanoseconds
                            statistics!.add(x: x, y: y, rows: rows)
                            gramNanoseconds += DispatchTime.now().uptimeNanoseconds - t0
                            if publishEvery > 0, i % publishEvery == 0 { _ = try? statistics!.uncertainty(of: circuit) }
                        }
                    }
                }
            }
            var gramNanoseconds: UInt64 = 0
            total = timeUpdates(step)
            if uncertainty {
                // Warm-up steps included: the Gram time was summed over every step.
                let products = Double(updates + warmup)
                gram = (Double(gramNanoseconds) / products, Self.gramFlops(rows: rows, columns: c.dictDim + c.sysDim))
            }
        case .engine:
            var settings = EngineSettings()
            guard let format = PublishFormat(rawValue: publish) else { fail("--publish must be json or binary", code: 2) }
            settings.publishFormat = format
            settings.heartbeat = 0
            let core = EngineCore(settings: settings)
            core.publisher.encodesOnlyForSubscribers = noSubscriber
            do { try core.addModel(model) } catch { fail("\(error)", code: 2) }
            BLASThreads.set(blasThreads)
            core.drainOutbox { _ in }
            let name = Array(model.name.utf8)
            // Messages of `perMessage` rows (a divisor of the batch), with the header `hebbd feed` sends.
            let perMessage = rowsPerMessage ?? rows
            guard perMessage > 0, rows % perMessage == 0 else { fail("--rows-per-message must divide the batch size \(rows)", code: 2) }
            let header = Array(#"{"v":1,"dtype":"float32","rows":\#(perMessage),"producer":"hebbd-bench","seq":0}"#.utf8)
            let d = c.dictDim, s = c.sysDim
            let xBytes = data.x.map { x in x.withUnsafeBytes { Array($0) } }
            let yBytes = data.y.map { y in y.withUnsafeBytes { Array($0) } }
            var published = 0
            // The daemon's own checkpoint path: snapshots taken on this (the engine's) thread, handed to the writer.
            var writer: CheckpointWriter?
            var directory: String?
            if checkpointEvery > 0 {
                let path = NSTemporaryDirectory() + "hebbd-bench-\(getpid())"
                directory = path
                writer = CheckpointWriter(store: CheckpointStore(directory: path, keep: 2))
                core.schedule.enabled = true
            }
            defer {
                if let writer {
                    _ = writer.flush(timeout: .seconds(60))
                    writer.stop()
                }
                if let directory { try? FileManager.default.removeItem(atPath: directory) }
            }
            func step(_ i: Int) {
                if let writer, i % checkpointEvery == 0 {
                    for snapshot in core.checkpointAllModels() { _ = writer.submit(snapshot) }
                    _ = writer.drainResults()
                }
                name.withUnsafeBytes { n in
                    header.withUnsafeBytes { h in
                        xBytes[i % pool].withUnsafeBytes { x in
                            yBytes[i % pool].withUnsafeBytes { y in
                                for first in stride(from: 0, to: rows, by: perMessage) {
                                    let xs = UnsafeRawBufferPointer(rebasing: x[(first * d * 4)..<((first + perMessage) * d * 4)])
                                    let ys = UnsafeRawBufferPointer(rebasing: y[(first * s * 4)..<((first + perMessage) * s * 4)])
                                    if let rejection = core.handleSample([n, h, xs, ys]) { fail("\(rejection)") }
                                }
                            }
                        }
                    }
                }
                core.drainOutbox { message in published += message.json.count + (message.binary?.count ?? 0) }
            }
            total = timeUpdates(step)
            if published == 0 && !noSubscriber { fail("the engine published nothing") }
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double { Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000 }
        let seconds = Double(total) / 1e9
        let updatesPerSecond = Double(updates) / seconds
        let result: [(String, Double)] = [
            ("updates_per_s", updatesPerSecond), ("samples_per_s", updatesPerSecond * Double(rows)),
            ("p50_us", percentile(0.5)), ("p99_us", percentile(0.99)), ("max_us", Double(latencies.last!) / 1000),
        ]
        // "fused (avx512)" or "blas": what computed this model's products.
        let productsLabel = StepKernels.fused(dictDim: c.dictDim, sysDim: c.sysDim) ? "fused (\(StepKernels.current))" : "blas"
        if json {
            var w = JSONWriter(capacity: 512)
            w.beginObject()
            w.key("model"); w.string(model.name)
            w.key("path"); w.string(path.rawValue)
            w.key("dict_dim"); w.int(c.dictDim)
            w.key("sys_dim"); w.int(c.sysDim)
            w.key("batch"); w.int(rows)
            w.key("updates"); w.int(updates)
            w.key("blas_threads"); w.int(blasThreads)
            w.key("products"); w.string(productsLabel)
            if path == .engine { w.key("publish"); w.string(publish) }
            if path == .core { w.key("kind"); w.string(kind.rawValue) }
            for (key, value) in result { w.key(key); w.double((value * 10).rounded() / 10) }
            if let gram {
                let rate = gramRate(gram), machine = dsyrkRate(rows: rows, columns: c.dictDim + c.sysDim)
                w.key("gram_us"); w.double((gram.nanoseconds / 100).rounded() / 10)
                w.key("gram_gflops"); w.double((rate * 100).rounded() / 100)
                w.key("dsyrk_gflops"); w.double((machine * 100).rounded() / 100)
            }
            w.endObject()
            print(String(decoding: w.bytes, as: UTF8.self))
        } else {
            print("model \(model.name): \(c.kind.rawValue) \(c.dictDim)×\(c.sysDim), batch \(rows), \(c.optimizer.rawValue), path \(path.rawValue)"
                + (path == .engine ? " (publish \(publish))" : "") + ", blas threads \(blasThreads), products \(productsLabel)")
            print(String(format: "%d updates in %.3f s: %.0f updates/s, %.0f samples/s", updates, seconds, updatesPerSecond,
                         updatesPerSecond * Double(rows)))
            print(String(format: "per update: p50 %.1f µs, p99 %.1f µs, max %.1f µs", percentile(0.5), percentile(0.99),
                         Double(latencies.last!) / 1000))
            if let gram {
                print(String(format: "uncertainty Gram product: %.1f µs per update, %.2f GFLOP/s (dsyrk alone at %d×%d, k = %d: %.2f GFLOP/s)",
                             gram.nanoseconds / 1000, gramRate(gram), c.dictDim + c.sysDim, c.dictDim + c.sysDim, rows,
                             dsyrkRate(rows: rows, columns: c.dictDim + c.sysDim)))
            }
        }
    }

    /// Floating-point operations of one batch's Gram product: the upper triangle of ZᵀZ for `rows` rows of `columns`
    /// values (multiply and add counted apart, as BLAS benchmarks do).
    static func gramFlops(rows: Int, columns: Int) -> Double { Double(rows) * Double(columns) * Double(columns + 1) }

    private func gramRate(_ gram: (nanoseconds: Double, flops: Double)) -> Double { gram.flops / gram.nanoseconds }

    /// The machine's `dsyrk` rate at the Gram product's shape (GFLOP/s): the same product on random data, repeated
    /// for about 0.2 s after a warm-up, with the BLAS threads in force.
    private func dsyrkRate(rows: Int, columns: Int) -> Double {
        var z = [Double](repeating: 0, count: rows * columns), c = [Double](repeating: 0, count: columns * columns)
        var generator = SeededGenerator(seed: 11)
        for i in z.indices { z[i] = Double.random(in: -1..<1, using: &generator) }
        func product() { cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(columns), blasint(rows), 1, z, blasint(columns), 1, &c, blasint(columns)) }
        for _ in 0..<10 { product() }
        var calls = 0
        let started = DispatchTime.now().uptimeNanoseconds
        var elapsed: UInt64 = 0
        repeat {
            for _ in 0..<10 { product() }
            calls += 10
            elapsed = DispatchTime.now().uptimeNanoseconds - started
        } while elapsed < 200_000_000
        return Self.gramFlops(rows: rows, columns: columns) * Double(calls) / Double(elapsed)
    }

    /// `--kind bayesian` on the core path: `BayesianRegression.update` (score, fold-in), and with `--publish-every`
    /// the posterior's means and stds read every N updates.
    private func runBayesianCore(rows: Int, dictDim: Int, sysDim: Int, data: SyntheticBatches, pool: Int) {
        guard updates > 0, warmup >= 0, publishEvery >= 0 else { fail("--updates must be > 0", code: 2) }
        let model: BayesianRegression
        do { model = try BayesianRegression(BayesianConfiguration(dictDim: dictDim, sysDim: sysDim)) } catch { fail("\(error)", code: 2) }
        BLASThreads.set(blasThreads)
        var latencies = [UInt64](repeating: 0, count: updates)
        func step(_ i: Int) {
            data.x[i % pool].withUnsafeBufferPointer { x in
                data.y[i % pool].withUnsafeBufferPointer { y in
                    do {
                        _ = try model.update(x: x, y: y, rows: rows)
                        if publishEvery > 0, i % publishEvery == 0 { _ = try model.uncertainty() }
                    } catch { fail("\(error)") }
                }
            }
        }
        for i in 0..<warmup { step(i) }
        let started = DispatchTime.now().uptimeNanoseconds
        for i in 0..<updates {
            let t0 = DispatchTime.now().uptimeNanoseconds
            step(i)
            latencies[i] = DispatchTime.now().uptimeNanoseconds - t0
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        latencies.sort()
        func percentile(_ p: Double) -> Double { Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000 }
        let updatesPerSecond = Double(updates) / seconds
        if json {
            var w = JSONWriter(capacity: 512)
            w.beginObject()
            w.key("model"); w.string("bench")
            w.key("path"); w.string("core")
            w.key("kind"); w.string("bayesian")
            w.key("dict_dim"); w.int(dictDim)
            w.key("sys_dim"); w.int(sysDim)
            w.key("batch"); w.int(rows)
            w.key("updates"); w.int(updates)
            w.key("publish_every"); w.int(publishEvery)
            w.key("blas_threads"); w.int(blasThreads)
            for (key, value) in [("updates_per_s", updatesPerSecond), ("samples_per_s", updatesPerSecond * Double(rows)),
                                 ("p50_us", percentile(0.5)), ("p99_us", percentile(0.99)), ("max_us", Double(latencies.last!) / 1000)] {
                w.key(key); w.double((value * 10).rounded() / 10)
            }
            w.endObject()
            print(String(decoding: w.bytes, as: UTF8.self))
        } else {
            print("model bench: bayesian \(dictDim)×\(sysDim), batch \(rows), path core"
                + (publishEvery > 0 ? ", uncertainty read every \(publishEvery) updates" : "") + ", blas threads \(blasThreads)")
            print(String(format: "%d updates in %.3f s: %.0f updates/s, %.0f samples/s", updates, seconds, updatesPerSecond,
                         updatesPerSecond * Double(rows)))
            print(String(format: "per update: p50 %.1f µs, p99 %.1f µs, max %.1f µs", percentile(0.5), percentile(0.99),
                         Double(latencies.last!) / 1000))
        }
    }

    private func modelConfiguration() -> ModelConfiguration {
        if let config {
            guard let model else { fail("--config needs --model", code: 2) }
            let configuration = loadConfiguration(config)
            guard let m = configuration.models.first(where: { $0.name == model }) else {
                fail("\(config): no [[model]] named \"\(model)\" (have: \(configuration.models.map(\.name).joined(separator: ", ")))", code: 2)
            }
            return m
        }
        guard dictDim > 0, sysDim > 0, batch > 0 else { fail("--dict-dim, --sys-dim and --batch must be > 0", code: 2) }
        let circuitKind: RegressionKind = switch kind {
        case .ridge: .ridge
        case .elasticNet: .elasticNet
        case .lasso, .bayesian: .lasso   // bayesian: only the shape is read (runBayesianCore)
        }
        return ModelConfiguration(name: "bench", batchSize: batch, circuit: CircuitConfiguration(kind: circuitKind, dictDim: dictDim, sysDim: sysDim))
    }
}

/// Batches of a sparse linear system: X standard normal, Y = X·W* + 0.1·noise with 5% of W* nonzero.
struct SyntheticBatches {
    /// X of each batch, row-major rows × dictDim.
    var x: [[Float]]
    /// Y of each batch, row-major rows × sysDim.
    var y: [[Float]]

    init(count: Int, rows: Int, dictDim: Int, sysDim: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        func normal() -> Float {
            // Box–Muller; speed is irrelevant here, the data is made before the clock starts.
            let u1 = Float.random(in: Float.ulpOfOne..<1, using: &generator), u2 = Float.random(in: 0..<1, using: &generator)
            return (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
        }
        var truth = [Float](repeating: 0, count: dictDim * sysDim)
        for i in truth.indices where Float.random(in: 0..<1, using: &generator) < 0.05 { truth[i] = normal() }
        x = []
        y = []
        for _ in 0..<count {
            var bx = [Float](repeating: 0, count: rows * dictDim)
            for i in bx.indices { bx[i] = normal() }
            var by = [Float](repeating: 0, count: rows * sysDim)
            for r in 0..<rows {
                for k in 0..<sysDim {
                    var sum: Float = 0
                    for j in 0..<dictDim where truth[j * sysDim + k] != 0 { sum += bx[r * dictDim + j] * truth[j * sysDim + k] }
                    by[r * sysDim + k] = sum + 0.1 * normal()
                }
            }
            x.append(bx)
            y.append(by)
        }
    }
}
