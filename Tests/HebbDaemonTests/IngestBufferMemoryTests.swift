#if canImport(Glibc)
import CHebbKernels
import Glibc
import Testing
@testable import HebbDaemon

/// The daemon's allocator policy (`IngestBufferMemory`): with it, a freed message-sized block serves the next
/// allocation without new pages, which is what spares each received message its page faults.
@Suite(.serialized) struct IngestBufferMemoryTests {
    /// Minor page faults of the calling thread so far.
    static func threadPageFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (Linux), which Glibc's module leaves out
        return usage.ru_minflt
    }

    /// Allocates, writes every page of and frees a 1 MiB block (a 1024×16 message of 256 rows) `cycles` times, and
    /// returns the page faults per cycle after the first.
    static func faultsPerCycle(cycles: Int, bytes: Int = 1 << 20) -> Double {
        func cycle() {
            let block = malloc(bytes)!
            memset(block, 1, bytes)
            free(block)
        }
        cycle()
        let before = threadPageFaults()
        for _ in 0..<cycles { cycle() }
        return Double(threadPageFaults() - before) / Double(cycles)
    }

    /// With glibc's default threshold (128 KiB, fixed here as the baseline) a 1 MiB block is a mapping of its own,
    /// unmapped when freed, so every cycle faults its 256 pages in again; after `apply()` the freed block stays in
    /// the heap and the next cycle writes the same pages. The policy is applied last: the test process keeps it, as
    /// the daemon does.
    @Test func aFreedMessageSizedBlockIsReusedWithoutPageFaults() {
        #expect(hebb_allocator_keep_freed(128 << 10, 128 << 10) == 1)
        let unmapped = Self.faultsPerCycle(cycles: 20)
        #expect(IngestBufferMemory.apply())
        let kept = Self.faultsPerCycle(cycles: 20)
        #expect(unmapped >= 128, "glibc's default: \(unmapped) page faults per 1 MiB cycle")
        #expect(kept < unmapped / 16, "kept in the heap: \(kept) page faults per cycle against \(unmapped)")
    }
}
#endif
