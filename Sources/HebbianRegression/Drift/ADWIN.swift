#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// ADWIN (adaptive windowing), exactly River's `river.drift.ADWIN` (River 0.26.1, whose arithmetic lives in
/// River's Rust `AdaptiveWindowing`).
///
/// It keeps a window of the recent values, compressed into rows of buckets: row i holds up to
/// `maxBuckets` summaries (sum and variance) of 2ⁱ consecutive values each, so memory grows with the
/// logarithm of the window. Every `clock` values, once the window is longer than `gracePeriod`, it tries
/// every split of the window between buckets into an older part W₀ and a newer part W₁ (each at least
/// `minWindowLength` long) and alarms when their means differ by more than the Hoeffding/Bernstein bound
///
///     ε = √(2·m·σ²·δ′) + ⅔·δ′·m,   m = 1/(n₀ − l + 1) + 1/(n₁ − l + 1),   δ′ = ln(2·ln(n) / delta)
///
/// (σ² the window's variance, n its length, l = `minWindowLength`). On an alarm it drops the oldest buckets
/// until no split differs, as River does; River 0.26 then starts a new, empty window on the next value,
/// and so does this port.
///
/// The order of every floating-point operation is River's, so the alarms are River's to the step.
public struct ADWIN: DriftDetector {
    /// River's parameters, with River's names as coding keys and River's defaults.
    public struct Parameters: Sendable, Equatable, Codable {
        /// Significance δ of the test (`delta`, default 0.002): smaller means fewer, surer alarms.
        public var delta: Double
        /// Test for change every this many values (`clock`, default 32).
        public var clock: Int
        /// Buckets kept per row before the two oldest merge into the next row (`max_buckets`, default 5).
        public var maxBuckets: Int
        /// Shortest sub-window a split may leave on either side (`min_window_length`, default 5).
        public var minWindowLength: Int
        /// No test until the window holds more than this many values (`grace_period`, default 10).
        public var gracePeriod: Int

        /// River's defaults unless given.
        public init(delta: Double = 0.002, clock: Int = 32, maxBuckets: Int = 5, minWindowLength: Int = 5, gracePeriod: Int = 10) {
            self.delta = delta
            self.clock = clock
            self.maxBuckets = maxBuckets
            self.minWindowLength = minWindowLength
            self.gracePeriod = gracePeriod
        }

        /// River's parameter names; stable, they are config keys and checkpoint keys.
        public enum CodingKeys: String, CodingKey, CaseIterable {
            case delta
            case clock
            case maxBuckets = "max_buckets"
            case minWindowLength = "min_window_length"
            case gracePeriod = "grace_period"
        }

        /// Missing keys take River's defaults.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let defaults = Parameters()
            delta = try container.decodeIfPresent(Double.self, forKey: .delta) ?? defaults.delta
            clock = try container.decodeIfPresent(Int.self, forKey: .clock) ?? defaults.clock
            maxBuckets = try container.decodeIfPresent(Int.self, forKey: .maxBuckets) ?? defaults.maxBuckets
            minWindowLength = try container.decodeIfPresent(Int.self, forKey: .minWindowLength) ?? defaults.minWindowLength
            gracePeriod = try container.decodeIfPresent(Int.self, forKey: .gracePeriod) ?? defaults.gracePeriod
        }

