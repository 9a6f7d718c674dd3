/// What the daemon does with a reliable message, decided by ``ProducerWatermarks/admit(_:)``.
package enum ReliableAdmission: Sendable, Equatable {
    /// The next message of its producer (its mark + 1, or any number for a producer never seen): journal it, learn it.
    case accept
    /// Its sequence number is at or below the producer's high-water mark: already journaled, dropped.
    case duplicate(highWaterMark: UInt64)
    /// Above mark + 1: a message before it is missing (lost in flight by a daemon that crashed, or refused). Refused;
    /// the producer resends from `expected`.
    case outOfOrder(expected: UInt64)
}

/// Per producer, the highest sequence number the daemon has journaled: the duplicate filter of the reliable
/// ingest path.
///
/// Part of the state that must survive a crash: each checkpoint records the table as it was at the journal
/// position the checkpoint covers, and replaying the journal's reliable records after that position brings it up
/// to date (``record(_:)``), so a resend after a crash is recognised. At start the daemon takes the merge
/// (``merge(_:)``, the larger mark wins) of every model's checkpointed table: segments are only deleted once every
/// checkpoint covers them, so every deleted record's mark is in every table.
///
/// A sequence number is accepted when it is exactly the mark + 1 (any number ≥ 1 for a producer without a mark), a
/// duplicate at or below the mark, and out of order above mark + 1: so an acknowledgement's cumulative mark never
/// covers a message the daemon did not journal — a message queued in a producer's socket when the daemon restarted
/// can reach the new daemon before the resends of the ones lost in flight, and must not overtake them.
package struct ProducerWatermarks: Sendable, Equatable {
    /// Producer → highest sequence number journaled.
    package private(set) var marks: [String: UInt64]

    package init(_ marks: [String: UInt64] = [:]) {
        self.marks = marks
    }

    /// The producer's mark, 0 when it has sent nothing yet.
    package func highWaterMark(of producer: String) -> UInt64 { marks[producer] ?? 0 }

    /// Whether `origin` is new or a duplicate; does not change the table (``record(_:)`` does, once it is journaled).
    package func admit(_ origin: ReliableOrigin) -> ReliableAdmission {
        guard let mark = marks[origin.producer] else { return .accept }
        guard origin.sequence > mark else { return .duplicate(highWaterMark: mark) }
        return origin.sequence == mark + 1 ? .accept : .outOfOrder(expected: mark + 1)
    }

    /// Records a journaled message (live or replayed): the mark becomes at least its sequence number.
    package mutating func record(_ origin: ReliableOrigin) {
        if origin.sequence > highWaterMark(of: origin.producer) { marks[origin.producer] = origin.sequence }
    }

    /// Takes the larger mark of each producer.
    package mutating func merge(_ other: ProducerWatermarks) {
        for (producer, mark) in other.marks where mark > highWaterMark(of: producer) { marks[producer] = mark }
    }

    /// The table as JSON for a checkpoint header: `{"<producer>": <mark>, …}`, keys sorted (equal tables, equal bytes).
    package var json: JSON {
        .object(marks.sorted { $0.key < $1.key }.map { ($0.key, JSON.integer(Int64(bitPattern: $0.value))) })
    }

    /// The inverse of ``json``; nil when `json` is not an object of valid producer names to non-negative integers.
    package init?(json: JSON) {
        guard case let .object(entries) = json else { return nil }
        var marks: [String: UInt64] = [:]
        for (producer, value) in entries {
            guard ReliableOrigin.isValidProducer(producer), case let .integer(mark) = value, mark >= 0 else { return nil }
            marks[producer] = UInt64(mark)
        }
        self.init(marks)
    }
}
