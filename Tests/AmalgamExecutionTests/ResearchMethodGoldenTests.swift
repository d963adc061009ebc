import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamKernels
import AmalgamMerge
import AmalgamRecipe
import AmalgamTestSupport
import Foundation
import Testing

/// One FusionBench golden case: the recipe that reproduces it.
struct ResearchCase: CustomTestStringConvertible, Sendable {
    let name: String
    let method: String
    let parameters: String
    var weights: [Double]? = nil
    var models: [String] = ["task_0", "task_1", "task_2", "task_3"]

    var testDescription: String { name }

    static let all: [ResearchCase] = [
        ResearchCase(name: "tsv_m_default", method: "tsv_m", parameters: ""),
        ResearchCase(name: "tsv_m_default_f64", method: "tsv_m", parameters: ""),
        ResearchCase(name: "tsv_m_alpha_list", method: "tsv_m", parameters: "", weights: [1, 0.5, 0.8, 1.2]),
        ResearchCase(name: "iso_c_default", method: "iso_c", parameters: ""),
        ResearchCase(name: "iso_c_scale_1.5", method: "iso_c", parameters: "{scaling_factor: 1.5}"),
        ResearchCase(name: "iso_cts_default", method: "iso_cts", parameters: ""),
        ResearchCase(name: "iso_cts_round_half_even", method: "iso_cts", parameters: "{scaling_factor: 1.5, common_space_fraction: 0.69}"),
        ResearchCase(name: "tall_mask_default", method: "tall_masks", parameters: "{lambda: 0.6}"),
        ResearchCase(name: "consensus_ta", method: "consensus_ta", parameters: "{lambda: 0.6, k: 2, scaling_factor: 0.4}"),
        ResearchCase(name: "consensus_ties", method: "consensus_ties", parameters: "{lambda: 0.6, k: 2, scaling_factor: 0.4, density: 0.2}"),
        ResearchCase(name: "lines_ta", method: "lines", parameters: "{beta: 0.5}"),
        ResearchCase(name: "lines_single_task", method: "lines", parameters: "{alpha: 0.3, beta: 0.7}", models: ["task_0"]),
        ResearchCase(name: "pcb_default", method: "pcb", parameters: "{ratio: 0.1, scaling_factor: 1.0, clamp_ratio: 0.0001}"),
        ResearchCase(name: "magmax_default", method: "magmax", parameters: "{scaling_factor: 0.5}"),
        ResearchCase(name: "opcm_default", method: "opcm", parameters: "{alpha: 0.5}"),
        ResearchCase(name: "opcm_default_f64", method: "opcm", parameters: "{alpha: 0.5}"),
        ResearchCase(name: "opcm_reversed", method: "opcm", parameters: "{alpha: 0.5}", models: ["task_3", "task_2", "task_1", "task_0"]),
        ResearchCase(name: "emr", method: "emr", parameters: ""),
        ResearchCase(name: "wudi_default", method: "wudi", parameters: "{iterations: 400, learning_rate: 1e-5}"),
        ResearchCase(name: "doge_ta_default", method: "doge_ta", parameters: "{subspace: 6, k: 30, lambda: 0.07}"),
        ResearchCase(name: "doge_ta_default_f64", method: "doge_ta", parameters: "{subspace: 6, k: 30, lambda: 0.07}"),
    ]

    var folder: String { Fixtures.file("fusionbench/cases/\(name)") }

