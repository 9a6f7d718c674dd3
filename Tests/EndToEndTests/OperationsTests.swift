import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Operations end to end: the real `hebbd` binary, real files, real sockets, real signals. What an operator
// relies on: a restart resumes exactly; kill -9 never tears a checkpoint; a corrupt checkpoint is set aside;
// an incompatible config is refused with the way out named; the sd_notify protocol (against a fake
// NOTIFY_SOCKET, never a real systemd); SIGHUP reloads; /metrics over HTTP; checkpoint cost of a big model.
// Helpers: Harness.swift (Daemon), OperationsSupport.swift, Scripts/ops_*.py.

@Suite("hebbd operations end to end", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: Executables.pythonReady, "needs python3 with pyzmq and numpy"))
struct OperationsTests {
    // MARK: 1. Resume equivalence

    /// A model and stream for the resume test: the ngclearn-exact elastic net with a fitted prior on standard-normal
    /// rows, and the same with `standardize` and `intercept` on raw-unit rows (a date ordinal, percentages).
    struct ResumeCase: Sendable, CustomTestStringConvertible {
        var label: String
        var models: String
        var streamOptions: [String]
        var arrays: Set<String>
        var testDescription: String { label }

        static let all = [
            ResumeCase(label: "elastic net, fitted Gaussian prior", models: OpsModels.elasticNetWithPrior(), streamOptions: [], arrays: []),
            ResumeCase(label: "standardize + intercept on raw-unit rows",
                       models: OpsModels.elasticNetWithPrior(extra: "standardize = true\nintercept = true\nintercept_lr = 0.05"),
                       streamOptions: ["--raw-units"],
                       arrays: ["intercept", "intercept.m", "intercept.v", "intercept.t", "moments.x.count", "moments.x.mean",
                                "moments.x.m2", "moments.y.count", "moments.y.mean", "moments.y.m2"]),
        ]
    }

    @Test("SIGTERM and restart mid-stream (5 rows buffered) ends bit-for-bit where an uninterrupted daemon ends: checkpoint arrays, seq, last coefficients",
          arguments: ResumeCase.all)
    func resumeEquivalence(_ scenario: ResumeCase) async throws {
        try await withTemporaryDirectory("ops-resume") { temp in
            let models = scenario.models
            var settings = Daemon.Settings.operations(metrics: false)
            settings.publishFormat = "binary"
            let a = try Daemon(directory: temp.file("a"), models: models, settings: settings)
            defer { a.stop() }
            let b = try Daemon(directory: temp.file("b"), models: models, settings: settings)
            defer { b.stop() }
            let n = 12, m = 13, batch = 16
            let split = n * batch + 5, total = (n + m) * batch + 3
            let shape = (dictDim: 8, sysDim: 2)
            // With standardisation: the daemon's running statistics against numpy's of the rows learned, and
            // the published coefficients and intercept against `predict` (ops_stream.py check_statistics).
            let statisticsCheck = scenario.arrays.isEmpty ? [] : ["--check-statistics", String(batch)]

            // Daemon A, part 1: N updates plus 5 rows toward the next batch, then SIGTERM.
            try await a.start()
            let a1 = try await a.feed(model: "en", dictDim: shape.dictDim, sysDim: shape.sysDim, seed: 11, total: total,
                                      from: 0, to: split, expectStep: n, expectBuffered: 5, extra: scenario.streamOptions)
            #expect(opsInts(a1["seqs"]) == Array(0...n))
            let stopped1 = try #require(a.stop())
            #expect(stopped1.succeeded, "SIGTERM: \(stopped1)")
            let firstFinal = opsCheckpoints(a.modelDirectory("en"))
            #expect(firstFinal.count == 1, "one final checkpoint after SIGTERM: \(firstFinal)")
            if let name = firstFinal.last {
                let i = try await opsInspect(a.modelDirectory("en") + "/" + name, directory: a.directory).get()
                #expect(opsInt(i["updates"]) == n && opsInt(i["pending_rows"]) == 5 && opsInt(i["seq"]) == n, "\(i)")
            }

            // Daemon A, part 2: restart on the same state directory, feed the rest.
            try await a.start()
            let resumed = try await a.modelStatus("en")
            #expect(opsInt(resumed["step"]) == n && opsInt(resumed["buffered"]) == 5 && opsInt(resumed["seq"]) == n
                    && opsInt(resumed["samples"]) == n * batch, "after restart: \(resumed)")
            let a2 = try await a.feed(model: "en", dictDim: shape.dictDim, sysDim: shape.sysDim, seed: 11, total: total,
                                      from: split, to: total, expectStep: n + m, expectBuffered: 3,
                                      extra: scenario.streamOptions + statisticsCheck)
            // The restored latest message (seq N) is resent, then the seq continues N+1 … N+M.
            #expect(opsInts(a2["seqs"]) == Array(n...(n + m)))
            #expect(opsInt((a2["initial"] as? [String: Any])?["seq"]) == n)
            #expect(a2["initial_binary"] as? String == a1["last_binary"] as? String,
                    "the restored coefficients differ from the last ones published before SIGTERM")
            let stopped2 = try #require(a.stop())
            #expect(stopped2.succeeded, "SIGTERM: \(stopped2)")

            // Daemon B: the same rows, uninterrupted.
            try await b.start()
            let bAll = try await b.feed(model: "en", dictDim: shape.dictDim, sysDim: shape.sysDim, seed: 11, total: total,
                                        from: 0, to: total, expectStep: n + m, expectBuffered: 3,
                                        extra: scenario.streamOptions + statisticsCheck)
            #expect(opsInts(bAll["seqs"]) == Array(0...(n + m)))
            let stoppedB = try #require(b.stop())
            #expect(stoppedB.succeeded, "SIGTERM: \(stoppedB)")

            // The last published message: identical JSON (but its time) and identical float32 coefficient bytes.
            #expect(opsCanonical(a2["last"]) == opsCanonical(bAll["last"]))
            let aBinary = try #require(a2["last_binary"] as? String)
            #expect(aBinary.count == shape.dictDim * shape.sysDim * 8)
            #expect(aBinary == bAll["last_binary"] as? String, "published coefficients differ")

