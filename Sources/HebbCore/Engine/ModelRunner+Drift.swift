import HebbianRegression
import Logging

/// A model's running drift alarm: the detector fed with each update's prequential MSE, and what it has
/// said so far. A value, so a checkpoint holds it and a resumed model continues with exactly the signals
/// an uninterrupted one would give.
package struct DriftState: Sendable, Equatable {
    /// The detector with its running statistics.
    package var detector: AnyDriftDetector
    /// Alarms so far.
    package var drifts: Int
    /// The circuit step of the update whose error raised the last alarm (nil before any).
    package var lastDriftStep: Int?

    /// A fresh detector for `alarm`, no alarms yet.
    package init(alarm: DriftAlarm) throws(DriftConfigurationError) {
        self.init(detector: try alarm.detector.makeDetector(), drifts: 0, lastDriftStep: nil)
    }

    /// A state from its parts (checkpoints).
    package init(detector: AnyDriftDetector, drifts: Int, lastDriftStep: Int?) {
        self.detector = detector
        self.drifts = drifts
        self.lastDriftStep = lastDriftStep
    }

    /// The state to run under `alarm`, continuing `previous` when its detector has exactly `alarm`'s settings;
    /// a changed detector kind or parameter restarts the detector (the alarm history is kept). Nil without an alarm.
    static func continuing(_ previous: DriftState?, under alarm: DriftAlarm?) -> DriftState? {
        guard let alarm else { return nil }
        if var previous {
            if previous.detector.configuration != alarm.detector {
                // Validated when the configuration was decoded.
                guard let fresh = try? alarm.detector.makeDetector() else { return nil }
                previous.detector = fresh
            }
            return previous
        }
        return try? DriftState(alarm: alarm)
    }
}

/// What one alarm reports: the update whose error raised it.
package struct DriftAlarmReport: Sendable, Equatable {
    /// The detector that fired.
    package var detector: DriftDetectorKind
    /// The circuit step of that update (its coefficient message's `step`).
    package var step: Int
    /// The configured action.
    package var action: DriftAction
}

extension ModelRunner {
    /// Feeds the update just done (its prequential MSE, `report.mse`) to the drift detector, if the model has
    /// one. Returns the alarm when the detector fires at this value; the caller publishes it and, for
    /// `action = "reset"`, resets the model.
    func observeDrift(_ report: UpdateReport) -> DriftAlarmReport? {
        guard var state = drift, let alarm = configuration.drift else { return nil }
        let fired = state.detector.update(report.mse)
        if fired {
            state.drifts += 1
            state.lastDriftStep = updates
        }
        drift = state
        return fired ? DriftAlarmReport(detector: state.detector.kind, step: updates, action: alarm.action) : nil
    }
}

extension EngineCore {
    /// After update `sequence` of `runner` was published: feeds its error to the model's drift detector and,
    /// on an alarm, counts it, logs it, publishes `{"event":"drift","detector":…,"step":…,"seq":…,"action":…}`
    /// on `event/M/`, and with `action = "reset"` resets the model and publishes its reset state. Returns
    /// whether the detector fired (the caller counts it).
    func checkDrift(_ runner: ModelRunner, report: UpdateReport, sequence: UInt64) -> Bool {
        guard let alarm = runner.observeDrift(report) else { return false }
        logger.warning("drift detected", metadata: [
            "model": "\(runner.name)", "drift.detector": "\(alarm.detector.rawValue)", "step": "\(alarm.step)",
            "seq": "\(sequence)", "mse": "\(report.mse)", "action": "\(alarm.action.rawValue)",
        ])
        publisher.publishEvent(model: runner.name, event: "drift", fields: [
            ("detector", .string(alarm.detector.rawValue)), ("step", .integer(Int64(alarm.step))),
            ("seq", .integer(Int64(clamping: sequence))), ("mse", .number(report.mse)), ("action", .string(alarm.action.rawValue)),
        ])
        // Back to the prior (its reset value or a fresh draw, per `init`), by the one reset path.
        if alarm.action == .reset { resetModel(runner, cause: .driftAlarm) }
        return true
    }
}
