import Foundation
import Testing
import ZeroMQ

@Suite("CURVE", .enabled(if: hasCapability("curve"), "libzmq built without CURVE"), .timeLimit(.minutes(1)))
struct CurveTests {
    @Test("generated keys are 40-character Z85 and the public key derives from the secret")
    func keys() throws {
        let pair = try Curve.generateKeyPair()
        #expect(pair.publicKey.utf8.count == 40)
        #expect(pair.secretKey.utf8.count == 40)
        #expect(pair.publicKey != pair.secretKey)
        #expect(try Curve.publicKey(fromSecret: pair.secretKey) == pair.publicKey)
        #expect(try Curve.generateKeyPair().secretKey != pair.secretKey)
    }

    @Test("a CURVE client with the server's key gets through; a plain client does not")
    func encryptedExchange() throws {
        let server = try Curve.generateKeyPair()
        let client = try Curve.generateKeyPair()
        let context = try Context()

        let pull = try makeSocket(context, .pull)
        try pull.set(.curveServer, true)
        try pull.set(.curveSecretKey, server.secretKey)
        #expect(try pull.get(.curveServer))
        #expect(try pull.get(.curveSecretKey) == server.secretKey)
        let endpoint = try bindLoopback(pull)

        // A client without CURVE fails the handshake; nothing is delivered.
        let plain = try makeSocket(context, .push)
        try plain.connect(endpoint)
        try plain.send("plaintext")
        try pull.set(.receiveTimeout, 300)
        #expect(try pull.receiveMultipart().isEmpty)
        plain.close()

        let push = try makeSocket(context, .push)
        try push.set(.curveServerKey, server.publicKey)
        try push.set(.curvePublicKey, client.publicKey)
        try push.set(.curveSecretKey, client.secretKey)
        #expect(try push.get(.curveServerKey) == server.publicKey)
        #expect(try push.get(.curvePublicKey) == client.publicKey)
        try push.connect(endpoint)
        try push.send(parts: [Array("secret".utf8), [1, 2, 3]])
        try pull.set(.receiveTimeout, 3000)
        #expect(try pull.receiveMultipart() == [Array("secret".utf8), [1, 2, 3]])
    }

    @Test("a malformed key is rejected")
    func badKey() throws {
        let context = try Context()
        let push = try context.makeSocket(.push)
        let error = #expect(throws: ZeroMQError.self) { try push.set(.curveServerKey, "not a key") }
        #expect(error?.errno == EINVAL)
    }
}
