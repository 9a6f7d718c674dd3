// The sd_notify protocol in pure Swift, without libsystemd.
//
// Why not link libsystemd: it would add a runtime dependency (and a
// pkg-config system library target) for ~100 lines of protocol, and the
// static `--static-swift-stdlib` binary should need only libc, libstdc++,
// libzmq5 and libopenblas0 (docs/ARCHITECTURE.md, "Decisions").
//
// The protocol (sd_notify(3)): every message is ONE datagram of
// newline-separated `KEY=VALUE` assignments, sent over an AF_UNIX SOCK_DGRAM
// socket to the address in `$NOTIFY_SOCKET`. The address is a filesystem path
// (`/run/systemd/notify`) or, with a leading `@`, a Linux abstract socket whose
// name starts with a NUL byte; for the abstract kind the address length passed
// to sendto must be exact, because the kernel treats every byte of the name,
// trailing NULs included, as significant.

import HebbCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Talks to systemd's service manager with the `sd_notify` protocol
/// (`READY=1`, `STATUS=…`, `RELOADING=1`, `STOPPING=1`, `WATCHDOG=1`).
///
/// Create one per process with ``fromEnvironment()`` (or, in tests, with
/// ``init(environment:processID:sendTimeout:)``) and share it freely: it is `Sendable`,
/// and every method may be called from any thread.
///
/// A notifier never throws and never crashes the daemon: when `NOTIFY_SOCKET`
/// is unset (not started by systemd, or `Type=` is not `notify`) every call is
/// a silent no-op returning `false`; when sending fails the error is counted in
/// ``failureCount`` and described by ``lastError``, and the call returns
/// `false`. Losing a notification is always better than losing the daemon.
///
/// Sending never blocks for long. systemd's socket is shared by every service
/// and, like any AF_UNIX datagram socket, queues only `net.unix.max_dgram_qlen`
/// messages (10 by kernel default; PID 1 raises it to 512). When that queue is
/// full, the state changes that matter (`READY`, `RELOADING`, `STOPPING`,
/// `EXTEND_TIMEOUT_USEC`, `notify(_:)`) wait up to ``sendTimeout``
/// for room, while the frequent ones that the engine thread sends from its
/// loop (`WATCHDOG=1`, `STATUS=`) never wait (`MSG_DONTWAIT`): they are dropped
/// and counted, and the next one follows soon.
package final class SystemdNotifier: Sendable {
    /// The largest datagram systemd's manager reads (its buffer is PIPE_BUF,
    /// 4096 bytes); a longer message would be truncated or dropped by systemd,
    /// so it is refused here and counted as a failure.
    package static let maxMessageBytes = 4096

    /// The longest `STATUS=` text sent, in UTF-8 bytes; longer status lines
    /// are cut at a character boundary (systemctl shows one line anyway).
    package static let maxStatusBytes = 1024

    /// Whether `NOTIFY_SOCKET` was set: the process runs under a service
    /// manager that wants notifications. When `false`, every call is a no-op.
    package let isEnabled: Bool

    /// The raw value of `NOTIFY_SOCKET` (a path, or `@name` for an abstract
    /// socket), or `nil` when unset.
    package let socketAddress: String?

    /// The watchdog interval systemd expects pings within (`WatchdogSec=`),
    /// from `WATCHDOG_USEC`; `nil` when the watchdog is off for this process.
    ///
    /// It is `nil` when `WATCHDOG_USEC` is unset, zero or malformed, when
    /// `WATCHDOG_PID` is set to another process (the variables were inherited
    /// from a parent that systemd watches, not meant for us), or when
    /// notifications are disabled (there is no one to ping). Ping at least
    /// every half of it; ``WatchdogPacer`` does exactly that.
    package let watchdogInterval: Duration?

    /// The longest a state change (`READY=1`, …) waits for room in a full
    /// socket queue before it is dropped and counted (`SO_SNDTIMEO`).
    package let sendTimeout: Duration

    /// The parsed destination, or `nil` when `NOTIFY_SOCKET` is set but
    /// unusable (relative path, too long, or an unsupported kind such as
    /// systemd 254's `vsock:`); sends then fail and are counted.
    private let destination: Destination?
    /// Why ``destination`` is `nil`, reported as ``lastError`` on each send.
    private let destinationError: String?

    /// The datagram socket, created on first use and kept open until deinit
    /// (watchdog pings would otherwise cost a socket()+close() each). `-1`
    /// until created, and again after a failed creation so that a later call
    /// retries. The lock guards only the creation: sends happen outside it
    /// (concurrent sendto on one datagram socket is safe), so a state change
    /// waiting for room never holds up a watchdog ping from another thread.
    private let socketFD = Mutex<Int32>(-1)
    private let sent = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let lastErrorText = Mutex<String?>(nil)

    /// A notifier configured from the process environment (`NOTIFY_SOCKET`,
    /// `WATCHDOG_USEC`, `WATCHDOG_PID`) and the current process ID.
    ///
    /// The environment is read once: systemd sets these variables before
    /// exec and never changes them.
    package static func fromEnvironment() -> SystemdNotifier {
        SystemdNotifier(environment: ProcessInfo.processInfo.environment)
    }

    /// A notifier configured from an explicit environment.
    ///
    /// Tests use this instead of mutating the process environment, which is
    /// shared by tests running in parallel.
    ///
    /// - Parameters:
    ///   - environment: the variables to read (`NOTIFY_SOCKET`,
    ///     `WATCHDOG_USEC`, `WATCHDOG_PID`); other keys are ignored.
    ///   - processID: the PID compared with `WATCHDOG_PID`; defaults to this
    ///     process.
    ///   - sendTimeout: see ``sendTimeout``; at least 1 ms.
    package init(
        environment: [String: String], processID: Int32 = getpid(),
        sendTimeout: Duration = .seconds(2)
    ) {
        self.sendTimeout = max(sendTimeout, .milliseconds(1))
        let raw = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketAddress = raw
        isEnabled = raw != nil
        if let raw {
            switch Destination.parse(raw) {
            case .success(let d):
                destination = d
                destinationError = nil
            case .failure(let message):
                destination = nil
                destinationError = message.text
            }
        } else {
            destination = nil
            destinationError = nil
        }
        watchdogInterval =
            raw == nil ? nil : Self.parseWatchdog(environment: environment, processID: processID)
    }

    deinit {
        socketFD.withLock { fd in
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    // MARK: - Counters

    /// How many messages were delivered to the socket since creation.
    package var sentCount: Int { sent.load(ordering: .relaxed) }

    /// How many messages could not be sent (socket missing or refusing,
    /// queue full, invalid address or message). Always 0 when disabled.
    package var failureCount: Int { failures.load(ordering: .relaxed) }

    /// A description of the most recent failure (e.g. `sendto(/run/x):
    /// No such file or directory (errno 2)`), or `nil` if none happened.
    package var lastError: String? { lastErrorText.withLock { $0 } }

    // MARK: - Messages

    /// `READY=1`: start-up finished (sockets bound, checkpoints loaded). Also
    /// sent after a reload to end the `RELOADING=1` state.
    @discardableResult
    package func ready() -> Bool { send("READY=1", wait: true) }

    /// `RELOADING=1` plus `MONOTONIC_USEC=` (CLOCK_MONOTONIC in µs), sent when
    /// a reload (SIGHUP) starts; send ``ready()`` when it is done.
    ///
    /// systemd ≥ 253 requires `MONOTONIC_USEC` to match the reload to the
    /// request; older versions ignore it.
    @discardableResult
    package func reloading() -> Bool {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())", wait: true)
    }

    /// `STOPPING=1`: shutdown has begun (final checkpoint being written).
    @discardableResult
    package func stopping() -> Bool { send("STOPPING=1", wait: true) }

    /// `STOPPING=1` and `EXTEND_TIMEOUT_USEC=` in one datagram: shutdown has begun, and the final checkpoint
    /// may need up to `allowance` — systemd then waits that long even if `TimeoutStopSec=` is shorter (it
    /// never shortens the stop timeout). The daemon sends this on SIGTERM/SIGINT (``EngineService``), so a
    /// large model's final checkpoint is not cut off by SIGKILL.
    @discardableResult
    package func stopping(extendingTimeoutBy allowance: Duration) -> Bool {
        send("STOPPING=1\nEXTEND_TIMEOUT_USEC=\(Self.microseconds(allowance))", wait: true)
    }

    /// `STATUS=<line>`: a free-form status line shown by `systemctl status`.
    ///
    /// Newlines (which would start a new assignment) and NULs become spaces,
    /// and the line is cut to ``maxStatusBytes`` UTF-8 bytes.
    @discardableResult
    package func status(_ line: String) -> Bool {
        guard isEnabled else { return false }
        return send(
            "STATUS=" + Self.truncateUTF8(Self.oneLine(line), maxBytes: Self.maxStatusBytes),
            wait: false)
    }

    /// `WATCHDOG=1`: the keep-alive ping. Prefer ``WatchdogPacer`` in loops.
    @discardableResult
    package func watchdog() -> Bool { send("WATCHDOG=1", wait: false) }

    /// `EXTEND_TIMEOUT_USEC=`: asks systemd for `duration` more time for the
    /// current start-up, reload or stop, beyond `TimeoutStartSec=`/`TimeoutStopSec=`
    /// (at shutdown the daemon sends it with `STOPPING=1`: ``stopping(extendingTimeoutBy:)``).
    @discardableResult
    package func extendTimeout(by duration: Duration) -> Bool {
        send("EXTEND_TIMEOUT_USEC=\(Self.microseconds(duration))", wait: true)
    }

    /// A duration in whole microseconds, negative ones as 0 (the unit of `EXTEND_TIMEOUT_USEC`).
    static func microseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(0, seconds) &* 1_000_000 &+ max(0, attoseconds) / 1_000_000_000_000
    }

    /// Sends several assignments in one datagram, as `KEY=VALUE` lines sorted
    /// by key (a dictionary has no order; sorting makes the bytes
    /// reproducible).
    ///
    /// Values have newlines and NULs replaced by spaces. A key that is empty
    /// or contains `=`, a newline or NUL cannot be expressed in the protocol:
    /// nothing is sent, and the failure is counted.
    @discardableResult
    package func notify(_ fields: [String: String]) -> Bool {
        guard isEnabled else { return false }
        var lines: [String] = []
        lines.reserveCapacity(fields.count)
        for key in fields.keys.sorted() {
            guard !key.isEmpty, !key.contains(where: { $0 == "=" || $0.isNewline || $0 == "\0" })
            else {
                recordFailure("invalid notify key \(String(reflecting: key))")
                return false
            }
            lines.append(key + "=" + Self.oneLine(fields[key]!))
        }
        guard !lines.isEmpty else {
            recordFailure("empty notify message")
            return false
        }
        return send(lines.joined(separator: "\n"), wait: true)
    }

    /// Sends `message` as one raw datagram (newline-separated assignments),
    /// unchanged. An empty message or one containing NUL is refused and
    /// counted as a failure.
    @discardableResult
    package func notify(_ message: String) -> Bool { send(message, wait: true) }

    /// CLOCK_MONOTONIC in microseconds, the clock systemd's `MONOTONIC_USEC=`
    /// refers to.
    ///
    /// Not `ContinuousClock`: on Linux that is CLOCK_BOOTTIME, which runs
    /// ahead of CLOCK_MONOTONIC after a suspend.
    package static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1_000
    }

    // MARK: - Sending

    private func send(_ message: String, wait: Bool) -> Bool {
        guard isEnabled else { return false }
        guard let destination else {
            recordFailure(destinationError ?? "unusable NOTIFY_SOCKET")
            return false
        }
        var bytes = Array(message.utf8)
        guard !bytes.isEmpty, !bytes.contains(0) else {
            recordFailure("notify message is empty or contains NUL")
            return false
        }
        guard bytes.count <= Self.maxMessageBytes else {
            recordFailure("notify message of \(bytes.count) bytes exceeds \(Self.maxMessageBytes)")
            return false
        }
        let (fd, openError) = socketFD.withLock { fd -> (Int32, String?) in
            if fd < 0 {
                fd = Self.openSocket(sendTimeout: sendTimeout)
                if fd < 0 { return (fd, Self.describeErrno("socket(AF_UNIX, SOCK_DGRAM)")) }
            }
            return (fd, nil)
        }
        let error: String? = { () -> String? in
            if let openError { return openError }
            var address = destination.address
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    bytes.withUnsafeMutableBytes { buffer -> Int in
                        // Waiting is bounded by SO_SNDTIMEO; see the type's
                        // documentation for who waits.
                        let flags = wait ? Self.sendFlags : Self.sendFlags | Int32(MSG_DONTWAIT)
                        var rc: Int
                        repeat {
                            rc = sendto(fd, buffer.baseAddress, buffer.count,
                                        flags, sa, destination.length)
                        } while rc < 0 && errno == EINTR
                        return rc
                    }
                }
            }
            if result < 0 { return Self.describeErrno("sendto(\(destination.display))") }
            if result != bytes.count {
                return "sendto(\(destination.display)): short write \(result)/\(bytes.count)"
            }
            return nil
        }()
        if let error {
            recordFailure(error)
            return false
        }
        sent.add(1, ordering: .relaxed)
        return true
    }

    private func recordFailure(_ message: String) {
        failures.add(1, ordering: .relaxed)
        lastErrorText.withLock { $0 = message }
    }

    #if os(Linux)
    private static let sendFlags = Int32(MSG_NOSIGNAL)
    #else
    private static let sendFlags = Int32(0)
    #endif

    private static func openSocket(sendTimeout: Duration) -> Int32 {
        #if canImport(Glibc)
        // SOCK_CLOEXEC: the fd must not leak into anything the daemon execs.
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #elseif os(Linux)
        let fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)
        #else
        let fd = socket(AF_UNIX, SOCK_DGRAM, 0)
        if fd >= 0 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        #endif
        if fd >= 0 {
            // Bounds how long a blocking sendto waits for room in the
            // receiver's queue; it then fails with EAGAIN.
            let (seconds, attoseconds) = sendTimeout.components
            var tv = timeval()
            tv.tv_sec = .init(seconds)
            tv.tv_usec = .init(attoseconds / 1_000_000_000_000)
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        return fd
    }

    private static func describeErrno(_ what: String) -> String {
        let code = errno
        return "\(what): \(String(cString: strerror(code))) (errno \(code))"
    }

    // MARK: - Parsing

    /// `WATCHDOG_USEC` (positive integer µs), honoured only when
    /// `WATCHDOG_PID` is unset or names this process — sd_watchdog_enabled(3).
    static func parseWatchdog(environment: [String: String], processID: Int32) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0,
              usec <= UInt64(Int64.max)
        else { return nil }
        if let pidText = environment["WATCHDOG_PID"] {
            guard let pid = Int32(pidText), pid == processID else { return nil }
        }
        return .microseconds(Int64(usec))
    }

    /// Replaces the characters that would break the one-assignment-per-line
    /// framing (any newline, including `\r`, and NUL) with spaces.
    static func oneLine(_ text: String) -> String {
        guard text.contains(where: { $0.isNewline || $0 == "\0" }) else { return text }
        return String(text.map { $0.isNewline || $0 == "\0" ? " " : $0 })
    }

    /// The longest prefix of `text` of at most `maxBytes` UTF-8 bytes that
    /// ends on a character boundary.
    static func truncateUTF8(_ text: String, maxBytes: Int) -> String {
        guard text.utf8.count > maxBytes else { return text }
        var used = 0
        var end = text.startIndex
        for index in text.indices {
            let next = text.index(after: index)
            let size = text.utf8.distance(from: index, to: next)
            if used + size > maxBytes { break }
            used += size
            end = next
        }
        return String(text[..<end])
    }
}