    /// case.json's compare block and outputs.
    func golden() throws -> (rtol: Double, atol: Double, float64: Bool, outputs: [String]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/case.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let compare = try #require(json["compare"] as? [String: Any])
        return (try #require(compare["rtol"] as? Double), try #require(compare["atol"] as? Double),
                compare["precision"] as? String == "float64", try #require(json["outputs"] as? [String]))
    }

    func recipe(float64: Bool) -> String {
        let inputs = Fixtures.file("fusionbench/inputs")
        var text = "merge_method: \(method)\nbase_model: \(inputs)/base\nmodels:\n"
        for (i, model) in models.enumerated() {
            text += "  - model: \(inputs)/\(model)\n"
            if let weights { text += "    parameters: {weight: \(weights[i])}\n" }
        }
        if !parameters.isEmpty { text += "parameters: \(parameters)\n" }
        if float64 { text += "dtype: float64\nout_dtype: float64\n" }
        return text
    }

    /// Merges into `output`.
    func run(output: String, threads: Int = 2, float64: Bool) throws {
        let recipe = try RecipeParser().parse(recipe(float64: float64), path: "\(name).yaml")
        var options = MergeOptions()
        options.threads = threads
        options.maxShardBytes = nil
        let plan = try Planner().plan(recipe, output: output, options: options)
        try StreamingExecutor().execute(plan, output: output, options: options)
    }
}

/// Per tensor: max|a − e| ≤ atol + rtol·max|e| (the fixture README's rule); returns the failures
/// and the worst max|a − e| / max|e|.
func compareGolden(_ actualPath: String, _ expectedPath: String, rtol: Double, atol: Double) throws -> (worst: Double, failures: [String]) {
    let actual = try Checkpoint(opening: actualPath)
    let expected = try Checkpoint(opening: expectedPath)
    var failures: [String] = []
    var worst = 0.0
    if actual.tensorNames != expected.tensorNames { failures.append("tensor names differ") }
    for name in expected.tensorNames {
        let e = try expected.tensor(named: name)
        guard let a = try? actual.tensor(named: name), a.shape == e.shape, a.dtype == e.dtype else {
            failures.append("\(name): missing or of another shape or dtype")
            continue
        }
        let x = a.float64Values(), y = e.float64Values()
        let scale = y.reduce(0) { max($0, abs($1)) }
        let difference = zip(x, y).reduce(0) { max($0, abs($1.0 - $1.1)) }
        worst = max(worst, scale > 0 ? difference / scale : difference)
        if !(difference <= atol + rtol * scale) { failures.append("\(name): max difference \(difference), scale \(scale)") }
    }
    return (worst, failures)
}

@Suite("Research methods against the FusionBench goldens")
struct ResearchMethodGoldenTests {
    @Test("Every golden case within its case.json tolerance", arguments: ResearchCase.all)
    func golden(_ researchCase: ResearchCase) throws {
        let folder = TemporaryDirectory()
        let golden = try researchCase.golden()
        try researchCase.run(output: folder.child("out"), float64: golden.float64)
        for output in golden.outputs {
            let actual = output == "merged" ? folder.child("out") : folder.child("out/\(output)")
            let result = try compareGolden(actual, researchCase.folder + "/" + output, rtol: golden.rtol, atol: golden.atol)
            #expect(result.failures.isEmpty, "\(researchCase.name)/\(output): \(result.failures.joined(separator: "; "))")
        }
    }

    @Test("Float32 twins of the _f64 cases stay inside the float32 tolerance of the float64 golden")
    func float32AgainstFloat64() throws {
        for name in ["tsv_m_default_f64", "opcm_default_f64"] {
            let folder = TemporaryDirectory()
            let researchCase = try #require(ResearchCase.all.first { $0.name == name })
            try researchCase.run(output: folder.child("out"), float64: false)
            // Float32 output against the float64 golden: only the final rounding differs.
            let actual = try Checkpoint(opening: folder.child("out"))
            let expected = try Checkpoint(opening: researchCase.folder + "/merged")
            for tensor in expected.tensorNames {
                let x = try actual.tensor(named: tensor).float64Values(), y = try expected.tensor(named: tensor).float64Values()
                let scale = y.reduce(0) { max($0, abs($1)) }
                #expect(zip(x, y).allSatisfy { abs($0 - $1) <= 1e-7 * scale + 1e-9 }, "\(name) \(tensor)")
            }
        }
    }

    @Test("Per-model outputs: OUT/<input name>/ complete checkpoints plus amalgam-report.json")
    func perModelReport() throws {
        let folder = TemporaryDirectory()
        let researchCase = try #require(ResearchCase.all.first { $0.name == "emr" })
        try researchCase.run(output: folder.child("out"), float64: false)
        #expect(folder.listing("out") == ["README.md", "amalgam-recipe.yaml", "amalgam-report.json", "task_0", "task_1", "task_2", "task_3"])
        #expect(folder.listing("out/task_2").contains("config.json"))
        let data = try Data(contentsOf: URL(fileURLWithPath: folder.child("out/amalgam-report.json")))
        let report = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rescalers = try #require(report["rescaler"] as? [String: Double])
        // case.json derived.rescalers_float64
        let expected = [1.7535054199414988, 0.81336499964173, 0.8577197393027891, 0.7556944697156547]
        for (t, value) in expected.enumerated() {
            #expect(abs((rescalers["task_\(t)"] ?? 0) - value) < 1e-12)
        }
    }

