import AmalgamCore
import AmalgamMerge

/// Parameters by name, with the recipe line each was written on.
public struct ParameterTable: Sendable, Equatable {
    public var settings: [String: ParameterSetting] = [:]
    public var lines: [String: Int] = [:]
    public init() {}
    public subscript(name: String) -> ParameterSetting? { settings[name] }
}

/// One input of an output slice: a model and, optionally, a half-open layer range.
public struct RecipeSource: Sendable, Equatable {
    /// The model reference as written (a path, or `org/name[@revision]`).
    public var model: String
    /// Layers `[lower, upper)`; nil means every layer (the `models:` syntax).
    public var layerRange: Range<Int>?
    public var parameters: ParameterTable
    /// The recipe line of the entry.
    public var line: Int?
    /// Key path for messages (`slices[0].sources[1]`, `models[2]`).
    public var keyPath: String

    public init(model: String, layerRange: Range<Int>?, parameters: ParameterTable, line: Int?, keyPath: String) {
        self.model = model
        self.layerRange = layerRange
        self.parameters = parameters
        self.line = line
        self.keyPath = keyPath
    }
}

/// One output slice: sources of equal length merged layer by layer.
public struct RecipeSlice: Sendable, Equatable {
    public var sources: [RecipeSource]
    public var parameters: ParameterTable
    /// A slice-level base model overriding the global one.
    public var baseModel: String?
    public var line: Int?
    public var keyPath: String
}

/// Where the merged model's tokenizer files come from.
public enum TokenizerSource: Sendable, Equatable {
    /// The base model (or the first model when there is no base): the default.
    case base
    /// A named model.
    case model(String)
}

/// A parsed recipe: the mergekit YAML schema, syntax-checked, with lines kept for messages.
/// Checks that need the checkpoints (layers, tensor names, shapes) happen in the planner.
public struct Recipe: Sendable {
    /// The recipe file's path (for messages) and text (written to the output).
    public var path: String
    public var text: String
    public var mergeMethod: String
    public var mergeMethodLine: Int?
    public var baseModel: String?
    public var baseModelLine: Int?
    /// True for the `models:` syntax (one slice over every layer).
    public var usesModelsSyntax: Bool
    /// The output slices (one for the `models:` syntax).
    public var slices: [RecipeSlice]
    public var parameters: ParameterTable
    /// Compute dtype (`dtype`): inputs are rounded to it on load when it is narrower than theirs.
    public var dtype: DType?
    /// Output dtype (`out_dtype`).
    public var outDType: DType?
    public var tokenizerSource: TokenizerSource
    /// A literal Jinja chat template to write as chat_template.jinja.
    public var chatTemplate: String?

    /// Every model reference in the recipe (sources and bases), first appearance order.
    public var modelReferences: [String] {
        var seen: [String] = []
        for reference in [baseModel].compactMap({ $0 }) + slices.flatMap({ [$0.baseModel].compactMap { $0 } + $0.sources.map(\.model) })
        where !seen.contains(reference) {
            seen.append(reference)
        }
        if case .model(let model) = tokenizerSource, !seen.contains(model) { seen.append(model) }
        return seen
    }
}
