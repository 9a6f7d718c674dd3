import HebbianRegression
import Testing
@testable import HebbCore
import HebbTestSupport

/// Whole batches are learnt from the ingest frames in place (X always when aligned, Y when aligned, else copied):
/// the learned state must be bit for bit what copying every row gives, whatever the frames' alignment.
@Suite struct InPlaceBatchTests {
    /// Sends `frames` with frames 2 and 3 placed at byte offsets `xShift` and `yShift` of their allocations.
    static func send(_ core: EngineCore, _ frames: [[UInt8]], xShift: Int, yShift: Int) -> Rejection? {
        let shifts = [0, 0, xShift, yShift]
        let buffers = frames.enumerated().map { i, f -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: f.count + shifts[i] + 1, alignment: 16)
            UnsafeMutableRawBufferPointer(rebasing: p[shifts[i]..<(shifts[i] + f.count)]).copyBytes(from: f)
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        let pointers = buffers.enumerated().map { i, p in UnsafeRawBufferPointer(rebasing: p[shifts[i]..<(shifts[i] + frames[i].count)]) }
        return core.handleSample(pointers)
    }

    @Test(arguments: [(0, 0), (0, 1), (0, 2), (1, 0), (3, 3)])
    func alignmentNeverChangesWhatIsLearnt(shifts: (Int, Int)) throws {
        var model = EngineFixtures.model("m", batch: 4)
        model.circuit.optimizer = .adam
        let reference = try EngineFixtures.core([model])
        let shifted = try EngineFixtures.core([model])
        // Messages of one batch, of two batches, and of a batch and a half (the rest buffered, then completed).
        var first = 0
        for rows in [4, 8, 6, 2, 4] {
            let r = EngineFixtures.rows(first..<(first + rows))
            let frames = EngineFixtures.binary("m", x: r.x, y: r.y, rows: rows)
            #expect(EngineFixtures.send(reference, frames) == nil)
            #expect(Self.send(shifted, frames, xShift: shifts.0, yShift: shifts.1) == nil)
            first += rows
        }
        let a = reference.runners["m"]!, b = shifted.runners["m"]!
        #expect(a.circuit!.updates == 6 && b.circuit!.updates == 6)
        #expect(a.circuit!.weights.map(\.bitPattern) == b.circuit!.weights.map(\.bitPattern))
        #expect(a.circuit!.state == b.circuit!.state)
        #expect(a.lastReport == b.lastReport)
    }

    /// A binary float32 message is checked for NaN and ±Inf by the pass that first reads it: the step, for a whole
    /// batch learnt in place (X aligned or not, Y aligned or copied); the copy into the batch buffer, for a message
    /// that fits there; a scan first, for one that would complete a batch before its last row. Each way the whole
    /// message is rejected with the decoder's reason and text, and nothing changes: no row buffered or learnt, no
    /// counter but the rejection's.
    @Test(arguments: [(0, 0), (0, 1), (1, 0), (3, 3)])
    func aNonFiniteValueRejectsTheWholeMessageOnEveryPath(shifts: (Int, Int)) throws {
        var model = EngineFixtures.model("m", batch: 4)
        model.circuit.optimizer = .adam
        let core = try EngineFixtures.core([model])
        let runner = core.runners["m"]!
        // (rows buffered before, rows in the bad message): in place; fits the buffer; crosses a batch boundary;
        // two whole batches.
        for (buffered, rows) in [(0, 4), (0, 3), (2, 2), (2, 5), (0, 8)] {
            var first = 100
            if buffered > 0 {
                let r = EngineFixtures.rows(first..<(first + buffered))
                #expect(Self.send(core, EngineFixtures.binary("m", x: r.x, y: r.y, rows: buffered), xShift: shifts.0, yShift: shifts.1) == nil)
                first += buffered
            }
            let r = EngineFixtures.rows(first..<(first + rows))
            for (inX, position) in [(true, 0), (true, r.x.count - 1), (false, r.y.count - 1)] {
                for bad: Float in [.nan, .infinity, -.infinity] {
                    var x = r.x, y = r.y
                    if inX { x[position] = bad } else { y[position] = bad }
                    let state = runner.circuit!.state, pending = runner.pendingRows, revision = runner.revision
                    let samples = core.counters.samplesReceived, outbox = core.outbox.count, updates = core.counters.updates
                    let rejection = Self.send(core, EngineFixtures.binary("m", x: x, y: y, rows: rows), xShift: shifts.0, yShift: shifts.1)
                    let place = "\(buffered) buffered, \(rows) rows, \(bad) in \(inX ? "X" : "Y")[\(position)]"
                    #expect(rejection == Rejection(.nonFinite, model: "m", "\(inX ? "X" : "Y") value \(position) is NaN or ±Inf"), "\(place)")
                    #expect(runner.circuit!.state == state && runner.pendingRows == pending && runner.revision == revision, "\(place)")
                    #expect(!runner.circuit!.diverged && runner.divergences == 0, "\(place)")
                    #expect(core.counters.samplesReceived == samples && core.outbox.count == outbox && core.counters.updates == updates, "\(place)")
                }
            }
            // The same message with finite values is learnt: the path still works after the rejections.
            #expect(Self.send(core, EngineFixtures.binary("m", x: r.x, y: r.y, rows: rows), xShift: shifts.0, yShift: shifts.1) == nil)
            // Empty the buffer for the next case: whole batches only from here.
            if runner.pendingRows > 0 {
                let rest = 4 - runner.pendingRows
                let fill = EngineFixtures.rows(0..<rest)
                #expect(Self.send(core, EngineFixtures.binary("m", x: fill.x, y: fill.y, rows: rest), xShift: 0, yShift: 0) == nil)
            }
            #expect(runner.pendingRows == 0)
        }
        #expect(core.counters.rejected[.nonFinite] == 5 * 3 * 3)
    }
}
