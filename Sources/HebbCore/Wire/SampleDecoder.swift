import CHebbKernels

/// Why an ingest message was rejected. The raw value is the `reason` label of the
/// `hebbd_rejected_messages_total` metric and of `status` replies.
package enum RejectionReason: String, Sendable, CaseIterable, Codable {
    /// Not 2 frames (inline) or 4 frames (binary), or an empty message.
    case frameCount = "frame_count"
    /// Frame 0 names no model of this daemon.
    case unknownModel = "unknown_model"
    /// Frame 1 is not a JSON object.
    case badJSON = "bad_json"
    /// The header is JSON but misses or mistypes a key (`rows`, `dtype`, `x`, `y`, `v`…).
    case badHeader = "bad_header"
    /// Rows have the wrong number of features or targets.
    case dimensions
    /// A NaN or ±Inf value.
    case nonFinite = "non_finite"
    /// A binary frame's byte size does not match rows × columns × dtype size.
    case byteSize = "byte_size"
    /// Over `limits.max_message_bytes` or `limits.max_rows_per_message`.
    case tooLarge = "too_large"
}

/// A rejected message: the reason label plus a one-line explanation for the log.
package struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    /// The reason label.
    package var reason: RejectionReason
    /// The model named in frame 0, if it was readable.
    package var model: String?
    /// What exactly was wrong.
    package var detail: String

    package init(_ reason: RejectionReason, model: String?, _ detail: String) {
        self.reason = reason
        self.model = model
        self.detail = detail
    }

    package var description: String { "rejected (\(reason.rawValue))\(model.map { " for model \"\($0)\"" } ?? ""): \(detail)" }
}

/// The shape a decoder validates rows against.
package struct SampleShape: Sendable, Equatable {
    /// Features per row.
    package var dictDim: Int
    /// Targets per row.
    package var sysDim: Int

    package init(dictDim: Int, sysDim: Int) {
        self.dictDim = dictDim
        self.sysDim = sysDim
    }
}

