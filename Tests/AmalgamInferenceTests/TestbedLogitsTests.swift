import AmalgamCore
import AmalgamInference
import AmalgamIO
import AmalgamTestSupport
import Foundation
import Testing

@Suite("Forward pass against transformers' logits")
struct TestbedLogitsTests {
    /// Reference prompts and the per-model logits files.
    static func references() throws -> (prompts: [[Int]], models: [String: [String: Any]]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: Testbed.reference("logits/index.json")))
        let index = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let prompts = try #require(index["prompts"] as? [[String: Any]]).map { $0["ids"] as? [Int] ?? [] }
        let models = try #require(index["files"] as? [String: [String: Any]])
        return (prompts, models)
    }

    @Test("full-sequence logits of every reference prompt agree to 1e-4 (base and add)", arguments: ["base", "add"])
    func fullSequenceLogits(model name: String) throws {
        let (prompts, _) = try Self.references()
        let model = try LanguageModel(path: Testbed.model(name), threads: 1)
        let expected = try Checkpoint(opening: Testbed.reference("logits/\(name).safetensors"))
        for (k, ids) in prompts.enumerated() {
            let reference = try expected.tensor(named: "logits_\(k)").float32Values()
            let cache = KVCache(config: model.config)
            let logits = try model.forward([SequenceStep(tokens: ids, cache: cache)], logits: .all)[0]
            #expect(logits.count == reference.count)
            let error = maxRelativeError(logits, reference)
            #expect(error <= 1e-4, "prompt \(k): max relative error \(error)")
        }
    }

    @Test("one token at a time through the KV cache gives the same logits, batched with other prompts")
    func incrementalAndBatched() throws {
        let (prompts, _) = try Self.references()
        let model = try LanguageModel(path: Testbed.model("base"), threads: 1)
        let expected = try Checkpoint(opening: Testbed.reference("logits/base.safetensors"))
        let caches = prompts.map { _ in KVCache(config: model.config) }
        var collected = prompts.map { _ in [Float]() }
        let longest = prompts.map(\.count).max() ?? 0
        for position in 0..<longest {
            let active = prompts.indices.filter { prompts[$0].count > position }
            let steps = active.map { SequenceStep(tokens: [prompts[$0][position]], cache: caches[$0]) }
            let outputs = try model.forward(steps, logits: .last)
            for (slot, prompt) in active.enumerated() { collected[prompt].append(contentsOf: outputs[slot]) }
        }
        for k in prompts.indices {
            let reference = try expected.tensor(named: "logits_\(k)").float32Values()
            let error = maxRelativeError(collected[k], reference)
            #expect(error <= 1e-4, "prompt \(k): max relative error \(error)")
        }
    }
}

/// max |a − b| / max |b|, the comparison the testbed README describes.
func maxRelativeError(_ actual: [Float], _ expected: [Float]) -> Double {
    precondition(actual.count == expected.count)
    let scale = expected.reduce(0) { max($0, abs(Double($1))) }
    var worst = 0.0
    for (a, b) in zip(actual, expected) { worst = max(worst, abs(Double(a) - Double(b))) }
    return worst / max(scale, 1e-30)
}
