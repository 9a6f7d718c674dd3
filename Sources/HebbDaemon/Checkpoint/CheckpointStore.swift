import HebbCore
import HebbianRegression
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a successful ``CheckpointStore/write(_:)`` did.
package struct CheckpointWriteResult: Sendable, Equatable {
    /// The checkpoint's final path.
    package var path: String
    /// Its size in bytes.
    package var bytes: Int
    /// Wall time of the whole write: encoding, write, both fsyncs, rename and pruning.
    package var seconds: Double
    /// Older checkpoints deleted to keep the newest `keep`.
    package var pruned: [String]
    /// Older checkpoints that should have been pruned but could not be deleted (the write itself succeeded).
    package var pruneFailures: [CheckpointError]
}

/// A checkpoint that failed verification during ``CheckpointStore/loadLatest(model:)`` and was set aside.
package struct QuarantinedCheckpoint: Sendable, Equatable {
    /// Where the file was found.
    package var path: String
    /// Where it is now (`<path>.broken`), or nil if even the rename failed (see `quarantineError`).
    package var quarantinedPath: String?
    /// Why it was rejected.
    package var error: CheckpointError
    /// Why it could not be renamed, if it could not.
    package var quarantineError: CheckpointError?
}

/// What ``CheckpointStore/loadLatest(model:)`` found. Every field is meant to be logged by the caller.
package struct CheckpointLoadResult: Sendable {
    /// The newest checkpoint that verified, or nil (no checkpoint, or none valid: start fresh).
    package var snapshot: ModelSnapshot?
    /// Its path.
    package var path: String?
    /// Newer files that failed verification, newest first, now renamed to `*.broken`.
    package var quarantined: [QuarantinedCheckpoint]
    /// Stale temporary files (left by a write interrupted by a crash) that were deleted.
    package var removedTemporaryFiles: [String]
    /// Set when learned state exists but cannot be read: the model's directory could not be listed (or the name is
    /// invalid), or the newest file that is not corrupt failed to read for another reason (a newer format version,
    /// EIO, EACCES, a directory in its place). That file is left as it is and no older one is loaded: the model
    /// must be refused, not started afresh or from an older state (see ``ResumeRefusal/unreadable(model:error:)``).
    package var unreadable: CheckpointError?

    /// What the resume rule (``ModelConfiguration/resumeDecision(from:resetRequested:)``) decides on.
    package var candidate: CheckpointCandidate {
        if let unreadable { return .unreadable(unreadable) }
        if let snapshot, let path { return .found(snapshot, path: path) }
        return .none
    }
}

/// The parts of a checkpoint file name: `ckpt-<generation>-<updates>-<samples>.hebb`, each number
/// zero-padded to 20 digits (UInt64's width), so lexical order is numeric order.
///
/// The leading `generation` is one more than the largest in the directory when the file is written. It,
/// not `updates`, decides which checkpoint is the newest: a `reset` control command sets the counters
/// back to 0, and a name ordered by updates alone would make the next start resurrect the pre-reset model.
/// In normal operation generation, updates and samples all rise together, so the order is also step order.
package struct CheckpointFileName: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Write generation within the model's directory (1, 2, …).
    package var generation: UInt64
    /// The circuit's update counter when written.
    package var updates: UInt64
    /// The circuit's sample counter when written.
    package var samples: UInt64

    /// The name's prefix.
    package static let prefix = "ckpt-"
    /// The name's extension.
    package static let suffix = ".hebb"
    /// Appended to a file that failed verification.
    package static let quarantineSuffix = ".broken"
    /// Prefix of temporary files, which are never loaded.
    package static let temporaryPrefix = ".tmp-"

    /// A name from its parts.
    package init(generation: UInt64, updates: UInt64, samples: UInt64) {
        self.generation = generation
        self.updates = updates
        self.samples = samples
    }

    /// Parses a file name (not a path); nil unless it has exactly the checkpoint form.
    package init?(parsing name: String) {
        guard name.hasPrefix(Self.prefix), name.hasSuffix(Self.suffix) else { return nil }
        let middle = name.dropFirst(Self.prefix.count).dropLast(Self.suffix.count)
        let parts = middle.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ $0.utf8.count == 20 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
              let g = UInt64(parts[0]), let u = UInt64(parts[1]), let s = UInt64(parts[2])
        else { return nil }
        self.init(generation: g, updates: u, samples: s)
    }

    /// `ckpt-00000000000000000007-00000000000000000120-00000000000000006000.hebb`.
    package var description: String {
        func pad(_ v: UInt64) -> String {
            let s = String(v)
            return String(repeating: "0", count: 20 - s.count) + s
        }
        return "\(Self.prefix)\(pad(generation))-\(pad(updates))-\(pad(samples))\(Self.suffix)"
    }

    package static func < (a: Self, b: Self) -> Bool {
        (a.generation, a.updates, a.samples) < (b.generation, b.updates, b.samples)
    }
}

