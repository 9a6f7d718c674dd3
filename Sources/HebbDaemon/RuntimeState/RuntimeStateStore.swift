import HebbCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The run-time state file, `<state_dir>/.runtime-state.json` (``RuntimeStateFormat``), read at start and rewritten
/// after every control command that changes a model and after every reload.
///
/// Written like a checkpoint, with the checkpoint store's primitives (``CheckpointFiles``): a temporary file in the
/// same directory, fsync, rename over the name, fsync of the directory. A crash leaves the previous state or the
/// new one, never a partial file. The leading dot keeps the name out of the model namespace (a model name may not
/// start with a dot), so no model's checkpoint directory can take it.
package struct RuntimeStateStore: Sendable {
    /// The file's name in the state directory.
    package static let fileName = ".runtime-state.json"

    /// The file.
    package let path: String
    /// The state directory holding it.
    package let directory: String

    /// The store of the state directory `directory`.
    package init(directory: String) {
        var d = directory
        while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
        self.directory = d
        self.path = d + "/" + Self.fileName
    }

    /// The stored state; empty when there is no file yet. Any other failure throws: the changes it holds are never
    /// replaced implicitly.
    package func load() throws(RuntimeStateError) -> RuntimeState {
        let bytes: [UInt8]
        do { bytes = try CheckpointFiles.readFile(path) } catch {
            if case .io(_, "open", ENOENT) = error { return RuntimeState() }
            throw Self.ioError(error)
        }
        return try RuntimeStateFormat.decode(bytes, path: path)
    }

    /// Stores `state` durably (an empty state is stored too: "no run-time changes" must survive a crash as well).
    package func save(_ state: RuntimeState) throws(RuntimeStateError) {
        let temporary = directory + "/" + CheckpointFileName.temporaryPrefix + Self.fileName + ".\(getpid())"
        do throws(CheckpointError) {
            try CheckpointFiles.makeDirectories(directory, mode: CheckpointStore.directoryMode)
            unlink(temporary)  // left by a crashed process that had our pid
            try CheckpointFiles.writeFile(temporary, RuntimeStateFormat.encode(state), mode: CheckpointStore.fileMode)
            do throws(CheckpointError) { try CheckpointFiles.renameFile(temporary, path) } catch {
                unlink(temporary)
                throw error
            }
            try CheckpointFiles.syncDirectory(directory)
        } catch {
            throw Self.ioError(error)
        }
    }

    /// Sets the file aside as `<file>.discarded-<unix time>` (`hebbd run --reset-runtime`): the explicit way to drop
    /// every run-time change, kept for inspection rather than deleted. Returns the new path, nil when there was no file.
    package func discard(now: Int) throws(RuntimeStateError) -> String? {
        let target = path + ".discarded-\(now)"
        if rename(path, target) != 0 {
            if errno == ENOENT { return nil }
            throw .io(path: path, operation: "rename to \(target)", code: errno)
        }
        do throws(CheckpointError) { try CheckpointFiles.syncDirectory(directory) } catch { throw Self.ioError(error) }
        return target
    }

    private static func ioError(_ error: CheckpointError) -> RuntimeStateError {
        if case let .io(path, operation, code) = error { return .io(path: path, operation: operation, code: code) }
        return .malformed(path: "", reason: "\(error)")
    }
}
