import Foundation
import Testing
@testable import HebbCore
@testable import HebbDaemon
import HebbTestSupport
import HebbianRegression
import Logging
#if canImport(Glibc)
import Glibc
#endif

// MARK: - Helpers


private func randomFloats(_ count: Int, _ generator: inout SeededGenerator, scale: Double = 1) -> [Float] {
    (0..<count).map { _ in Float(generator.nextGaussian() * scale) }
}

/// elastic_net + Adam, 7 × 3, Gaussian prior with fitted hyper-parameters, drawn initial weights, seed 9.
private func testConfiguration(dictDim: Int = 7, sysDim: Int = 3) -> CircuitConfiguration {
    var c = CircuitConfiguration(kind: .elasticNet, dictDim: dictDim, sysDim: sysDim)
    c.optimizer = .adam
    c.learningRate = 0.01
    c.prior = .gaussian(mean: [0.05], std: (0..<(dictDim * sysDim)).map { 0.5 + Float($0) * 0.01 }, weight: 0.02, fitHyper: true)
    c.initialization = .priorSample
    c.seed = 9
    return c
}

private struct Batch {
    var x: [Float]
    var y: [Float]
    var rows: Int
}

private func batches(_ count: Int, rows: Int, dictDim: Int, sysDim: Int, seed: UInt64) -> [Batch] {
    var g = SeededGenerator(seed: seed)
    return (0..<count).map { _ in Batch(x: randomFloats(rows * dictDim, &g), y: randomFloats(rows * sysDim, &g), rows: rows) }
}

private func train(_ circuit: HebbianCircuit, _ batch: Batch) throws {
    try batch.x.withUnsafeBufferPointer { x in
        try batch.y.withUnsafeBufferPointer { y in
            _ = try circuit.update(x: x, y: y, rows: batch.rows)
        }
    }
}

/// A snapshot of `circuit` with 2 pending rows and a 4-value window.
private func snapshot(of circuit: HebbianCircuit, name: String = "demo", sequence: UInt64 = 42,
                      wallClock: Double = 1_764_028_800.125) -> ModelSnapshot {
    let c = circuit.configuration
    var g = SeededGenerator(seed: 1234)
    return ModelSnapshot(
        model: ModelConfiguration(name: name, batchSize: 16, circuit: c), circuit: circuit.state, sequence: sequence,
        pendingRows: 2, pendingX: randomFloats(2 * c.dictDim, &g), pendingY: randomFloats(2 * c.sysDim, &g),
        window: [0.5, 0.25, 1.0 / 3.0, 0.1], wallClockSeconds: wallClock)
}

/// A trained demo circuit and its snapshot (updates = `updates`).
private func trainedSnapshot(name: String = "demo", updates: Int = 3, seed: UInt64 = 5) throws -> ModelSnapshot {
    let circuit = try HebbianCircuit(testConfiguration())
    for b in batches(updates, rows: 8, dictDim: 7, sysDim: 3, seed: seed) { try train(circuit, b) }
    return snapshot(of: circuit, name: name, sequence: UInt64(updates))
}

/// Two checkpoints of "demo" in `store` (updates 2, then 3): the one a damaged newest file must fall back to.
private func olderAndNewest(in store: CheckpointStore) throws -> (older: ModelSnapshot, olderPath: String, newestPath: String) {
    let older = try trainedSnapshot(updates: 2)
    let olderPath = try store.write(older).path
    return (older, olderPath, try store.write(try trainedSnapshot(updates: 3)).path)
}

private func fileBytes(_ path: String) throws -> [UInt8] {
    Array(try Data(contentsOf: URL(fileURLWithPath: path)))
}

private func writeBytes(_ bytes: [UInt8], to path: String) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

private func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

