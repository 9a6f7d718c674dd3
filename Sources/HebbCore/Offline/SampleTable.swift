/// Rows of samples read from a CSV file: the first `dictDim` columns are features, the last
/// `sysDim` targets. A first line with any non-numeric cell is a header. Used by `hebbd fit` and
/// `hebbd feed`.
package struct SampleTable: Sendable, Equatable {
    /// Features, rows × dictDim, row-major.
    package var x: [Float]
    /// Targets, rows × sysDim, row-major.
    package var y: [Float]
    /// Number of rows.
    package var rows: Int
    /// The header's column names, if the file had one.
    package var header: [String]?

    /// Why a data file cannot be used: always with the file and, for content errors, the line.
    package enum ReadError: Error, Equatable, CustomStringConvertible {
        case unreadable(file: String, reason: String)
        case columnCount(file: String, line: Int, found: Int, expected: Int)
        case notANumber(file: String, line: Int, column: Int, cell: String)
        case nonFinite(file: String, line: Int, column: Int, cell: String)
        case empty(file: String)
        case npy(file: String, reason: String)

        package var description: String {
            switch self {
            case let .unreadable(file, reason): return "\(file): cannot read: \(reason)"
            case let .columnCount(file, line, found, expected):
                return "\(file):\(line): \(found) columns; expected \(expected) (dict_dim features then sys_dim targets)"
            case let .notANumber(file, line, column, cell): return "\(file):\(line): column \(column) is not a number: \"\(cell)\""
            case let .nonFinite(file, line, column, cell): return "\(file):\(line): column \(column) is not finite: \(cell)"
            case let .empty(file): return "\(file): no data rows"
            case let .npy(file, reason): return "\(file): not a usable .npy file: \(reason)"
            }
        }
    }

    /// Parses CSV text: comma-separated, blank lines and lines starting with `#` skipped, an optional header.
    package static func parseCSV(_ text: String, file: String, dictDim: Int, sysDim: Int) throws(ReadError) -> SampleTable {
        let columns = dictDim + sysDim
        var table = SampleTable(x: [], y: [], rows: 0, header: nil)
        var lineNumber = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {   // "\r\n" is one Character
            lineNumber += 1
            let trimmed = line.trimmingWhitespace
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let cells = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { String($0.trimmingWhitespace) }
            if table.rows == 0 && table.header == nil && cells.contains(where: { Double($0) == nil && !$0.lowercased().contains("nan") && !$0.lowercased().contains("inf") }) {
                guard cells.count == columns else { throw .columnCount(file: file, line: lineNumber, found: cells.count, expected: columns) }
                table.header = cells
                continue
            }
            guard cells.count == columns else { throw .columnCount(file: file, line: lineNumber, found: cells.count, expected: columns) }
            for (i, cell) in cells.enumerated() {
                guard let value = Double(cell) else { throw .notANumber(file: file, line: lineNumber, column: i + 1, cell: cell) }
                let f = Float(value)
                guard f.isFinite else { throw .nonFinite(file: file, line: lineNumber, column: i + 1, cell: cell) }
                if i < dictDim { table.x.append(f) } else { table.y.append(f) }
            }
            table.rows += 1
        }
        guard table.rows > 0 else { throw .empty(file: file) }
        return table
    }

    /// Rows `range`, as a new table.
    package func slice(_ range: Range<Int>, dictDim: Int, sysDim: Int) -> (x: ArraySlice<Float>, y: ArraySlice<Float>) {
        (x[(range.lowerBound * dictDim)..<(range.upperBound * dictDim)], y[(range.lowerBound * sysDim)..<(range.upperBound * sysDim)])
    }
}

extension SampleTable {
    /// Parses the bytes of a NumPy `.npy` file holding a 2-D, C-order, little-endian float32 or float64
    /// array of shape (rows, dict_dim + sys_dim); `path` names it in errors.
    package static func parseNPY(_ data: [UInt8], path: String, dictDim: Int, sysDim: Int) throws(ReadError) -> SampleTable {
        guard data.count >= 10, data[0] == 0x93, Array(data[1..<6]) == Array("NUMPY".utf8) else {
            throw .npy(file: path, reason: "missing the \\x93NUMPY magic")
        }
        let major = data[6]
        let headerStart = major == 1 ? 10 : 12
        guard data.count >= headerStart else { throw .npy(file: path, reason: "truncated header") }
        let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8
            : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        guard data.count >= headerStart + headerLength else { throw .npy(file: path, reason: "truncated header") }
        let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        let width: Int
        if header.contains("'<f4'") { width = 4 } else if header.contains("'<f8'") { width = 8 } else {
            throw .npy(file: path, reason: "dtype must be '<f4' or '<f8' (header: \(header.trimmingWhitespace))")
        }
        guard header.contains("'fortran_order': False") else { throw .npy(file: path, reason: "Fortran order is not supported; save np.ascontiguousarray(a)") }
        guard let open = header.firstRange(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw .npy(file: path, reason: "no shape in header")
        }
        let dims = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingWhitespace) }
        let columns = dictDim + sysDim
        guard dims.count == 2, dims[1] == columns else {
            throw .npy(file: path, reason: "shape \(dims) is not (rows, \(columns)) for dict_dim \(dictDim) + sys_dim \(sysDim)")
        }
        let rows = dims[0]
        let body = headerStart + headerLength
        guard data.count - body == rows * columns * width else {
            throw .npy(file: path, reason: "\(data.count - body) data bytes; expected \(rows * columns * width)")
        }
        var table = SampleTable(x: [], y: [], rows: rows, header: nil)
        table.x.reserveCapacity(rows * dictDim)
        table.y.reserveCapacity(rows * sysDim)
        var firstBad: (row: Int, column: Int, value: Float)?
        data.withUnsafeBytes { raw in
            for r in 0..<rows {
                for c in 0..<columns {
                    let offset = body + (r * columns + c) * width
                    let value = width == 4
                        ? Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
                        : Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))))
                    if !value.isFinite && firstBad == nil { firstBad = (r, c, value) }
                    if c < dictDim { table.x.append(value) } else { table.y.append(value) }
                }
            }
        }
        if let bad = firstBad {
            // "line" is the row number (1-based) for a .npy file.
            throw .nonFinite(file: path, line: bad.row + 1, column: bad.column + 1, cell: "\(bad.value)")
        }
        return table
    }
}

extension StringProtocol {
    /// The text without leading and trailing white space (newlines included), as Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` but without Foundation (the core does not import it).
    var trimmingWhitespace: SubSequence {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
