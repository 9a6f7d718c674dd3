#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import HebbianRegression

/// The memory a model takes, estimated from its configuration before anything is allocated, so that a model
/// too big for `[limits]` is refused instead of freezing the daemon while it allocates gigabytes.
///
/// What a model costs for as long as it runs, per coefficient: W, the gradient, the optimiser's step sizes and the
/// publish encoder's copy of the coefficients (4 bytes each), Adam's two moments (8), with `epochs > 1` the
/// divergence guard's copies of W and the moments (4 + 8; one step is judged before it writes, so it needs no
/// copy), a fitted prior's per-coefficient arrays and their moments (24), and the published messages: the latest
/// (the last-value cache) and the one being encoded while libzmq may still send it — in JSON each is allocated at
/// 16 bytes per value, the longest number and its comma, of which only the written part is touched (2 × 16); in
/// binary, two float32 frames (2 × 4).
///
/// Transient, counted because a daemon's resident set keeps its peak (glibc keeps freed memory in the arena of the
/// thread that freed it, and the checkpoint thread, libzmq's I/O thread and the engine thread each have one):
/// - while a checkpoint is written, 4 copies of the state it saves (W, the moments, a fitted prior): the snapshot's
///   own (copy on write, when the engine learns during the write), the encoded payload, the read-back that proves
///   the file before it reaches the disk, and the file itself;
/// - per batch row: the batch buffer (allocated only when a message brings part of a batch, counted anyway), the
///   residual and, with `standardize`, the standardised copy; and the journal's two copies of an ingest message that
///   brings one batch (its record's frames and the encoded record).
/// The ingest message in flight itself (libzmq's frame, up to `max_message_bytes`) belongs to the fixed base.
///
/// A model with uncertainty adds its statistics and posterior factors (``uncertaintyBytes(of:)``): O(d²·s), which
/// is what makes it off by default for the sparse kinds.
///
/// Re-measured against real daemons by `Benchmarks/footprint.py` (VmHWM growth after `add`, 3 updates published to
/// a subscriber and a checkpoint, per shape and kind), which prints docs/OPERATIONS.md's memory table and marks ✘
/// where this estimate falls below what a model costs (alone, and with the scratch all models share).
package enum ModelFootprint {
    /// Bytes per coefficient for the state that scales with W (see the type's documentation for each term).
    package static func bytesPerWeight(adam: Bool, fittedPrior: Bool, jsonPublish: Bool = true, guardCopies: Bool = false) -> Int {
        let saved = 4 + (adam ? 8 : 0) + (fittedPrior ? 24 : 0)
        let working = 4 + 4 + 4
        let guardCopies = guardCopies ? 4 + (adam ? 8 : 0) : 0
        let published = jsonPublish ? 2 * 16 : 2 * 4
        let checkpoint = 4 * saved
        return saved + working + guardCopies + published + checkpoint
    }

    /// The estimated bytes of `model`.
    package static func bytes(of model: ModelConfiguration, publishFormat: PublishFormat) -> Int {
        let c = model.circuit
        let weights = c.dictDim.multipliedReportingOverflow(by: c.sysDim)
        let perWeight = bytesPerWeight(adam: c.optimizer == .adam, fittedPrior: c.prior?.fitHyper == true,
                                       jsonPublish: publishFormat == .json, guardCopies: c.epochs > 1)
        let columns = c.dictDim + c.sysDim
        // The batch buffer, the residual, the standardised copy, and the journal's two copies of a one-batch message.
        let rowBytes = 4 * (columns + c.sysDim + (c.standardize ? columns : 0)) + 2 * 4 * columns
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
    /// [x, y] (8·(d+s)²), the posterior's factors — a bayesian model caches one d × d matrix per output, the
    /// covariance or, on the exact path (`fit_noise`, `standardize`), the Cholesky factor (8·d²·s), and forms it from a
    /// Gram and a precision matrix (16·d²); a sparse model's refit forms the same for its active set, d at most, one
    /// output at a time (24·d², counted though transient) — the batch's centred rows, and the rows a bayesian model
    /// holds until they reach its statistics in one block (8·(d+s) per row, for the larger of `batch_size` and
    /// ``BayesianRegression/pendingBlock``), the marginal-variance scratch (8·d²) and the three published bands, std, lower, upper
    /// (4·d·s each, and their text: 3 × 14 bytes in JSON). A bayesian model has no circuit, so counting the circuit's
    /// per-coefficient state as well only errs on the safe side. Transient, while a checkpoint is written: 8 times
    /// the co-moments (64·(d+s)²) — the file's two copies of them, and the read-back that proves the file, which
    /// passes them through JSON values (measured ~50 MiB for the 8 MiB of a 1024×4 model).
    package static func uncertaintyBytes(of model: ModelConfiguration) -> Int {
        let d = model.circuit.dictDim, s = model.circuit.sysDim
        let columns = d.addingReportingOverflow(s)
        let (dd, o1) = d.multipliedReportingOverflow(by: d)
        let (square, o2) = columns.partialValue.multipliedReportingOverflow(by: columns.partialValue)
        let factors = model.isBayesian ? dd.multipliedReportingOverflow(by: s) : (partialValue: dd, overflow: false)
        let (bands, o3) = d.multipliedReportingOverflow(by: s)
        guard !columns.overflow, !o1, !o2, !factors.overflow, !o3 else { return .max }
        let (checkpointCopies, o4) = square.multipliedReportingOverflow(by: 8)
        guard !o4 else { return .max }
        let doubles = [square, factors.partialValue, 3 * dd, max(model.batchSize, BayesianRegression.pendingBlock) * columns.partialValue, checkpointCopies]
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
