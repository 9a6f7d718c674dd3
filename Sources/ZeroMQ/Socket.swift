import CZeroMQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The ZeroMQ socket patterns supported by this wrapper.
public enum SocketType: Int32, Sendable, CaseIterable {
    /// Exclusive pair (`ZMQ_PAIR`), typically for inproc thread signalling.
    case pair = 0
    /// Publisher (`ZMQ_PUB`): sends to all matching subscribers, drops when full.
    case pub = 1
    /// Subscriber (`ZMQ_SUB`): receives messages matching its subscriptions.
    case sub = 2
    /// Extended publisher (`ZMQ_XPUB`): also receives subscription messages.
    case xpub = 9
    /// Extended subscriber (`ZMQ_XSUB`): subscribes by sending messages.
    case xsub = 10
    /// Pipeline sender (`ZMQ_PUSH`): round-robins to connected pullers.
    case push = 8
    /// Pipeline receiver (`ZMQ_PULL`): fair-queues from pushers.
    case pull = 7
    /// Request (`ZMQ_REQ`): strict send/receive alternation.
    case req = 3
    /// Reply (`ZMQ_REP`): strict receive/send alternation.
    case rep = 4
    /// Asynchronous request (`ZMQ_DEALER`).
    case dealer = 5
    /// Asynchronous reply with routing ids (`ZMQ_ROUTER`).
    case router = 6
}

/// Flags for a single-frame send.
public struct SendFlags: OptionSet, Sendable {
    /// The raw `zmq_send` flags.
    public let rawValue: Int32
    /// Creates flags from raw `zmq_send` flags.
    public init(rawValue: Int32) { self.rawValue = rawValue }
    /// More frames of the same message follow (`ZMQ_SNDMORE`).
    public static let more = SendFlags(rawValue: ZMQ_SNDMORE)
    /// Return `false` instead of blocking when the message cannot be queued
    /// now (`ZMQ_DONTWAIT`), so callers can count drops. PUB/XPUB and ROUTER
    /// (without `routerMandatory`) never block: they drop silently at the
    /// high-water mark and still report `true`.
    public static let dontWait = SendFlags(rawValue: ZMQ_DONTWAIT)
}

/// A libzmq socket.
///
/// Not `Sendable`: libzmq sockets must not be used from two threads at once,
/// so the compiler keeps a socket confined to one thread. `close()` is
/// explicit and idempotent and also happens on `deinit`; every socket is
/// created with a finite linger so closing never hangs. Calls on a closed
/// socket throw `ENOTSOCK`.
///
/// Blocking calls (`send` without `.dontWait`, `receive`) wait at most
/// `sendTimeout` / `receiveTimeout` (infinite by default) and are interrupted
/// by `Context.shutdown()`, throwing `isContextTerminated`.
public final class Socket {
    /// The raw `void *` socket, `nil` once closed.
    private(set) var handle: UnsafeMutableRawPointer?
    /// The socket's pattern.
    public let type: SocketType
    /// Keeps the context alive (and its `deinit` from terminating it) while
    /// this socket exists.
    public let context: Context

    init(handle: UnsafeMutableRawPointer, type: SocketType, context: Context) {
        self.handle = handle
        self.type = type
        self.context = context
    }

    deinit { close() }

    /// Closes the socket (`zmq_close`); unsent messages are kept for at most
    /// the linger period. Idempotent.
    public func close() {
        guard let handle else { return }
        zmq_close(handle)
        self.handle = nil
    }

    /// Whether `close()` has been called.
    public var isClosed: Bool { handle == nil }

