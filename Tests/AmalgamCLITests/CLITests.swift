@testable import AmalgamCLI
import AmalgamCore
import AmalgamIO
import AmalgamKernels
import AmalgamMerge
import AmalgamTestSupport
import ArgumentParser
import Foundation
import Testing

@Suite("amalgam inspect")
struct InspectTests {
    @Test("The JSON report has the documented shape and the fixture's figures")
    func json() throws {
        let checkpoint = try Checkpoint(opening: Fixtures.path("llama_f32/ft_c"))
        let report = try InspectReport(checkpoint: checkpoint, statistics: false, threads: 2)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        let summary = try #require(object["summary"] as? [String: Any])
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        #expect(tensors.count == 39)
        #expect(summary["parameters"] as? Int == 41_248)
        #expect(summary["bytes"] as? Int == 164_992)
        #expect(summary["layers"] as? Int == 4 && summary["hidden_size"] as? Int == 32 && summary["vocab_size"] as? Int == 64)
        #expect(summary["architecture"] as? String == "LlamaForCausalLM")
        #expect(summary["tied_embeddings"] as? Bool == false)
        #expect((summary["shards"] as? [String])?.count == 3)
        let first = tensors[0]
        #expect(Set(first.keys).isSuperset(of: ["name", "dtype", "shape", "shard", "bytes"]))
        #expect(first["name"] as? String == "lm_head.weight" && first["shape"] as? [Int] == [64, 32])
        #expect(first["shard"] as? String == "model-00003-of-00003.safetensors")
        #expect(first["stats"] == nil)
    }

    @Test("--stats agrees with the reference sums and is identical at 1 and 2 threads")
    func stats() throws {
        let checkpoint = try Checkpoint(opening: Fixtures.path("llama_bf16/base"))
        let one = try InspectReport(checkpoint: checkpoint, statistics: true, threads: 1)
        let two = try InspectReport(checkpoint: checkpoint, statistics: true, threads: 2)
        #expect(try one.json() == two.json())
        let norm = try #require(one.tensors.first { $0.name == "model.norm.weight" }?.stats)
        let values = try checkpoint.tensor(named: "model.norm.weight").float32Values().map(Double.init)
        #expect(abs(norm.mean - values.reduce(0, +) / Double(values.count)) < 1e-12)
        #expect(norm.min == values.min() && norm.max == values.max() && norm.nan == 0)
    }

    @Test("The table ends with totals and a summary")
    func text() throws {
        let report = try InspectReport(checkpoint: try Checkpoint(opening: Fixtures.path("llama_f32/base")), statistics: false, threads: 1)
        let text = report.text()
        #expect(text.contains("total (39 tensors)"))
        #expect(text.contains("41,248"))
        #expect(text.contains("Architecture     LlamaForCausalLM (llama)"))
        #expect(text.contains("Tied embeddings  no (config.json)"))
    }

    @Test("Errors render as one error line and a hint")
    func errorRendering() {
        let rendered = AmalgamRuntime.render(CheckpointError.outputExists(path: "out"))
        #expect(rendered == "error: output 'out' exists and is not empty\nhint: pass --force to replace it once the new output is complete.")
    }
}

@Suite("amalgam reshard")
struct ReshardTests {
    @Test("Resharding to bf16 with a small shard size converts once and copies the config")
    func reshardToBF16() throws {
        let folder = TemporaryDirectory()
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        try Resharder(checkpoint: source, outputDType: .bfloat16, threads: 2)
            .write(to: folder.child("out"), maxShardBytes: 30_000, overwrite: false)
        let written = try Checkpoint(opening: folder.child("out"))
        #expect(written.shards.count > 1)
        #expect(written.config?.dtype == "bfloat16")
        #expect(written.auxiliaryFiles == ["generation_config.json"])
        for name in source.tensorNames {
            let original = try source.tensor(named: name).float32Values()
            let expected = try Tensor(float32: original, shape: source.info(name)!.shape, dtype: .bfloat16)
            #expect(try written.tensor(named: name).bytes.contentEquals(expected.bytes), "\(name)")
        }
    }

    @Test("Unchanged tensors are copied file to file, byte for byte, across new shard boundaries")
    func reshardCopy() throws {
        let folder = TemporaryDirectory()
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/ft_c"))
        try Resharder(checkpoint: source, outputDType: nil, threads: 2).write(to: folder.child("out"), maxShardBytes: 100_000, overwrite: false)
        let written = try Checkpoint(opening: folder.child("out"))
        #expect(written.shards.count == 2)
        for name in source.tensorNames {
            #expect(try written.tensor(named: name).bytes.contentEquals(source.tensor(named: name).bytes), "\(name)")
        }
    }

    @Test("Piecewise conversion across piece boundaries equals converting the whole tensor at once")
    func piecewiseConversion() throws {
        let count = Resharder.pieceElements * 2 + 5
        var generator = SeededGenerator(seed: 11)
        let values = (0..<count).map { _ in Float.random(in: -4...4, using: &generator) }
        let tensor = try Tensor(float32: values, shape: [count], dtype: .float32)
        let resharder = Resharder(checkpoint: try Checkpoint(opening: Fixtures.path("llama_f32/base")), outputDType: .float16, threads: 2)
        var pieces: [UInt8] = []
        var pieceCount = 0
        try resharder.convertInPieces(tensor, to: .float16, buffers: Resharder.ConversionBuffers()) { piece in
            pieces += piece.array
            pieceCount += 1
        }
        #expect(pieceCount == 3)
        #expect(pieces == (try Tensor(float32: values, shape: [count], dtype: .float16)).bytes.array)
    }

    @Test("Argument validation names the bad flag")
    func validation() {
        #expect(throws: (any Error).self) { try ReshardCommand.parse(["in", "out", "--out-shard-size", "5X"]) }
        #expect(throws: (any Error).self) { try ReshardCommand.parse(["in", "out", "--dtype", "int8"]) }
        #expect(throws: (any Error).self) { try InspectCommand.parse(["x", "--threads", "0"]) }
        let message = ReshardCommand.message(for: ValidationError("--out-shard-size '5X' is not a size (examples: 500M, 5G, 5GB, 1073741824)"))
        #expect(message.contains("--out-shard-size '5X'"))
    }

    @Test("The output may not be the input folder")
    func outputIsInput() throws {
        let folder = TemporaryDirectory()
        let source = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        _ = folder
        #expect(throws: CheckpointError.outputIsInput(path: Fixtures.path("llama_f32/base"))) {
            try Resharder(checkpoint: source, outputDType: nil, threads: 1).write(to: Fixtures.path("llama_f32/base"), maxShardBytes: nil, overwrite: true)
        }
    }
}

@Suite("amalgam methods")
struct MethodsListingTests {
    @Test("Every registered method is listed with its parameters and defaults")
    func listing() {
        let text = MethodsCommand.listing(.builtIn)
        for name in ["linear", "slerp", "nuslerp", "multislerp", "karcher", "task_arithmetic", "ties", "dare_ties", "dare_linear",
                     "breadcrumbs", "breadcrumbs_ties", "della", "della_linear", "model_stock", "sce", "nearswap", "arcee_fusion",
                     "ram", "ramplus_tl", "passthrough"] {
            #expect(text.contains("\n\(name): ") || text.hasPrefix("\(name): "), "\(name)")
        }
        #expect(text.contains("  density (per-model number, default 1, in [0, 1]): fraction of the task vector kept"))
        #expect(text.contains("  t (global number, required): interpolation factor: 0 gives the base, 1 the other model"))
        #expect(text.contains("  normalize (global bool, default true): divide by the sum of the (agreeing) weights"))
    }
}
