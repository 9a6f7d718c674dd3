/// What the journal and the reliable ingest path have done, as `status` and `/metrics` report it. The engine
/// loop (which owns the journal) refreshes it on the core once per wake-up; the core only reads it, so it stays
/// free of I/O.
package struct JournalStatus: Sendable, Equatable {
    /// `[journal] fsync` in force ("always", "batch", "off").
    package var fsync: String
    /// `max_journal_bytes`.
    package var maxBytes = 0
    /// The writer's counters: bytes and segments on disk, appends, syncs, deletions, failures.
    package var writer = JournalStatistics()
    /// The journaled ingest paths' counters: replayed at start, and the reliable messages acknowledged, dropped as
    /// duplicates, journaled but rejected by the engine (answered `rejected`), refused (journal full or unwritable),
    /// refused as out of order, and requests whose header could not be read.
    package var ingest = JournaledIngestCounters()
    /// Each producer's high-water mark: the highest sequence number journaled (durable once acknowledged).
    package var producers: [String: UInt64] = [:]

    package init(fsync: String) { self.fsync = fsync }

    /// Writes the `"journal"` member of a `status` reply.
    package func write(_ w: inout JSONWriter) {
        w.beginObject()
        w.key("fsync"); w.string(fsync)
        w.key("bytes"); w.int(writer.bytes)
        w.key("max_bytes"); w.int(maxBytes)
        w.key("segments"); w.int(writer.segments)
        w.key("spares"); w.int(writer.spares)
        w.key("spare_bytes"); w.int(writer.spareBytes)
        w.key("recycled_segments"); w.int(writer.recycledSegments)
        w.key("appended"); w.int(writer.appended)
        w.key("fsyncs"); w.int(writer.fsyncs)
        w.key("fsync_seconds"); w.double(writer.fsyncSeconds)
        w.key("fsync_max_seconds"); w.double(writer.fsyncMaxSeconds)
        w.key("deleted_segments"); w.int(writer.deletedSegments)
        w.key("failures"); w.int(writer.failures)
        w.key("replayed"); w.int(ingest.replayed)
        w.key("acknowledged"); w.int(ingest.acknowledged)
        w.key("duplicates"); w.int(ingest.duplicates)
        w.key("rejected"); w.int(ingest.rejected)
        w.key("refused"); w.int(ingest.refused)
        w.key("out_of_order"); w.int(ingest.outOfOrder)
        w.key("malformed"); w.int(ingest.malformed)
        w.key("producers")
        w.beginObject()
        for name in producers.keys.sorted() { w.key(name); w.int(producers[name]!) }
        w.endObject()
        w.endObject()
    }
}

/// Counters of the journal writer (HebbDaemon's `JournalWriter`), for metrics and `status`.
package struct JournalStatistics: Sendable, Equatable {
    package init() {}
    /// Records appended since start.
    package var appended = 0
    /// Bytes the segments take on disk now (spares not included).
    package var bytes = 0
    /// Segments on disk now (spares not included).
    package var segments = 0
    /// Spares on disk now: covered segments' files kept to be overwritten by the next segments.
    package var spares = 0
    /// Bytes the spares take (they count towards `max_journal_bytes` with ``bytes``).
    package var spareBytes = 0
    /// Segments started in a spare rather than in a new file, since start.
    package var recycledSegments = 0
    /// fsync/fdatasync calls on segments (the policy's syncs and the seals of full segments).
    package var fsyncs = 0
    /// Their total duration, seconds.
    package var fsyncSeconds: Double = 0
    /// The longest one, seconds.
    package var fsyncMaxSeconds: Double = 0
    /// Appends refused because the journal was full.
    package var refusedFull = 0
    /// Segments deleted because every model's checkpoint covered them (unlinked, or renamed to a spare).
    package var deletedSegments = 0
    /// Times the writer failed (a write or a sync returned an error) and closed its segment, to reopen on a new one.
    package var failures = 0
}

/// Counters of the journaled ingest paths (for metrics and `status`).
package struct JournaledIngestCounters: Sendable, Equatable {
    package init() {}
    /// Reliable messages journaled and acknowledged (their reply sent).
    package var acknowledged = 0
    /// Reliable messages dropped as duplicates of journaled ones.
    package var duplicates = 0
    /// Reliable messages journaled whose sample message the engine rejected.
    package var rejected = 0
    /// Reliable messages refused (journal full or not writable).
    package var refused = 0
    /// Reliable requests whose header could not be read.
    package var malformed = 0
    /// Reliable messages refused because an earlier one of their producer is missing (resent from it).
    package var outOfOrder = 0
    /// Records replayed into models at start.
    package var replayed = 0
}
