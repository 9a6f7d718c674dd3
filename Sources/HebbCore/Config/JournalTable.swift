extension DaemonConfiguration {
    /// `[journal]`: the write-ahead journal of accepted ingest messages (docs/JOURNAL.md).
    package struct Journal: Sendable, Equatable {
        /// When the journal's appended bytes are forced to the disk (`fsync`).
        package enum FsyncPolicy: String, Sendable, Equatable, CaseIterable {
            /// After every ingest burst, before its acknowledgements go out (Redis's `appendfsync always`): nothing
            /// acknowledged is lost even on power loss; one fdatasync (~4 ms p50, 15–25 ms p99 here) per burst.
            case always
            /// At most every `batch_interval`, on the journal's own thread (group commit): acknowledgements wait for
            /// the next sync; a power loss loses at most the last interval, a process crash nothing.
            case batch
            /// Never (the kernel writes back when it likes): a process crash loses nothing, a power loss up to the
            /// kernel's write-back delay (~30 s on Linux). Acknowledgements go out once the bytes are written.
            case off
        }

        /// `enabled`: journal every accepted ingest message. Off, a crash loses what came after the last checkpoint,
        /// and `endpoints.reliable` must be empty (a config error otherwise).
        package var enabled = true
        /// `fsync`: always, batch or off.
        package var fsync = FsyncPolicy.batch
        /// `batch_interval`: seconds between syncs with `fsync = "batch"` (written as `"10ms"`); at least 1 ms.
        package var batchInterval: Double = 0.010
        /// `segment_bytes`: a segment is closed and a new one started once it holds this many bytes.
        package var segmentBytes = 64 << 20
        /// `max_journal_bytes`: the most the journal may hold on disk. When an append would pass it, a checkpoint of
        /// every model is forced (so segments can be deleted) and reliable messages are refused with a reason, while
        /// plain ingest waits in libzmq's queues (back-pressure), until space is free again.
        package var maxJournalBytes = 1 << 30
        /// `spare_segments`: how many covered segments are kept, renamed to spares, for the next segments to be
        /// written over in place instead of in new files (cheaper: Benchmarks/README.md, "Recycled journal
        /// segments"); 0 deletes them as before. Spares count towards `max_journal_bytes` and are deleted first when an
        /// append needs their room. The default, 16, is what the default `max_journal_bytes` holds of default
        /// segments: a checkpoint frees up to that many at once, and spares pay off only when they cover what it
        /// frees (measured: 4 spares 1.01–1.07× the ingest rate without, 16 spares 1.3×).
        package var spareSegments = 16

        /// The defaults.
        package init() {}

        static let keys = ["enabled", "fsync", "batch_interval", "segment_bytes", "max_journal_bytes", "spare_segments"]

        init(_ r: TableReader) throws(ConfigError) {
            enabled = try r.bool("enabled", default: enabled)
            fsync = try r.choice("fsync", default: fsync)
            batchInterval = try r.read("batch_interval", batchInterval,
                                       "a duration from \"1ms\" to \"10s\" such as \"10ms\"",
                                       { value in
                                           if case let .string(s) = value { return TableReader.parseDuration(s) ?? -1 }
                                           return value.number
                                       }, check: { $0.isFinite && $0 >= 0.001 && $0 <= 10 })
            segmentBytes = try r.integer("segment_bytes", default: segmentBytes, in: 4096...Int64(Int32.max))
            maxJournalBytes = try r.integer("max_journal_bytes", default: maxJournalBytes, in: 4096...Int64.max)
            spareSegments = try r.integer("spare_segments", default: spareSegments, in: 0...1024)
            guard maxJournalBytes >= segmentBytes else {
                throw r.invalid("max_journal_bytes", "at least segment_bytes (\(segmentBytes))", String(maxJournalBytes))
            }
        }

        /// The smallest `max_journal_bytes` with which plain ingest can go on: the room a message of
        /// `limits.max_message_bytes` needs (with its record's framing and 1 KiB of slack, as the engine checks before
        /// reading `PULL`), plus the headers of the open segment and of the one a seal starts.
        package static func minimumMaxJournalBytes(maxMessageBytes: Int) -> Int {
            maxMessageBytes + 1024 + 2 * JournalFormat.segmentHeaderBytes
        }

        /// The checks that need other tables: `max_journal_bytes` must leave room for the largest message (below it,
        /// `PULL` would never be read again), and `endpoints.reliable` needs the journal.
        func validate(against limits: Limits, endpoints: Endpoints, file: String) throws(ConfigError) {
            let minimum = Self.minimumMaxJournalBytes(maxMessageBytes: limits.maxMessageBytes)
            guard !enabled || maxJournalBytes >= minimum else {
                throw .invalidValue(file: file, table: "[journal]", key: "max_journal_bytes",
                                    expected: "at least limits.max_message_bytes (\(limits.maxMessageBytes)) + 1072 = \(minimum)",
                                    got: String(maxJournalBytes))
            }
            // Acknowledgements mean "journaled": without a journal the endpoint would be silently not opened.
            guard enabled || endpoints.reliable.isEmpty else {
                throw .invalidValue(file: file, table: "[endpoints]", key: "reliable",
                                    expected: "\"\" while [journal] enabled = false (acknowledged ingest needs the journal): "
                                        + "remove endpoints.reliable or set [journal] enabled = true",
                                    got: "\"\(endpoints.reliable)\"")
            }
        }
    }
}
