// Data-free interference removal by optimisation, one matrix at a time, with PyTorch's Adam:
// WUDI merging (Cheng et al., ICML 2025, "Whoever Started the Interference Should End It") and
// DOGE-TA (Wei et al., 2025, "Modeling Multi-Task Model Merging as Adaptive Projective Gradient
// Descent").

import AmalgamCore
import AmalgamKernels

/// WUDI: start from Σ τ and minimise Σ_t ‖(X − τ_t)·τ_tᵀ‖² / ‖τ_t‖² (each task's rows span the
/// inputs it was trained on, so the merged update should act on them as the task's own does).
public enum WUDI: WholeModelMergeMethod {
    public typealias Statistics = Void
    public static let name = "wudi"
    public static let summary = "WUDI merging: Adam on the task-subspace interference loss, from the task-arithmetic sum (matrices); mean elsewhere"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("iterations", .global, default: .number(400), range: 0...1_000_000, doc: "Adam steps per matrix"),
        ParameterSpec("learning_rate", .global, default: .number(1e-5), range: 0...1, doc: "Adam learning rate"),
    ]

    /// Per worker: the n×n Gram sum and one n×n Gram of the widest matrix, in Float64.
    public static func additionalMemory(_ model: ModelDescription, threads: Int) -> Int {
        let widest = model.tensors.filter { $0.shape.rank == 2 }.map { $0.shape.dimensions[1] }.max() ?? 0
        return threads * 2 * widest * widest * 8
    }

    public static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        let tasks = tensor.taskVectors
        guard tensor.isMatrix else { return [tensor.applying(TaskVectors.mean(tasks))] }
        let (m, n) = tensor.matrixSize
        // ∇ = 2·(X·G − B) with G = Σ_t τ_tᵀτ_t / ‖τ_t‖² (n×n) and B = Σ_t τ_t·τ_tᵀτ_t / ‖τ_t‖² (m×n).
        var g = [Double](repeating: 0, count: n * n)
        var b = [Double](repeating: 0, count: m * n)
        for task in tasks {
            let squaredNorm = task.reduce(0) { $0 + $1 * $1 }
            guard squaredNorm > 0 else { continue }  // a task that never touches the matrix adds no term
            let gram = Matrices.multiply(task, m, n, task, m, n, transposeA: true)
            let projected = Matrices.multiply(task, m, n, gram, n, n)
            for i in g.indices { g[i] += gram[i] / squaredNorm }
            for i in b.indices { b[i] += projected[i] / squaredNorm }
        }
        var x = TaskVectors.sum(tasks)
        var adam = Adam(count: x.count, learningRate: tensor.context.number("learning_rate") ?? 1e-5)
        for _ in 0..<Int(tensor.context.number("iterations") ?? 400) {
            var gradient = Matrices.multiply(x, m, n, g, n, n)
            for i in gradient.indices { gradient[i] = 2 * (gradient[i] - b[i]) }
            adam.update(&x, gradient: gradient)
        }
        return [tensor.applying(x)]
    }
}

