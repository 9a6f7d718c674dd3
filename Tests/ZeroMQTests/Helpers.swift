import Dispatch
import Foundation
import Synchronization
import ZeroMQ

/// Every test's sockets get finite send/receive timeouts, so a broken
/// assumption fails the test instead of hanging the run.
func makeSocket(_ context: Context, _ type: SocketType, timeoutMilliseconds: Int32 = 3000) throws -> Socket {
    let socket = try context.makeSocket(type)
    try socket.set(.receiveTimeout, timeoutMilliseconds)
    try socket.set(.sendTimeout, timeoutMilliseconds)
    return socket
}

/// Binds to a free loopback TCP port and returns the resolved endpoint.
func bindLoopback(_ socket: Socket) throws -> String {
    try socket.bind("tcp://127.0.0.1:*")
    return try socket.lastEndpoint
}

/// Seconds elapsed while running `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

/// Runs `body` on a dedicated `Thread` (sockets it creates stay on that
/// thread, as libzmq requires) and hands back its result.
final class ThreadRun<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () throws -> T) {
        let thread = Thread { [self] in
            let outcome = Result { try body() }
            result.withLock { $0 = outcome }
            done.signal()
        }
        thread.start()
    }

    /// The thread's result, or `nil` if it did not finish within `seconds`.
    func wait(seconds: Double) -> Result<T, any Error>? {
        guard done.wait(timeout: .now() + seconds) == .success else { return nil }
        return result.withLock { $0 }
    }
}

/// Whether python3 with pyzmq is available for the interop test.
let pyzmqAvailable: Bool = {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", "import zmq"]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}()

/// Sleeps the calling (test) thread briefly; only used in bounded wait loops.
func pause(milliseconds: Int) {
    Thread.sleep(forTimeInterval: Double(milliseconds) / 1000)
}