/// Durable, crash-safe storage of model checkpoints: `<directory>/<model>/ckpt-….hebb`.
///
/// Writes follow the etcd/Redis discipline: write a temporary file in the same directory, fsync it,
/// rename it over the final name, fsync the directory. A crash at any point leaves either the previous
/// set of checkpoints or the new one — never a partial file under a checkpoint name (a stale `.tmp-*`
/// file at worst, removed by the next ``loadLatest(model:)``). Every file carries a CRC, and loading falls
/// back to older checkpoints past any that are corrupt, which are renamed `*.broken` (kept for inspection,
/// never pruned, never loaded); a file that is not corrupt but cannot be read (a newer format version, an
/// I/O error) stops the load untouched (``CheckpointLoadResult/unreadable``).
///
/// Thread-safe: writes are serialised by an internal lock (the name of a new checkpoint depends on the
/// ones already there). Use one store per directory per process; two daemons must not share a directory.
package final class CheckpointStore: Sendable {
    /// The root directory (e.g. `$STATE_DIRECTORY/checkpoints`).
    package let directory: String
    /// How many checkpoints per model survive pruning (≥ 1); a reload may change it (``setKeep(_:)``).
    package var keep: Int { keepCount.withLock { $0 } }
    /// Recorded in each file's header for humans; never checked when reading.
    package let softwareVersion: String

    /// Checkpoints are written 0640: model weights may be sensitive, and the group can read for backups.
    package static let fileMode: mode_t = 0o640
    /// Directories are created 0750.
    package static let directoryMode: mode_t = 0o750

    private let keepCount: Mutex<Int>
    private let writeLock = Mutex<Void>(())
    /// Temporary files being written right now, which `loadLatest` must not treat as stale.
    private let inFlight = Mutex<Set<String>>([])

    /// A store rooted at `directory` (created on the first write) keeping the newest `keep` checkpoints per model.
    package init(directory: String, keep: Int = 5, softwareVersion: String = "unknown") {
        var d = directory
        while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
        self.directory = d
        self.keepCount = Mutex(max(1, keep))
        self.softwareVersion = softwareVersion
    }

    /// From the next write on, keeps the newest `keep` (≥ 1) checkpoints per model. Files beyond it go at each
    /// model's next write, not at once: pruning happens only beside a write.
    package func setKeep(_ keep: Int) {
        keepCount.withLock { $0 = max(1, keep) }
    }

    /// `<directory>/<model>`, after checking that `model` is safe as a single path component.
    package func modelDirectory(_ model: String) throws(CheckpointError) -> String {
        guard !model.isEmpty, !model.hasPrefix("."), !model.contains("/"), !model.utf8.contains(0),
              model.utf8.count <= 255
        else { throw .invalidModelName(model) }
        return directory + "/" + model
    }

    // MARK: Writing

    /// Writes `snapshot` durably as the model's newest checkpoint, then prunes to the newest `keep`.
    ///
    /// When this returns, the checkpoint is on stable storage under its final name. When it throws, the older
    /// checkpoints are untouched and no partial file exists under a checkpoint name (if only the final
    /// directory fsync failed, the complete new file is there but not known to survive a power loss).
    package func write(_ snapshot: ModelSnapshot) throws(CheckpointError) -> CheckpointWriteResult {
        let start = ContinuousClock.now
        let modelDirectory = try modelDirectory(snapshot.name)
        let bytes = try CheckpointFormat.encode(snapshot, software: softwareVersion)
        try CheckpointFiles.makeDirectories(modelDirectory, mode: Self.directoryMode)

        let (path, pruned, pruneFailures) = try writeLock.withLock { _ throws(CheckpointError) -> (String, [String], [CheckpointError]) in
            let names = try CheckpointFiles.list(modelDirectory) ?? []
            let generation = nextGeneration(names)
            let name = CheckpointFileName(generation: generation, updates: UInt64(snapshot.updates),
                                          samples: UInt64(snapshot.samples))
            let finalPath = modelDirectory + "/" + name.description
            // Same directory as the final name: rename(2) is only atomic within one file system.
            let temporaryPath = modelDirectory + "/" + CheckpointFileName.temporaryPrefix + name.description + ".\(getpid())"
            inFlight.withLock { _ = $0.insert(temporaryPath) }
            defer { inFlight.withLock { _ = $0.remove(temporaryPath) } }
            do throws(CheckpointError) {
                do throws(CheckpointError) {
                    try CheckpointFiles.writeFile(temporaryPath, bytes, mode: Self.fileMode)
                } catch .io(_, "open", EEXIST) {
                    // Left by a crashed process that had our pid; it is not in flight (we hold the lock).
                    try CheckpointFiles.removeFile(temporaryPath)
                    try CheckpointFiles.writeFile(temporaryPath, bytes, mode: Self.fileMode)
                }
                try CheckpointFiles.renameFile(temporaryPath, finalPath)
            } catch {
                unlink(temporaryPath)
                throw error
            }
            // The rename is only durable once the directory is: without this a crash could lose the new
            // name (and with it the checkpoint) even though the file's data was synced.
            try CheckpointFiles.syncDirectory(modelDirectory)
            let (pruned, failures) = prune(modelDirectory, keeping: name)
            return (finalPath, pruned, failures)
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return CheckpointWriteResult(path: path, bytes: bytes.count, seconds: seconds, pruned: pruned,
                                     pruneFailures: pruneFailures)
    }

    /// One past the largest generation in the directory, counting quarantined files so that a new
    /// checkpoint never takes the name of a `.broken` one.
    private func nextGeneration(_ names: [String]) -> UInt64 {
        var largest: UInt64 = 0
        for name in names {
            let base = name.hasSuffix(CheckpointFileName.quarantineSuffix)
                ? String(name.dropLast(CheckpointFileName.quarantineSuffix.count)) : name
            if let parsed = CheckpointFileName(parsing: base) { largest = max(largest, parsed.generation) }
        }
        return largest &+ 1
    }

    /// Deletes all but the newest `keep` checkpoints; never `justWritten`, never `*.broken`, `.tmp-*` or other files.
    private func prune(_ modelDirectory: String, keeping justWritten: CheckpointFileName) -> ([String], [CheckpointError]) {
        guard let names = try? CheckpointFiles.list(modelDirectory) else { return ([], []) }
        let checkpoints = names.compactMap(CheckpointFileName.init(parsing:)).sorted(by: >)
        var pruned = [String](), failures = [CheckpointError]()
        // Deleting is not synced: a pruned file that reappears after a crash is merely pruned again.
        for old in checkpoints.dropFirst(keep) where old != justWritten {
            let path = modelDirectory + "/" + old.description
            do throws(CheckpointError) {
                try CheckpointFiles.removeFile(path)
                pruned.append(path)
            } catch {
                failures.append(error)
            }
        }
        return (pruned, failures)
    }

    // MARK: Loading

    /// The newest checkpoint of `model` that verifies and decodes.
    ///
    /// Scans newest first. Each corrupt file (``CheckpointError/isCorruption``: truncated, CRC mismatch, bad
    /// magic, another model's…) is renamed `<name>.broken` — kept for inspection, but out of the way of pruning
    /// and of every later load — and reported in ``CheckpointLoadResult/quarantined``; the scan goes on to the
    /// next older file. A file that fails for any other reason (a newer format version, an I/O or permission
    /// error) stops the scan and is reported in ``CheckpointLoadResult/unreadable``, untouched. Stale `.tmp-*`
    /// files (interrupted writes) are deleted; they are never loaded. No checkpoint at all is not an error: the
    /// model starts fresh.
    package func loadLatest(model: String) -> CheckpointLoadResult {
        var result = CheckpointLoadResult(snapshot: nil, path: nil, quarantined: [], removedTemporaryFiles: [], unreadable: nil)
        let modelDirectory: String
        let names: [String]
        do throws(CheckpointError) {
            modelDirectory = try self.modelDirectory(model)
            guard let listed = try CheckpointFiles.list(modelDirectory) else { return result }
            names = listed
        } catch {
            result.unreadable = error
            return result
        }
        let active = inFlight.withLock { $0 }
        for name in names where name.hasPrefix(CheckpointFileName.temporaryPrefix) {
            let path = modelDirectory + "/" + name
            if !active.contains(path) && unlink(path) == 0 { result.removedTemporaryFiles.append(path) }
        }
        for name in names.compactMap(CheckpointFileName.init(parsing:)).sorted(by: >) {
            let path = modelDirectory + "/" + name.description
            do throws(CheckpointError) {
                let snapshot = try Self.read(path: path)
                guard snapshot.name == model else {
                    throw CheckpointError.modelMismatch(path: path, expected: model, found: snapshot.name)
                }
                result.snapshot = snapshot
                result.path = path
                return result
            } catch .io(_, "open", ENOENT) {
                // Pruned by a write of this model that finished meanwhile (`add` right after `remove`): not learned
                // state any more, the newer file that replaced it is in the next scan.
                continue
            } catch where !error.isCorruption {
                // Not damaged, just not readable by this build now (a newer format version, EIO, EACCES, EISDIR).
                // Neither renamed nor skipped: falling back would resume an older model, and the next writes would
                // take higher generations and prune this one away. The caller refuses the model instead.
                result.unreadable = error
                return result
            } catch {
                // Damaged: set aside as `.broken` (never loaded, never pruned, never deleted) and fall back.
                let target = path + CheckpointFileName.quarantineSuffix
                do throws(CheckpointError) {
                    try CheckpointFiles.renameFile(path, target)
                    result.quarantined.append(.init(path: path, quarantinedPath: target, error: error, quarantineError: nil))
                } catch let renameError {
                    result.quarantined.append(.init(path: path, quarantinedPath: nil, error: error, quarantineError: renameError))
                }
            }
        }
        return result
    }

    /// Names of the models that have at least one checkpoint, sorted.
    package func models() -> [String] {
        guard let names = try? CheckpointFiles.list(directory) else { return [] }
        return names.filter { name in
            guard !name.hasPrefix("."), CheckpointFiles.isDirectory(directory + "/" + name) else { return false }
            return !checkpoints(model: name).isEmpty
        }.sorted()
    }

    /// Paths of `model`'s checkpoints, newest first (quarantined and temporary files excluded).
    package func checkpoints(model: String) -> [String] {
        guard let modelDirectory = try? self.modelDirectory(model),
              let names = try? CheckpointFiles.list(modelDirectory) else { return [] }
        return names.compactMap(CheckpointFileName.init(parsing:)).sorted(by: >).map { modelDirectory + "/" + $0.description }
    }

    // MARK: Single files

    /// Reads and verifies one checkpoint file (magic, format version, lengths, CRC, then the content).
    package static func read(path: String) throws(CheckpointError) -> ModelSnapshot {
        try CheckpointFormat.decode(CheckpointFiles.readFile(path), path: path).snapshot
    }

    /// Reads and verifies one checkpoint file and summarises it for `hebbd checkpoint inspect`.
    package static func inspect(path: String) throws(CheckpointError) -> CheckpointInspection {
        let decoded = try CheckpointFormat.decode(CheckpointFiles.readFile(path), path: path)
        return CheckpointInspection(path: path, decoded: decoded)
    }
}