            // The final checkpoints: inspect agrees on W, and every payload array is byte-identical.
            let aFiles = opsCheckpoints(a.modelDirectory("en")), bFiles = opsCheckpoints(b.modelDirectory("en"))
            #expect(aFiles.count == 2 && bFiles.count == 1, "A \(aFiles), B \(bFiles)")
            let aFinal = a.modelDirectory("en") + "/" + (try #require(aFiles.last))
            let bFinal = b.modelDirectory("en") + "/" + (try #require(bFiles.last))
            let ia = try await opsInspect(aFinal, directory: temp.url).get()
            let ib = try await opsInspect(bFinal, directory: temp.url).get()
            for key in ["updates", "samples", "seq", "pending_rows", "shape", "weights", "coefficients", "nonzero"] {
                #expect(opsCanonical(ia[key]) == opsCanonical(ib[key]), "inspect \(key): \(ia[key] ?? "nil") vs \(ib[key] ?? "nil")")
            }
            #expect(opsInt(ia["updates"]) == n + m && opsInt(ia["seq"]) == n + m && opsInt(ia["pending_rows"]) == 3)
            let (cr, compare) = try await opsPython("ops_checkpoint.py", ["compare", aFinal, bFinal], directory: temp.url)
            let c = try #require(compare, "ops_checkpoint.py compare: \(cr)")
            #expect(c["equal"] as? Bool == true, "checkpoints differ: \(c["differences"] ?? "?")")
            let compared = Set(c["arrays_compared"] as? [String] ?? [])
            let required: Set = ["weights", "optimizer.m", "optimizer.v", "optimizer.t", "generator", "pending.x", "pending.y", "window"]
            let requiredHere = required.union(scenario.arrays)
            #expect(requiredHere.isSubset(of: compared), "arrays not compared: \(requiredHere.subtracting(compared).sorted())")
            // The fitted prior really moved (so its state — the header's "prior", format 3 — is part of what was compared).
            let (_, read) = try await opsPython("ops_checkpoint.py", ["read", aFinal, "--values"], directory: temp.url)
            let header = try #require(read?["header"] as? [String: Any])
            let hyper = (header["prior"] as? [String: Any])?["hyper_parameters"] as? [[String: Any]] ?? []
            let priorT = ((hyper.first?["optimizer"] as? [String: Any])?["t"] as? Double) ?? 0
            #expect(priorT > 0, "prior mean optimizer step \(priorT): fit_hyper did not train the prior")
            print("resume equivalence: \(n)+\(m) updates, \(total) rows, \(compared.count) arrays byte-identical")
        }
    }

    // MARK: 2. kill -9 loop

    @Test("kill -9 at random moments (20×) under a continuous stream with checkpoint_every = 1: each restart answers, resumes from the newest checkpoint; no torn or broken file ever")
    func killLoop() async throws {
        try await Self.killLoop(iterations: 20)
    }

    /// The kill -9 loop, `iterations` kills (HostileTests runs it 100× with HEBBD_LONG_TESTS=1).
    static func killLoop(iterations: Int) async throws {
        try await withTemporaryDirectory("ops-kill9") { temp in
            let settings = Daemon.Settings(checkpointInterval: "150ms", checkpointEvery: 1, checkpointKeep: 3, metrics: false)
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "k", dictDim: 1024, sysDim: 16),
                               settings: settings)
            defer { d.stop(grace: 5) }
            let directory = d.modelDirectory("k")
            try await d.start()
            let flood = try spawnPython(Paths.script("ops_stream.py"),
                                        ["flood", "--ingest", d.ingest, "--model", "k", "--dict-dim", "1024", "--sys-dim", "16",
                                         "--chunk", "16", "--rate", "150", "--duration", String(max(120, iterations * 4))], directory: d.directory)
            defer { flood.stop(grace: 3) }