/// A validated ingest message. Its rows are read with ``copyRows(_:x:y:checkingFiniteness:)`` while the frames it
/// was decoded from are still alive (binary data is read in place, never copied twice).
///
/// Every value of a float64 or inline message has been checked finite; a binary float32 message's values have not
/// (``isCheckedFinite`` is false): they are checked by the pass that first reads them, and
/// ``nonFiniteRejection()`` names the first bad one (see ``ModelRunner/ingest(_:onUpdate:)``).
package struct DecodedSamples {
    /// The model the rows are for.
    package var model: String
    /// Number of rows.
    package var rows: Int
    /// The shape the rows were validated against.
    package var shape: SampleShape
    /// The optional `producer` of the header.
    package var producer: String?
    /// The optional `seq` of the header.
    package var sequence: Int?

    enum Storage {
        case float32(x: UnsafeRawBufferPointer, y: UnsafeRawBufferPointer)
        case float64(x: UnsafeRawBufferPointer, y: UnsafeRawBufferPointer)
        case inline(x: [Float], y: [Float])
    }
    var storage: Storage

    /// Whether every value is known to be finite (all but binary float32 messages, see the type's comment).
    package var isCheckedFinite: Bool {
        if case .float32 = storage { return false }
        return true
    }

    /// The rejection of a message with a NaN or ±Inf in X or Y, naming the first (X before Y, as the decoder
    /// checks every other kind of message); nil when all values are finite.
    package func nonFiniteRejection() -> Rejection? {
        guard case let .float32(xb, yb) = storage else { return nil }
        for (frame, bytes) in [("X", xb), ("Y", yb)] {
            if let index = FiniteCheck.firstNonFinite32(bytes) {
                return Rejection(.nonFinite, model: model, "\(frame) value \(index) is NaN or ±Inf")
            }
        }
        return nil
    }

    /// Copies rows `range` into `x` (range.count × dictDim) and `y` (range.count × sysDim), as float32. With
    /// `checkingFiniteness`, a binary float32 message is checked in the same pass; returns false when a copied value
    /// is NaN or ±Inf (the copies are then incomplete garbage to be dropped), true otherwise.
    @discardableResult
    package func copyRows(_ range: Range<Int>, x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>,
                          checkingFiniteness: Bool = false) -> Bool {
        let d = shape.dictDim, s = shape.sysDim
        switch storage {
        case let .float32(xb, yb):
            #if _endian(little)
            if checkingFiniteness {
                return hebb_copy_finite(x, xb.baseAddress! + range.lowerBound * d * 4, range.count * d) != 0
                    && hebb_copy_finite(y, yb.baseAddress! + range.lowerBound * s * 4, range.count * s) != 0
            }
            #endif
            DecodedSamples.copyFloat32(xb, from: range.lowerBound * d, count: range.count * d, into: x)
            DecodedSamples.copyFloat32(yb, from: range.lowerBound * s, count: range.count * s, into: y)
            if checkingFiniteness {
                return hebb_all_finite(x, range.count * d) != 0 && hebb_all_finite(y, range.count * s) != 0
            }
        case let .float64(xb, yb):
            DecodedSamples.copyFloat64(xb, from: range.lowerBound * d, count: range.count * d, into: x)
            DecodedSamples.copyFloat64(yb, from: range.lowerBound * s, count: range.count * s, into: y)
        case let .inline(xs, ys):
            xs.withUnsafeBufferPointer { x.update(from: $0.baseAddress! + range.lowerBound * d, count: range.count * d) }
            ys.withUnsafeBufferPointer { y.update(from: $0.baseAddress! + range.lowerBound * s, count: range.count * s) }
        }
        return true
    }

    /// Copies rows `range` into `x` and `y` as Double (the Bayesian model's buffer): a float64 frame's values
    /// exactly, float32 ones widened. The values must be known finite (checked by the decoder or by
    /// ``nonFiniteRejection()``).
    package func copyRows(_ range: Range<Int>, x: UnsafeMutablePointer<Double>, y: UnsafeMutablePointer<Double>) {
        let d = shape.dictDim, s = shape.sysDim
        func widen(_ bytes: UnsafeRawBufferPointer, _ size: Int, from first: Int, count: Int, into out: UnsafeMutablePointer<Double>) {
            for i in 0..<count {
                let offset = (first + i) * size
                out[i] = size == 8 ? Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))
                                   : Double(Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))))
            }
        }
        switch storage {
        case let .float32(xb, yb):
            widen(xb, 4, from: range.lowerBound * d, count: range.count * d, into: x)
            widen(yb, 4, from: range.lowerBound * s, count: range.count * s, into: y)
        case let .float64(xb, yb):
            widen(xb, 8, from: range.lowerBound * d, count: range.count * d, into: x)
            widen(yb, 8, from: range.lowerBound * s, count: range.count * s, into: y)
        case let .inline(xs, ys):
            for i in 0..<(range.count * d) { x[i] = Double(xs[range.lowerBound * d + i]) }
            for i in 0..<(range.count * s) { y[i] = Double(ys[range.lowerBound * s + i]) }
        }
    }

    /// X of rows `range` read in place, without a copy, when the message is binary float32 and the X frame is
    /// 4-byte aligned (libzmq gives a frame larger than its 8 KiB receive batch its own allocation, so a big X is);
    /// nil otherwise, and the rows must be copied with ``copyRows(_:x:y:checkingFiniteness:)``.
    package func float32X(_ range: Range<Int>) -> UnsafeBufferPointer<Float>? {
        guard case let .float32(xb, _) = storage else { return nil }
        return Self.inPlace(xb, from: range.lowerBound * shape.dictDim, count: range.count * shape.dictDim)
    }

    /// Y of rows `range` in place, as ``float32X(_:)``. A small Y frame often shares libzmq's receive buffer at
    /// an odd offset; then it is nil and ``copyTargets(_:y:)`` copies the few values instead.
    package func float32Y(_ range: Range<Int>) -> UnsafeBufferPointer<Float>? {
        guard case let .float32(_, yb) = storage else { return nil }
        return Self.inPlace(yb, from: range.lowerBound * shape.sysDim, count: range.count * shape.sysDim)
    }

    /// Copies Y of rows `range` into `y` (range.count × sysDim), as float32.
    package func copyTargets(_ range: Range<Int>, y: UnsafeMutablePointer<Float>) {
        let s = shape.sysDim
        switch storage {
        case let .float32(_, yb): DecodedSamples.copyFloat32(yb, from: range.lowerBound * s, count: range.count * s, into: y)
        case let .float64(_, yb): DecodedSamples.copyFloat64(yb, from: range.lowerBound * s, count: range.count * s, into: y)
        case let .inline(_, ys): ys.withUnsafeBufferPointer { y.update(from: $0.baseAddress! + range.lowerBound * s, count: range.count * s) }
        }
    }

    private static func inPlace(_ bytes: UnsafeRawBufferPointer, from first: Int, count: Int) -> UnsafeBufferPointer<Float>? {
        #if _endian(little)
        // The decoder validated the frame size against rows × columns, so the range lies inside the frame.
        guard let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self) + first, count: count)
        #else
        return nil
        #endif
    }

    static func copyFloat32(_ bytes: UnsafeRawBufferPointer, from first: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        #if _endian(little)
        // ZeroMQ gives no alignment guarantee, so a byte copy, not a typed load.
        UnsafeMutableRawPointer(out).copyMemory(from: bytes.baseAddress! + first * 4, byteCount: count * 4)
        #else
        for i in 0..<count {
            out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: (first + i) * 4, as: UInt32.self)))
        }
        #endif
    }

    static func copyFloat64(_ bytes: UnsafeRawBufferPointer, from first: Int, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let bits = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: (first + i) * 8, as: UInt64.self))
            out[i] = Float(Double(bitPattern: bits))
        }
    }
}

