// LiNeS (Wang et al., ICLR 2025, "Post-training Layer Scaling"): the merged update scaled by a
// coefficient that grows linearly with depth, α + β·i/(L−1) for block i of L, α outside the
// blocks (embeddings, final norm, lm_head). Shallow layers stay close to the base, which keeps
// general features; deep layers take the full update.

import AmalgamCore

public enum LiNeS: WholeModelMergeMethod {
    public typealias Statistics = LiNeSStatistics
    public static let name = "lines"
    public static let summary = "LiNeS: the merged task vector (sum or TIES), scaled α + β·i/(L−1) by block depth i"
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("beta", .global, doc: "coefficient growth from the first block to the last"),
        ParameterSpec("alpha", .global, optional: true,
                      doc: "coefficient of the first block and of non-block tensors; default (‖Σ τ‖₁ / ‖merged‖₁) / T, required with one model"),
        ParameterSpec("merged_vector", .global, .string, default: .string("sum"), doc: "`sum` (task arithmetic) or `ties` (model-wide trim, disjoint mean)"),
        ParameterSpec("density", .global, default: .number(0.2), range: 0...1, doc: "fraction kept by the TIES trim (merged_vector: ties)"),
    ]

    public static func validate(global: [String: ParameterValue], modelCount: Int) -> String? {
        guard case .string(let kind)? = global["merged_vector"], kind == "sum" || kind == "ties" else {
            return "merged_vector must be `sum` or `ties`, not '\(global["merged_vector"]?.description ?? "")'"
        }
        return modelCount == 1 && global["alpha"] == nil ? "alpha is required with one model (single-task LiNeS)" : nil
    }

    public static func statistics(_ scan: ModelScanner) throws(MergeError) -> LiNeSStatistics {
        let first = try scan.tensor(0).context
        let layers = scan.model.layerCount
            ?? (scan.model.tensors.compactMap { TaskVectors.blockIndex(of: $0.name, layers: 10_000) }.max().map { $0 + 1 } ?? 0)
        let ties: GlobalTIES? = first.global["merged_vector"] == .string("ties")
            ? try GlobalTIES.prepare(scan, density: first.number("density") ?? 0.2) : nil
        var alpha = first.number("alpha")
        if alpha == nil {
            let tasks = Double(scan.model.modelCount)
            let norms = try scan.sum { (tensor: TensorSet) throws(MergeError) -> [Double] in
                let vectors = tensor.taskVectors
                let sum = TaskVectors.sum(vectors)
                let merged = ties?.merge(vectors, disjointMean: true) ?? sum
                return [sum.reduce(0) { $0 + abs($1) }, merged.reduce(0) { $0 + abs($1) }]
            }
            guard norms[1] > 0 else {
                throw .numeric(tensor: "(whole model)", method: name, reason: "the merged task vector is zero, so alpha cannot be derived; set alpha")
            }
            alpha = norms[0] / norms[1] / tasks
        }
        return LiNeSStatistics(alpha: alpha ?? 0, layers: layers, ties: ties)
    }

    /// The coefficient of tensor `name`.
    static func coefficient(_ name: String, alpha: Double, beta: Double, layers: Int) -> Double {
        guard let block = TaskVectors.blockIndex(of: name, layers: layers) else { return alpha }
        return alpha + beta * (layers > 1 ? Double(block) / Double(layers - 1) : 1)
    }

    public static func merge(_ tensor: TensorSet, statistics: LiNeSStatistics) throws(MergeError) -> [[Double]] {
        let vectors = tensor.taskVectors
        let update = statistics.ties?.merge(vectors, disjointMean: true) ?? TaskVectors.sum(vectors)
        let scale = coefficient(tensor.name, alpha: statistics.alpha, beta: tensor.context.number("beta") ?? 0, layers: statistics.layers)
        return [tensor.applying(update, scale: scale)]
    }

    public static func report(_ statistics: LiNeSStatistics, modelNames: [String]) -> [String: ReportValue]? {
        ["method": .text(name), "alpha": .number(statistics.alpha), "blocks": .number(Double(statistics.layers))]
    }
}

public struct LiNeSStatistics: Sendable {
    /// α as given or derived.
    public let alpha: Double
    /// L, the number of blocks.
    public let layers: Int
    let ties: GlobalTIES?
}
