#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the engine core reads the time.
///
/// It is injected so that every time-driven policy of the core — checkpoint intervals, heartbeats,
/// rate-limited rejection logs and summaries — can be tested with a fake clock instead of sleeping.
/// Timestamps in messages and snapshots use the wall clock; intervals use the monotonic one, so a wall
/// clock stepped by NTP neither fires a checkpoint early nor silences a heartbeat.
package struct EngineClock: Sendable {
    /// Seconds since the Unix epoch.
    package var wall: @Sendable () -> Double
    /// Seconds on a clock that never jumps (its origin is arbitrary).
    package var monotonic: @Sendable () -> Double

    /// A clock from its two readings.
    package init(wall: @escaping @Sendable () -> Double, monotonic: @escaping @Sendable () -> Double) {
        self.wall = wall
        self.monotonic = monotonic
    }

    /// The operating system's clocks (`CLOCK_REALTIME`, `CLOCK_MONOTONIC`).
    package static let system = EngineClock(wall: Timestamp.now, monotonic: {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    })
}

extension Duration {
    /// The duration in seconds, as a Double (for logs, metrics and rates): the one conversion of the package.
    package var inSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
