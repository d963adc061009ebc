import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe
import AmalgamTestSupport
import Foundation
import Testing

/// Plans recipe text whose `M/` prefix stands for the fixture models folder.
func planProblems(_ text: String, output: String? = nil, registry: MergeMethodRegistry = .builtIn) -> [String] {
    let models = Fixtures.file("mergekit/models")
    do {
        let recipe = try RecipeParser(registry: registry).parse(text.replacingOccurrences(of: "M/", with: models + "/"), path: "r.yaml")
        _ = try Planner(registry: registry).plan(recipe, output: output, options: MergeOptions())
        return []
    } catch let error as RecipeError {
        return error.problems.map { $0.description.replacingOccurrences(of: models + "/", with: "M/") }
    } catch {
        return ["\(error)"]
    }
}

@Suite("Validation against the checkpoints, before any tensor data")
struct PlannerTests {
    @Test("A layer range outside a model")
    func layerRange() {
        let found = planProblems("merge_method: passthrough\nslices:\n  - sources:\n      - model: M/llama_f32/ft_a\n        layer_range: [2, 9]\n")
        #expect(found == ["line 4: slices[0].sources[0].layer_range: [2, 9) is outside 'M/llama_f32/ft_a', which has 4 layers"])
    }

    @Test("A model that does not exist")
    func missingModel() {
        let found = planProblems("merge_method: linear\nmodels:\n  - model: M/llama_f32/nope\n    parameters: {weight: 1}\n")
        #expect(found == ["line 3: models[0].model: 'M/llama_f32/nope': no such file or folder"])
    }

    @Test("Models whose tensors do not line up name the tensor and both shapes")
    func shapes() {
        let other = Fixtures.repositoryRoot() + "/Examples/models/base"
        let found = planProblems("merge_method: linear\nmodels:\n  - model: M/llama_f32/ft_a\n    parameters: {weight: 1}\n  - model: \(other)\n    parameters: {weight: 1}\n")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("line 5: models[1].model: tensor 'model.layers.0.input_layernorm.weight' of '\(other)' has shape [128], 'M/llama_f32/ft_a' has [32] (and ") == true)
    }

    @Test("A required parameter left unset is reported once, with a count")
    func requiredParameter() {
        let found = planProblems("merge_method: slerp\nbase_model: M/llama_f32/base\nmodels:\n  - model: M/llama_f32/base\n  - model: M/llama_f32/ft_a\n")
        #expect(found == ["line 1: parameters.t: slerp needs 't', which is not set for tensor 'model.layers.0.input_layernorm.weight' (and 38 more tensors)"])
        let filtered = planProblems("merge_method: slerp\nbase_model: M/llama_f32/base\nparameters:\n  t:\n    - filter: mlp\n      value: 0.5\nmodels:\n  - model: M/llama_f32/base\n  - model: M/llama_f32/ft_a\n")
        #expect(filtered.first?.contains("(and 26 more tensors)") == true, "\(filtered)")
    }

    @Test("DELLA's density ± epsilon must stay inside (0, 1)")
    func dellaLimits() {
        let found = planProblems("merge_method: della\nbase_model: M/llama_f32/base\nmodels:\n  - model: M/llama_f32/ft_a\n    parameters: {weight: 1, density: 0.9, epsilon: 0.2}\n")
        #expect(found.first?.hasPrefix("line 4: models[0].parameters: density ± epsilon must stay inside (0, 1): density 0.9, epsilon 0.2") == true, "\(found)")
    }

    @Test("An existing output without --force")
    func outputExists() throws {
        let folder = TemporaryDirectory()
        try folder.write("out/x", [1])
        let found = planProblems("merge_method: linear\nmodels:\n  - model: M/llama_f32/ft_a\n    parameters: {weight: 1}\n", output: folder.child("out"))
        #expect(found == ["output '\(folder.child("out"))' exists and is not empty; pass --force to replace it once the new output is complete"])
    }

    @Test("The plan: pre-layer, layers, post-layer; parameters resolved with precedence and gradients")
    func planContents() throws {
        let models = Fixtures.file("mergekit/models")
        let recipe = try RecipeParser().parse("""
            merge_method: task_arithmetic
            base_model: \(models)/llama_f32/base
            parameters:
              lambda: [0, 1]
              weight: 0.25
            models:
              - model: \(models)/llama_f32/ft_a
                parameters: {weight: [1, 2]}
              - model: \(models)/llama_f32/ft_b
            """, path: "r.yaml")
        let plan = try Planner().plan(recipe, output: nil, options: MergeOptions())
        #expect(plan.tensors.first?.name == "model.embed_tokens.weight")
        #expect(Set(plan.tensors.suffix(2).map(\.name)) == ["lm_head.weight", "model.norm.weight"])
        #expect(plan.tensors.count == 39 && plan.outputLayers == 4)
        let layer1 = try #require(plan.tensors.first { $0.name == "model.layers.1.mlp.up_proj.weight" })
        // layer 1 of 4: t = 1/3
        #expect(abs((layer1.global["lambda"]?.number ?? 0) - 1.0 / 3) < 1e-12)
        #expect(abs((layer1.perModel[0]["weight"]?.number ?? 0) - 4.0 / 3) < 1e-12)
        #expect(layer1.perModel[1]["weight"] == .number(0.25), "falls through to the recipe level")
        let embed = plan.tensors[0]
        #expect(embed.global["lambda"] == .number(0) && embed.perModel[0]["weight"] == .number(1), "pre-layer tensors take t = 0")
        // Chunked method, largest tensor 64 × 32 = 2,048 elements (one block, one item), three inputs, two models:
        // (2·3 + 4) Float32 block arrays, 3 · 65,536 histogram bins (at least three sets), 3 encoded items.
        let width = plan.tensors.map(\.dtype.byteWidth).max() ?? 0
        #expect(plan.peakMemoryEstimate(threads: 1) == 10 * 4 * 2048 + 65_536 * 8 * 3 + 3 * 2048 * width)
        #expect(plan.peakMemoryEstimate(threads: 2) == 2 * plan.peakMemoryEstimate(threads: 1))
    }
}