    @Test("The same bits at 1 and 3 threads (tensors in parallel, single-threaded BLAS)")
    func threadIndependence() throws {
        for name in ["iso_cts_default", "pcb_default", "opcm_default"] {
            let researchCase = try #require(ResearchCase.all.first { $0.name == name })
            let one = TemporaryDirectory(), three = TemporaryDirectory()
            try researchCase.run(output: one.child("out"), threads: 1, float64: false)
            try researchCase.run(output: three.child("out"), threads: 3, float64: false)
            let a = try Checkpoint(opening: one.child("out")), b = try Checkpoint(opening: three.child("out"))
            for tensor in a.tensorNames {
                #expect(try a.tensor(named: tensor).bytes.contentEquals(b.tensor(named: tensor).bytes), "\(name) \(tensor)")
            }
        }
    }
}

@Suite("Research method properties the fixture README states")
struct ResearchMethodPropertyTests {
    func output(_ name: String, _ tensor: String, model: String? = nil) throws -> [Double] {
        let folder = TemporaryDirectory()
        let researchCase = try #require(ResearchCase.all.first { $0.name == name })
        try researchCase.run(output: folder.child("out"), float64: false)
        let checkpoint = try Checkpoint(opening: folder.child(model.map { "out/\($0)" } ?? "out"))
        return try checkpoint.tensor(named: tensor).float64Values()
    }

    @Test("MagMax: the later task wins an exact magnitude tie (task 2's −0.25 over task 0's +0.25)")
    func magmaxTies() throws {
        let norm = try output("magmax_default", "model.layers.0.input_layernorm.weight")
        #expect(Array(norm[0..<4]) == [0.875, 0.875, 0.875, 0.875])
    }

    @Test("EMR: an exact zero sum elects the negative sign")
    func emrZeroSum() throws {
        // Norm indices 0–3: τ_0 = +0.25, τ_2 = −0.25, sum 0 → sign −1, only task 2 keeps them.
        let task0 = try output("emr", "model.layers.0.input_layernorm.weight", model: "task_0")
        let task2 = try output("emr", "model.layers.0.input_layernorm.weight", model: "task_2")
        #expect(Array(task0[0..<4]) == [1, 1, 1, 1])
        let gamma2 = 0.8577197393027891
        #expect(task2[0..<4].allSatisfy { abs($0 - (1 - 0.25 * gamma2)) < 1e-6 })
        // Indices 4–7: no task changes them, the sum is 0, nothing is kept: the base value.
        #expect(Array(task2[4..<8]) == [1, 1, 1, 1])
    }

    @Test("OPCM depends on the order of the models")
    func opcmOrder() throws {
        let forward = try output("opcm_default", "model.layers.1.self_attn.q_proj.weight")
        let reversed = try output("opcm_reversed", "model.layers.1.self_attn.q_proj.weight")
        let scale = forward.reduce(0) { max($0, abs($1)) }
        let difference = zip(forward, reversed).reduce(0) { max($0, abs($1.0 - $1.1)) }
        #expect(difference > 1e-2 * scale)
    }