            let seed = UInt64(ProcessInfo.processInfo.environment["HEBBD_OPS_SEED"] ?? "") ?? UInt64.random(in: 1...1_000_000)
            var rng = OpsRandom(seed: seed)
            print("kill -9 loop: delays from seed \(seed) (HEBBD_OPS_SEED=\(seed) repeats them)")
            var loaded: [Int] = []
            var confirmed = 0
            var killedPIDs: Set<String> = []
            var temporaryAfterKill = 0, inspected = 0
            var readyTimes: [Double] = []
            for i in 0..<iterations {
                if i % 3 == 1 {
                    // A checkpoint the daemon confirmed: no later restart may come back from anything older.
                    let written = try await d.checkpoint()
                    let path = try #require(written["k"])
                    confirmed = max(confirmed, try #require(opsCheckpointUpdates(path)))
                }
                if i % 2 == 0 {
                    // Every other kill lands while rows are flowing in (the producer reconnects 0.1–0.5 s after a restart).
                    let flowing = Date().addingTimeInterval(3)
                    while Date() < flowing, (opsInt(try await d.status()["messages"]) ?? 0) == 0 {
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
                let delay = Int(rng.next() % 301)
                try await Task.sleep(for: .milliseconds(delay))
                let pid = try #require(d.process?.pid)
                d.kill9()
                killedPIDs.insert(String(pid))

                let names = opsList(directory)
                #expect(!names.contains { $0.hasSuffix(".broken") }, "iteration \(i): quarantined files \(names)")
                temporaryAfterKill += names.filter { $0.hasPrefix(".tmp-") }.count
                let checkpoints = opsCheckpoints(directory)
                for name in checkpoints {
                    inspected += 1
                    switch try await opsInspect(directory + "/" + name, directory: d.directory) {
                    case let .success(object):
                        #expect(opsInt(object["updates"]) == opsCheckpointUpdates(name), "\(name): \(object["updates"] ?? "nil")")
                    case let .failure(error):
                        Issue.record("iteration \(i) (killed after \(delay) ms): \(error)")
                    }
                }

                readyTimes.append(try await d.start(timeout: 15))
                let resumes = opsLogEntries(d.log, "resuming from checkpoint")
                if let newest = checkpoints.last {
                    let entry = try #require(resumes.first, "iteration \(i): no 'resuming' line though \(newest) exists\n\(d.log)")
                    #expect(entry["checkpoint.path"] == directory + "/" + newest, "iteration \(i): resumed from \(entry["checkpoint.path"] ?? "?"), newest is \(newest)")
                    let step = try #require(entry["step"].flatMap { Int($0) })
                    #expect(step == opsCheckpointUpdates(newest))
                    #expect(step >= confirmed, "iteration \(i): resumed at step \(step) below the confirmed checkpoint at \(confirmed)")
                    #expect(step >= (loaded.last ?? 0), "iteration \(i): step went back from \(loaded.last ?? 0) to \(step)")
                    loaded.append(step)
                } else {
                    #expect(resumes.isEmpty)
                    #expect(confirmed == 0)
                }
                // Temporary files of killed runs are gone once the new run answers.
                let stale = opsList(directory).filter { name in
                    name.hasPrefix(".tmp-") && killedPIDs.contains(String(name.split(separator: ".").last ?? ""))
                }
                #expect(stale.isEmpty, "iteration \(i): stale temporary files \(stale)")
                let status = try await d.modelStatus("k")
                #expect((opsInt(status["step"]) ?? -1) >= (loaded.last ?? 0))
                if ProcessInfo.processInfo.environment["HEBBD_OPS_VERBOSE"] != nil {
                    print("kill \(i): after \(delay) ms; files \(names); restart answered in \(opsMilliseconds(readyTimes.last ?? 0)); "
                          + "resumed \(loaded.last ?? 0); status step \(status["step"] ?? "nil") samples \(status["samples"] ?? "nil")")
                }
            }
            let stopped = try #require(d.stop())
            #expect(stopped.succeeded, "final SIGTERM: \(stopped)")
            flood.stop(grace: 3)
            #expect(loaded.count >= iterations - 2, "too few restarts found a checkpoint: \(loaded)")
            #expect((loaded.last ?? 0) > (loaded.first ?? 0), "no progress across restarts: \(loaded)")
            print("kill -9 loop (seed \(seed)): \(iterations) kills, \(inspected) checkpoint files inspected, "
                  + "\(temporaryAfterKill) interrupted writes (.tmp-*) found after kills, resumed steps \(loaded), "
                  + "restart to answering control: max \(opsMilliseconds(readyTimes.max() ?? 0)), "
                  + "median \(opsMilliseconds(readyTimes.sorted()[readyTimes.count / 2]))")
        }
    }

    // MARK: 3. Corrupted newest checkpoint

    @Test("a truncated, then a bit-flipped newest checkpoint is renamed *.broken and the daemon resumes from the one before")
    func corruptedNewestCheckpoint() async throws {
        try await withTemporaryDirectory("ops-corrupt") { temp in
            // Checkpoint files alone: with the journal on, replay would give back the updates the lost checkpoint held
            // (tested in clients/python/tests/test_reliable.py), and the daemon would not resume at the older step.
            var settings = Daemon.Settings.operations(metrics: false)
            settings.journal = false
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "c", dictDim: 8), settings: settings)
            defer { d.stop() }
            let directory = d.modelDirectory("c")
            func feed(_ from: Int, _ to: Int, step: Int) async throws {
                try await d.feed(model: "c", dictDim: 8, sysDim: 1, seed: 5, total: 400, from: from, to: to, expectStep: step, expectBuffered: 0)
            }

            for (round, corruption) in [(1, ["--truncate", "-700"]), (2, ["--flip"])] {
                // Two checkpoints at two steps; kill -9 so no final checkpoint lands on top of them.
                let base = round == 1 ? 0 : 4
                try await d.start()
                let rows = base * 16
                try await feed(rows, rows + 64, step: base + 4)
                let older = try #require(try await d.checkpoint()["c"])
                try await feed(rows + 64, rows + 144, step: base + 9)
                let newer = try #require(try await d.checkpoint()["c"])
                #expect(opsCheckpointUpdates(older) == base + 4 && opsCheckpointUpdates(newer) == base + 9)
                d.kill9()

                let (cr, corrupted) = try await opsPython("ops_checkpoint.py", ["corrupt", newer] + corruption, directory: temp.url)
                #expect(corrupted?["ok"] as? Bool == true, "\(cr)")
                if case .success = try await opsInspect(newer, directory: temp.url) { Issue.record("inspect accepted the corrupted \(newer)") }

                try await d.start()
                let status = try await d.modelStatus("c")
                #expect(opsInt(status["step"]) == base + 4, "round \(round): resumed at \(status["step"] ?? "nil"), expected the older step \(base + 4)")
                let names = opsList(directory)
                #expect(names.contains(URL(fileURLWithPath: newer).lastPathComponent + ".broken"), "round \(round): \(names)")
                #expect(!FileManager.default.fileExists(atPath: newer))
                let quarantined = opsLogEntries(d.log, "quarantined")
                #expect(quarantined.contains { $0["checkpoint.path"] == newer }, "round \(round): no quarantine log line for \(newer)\n\(d.log)")
                let why = round == 1 ? "truncated checkpoint" : "CRC32 mismatch"
                #expect(d.log.contains(why), "round \(round): the log does not say \(why)\n\(d.log)")
                #expect(opsLogEntries(d.log, "resuming from checkpoint").first?["checkpoint.path"] == older)
                let result = try await opsInspect(newer + ".broken", directory: temp.url)
                if case let .failure(error) = result {
                    #expect("\(error)".contains(why), "inspect of the broken file: \(error)")
                } else {
                    Issue.record("inspect accepted \(newer).broken")
                }
                // kill -9 again: round 2 starts from here (step 4) and writes its own pair of checkpoints.
                d.kill9()
            }
            // *.broken files are never pruned or reused.
            #expect(opsList(directory).filter { $0.hasSuffix(".broken") }.count == 2, "\(opsList(directory))")
        }
    }

    // MARK: 4. Incompatible config

    @Test("a changed dict_dim with checkpoints present: `hebbd run` exits non-zero naming the model and --reset-model; with --reset-model it starts afresh")
    func incompatibleConfig() async throws {
        try await withTemporaryDirectory("ops-incompatible") { temp in
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "m", dictDim: 8),
                               settings: .operations(metrics: false))
            defer { d.stop() }
            try await d.start()
            try await d.feed(model: "m", dictDim: 8, sysDim: 1, total: 48, from: 0, to: 48, expectStep: 3, expectBuffered: 0)
            #expect(try #require(d.stop()).succeeded)
            let before = opsList(d.modelDirectory("m"))
            #expect(!before.isEmpty)

            try d.writeConfig(models: OpsModels.simple(name: "m", dictDim: 10))
            let refused = try d.launch()
            #expect(await refused.waitForExit(timeout: 15), "hebbd run with an incompatible checkpoint did not exit")
            let r = refused.result()
            #expect(r.exited && r.status != 0, "expected a non-zero exit: \(r)")
            #expect(r.stdout.contains("model \"m\"") && r.stdout.contains("--reset-model m"), "message: \(r.stdout)")
            #expect(r.stdout.contains("8×1 → 10×1"), "the message does not say what changed: \(r.stdout)")
            #expect(opsList(d.modelDirectory("m")) == before, "a refused start changed the state directory")

            try await d.start(arguments: ["--reset-model", "m"])
            let status = try await d.modelStatus("m")
            #expect(opsInt(status["step"]) == 0 && opsInt(status["samples"]) == 0, "\(status)")
            let models = try await d.request(#"{"cmd":"models"}"#)
            #expect(opsInt((models["models"] as? [[String: Any]])?.first?["dict_dim"]) == 10, "\(models)")
            #expect(d.log.contains("--reset-model"))
            try await d.feed(model: "m", dictDim: 10, sysDim: 1, total: 32, from: 0, to: 32, expectStep: 2, expectBuffered: 0)
            #expect(try #require(d.stop()).succeeded)

            // The new shape's final checkpoint is now the newest: a plain start resumes it.
            try await d.start()
            #expect(opsInt(try await d.modelStatus("m")["step"]) == 2)
            #expect(try #require(d.stop()).succeeded)
        }
    }

    // MARK: 5. sd_notify protocol

    @Test("sd_notify against a fake NOTIFY_SOCKET: READY=1 once bound, STATUS=, WATCHDOG=1 every ~200 ms, SIGHUP → RELOADING=1 + MONOTONIC_USEC → READY=1, SIGTERM → STOPPING=1, exit 0; time to READY with and without a 4096×64 checkpoint")
    func notifyProtocol() async throws {
        try await withTemporaryDirectory("ops-notify") { temp in
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "big", dictDim: 4096, sysDim: 64, batchSize: 50),
                               settings: .operations(metrics: true))
            defer { d.stop() }
            let socketPath = temp.file("notify.sock").path
            var readyMilliseconds: [String: Double] = [:]

            for run in ["fresh", "with checkpoint"] {
                let receiver = try spawnPython(Paths.packageRoot.appendingPathComponent("Tests/HebbDaemonTests/Scripts/notify_receiver.py").path,
                                               [socketPath, "--timeout", "60"], directory: temp.url)
                defer { receiver.stop(grace: 2) }
                #expect(await receiver.waitForOutput(timeout: 10) { $0.contains("\"listening\"") }, "receiver: \(receiver.stderr)")
                if run == "with checkpoint" {
                    let files = opsCheckpoints(d.modelDirectory("big"))
                    let size = try #require(files.last.flatMap { opsFileSize(d.modelDirectory("big") + "/" + $0) })
                    #expect(size > 3_000_000, "the 4096×64 checkpoint has only \(size) bytes")
                }
                try d.launch(environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "400000"])
                let t0 = d.startedAtMicroseconds
                let readyIndex = try #require(await opsWaitNotify(receiver, timeout: 20) { $0.fields["READY"] == "1" },
                                              "no READY=1\n\(receiver.stdout)\n\(d.log)")
                // Right after READY=1 the sockets must be bound: plain TCP connects, then a control request.
                let bound = [d.ingest, d.publish, d.control].map { Ports.isListening($0) }
                let metricsBound = Ports.isListening(d.metrics)
                let requestStart = Date()
                let status = try await d.request(#"{"cmd":"status"}"#, timeout: 2)
                let requestSeconds = Date().timeIntervalSince(requestStart)
                var messages = opsNotifyMessages(receiver)
                let readyAt = messages[readyIndex].monotonicMicroseconds
                let ms = Double(readyAt - t0) / 1000
                readyMilliseconds[run] = ms
                print("restart to READY (\(run), 4096×64 adam model): \(String(format: "%.1f", ms)) ms")
                #expect(bound == [true, true, true], "ingest/publish/control bound at READY=1: \(bound)")
                #expect(status["ok"] as? Bool == true && requestSeconds < 1.5, "control after READY: \(status) in \(requestSeconds) s")
                if !metricsBound { print("note: the metrics port was not yet bound when READY=1 arrived") }
                #expect(!messages[..<readyIndex].contains { $0.fields["READY"] != nil }, "READY before READY")
                if run == "with checkpoint" {
                    #expect(opsLogEntries(d.log, "resuming from checkpoint").count == 1, "\(d.log)")
                    #expect(try #require(d.stop()).succeeded)
                    continue
                }

                // STATUS= right after READY (the endpoints).
                #expect(await opsWaitNotify(receiver, timeout: 3) { $0.fields["STATUS"]?.contains("listening") == true } != nil,
                        "no STATUS= line: \(receiver.stdout)")
                // WATCHDOG=1 every half of WATCHDOG_USEC (200 ms) while idle.
                try await Task.sleep(for: .milliseconds(1900))
                messages = opsNotifyMessages(receiver)
                let pings = messages.filter { $0.fields["WATCHDOG"] == "1" }.map(\.monotonicMicroseconds)
                let first = try #require(pings.first, "no WATCHDOG=1 at all")
                let window = pings.filter { $0 >= first && $0 < first + 1_500_000 }
                let gaps = zip(pings.dropFirst(), pings).map { Double($0 - $1) / 1000 }
                print("watchdog: \(window.count) pings in 1.5 s, gaps \(gaps.map { String(format: "%.0f", $0) }.joined(separator: " ")) ms")
                #expect((5...10).contains(window.count), "\(window.count) WATCHDOG=1 in 1.5 s with WATCHDOG_USEC=400000")
                #expect((gaps.max() ?? 0) < 400, "a watchdog gap of \(gaps.max() ?? 0) ms reaches the 400 ms interval")

                // SIGHUP: RELOADING=1 with MONOTONIC_USEC (CLOCK_MONOTONIC, now), then READY=1.
                let before = messages.count - 1
                let hupAt = monotonicMicroseconds()
                d.signal(SIGHUP)
                let reloadIndex = try #require(await opsWaitNotify(receiver, after: before, timeout: 5) { $0.fields["RELOADING"] == "1" },
                                               "no RELOADING=1 after SIGHUP\n\(receiver.stdout)\n\(d.log)")
                messages = opsNotifyMessages(receiver)
                let reload = messages[reloadIndex]
                let stamp = try #require(reload.fields["MONOTONIC_USEC"].flatMap { UInt64($0) }, "RELOADING=1 without MONOTONIC_USEC: \(reload.data)")
                #expect(stamp >= hupAt && stamp <= reload.monotonicMicroseconds, "MONOTONIC_USEC \(stamp) outside [\(hupAt), \(reload.monotonicMicroseconds)]")
                #expect(await opsWaitNotify(receiver, after: reloadIndex, timeout: 5) { $0.fields["READY"] == "1" } != nil,
                        "no READY=1 after RELOADING=1")
                #expect(try await d.status()["ok"] as? Bool == true)
                #expect(d.process?.isRunning == true)

                // SIGTERM: STOPPING=1, then exit 0 (after the final checkpoint, used by the next run).
                let beforeStop = opsNotifyMessages(receiver).count - 1
                d.signal(SIGTERM)
                #expect(await opsWaitNotify(receiver, after: beforeStop, timeout: 10) { $0.fields["STOPPING"] == "1" } != nil,
                        "no STOPPING=1 after SIGTERM")
                let exited = await d.process!.waitForExit(timeout: 20)
                let result = d.process!.result()
                #expect(exited && result.succeeded, "after SIGTERM: \(result)")
            }
            print("time to READY=1: fresh \(String(format: "%.1f", readyMilliseconds["fresh"] ?? -1)) ms, "
                  + "loading a 4096×64 adam checkpoint \(String(format: "%.1f", readyMilliseconds["with checkpoint"] ?? -1)) ms")
        }
    }

    // MARK: 6. SIGHUP reload

    @Test("SIGHUP: a good config (lr changed, a model added, one removed) applies live and checkpoints the removed model; a bad one (unknown key, changed dict_dim) is refused and the daemon keeps running")
    func sighupReload() async throws {
        try await withTemporaryDirectory("ops-reload") { temp in
            let settings = Daemon.Settings.operations(metrics: false)
            let a = OpsModels.simple(name: "a", dictDim: 8, lr: 0.01)
            let b = OpsModels.simple(name: "b", kind: "ridge", dictDim: 6)
            let d = try Daemon(directory: temp.file("d"), models: a + b, settings: settings)
            defer { d.stop() }
            try await d.start()
            try await d.feed(model: "a", dictDim: 8, sysDim: 1, total: 48, from: 0, to: 48, expectStep: 3, expectBuffered: 0)
            try await d.feed(model: "b", dictDim: 6, sysDim: 1, total: 40, from: 0, to: 40, expectStep: 2, expectBuffered: 8)

            func models() async throws -> [String: [String: Any]] {
                let reply = try await d.request(#"{"cmd":"models"}"#)
                var out: [String: [String: Any]] = [:]
                for m in reply["models"] as? [[String: Any]] ?? [] { out[m["name"] as? String ?? ""] = m }
                return out
            }
            func waitLog(_ text: String, count: Int = 1) async -> Bool {
                await d.waitForLog { $0.components(separatedBy: text).count - 1 >= count }
            }

            // Good: a's lr 0.01 → 0.05, b removed, c added.
            let c = OpsModels.simple(name: "c", kind: "elastic_net", dictDim: 4, sysDim: 2)
            try d.writeConfig(models: OpsModels.simple(name: "a", dictDim: 8, lr: 0.05) + c)
            d.signal(SIGHUP)
            #expect(await waitLog("reloaded"), "no 'reloaded' in the log\n\(d.log)")
            let after = try await models()
            #expect(Set(after.keys) == ["a", "c"], "models after reload: \(after.keys.sorted())")
            #expect(abs((opsDouble(after["a"]?["lr"]) ?? 0) - 0.05) < 1e-6, "a.lr = \(after["a"]?["lr"] ?? "nil")")
            #expect(opsInt(after["a"]?["step"]) == 3, "a lost its state in the reload: \(after["a"] ?? [:])")
            #expect(opsInt(after["c"]?["dict_dim"]) == 4 && opsInt(after["c"]?["sys_dim"]) == 2)
            // The removed model's final state was checkpointed.
            let bDirectory = d.modelDirectory("b")
            let deadline = Date().addingTimeInterval(5)
            while opsCheckpoints(bDirectory).isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let bFile = try #require(opsCheckpoints(bDirectory).last, "no checkpoint of the removed model b")
            let ib = try await opsInspect(bDirectory + "/" + bFile, directory: temp.url).get()
            #expect(opsInt(ib["updates"]) == 2 && opsInt(ib["pending_rows"]) == 8 && ib["model"] as? String == "b", "\(ib)")
            // The added model learns.
            try await d.feed(model: "c", dictDim: 4, sysDim: 2, total: 32, from: 0, to: 32, expectStep: 2, expectBuffered: 0)

            // Bad 1: an unknown key. Bad 2: a's dict_dim changed. Both refused whole; nothing changes.
            var bad = settings
            bad.daemonExtra = "no_such_key = 1"
            d.settings = bad
            try d.writeConfig(models: OpsModels.simple(name: "a", dictDim: 8, lr: 0.07) + c)
            d.signal(SIGHUP)
            #expect(await waitLog("config rejected"), "unknown key: no rejection in the log\n\(d.log)")
            #expect(d.log.contains("no_such_key"), "the rejection does not name the key")
            d.settings = settings
            try d.writeConfig(models: OpsModels.simple(name: "a", dictDim: 9, lr: 0.07) + c)
            d.signal(SIGHUP)
            #expect(await waitLog("reload rejected"), "dict_dim change: no rejection in the log\n\(d.log)")
            #expect(opsLogEntries(d.log, "reload rejected").count == 1)
            #expect(opsLogEntries(d.log, "reload rejected").first?["model"] == "a")
            try await Task.sleep(for: .milliseconds(200))
            #expect(d.process?.isRunning == true)
            let unchanged = try await models()
            #expect(Set(unchanged.keys) == ["a", "c"])
            #expect(abs((opsDouble(unchanged["a"]?["lr"]) ?? 0) - 0.05) < 1e-6 && opsInt(unchanged["a"]?["dict_dim"]) == 8,
                    "a after the refused reloads: \(unchanged["a"] ?? [:])")
            try await d.feed(model: "a", dictDim: 8, sysDim: 1, total: 96, from: 48, to: 64, expectStep: 4, expectBuffered: 0)
            #expect(try #require(d.stop()).succeeded)
        }
    }

    // MARK: 7. Metrics over HTTP

    @Test("/metrics over real HTTP: counters, rejections by reason, per-model step, update histogram, checkpoint metrics; /healthz 200; unknown path 404")
    func metricsOverHTTP() async throws {
        try await withTemporaryDirectory("ops-metrics") { temp in
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.elasticNetWithPrior(), settings: .operations(metrics: true))
            defer { d.stop() }
            try await d.start()
            let base = "http://\(d.metrics)"
            try await d.feed(model: "en", dictDim: 8, sysDim: 2, total: 400, from: 0, to: 165, expectStep: 10, expectBuffered: 5,
                             extra: ["--bad-json", "3", "--unknown-model", "2"])
            let written = try #require(try await d.checkpoint()["en"])
            let size = try #require(opsFileSize(written))

            // Per-model gauges refresh once a second: poll until the step shows.
            var scrape: [String: Any] = [:]
            var samples: [String: Double] = [:]
            let deadline = Date().addingTimeInterval(8)
            repeat {
                let (r, out) = try await opsPython("ops_metrics.py", ["--base", base, "--path", "/metrics", "--path", "/healthz", "--path", "/nope"],
                                                   directory: temp.url)
                scrape = try #require(out, "ops_metrics.py: \(r)")
                samples = ((scrape["/metrics"] as? [String: Any])?["samples"] as? [String: Any] ?? [:]).compactMapValues { opsDouble($0) }
                if samples["hebbd_model_step{model=\"en\"}"] == 10 && samples["hebbd_checkpoints_written_total"] == 1 { break }
                try await Task.sleep(for: .milliseconds(200))
            } while Date() < deadline
            let page = try #require(scrape["/metrics"] as? [String: Any])
            #expect(opsInt(page["status"]) == 200)
            #expect((page["content_type"] as? String)?.hasPrefix("text/plain") == true, "\(page["content_type"] ?? "nil")")
            #expect((page["malformed"] as? [String])?.isEmpty == true, "unparseable lines: \(page["malformed"] ?? "nil")")
            let types = page["types"] as? [String: String] ?? [:]

            let expected: [(String, Double)] = [
                ("hebbd_messages_received_total", 3 + 2 + 17),
                ("hebbd_samples_received_total", 165),
                ("hebbd_updates_total", 10),
                ("hebbd_rejected_messages_total{reason=\"bad_json\"}", 3),
                ("hebbd_rejected_messages_total{reason=\"unknown_model\"}", 2),
                ("hebbd_rejected_messages_total{reason=\"dimensions\"}", 0),
                ("hebbd_model_step{model=\"en\"}", 10),
                ("hebbd_model_samples{model=\"en\"}", 160),
                ("hebbd_update_duration_seconds_count", 10),
                ("hebbd_update_duration_seconds_bucket{le=\"+Inf\"}", 10),
                ("hebbd_checkpoints_written_total", 1),
                ("hebbd_checkpoint_failures_total", 0),
                ("hebbd_checkpoint_duration_seconds_count", 1),
                ("hebbd_checkpoint_last_bytes", Double(size)),
            ]
            for (name, value) in expected {
                #expect(samples[name] == value, "\(name) = \(samples[name].map { "\($0)" } ?? "missing"), expected \(value)")
            }
            for (name, type) in [("hebbd_samples_received_total", "counter"), ("hebbd_updates_total", "counter"),
                                 ("hebbd_rejected_messages_total", "counter"), ("hebbd_model_step", "gauge"),
                                 ("hebbd_update_duration_seconds", "histogram"), ("hebbd_checkpoint_duration_seconds", "histogram")] {
                #expect(types[name] == type, "# TYPE \(name) is \(types[name] ?? "missing"), expected \(type)")
            }
            // Histogram buckets are cumulative; the sum is positive and small.
            let buckets = samples.filter { $0.key.hasPrefix("hebbd_update_duration_seconds_bucket{le=") }
                .map { (le: Double($0.key.dropFirst("hebbd_update_duration_seconds_bucket{le=\"".count).dropLast(2)) ?? .infinity, n: $0.value) }
                .sorted { $0.le < $1.le }
            #expect(buckets.count >= 5 && zip(buckets, buckets.dropFirst()).allSatisfy { $0.n <= $1.n }, "buckets: \(buckets)")
            let sum = samples["hebbd_update_duration_seconds_sum"] ?? -1
            #expect(sum > 0 && sum < 10, "update duration sum \(sum)")
            let lastCheckpoint = samples["hebbd_model_last_checkpoint_timestamp_seconds{model=\"en\"}"] ?? 0
            #expect(abs(lastCheckpoint - Date().timeIntervalSince1970) < 60, "last checkpoint timestamp \(lastCheckpoint)")

            let health = try #require(scrape["/healthz"] as? [String: Any])
            #expect(opsInt(health["status"]) == 200 && (health["body"] as? String)?.hasPrefix("ok") == true, "\(health)")
            let missing = try #require(scrape["/nope"] as? [String: Any])
            #expect(opsInt(missing["status"]) == 404, "\(missing)")
        }
    }

    // MARK: 8. Checkpoint cost of a 4096×64 model

    @Test("checkpoint figures of a 4096×64 Adam model through the daemon: control round trip, the daemon's own seconds, file size ≈ 12 bytes per coefficient")
    func bigCheckpointFigures() async throws {
        try await withTemporaryDirectory("ops-bigckpt") { temp in
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "big", dictDim: 4096, sysDim: 64, batchSize: 50),
                               settings: .operations(metrics: false))
            defer { d.stop() }
            try await d.start()
            try await d.feed(model: "big", dictDim: 4096, sysDim: 64, total: 100, from: 0, to: 100, expectStep: 2, expectBuffered: 0, chunk: 50)
            let t = Date()
            _ = try await d.status()
            let statusRoundTrip = Date().timeIntervalSince(t)
            var figures: [String] = []
            for i in 1...3 {
                let start = Date()
                let path = try #require(try await d.checkpoint()["big"])
                let roundTrip = Date().timeIntervalSince(start)
                let size = try #require(opsFileSize(path))
                let logged = opsLogEntries(d.log, "checkpoint written").first { $0["checkpoint.path"] == path }
                let seconds = try #require(logged?["checkpoint.seconds"].flatMap { Double($0) }, "no 'checkpoint written' line for \(path)")
                #expect(logged?["checkpoint.bytes"].flatMap { Int($0) } == size)
                let coefficients = 4096 * 64
                #expect(size >= 12 * coefficients && size < 12 * coefficients + 65_536, "\(size) bytes for \(coefficients) coefficients")
                #expect(roundTrip >= seconds, "the reply came before the write finished?")
                figures.append("#\(i): round trip \(opsMilliseconds(roundTrip)), daemon seconds=\(opsMilliseconds(seconds)), \(size) bytes")
                if i == 1 {
                    let (r, read) = try await opsPython("ops_checkpoint.py", ["read", path], directory: temp.url)
                    let header = try #require(read?["header"] as? [String: Any], "\(r)")
                    #expect(opsCanonical(header["shape"]) == "[4096,64]" && opsInt(header["updates"]) == 2)
                }
            }
            print("checkpoint of a 4096×64 adam model (`hebbd control` status round trip \(opsMilliseconds(statusRoundTrip))):\n  "
                  + figures.joined(separator: "\n  "))
            #expect(try #require(d.stop()).succeeded)
        }
    }
}