/// A method that fails on the tensor named in its parameter, for interrupted-merge tests.
enum FailingMethod: MergeMethod {
    static let name = "fail_midway"
    static let summary = "test only"
    static let baseModel = BaseModelRequirement.unused
    static let modelCount = ModelCount.exactly(1)
    static let parameters = [ParameterSpec("fail_on", .global, .string, default: .string("model.layers.2"), doc: "substring")]
    static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        if case .string(let pattern)? = context.global["fail_on"], context.tensorName.contains(pattern) {
            throw .numeric(tensor: context.tensorName, method: name, reason: "injected failure")
        }
        return inputs.models[0]
    }
}

@Suite("Interrupted merges")
struct InterruptedMergeTests {
    func run(_ text: String, output: String, overwrite: Bool) throws {
        var registry = MergeMethodRegistry.builtIn
        registry.register(FailingMethod.self)
        let models = Fixtures.file("mergekit/models")
        let recipe = try RecipeParser(registry: registry).parse(text.replacingOccurrences(of: "M/", with: models + "/"), path: "r.yaml")
        var options = MergeOptions()
        options.overwrite = overwrite
        options.maxShardBytes = 20_000
        let plan = try Planner(registry: registry).plan(recipe, output: output, options: options)
        try StreamingExecutor().execute(plan, output: output, options: options)
    }

    @Test("A merge that fails midway leaves no output folder and no staging folder")
    func noOutput() {
        let folder = TemporaryDirectory()
        #expect(throws: MergeError.numeric(tensor: "model.layers.2.input_layernorm.weight", method: "fail_midway", reason: "injected failure")) {
            try run("merge_method: fail_midway\nmodels:\n  - model: M/llama_f32/ft_a\n", output: folder.child("out"), overwrite: false)
        }
        #expect(folder.listing().isEmpty)
    }

    @Test("--force over an existing output replaces it only on success")
    func forceOnlyOnSuccess() throws {
        let folder = TemporaryDirectory()
        try folder.write("out/precious.txt", Array("keep".utf8))
        #expect(throws: MergeError.self) {
            try run("merge_method: fail_midway\nmodels:\n  - model: M/llama_f32/ft_a\n", output: folder.child("out"), overwrite: true)
        }
        #expect(folder.listing("out") == ["precious.txt"] && folder.listing() == ["out"])
        try run("merge_method: fail_midway\nparameters: {fail_on: nothing}\nmodels:\n  - model: M/llama_f32/ft_a\n", output: folder.child("out"), overwrite: true)
        #expect(!folder.listing("out").contains("precious.txt") && folder.listing("out").contains("model.safetensors.index.json"))
        #expect(folder.listing() == ["out"])
    }
}

@Suite("Embeddings of different vocabulary sizes")
struct EmbeddingRowsTests {
    /// A copy of `source` whose embedding and output-head matrices carry `extra` more rows (of
    /// 7s) and whose config says so, as a fine-tune that added tokens looks.
    static func padded(_ source: String, extra: Int, into path: String) throws {
        let checkpoint = try Checkpoint(opening: source)
        let shapes = checkpoint.tensorNames.map { name -> Shape in
            let shape = checkpoint.info(name)!.shape
            return name.hasSuffix("embed_tokens.weight") || name.hasSuffix("lm_head.weight")
                ? Shape([shape.dimensions[0] + extra] + shape.dimensions.dropFirst()) : shape
        }
        let writer = try CheckpointWriter(destination: path, tensors: zip(checkpoint.tensorNames, shapes).map {
            PlannedTensor(name: $0, dtype: .float32, shape: $1)
        }, maxShardBytes: nil, overwrite: false)
        for (name, shape) in zip(checkpoint.tensorNames, shapes) {
            var values = try checkpoint.tensor(named: name).float32Values()
            values += [Float](repeating: 7, count: shape.elementCount - values.count)
            try writer.write(name, Tensor(float32: values, shape: shape, dtype: .float32))
        }
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
        config["vocab_size"] = (config["vocab_size"] as! Int) + extra
        try writer.addFile(named: "config.json", contents: Array(try JSONSerialization.data(withJSONObject: config)))
        try writer.finish()
    }

