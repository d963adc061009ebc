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

    /// Writes a checkpoint of four tensors `t0` … `t3`, each [rows, 1024], with seeded values.
    static func writeFourTensors(_ path: String, rows: Int, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        let names = (0..<4).map { "t\($0)" }
        let writer = try CheckpointWriter(destination: path, tensors: names.map { PlannedTensor(name: $0, dtype: .bfloat16, shape: [rows, 1024]) },
                                          maxShardBytes: nil, overwrite: false)
        for name in names {
            let values = (0..<rows * 1024).map { _ in Float(Int.random(in: -64...64, using: &generator)) / 64 }
            try writer.write(name, Tensor(float32: values, shape: [rows, 1024], dtype: .bfloat16))
        }
        try writer.finish()
    }

    @Test("The next tensor's statistics passes run while this one streams: same bytes at 1 and 2 threads",
          arguments: ["ties", "dare_ties", "della", "sce"])
    func lookaheadPreparation(method: String) throws {
        let folder = TemporaryDirectory()
        for (name, seed) in [("base", UInt64(1)), ("a", 2), ("b", 3)] { try Self.writeFourTensors(folder.child(name), rows: 40, seed: seed) }
        var text = "merge_method: \(method)\nbase_model: \(folder.child("base"))\nparameters: {density: 0.4, epsilon: 0.1}\n"
            .replacingOccurrences(of: ", epsilon: 0.1", with: method == "della" ? ", epsilon: 0.1" : "")
            .replacingOccurrences(of: "{density: 0.4}", with: method == "sce" ? "{select_topk: 0.5}" : "{density: 0.4}")
            + "models:\n  - model: \(folder.child("a"))\n    parameters: {weight: 0.7}\n  - model: \(folder.child("b"))\n    parameters: {weight: 0.4}\n"
        text = method == "sce" ? text.replacingOccurrences(of: "\n    parameters: {weight: 0.7}", with: "").replacingOccurrences(of: "\n    parameters: {weight: 0.4}", with: "") : text
        var outputs: [[[Float]]] = []
        for threads in [1, 2] {
            var options = MergeOptions()
            options.threads = threads
            options.seed = 9
            options.chunkElements = 4096
            options.workElements = 8192
            let plan = try Planner().plan(try RecipeParser().parse(text, path: "r.yaml"), output: folder.child("out\(threads)"), options: options)
            try StreamingExecutor().execute(plan, output: folder.child("out\(threads)"), options: options)
            let merged = try Checkpoint(opening: folder.child("out\(threads)"))
            outputs.append(try (0..<4).map { try merged.tensor(named: "t\($0)").float32Values() })
        }
        #expect(outputs[0] == outputs[1])
    }

    @Test("An error in the tensor prepared ahead names that tensor and leaves no output")
    func lookaheadError() throws {
        let folder = TemporaryDirectory()
        for (name, seed) in [("a", UInt64(2)), ("b", 3)] { try Self.writeFourTensors(folder.child(name), rows: 40, seed: seed) }
        // Weights that sum to 0 for t2 only: normalizing fails there, after t0 and t1 were written.
        let text = """
            merge_method: linear
            models:
              - model: \(folder.child("a"))
                parameters:
                  weight:
                    - filter: t2
                      value: 1
                    - value: 0.5
              - model: \(folder.child("b"))
                parameters:
                  weight:
                    - filter: t2
                      value: -1
                    - value: 0.5
            """
        var options = MergeOptions()
        options.threads = 2
        let plan = try Planner().plan(try RecipeParser().parse(text, path: "r.yaml"), output: folder.child("out"), options: options)
        #expect {
            try StreamingExecutor().execute(plan, output: folder.child("out"), options: options)
        } throws: { error in
            "\(error)".contains("t2") && "\(error)".contains("sum to 0")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.child("out")))
    }

    /// Writes a one-tensor checkpoint `w` of shape [values.count / 1024, 1024].
    static func write(_ path: String, _ values: [Float]) throws {
        let shape: Shape = [values.count / 1024, 1024]
        let writer = try CheckpointWriter(destination: path, tensors: [PlannedTensor(name: "w", dtype: .float32, shape: shape)],
                                          maxShardBytes: nil, overwrite: false)
        try writer.write("w", Tensor(float32: values, shape: shape, dtype: .float32))
        try writer.finish()
    }

    @Test("Methods with whole-tensor statistics stream in blocks: same bytes at 1 and 2 threads, and their whole-tensor formulas",
          arguments: ["model_stock", "model_stock filter_wise", "nuslerp", "nuslerp rows", "nuslerp row_wise", "nuslerp nobase",
                      "multislerp", "multislerp nobase", "karcher", "sce", "sce topk", "sce topk large", "ram", "ramplus_tl",
                      "arcee_fusion", "arcee_fusion large"])
    func streamedMatchesWholeFormula(argument: String) throws {
        let folder = TemporaryDirectory()
        let words = argument.split(separator: " ").map(String.init)
        let method = words[0], variant = words.count > 1 ? words[1] : "", large = argument.hasSuffix("large")
        // 23,552 elements in blocks of 4 rows (six blocks), or 1,105,920 in blocks of 16 rows.
        let n = (large ? 1080 : 23) * 1024
        var generator = SeededGenerator(seed: 11)
        let base = (0..<n).map { _ in Float(Int.random(in: -64...64, using: &generator)) / 64 }
        // Fine-tunes: the base changed at about a third of the positions (so changes are unique
        // to one model, shared, or absent, and many variances are zero).
        let models = (0..<3).map { _ in
            base.map { x in Int.random(in: 0..<3, using: &generator) == 0 ? x + Float(Int.random(in: -8...8, using: &generator)) / 64 : x }
        }
        try Self.write(folder.child("base"), base)
        for (i, model) in models.enumerated() { try Self.write(folder.child("m\(i)"), model) }
        let usesBase = !["karcher"].contains(method) && variant != "nobase"
        let modelCount = ["nuslerp"].contains(method) ? 2 : (method == "arcee_fusion" ? 1 : 3)
        let weights = [0.7, 0.4, 0.2]
        let parameters: String = switch argument {
        case "model_stock filter_wise": "parameters: {filter_wise: true}\n"
        case "nuslerp rows": "parameters: {nuslerp_flatten: false}\n"
        case "nuslerp row_wise": "parameters: {nuslerp_flatten: false, nuslerp_row_wise: true}\n"
        case "sce topk", "sce topk large": "parameters: {select_topk: 0.6}\n"
        default: ""
        }
        let weighted = ["nuslerp", "multislerp"].contains(method)
        var text = "merge_method: \(method)\n" + (usesBase ? "base_model: \(folder.child("base"))\n" : "") + parameters + "models:\n"
        for i in 0..<modelCount {
            text += "  - model: \(folder.child("m\(i)"))\n" + (weighted ? "    parameters: {weight: \(weights[i])}\n" : "")
        }
        var outputs: [[Float]] = []
        for threads in [1, 2] {
            var options = MergeOptions()
            options.threads = threads
            options.chunkElements = large ? 16_384 : 4096
            options.workElements = large ? 1 << 18 : 8192
            let plan = try Planner().plan(try RecipeParser().parse(text, path: "r.yaml"), output: folder.child("out\(threads)"), options: options)
            try StreamingExecutor().execute(plan, output: folder.child("out\(threads)"), options: options)
            outputs.append(try Checkpoint(opening: folder.child("out\(threads)")).tensor(named: "w").float32Values())
        }
        #expect(outputs[0] == outputs[1], "1 and 2 threads")
        let inputs = Array(models.prefix(modelCount))
        let t = weights[1] / (weights[0] + weights[1])
        let expected: [Float] = switch argument {
        case "model_stock": WholeTensorReference.modelStock(base: base, models: inputs, rowLength: n)
        case "model_stock filter_wise": WholeTensorReference.modelStock(base: base, models: inputs, rowLength: 1024)
        case "nuslerp": WholeTensorReference.nuslerp(base: base, models: inputs, t: t, vectors: [Array(0..<n)])
        case "nuslerp nobase": WholeTensorReference.nuslerp(base: nil, models: inputs, t: t, vectors: [Array(0..<n)])
        case "nuslerp rows":
            WholeTensorReference.nuslerp(base: base, models: inputs, t: t, vectors: stride(from: 0, to: n, by: 1024).map { Array($0..<$0 + 1024) })
        case "nuslerp row_wise":
            WholeTensorReference.nuslerp(base: base, models: inputs, t: t, vectors: (0..<1024).map { k in Array(stride(from: k, to: n, by: 1024)) })
        case "multislerp": WholeTensorReference.multislerp(base: base, models: inputs, weights: weights)
        case "multislerp nobase": WholeTensorReference.multislerp(base: nil, models: inputs, weights: weights)
        case "karcher": WholeTensorReference.karcher(models: inputs)
        case "sce": WholeTensorReference.sce(base: base, models: inputs, topk: 1)
        case "sce topk", "sce topk large": WholeTensorReference.sce(base: base, models: inputs, topk: 0.6)
        case "ram": WholeTensorReference.ram(base: base, models: inputs, rescale: nil)
        case "ramplus_tl": WholeTensorReference.ram(base: base, models: inputs, rescale: (0.1, 0.2))
        default: WholeTensorReference.arceeFusion(base: base, model: inputs[0], rowLength: 1024)
        }
        if method == "arcee_fusion" {
            #expect(outputs[0] == expected, "the same mask: every element is the model's or the base's")
        } else {
            let worst = zip(outputs[0], expected).map { Double(abs($0 - $1)) / max(1, Double(abs($1))) }.max() ?? 0
            #expect(worst <= 1e-6, "largest relative difference \(worst)")
        }
        // The output is not trivially the base or one input.
        #expect(outputs[0] != base && !inputs.contains(outputs[0]))
    }
}

