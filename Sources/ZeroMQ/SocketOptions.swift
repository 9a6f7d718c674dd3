import CZeroMQ
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A typed socket option key: `try socket.set(.receiveTimeout, 500)`,
/// `try socket.get(.receiveTimeout)`. The value type (`Int32`, `Int64`,
/// `Bool` or `String`) is fixed by the key, so a mistyped value is a compile
/// error rather than an `EINVAL` at run time. Some options are write-only in
/// libzmq (`xpubVerbose`, `routerMandatory`); reading them throws `EINVAL`.
public struct SocketOption<Value>: Sendable {
    /// The `ZMQ_*` option number.
    public let code: Int32
    /// Buffer size for reading string options: Z85 keys need exactly 41
    /// (libzmq picks binary or Z85 from the buffer size), others a generous one.
    let readCapacity: Int

    init(_ code: Int32, readCapacity: Int = 256) {
        self.code = code
        self.readCapacity = readCapacity
    }
}

extension SocketOption where Value == Int32 {
    /// `ZMQ_LINGER`: ms that `close()` keeps unsent messages; `-1` (forever)
    /// is allowed by libzmq but makes shutdown hang on absent peers.
    public static var linger: Self { .init(ZMQ_LINGER) }
    /// `ZMQ_SNDHWM`: messages queued per peer before sends block or drop.
    public static var sendHighWaterMark: Self { .init(ZMQ_SNDHWM) }
    /// `ZMQ_RCVHWM`: messages queued per peer on the receiving side.
    public static var receiveHighWaterMark: Self { .init(ZMQ_RCVHWM) }
    /// `ZMQ_RCVTIMEO`: ms a blocking receive waits before returning "nothing"
    /// (`-1` = forever).
    public static var receiveTimeout: Self { .init(ZMQ_RCVTIMEO) }
    /// `ZMQ_SNDTIMEO`: ms a blocking send waits before returning `false`
    /// (`-1` = forever).
    public static var sendTimeout: Self { .init(ZMQ_SNDTIMEO) }
}

extension SocketOption where Value == Int64 {
    /// `ZMQ_MAXMSGSIZE`: larger inbound messages disconnect the peer (`-1` =
    /// no limit); protects the receiver's memory from hostile or buggy peers.
    public static var maxMessageSize: Self { .init(ZMQ_MAXMSGSIZE) }
}

extension SocketOption where Value == Bool {
    /// `ZMQ_XPUB_VERBOSE` (write-only): pass duplicate subscriptions up to the
    /// XPUB application instead of only the first.
    public static var xpubVerbose: Self { .init(ZMQ_XPUB_VERBOSE) }
    /// `ZMQ_IMMEDIATE`: queue only to completed connections, so messages are
    /// not parked for peers that are not there yet.
    public static var immediate: Self { .init(ZMQ_IMMEDIATE) }
    /// `ZMQ_ROUTER_MANDATORY` (write-only): a ROUTER send to an unknown
    /// routing id fails with `EHOSTUNREACH` instead of silently dropping.
    public static var routerMandatory: Self { .init(ZMQ_ROUTER_MANDATORY) }
    /// `ZMQ_IPV6`: allow IPv6 on TCP endpoints.
    public static var ipv6: Self { .init(ZMQ_IPV6) }
    /// `ZMQ_CURVE_SERVER`: this socket is the CURVE server (needs
    /// `curveSecretKey`).
    public static var curveServer: Self { .init(ZMQ_CURVE_SERVER) }
}

extension SocketOption where Value == String {
    /// `ZMQ_CURVE_SECRETKEY`: this socket's 40-character Z85 secret key.
    public static var curveSecretKey: Self { .init(ZMQ_CURVE_SECRETKEY, readCapacity: 41) }
    /// `ZMQ_CURVE_PUBLICKEY`: this socket's 40-character Z85 public key (clients).
    public static var curvePublicKey: Self { .init(ZMQ_CURVE_PUBLICKEY, readCapacity: 41) }
    /// `ZMQ_CURVE_SERVERKEY`: the server's 40-character Z85 public key (clients).
    public static var curveServerKey: Self { .init(ZMQ_CURVE_SERVERKEY, readCapacity: 41) }
    /// `ZMQ_ZAP_DOMAIN`: the ZAP authentication domain.
    public static var zapDomain: Self { .init(ZMQ_ZAP_DOMAIN) }
}

/// The events a socket is ready for (`ZMQ_POLLIN`/`ZMQ_POLLOUT`/`ZMQ_POLLERR`).
public struct PollEvents: OptionSet, Sendable {
    /// The raw `zmq_pollitem_t.events` bits.
    public let rawValue: Int16
    /// Creates events from raw bits.
    public init(rawValue: Int16) { self.rawValue = rawValue }
    /// At least one message can be received without blocking.
    public static let readable = PollEvents(rawValue: Int16(ZMQ_POLLIN))
    /// At least one message can be sent without blocking.
    public static let writable = PollEvents(rawValue: Int16(ZMQ_POLLOUT))
    /// An error condition (only for raw file descriptors in libzmq).
    public static let error = PollEvents(rawValue: Int16(ZMQ_POLLERR))
}

