// Element-wise selection and mask merges: MagMax (Marczak et al., ECCV 2024), TALL masks and
// Consensus merging (Wang et al., ICML 2024, "Localizing Task Information"), EMR-Merging
// (Huang et al., NeurIPS 2024). Every tensor gets the same element-wise rule.

import AmalgamCore

/// MagMax: per element, the task-vector entry of largest magnitude (the later task wins ties).
public enum MagMax: WholeModelMergeMethod {
    public typealias Statistics = Void
    public static let name = "magmax"
    public static let summary = "Per element, the task-vector entry of largest magnitude (later models win ties), scaled"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [ParameterSpec("scaling_factor", .global, default: .number(0.5), doc: "scale of the selected task vector")]

    public static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        var selected = tensor.taskVector(0)
        for t in 1..<tensor.models.count {
            let task = tensor.taskVector(t)
            for i in selected.indices where abs(task[i]) >= abs(selected[i]) { selected[i] = task[i] }
        }
        return [tensor.applying(selected, scale: tensor.context.number("scaling_factor") ?? 0.5)]
    }
}

/// TALL mask of task t: |τ_t| > λ·|mtv − τ_t|, element-wise and strict.
func tallMask(_ task: Double, _ mtv: Double, lambda: Double) -> Bool {
    abs(task) > lambda * abs(mtv - task)
}

/// TALL masks: one model per task, θ0 + m_t ⊙ Σ τ, where m_t keeps the entries the task
/// dominates. The report gives each task's kept fraction.
public enum TALLMasks: WholeModelMergeMethod {
    public typealias Statistics = [Double]
    public static let name = "tall_masks"
    public static let summary = "TALL masks: one model per task, the task-arithmetic sum restricted to the entries the task dominates"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let writesOneModelPerInput = true
    public static let parameters = [ParameterSpec("lambda", .global, default: .number(0.6), range: 0...1_000_000, doc: "mask threshold λ in |τ_t| > λ·|Σ τ − τ_t|")]

    /// Kept entries per task, then the element count.
    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> [Double] {
        try scan.sum { (tensor: TensorSet) throws(MergeError) -> [Double] in
            let tasks = tensor.taskVectors
            let mtv = TaskVectors.sum(tasks)
            let lambda = tensor.context.number("lambda") ?? 0.6
            return tasks.map { task in Double(task.indices.reduce(0) { $0 + (tallMask(task[$1], mtv[$1], lambda: lambda) ? 1 : 0) }) }
                + [Double(tensor.count)]
        }
    }

    public static func merge(_ tensor: TensorSet, statistics: [Double]) throws(MergeError) -> [[Double]] {
        let tasks = tensor.taskVectors
        let mtv = TaskVectors.sum(tasks)
        let lambda = tensor.context.number("lambda") ?? 0.6
        return tasks.map { task in
            tensor.applying(task.indices.map { tallMask(task[$0], mtv[$0], lambda: lambda) ? mtv[$0] : 0 })
        }
    }

    public static func report(_ statistics: [Double], modelNames: [String]) -> [String: ReportValue]? {
        guard let total = statistics.last, total > 0 else { return nil }
        return ["method": .text(name),
                "kept_fraction": .object(Dictionary(uniqueKeysWithValues: zip(modelNames, statistics.dropLast().map { .number($0 / total) })))]
    }
}

/// The TIES merge of the TALL repository and FusionBench, with its trim over the whole model:
/// per task, keep the entries at or above the task's global top-`density` magnitude; elect
/// signs per element (a zero sum takes the sign of the model-wide sum of signs); keep the
/// entries that agree; sum them (dis-sum) or average the non-zero ones (dis-mean).
struct GlobalTIES: Sendable {
    let thresholds: [Double]
    let fallbackSign: Double

