import AmalgamCore
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe

/// Which checkpoints feed one output slice, and from which layers.
struct SliceLayout {
    struct Input {
        let checkpoint: Int
        let source: RecipeSource
        /// First layer read from this input.
        let start: Int
    }

    /// The base, when the method uses one.
    let base: Input?
    /// The other inputs, in recipe order.
    let inputs: [Input]
    /// Layers in the slice.
    let layerCount: Int

    /// The checkpoint whose tensor names define the slice (the base, else the first input).
    var reference: Input { base ?? inputs[0] }

    /// Tensor names of the reference at slice layer `i` (with the reference's layer index).
    func layerTensorNames(at i: Int, checkpoints: [Checkpoint]) -> [(template: String, layer: Int)] {
        let layer = reference.start + i
        return checkpoints[reference.checkpoint].tensorNames
            .filter { TensorName($0).layerIndex == layer }
            .map { ($0, layer) }
    }

    /// Tensor names of the reference that belong to no layer.
    func nonLayerTensorNames(checkpoints: [Checkpoint]) -> [String] {
        checkpoints[reference.checkpoint].tensorNames.filter { TensorName($0).layerIndex == nil }
    }
}

/// Number of layers of a checkpoint: config.json, else the largest layer index + 1.
func layerCount(of checkpoint: Checkpoint) -> Int {
    if let layers = checkpoint.config?.numHiddenLayers { return layers }
    return (checkpoint.tensorNames.compactMap { TensorName($0).layerIndex }.max() ?? -1) + 1
}

extension Planner {
    /// Resolves the base, the inputs and the layer ranges of `slice`, reporting problems.
    func sliceLayout(_ slice: RecipeSlice, recipe: Recipe, method: any MergeMethod.Type, opened: [String: Int],
                     checkpoints: [Checkpoint], problems: inout [RecipeProblem]) -> SliceLayout? {
        let baseReference = method.baseModel == .unused ? nil : (slice.baseModel ?? recipe.baseModel)
        var inputs: [SliceLayout.Input] = []
        var base: SliceLayout.Input?
        for source in slice.sources {
            guard let index = opened[source.model] else { continue }
            let input = SliceLayout.Input(checkpoint: index, source: source, start: source.layerRange?.lowerBound ?? 0)
            if source.model == baseReference, base == nil {
                base = input
            } else {
                inputs.append(input)
            }
            let available = layerCount(of: checkpoints[index])
            if let range = source.layerRange, range.upperBound > available {
                problems.append(RecipeProblem("\(source.keyPath).layer_range", line: source.line,
                    "[\(range.lowerBound), \(range.upperBound)) is outside '\(source.model)', which has \(available) layers"))
                return nil
            }
        }
        if let baseReference, base == nil, let index = opened[baseReference] {
            // The base is not listed among the sources: it joins with the slice's layer range.
            base = SliceLayout.Input(checkpoint: index, source: RecipeSource(model: baseReference, layerRange: slice.sources.first?.layerRange,
                                                                              parameters: ParameterTable(), line: recipe.baseModelLine, keyPath: "base_model"),
                                     start: slice.sources.first?.layerRange?.lowerBound ?? 0)
        }
        guard !inputs.isEmpty || base != nil else { return nil }
        let layers: Int
        if recipe.usesModelsSyntax {
            let counts = ([base].compactMap { $0 } + inputs).map { (layerCount(of: checkpoints[$0.checkpoint]), $0.source) }
            layers = counts.first?.0 ?? 0
            for (count, source) in counts where count != layers {
                problems.append(RecipeProblem("\(source.keyPath).model", line: source.line,
                    "'\(source.model)' has \(count) layers, the others \(layers); use `slices:` to merge models of different depths"))
                return nil
            }
        } else {
            layers = slice.sources.first?.layerRange?.count ?? 0
        }
        return SliceLayout(base: base, inputs: inputs, layerCount: layers)
    }
}

/// Per-slice state for planning its tensors.
struct SliceContext {
    /// Token embedding and output-head matrices, whose rows are the vocabulary (mergekit's
    /// `is_embed` weights of the Llama, Mistral, Qwen, Gemma, GPT-2 and GPT-NeoX layouts).
    static func isEmbedding(_ name: String) -> Bool {
        ["embed_tokens.weight", "lm_head.weight", "wte.weight", "word_embeddings.weight", "embed_out.weight"].contains { name.hasSuffix($0) }
    }

    let slice: RecipeSlice
    let recipe: Recipe
    let method: any MergeMethod.Type
    let layout: SliceLayout
    let checkpoints: [Checkpoint]
    let options: MergeOptions

