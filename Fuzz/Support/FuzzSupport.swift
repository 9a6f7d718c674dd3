// Shared by every fuzz target (Fuzz/run.sh compiles it beside each target's file).
import HebbCore
import Logging

/// A fuzz input cut into the frames of one multipart message.
///
/// Scheme (Fuzz/README.md): repeatedly a 2-byte little-endian length L, then L bytes — the frame. A length that
/// runs past the end takes what is left; a lone trailing byte is a last, 1-byte frame; at most `maxFrames`
/// frames (the rest of the input goes into the last one). An empty input is a message with no frames.
///
/// Each frame is copied into its own allocation of exactly its size, so AddressSanitizer reports any read past
/// a frame's end (the daemon receives each frame in its own zmq_msg_t buffer, too).
struct FuzzFrames {
    private(set) var pointers: [UnsafeRawBufferPointer] = []
    private var storage: [UnsafeMutableRawPointer] = []

    init(_ input: UnsafeRawBufferPointer, maxFrames: Int = 8) {
        var offset = 0
        while offset < input.count, pointers.count < maxFrames {
            var start = offset, length: Int
            if pointers.count == maxFrames - 1 {
                length = input.count - offset
            } else if input.count - offset >= 2 {
                length = Int(input[offset]) | Int(input[offset + 1]) << 8
                start = offset + 2
                length = min(length, input.count - start)
            } else {
                length = input.count - offset
            }
            add(UnsafeRawBufferPointer(rebasing: input[start..<(start + length)]))
            offset = start + length
        }
    }

    private mutating func add(_ bytes: UnsafeRawBufferPointer) {
        // malloc(0) may return nil or a unique pointer: allocate one byte and expose zero.
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 1)
        if bytes.count > 0 { p.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        storage.append(p)
        pointers.append(UnsafeRawBufferPointer(start: p, count: bytes.count))
    }

    func deallocate() { storage.forEach { $0.deallocate() } }
}

/// Encodes frames in the scheme above (used to check the scheme round-trips in the seed script's terms).
func fuzzEncodeFrames(_ frames: [[UInt8]]) -> [UInt8] {
    var out: [UInt8] = []
    for f in frames { out += [UInt8(f.count & 0xFF), UInt8(f.count >> 8 & 0xFF)] + f }
    return out
}

/// A logger that drops everything: the metadata the core builds (escaped wire values) is still computed.
let fuzzLogger = Logger(label: "hebbd.fuzz") { _ in SwiftLogNoOpLogHandler() }

/// A failed invariant: print it and abort, so libFuzzer saves the input as a crash.
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        print("fuzz invariant failed: \(message())")
        fatalError(message())
    }
}
