/// A pending `checkpoint` control request (or a model change made durable, ``DurableChange``): the reply waits until every model's write of a snapshot taken at or
/// after the request has finished (an older periodic write still in flight does not count), or until its deadline.
///
/// Policy, so it lives in the core and is timed by the injected ``EngineClock``: the driver only reports each
/// write's outcome and sends the reply once ``ControlHandler/takeCheckpointReply(now:)`` hands it out.
package struct CheckpointWait: Sendable {
    /// How long a `checkpoint` reply waits for its writes before it reports the missing ones as timed out.
    package static let timeout: Double = 30

    /// Model → when its requested snapshot was taken (wall-clock seconds, as in the snapshot).
    private var models: [String: Double]
    private var written: [(model: String, path: String)] = []
    private var failed: [(model: String, error: String)] = []
    /// Monotonic time after which the reply goes out with what it has.
    private let deadline: Double

    /// A wait for the writes of `snapshots`, requested at monotonic time `now`.
    package init(snapshots: [ModelSnapshot], now: Double) {
        models = Dictionary(snapshots.map { ($0.model.name, $0.wallClockSeconds) }, uniquingKeysWith: max)
        deadline = now + Self.timeout
    }

    /// How one checkpoint write ended.
    package enum WriteResult: Sendable, Equatable {
        /// Written to this path.
        case written(path: String)
        /// Failed, for this reason.
        case failed(String)
    }

    /// The outcome of a write of `model`'s snapshot taken at `taken`: the path written, or why it failed.
    /// A write of an older snapshot is not the one requested and is ignored.
    package mutating func record(model: String, taken: Double, result: WriteResult) {
        guard let requested = models[model], taken >= requested else { return }
        models[model] = nil
        switch result {
        case let .written(path): written.append((model, path))
        case let .failed(error): failed.append((model, error))
        }
    }

    /// Every requested write has finished.
    package var isComplete: Bool { models.isEmpty }

    /// The deadline has passed at monotonic time `now`.
    package func isExpired(now: Double) -> Bool { now > deadline }

    /// Each failed or missing write, as `model: why` (empty when every write succeeded).
    package var problems: [String] {
        failed.map { "\($0.model): \($0.error)" } + models.keys.sorted().map { "\($0): timed out" }
    }

    /// `{"ok":true,"written":{model:path,…}}`, or `"ok":false` with an `error` naming each failed or missing write.
    package func reply() -> [UInt8] {
        let problems = self.problems
        var fields: [(String, JSON)] = [("ok", .bool(problems.isEmpty))]
        if !problems.isEmpty { fields.append(("error", .string(problems.joined(separator: "; ")))) }
        fields.append(("written", .object(written.map { ($0.model, .string($0.path)) })))
        return JSON.object(fields).serialized
    }
}