extension OperationsTests {
    // MARK: 9. READY=1 really means ready 

    @Test("READY=1 means ready: SIGHUP or SIGTERM sent the instant READY=1 arrives is handled (reload; graceful stop, exit 0), and /metrics is already bound")
    func readyMeansReady() async throws {
        try await withTemporaryDirectory("ops-ready-race") { temp in
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "r", dictDim: 8), settings: .operations(metrics: true))
            let command = [try Executables.hebbdPath(), "run", "--config", d.configPath, "--state-dir", d.stateDirectory]
            for signal in ["HUP", "TERM", "NONE"] {
                let (r, out) = try await opsPython("ops_ready_race.py", ["--signal", signal, "--metrics", d.metrics, "--attempts", "2", "--"] + command,
                                                   directory: temp.url, timeout: 90)
                let summary = try #require(out, "ops_ready_race.py: \(r)")
                let attempts = summary["attempts"] as? [[String: Any]] ?? []
                #expect(attempts.count == 2)
                #expect(attempts.allSatisfy { $0["ready_ms"] != nil }, "no READY=1: \(attempts.map { $0["outcome"] ?? "?" })")
                for a in attempts {
                    print("SIG\(signal) at READY=1 (after \(a["ready_ms"] ?? "?") ms): \(a["outcome"] ?? "?"), returncode \(a["returncode"] ?? "?"), "
                          + "metrics bound \((a["metrics_bound"] as? Bool).map { "\($0)" } ?? "?")")
                }
                for a in attempts {
                    #expect(a["ok"] as? Bool == true, "SIG\(signal) the instant READY=1 arrived: \(a["outcome"] ?? "?")\n\(a["log_tail"] ?? "")")
                }
            }
        }
    }

    // MARK: 10. The checkpoint reply covers the state at request time 

    @Test("a `checkpoint` reply names a file holding at least the state the model had when the request was made, not an older snapshot already in flight")
    func checkpointReplyIsCurrent() async throws {
        try await withTemporaryDirectory("ops-ckpt-reply") { temp in
            let settings = Daemon.Settings(checkpointInterval: "150ms", checkpointEvery: 1, publishFormat: "binary", metrics: false)
            // 1024×64: a checkpoint write (~0.8 MB) outlasts an update, so a write is nearly always in flight.
            let d = try Daemon(directory: temp.file("d"), models: OpsModels.simple(name: "k", dictDim: 1024, sysDim: 64),
                               settings: settings)
            defer { d.stop() }
            try await d.start()
            let flood = try spawnPython(Paths.script("ops_stream.py"),
                                        ["flood", "--ingest", d.ingest, "--model", "k", "--dict-dim", "1024", "--sys-dim", "64",
                                         "--chunk", "16", "--rate", "80", "--duration", "60"], directory: d.directory)
            defer { flood.stop(grace: 3) }
            let flowing = Date().addingTimeInterval(5)
            while Date() < flowing, (opsInt(try await d.modelStatus("k")["step"]) ?? 0) < 20 { try await Task.sleep(for: .milliseconds(20)) }
            let requests = 40
            let (r, out) = try await opsPython("ops_stream.py", ["checkpoint-race", "--control", d.control, "--model", "k",
                                                                 "--requests", String(requests), "--pause", "0.02"],
                                               directory: temp.url, timeout: 60)
            let race = try #require(out, "ops_stream.py checkpoint-race: \(r)")
            #expect(opsInt(race["requests"]) == requests, "ops_stream.py checkpoint-race: \(r)")
            let violations = (race["older"] as? [[String: Any]] ?? []).map {
                "status step \($0["before"] ?? "?"), then the reply named \($0["file"] ?? "?")"
            }
            print("checkpoint replies naming a snapshot older than the request: \(violations.count) of \(requests)")
            #expect(violations.isEmpty, "\(violations.count) of \(requests): \(violations.prefix(3))")
            #expect(try #require(d.stop()).succeeded)
        }
    }
}

