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
/// numpy loop (Benchmarks/numpy_lasso.py). `--path engine` feeds the same rows as binary ingest frames through
/// an in-memory ``EngineCore`` (decode, validate, copy, update, encode the coefficient message), the engine
/// thread's whole share of the work without sockets: the figure to compare hot-path variants on, e.g. under
/// `valgrind --tool=callgrind`, where only instruction counts matter.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time a model's learning core in-process on synthetic data: updates/s, samples/s, latency percentiles.",
        discussion: """
        Either --dict-dim/--sys-dim/--batch (a model of --kind with the config defaults: lasso/Adam unless told) or --config FILE \
        --model NAME. A model with uncertainty (kind = "bayesian", or --uncertainty / uncertainty = true) keeps the raw Gram \
        statistics, O(B·(d+s)²) per update (one dsyrk); a bayesian model also carries its d × d posterior covariance per output \
        through each row, O(s·d²) per row, except that a batch of max(24, 2.5·√d) rows or more of a model published after \
        fewer than a quarter of its updates (the core path; on the engine path --publish-every 5 or more) factors the posterior \
        from the statistics instead, O(s·d³/6) (with fit_noise or standardize it always does), \
        and a sparse model refits its active set, O(|A|³), only for messages it publishes (the engine path). For the sparse \
        kinds with uncertainty the core path prints the Gram product's rate in GFLOP/s beside the machine's dsyrk at that shape.
        """
    )

    @Option(help: "A config file defining the model (with --model).") var config: String?
    @Option(help: "The model's name in --config.") var model: String?
    @Option(name: .customLong("dict-dim"), help: "Features per row (without --config).") var dictDim: Int = 256
    @Option(name: .customLong("sys-dim"), help: "Targets per row (without --config).") var sysDim: Int = 1
    @Option(help: "Rows per update, batch_size (without --config).") var batch: Int = 64
    @Option(help: "The model's kind without --config: lasso, ridge, elastic_net or bayesian.") var kind: String = "lasso"
    @Flag(help: "Without --config: uncertainty = true (the sparse kinds).") var uncertainty = false
    @Option(help: "Timed updates.") var updates: Int = 2000
    @Option(help: "Untimed updates first (warm caches, page in buffers).") var warmup: Int = 20
    @Option(help: "core: the circuit's update alone; engine: binary ingest frames through an in-memory engine (decode, copy, update, publish encoding).")
    var path: BenchPath = .core
    @Option(help: "Publish format on the engine path: json or binary.") var publish: String = "json"
    @Option(name: .customLong("publish-every"), help: "Engine path: publish.every, a coefficient message after every Nth update.")
    var publishEvery: Int = 1
    @Option(name: .customLong("bayesian-batch"),
            help: "Core path, kind = \"bayesian\": how a batch is learned — auto (the model's choice), cache (the covariance cache's Woodbury or rank-one steps) or refactor (into the statistics, the posterior factored from them).")
    var bayesianBatch: BayesianBatchWay = .auto
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

    /// Which code computes a step's products.
    enum ProductsChoice: String, ExpressibleByArgument { case auto, blas }

    /// What `hebbd bench` times.
    enum BenchPath: String, ExpressibleByArgument { case core, engine }
    /// `--bayesian-batch`: the ways a Bayesian batch may be learned (``BayesianRegression/BatchMethod``).
    enum BayesianBatchWay: String, ExpressibleByArgument { case auto, cache, refactor }

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

        var latencies = [UInt64](repeating: 0, count: updates)
        let total: UInt64
        /// Runs `warmup` untimed steps, then `updates` timed ones (each into `latencies`); the total nanoseconds.
        var timing = false
        func timeUpdates(_ step: (Int) -> Void) -> UInt64 {
            for i in 0..<warmup { step(i) }
            timing = true
            let started = DispatchTime.now().uptimeNanoseconds
            for i in 0..<updates {
                let t0 = DispatchTime.now().uptimeNanoseconds
                step(i)
                latencies[i] = DispatchTime.now().uptimeNanoseconds - t0
            }
            return DispatchTime.now().uptimeNanoseconds - started
        }
        /// Nanoseconds spent folding batches into a sparse model's uncertainty statistics (the Gram product).
        var gramNanoseconds: UInt64 = 0
        switch path {
        case .core where model.isBayesian:
            let bayesian: BayesianRegression
            do { bayesian = try BayesianRegression(model.bayesianConfiguration) } catch { fail("\(error)", code: 2) }
            switch bayesianBatch {
            case .auto: break
            case .cache: bayesian.batchMethodOverride = BayesianRegression.cacheMethod(rows: rows, features: c.dictDim)
            case .refactor: bayesian.batchMethodOverride = .refactor
            }
            func step(_ i: Int) {
                data.x[i % pool].withUnsafeBufferPointer { x in
                    data.y[i % pool].withUnsafeBufferPointer { y in _ = try! bayesian.update(x: x, y: y, rows: rows) }
                }
            }
            total = timeUpdates(step)
        case .core:
            let circuit: HebbianCircuit
            do { circuit = try HebbianCircuit(c) } catch { fail("\(error)", code: 2) }
            BLASThreads.set(blasThreads)
            var statistics = model.uncertainty
                ? CircuitUncertainty(dictDim: c.dictDim, sysDim: c.sysDim, smoothing: model.smoothing, level: model.uncertaintyLevel) : nil
            func step(_ i: Int) {
                data.x[i % pool].withUnsafeBufferPointer { x in
                    data.y[i % pool].withUnsafeBufferPointer { y in
                        _ = try! circuit.update(x: x, y: y, rows: rows)
                        guard statistics != nil else { return }
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        statistics!.add(x: x, y: y, rows: rows)
                        if timing { gramNanoseconds += DispatchTime.now().uptimeNanoseconds - t0 }
                    }
                }
            }
            total = timeUpdates(step)
        case .engine:
            var settings = EngineSettings()
            guard let format = PublishFormat(rawValue: publish) else { fail("--publish must be json or binary", code: 2) }
            settings.publishFormat = format
            settings.heartbeat = 0
            guard publishEvery >= 1 else { fail("--publish-every must be at least 1", code: 2) }
            settings.pacing.every = publishEvery
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
                core.drainOutbox { message in published += message.frames.dropFirst().reduce(0) { $0 + $1.count } }
            }
            total = timeUpdates(step)
            if published == 0 && !noSubscriber { fail("the engine published nothing") }
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double { Double(latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))]) / 1000 }
        let seconds = Double(total) / 1e9
        let updatesPerSecond = Double(updates) / seconds
        var result: [(String, Double)] = [
            ("updates_per_s", updatesPerSecond), ("samples_per_s", updatesPerSecond * Double(rows)),
            ("p50_us", percentile(0.5)), ("p99_us", percentile(0.99)), ("max_us", Double(latencies.last!) / 1000),
        ]
        // The Gram product C ← C + ZᵀZ on the upper triangle of the (d+s)² co-moments: B·m·(m+1) flop, m = d + s
        // (timed updates only, as the total).
        let columns = Double(c.dictDim + c.sysDim)
        let gramFlops = Double(rows) * columns * (columns + 1) * Double(updates)
        let gramRate = gramNanoseconds > 0 ? gramFlops / Double(gramNanoseconds) : nil   // flop/ns = GFLOP/s
        if let gramRate {
            result.append(("gram_gflops", gramRate))
            result.append(("dsyrk_gflops", dsyrkRate(rows: rows, columns: c.dictDim + c.sysDim)))
        }
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
            for (key, value) in result { w.key(key); w.double((value * 10).rounded() / 10) }
            w.endObject()
            print(String(decoding: w.bytes, as: UTF8.self))
        } else {
            print("model \(model.name): \(model.isBayesian ? "bayesian" : c.kind.rawValue + (model.uncertainty ? " with uncertainty" : "")) "
                + "\(c.dictDim)×\(c.sysDim), batch \(rows), \(model.isBayesian ? "exact posterior" : c.optimizer.rawValue), path \(path.rawValue)"
                + (path == .engine ? " (publish \(publish))" : "") + ", blas threads \(blasThreads), products \(productsLabel)")
            print(String(format: "%d updates in %.3f s: %.0f updates/s, %.0f samples/s", updates, seconds, updatesPerSecond,
                         updatesPerSecond * Double(rows)))
            print(String(format: "per update: p50 %.1f µs, p99 %.1f µs, max %.1f µs", percentile(0.5), percentile(0.99),
                         Double(latencies.last!) / 1000))
            if let gramRate {
                print(String(format: "Gram product (dsyrk, %d×%d co-moments): %.2f GFLOP/s, %.0f%% of the update's time; dsyrk alone at that shape: %.2f GFLOP/s",
                             c.dictDim + c.sysDim, c.dictDim + c.sysDim, gramRate, 100 * Double(gramNanoseconds) / Double(max(total, 1)),
                             result.first { $0.0 == "dsyrk_gflops" }!.1))
            }
        }
    }

    /// The machine's `dsyrk` rate (GFLOP/s, counted as the Gram product's) at the Gram product's shape — `rows` rows of
    /// `columns` values into a `columns`² upper triangle — on random data with the BLAS threads in force, repeated for
    /// about 0.2 s after a warm-up: what the uncertainty statistics' product is held against.
    private func dsyrkRate(rows: Int, columns: Int) -> Double {
        var z = [Double](repeating: 0, count: rows * columns), c = [Double](repeating: 0, count: columns * columns)
        var generator = SeededGenerator(seed: 11)
        for i in z.indices { z[i] = Double.random(in: -1..<1, using: &generator) }
        func product() {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, blasint(columns), blasint(rows), 1, z, blasint(columns), 1, &c, blasint(columns))
        }
        for _ in 0..<10 { product() }
        var calls = 0
        let started = DispatchTime.now().uptimeNanoseconds
        var elapsed: UInt64 = 0
        repeat {
            for _ in 0..<10 { product() }
            calls += 10
            elapsed = DispatchTime.now().uptimeNanoseconds - started
        } while elapsed < 200_000_000
        return Double(rows) * Double(columns) * Double(columns + 1) * Double(calls) / Double(elapsed)
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
        // Through the config decoder, so --kind and --uncertainty mean what the keys mean (and are refused alike).
        let table = #"{"name":"bench","kind":"\#(kind)","dict_dim":\#(dictDim),"sys_dim":\#(sysDim),"batch_size":\#(batch)"#
            + (uncertainty ? #","uncertainty":true}"# : "}")
        do { return try ModelConfiguration.decode(json: Array(table.utf8), source: "hebbd bench") } catch { fail("\(error)", code: 2) }
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
