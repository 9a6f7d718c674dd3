/// A change a control command made to the daemon's models, reported by ``EngineCore/runtimeChange`` so that the
/// driver keeps it across restarts (``RuntimeState``).
package enum RuntimeChange: Sendable, Equatable {
    /// `add` or `set` left this model running with this configuration.
    case running(ModelConfiguration)
    /// `remove` took the model of this name away.
    case removed(String)
}
