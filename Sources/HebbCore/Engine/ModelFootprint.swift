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
/// A model with uncertainty adds its statistics and posterior factors (``uncertaintyBytes(of:)``): O(d²·s), which
/// is what makes it off by default for the sparse kinds.
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
        guard !o3 else { return .max }
        let (total, o4) = sum.addingReportingOverflow(perModel)
        guard !o4 else { return .max }
        guard model.publishesUncertainty else { return total }
        let (withUncertainty, o5) = total.addingReportingOverflow(uncertaintyBytes(of: model))
        return o5 ? .max : withUncertainty
    }

    /// The uncertainty's bytes (a bayesian model, or a sparse one with `uncertainty = true`): the raw co-moments of
    /// [x, y] (8·(d+s)²), the posterior's factors — a bayesian model caches one d × d Cholesky factor per output
    /// (8·d²·s) and forms it from a Gram and a precision matrix (16·d²); a sparse model's refit forms the same for its
    /// active set, d at most, one output at a time (24·d², counted though transient) — the batch's centred rows
    /// (8·(d+s) per row), the marginal-variance scratch (8·d²) and the three published bands, std, lower, upper
    /// (4·d·s each, and their text: 3 × 14 bytes in JSON). A bayesian model has no circuit, so counting the circuit's
    /// per-coefficient state as well only errs on the safe side.
    package static func uncertaintyBytes(of model: ModelConfiguration) -> Int {
        let d = model.circuit.dictDim, s = model.circuit.sysDim
        let columns = d.addingReportingOverflow(s)
        let (dd, o1) = d.multipliedReportingOverflow(by: d)
        let (square, o2) = columns.partialValue.multipliedReportingOverflow(by: columns.partialValue)
        let factors = model.isBayesian ? dd.multipliedReportingOverflow(by: s) : (partialValue: dd, overflow: false)
        let (bands, o3) = d.multipliedReportingOverflow(by: s)
        guard !columns.overflow, !o1, !o2, !factors.overflow, !o3 else { return .max }
        let doubles = [square, factors.partialValue, 3 * dd, model.batchSize * columns.partialValue]
        var total = 0
        for n in doubles {
            let (bytes, overflow) = n.multipliedReportingOverflow(by: 8)
            guard !overflow else { return .max }
            total = total.addingReportingOverflow(bytes).partialValue
        }
        return total.addingReportingOverflow(bands * (12 + 42)).partialValue
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