    static func prepare(_ scan: ModelScanner, density: Double) throws(MergeError) -> GlobalTIES {
        let thresholds = try TaskVectors.topMagnitudeThresholds(scan) { d in Int((Double(d) * density).rounded(.down)) }
        let partial = GlobalTIES(thresholds: thresholds, fallbackSign: 0)
        let signSum = try scan.sum { (tensor: TensorSet) throws(MergeError) -> [Double] in
            let sums = TaskVectors.sum(partial.trimmed(tensor.taskVectors))
            return [sums.reduce(0) { $0 + TaskVectors.sign($1) }]
        }
        return GlobalTIES(thresholds: thresholds, fallbackSign: TaskVectors.sign(signSum.first ?? 0))
    }

    func trimmed(_ tasks: [[Double]]) -> [[Double]] {
        tasks.enumerated().map { t, task in task.map { abs($0) >= thresholds[t] ? $0 : 0 } }
    }

    /// The merged task vector of one tensor.
    func merge(_ tasks: [[Double]], disjointMean: Bool) -> [Double] {
        let trimmed = trimmed(tasks)
        let sums = TaskVectors.sum(trimmed)
        var merged = [Double](repeating: 0, count: sums.count)
        for i in merged.indices {
            let sign = sums[i] != 0 ? TaskVectors.sign(sums[i]) : fallbackSign
            var total = 0.0, count = 0
            for task in trimmed where sign > 0 ? task[i] > 0 : task[i] < 0 {
                total += task[i]
                count += 1
            }
            merged[i] = disjointMean ? total / Double(max(count, 1)) : total
        }
        return merged
    }
}

/// Consensus merging: the multi-task vector restricted to the entries at least `k` tasks' TALL
/// masks keep. `consensus_ta` builds it from the task-arithmetic sum, `consensus_ties` from TIES.
public enum ConsensusTA: WholeModelMergeMethod {
    public typealias Statistics = Void
    public static let name = "consensus_ta"
    public static let summary = "Consensus merge: the task-arithmetic sum, keeping entries that at least k tasks' TALL masks select"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = consensusParameters

    static let consensusParameters = [
        ParameterSpec("lambda", .global, default: .number(0.6), range: 0...1_000_000, doc: "TALL mask threshold λ"),
        ParameterSpec("k", .global, default: .number(2), range: 0...1_000_000, doc: "minimum number of tasks whose mask keeps an entry"),
        ParameterSpec("scaling_factor", .global, default: .number(0.4), doc: "scale of the kept multi-task vector"),
    ]

    public static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        let tasks = tensor.taskVectors
        return [consensus(tensor, tasks: tasks, mtv: TaskVectors.sum(tasks))]
    }

    static func consensus(_ tensor: TensorSet, tasks: [[Double]], mtv: [Double]) -> [Double] {
        let lambda = tensor.context.number("lambda") ?? 0.6
        let k = Int(tensor.context.number("k") ?? 2)
        let kept = mtv.indices.map { i in
            tasks.reduce(0) { $0 + (tallMask($1[i], mtv[i], lambda: lambda) ? 1 : 0) } >= k ? mtv[i] : 0
        }
        return tensor.applying(kept, scale: tensor.context.number("scaling_factor") ?? 0.4)
    }
}

public enum ConsensusTIES: WholeModelMergeMethod {
    public typealias Statistics = GlobalTIESStatistics
    public static let name = "consensus_ties"
    public static let summary = "Consensus merge on a TIES multi-task vector (global top-density trim, sign election, disjoint sum)"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = ConsensusTA.consensusParameters + [
        ParameterSpec("density", .global, default: .number(0.2), range: 0...1, doc: "fraction of each task vector kept by the model-wide TIES trim"),
    ]

    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> GlobalTIESStatistics {
        let density = try scan.tensor(0).context.number("density") ?? 0.2
        return GlobalTIESStatistics(ties: try GlobalTIES.prepare(scan, density: density))
    }

    public static func merge(_ tensor: TensorSet, statistics: GlobalTIESStatistics) throws(MergeError) -> [[Double]] {
        let tasks = tensor.taskVectors
        return [ConsensusTA.consensus(tensor, tasks: tasks, mtv: statistics.ties.merge(tasks, disjointMean: false))]
    }

