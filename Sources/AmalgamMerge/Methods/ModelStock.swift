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
public enum ModelStock: MergeMethod {
    public static let name = "model_stock"
    public static let summary = "Average of the fine-tunes, interpolated toward the base by their mean pairwise angle."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(2)
    public static let parameters = [
        ParameterSpec("filter_wise", .global, .bool, default: .bool(false), doc: "one ratio per row instead of per tensor"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        guard let base = inputs.base, inputs.models.count >= 2 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and at least two other models")
        }
        let rowLength = (context.flag("filter_wise") ?? false) && inputs.shape.rank >= 2
            ? inputs.shape.dimensions.dropFirst().reduce(1, *) : max(base.count, 1)
        let n = Double(inputs.models.count)
        var out = [Float](repeating: 0, count: base.count)
        for rowStart in stride(from: 0, to: base.count, by: rowLength) {
            let row = rowStart..<min(rowStart + rowLength, base.count)
            var cosines = 0.0, pairs = 0
            for i in inputs.models.indices {
                for k in inputs.models.indices where k > i {
                    var dot = 0.0, ni = 0.0, nk = 0.0
                    for j in row {
                        let a = Double(inputs.models[i][j]) - Double(base[j])
                        let b = Double(inputs.models[k][j]) - Double(base[j])
                        dot += a * b
                        ni += a * a
                        nk += b * b
                    }
                    cosines += min(max(dot / max(ni.squareRoot() * nk.squareRoot(), 1e-6), -1), 1)
                    pairs += 1
                }
            }
            let c = cosines / Double(pairs)
            let t = n * c / (1 + (n - 1) * c)
            for j in row {
                var mean = 0.0
                for model in inputs.models { mean += Double(model[j]) }
                mean /= n
                out[j] = Float(t * mean + (1 - t) * Double(base[j]))
            }
        }
        return out
    }
}