extension Socket {
    // MARK: Typed options

    /// Sets an integer option.
    public func set(_ option: SocketOption<Int32>, _ value: Int32) throws {
        try setRaw(option.code, value)
    }

    /// Sets a 64-bit integer option.
    public func set(_ option: SocketOption<Int64>, _ value: Int64) throws {
        try setRaw(option.code, value)
    }

    /// Sets a boolean option (passed to libzmq as an `int` 0/1).
    public func set(_ option: SocketOption<Bool>, _ value: Bool) throws {
        try setRaw(option.code, Int32(value ? 1 : 0))
    }

    /// Sets a string option (passed without terminating NUL).
    public func set(_ option: SocketOption<String>, _ value: String) throws {
        try setRaw(option.code, Array(value.utf8))
    }

    /// Reads an integer option.
    public func get(_ option: SocketOption<Int32>) throws -> Int32 {
        try getRaw(option.code, as: Int32.self)
    }

    /// Reads a 64-bit integer option.
    public func get(_ option: SocketOption<Int64>) throws -> Int64 {
        try getRaw(option.code, as: Int64.self)
    }

    /// Reads a boolean option.
    public func get(_ option: SocketOption<Bool>) throws -> Bool {
        try getRaw(option.code, as: Int32.self) != 0
    }

    /// Reads a string option (Z85 for CURVE keys).
    public func get(_ option: SocketOption<String>) throws -> String {
        try getString(option.code, capacity: option.readCapacity)
    }

    // MARK: Subscriptions

    /// Subscribes a SUB socket to messages whose first frame starts with
    /// `prefix` (`""` = everything). Filtering is by bytes, so `coef/m1`
    /// also matches `coef/m10`; end topics with a separator.
    public func subscribe(_ prefix: String) throws {
        try setRaw(ZMQ_SUBSCRIBE, Array(prefix.utf8))
    }

    /// Subscribes to a binary prefix.
    public func subscribe(_ prefix: some ContiguousBytes) throws {
        try setRaw(ZMQ_SUBSCRIBE, prefix)
    }

    /// Removes one earlier `subscribe` of the same prefix.
    public func unsubscribe(_ prefix: String) throws {
        try setRaw(ZMQ_UNSUBSCRIBE, Array(prefix.utf8))
    }

    /// Removes one earlier `subscribe` of the same binary prefix.
    public func unsubscribe(_ prefix: some ContiguousBytes) throws {
        try setRaw(ZMQ_UNSUBSCRIBE, prefix)
    }

    // MARK: Read-only state

    /// The endpoint last bound or connected (`ZMQ_LAST_ENDPOINT`), with
    /// wildcards resolved, e.g. `tcp://127.0.0.1:41234` after binding `:*`.
    public var lastEndpoint: String {
        get throws { try getString(ZMQ_LAST_ENDPOINT, capacity: 1024) }
    }

    /// Whether the last received frame has more frames after it (`ZMQ_RCVMORE`).
    public var hasMore: Bool {
        get throws { try getRaw(ZMQ_RCVMORE, as: Int32.self) != 0 }
    }

    /// What the socket can do right now without blocking (`ZMQ_EVENTS`);
    /// needed with `fileDescriptor`, which is edge-triggered.
    public var events: PollEvents {
        get throws { PollEvents(rawValue: Int16(truncatingIfNeeded: try getRaw(ZMQ_EVENTS, as: Int32.self))) }
    }

    /// A file descriptor that becomes readable when `events` may have changed
    /// (`ZMQ_FD`), for integrating with other event loops. It signals edges,
    /// not readiness: always re-check `events` after it fires.
    public var fileDescriptor: Int32 {
        get throws { try getRaw(ZMQ_FD, as: Int32.self) }
    }

    // MARK: Raw helpers: every option goes through these two.

    private func setRaw(_ code: Int32, _ value: some ContiguousBytes) throws {
        let handle = try open("zmq_setsockopt")
        let rc = value.withUnsafeBytes { zmq_setsockopt(handle, code, $0.baseAddress, $0.count) }
        if rc != 0 { throw ZeroMQError.lastCall("zmq_setsockopt") }
    }

    private func setRaw<T: FixedWidthInteger>(_ code: Int32, _ value: T) throws {
        try Swift.withUnsafeBytes(of: value) { try setRaw(code, $0) }
    }

    private func getRaw<T: FixedWidthInteger>(_ code: Int32, as _: T.Type) throws -> T {
        var value = T.zero
        var size = MemoryLayout<T>.size
        let handle = try open("zmq_getsockopt")
        if zmq_getsockopt(handle, code, &value, &size) != 0 { throw ZeroMQError.lastCall("zmq_getsockopt") }
        return value
    }

    private func getString(_ code: Int32, capacity: Int) throws -> String {
        var buffer = [CChar](repeating: 0, count: capacity)
        var size = capacity
        let handle = try open("zmq_getsockopt")
        if zmq_getsockopt(handle, code, &buffer, &size) != 0 { throw ZeroMQError.lastCall("zmq_getsockopt") }
        return decodeCString(Array(buffer.prefix(size)))
    }
}
