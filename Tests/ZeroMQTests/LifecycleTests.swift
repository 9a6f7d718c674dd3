import Foundation
import Testing
import ZeroMQ

@Suite("Context and socket lifecycle", .timeLimit(.minutes(1)))
struct LifecycleTests {
    @Test("closing with a message queued for an absent peer and terminating is prompt",
          arguments: [Int32(0), 300])
    func promptShutdown(linger: Int32) throws {
        let context = try Context()
        // Find a port nobody listens on: bind, learn it, release it.
        let probe = try context.makeSocket(.pull)
        let endpoint = try bindLoopback(probe)
        probe.close()

        let push = try context.makeSocket(.push, lingerMilliseconds: linger)
        #expect(try push.get(.linger) == linger)
        try push.connect(endpoint)
        // Without IMMEDIATE, connect creates the pipe at once, so this is
        // queued (not refused) although the peer never appears.
        #expect(try push.send("stranded", flags: .dontWait))

        let elapsed = measure {
            push.close()
            context.terminate()
        }
        #expect(elapsed < 2)
        context.terminate()  // idempotent
    }

    @Test("terminate waits out a finite linger for a stranded message, no longer")
    func lingerHonoured() throws {
        let context = try Context()
        // A fresh ipc path is certainly absent (a released TCP port could be
        // taken by another process, or the connect could self-connect).
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("zmq-absent-\(UUID().uuidString)").path
        let push = try context.makeSocket(.push, lingerMilliseconds: 300)
        try push.connect("ipc://\(path)")
        #expect(try push.send("stranded", flags: .dontWait))
        let elapsed = measure {
            push.close()
            context.terminate()
        }
        #expect(elapsed >= 0.25 && elapsed < 2)
    }

    @Test("shutdown() unblocks a receive on another thread with ETERM")
    func shutdownUnblocks() throws {
        let context = try Context()
        let blocked = ThreadRun<Bool> {
            let pull = try context.makeSocket(.pull)
            defer { pull.close() }
            try pull.set(.receiveTimeout, 10_000)
            try pull.bind("inproc://blocked")
            do {
                _ = try pull.receive(into: Message())
                return false
            } catch let error as ZeroMQError {
                return error.isContextTerminated
            }
        }
        pause(milliseconds: 100)
        var outcome: Result<Bool, any Error>?
        let elapsed = measure {
            context.shutdown()
            outcome = blocked.wait(seconds: 3)
        }
        #expect(try outcome?.get() == true)
        #expect(elapsed < 2)
        context.terminate()  // its socket was closed by the thread
        let error = #expect(throws: ZeroMQError.self) { try context.makeSocket(.pull) }
        #expect(error?.isContextTerminated == true)
    }

    @Test("close() is idempotent and later calls throw ENOTSOCK")
    func closedSocket() throws {
        let context = try Context()
        let socket = try context.makeSocket(.dealer)
        #expect(!socket.isClosed)
        socket.close()
        socket.close()
        #expect(socket.isClosed)
        let error = #expect(throws: ZeroMQError.self) { try socket.send("x") }
        #expect(error?.errno == ENOTSOCK)
        #expect(throws: ZeroMQError.self) { try socket.get(.linger) }
    }

    @Test("a Context is released (and terminated) only after its sockets")
    func contextOutlivedBySockets() throws {
        var socket: Socket? = try Context().makeSocket(.pub)
        // The temporary Context is only referenced by the socket now.
        try socket?.bind("inproc://outlive")
        #expect(socket?.context != nil)
        socket = nil  // closes the socket, then deinit terminates the context
    }
}

@Suite("Errors", .timeLimit(.minutes(1)))
struct ErrorTests {
    @Test("binding an invalid endpoint throws with libzmq's errno text")
    func invalidEndpoint() throws {
        let context = try Context()
        let socket = try context.makeSocket(.pull)

        let unknown = #expect(throws: ZeroMQError.self) { try socket.bind("bogus://nowhere") }
        #expect(unknown?.description.contains("zmq_bind") == true)
        #expect(unknown?.description.contains("Protocol not supported") == true)

        let malformed = #expect(throws: ZeroMQError.self) { try socket.bind("tcp://127.0.0.1:notaport") }
        #expect(malformed?.errno == EINVAL)
        #expect(malformed?.description.contains("Invalid argument") == true)
        #expect(malformed?.isContextTerminated == false)
    }

