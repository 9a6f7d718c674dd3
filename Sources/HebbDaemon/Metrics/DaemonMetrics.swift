import HebbCore
import CoreMetrics
import HebbianRegression
import Prometheus
import Synchronization

// Prometheus exports types of the same names; these are swift-metrics' API types.
private typealias Counter = CoreMetrics.Counter
private typealias Gauge = CoreMetrics.Gauge
private typealias Timer = CoreMetrics.Timer

/// The daemon's metrics, recorded through swift-metrics into a private Prometheus registry (an explicit
/// factory, not the global bootstrap, so tests and embedders get their own). Counters are fed from the
/// engine's own counters once per loop tick (deltas), so the hot path pays nothing per message.
package final class DaemonMetrics: EngineObserver, Sendable {
    /// The registry `/metrics` renders.
    package let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory

    private let messages: Counter
    private let samples: Counter
    private let updates: Counter
    private let published: Counter
    private let controlRequests: Counter
    private let rejected: [RejectionReason: Counter]
    private let subscriptions: Gauge
    private let updateDuration: Timer
    private let checkpointDuration: Timer
    private let checkpointBytes: Gauge
    private let checkpointsWritten: Counter
    private let checkpointFailures: Counter

    private struct PerModel {
        var loss: Gauge, mse: Gauge, nnz: Gauge, step: Gauge, samples: Gauge, lastCheckpoint: Gauge
        /// `hebbd_drift_total{model}`, fed with the increase of the model's alarm count since the last refresh.
        var drifts: Counter
        var driftsSeen = 0
    }

    private struct State {
        var seen = EngineCounters()
        var models: [String: PerModel] = [:]
        var lastModelRefresh: Int64 = 0
    }
    private let state = Mutex(State())

    package init() {
        var f = PrometheusMetricsFactory(registry: registry)
        let fast: [Duration] = [.microseconds(10), .microseconds(50), .microseconds(100), .microseconds(500), .milliseconds(1),
                                .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)]
        f.durationHistogramBuckets["hebbd_update_duration_seconds"] = fast
        f.durationHistogramBuckets["hebbd_checkpoint_duration_seconds"] = [.milliseconds(1), .milliseconds(5), .milliseconds(10),
                                                                           .milliseconds(50), .milliseconds(100), .milliseconds(500),
                                                                           .seconds(1), .seconds(5), .seconds(10)]
        factory = f
        messages = Counter(label: "hebbd_messages_received_total", factory: f)
        samples = Counter(label: "hebbd_samples_received_total", factory: f)
        updates = Counter(label: "hebbd_updates_total", factory: f)
        published = Counter(label: "hebbd_published_messages_total", factory: f)
        controlRequests = Counter(label: "hebbd_control_requests_total", factory: f)
        var r: [RejectionReason: Counter] = [:]
        for reason in RejectionReason.allCases {
            r[reason] = Counter(label: "hebbd_rejected_messages_total", dimensions: [("reason", reason.rawValue)], factory: f)
        }
        rejected = r
        subscriptions = Gauge(label: "hebbd_publish_subscriptions", factory: f)
        updateDuration = Timer(label: "hebbd_update_duration_seconds", factory: f)
        checkpointDuration = Timer(label: "hebbd_checkpoint_duration_seconds", factory: f)
        checkpointBytes = Gauge(label: "hebbd_checkpoint_last_bytes", factory: f)
        checkpointsWritten = Counter(label: "hebbd_checkpoints_written_total", factory: f)
        checkpointFailures = Counter(label: "hebbd_checkpoint_failures_total", factory: f)
    }

    /// Prometheus text exposition of every metric.
    package func render() -> [UInt8] { registry.emitToBuffer() }

    /// Records one mini-batch update's duration (called on the engine thread).
    package func recordUpdate(nanoseconds: Int64) { updateDuration.recordNanoseconds(nanoseconds) }

    /// Records a finished checkpoint write.
    package func recordCheckpoint(model: String, seconds: Double, bytes: Int, wallClock: Double) {
        checkpointsWritten.increment()
        checkpointDuration.recordNanoseconds(Int64(seconds * 1e9))
        checkpointBytes.record(bytes)
        state.withLock { s in s.models[model]?.lastCheckpoint.record(wallClock) }
    }

    /// Records a failed checkpoint write.
    package func recordCheckpointFailure() { checkpointFailures.increment() }

    package func engineReady(_ endpoints: BoundEndpoints) {}
    package func engineReloaded(error: String?) {}
    package func engineStopped() {}

    package func engineLoopTick(_ core: EngineCore) {
        let c = core.counters
        state.withLock { s in
            messages.increment(by: c.messagesReceived - s.seen.messagesReceived)
            samples.increment(by: c.samplesReceived - s.seen.samplesReceived)
            updates.increment(by: c.updates - s.seen.updates)
            published.increment(by: c.published - s.seen.published)
            controlRequests.increment(by: c.controlRequests - s.seen.controlRequests)
            for (reason, n) in c.rejected where n != s.seen.rejected[reason] {
                rejected[reason]?.increment(by: n - (s.seen.rejected[reason] ?? 0))
            }
            subscriptions.record(c.subscriptions)
            s.seen = c
            // Per-model gauges once a second: cheap however many models there are.
            let now = DaemonObserver.monotonicNanoseconds()
            guard now - s.lastModelRefresh >= 1_000_000_000 else { return }
            s.lastModelRefresh = now
            for name in core.modelNames {
                guard let runner = core.runners[name] else { continue }
                var m = s.models[name] ?? {
                    let d = [("model", name)]
                    let made = PerModel(
                        loss: Gauge(label: "hebbd_model_loss", dimensions: d, factory: factory),
                        mse: Gauge(label: "hebbd_model_prequential_mse", dimensions: d, factory: factory),
                        nnz: Gauge(label: "hebbd_model_nonzero_coefficients", dimensions: d, factory: factory),
                        step: Gauge(label: "hebbd_model_step", dimensions: d, factory: factory),
                        samples: Gauge(label: "hebbd_model_samples", dimensions: d, factory: factory),
                        lastCheckpoint: Gauge(label: "hebbd_model_last_checkpoint_timestamp_seconds", dimensions: d, factory: factory),
                        drifts: Counter(label: "hebbd_drift_total", dimensions: d, factory: factory))
                    s.models[name] = made
                    return made
                }()
                if let loss = runner.lastReport?.loss { m.loss.record(loss) }
                if let p = runner.prequentialMSE { m.mse.record(p) }
                m.nnz.record(runner.circuit.coefficients.reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
                m.step.record(runner.circuit.updates)
                m.samples.record(runner.circuit.samples)
                // A model removed and added again starts counting afresh.
                let drifts = runner.drift?.drifts ?? 0
                if drifts > m.driftsSeen { m.drifts.increment(by: drifts - m.driftsSeen) }
                m.driftsSeen = drifts
                s.models[name] = m
            }
        }
    }
}
