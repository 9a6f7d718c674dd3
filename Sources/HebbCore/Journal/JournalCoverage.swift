/// What a checkpoint says about the journal: the position after the last record its model learned, and every
/// producer's high-water mark there. At start, replay hands the model the records after ``position``; the marks of
/// all checkpoints, merged, are the duplicate filter before the replayed records raise them.
package struct JournalCoverage: Sendable, Equatable {
    /// The position after the last journal record the model learned.
    package var position: JournalPosition
    /// The producers' marks at that position.
    package var watermarks: ProducerWatermarks

    package init(position: JournalPosition, watermarks: ProducerWatermarks = ProducerWatermarks()) {
        self.position = position
        self.watermarks = watermarks
    }

    /// The checkpoint header's `journal` value: `{"position": {"segment", "offset"}, "producers": {name: mark}}`.
    package var json: JSON {
        .object([("position", position.json), ("producers", watermarks.json)])
    }

    /// The inverse of ``json``; nil when `json` is not such an object.
    package init?(json: JSON) {
        guard let position = json["position"].flatMap(JournalPosition.init(json:)),
              let watermarks = json["producers"].flatMap(ProducerWatermarks.init(json:)) else { return nil }
        self.init(position: position, watermarks: watermarks)
    }
}
