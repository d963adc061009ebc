import AmalgamEval
import AmalgamInference
import AmalgamTestSupport
import AmalgamTokenizer
import Foundation
import Testing

@Suite("Evaluation against the testbed's reference predictions")
struct TestbedEvaluationTests {
    static func evaluator(_ model: String) throws -> Evaluator {
        Evaluator(model: try LanguageModel(path: Testbed.model(model), threads: 1), tokenizer: try Tokenizer(contentsOf: Testbed.model(model)))
    }

    @Test("generated ids equal transformers' for the first items of every task", arguments: ["base", "add"])
    func generatedIds(model name: String) throws {
        let evaluator = try Self.evaluator(name)
        let reference = try Testbed.jsonLines(Testbed.reference("predictions/\(name).jsonl"))
        for taskName in Testbed.expertNames {
            let task = try EvalTask(name: taskName, split: "dev", file: "\(Testbed.tasks)/\(taskName)/dev.jsonl")
            let result = try evaluator.evaluate(task, limit: 12)
            let expected = reference.filter { $0["task"] as? String == taskName && $0["split"] as? String == "dev" }.prefix(12)
            #expect(result.items.count == expected.count)
            for (item, row) in zip(result.items, expected) {
                #expect(item.prompt == row["prompt"] as? String)
                #expect(item.generatedIds == row["gen_ids"] as? [Int], "\(name) on \(item.prompt)")
                #expect(item.prediction == row["gen_text"] as? String)
                #expect(item.correct == row["correct"] as? Bool)
            }
        }
    }

    @Test("batch size and thread count do not change what is generated")
    func batchSizeIndependence() throws {
        let evaluator = try Self.evaluator("rev")
        let task = try EvalTask(name: "rev", split: "dev", file: "\(Testbed.tasks)/rev/dev.jsonl")
        let prompts = task.items.prefix(20).map { evaluator.promptIds($0.prompt) }
        evaluator.batchSize = 1
        let one = try evaluator.generate(prompts)
        evaluator.batchSize = 7
        let seven = try evaluator.generate(prompts)
        #expect(one == seven)
        #expect(one.contains { !$0.isEmpty })
        evaluator.threads = 2
        evaluator.batchSize = 4
        #expect(try evaluator.generate(prompts) == one, "two data-parallel decoders give the same ids")
    }

    @Test("first-line exact-match normalization follows the protocol")
    func normalization() {
        #expect(Evaluator.firstLineTrimmed(" 68\nmore") == "68")
        #expect(Evaluator.firstLineTrimmed("  a b \r\nc") == "a b")
        #expect(Evaluator.firstLineTrimmed("") == "")
    }
}
