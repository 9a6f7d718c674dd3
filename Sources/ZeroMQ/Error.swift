import CZeroMQ

/// An error from this module, carrying enough context to log it usefully.
public enum ZeroMQError: Error, Equatable, CustomStringConvertible {
    /// A libzmq call failed: which function, its `errno`, and libzmq's text
    /// for it (`zmq_strerror`, which also covers libzmq's own codes).
    case call(function: String, errno: Int32, message: String)
    /// A caller-supplied value was rejected before reaching libzmq.
    case invalidArgument(String)

    /// A `.call` error for `errno`, with libzmq's message filled in.
    static func call(function: String, errno: Int32) -> ZeroMQError {
        .call(function: function, errno: errno, message: String(cString: zmq_strerror(errno)))
    }

    /// A `.call` error for the calling thread's current `zmq_errno()`.
    static func lastCall(_ function: String) -> ZeroMQError {
        call(function: function, errno: zmq_errno())
    }

    /// The `errno` of a failed libzmq call, `nil` for argument errors; compare
    /// with `EADDRINUSE` etc. from Glibc.
    public var errno: Int32? {
        if case .call(_, let errno, _) = self { return errno }
        return nil
    }

    /// `true` when the socket's context was shut down or terminated (`ETERM`):
    /// the signal for a socket's owning thread to close it and exit its loop.
    public var isContextTerminated: Bool { errno == ETERM }

    /// `true` when the call was made in the wrong state of the socket's
    /// protocol (`EFSM`), e.g. a REP socket receiving twice without replying.
    public var isInvalidState: Bool { errno == EFSM }

    /// A one-line description, e.g. `zmq_bind failed: Address already in use (errno 98)`.
    public var description: String {
        switch self {
        case let .call(function, errno, message):
            return "\(function) failed: \(message) (errno \(errno))"
        case let .invalidArgument(message):
            return "invalid argument: \(message)"
        }
    }
}
