import CZeroMQ
import Synchronization

/// A libzmq context: owns the I/O threads and is the factory for sockets.
///
/// Design note for the whole `ZeroMQ` module (a thin wrapper, no policy):
///
/// - **`ZMQ_BLOCKY=0` on every context.** With libzmq's default (`BLOCKY=1`),
///   sockets get an infinite linger and `zmq_ctx_term` waits until every
///   queued message has been delivered. A message queued for a peer that never
///   shows up (a `connect` to a dead endpoint) then makes shutdown hang forever.
/// - **Every socket gets an explicit, finite `LINGER`** (0 ms unless the caller
///   asks for more) for the same reason, independent of context defaults, so
///   `close()` and `terminate()` always return promptly.
/// - **`Context` is `Sendable`, `Socket` is not.** libzmq contexts are
///   thread-safe; libzmq sockets are not, and must only be used by one thread at
///   a time. Making `Socket` non-`Sendable` lets the Swift 6 compiler reject
///   sharing a socket between threads; create each socket on the thread (for
///   example a dedicated `Thread` loop) that uses it.
/// - **No `async` API.** Every call here may block an OS thread (send, receive,
///   poll, terminate); blocking inside Swift concurrency's cooperative pool
///   starves it, so blocking I/O belongs on dedicated threads.
///
/// Lifetime: each `Socket` keeps its `Context` alive, so the context's
/// `deinit` (which calls `zmq_ctx_term`) only runs after all of its sockets
/// are gone and cannot hang on them. An explicit `terminate()` follows libzmq's
/// contract: it returns once every socket of the context has been closed, and
/// blocking calls on other threads fail with `ETERM` in the meantime
/// (`ZeroMQError.isContextTerminated`), which is their cue to close.
public final class Context: @unchecked Sendable {
    // @unchecked: `handle` is a raw pointer, but libzmq contexts are
    // thread-safe and the only mutable Swift state is behind `state`'s mutex.

    private enum State { case alive, terminating, terminated }

    /// The raw `void *` context; valid until `terminate()` has returned.
    let handle: UnsafeMutableRawPointer
    private let state = Mutex(State.alive)

    /// Creates a context with `BLOCKY=0` and the given number of I/O threads.
    ///
    /// - Parameter ioThreads: `ZMQ_IO_THREADS`; one thread handles roughly a
    ///   gigabyte per second of traffic.
    public init(ioThreads: Int32 = 1) throws {
        guard let handle = zmq_ctx_new() else { throw ZeroMQError.lastCall("zmq_ctx_new") }
        self.handle = handle
        // Set before any socket exists: both only affect sockets created later.
        if zmq_ctx_set(handle, ZMQ_BLOCKY, 0) != 0 || zmq_ctx_set(handle, ZMQ_IO_THREADS, ioThreads) != 0 {
            let error = ZeroMQError.lastCall("zmq_ctx_set")
            zmq_ctx_term(handle)
            throw error
        }
    }

    deinit {
        // Sockets retain their context, so none can still be open here.
        if state.withLock({ $0 == .alive }) { Self.term(handle) }
    }

    /// Creates a socket of `type` with a finite linger (see the design note).
    ///
    /// - Parameter lingerMilliseconds: how long `close()` may keep unsent
    ///   messages; must be finite (`>= 0`) so that closing never hangs.
    public func makeSocket(_ type: SocketType, lingerMilliseconds: Int32 = 0) throws -> Socket {
        guard lingerMilliseconds >= 0 else {
            throw ZeroMQError.invalidArgument("linger must be finite (>= 0 ms), got \(lingerMilliseconds)")
        }
        // Under the lock so `terminate()` cannot free the context mid-call;
        // `zmq_socket` never blocks.
        let raw: UnsafeMutableRawPointer = try state.withLock { state in
            guard state == .alive else { throw ZeroMQError.call(function: "zmq_socket", errno: ETERM) }
            guard let raw = zmq_socket(handle, type.rawValue) else { throw ZeroMQError.lastCall("zmq_socket") }
            return raw
        }
        let socket = Socket(handle: raw, type: type, context: self)
        try socket.set(.linger, lingerMilliseconds)
        return socket
    }

    /// Makes blocking calls on this context's sockets (in any thread) fail
    /// with `ETERM`, without waiting; used to stop threads before `terminate()`.
    /// A no-op once termination has started (which has the same effect).
    public func shutdown() {
        state.withLock { state in
            // `zmq_ctx_shutdown` does not block, and holding the lock keeps a
            // concurrent `terminate()` from freeing the context underneath it.
            if state == .alive { zmq_ctx_shutdown(handle) }
        }
    }

    /// Terminates the context (`zmq_ctx_term`, retried on `EINTR`). Returns
    /// once every socket of this context has been closed; blocking calls in
    /// other threads fail with `ETERM` so that those threads can close theirs.
    /// Idempotent: later (or concurrent) calls return immediately.
    public func terminate() {
        let proceed = state.withLock { state in
            guard state == .alive else { return false }
            state = .terminating
            return true
        }
        guard proceed else { return }
        // Not under the lock: this blocks until sockets on other threads close.
        Self.term(handle)
        state.withLock { $0 = .terminated }
    }

    private static func term(_ handle: UnsafeMutableRawPointer) {
        while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
    }
}

/// The version of the libzmq library linked at run time.
public var version: (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}

/// Whether the linked libzmq was built with a capability (`zmq_has`), e.g.
/// `"curve"`, `"ipc"`, `"draft"`; lets callers fail clearly instead of at bind.
public func hasCapability(_ capability: String) -> Bool {
    zmq_has(capability) != 0
}

/// CURVE key helpers. Keys are 40-character Z85 strings, the form libzmq's
/// `ZMQ_CURVE_*KEY` options and config files use.
public enum Curve {
    /// Generates a new CURVE key pair (`zmq_curve_keypair`). Throws `ENOTSUP`
    /// when libzmq was built without CURVE support.
    public static func generateKeyPair() throws -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw ZeroMQError.lastCall("zmq_curve_keypair")
        }
        return (decodeCString(publicKey), decodeCString(secretKey))
    }

    /// Derives the Z85 public key from a Z85 secret key (`zmq_curve_public`),
    /// so configs only need to store the secret.
    public static func publicKey(fromSecret secretKey: String) throws -> String {
        guard secretKey.utf8.count == 40 else {
            throw ZeroMQError.invalidArgument("a Z85 CURVE secret key has 40 characters, got \(secretKey.utf8.count)")
        }
        var publicKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else {
            throw ZeroMQError.lastCall("zmq_curve_public")
        }
        return decodeCString(publicKey)
    }

    /// Z85-encodes a 32-byte binary key (`zmq_z85_encode`), e.g. the client key a ZAP request carries.
    public static func z85Encode(_ key: [UInt8]) throws -> String {
        guard key.count == 32 else { throw ZeroMQError.invalidArgument("a binary CURVE key has 32 bytes, got \(key.count)") }
        var text = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&text, key, 32) != nil else { throw ZeroMQError.lastCall("zmq_z85_encode") }
        return decodeCString(text)
    }
}

/// Decodes a NUL-terminated C string held in a buffer (stops at the first NUL).
func decodeCString(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
