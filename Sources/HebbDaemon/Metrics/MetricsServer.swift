import HebbCore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Answers whether the engine loop is alive, for `/healthz`.
package protocol HealthCheck: Sendable {
    /// True while the engine loop ticked recently.
    func isAlive(within seconds: Double) -> Bool
}

extension DaemonObserver: HealthCheck {}

/// A minimal HTTP/1.0 responder for `GET /metrics` (Prometheus text format) and `GET /healthz`
/// (200 while the engine loop is alive, 503 otherwise) on one dedicated thread with a blocking POSIX
/// socket. A web framework would cost minutes of build time on 2 cores (docs/ARCHITECTURE.md, "Decisions") for two URLs.
package final class MetricsServer: Service, Sendable {
    private let listener: Int32
    private let metrics: DaemonMetrics
    private let health: any HealthCheck
    private let logger: Logger
    private let closed = Atomic<Bool>(false)
    /// The port actually bound (useful with port 0).
    package let port: UInt16

    /// Binds `host:port` (e.g. `127.0.0.1:9464`).
    package init(address: String, metrics: DaemonMetrics, health: any HealthCheck, logger: Logger) throws {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw MetricsServerError.badAddress(address)
        }
        let host = String(address[..<colon])
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError.system("socket", errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            close(fd)
            throw MetricsServerError.badAddress(address)
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw MetricsServerError.system("bind \(address)", e)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        self.port = UInt16(bigEndian: actual.sin_port)
        listener = fd
        self.metrics = metrics
        self.health = health
        self.logger = logger
    }

    package func run() async throws {
        let thread = Thread { [self] in self.serve() }
        thread.name = "hebbd-metrics"
        thread.start()
        try? await gracefulShutdown()
        stop()
    }

    /// Closes the listening socket; the serving thread ends.
    package func stop() {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }

    /// The accept loop (also usable directly from a test's thread).
    package func serve() {
        while !closed.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            var timeout = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            respond(client)
            close(client)
        }
    }

    private func respond(_ client: Int32) {
        var request = [UInt8](repeating: 0, count: 4096)
        var received = 0
        while received < request.count {
            let n = request.withUnsafeMutableBytes { recv(client, $0.baseAddress! + received, $0.count - received, 0) }
            if n <= 0 { break }
            received += n
            if request[0..<received].firstRange(of: [13, 10, 13, 10]) != nil { break }
        }
        let line = String(decoding: request[0..<received].prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let (status, type, body): (String, String, [UInt8])
        if parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" {
            switch parts[1].split(separator: "?").first.map(String.init) ?? "" {
            case "/metrics":
                (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics.render())
            case "/healthz":
                let alive = health.isAlive(within: 5)
                (status, type, body) = (alive ? "200 OK" : "503 Service Unavailable", "text/plain", Array((alive ? "ok\n" : "engine not responding\n").utf8))
            default:
                (status, type, body) = ("404 Not Found", "text/plain", Array("not found; try /metrics or /healthz\n".utf8))
            }
        } else {
            (status, type, body) = ("405 Method Not Allowed", "text/plain", Array("only GET\n".utf8))
        }
        var response = Array("HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n".utf8)
        if parts.first != "HEAD" { response += body }
        var sent = 0
        while sent < response.count {
            let n = response.withUnsafeBytes { send(client, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
    }
}

/// Why the metrics endpoint could not be opened.
package enum MetricsServerError: Error, CustomStringConvertible {
    case badAddress(String)
    case system(String, Int32)

    package var description: String {
        switch self {
        case let .badAddress(a): return "endpoints.metrics \"\(a)\": expected host:port with an IPv4 host"
        case let .system(call, e): return "\(call): \(String(cString: strerror(e)))"
        }
    }
}
