import AmalgamCore
import AmalgamIO
import AmalgamKernels
import AmalgamTestSupport
import Foundation
import Testing

/// Reference values recorded with Python's safetensors (Scripts/goldens/fixture_values.py).
struct ExpectedTensor: Decodable {
    let shard: String
    let dtype: String
    let shape: [Int]
    let sum: Double
    let sum_squares: Double
    let first: Double
    let last: Double
}

@Suite("Reading checkpoints written by the Python reference library")
struct SafetensorsReadTests {
    static let expected: [String: [String: ExpectedTensor]] = {
        let url = URL(fileURLWithPath: Fixtures.file("io-expected-values.json"))
        guard let data = try? Data(contentsOf: url),
              let decoded = try? JSONDecoder().decode([String: [String: ExpectedTensor]].self, from: data)
        else { return [:] }
        return decoded
    }()

    @Test("Names, shards, dtypes, shapes and values match the reference", arguments: ["llama_f32/base", "llama_f32/ft_c", "llama_bf16/base"])
    func matchesReference(checkpointName: String) throws {
        let expected = try #require(Self.expected[checkpointName])
        let checkpoint = try Checkpoint(opening: Fixtures.path(checkpointName))
        #expect(Set(checkpoint.tensorNames) == Set(expected.keys))
        #expect(checkpoint.tensorNames.count == 39)
        for name in checkpoint.tensorNames {
            let want = try #require(expected[name])
            let tensor = try checkpoint.tensor(named: name)
            #expect(tensor.dtype.configName == want.dtype, "\(name)")
            #expect(tensor.shape.dimensions == want.shape, "\(name)")
            #expect((checkpoint.shardPath(of: name) as NSString?)?.lastPathComponent == want.shard, "\(name)")
            let values = tensor.float32Values()
            #expect(Double(values[0]) == want.first && Double(values[values.count - 1]) == want.last, "\(name)")
            let sum = values.reduce(0.0) { $0 + Double($1) }
            let squares = values.reduce(0.0) { $0 + Double($1) * Double($1) }
            #expect(abs(sum - want.sum) <= 1e-9 * max(1, want.sum_squares), "\(name) sum \(sum) vs \(want.sum)")
            #expect(abs(squares - want.sum_squares) <= 1e-9 * max(1, want.sum_squares), "\(name)")
        }
    }

    @Test("The sharded checkpoint follows its index across three shards")
    func shardedIndex() throws {
        let checkpoint = try Checkpoint(opening: Fixtures.path("llama_f32/ft_c"))
        #expect(checkpoint.shards.count == 3)
        #expect(checkpoint.indexPath?.hasSuffix("model.safetensors.index.json") == true)
        #expect(checkpoint.config?.numHiddenLayers == 4)
        #expect(checkpoint.config?.architectures == ["LlamaForCausalLM"])
        #expect(checkpoint.config?.dtype == "float32")
        #expect(checkpoint.config?.tieWordEmbeddings == false)
        #expect(checkpoint.auxiliaryFiles == ["generation_config.json"])
        #expect(checkpoint.totalBytes == 164_992)
    }

    @Test("A single .safetensors file opens without a config")
    func singleFile() throws {
        let checkpoint = try Checkpoint(opening: Fixtures.path("llama_bf16/base/model.safetensors"))
        #expect(checkpoint.config == nil && checkpoint.tensorNames.count == 39)
    }

    @Test("A tensor name with a typo gets a suggestion")
    func typoSuggestion() throws {
        let checkpoint = try Checkpoint(opening: Fixtures.path("llama_f32/base"))
        let error = #expect(throws: SafetensorsError.self) { try checkpoint.tensor(named: "model.norm.weigth") }
        #expect(error?.hint == "did you mean 'model.norm.weight'?")
    }

    @Test("Tensors borrow the mapped bytes: two views of one tensor share storage and decode alike")
    func borrowedViews() throws {
        let file = try SafetensorsFile(path: Fixtures.path("llama_f32/base/model.safetensors"))
        let info = try #require(file.info("model.norm.weight"))
        let a = file.tensor(info), b = file.tensor(info)
        #expect(a.bytes.contentEquals(b.bytes))
        #expect(a.bytes.count == info.byteCount && info.byteCount == 128)
    }
}