    @Test("Iso-CTS subspace sizes round half to even, as Python's round")
    func isoCTSSizes() {
        #expect(IsoCTS.subspaceSizes(rank: 32, tasks: 4, fraction: 0.8) == (24, 2))
        // (32 − 22)/4 = 2.5 rounds to 2 (half away from zero would give 3 and c = 20).
        #expect(IsoCTS.subspaceSizes(rank: 32, tasks: 4, fraction: 0.69) == (24, 2))
        // 3.5 rounds to 4.
        #expect(IsoCTS.subspaceSizes(rank: 32, tasks: 2, fraction: 0.79) == (24, 4))
        #expect(IsoCTS.subspaceSizes(rank: 4096, tasks: 4, fraction: 0.8) == (3276, 205))
    }
}

@Suite("Rank-deficient task vectors")
struct RankDeficiencyTests {
    @Test("TSV-M with a task that changes nothing: the merge is exactly the rank-⌊r/T⌋ truncation of the other task")
    func zeroTaskVector() throws {
        // Tasks [task_0, base]: τ_1 = 0, whose singular vectors LAPACK would make up. Under the rank
        // policy its slots are zero, polar([U₀ₖ | 0]) = [U₀ₖ | 0], and Δ = U₀ₖ·S₀ₖ·V₀ₖᵀ.
        let inputs = Fixtures.file("fusionbench/inputs")
        let folder = TemporaryDirectory()
        // A copy of the base under another name (a model equal to base_model is dropped from `models`, as in mergekit).
        try FileManager.default.copyItem(atPath: inputs + "/base", toPath: folder.child("untouched"))
        let text = "merge_method: tsv_m\nbase_model: \(inputs)/base\nmodels:\n  - model: \(inputs)/task_0\n  - model: \(folder.child("untouched"))\ndtype: float64\nout_dtype: float64\n"
        var options = MergeOptions()
        options.threads = 2
        let plan = try Planner().plan(try RecipeParser().parse(text, path: "r.yaml"), output: folder.child("out"), options: options)
        try StreamingExecutor().execute(plan, output: folder.child("out"), options: options)
        let out = try Checkpoint(opening: folder.child("out"))
        let base = try Checkpoint(opening: inputs + "/base"), task = try Checkpoint(opening: inputs + "/task_0")
        for name in ["model.layers.1.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.weight", "lm_head.weight"] {
            let b = try base.tensor(named: name), t = try task.tensor(named: name)
            let (m, n) = (b.shape.dimensions[0], b.shape.dimensions[1])
            let tau = zip(t.float64Values(), b.float64Values()).map { $0 - $1 }
            let d = try LinearAlgebra.svd(tau, rows: m, columns: n)
            let k = min(m, n) / 2
            var expected = b.float64Values()
            for i in 0..<m { for j in 0..<n { for p in 0..<k { expected[i * n + j] += d.u[i * d.uColumns + p] * d.s[p] * d.vt[p * n + j] } } }
            let actual = try out.tensor(named: name).float64Values()
            #expect(zip(actual, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(name)")
        }
    }
}

@Suite("Research method recipe errors")
struct ResearchRecipeErrorTests {
    func message(_ text: String) -> String {
        let inputs = Fixtures.file("fusionbench/inputs")
        do {
            let recipe = try RecipeParser().parse(text.replacingOccurrences(of: "I/", with: inputs + "/"), path: "r.yaml")
            _ = try Planner().plan(recipe, output: nil, options: MergeOptions())
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("Each broken recipe gets its one-line error")
    func errors() {
        #expect(message("merge_method: iso_c\nbase_model: I/base\nparameters: {alpha: 1}\nmodels:\n  - model: I/task_0\n")
                == "'r.yaml': line 3: parameters.alpha: unknown parameter 'alpha' for iso_c; it takes scaling_factor")
        #expect(message("merge_method: tsv_m\nmodels:\n  - model: I/task_0\n  - model: I/task_1\n")
                == "'r.yaml': line 3: base_model: tsv_m needs a base_model")
        #expect(message("merge_method: opcm\nbase_model: I/base\nmodels:\n  - model: I/task_0\n")
                == "'r.yaml': line 4: models: opcm takes at least 2 models besides the base, got 1")
        #expect(message("merge_method: lines\nbase_model: I/base\nparameters: {beta: 0.5}\nmodels:\n  - model: I/task_0\n")
                .contains("line 1: parameters: alpha is required with one model (single-task LiNeS)"))
        #expect(message("merge_method: lines\nbase_model: I/base\nmodels:\n  - model: I/task_0\n  - model: I/task_1\n")
                .contains("lines needs 'beta'"))
        #expect(message("merge_method: pcb\nbase_model: I/base\nparameters: {ratio: 1.5}\nmodels:\n  - model: I/task_0\n")
                .contains("ratio"))
    }
}
