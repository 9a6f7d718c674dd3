import HebbCore
import HebbianRegression
import Prometheus
import Synchronization

/// The daemon's metrics, in a private Prometheus registry (not a global bootstrap, so tests and embedders
/// get their own). Every metric is made through the registry with its `# HELP` text, so the exposition
/// passes `promtool check metrics`. Counters are fed from the engine's own counters once per loop tick
/// (deltas), so the hot path pays nothing per message.
package final class DaemonMetrics: EngineObserver, Sendable {
    /// The registry `/metrics` renders.
    package let registry = PrometheusCollectorRegistry()

    private let messages: Counter
    private let samples: Counter
    private let updates: Counter
    private let published: Counter
    private let controlRequests: Counter
    private let rejected: [RejectionReason: Counter]
    private let subscriptions: Gauge
    private let updateDuration: DurationHistogram
    private let checkpointDuration: DurationHistogram
    private let checkpointBytes: Gauge
    private let checkpointsWritten: Counter
    private let checkpointFailures: Counter
    private let divergences: Counter
    private let connections: [ConnectionEventKey: Counter]
    private let journal: JournalMetrics

    private struct PerModel {
        var loss: Gauge, mse: Gauge, nnz: Gauge, step: Gauge, samples: Gauge, lastCheckpoint: Gauge, diverged: Gauge
        /// `hebbd_drift_total{model}`, fed with the increase of the model's alarm count since the last refresh.
        var drifts: Counter
        var driftsSeen = 0
    }

    private struct State {
        var seen = EngineCounters()
        var models: [String: PerModel] = [:]
        var lastModelRefresh: Int64 = 0
        var journalSeen: JournalStatus?
        var producerMarks: [String: Gauge] = [:]
    }
    private let state = Mutex(State())

    /// The name (used whole: no namespace or unit parts are added) and help text of one metric.
    private static func metric(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }

    package init() {
        let r = registry
        let fast: [Duration] = [.microseconds(10), .microseconds(50), .microseconds(100), .microseconds(500), .milliseconds(1),
                                .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1)]
        let slow: [Duration] = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
                                .milliseconds(500), .seconds(1), .seconds(5), .seconds(10)]
        messages = r.makeCounter(descriptor: Self.metric("hebbd_messages_received_total", "Sample messages received on the ingest socket and the subscribe taps, valid or not."))
        samples = r.makeCounter(descriptor: Self.metric("hebbd_samples_received_total", "Sample rows accepted into the models' batch buffers."))
        updates = r.makeCounter(descriptor: Self.metric("hebbd_updates_total", "Mini-batch updates of all models."))
        published = r.makeCounter(descriptor: Self.metric("hebbd_published_messages_total", "Messages sent on the publish socket (coefficients, events, heartbeats)."))
        controlRequests = r.makeCounter(descriptor: Self.metric("hebbd_control_requests_total", "Requests served on the control socket."))
        let rejectedName = Self.metric("hebbd_rejected_messages_total", "Sample messages rejected whole, by reason (docs/PROTOCOL.md).")
        var byReason: [RejectionReason: Counter] = [:]
        for reason in RejectionReason.allCases {
            byReason[reason] = r.makeCounter(descriptor: rejectedName, labels: [("reason", reason.rawValue)])
        }
        rejected = byReason
        // The usual build-info idiom: a constant 1 whose labels say what runs (joins in PromQL: `* on() group_left(version)`).
        r.makeGauge(descriptor: Self.metric("hebbd_build_info", "Always 1; the label version is the running hebbd's version."),
                    labels: [("version", HebbdVersion.current)]).set(Int64(1))
        subscriptions = r.makeGauge(descriptor: Self.metric("hebbd_publish_subscriptions", "Subscriptions currently active on the publish socket."))
        updateDuration = r.makeDurationHistogram(descriptor: Self.metric("hebbd_update_duration_seconds", "Time one mini-batch update takes (all its optimiser steps)."), buckets: fast)
        checkpointDuration = r.makeDurationHistogram(descriptor: Self.metric("hebbd_checkpoint_duration_seconds", "Time to write and sync one model's checkpoint file."), buckets: slow)
        checkpointBytes = r.makeGauge(descriptor: Self.metric("hebbd_checkpoint_last_bytes", "Size of the checkpoint file written last, in bytes."))
        checkpointsWritten = r.makeCounter(descriptor: Self.metric("hebbd_checkpoints_written_total", "Checkpoint files written."))
        checkpointFailures = r.makeCounter(descriptor: Self.metric("hebbd_checkpoint_failures_total", "Checkpoint writes that failed."))
        var byConnection: [ConnectionEventKey: Counter] = [:]
        let connectionName = Self.metric("hebbd_connection_events_total",
                                         "Connection events on the ingest and control sockets: accepted, disconnected (including connections libzmq closed for a frame over max_message_bytes), handshake_failed.")
        for socket in ["ingest", "control"] {
            for event in ConnectionEvent.allCases {
                byConnection[ConnectionEventKey(socket: socket, event: event)] =
                    r.makeCounter(descriptor: connectionName, labels: [("socket", socket), ("event", event.rawValue)])
            }
        }
        connections = byConnection
        journal = JournalMetrics(registry: r)
        divergences = r.makeCounter(descriptor: Self.metric("hebbd_divergences_total", "Updates rolled back because they would have made a model non-finite."))
    }

    /// Prometheus text exposition of every metric.
    package func render() -> [UInt8] { registry.emitToBuffer() }

    /// Records one mini-batch update's duration (called on the engine thread).
    package func recordUpdate(nanoseconds: Int64) { updateDuration.recordNanoseconds(nanoseconds) }

    /// Records a finished checkpoint write.
    package func recordCheckpoint(model: String, seconds: Double, bytes: Int, wallClock: Double) {
        checkpointsWritten.increment()
        checkpointDuration.recordNanoseconds(Int64(seconds * 1e9))
        checkpointBytes.record(Int64(bytes))
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
            messages.increment(by: Int64(c.messagesReceived - s.seen.messagesReceived))
            samples.increment(by: Int64(c.samplesReceived - s.seen.samplesReceived))
            updates.increment(by: Int64(c.updates - s.seen.updates))
            published.increment(by: Int64(c.published - s.seen.published))
            controlRequests.increment(by: Int64(c.controlRequests - s.seen.controlRequests))
            divergences.increment(by: Int64(c.divergences - s.seen.divergences))
            for (key, n) in c.connections where n != s.seen.connections[key] {
                connections[key]?.increment(by: Int64(n - (s.seen.connections[key] ?? 0)))
            }
            for (reason, n) in c.rejected where n != s.seen.rejected[reason] {
                rejected[reason]?.increment(by: Int64(n - (s.seen.rejected[reason] ?? 0)))
            }
            subscriptions.record(Int64(c.subscriptions))
            s.seen = c
            if let status = core.journalStatus {
                journal.update(status, since: s.journalSeen)
                s.journalSeen = status
                // One gauge per producer, made once: a bounded label set (producers are named by operators).
                for (producer, mark) in status.producers {
                    if s.producerMarks[producer] == nil, s.producerMarks.count < JournalMetrics.maxProducerSeries {
                        s.producerMarks[producer] = journal.makeProducerGauge(producer, registry: registry)
                    }
                    s.producerMarks[producer]?.record(Int64(clamping: mark))
                }
            }
            // Per-model gauges once a second: cheap however many models there are.
            let now = DaemonObserver.monotonicNanoseconds()
            guard now - s.lastModelRefresh >= 1_000_000_000 else { return }
            s.lastModelRefresh = now
            for name in core.modelNames {
                guard let runner = core.runners[name] else { continue }
                var m = s.models[name] ?? {
                    let d = [("model", name)]
                    func gauge(_ metric: String, _ help: String) -> Gauge { registry.makeGauge(descriptor: Self.metric(metric, help), labels: d) }
                    let made = PerModel(
                        loss: gauge("hebbd_model_loss", "The model's latest published loss, 1/2 of the sum of squared errors of its last batch before it learnt from it."),
                        mse: gauge("hebbd_model_prequential_mse", "The model's mean squared error over its last publish.window updates, each batch scored before learning from it."),
                        nnz: gauge("hebbd_model_nonzero_coefficients", "Nonzero coefficients of the model after thresholding, as published."),
                        step: gauge("hebbd_model_step", "Mini-batch updates of the model so far (restored from checkpoints)."),
                        samples: gauge("hebbd_model_samples", "Rows the model has learnt from so far (restored from checkpoints)."),
                        lastCheckpoint: gauge("hebbd_model_last_checkpoint_timestamp_seconds", "Unix time of the model's last checkpoint written by this run (0: none yet)."),
                        diverged: gauge("hebbd_model_diverged", "1 while the model's last update was rolled back because it would have made the model non-finite (reset it or set a smaller lr), else 0."),
                        drifts: registry.makeCounter(descriptor: Self.metric("hebbd_drift_total", "Drift alarms raised by the model's detector ([model.drift])."), labels: d))
                    s.models[name] = made
                    return made
                }()
                if let loss = runner.lastReport?.loss { m.loss.record(loss) }
                if let p = runner.prequentialMSE { m.mse.record(p) }
                m.nnz.record(Int64(runner.publishedNonzero))
                m.step.record(Int64(runner.updates))
                m.samples.record(Int64(runner.samples))
                m.diverged.record(Int64(runner.diverged ? 1 : 0))
                // A model removed and added again starts counting afresh.
                let drifts = runner.drift?.drifts ?? 0
                if drifts > m.driftsSeen { m.drifts.increment(by: Int64(drifts - m.driftsSeen)) }
                m.driftsSeen = drifts
                s.models[name] = m
            }
        }
    }
}

