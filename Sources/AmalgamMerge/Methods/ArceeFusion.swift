// arcee_fusion: keep the other model's changes only where they matter most (Arcee, "MergeKit
// v0.1" release).
//
//   δ   = X − B
//   KL  = Σ_row p log(p/q), p = softmax_row(X) + 1e-8, q = softmax_row(B) + 1e-8   (rows: last dimension)
//   I   = |δ| ⊙ KL  (each row's KL broadcast along the row)
//   τ   = median(I) + 1.5 · (q75(I) − q25(I))   (quantile q: the sorted element at ⌊q·(n−1)⌋)
//   out = B + δ ⊙ [I ≥ τ]
// Computed in Float64, so the mask does not depend on rounding noise. Differences from mergekit:
// quantiles are exact over all elements (mergekit samples 10^6 elements of larger tensors without
// a seed), and the result keeps the recipe's dtype (mergekit always writes float32, its #604).

import AmalgamCore
import Foundation

/// Importance-masked fusion of one model into the base.
public enum ArceeFusion: MergeMethod {
    public static let name = "arcee_fusion"
    public static let summary = "Add the other model's changes only where |δ| times the row's softmax KL divergence is an outlier."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.exactly(1)
    public static let parameters: [ParameterSpec] = []

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        guard let base = inputs.base, let model = inputs.models.first else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and one other model")
        }
        let n = base.count
        let rowLength = max(inputs.shape.dimensions.last ?? n, 1)
        var importance = [Double](repeating: 0, count: n)
        for start in stride(from: 0, to: n, by: rowLength) {
            let row = start..<min(start + rowLength, n)
            let p = softmax(model, row), q = softmax(base, row)
            var kl = 0.0
            for k in p.indices { kl += (p[k] + 1e-8) * log((p[k] + 1e-8) / (q[k] + 1e-8)) }
            for j in row { importance[j] = abs(Double(model[j]) - Double(base[j])) * kl }
        }
        let sorted = importance.sorted()
        let threshold = quantile(sorted, 0.5) + 1.5 * (quantile(sorted, 0.75) - quantile(sorted, 0.25))
        var out = [Float](repeating: 0, count: n)
        for j in 0..<n { out[j] = importance[j] >= threshold ? model[j] : base[j] }
        return out
    }

    /// Softmax of `values[range]` in Float64.
    static func softmax(_ values: [Float], _ range: Range<Int>) -> [Double] {
        let peak = range.map { Double(values[$0]) }.max() ?? 0
        let exps = range.map { exp(Double(values[$0]) - peak) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }

    /// Quantile q of sorted values: the element at ⌊q·(n−1)⌋, no interpolation (mergekit's rule;
    /// checked bit for bit against the arcee_fusion_f64 golden, which interpolation fails).
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[Int(q * Double(sorted.count - 1))]
    }
}
