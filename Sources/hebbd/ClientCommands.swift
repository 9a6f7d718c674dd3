import ArgumentParser
import Foundation
import HebbCore
import HebbDaemon
import HebbianRegression
import ZeroMQ

/// Where `feed` takes its row shape from: a config's model, or explicit dimensions.
struct ShapeOptions: ParsableArguments {
    @Option(help: "A config file to read the model's dict_dim and sys_dim from.") var config: String?
    @Option(name: .customLong("dict-dim"), help: "Features per row (instead of --config).") var dictDim: Int?
    @Option(name: .customLong("sys-dim"), help: "Targets per row (instead of --config).") var sysDim: Int = 1

    func shape(model: String) -> SampleShape {
        if let config {
            let c = loadConfiguration(config)
            guard let m = c.models.first(where: { $0.name == model }) else { fail("\(config): no [[model]] named \"\(model)\"", code: 2) }
            return SampleShape(dictDim: m.circuit.dictDim, sysDim: m.circuit.sysDim)
        }
        guard let dictDim, dictDim > 0, sysDim > 0 else { fail("give --config or --dict-dim (and --sys-dim)", code: 2) }
        return SampleShape(dictDim: dictDim, sysDim: sysDim)
    }
}

struct Feed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream rows of a CSV or .npy file to a daemon's ingest socket (PUSH, binary float32 frames).",
        discussion: """
        Without --reliable the feed is a PUSH with no acknowledgement: its own queue is kept to ~\(Feed.queuedBytes >> 20) MiB, \
        it exits 1 when the daemon takes no message for \(Feed.sendTimeoutMilliseconds / 1000) s while it sends, and at its \
        end it gives the daemon as long again to take what is still queued. A message in flight when the daemon crashes is lost; --reliable is the feed for a stream that \
        matters.

        With --reliable the rows go to the daemon's endpoints.reliable ROUTER instead (DEALER; docs/PROTOCOL.md, "Reliable \
        ingest"), each message under --producer and a sequence number: the feed keeps every message until the daemon \
        acknowledges it (journaled and synced), resends after a daemon restart, and exits 0 only when every message is \
        acknowledged (1 when messages stay unacknowledged for --timeout seconds or are rejected as invalid). Each message \
        is learned exactly once within one run of the feed; a feed started again sends its rows again, as new messages.
        """
    )

    @Option(help: "The model the rows are for.") var model: String
    @Option(help: "CSV (features then targets per line) or .npy (2-D float32/float64, same column order).") var data: String
    @Option(help: "The daemon's ingest endpoint.") var endpoint: String = "tcp://127.0.0.1:5555"
    @OptionGroup var shapeOptions: ShapeOptions
    @Option(name: .customLong("batch-rows"), help: "Rows per message.") var batchRows: Int = 50
    @Option(help: "Messages per second (0: as fast as the socket takes them).") var rate: Double = 0
    @Option(help: "Passes over the data.") var passes: Int = 1
    @Option(help: "Producer name in the header (for gap counting); with --reliable, the durable producer name (A–Z a–z 0–9 _ . -).")
    var producer: String = "hebbd-feed"
    @Flag(help: "Acknowledged exactly-once ingest: --endpoint names the daemon's endpoints.reliable (e.g. tcp://127.0.0.1:5558).")
    var reliable = false
    @Option(name: .customLong("max-outbox"), help: "With --reliable: unacknowledged messages kept for resending; sending waits when full.")
    var maxOutbox: Int = 1000
    @Option(help: "With --reliable: seconds without an acknowledgement before the feed gives up (exit 1).") var timeout: Double = 60
    @Option(name: .customLong("resend-after"), help: "With --reliable: seconds of silence before reconnecting and resending.")
    var resendAfter: Double = 1
    @Option(help: "With --reliable: the first sequence number (default: microseconds since the epoch, above a previous run's).")
    var seq: UInt64?

    func run() throws {
        let shape = shapeOptions.shape(model: model)
        let table: SampleTable
        do {
            table = data.hasSuffix(".npy")
                ? try SampleTable.readNPY(path: data, dictDim: shape.dictDim, sysDim: shape.sysDim)
                : try SampleTable.readCSV(path: data, dictDim: shape.dictDim, sysDim: shape.sysDim)
        } catch { fail("\(error)", code: 2) }
        guard batchRows > 0, passes > 0 else { fail("--batch-rows and --passes must be > 0", code: 2) }
        if reliable { return try runReliable(table, shape) }
        // The sample frames are built once and shared with libzmq on every send (no copy, no allocation per
        // message): only the header differs between passes.
        let blocks = sampleBlocks(table, shape)
        // A PUSH has no acknowledgement: what is still in the feed's own queue when it closes is sent for at most the
        // linger, then dropped. The queue is kept to ~8 MiB (at least one message) so that what is left at the end
        // is a few messages the daemon takes at its learning pace, and the linger is the send timeout: a daemon that
        // takes no message for that long fails the feed while sending, and drops nothing silently at its end.
        let largest = blocks.map { $0.x.count + $0.y.count }.max() ?? 1
        let context = try Context()
        let push = try context.makeSocket(.push, lingerMilliseconds: Self.sendTimeoutMilliseconds)
        try push.set(.sendTimeout, Self.sendTimeoutMilliseconds)
        try push.set(.sendHighWaterMark, Int32(max(1, min(1000, Self.queuedBytes / max(largest, 1)))))
        try push.connect(endpoint)
        var seq = 0
        var sentRows = 0
        let name = Array(model.utf8)
        let start = Date()
        for _ in 0..<passes {
            for block in blocks {
                let parts: [[UInt8]] = [name, Self.sampleHeader(rows: block.rows, producer: producer, seq: seq), block.x, block.y]
                guard try push.send(parts: parts) else { fail("ingest at \(endpoint) did not take a message within \(Self.sendTimeoutMilliseconds / 1000) s; is the daemon running?") }
                seq += 1
                sentRows += block.rows
                if rate > 0 {
                    let due = start.addingTimeInterval(Double(seq) / rate)
                    let wait = due.timeIntervalSinceNow
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                }
            }
        }
        push.close()
        context.terminate()
        let seconds = Date().timeIntervalSince(start)
        print("sent \(seq) messages, \(sentRows) rows to \(endpoint) in \(String(format: "%.3f", seconds)) s")
    }

    /// How long the daemon may take a message, and finish taking the queue at the end, before the feed fails.
    static let sendTimeoutMilliseconds: Int32 = 10_000
    /// Bytes of sample frames the feed's own send queue holds (at least one message).
    static let queuedBytes = 8 << 20

    /// One pass over the table in messages of `batchRows` rows: each message's row count and its x and y frames
    /// (float32 bytes), built once for every pass and both kinds of feed.
    private func sampleBlocks(_ table: SampleTable, _ shape: SampleShape) -> [(rows: Int, x: [UInt8], y: [UInt8])] {
        stride(from: 0, to: table.rows, by: batchRows).map { first in
            let last = min(first + batchRows, table.rows)
            let (x, y) = table.slice(first..<last, dictDim: shape.dictDim, sysDim: shape.sysDim)
            return (last - first, x.withUnsafeBytes { Array($0) }, y.withUnsafeBytes { Array($0) })
        }
    }

    /// The messages of one pass for the reliable feed: the header without producer and seq (the reliable header
    /// frame carries them).
    private func reliableMessages(_ table: SampleTable, _ shape: SampleShape) -> [[[UInt8]]] {
        sampleBlocks(table, shape).map { block in [Array(model.utf8), Self.sampleHeader(rows: block.rows), block.x, block.y] }
    }

    /// A float32 sample message's header frame; the plain feed's names its producer and sequence number there, the
    /// reliable feed's carries them in its own header frame.
    private static func sampleHeader(rows: Int, producer: String? = nil, seq: Int? = nil) -> [UInt8] {
        var fields: [(String, JSON)] = [("v", .integer(1)), ("dtype", .string("float32")), ("rows", .integer(Int64(rows)))]
        if let producer, let seq { fields += [("producer", .string(producer)), ("seq", .integer(Int64(seq)))] }
        return JSON.object(fields).serialized
    }

    private func runReliable(_ table: SampleTable, _ shape: SampleShape) throws {
        guard ReliableOrigin.isValidProducer(producer) else { fail("--producer must be 1–64 characters of A–Z a–z 0–9 _ . -", code: 2) }
        guard maxOutbox > 0, timeout > 0, resendAfter > 0 else { fail("--max-outbox, --timeout and --resend-after must be > 0", code: 2) }
        let first = seq ?? UInt64(Date().timeIntervalSince1970 * 1_000_000)
        guard first >= 1, first <= ReliableProtocol.maxSequence / 2 else { fail("--seq must be in 1 … 2^62", code: 2) }
        let messages = reliableMessages(table, shape)
        let feed = try ReliableFeed(endpoint: endpoint, producer: producer, firstSequence: first, maxOutbox: maxOutbox,
                                    timeout: timeout, resendAfter: resendAfter)
        defer { feed.close() }
        let start = Date()
        var sent = 0
        do {
            for _ in 0..<passes {
                for frames in messages {
                    try feed.send(frames)
                    sent += 1
                    if rate > 0 {
                        let wait = start.addingTimeInterval(Double(sent) / rate).timeIntervalSinceNow
                        if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                    }
                }
            }
            try feed.flush()
        } catch let failure as ReliableFeed.Failure {
            fail("\(failure) (sent \(sent), acknowledged \(feed.acknowledged), duplicates \(feed.duplicates), resends \(feed.resends))")
        }
        let seconds = Date().timeIntervalSince(start)
        print("sent \(sent) messages, \(table.rows * passes) rows to \(endpoint) in \(String(format: "%.3f", seconds)) s; "
              + "all acknowledged (\(feed.acknowledged) acknowledged, \(feed.duplicates) duplicates, \(feed.resends) resends, "
              + "high-water mark \(feed.highWaterMark))")
    }
}

struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Subscribe to live coefficients: a refreshing table, or one JSON line per message with --json.",
        discussion: """
        The table shows, per model, a sparkline of the loss over the last updates (▁ the lowest … █ the highest of those, \
        both printed beside it) and the largest coefficients with their change since the model's previous message: while \
        a model learns the sparkline slopes down and the changes are large; once it has converged the sparkline is \
        trendless noise over a narrow range and the changes are near 0.
        """
    )

    @Option(help: "The daemon's publish endpoint.") var endpoint: String = "tcp://127.0.0.1:5556"
    @Option(help: "Only this model (default: all).") var model: String?
    @Flag(help: "One JSON line per message instead of a table.") var json = false
    @Option(help: "Largest coefficients to show per model.") var top: Int = 8
    @Option(help: "Updates in each model's loss sparkline.") var history: Int = 30
    @Option(help: "Exit after this many coefficient messages (0: never).") var count: Int = 0
    @Option(help: "Exit after this many seconds without a message (0: never).") var timeout: Double = 0

    func run() throws {
        let context = try Context()
        let sub = try context.makeSocket(.sub)
        try sub.subscribe("coef/" + (model.map { "\($0)/" } ?? ""))
        try sub.set(.receiveTimeout, 200)
        try sub.connect(endpoint)
        var views: [String: WatchedModel] = [:]
        var received = 0
        var lastMessage = Date()
        while count == 0 || received < count {
            let frames = try sub.receiveMultipart()
            if frames.isEmpty {
                if timeout > 0 && Date().timeIntervalSince(lastMessage) > timeout { break }
                continue
            }
            lastMessage = Date()
            guard frames.count >= 2, let body = try? JSONParser.parse(frames[1]), let name = body["model"]?.string else { continue }
            received += 1
            func floats(_ frame: [UInt8]) -> [Float] {
                frame.withUnsafeBytes { raw in
                    (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                }
            }
            // Binary format: frame 2 the coefficients; a model with uncertainty adds std, lower, upper (frames 3–5).
            let binary: [Float]? = frames.count >= 3 ? floats(frames[2]) : nil
            let binaryStd: [Float]? = frames.count == 6 ? floats(frames[3]) : nil
            if json {
                // In binary publish format the coefficients travel in frame 2; put them back into the line.
                var line = frames[1]
                if let binary, case var .object(members) = body, let shape = body["shape"]?.array?.compactMap(\.int), shape.count == 2 {
                    func rows(_ values: [Float]) -> JSON {
                        .array((0..<shape[0]).map { r in .array((0..<shape[1]).map { .number(Double(values[r * shape[1] + $0])) }) })
                    }
                    members.append(("coefficients", rows(binary)))
                    if frames.count == 6 {
                        // As the JSON format has them: std beside the coefficients, lower/upper inside "interval".
                        members.append(("std", rows(floats(frames[3]))))
                        if let i = members.firstIndex(where: { $0.0 == "interval" }), case var .object(interval) = members[i].1 {
                            interval += [("lower", rows(floats(frames[4]))), ("upper", rows(floats(frames[5])))]
                            members[i].1 = .object(interval)
                        }
                    }
                    line = JSON.object(members).serialized
                }
                print(String(decoding: line, as: UTF8.self))
                fflush(nil)
                continue
            }
            views[name, default: WatchedModel(history: max(1, history))].receive(body, binary: binary, binaryStd: binaryStd)
            render(views)
        }
        sub.close()
        context.terminate()
    }

    private func render(_ views: [String: WatchedModel]) {
        var out = "\u{1B}[H\u{1B}[2J" + "hebbd watch \(endpoint)   \(Timestamp.rfc3339(Timestamp.now()))\n\n"
        func number(_ v: JSON?) -> String {
            guard let d = v?.double else { return "-" }
            return String(format: "%.6g", d)
        }
        func integer(_ v: JSON?) -> String { v?.int.map { String($0) } ?? "-" }
        func right(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        out += "model".padding(toLength: 16, withPad: " ", startingAt: 0) + "      seq     step   samples          loss     preq. mse    nnz\n"
        for name in views.keys.sorted() {
            let m = views[name]!.body
            var line = name.padding(toLength: 16, withPad: " ", startingAt: 0)
            line += right(integer(m["seq"]), 9) + right(integer(m["step"]), 9) + right(integer(m["samples"]), 10)
            line += right(number(m["loss"]), 14) + right(number(m["prequential_mse"]), 14)
            line += right(integer(m["nnz"]), 7)
            out += line + "\n"
        }
        for name in views.keys.sorted() {
            let v = views[name]!
            out += "\n\(name)"
            if let note = v.note { out += "   (\(note))" }
            out += "\n  loss, last \(v.losses.count) of \(history) updates  "
            if let low = v.losses.min(), let high = v.losses.max() {
                out += WatchedModel.sparkline(v.losses) + String(format: "  %.4g … %.4g", low, high)
            } else {
                out += "(no update yet)"
            }
            out += "\n"
            let ranked = v.values.indices.filter { v.values[$0] != 0 }.sorted { abs(v.values[$0]) > abs(v.values[$1]) }.prefix(top)
            guard !ranked.isEmpty else { out += "  all coefficients are 0\n"; continue }
            let std = v.std.count == v.values.count ? v.std : nil
            out += "  largest coefficients" + (std == nil ? "      " : "       ± std     ") + (v.previousSeq.map { "change since seq \($0)" } ?? "") + "\n"
            for i in ranked {
                var line = String(format: "  w[%d,%d]", i / v.columns, i % v.columns).padding(toLength: 12, withPad: " ", startingAt: 0)
                line += String(format: "%+12.6f", v.values[i])
                // A model with uncertainty: its posterior (or refit) standard deviation; "?" while unknown (null).
                if let std { line += std[i].isFinite ? String(format: " ±%-10.4g", std[i]) : " ±?         " }
                if let previous = v.previous, previous.count == v.values.count {
                    let delta = v.values[i] - previous[i]
                    line += String(format: "   %+11.6f ", delta) + (delta > 0 ? "↑" : delta < 0 ? "↓" : "=")
                }
                out += line + "\n"
            }
        }
        print(out, terminator: "")
        fflush(nil)
    }
}

/// What `hebbd watch` keeps of one model: its latest message, the coefficients of the message before it,
/// and the losses of its recent updates (resends of a seq already seen are ignored; a seq going back starts over).
struct WatchedModel {
    /// Losses kept for the sparkline.
    let history: Int
    /// The latest message's JSON.
    private(set) var body: JSON = .null
    /// The latest coefficients, row-major, and the number of columns (`sys_dim`).
    private(set) var values: [Float] = []
    private(set) var columns = 1
    /// The latest std per coefficient (empty for a model without uncertainty; NaN where the message had null).
    private(set) var std: [Float] = []
    /// The coefficients and seq of the message before the latest one (nil until there is one).
    private(set) var previous: [Float]?
    private(set) var previousSeq: Int?
    /// Losses of the latest updates, oldest first.
    private(set) var losses: [Double] = []
    /// Something to say about the stream (a restart).
    private(set) var note: String?
    private var seq: Int?

    init(history: Int) { self.history = history }

    /// Takes one coefficient message (its JSON and, in binary format, frame 2's values and frame 3's std).
    mutating func receive(_ body: JSON, binary: [Float]?, binaryStd: [Float]? = nil) {
        let newSeq = body["seq"]?.int
        if let newSeq, let seq, newSeq == seq { return }           // a resend for a new subscriber: already seen
        if let newSeq, let seq, newSeq < seq {
            note = "seq went back from \(seq) to \(newSeq): restarted from an older state"
            losses.removeAll()
            previous = nil
            previousSeq = nil
        } else if !values.isEmpty {
            previous = values
            previousSeq = seq
        }
        seq = newSeq
        self.body = body
        columns = max(1, body["shape"]?.array?.last?.int ?? 1)
        values = binary ?? (body["coefficients"]?.array ?? []).flatMap { ($0.array ?? []).map { Float($0.double ?? 0) } }
        std = binaryStd ?? (body["std"]?.array ?? []).flatMap { ($0.array ?? []).map { Float($0.double ?? .nan) } }
        if let loss = body["loss"]?.double, loss.isFinite {
            losses.append(loss)
            if losses.count > history { losses.removeFirst(losses.count - history) }
        }
    }

    /// One block character per value, ▁ for the smallest of them to █ for the largest.
    static func sparkline(_ values: [Double]) -> String {
        let blocks = Array("▁▂▃▄▅▆▇█")
        guard let low = values.min(), let high = values.max() else { return "" }
        guard high > low else { return String(repeating: blocks[0], count: values.count) }
        return String(values.map { blocks[min(blocks.count - 1, Int((($0 - low) / (high - low)) * Double(blocks.count - 1) + 0.5))] })
    }
}

struct Control: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one control request and print the reply.",
        discussion: """
        REQUEST is a command name (status, models, snapshot, predict, checkpoint, reset, set, add, remove) or a whole JSON request.
        predict takes its rows with --x: a JSON row or array of rows, or - to read rows from stdin, one per line \
        (numbers separated by commas or spaces).
        The reply is printed indented when stdout is a terminal, as one line otherwise (for pipes and scripts).
        Examples: hebbd control status · hebbd control snapshot --model demo · hebbd control predict --model demo --x '[[0.1,0.2,0.3]]' \
        · hebbd control '{"cmd":"set","model":"demo","lr":0.05}'
        """
    )

    @Argument(help: "A command name or a JSON request.") var request: String
    @Option(help: "The model, for commands that take one.") var model: String?
    @Option(name: .customLong("x"), help: "predict: the rows, as JSON ([[…],…] or one row […]), or - to read rows from stdin, one per line.")
    var rows: String?
    @Option(help: "The daemon's control endpoint.") var endpoint: String = "tcp://127.0.0.1:5557"
    @Option(help: "Seconds to wait for the reply.") var timeout: Double = 10

    func run() throws {
        var body = request
        if !request.hasPrefix("{") {
            var members: [(String, JSON)] = [("cmd", .string(request))] + (model.map { [("model", .string($0))] } ?? [])
            if request == "predict" {
                guard let rows else { fail("predict needs its rows: --x '[[…],…]' (JSON) or --x - (rows on stdin)", code: 2) }
                members.append(("x", Self.predictRows(rows)))
            } else if rows != nil {
                fail("--x is for predict only", code: 2)
            }
            body = String(decoding: JSON.object(members).serialized, as: UTF8.self)
        } else if rows != nil {
            fail("--x goes with the command name predict, not with a JSON request (put \"x\" in the request)", code: 2)
        }
        let context = try Context()
        let req = try context.makeSocket(.req)
        try req.set(.receiveTimeout, Int32(timeout * 1000))
        try req.set(.sendTimeout, Int32(timeout * 1000))
        try req.connect(endpoint)
        guard try req.send(body) else { fail("could not send to \(endpoint)") }
        let reply = try req.receiveMultipart()
        req.close()
        context.terminate()
        guard let first = reply.first else { fail("no reply from \(endpoint) within \(timeout) s") }
        let parsed = try? JSONParser.parse(first)
        if isatty(STDOUT_FILENO) == 1, let parsed {
            print(IndentedJSON.render(parsed))
        } else {
            print(String(decoding: first, as: UTF8.self))
        }
        if parsed?["ok"]?.bool == false { throw ExitCode(1) }
    }

    /// `--x`: a JSON row or array of rows as given, or with `-` the rows of stdin (one per line, numbers separated
    /// by commas or white space; empty lines skipped). The daemon checks the shape and the values.
    static func predictRows(_ argument: String) -> JSON {
        if argument == "-" {
            var rows: [JSON] = []
            var line = 0
            while let text = readLine() {
                line += 1
                let fields = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
                if fields.isEmpty { continue }
                rows.append(.array(fields.map { field -> JSON in
                    guard let value = Double(field) else { fail("stdin line \(line): \"\(field)\" is not a number", code: 2) }
                    return .number(value)
                }))
            }
            guard !rows.isEmpty else { fail("--x -: no rows on stdin", code: 2) }
            return .array(rows)
        }
        let parsed: JSON
        do { parsed = try JSONParser.parse(Array(argument.utf8)) } catch { fail("--x: not JSON (\(error))", code: 2) }
        guard let elements = parsed.array, !elements.isEmpty else { fail("--x: expected a row [x₀,…] or rows [[…],…]", code: 2) }
        // One row given without the outer brackets.
        return elements.allSatisfy({ $0.array == nil }) ? .array([parsed]) : parsed
    }
}

