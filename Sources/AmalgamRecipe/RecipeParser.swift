// Reads a mergekit recipe (YAML) into a Recipe, collecting every problem with its line.
//
// Keys follow mergekit's MergeConfiguration: merge_method, models | slices, base_model,
// parameters, dtype, out_dtype, tokenizer_source | tokenizer, chat_template. Unknown keys are
// errors with the closest valid key suggested. Parameter names and types are checked against
// the method's declaration in the registry.

import AmalgamCore
import AmalgamMerge
import Foundation
import Yams

/// Parses recipes.
public struct RecipeParser {
    public let registry: MergeMethodRegistry

    public init(registry: MergeMethodRegistry = .builtIn) {
        self.registry = registry
    }

    static let topLevelKeys = ["merge_method", "models", "slices", "modules", "base_model", "parameters", "dtype", "out_dtype",
                               "tokenizer_source", "tokenizer", "chat_template", "name"]
    static let modelKeys = ["model", "parameters"]
    static let sourceKeys = ["model", "layer_range", "parameters"]
    static let sliceKeys = ["sources", "base_model", "parameters", "residual_weight"]
    static let tokenizerKeys = ["source", "tokens", "pad_to_multiple_of"]

    /// Reads and parses the recipe at `path`.
    public func parse(contentsOf path: String) throws -> Recipe {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw RecipeError(file: path, problems: [RecipeProblem("", line: nil, "cannot read the recipe: \(error.localizedDescription)")])
        }
        return try parse(text, path: path)
    }

    /// Parses recipe text.
    ///
    /// - Throws: ``RecipeError`` listing every problem found.
    public func parse(_ text: String, path: String) throws(RecipeError) -> Recipe {
        var problems: [RecipeProblem] = []
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw RecipeError(file: path, problems: [RecipeProblem("", line: Self.line(of: error), "not valid YAML: \(Self.firstLine(error))")])
        }
        guard let root, let top = root.mapping else {
            throw RecipeError(file: path, problems: [RecipeProblem("", line: root?.mark?.line, "the recipe must be a YAML mapping of keys")])
        }
        let topKeys = checkKeys(top, allowed: Self.topLevelKeys, keyPath: "", problems: &problems)

        // merge_method and the method's declaration.
        var method: (any MergeMethod.Type)?
        var methodName = ""
        if let node = topKeys["merge_method"] {
            if let name = node.string, !name.isEmpty {
                methodName = name
                method = registry.method(named: name)
                if method == nil {
                    let hint = registry.suggestion(for: name).map { " (did you mean '\($0)'?)" } ?? ""
                    problems.append(RecipeProblem("merge_method", line: node.mark?.line, "unknown method '\(name)'\(hint); `amalgam methods` lists them"))
                }
            } else {
                problems.append(RecipeProblem("merge_method", line: node.mark?.line, "expected a method name"))
            }
        } else {
            problems.append(RecipeProblem("merge_method", line: root.mark?.line, "missing (every recipe names its merge_method)"))
        }

        let baseModel = topKeys["base_model"].flatMap { modelReference($0, keyPath: "base_model", problems: &problems) }
        let parameters = topKeys["parameters"].map { parameterTable($0, keyPath: "parameters", scopes: [.global, .perModel], method: method, problems: &problems) } ?? ParameterTable()

        // models: | slices:
        var slices: [RecipeSlice] = []
        let usesModels = topKeys["models"] != nil
        let present = ["models", "slices", "modules"].filter { topKeys[$0] != nil }
        if present.count != 1 {
            problems.append(RecipeProblem("", line: root.mark?.line, present.isEmpty
                ? "needs `models:` or `slices:` (the inputs)" : "use one of \(present.map { "`\($0):`" }.joined(separator: " and ")), not both"))
        }
        if let node = topKeys["modules"] {
            problems.append(RecipeProblem("modules", line: node.mark?.line, "multi-module recipes (`modules:`) are not supported yet; use `models:` or `slices:`"))
        }
        if let node = topKeys["models"] {
            var sources: [RecipeSource] = []
            for (i, entry) in sequence(node, keyPath: "models", problems: &problems).enumerated() {
                if let source = modelEntry(entry, keyPath: "models[\(i)]", allowed: Self.modelKeys, method: method, problems: &problems) {
                    sources.append(source)
                }
            }
            if sources.isEmpty && node.sequence != nil {
                problems.append(RecipeProblem("models", line: node.mark?.line, "lists no models"))
            }
            slices = [RecipeSlice(sources: sources, parameters: ParameterTable(), baseModel: nil, line: node.mark?.line, keyPath: "models")]
        } else if let node = topKeys["slices"] {
            for (i, entry) in sequence(node, keyPath: "slices", problems: &problems).enumerated() {
                if let slice = sliceEntry(entry, keyPath: "slices[\(i)]", method: method, problems: &problems) { slices.append(slice) }
            }
        }

        let dtype = topKeys["dtype"].flatMap { dtypeValue($0, keyPath: "dtype", problems: &problems) }
        let outDType = topKeys["out_dtype"].flatMap { dtypeValue($0, keyPath: "out_dtype", problems: &problems) }
        if let outDType, !outDType.isWritableFromFloat32 {
            problems.append(RecipeProblem("out_dtype", line: topKeys["out_dtype"]?.mark?.line, "\(outDType.configName) cannot be written; use float32, float16, bfloat16 or float64"))
        }
        let tokenizer = tokenizerSource(topKeys, problems: &problems)
        var chatTemplate: String?
        if let node = topKeys["chat_template"] {
            if let template = node.string, template.count >= 20, template.contains("{") {
                chatTemplate = template
            } else {
                problems.append(RecipeProblem("chat_template", line: node.mark?.line,
                    "only a literal Jinja template (at least 20 characters, with `{`) is supported yet; `auto` and built-in names come later"))
            }
        }

        if let method {
            checkMethodShape(method, slices: slices, baseModel: baseModel, problems: &problems)
        }
        if !problems.isEmpty {
            throw RecipeError(file: path, problems: problems.sorted { ($0.line ?? 0) < ($1.line ?? 0) })
        }
        return Recipe(
            path: path, text: text, mergeMethod: methodName, mergeMethodLine: topKeys["merge_method"]?.mark?.line,
            baseModel: baseModel, baseModelLine: topKeys["base_model"]?.mark?.line, usesModelsSyntax: usesModels,
            slices: slices, parameters: parameters, dtype: dtype, outDType: outDType, tokenizerSource: tokenizer,
            chatTemplate: chatTemplate)
    }

    // MARK: - Pieces

    /// The mapping's entries by key, reporting unknown and duplicate keys.
    private func checkKeys(_ mapping: Node.Mapping, allowed: [String], keyPath: String, problems: inout [RecipeProblem]) -> [String: Node] {
        var result: [String: Node] = [:]
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? "\(keyNode)"
            let path = keyPath.isEmpty ? key : "\(keyPath).\(key)"
            if !allowed.contains(key) {
                let hint = closestName(to: key, in: allowed).map { " (did you mean '\($0)'?)" } ?? ""
                problems.append(RecipeProblem(path, line: keyNode.mark?.line, "unknown key '\(key)'\(hint)"))
            } else if result[key] != nil {
                problems.append(RecipeProblem(path, line: keyNode.mark?.line, "'\(key)' appears twice"))
            } else {
                result[key] = value
            }
        }
        return result
    }

    private func sequence(_ node: Node, keyPath: String, problems: inout [RecipeProblem]) -> [Node] {
        guard let items = node.sequence else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected a list"))
            return []
        }
        return Array(items)
    }

    private func modelReference(_ node: Node, keyPath: String, problems: inout [RecipeProblem]) -> String? {
        if let mapping = node.mapping, let path = mapping["path"]?.string {
            if let revision = mapping["revision"]?.string { return "\(path)@\(revision)" }
            return path
        }
        guard let text = node.string, !text.isEmpty, node.mapping == nil, node.sequence == nil else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected a model path or org/name"))
            return nil
        }
        if text.contains("+") {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "LoRA references ('model+lora') are not supported yet"))
            return nil
        }
        return text
    }

    private func modelEntry(_ node: Node, keyPath: String, allowed: [String], method: (any MergeMethod.Type)?,
                            problems: inout [RecipeProblem]) -> RecipeSource? {
        guard let mapping = node.mapping else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected a mapping with `model:`"))
            return nil
        }
        let keys = checkKeys(mapping, allowed: allowed, keyPath: keyPath, problems: &problems)
        guard let modelNode = keys["model"] else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "missing `model:`"))
            return nil
        }
        guard let model = modelReference(modelNode, keyPath: "\(keyPath).model", problems: &problems) else { return nil }
        var range: Range<Int>?
        if let rangeNode = keys["layer_range"] {
            let bounds = rangeNode.sequence.map { $0.compactMap(\.int) } ?? []
            if bounds.count == 2, bounds[0] >= 0, bounds[0] < bounds[1], rangeNode.sequence?.count == 2 {
                range = bounds[0]..<bounds[1]
            } else {
                problems.append(RecipeProblem("\(keyPath).layer_range", line: rangeNode.mark?.line,
                    "expected [start, end] with 0 ≤ start < end (end exclusive)"))
            }
        }
        let parameters = keys["parameters"].map {
            parameterTable($0, keyPath: "\(keyPath).parameters", scopes: [.perModel], method: method, problems: &problems)
        } ?? ParameterTable()
        return RecipeSource(model: model, layerRange: range, parameters: parameters, line: node.mark?.line, keyPath: keyPath)
    }

    private func sliceEntry(_ node: Node, keyPath: String, method: (any MergeMethod.Type)?, problems: inout [RecipeProblem]) -> RecipeSlice? {
        guard let mapping = node.mapping else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected a mapping with `sources:`"))
            return nil
        }
        let keys = checkKeys(mapping, allowed: Self.sliceKeys, keyPath: keyPath, problems: &problems)
        var sources: [RecipeSource] = []
        if let sourcesNode = keys["sources"] {
            for (i, entry) in sequence(sourcesNode, keyPath: "\(keyPath).sources", problems: &problems).enumerated() {
                let sourcePath = "\(keyPath).sources[\(i)]"
                if let source = modelEntry(entry, keyPath: sourcePath, allowed: Self.sourceKeys, method: method, problems: &problems) {
                    if source.layerRange == nil && entry.mapping?["layer_range"] == nil {
                        problems.append(RecipeProblem(sourcePath, line: entry.mark?.line, "missing `layer_range: [start, end]`"))
                    }
                    sources.append(source)
                }
            }
        } else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "missing `sources:`"))
        }
        let lengths = Set(sources.compactMap { $0.layerRange?.count })
        if lengths.count > 1 {
            problems.append(RecipeProblem("\(keyPath).sources", line: node.mark?.line,
                "sources of one slice must have equal lengths, got \(sources.compactMap { $0.layerRange.map { "[\($0.lowerBound), \($0.upperBound))" } }.joined(separator: ", "))"))
        }
        let parameters = keys["parameters"].map {
            parameterTable($0, keyPath: "\(keyPath).parameters", scopes: [.global, .perModel], method: method, problems: &problems)
        } ?? ParameterTable()
        let base = keys["base_model"].flatMap { modelReference($0, keyPath: "\(keyPath).base_model", problems: &problems) }
        return RecipeSlice(sources: sources, parameters: parameters, baseModel: base, line: node.mark?.line, keyPath: keyPath)
    }

    /// A `parameters:` mapping, checked against the method's declarations.
    private func parameterTable(_ node: Node, keyPath: String, scopes: Set<ParameterScope>, method: (any MergeMethod.Type)?,
                                problems: inout [RecipeProblem]) -> ParameterTable {
        var table = ParameterTable()
        guard let mapping = node.mapping else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected a mapping of parameter names to values"))
            return table
        }
        for (keyNode, valueNode) in mapping {
            let name = keyNode.string ?? "\(keyNode)"
            let path = "\(keyPath).\(name)"
            let line = keyNode.mark?.line
            if table.settings[name] != nil {
                problems.append(RecipeProblem(path, line: line, "'\(name)' appears twice"))
                continue
            }
            guard let setting = parameterSetting(valueNode, keyPath: path, allowConditional: true, problems: &problems) else { continue }
            if let method {
                let specs = method.parameters
                if let spec = specs.first(where: { $0.name == name }) {
                    if !scopes.contains(spec.scope) {
                        problems.append(RecipeProblem(path, line: line, "'\(name)' is a \(spec.scope.rawValue) parameter of \(method.name); set it \(spec.scope == .global ? "under the top-level or slice `parameters:`" : "per model")"))
                    }
                    for literal in setting.literals {
                        if let problem = Self.check(literal, against: spec) {
                            problems.append(RecipeProblem(path, line: valueNode.mark?.line ?? line, problem))
                        }
                    }
                } else {
                    let hint = closestName(to: name, in: specs.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
                    let known = specs.isEmpty ? "it takes none" : "it takes \(specs.map(\.name).joined(separator: ", "))"
                    problems.append(RecipeProblem(path, line: line, "unknown parameter '\(name)' for \(method.name)\(hint); \(known)"))
                }
            }
            table.settings[name] = setting
            table.lines[name] = line
        }
        return table
    }

    /// A value's type and range against its declaration, or nil when fine.
    static func check(_ value: ParameterValue, against spec: ParameterSpec) -> String? {
        switch (spec.type, value) {
        case (.number, .number(let n)):
            if let range = spec.range, !range.contains(n) {
                return "\(spec.name) must be in [\(range.lowerBound), \(range.upperBound)], got \(value)"
            }
            return nil
        case (.bool, .bool), (.string, .string): return nil
        case (.bool, .number(let n)) where n == 0 || n == 1: return nil
        default: return "\(spec.name) must be a \(spec.type.rawValue), got \(value)"
        }
    }

    private func parameterSetting(_ node: Node, keyPath: String, allowConditional: Bool, problems: inout [RecipeProblem]) -> ParameterSetting? {
        if let mapping = node.mapping {
            guard allowConditional else {
                problems.append(RecipeProblem(keyPath, line: node.mark?.line, "filters cannot nest"))
                return nil
            }
            return conditional(mapping, keyPath: keyPath, problems: &problems).map { .conditional([$0]) }
        }
        if let items = node.sequence {
            if allowConditional, items.contains(where: { $0.mapping != nil }) {
                var alternatives: [ConditionalSetting] = []
                for (i, item) in items.enumerated() {
                    guard let mapping = item.mapping else {
                        problems.append(RecipeProblem("\(keyPath)[\(i)]", line: item.mark?.line, "expected {filter: ..., value: ...}"))
                        continue
                    }
                    if let alternative = conditional(mapping, keyPath: "\(keyPath)[\(i)]", problems: &problems) { alternatives.append(alternative) }
                }
                return .conditional(alternatives)
            }
            var values: [ParameterValue] = []
            for (i, item) in items.enumerated() {
                guard let value = scalar(item) else {
                    problems.append(RecipeProblem("\(keyPath)[\(i)]", line: item.mark?.line, "expected a number, boolean or string"))
                    return nil
                }
                values.append(value)
            }
            guard !values.isEmpty else {
                problems.append(RecipeProblem(keyPath, line: node.mark?.line, "an empty list is not a value"))
                return nil
            }
            return .list(values)
        }
        guard let value = scalar(node) else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected a value"))
            return nil
        }
        return .scalar(value)
    }

    private func conditional(_ mapping: Node.Mapping, keyPath: String, problems: inout [RecipeProblem]) -> ConditionalSetting? {
        let keys = checkKeys(mapping, allowed: ["filter", "value"], keyPath: keyPath, problems: &problems)
        guard let valueNode = keys["value"] else {
            problems.append(RecipeProblem(keyPath, line: mapping.mark?.line, "a filtered parameter needs `value:`"))
            return nil
        }
        let filter = keys["filter"].flatMap { $0.null == nil ? $0.string : nil }
        guard let value = parameterSetting(valueNode, keyPath: "\(keyPath).value", allowConditional: false, problems: &problems) else { return nil }
        return ConditionalSetting(filter: filter, value: value)
    }

    /// A YAML scalar as a number, boolean or string (null is not a value).
    private func scalar(_ node: Node) -> ParameterValue? {
        guard case .scalar = node, node.null == nil else { return nil }
        if node.tag.description.hasSuffix(":str") || node.scalar?.style == .doubleQuoted || node.scalar?.style == .singleQuoted {
            return node.string.map(ParameterValue.string)
        }
        if let bool = node.bool { return .bool(bool) }
        if let int = node.int { return .number(Double(int)) }
        if let float = node.float { return .number(float) }
        return node.string.map(ParameterValue.string)
    }

    private func dtypeValue(_ node: Node, keyPath: String, problems: inout [RecipeProblem]) -> DType? {
        guard let name = node.string, let dtype = DType(configName: name), dtype.isFloatingPoint else {
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected float32, float16, bfloat16 or float64, got '\(node.string ?? "?")'"))
            return nil
        }
        return dtype
    }

    private func tokenizerSource(_ keys: [String: Node], problems: inout [RecipeProblem]) -> TokenizerSource {
        var sourceNode: Node?
        var keyPath = "tokenizer_source"
        if let legacy = keys["tokenizer_source"] {
            sourceNode = legacy
            if let modern = keys["tokenizer"] {
                problems.append(RecipeProblem("tokenizer", line: modern.mark?.line, "use `tokenizer:` or `tokenizer_source:`, not both"))
            }
        } else if let modern = keys["tokenizer"] {
            guard let mapping = modern.mapping else {
                problems.append(RecipeProblem("tokenizer", line: modern.mark?.line, "expected a mapping with `source:`"))
                return .base
            }
            let sub = checkKeys(mapping, allowed: Self.tokenizerKeys, keyPath: "tokenizer", problems: &problems)
            for key in ["tokens", "pad_to_multiple_of"] {
                if let node = sub[key] {
                    problems.append(RecipeProblem("tokenizer.\(key)", line: node.mark?.line, "not supported yet (vocabulary surgery comes with the tokenizer issue)"))
                }
            }
            sourceNode = sub["source"]
            keyPath = "tokenizer.source"
            if sourceNode == nil {
                problems.append(RecipeProblem("tokenizer.source", line: modern.mark?.line, "mergekit's default here is `union`, which is not supported yet; set `source: base` or a model"))
            }
        }
        guard let node = sourceNode else { return .base }
        switch node.string {
        case "base": return .base
        case "union":
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "`union` (merging vocabularies) is not supported yet; use `base` or a model"))
            return .base
        case let model?: return .model(model)
        case nil:
            problems.append(RecipeProblem(keyPath, line: node.mark?.line, "expected `base` or a model"))
            return .base
        }
    }

    /// Base requirements and model counts that can be checked from the recipe alone.
    private func checkMethodShape(_ method: any MergeMethod.Type, slices: [RecipeSlice], baseModel: String?, problems: inout [RecipeProblem]) {
        for slice in slices {
            let base = slice.baseModel ?? baseModel
            if method.baseModel == .required && base == nil {
                problems.append(RecipeProblem("base_model", line: slice.line, "\(method.name) needs a base_model"))
                continue
            }
            let others = method.baseModel == .unused ? slice.sources.count : slice.sources.filter { $0.model != base }.count
            if !method.modelCount.admits(others) {
                let what = method.baseModel == .unused ? "input models" : "models besides the base"
                problems.append(RecipeProblem(slice.keyPath, line: slice.line, "\(method.name) takes \(method.modelCount.description) \(what), got \(others)"))
            }
        }
    }

    static func firstLine(_ error: any Error) -> String {
        "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
    }

    static func line(of error: any Error) -> Int? {
        if case let YamlError.scanner(_, _, mark, _) = error { return mark.line }
        if case let YamlError.parser(_, _, mark, _) = error { return mark.line }
        return nil
    }
}
