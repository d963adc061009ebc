import AmalgamCore
import AmalgamExecution
import AmalgamIO
import AmalgamKernels
import AmalgamTestSupport
import Foundation
import Testing

@Suite("mergekit golden cases")
struct MergekitGoldenTests {
    /// Every deterministic fixture case of the methods implemented so far.
    static let deterministicCases = [
        "linear_normalize", "linear_no_normalize", "bf16_linear_out_f32",
        "task_arithmetic", "task_arithmetic_normalize_sharded", "bf16_task_arithmetic_out_f32", "f32_task_arithmetic_dtype_bf16",
        "ties_d05_normalize", "ties_d03_no_normalize", "ties_filters", "breadcrumbs", "breadcrumbs_ties",
        "slerp_t035", "slerp_gradient", "slerp_filters", "bf16_slerp",
        "model_stock", "model_stock_filter_wise", "bf16_model_stock_dtype_f32", "nearswap", "passthrough_frankenmerge",
        "nuslerp", "nuslerp_base_rows", "multislerp", "karcher", "sce", "arcee_fusion", "arcee_fusion_f64",
    ]

    @Test("Every fixture case is covered: deterministic ones here, seeded ones by statistics")
    func coverage() throws {
        let all = try FileManager.default.contentsOfDirectory(atPath: Fixtures.file("mergekit/cases")).sorted()
        #expect(Set(all) == Set(Self.deterministicCases + SeededMergeTests.cases))
    }

    @Test("Output matches mergekit within the case's tolerance", arguments: deterministicCases)
    func matchesMergekit(caseName: String) throws {
        let folder = TemporaryDirectory()
        let plan = try runCase(caseName, output: folder.child("out"))
        let (rtol, fraction) = try tolerance(ofCase: caseName)
        let (worst, failures) = try compare(folder.child("out"), Fixtures.file("mergekit/cases/\(caseName)/output"), rtol: rtol, maxMismatchFraction: fraction)
        #expect(failures.isEmpty, "\(failures.prefix(3))")
        #expect(worst.isFinite)
        let written = try Checkpoint(opening: folder.child("out"))
        let golden = try Checkpoint(opening: Fixtures.file("mergekit/cases/\(caseName)/output"))
        #expect(written.config?.numHiddenLayers == golden.config?.numHiddenLayers)
        #expect(plan.outputLayers == golden.config?.numHiddenLayers)
        #expect(folder.listing("out").contains("amalgam-recipe.yaml") && folder.listing("out").contains("README.md"))
    }

    @Test("The frankenmerge stacks ft_a layers 0–2 and ft_b layers 1–3 into six renumbered layers")
    func frankenmergeLayout() throws {
        let folder = TemporaryDirectory()
        _ = try runCase("passthrough_frankenmerge", output: folder.child("out"))
        let out = try Checkpoint(opening: folder.child("out"))
        let a = try Checkpoint(opening: Fixtures.path("llama_f32/ft_a")), b = try Checkpoint(opening: Fixtures.path("llama_f32/ft_b"))
        #expect(out.config?.numHiddenLayers == 6)
        #expect(try out.tensor(named: "model.layers.4.mlp.up_proj.weight").bytes.contentEquals(b.tensor(named: "model.layers.2.mlp.up_proj.weight").bytes))
        #expect(try out.tensor(named: "model.layers.2.self_attn.q_proj.weight").bytes.contentEquals(a.tensor(named: "model.layers.2.self_attn.q_proj.weight").bytes))
        #expect(try out.tensor(named: "model.embed_tokens.weight").bytes.contentEquals(a.tensor(named: "model.embed_tokens.weight").bytes))
        #expect(try out.tensor(named: "lm_head.weight").bytes.contentEquals(b.tensor(named: "lm_head.weight").bytes))
    }
}

@Suite("Seeded DARE and DELLA")
struct SeededMergeTests {
    static let cases = ["dare_ties_seeded", "dare_linear_seeded", "della_seeded", "della_linear_seeded"]

    /// Mean over tensors of: among positions where some fine-tune differs from the base, the
    /// share where the output equals the base.
    static func meanFractionUnchanged(_ output: String) throws -> Double {
        let out = try Checkpoint(opening: output)
        let base = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        let models = try ["ft_a", "ft_b", "ft_c"].map { try Checkpoint(opening: Fixtures.path("llama_f32/\($0)")) }
        var fractions: [Double] = []
        for name in out.tensorNames {
            let o = try out.tensor(named: name).float32Values(), b = try base.tensor(named: name).float32Values()
            let xs = try models.map { try $0.tensor(named: name).float32Values() }
            var active = 0, unchanged = 0
            for j in b.indices where xs.contains(where: { $0[j] != b[j] }) {
                active += 1
                if o[j] == b[j] { unchanged += 1 }
            }
            if active > 0 { fractions.append(Double(unchanged) / Double(active)) }
        }
        return fractions.reduce(0, +) / Double(fractions.count)
    }

    @Test("Names, shapes, dtypes and the kept fraction match mergekit's statistics", arguments: cases)
    func statistics(caseName: String) throws {
        let folder = TemporaryDirectory()
        _ = try runCase(caseName, output: folder.child("out"))
        let golden = try Checkpoint(opening: Fixtures.file("mergekit/cases/\(caseName)/output"))
        let out = try Checkpoint(opening: folder.child("out"))
        #expect(out.tensorNames == golden.tensorNames)
        for name in golden.tensorNames { #expect(out.info(name)?.shape == golden.info(name)?.shape && out.info(name)?.dtype == golden.info(name)?.dtype) }
        let stats = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.file("mergekit/cases/\(caseName)/stats.json")))) as? [String: Any]
        let expected = try #require(stats?["mean_fraction_unchanged"] as? Double)
        let ours = try Self.meanFractionUnchanged(folder.child("out"))
        // 41,248 positions: the binomial standard deviation of the mean is under 0.003.
        #expect(abs(ours - expected) < 0.02, "ours \(ours), mergekit \(expected)")
    }

    @Test("Same seed, same bytes, at 1 and 2 threads; another seed differs")
    func determinism() throws {
        let folder = TemporaryDirectory()
        _ = try runCase("dare_ties_seeded", output: folder.child("a"), seed: 7, threads: 1)
        _ = try runCase("dare_ties_seeded", output: folder.child("b"), seed: 7, threads: 2)
        _ = try runCase("dare_ties_seeded", output: folder.child("c"), seed: 8, threads: 2)
        let a = try Checkpoint(opening: folder.child("a")), b = try Checkpoint(opening: folder.child("b")), c = try Checkpoint(opening: folder.child("c"))
        var differs = false
        for name in a.tensorNames {
            #expect(try a.tensor(named: name).bytes.contentEquals(b.tensor(named: name).bytes), "\(name)")
            if try !a.tensor(named: name).bytes.contentEquals(c.tensor(named: name).bytes) { differs = true }
        }
        #expect(differs)
    }
}
