// OPCM (Tang et al., 2025, "Merging Models on the Fly Without Retraining: A Sequential Approach
// to Scalable Continual Model Merging"): models arrive one at a time. Each new task vector is
// projected, for every linear weight, off the singular directions of the running merge (its
// whole diagonal, and the top block holding `alpha` of the spectrum), added to the decayed running
// merge, and the sum is rescaled so that its norm is the running mean of the task-vector norms.
//
// The running merge is a state over the whole model, so it is kept in memory as Float64: 8 bytes
// per parameter (docs/methods.md). Tensors are processed `threads` at a time within each step.

import AmalgamCore
import AmalgamKernels
import Foundation

public enum OPCM: WholeModelMergeMethod {
    public typealias Statistics = OPCMState
    public static let name = "opcm"
    public static let summary = "Orthogonal projection continual merging, in the order of `models` (linear weights projected; others added)"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(2)
    public static let parameters = [
        ParameterSpec("alpha", .global, default: .number(0.5), range: 0...1, doc: "spectrum fraction of the running merge protected from later tasks"),
    ]

    /// The running merge: 8 bytes per parameter.
    public static func additionalMemory(_ model: ModelDescription, threads: Int) -> Int {
        TaskVectors.elementCount(model) * 8
    }

    /// The weights of linear layers: 2-D tensors other than embeddings.
    static func isLinearWeight(_ tensor: TensorSet) -> Bool {
        let name = tensor.name
        return tensor.isMatrix && !name.contains("embed") && !name.hasSuffix("wte.weight") && !name.hasSuffix("wpe.weight")
    }

    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> OPCMState {
        let tasks = scan.model.modelCount
        let alpha = try scan.tensor(0).context.number("alpha") ?? 0.5
        // One pass for every task vector's squared norm (summed in tensor order) and the first
        // task vector, the running merge's start; then one pass per later model, reading the
        // base and that model only.
        let (squares, first) = try scan.reduce(into: ([Double](), [[Double]]()), { (tensor: TensorSet) throws(MergeError) -> ([Double], [Double]) in
            let vectors = tensor.taskVectors
            return (vectors.map { $0.reduce(0) { $0 + $1 * $1 } }, vectors[0])
        }, { (total: inout ([Double], [[Double]]), part: ([Double], [Double])) throws(MergeError) in
            ModelScanner.add(part.0, into: &total.0)
            total.1.append(part.1)
        })
        let norms = squares.map { $0.squareRoot() }
        let state = OPCMState(first)
        var decay = 1.0
        for j in 1..<tasks {
            let average = norms[0...j].reduce(0, +) / Double(j + 1)
            let step = state.step
            let currentDecay = decay
            let squaredNorm = try scan.reduce(into: 0.0, models: .only([j]), { (tensor: TensorSet) throws(MergeError) -> (Int, [Double], Double) in
                let merged = state.values(tensor.index, step: step)
                let task = tensor.taskVector(j)
                let added = isLinearWeight(tensor) ? try project(task, off: merged, tensor: tensor, alpha: alpha) : task
                let next = zip(merged, added).map { currentDecay * $0 + $1 }
                return (tensor.index, next, next.reduce(0) { $0 + $1 * $1 })
            }, { (total: inout Double, result: (Int, [Double], Double)) throws(MergeError) in
                state.store(result.1, at: result.0)
                total += result.2
            })
            let norm = squaredNorm.squareRoot()
            guard norm > 0 else { throw .numeric(tensor: "(whole model)", method: name, reason: "the merged task vector is zero after model \(j + 1)") }
            decay = norm / average
            state.finishStep(scale: average / norm)
        }
        return state
    }

    /// τ minus its components along the running merge's singular pairs: every diagonal pair
    /// (u_i, v_i) and the top-left block of the pairs that hold `alpha` of the spectrum.
    static func project(_ task: [Double], off merged: [Double], tensor: TensorSet, alpha: Double) throws(MergeError) -> [Double] {
        let (m, n) = tensor.matrixSize
        let d = try Matrices.svd(merged, m, n, tensor: tensor.name, method: name)
        let r = d.numericalRank
        guard r > 0 else { return task }
        let total = d.s.reduce(0, +)
        var cumulative = 0.0
        var split = 0
        for i in 0..<d.rank {
            cumulative += d.s[i]
            if cumulative / total > alpha { split = i; break }
        }
        // C = Uᵀ·τ·V over the first r pairs, of which only the diagonal and the top-left
        // split×split block are removed: T = τ·V (m×k), c_ii = u_iᵀ·T_i, C_s = U_sᵀ·T_s.
        let k = d.rank
        let t = Matrices.multiply(task, m, n, d.vt, d.vtRows, n, transposeB: true)   // m × k
        let s = min(split, r)
        // W = U·C (m×k): column i is c_ii·u_i plus, for i < s, the block's U_s·C_s column.
        var weighted = [Double](repeating: 0, count: m * k)
        if s > 0 {
            var us = [Double](repeating: 0, count: m * s)
            var ts = [Double](repeating: 0, count: m * s)
            for row in 0..<m {
                for j in 0..<s {
                    us[row * s + j] = d.u[row * d.uColumns + j]
                    ts[row * s + j] = t[row * k + j]
                }
            }
            var block = Matrices.multiply(us, m, s, ts, m, s, transposeA: true)   // s × s
            for i in 0..<s { block[i * s + i] = 0 }   // the diagonal is added below, for all r
            let product = Matrices.multiply(us, m, s, block, s, s)                // m × s
            for row in 0..<m { for j in 0..<s { weighted[row * k + j] = product[row * s + j] } }
        }
        var diagonal = [Double](repeating: 0, count: r)
        for row in 0..<m { for i in 0..<r { diagonal[i] += d.u[row * d.uColumns + i] * t[row * k + i] } }
        for row in 0..<m { for i in 0..<r { weighted[row * k + i] += diagonal[i] * d.u[row * d.uColumns + i] } }
        let removed = Matrices.multiply(weighted, m, k, d.vt, k, n)
        return zip(task, removed).map { $0 - $1 }
    }

    /// The output is base + the running merge: no input model is read again.
    public static var mergeReads: ModelSelection { .only([]) }

    public static func merge(_ tensor: TensorSet, statistics: OPCMState) throws(MergeError) -> [[Double]] {
        [tensor.applying(statistics.values(tensor.index, step: statistics.step))]
    }
}

/// The running merge of every tensor, stored unscaled with one pending global scale.
public final class OPCMState: @unchecked Sendable {
    // `@unchecked Sendable`: every access goes through `lock`.
    private let lock = NSLock()
    private var stored: [[Double]]
    private var scale = 1.0
    private(set) var step = 0

    init(_ values: [[Double]]) { stored = values }

    /// Tensor `index` of the running merge (scale applied). `step` guards against reading a
    /// tensor already overwritten by the step in progress.
    func values(_ index: Int, step expected: Int) -> [Double] {
        lock.lock()
        let (values, scale, step) = (stored[index], self.scale, self.step)
        lock.unlock()
        precondition(step == expected, "OPCM state read out of step")
        return scale == 1 ? values : values.map { $0 * scale }
    }

    func store(_ values: [Double], at index: Int) {
        lock.lock()
        stored[index] = values
        lock.unlock()
    }

    /// Ends a step: what was stored is scaled by `scale` from now on.
    func finishStep(scale: Double) {
        lock.lock()
        self.scale = scale
        step += 1
        lock.unlock()
    }
}
