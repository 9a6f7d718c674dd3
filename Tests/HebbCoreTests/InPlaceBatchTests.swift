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
        #expect(a.circuit.updates == 6 && b.circuit.updates == 6)
        #expect(a.circuit.weights.map(\.bitPattern) == b.circuit.weights.map(\.bitPattern))
        #expect(a.circuit.state == b.circuit.state)
        #expect(a.lastReport == b.lastReport)
    }
}