/// Where to send: a ready-made `sockaddr_un` and its exact length.
private struct Destination: @unchecked Sendable {
    // @unchecked: sockaddr_un is a plain C value type (family + byte array);
    // it is copied before use and never mutated after init.
    let address: sockaddr_un
    let length: socklen_t
    let display: String

    struct ParseError: Error { let text: String }

    static func parse(_ raw: String) -> Result<Destination, ParseError> {
        var name = Array(raw.utf8)
        let abstract: Bool
        switch name.first {
        case UInt8(ascii: "/"):
            abstract = false
        case UInt8(ascii: "@"):
            // Linux abstract namespace: the '@' stands for a leading NUL.
            abstract = true
            name[0] = 0
        default:
            return .failure(ParseError(
                text: "unsupported NOTIFY_SOCKET \(String(reflecting: raw)) "
                    + "(only absolute paths and @abstract names are supported)"))
        }
        if !abstract && name.contains(0) {
            return .failure(ParseError(text: "NOTIFY_SOCKET contains NUL"))
        }
        var address = sockaddr_un()
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        // A path needs room for its terminating NUL; an abstract name does not
        // have one (its length is given by the address length alone).
        let needed = abstract ? name.count : name.count + 1
        guard name.count > (abstract ? 1 : 0), needed <= capacity else {
            return .failure(ParseError(
                text: "NOTIFY_SOCKET \(String(reflecting: raw)) does not fit sockaddr_un "
                    + "(\(needed) > \(capacity) bytes)"))
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: name)
            if !abstract { buffer[name.count] = 0 }
        }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
        return .success(Destination(
            address: address, length: socklen_t(offset + needed), display: raw))
    }
}
