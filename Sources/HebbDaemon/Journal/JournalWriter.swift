import Foundation
import HebbCore
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Counters of a ``JournalWriter`` (for metrics and `status`).
package struct JournalStatistics: Sendable, Equatable {
    /// Records appended since start.
    package var appended = 0
    /// Bytes the segments hold on disk now.
    package var bytes = 0
    /// Segments on disk now.
    package var segments = 0
    /// fsync/fdatasync calls on segments (the policy's syncs and the seals of full segments).
    package var fsyncs = 0
    /// Their total duration, seconds.
    package var fsyncSeconds: Double = 0
    /// The longest one, seconds.
    package var fsyncMaxSeconds: Double = 0
    /// Appends refused because the journal was full.
    package var refusedFull = 0
    /// Segments deleted because every model's checkpoint covered them.
    package var deletedSegments = 0
}

/// Appends records to the journal's segment files and makes them durable as `[journal] fsync` says.
///
/// The engine thread calls ``append(_:)`` for every accepted message before it is learned, then ``commit()`` at the
/// end of each ingest burst. What is durable is ``durable`` — a position every record before which survives a power
/// loss (`always`, `batch`) or a process crash (`off`); acknowledgements wait for it.
///
/// - `always`: ``commit()`` fdatasyncs on the calling thread (one sync per burst: group commit, as Redis's
///   `appendfsync always`).
/// - `batch`: a dedicated thread (`hebbd-journal`) fdatasyncs at most every `batch_interval` when something was
///   written, on a duplicate of the segment's descriptor, so the engine never waits for the disk; `onDurable` is
///   called after each sync (the engine wakes and sends the acknowledgements).
/// - `off`: never syncs; a record is durable once written.
///
/// A segment is sealed (synced, except with `off`, and closed) when the next record would take it past
/// `segment_bytes`, and a new one started; a writer opened on an existing journal always starts a new segment, so
/// recovered segments are never written again. ``deleteSegments(coveredBy:)`` deletes the sealed segments before a
/// position. `max_journal_bytes` bounds the segments' total: an append past it throws ``JournalError/full(bytes:limit:)``.
package final class JournalWriter: Sendable {
    /// The journal directory.
    package let directory: String
    /// The `[journal]` settings it was opened with.
    package let configuration: DaemonConfiguration.Journal

    private struct State: Sendable {
        var fd: Int32 = -1
        var segment: UInt64 = 0
        var segmentSize = 0
        /// Sizes of the sealed segments still on disk, by number.
        var sealed: [(number: UInt64, bytes: Int)] = []
        var written = JournalPosition(segment: 0, offset: 0)
        var durable = JournalPosition(segment: 0, offset: 0)
        var statistics = JournalStatistics()
        var closed = false
        var lastError: JournalError?
        var totalBytes: Int { sealed.reduce(segmentSize) { $0 + $1.bytes } }
    }

    private let state: Mutex<State>
    /// Doorbell of the batch thread (state lives in `state`).
    private let condition = NSCondition()
    private let onDurable: @Sendable () -> Void
    private let syncerDone = Mutex(false)

    /// Opens the journal in `directory` (created when missing) after ``JournalDirectory/recover(_:from:visit:)``
    /// found `recovery` there, and starts a new segment after the last one.
    package init(directory: String, configuration: DaemonConfiguration.Journal, recovery: JournalRecovery,
                 onDurable: @escaping @Sendable () -> Void = {}) throws(JournalError) {
        self.directory = directory
        self.configuration = configuration
        self.onDurable = onDurable
        do { try CheckpointFiles.makeDirectories(directory, mode: 0o750) } catch { throw .from(error) }
        var initial = State()
        initial.sealed = recovery.segments
        let next = (recovery.segments.last?.number ?? recovery.tornTail.map { $0.position.segment - 1 } ?? 0) + 1
        try Self.startSegment(next, in: directory, sync: configuration.fsync != .off, state: &initial)
        initial.durable = initial.written
        state = Mutex(initial)
        state.withLock { $0.statistics.segments = $0.sealed.count + 1; $0.statistics.bytes = $0.totalBytes }
        if configuration.fsync == .batch {
            let thread = Thread { [self] in runSyncer() }
            thread.name = "hebbd-journal"
            thread.start()
        } else {
            syncerDone.withLock { $0 = true }
        }
    }

    /// The position after the last record appended.
    package var written: JournalPosition { state.withLock { $0.written } }
    /// The position before which every record is durable (see the type's documentation).
    package var durable: JournalPosition { state.withLock { $0.durable } }
    /// The counters.
    package var statistics: JournalStatistics { state.withLock { $0.statistics } }
    /// The last failure of the batch thread's sync, if any (the engine logs it; acknowledgements stop meanwhile).
    package var lastError: JournalError? { state.withLock { $0.lastError } }

    /// Appends `record` (its bytes reach the page cache; durable later, as the policy says) and returns the position
    /// after it. Throws ``JournalError/full(bytes:limit:)`` without writing anything when the journal would pass
    /// `max_journal_bytes`, and I/O errors (then the segment may hold a torn record at its end: the writer closes,
    /// and the next start cuts it off).
    package func append(_ record: JournalRecord) throws(JournalError) -> JournalPosition {
        let encoded = JournalFormat.encodedBytes(record)
        // The format's own bounds, checked before encoding (the engine never offers such a record: the decoder's
        // bounds are tighter). Nothing is written, the writer stays open.
        guard record.frames.count <= Int(UInt16.max), encoded - JournalFormat.recordPrefixBytes <= JournalFormat.maxRecordBytes else {
            throw .recordTooLarge(frames: record.frames.count, bytes: encoded)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(encoded)
        JournalFormat.append(record, to: &bytes)
        let result: Result<JournalPosition, JournalError> = state.withLock { s in
            do throws(JournalError) {
                guard !s.closed else { throw .closed }
                let rotate = s.segmentSize + bytes.count > configuration.segmentBytes
                    && s.segmentSize > JournalFormat.segmentHeaderBytes
                let needed = s.totalBytes + bytes.count + (rotate ? JournalFormat.segmentHeaderBytes : 0)
                guard needed <= configuration.maxJournalBytes else {
                    s.statistics.refusedFull += 1
                    throw .full(bytes: needed, limit: configuration.maxJournalBytes)
                }
                if rotate { try seal(&s) }
                try Self.writeAll(s.fd, bytes, path: JournalDirectory.segmentPath(directory, s.segment))
                s.segmentSize += bytes.count
                s.written = JournalPosition(segment: s.segment, offset: UInt64(s.segmentSize))
                if configuration.fsync == .off { s.durable = s.written }
                s.statistics.appended += 1
                s.statistics.bytes = s.totalBytes
                return .success(s.written)
            } catch {
                if case .full = error {} else { s.closed = true; s.lastError = error }
                return .failure(error)
            }
        }
        if configuration.fsync == .batch {
            condition.lock()
            condition.broadcast()
            condition.unlock()
        }
        return try result.get()
    }

    /// Ends a group of appends: with `always`, syncs now and returns once they are durable; otherwise returns at
    /// once (the batch thread syncs on its schedule).
    package func commit() throws(JournalError) {
        guard configuration.fsync == .always else { return }
        let result: Result<Void, JournalError> = state.withLock { s in
            guard s.written > s.durable else { return .success(()) }
            do throws(JournalError) {
                try Self.sync(s.fd, path: JournalDirectory.segmentPath(directory, s.segment), statistics: &s.statistics)
                s.durable = s.written
                return .success(())
            } catch {
                s.lastError = error
                return .failure(error)
            }
        }
        try result.get()
    }

    /// Deletes every sealed segment wholly before `position` (the smallest journal position of all models'
    /// checkpoints): none of its records will be replayed again. Returns how many were deleted.
    @discardableResult
    package func deleteSegments(coveredBy position: JournalPosition) throws(JournalError) -> Int {
        let doomed: [UInt64] = state.withLock { s in s.sealed.filter { $0.number < position.segment }.map(\.number) }
        for number in doomed {
            do { try CheckpointFiles.removeFile(JournalDirectory.segmentPath(directory, number)) } catch { throw .from(error) }
            state.withLock { s in
                s.sealed.removeAll { $0.number == number }
                s.statistics.deletedSegments += 1
                s.statistics.segments = s.sealed.count + 1
                s.statistics.bytes = s.totalBytes
            }
        }
        return doomed.count
    }

    /// Syncs what was written (unless `off`), stops the batch thread and closes the segment. Idempotent.
    package func close() {
        state.withLock { s in
            guard !s.closed || s.fd >= 0 else { return }
            if configuration.fsync != .off, s.fd >= 0, s.written > s.durable,
               (try? Self.sync(s.fd, path: "", statistics: &s.statistics)) != nil {
                s.durable = s.written
            }
            if s.fd >= 0 { Glibc.close(s.fd) }
            s.fd = -1
            s.closed = true
        }
        condition.lock()
        condition.broadcast()
        condition.unlock()
        while !syncerDone.withLock({ $0 }) { usleep(1000) }
    }

    deinit {
        state.withLock { s in if s.fd >= 0 { Glibc.close(s.fd) } }
    }

    // MARK: Segments

    /// Seals the current segment (synced unless `off`) and starts the next one.
    private func seal(_ s: inout State) throws(JournalError) {
        let path = JournalDirectory.segmentPath(directory, s.segment)
        if configuration.fsync != .off { try Self.sync(s.fd, path: path, statistics: &s.statistics) }
        Glibc.close(s.fd)
        s.fd = -1
        s.sealed.append((s.segment, s.segmentSize))
        if configuration.fsync != .off { s.durable = s.written }
        try Self.startSegment(s.segment + 1, in: directory, sync: configuration.fsync != .off, state: &s)
        if configuration.fsync != .off { s.durable = s.written }
        s.statistics.segments = s.sealed.count + 1
    }

    /// Creates segment `number` with its header (synced with its directory entry unless `sync` is false).
    private static func startSegment(_ number: UInt64, in directory: String, sync: Bool, state s: inout State) throws(JournalError) {
        let path = JournalDirectory.segmentPath(directory, number)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .io(path: path, operation: "open", code: errno) }
        do throws(JournalError) {
            let header = JournalFormat.segmentHeader(number)
            try writeAll(fd, header, path: path)
            if sync {
                try Self.sync(fd, path: path, statistics: &s.statistics)
                do { try CheckpointFiles.syncDirectory(directory) } catch { throw .from(error) }
            }
            s.fd = fd
            s.segment = number
            s.segmentSize = header.count
            s.written = .start(of: number)
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(JournalError) {
        var done = 0
        let failure: JournalError? = bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    return .io(path: path, operation: "write", code: errno)
                }
                done += n
            }
            return nil
        }
        if let failure { throw failure }
    }

    private static func sync(_ fd: Int32, path: String, statistics: inout JournalStatistics) throws(JournalError) {
        let started = ContinuousClock.now
        while fdatasync(fd) != 0 {
            if errno == EINTR { continue }
            throw .io(path: path, operation: "fdatasync", code: errno)
        }
        record(ContinuousClock.now - started, in: &statistics)
    }

    private static func record(_ elapsed: Duration, in statistics: inout JournalStatistics) {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
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
                let (closed, pending) = state.withLock { ($0.closed, $0.written > $0.durable) }
                if closed { condition.unlock(); return }
                if pending { break }
                condition.wait(until: Date(timeIntervalSinceNow: 1))
            }
            condition.unlock()
            let target: (fd: Int32, position: JournalPosition)? = state.withLock { s in
                guard s.fd >= 0, !s.closed else { return nil }
                return (dup(s.fd), s.written)
            }
            guard let target, target.fd >= 0 else { return }
            let started = ContinuousClock.now
            var result: Int32 = 0
            repeat { result = fdatasync(target.fd) } while result != 0 && errno == EINTR
            let code = errno
            Glibc.close(target.fd)
            let elapsed = ContinuousClock.now - started
            state.withLock { s in
                Self.record(elapsed, in: &s.statistics)
                if result == 0 {
                    // A seal meanwhile may have made more durable already; never move backwards.
                    if target.position > s.durable { s.durable = target.position }
                } else {
                    s.lastError = .io(path: JournalDirectory.segmentPath(directory, target.position.segment),
                                      operation: "fdatasync", code: code)
                }
            }
            if result == 0 { onDurable() }
            let rest = interval - (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            if rest > 0 { usleep(UInt32(rest * 1_000_000)) }
        }
    }
}
