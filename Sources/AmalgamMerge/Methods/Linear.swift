// linear: a weighted average of the input models (Model Soups, Wortsman et al. 2022, arXiv 2203.05482).
//
//   out = Σ_i w_i X_i            (normalize: false)
//   out = Σ_i w_i X_i / Σ_i w_i  (normalize: true, the default)
//
// | parameter | scope     | default  |
// | weight    | per model | required |
// | normalize | global    | true     |
//
// The base model is not an input. Edge case: with normalize and weights summing to exactly 0
// mergekit divides by zero (Inf/NaN); Amalgam refuses with an error naming the tensor.

import AmalgamCore
import AmalgamKernels

/// Weighted average.
public enum Linear: ChunkedMergeMethod {
    public static let name = "linear"
    public static let summary = "Weighted average of the models (Model Soups)."
    public static let baseModel = BaseModelRequirement.unused
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("weight", .perModel, doc: "weight of the model in the sum"),
        ParameterSpec("normalize", .global, .bool, default: .bool(true), doc: "divide by the sum of the weights"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        let weights = context.perModel.indices.map { context.number("weight", model: $0) ?? 0 }
        var divisor = 1.0
        if context.flag("normalize") ?? true {
            divisor = weights.reduce(0, +)
            guard divisor != 0 else {
                throw .numeric(tensor: context.tensorName, method: name, reason: "weights sum to 0, cannot normalize")
            }
        }
        return WeightedSum(weights: weights.map { $0 / divisor })
    }

    struct WeightedSum: ChunkKernel {
        let weights: [Double]
        func merge(_ chunk: ChunkInputs) -> [Float] { weightedSum(chunk.models, weights: weights) }
    }
}

/// Σ_i w_i x_i, accumulated in Float64 per element and rounded to Float32 once.
func weightedSum(_ tensors: [[Float]], weights: [Double]) -> [Float] {
    MergeKernels.weightedSum(tensors, weights: weights)
}