/// Decodes and validates protocol v1 sample messages (docs/PROTOCOL.md).
///
/// A message is validated **completely** — frame count, model, header, dimensions, byte sizes,
/// finiteness — before the caller buffers any row, so a rejected message changes nothing. The one exception is the
/// finiteness of binary float32 frames, the bulk of the ingest bytes: it is left to the pass that first reads them
/// (``DecodedSamples/isCheckedFinite``), which rejects the message whole just the same.
package struct SampleDecoder: Sendable {
    /// `limits.max_message_bytes`: the sum of all frame sizes.
    package var maxMessageBytes: Int
    /// `limits.max_rows_per_message`.
    package var maxRowsPerMessage: Int

    /// Largest JSON header frame parsed (`limits.max_inline_bytes`).
    package var maxInlineBytes: Int

    package init(maxMessageBytes: Int, maxRowsPerMessage: Int, maxInlineBytes: Int = 1 << 20) {
        self.maxMessageBytes = maxMessageBytes
        self.maxRowsPerMessage = maxRowsPerMessage
        self.maxInlineBytes = maxInlineBytes
    }

    /// Validates one multipart message. `shape` maps a model name to its shape (nil: unknown model).
    package func decode(
        _ frames: [UnsafeRawBufferPointer], shape: (String) -> SampleShape?
    ) throws(Rejection) -> DecodedSamples {
        guard !frames.isEmpty else { throw Rejection(.frameCount, model: nil, "empty message") }
        let total = frames.reduce(0) { $0 + $1.count }
        // Model names are ASCII (ModelConfiguration.isValidName): a frame 0 of ASCII bytes, every message for a
        // model of this daemon, is valid UTF-8 and becomes its String without `String(validating:)`, whose generic
        // code instantiated type metadata on every call (JSONParser.parseString measured it); only other bytes,
        // already no model's name, are validated for the rejection's text.
        let asciiName = frames[0].allSatisfy { $0 < 0x80 }
        let name = asciiName ? String(decoding: frames[0], as: UTF8.self) : String(validating: frames[0], as: UTF8.self)
        guard let model = name, !model.isEmpty else {
            throw Rejection(.unknownModel, model: nil, "frame 0 is not a UTF-8 model name")
        }
        guard total <= maxMessageBytes else {
            throw Rejection(.tooLarge, model: model, "\(total) bytes exceed limits.max_message_bytes = \(maxMessageBytes)")
        }
        guard frames.count == 2 || frames.count == 4 else {
            throw Rejection(.frameCount, model: model, "\(frames.count) frames; expected 2 (inline JSON) or 4 (binary)")
        }
        // A name with a non-ASCII byte is no model's. This also makes the lookup byte for byte: Swift's String
        // equality is canonical equivalence, under which U+212A KELVIN SIGN + "1" would find model "K1".
        guard asciiName, let shape = shape(model) else {
            throw Rejection(.unknownModel, model: model, "no model named \"\(model)\"")
        }
        // JSON is parsed into a tree several times its size: an inline message has its own, small bound.
        guard frames[1].count <= maxInlineBytes else {
            throw Rejection(.tooLarge, model: model, "a JSON frame of \(frames[1].count) bytes exceeds limits.max_inline_bytes = \(maxInlineBytes); "
                            + "send large blocks as binary frames")
        }
        var decoded: DecodedSamples
        if frames.count == 4 {
            // The headers producers send are read without a JSON tree (BinaryHeader.scan); anything else is parsed.
            let header: BinaryHeader
            if let scanned = BinaryHeader.scan(frames[1], maxRows: maxRowsPerMessage) {
                header = scanned
            } else {
                header = try binaryHeader(parsed: parseHeader(frames[1], model: model), model: model)
            }
            decoded = try decodeBinary(model: model, header: header, x: frames[2], y: frames[3], shape: shape)
            decoded.producer = header.producer
            decoded.sequence = header.sequence
        } else {
            let header = try parseHeader(frames[1], model: model)
            let common = try commonFields(header, model: model)
            decoded = try decodeInline(model: model, header: header, shape: shape)
            (decoded.producer, decoded.sequence) = (common.producer, common.sequence)
        }
        return decoded
    }

    /// Frame 1 parsed as JSON, which must be an object.
    package func parseHeader(_ frame: UnsafeRawBufferPointer, model: String) throws(Rejection) -> JSON {
        let header: JSON
        do { header = try JSONParser.parse(frame) } catch {
            throw Rejection(.badJSON, model: model, "header: \(error)")
        }
        guard header.object != nil else { throw Rejection(.badJSON, model: model, "header is \(header.typeName), expected an object") }
        return header
    }

    /// The keys of every header: `v` (1 when given), `producer`, `seq`.
    private func commonFields(_ header: JSON, model: String) throws(Rejection) -> (producer: String?, sequence: Int?) {
        if let v = header["v"], v.int != 1 {
            throw Rejection(.badHeader, model: model, "unsupported protocol version \(v.serializedText); this daemon speaks v 1")
        }
        var producer: String?
        if let p = header["producer"] {
            guard let s = p.string else { throw Rejection(.badHeader, model: model, "\"producer\" must be a string") }
            producer = s
        }
        var sequence: Int?
        if let q = header["seq"] {
            guard let n = q.int, n >= 0 else { throw Rejection(.badHeader, model: model, "\"seq\" must be a non-negative integer") }
            sequence = n
        }
        return (producer, sequence)
    }

    /// A parsed binary header's fields, or the rejection that names what is wrong with it.
    package func binaryHeader(parsed header: JSON, model: String) throws(Rejection) -> BinaryHeader {
        let (producer, sequence) = try commonFields(header, model: model)
        guard let dtype = header["dtype"] else { throw Rejection(.badHeader, model: model, "binary message without \"dtype\"") }
        let width: Int
        switch dtype.string {
        case "float32", "<f4": width = 4
        case "float64", "<f8": width = 8
        default: throw Rejection(.badHeader, model: model, "dtype \(dtype.serializedText); expected \"float32\", \"<f4\", \"float64\" or \"<f8\"")
        }
        guard let rowsValue = header["rows"] else { throw Rejection(.badHeader, model: model, "binary message without \"rows\"") }
        guard let rows = rowsValue.int, rows > 0 else {
            throw Rejection(.badHeader, model: model, "\"rows\" = \(rowsValue.serializedText); expected an integer > 0")
        }
        guard rows <= maxRowsPerMessage else {
            throw Rejection(.tooLarge, model: model, "\(rows) rows exceed limits.max_rows_per_message = \(maxRowsPerMessage)")
        }
        return BinaryHeader(width: width, rows: rows, producer: producer, sequence: sequence)
    }

    /// Checks the X and Y frames against the header and the model's shape.
    private func decodeBinary(model: String, header: BinaryHeader, x: UnsafeRawBufferPointer, y: UnsafeRawBufferPointer,
                              shape: SampleShape) throws(Rejection) -> DecodedSamples {
        let rows = header.rows, width = header.width
        // Overflow-checked: `rows` comes from the wire and limits.max_rows_per_message has no upper bound.
        func bytes(_ columns: Int) -> Int {
            let (cells, o1) = rows.multipliedReportingOverflow(by: columns)
            let (total, o2) = cells.multipliedReportingOverflow(by: width)
            return o1 || o2 ? Int.max : total
        }
        let xBytes = bytes(shape.dictDim), yBytes = bytes(shape.sysDim)
        guard x.count == xBytes else {
            throw Rejection(.byteSize, model: model, "X frame has \(x.count) bytes; \(rows) rows × \(shape.dictDim) × \(width) = \(xBytes)")
        }
        guard y.count == yBytes else {
            throw Rejection(.byteSize, model: model, "Y frame has \(y.count) bytes; \(rows) rows × \(shape.sysDim) × \(width) = \(yBytes)")
        }
        let storage: DecodedSamples.Storage
        if width == 4 {
            // Not checked for NaN and ±Inf here: see ``DecodedSamples/isCheckedFinite``.
            storage = .float32(x: x, y: y)
        } else {
            try SampleDecoder.checkFinite64(x, model: model, frame: "X")
            try SampleDecoder.checkFinite64(y, model: model, frame: "Y")
            storage = .float64(x: x, y: y)
        }
        return DecodedSamples(model: model, rows: rows, shape: shape, storage: storage)
    }

    private static func checkFinite64(_ b: UnsafeRawBufferPointer, model: String, frame: String) throws(Rejection) {
        guard let index = FiniteCheck.firstNonFinite64(b) else { return }
        throw Rejection(.nonFinite, model: model, "\(frame) value \(index) is not a finite float32")
    }

    private func decodeInline(model: String, header: JSON, shape: SampleShape) throws(Rejection) -> DecodedSamples {
        guard let xValue = header["x"] else { throw Rejection(.badHeader, model: model, "inline message without \"x\"") }
        guard let yValue = header["y"] else { throw Rejection(.badHeader, model: model, "inline message without \"y\"") }
        let x = try Self.matrix(xValue, name: "x", columns: shape.dictDim, rowsHint: nil, model: model)
        let y = try Self.matrix(yValue, name: "y", columns: shape.sysDim, rowsHint: x.rows, model: model)
        guard x.rows == y.rows else {
            throw Rejection(.dimensions, model: model, "x has \(x.rows) rows but y has \(y.rows)")
        }
        guard x.rows <= maxRowsPerMessage else {
            throw Rejection(.tooLarge, model: model, "\(x.rows) rows exceed limits.max_rows_per_message = \(maxRowsPerMessage)")
        }
        return DecodedSamples(model: model, rows: x.rows, shape: shape, storage: .inline(x: x.values, y: y.values))
    }

    /// Accepts rows as an array of arrays, one row as a flat array, a flat column when `columns` is 1
    /// and `rowsHint` matches, or a bare number for a single one-column row.
    /// In float32 (ingest, a circuit's predict) or float64 (a bayesian model's predict: its posterior is Double).
    static func matrix<T: BinaryFloatingPoint>(_ v: JSON, name: String, columns: Int, rowsHint: Int?, model: String,
                                               as: T.Type = Float.self) throws(Rejection) -> (rows: Int, values: [T]) {
        func number(_ e: JSON, _ where_: String) throws(Rejection) -> T {
            guard let d = e.double else { throw Rejection(.badHeader, model: model, "\(name)\(where_) is \(e.typeName), expected a number") }
            let f = T(d)
            guard f.isFinite else { throw Rejection(.nonFinite, model: model, "\(name)\(where_) is not a finite \(T.self == Float.self ? "float32" : "float64")") }
            return f
        }
        switch v {
        case .number, .integer:
            guard columns == 1 else {
                throw Rejection(.dimensions, model: model, "\(name) is a single number but the model has \(columns) columns")
            }
            return (1, [try number(v, "")])
        case let .array(elements):
            guard !elements.isEmpty else { throw Rejection(.dimensions, model: model, "\(name) is empty") }
            if elements.allSatisfy({ $0.array != nil }) {
                var values: [T] = []
                values.reserveCapacity(elements.count * columns)
                for (r, row) in elements.enumerated() {
                    let cells = row.array!
                    guard cells.count == columns else {
                        throw Rejection(.dimensions, model: model, "\(name)[\(r)] has \(cells.count) values; expected \(columns)")
                    }
                    for (c, cell) in cells.enumerated() { values.append(try number(cell, "[\(r)][\(c)]")) }
                }
                return (elements.count, values)
            }
            var values: [T] = []
            values.reserveCapacity(elements.count)
            for (i, e) in elements.enumerated() { values.append(try number(e, "[\(i)]")) }
            if columns == 1, let rows = rowsHint, rows == values.count { return (rows, values) }
            guard values.count == columns else {
                throw Rejection(.dimensions, model: model, "\(name) has \(values.count) values; expected \(columns) (one row) or rows of \(columns)")
            }
            return (1, values)
        default:
            throw Rejection(.badHeader, model: model, "\(name) is \(v.typeName); expected rows of numbers")
        }
    }
}

extension JSON {
    /// The value as compact JSON text, for error messages.
    var serializedText: String { String(decoding: serialized.prefix(64), as: UTF8.self) }
}
