import Foundation
import Testing

/// End-to-end: a `kind = "bayesian"` model and a lasso with `uncertainty = true` in the real `hebbd`
/// binary, fed float64 rows of a known W through real sockets by `Scripts/uncertainty_stream.py`: the published std
/// shrinks and the intervals hold the truth, a zero coefficient has std 0 and the interval [0, 0], and after
/// kill -9 a restart (the checkpoint taken half-way, the rest replayed from the journal) answers `predict` with
/// bit for bit the posterior an uninterrupted daemon had.
@Suite("hebbd end to end: published uncertainty", .serialized, .timeLimit(.minutes(3)),
       .enabled(if: Executables.pythonReady, "needs python3 with pyzmq and numpy (python3 -m pip install pyzmq numpy)"))
struct UncertaintyEndToEndTests {
    static let models = """
        [[model]]
        name = "b"
        kind = "bayesian"
        dict_dim = 4
        batch_size = 10
        noise_std = 0.1

        [[model]]
        name = "l"
        kind = "lasso"
        dict_dim = 4
        batch_size = 10
        optim = "adam"
        lr = 0.1
        update = "proximal"
        lmbda = 0.01
        threshold = 0.3
        uncertainty = true
        """

    func run(_ daemon: Daemon, phase: String) async throws -> [String: Any] {
        let r = try await runPython(Paths.script("uncertainty_stream.py"),
                                    ["--ingest", daemon.ingest, "--publish", daemon.publish, "--control", daemon.control, "--phase", phase],
                                    directory: daemon.directory, timeout: 90)
        try #require(r.succeeded, "uncertainty_stream.py \(r)")
        return try #require(lastJSONObject(r.stdout), "no JSON summary: \(r)")
    }

    @Test("bayesian std shrinks and its intervals cover W; lasso zeros publish std 0 and [0, 0]; kill -9 + journal replay gives the same posterior bit for bit")
    func publishedUncertaintyAndRestart() async throws {
        try await withDaemon("uncertainty", models: Self.models) { daemon, _ in
            let s = try await run(daemon, phase: "stream")
            // Before any row: the prior's std (1) for the bayesian model, nothing active (std 0) for the lasso.
            let initial = try #require(s["initial"] as? [String: Any])
            #expect(flatNumbers(initial["std"]) == [1, 1, 1, 1] && initial["interval_level"] as? Double == 0.95)
            #expect(flatNumbers(initial["lasso_std"]) == [0, 0, 0, 0] && flatNumbers(initial["lasso_lower"]) == [0, 0, 0, 0])

            let b = try #require(s["bayesian"] as? [String: Any])
            let first = flatNumbers(b["first_std"]), last = flatNumbers(b["last_std"])
            #expect(b["kind"] as? String == "bayesian" && first.count == 4 && last.count == 4)
            #expect(zip(first, last).allSatisfy { $1 < $0 / 4 }, "std \(first) → \(last)")
            let coverage = try #require(b["coverage"] as? Double)
            #expect(coverage >= 0.85, "95 % intervals held the true W in \(coverage) of the last half's coefficients")
            #expect(flatNumbers(b["noise_std"]) == [0.1])

            let lasso = try #require(s["lasso"] as? [String: Any])
            let w = flatNumbers(lasso["coefficients"]), std = flatNumbers(lasso["std"])
            let lower = flatNumbers(lasso["lower"]), upper = flatNumbers(lasso["upper"])
            #expect(w[2] == 0, "the true zero is published as 0: \(w)")
            for i in w.indices where w[i] == 0 { #expect(std[i] == 0 && lower[i] == 0 && upper[i] == 0, "coefficient \(i)") }
            for i in w.indices where w[i] != 0 { #expect(std[i] > 0 && lower[i] < upper[i], "coefficient \(i)") }

            let before = try #require(s["predict"] as? [String: Any])
            let beforeB = try #require(before["b"] as? [String: Any])
            #expect(flatNumbers(beforeB["y_std"]).allSatisfy { $0 > 0.1 }, "predictive std includes the noise: \(beforeB)")

            daemon.kill9()
            try await daemon.start()
            let after = try await run(daemon, phase: "probe")
            let status = try #require(after["status"] as? [String: Any])
            #expect((status["b"] as? [String: Any])?["step"] as? Int == (try #require(s["status"] as? [String: Any])["b"] as? [String: Any])?["step"] as? Int)
            let afterPredict = try #require(after["predict"] as? [String: Any])
            for model in ["b", "l"] {
                let x = try #require(before[model] as? [String: Any]), y = try #require(afterPredict[model] as? [String: Any])
                #expect(flatNumbers(x["y"]).map(\.bitPattern) == flatNumbers(y["y"]).map(\.bitPattern), "\(model): y \(x) → \(y)")
                #expect(flatNumbers(x["y_std"]).map(\.bitPattern) == flatNumbers(y["y_std"]).map(\.bitPattern), "\(model): y_std \(x) → \(y)")
            }
        }
    }
}
