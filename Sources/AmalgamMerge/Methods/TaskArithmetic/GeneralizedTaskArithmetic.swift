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
// Per element in Float32 (a few terms per element), rounded once to the output dtype. Chunked: magnitude cuts and L1 norms
// come from streaming passes (ChunkedMerge.swift), then every chunk is merged independently.
//
// Differences from mergekit (docs/methods.md): a density that keeps 0 elements zeroes the delta
// instead of crashing; breadcrumbs with ⌊γ·n⌋ = 0 drops no top elements instead of wiping the
// delta; the L1 rescale is computed in Float64 (no fp16 overflow); DARE/DELLA draw from the
// counter-based SeededRandom keyed by (seed, tensor, model, element), so results do not depend on
// threads, chunking or tensor order.

import AmalgamCore
import AmalgamKernels

/// The configuration of one GTA method (opaque outside this module).
public struct TaskArithmeticConfiguration: Sendable {
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

    static func prepare(scan: TensorScanner, count n: Int, shape: Shape, hasBase: Bool, context: MergeContext,
                        configuration: TaskArithmeticConfiguration, method: String) throws(MergeError) -> any ChunkKernel {
        guard hasBase else { throw .badInputs(tensor: context.tensorName, method: method, reason: "needs a base model") }
        let models = context.perModel.count
        let rowLength = shape.rank >= 2 ? shape.dimensions.dropFirst().reduce(1, *) : max(n, 1)
        let plans = configuration.sparsification.plans(
            count: n, densities: (0..<models).map { context.number("density", model: $0) ?? 1 },
            gammas: (0..<models).map { context.number("gamma", model: $0) ?? 0 },
            epsilons: (0..<models).map { context.number("epsilon", model: $0) ?? 0 },
            rowLength: rowLength, randoms: (0..<models).map { context.random(model: $0) }, scan: scan,
            magnitudes: { chunk in (0..<models).map { i in magnitudes(chunk, model: i) } },
            counter: { chunk, i, low, high, between in
                MergeKernels.bracketCounts(differenceOf: chunk.models[i], chunk.base ?? [], low: low, high: high, between: &between)
            })
        var factors = [Double](repeating: 1, count: models)
        let rescale = context.flag("rescale") ?? configuration.defaultRescale
        var memo: BlockMemo<[[UInt64]?]>?
        if rescale && configuration.sparsification != .none {
            let frozen = plans
            // Random and DELLA masks cost more to draw than to keep: the norm pass keeps them,
            // packed, for the merge pass (n/8 bytes per model), up to `maskMemoBytes`.
            let drawn = frozen.map { !$0.keepsAll && ($0.rule == .random || $0.rule == .dellaMagprune) }
            let keeping = drawn.contains(true) && n / 8 * drawn.filter { $0 }.count <= maskMemoBytes
            let store = keeping ? BlockMemo<[[UInt64]?]>() : nil
            let sums = scan.sum(width: 2 * frozen.count) { chunk, out in
                var words = [[UInt64]?](repeating: nil, count: frozen.count)
                for (i, plan) in frozen.enumerated() {
                    let size = magnitudes(chunk, model: i)
                    let keep = plan.keep(magnitudes: size, start: chunk.range.lowerBound)
                    let (total, kept) = MergeKernels.maskedL1(size, keep: keep)
                    out[2 * i] += total
                    out[2 * i + 1] += kept
                    if drawn[i] { words[i] = MergeKernels.packFlags(keep) }
                }
                store?.store(words, at: chunk.range.lowerBound)
            }
            memo = store
            for i in 0..<models where sums[2 * i] >= 1e-7 && sums[2 * i + 1] >= 1e-7 { factors[i] = sums[2 * i] / sums[2 * i + 1] }
        }
        return Kernel(plans: plans, masks: memo, factors: factors, weights: (0..<models).map { context.number("weight", model: $0) ?? 0 },
                      consensus: configuration.consensus, normalize: context.flag("normalize") ?? configuration.defaultNormalize,
                      lambda: context.number("lambda") ?? 1)
    }

    /// |δ_i| of one chunk.
    static func magnitudes(_ chunk: ChunkInputs, model i: Int) -> [Float] {
        guard let b = chunk.base else { return chunk.models[i].map { abs($0) } }
        return MergeKernels.absoluteDifference(chunk.models[i], b)
    }

    /// The most memory the norm pass may use to keep drawn masks for the merge pass: 128 MiB.
    static let maskMemoBytes = 128 << 20

    struct Kernel: ChunkKernel {
        let plans: [SparsificationPlan]
        /// Masks the norm pass drew, per block start and model, each taken once (nil: draw again).
        let masks: BlockMemo<[[UInt64]?]>?
        let factors: [Double]
        let weights: [Double]
        let consensus: Bool
        let normalize: Bool
        let lambda: Double

        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let base = chunk.base else { return [] }
            let n = base.count
            let drawn = masks?.take(at: chunk.range.lowerBound)
            let rules = plans.indices.map { i in
                if let words = drawn?[i] { return KeepRule.mask(MergeKernels.unpackFlags(words, count: n)) }
                return plans[i].keepRule(count: n, magnitudes: magnitudes(chunk, model: i), start: chunk.range.lowerBound)
            }
            let scales = plans.indices.map { Float(weights[$0] * factors[$0]) }
            if consensus {
                return MergeKernels.taskVectorConsensus(base: base, models: chunk.models, rules: rules, scales: scales,
                                                        weights: weights.map { Float($0) }, normalize: normalize, lambda: Float(lambda))
            }
            let weightSum = weights.reduce(0, +)
            let divisor = normalize ? (abs(weightSum) < 1e-8 ? 1 : weightSum) : 1
            return MergeKernels.taskVectorSum(base: base, models: chunk.models, rules: rules, scales: scales, factor: Float(lambda / divisor))
        }
    }
}
