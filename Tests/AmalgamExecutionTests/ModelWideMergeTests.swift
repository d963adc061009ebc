import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe
import AmalgamTestSupport
import Foundation
import Testing

/// Test method: standardizes the single input over the whole model, using two model-wide passes
/// (pass 0: Σx and n; pass 1: Σ(x − mean)², given pass 0's totals).
enum StandardizeModel: ModelStatisticsMethod {
    static let name = "standardize_model"
    static let summary = "test only"
    static let baseModel = BaseModelRequirement.unused
    static let modelCount = ModelCount.exactly(1)
    static let parameters: [ParameterSpec] = []
    static let modelStatisticsPasses = 2

    static func tensorStatistics(pass: Int, previous: [[Double]], _ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Double] {
        let x = inputs.models[0]
        if pass == 0 { return [x.reduce(0.0) { $0 + Double($1) }, Double(x.count)] }
        let mean = previous[0][0] / previous[0][1]
        return [x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) }]
    }

    static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        let mean = context.modelStatistics[0][0] / context.modelStatistics[0][1]
        let std = (context.modelStatistics[1][0] / context.modelStatistics[0][1]).squareRoot()
        return inputs.models[0].map { Float((Double($0) - mean) / std) }
    }
}

/// Test method: one output per input model, base + 2·δ_i; fails on a tensor when asked.
enum DoubleEachTaskVector: PerModelOutputMethod {
    static let name = "double_each"
    static let summary = "test only"
    static let baseModel = BaseModelRequirement.required
    static let modelCount = ModelCount.atLeast(1)
    static let parameters = [ParameterSpec("fail_on", .global, .string, default: .string("nothing"), doc: "substring")]

    static func mergePerModel(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [[Float]] {
        if case .string(let pattern)? = context.global["fail_on"], context.tensorName.contains(pattern) {
            throw .numeric(tensor: context.tensorName, method: name, reason: "injected failure")
        }
        guard let base = inputs.base else { throw .badInputs(tensor: context.tensorName, method: name, reason: "no base") }
        return inputs.models.map { x in base.indices.map { base[$0] + 2 * (x[$0] - base[$0]) } }
    }

    static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergePerModel(inputs, context: context)[0]
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
            #expect(y == b.indices.map { b[$0] + 2 * (x[$0] - b[$0]) })
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