/// The journal's and the reliable path's metrics (`hebbd_journal_*`), fed from ``JournalStatus`` once per loop tick.
struct JournalMetrics: Sendable {
    /// Producers beyond this many get no high-water-mark series of their own (`status` still lists them all).
    static let maxProducerSeries = 1000

    let bytes: Gauge, segments: Gauge, spares: Gauge, spareBytes: Gauge, fsyncMax: Gauge
    let appended: Counter, fsyncs: Counter, fsyncSeconds: Counter, deletedSegments: Counter, recycledSegments: Counter, replayed: Counter
    let failures: Counter
    let acknowledged: Counter, duplicates: Counter, rejected: Counter, refused: Counter, outOfOrder: Counter, malformed: Counter

    init(registry r: PrometheusCollectorRegistry) {
        func metric(_ name: String, _ help: String) -> MetricNameDescriptor { MetricNameDescriptor(metricName: name, unitName: "", helpText: help) }
        bytes = r.makeGauge(descriptor: metric("hebbd_journal_bytes", "Bytes the journal's segments hold on disk."))
        segments = r.makeGauge(descriptor: metric("hebbd_journal_segments", "Journal segment files on disk (spares not included)."))
        spares = r.makeGauge(descriptor: metric("hebbd_journal_spares", "Covered journal segments kept as spares, to be overwritten by the next segments."))
        spareBytes = r.makeGauge(descriptor: metric("hebbd_journal_spare_bytes", "Bytes the journal's spares take on disk (they count towards max_journal_bytes)."))
        fsyncMax = r.makeGauge(descriptor: metric("hebbd_journal_fsync_max_seconds", "The longest journal segment sync since start, in seconds."))
        appended = r.makeCounter(descriptor: metric("hebbd_journal_records_total", "Records appended to the journal (plain and reliable ingest messages)."))
        fsyncs = r.makeCounter(descriptor: metric("hebbd_journal_fsyncs_total", "Journal segment syncs (the fsync policy's and the seals of full segments)."))
        fsyncSeconds = r.makeCounter(descriptor: metric("hebbd_journal_fsync_seconds_total", "Time spent in journal segment syncs; divided by hebbd_journal_fsyncs_total, the mean fsync latency."))
        deletedSegments = r.makeCounter(descriptor: metric("hebbd_journal_segments_deleted_total", "Journal segments deleted because every model's checkpoint covered them."))
        recycledSegments = r.makeCounter(descriptor: metric("hebbd_journal_segments_recycled_total", "Journal segments started in a spare instead of a new file."))
        replayed = r.makeCounter(descriptor: metric("hebbd_journal_replayed_total", "Journal records replayed into models at start."))
        failures = r.makeCounter(descriptor: metric("hebbd_journal_failures_total", "Journal write or sync failures (each closes the segment; a new one is started after a back-off)."))
        let reliable = metric("hebbd_reliable_messages_total", "Reliable ingest messages by outcome: acknowledged, duplicate (dropped, already journaled), rejected (journaled, invalid sample), refused (journal full or not writable), out_of_order (an earlier one of the producer missing), malformed.")
        acknowledged = r.makeCounter(descriptor: reliable, labels: [("outcome", "acknowledged")])
        duplicates = r.makeCounter(descriptor: reliable, labels: [("outcome", "duplicate")])
        rejected = r.makeCounter(descriptor: reliable, labels: [("outcome", "rejected")])
        refused = r.makeCounter(descriptor: reliable, labels: [("outcome", "refused")])
        outOfOrder = r.makeCounter(descriptor: reliable, labels: [("outcome", "out_of_order")])
        malformed = r.makeCounter(descriptor: reliable, labels: [("outcome", "malformed")])
    }

