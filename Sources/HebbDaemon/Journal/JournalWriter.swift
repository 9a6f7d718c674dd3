import Foundation
import HebbCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends records to the journal's segment files and makes them durable as `[journal] fsync` says.
///
/// The engine thread calls ``append(_:)`` for every accepted message before it is learned, then ``commit()`` at the
/// end of each ingest burst. An append encodes the record into the writer's buffer; the buffer is written to the
/// segment with one `write` at the commit (or as soon as it holds ``bufferBytes``, at a reliable message's record,
/// before a seal, and before a checkpoint's ``written`` is read through ``flush()``), so a burst of small plain
/// messages costs one system call, not one each (a `write` per one-row message was 29 % of the daemon's samples:
/// Benchmarks/README.md, "The journal's buffer"). Nothing leaves the daemon before its burst's records are written: the engine loop commits before it
/// publishes, acknowledges or answers `status`. ``written`` is what the segment file holds; what is durable is
/// ``durable`` — a position every record before which survives a power loss (`always`, `batch`) or a process crash
/// (`off`); acknowledgements wait for it.
///
/// - `always`: ``commit()`` fdatasyncs on the calling thread (one sync per burst: group commit, as Redis's
///   `appendfsync always`).
/// - `batch`: a dedicated thread (`hebbd-journal`) fdatasyncs at most every `batch_interval` when something was
///   written, on a duplicate of the segment's descriptor, so the engine never waits for the disk; `onDurable` is
///   called after each sync, successful or failed (the daemon's engine passes ``Engine/wake()``: it wakes and sends
///   the acknowledgements, or the refusals of a failure).
/// - `off`: never syncs; a record is durable once written.
///
/// A segment is sealed (synced, except with `off`, and closed) when the next record would take it past
/// `segment_bytes`, and a new one started; a writer opened on an existing journal always starts a new segment, so
/// recovered segments are never written again. ``deleteSegments(coveredBy:)`` deletes the sealed segments before a
/// position. `max_journal_bytes` bounds the segments' total: an append past it throws ``JournalError/full(bytes:limit:)``.
///
/// **Recycling.** A covered segment is not unlinked but renamed to a *spare* (`spare-<number>.log`), up to
/// `spare_segments` of them, and the next segment is started in a spare rather than in a new file: its header is
/// written over the old one (and synced, unless `off`), then it is renamed to its segment's name (and the directory
/// synced), and records overwrite the old contents in place — no block or page-cache allocation, and syncs that need
/// not commit a growing file's metadata (PostgreSQL recycles its WAL segments for the same reason; Benchmarks/README.md,
/// "Recycled journal segments"). The old bytes after the records are never taken for records (format version 2's CRC
/// covers the segment's number) and are cut off when the segment is sealed or closed. Spares count towards
/// `max_journal_bytes` and are deleted first when an append needs their room.
///
/// A failed write or sync is fatal for the segment, never for the daemon: the writer cuts a partly written record off,
/// closes the segment (sealed as it is), bumps ``failures`` and refuses appends with ``JournalError/failed(_:retryIn:)``
/// until a back-off (1 s, doubling up to 30 s) has passed; the next append then starts a new segment. A sync that
/// failed is never retried on the same file (Linux may have dropped the dirty pages and reports the error once:
/// a later successful sync would advance ``durable`` over lost records), so the records written since the last
/// successful sync stay not durable; the engine answers the replies waiting for them `refused`.
package final class JournalWriter: Sendable {
    /// The journal directory.
    package let directory: String
    /// The `[journal]` settings it was opened with.
    package let configuration: DaemonConfiguration.Journal

    private struct State: Sendable {
        var fd: Int32 = -1
        var segment: UInt64 = 0
        /// The open segment's path, made once when it is started (an error names it; every append may fail).
        var segmentPath = ""
        /// The open segment's size with its buffered records (what it will hold once ``buffer`` is written).
        var segmentSize = 0
        /// Records appended but not written yet: the open segment's bytes from `segmentSize - buffer.count` on.
        var buffer: [UInt8] = []
        /// Bytes the open segment's file takes on disk: ``segmentSize``, or more while a recycled file still holds
        /// its previous life's bytes after the records (cut off at the seal).
        var segmentFileBytes = 0
        /// The spares, ready to become the next segments: file names in the directory and sizes.
        var spares: [(name: String, bytes: Int)] = []
        /// Sizes of the sealed segments still on disk, by number.
        var sealed: [(number: UInt64, bytes: Int)] = []
        var written = JournalPosition(segment: 0, offset: 0)
        var durable = JournalPosition(segment: 0, offset: 0)
        var statistics = JournalStatistics()
        var closed = false
        /// Why the writer is failed (segment closed, appends refused until `reopenAt`); nil while healthy.
        var failure: JournalError?
        var reopenAt = ContinuousClock.now
        var backoff = Duration.seconds(1)
        /// Bytes the segments take on disk (the open one's file included).
        var segmentBytes: Int { sealed.reduce(max(segmentSize, segmentFileBytes)) { $0 + $1.bytes } }
        /// Bytes the spares take.
        var spareBytes: Int { spares.reduce(0) { $0 + $1.bytes } }
        /// What counts towards `max_journal_bytes`: segments and spares.
        var totalBytes: Int { segmentBytes + spareBytes }

        /// Brings the size figures of ``statistics`` up to date.
        mutating func updateSizes() {
            statistics.bytes = segmentBytes
            statistics.spares = spares.count
            statistics.spareBytes = spareBytes
        }
    }

    private let state: Mutex<State>
    /// Doorbell of the batch thread (state lives in `state`).
    private let condition = NSCondition()
    private let onDurable: @Sendable () -> Void
    private let syncerDone = Mutex(false)

    /// Opens the journal in `directory` (created when missing) after ``JournalDirectory/recover(_:from:visit:)``
    /// found `recovery` there, and starts a new segment after the last one — and after `checkpointSegment`, the
    /// highest segment a checkpoint position names. Checkpoints may point past the journal's end (the operator moved
    /// damaged segments out, or a power loss under `fsync = "off"` lost the newest ones): a new segment with a number
    /// a checkpoint already covers would have its records skipped by replay and deleted as covered. The numbers
    /// between the last segment on disk and the new one are filled with empty segments (a header only), so the
    /// sequence stays contiguous (recovery refuses a gap as a missing segment).
    package init(directory: String, configuration: DaemonConfiguration.Journal, recovery: JournalRecovery,
                 checkpointSegment: UInt64? = nil, onDurable: @escaping @Sendable () -> Void = {}) throws(JournalError) {
        self.directory = directory
        self.configuration = configuration
        self.onDurable = onDurable
        do { try CheckpointFiles.makeDirectories(directory, mode: 0o750) } catch { throw .from(error) }
        var initial = State()
        initial.sealed = recovery.segments
        // Spares left by the previous run: the newest kept up to the bound (whatever their contents: a spare is only
        // ever overwritten), the rest removed.
        for name in try JournalDirectory.spareNames(in: directory).reversed() {
            let path = directory + "/" + name
            var st = stat()
            if initial.spares.count < configuration.spareSegments, stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG {
                initial.spares.insert((name, Int(st.st_size)), at: 0)
            } else {
                do { try CheckpointFiles.removeFile(path) } catch { throw .from(error) }
            }
        }
        let lastOnDisk = recovery.segments.last?.number ?? recovery.tornTail.map { $0.position.segment - 1 } ?? 0
        let next = max(lastOnDisk, checkpointSegment ?? 0) + 1
        if !recovery.segments.isEmpty, lastOnDisk + 1 < next {
            for number in (lastOnDisk + 1)..<next {
                // New files, not spares: these are sealed at once and must hold their header only.
                try Self.startSegment(number, in: directory, sync: configuration.fsync != .off, recycle: false, state: &initial)
                Glibc.close(initial.fd)
                initial.sealed.append((number, initial.segmentSize))
            }
        }
        try Self.startSegment(next, in: directory, sync: configuration.fsync != .off, recycle: true, state: &initial)
        initial.durable = initial.written
        state = Mutex(initial)
        state.withLock { $0.statistics.segments = $0.sealed.count + 1; $0.updateSizes() }
        if configuration.fsync == .batch {
            let thread = Thread { [self] in runSyncer() }
            thread.name = "hebbd-journal"
            thread.start()
        } else {
            syncerDone.withLock { $0 = true }
        }
    }

    /// A buffer that reaches this many bytes is written at once, without waiting for the commit.
    package static let bufferBytes = 256 * 1024

    /// The position after the last record written to the segment file (buffered records are not: see ``flush()``).
    package var written: JournalPosition { state.withLock { $0.written } }
    /// The position after the last record appended, buffered or written.
    package var appended: JournalPosition {
        state.withLock { s in s.failure == nil && s.fd >= 0 ? JournalPosition(segment: s.segment, offset: UInt64(s.segmentSize)) : s.written }
    }
    /// The position before which every record is durable (see the type's documentation).
    package var durable: JournalPosition { state.withLock { $0.durable } }
    /// The counters.
    package var statistics: JournalStatistics { state.withLock { $0.statistics } }
    /// The failure the writer is closed for (until its next append after the back-off starts a new segment); nil
    /// while it is healthy.
    package var failure: JournalError? { state.withLock { $0.failure } }
    /// How often the writer failed since start (``JournalStatistics/failures``); the engine compares it between
    /// wake-ups to answer the replies a failure stranded.
    package var failures: Int { state.withLock { $0.statistics.failures } }

    /// Appends `record` to the buffer (written at the next ``commit()`` or ``flush()``, or now when the buffer is full
    /// or the record is a reliable message's; durable later, as the policy says) and returns the position after it.
    /// Throws ``JournalError/full(bytes:limit:)`` without appending anything when the journal would pass `max_journal_bytes`, and I/O errors of a write it
    /// made (then the buffered records are lost and the segment may hold a torn record at its end: the writer
    /// closes, and the next start cuts it off).
    package func append(_ record: JournalRecord) throws(JournalError) -> JournalPosition {
        try append(frames: record.frames, origin: record.origin)
    }

    /// Appends the record of a message of `frames` (with `origin` for a reliable one), encoded straight from them:
    /// the engine passes the received frames, so the message is copied once, into the record. As ``append(_:)``.
    package func append<Frame: Collection<UInt8>>(frames: [Frame], origin: ReliableOrigin? = nil) throws(JournalError) -> JournalPosition {
        let encoded = JournalFormat.encodedBytes(frames: frames, origin: origin)
        // The format's own bounds, checked before encoding (the engine never offers such a record: the decoder's
        // bounds are tighter). Nothing is written, the writer stays open.
        guard frames.count <= Int(UInt16.max), encoded - JournalFormat.recordPrefixBytes <= JournalFormat.maxRecordBytes else {
            throw .recordTooLarge(frames: frames.count, bytes: encoded)
        }
        var wrote = false
        let result: Result<JournalPosition, JournalError> = state.withLock { s in
            do throws(JournalError) {
                guard !s.closed else { throw .closed }
                if let failure = s.failure {
                    let now = ContinuousClock.now
                    guard now >= s.reopenAt else { throw .failed(failure.description, retryIn: s.reopenAt - now) }
                    try reopen(&s)
                }
                let rotate = encoded + s.segmentSize > configuration.segmentBytes
                    && s.segmentSize > JournalFormat.segmentHeaderBytes
                // A recycled segment's file grows only past its old size; a rotation is counted as a new file (a spare
                // may serve instead, and the seal cuts the old bytes off: this errs on the safe side).
                let growth = rotate ? JournalFormat.segmentHeaderBytes + encoded : max(0, s.segmentSize + encoded - s.segmentFileBytes)
                var needed = s.totalBytes + growth
                while needed > configuration.maxJournalBytes, !s.spares.isEmpty {
                    // Spares go before any append is refused (the oldest first: the least likely to be cached).
                    let spare = s.spares.removeFirst()
                    unlink(directory + "/" + spare.name)
                    needed -= spare.bytes
                    s.updateSizes()
                }
                guard needed <= configuration.maxJournalBytes else {
                    s.statistics.refusedFull += 1
                    throw .full(bytes: needed, limit: configuration.maxJournalBytes)
                }
                if rotate { try seal(&s) }
                // Room first: appending a big message's frames to a small buffer would grow it by doubling, copying
                // it several times (a 16 MiB record at 4096×64 cost 35 → 48 ms of CPU per message that way).
                if s.buffer.capacity < s.buffer.count + encoded {
                    s.buffer.reserveCapacity(max(s.buffer.count + encoded, 2 * s.buffer.capacity))
                }
                // Encoded here, once the segment is known: a record's CRC covers its segment's number.
                JournalFormat.append(frames: frames, origin: origin, segment: s.segment, to: &s.buffer)
                s.segmentSize += encoded
                s.segmentFileBytes = max(s.segmentFileBytes, s.segmentSize)
                let end = JournalPosition(segment: s.segment, offset: UInt64(s.segmentSize))
                s.statistics.appended += 1
                s.updateSizes()
                // A reliable message's record is written before the engine learns it (a failed write refuses it
                // unlearned, and the producer's resend is learned once); plain messages wait for the burst's end.
                if origin != nil || s.buffer.count >= Self.bufferBytes {
                    try writeBuffer(&s)
                    wrote = true
                }
                return .success(end)
            } catch {
                return .failure(error)
            }
        }
        if wrote { wakeSyncer() }
        return try result.get()
    }

    /// Writes the buffered records to the segment file (one `write`), so that ``written`` covers every record
    /// appended: a checkpoint's journal position is read after this. Throws the write's error (the buffered
    /// records are then lost and the writer closes, as for a failed append).
    package func flush() throws(JournalError) {
        let result: Result<Bool, JournalError> = state.withLock { s in
            guard !s.buffer.isEmpty else { return .success(false) }
            do throws(JournalError) { try writeBuffer(&s) } catch { return .failure(error) }
            return .success(true)
        }
        if try result.get() { wakeSyncer() }
    }

    /// Ends a group of appends: writes the buffer, then with `always` syncs and returns once they are durable;
    /// otherwise returns once they are written (the batch thread syncs on its schedule).
    package func commit() throws(JournalError) {
        try flush()
        guard configuration.fsync == .always else { return }
        let result: Result<Void, JournalError> = state.withLock { s in
            guard s.written > s.durable else { return .success(()) }
            guard s.failure == nil, s.fd >= 0 else { return .success(()) }
            do throws(JournalError) {
                try Self.sync(s.fd, path: s.segmentPath, statistics: &s.statistics)
                s.durable = s.written
                return .success(())
            } catch {
                fail(&s, error, cutTo: nil, syncable: false)
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Seals the open segment now when it holds a record, and starts the next one: a full journal forces this
    /// before its forced checkpoint, so that the checkpoint covers the whole segment and it can be deleted (the open
    /// segment never is; without this, a journal whose limit was reached inside one segment stayed full for good).
    package func sealOpenSegment() throws(JournalError) {
        let result: Result<Void, JournalError> = state.withLock { s in
            guard !s.closed, s.failure == nil, s.fd >= 0, s.segmentSize > JournalFormat.segmentHeaderBytes else { return .success(()) }
            do throws(JournalError) { try seal(&s) } catch { return .failure(error) }
            s.updateSizes()
            return .success(())
        }
        try result.get()
    }

    /// Deletes every sealed segment wholly before `position` (the smallest journal position of all models'
    /// checkpoints): none of its records will be replayed again. The newest of them are renamed to spares for the
    /// next segments to reuse, up to `spare_segments` spares (the most recently written files are the likeliest to
    /// be in the page cache, which spares a read of each partly overwritten page); the others are unlinked. Front
    /// first either way, so that a crash meanwhile leaves no gap. Returns how many left the journal.
    @discardableResult
    package func deleteSegments(coveredBy position: JournalPosition) throws(JournalError) -> Int {
        let (doomed, firstRecycled): ([UInt64], Int) = state.withLock { s in
            let doomed = s.sealed.filter { $0.number < position.segment }.map(\.number)
            return (doomed, max(0, doomed.count - max(0, configuration.spareSegments - s.spares.count)))
        }
        for (index, number) in doomed.enumerated() {
            let path = JournalDirectory.segmentPath(directory, number)
            // Renamed under the lock (a spare must never be listed before its file has its name); no directory sync:
            // after a crash the segment is either still there, covered (read and deleted again), or a spare.
            let recycled = index >= firstRecycled && state.withLock { s in
                guard s.spares.count < configuration.spareSegments, let bytes = s.sealed.first(where: { $0.number == number })?.bytes
                else { return false }
                let name = JournalFormat.spareFileName(number)
                guard rename(path, directory + "/" + name) == 0 else { return false }
                s.spares.append((name, bytes))  // taken last in, first out (popLast): the newest file first
                return true
            }
            if !recycled {
                do { try CheckpointFiles.removeFile(path) } catch { throw .from(error) }
            }
            state.withLock { s in
                s.sealed.removeAll { $0.number == number }
                s.statistics.deletedSegments += 1
                s.statistics.segments = s.sealed.count + 1
                s.updateSizes()
            }
        }
        return doomed.count
    }

    /// Syncs what was written (unless `off`), stops the batch thread and closes the segment. Idempotent.
    package func close() {
        state.withLock { s in
            guard !s.closed || s.fd >= 0 else { return }
            if s.fd >= 0, !s.buffer.isEmpty, s.failure == nil { try? writeBuffer(&s) }
            // A recycled segment ends at its last record, so that the next start finds no torn tail in it.
            let cut = Self.cutRecycledTail(&s)
            if configuration.fsync != .off, s.fd >= 0, s.written > s.durable || cut,
               (try? Self.sync(s.fd, path: "", statistics: &s.statistics)) != nil {
                s.durable = s.written
            }
            if s.fd >= 0 { Glibc.close(s.fd) }
            s.fd = -1
            s.closed = true
        }
        wakeSyncer()
        while !syncerDone.withLock({ $0 }) { usleep(1000) }
    }

    deinit {
        state.withLock { s in if s.fd >= 0 { Glibc.close(s.fd) } }
    }

    // MARK: Segments

    /// Seals the current segment (its buffer written, cut to its records and synced, unless `off`) and starts the
    /// next one.
    private func seal(_ s: inout State) throws(JournalError) {
        try writeBuffer(&s)
        let path = s.segmentPath
        // Sealed segments hold records only (recovery refuses damage in them): a recycled file's old bytes go first.
        if s.segmentFileBytes > s.segmentSize, ftruncate(s.fd, off_t(s.segmentSize)) != 0 {
            let error = JournalError.io(path: path, operation: "ftruncate", code: errno)
            fail(&s, error, cutTo: nil, syncable: false)
            throw error
        }
        s.segmentFileBytes = s.segmentSize
        if configuration.fsync != .off {
            do throws(JournalError) { try Self.sync(s.fd, path: path, statistics: &s.statistics) } catch {
                fail(&s, error, cutTo: nil, syncable: false)
                throw error
            }
        }
        Glibc.close(s.fd)
        s.fd = -1
        s.sealed.append((s.segment, s.segmentSize))
        if configuration.fsync != .off { s.durable = s.written }
        try startNext(&s)
    }

    /// Starts the segment after the current one (sealed or failed); a failure to create it fails the writer again.
    private func startNext(_ s: inout State) throws(JournalError) {
        do throws(JournalError) {
            try Self.startSegment(s.segment + 1, in: directory, sync: configuration.fsync != .off, recycle: true, state: &s)
        } catch {
            s.segment += 1  // nothing of it is left on disk (startSegment removes a partial file): the next try uses the next number
            fail(&s, error, cutTo: nil, syncable: false)
            throw error
        }
        s.durable = s.written
        s.failure = nil
        s.statistics.segments = s.sealed.count + 1
        s.updateSizes()
    }

    /// After the back-off: a new segment after the failed one.
    private func reopen(_ s: inout State) throws(JournalError) {
        try startNext(&s)
        s.backoff = .seconds(1)
    }

    /// The segment failed (`error`): cut a partly written record off (`cutTo`), make what was whole durable when the
    /// failure was not a sync's (`syncable`), close it — it stays on disk, sealed as it is — and refuse appends for
    /// the back-off. A second failure before a successful reopen doubles the back-off (at most 30 s).
    private func fail(_ s: inout State, _ error: JournalError, cutTo size: Int?, syncable: Bool) {
        s.statistics.failures += 1
        // Buffered records are never written once the segment failed (their replies are refused with the failure).
        s.segmentSize -= s.buffer.count
        s.buffer.removeAll()
        if s.fd >= 0 {
            // It stays as a sealed segment: records only (a recycled file's old bytes are cut off too).
            if let size = size ?? (s.segmentFileBytes > s.segmentSize ? s.segmentSize : nil) { _ = ftruncate(s.fd, off_t(size)) }
            if syncable, configuration.fsync != .off, s.written > s.durable,
               (try? Self.sync(s.fd, path: "", statistics: &s.statistics)) != nil {
                s.durable = s.written
            }
            Glibc.close(s.fd)
            s.fd = -1
            s.sealed.append((s.segment, s.segmentSize))
            s.segmentSize = 0
            s.segmentFileBytes = 0
        }
        if configuration.fsync == .off { s.durable = s.written }
        if s.failure != nil { s.backoff = min(s.backoff * 2, .seconds(30)) }
        s.failure = error
        s.reopenAt = ContinuousClock.now + s.backoff
        s.statistics.segments = s.sealed.count
        s.updateSizes()
    }

    /// Starts segment `number` with its header (synced with its directory entry unless `sync` is false): in a spare
    /// when `recycle` and there is one, else in a new file.
    private static func startSegment(_ number: UInt64, in directory: String, sync: Bool, recycle: Bool,
                                     state s: inout State) throws(JournalError) {
        let path = JournalDirectory.segmentPath(directory, number)
        let header = JournalFormat.segmentHeader(number)
        if recycle, let spare = s.spares.popLast() {
            if try startRecycled(spare.name, as: path, header: header, in: directory, sync: sync, state: &s) {
                s.segment = number
                s.written = .start(of: number)
                s.statistics.recycledSegments += 1
                return
            }
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(path: path, operation: "open", code: errno) }
        do throws(JournalError) {
            try writeAll(fd, header, path: path)
            if sync {
                try Self.sync(fd, path: path, statistics: &s.statistics)
                do { try CheckpointFiles.syncDirectory(directory) } catch { throw .from(error) }
            }
            s.fd = fd
            s.segment = number
            s.segmentPath = path
            s.segmentSize = header.count
            s.segmentFileBytes = header.count
            s.written = .start(of: number)
        } catch {
            Glibc.close(fd)
            unlink(path)
            throw error
        }
    }

    /// Turns spare `name` into the segment at `path`: `header` written over its start (and synced), then the rename
    /// (and the directory synced). A crash leaves a spare (its header is then any segment's: spares are overwritten,
    /// never read) or a segment whose header matches its name. False, with the spare removed, when it cannot be
    /// reused before the rename (the caller creates a new file); throws, with the file removed, when the rename was
    /// done and the directory's sync failed (as for a new file).
    private static func startRecycled(_ name: String, as path: String, header: [UInt8], in directory: String, sync: Bool,
                                      state s: inout State) throws(JournalError) -> Bool {
        let sparePath = directory + "/" + name
        let fd = open(sparePath, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { unlink(sparePath); return false }
        var st = stat()
        var usable = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
            && (try? writeAll(fd, header, path: sparePath)) != nil
        if usable, sync { usable = (try? Self.sync(fd, path: sparePath, statistics: &s.statistics)) != nil }
        // Never over an existing segment (a new file is opened with O_EXCL for the same reason).
        if usable { usable = access(path, F_OK) != 0 && rename(sparePath, path) == 0 }
        guard usable else {
            Glibc.close(fd)
            unlink(sparePath)
            return false
        }
        if sync {
            do { try CheckpointFiles.syncDirectory(directory) } catch {
                Glibc.close(fd)
                unlink(path)
                throw .from(error)
            }
        }
        s.fd = fd
        s.segmentPath = path
        s.segmentSize = header.count
        s.segmentFileBytes = max(header.count, Int(st.st_size))
        return true
    }

    /// Writes the buffer to the open segment (one `write`) and moves ``written`` (and, with `off`, ``durable``) to its
    /// end. A failed write fails the segment: the records written before the buffer stay, a partly written one is
    /// cut off.
    private func writeBuffer(_ s: inout State) throws(JournalError) {
        guard !s.buffer.isEmpty else { return }
        let start = s.segmentSize - s.buffer.count
        do throws(JournalError) {
            try Self.writeAll(s.fd, s.buffer, path: s.segmentPath)
        } catch {
            fail(&s, error, cutTo: start, syncable: true)
            throw error
        }
        // A burst of big messages leaves no multi-megabyte buffer behind.
        s.buffer.removeAll(keepingCapacity: s.buffer.capacity <= 4 * Self.bufferBytes)
        s.written = JournalPosition(segment: s.segment, offset: UInt64(s.segmentSize))
        if configuration.fsync == .off { s.durable = s.written }
    }

    /// Wakes the batch thread after a write or at the close (it waits on the condition only when nothing was left to
    /// sync); there is none unless `batch`.
    private func wakeSyncer() {
        guard configuration.fsync == .batch else { return }
        condition.lock()
        condition.broadcast()
        condition.unlock()
    }

    /// Cuts the open segment's file to its records when it is a recycled one with old bytes after them; true when
    /// it did.
    private static func cutRecycledTail(_ s: inout State) -> Bool {
        guard s.fd >= 0, s.segmentFileBytes > s.segmentSize, ftruncate(s.fd, off_t(s.segmentSize)) == 0 else { return false }
        s.segmentFileBytes = s.segmentSize
        return true
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(JournalError) {
        do { try CheckpointFiles.writeAll(fd, bytes, path: path) } catch { throw .from(error) }
    }

    private static func sync(_ fd: Int32, path: String, statistics: inout JournalStatistics) throws(JournalError) {
        let started = ContinuousClock.now
        do { try CheckpointFiles.sync(fd, path: path, dataOnly: true) } catch { throw .from(error) }
        record(ContinuousClock.now - started, in: &statistics)
    }

    private static func record(_ elapsed: Duration, in statistics: inout JournalStatistics) {
        let seconds = elapsed.inSeconds
        statistics.fsyncs += 1
        statistics.fsyncSeconds += seconds
        statistics.fsyncMaxSeconds = max(statistics.fsyncMaxSeconds, seconds)
    }

    // MARK: The batch thread

    private func runSyncer() {
        defer { syncerDone.withLock { $0 = true } }
        let interval = configuration.batchInterval
        while true {
            // Wait until something was written (or the writer closes), then at most one sync per interval.
            condition.lock()
            while true {
                let (closed, pending) = state.withLock { ($0.closed, $0.written > $0.durable && $0.failure == nil && $0.fd >= 0) }
                if closed { condition.unlock(); return }
                if pending { break }
                _ = condition.wait(until: Date(timeIntervalSinceNow: 1))
            }
            condition.unlock()
            let target: (fd: Int32, position: JournalPosition)? = state.withLock { s in
                guard s.fd >= 0, !s.closed, s.failure == nil else { return nil }
                let fd = dup(s.fd)
                guard fd >= 0 else {
                    // No descriptor to sync on (EMFILE): the records cannot be made durable on this segment.
                    fail(&s, .io(path: s.segmentPath, operation: "dup", code: errno), cutTo: nil, syncable: true)
                    return nil
                }
                return (fd, s.written)
            }
            guard let target else { onDurable(); continue }
            let started = ContinuousClock.now
            let path = JournalDirectory.segmentPath(directory, target.position.segment)
            var failure: JournalError?
            do { try CheckpointFiles.sync(target.fd, path: path, dataOnly: true) } catch { failure = .from(error) }
            Glibc.close(target.fd)
            let elapsed = ContinuousClock.now - started
            state.withLock { s in
                Self.record(elapsed, in: &s.statistics)
                if let failure {
                    // Fatal for the segment (never synced again: see the type's documentation).
                    guard s.failure == nil else { return }
                    if target.position.segment == s.segment { fail(&s, failure, cutTo: nil, syncable: false) } else { s.statistics.failures += 1 }
                } else if target.position > s.durable {
                    // A seal meanwhile may have made more durable already; never move backwards.
                    s.durable = target.position
                }
            }
            onDurable()
            let rest = interval - elapsed.inSeconds
            if rest > 0 { usleep(UInt32(rest * 1_000_000)) }
        }
    }
}
