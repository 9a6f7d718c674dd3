/// What the journal and the reliable ingest path have done, as `status` and `/metrics` report it. The engine
/// loop (which owns the journal) refreshes it on the core once per wake-up; the core only reads it, so it stays
/// free of I/O.
package struct JournalStatus: Sendable, Equatable {
    /// `[journal] fsync` in force ("always", "batch", "off").
    package var fsync: String
    /// Bytes the segments hold on disk now.
    package var bytes = 0
    /// Segments on disk now.
    package var segments = 0
    /// `max_journal_bytes`.
    package var maxBytes = 0
    /// Records appended since start.
    package var appended = 0
    /// Segment syncs since start, their total and longest duration in seconds.
    package var fsyncs = 0
    package var fsyncSeconds: Double = 0
    package var fsyncMaxSeconds: Double = 0
    /// Segments deleted because every model's checkpoint covered them.
    package var deletedSegments = 0
    /// Times a write or sync of the journal failed (the segment was closed and a new one started after a back-off).
    package var failures = 0
    /// Records replayed into models at start.
    package var replayed = 0
    /// Reliable messages acknowledged, dropped as duplicates, journaled but rejected by the engine (invalid sample:
    /// answered `rejected`), refused (journal full or unwritable), refused as out of order (an earlier one of their
    /// producer missing), and requests whose header could not be read.
    package var acknowledged = 0
    package var duplicates = 0
    package var rejected = 0
    package var refused = 0
    package var outOfOrder = 0
    package var malformed = 0
    /// Each producer's high-water mark: the highest sequence number journaled (durable once acknowledged).
    package var producers: [String: UInt64] = [:]

    package init(fsync: String) { self.fsync = fsync }

    /// Writes the `"journal"` member of a `status` reply.
    package func write(_ w: inout JSONWriter) {
        w.beginObject()
        w.key("fsync"); w.string(fsync)
        w.key("bytes"); w.int(bytes)
        w.key("max_bytes"); w.int(maxBytes)
        w.key("segments"); w.int(segments)
        w.key("appended"); w.int(appended)
        w.key("fsyncs"); w.int(fsyncs)
        w.key("fsync_seconds"); w.double(fsyncSeconds)
        w.key("fsync_max_seconds"); w.double(fsyncMaxSeconds)
        w.key("deleted_segments"); w.int(deletedSegments)
        w.key("failures"); w.int(failures)
        w.key("replayed"); w.int(replayed)
        w.key("acknowledged"); w.int(acknowledged)
        w.key("duplicates"); w.int(duplicates)
        w.key("rejected"); w.int(rejected)
        w.key("refused"); w.int(refused)
        w.key("out_of_order"); w.int(outOfOrder)
        w.key("malformed"); w.int(malformed)
        w.key("producers")
        w.beginObject()
        for name in producers.keys.sorted() { w.key(name); w.int(producers[name]!) }
        w.endObject()
        w.endObject()
    }
}