/// A reply laid out for a person at a terminal: one member per line, indented by depth; arrays of numbers or
/// strings (coefficient rows, `x`) stay on one line so a matrix reads as one row per line.
enum IndentedJSON {
    static func render(_ value: JSON, depth: Int = 0) -> String {
        let inner = String(repeating: "  ", count: depth + 1), outer = String(repeating: "  ", count: depth)
        switch value {
        case let .object(members) where !members.isEmpty:
            let lines = members.map { key, member in
                inner + String(decoding: JSON.string(key).serialized, as: UTF8.self) + ": " + render(member, depth: depth + 1)
            }
            return "{\n" + lines.joined(separator: ",\n") + "\n" + outer + "}"
        case let .array(elements) where elements.contains(where: { $0.array != nil || $0.object != nil }):
            return "[\n" + elements.map { inner + render($0, depth: depth + 1) }.joined(separator: ",\n") + "\n" + outer + "]"
        default:
            return String(decoding: value.serialized, as: UTF8.self)
        }
    }
}

struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a CURVE key pair (z85): the daemon's server.key/server.pub, or a client's."
    )

    @Option(help: "Write NAME.key (secret, mode 0600) and NAME.pub into this directory instead of printing.") var out: String?
    @Option(help: "File name stem.") var name: String = "server"

    func run() throws {
        let pair = try Curve.generateKeyPair()
        guard let out else {
            print("public: \(pair.publicKey)\nsecret: \(pair.secretKey)")
            return
        }
        let fm = FileManager.default
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        let secretPath = "\(out)/\(name).key", publicPath = "\(out)/\(name).pub"
        guard fm.createFile(atPath: secretPath, contents: Data((pair.secretKey + "\n").utf8), attributes: [.posixPermissions: 0o600]),
              fm.createFile(atPath: publicPath, contents: Data((pair.publicKey + "\n").utf8), attributes: [.posixPermissions: 0o644])
        else { fail("cannot write keys into \(out)") }
        print("wrote \(secretPath) and \(publicPath)")
    }
}

