// PCB-Merging (Du et al., NeurIPS 2024, "Parameter Competition Balancing"): each entry is weighted
// by its importance within its task (intra: squashed magnitude) times its agreement with the other
// tasks (inter: tanh of the entry times the column sum); only the top `ratio` of each task's
// weights survive, and the merged entry is the weighted average of the clamped task vectors.
//
// Every statistic is over the whole model, one row per task. The clamps and the top-ratio cut
// are exact order statistics, found by streaming radix selection (a few passes over the inputs,
// no copy of the model in memory).

import AmalgamCore
import Foundation

public enum PCB: WholeModelMergeMethod {
    public typealias Statistics = PCBStatistics
    public static let name = "pcb"
    public static let summary = "Parameter competition balancing: intra- and inter-task importance weights, top-ratio per task, weighted mean"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("ratio", .global, default: .number(0.1), range: 0...1, doc: "fraction of each task's entries that get a non-zero weight"),
        ParameterSpec("scaling_factor", .global, default: .number(1), doc: "scale of the merged task vector"),
        ParameterSpec("clamp_ratio", .global, default: .number(0.0001), range: 0...0.5, doc: "fraction clamped at each end of every task's magnitudes"),
    ]

    /// ⌊d·fraction⌋ taken of the Float64 product, as the reference does.
    static func index(_ d: Int, _ fraction: Double) -> Int { Int((Double(d) * fraction).rounded(.down)) }

    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> PCBStatistics {
        let context = try scan.tensor(0).context
        let d = TaskVectors.elementCount(scan.model)
        let tasks = scan.model.modelCount
        let clamp = context.number("clamp_ratio") ?? 0.0001
        let ratio = context.number("ratio") ?? 0.1
        let clampRanks = [index(d, clamp), index(d, 1 - clamp) - 1]
        let magnitudes = try OrderStatistics.select(scan, ranks: [[Int]](repeating: clampRanks, count: tasks)) { (tensor: TensorSet) throws(MergeError) -> [[Double]] in
            tensor.taskVectors.map { $0.map(abs) }
        }
        let partial = PCBStatistics(magnitudeRange: magnitudes.map { ($0[0], $0[1]) }, weightRange: [])
        let weightRanks = [index(d, 1 - ratio), index(d, 1) - 1]
        let weights = try OrderStatistics.select(scan, ranks: [[Int]](repeating: weightRanks, count: tasks)) { (tensor: TensorSet) throws(MergeError) -> [[Double]] in
            partial.rawWeights(tensor.taskVectors)
        }
        return PCBStatistics(magnitudeRange: partial.magnitudeRange, weightRange: weights.map { ($0[0], $0[1]) })
    }

    public static func merge(_ tensor: TensorSet, statistics: PCBStatistics) throws(MergeError) -> [[Double]] {
        let tasks = tensor.taskVectors
        let raw = statistics.rawWeights(tasks)
        var merged = [Double](repeating: 0, count: tensor.count)
        for i in merged.indices {
            var numerator = 0.0, denominator = 0.0
            for t in tasks.indices {
                let (lo, hi) = statistics.weightRange[t]
                let weight = PCBStatistics.minMax(min(max(raw[t][i], lo), hi), lo, hi)
                let (magnitudeLo, magnitudeHi) = statistics.magnitudeRange[t]
                numerator += TaskVectors.sign(tasks[t][i]) * min(max(abs(tasks[t][i]), magnitudeLo), magnitudeHi) * weight
                denominator += weight
            }
            merged[i] = numerator / max(denominator, 1e-12)
        }
        return [tensor.applying(merged, scale: tensor.context.number("scaling_factor") ?? 1)]
    }
}

public struct PCBStatistics: Sendable {
    /// Per task: the clamp bounds of |τ| (also the row min and max after clamping).
    public let magnitudeRange: [(Double, Double)]
    /// Per task: the top-ratio cut and the maximum of intra ⊙ inter.
    public let weightRange: [(Double, Double)]

    /// (x − lo)/(hi − lo); 0 when the range is empty.
    static func minMax(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
        hi > lo ? (x - lo) / (hi - lo) : 0
    }

    /// intra ⊙ inter per task: exp(T·minmax(clamp|τ_t|)²) · tanh(τ_t ⊙ Σ_s τ_s).
    func rawWeights(_ tasks: [[Double]]) -> [[Double]] {
        let columnSums = TaskVectors.sum(tasks)
        let count = Double(tasks.count)
        return tasks.enumerated().map { t, task in
            let (lo, hi) = magnitudeRange[t]
            return task.indices.map { i in
                let scaled = PCBStatistics.minMax(min(max(abs(task[i]), lo), hi), lo, hi)
                return exp(count * scaled * scaled) * tanh(task[i] * columnSums[i])
            }
        }
    }
}
