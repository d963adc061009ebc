// Generalized task arithmetic: the engine behind task_arithmetic, ties, dare_*, breadcrumbs* and
// della* (as in mergekit, which configures one engine eight ways).
//
// Per tensor, with base B and models X_i (i = 1..m):
//   1. δ_i = X_i − B                                   (task vectors)
//   2. δ_i ← sparsify(δ_i; density_i, gamma_i, epsilon_i), L1-rescaled when `rescale`
//   3. W_i = w_i δ_i
//   4. with sign consensus (TIES, arXiv 2306.01708):
//        s = sign(Σ_i W_i), with 0 counted as +;  mask_i = [sign(W_i) = s] (zeros never match)
//        merged = Σ_i W_i mask_i,   divisor = Σ_i w_i mask_i   (0 → 1)
//      without:  merged = Σ_i W_i,  divisor = Σ_i w_i          (|divisor| < 1e-8 → 1)
//   5. merged ← merged / divisor when `normalize`;  merged ← λ·merged
//   6. out = B + merged
// Everything is computed in Float64 per element from Float32 inputs and rounded once.
//
// Differences from mergekit (docs/methods.md): a density that keeps 0 elements zeroes the delta
// instead of crashing; breadcrumbs with ⌊γ·n⌋ = 0 drops no top elements instead of wiping the
// delta; the L1 rescale is computed in Float64 (no fp16 overflow); DARE/DELLA draw from the
// counter-based SeededRandom keyed by (seed, tensor, model), so results do not depend on threads.

import AmalgamCore

/// The configuration of one GTA method.
struct TaskArithmeticConfiguration: Sendable {
    let sparsification: Sparsification
    let consensus: Bool
    let defaultNormalize: Bool
    let defaultRescale: Bool
}

/// Shared declarations and the merge itself.
enum GeneralizedTaskArithmetic {
    static func parameters(_ configuration: TaskArithmeticConfiguration, extra: [ParameterSpec] = []) -> [ParameterSpec] {
        [
            ParameterSpec("weight", .perModel, doc: "weight of the model's task vector"),
            ParameterSpec("density", .perModel, default: .number(1), range: 0...1, doc: "fraction of the task vector kept"),
        ] + extra + [
            ParameterSpec("normalize", .global, .bool, default: .bool(configuration.defaultNormalize), doc: "divide by the sum of the (agreeing) weights"),
            ParameterSpec("rescale", .global, .bool, default: .bool(configuration.defaultRescale), doc: "L1-rescale each sparsified task vector to its original norm"),
            ParameterSpec("lambda", .global, default: .number(1), doc: "scale of the merged task vector"),
            ParameterSpec("int8_mask", .global, .bool, default: .bool(false), doc: "accepted for compatibility; masks are always exact here"),
        ]
    }

    static func merge(_ inputs: MergeInputs, context: MergeContext, configuration: TaskArithmeticConfiguration,
                      method: String) throws(MergeError) -> [Float] {
        guard let base = inputs.base else {
            throw .badInputs(tensor: context.tensorName, method: method, reason: "needs a base model")
        }
        if inputs.models.isEmpty { return base }
        let rescale = context.flag("rescale") ?? configuration.defaultRescale
        let rowLength = inputs.shape.rank >= 2 ? inputs.shape.dimensions.dropFirst().reduce(1, *) : max(base.count, 1)
        var weighted: [[Double]] = []
        var weights: [Double] = []
        for (i, model) in inputs.models.enumerated() {
            var delta = [Float](repeating: 0, count: base.count)
            for j in delta.indices { delta[j] = model[j] - base[j] }
            configuration.sparsification.apply(
                to: &delta, density: context.number("density", model: i) ?? 1, gamma: context.number("gamma", model: i) ?? 0,
                epsilon: context.number("epsilon", model: i) ?? 0, rescale: rescale, rowLength: rowLength,
                random: context.random(model: i))
            let w = context.number("weight", model: i) ?? 0
            weights.append(w)
            weighted.append(delta.map { w * Double($0) })
        }
        let normalize = context.flag("normalize") ?? configuration.defaultNormalize
        let lambda = context.number("lambda") ?? 1
        var out = [Float](repeating: 0, count: base.count)
        for j in out.indices {
            var merged = 0.0, divisor = 0.0
            if configuration.consensus {
                var total = 0.0
                for w in weighted { total += w[j] }
                let positive = total >= 0
                for (w, weight) in zip(weighted, weights) where w[j] != 0 && (w[j] > 0) == positive {
                    merged += w[j]
                    divisor += weight
                }
                if divisor == 0 { divisor = 1 }
            } else {
                for w in weighted { merged += w[j] }
                divisor = weights.reduce(0, +)
                if abs(divisor) < 1e-8 { divisor = 1 }
            }
            if normalize { merged /= divisor }
            out[j] = Float(Double(base[j]) + lambda * merged)
        }
        return out
    }
}
