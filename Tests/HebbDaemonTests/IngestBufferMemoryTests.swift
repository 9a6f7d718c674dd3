#if canImport(Glibc)
import Glibc
import Testing
@testable import HebbDaemon

/// The daemon's allocator policy (`IngestBufferMemory`): with it, freed message-sized blocks serve the next
/// allocations without new pages, which is what spares each received message its page faults.
@Suite struct IngestBufferMemoryTests {
    /// Minor page faults of the calling thread so far.
    static func threadPageFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (Linux), which Glibc's module leaves out
        return usage.ru_minflt
    }

    /// Ingest's pattern: `inFlight` messages of `bytes` (1 MiB: a 1024×16 message of 256 rows) received — allocated
    /// and written — then learned and freed, `rounds` times; returns the page faults per round after the first.
    static func faultsPerRound(rounds: Int, inFlight: Int = 4, bytes: Int = 1 << 20) -> Double {
        var blocks = [UnsafeMutableRawPointer?](repeating: nil, count: inFlight)
        func round() {
            for i in 0..<inFlight {
                let block = malloc(bytes)!
                memset(block, 1, bytes)
                blocks[i] = block
            }
            for block in blocks { free(block) }
        }
        round()
        let before = threadPageFaults()
        for _ in 0..<rounds { round() }
        return Double(threadPageFaults() - before) / Double(rounds)
    }

    /// glibc's defaults trim the heap's top once more than two freed blocks' worth is free there, so each round
    /// faulted in most of its 1024 pages again; with the policy the freed blocks stay and the next round writes the
    /// same pages. (The policy is process-wide; the test process keeps it, as the daemon does, and other tests that
    /// start a daemon in this process set the same values.)
    @Test func freedMessageSizedBlocksAreReusedWithoutPageFaults() {
        #expect(IngestBufferMemory.apply())
        let faults = Self.faultsPerRound(rounds: 20)
        #expect(faults < 16, "\(faults) page faults per round of four 1 MiB messages (1024 pages)")
    }
}
#endif
