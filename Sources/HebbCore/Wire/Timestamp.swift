#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall-clock time for messages: RFC 3339 in UTC with milliseconds, formatted by hand
/// (no Foundation formatter on the publish path).
package enum Timestamp {
    /// Seconds since the Unix epoch.
    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// RFC 3339 in UTC with milliseconds (rounded down), e.g. `2026-11-25T00:12:03.250Z`: the one formatter for
    /// published messages, events, heartbeats, logs and checkpoint headers. A time that is not finite or beyond
    /// any calendar (|seconds| ≥ 1e15) gives `invalid` rather than trapping, since checkpoint files and replies
    /// may carry such a value from a damaged clock.
    package static func rfc3339(_ seconds: Double) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(24)
        appendRFC3339(seconds, to: &text)
        return String(decoding: text, as: UTF8.self)
    }

    /// The same text appended to `bytes` (ASCII) — how a published message writes its `time` without the Strings
    /// a formatted one costs (one per field: 5 % of a daemon publishing one-row updates, `perf`).
    package static func appendRFC3339(_ seconds: Double, to bytes: inout [UInt8]) {
        guard seconds.isFinite, abs(seconds) < 1e15 else { bytes.append(contentsOf: "invalid".utf8); return }
        let whole = seconds.rounded(.down)
        let millis = min(max(Int(((seconds - whole) * 1000).rounded(.down)), 0), 999)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        let year = Int(parts.tm_year) + 1900
        if (0...9999).contains(year) {
            bytes.append(contentsOf: [UInt8(ascii: "0") + UInt8(year / 1000), UInt8(ascii: "0") + UInt8(year / 100 % 10),
                                      UInt8(ascii: "0") + UInt8(year / 10 % 10), UInt8(ascii: "0") + UInt8(year % 10),
                                      UInt8(ascii: "-")])
        } else {
            // Beyond 4 digits, or a negative year (which such a clock can give): its decimal text after as many
            // zeros as make 4 characters (the sign after the zeros), as it always was.
            let digits = String(year).utf8
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: max(0, 4 - digits.count)))
            bytes.append(contentsOf: digits)
            bytes.append(UInt8(ascii: "-"))
        }
        func twoDigits(_ value: Int32, then separator: UInt8) {
            // 0…60 always (tm's month, day, hours, minutes and seconds): two digits, no String.
            bytes.append(contentsOf: [UInt8(ascii: "0") + UInt8(value / 10), UInt8(ascii: "0") + UInt8(value % 10), separator])
        }
        twoDigits(parts.tm_mon + 1, then: UInt8(ascii: "-"))
        twoDigits(parts.tm_mday, then: UInt8(ascii: "T"))
        twoDigits(parts.tm_hour, then: UInt8(ascii: ":"))
        twoDigits(parts.tm_min, then: UInt8(ascii: ":"))
        twoDigits(parts.tm_sec, then: UInt8(ascii: "."))
        bytes.append(contentsOf: [UInt8(ascii: "0") + UInt8(millis / 100), UInt8(ascii: "0") + UInt8(millis / 10 % 10),
                                  UInt8(ascii: "0") + UInt8(millis % 10), UInt8(ascii: "Z")])
    }
}
