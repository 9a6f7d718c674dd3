import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// `hebbd fit` claims to learn exactly as the daemon learns the same rows streamed to it: the same updates, bit for
/// bit, and the same rows left buffered.
@Suite struct OfflineFitTests {
    /// 3 passes over 10 rows with batch_size 4: 7 updates, two of them running across the end of a pass, and
    /// 2 rows left over; the daemon is fed the same 30 rows in messages of 3 rows (as `hebbd feed --batch-rows 3`).
    @Test(arguments: [false, true])
    func fitLearnsWhatTheDaemonLearnsFromTheSameStream(standardize: Bool) throws {
        var model = EngineFixtures.model("m", batch: 4)
        model.circuit.optimizer = .adam
        model.circuit.standardize = standardize
        let table = EngineFixtures.rows(0..<10)
        let passes = 3
        let fit = try OfflineFit.run(model: model, table: SampleTable(x: table.x, y: table.y, rows: 10, header: nil), passes: passes)

        let core = try EngineFixtures.core([model])
        var stream = (x: [Float](), y: [Float]())
        for _ in 0..<passes { stream.x += table.x; stream.y += table.y }
        for first in stride(from: 0, to: 30, by: 3) {
            let frames = EngineFixtures.binary("m", x: Array(stream.x[(first * 3)..<((first + 3) * 3)]),
                                               y: Array(stream.y[first..<(first + 3)]), rows: 3)
            #expect(EngineFixtures.send(core, frames) == nil)
        }
        let daemon = core.runners["m"]!
        #expect(fit.updates == 7 && daemon.circuit!.updates == 7)
        #expect(fit.bufferedRows == 2 && daemon.pendingRows == 2)
        #expect(fit.weights.map(\.bitPattern) == daemon.circuit!.weights.map(\.bitPattern))
    }

    /// The same for `kind = "bayesian"` and for a lasso with `uncertainty = true`: the fit's published uncertainty
    /// is, bit for bit, what the daemon's model publishes after the same stream.
    @Test(arguments: [true, false])
    func fitPublishesTheDaemonsUncertainty(bayesian: Bool) throws {
        var model = EngineFixtures.model("m", batch: 4)
        if bayesian {
            model = try ModelConfiguration.decode(json: Array(#"{"name":"m","kind":"bayesian","dict_dim":3,"batch_size":4,"intercept":true}"#.utf8), source: "test")
        } else {
            model.uncertainty = true
        }
        let table = EngineFixtures.rows(0..<30)
        let fit = try OfflineFit.run(model: model, table: SampleTable(x: table.x, y: table.y, rows: 30, header: nil), passes: 1)
        let core = try EngineFixtures.core([model])
        #expect(EngineFixtures.send(core, EngineFixtures.binary("m", x: table.x, y: table.y, rows: 30)) == nil)
        let published = EngineFixtures.body(core.outbox.last!)
        let std = published["std"]!.array!.map { Float($0.array![0].double!) }
        let u = try #require(fit.uncertainty)
        #expect(fit.updates == 7 && core.runners["m"]!.updates == 7)
        #expect(u.std.map { Float($0) } == std)
        #expect(fit.coefficients == published["coefficients"]!.array!.map { Float($0.array![0].double!) })
    }
}
