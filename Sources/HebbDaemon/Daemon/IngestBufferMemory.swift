import CHebbKernels

/// How the daemon's C allocator treats ingest's big, short-lived buffers.
///
/// libzmq allocates every message it receives with `malloc` (a megabyte at 1024×16 with 256 rows per message, 17 MB
/// at 4096×64 with 1024) and the engine frees it once the batch is learned. glibc's defaults hand such blocks back to
/// the kernel — mapped on their own, or trimmed off the heap's top as soon as two blocks' worth is free — so each
/// message was received into pages the kernel had to fault in and zero: 8 % of the daemon's samples at 1024×16
/// (`perf record -g -p PID`; docs/ARCHITECTURE.md §8). Kept in the heap, a freed block serves the next message.
///
/// The price is resident memory: free heap memory up to ``keptFree`` per allocator arena is not returned after a
/// burst, so the resident set stays near its high-water mark (docs/OPERATIONS.md, "Limits").
package enum IngestBufferMemory {
    /// Blocks up to this size come from the heap: glibc's ceiling for the setting on 64-bit systems, which takes
    /// every message of the benchmarks' shapes (4096×64 with 1024 rows is 17 MB). Lower would map the bigger ones
    /// afresh each time: with 8 MiB, 4096×64 fell from ~0.45 to ~0.32 of the null sink (glibc's own adaptive
    /// threshold, which a fixed trim threshold turns off, had been serving them from the heap).
    package static let largestHeapBlock = 32 << 20
    /// Free memory at a heap's top beyond this is returned to the kernel: room for one of the biggest messages. With
    /// 64 MiB a checkpoint's transient blocks stayed too (a bayesian 1024×4 model's first peak rose from 120 to
    /// 150 MiB, past its `ModelFootprint` estimate, in `Benchmarks/footprint.py`); with 32 MiB it was 95 MiB.
    package static let keptFree = 32 << 20

    /// Applies the policy to the whole process. Returns false where the C library has no such settings (not glibc),
    /// and the daemon runs with that library's defaults.
    @discardableResult
    package static func apply() -> Bool {
        hebb_allocator_keep_freed(largestHeapBlock, keptFree) == 1
    }
}