        /// Checks every value; the error names the parameter. River checks none; these limits are where
        /// River's Rust code would panic (clock 0: remainder by zero; max_buckets 0: a bucket overflows) or
        /// the bound stops meaning anything (delta outside (0, 1), sub-windows shorter than one value).
        /// River stores clock, min_window_length and grace_period as 32-bit integers, hence the upper limits.
        public func validate() throws(DriftConfigurationError) {
            func require(_ ok: Bool, _ name: CodingKeys, _ value: CustomStringConvertible, _ expected: String) throws(DriftConfigurationError) {
                if !ok { throw .invalidParameter(detector: .adwin, name: name.stringValue, value: value.description, expected: expected) }
            }
            let int32 = Int(Int32.max)
            try require(delta.isFinite && delta > 0 && delta < 1, .delta, delta, "a number in (0, 1)")
            try require((1...int32).contains(clock), .clock, clock, "an integer in 1…\(int32)")
            try require((1...int32).contains(maxBuckets), .maxBuckets, maxBuckets, "an integer in 1…\(int32)")
            try require((1...int32).contains(minWindowLength), .minWindowLength, minWindowLength, "an integer in 1…\(int32)")
            try require((0...int32).contains(gracePeriod), .gracePeriod, gracePeriod, "an integer in 0…\(int32)")
        }
    }

    /// One row of the compressed window: summaries of 2^row values each, oldest first.
    struct BucketRow: Sendable, Equatable, Codable {
        /// Sum of each summary's values.
        var totals: [Double] = []
        /// Sum of squared deviations from its own mean, per summary.
        var variances: [Double] = []

        var count: Int { totals.count }

        mutating func append(total: Double, variance: Double) {
            totals.append(total)
            variances.append(variance)
        }

        mutating func removeOldest(_ n: Int) {
            totals.removeFirst(n)
            variances.removeFirst(n)
        }

        init() {}

        enum CodingKeys: String, CodingKey {
            case totals
            case variances
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            totals = try container.decodeDetectorValues(forKey: .totals)
            variances = try container.decodeDetectorValues(forKey: .variances)
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeDetectorValues(totals, forKey: .totals)
            try container.encodeDetectorValues(variances, forKey: .variances)
        }
    }

    /// The parameters this detector runs with.
    public let parameters: Parameters
    /// Number of values in the window (River's `width`; a Double, as in River).
    public private(set) var width: Double = 0
    /// Sum of the values in the window (River's `total`).
    public private(set) var total: Double = 0
    /// Sum of squared deviations from the window's mean (River's `variance`; divide by `width` for the variance).
    public private(set) var variance: Double = 0
    /// Values fed since the last restart, counted for `clock` (River's `tick`).
    public private(set) var tick: Int = 0
    /// Alarms since the last restart (River's `n_detections`; at most 1, as River restarts after each).
    public private(set) var detections: Int = 0
    /// Row i holds buckets of 2ⁱ values; row 0 always exists.
    private(set) var rows: [BucketRow] = [BucketRow()]
    /// Whether the last value raised the alarm (River's `drift_detected`); saved, because it means the next
    /// value restarts the detector.
    public private(set) var driftDetected: Bool = false

    /// The window's mean (River's `estimation`; 0 for an empty window).
    public var estimation: Double { width == 0 ? 0 : total / width }

    /// A detector with River's default parameters.
    public init() {
        parameters = Parameters()
    }

    /// A detector with `parameters`, validated.
    public init(_ parameters: Parameters) throws(DriftConfigurationError) {
        try parameters.validate()
        self.parameters = parameters
    }

    private init(validated parameters: Parameters) {
        self.parameters = parameters
    }

    public mutating func update(_ x: Double) -> Bool {
        if driftDetected { reset() }
        guard x.isFinite else { return false }
        insert(x)
        driftDetected = detectChange()
        return driftDetected
    }

    public mutating func reset() {
        self = ADWIN(validated: parameters)
    }

    /// Size 2^row of the buckets in `row`, as a Double (River computes it the same way).
    private static func bucketSize(_ row: Int) -> Double { Double(UInt64(1) << UInt64(row)) }

    /// Adds x as a new bucket of one value and updates the window's sums (River's `insert_element`).
    private mutating func insert(_ x: Double) {
        rows[0].append(total: x, variance: 0)
        width += 1.0
        var incrementalVariance = 0.0
        if width > 1.0 {
            let deviation = x - total / (width - 1.0)
            incrementalVariance = (width - 1.0) * deviation * deviation / width
        }
        variance += incrementalVariance
        total += x
        compressRows()
    }

    /// Merges the two oldest buckets of every overfull row into the next row (River's `compress_buckets`).
    private mutating func compressRows() {
        var row = 0
        while rows[row].count == parameters.maxBuckets + 1 {
            let size = ADWIN.bucketSize(row)
            let (total0, total1) = (rows[row].totals[0], rows[row].totals[1])
            let (variance0, variance1) = (rows[row].variances[0], rows[row].variances[1])
            let mean0 = total0 / size
            let mean1 = total1 / size
            let mergedTotal = total0 + total1
            let between = size * 0.5 * (mean0 - mean1) * (mean0 - mean1)
            let mergedVariance = variance0 + variance1 + between
            if row + 1 >= rows.count { rows.append(BucketRow()) }
            rows[row + 1].append(total: mergedTotal, variance: mergedVariance)
            rows[row].removeOldest(2)
            if rows[row + 1].count <= parameters.maxBuckets { break }
            row += 1
        }
    }

    /// Drops the oldest bucket from the window (River's `delete_element`).
    private mutating func deleteOldest() {
        // With max_buckets = 1 a merge can empty a row, so after the top row is emptied and dropped the new
        // top row may be empty too. River 0.26.1 then panics (its Rust code removes from the empty row and
        // Python sees a PanicException); dropping the empty rows first deletes the oldest bucket that exists.
        // Empty rows hold no values, so nothing River computes without panicking changes.
        while rows.count > 1 && rows[rows.count - 1].count == 0 { rows.removeLast() }
        let last = rows.count - 1
        guard rows[last].count > 0 else { return }
        let size = ADWIN.bucketSize(last)
        let bucketTotal = rows[last].totals[0]
        let bucketVariance = rows[last].variances[0]
        let bucketMean = bucketTotal / size
        width -= size
        total -= bucketTotal
        let windowMean = total / width
        let removed = bucketVariance + size * width * (bucketMean - windowMean) * (bucketMean - windowMean) / (size + width)
        variance -= removed
        rows[last].removeOldest(1)
        if rows[last].count == 0 { rows.removeLast() }
    }

    /// Every `clock` values: tests every split, shrinking the window while one differs (River's `detect_change`).
    private mutating func detectChange() -> Bool {
        var changeDetected = false
        tick += 1
        if tick % parameters.clock == 0 && width > Double(parameters.gracePeriod) {
            let minLength = Double(parameters.minWindowLength)
            var reduceWidth = true
            while reduceWidth {
                reduceWidth = false
                var exit = false
                var n0 = 0.0, n1 = width, u0 = 0.0, u1 = total
                splits: for row in stride(from: rows.count - 1, through: 0, by: -1) {
                    if exit { break }
                    let size = ADWIN.bucketSize(row)
                    let bucketCount = rows[row].count
                    for k in 0..<bucketCount {
                        n0 += size
                        n1 -= size
                        let bucketTotal = rows[row].totals[k]
                        u0 += bucketTotal
                        u1 -= bucketTotal
                        // The newest bucket: W₁ would be empty.
                        if row == 0 && k == bucketCount - 1 {
                            exit = true
                            break
                        }
                        let meanDifference = (u0 / n0) - (u1 / n1)
                        if n1 >= minLength && n0 >= minLength && cutDiffers(n0, n1, meanDifference) {
                            reduceWidth = true
                            changeDetected = true
                            if width > 0 {
                                deleteOldest()
                                break splits
                            }
                        }
                    }
                }
            }
        }
        if changeDetected { detections += 1 }
        return changeDetected
    }

    /// Whether the means of W₀ (n0 values) and W₁ (n1 values) differ by more than ε (River's `evaluate_cut`).
    private func cutDiffers(_ n0: Double, _ n1: Double, _ meanDifference: Double) -> Bool {
        let minLength = Double(parameters.minWindowLength)
        let deltaPrime = log(2.0 * log(width) / parameters.delta)
        let m = 1.0 / (n0 - minLength + 1.0) + 1.0 / (n1 - minLength + 1.0)
        let epsilon = (2.0 * m * (variance / width) * deltaPrime).squareRoot() + 2.0 / 3.0 * deltaPrime * m
        return abs(meanDifference) > epsilon
    }

    /// Stable checkpoint keys.
    enum CodingKeys: String, CodingKey {
        case parameters
        case width
        case total
        case variance
        case tick
        case detections
        case rows
        case driftDetected = "drift_detected"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let parameters = try container.decode(Parameters.self, forKey: .parameters)
        try parameters.validate()
        self.parameters = parameters
        width = try container.decodeDetectorValue(forKey: .width)
        total = try container.decodeDetectorValue(forKey: .total)
        variance = try container.decodeDetectorValue(forKey: .variance)
        tick = try container.decode(Int.self, forKey: .tick)
        detections = try container.decode(Int.self, forKey: .detections)
        rows = try container.decode([BucketRow].self, forKey: .rows)
        driftDetected = try container.decode(Bool.self, forKey: .driftDetected)
        try checkConsistency()
    }

    /// A saved window must be one this code could have built: row 0 present, rows within capacity,
    /// and `width` equal to the values the buckets hold.
    private func checkConsistency() throws(DriftConfigurationError) {
        func fail(_ why: String) throws(DriftConfigurationError) { throw .inconsistentState(detector: .adwin, why: why) }
        if rows.isEmpty { try fail("no bucket rows") }
        if rows.count > 62 { try fail("\(rows.count) bucket rows (at most 62)") }
        var values = 0.0
        for (index, row) in rows.enumerated() {
            if row.totals.count != row.variances.count {
                try fail("row \(index) has \(row.totals.count) totals and \(row.variances.count) variances")
            }
            if row.count > parameters.maxBuckets { try fail("row \(index) holds \(row.count) buckets, max_buckets is \(parameters.maxBuckets)") }
            values += Double(row.count) * ADWIN.bucketSize(index)
        }
        if values != width { try fail("width \(width) but the buckets hold \(values) values") }
        if tick < 0 || detections < 0 { try fail("negative tick \(tick) or detections \(detections)") }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(parameters, forKey: .parameters)
        try container.encodeDetectorValue(width, forKey: .width)
        try container.encodeDetectorValue(total, forKey: .total)
        try container.encodeDetectorValue(variance, forKey: .variance)
        try container.encode(tick, forKey: .tick)
        try container.encode(detections, forKey: .detections)
        try container.encode(rows, forKey: .rows)
        try container.encode(driftDetected, forKey: .driftDetected)
    }
}