extension OperationsTests {
    // MARK: 11. A model dropped by a reload and added back 

    @Test("a model dropped by SIGHUP (checkpointed on removal) and added back by the next SIGHUP resumes from that checkpoint, as it would at a start")
    func readdedModelResumes() async throws {
        try await withTemporaryDirectory("ops-readd") { temp in
            let a = OpsModels.simple(name: "a", dictDim: 4, batchSize: 4)
            let b = OpsModels.simple(name: "b", dictDim: 4, batchSize: 4)
            let d = try Daemon(directory: temp.file("d"), models: a + b, settings: .operations(metrics: false))
            defer { d.stop() }
            try await d.start()
            try await d.feed(model: "b", dictDim: 4, sysDim: 1, total: 12, from: 0, to: 12, expectStep: 3, expectBuffered: 0)
            func reload(_ models: String, count: Int) async throws {
                try d.writeConfig(models: models)
                d.signal(SIGHUP)
                _ = await d.waitForLog { opsLogEntries($0, "reloaded").count >= count }
                #expect(opsLogEntries(d.log, "reloaded").count == count, "reload \(count) not applied\n\(d.log)")
            }
            try await reload(a, count: 1)
            let deadline = Date().addingTimeInterval(5)
            while opsCheckpoints(d.modelDirectory("b")).isEmpty && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            let removal = try #require(opsCheckpoints(d.modelDirectory("b")).last, "no checkpoint of the removed model")
            #expect(opsCheckpointUpdates(removal) == 3)
            try await reload(a + b, count: 2)
            let step = opsInt(try await d.modelStatus("b")["step"])
            print("model b re-added by SIGHUP: step \(step.map(String.init) ?? "nil") (its removal checkpoint is at step 3)")
            #expect(step == 3, "re-added model b is at step \(step.map(String.init) ?? "nil"), its removal checkpoint at 3")
            #expect(try #require(d.stop()).succeeded)
        }
    }
}

