import HebbianRegression

/// Settings of the engine core taken from the daemon configuration.
package struct EngineSettings: Sendable, Equatable {
    /// How coefficients are published.
    package var publishFormat: PublishFormat = .json
    /// Updates in the rolling prequential error.
    package var window = 100
    /// Seconds of publish silence before a heartbeat (0: none).
    package var heartbeat: Double = 5
    /// Per-message byte limit.
    package var maxMessageBytes = 64 << 20
    /// Per-message row limit.
    package var maxRowsPerMessage = 1_000_000
    /// Largest JSON frame parsed (an inline sample header, a control request).
    package var maxInlineBytes = 1 << 20
    /// Largest control reply built.
    package var maxReplyBytes = 16 << 20
    /// Most models.
    package var maxModels = 1000
    /// Most bytes for the models' state (``ModelFootprint``).
    package var maxMemoryBytes = MachineMemory.defaultBudget
    /// Most coefficients in one model.
    package var maxModelWeights = Int(Int32.max)
    /// Minimum seconds between rejection summaries / log lines per model and reason.
    package var rejectionReportInterval: Double = 10
    /// `daemon.checkpoint_interval` (seconds; 0: none).
    package var checkpointInterval: Double = 30
    /// `daemon.checkpoint_every` (updates; 0: none).
    package var checkpointEvery = 0
    /// `publish.every` and `publish.max_rate`.
    package var pacing = PublishPacing()

    package init() {}
}

extension EngineSettings {
    /// The engine-core settings of a daemon configuration.
    package init(_ c: DaemonConfiguration) {
        self.init()
        publishFormat = c.publish.format
        window = c.publish.window
        heartbeat = c.publish.heartbeat
        maxMessageBytes = c.limits.maxMessageBytes
        maxRowsPerMessage = c.limits.maxRowsPerMessage
        maxInlineBytes = c.limits.maxInlineBytes
        maxReplyBytes = c.limits.maxReplyBytes
        maxModels = c.limits.maxModels
        maxMemoryBytes = c.limits.maxMemoryBytes
        maxModelWeights = c.limits.maxModelWeights
        checkpointInterval = c.daemon.checkpointInterval
        checkpointEvery = c.daemon.checkpointEvery
        pacing = PublishPacing(c.publish)
    }
}
