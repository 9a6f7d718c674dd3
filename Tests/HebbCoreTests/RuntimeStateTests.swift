import Foundation
import Testing
@testable import HebbCore
import HebbianRegression
import HebbTestSupport

/// The pure rule that merges the config file with run-time changes (``RuntimeState/reconcile(file:)``), with plain
/// values: the same rule runs at start and at each reload.
@Suite struct RuntimeStateTests {
    private func model(_ name: String, lr: Float = 0.01, threshold: Float = 0, dictDim: Int = 3) -> ModelConfiguration {
        var m = EngineFixtures.model(name, dictDim: dictDim)
        m.circuit.learningRate = lr
        m.circuit.threshold = threshold
        return m
    }

    @Test func noRunTimeChangesMeansTheFileAsItIs() {
        let file = [model("a"), model("b")]
        let result = RuntimeState().reconcile(file: file)
        #expect(result.models == file && result.decisions.isEmpty && result.state.isEmpty)
    }

    /// The file changed `threshold` since the model was set from it, not `lr`: the file wins for threshold only.
    @Test func aConfigEditWinsForTheKeyItChangedAndNotForAnother() throws {
        var state = RuntimeState()
        state.recordRunning(model("m", lr: 0.5), fileModel: model("m"))          // set lr = 0.5 at run time
        let edited = model("m", threshold: 0.2)                                    // the operator edits threshold
        let result = state.reconcile(file: [edited])
        let m = try #require(result.models.first)
        #expect(m.circuit.learningRate == 0.5 && m.circuit.threshold == 0.2)
        let lr = try #require(result.decisions.first { $0.key == "lr" })
        #expect(lr.outcome == .runtimeKept && lr.winner == .runtime && lr.value == "0.5" && lr.overridden == "0.01")
        let threshold = try #require(result.decisions.first { $0.key == "threshold" })
        #expect(threshold.outcome == .configChanged && threshold.winner == .config && threshold.value == "0.2")
        #expect(result.decisions.count == 2)  // the keys neither side changed are not decisions
        // The file's edit of a key the run time also changed wins over the run-time value.
        var both = RuntimeState()
        both.recordRunning(model("m", lr: 0.5), fileModel: model("m"))
        let fileLR = try #require(both.reconcile(file: [model("m", lr: 0.2)]).decisions.first)
        #expect(fileLR.key == "lr" && fileLR.outcome == .configChanged && fileLR.winner == .config && fileLR.value == "0.2"
                && fileLR.overridden == "0.5" && fileLR.description.contains("config file changed it (from 0.01)"))
        #expect(both.reconcile(file: [model("m", lr: 0.2)]).models.first?.circuit.learningRate == 0.2)
        // After the reconcile the base is the edited file: a second start decides the same and logs the same.
        let again = result.state.reconcile(file: [edited])
        #expect(again.models == result.models && again.state == result.state)
        #expect(result.state.sources(of: m)["lr"] == .runtime && result.state.sources(of: m)["threshold"] == .config)
    }

    @Test func aModelRemovedAtRunTimeStaysRemovedUntilItsTableChanges() {
        var state = RuntimeState()
        state.recordRemoved("b", fileModel: model("b"))
        let unchanged = state.reconcile(file: [model("a"), model("b")])
        #expect(unchanged.models.map(\.name) == ["a"])
        #expect(unchanged.decisions.map(\.outcome) == [.staysRemoved])
        let changed = unchanged.state.reconcile(file: [model("a"), model("b", lr: 0.3)])
        #expect(changed.models.map(\.name) == ["a", "b"] && changed.models[1].circuit.learningRate == 0.3)
        #expect(changed.decisions.map(\.outcome) == [.returnsFromConfig] && changed.state.isEmpty)
    }

    @Test func aModelAddedAtRunTimeStaysAndTheFileTakesOverWhenItDefinesIt() throws {
        var state = RuntimeState()
        state.recordRunning(model("new", lr: 0.2), fileModel: nil)
        let kept = state.reconcile(file: [model("a")])
        #expect(kept.models.map(\.name) == ["a", "new"] && kept.models[1].circuit.learningRate == 0.2)
        #expect(kept.decisions.map(\.outcome) == [.runtimeModelKept])
        #expect(kept.state.sources(of: kept.models[1]).values.allSatisfy { $0 == .runtime })
        // The operator writes its table into the file: the file wins for every key it defines.
        let defined = kept.state.reconcile(file: [model("a"), model("new", lr: 0.4)])
        #expect(defined.models.map(\.name) == ["a", "new"] && defined.models[1].circuit.learningRate == 0.4)
        #expect(defined.decisions.allSatisfy { $0.outcome == .configChanged } && defined.state.isEmpty)
        // Removing a run-time-only model leaves nothing to remember.
        var removed = kept.state
        removed.recordRemoved("new", fileModel: nil)
        #expect(removed.isEmpty)
    }

    @Test func deletingATableFromTheFileRemovesASetModel() {
        var state = RuntimeState()
        state.recordRunning(model("b", lr: 0.5), fileModel: model("b"))
        let result = state.reconcile(file: [model("a")])
        #expect(result.models.map(\.name) == ["a"] && result.decisions.map(\.outcome) == [.removedFromConfig] && result.state.isEmpty)
    }

    @Test func setBackToTheFileValueForgetsTheRecordAndForgetDropsIt() {
        var state = RuntimeState()
        state.recordRunning(model("m", lr: 0.5), fileModel: model("m"))
        #expect(!state.isEmpty)
        state.recordRunning(model("m"), fileModel: model("m"))
        #expect(state.isEmpty)
        state.recordRunning(model("m", lr: 0.5), fileModel: model("m"))
        state.forget("m")
        #expect(state.reconcile(file: [model("m")]).models == [model("m")])
    }

    /// A merge that is not a valid model (here: the file changed dict_dim, a per-coefficient prior sized for the
    /// old shape was set at run time) falls back to the file's table whole, and says so.
    @Test func anInvalidMergeFallsBackToTheFile() {
        var withPrior = model("m")
        withPrior.circuit.prior = .gaussian(mean: [0, 0, 0], std: [1], weight: 0.1, fitHyper: false)
        var state = RuntimeState()
        state.recordRunning(withPrior, fileModel: model("m"))
        let result = state.reconcile(file: [model("m", dictDim: 5)])
        #expect(result.models == [model("m", dictDim: 5)])
        #expect(result.decisions.map(\.outcome) == [.mergeInvalid])
    }

    @Test func theFileFormatRoundTripsAndRefusesANewerVersion() throws {
        var state = RuntimeState()
        state.recordRunning(model("m", lr: 0.5), fileModel: model("m"))
        state.recordRunning(model("new"), fileModel: nil)
        state.recordRemoved("gone", fileModel: model("gone"))
        let bytes = RuntimeStateFormat.encode(state)
        #expect(try RuntimeStateFormat.decode(bytes, path: "f") == state)
        let newer = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"format\":1", with: "\"format\":2").utf8)
        #expect(throws: RuntimeStateError.unsupportedVersion(path: "f", version: 2, supported: 1)) {
            _ = try RuntimeStateFormat.decode(newer, path: "f")
        }
        #expect { _ = try RuntimeStateFormat.decode(Array("{\"format\":1}".utf8), path: "f") } throws: { error in
            guard case .malformed(path: "f", _)? = error as? RuntimeStateError else { return false }
            return true
        }
    }
}
