// The publish path's float32 formatter (Sources/HebbCore/Wire/FloatText.swift, compiled into this program by
// Benchmarks/float_text.sh) against its baseline measured in the same run: the Swift runtime's formatter behind
// `Float.description` (`swift_float32ToString`), called into a buffer as the daemon did before (buffer pre-filled with
// ASCII zeros, which Swift 6.3's entry point needs). Prints ns per float (thread CPU time, so other processes on a
// shared machine count less) for each repetition, the median and range, and the ratio.
//
//     sh Benchmarks/float_text.sh                 # 1M typical coefficients, 7 repetitions
//     sh Benchmarks/float_text.sh --exhaustive    # every float32 bit pattern, byte for byte against the runtime
#if canImport(Glibc)
import Glibc
#endif

@_silgen_name("swift_float32ToString")
func swiftFloat32ToString(_ buffer: UnsafeMutablePointer<UInt8>, _ bufferLength: UInt, _ value: Float, _ debug: Bool) -> UInt64

/// The formatter the daemon used before: the runtime's, into a buffer of 32 ASCII zeros.
@inline(never)
func runtimeWrite(_ value: Float, to buffer: UnsafeMutablePointer<UInt8>) -> Int {
    let zeros = UnsafeMutableRawPointer(buffer)
    for offset in stride(from: 0, to: 32, by: 8) { zeros.storeBytes(of: 0x3030_3030_3030_3030 as UInt64, toByteOffset: offset, as: UInt64.self) }
    return Int(truncatingIfNeeded: swiftFloat32ToString(buffer, 32, value, false))
}

@inline(never)
func schubfachWrite(_ value: Float, to buffer: UnsafeMutablePointer<UInt8>) -> Int { FloatText.write(value, to: buffer) }

func threadCPUNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 64), other = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)

if CommandLine.arguments.contains("--exhaustive") {
    // All 2³² patterns (the finite ones): the new text must be the runtime's, byte for byte.
    var bits: UInt32 = 0, checked = 0, differing = 0
    repeat {
        let value = Float(bitPattern: bits)
        if value.isFinite {
            checked += 1
            let n = FloatText.write(value, to: buffer), m = runtimeWrite(value, to: other)
            if n != m || memcmp(buffer, other, n) != 0 {
                differing += 1
                if differing <= 10 { print("differs: bits 0x\(String(bits, radix: 16)) \(value.description)") }
            }
        }
        bits &+= 1
    } while bits != 0
    print("float32 patterns checked: \(checked), differing: \(differing)")
    exit(differing == 0 ? 0 : 1)
}

// Typical coefficients: uniform in ±2 (7–9 significant digits), a fixed sequence.
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
let values = (0..<1_000_000).map { _ -> Float in
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(state >> 40) / Float(1 << 24) * 4 - 2
}
func nanosecondsPerFloat(_ write: (Float, UnsafeMutablePointer<UInt8>) -> Int) -> Double {
    var bytes = 0
    let start = threadCPUNanoseconds()
    for v in values { bytes &+= write(v, buffer) }
    let elapsed = threadCPUNanoseconds() - start
    if bytes == 0 { print("") }   // keeps the loop
    return Double(elapsed) / Double(values.count)
}
var runtime: [Double] = [], schubfach: [Double] = []
for _ in 0..<7 {
    runtime.append(nanosecondsPerFloat(runtimeWrite))
    schubfach.append(nanosecondsPerFloat(schubfachWrite))
}
/// One decimal, without Foundation.
func fixed(_ x: Double, _ places: Int = 1) -> String {
    let scale = places == 1 ? 10.0 : 100.0
    let n = Int((x * scale).rounded())
    let fraction = String(n % Int(scale))
    return "\(n / Int(scale)).\(String(repeating: "0", count: places - fraction.count))\(fraction)"
}
func summary(_ xs: [Double]) -> String {
    let s = xs.sorted()
    return "median \(fixed(s[s.count / 2])) ns/float (range \(fixed(s.first!))–\(fixed(s.last!)))"
}
print("runtime swift_float32ToString  \(summary(runtime))")
print("FloatText (Schubfach)          \(summary(schubfach))")
let ratios = zip(runtime, schubfach).map { $0 / $1 }.sorted()
print("speed-up: median \(fixed(ratios[3], 2))× (range \(fixed(ratios.first!, 2))–\(fixed(ratios.last!, 2))×) over 7 repetitions")
