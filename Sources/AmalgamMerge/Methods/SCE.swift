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

/// Variance-selected, mean-square-weighted, sign-erased task arithmetic.
public enum SCE: MergeMethod {
    public static let name = "sce"
    public static let summary = "Keep high-variance positions, weight models by mean squared task vector, erase sign conflicts (FuseChat)."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("select_topk", .global, default: .number(1), range: 0...1, doc: "fraction of positions kept by variance"),
        ParameterSpec("int8_mask", .global, .bool, default: .bool(false), doc: "accepted for compatibility"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        guard let base = inputs.base else { throw .badInputs(tensor: context.tensorName, method: name, reason: "needs a base model") }
        let n = base.count
        let m = inputs.models.count
        var tau = inputs.models.map { model in (0..<n).map { Double(model[$0]) - Double(base[$0]) } }
        let topk = context.number("select_topk") ?? 1
        if topk < 1 {
            var variance = [Float](repeating: 0, count: n)
            for j in 0..<n {
                var mean = 0.0
                for i in 0..<m { mean += tau[i][j] }
                mean /= Double(m)
                var sum = 0.0
                for i in 0..<m { sum += (tau[i][j] - mean) * (tau[i][j] - mean) }
                variance[j] = Float(sum / Double(m))
            }
            let nonzero = variance.filter { $0 != 0 }.count
            let keep = Int(Double(nonzero) * topk)
            // Keep the `keep` largest variances (ties by index), zero every model elsewhere.
            let chunk = ChunkInputs(range: 0..<n, base: nil, models: [variance])
            let window = RankWindow.make(count: n, dropLow: n - keep, dropHigh: 0, scan: TensorScanner.single(chunk),
                                         magnitude: { $0.models[0] })
            let kept = window.keep(variance, chunkStart: 0)
            for i in 0..<m { for j in 0..<n where !kept[j] { tau[i][j] = 0 } }
        }
        var weights = tau.map { t in t.reduce(0) { $0 + $1 * $1 } / Double(max(n, 1)) }
        let total = weights.reduce(0, +)
        weights = total < 1e-6 ? weights.map { _ in 1 / Double(m) } : weights.map { $0 / total }
        var out = [Float](repeating: 0, count: n)
        for j in 0..<n {
            var sum = 0.0
            for i in 0..<m { sum += tau[i][j] }
            let positive = sum >= 0
            var merged = 0.0, divisor = 0.0
            for i in 0..<m where tau[i][j] != 0 && (tau[i][j] > 0) == positive {
                merged += weights[i] * tau[i][j]
                divisor += weights[i]
            }
            out[j] = Float(Double(base[j]) + merged / max(divisor, 1e-6))
        }
        return out
    }
}
