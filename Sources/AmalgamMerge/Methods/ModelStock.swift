// model_stock: average the fine-tunes, then pull the average toward the base by a ratio set by
// the angle between the task vectors (Jang et al. 2024, "Model Stock", arXiv 2403.19522).
//
//   d_i = W_i − W_0                       (N ≥ 2 fine-tunes, W_0 the base)
//   c   = mean over pairs i < j of cos(d_i, d_j), with |d_i||d_j| clamped at 1e-6, c in [−1, 1]
//   t   = N c / (1 + (N − 1) c)
//   out = t · mean_i W_i + (1 − t) · W_0
//
// | parameter   | scope  | default |
// | filter_wise | global | false   |  (true: one ratio per row; a 1-D tensor is one row)

import AmalgamCore

/// Model Stock.
public enum ModelStock: ChunkedMergeMethod {
    public static let name = "model_stock"
    public static let summary = "Average of the fine-tunes, interpolated toward the base by their mean pairwise angle."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(2)
    public static let parameters = [
        ParameterSpec("filter_wise", .global, .bool, default: .bool(false), doc: "one ratio per row instead of per tensor"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    /// Per tensor: one Gram pass over the task vectors gives the ratio. Filter-wise: rows are
    /// whole inside every block, so the kernel finds each row's ratio itself.
    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        let m = context.perModel.count
        guard hasBase, m >= 2 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and at least two other models")
        }
        if (context.flag("filter_wise") ?? false) && shape.rank >= 2 {
            return Kernel(rowLength: shape.dimensions.dropFirst().reduce(1, *), ratio: nil)
        }
        return Kernel(rowLength: nil, ratio: ratio(TensorGram.compute(scan, models: m, subtractBase: true)))
    }

    /// t = N c / (1 + (N − 1) c) from the task vectors' Gram matrix.
    static func ratio(_ g: [[Double]]) -> Double {
        let n = g.count
        var cosines = 0.0, pairs = 0
        for i in 0..<n {
            for k in (i + 1)..<n {
                cosines += min(max(g[i][k] / max(g[i][i].squareRoot() * g[k][k].squareRoot(), 1e-6), -1), 1)
                pairs += 1
            }
        }
        let c = cosines / Double(pairs)
        return Double(n) * c / (1 + Double(n - 1) * c)
    }

    struct Kernel: ChunkKernel {
        /// Filter-wise: the row length (each row gets its own ratio).
        let rowLength: Int?
        /// Per tensor: the ratio.
        let ratio: Double?

        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let base = chunk.base else { return [] }
            let n = base.count, models = chunk.models
            var out = [Float](repeating: 0, count: n)
            let length = rowLength ?? max(n, 1)
            let tau = ratio == nil ? chunk.vectors(subtractBase: true) : []
            for rowStart in stride(from: 0, to: n, by: length) {
                let row = rowStart..<min(rowStart + length, n)
                let t = ratio ?? ModelStock.ratio(TensorGram.of(tau, over: row))
                for j in row {
                    var mean = 0.0
                    for model in models { mean += Double(model[j]) }
                    mean /= Double(models.count)
                    out[j] = Float(t * mean + (1 - t) * Double(base[j]))
                }
            }
            return out
        }
    }
}
