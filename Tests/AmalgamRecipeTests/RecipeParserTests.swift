import AmalgamCore
import AmalgamMerge
import AmalgamRecipe
import Testing

@Suite("Recipe parsing")
struct RecipeParserTests {
    func parse(_ text: String) throws(RecipeError) -> Recipe { try RecipeParser().parse(text, path: "r.yaml") }

    func problems(_ text: String) -> [String] {
        do {
            _ = try parse(text)
            return []
        } catch {
            return error.problems.map(\.description)
        }
    }

    @Test("The models: syntax with per-model, filtered and gradient parameters")
    func modelsSyntax() throws {
        let recipe = try parse("""
            models:
              - model: a
                parameters:
                  density: [1, 0.7, 0.1]
                  weight: 1.0
              - model: b
                parameters:
                  density: 0.5
                  weight:
                    - filter: mlp
                      value: 0.5
                    - value: 0
            merge_method: ties
            base_model: base
            parameters:
              normalize: true
              int8_mask: true
            dtype: float16
            """)
        #expect(recipe.mergeMethod == "ties" && recipe.baseModel == "base" && recipe.usesModelsSyntax)
        #expect(recipe.slices.count == 1 && recipe.slices[0].sources.map(\.model) == ["a", "b"])
        #expect(recipe.dtype == .float16 && recipe.outDType == nil)
        let density = try #require(recipe.slices[0].sources[0].parameters["density"])
        #expect(density.value(tensorName: "x", t: 0) == .number(1))
        #expect(density.value(tensorName: "x", t: 0.5) == .number(0.7))
        #expect(density.value(tensorName: "x", t: 0.75)?.number.map { abs($0 - 0.4) < 1e-12 } == true)
        let weight = try #require(recipe.slices[0].sources[1].parameters["weight"])
        #expect(weight.value(tensorName: "model.layers.0.mlp.up_proj.weight", t: 0) == .number(0.5))
        #expect(weight.value(tensorName: "model.layers.0.self_attn.q_proj.weight", t: 0) == .number(0))
        #expect(recipe.modelReferences == ["base", "a", "b"])
    }

    @Test("slices: with half-open layer ranges and a slice-level base")
    func slicesSyntax() throws {
        let recipe = try parse("""
            slices:
              - sources:
                  - model: a
                    layer_range: [0, 24]
              - sources:
                  - model: b
                    layer_range: [20, 40]
            merge_method: passthrough
            dtype: bfloat16
            """)
        #expect(recipe.slices.map { $0.sources[0].layerRange } == [0..<24, 20..<40])
        #expect(!recipe.usesModelsSyntax)
    }

    @Test("Filters: first match wins, unmatched is unset, * is a fallback")
    func filters() {
        let setting = ParameterSetting.conditional([
            ConditionalSetting(filter: "self_attn", value: .list([.number(0), .number(1)])),
            ConditionalSetting(filter: "*", value: .scalar(.number(0.5))),
        ])
        #expect(setting.value(tensorName: "layers.0.self_attn.q", t: 0.25) == .number(0.25))
        #expect(setting.value(tensorName: "layers.0.mlp.up", t: 0.25) == .number(0.5))
        let only = ParameterSetting.conditional([ConditionalSetting(filter: "mlp", value: .scalar(.number(1)))])
        #expect(only.value(tensorName: "lm_head.weight", t: 0) == nil)
        let steps = ParameterSetting.list([.bool(true), .bool(false), .bool(true)])
        #expect(steps.value(tensorName: "x", t: 0.4) == .bool(true) && steps.value(tensorName: "x", t: 0.5) == .bool(false))
    }

