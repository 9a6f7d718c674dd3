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
        guard seconds.isFinite, abs(seconds) < 1e15 else { return "invalid" }
        let whole = seconds.rounded(.down)
        let millis = min(max(Int(((seconds - whole) * 1000).rounded(.down)), 0), 999)
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(millis), 3))Z"
    }
}