    @Test("Extra vocabulary rows are cut to the rows every input has, whichever input is larger; the rest is unchanged",
          arguments: ["ties", "linear", "slerp"])
    func extraRowsAreCut(method: String) throws {
        let folder = TemporaryDirectory()
        let models = Fixtures.file("mergekit/models/llama_f32")
        try Self.padded(models + "/ft_a", extra: 3, into: folder.child("ft_a_padded"))
        func recipe(_ ftA: String) -> String {
            switch method {
            case "slerp": "merge_method: slerp\nbase_model: \(models)/base\nparameters: {t: 0.4}\nmodels:\n  - model: \(ftA)\n  - model: \(models)/base\n"
            case "linear": "merge_method: linear\nmodels:\n  - model: \(ftA)\n    parameters: {weight: 0.6}\n  - model: \(models)/ft_b\n    parameters: {weight: 0.4}\n"
            default: "merge_method: ties\nbase_model: \(models)/base\nparameters: {density: 0.5}\nmodels:\n  - model: \(ftA)\n    parameters: {weight: 0.6}\n  - model: \(models)/ft_b\n    parameters: {weight: 0.4}\n"
            }
        }
        var outputs: [Checkpoint] = []
        for (label, ftA) in [("plain", models + "/ft_a"), ("padded", folder.child("ft_a_padded"))] {
            let plan = try Planner().plan(try RecipeParser().parse(recipe(ftA), path: "r.yaml"), output: folder.child(label), options: MergeOptions())
            if label == "padded" {
                #expect(plan.notes.contains { $0.contains("model.embed_tokens.weight") && $0.contains("vocabulary rows differ") })
            } else {
                #expect(plan.notes.isEmpty)
            }
            try StreamingExecutor().execute(plan, output: folder.child(label), options: MergeOptions())
            outputs.append(try Checkpoint(opening: folder.child(label)))
        }
        #expect(outputs[0].tensorNames == outputs[1].tensorNames)
        for name in outputs[0].tensorNames {
            #expect(outputs[1].info(name)?.shape == outputs[0].info(name)?.shape, "\(name)")
            #expect(try outputs[1].tensor(named: name).float32Values() == outputs[0].tensor(named: name).float32Values(), "\(name)")
        }
        #expect(outputs[1].config?.vocabSize == outputs[0].config?.vocabSize)
    }

    @Test("The config's vocab_size follows the cut rows when the donor is the larger model")
    func configFollowsRows() throws {
        let folder = TemporaryDirectory()
        let models = Fixtures.file("mergekit/models/llama_f32")
        try Self.padded(models + "/ft_a", extra: 3, into: folder.child("ft_a_padded"))
        let text = "merge_method: linear\nmodels:\n  - model: \(folder.child("ft_a_padded"))\n    parameters: {weight: 0.5}\n  - model: \(models)/ft_b\n    parameters: {weight: 0.5}\n"
        let plan = try Planner().plan(try RecipeParser().parse(text, path: "r.yaml"), output: folder.child("out"), options: MergeOptions())
        try StreamingExecutor().execute(plan, output: folder.child("out"), options: MergeOptions())
        let output = try Checkpoint(opening: folder.child("out"))
        let rows = output.info("model.embed_tokens.weight")?.shape.dimensions[0]
        #expect(rows == (try Checkpoint(opening: models + "/ft_b")).config?.vocabSize)
        #expect(output.config?.vocabSize == rows)
    }

    @Test("A tokenizer source with more vocabulary rows than every input has is refused before any tensor data")
    func largerTokenizerSourceIsRefused() throws {
        let folder = TemporaryDirectory()
        let models = Fixtures.file("mergekit/models/llama_f32")
        try Self.padded(models + "/ft_a", extra: 3, into: folder.child("ft_a_padded"))
        let padded = folder.child("ft_a_padded")
        let text = "merge_method: linear\ntokenizer_source: \(padded)\nmodels:\n  - model: \(padded)\n    parameters: {weight: 0.5}\n  - model: \(models)/ft_b\n    parameters: {weight: 0.5}\n"
        let rows = try #require(try Checkpoint(opening: models + "/ft_b").info("model.embed_tokens.weight")?.shape.dimensions.first)
        #expect {
            _ = try Planner().plan(try RecipeParser().parse(text, path: "r.yaml"), output: folder.child("out"), options: MergeOptions())
        } throws: { error in
            (error as? RecipeError)?.problems.map(\.description) == [
                "tokenizer_source: '\(padded)' has \(rows + 3) vocabulary rows in 'model.embed_tokens.weight', but only the first \(rows) are in every input; "
                + "rebuilding embeddings for a larger vocabulary (mergekit's per-token rebuild) is not supported yet: use a tokenizer source whose vocabulary every input covers"]
        }
        #expect(!FileManager.default.fileExists(atPath: folder.child("out")))
    }
}