/// DOGE-TA: per block matrix, a shared correction δ found by Adam on the row-wise interference
/// loss, with gradients projected off the dominant shared task subspace; then each task vector
/// plus δ, masked to the task's model-wide top-k entries, is added with weight λ/‖τ_t‖.
/// Only 2-D `.weight` tensors inside numbered blocks are merged; every other tensor keeps the
/// base value (FusionBench's CLIP key filter, carried over to decoder layers).
public enum DOGETA: WholeModelMergeMethod {
    public typealias Statistics = DOGETAStatistics
    public static let name = "doge_ta"
    public static let summary = "DOGE-TA: projected-gradient shared correction plus top-k task masks (block matrices); base elsewhere"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("subspace", .global, default: .number(6), range: 1...1_000_000, doc: "the projector keeps ⌊r/subspace⌋ shared directions"),
        ParameterSpec("k", .global, default: .number(30), range: 0...100, doc: "percent of each task's merged entries kept by its mask"),
        ParameterSpec("lambda", .global, default: .number(0.07), doc: "task weight numerator: λ_t = lambda / ‖τ_t‖"),
        ParameterSpec("iterations", .global, default: .number(400), range: 0...1_000_000, doc: "Adam steps per matrix"),
        ParameterSpec("learning_rate", .global, default: .number(1e-4), range: 0...1, doc: "Adam learning rate"),
    ]

    /// Whether a tensor is merged: a 2-D `.weight` inside a numbered block.
    static func isMerged(name: String, shape: Shape, layers: Int?) -> Bool {
        guard shape.rank == 2, name.hasSuffix(".weight") else { return false }
        if let layers { return TaskVectors.blockIndex(of: name, layers: layers) != nil }
        return name.split(separator: ".").contains { Int($0) != nil }
    }

    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> DOGETAStatistics {
        let layers = scan.model.layerCount
        let percent = try scan.tensor(0).context.number("k") ?? 30
        let thresholds = try TaskVectors.topMagnitudeThresholds(scan, keep: { d in Int((Double(d) * percent / 100).rounded(.down)) },
                                                                include: { isMerged(name: $0, shape: $1, layers: layers) })
        return DOGETAStatistics(thresholds: thresholds, layers: layers)
    }

    public static func merge(_ tensor: TensorSet, statistics: DOGETAStatistics) throws(MergeError) -> [[Double]] {
        guard isMerged(name: tensor.name, shape: tensor.shape, layers: statistics.layers) else { return [tensor.baseValues] }
        let thresholds = statistics.thresholds
        let context = tensor.context
        let tasks = tensor.taskVectors
        let (m, n) = tensor.matrixSize
        let r = min(m, n)
        let lambdas = tasks.map { task -> Double in
            let norm = task.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? (context.number("lambda") ?? 0.07) / norm : 0
        }
        // The projector onto the top ⌊r/subspace⌋ left singular vectors of the concatenated
        // per-task top-⌊r/T⌋ left singular vectors.
        var concatenated = [Double](repeating: 0, count: m * r)
        let perTask = r / tasks.count
        for (t, task) in tasks.enumerated() where perTask > 0 {
            let d = try Matrices.top(task, m, n, count: perTask, tensor: tensor.name, method: name)
            for i in 0..<perTask { for row in 0..<m { concatenated[row * r + t * perTask + i] = d.u[row * d.uColumns + i] } }
        }
        let shared = try Matrices.svd(concatenated, m, r, tensor: tensor.name, method: name)
        let q = min(r / max(Int(context.number("subspace") ?? 6), 1), shared.numericalRank)
        var basis = [Double](repeating: 0, count: m * q)
        for row in 0..<m { for j in 0..<q { basis[row * q + j] = shared.u[row * shared.uColumns + j] } }

        var s = [Double](repeating: 0, count: m * n)
        for (t, task) in tasks.enumerated() { for i in s.indices { s[i] += lambdas[t] * task[i] } }
        let c = lambdas.reduce(0, +)
        // rowsum_j = Σ_columns τ_j ⊙ (τ_j − S − c·δ) = a_j − c·Σ_columns τ_j ⊙ δ
        let offsets = tasks.map { task in (0..<m).map { row in (0..<n).reduce(0.0) { $0 + task[row * n + $1] * (task[row * n + $1] - s[row * n + $1]) } } }
        var delta = [Double](repeating: 0, count: m * n)
        var adam = Adam(count: delta.count, learningRate: context.number("learning_rate") ?? 1e-4)
        for _ in 0..<Int(context.number("iterations") ?? 400) {
            var gradient = [Double](repeating: 0, count: m * n)
            for (j, task) in tasks.enumerated() {
                for row in 0..<m {
                    var dot = 0.0
                    for column in 0..<n { dot += task[row * n + column] * delta[row * n + column] }
                    let rowSum = offsets[j][row] - c * dot
                    let factor = -2 * c * rowSum
                    for column in 0..<n { gradient[row * n + column] += factor * task[row * n + column] }
                }
            }
            if q > 0 {
                let projected = Matrices.multiply(basis, m, q, Matrices.multiply(basis, m, q, gradient, m, n, transposeA: true), q, n)
                for i in gradient.indices { gradient[i] -= projected[i] }
            }
            adam.update(&delta, gradient: gradient)
        }
        var merged = [Double](repeating: 0, count: m * n)
        for (t, task) in tasks.enumerated() {
            for i in merged.indices where abs(task[i]) >= thresholds[t] { merged[i] += lambdas[t] * (task[i] + delta[i]) }
        }
        return [tensor.applying(merged)]
    }
}

public struct DOGETAStatistics: Sendable {
    /// Per task: the model-wide magnitude threshold of its top-k mask (over the merged tensors).
    public let thresholds: [Double]
    /// `num_hidden_layers`, when known (which tensors are block tensors).
    public let layers: Int?
}
