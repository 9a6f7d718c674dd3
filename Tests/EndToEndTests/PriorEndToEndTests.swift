import Foundation
import Testing

/// End-to-end: one model per prior family and a drift-alarmed model, each in the real `hebbd` binary, streamed
/// through real sockets by `Scripts/prior_stream.py` (the producer example's system) and checked on what the
/// daemon published: coefficients, the `prior` term of every update (recomputed from brainstate's formulas),
/// the drift event and `status`.
@Suite("hebbd end to end: priors and the drift alarm", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: Executables.pythonReady, "needs python3 with pyzmq and numpy (python3 -m pip install pyzmq numpy)"))
struct PriorEndToEndTests {
    /// Streams `messages` messages of 50 rows to `model` and returns the script's summary.
    func stream(_ daemon: Daemon, model: String, dictDim: Int, sysDim: Int = 1, messages: Int, shiftAt: Int = 0,
                prior: String? = nil) async throws -> [String: Any] {
        var arguments = ["--ingest", daemon.ingest, "--publish", daemon.publish, "--control", daemon.control, "--model", model,
                         "--dict-dim", "\(dictDim)", "--sys-dim", "\(sysDim)", "--messages", "\(messages)", "--shift-at", "\(shiftAt)"]
        if let prior { arguments += ["--prior", prior] }
        let r = try await runPython(Paths.script("prior_stream.py"), arguments, directory: daemon.directory, timeout: 90)
        try #require(r.succeeded, "prior_stream.py \(r)")
        return try #require(lastJSONObject(r.stdout), "no JSON summary: \(r)")
    }

    /// The update's `prior` field matched brainstate's loss at the previous message's W (the initial state's for
    /// the first), for every update.
    func expectPriorTerms(_ summary: [String: Any], updates: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(summary["prior_checked"] as? Int == updates, sourceLocation: sourceLocation)
        #expect((summary["prior_max_rel_err"] as? Double ?? 1) <= 1e-4, "\(summary["prior_max_rel_err"] ?? "none")", sourceLocation: sourceLocation)
    }

    /// The model learned: the last update's prequential error is a small fraction of the first's.
    func expectLearned(_ summary: [String: Any], sourceLocation: SourceLocation = #_sourceLocation) {
        let mses = (summary["messages"] as? [[String: Any]] ?? []).compactMap { $0["mse"] as? Double }
        #expect(mses.count > 10 && mses.last! < 0.05 * mses.first!, "mse \(mses.first ?? -1) → \(mses.last ?? -1)", sourceLocation: sourceLocation)
    }

    static func model(_ name: String, kind: String = "ridge", dictDim: Int, sysDim: Int = 1, extra: String = "", prior: String) -> String {
        """
        [[model]]
        name = "\(name)"
        kind = "\(kind)"
        dict_dim = \(dictDim)
        sys_dim = \(sysDim)
        batch_size = 50
        lmbda = 0.0001
        lr = 0.02
        threshold = 0.0
        \(extra)
        \(prior)
        """
    }

