import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamKernels
import AmalgamMerge
import AmalgamRecipe
import AmalgamTestSupport
import Foundation
import Testing

@Suite("Chunked execution")
struct ChunkedExecutionTests {
    /// Writes a one-tensor checkpoint `w` of shape [rows, 1024] with seeded values (ties included).
    static func writeModel(_ path: String, rows: Int, seed: UInt64) throws -> [Float] {
        var generator = SeededGenerator(seed: seed)
        let values = (0..<rows * 1024).map { _ in Float(Int.random(in: -64...64, using: &generator)) / 64 }
        let writer = try CheckpointWriter(destination: path, tensors: [PlannedTensor(name: "w", dtype: .float32, shape: [rows, 1024])],
                                          maxShardBytes: nil, overwrite: false)
        try writer.write("w", Tensor(float32: values, shape: [rows, 1024], dtype: .float32))
        try writer.finish()
        return values
    }

    @Test("Tensors spanning several chunks merge exactly as the whole-tensor path does, at 1 and 2 threads",
          arguments: ["ties", "dare_ties", "breadcrumbs_ties", "della", "task_arithmetic", "slerp", "linear", "ties large", "breadcrumbs large"])
    func chunkedEqualsWhole(argument: String) throws {
        let folder = TemporaryDirectory()
        // 23,552 elements in blocks of 4 rows: six blocks. "large": 1,105,920 elements, enough for
        // the sampled-bracket rank selection (its ties are heavy: 129 levels).
        let method = String(argument.split(separator: " ")[0]), large = argument.hasSuffix("large")
        let rows = large ? 1080 : 23
        let base = try Self.writeModel(folder.child("base"), rows: rows, seed: 1)
        let a = try Self.writeModel(folder.child("a"), rows: rows, seed: 2)
        let b = try Self.writeModel(folder.child("b"), rows: rows, seed: 3)
        let pairwise = ["slerp"].contains(method)
        let parameters: String = switch method {
        case "slerp": "parameters: {t: 0.3}\n"
        case "linear", "task_arithmetic": ""
        default: "parameters: {density: 0.4, epsilon: 0.1, gamma: 0.05}\n"
        }
        let models = pairwise ? "  - model: \(folder.child("a"))\n" : "  - model: \(folder.child("a"))\n    parameters: {weight: 0.7}\n  - model: \(folder.child("b"))\n    parameters: {weight: 0.4}\n"
        let text = "merge_method: \(method)\nbase_model: \(folder.child("base"))\n" + parameters
            .replacingOccurrences(of: ", gamma: 0.05", with: method.hasPrefix("breadcrumbs") ? ", gamma: 0.05" : "")
            .replacingOccurrences(of: ", epsilon: 0.1", with: method == "della" ? ", epsilon: 0.1" : "") + "models:\n" + models
        var outputs: [[Float]] = []
        for threads in [1, 2] {
            let recipe = try RecipeParser().parse(text, path: "r.yaml")
            var options = MergeOptions()
            options.threads = threads
            options.seed = 5
            options.chunkElements = large ? 16_384 : 4096
            options.workElements = large ? 1 << 18 : 8192   // two blocks per work item, three items (small case)
            let plan = try Planner().plan(recipe, output: folder.child("out\(threads)"), options: options)
            try StreamingExecutor().execute(plan, output: folder.child("out\(threads)"), options: options)
            outputs.append(try Checkpoint(opening: folder.child("out\(threads)")).tensor(named: "w").float32Values())
        }
        #expect(outputs[0] == outputs[1], "1 and 2 threads")
        // The whole-tensor path on the same inputs and resolved parameters.
        let recipe = try RecipeParser().parse(text, path: "r.yaml")
        let plan = try Planner().plan(recipe, output: nil, options: MergeOptions())
        let step = plan.tensors[0]
        let whole = try plan.method.merge(MergeInputs(base: base, models: pairwise ? [a] : [a, b], shape: step.shape),
                                          context: MergeContext(tensorName: "w", global: step.global, perModel: step.perModel, seed: 5))
        if method == "slerp" || method == "linear" {
            // One pass of Float64 sums over chunks vs one over the whole tensor: equal to rounding.
            #expect(zip(whole, outputs[0]).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($0)) })
        } else {
            #expect(whole == outputs[0])
        }
        #expect(StreamingExecutor.chunkSize(for: [23, 1024], target: 4096) == 4096)
        #expect(StreamingExecutor.chunkSize(for: [3, 5000], target: 4096) == 5000, "at least one whole row")
    }
}
