#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZeroMQ

/// The connection events libzmq reports on a socket's monitor (`zmq_socket_monitor`).
public struct SocketEvents: OptionSet, Sendable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// A peer connected to a bound socket (the event's value is the connection's file descriptor).
    public static let accepted = SocketEvents(rawValue: ZMQ_EVENT_ACCEPTED)
    /// A connection closed: the peer went away, or libzmq closed it (e.g. a frame over `ZMQ_MAXMSGSIZE`);
    /// the value is the file descriptor.
    public static let disconnected = SocketEvents(rawValue: ZMQ_EVENT_DISCONNECTED)
    /// The ZMTP handshake failed: a peer that does not speak ZMTP, or a malformed greeting.
    public static let handshakeFailedProtocol = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
    /// The handshake failed without detail.
    public static let handshakeFailedNoDetail = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
    /// Authentication (ZAP/CURVE) refused the peer.
    public static let handshakeFailedAuth = SocketEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
}

/// One event read from a monitor socket: two frames, `[u16 event, u32 value]` then the endpoint.
public struct SocketEvent: Sendable, Equatable {
    /// Which event (one flag of ``SocketEvents``).
    public var event: SocketEvents
    /// The event's value: a file descriptor for accepted/disconnected, an error code for handshake failures.
    public var value: UInt32
    /// The local endpoint the event belongs to.
    public var endpoint: String

    /// Parses the two frames of a monitor message; nil when they are not one.
    public init?(frames: [Message], count: Int) {
        guard count >= 2 else { return nil }
        let header = frames[0].bytes
        guard header.count >= 6 else { return nil }
        event = SocketEvents(rawValue: Int32(UInt16(header[0]) | UInt16(header[1]) << 8))
        value = UInt32(header[2]) | UInt32(header[3]) << 8 | UInt32(header[4]) << 16 | UInt32(header[5]) << 24
        endpoint = frames[1].string
    }

    /// The remote address (`host:port`) of the TCP connection on file descriptor `fd`, while it is open.
    public static func peerAddress(fileDescriptor fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST)), port = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let ok = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), &port, socklen_t(port.count), NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard ok == 0 else { return nil }
        // The NUL-terminated C strings getnameinfo filled in, as text.
        let text = { (chars: [CChar]) in String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return text(host) + ":" + text(port)
    }
}

extension Socket {
    /// Starts publishing `events` of this socket on a PAIR socket bound at `endpoint` (`inproc://…`); connect a
    /// PAIR to it and read ``SocketEvent``s.
    public func monitor(_ endpoint: String, events: SocketEvents) throws {
        let rc = zmq_socket_monitor(try open("zmq_socket_monitor"), endpoint, events.rawValue)
        if rc != 0 { throw ZeroMQError.call(function: "zmq_socket_monitor", errno: zmq_errno()) }
    }
}