    @Test("penalty: Configs/group-sparse.toml's group lasso, proximal, sys_dim 3, publishes exact zero rows")
    func groupLassoProximalZeroRows() async throws {
        // The shipped model, with threshold 0 so that the published coefficients are W (for the prior check).
        let models = try configModelTables("group-sparse.toml").replacingOccurrences(of: "name = \"groups\"", with: "name = \"groups\"\nthreshold = 0.0")
        try await withDaemon("prior-group", models: models) { daemon, _ in
            let s = try await stream(daemon, model: "groups", dictDim: 20, sysDim: 3, messages: 300,
                                     prior: #"{"kind": "group_lasso", "weight": 3.0, "group_size": 3}"#)
            expectPriorTerms(s, updates: 300)
            expectLearned(s)
            let support = Set(try #require(s["true_support_rows"] as? [Int]))
            let w = flatRows(s["last_coefficients"])
            #expect(w.count == 20)
            for (row, values) in w.enumerated() {
                if support.contains(row) {
                    #expect(values.allSatisfy { $0 != 0 }, "row \(row) of the support: \(values)")
                } else {
                    #expect(values == [0, 0, 0], "row \(row) outside the support: \(values)")
                }
            }
            #expect((s["messages"] as? [[String: Any]])?.last?["nnz"] as? Int == 9)
        }
    }

    @Test("heavy-tailed: a Student-t prior's loss is published with every update and the model learns")
    func studentT() async throws {
        let models = Self.model("heavy", kind: "lasso", dictDim: 10, extra: "optim = \"adam\"",
                                prior: "[model.prior]\nkind = \"student_t\"\ndf = 3.0\nscale = 0.5\nweight = 0.5")
        try await withDaemon("prior-t", models: models) { daemon, _ in
            let s = try await stream(daemon, model: "heavy", dictDim: 10, messages: 200,
                                     prior: #"{"kind": "student_t", "df": 3.0, "scale": 0.5, "weight": 0.5}"#)
            expectPriorTerms(s, updates: 200)
            expectLearned(s)
            let truth = flatRows(s["true_w"]).flatMap { $0 }, w = flatRows(s["last_coefficients"]).flatMap { $0 }
            // Heavy tails barely shrink large coefficients.
            #expect(maxAbsDiff(truth, w) < 0.1, "\(w) vs \(truth)")
        }
    }

    @Test("positive support: a gamma prior (init at its reset value) is published and the model learns")
    func gammaPrior() async throws {
        let models = Self.model("positive", dictDim: 8, extra: "init = \"prior_mean\"",
                                prior: "[model.prior]\nkind = \"gamma\"\nalpha = 2.0\nbeta = 1.0\nweight = 0.05")
        try await withDaemon("prior-gamma", models: models) { daemon, _ in
            let s = try await stream(daemon, model: "positive", dictDim: 8, messages: 200,
                                     prior: #"{"kind": "gamma", "alpha": 2.0, "beta": 1.0, "weight": 0.05}"#)
            expectPriorTerms(s, updates: 200)
            expectLearned(s)
            // init = "prior_mean": the first published W is the gamma's mode (a − 1)/b = 1 everywhere.
            let first = try #require((s["messages"] as? [[String: Any]])?.first)
            #expect(first["step"] as? Int == 0 && first["prior"] is NSNull)
        }
    }

    @Test("matrix: an orthogonal prior on a 6 × 2 W is published and the model learns")
    func orthogonalPrior() async throws {
        let models = Self.model("matrix", dictDim: 6, sysDim: 2, prior: "[model.prior]\nkind = \"orthogonal\"\nweight = 0.01")
        try await withDaemon("prior-orth", models: models) { daemon, _ in
            let s = try await stream(daemon, model: "matrix", dictDim: 6, sysDim: 2, messages: 200,
                                     prior: #"{"kind": "orthogonal", "weight": 0.01}"#)
            expectPriorTerms(s, updates: 200)
            expectLearned(s)
        }
    }

    @Test("chained: [[model.prior]] l1 + l2 publishes the summed loss, and the control add takes the same chain")
    func chainedPriors() async throws {
        let models = Self.model("chained", dictDim: 10,
                                prior: "[[model.prior]]\nkind = \"l1\"\nweight = 0.1\n\n[[model.prior]]\nkind = \"l2\"\nweight = 0.2")
        try await withDaemon("prior-chain", models: models) { daemon, _ in
            let spec = #"{"chain": [{"kind": "l1", "weight": 0.1}, {"kind": "l2", "weight": 0.2}]}"#
            let s = try await stream(daemon, model: "chained", dictDim: 10, messages: 200, prior: spec)
            expectPriorTerms(s, updates: 200)
            expectLearned(s)
            // The same chain through the control socket.
            let added = try await daemon.request(#"""
                {"cmd": "add", "model": {"name": "added", "kind": "ridge", "dict_dim": 10, "threshold": 0.0, "lr": 0.02,
                 "prior": [{"kind": "l1", "weight": 0.1}, {"kind": "l2", "weight": 0.2}]}}
                """#)
            #expect(added["ok"] as? Bool == true, "\(added)")
            let t = try await stream(daemon, model: "added", dictDim: 10, messages: 100, prior: spec)
            expectPriorTerms(t, updates: 100)
        }
    }

    @Test("drift: Configs/drift-alarm.toml raises one alarm at the first update after the system changes, and resets")
    func driftAlarmResets() async throws {
        try await withDaemon("drift", models: try configModelTables("drift-alarm.toml")) { daemon, temp in
            let s = try await stream(daemon, model: "drifty", dictDim: 20, messages: 300, shiftAt: 150)
            let events = (s["events"] as? [[String: Any]] ?? []).filter { $0["event"] as? String == "drift" }
            try #require(!events.isEmpty, "no drift event: \(s["events"] ?? "")")
            let event = events[0]
            let messages = try #require(s["messages"] as? [[String: Any]])
            // Rows 7500… (message 150) are the first of the new system: update 151 is scored on them.
            #expect(event["step"] as? Int == 151, "\(event)")
            #expect(event["detector"] as? String == "page_hinkley" && event["action"] as? String == "reset")
            let scored = try #require(messages.first { $0["seq"] as? Int == event["seq"] as? Int })
            #expect(scored["step"] as? Int == 151 && scored["mse"] as? Double == event["mse"] as? Double)
            let reset = try #require(messages.first { $0["seq"] as? Int == (event["seq"] as? Int ?? 0) + 1 })
            #expect(reset["step"] as? Int == 0 && reset["loss"] is NSNull)
            let status = try #require(s["status"] as? [String: Any])
            #expect(status["drifts"] as? Int == events.count && status["last_drift_step"] as? Int == events.last?["step"] as? Int)
            #expect(status["step"] as? Int == 300 - 151, "the model relearned from step 0 after the reset")
            #expect(await daemon.waitForLog { $0.contains("drift detected") && $0.contains("drift.detector=page_hinkley") })
            // hebbd_drift_total{model} (per-model metrics refresh once a second).
            var drifts: Double?
            let deadline = Date().addingTimeInterval(8)
            repeat {
                let (r, out) = try await opsPython("ops_metrics.py", ["--base", "http://\(daemon.metrics)", "--path", "/metrics"], directory: temp.url)
                let scrape = try #require(out, "ops_metrics.py: \(r)")
                let samples = (scrape["/metrics"] as? [String: Any])?["samples"] as? [String: Any] ?? [:]
                drifts = opsDouble(samples["hebbd_drift_total{model=\"drifty\"}"])
                if drifts == Double(events.count) { break }
                try await Task.sleep(for: .milliseconds(200))
            } while Date() < deadline
            #expect(drifts == Double(events.count))
        }
    }
}
