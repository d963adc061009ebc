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

/// Test method: its statistics pass reads the second model only and its merge pass no model;
/// it fails if the executor hands it anything else. Output: base + the mean of τ₂ over the model.
enum SelectedInputs: WholeModelMergeMethod {
    static let name = "selected_inputs"
    static let summary = "test only"
    static let baseModel = BaseModelRequirement.required
    static let modelCount = ModelCount.atLeast(2)
    static let parameters: [ParameterSpec] = []
    static var mergeReads: ModelSelection { .only([]) }

    static func statistics(_ scan: ModelScanner) throws(MergeError) -> Double {
        let totals = try scan.sum(models: .only([1])) { (tensor: TensorSet) throws(MergeError) -> [Double] in
            guard tensor.models[0].isEmpty, tensor.models[1].count == tensor.count, tensor.base?.count == tensor.count else {
                throw .badInputs(tensor: tensor.name, method: name, reason: "statistics pass got \(tensor.models.map(\.count)) values")
            }
            return [tensor.taskVector(1).reduce(0, +), Double(tensor.count)]
        }
        return totals[0] / totals[1]
    }

    static func merge(_ tensor: TensorSet, statistics: Double) throws(MergeError) -> [[Double]] {
        guard tensor.models.allSatisfy(\.isEmpty), tensor.base?.count == tensor.count else {
            throw .badInputs(tensor: tensor.name, method: name, reason: "merge pass got \(tensor.models.map(\.count)) values")
        }
        return [tensor.applying([Double](repeating: statistics, count: tensor.count))]
    }
}

@Suite("Model-wide statistics and per-model outputs")
struct ModelWideMergeTests {
    func run(_ text: String, output: String) throws {
        var registry = MergeMethodRegistry.builtIn
        registry.register(StandardizeModel.self)
        registry.register(DoubleEachTaskVector.self)
        registry.register(SelectedInputs.self)
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

    @Test("A pass reads the base and the models it selects, and nothing else")
    func selectedModels() throws {
        let folder = TemporaryDirectory()
        try run("merge_method: selected_inputs\nbase_model: M/llama_f32/base\nmodels:\n  - model: M/llama_f32/ft_a\n  - model: M/llama_f32/ft_c\n",
                output: folder.child("out"))
        let base = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        let second = try Checkpoint(opening: Fixtures.path("llama_f32/ft_c"))
        var total = 0.0, count = 0
        for name in base.tensorNames {
            let b = try base.tensor(named: name).float32Values(), x = try second.tensor(named: name).float32Values()
            total += zip(x, b).reduce(0) { $0 + Double($1.0) - Double($1.1) }
            count += b.count
        }
        let mean = total / Double(count)
        #expect(abs(mean) > 1e-6)
        let out = try Checkpoint(opening: folder.child("out"))
        for name in ["model.layers.1.mlp.up_proj.weight", "model.norm.weight"] {
            let b = try base.tensor(named: name).float32Values(), y = try out.tensor(named: name).float32Values()
            #expect(zip(y, b).allSatisfy { abs(Double($0) - (Double($1) + mean)) <= 1e-6 * max(1, abs(Double($0))) }, "\(name)")
        }
    }

    @Test("Tensors of at least four times the mean size start early, except the first few, and only with several workers")
    func earlyTensors() {
        let sizes = [10_000] + [Int](repeating: 10, count: 14) + [10_000]
        let model = ModelDescription(tensors: sizes.enumerated().map { ("t\($0.offset)", Shape([$0.element])) }, layerCount: nil, modelCount: 1)
        func scan(_ threads: Int) -> ModelScanner {
            ModelScanner(model: model, threads: threads) { (index: Int, _: Int, _: ModelSelection) throws(MergeError) -> TensorSet in
                throw .badInputs(tensor: "t\(index)", method: "test", reason: "not read")
            }
        }
        #expect(scan(2).early == [15])
        #expect(scan(1).early.isEmpty)
        #expect(scan(2).cost(of: 0) == 10_000 * 8 * 3 && scan(2).cost(of: 0, models: .only([])) == 10_000 * 8 * 2)
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
