// Fuzz target: the config loader, DaemonConfiguration.parse(toml:file:) (Fuzz/README.md).
//
// The input is the text of a config file; input that is not UTF-8 is skipped, as the daemon refuses such a file
// before parsing it ("not valid UTF-8"). TOMLKit (toml++) parses it, then hebbd's own decoder checks every table
// and key. Invariants: parse either returns or throws a ConfigError whose message is not empty; an accepted
// configuration has only valid model names, unique, with sizes in range and dict_dim × sys_dim ≤ 2³¹−1, limits
// that are positive, and survives being parsed a second time with the same result (parsing is deterministic).
// The shapes on which toml++ 3.4.0 aborts (Fuzz/README.md, findings 1–2, 5, 8 and 10) are refused by
// TOMLAssertionGuard before toml++ sees them; this target is what checks that no other shape gets through.
import HebbCore
import HebbianRegression

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfigLoader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let text = String(validating: UnsafeBufferPointer(start: data, count: size), as: UTF8.self) else { return 0 }
    let first: DaemonConfiguration
    do {
        first = try DaemonConfiguration.parse(toml: text, file: "fuzz.toml")
    } catch {
        fuzzCheck(!error.description.isEmpty, "a ConfigError with no message")
        return 0
    }
    var seen = Set<String>()
    for m in first.models {
        fuzzCheck(ModelConfiguration.isValidName(m.name), "accepted model name \(m.name.debugDescription)")
        fuzzCheck(seen.insert(m.name).inserted, "accepted model \(m.name) twice")
        let c = m.circuit
        fuzzCheck(c.dictDim >= 1 && c.sysDim >= 1 && m.batchSize >= 1, "accepted sizes \(c.dictDim)×\(c.sysDim), batch \(m.batchSize)")
        fuzzCheck(c.dictDim.multipliedReportingOverflow(by: c.sysDim).partialValue <= Int(Int32.max), "accepted \(c.dictDim)×\(c.sysDim)")
    }
    fuzzCheck(first.limits.maxMessageBytes > 0 && first.limits.maxRowsPerMessage > 0, "accepted non-positive limits")
    let second = try? DaemonConfiguration.parse(toml: text, file: "fuzz.toml")
    fuzzCheck(second?.models == first.models, "parsing the same text twice gave different models")
    return 0
}
