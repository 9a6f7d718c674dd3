import CZeroMQ

/// One received frame, owning a `zmq_msg_t`.
///
/// Receiving into a `Message` lets callers read the payload in place (libzmq's
/// own buffer) instead of copying it into a Swift array, and a `Message` can be
/// reused for the next receive (`zmq_msg_recv` releases the previous content),
/// so a steady-state receive loop allocates nothing. Not `Sendable`: copy the
/// bytes out to hand them to another thread.
public final class Message {
    /// Heap-allocated so the `zmq_msg_t` never moves: libzmq forbids copying
    /// it and may keep pointers into it (small messages are stored inline).
    let pointer: UnsafeMutablePointer<zmq_msg_t>

    /// Creates an empty message, ready to be received into.
    public init() {
        pointer = .allocate(capacity: 1)
        // zmq_msg_init cannot fail (it always returns 0).
        zmq_msg_init(pointer)
    }

    deinit {
        zmq_msg_close(pointer)
        pointer.deallocate()
    }

    /// Frees the payload now, leaving the message empty and ready to be received into. Without it a payload lives
    /// until the next receive into this message: for a large frame that holds its memory through the wait for the
    /// next message, and the next one is then allocated beside it instead of reusing it.
    public func release() {
        zmq_msg_close(pointer)
        zmq_msg_init(pointer)
    }

    /// The payload size in bytes.
    public var count: Int { zmq_msg_size(pointer) }

    /// Whether more frames of the same multipart message follow this one.
    public var more: Bool { zmq_msg_more(pointer) != 0 }

    /// The frame's bytes without copying, for a decoder that needs several frames at once.
    /// Valid only while this message is neither received into again nor freed.
    public var unsafeBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: zmq_msg_data(pointer), count: zmq_msg_size(pointer))
    }

    /// Calls `body` with the payload in place, without copying. The buffer is
    /// only valid inside `body` and until the message is received into again.
    public func withUnsafeBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        try body(unsafeBytes)
    }

    /// A copy of the payload.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The payload decoded as UTF-8 (invalid sequences become U+FFFD).
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }
}
