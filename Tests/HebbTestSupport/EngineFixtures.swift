import HebbCore
import HebbianRegression
import Logging
import Synchronization

/// Builders for driving an ``EngineCore`` in memory, shared by the core's tests and the socket driver's
/// tests (the role of SwiftNIO's NIOTestUtils): small models, wire messages, deterministic rows.
package enum EngineFixtures {
    package static func model(_ name: String, kind: RegressionKind = .lasso, dictDim: Int = 3, sysDim: Int = 1, batch: Int = 4) -> ModelConfiguration {
        var c = CircuitConfiguration(kind: kind, dictDim: dictDim, sysDim: sysDim)
        c.optimizer = .sgd
        c.learningRate = 0.01
        return ModelConfiguration(name: name, batchSize: batch, circuit: c)
    }

    package static func core(_ models: [ModelConfiguration], format: PublishFormat = .json, clock: EngineClock = .system) throws -> EngineCore {
        var settings = EngineSettings()
        settings.publishFormat = format
        settings.window = 3
        settings.heartbeat = 0
        settings.maxMessageBytes = 1 << 20
        settings.maxRowsPerMessage = 1000
        let core = EngineCore(settings: settings, clock: clock)
        for m in models { try core.addModel(m) }
        core.drainOutbox { _ in }
        return core
    }

    /// Sends frames (each given as bytes) through the core.
    @discardableResult
    package static func send(_ core: EngineCore, _ frames: [[UInt8]]) -> Rejection? {
        var pointers: [UnsafeRawBufferPointer] = []
        let copies = frames.map { f -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(f.count, 1), alignment: 1)
            p.copyBytes(from: f)
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        for (i, c) in copies.enumerated() { pointers.append(UnsafeRawBufferPointer(rebasing: c[0..<frames[i].count])) }
        return core.handleSample(pointers)
    }

    package static func binary(_ model: String, x: [Float], y: [Float], rows: Int, extra: String = "") -> [[UInt8]] {
        [Array(model.utf8), Array(#"{"dtype":"float32","rows":\#(rows)\#(extra)}"#.utf8),
         x.withUnsafeBytes { Array($0) }, y.withUnsafeBytes { Array($0) }]
    }

    package static func binary64(_ model: String, x: [Double], y: [Double], rows: Int) -> [[UInt8]] {
        [Array(model.utf8), Array(#"{"dtype":"<f8","rows":\#(rows)}"#.utf8), x.withUnsafeBytes { Array($0) }, y.withUnsafeBytes { Array($0) }]
    }

    package static func inline(_ model: String, _ json: String) -> [[UInt8]] { [Array(model.utf8), Array(json.utf8)] }

    package static func control(_ core: EngineCore, _ request: String) -> JSON {
        let outcome = Array(request.utf8).withUnsafeBytes { core.handleControl($0) }
        guard case let .reply(bytes) = outcome else { return .null }   // a deferred (checkpoint) reply
        return try! JSONParser.parse(bytes)
    }

    package static func body(_ m: PublishedMessage) -> JSON { try! JSONParser.parse(m.json) }

    /// Deterministic rows: x = (i, −i/2, 1), y = 2·x₀ − x₁.
    package static func rows(_ range: Range<Int>) -> (x: [Float], y: [Float]) {
        var x: [Float] = [], y: [Float] = []
        for i in range {
            let a = Float(i % 7) / 7, b = Float(i % 5) / 5
            x += [a, -b, 1]
            y.append(2 * a - b)
        }
        return (x, y)
    }
}

/// A clock the test moves by hand: wall and monotonic readings advance together.
package final class ManualClock: Sendable {
    private let seconds: Mutex<Double>

    /// A clock reading `start` seconds (wall: Unix time; monotonic: the same number).
    package init(start: Double = 1_000_000) { seconds = Mutex(start) }

    /// Moves time forward.
    package func advance(_ delta: Double) { seconds.withLock { $0 += delta } }

    /// The current reading.
    package var now: Double { seconds.withLock { $0 } }

    /// An ``EngineClock`` reading this clock.
    package var engineClock: EngineClock {
        EngineClock(wall: { self.now }, monotonic: { self.now })
    }
}

/// A swift-log handler that keeps every entry in memory, for tests of what is logged and how often.
package final class InMemoryLog: Sendable {
    /// One logged line.
    package struct Entry: Sendable {
        package var level: Logger.Level
        package var message: String
        package var metadata: [String: String]
    }

    private let storage = Mutex<[Entry]>([])

    package init() {}

    /// Every entry so far, in order.
    package var entries: [Entry] { storage.withLock { $0 } }

    /// A logger writing here (at `trace`, so nothing is filtered).
    package func logger(label: String = "test") -> Logger {
        var logger = Logger(label: label) { _ in Handler(log: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ entry: Entry) { storage.withLock { $0.append(entry) } }

    private struct Handler: LogHandler {
        let log: InMemoryLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            log.append(Entry(level: event.level, message: event.message.description,
                             metadata: merged.mapValues { "\($0)" }))
        }
    }
}
