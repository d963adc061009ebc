// sce: Select, Calculate, Erase (FuseChat, Wan et al. 2024, arXiv 2408.07990).
//
//   τ_i = X_i − B
//   Select (select_topk < 1): at each position the population variance of the τ_i across
//     models; keep the ⌊count·select_topk⌋ positions of largest variance, where count is the
//     number of positions with non-zero variance; zero every τ_i elsewhere.
//   Calculate: c_i = mean(τ_i²) over the tensor, normalized to sum 1 (uniform if the sum < 1e-6).
//   Erase: TIES sign election on the unweighted τ (sum, 0 counted as +), mask_i = sign agreement.
//   out = B + Σ_i c_i τ_i mask_i / max(Σ_i c_i mask_i, 1e-6)
// The recipe's per-model weight, lambda and normalize are not used (as in mergekit).

import AmalgamCore
import AmalgamKernels

/// Variance-selected, mean-square-weighted, sign-erased task arithmetic.
public enum SCE: ChunkedMergeMethod {
    public static let name = "sce"
    public static let summary = "Keep high-variance positions, weight models by mean squared task vector, erase sign conflicts (FuseChat)."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("select_topk", .global, default: .number(1), range: 0...1, doc: "fraction of positions kept by variance"),
        ParameterSpec("int8_mask", .global, .bool, default: .bool(false), doc: "accepted for compatibility"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    /// Passes: with select_topk < 1, the count of non-zero variances and the rank selection of
    /// the kept positions (as TIES trims magnitudes); then the models' mean squares over the
    /// kept positions. The kernel recomputes variances and the keep mask block by block.
    public static func prepare(scan: TensorScanner, count n: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        guard hasBase else { throw .badInputs(tensor: context.tensorName, method: name, reason: "needs a base model") }
        let m = context.perModel.count
        let topk = context.number("select_topk") ?? 1
        var window: RankWindow?
        if topk < 1 {
            let nonzero = Int(scan.sum(width: 1) { chunk, sums in
                sums[0] += Double(variances(taskVectors(chunk)).lazy.filter { $0 != 0 }.count)
            }[0])
            let keep = Int(Double(nonzero) * topk)
            // Keep the `keep` largest variances (ties by index), zero every model elsewhere.
            window = RankWindow.make(count: n, dropLow: n - keep, dropHigh: 0, scan: scan,
                                     magnitude: { variances(taskVectors($0)) })
        }
        let selection = window
        let squares = scan.sum(width: m) { chunk, sums in
            let tau = kept(chunk, selection)
            for i in 0..<m { sums[i] += tau[i].reduce(0) { $0 + $1 * $1 } }
        }
        var weights = squares.map { $0 / Double(max(n, 1)) }
        let total = weights.reduce(0, +)
        weights = total < 1e-6 ? weights.map { _ in 1 / Double(m) } : weights.map { $0 / total }
        return Kernel(window: selection, weights: weights)
    }

    /// Per position, the population variance of the task vectors across models, in Float32.
    static func variances(_ tau: [[Double]]) -> [Float] { MergeKernels.populationVariances(tau) }

    /// The block's task vectors τ_i = X_i − B in Float64.
    static func taskVectors(_ chunk: ChunkInputs) -> [[Double]] {
        chunk.base.map { MergeKernels.taskVectors(chunk.models, base: $0) } ?? chunk.vectors(subtractBase: true)
    }

    /// The block's task vectors, zeroed outside the kept positions.
    static func kept(_ chunk: ChunkInputs, _ window: RankWindow?) -> [[Double]] {
        let tau = taskVectors(chunk)
        guard let window else { return tau }
        return MergeKernels.keeping(tau, window.keep(variances(tau), chunkStart: chunk.range.lowerBound))
    }

    struct Kernel: ChunkKernel {
        let window: RankWindow?
        let weights: [Double]
        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let base = chunk.base else { return [] }
            return MergeKernels.signConsensus(base: base, tau: SCE.kept(chunk, window), weights: weights)
        }
    }
}
