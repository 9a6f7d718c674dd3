import Foundation
import HebbCore
import ZeroMQ

/// The producer side of the reliable ingest protocol (docs/PROTOCOL.md, "Reliable ingest") for `hebbd feed
/// --reliable`: the same rules as the Python client's `ReliableProducer`. Messages stay in a bounded outbox until the
/// daemon's high-water mark covers them; silence while messages are pending means the daemon may have restarted (what
/// was in flight on the old connection is gone), so the connection is made anew and the whole outbox resent; a
/// refusal (journal full, or out of order after a restart) resends the outbox shortly after.
final class ReliableFeed {
    /// Why a reliable feed ends without every message acknowledged.
    enum Failure: Error, CustomStringConvertible {
        /// Nothing was acknowledged for `seconds`: the messages still in the outbox (first and last sequence number).
        case notAcknowledged(pending: Int, first: UInt64, last: UInt64, seconds: Double)
        /// The daemon rejected messages as invalid (never learned): how many, and the first one's number and reason.
        case rejected(count: Int, sequence: UInt64, reason: String)
        /// The daemon could not read a request.
        case malformed(String)

        var description: String {
            switch self {
            case let .notAcknowledged(pending, first, last, seconds):
                "\(pending) message(s) not acknowledged after \(String(format: "%.0f", seconds)) s without progress (seq \(first)…\(last)); is the daemon running with endpoints.reliable?"
            case let .rejected(count, sequence, reason): "\(count) message(s) rejected by the daemon (first: seq \(sequence): \(reason))"
            case let .malformed(reason): "the daemon could not read a request: \(reason)"
            }
        }
    }

    private let context: Context
    private let endpoint: String
    private let producer: String
    private let maxOutbox: Int
    private let timeout: Double
    private let resendAfter: Double
    private var socket: Socket
    /// Unacknowledged messages in sequence order: (sequence number, sample frames).
    private var outbox: [(sequence: UInt64, frames: [[UInt8]])] = []
    private var nextSequence: UInt64
    /// The last reply that was progress, and the last time the whole outbox was resent after silence.
    private var lastProgress = Date()
    private var lastResend = Date()
    private var refusedAt: Date?
    private var rejected: [(sequence: UInt64, reason: String)] = []
    private(set) var acknowledged = 0
    private(set) var duplicates = 0
    private(set) var resends = 0
    private(set) var highWaterMark: UInt64 = 0

    init(endpoint: String, producer: String, firstSequence: UInt64, maxOutbox: Int, timeout: Double, resendAfter: Double) throws {
        context = try Context()
        self.endpoint = endpoint
        self.producer = producer
        nextSequence = firstSequence
        self.maxOutbox = maxOutbox
        self.timeout = timeout
        self.resendAfter = resendAfter
        socket = try Self.connect(context, endpoint)
    }

    private static func connect(_ context: Context, _ endpoint: String) throws -> Socket {
        let socket = try context.makeSocket(.dealer, lingerMilliseconds: 0)
        try socket.set(.sendHighWaterMark, Int32(0))
        try socket.connect(endpoint)
        return socket
    }

    /// Queues and sends one message (its sample frames); waits while the outbox is full.
    func send(_ frames: [[UInt8]]) throws {
        while outbox.count >= maxOutbox { try pump(wait: 0.1) }
        let sequence = nextSequence
        nextSequence += 1
        outbox.append((sequence, frames))
        try transmit(sequence, frames)
        try pump(wait: 0)
    }

    /// Returns once every message is acknowledged; throws what was not (or what the daemon rejected).
    func flush() throws {
        while !outbox.isEmpty { try pump(wait: 0.05) }
        if let first = rejected.first { throw Failure.rejected(count: rejected.count, sequence: first.sequence, reason: first.reason) }
    }

    func close() {
        socket.close()
        context.terminate()
    }

    private func transmit(_ sequence: UInt64, _ frames: [[UInt8]]) throws {
        let header = ReliableProtocol.requestHeader(ReliableOrigin(producer: producer, sequence: sequence))
        _ = try socket.send(parts: [header] + frames, dontWait: true)
    }

    private func resendAll() throws {
        for (sequence, frames) in outbox { try transmit(sequence, frames) }
        resends += outbox.count
    }

    /// Reads replies (waiting up to `wait` seconds for the first), resends after silence or a refusal, and gives up
    /// after `timeout` seconds without progress.
    private func pump(wait: Double) throws {
        let poller = Poller()
        let index = poller.add(socket)
        var progressed = false
        if try poller.poll(timeoutMilliseconds: Int(wait * 1000)) > 0, poller.isReadable(index) {
            while let frames = try? socket.receiveMultipart(dontWait: true), !frames.isEmpty {
                guard let reply = ReliableReply(decoding: frames[frames.count - 1]) else { continue }
                progressed = try handle(reply) || progressed
            }
        }
        let now = Date()
        if progressed { lastProgress = now }
        if let refusedAt, now.timeIntervalSince(refusedAt) > 0.2 {
            self.refusedAt = nil
            try resendAll()
        } else if !progressed, !outbox.isEmpty, now.timeIntervalSince(max(lastProgress, lastResend)) > resendAfter {
            // Silence: the daemon may have restarted and lost what was in flight. A new connection, then everything again.
            socket.close()
            socket = try Self.connect(context, endpoint)
            lastResend = now
            try resendAll()
        }
        if now.timeIntervalSince(lastProgress) > timeout, let first = outbox.first, let last = outbox.last {
            throw Failure.notAcknowledged(pending: outbox.count, first: first.sequence, last: last.sequence, seconds: timeout)
        }
    }

    /// Applies one reply; true when it was progress (anything but a refusal).
    private func handle(_ reply: ReliableReply) throws -> Bool {
        switch reply.status {
        case .malformed:
            throw Failure.malformed(reply.reason)
        case .rejected:
            outbox.removeAll { $0.sequence == reply.sequence }
            rejected.append((reply.sequence, reply.reason))
        case .refused:
            // Journal full, or out of order: resend from the oldest shortly. Numbers above mark + 1 (a feed restarted
            // with new numbers the daemon's mark does not reach) are renumbered to follow the mark.
            if let first = outbox.first, first.sequence > reply.highWaterMark + 1 {
                for i in outbox.indices { outbox[i].sequence = reply.highWaterMark + 1 + UInt64(i) }
                nextSequence = reply.highWaterMark + 1 + UInt64(outbox.count)
            }
            if refusedAt == nil { refusedAt = Date() }
            return false
        case .duplicate:
            duplicates += 1
        case .acknowledged:
            acknowledged += 1
        }
        highWaterMark = max(highWaterMark, reply.highWaterMark)
        let covered = outbox.prefix { $0.sequence <= reply.highWaterMark }.count
        outbox.removeFirst(covered)
        return true
    }
}