extension OperationsTests {
    // MARK: 12. Daemon settings a reload applies live

    @Test("SIGHUP applies daemon.log_level (warning → info: info lines appear from then on) and checkpoint_keep (5 → 2: the next checkpoint prunes to 2) live; a restart-only change is named in the log")
    func reloadAppliesLogLevelAndKeep() async throws {
        try await withTemporaryDirectory("ops-reload-daemon") { temp in
            var settings = Daemon.Settings.operations(metrics: false)
            settings.logLevel = "warning"
            settings.checkpointKeep = 5
            let a = OpsModels.simple(name: "a", dictDim: 4, batchSize: 4)
            let d = try Daemon(directory: temp.file("d"), models: a, settings: settings)
            defer { d.stop() }
            try await d.start()
            var fed = 0
            func feedAndCheckpoint() async throws {
                try await d.feed(model: "a", dictDim: 4, sysDim: 1, total: 400, from: fed, to: fed + 4,
                                 expectStep: fed / 4 + 1, expectBuffered: 0)
                fed += 4
                let reply = try await d.request(#"{"cmd":"checkpoint"}"#)
                #expect(reply["ok"] as? Bool == true, "checkpoint: \(reply)")
            }
            for _ in 0..<4 { try await feedAndCheckpoint() }
            let directory = d.modelDirectory("a")
            #expect(opsCheckpoints(directory).count == 4)
            // At warning, no info line: not even "engine listening" or "checkpoint written".
            #expect(!d.log.contains(" info "), "info lines at log_level = warning:\n\(d.log)")

            var reloaded = settings
            reloaded.logLevel = "info"
            reloaded.checkpointKeep = 2
            reloaded.publishFormat = "binary"
            d.settings = reloaded
            try d.writeConfig(models: a)
            d.signal(SIGHUP)
            // "reloaded" is an info line: it shows only if the new level is in force.
            #expect(await d.waitForLog { opsLogEntries($0, "reloaded").count == 1 }, "no 'reloaded' at info\n\(d.log)")
            #expect(opsLogEntries(d.log, "settings apply only after a restart").first?["reload.restart_only"] == "publish.format", "\(d.log)")
            try await feedAndCheckpoint()
            #expect(await d.waitForLog { $0.contains("checkpoint written") }, "no info 'checkpoint written'\n\(d.log)")
            let kept = opsCheckpoints(directory)
            #expect(kept.count == 2, "after keep 5 → 2 and one more checkpoint: \(kept)")
            #expect(kept.map(opsCheckpointUpdates) == [4, 5], "kept \(kept)")
            #expect(try #require(d.stop()).succeeded)
        }
    }
}

/// SplitMix64: the kill loop's delays, reproducible with HEBBD_OPS_SEED.
struct OpsRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
