import Foundation
import Testing
import ZeroMQ

@Suite("pyzmq interop", .timeLimit(.minutes(1)))
struct InteropTests {
    /// Python sends [b"coef", three little-endian float64s, b"", b"end"] —
    /// numpy when installed, struct otherwise (identical bytes).
    static let script = """
        import sys, struct, zmq
        try:
            import numpy as np
            payload = np.array([1.5, -2.25, 3.0], dtype="<f8").tobytes()
            source = b"numpy"
        except ImportError:
            payload = struct.pack("<3d", 1.5, -2.25, 3.0)
            source = b"struct"
        ctx = zmq.Context()
        s = ctx.socket(zmq.PUSH)
        s.setsockopt(zmq.LINGER, 5000)
        s.connect(sys.argv[1])
        s.send_multipart([b"coef", payload, b"", source])
        s.close()
        ctx.term()
        """

    @Test("a pyzmq PUSH multipart message arrives intact",
          .enabled(if: pyzmqAvailable, "python3 cannot `import zmq` (pyzmq missing)"))
    func pythonPush() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull, timeoutMilliseconds: 10_000)
        let endpoint = try bindLoopback(pull)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, endpoint]
        let stderr = Pipe()
        process.standardError = stderr
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }

        var frames: [Message] = []
        let count = try pull.receiveMultipart(into: &frames)
        try #require(count == 4, "python sent nothing within 10 s")
        #expect(frames[0].string == "coef")
        #expect(frames[1].count == 24)
        let values = frames[1].withUnsafeBytes { raw in
            (0..<3).map { Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))) }
        }
        #expect(values == [1.5, -2.25, 3.0])
        #expect(frames[2].count == 0)
        #expect(["numpy", "struct"].contains(frames[3].string))

        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
