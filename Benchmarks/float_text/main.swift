// The publish path's float32 formatter (FloatText over Sources/CHebbKernels/float_text.c, compiled into this program
// by Benchmarks/float_text.sh) against its baseline measured in the same run: the Swift runtime's formatter behind
// `Float.description` (`swift_float32ToString`), called into a buffer as the daemon once did (buffer pre-filled with
// ASCII zeros, which Swift 6.3's entry point needs). FloatText is measured as the daemon calls it — a matrix row at a
// time (`writeList`, rows of 16 and of 64 values: the 1024×16 and 4096×64 coefficient matrices) — and one value at a
// time (`write`, the path of single numbers). Prints ns per float (thread CPU time, so other processes on a shared
// machine count less) for each repetition, the median and range, and the ratio.
//
//     sh Benchmarks/float_text.sh                 # 1M typical coefficients, 7 repetitions
//     sh Benchmarks/float_text.sh --isa avx2      # the same with another instruction set's body (baseline, avx2, avx512)
//     sh Benchmarks/float_text.sh --exhaustive    # every float32 bit pattern, byte for byte against the runtime
#if canImport(Glibc)
import Glibc
#endif
import CHebbKernels

@_silgen_name("swift_float32ToString")
func swiftFloat32ToString(_ buffer: UnsafeMutablePointer<UInt8>, _ bufferLength: UInt, _ value: Float, _ debug: Bool) -> UInt64

/// The formatter the daemon used before: the runtime's, into a buffer of 32 ASCII zeros.
@inline(never)
func runtimeWrite(_ value: Float, to buffer: UnsafeMutablePointer<UInt8>) -> Int {
    let zeros = UnsafeMutableRawPointer(buffer)
    for offset in stride(from: 0, to: 32, by: 8) { zeros.storeBytes(of: 0x3030_3030_3030_3030 as UInt64, toByteOffset: offset, as: UInt64.self) }
    return Int(truncatingIfNeeded: swiftFloat32ToString(buffer, 32, value, false))
}

func threadCPUNanoseconds() -> UInt64 {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
}

let isaNames = ["baseline", "avx2", "avx512"]
if let flag = CommandLine.arguments.firstIndex(of: "--isa") {
    guard flag + 1 < CommandLine.arguments.count, let wanted = isaNames.firstIndex(of: CommandLine.arguments[flag + 1]) else {
        print("--isa takes one of \(isaNames.joined(separator: ", "))"); exit(2)
    }
    if hebb_kernels_set_isa(hebb_isa(rawValue: UInt32(wanted))).rawValue != UInt32(wanted) {
        print("this CPU has no \(isaNames[wanted])"); exit(2)
    }
}

let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 64), other = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)

if CommandLine.arguments.contains("--exhaustive") {
    // All 2³² patterns (the finite ones), 4096 at a time through the list form, split at the commas: each text must
    // be the runtime's, byte for byte (and each non-finite value `null`).
    let block = 4096
    let values = UnsafeMutablePointer<Float>.allocate(capacity: block)
    let list = UnsafeMutablePointer<UInt8>.allocate(capacity: FloatText.listCapacity(block))
    var checked = 0, differing = 0
    for first in stride(from: 0, to: 1 << 32, by: block) {
        for i in 0..<block { values[i] = Float(bitPattern: UInt32(first + i)) }
        let n = FloatText.writeList(values, count: block, to: list)
        var i = 0, start = 0
        for end in 0...n where end == n || list[end] == UInt8(ascii: ",") {
            let value = values[i], length = end - start
            var same: Bool
            if value.isFinite {
                checked += 1
                let m = runtimeWrite(value, to: other)
                same = m == length && memcmp(list + start, other, m) == 0
            } else {
                same = length == 4 && memcmp(list + start, "null", 4) == 0
            }
            if !same {
                differing += 1
                if differing <= 10 { print("differs: bits 0x\(String(value.bitPattern, radix: 16)) \(value.description)") }
            }
            i += 1
            start = end + 1
        }
        if i != block { differing += 1; print("block at 0x\(String(first, radix: 16)): \(i) texts for \(block) values") }
    }
    print("float32 patterns checked: \(checked), differing: \(differing)")
    exit(differing == 0 ? 0 : 1)
}

// Typical coefficients: uniform in ±2 (7–9 significant digits), a fixed sequence.
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
let values = (0..<1_000_000).map { _ -> Float in
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(state >> 40) / Float(1 << 24) * 4 - 2
}
let rows = UnsafeMutablePointer<UInt8>.allocate(capacity: FloatText.listCapacity(64))

@inline(never)
func nanosecondsPerFloat(_ write: (Float, UnsafeMutablePointer<UInt8>) -> Int) -> Double {
    var bytes = 0
    let start = threadCPUNanoseconds()
    for v in values { bytes &+= write(v, buffer) }
    let elapsed = threadCPUNanoseconds() - start
    if bytes == 0 { print("") }   // keeps the loop
    return Double(elapsed) / Double(values.count)
}
@inline(never)
func nanosecondsPerFloat(rowsOf columns: Int) -> Double {
    var bytes = 0
    let start = threadCPUNanoseconds()
    values.withUnsafeBufferPointer { all in
        for first in stride(from: 0, to: all.count - columns + 1, by: columns) {
            bytes &+= FloatText.writeList(all.baseAddress! + first, count: columns, to: rows)
        }
    }
    let elapsed = threadCPUNanoseconds() - start
    if bytes == 0 { print("") }
    return Double(elapsed) / Double(values.count / columns * columns)
}
var runtime: [Double] = [], row16: [Double] = [], row64: [Double] = [], single: [Double] = []
for _ in 0..<7 {
    runtime.append(nanosecondsPerFloat(runtimeWrite))
    row16.append(nanosecondsPerFloat(rowsOf: 16))
    row64.append(nanosecondsPerFloat(rowsOf: 64))
    single.append(nanosecondsPerFloat { FloatText.write($0, to: $1) })
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
func speedUp(_ xs: [Double]) -> String {
    let ratios = zip(runtime, xs).map { $0 / $1 }.sorted()
    return "median \(fixed(ratios[3], 2))× (range \(fixed(ratios.first!, 2))–\(fixed(ratios.last!, 2))×)"
}
print("instruction set: \(isaNames[Int(hebb_kernels_isa().rawValue)])")
print("runtime swift_float32ToString     \(summary(runtime))")
print("FloatText.writeList, rows of 16   \(summary(row16))  speed-up \(speedUp(row16))")
print("FloatText.writeList, rows of 64   \(summary(row64))  speed-up \(speedUp(row64))")
print("FloatText.write, one value        \(summary(single))  speed-up \(speedUp(single))")
print("(7 repetitions)")