    /// The catalogue of broken recipes: each gives exactly this message.
    static let broken: [(String, String, [String])] = [
        ("unknown method", "merge_method: dare-ties\nbase_model: b\nmodels:\n  - model: a\n",
         ["line 1: merge_method: unknown method 'dare-ties' (did you mean 'dare_ties'?); `amalgam methods` lists them"]),
        ("unknown top-level key", "merge_method: linear\nbase_modle: b\nmodels:\n  - model: a\n    parameters: {weight: 1}\n",
         ["line 2: base_modle: unknown key 'base_modle' (did you mean 'base_model'?)"]),
        ("missing merge_method", "models:\n  - model: a\n", ["line 1: merge_method: missing (every recipe names its merge_method)"]),
        ("density out of range", "merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters: {weight: 1, density: 1.5}\n",
         ["line 5: models[0].parameters.density: density must be in [0.0, 1.0], got 1.5"]),
        ("unknown parameter", "merge_method: ties\nbase_model: b\nmodels:\n  - model: a\n    parameters:\n      weight: 1\n      densty: 0.5\n",
         ["line 7: models[0].parameters.densty: unknown parameter 'densty' for ties (did you mean 'density'?); it takes weight, density, normalize, rescale, lambda, int8_mask"]),
        ("global parameter set per model", "merge_method: slerp\nbase_model: a\nmodels:\n  - model: a\n  - model: b\n    parameters: {t: 0.5}\n",
         ["line 6: models[1].parameters.t: 't' is a global parameter of slerp; set it under the top-level or slice `parameters:`"]),
        ("wrong type", "merge_method: linear\nmodels:\n  - model: a\n    parameters: {weight: heavy}\n",
         ["line 4: models[0].parameters.weight: weight must be a number, got heavy"]),
        ("missing base", "merge_method: ties\nmodels:\n  - model: a\n    parameters: {weight: 1}\n",
         ["line 3: base_model: ties needs a base_model"]),
        ("slerp with three models", "merge_method: slerp\nbase_model: a\nparameters: {t: 0.5}\nmodels:\n  - model: a\n  - model: b\n  - model: c\n",
         ["line 5: models: slerp takes exactly 1 models besides the base, got 2"]),
        ("models and slices", "merge_method: linear\nmodels:\n  - model: a\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n",
         ["line 1: use one of `models:` and `slices:`, not both"]),
        ("unequal slice lengths", "merge_method: linear\nslices:\n  - sources:\n      - model: a\n        layer_range: [0, 2]\n      - model: b\n        layer_range: [0, 3]\n",
         ["line 3: slices[0].sources: sources of one slice must have equal lengths, got [0, 2), [0, 3)"]),
        ("bad layer range", "merge_method: passthrough\nslices:\n  - sources:\n      - model: a\n        layer_range: [4, 2]\n",
         ["line 5: slices[0].sources[0].layer_range: expected [start, end] with 0 ≤ start < end (end exclusive)"]),
        ("union tokenizer", "merge_method: linear\ntokenizer_source: union\nmodels:\n  - model: a\n    parameters: {weight: 1}\n",
         ["line 2: tokenizer_source: `union` (merging vocabularies) is not supported yet; use `base` or a model"]),
        ("bad dtype", "merge_method: linear\ndtype: int8\nmodels:\n  - model: a\n    parameters: {weight: 1}\n",
         ["line 2: dtype: expected float32, float16, bfloat16 or float64, got 'int8'"]),
        ("not YAML", "merge_method: [linear\n", ["not valid YAML"]),
    ]

    @Test("Broken recipes give their exact messages", arguments: broken.indices)
    func brokenRecipe(index: Int) {
        let (label, text, expected) = Self.broken[index]
        let found = problems(text)
        if label == "not YAML" {
            #expect(found.count == 1 && found[0].contains(expected[0]), "\(label): \(found)")
        } else {
            #expect(found == expected, "\(label)")
        }
    }

    @Test("All problems are reported together, in line order, one line each")
    func allTogether() {
        let text = """
            merge_method: ties
            base_modle: b
            models:
              - model: a
                parameters: {weight: 1, density: 2}
            dtype: int4
            """
        do {
            _ = try parse(text)
            Issue.record("parsed")
        } catch {
            #expect(error.problems.count == 4)
            #expect(error.problems.map(\.line) == [2, 4, 5, 6])
            #expect(error.description == """
                'r.yaml': line 2: base_modle: unknown key 'base_modle' (did you mean 'base_model'?)
                'r.yaml': line 4: base_model: ties needs a base_model
                'r.yaml': line 5: models[0].parameters.density: density must be in [0.0, 1.0], got 2
                'r.yaml': line 6: dtype: expected float32, float16, bfloat16 or float64, got 'int4'
                """)
        }
    }
}
