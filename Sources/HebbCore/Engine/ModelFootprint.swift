#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HebbianRegression

/// The memory a model takes, estimated from its configuration before anything is allocated, so that a model
/// too big for `[limits]` is refused instead of freezing the daemon while it allocates gigabytes.
///
/// Per coefficient: W, the gradient, the published copy (4 bytes each), Adam's two moments (8), with `epochs > 1`
/// the divergence guard's copies of W and the moments (4 + 8; one step is judged before it writes, so it needs no
/// copy), a per-coefficient prior's arrays when fitted (~24), and the last published message plus the one being
/// sent (~2 × 14 bytes of JSON text; 8 in binary). Per batch row: the batch buffer (allocated only when a message
/// brings part of a batch, counted anyway), the residual and, with `standardize`, the standardised copy. The largest
/// ingest message in flight, which glibc keeps for the next one once it is freed, belongs to the fixed base.
///
/// Re-measured against real daemons by `Benchmarks/footprint.py` (VmHWM growth after `add` and 3 updates, per shape
/// and kind), which prints docs/OPERATIONS.md's memory table and marks ✘ where this estimate falls below what a model
/// costs (alone, and with the scratch all models share).
package enum ModelFootprint {
    /// Bytes per coefficient for the state that scales with W.
    package static func bytesPerWeight(adam: Bool, fittedPrior: Bool, jsonPublish: Bool = true, guardCopies: Bool = false) -> Int {
        12 + (guardCopies ? 4 : 0) + (adam ? (guardCopies ? 16 : 8) : 0) + (fittedPrior ? 24 : 8) + (jsonPublish ? 28 : 8)
    }

    /// The estimated bytes of `model`.
    package static func bytes(of model: ModelConfiguration, publishFormat: PublishFormat) -> Int {
        let c = model.circuit
        let weights = c.dictDim.multipliedReportingOverflow(by: c.sysDim)
        let perWeight = bytesPerWeight(adam: c.optimizer == .adam, fittedPrior: c.prior?.fitHyper == true,
                                       jsonPublish: publishFormat == .json, guardCopies: c.epochs > 1)
        let columns = c.dictDim + c.sysDim
        let rowBytes = 4 * (columns + c.sysDim + (c.standardize ? columns : 0))
        let perModel = 4096 + 32 * columns
        let (w, o1) = weights.partialValue.multipliedReportingOverflow(by: perWeight)
        let (b, o2) = model.batchSize.multipliedReportingOverflow(by: rowBytes)
        guard !weights.overflow, !o1, !o2 else { return .max }
        let (sum, o3) = w.addingReportingOverflow(b)
        return o3 ? .max : sum.addingReportingOverflow(perModel).overflow ? .max : sum + perModel
    }
}

/// The machine's memory, for the defaults of `[limits]`.
package enum MachineMemory {
    /// Physical memory in bytes (`sysconf`), or 8 GiB if the system does not say.
    package static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : 8 << 30
    }()

    /// The default `limits.max_memory_bytes`: half the machine's memory.
    package static let defaultBudget = physicalBytes / 2
}
