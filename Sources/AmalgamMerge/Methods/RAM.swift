// ram and ramplus_tl: Reinforced Agent Merging (arXiv 2601.13572).
//
//   τ_i = X_i − B;  active_i = |τ_i| > ε;  c = number of active models at a position
//   c = 0: out = B.   c = 1 (unique): out = B + τ_i.   c > 1 (shared): out = B + Σ_active τ_i / c
// ramplus_tl ("tensor-local") scales each model's unique contributions by
//   λ_i = 1 + r · clip(ρ_i, 0, α),  ρ_i = #(active and shared)_i / max(#(active and unique)_i, ε).

import AmalgamCore

/// Shared implementation.
enum ReinforcedAgentMerging {
    static func merge(_ inputs: MergeInputs, context: MergeContext, method: String, rescaleUnique: Bool) throws(MergeError) -> [Float] {
        guard let base = inputs.base else { throw .badInputs(tensor: context.tensorName, method: method, reason: "needs a base model") }
        let n = base.count
        let epsilon = context.number("epsilon") ?? 1e-5
        let tau = inputs.models.map { model in (0..<n).map { Double(model[$0]) - Double(base[$0]) } }
        var counts = [Int](repeating: 0, count: n)
        for t in tau { for j in 0..<n where abs(t[j]) > epsilon { counts[j] += 1 } }
        var lambdas = [Double](repeating: 1, count: tau.count)
        if rescaleUnique {
            let r = context.number("r") ?? 0.1, alpha = context.number("alpha") ?? 0.2
            for (i, t) in tau.enumerated() {
                var shared = 0, unique = 0
                for j in 0..<n where abs(t[j]) > epsilon {
                    if counts[j] > 1 { shared += 1 } else { unique += 1 }
                }
                let rho = Double(shared) / max(Double(unique), epsilon)
                lambdas[i] = 1 + r * min(max(rho, 0), alpha)
            }
        }
        var out = [Float](repeating: 0, count: n)
        for j in 0..<n {
            var sum = 0.0
            for (i, t) in tau.enumerated() where abs(t[j]) > epsilon { sum += counts[j] == 1 ? lambdas[i] * t[j] : t[j] }
            out[j] = Float(Double(base[j]) + (counts[j] > 1 ? sum / Double(counts[j]) : sum))
        }
        return out
    }
}

/// Reinforced Agent Merging.
public enum RAM: MergeMethod {
    public static let name = "ram"
    public static let summary = "Keep changes unique to one model as they are, average changes several models share."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("epsilon", .global, default: .number(1e-5), doc: "changes at or below this magnitude count as none"),
    ]
    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try ReinforcedAgentMerging.merge(inputs, context: context, method: name, rescaleUnique: false)
    }
}

/// RAM with tensor-local rescaling of unique contributions.
public enum RAMPlusTL: MergeMethod {
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
        try ReinforcedAgentMerging.merge(inputs, context: context, method: name, rescaleUnique: true)
    }
}