    @Test("binding the same TCP port twice throws EADDRINUSE")
    func addressInUse() throws {
        let context = try Context()
        let first = try context.makeSocket(.pull)
        let endpoint = try bindLoopback(first)
        let second = try context.makeSocket(.pull)
        let error = #expect(throws: ZeroMQError.self) { try second.bind(endpoint) }
        #expect(error?.errno == EADDRINUSE)
        #expect(error?.description.contains("Address already in use") == true)

        // After unbind the port is free again, but libzmq closes the listener
        // asynchronously in its I/O thread, so the port frees up shortly after.
        try first.unbind(endpoint)
        var rebound = false
        for _ in 0..<200 where !rebound {
            do {
                try second.bind(endpoint)
                rebound = true
            } catch let error as ZeroMQError where error.errno == EADDRINUSE {
                pause(milliseconds: 10)
            }
        }
        #expect(rebound)
    }

    @Test("argument errors are rejected before libzmq")
    func invalidArguments() throws {
        let context = try Context()
        #expect(throws: ZeroMQError.invalidArgument("linger must be finite (>= 0 ms), got -1")) {
            try context.makeSocket(.push, lingerMilliseconds: -1)
        }
        let push = try context.makeSocket(.push)
        #expect(throws: ZeroMQError.self) { try push.send(parts: [[UInt8]]()) }
        #expect(throws: ZeroMQError.self) { try Curve.publicKey(fromSecret: "short") }
    }
}

@Suite("Options and library info", .timeLimit(.minutes(1)))
struct OptionTests {
    @Test("typed options round-trip through libzmq")
    func roundTrip() throws {
        let context = try Context()
        let socket = try context.makeSocket(.dealer)
        #expect(try socket.get(.linger) == 0)
        try socket.set(.linger, 250)
        #expect(try socket.get(.linger) == 250)
        try socket.set(.sendHighWaterMark, 10)
        try socket.set(.receiveHighWaterMark, 20)
        #expect(try socket.get(.sendHighWaterMark) == 10)
        #expect(try socket.get(.receiveHighWaterMark) == 20)
        try socket.set(.receiveTimeout, 123)
        try socket.set(.sendTimeout, 456)
        #expect(try socket.get(.receiveTimeout) == 123)
        #expect(try socket.get(.sendTimeout) == 456)
        try socket.set(.maxMessageSize, 1 << 40)
        #expect(try socket.get(.maxMessageSize) == 1 << 40)
        try socket.set(.immediate, true)
        #expect(try socket.get(.immediate))
        try socket.set(.ipv6, true)
        #expect(try socket.get(.ipv6))
        try socket.set(.zapDomain, "hebbd")
        #expect(try socket.get(.zapDomain) == "hebbd")
        #expect(try socket.events == [])
        #expect(try socket.fileDescriptor >= 0)
        #expect(try socket.hasMore == false)

        let router = try context.makeSocket(.router)
        #expect(try router.send(parts: [Array("nobody".utf8), [1]]))  // silently dropped
        try router.set(.routerMandatory, true)
        let unroutable = #expect(throws: ZeroMQError.self) {
            try router.send(parts: [Array("nobody".utf8), [1]])
        }
        #expect(unroutable?.errno == EHOSTUNREACH)
        let xpub = try context.makeSocket(.xpub)
        try xpub.set(.xpubVerbose, true)
        // Write-only in libzmq: reading says so rather than inventing a value.
        #expect(throws: ZeroMQError.self) { try xpub.get(.xpubVerbose) }

        let sub = try context.makeSocket(.sub)
        try sub.subscribe("a/")
        try sub.subscribe([0xFF, 0x00] as [UInt8])
        try sub.unsubscribe("a/")
        try sub.unsubscribe([0xFF, 0x00] as [UInt8])
        // Subscribing is meaningless on a PUSH.
        #expect(throws: ZeroMQError.self) { try context.makeSocket(.push).subscribe("a/") }
    }

    @Test("lastEndpoint resolves wildcard ports")
    func lastEndpoint() throws {
        let context = try Context()
        let socket = try context.makeSocket(.pull)
        let endpoint = try bindLoopback(socket)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        let port = Int(endpoint.split(separator: ":").last ?? "")
        #expect(port.map { $0 > 0 && $0 < 65536 } == true)
    }

    @Test("version and capabilities")
    func libraryInfo() {
        let version = ZeroMQ.version
        #expect(version.major == 4 && version.minor >= 3)
        #expect(hasCapability("ipc"))
        #expect(!hasCapability("no-such-capability"))
    }
}
