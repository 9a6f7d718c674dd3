import HebbianRegression
import Logging
import Testing
@testable import HebbCore
import HebbTestSupport

/// Structured, rate-limited logs: fixed messages, values in dotted metadata keys, nothing from the wire written raw.
@Suite struct LoggingTests {
    private func core(_ log: InMemoryLog, clock: ManualClock) throws -> EngineCore {
        var settings = EngineSettings()
        settings.heartbeat = 0
        settings.rejectionReportInterval = 10
        let core = EngineCore(settings: settings, clock: clock.engineClock, logger: log.logger())
        try core.addModel(EngineFixtures.model("m"))
        return core
    }

    @Test func rejectionsAreLoggedOncePerIntervalWithTheCountHeldBack() throws {
        let log = InMemoryLog(), clock = ManualClock()
        let core = try core(log, clock: clock)
        for _ in 0..<5 { EngineFixtures.send(core, EngineFixtures.inline("m", "garbage")) }
        var lines = log.entries.filter { $0.message == "sample rejected" }
        #expect(lines.count == 1)
        #expect(lines.first?.level == .warning)
        #expect(lines.first?.metadata["model"] == "m" && lines.first?.metadata["rejection.reason"] == "bad_json")
        #expect(lines.first?.metadata["rejection.suppressed"] == nil)
        clock.advance(9)
        EngineFixtures.send(core, EngineFixtures.inline("m", "garbage"))
        #expect(log.entries.filter { $0.message == "sample rejected" }.count == 1)
        clock.advance(1)
        EngineFixtures.send(core, EngineFixtures.inline("m", "garbage"))
        lines = log.entries.filter { $0.message == "sample rejected" }
        #expect(lines.count == 2 && lines.last?.metadata["rejection.suppressed"] == "5")
        // Another reason is another key: logged at once.
        EngineFixtures.send(core, EngineFixtures.inline("m", #"{"x":[1,2],"y":1}"#))
        #expect(log.entries.filter { $0.message == "sample rejected" }.last?.metadata["rejection.reason"] == "dimensions")
        #expect(core.counters.rejected[.badJSON] == 7)   // every one counted, logged or not
    }

    @Test func valuesFromTheWireCannotForgeLinesOrGrowThem() throws {
        let log = InMemoryLog(), clock = ManualClock()
        let core = try core(log, clock: clock)
        let forged = "x\n2026-11-29T00:00:00+0000 critical hebbd : FORGED\u{1b}[31m"
        EngineFixtures.send(core, EngineFixtures.inline(forged, "{}"))
        let huge = String(repeating: "A", count: 500_000)
        _ = EngineFixtures.control(core, #"{"cmd":"snapshot","model":"\#(huge)"}"#)
        for entry in log.entries {
            for value in entry.metadata.values {
                #expect(!value.contains("\n") && !value.contains("\u{1b}"), "raw control character in \(entry)")
                #expect(value.count < 400, "a \(value.count)-character value in \(entry.message)")
            }
            #expect(!entry.message.contains("FORGED") && !entry.message.contains("AAAA"), "value in the message: \(entry.message)")
        }
        let rejected = try #require(log.entries.first { $0.message == "sample rejected" })
        #expect(rejected.metadata["model"]?.contains(#"\n2026-11-29"#) == true)
        let control = try #require(log.entries.first { $0.message == "control request failed" })
        #expect(control.metadata["error"]?.hasSuffix("(500017 characters)") == true, "\(control.metadata)")
    }

    @Test func controlFailuresAreRateLimitedToo() throws {
        let log = InMemoryLog(), clock = ManualClock()
        let core = try core(log, clock: clock)
        for _ in 0..<100 { _ = EngineFixtures.control(core, #"{"cmd":"fly"}"#) }
        #expect(log.entries.filter { $0.message == "control request failed" }.count == 1)
        #expect(core.counters.controlErrors == 100)
        clock.advance(10)
        _ = EngineFixtures.control(core, #"{"cmd":"fly"}"#)
        #expect(log.entries.filter { $0.message == "control request failed" }.last?.metadata["control.suppressed"] == "99")
    }

    @Test func wireValuesEscapeAndTruncate() {
        #expect(Logger.MetadataValue.wire("a\"b\\c\td").description == #"a\"b\\c\td"#)
        #expect(Logger.MetadataValue.wire("line\u{2028}sep").description == #"line\u2028sep"#)
        #expect(Logger.MetadataValue.wire(String(repeating: "é", count: 10), limit: 3).description == "ééé…(10 characters)")
    }
}
