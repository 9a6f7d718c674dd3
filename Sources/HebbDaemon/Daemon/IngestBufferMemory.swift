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
    /// Blocks up to this size come from the heap: messages up to 1024×16 with 2 000 rows, or 4096×64 with 500.
    /// Bigger ones keep glibc's own mapping, whose page faults are a small share of what learning them costs. (With
    /// 32 MiB, glibc's ceiling, transient blocks of a checkpoint stayed in the heap too: a bayesian 1024×4 model's
    /// peak resident growth rose from 120 to 150 MiB, past its `ModelFootprint` estimate; with 8 MiB it was 103 MiB,
    /// `Benchmarks/footprint.py`.)
    package static let largestHeapBlock = 8 << 20
    /// Free memory at a heap's top beyond this is returned to the kernel: room for a few messages of that size.
    package static let keptFree = 32 << 20

    /// Applies the policy to the whole process. Returns false where the C library has no such settings (not glibc),
    /// and the daemon runs with that library's defaults.
    @discardableResult
    package static func apply() -> Bool {
        hebb_allocator_keep_freed(largestHeapBlock, keptFree) == 1
    }
}
