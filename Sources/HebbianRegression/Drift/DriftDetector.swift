/// A detector of change in the distribution of a stream of numbers, fed one value at a time.
///
/// hebbd feeds each update's prequential error (the batch MSE scored before the circuit learns from
/// that batch): a detector raising its alarm means the error level moved, i.e. the data's concept or
/// the model's fit changed. Implementations reproduce River's detectors (River 0.26.1) bit for bit,
/// including River's rule that a detector starts afresh on the value after the one that raised the alarm.
///
/// Conformers are values: copying one forks the detector, and its `Codable` form (explicit, stable keys)
/// is everything needed to continue exactly where it stopped, so it can live in a checkpoint.
public protocol DriftDetector: Sendable, Equatable, Codable {
    /// Feeds one value and returns true when drift is detected at this value (the same as
    /// `driftDetected` afterwards).
    ///
    /// A non-finite value (NaN, ±∞, e.g. the error of a diverged model) is skipped: the detector only does
    /// the restart pending from an alarm on the previous value (River does that at the start of every
    /// update), then returns false without touching its statistics. The signals are then exactly River's
    /// on the stream with that value removed; River itself would let it poison every running sum and never
    /// alarm again.
    mutating func update(_ x: Double) -> Bool

    /// Whether the last `update` detected drift. The next `update` first clears the statistics.
    var driftDetected: Bool { get }

    /// Forgets everything seen, keeping the parameters.
    mutating func reset()
}
