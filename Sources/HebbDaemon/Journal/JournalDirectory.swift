import HebbCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A torn tail that recovery cut off: where, why, and how many bytes went.
package struct JournalTornTail: Sendable, Equatable {
    /// The segment file.
    package var path: String
    /// Where the valid records ended (the file's new length).
    package var position: JournalPosition
    /// Why the bytes after it were not a record.
    package var damage: JournalDamage
    /// Bytes removed.
    package var bytesCut: Int
}

/// What reading the journal directory found.
package struct JournalRecovery: Sendable, Equatable {
    /// The segments present, in order, with their sizes in bytes after recovery.
    package var segments: [(number: UInt64, bytes: Int)]
    /// Records read (all of them, including those before the replay's start).
    package var records: Int
    /// Records handed to the visitor (at or after the replay's start).
    package var replayed: Int
    /// The position after the last valid record; nil for an empty journal.
    package var end: JournalPosition?
    /// The torn tail cut off, if there was one.
    package var tornTail: JournalTornTail?
    /// Torn-looking tails of **sealed** segments cut off because the journal runs with `fsync = "off"` (a power loss
    /// loses the never-synced pages of any segment, not only the last one's).
    package var sealedTailsCut: [JournalTornTail] = []

    package static func == (a: JournalRecovery, b: JournalRecovery) -> Bool {
        a.segments.map(\.number) == b.segments.map(\.number) && a.segments.map(\.bytes) == b.segments.map(\.bytes)
            && a.records == b.records && a.replayed == b.replayed && a.end == b.end && a.tornTail == b.tornTail
            && a.sealedTailsCut == b.sealedTailsCut
    }
}

/// The journal's directory, `<state_dir>/journal/`: listing its segments and spares, and recovery — reading every
/// record in order, cutting off a torn tail, refusing corruption. Spares (`spare-*.log`, covered segments kept for
/// reuse by ``JournalWriter``) are no part of the journal: recovery never reads them.
package enum JournalDirectory {
    /// The journal directory of a state directory.
    package static func path(stateDirectory: String) -> String {
        (stateDirectory.hasSuffix("/") ? stateDirectory : stateDirectory + "/") + "journal"
    }

    /// The segment numbers present, ascending (other names are ignored); empty when the directory does not exist.
    package static func segmentNumbers(in directory: String) throws(JournalError) -> [UInt64] {
        let names: [String]?
        do { names = try CheckpointFiles.list(directory) } catch { throw .from(error) }
        return (names ?? []).compactMap(JournalFormat.segmentNumber(fileName:)).sorted()
    }

    /// The spare files present (their names), oldest former segment first; empty when the directory does not exist.
    package static func spareNames(in directory: String) throws(JournalError) -> [String] {
        let names: [String]?
        do { names = try CheckpointFiles.list(directory) } catch { throw .from(error) }
        return (names ?? []).filter(JournalFormat.isSpareFileName).sorted()
    }

    /// The file of segment `number`.
    package static func segmentPath(_ directory: String, _ number: UInt64) -> String {
        directory + "/" + JournalFormat.segmentFileName(number)
    }

    /// Reads every segment in order and hands each record at or after `start` to `visit` with its position and the
    /// position after it (nil `start`: every record). A torn tail of the **last** segment is cut off (the file is
    /// truncated to its last valid record and synced — a recycled segment's records of its previous life after it
    /// included; a last segment whose header itself is torn, or still the one of its previous life, is removed) and
    /// reported; any other damage throws before anything after it is visited: ``JournalError/corrupt(path:position:damage:)``,
    /// ``JournalError/missingSegment(directory:number:)`` or ``JournalError/unreadableSegment(path:error:)``.
    /// With `unsyncedSealedSegments` (`fsync = "off"`: nothing was ever synced, so a power loss can leave any
    /// segment's tail zero-filled or cut), a torn-looking tail of a sealed segment is cut off too and reported in
    /// ``JournalRecovery/sealedTailsCut``, instead of refusing the start as corruption; and a last segment that still
    /// has the header of an earlier segment (recycled, renamed before its new header reached the disk) is removed as
    /// a torn start (``JournalDamage/staleHeader(found:)``) — with the other policies the header is synced before the
    /// rename, so such a file is refused.
    package static func recover(_ directory: String, from start: JournalPosition? = nil, unsyncedSealedSegments: Bool = false,
                                visit: (JournalRecord, JournalPosition, JournalPosition) -> Void) throws(JournalError) -> JournalRecovery {
        let numbers = try segmentNumbers(in: directory)
        var recovery = JournalRecovery(segments: [], records: 0, replayed: 0, end: nil, tornTail: nil)
        for (index, number) in numbers.enumerated() {
            let path = segmentPath(directory, number)
            let isLast = index == numbers.count - 1
            if index > 0, number != numbers[index - 1] + 1 {
                throw .missingSegment(directory: directory, number: numbers[index - 1] + 1)
            }
            let bytes: [UInt8]
            do { bytes = try CheckpointFiles.readFile(path) } catch { throw .from(error) }
            let scan: JournalSegmentScan
            do {
                scan = try JournalReader.scan(bytes, number: number)
            } catch {
                // A crash while a new segment's header was being written leaves a short or zero header at the end; a
                // recycled file renamed before its new header reached the disk still has the header of its previous
                // life, an earlier segment's — only possible with fsync = "off" (otherwise the header is synced
                // before the rename, and such a file was renamed or copied by someone else: refused). Either way the
                // segment never held a durable record.
                let damage: JournalDamage
                if bytes.count < JournalFormat.segmentHeaderBytes || bytes.allSatisfy({ $0 == 0 }) {
                    damage = .cutOff(needed: JournalFormat.segmentHeaderBytes, available: bytes.count)
                } else if unsyncedSealedSegments, case let .numberMismatch(_, found) = error, found < number {
                    damage = .staleHeader(found: found)
                } else {
                    throw .unreadableSegment(path: path, error: error)
                }
                guard isLast else { throw .unreadableSegment(path: path, error: error) }
                // Removed, not kept as a spare: with "off" some of its new records may have reached the disk, and a
                // spare's records must never carry the number its next life may get (this one is reused next).
                do { try CheckpointFiles.removeFile(path) } catch { throw .from(error) }
                recovery.tornTail = JournalTornTail(path: path, position: .start(of: number), damage: damage, bytesCut: bytes.count)
                break
            }
            for (record, at, end) in scan.records {
                recovery.records += 1
                if let start, end <= start { continue }
                recovery.replayed += 1
                visit(record, at, end)
            }
            var size = bytes.count
            if let damage = scan.damage {
                guard isLast || unsyncedSealedSegments, damage.isTornTail else {
                    throw .corrupt(path: path, position: scan.validEnd, damage: damage)
                }
                size = Int(scan.validEnd.offset)
                try truncate(path, to: size)
                let cut = JournalTornTail(path: path, position: scan.validEnd, damage: damage, bytesCut: bytes.count - size)
                if isLast { recovery.tornTail = cut } else { recovery.sealedTailsCut.append(cut) }
            }
            recovery.segments.append((number, size))
            recovery.end = scan.validEnd
        }
        return recovery
    }

    /// Truncates `path` to `size` bytes and syncs it, so the cut survives a power loss before the next append.
    static func truncate(_ path: String, to size: Int) throws(JournalError) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw .io(path: path, operation: "ftruncate", code: errno) }
        do { try CheckpointFiles.sync(fd, path: path) } catch { throw .from(error) }
    }
}