    /// The producer's high-water-mark gauge.
    func makeProducerGauge(_ producer: String, registry r: PrometheusCollectorRegistry) -> Gauge {
        r.makeGauge(descriptor: MetricNameDescriptor(metricName: "hebbd_reliable_producer_high_water_mark", unitName: "",
                                                     helpText: "The highest sequence number journaled for the reliable producer."),
                    labels: [("producer", producer)])
    }

    /// Feeds the counters the increase since `previous` and sets the gauges.
    func update(_ status: JournalStatus, since previous: JournalStatus?) {
        func add(_ counter: Counter, _ key: KeyPath<JournalStatus, Int>) {
            let delta = status[keyPath: key] - (previous?[keyPath: key] ?? 0)
            if delta > 0 { counter.increment(by: Int64(delta)) }
        }
        bytes.record(Int64(status.writer.bytes))
        segments.record(Int64(status.writer.segments))
        spares.record(Int64(status.writer.spares))
        spareBytes.record(Int64(status.writer.spareBytes))
        fsyncMax.record(status.writer.fsyncMaxSeconds)
        add(appended, \.writer.appended)
        add(fsyncs, \.writer.fsyncs)
        add(deletedSegments, \.writer.deletedSegments)
        add(recycledSegments, \.writer.recycledSegments)
        add(replayed, \.ingest.replayed)
        add(failures, \.writer.failures)
        add(acknowledged, \.ingest.acknowledged)
        add(duplicates, \.ingest.duplicates)
        add(rejected, \.ingest.rejected)
        add(refused, \.ingest.refused)
        add(outOfOrder, \.ingest.outOfOrder)
        add(malformed, \.ingest.malformed)
        let seconds = status.writer.fsyncSeconds - (previous?.writer.fsyncSeconds ?? 0)
        if seconds > 0 { fsyncSeconds.increment(by: seconds) }
    }
}
