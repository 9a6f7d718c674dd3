import Foundation
import HebbianRegression
import Testing
import ZeroMQ
@testable import HebbCore
@testable import HebbDaemon
import HebbTestSupport

/// The engine over real ZeroMQ sockets on loopback (ephemeral ports), in process.
@Suite(.timeLimit(.minutes(1))) struct EngineSocketTests {
    static func configuration(models: [ModelConfiguration], curve: (secretFile: String, clientsDir: String)? = nil) -> DaemonConfiguration {
        var c = DaemonConfiguration()
        c.endpoints.ingest = "tcp://127.0.0.1:*"
        c.endpoints.publish = "tcp://127.0.0.1:*"
        c.endpoints.control = "tcp://127.0.0.1:*"
        c.endpoints.metrics = nil
        c.publish.heartbeat = 0
        c.daemon.checkpointInterval = 0
        c.models = models
        if let curve {
            c.security.curve = true
            c.security.secretKeyFile = curve.secretFile
            c.security.authorizedKeysDir = curve.clientsDir
        }
        return c
    }

    /// Receives one multipart message within `timeout` ms (empty on time-out).
    static func receive(_ s: Socket, timeout: Int32 = 2000) throws -> [[UInt8]] {
        try s.set(.receiveTimeout, timeout)
        return try s.receiveMultipart()
    }

    @Test func streamPublishLateJoinerControlAndStop() throws {
        let model = EngineFixtures.model("m", batch: 2)
        let engine = try Engine(configuration: Self.configuration(models: [model, EngineFixtures.model("m10", batch: 2)]), models: [(model, nil), (EngineFixtures.model("m10", batch: 2), nil)])
        let endpoints = try engine.start()
        defer { engine.send(.stop); _ = engine.waitUntilStopped(timeout: 5) }
        let context = try Context()
        defer { context.terminate() }
        let sub = try context.makeSocket(.sub)
        defer { sub.close() }
        try sub.subscribe("coef/m/")
        try sub.connect(endpoints.publish)
        // The subscription itself triggers the last-value resend: the initial state, seq 0.
        let initial = try Self.receive(sub)
        #expect(initial.first == Array("coef/m/".utf8))
        #expect(try JSONParser.parse(initial[1])["seq"]?.int == 0)

        let push = try context.makeSocket(.push)
        defer { push.close() }
        try push.connect(endpoints.ingest)
        let rows = EngineFixtures.rows(0..<6)
        for frames in [EngineFixtures.binary("m10", x: rows.x, y: rows.y, rows: 6),
                       EngineFixtures.inline("m", "not json"),
                       EngineFixtures.binary("m", x: rows.x, y: rows.y, rows: 6)] {
            #expect(try push.send(parts: frames))
        }
        var seqs: [Int] = []
        for _ in 0..<3 {
            let message = try Self.receive(sub)
            #expect(message.first == Array("coef/m/".utf8), "m10 must never reach a coef/m/ subscriber")
            if message.count > 1 { seqs.append(try JSONParser.parse(message[1])["seq"]?.int ?? -1) }
        }
        #expect(seqs == [1, 2, 3])

        // A late joiner gets the latest value at once.
        let late = try context.makeSocket(.sub)
        defer { late.close() }
        try late.subscribe("coef/m/")
        let joined = Date()
        try late.connect(endpoints.publish)
        let last = try Self.receive(late)
        #expect(Date().timeIntervalSince(joined) < 1)
        #expect(try JSONParser.parse(last[1])["seq"]?.int == 3)

        let req = try context.makeSocket(.req)
        defer { req.close() }
        try req.set(.receiveTimeout, 2000)
        try req.connect(endpoints.control)
        #expect(try req.send(#"{"cmd":"status"}"#))
        let status = try JSONParser.parse(req.receiveMultipart()[0])
        #expect(status["models"]?["m"]?["step"]?.int == 3)
        #expect(status["rejected"]?["bad_json"]?.int == 1)
        // A two-frame request still gets an answer and the REP socket keeps working.
        #expect(try req.send(parts: [Array("{}".utf8), Array("{}".utf8)]))
        #expect(try JSONParser.parse(req.receiveMultipart()[0])["ok"]?.bool == false)
        #expect(try req.send(#"{"cmd":"models"}"#))
        #expect(try JSONParser.parse(req.receiveMultipart()[0])["ok"]?.bool == true)

        engine.send(.stop)
        #expect(engine.waitUntilStopped(timeout: 5))
    }

    /// No work for nobody: updates nobody subscribed to are left unencoded, and a SUB joining
    /// late receives exactly the bytes eager encoding produces — checked against a bare (eager) core fed the same
    /// frames, whose message differs only in its wall-clock `time`.
    @Test func aLateJoinerReceivesTheBytesEagerEncodingProduces() throws {
        let model = EngineFixtures.model("m", batch: 2)
        let configuration = Self.configuration(models: [model])
        let engine = try Engine(configuration: configuration, models: [(model, nil)])
        let endpoints = try engine.start()
        defer { engine.send(.stop); _ = engine.waitUntilStopped(timeout: 5) }
        let context = try Context()
        defer { context.terminate() }
        let push = try context.makeSocket(.push)
        defer { push.close() }
        try push.connect(endpoints.ingest)
        let rows = EngineFixtures.rows(0..<6)
        let frames = EngineFixtures.binary("m", x: rows.x, y: rows.y, rows: 6)
        #expect(try push.send(parts: frames))
        let req = try context.makeSocket(.req)
        defer { req.close() }
        try req.set(.receiveTimeout, 2000)
        try req.connect(endpoints.control)
        var step = 0
        for _ in 0..<200 where step < 3 {
            #expect(try req.send(#"{"cmd":"status"}"#))
            step = try JSONParser.parse(req.receiveMultipart()[0])["models"]?["m"]?["step"]?.int ?? 0
            if step < 3 { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(step == 3)

        let late = try context.makeSocket(.sub)
        defer { late.close() }
        try late.subscribe("coef/m/")
        try late.connect(endpoints.publish)
        let received = try Self.receive(late)
        try #require(received.count == 2)

        let eager = EngineCore(configuration: configuration)
        try eager.addModel(model)
        #expect(EngineFixtures.send(eager, frames) == nil)
        let expected = try #require(eager.outbox.last)
        let time = { (json: [UInt8]) in try JSONParser.parse(json)["time"]?.string ?? "" }
        let expectedJSON = String(decoding: expected.json, as: UTF8.self)
            .replacingOccurrences(of: "\"time\":\"\(try time(expected.json))\"", with: "\"time\":\"\(try time(received[1]))\"")
        #expect(received[0] == expected.topic)
        #expect(received[1] == Array(expectedJSON.utf8))
        #expect(try JSONParser.parse(received[1])["seq"]?.int == 3)
    }

    /// A backlog of slow updates must not hold up control: the engine reads ingest for a few milliseconds at a
    /// time, then serves control again. With a burst bounded by message count alone (512), `status` was answered
    /// only after hundreds of queued updates, and clients with a short time-out never got a reply.
    @Test func controlIsAnsweredDuringAnIngestBacklog() throws {
        let (dictDim, sysDim, batch, queued) = (1024, 16, 16, 600)
        let model = EngineFixtures.model("big", dictDim: dictDim, sysDim: sysDim, batch: batch)
        let engine = try Engine(configuration: Self.configuration(models: [model]), models: [(model, nil)])
        let endpoints = try engine.start()
        defer { engine.send(.stop); _ = engine.waitUntilStopped(timeout: 5) }
        let context = try Context()
        defer { context.terminate() }
        let push = try context.makeSocket(.push, lingerMilliseconds: 0)
        defer { push.close() }
        try push.set(.sendHighWaterMark, Int32(queued))
        try push.connect(endpoints.ingest)
        let x = (0..<(batch * dictDim)).map { Float($0 % 13) / 13 }, y = [Float](repeating: 0.5, count: batch * sysDim)
        let frames = EngineFixtures.binary("big", x: x, y: y, rows: batch)
        for _ in 0..<queued { #expect(try push.send(parts: frames)) }

        let req = try context.makeSocket(.req, lingerMilliseconds: 0)
        defer { req.close() }
        try req.set(.receiveTimeout, 10_000)
        try req.connect(endpoints.control)
        // Progress is counted in ingest messages handled (one update each): this data makes the model diverge after
        // a few dozen updates, and rolled-back updates do not move `step`.
        func step() throws -> Int {
            #expect(try req.send(#"{"cmd":"status"}"#))
            return try JSONParser.parse(req.receiveMultipart()[0])["messages"]?.int ?? -1
        }
        // One update of this model takes about a millisecond in release, several in debug: the reply comes
        // within a handful of updates, long before the backlog is worked off.
        let first = try step()
        #expect((0..<100).contains(first), "status answered at step \(first) of \(queued) queued updates")
        // …and the backlog is still being worked off meanwhile.
        var later = first
        for _ in 0..<200 where later == first { usleep(10_000); later = try step() }
        #expect(later > first)
    }

    @Test func startFailsClearlyWhenAPortIsTaken() throws {
        let first = try Engine(configuration: Self.configuration(models: []), models: [])
        let taken = try first.start()
        defer { first.send(.stop); _ = first.waitUntilStopped(timeout: 5) }
        var c = Self.configuration(models: [])
        c.endpoints.control = taken.control
        let second = try Engine(configuration: c, models: [])
        #expect {
            try second.start()
        } throws: { error in
            "\(error)".contains("control") && "\(error)".contains(taken.control)
        }
    }

    @Test(.enabled(if: ZeroMQ.hasCapability("curve")))
    func curveAdmitsOnlyAuthorizedClients() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-curve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: "\(dir)/clients", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try Curve.generateKeyPair(), good = try Curve.generateKeyPair(), bad = try Curve.generateKeyPair()
        try (server.secretKey + "\n").write(toFile: "\(dir)/server.key", atomically: true, encoding: .utf8)
        try good.publicKey.write(toFile: "\(dir)/clients/good.pub", atomically: true, encoding: .utf8)
        let model = EngineFixtures.model("m", batch: 1)
        let engine = try Engine(configuration: Self.configuration(models: [model], curve: ("\(dir)/server.key", "\(dir)/clients")), models: [(model, nil)])
        let endpoints = try engine.start()
        defer { engine.send(.stop); _ = engine.waitUntilStopped(timeout: 5) }
        let context = try Context()
        defer { context.terminate() }
        func request(_ keys: (publicKey: String, secretKey: String)) throws -> [[UInt8]] {
            let req = try context.makeSocket(.req)
            defer { req.close() }
            try req.set(.curveServerKey, server.publicKey)
            try req.set(.curvePublicKey, keys.publicKey)
            try req.set(.curveSecretKey, keys.secretKey)
            try req.connect(endpoints.control)
            _ = try req.send(#"{"cmd":"status"}"#, flags: .dontWait)
            return try Self.receive(req, timeout: 1500)
        }
        #expect(try request(good).isEmpty == false)
        #expect(try request(bad).isEmpty)
        // A plain (non-CURVE) client gets nothing either.
        let plain = try context.makeSocket(.req)
        defer { plain.close() }
        try plain.connect(endpoints.control)
        _ = try plain.send(#"{"cmd":"status"}"#, flags: .dontWait)
        #expect(try Self.receive(plain, timeout: 1000).isEmpty)
    }

    /// Sharding: two engines tap one producer's PUB stream, each learning only its own models; a
    /// message for the other shard (`m10` passing the `m1` prefix filter) is dropped, not counted.
    @Test func shardsTapOneProducerStream() throws {
        let context = try Context()
        defer { context.terminate() }
        let producer = try context.makeSocket(.pub)
        defer { producer.close() }
        try producer.bind("tcp://127.0.0.1:*")
        let stream = try producer.lastEndpoint
        func shard(_ name: String) throws -> (Engine, BoundEndpoints) {
            let model = EngineFixtures.model(name, batch: 2)
            var c = Self.configuration(models: [model])
            c.endpoints.subscribe = [stream]
            let engine = try Engine(configuration: c, models: [(model, nil)])
            return (engine, try engine.start())
        }
        let (a, aEndpoints) = try shard("m1")
        let (b, bEndpoints) = try shard("m10")
        defer {
            for e in [a, b] { e.send(.stop); _ = e.waitUntilStopped(timeout: 5) }
        }
        let rows = EngineFixtures.rows(0..<2)
        func status(_ endpoint: String) throws -> JSON {
            let req = try context.makeSocket(.req)
            defer { req.close() }
            try req.set(.receiveTimeout, 2000)
            try req.connect(endpoint)
            _ = try req.send(#"{"cmd":"status"}"#)
            return try JSONParser.parse(req.receiveMultipart()[0])
        }
        // PUB→SUB joins late: publish until both shards have learnt at least once.
        let deadline = Date().addingTimeInterval(10)
        var learnt = (0, 0)
        while Date() < deadline {
            for name in ["m1", "m10"] { _ = try producer.send(parts: EngineFixtures.binary(name, x: rows.x, y: rows.y, rows: 2)) }
            Thread.sleep(forTimeInterval: 0.05)
            learnt = (try status(aEndpoints.control)["models"]?["m1"]?["step"]?.int ?? 0,
                      try status(bEndpoints.control)["models"]?["m10"]?["step"]?.int ?? 0)
            if learnt.0 > 0 && learnt.1 > 0 { break }
        }
        #expect(learnt.0 > 0 && learnt.1 > 0)
        let sa = try status(aEndpoints.control), sb = try status(bEndpoints.control)
        #expect(sa["models"]?["m10"] == nil && sb["models"]?["m1"] == nil)
        // m10's messages pass A's "m1" prefix filter but are another shard's: never rejections.
        #expect(sa["rejected"] == .object([]) && sb["rejected"] == .object([]))
    }

    /// A frame over max_message_bytes is dropped by libzmq, which closes the producer's connection: the socket
    /// monitor makes that visible (counted by socket and event, with the peer), and the model is untouched.
    @Test func anOversizedFrameIsCountedAsADisconnectByTheSocketMonitor() async throws {
        var configuration = Self.configuration(models: [EngineFixtures.model("m", batch: 2)])
        configuration.limits.maxMessageBytes = 4096
        let engine = try Engine(configuration: configuration, models: [(configuration.models[0], nil)])
        let endpoints = try engine.start()
        defer { engine.send(.stop); _ = engine.waitUntilStopped(timeout: 5) }
        let context = try Context()
        defer { context.terminate() }
        let push = try context.makeSocket(.push, lingerMilliseconds: 0)
        defer { push.close() }
        try push.connect(endpoints.ingest)
        #expect(try push.send(parts: [Array("m".utf8), Array(#"{"dtype":"float32","rows":1}"#.utf8), [UInt8](repeating: 0, count: 20_000), [0, 0, 0, 0]]))
        let req = try context.makeSocket(.req, lingerMilliseconds: 0)
        defer { req.close() }
        try req.connect(endpoints.control)
        try req.set(.receiveTimeout, Int32(2000))
        var connections: JSON?
        for _ in 0..<50 {
            _ = try req.send(#"{"cmd":"status"}"#)
            let status = try JSONParser.parse(try req.receiveMultipart()[0])
            connections = status["connections"]
            if (connections?["ingest"]?["disconnected"]?.int ?? 0) >= 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(connections?["ingest"]?["accepted"]?.int ?? 0 >= 1, "\(String(describing: connections))")
        #expect(connections?["ingest"]?["disconnected"]?.int ?? 0 >= 1, "\(String(describing: connections))")
        #expect(connections?["control"]?["accepted"]?.int == 1)
        _ = try req.send(#"{"cmd":"status"}"#)
        let status = try JSONParser.parse(try req.receiveMultipart()[0])
        #expect(status["models"]?["m"]?["samples"]?.int == 0 && status["samples"]?.int == 0)
    }

    /// A control `add` of a model that has checkpoints resumes from the newest one. The look-up reads the disk, so
    /// it runs on the file thread (``BlockingWorker``), and the reply comes when the engine has the result: the
    /// requester sees the same reply as when the engine read the file itself, with the restored step.
    @Test func anAddedModelResumesFromTheCheckpointTheFileThreadFound() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hebbd-add-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A model that learnt 3 updates, checkpointed.
        let model = EngineFixtures.model("r", batch: 2)
        let learner = try EngineFixtures.core([model])
        let rows = EngineFixtures.rows(0..<6)
        #expect(EngineFixtures.send(learner, EngineFixtures.binary("r", x: rows.x, y: rows.y, rows: 6)) == nil)
        let store = CheckpointStore(directory: dir, keep: 3)
        for snapshot in learner.checkpointAllModels() { _ = try store.write(snapshot) }

        let writer = CheckpointWriter(store: store)
        defer { writer.stop() }
        let engine = try Engine(configuration: Self.configuration(models: []), models: [], checkpointer: writer)
        let endpoints = try engine.start()
        defer { engine.send(.stop); _ = engine.waitUntilStopped(timeout: 5) }
        let context = try Context()
        defer { context.terminate() }
        let req = try context.makeSocket(.req, lingerMilliseconds: 0)
        defer { req.close() }
        try req.connect(endpoints.control)
        try req.set(.receiveTimeout, Int32(5000))
        _ = try req.send(#"{"cmd":"add","model":{"name":"r","kind":"lasso","dict_dim":3,"sys_dim":1,"batch_size":2,"optim":"sgd","lr":0.01}}"#)
        let reply = try JSONParser.parse(try req.receiveMultipart()[0])
        #expect(reply["ok"] == .bool(true), "\(reply)")
        #expect(reply["model"]?["step"]?.int == 3, "\(reply)")
        // The socket is served again after the deferred reply.
        _ = try req.send(#"{"cmd":"add","model":{"name":"r","kind":"lasso","dict_dim":3,"sys_dim":1}}"#)
        let duplicate = try JSONParser.parse(try req.receiveMultipart()[0])
        #expect(duplicate["ok"] == .bool(false) && duplicate["error"]?.string?.contains("exists") == true, "\(duplicate)")
    }
}