@Suite("Locating checkpoints")
struct CheckpointLocatorTests {
    @Test("org/name[@revision] resolves through refs/ and snapshots/ of the Hugging Face cache")
    func hubCache() throws {
        let cache = TemporaryDirectory()
        let repo = "models--acme--tiny"
        try cache.write("\(repo)/refs/main", Array("abc123\n".utf8))
        try cache.write("\(repo)/refs/v2", Array("def456".utf8))
        let source = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("llama_f32/base/model.safetensors")))
        try cache.write("\(repo)/snapshots/abc123/model.safetensors", Array(source))
        try cache.write("\(repo)/snapshots/def456/model.safetensors", Array(source))
        let env = ["HF_HUB_CACHE": cache.path, "HOME": "/nonexistent"]
        #expect(try CheckpointLocator.resolve("acme/tiny", environment: env) == .folder(cache.child("\(repo)/snapshots/abc123")))
        #expect(try CheckpointLocator.resolve("acme/tiny@v2", environment: env) == .folder(cache.child("\(repo)/snapshots/def456")))
        #expect(try CheckpointLocator.resolve("acme/tiny@def456", environment: env) == .folder(cache.child("\(repo)/snapshots/def456")))
        #expect(throws: CheckpointError.revisionNotInCache(reference: "acme/tiny@v9", revision: "v9", cache: cache.path)) {
            try CheckpointLocator.resolve("acme/tiny@v9", environment: env)
        }
        #expect(throws: CheckpointError.notInCache(reference: "acme/other", cache: cache.path)) {
            try CheckpointLocator.resolve("acme/other", environment: env)
        }
        #expect(try Checkpoint(opening: "acme/tiny", environment: env).tensorNames.count == 39)
    }

    @Test("Cache root: HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub")
    func cacheRoot() {
        #expect(CheckpointLocator.hubCache(environment: ["HF_HUB_CACHE": "/a", "HF_HOME": "/b", "HOME": "/h"]) == "/a")
        #expect(CheckpointLocator.hubCache(environment: ["HF_HOME": "/b", "HOME": "/h"]) == "/b/hub")
        #expect(CheckpointLocator.hubCache(environment: ["HOME": "/h"]) == "/h/.cache/huggingface/hub")
        #expect(CheckpointLocator.hubCache(environment: ["HF_HOME": "~/hf", "HOME": "/h"]) == "/h/hf/hub")
    }

    @Test("~ expands to HOME; missing paths and non-model files are clear errors")
    func pathsAndErrors() throws {
        let home = TemporaryDirectory()
        try home.write("m/model.safetensors", Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("llama_f32/base/model.safetensors")))))
        try home.write("notes.txt", Array("hi".utf8))
        #expect(try CheckpointLocator.resolve("~/m", environment: ["HOME": home.path]) == .folder(home.child("m")))
        #expect(throws: CheckpointError.notFound(reference: "./no/such/dir")) { try CheckpointLocator.resolve("./no/such/dir", environment: [:]) }
        #expect(throws: CheckpointError.unsupportedFile(path: home.child("notes.txt"))) {
            try CheckpointLocator.resolve(home.child("notes.txt"), environment: [:])
        }
        let empty = TemporaryDirectory()
        try empty.write("pytorch_model.bin", [0])
        let error = #expect(throws: CheckpointError.noSafetensors(folder: empty.path, hasPyTorchBin: true)) {
            try Checkpoint(opening: empty.path)
        }
        #expect(error?.hint?.contains("safetensors") == true)
        #expect(CheckpointLocator.parseHubReference("a/b@main")?.repository == "a/b")
        #expect(CheckpointLocator.parseHubReference("a/b/c") == nil && CheckpointLocator.parseHubReference("../x") == nil)
    }
}

@Suite("config.json")
struct ModelConfigTests {
    @Test("Fields are read from the top level or text_config; dtype falls back to torch_dtype")
    func fields() throws {
        let text = #"{"architectures":["X"],"torch_dtype":"bfloat16","text_config":{"num_hidden_layers":8,"hidden_size":64,"vocab_size":100}}"#
        let config = try ModelConfig(parsing: Array(text.utf8), path: "config.json")
        #expect(config.architectures == ["X"] && config.dtype == "bfloat16")
        #expect(config.numHiddenLayers == 8 && config.hiddenSize == 64 && config.vocabSize == 100)
        #expect(config.tieWordEmbeddings == nil && config.modelType == nil)
    }

    @Test("A boolean, fractional or negative layer count is refused, naming the key")
    func badValues() {
        for value in ["true", "2.5", "-1", "\"4\""] {
            #expect(throws: CheckpointError.invalidConfig(file: "c.json", reason: "\"num_hidden_layers\" is \(value), expected a non-negative integer")) {
                try ModelConfig(parsing: Array("{\"num_hidden_layers\": \(value)}".utf8), path: "c.json")
            }
        }
        #expect(throws: CheckpointError.invalidConfig(file: "c.json", reason: "not a JSON object")) {
            try ModelConfig(parsing: Array("[1]".utf8), path: "c.json")
        }
    }
}
