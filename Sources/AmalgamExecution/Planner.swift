// Recipe → MergePlan, from config.json files and safetensors headers only.
//
// 1. Open every referenced checkpoint (headers and index validated; no tensor data read).
// 2. For each output slice: its base (slice, else recipe), its inputs (for methods that use a
//    base, the sources other than the base), and its layer range (the `models:` syntax spans
//    every layer of the base, or of the first model).
// 3. Output tensors: pre-layer tensors (embeddings) from the first slice's models, each layer of
//    each slice renumbered consecutively, post-layer tensors (final norm, lm_head) from the last
//    slice's models.
// 4. Parameters for every output tensor, by mergekit's precedence: source → slice → recipe →
//    method default; global parameters filter on the output tensor name, per-model ones on the
//    input tensor name; gradients run over the slice's layers (t = 0 for pre/post tensors).
// 5. Every problem (missing model, layer range outside a model, tensor missing or mis-shaped,
//    required parameter unset, method-specific limits, existing output) is collected and thrown
//    together as one RecipeError.

import AmalgamCore
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe
import Foundation

/// Builds merge plans.
public struct Planner {
    public let registry: MergeMethodRegistry
    public let environment: [String: String]

    public init(registry: MergeMethodRegistry = .builtIn, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.registry = registry
        self.environment = environment
    }

    /// Plans `recipe` into `output`.
    ///
    /// - Throws: ``RecipeError`` with every problem found.
    public func plan(_ recipe: Recipe, output: String?, options: MergeOptions) throws -> MergePlan {
        var problems: [RecipeProblem] = []
        guard let method = registry.method(named: recipe.mergeMethod) else {
            throw RecipeError(file: recipe.path, problems: [RecipeProblem("merge_method", line: recipe.mergeMethodLine, "unknown method '\(recipe.mergeMethod)'")])
        }
        if let output {
            let absolute = URL(fileURLWithPath: output).standardizedFileURL.path
            var isDirectory: ObjCBool = false
            if !options.overwrite, FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory),
               !isDirectory.boolValue || !((try? FileManager.default.contentsOfDirectory(atPath: absolute))?.isEmpty ?? true) {
                problems.append(RecipeProblem("", line: nil, "output '\(output)' exists and is not empty; pass --force to replace it once the new output is complete"))
            }
        }

        // 1. Open every checkpoint.
        let references = recipe.modelReferences
        var opened: [String: Int] = [:]
        var checkpoints: [Checkpoint] = []
        for reference in references {
            do {
                let checkpoint = try Checkpoint(opening: reference, environment: environment)
                opened[reference] = checkpoints.count
                checkpoints.append(checkpoint)
            } catch let error as any AmalgamDiagnostic {
                let (path, line) = recipeLocation(of: reference, in: recipe)
                problems.append(RecipeProblem(path, line: line, error.description + (error.hint.map { " (\($0))" } ?? "")))
            }
        }
        if !problems.isEmpty { throw RecipeError(file: recipe.path, problems: problems) }
        if !options.allowCrimes { checkArchitectures(checkpoints, references: references, recipe: recipe, problems: &problems) }

        // 2–4. Slices, tensors, parameters.
        var tensors: [MergeStep] = []
        var layerTensors: [MergeStep] = []
        var outputLayer = 0
        var parameterProblems = ProblemSet()
        var notes: [String] = []
        var pre: [MergeStep] = [], post: [MergeStep] = []
        for (sliceIndex, slice) in recipe.slices.enumerated() {
            guard let layout = sliceLayout(slice, recipe: recipe, method: method, opened: opened, checkpoints: checkpoints, problems: &problems)
            else { continue }
            let context = SliceContext(slice: slice, recipe: recipe, method: method, layout: layout, checkpoints: checkpoints, options: options)
            let length = layout.layerCount
            for i in 0..<length {
                let t = length > 1 ? Double(i) / Double(length - 1) : 1
                for name in layout.layerTensorNames(at: i, checkpoints: checkpoints) {
                    guard let outputName = TensorName(name.template).replacingLayerIndex(with: outputLayer + i)?.rawValue else { continue }
                    if let planned = context.plan(outputName: outputName, inputName: { source in
                        TensorName(name.template).replacingLayerIndex(with: source + i)?.rawValue ?? name.template
                    }, t: t, problems: &problems, parameterProblems: &parameterProblems, notes: &notes) {
                        layerTensors.append(planned)
                    }
                }
            }
            outputLayer += length
            let edge = layout.nonLayerTensorNames(checkpoints: checkpoints)
            if sliceIndex == 0 {
                for name in edge where Self.isPreLayer(name) {
                    if let planned = context.plan(outputName: name, inputName: { _ in name }, t: 0, problems: &problems, parameterProblems: &parameterProblems, notes: &notes) {
                        pre.append(planned)
                    }
                }
            }
            if sliceIndex == recipe.slices.count - 1 {
                for name in edge where !Self.isPreLayer(name) {
                    if let planned = context.plan(outputName: name, inputName: { _ in name }, t: 0, problems: &problems, parameterProblems: &parameterProblems, notes: &notes) {
                        post.append(planned)
                    }
                }
            }
        }
        tensors = pre + layerTensors + post
        problems += parameterProblems.problems
        if !problems.isEmpty {
            throw RecipeError(file: recipe.path, problems: problems)
        }

