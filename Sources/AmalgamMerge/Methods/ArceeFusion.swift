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
public enum ArceeFusion: ChunkedMergeMethod {
    public static let name = "arcee_fusion"
    public static let summary = "Add the other model's changes only where |δ| times the row's softmax KL divergence is an outlier."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.exactly(1)
    public static let parameters: [ParameterSpec] = []

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    /// Rows (the last dimension) lie inside every block, so each row's KL divergence comes from
    /// one pass over the blocks and is kept (one Float64 per row); the three quartiles of the
    /// importance are then exact order statistics over the tensor (streaming passes that need
    /// only |δ| and the kept divergences, no more softmaxes).
    public static func prepare(scan: TensorScanner, count n: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        guard hasBase, context.perModel.count == 1 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and one other model")
        }
        let rowLength = max(shape.dimensions.last ?? n, 1)
        guard n > 0 else { return Kernel(rowLength: rowLength, divergences: [], threshold: 0) }
        let perRow = scan.map { divergences($0, rowLength: rowLength) }.flatMap { $0 }
        let ranks = [0.5, 0.75, 0.25].map { Int($0 * Double(n - 1)) }
        let q = TensorOrderStatistics.select(scan, count: n, ranks: ranks) {
            importance($0, rowLength: rowLength, divergences: perRow)
        }
        return Kernel(rowLength: rowLength, divergences: perRow, threshold: q[0] + 1.5 * (q[1] - q[2]))
    }

    /// KL(softmax(X) ‖ softmax(B)) of every row of the block (blocks hold whole rows).
    static func divergences(_ chunk: ChunkInputs, rowLength: Int) -> [Double] {
        guard let base = chunk.base else { return [] }
        let model = chunk.models[0]
        return stride(from: 0, to: base.count, by: rowLength).map { start in
            let row = start..<min(start + rowLength, base.count)
            let p = softmax(model, row), q = softmax(base, row)
            var kl = 0.0
            for k in p.indices { kl += (p[k] + 1e-8) * log((p[k] + 1e-8) / (q[k] + 1e-8)) }
            return kl
        }
    }

    /// |δ| times its row's divergence, for every element of the block; `divergences` holds one
    /// value per row of the tensor.
    static func importance(_ chunk: ChunkInputs, rowLength: Int, divergences: [Double]) -> [Double] {
        guard let base = chunk.base else { return [] }
        let model = chunk.models[0], firstRow = chunk.range.lowerBound / rowLength
        var out = [Double](repeating: 0, count: base.count)
        for (r, start) in stride(from: 0, to: base.count, by: rowLength).enumerated() {
            let kl = divergences[firstRow + r]
            for j in start..<min(start + rowLength, base.count) { out[j] = abs(Double(model[j]) - Double(base[j])) * kl }
        }
        return out
    }

    struct Kernel: ChunkKernel {
        let rowLength: Int
        let divergences: [Double]
        let threshold: Double
        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let base = chunk.base else { return [] }
            let model = chunk.models[0]
            let importance = ArceeFusion.importance(chunk, rowLength: rowLength, divergences: divergences)
            return base.indices.map { importance[$0] >= threshold ? model[$0] : base[$0] }
        }
    }

    /// Softmax of `values[range]` in Float64.
    static func softmax(_ values: [Float], _ range: Range<Int>) -> [Double] {
        let peak = range.map { Double(values[$0]) }.max() ?? 0
        let exps = range.map { exp(Double(values[$0]) - peak) }
        let total = exps.reduce(0, +)
        return exps.map { $0 / total }
    }
}
