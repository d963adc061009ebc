import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe
import AmalgamTestSupport
import Foundation
import Testing

/// Test method: standardizes the single input over the whole model, using two model-wide passes
/// (Σx and n; then Σ(x − mean)², given the first pass's totals).
enum StandardizeModel: WholeModelMergeMethod {
    static let name = "standardize_model"
    static let summary = "test only"
    static let baseModel = BaseModelRequirement.unused
    static let modelCount = ModelCount.exactly(1)
    static let parameters: [ParameterSpec] = []

    static func statistics(_ scan: ModelScanner) throws(MergeError) -> [Double] {
        let first = try scan.sum { (tensor: TensorSet) throws(MergeError) -> [Double] in [tensor.models[0].reduce(0, +), Double(tensor.count)] }
        let mean = first[0] / first[1]
        let second = try scan.sum { (tensor: TensorSet) throws(MergeError) -> [Double] in [tensor.models[0].reduce(0) { $0 + ($1 - mean) * ($1 - mean) }] }
        return [mean, (second[0] / first[1]).squareRoot()]
    }

    static func merge(_ tensor: TensorSet, statistics: [Double]) throws(MergeError) -> [[Double]] {
        [tensor.models[0].map { ($0 - statistics[0]) / statistics[1] }]
    }
}

/// Test method: one output per input model, base + 2·δ_i; fails on a tensor when asked.
enum DoubleEachTaskVector: WholeModelMergeMethod {
    typealias Statistics = Void
    static let name = "double_each"
    static let summary = "test only"
    static let baseModel = BaseModelRequirement.required
    static let modelCount = ModelCount.atLeast(1)
    static let writesOneModelPerInput = true
    static let parameters = [ParameterSpec("fail_on", .global, .string, default: .string("nothing"), doc: "substring")]

    static func merge(_ tensor: TensorSet, statistics: Void) throws(MergeError) -> [[Double]] {
        if case .string(let pattern)? = tensor.context.global["fail_on"], tensor.name.contains(pattern) {
            throw .numeric(tensor: tensor.name, method: name, reason: "injected failure")
        }
        return tensor.models.indices.map { tensor.applying(tensor.taskVector($0), scale: 2) }
    }
}

@Suite("Model-wide statistics and per-model outputs")
struct ModelWideMergeTests {
    func run(_ text: String, output: String) throws {
        var registry = MergeMethodRegistry.builtIn
        registry.register(StandardizeModel.self)
        registry.register(DoubleEachTaskVector.self)
        let models = Fixtures.file("mergekit/models")
        let recipe = try RecipeParser(registry: registry).parse(text.replacingOccurrences(of: "M/", with: models + "/"), path: "r.yaml")
        let plan = try Planner(registry: registry).plan(recipe, output: output, options: MergeOptions())
        try StreamingExecutor().execute(plan, output: output, options: MergeOptions())
    }

    @Test("Two statistics passes over the whole model before merging: the output has mean 0 and std 1 model-wide")
    func standardize() throws {
        let folder = TemporaryDirectory()
        try run("merge_method: standardize_model\nmodels:\n  - model: M/llama_f32/ft_a\n", output: folder.child("out"))
        let out = try Checkpoint(opening: folder.child("out"))
        var values: [Double] = []
        for name in out.tensorNames { values += try out.tensor(named: name).float32Values().map(Double.init) }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        #expect(values.count == 41_248)
        #expect(abs(mean) < 1e-6 && abs(variance - 1) < 1e-5)
        // One tensor alone is not standardized: the statistics really were model-wide.
        let norm = try out.tensor(named: "model.norm.weight").float32Values()
        #expect(abs(norm.reduce(0, +) / Float(norm.count)) > 0.1)
    }

    @Test("One complete model per input, as OUT/<name>/, plus the recipe and model card")
    func perModel() throws {
        let folder = TemporaryDirectory()
        try run("merge_method: double_each\nbase_model: M/llama_f32/base\nmodels:\n  - model: M/llama_f32/ft_a\n  - model: M/llama_f32/ft_c\n",
                output: folder.child("out"))
        #expect(folder.listing("out") == ["README.md", "amalgam-recipe.yaml", "ft_a", "ft_c"])
        let base = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        for name in ["ft_a", "ft_c"] {
            let out = try Checkpoint(opening: folder.child("out/\(name)"))
            let input = try Checkpoint(opening: Fixtures.path("llama_f32/\(name)"))
            #expect(out.config?.numHiddenLayers == 4 && out.tensorNames.count == 39)
            let b = try base.tensor(named: "model.layers.1.mlp.up_proj.weight").float32Values()
            let x = try input.tensor(named: "model.layers.1.mlp.up_proj.weight").float32Values()
            let y = try out.tensor(named: "model.layers.1.mlp.up_proj.weight").float32Values()
            #expect(y == b.indices.map { Float(Double(b[$0]) + 2 * (Double(x[$0]) - Double(b[$0]))) })  // Float64, rounded once
        }
        #expect(folder.listing() == ["out"])
    }

    @Test("A per-model merge that fails midway leaves nothing")
    func perModelFailure() {
        let folder = TemporaryDirectory()
        #expect(throws: MergeError.self) {
            try run("merge_method: double_each\nbase_model: M/llama_f32/base\nparameters: {fail_on: layers.2}\nmodels:\n  - model: M/llama_f32/ft_a\n  - model: M/llama_f32/ft_b\n",
                    output: folder.child("out"))
        }
        #expect(folder.listing().isEmpty)
    }
}
