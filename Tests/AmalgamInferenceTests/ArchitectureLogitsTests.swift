import AmalgamCore
import AmalgamInference
import AmalgamIO
import AmalgamTestSupport
import Foundation
import Testing

/// Tiny random-weight checkpoints of each supported architecture with transformers' logits
/// (Scripts/goldens/tiny_models.py).
@Suite("Llama 3 RoPE + tied, Mistral sliding window, Qwen2 biases, Qwen3 q/k norms")
struct ArchitectureLogitsTests {
    @Test("logits match transformers to 1e-4, full sequence and one token at a time",
          arguments: ["llama3_tied", "mistral_window", "qwen2", "qwen3"])
    func logits(_ name: String) throws {
        let folder = Fixtures.file("architectures/\(name)")
        let model = try LanguageModel(path: folder, threads: 1)
        let expected = try Checkpoint(opening: "\(folder)/expected.safetensors")
        for k in 0..<3 {
            let idsTensor = try expected.tensor(named: "ids_\(k)")
            let ids = idsTensor.float32Values().map { Int($0) }
            let reference = try expected.tensor(named: "logits_\(k)").float32Values()
            let whole = try model.forward([SequenceStep(tokens: ids, cache: KVCache(config: model.config))], logits: .all)[0]
            #expect(maxRelativeError(whole, reference) <= 1e-4, "\(name) prompt \(k) full: \(maxRelativeError(whole, reference))")
            let cache = KVCache(config: model.config)
            var stepwise: [Float] = []
            for id in ids { stepwise += try model.forward([SequenceStep(tokens: [id], cache: cache)], logits: .last)[0] }
            #expect(maxRelativeError(stepwise, reference) <= 1e-4, "\(name) prompt \(k) stepwise: \(maxRelativeError(stepwise, reference))")
        }
    }

    @Test("the architecture flags are read from config.json")
    func configFlags() throws {
        let load = { (name: String) throws -> TransformerConfig in
            let path = Fixtures.file("architectures/\(name)/config.json")
            return try TransformerConfig(json: try Data(contentsOf: URL(fileURLWithPath: path)), file: path)
        }
        let llama = try load("llama3_tied")
        #expect(llama.tiedEmbeddings && !llama.attentionBias)
        #expect(llama.ropeScaling == .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalContext: 16))
        #expect(try load("mistral_window").slidingWindow == 6)
        #expect(try load("qwen2").attentionBias)
        let qwen3 = try load("qwen3")
        #expect(qwen3.queryKeyNorm && qwen3.headDimension == 24)
    }

    @Test("unsupported settings and broken checkpoints fail with the file and key")
    func errors() throws {
        let path = Fixtures.file("architectures/qwen2/config.json")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        json["architectures"] = ["GPT2LMHeadModel"]
        #expect(throws: InferenceError.unsupportedArchitecture(file: "c.json", architecture: "GPT2LMHeadModel")) {
            try TransformerConfig(json: try JSONSerialization.data(withJSONObject: json), file: "c.json")
        }
        json["architectures"] = ["Qwen2ForCausalLM"]
        json["rope_scaling"] = ["rope_type": "yarn", "factor": 4.0]
        json["rope_parameters"] = nil
        #expect(throws: InferenceError.unsupported(file: "c.json", key: "rope_scaling.rope_type", what: "RoPE scaling yarn (default, linear and llama3 are)")) {
            try TransformerConfig(json: try JSONSerialization.data(withJSONObject: json), file: "c.json")
        }
        json["rope_scaling"] = nil
        json["hidden_size"] = nil
        #expect(throws: InferenceError.badConfig(file: "c.json", key: "hidden_size", reason: "missing")) {
            try TransformerConfig(json: try JSONSerialization.data(withJSONObject: json), file: "c.json")
        }
        // A checkpoint whose config asks for more layers than it has.
        let directory = TemporaryDirectory()
        let folder = Fixtures.file("architectures/qwen2")
        try FileManager.default.copyItem(atPath: "\(folder)/model.safetensors", toPath: directory.child("model.safetensors"))
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        config["num_hidden_layers"] = 3
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: directory.child("config.json")))
        #expect(throws: InferenceError.missingTensor(model: directory.path, tensor: "model.layers.2.input_layernorm.weight")) {
            try LanguageModel(path: directory.path)
        }
        let model = try LanguageModel(path: folder)
        #expect(throws: InferenceError.tokenOutOfRange(id: 160, vocabularySize: 160)) {
            try model.forward([SequenceStep(tokens: [160], cache: KVCache(config: model.config))], logits: .last)
        }
    }
}