private func names(in directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// Rewrites the trailing CRC so that a deliberately patched file fails on the patched field, not on the CRC.
private func fixCRC(_ bytes: inout [UInt8]) {
    let crc = CRC32.checksum(Array(bytes[0..<(bytes.count - 4)]))
    for i in 0..<4 { bytes[bytes.count - 4 + i] = UInt8((crc >> (8 * UInt32(i))) & 0xFF) }
}

private func bits(_ s: ModelSnapshot) -> [[UInt64]] {
    let state = s.circuit!
    var out: [[UInt64]] = [
        state.weights.map { UInt64($0.bitPattern) }, state.optimizer.m.map { UInt64($0.bitPattern) },
        state.optimizer.v.map { UInt64($0.bitPattern) }, [UInt64(state.optimizer.t.bitPattern)],
        s.pendingX.map { UInt64($0.bitPattern) }, s.pendingY.map { UInt64($0.bitPattern) },
        s.window.map(\.bitPattern), [s.wallClockSeconds.bitPattern], state.generator.state,
    ]
    if let p = state.prior {
        out.append([UInt64(p.weight.bitPattern)])
        for h in p.hyperParameters {
            out += [h.values, h.optimizer.m, h.optimizer.v, [h.optimizer.t]].map { $0.map { UInt64($0.bitPattern) } }
        }
    }
    let c = state.configuration
    out.append([c.learningRate, c.lmbda, c.l1Ratio, c.threshold, c.weightFill].map { UInt64($0.bitPattern) })
    return out
}

// MARK: - Tests

@Suite struct CheckpointStoreTests {
    /// Write, read back: equal, every float bit-identical; the restored circuit continues exactly like
    /// one that never stopped.
    @Test func roundTripIsBitExactAndResumesIdentically() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let configuration = testConfiguration()
            let uninterrupted = try HebbianCircuit(configuration)
            let first = try HebbianCircuit(configuration)
            let data = batches(8, rows: 8, dictDim: 7, sysDim: 3, seed: 77)
            for b in data.prefix(4) {
                try train(uninterrupted, b)
                try train(first, b)
            }
            let original = snapshot(of: first, sequence: .max)
            #expect(original.circuit!.prior!.hyperParameters[0].optimizer.t > 0)  // the prior really was fitted

            let store = CheckpointStore(directory: dir)
            let written = try store.write(original)
            #expect(written.path.hasPrefix(dir + "/demo/ckpt-"))
            #expect(written.bytes == (try fileBytes(written.path)).count)
            let read = try CheckpointStore.read(path: written.path)
            #expect(read == original)
            #expect(bits(read) == bits(original))
            #expect(read.sequence == .max)

            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == original)
            #expect(loaded.path == written.path)
            #expect(loaded.quarantined.isEmpty && loaded.unreadable == nil)

            let resumed = try HebbianCircuit(restoring: read.circuit!)
            for b in data.dropFirst(4) {
                try train(uninterrupted, b)
                try train(resumed, b)
            }
            #expect(resumed.weights.map(\.bitPattern) == uninterrupted.weights.map(\.bitPattern))
            #expect(resumed.state == uninterrupted.state)
        }
    }

    /// Special values survive by bit pattern: −0, subnormals, ±inf, NaN with a payload, odd configuration floats.
    @Test func specialFloatsRoundTripByBitPattern() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            var s = try trainedSnapshot()
            let nanWithPayload = Float(bitPattern: 0x7FC0_1234)
            s.pendingX[0] = -0.0
            s.pendingX[1] = .leastNonzeroMagnitude
            s.pendingX[2] = .infinity
            s.pendingY[0] = nanWithPayload
            s.window = [-0.0, .leastNonzeroMagnitude, Double(bitPattern: 0x7FF8_0000_0000_ABCD), .greatestFiniteMagnitude]
            // Floats whose shortest decimal form is long, and a subnormal penalty.
            s.model.circuit.learningRate = Float(0.01).nextUp
            s.model.circuit.lmbda = Float.leastNonzeroMagnitude
            s.model.circuit.threshold = Float(1) / 3
            s.circuit!.configuration = s.model.circuit
            let path = try CheckpointStore(directory: dir).write(s).path
            let read = try CheckpointStore.read(path: path)
            #expect(bits(read) == bits(s))
            #expect(read.model == s.model)
        }
    }

    /// The circuit's own configuration is stored separately when it differs from the model's.
    @Test func separateCircuitConfigurationRoundTrips() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            var s = try trainedSnapshot()
            s.model.circuit.learningRate = 0.5
            s.model.circuit.prior = nil
            s.model.circuit.initialization = .fill
            let read = try CheckpointStore.read(path: try CheckpointStore(directory: dir).write(s).path)
            #expect(read == s)
            #expect(read.circuit!.configuration != read.model.circuit)
        }
    }

    @Test func namesSortByGenerationAndCarryTheStep() throws {
        let a = CheckpointFileName(generation: 2, updates: 9, samples: 90)
        let b = CheckpointFileName(generation: 10, updates: 10, samples: 100)
        #expect(a.description == "ckpt-00000000000000000002-00000000000000000009-00000000000000000090.hebb")
        #expect(a.description < b.description && a < b)
        #expect(CheckpointFileName(parsing: b.description) == b)
        #expect(CheckpointFileName(parsing: b.description + ".broken") == nil)
        #expect(CheckpointFileName(parsing: ".tmp-" + b.description) == nil)
        #expect(CheckpointFileName(parsing: "ckpt-1-2-3.hebb") == nil)

        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir, keep: 10)
            var paths = [String]()
            for updates in [1, 2, 3] { paths.append(try store.write(try trainedSnapshot(updates: updates)).path) }
            #expect(paths == paths.sorted())
            #expect(store.checkpoints(model: "demo") == paths.reversed())
            #expect(paths[2].hasSuffix("-00000000000000000003-00000000000000000003-00000000000000000024.hebb"))
            #expect(store.loadLatest(model: "demo").snapshot?.circuit!.updates == 3)
            // After a `reset` the counters restart at 0: the newer write must still win.
            let reset = try HebbianCircuit(testConfiguration())
            let afterReset = snapshot(of: reset, sequence: 4)
            let resetPath = try store.write(afterReset).path
            #expect(store.checkpoints(model: "demo").first == resetPath)
            #expect(store.loadLatest(model: "demo").snapshot == afterReset)
        }
    }

    @Test func pruningKeepsTheNewestAndNeverTouchesBrokenFiles() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir, keep: 3)
            let modelDir = dir + "/demo"
            try FileManager.default.createDirectory(atPath: modelDir, withIntermediateDirectories: true)
            let broken = modelDir + "/" + CheckpointFileName(generation: 1, updates: 0, samples: 0).description + ".broken"
            try writeBytes([1, 2, 3], to: broken)
            try writeBytes([4], to: modelDir + "/notes.txt")
            var written = [String]()
            var pruned = [String]()
            for updates in 1...6 {
                let result = try store.write(try trainedSnapshot(updates: updates))
                written.append(result.path)
                pruned += result.pruned
                #expect(result.pruneFailures.isEmpty)
            }
            #expect(store.checkpoints(model: "demo") == Array(written.suffix(3).reversed()))
            #expect(pruned == Array(written.prefix(3)))
            #expect(exists(broken) && exists(modelDir + "/notes.txt"))
            // Generations continue past the quarantined file's, so no name is ever reused.
            #expect(written[0].contains("ckpt-00000000000000000002-"))
        }
    }

    @Test func truncatedNewestIsQuarantinedAndThePreviousLoaded() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let (older, olderPath, newestPath) = try olderAndNewest(in: store)
            let bytes = try fileBytes(newestPath)
            try writeBytes(Array(bytes.prefix(bytes.count - 100)), to: newestPath)

            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == older)
            #expect(loaded.path == olderPath)
            #expect(loaded.quarantined.count == 1)
            let q = try #require(loaded.quarantined.first)
            #expect(q.path == newestPath)
            #expect(q.quarantinedPath == newestPath + ".broken")
            #expect(q.error == .truncated(path: newestPath, expectedBytes: bytes.count, actualBytes: bytes.count - 100))
            #expect(q.error.isCorruption)
            #expect(!exists(newestPath) && exists(newestPath + ".broken"))
            #expect(store.checkpoints(model: "demo") == [olderPath])
            // A second start finds nothing more to quarantine.
            #expect(store.loadLatest(model: "demo").quarantined.isEmpty)
        }
    }

    @Test func bitFlipIsACRCMismatchAndIsQuarantined() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let (older, _, newestPath) = try olderAndNewest(in: store)
            var bytes = try fileBytes(newestPath)
            let headerLength = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16 | Int(bytes[15]) << 24
            let payloadByte = 24 + headerLength + 5  // inside the first weight
            bytes[payloadByte] ^= 0x10
            try writeBytes(bytes, to: newestPath)

            #expect {
                _ = try CheckpointStore.read(path: newestPath)
            } throws: { error in
                guard case let .crcMismatch(path, expected, actual)? = error as? CheckpointError else { return false }
                return path == newestPath && expected != actual
            }
            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == older)
            guard case .crcMismatch? = loaded.quarantined.first?.error else {
                Issue.record("expected a CRC mismatch, got \(loaded.quarantined)")
                return
            }
            #expect(loaded.quarantined.first!.error.description.contains("CRC32 mismatch"))
            #expect(exists(newestPath + ".broken"))
        }
    }

    @Test func wrongMagicIsRejected() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let (older, _, newestPath) = try olderAndNewest(in: store)
            var bytes = try fileBytes(newestPath)
            bytes.replaceSubrange(0..<8, with: Array("PK\u{3}\u{4}JUNK".utf8))
            try writeBytes(bytes, to: newestPath)
            #expect(throws: CheckpointError.badMagic(path: newestPath, found: Array("PK\u{3}\u{4}JUNK".utf8))) {
                _ = try CheckpointStore.read(path: newestPath)
            }
            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == older)
            #expect(loaded.quarantined.map(\.path) == [newestPath])
        }
    }

    @Test func unsupportedFormatVersionIsRefusedEvenWithAValidCRC() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let path = try CheckpointStore(directory: dir).write(try trainedSnapshot()).path
            var bytes = try fileBytes(path)
            #expect(Array(bytes[8..<12]) == [UInt8(CheckpointFormat.version), 0, 0, 0])
            let newer = CheckpointFormat.version + 1
            bytes[8] = UInt8(newer)
            fixCRC(&bytes)
            try writeBytes(bytes, to: path)
            #expect {
                _ = try CheckpointStore.read(path: path)
            } throws: { error in
                let e = error as? CheckpointError
                return e == .unsupportedVersion(path: path, version: newer, supported: CheckpointFormat.version)
                    && e!.description.contains("unsupported checkpoint format version \(newer)")
            }
        }
    }

    /// A checkpoint written by a newer hebbd is valid, just not ours: never renamed, never skipped for an older one;
    /// the model is refused with the file and the cause, and a reset is the only way past it.
    @Test func aNewerFormatVersionIsLeftUntouchedAndRefusesTheModel() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let (_, olderPath, newestPath) = try olderAndNewest(in: store)
            var bytes = try fileBytes(newestPath)
            let newer = CheckpointFormat.version + 1
            bytes[8] = UInt8(newer)
            fixCRC(&bytes)
            try writeBytes(bytes, to: newestPath)
            let before = names(in: dir + "/demo")

            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == nil && loaded.quarantined.isEmpty)
            #expect(loaded.unreadable == .unsupportedVersion(path: newestPath, version: newer, supported: CheckpointFormat.version))
            #expect(!loaded.unreadable!.isCorruption)
            let after = try fileBytes(newestPath)
            #expect(names(in: dir + "/demo") == before && after == bytes && exists(olderPath))
            let model = ModelConfiguration(name: "demo", batchSize: 16, circuit: testConfiguration())
            #expect {
                _ = try store.resumable(model, resetRequested: false, logger: .init(label: "test"))
            } throws: { error in
                guard case let .unreadable(model: "demo", error: cause)? = error as? ResumeRefusal else { return false }
                return cause == loaded.unreadable && (error as! ResumeRefusal).description.contains(newestPath)
                    && (error as! ResumeRefusal).description.contains("--reset-model demo")
            }
            #expect(names(in: dir + "/demo") == before)
            #expect(try store.resumable(model, resetRequested: true, logger: .init(label: "test")) == nil)
        }
    }

    /// A read that fails for a reason other than the content (tests run as root, where chmod 000 does not stop a
    /// read: a directory stands where the newest file should be, so open+read fails with EISDIR) is an I/O error,
    /// not corruption: nothing is renamed and no older checkpoint is loaded in its place.
    @Test func anUnreadableFileIsNotCorruptionAndIsLeftUntouched() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let (_, olderPath, _) = try olderAndNewest(in: store)
            let blocking = dir + "/demo/" + CheckpointFileName(generation: 99, updates: 9, samples: 72).description
            try FileManager.default.createDirectory(atPath: blocking, withIntermediateDirectories: false)
            let before = names(in: dir + "/demo")
            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == nil && loaded.quarantined.isEmpty)
            guard case let .io(path, _, code)? = loaded.unreadable else {
                Issue.record("expected an I/O error, got \(String(describing: loaded.unreadable))"); return
            }
            #expect(path == blocking && code == EISDIR)
            #expect(names(in: dir + "/demo") == before && exists(olderPath) && CheckpointFiles.isDirectory(blocking))
            // An unlistable model directory is unreadable learned state too.
            let unlistable = CheckpointStore(directory: olderPath)
            #expect(unlistable.loadLatest(model: "x").unreadable != nil)
        }
    }

    /// An index entry whose count disagrees with the shape (CRC fixed) is reported precisely.
    @Test func arrayCountMismatchIsReported() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let path = try CheckpointStore(directory: dir).write(try trainedSnapshot()).path
            var bytes = try fileBytes(path)
            let needle = Array(#"{"name":"weights","dtype":"f32","count":21"#.utf8)
            let at = try #require((0...(bytes.count - needle.count)).first { Array(bytes[$0..<($0 + needle.count)]) == needle })
            #expect(bytes[at + needle.count - 1] == UInt8(ascii: "1"))
            bytes[at + needle.count - 1] = UInt8(ascii: "0")  // 21 → 20
            fixCRC(&bytes)
            try writeBytes(bytes, to: path)
            #expect(throws: CheckpointError.arrayCountMismatch(path: path, name: "weights", expected: 21, actual: 20)) {
                _ = try CheckpointStore.read(path: path)
            }
        }
    }

    @Test func trailingBytesAndEmptyFilesAreRejected() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let path = try CheckpointStore(directory: dir).write(try trainedSnapshot()).path
            let bytes = try fileBytes(path)
            try writeBytes(bytes + [0], to: path)
            #expect(throws: CheckpointError.trailingBytes(path: path, expectedBytes: bytes.count, actualBytes: bytes.count + 1)) {
                _ = try CheckpointStore.read(path: path)
            }
            try writeBytes([], to: path)
            #expect(throws: CheckpointError.truncated(path: path, expectedBytes: 28, actualBytes: 0)) {
                _ = try CheckpointStore.read(path: path)
            }
            #expect(throws: CheckpointError.io(path: dir + "/nope", operation: "open", code: ENOENT)) {
                _ = try CheckpointStore.read(path: dir + "/nope")
            }
        }
    }

    /// A `.tmp-` file (an interrupted write) is never loaded, even when its content is a newer valid checkpoint.
    @Test func staleTemporaryFilesAreRemovedAndNeverLoaded() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let older = try trainedSnapshot(updates: 2)
            let olderPath = try store.write(older).path
            let newer = try store.write(try trainedSnapshot(updates: 5)).path
            let stale = dir + "/demo/.tmp-" + CheckpointFileName(generation: 3, updates: 5, samples: 40).description + ".999"
            try FileManager.default.moveItem(atPath: newer, toPath: stale)
            #expect(store.checkpoints(model: "demo") == [olderPath])

            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == older)
            #expect(loaded.removedTemporaryFiles == [stale])
            #expect(loaded.quarantined.isEmpty)
            #expect(!exists(stale))
        }
    }

    @Test func aFileOfAnotherModelIsNotLoaded() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir)
            let mine = try trainedSnapshot(name: "b", updates: 1)
            _ = try store.write(mine)
            let foreign = try store.write(try trainedSnapshot(name: "a", updates: 4)).path
            let copied = dir + "/b/" + CheckpointFileName(generation: 9, updates: 4, samples: 32).description
            try FileManager.default.copyItem(atPath: foreign, toPath: copied)
            let loaded = store.loadLatest(model: "b")
            #expect(loaded.snapshot == mine)
            #expect(loaded.quarantined.first?.error == .modelMismatch(path: copied, expected: "b", found: "a"))
            #expect(store.models() == ["a", "b"])
        }
    }

    @Test func missingDirectoryMeansAFreshStartAndBadInputIsRefused() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let store = CheckpointStore(directory: dir + "/not/yet")
            let loaded = store.loadLatest(model: "demo")
            #expect(loaded.snapshot == nil && loaded.path == nil && loaded.unreadable == nil && loaded.quarantined.isEmpty)
            #expect(store.models().isEmpty && store.checkpoints(model: "demo").isEmpty)

            var s = try trainedSnapshot(name: "../escape")
            #expect(throws: CheckpointError.invalidModelName("../escape")) { _ = try store.write(s) }
            s.model.name = "demo"
            s.pendingX.removeLast()
            #expect { _ = try store.write(s) } throws: { error in
                guard case .invalidSnapshot(model: "demo", _)? = error as? CheckpointError else { return false }
                return true
            }
            #expect(!exists(dir + "/not/yet/demo") || names(in: dir + "/not/yet/demo").isEmpty)
            // The state must be restorable by the learning core before it may shadow older checkpoints.
            s = try trainedSnapshot()
            s.circuit!.optimizer.m.removeLast()
            #expect { _ = try store.write(s) } throws: { error in
                guard case .invalidSnapshot? = error as? CheckpointError else { return false }
                return true
            }
            // The store creates missing parents (0750) and writes work afterwards; files are 0640.
            let path = try store.write(try trainedSnapshot()).path
            #expect(path.hasPrefix(dir + "/not/yet/demo/"))
            var st = stat()
            let umask = currentUmask()
            for directory in [dir + "/not", dir + "/not/yet", dir + "/not/yet/demo"] {
                #expect(stat(directory, &st) == 0 && st.st_mode & 0o777 == 0o750 & ~umask)
            }
            #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o640 & ~umask)
        }
    }

    @Test func writerWritesTwoModelsAndReportsOutcomes() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let writer = CheckpointWriter(store: CheckpointStore(directory: dir, keep: 10))
            defer { writer.stop() }
            var last = [String: ModelSnapshot]()
            for updates in 1...4 {
                for name in ["alpha", "beta"] {
                    let s = try trainedSnapshot(name: name, updates: updates)
                    #expect(writer.submit(s))
                    last[name] = s
                    #expect(writer.flush(timeout: .seconds(30)))  // one at a time: every one is written
                }
            }
            let outcomes = writer.drainResults()
            #expect(outcomes.count == 8)
            #expect(outcomes.allSatisfy { if case .success = $0.result { true } else { false } })
            #expect(writer.drainResults().isEmpty)
            #expect(writer.statistics.written == 8 && writer.statistics.failed == 0)
            let store = CheckpointStore(directory: dir)
            #expect(store.models() == ["alpha", "beta"])
            for name in ["alpha", "beta"] {
                #expect(store.checkpoints(model: name).count == 4)
                #expect(store.loadLatest(model: name).snapshot == last[name])
            }
        }
    }

    @Test func writerCoalescesQueuedSnapshotsOfOneModel() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let writer = CheckpointWriter(store: CheckpointStore(directory: dir, keep: 200))
            let base = try trainedSnapshot(name: "fast", updates: 1)
            var submitted = [ModelSnapshot]()
            for i in 0..<100 {
                var s = base
                s.sequence = UInt64(i)
                s.circuit!.weights[0] = Float(i)
                submitted.append(s)
            }
            let clock = ContinuousClock()
            let submitTime = clock.measure { for s in submitted { writer.submit(s) } }
            #expect(writer.flush(timeout: .seconds(60)))
            writer.stop()
            let stats = writer.statistics
            let outcomes = writer.drainResults()
            print("coalescing: 100 submits took \(submitTime), \(stats.written) writes, \(stats.coalesced) coalesced")
            #expect(stats.submitted == 100)
            #expect(stats.written == outcomes.count && stats.written + stats.coalesced == 100)
            #expect(stats.written <= 10)
            #expect(outcomes.last?.sequence == 99)
            let store = CheckpointStore(directory: dir)
            #expect(store.loadLatest(model: "fast").snapshot == submitted.last)
            #expect(!writer.submit(base))  // stopped
        }
    }

    @Test func stopDiscardsQueuedSnapshotsWithAnOutcome() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let writer = CheckpointWriter(store: CheckpointStore(directory: dir))
            let models = (0..<20).map { "m\($0)" }
            for name in models { writer.submit(try trainedSnapshot(name: name)) }
            writer.stop()
            writer.stop()  // idempotent
            let outcomes = writer.drainResults()
            #expect(outcomes.count == 20)
            let stats = writer.statistics
            #expect(stats.written + stats.discarded == 20)
            let stopped = outcomes.filter { $0.result == .failure(.writerStopped(model: $0.model)) }
            #expect(stopped.count == stats.discarded)
        }
    }

    /// A snapshot the writer has not written yet is handed out by `unwritten(model:)` (so `add` right after `remove`
    /// resumes from it), and a write that fails with an I/O error is retried until it succeeds.
    @Test func writerRetriesAFailedWriteAndHandsOutTheUnwrittenSnapshot() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let writer = CheckpointWriter(store: CheckpointStore(directory: dir))
            defer { writer.stop() }
            // A regular file where the model's directory must go: mkdir fails with ENOTDIR until it is removed.
            try writeBytes([1], to: dir + "/demo")
            let final = try trainedSnapshot(updates: 3)
            writer.submit(final)
            #expect(writer.unwritten(model: "demo") == final)
            #expect(writer.flush(timeout: .seconds(30)))
            let failed = writer.drainResults()
            #expect(failed.count == 1)
            guard case .failure(.io(_, "mkdir", ENOTDIR))? = failed.first?.result else { Issue.record("\(failed)"); return }
            #expect(writer.retryingCount == 1 && writer.unwritten(model: "demo") == final)
            try FileManager.default.removeItem(atPath: dir + "/demo")
            let deadline = Date().addingTimeInterval(20)
            while writer.statistics.written == 0 && Date() < deadline { usleep(50_000) }
            #expect(writer.statistics.written == 1 && writer.statistics.retried >= 1)
            #expect(writer.unwritten(model: "demo") == nil && writer.retryingCount == 0)
            #expect(CheckpointStore(directory: dir).loadLatest(model: "demo").snapshot == final)
            #expect(CheckpointWriter.retryDelay(attempt: 1) == 1 && CheckpointWriter.retryDelay(attempt: 3) == 4
                    && CheckpointWriter.retryDelay(attempt: 40) == 60)
        }
    }

    @Test func inspectRendersTextAndJSON() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            let s = try trainedSnapshot(updates: 3)
            let path = try CheckpointStore(directory: dir).write(s).path
            let inspection = try CheckpointStore.inspect(path: path)
            let threshold = s.circuit!.configuration.threshold
            let expected = s.circuit!.weights.map { abs($0) >= threshold ? $0 : 0 }
            #expect(inspection.coefficients == expected)
            #expect(inspection.nonzero == expected.filter { $0 != 0 }.count)
            #expect(inspection.nonzero > 0 && inspection.nonzero < 21)
            #expect(inspection.bytes == (try fileBytes(path)).count)

            let text = inspection.text
            #expect(text.contains("model           demo"))
            #expect(text.contains("updates         3"))
            #expect(text.contains("format version  \(CheckpointFormat.version)"))
            #expect(text.contains("nonzero         \(inspection.nonzero) of 21"))
            let tableRows = text.split(separator: "\n").drop { !$0.hasPrefix("          row") }.dropFirst()
            #expect(tableRows.count == 7)
            let firstNonzero = try #require(expected.firstIndex { $0 != 0 })
            #expect(text.contains(String(format: "%.6g", Double(expected[firstNonzero]))))

            let object = try #require(try JSONSerialization.jsonObject(with: Data(inspection.json.utf8)) as? [String: Any])
            for key in ["format_version", "model", "kind", "shape", "updates", "samples", "seq", "created", "bytes",
                        "weights", "coefficients"] {
                #expect(object[key] != nil, "missing \(key)")
            }
            #expect(object["model"] as? String == "demo")
            #expect(object["kind"] as? String == "elastic_net")
            #expect(object["updates"] as? Int == 3)
            #expect(object["shape"] as? [Int] == [7, 3])
            #expect(object["created"] as? String == "2025-11-25T00:00:00.125Z")
            let coefficients = try #require(object["coefficients"] as? [[Double]])
            #expect(coefficients.count == 7 && coefficients.allSatisfy { $0.count == 3 })
            #expect(coefficients.flatMap { $0 }.map { Float($0) } == expected)
            let weights = try #require(object["weights"] as? [[Double]])
            #expect(weights.flatMap { $0 }.map { Float($0) } == s.circuit!.weights)
        }
    }

    /// Information, not a pass/fail criterion: cost of checkpointing a 4096 × 64 Adam model.
    @Test func measureA4096By64AdamCheckpoint() throws {
        try withScratchDirectory("hebbd-ckpt") { dir in
            var c = CircuitConfiguration(kind: .lasso, dictDim: 4096, sysDim: 64)
            c.optimizer = .adam
            let circuit = try HebbianCircuit(c)
            for b in batches(2, rows: 64, dictDim: 4096, sysDim: 64, seed: 3) { try train(circuit, b) }
            var g = SeededGenerator(seed: 8)
            let s = ModelSnapshot(model: ModelConfiguration(name: "big", batchSize: 64, circuit: c), circuit: circuit.state,
                                  sequence: 2, pendingRows: 63, pendingX: randomFloats(63 * 4096, &g),
                                  pendingY: randomFloats(63 * 64, &g), window: Array(repeating: 0.5, count: 100),
                                  wallClockSeconds: 1_764_028_800)
            let store = CheckpointStore(directory: dir, keep: 2)
            let clock = ContinuousClock()
            var writes = [CheckpointWriteResult]()
            for _ in 0..<3 { writes.append(try store.write(s)) }
            var read: ModelSnapshot?
            let readTime = try clock.measure { read = try CheckpointStore.read(path: writes.last!.path) }
            let encodeTime = try clock.measure { _ = try CheckpointFormat.encode(s, software: "bench") }
            #expect(read == s)
            let ms = writes.map { String(format: "%.1f", $0.seconds * 1000) }.joined(separator: ", ")
            print("4096×64 adam checkpoint (63 pending rows): \(writes[0].bytes) bytes; write \(ms) ms (encode \(encodeTime)); read+verify \(readTime)")
            var bare = s
            bare.pendingRows = 0
            bare.pendingX = []
            bare.pendingY = []
            let bareWrites = try (0..<3).map { _ in try store.write(bare) }
            let bareMs = bareWrites.map { String(format: "%.1f", $0.seconds * 1000) }.joined(separator: ", ")
            print("4096×64 adam checkpoint (no pending rows): \(bareWrites[0].bytes) bytes; write \(bareMs) ms")
            #expect(store.checkpoints(model: "big").count == 2)
        }
    }
}

/// The process umask, read without changing it (umask(2) would race with the other tests' mkdirs).
private func currentUmask() -> mode_t {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
    return line.flatMap { mode_t($0.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) } ?? 0o022
}
