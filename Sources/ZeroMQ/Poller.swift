import CZeroMQ

/// Waits until any of several sockets is readable or writable (`zmq_poll`).
///
/// The `zmq_pollitem_t` array is kept between calls, so a poll loop does not
/// allocate. Not `Sendable` (it holds sockets): create it on the thread that
/// owns the sockets, typically a dedicated `Thread` running the loop. Items are
/// identified by the index `add` returns.
public final class Poller {
    private var sockets: [Socket] = []
    private var items: [zmq_pollitem_t] = []

    /// Creates an empty poller.
    public init() {}

    /// The number of registered sockets.
    public var count: Int { sockets.count }

    /// Registers `socket` for `events` and returns its index. A socket may be
    /// registered once; the poller keeps it alive.
    @discardableResult
    public func add(_ socket: Socket, events: PollEvents = .readable) -> Int {
        sockets.append(socket)
        items.append(zmq_pollitem_t(socket: socket.handle, fd: 0, events: events.rawValue, revents: 0))
        return sockets.count - 1
    }

    /// Changes the events polled for at `index`; empty events park the socket without shifting indices
    /// (e.g. a REP socket that must not read its next request yet).
    public func setEvents(_ events: PollEvents, at index: Int) {
        items[index].events = events.rawValue
    }

    /// Unregisters `socket`; indices of later sockets shift down by one.
    public func remove(_ socket: Socket) {
        guard let index = sockets.firstIndex(where: { $0 === socket }) else { return }
        sockets.remove(at: index)
        items.remove(at: index)
    }

    /// Waits up to `timeoutMilliseconds` (`0` = just check, `-1` = forever)
    /// for a registered event.
    ///
    /// A signal interrupting the wait (`EINTR`) counts as a timeout: the
    /// caller's loop simply polls again. Throws `isContextTerminated` after
    /// `Context.shutdown()`, and `ENOTSOCK` if a registered socket was closed.
    ///
    /// - Returns: the number of ready sockets; query them with `readyEvents(at:)`.
    public func poll(timeoutMilliseconds: Int) throws -> Int {
        for index in items.indices {
            // A closed socket's pointer is freed memory for libzmq: refuse it.
            guard let handle = sockets[index].handle else {
                throw ZeroMQError.call(function: "zmq_poll", errno: ENOTSOCK)
            }
            items[index].socket = handle
            items[index].revents = 0
        }
        let ready = items.withUnsafeMutableBufferPointer { buffer in
            zmq_poll(buffer.baseAddress, Int32(buffer.count), timeoutMilliseconds)
        }
        if ready >= 0 { return Int(ready) }
        let errno = zmq_errno()
        if errno == EINTR {
            for index in items.indices { items[index].revents = 0 }
            return 0
        }
        throw ZeroMQError.call(function: "zmq_poll", errno: errno)
    }

    /// The events the socket at `index` was ready for in the last `poll`
    /// (empty if none).
    public func readyEvents(at index: Int) -> PollEvents {
        PollEvents(rawValue: items[index].revents)
    }

    /// Whether the socket at `index` was readable in the last `poll`.
    public func isReadable(_ index: Int) -> Bool {
        readyEvents(at: index).contains(.readable)
    }
}
