import Foundation
import Testing
import Synchronization
import ZeroMQ

@Suite("Poller", .timeLimit(.minutes(1)))
struct PollerTests {
    @Test("reports the one ready socket among several, then times out with nothing ready")
    func readiness() throws {
        let context = try Context()
        let poller = Poller()
        var pulls: [Socket] = []
        var pushes: [Socket] = []
        for i in 0..<3 {
            let pull = try makeSocket(context, .pull)
            try pull.bind("inproc://poll-\(i)")
            let push = try makeSocket(context, .push)
            try push.connect("inproc://poll-\(i)")
            #expect(poller.add(pull) == i)
            pulls.append(pull)
            pushes.append(push)
        }

        #expect(try poller.poll(timeoutMilliseconds: 0) == 0)
        try pushes[1].send("wake")
        #expect(try poller.poll(timeoutMilliseconds: 2000) == 1)
        #expect(poller.readyEvents(at: 0).isEmpty)
        #expect(poller.readyEvents(at: 1) == .readable)
        #expect(poller.isReadable(1))
        #expect(poller.readyEvents(at: 2).isEmpty)
        #expect(try pulls[1].receiveMultipart(dontWait: true) == [Array("wake".utf8)])

        // Drained: the next poll waits out its timeout and reports nothing.
        var ready = -1
        let elapsed = try measure { ready = try poller.poll(timeoutMilliseconds: 150) }
        #expect(ready == 0)
        #expect(elapsed >= 0.12 && elapsed < 2)
        #expect((0..<3).allSatisfy { poller.readyEvents(at: $0).isEmpty })

        // Writability, and removal.
        let writer = poller.add(pushes[2], events: .writable)
        #expect(try poller.poll(timeoutMilliseconds: 1000) == 1)
        #expect(poller.readyEvents(at: writer) == .writable)
        poller.remove(pushes[2])
        #expect(poller.count == 3)
    }

    @Test("polling a closed socket throws instead of touching freed memory")
    func closedSocket() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull)
        let poller = Poller()
        poller.add(pull)
        pull.close()
        let error = #expect(throws: ZeroMQError.self) { try poller.poll(timeoutMilliseconds: 0) }
        #expect(error?.errno == ENOTSOCK)
    }

    @Test("a dedicated Thread runs a poll loop and stops on Context.shutdown()")
    func threadLoop() throws {
        let context = try Context()
        let endpoint = "inproc://thread-loop"
        let seen = Mutex<[String]>([])
        let loop = ThreadRun<Int> {
            // Sockets are created on, and never leave, this thread.
            let pull = try context.makeSocket(.pull)
            defer { pull.close() }
            try pull.bind(endpoint)
            let poller = Poller()
            poller.add(pull)
            let frame = Message()
            var polls = 0
            while true {
                do {
                    polls += 1
                    guard try poller.poll(timeoutMilliseconds: 100) > 0 else { continue }
                    while try pull.receive(into: frame, dontWait: true) {
                        let text = frame.string
                        seen.withLock { $0.append(text) }
                    }
                } catch let error as ZeroMQError where error.isContextTerminated {
                    return polls
                }
            }
        }

        let push = try makeSocket(context, .push)
        try push.connect(endpoint)  // inproc connect-before-bind is fine
        try push.send("a")
        try push.send("b")
        let deadline = ContinuousClock.now + .seconds(3)
        while seen.withLock({ $0.count }) < 2 && ContinuousClock.now < deadline {
            pause(milliseconds: 10)
        }
        #expect(seen.withLock { $0 } == ["a", "b"])

        // shutdown() makes the blocked poll fail with ETERM; the loop exits.
        context.shutdown()
        let result = loop.wait(seconds: 2)
        #expect(result != nil, "the poll loop did not stop after shutdown()")
        #expect(try (result?.get() ?? 0) > 0)
    }
}
