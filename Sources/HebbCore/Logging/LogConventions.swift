import Logging

// hebbd's logs follow swift-log's structured-logging guidance: the message is a fixed phrase that names the
// event ("sample rejected", "checkpoint written"), and every value travels as metadata under a dotted key
// (`model`, `checkpoint.path`, `rejection.reason`, `error`, …), so a log pipeline can filter and aggregate on
// them and no value can change what the message says. Keys are listed in docs/OPERATIONS.md ("Logs").

extension Logger.MetadataValue {
    /// A value that came from outside (a model name, a control request, an error text quoting them, a peer
    /// address): control characters, quotes and backslashes are escaped as in JSON (``JSONEscaping``, plus DEL,
    /// C1 controls and line separators), and the value is cut to `limit` characters with the original length noted. A hostile client can therefore neither forge a log line
    /// (a `\n` in a model name) nor write megabyte lines.
    package static func wire(_ text: some StringProtocol, limit: Int = 200) -> Logger.MetadataValue {
        var bytes: [UInt8] = []
        let complete = JSONEscaping.append(text, to: &bytes, limit: limit) { scalar in
            scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value)
                || scalar.properties.generalCategory == .lineSeparator || scalar.properties.generalCategory == .paragraphSeparator
        }
        var out = String(decoding: bytes, as: UTF8.self)
        if !complete { out += "…(\(text.unicodeScalars.count) characters)" }
        return .string(out)
    }
}

/// Admits one log line per key and interval, and counts the ones it holds back, so that a flood of bad input
/// costs a line per interval, not a line per message. Keys must come from a bounded set (known model names and
/// reasons, not names from the wire).
package struct LogRateLimiter: Sendable {
    /// Seconds between two lines of one key.
    package var interval: Double
    private var entries: [String: (last: Double, suppressed: Int)] = [:]

    /// A limiter admitting a line per key every `interval` seconds.
    package init(interval: Double) { self.interval = interval }

    /// Whether a line for `key` may be written at `now`; if so, how many were held back since the last one.
    package mutating func admit(_ key: String, now: Double) -> Int? {
        if let entry = entries[key], now - entry.last < interval {
            entries[key] = (entry.last, entry.suppressed + 1)
            return nil
        }
        let suppressed = entries[key]?.suppressed ?? 0
        entries[key] = (now, 0)
        return suppressed
    }
}
