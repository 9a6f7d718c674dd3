import Foundation
import Testing
import ZeroMQ

@Suite("Messaging patterns", .timeLimit(.minutes(1)))
struct MessagingTests {
    @Test("PUSH→PULL multipart over TCP keeps every frame intact")
    func pushPullMultipart() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull)
        let push = try makeSocket(context, .push)
        try push.connect(bindLoopback(pull))

        let big = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        let frames: [[UInt8]] = [Array("header".utf8), [], big, [0, 255]]
        #expect(try push.send(parts: frames))

        let received = try pull.receiveMultipart()
        #expect(received.count == 4)
        #expect(received == frames)
        #expect(try pull.hasMore == false)

        // The same again through the in-place Message API.
        #expect(try push.send(parts: frames))
        var messages: [Message] = []
        let count = try pull.receiveMultipart(into: &messages)
        #expect(count == 4)
        #expect(messages[0].string == "header")
        #expect(messages[1].count == 0)
        #expect(messages[2].count == 1 << 20)
        #expect(messages[2].withUnsafeBytes { $0.elementsEqual(big) })
        #expect(messages[3].bytes == [0, 255])
        #expect(messages.prefix(3).allSatisfy { $0.more })
        #expect(!messages[3].more)
    }

    @Test("single-frame sends from String, [UInt8], slices and raw buffers")
    func singleFrameSends() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull)
        let push = try makeSocket(context, .push)
        try pull.bind("inproc://single")
        try push.connect("inproc://single")

        #expect(try push.send("héllo"))
        #expect(try push.send([1, 2, 3] as [UInt8], flags: .more))
        #expect(try push.send(([9, 8, 7, 6] as [UInt8])[1...]))
        let raw: [UInt8] = [42]
        #expect(try raw.withUnsafeBytes { try push.send($0, flags: .dontWait) })

        let message = Message()
        #expect(try pull.receive(into: message))
        #expect(message.string == "héllo" && !message.more)
        #expect(try pull.receiveMultipart() == [[1, 2, 3], [8, 7, 6]])
        #expect(try pull.receive(into: message, dontWait: true))
        #expect(message.bytes == [42])
    }

    @Test("PUB→SUB delivers coef/m1/ and never coef/m10/ (retry past the slow joiner)")
    func pubSubFiltering() throws {
        let context = try Context()
        let pub = try makeSocket(context, .pub)
        let sub = try makeSocket(context, .sub, timeoutMilliseconds: 50)
        try sub.connect(bindLoopback(pub))
        try sub.subscribe("coef/m1/")

        // Slow joiner: PUB drops everything until the subscription arrives,
        // so probe until one gets through (bounded at ~5 s).
        var joined = false
        for _ in 0..<100 where !joined {
            try pub.send(parts: [Array("coef/m1/probe".utf8)])
            joined = try !sub.receiveMultipart().isEmpty
        }
        #expect(joined)

        for i in 0..<50 {
            try pub.send(parts: [Array("coef/m10/".utf8), [UInt8(i)]])
            try pub.send(parts: [Array("coef/m1/".utf8), [UInt8(i)]])
        }
        try pub.send(parts: [Array("coef/m1/end".utf8)])

        try sub.set(.receiveTimeout, 3000)
        var payloads: [UInt8] = []
        while true {
            let frames = try sub.receiveMultipart()
            try #require(!frames.isEmpty, "timed out before the end marker")
            let topic = String(decoding: frames[0], as: UTF8.self)
            #expect(!topic.hasPrefix("coef/m10/"))
            #expect(topic.hasPrefix("coef/m1/"))
            if topic == "coef/m1/end" { break }
            if topic == "coef/m1/" { payloads.append(frames[1][0]) }
        }
        #expect(payloads == (0..<50).map(UInt8.init))
    }

    @Test("XPUB→SUB filtering, starting exactly when XPUB sees the subscription")
    func xpubSubFiltering() throws {
        let context = try Context()
        let xpub = try makeSocket(context, .xpub)
        let sub = try makeSocket(context, .sub)
        try sub.connect(bindLoopback(xpub))
        try sub.subscribe("coef/m1/")
        // XPUB updates its filter when it reads the subscription, so after
        // this receive nothing can be lost to the slow joiner.
        #expect(try xpub.receiveMultipart() == [[1] + Array("coef/m1/".utf8)])

        try xpub.send("coef/m10/", flags: .more)
        try xpub.send("ignored")
        try xpub.send("coef/m1/", flags: .more)
        try xpub.send("wanted")
        #expect(try sub.receiveMultipart() == [Array("coef/m1/".utf8), Array("wanted".utf8)])
        #expect(try sub.receiveMultipart(dontWait: true).isEmpty)
    }

    @Test("XPUB sees subscriptions; duplicates only with xpubVerbose", arguments: [false, true])
    func xpubSubscriptionMessages(verbose: Bool) throws {
        let context = try Context()
        let xpub = try makeSocket(context, .xpub, timeoutMilliseconds: 2000)
        if verbose { try xpub.set(.xpubVerbose, true) }
        let endpoint = try bindLoopback(xpub)
        let expected: [UInt8] = [1] + Array("coef/m1/".utf8)

        let first = try makeSocket(context, .sub)
        try first.connect(endpoint)
        try first.subscribe("coef/m1/")
        let message = Message()
        #expect(try xpub.receive(into: message))
        #expect(message.bytes == expected)

        let second = try makeSocket(context, .sub)
        try second.connect(endpoint)
        try second.subscribe("coef/m1/")
        if verbose {
            #expect(try xpub.receive(into: message))
            #expect(message.bytes == expected)
        } else {
            try xpub.set(.receiveTimeout, 300)
            #expect(try !xpub.receive(into: message))
        }
    }

    @Test("REQ/REP round trip and the REP state machine")
    func reqRep() throws {
        let context = try Context()
        let rep = try makeSocket(context, .rep)
        let req = try makeSocket(context, .req)
        try req.connect(bindLoopback(rep))

        #expect(try req.send("ping"))
        // REQ must wait for the reply before sending again.
        #expect(throws: ZeroMQError.self) { try req.send("again") }

        #expect(try rep.receiveMultipart() == [Array("ping".utf8)])
        // After a receive, REP must reply: a second receive is a state error.
        let error = #expect(throws: ZeroMQError.self) { try rep.receiveMultipart(dontWait: true) }
        #expect(error?.isInvalidState == true)
        #expect(error?.description.contains("Operation cannot be accomplished in current state") == true)

        #expect(try rep.send("pong"))
        #expect(try req.receiveMultipart() == [Array("pong".utf8)])
        // The cycle can repeat.
        #expect(try req.send("ping2"))
        #expect(try rep.receiveMultipart() == [Array("ping2".utf8)])
    }

    @Test("receiveMultipart(into:) reuses the Message objects already in the array")
    func receiveReusesMessages() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull)
        let push = try makeSocket(context, .push)
        try pull.bind("inproc://reuse")
        try push.connect("inproc://reuse")

        var frames: [Message] = []
        try push.send(parts: [[1], [2, 2], [3, 3, 3]] as [[UInt8]])
        #expect(try pull.receiveMultipart(into: &frames) == 3)
        let identities = frames.map(ObjectIdentifier.init)

        try push.send(parts: [[4], [5], [6]] as [[UInt8]])
        #expect(try pull.receiveMultipart(into: &frames) == 3)
        #expect(frames.map(ObjectIdentifier.init) == identities)
        #expect(frames.map(\.bytes) == [[4], [5], [6]])

        // Fewer frames: the array keeps its objects and only a prefix is valid.
        try push.send(parts: [[7]] as [[UInt8]])
        #expect(try pull.receiveMultipart(into: &frames) == 1)
        #expect(frames.map(ObjectIdentifier.init) == identities)
        #expect(frames[0].bytes == [7])

        // More frames: existing objects are reused, new ones appended.
        try push.send(parts: [[1], [2], [3], [4]] as [[UInt8]])
        #expect(try pull.receiveMultipart(into: &frames) == 4)
        #expect(Array(frames.prefix(3).map(ObjectIdentifier.init)) == identities)
        #expect(frames.count == 4)
    }

    @Test("non-blocking receive on an empty socket and send without a peer return false")
    func nonBlocking() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull)
        _ = try bindLoopback(pull)
        let message = Message()
        #expect(try !pull.receive(into: message, dontWait: true))
        var frames: [Message] = []
        #expect(try pull.receiveMultipart(into: &frames, dontWait: true) == 0)

        let lonely = try makeSocket(context, .push)
        #expect(try !lonely.send("dropped", flags: .dontWait))
        let bound = try makeSocket(context, .push)
        _ = try bindLoopback(bound)
        #expect(try !bound.send(parts: [[1], [2]] as [[UInt8]], dontWait: true))
    }

    @Test("a message over maxMessageSize is not delivered; a fresh connection then works")
    func maxMessageSize() throws {
        let context = try Context()
        let pull = try makeSocket(context, .pull, timeoutMilliseconds: 500)
        try pull.set(.maxMessageSize, 1000)
        #expect(try pull.get(.maxMessageSize) == 1000)
        let endpoint = try bindLoopback(pull)

        let offender = try makeSocket(context, .push)
        try offender.connect(endpoint)
        #expect(try offender.send([UInt8](repeating: 7, count: 5000)))
        #expect(try pull.receiveMultipart().isEmpty)
        offender.close()

        let polite = try makeSocket(context, .push)
        try polite.connect(endpoint)
        #expect(try polite.send([UInt8](repeating: 1, count: 1000)))
        try pull.set(.receiveTimeout, 3000)
        #expect(try pull.receiveMultipart() == [[UInt8](repeating: 1, count: 1000)])
    }

    @Test("send(sharing:) delivers large frames intact without a copy, and libzmq gives their storage back")
    func sharedFramesArriveIntactAndAreReleased() throws {
        // A frame above the threshold goes out pointing into the array's own storage. While libzmq holds it, a write
        // to the caller's array must copy (the storage is shared); once the message is delivered, libzmq has released
        // it and the same write happens in place — so the base addresses tell whether the owner was released.
        let context = try Context()
        let pull = try makeSocket(context, .pull)
        let endpoint = try bindLoopback(pull)
        let push = try makeSocket(context, .push)
        try push.connect(endpoint)
        let large = (0..<(Socket.sharingThreshold * 64)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let small: [UInt8] = [7, 8, 9]
        // A storage of its own for the sent frame (`large` keeps the expected bytes apart from it).
        var frames = [Array("coef/m/".utf8), small, large.map { $0 }]
        #expect(try push.send(parts: frames))
        #expect(try pull.receiveMultipart() == [Array("coef/m/".utf8), small, large])
        // Delivered: libzmq's I/O thread closes the message once its last byte is in the kernel, which is before the
        // receiver can have it all; the pause only covers that thread's scheduling. One probe: a write that copies
        // would leave an unshared array behind, so a second probe could not tell anything.
        usleep(100_000)
        let before = frames[2].withUnsafeBufferPointer { $0.baseAddress }
        frames[2][0] ^= 0xFF             // in place exactly when no libzmq message shares the storage any more
        let releasedInPlace = frames[2].withUnsafeBufferPointer { $0.baseAddress } == before
        #expect(releasedInPlace, "libzmq never released the shared frame")
    }

    @Test("a shared frame refused by a socket without a peer is released, not leaked")
    func refusedSharedFramesAreReleased() throws {
        let context = try Context()
        let push = try makeSocket(context, .push, timeoutMilliseconds: 0)
        var frame = [UInt8](repeating: 3, count: Socket.sharingThreshold * 4)
        let before = frame.withUnsafeBufferPointer { $0.baseAddress }
        // PUSH without a peer cannot queue: EAGAIN, and the message is closed, releasing its owner at once.
        #expect(try push.send(sharing: frame, flags: .dontWait) == false)
        frame[0] = 4                     // in place: nothing shares the storage any more
        #expect(frame.withUnsafeBufferPointer { $0.baseAddress } == before)
    }
}