        // Output config and tokenizer donor.
        let donorReference = recipe.slices.first.flatMap { slice in slice.baseModel ?? recipe.baseModel ?? slice.sources.first?.model }
        let donor = donorReference.flatMap { opened[$0] }.map { checkpoints[$0] }
        let tokenizerDonor: Checkpoint? = switch recipe.tokenizerSource {
        case .base: donor
        case .model(let model): opened[model].map { checkpoints[$0] }
        }
        let outputDType = recipe.outDType ?? recipe.dtype
        // The vocabulary size follows the (possibly cut) embedding rows. A tokenizer source with
        // more tokens than the kept rows would need embeddings rebuilt token by token.
        let embedding = tensors.first { SliceContext.isEmbedding($0.name) && $0.shape.rank == 2 }
        let rows = embedding?.shape.dimensions[0]
        if case .model(let model) = recipe.tokenizerSource, let embedding, let rows, let index = opened[model],
           let sourceRows = checkpoints[index].info(embedding.name)?.shape.dimensions.first, sourceRows > rows {
            throw RecipeError(file: recipe.path, problems: [RecipeProblem("tokenizer_source", line: nil,
                "'\(model)' has \(sourceRows) vocabulary rows in '\(embedding.name)', but only the first \(rows) are in every input; "
                + "rebuilding embeddings for a larger vocabulary (mergekit's per-token rebuild) is not supported yet: use a tokenizer source whose vocabulary every input covers")])
        }
        let vocabSize = rows.flatMap { rows in donor?.config?.vocabSize.flatMap { $0 == rows ? nil : rows } }
        let config = donor?.config.map { $0.updatedJSON(layers: recipe.usesModelsSyntax ? nil : outputLayer, dtype: outputDType, vocabSize: vocabSize) }
        return MergePlan(recipe: recipe, method: method, checkpoints: checkpoints, tensors: tensors,
                         outputLayers: recipe.usesModelsSyntax ? donor?.config?.numHiddenLayers : outputLayer,
                         outputConfig: config, tokenizerDonor: tokenizerDonor, notes: notes)
    }

    /// Embeddings and position tables come before the layers; everything else without a layer
    /// index (final norm, lm_head) comes after.
    static func isPreLayer(_ name: String) -> Bool {
        ["embed", "wte", "wpe", "word_embeddings", "position_embeddings"].contains { name.contains($0) }
    }

    /// The recipe key path and line where `reference` first appears.
    func recipeLocation(of reference: String, in recipe: Recipe) -> (String, Int?) {
        if recipe.baseModel == reference { return ("base_model", recipe.baseModelLine) }
        for slice in recipe.slices {
            if slice.baseModel == reference { return ("\(slice.keyPath).base_model", slice.line) }
            if let source = slice.sources.first(where: { $0.model == reference }) { return ("\(source.keyPath).model", source.line) }
        }
        return ("tokenizer_source", nil)
    }

    private func checkArchitectures(_ checkpoints: [Checkpoint], references: [String], recipe: Recipe, problems: inout [RecipeProblem]) {
        let architectures = checkpoints.compactMap { $0.config?.architectures.first }
        guard let first = architectures.first else { return }
        for (checkpoint, reference) in zip(checkpoints, references) {
            if let architecture = checkpoint.config?.architectures.first, architecture != first {
                let (path, line) = recipeLocation(of: reference, in: recipe)
                problems.append(RecipeProblem(path, line: line, "'\(reference)' is \(architecture) but '\(references[0])' is \(first); pass --allow-crimes to merge them anyway"))
            }
        }
    }
}

/// Problems that would repeat for every tensor, reported once with a count.
struct ProblemSet {
    private var order: [String] = []
    private var entries: [String: (problem: RecipeProblem, count: Int)] = [:]

    mutating func add(_ problem: RecipeProblem, key: String) {
        if let existing = entries[key] {
            entries[key] = (existing.problem, existing.count + 1)
        } else {
            order.append(key)
            entries[key] = (problem, 1)
        }
    }

    var problems: [RecipeProblem] {
        order.compactMap { key in
            guard let (problem, count) = entries[key] else { return nil }
            return count == 1 ? problem : RecipeProblem(problem.keyPath, line: problem.line, problem.message + " (and \(count - 1) more tensors)")
        }
    }
}
