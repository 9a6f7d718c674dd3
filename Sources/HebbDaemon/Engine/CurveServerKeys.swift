import HebbCore
import Foundation
import ZeroMQ

/// The CURVE server identity of every socket when `security.curve = true`: the secret key (z85,
/// from `secret_key_file`) and the package keys allowed to connect (one z85 key per file in
/// `authorized_keys_dir`; checked by the ZAP handler, ``ZAPHandler``).
struct CurveServerKeys {
    let secretKey: String
    let authorizedKeys: Set<String>

    /// nil when CURVE is off.
    init?(_ security: DaemonConfiguration.Security) throws {
        guard security.curve else { return nil }
        guard ZeroMQ.hasCapability("curve") else { throw ZeroMQError.invalidArgument("security.curve = true but libzmq was built without CURVE") }
        secretKey = try Self.readKey(security.secretKeyFile)
        var keys = Set<String>()
        let dir = security.authorizedKeysDir
        for file in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !file.hasPrefix(".") {
            if let key = try? Self.readKey("\(dir)/\(file)") { keys.insert(key) }
        }
        authorizedKeys = keys
    }

    static func readKey(_ path: String) throws -> String {
        guard let text = try? FileReading.text(path) else {
            throw ZeroMQError.invalidArgument("cannot read key file \(path)")
        }
        // The first non-empty line is the key (what `hebbd keygen --out` writes). z85 uses characters
        // such as `=` and `.`, so nothing else is stripped.
        let token = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
        guard let token, token.utf8.count == 40 else { throw ZeroMQError.invalidArgument("\(path) holds no 40-character z85 key on its first line") }
        return String(token)
    }

    func apply(to socket: Socket) throws {
        try socket.set(.curveServer, true)
        try socket.set(.curveSecretKey, secretKey)
        try socket.set(.zapDomain, "hebbd")
    }
}
