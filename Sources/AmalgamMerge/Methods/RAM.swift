// ram and ramplus_tl: Reinforced Agent Merging (arXiv 2601.13572).
//
//   τ_i = X_i − B;  active_i = |τ_i| > ε;  c = number of active models at a position
//   c = 0: out = B.   c = 1 (unique): out = B + τ_i.   c > 1 (shared): out = B + Σ_active τ_i / c
// ramplus_tl ("tensor-local") scales each model's unique contributions by
//   λ_i = 1 + r · clip(ρ_i, 0, α),  ρ_i = #(active and shared)_i / max(#(active and unique)_i, ε).

import AmalgamCore

/// Shared implementation: per element, counts of active models are local; ramplus_tl's
/// per-model shared/unique counts take one pass over the tensor.
enum ReinforcedAgentMerging {
    static func prepare(scan: TensorScanner, hasBase: Bool, context: MergeContext, method: String,
                        rescaleUnique: Bool) throws(MergeError) -> any ChunkKernel {
        guard hasBase else { throw .badInputs(tensor: context.tensorName, method: method, reason: "needs a base model") }
        let epsilon = context.number("epsilon") ?? 1e-5
        let m = context.perModel.count
        var lambdas = [Double](repeating: 1, count: m)
        if rescaleUnique {
            let r = context.number("r") ?? 0.1, alpha = context.number("alpha") ?? 0.2
            // Per model: changes shared with another model, changes unique to it.
            let counts = scan.sum(width: 2 * m) { chunk, sums in
                let tau = chunk.vectors(subtractBase: true)
                for j in 0..<chunk.range.count {
                    var active = 0
                    for t in tau where abs(t[j]) > epsilon { active += 1 }
                    for (i, t) in tau.enumerated() where abs(t[j]) > epsilon { sums[2 * i + (active > 1 ? 0 : 1)] += 1 }
                }
            }
            for i in 0..<m {
                let rho = counts[2 * i] / max(counts[2 * i + 1], epsilon)
                lambdas[i] = 1 + r * min(max(rho, 0), alpha)
            }
        }
        return Kernel(epsilon: epsilon, lambdas: lambdas)
    }

    struct Kernel: ChunkKernel {
        let epsilon: Double
        let lambdas: [Double]
        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let base = chunk.base else { return [] }
            let tau = chunk.vectors(subtractBase: true)
            return (0..<base.count).map { j in
                var active = 0
                for t in tau where abs(t[j]) > epsilon { active += 1 }
                var sum = 0.0
                for (i, t) in tau.enumerated() where abs(t[j]) > epsilon { sum += active == 1 ? lambdas[i] * t[j] : t[j] }
                return Float(Double(base[j]) + (active > 1 ? sum / Double(active) : sum))
            }
        }
    }
}

/// Reinforced Agent Merging.
public enum RAM: ChunkedMergeMethod {
    public static let name = "ram"
    public static let summary = "Keep changes unique to one model as they are, average changes several models share."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("epsilon", .global, default: .number(1e-5), doc: "changes at or below this magnitude count as none"),
    ]
    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }
    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        try ReinforcedAgentMerging.prepare(scan: scan, hasBase: hasBase, context: context, method: name, rescaleUnique: false)
    }
}

/// RAM with tensor-local rescaling of unique contributions.
public enum RAMPlusTL: ChunkedMergeMethod {
    public static let name = "ramplus_tl"
    public static let summary = "RAM, with each model's unique changes scaled up by its shared/unique ratio (tensor-local)."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("epsilon", .global, default: .number(1e-5), doc: "changes at or below this magnitude count as none"),
        ParameterSpec("r", .global, default: .number(0.1), doc: "strength of the unique-change rescaling"),
        ParameterSpec("alpha", .global, default: .number(0.2), doc: "clip of the shared/unique ratio"),
    ]
    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }
    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        try ReinforcedAgentMerging.prepare(scan: scan, hasBase: hasBase, context: context, method: name, rescaleUnique: true)
    }
}