    /// The open handle, or `ENOTSOCK` (what libzmq reports for closed sockets).
    func open(_ function: String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZeroMQError.call(function: function, errno: ENOTSOCK) }
        return handle
    }

    // MARK: Endpoints

    /// Binds to an endpoint such as `tcp://127.0.0.1:*` (any free port; read
    /// the chosen one from `lastEndpoint`), `tcp://*:5555` or `inproc://name`.
    public func bind(_ endpoint: String) throws {
        try check(zmq_bind(open("zmq_bind"), endpoint), "zmq_bind")
    }

    /// Connects to an endpoint. Succeeds before the peer exists: libzmq
    /// connects (and reconnects) in the background.
    public func connect(_ endpoint: String) throws {
        try check(zmq_connect(open("zmq_connect"), endpoint), "zmq_connect")
    }

    /// Stops listening on an endpoint previously bound. For wildcard binds
    /// pass the resolved endpoint (`lastEndpoint`), not the `*` form.
    public func unbind(_ endpoint: String) throws {
        try check(zmq_unbind(open("zmq_unbind"), endpoint), "zmq_unbind")
    }

    /// Disconnects from an endpoint previously connected.
    public func disconnect(_ endpoint: String) throws {
        try check(zmq_disconnect(open("zmq_disconnect"), endpoint), "zmq_disconnect")
    }

    private func check(_ rc: Int32, _ function: String) throws {
        if rc != 0 { throw ZeroMQError.lastCall(function) }
    }

    // MARK: Sending

    /// Sends one frame, copying `buffer` into a libzmq message.
    ///
    /// - Returns: `false` if the message could not be queued without blocking
    ///   (`.dontWait`) or within `sendTimeout` (`EAGAIN`); the message is then
    ///   dropped. Other failures throw.
    @discardableResult
    public func send(_ buffer: UnsafeRawBufferPointer, flags: SendFlags = []) throws -> Bool {
        let handle = try open("zmq_send")
        while true {
            if zmq_send(handle, buffer.baseAddress, buffer.count, flags.rawValue) >= 0 { return true }
            switch zmq_errno() {
            case EINTR: continue  // a signal, not a failure: retry
            case EAGAIN: return false
            case let errno: throw ZeroMQError.call(function: "zmq_send", errno: errno)
            }
        }
    }

    /// Sends one frame from any contiguous bytes (`[UInt8]`, `Data`, slices…).
    /// See `send(_:flags:)` for the result.
    @discardableResult
    public func send(_ bytes: some ContiguousBytes, flags: SendFlags = []) throws -> Bool {
        try bytes.withUnsafeBytes { try send($0, flags: flags) }
    }

    /// Sends one frame holding the UTF-8 bytes of `string` (no terminating NUL).
    /// See `send(_:flags:)` for the result.
    @discardableResult
    public func send(_ string: String, flags: SendFlags = []) throws -> Bool {
        if let sent = try string.utf8.withContiguousStorageIfAvailable({ try send(UnsafeRawBufferPointer($0), flags: flags) }) {
            return sent
        }
        return try send(Array(string.utf8), flags: flags)
    }

    /// Sends one frame of `bytes` without copying it: the libzmq message points into the array's own storage, which
    /// stays alive (retained) until libzmq has finished with it — after the last subscriber's copy was written to its
    /// socket, or at once when the message is dropped. Frames below ``sharingThreshold`` bytes are copied, as
    /// ``send(_:flags:)-(UnsafeRawBufferPointer,_)`` does: for them a copy costs less than the retained owner.
    ///
    /// Why: a coefficient message is formatted straight into its array (`JSONWriter`), and without this libzmq copies
    /// every frame once more on send (a 4096×64 JSON message is megabytes).
    /// - Returns: as ``send(_:flags:)-(UnsafeRawBufferPointer,_)``.
    @discardableResult
    public func send(sharing bytes: [UInt8], flags: SendFlags = []) throws -> Bool {
        guard bytes.count >= Self.sharingThreshold else { return try send(bytes, flags: flags) }
        let handle = try open("zmq_msg_send")
        let owner = Unmanaged.passRetained(SharedFrame(bytes))
        // A native array's storage does not move while the array is alive and unmutated; `owner` keeps it both.
        let base = owner.takeUnretainedValue().bytes.withUnsafeBufferPointer { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
        var message = zmq_msg_t()
        guard zmq_msg_init_data(&message, base, bytes.count, { _, hint in
            Unmanaged<SharedFrame>.fromOpaque(hint!).release()
        }, owner.toOpaque()) == 0 else {
            owner.release()
            throw ZeroMQError.lastCall("zmq_msg_init_data")
        }
        while true {
            if zmq_msg_send(&message, handle, flags.rawValue) >= 0 { return true }
            let errno = zmq_errno()
            if errno == EINTR { continue }  // a signal, not a failure: retry
            zmq_msg_close(&message)  // not sent: libzmq releases the owner now
            if errno == EAGAIN { return false }
            throw ZeroMQError.call(function: "zmq_msg_send", errno: errno)
        }
    }

    /// Frames of at least this many bytes are sent without a copy by ``send(sharing:flags:)``.
    public static let sharingThreshold = 4096

    /// Sends byte-array `parts` as one multipart message, large frames without a copy (``send(sharing:flags:)``);
    /// otherwise as ``send(parts:dontWait:)-(Parts,_)``.
    @discardableResult
    public func send(parts: [[UInt8]], dontWait: Bool = false) throws -> Bool {
        guard !parts.isEmpty else { throw ZeroMQError.invalidArgument("a message needs at least one frame") }
        for (index, part) in parts.enumerated() {
            var flags: SendFlags = index < parts.count - 1 ? .more : []
            if index == 0 && dontWait { flags.insert(.dontWait) }
            guard try send(sharing: part, flags: flags) else {
                if index == 0 { return false }
                // As in the generic form: only reachable with a send timeout set.
                throw ZeroMQError.call(function: "zmq_msg_send", errno: EAGAIN)
            }
        }
        return true
    }

    /// Sends all `parts` as one multipart message.
    ///
    /// With `dontWait`, only the first frame can be refused: libzmq counts
    /// high-water marks in whole messages, so once the first frame is queued the
    /// rest are accepted immediately, and the message is never half-sent.
    ///
    /// - Returns: `false` if the message was not queued (`EAGAIN`).
    @discardableResult
    public func send<Parts: Collection>(parts: Parts, dontWait: Bool = false) throws -> Bool
    where Parts.Element: ContiguousBytes {
        guard !parts.isEmpty else { throw ZeroMQError.invalidArgument("a message needs at least one frame") }
        var remaining = parts.count
        var first = true
        for part in parts {
            remaining -= 1
            var flags: SendFlags = remaining > 0 ? .more : []
            if first && dontWait { flags.insert(.dontWait) }
            guard try send(part, flags: flags) else {
                if first { return false }
                // Only reachable with a send timeout set, which does not fit
                // multipart sends; the peer now has a truncated message.
                throw ZeroMQError.call(function: "zmq_send", errno: EAGAIN)
            }
            first = false
        }
        return true
    }

    // MARK: Receiving

    /// Receives one frame into `message`, replacing its previous content
    /// without allocating a new `zmq_msg_t`.
    ///
    /// - Returns: `false` if nothing arrived without blocking (`dontWait`) or
    ///   within `receiveTimeout` (`EAGAIN`). Other failures throw.
    public func receive(into message: Message, dontWait: Bool = false) throws -> Bool {
        let handle = try open("zmq_msg_recv")
        let flags = dontWait ? ZMQ_DONTWAIT : 0
        while true {
            if zmq_msg_recv(message.pointer, handle, flags) >= 0 { return true }
            switch zmq_errno() {
            case EINTR: continue
            case EAGAIN: return false
            case let errno: throw ZeroMQError.call(function: "zmq_msg_recv", errno: errno)
            }
        }
    }

    /// Receives all frames of one message into `frames[0..<n]`, reusing the
    /// `Message` objects already in the array and appending new ones only when
    /// the message has more frames than the array holds. Elements at `n...`
    /// are left untouched (stale); only the first `n` belong to this message.
    ///
    /// - Returns: `n`, the number of frames, or `0` if no message arrived
    ///   without blocking (`dontWait`) or within `receiveTimeout`.
    public func receiveMultipart(into frames: inout [Message], dontWait: Bool = false) throws -> Int {
        var count = 0
        repeat {
            if count == frames.count { frames.append(Message()) }
            // libzmq delivers multipart messages atomically: once the first
            // frame is here, the rest are too, so only the first may wait.
            guard try receive(into: frames[count], dontWait: count == 0 ? dontWait : true) else {
                if count == 0 { return 0 }
                throw ZeroMQError.call(function: "zmq_msg_recv", errno: EAGAIN)
            }
            count += 1
        } while frames[count - 1].more
        return count
    }

    /// Receives one message and copies its frames out. Convenient, but
    /// allocates per call; hot loops should use `receiveMultipart(into:)`.
    ///
    /// - Returns: the frames, or `[]` if no message arrived without blocking
    ///   (`dontWait`) or within `receiveTimeout` (a message has at least one
    ///   frame, so `[]` is unambiguous).
    public func receiveMultipart(dontWait: Bool = false) throws -> [[UInt8]] {
        var frames: [Message] = []
        let count = try receiveMultipart(into: &frames, dontWait: dontWait)
        return frames.prefix(count).map(\.bytes)
    }
}

/// Explicitly not `Sendable` (see `Socket`), so no extension can add it.
@available(*, unavailable)
extension Socket: Sendable {}

/// Keeps a frame's bytes alive while libzmq holds a message pointing into them (``Socket/send(sharing:flags:)``).
private final class SharedFrame {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}