    public static func report(_ statistics: GlobalTIESStatistics, modelNames: [String]) -> [String: ReportValue]? {
        ["method": .text(name), "trim_threshold": .object(Dictionary(uniqueKeysWithValues: zip(modelNames, statistics.ties.thresholds.map { .number($0) })))]
    }
}

/// Model-wide TIES thresholds and the fallback sign (opaque to callers).
public struct GlobalTIESStatistics: Sendable {
    let ties: GlobalTIES
}

/// EMR-Merging: one elected unified task vector (sign of the sum, largest agreeing magnitude),
/// then per task a mask of the entries that agree with it and a rescaler that restores the
/// task's mean magnitude.
public enum EMR: WholeModelMergeMethod {
    /// Per task: Σ over tensors of mean|τ_t|, then Σ over tensors of mean|τ_uni ⊙ m_t|, then kept entries; then the element count.
    public typealias Statistics = [Double]
    public static let name = "emr"
    public static let summary = "EMR-Merging: elected unified task vector, per-task masks and rescalers; one model per task"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let writesOneModelPerInput = true
    public static let parameters: [ParameterSpec] = []

    /// (unified vector, masks) of one tensor. A zero sum elects the negative sign.
    static func elect(_ tasks: [[Double]]) -> (unified: [Double], masks: [[Bool]]) {
        let sums = TaskVectors.sum(tasks)
        let signs = sums.map { $0 > 0 ? 1.0 : -1.0 }
        let masks = tasks.map { task in task.indices.map { task[$0] * signs[$0] > 0 } }
        var unified = [Double](repeating: 0, count: sums.count)
        for i in unified.indices {
            var largest = 0.0
            for (t, task) in tasks.enumerated() where masks[t][i] { largest = max(largest, abs(task[i])) }
            unified[i] = signs[i] * largest
        }
        return (unified, masks)
    }

    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> [Double] {
        try scan.sum { (tensor: TensorSet) throws(MergeError) -> [Double] in
            let tasks = tensor.taskVectors
            let (unified, masks) = elect(tasks)
            let n = Double(max(tensor.count, 1))
            let taskMeans = tasks.map { $0.reduce(0) { $0 + abs($1) } / n }
            let maskedMeans = masks.map { mask in mask.indices.reduce(0) { $0 + (mask[$1] ? abs(unified[$1]) : 0) } / n }
            let kept = masks.map { Double($0.reduce(0) { $0 + ($1 ? 1 : 0) }) }
            return taskMeans + maskedMeans + kept + [Double(tensor.count)]
        }
    }

    static func rescalers(_ statistics: [Double]) -> [Double] {
        let tasks = (statistics.count - 1) / 3
        // A task with no elected entries has nothing to rescale; 1 keeps its output at the base.
        return (0..<tasks).map { statistics[tasks + $0] > 0 ? statistics[$0] / statistics[tasks + $0] : 1 }
    }

    public static func merge(_ tensor: TensorSet, statistics: [Double]) throws(MergeError) -> [[Double]] {
        let (unified, masks) = elect(tensor.taskVectors)
        let gamma = rescalers(statistics)
        return masks.enumerated().map { t, mask in
            tensor.applying(unified.indices.map { mask[$0] ? unified[$0] * gamma[t] : 0 })
        }
    }

    public static func report(_ statistics: [Double], modelNames: [String]) -> [String: ReportValue]? {
        let tasks = (statistics.count - 1) / 3
        let total = max(statistics.last ?? 1, 1)
        return ["method": .text(name),
                "rescaler": .object(Dictionary(uniqueKeysWithValues: zip(modelNames, rescalers(statistics).map { .number($0) }))),
                "kept_fraction": .object(Dictionary(uniqueKeysWithValues: zip(modelNames, (0..<tasks).map { .number(statistics[2 * tasks + $0] / total) })))]
    }
}