    /// The plan of one output tensor, or nil (with problems recorded).
    func plan(outputName: String, inputName: (Int) -> String, t: Double, problems: inout [RecipeProblem],
              parameterProblems: inout ProblemSet, notes: inout [String]) -> MergeStep? {
        let reference = layout.reference
        let referenceName = inputName(reference.start)
        guard let referenceInfo = checkpoints[reference.checkpoint].info(referenceName) else { return nil }
        var ok = true
        var infos: [(entry: SliceLayout.Input, name: String, shape: Shape)] = []
        func input(_ entry: SliceLayout.Input) -> PlannedInput? {
            let name = inputName(entry.start)
            guard let info = checkpoints[entry.checkpoint].info(name) else {
                parameterProblems.add(RecipeProblem("\(entry.source.keyPath).model", line: entry.source.line,
                    "'\(entry.source.model)' has no tensor '\(name)'"), key: "missing \(entry.checkpoint)")
                ok = false
                return nil
            }
            infos.append((entry, name, info.shape))
            return PlannedInput(checkpoint: entry.checkpoint, tensorName: name)
        }
        let base = layout.base.flatMap(input)
        let models = layout.inputs.compactMap(input)
        guard ok else { return nil }
        // Shapes must agree, except the vocabulary rows of embedding and output-head matrices
        // (mergekit's rectify_embed_sizes): those are cut to the rows every input has.
        var shape = referenceInfo.shape
        if infos.contains(where: { $0.shape != shape }) {
            let columns = Array(shape.dimensions.dropFirst())
            if Self.isEmbedding(outputName), infos.allSatisfy({ $0.shape.rank == 2 && Array($0.shape.dimensions.dropFirst()) == columns }) {
                let rows = infos.map { $0.shape.dimensions[0] }.min() ?? 0
                shape = Shape([rows] + columns)
                let sizes = infos.map { "'\($0.entry.source.model)' \($0.shape.dimensions[0])" }.joined(separator: ", ")
                notes.append("tensor '\(outputName)': vocabulary rows differ (\(sizes)); using the first \(rows), which every input has")
            } else {
                for info in infos where info.shape != referenceInfo.shape {
                    parameterProblems.add(RecipeProblem("\(info.entry.source.keyPath).model", line: info.entry.source.line,
                        "tensor '\(info.name)' of '\(info.entry.source.model)' has shape \(info.shape), '\(layout.reference.source.model)' has \(referenceInfo.shape)"),
                        key: "shape \(info.entry.checkpoint)")
                }
                return nil
            }
        }

        // Global parameters: slice, then recipe, then default; filtered on the output name.
        var global: [String: ParameterValue] = [:]
        for spec in method.parameters where spec.scope == .global {
            let value = slice.parameters[spec.name]?.value(tensorName: outputName, t: t)
                ?? recipe.parameters[spec.name]?.value(tensorName: outputName, t: t)
                ?? spec.defaultValue
            if let value {
                global[spec.name] = value
            } else if spec.isRequired {
                parameterProblems.add(RecipeProblem("parameters.\(spec.name)", line: recipe.mergeMethodLine,
                    "\(method.name) needs '\(spec.name)', which is not set for tensor '\(outputName)'"), key: "global \(spec.name)")
            }
        }
        if let problem = method.validate(global: global, modelCount: models.count) {
            parameterProblems.add(RecipeProblem("parameters", line: recipe.mergeMethodLine, problem), key: "validate global \(problem)")
        }
        // Per-model parameters: source, slice, recipe, default; filtered on the input name.
        var perModel: [[String: ParameterValue]] = []
        for (entry, planned) in zip(layout.inputs, models) {
            var values: [String: ParameterValue] = [:]
            for spec in method.parameters where spec.scope == .perModel {
                let name = planned.tensorName
                let value = entry.source.parameters[spec.name]?.value(tensorName: name, t: t)
                    ?? slice.parameters[spec.name]?.value(tensorName: name, t: t)
                    ?? recipe.parameters[spec.name]?.value(tensorName: name, t: t)
                    ?? spec.defaultValue
                if let value {
                    values[spec.name] = value
                } else if spec.isRequired {
                    parameterProblems.add(RecipeProblem("\(entry.source.keyPath).parameters.\(spec.name)", line: entry.source.line,
                        "\(method.name) needs '\(spec.name)' for '\(entry.source.model)', which is not set for tensor '\(name)'"),
                        key: "model \(entry.source.keyPath) \(spec.name)")
                }
            }
            if let problem = method.validate(global: global, perModel: values) {
                parameterProblems.add(RecipeProblem("\(entry.source.keyPath).parameters", line: entry.source.line, problem),
                                      key: "validate \(entry.source.keyPath) \(problem)")
            }
            perModel.append(values)
        }
        let stored = referenceInfo.dtype
        let outputDType = recipe.outDType ?? recipe.dtype ?? stored
        var rounding: DType?
        if let computeDType = recipe.dtype, computeDType != stored, computeDType.byteWidth <= stored.byteWidth, stored.isFloatingPoint {
            rounding = computeDType
        }
        return MergeStep(name: outputName, shape: shape, dtype: outputDType, base: base, models: models,
                             global: global, perModel: perModel, loadRounding: rounding)
    }
}
