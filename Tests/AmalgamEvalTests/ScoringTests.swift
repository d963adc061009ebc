import AmalgamEval
import AmalgamInference
import AmalgamTestSupport
import AmalgamTokenizer
import Foundation
import Testing

/// Perplexity and multiple-choice log-likelihoods against transformers
/// (Scripts/goldens/eval_goldens.py → Tests/Fixtures/testbed/eval/expected.json).
@Suite("Perplexity and multiple choice against transformers")
struct ScoringTests {
    static func expected() throws -> [String: [String: Any]] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.file("testbed/eval/expected.json")))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    }

    @Test("perplexity over a text file, in windows of the context length", arguments: ["base", "add"])
    func perplexity(model name: String) throws {
        let reference = try #require(try Self.expected()[name]?["perplexity"] as? [String: Any])
        let evaluator = Evaluator(model: try LanguageModel(path: Testbed.model(name), threads: 1), tokenizer: try Tokenizer(contentsOf: Testbed.model(name)))
        let text = try String(contentsOfFile: Fixtures.file("testbed/eval/perplexity.txt"), encoding: .utf8)
        let result = try evaluator.perplexity(of: text)
        #expect(result.scoredTokens == reference["tokens"] as? Int)
        let nll = try #require(reference["mean_nll"] as? Double)
        #expect(abs(result.meanNegativeLogLikelihood - nll) < 1e-5 * nll, "mean NLL \(result.meanNegativeLogLikelihood) vs \(nll)")
        #expect(throws: EvalError.emptyText(path: "text")) { try evaluator.perplexity(of: "") }
        // Small windows on two cores give the same bits as on one.
        evaluator.threads = 2
        let parallel = try evaluator.perplexity(of: text, window: 16)
        evaluator.threads = 1
        let serial = try evaluator.perplexity(of: text, window: 16)
        #expect(parallel == serial && parallel.scoredTokens == 580, "\(parallel) vs \(serial)")
    }

    @Test("choice log-likelihoods, and accuracy as their argmax", arguments: ["base", "add"])
    func multipleChoice(model name: String) throws {
        let reference = try #require(try Self.expected()[name]?["choices"] as? [[Double]])
        let evaluator = Evaluator(model: try LanguageModel(path: Testbed.model(name), threads: 1), tokenizer: try Tokenizer(contentsOf: Testbed.model(name)))
        let task = try EvalTask(name: "mc", split: "dev", file: Fixtures.file("testbed/eval/mc/dev.jsonl"))
        #expect(task.items.count == reference.count)
        var expectedCorrect = 0
        for (item, scores) in zip(task.items, reference) {
            guard case .multipleChoice(let prompt, let choices, let answer) = item else { Issue.record("not multiple choice"); continue }
            let actual = try evaluator.choiceLogLikelihoods(prompt: prompt, choices: choices)
            for (a, e) in zip(actual, scores) { #expect(abs(a - e) < 1e-4, "\(prompt): \(a) vs \(e)") }
            if scores.indices.max(by: { scores[$0] < scores[$1] }) == answer { expectedCorrect += 1 }
        }
        let result = try evaluator.evaluate(task)
        #expect(result.correct == expectedCorrect)
        #expect(result.meanResponseTokens == nil)
        if name == "add" { #expect(result.correct >= 5, "the add expert should pick most sums") }
    }

    @Test("task files: bad lines name the file and line")
    func badTaskFiles() throws {
        let directory = TemporaryDirectory()
        let file = directory.child("dev.jsonl")
        try "{\"prompt\": \"a\", \"answer\": \" b\"}\n{\"prompt\": \"a\"}\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: EvalError.badItem(location: "\(file):2", reason: "needs \"answer\" (generation) or \"choices\" and \"answer_index\" (multiple choice)")) {
            try EvalTask(name: "t", split: "dev", file: file)
        }
        try "{\"prompt\": \"a\", \"choices\": [\" b\"], \"answer_index\": 3}\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: EvalError.badItem(location: "\(file):1", reason: "\"answer_index\" must be an integer in 0..<1")) {
            try EvalTask(name: "t", split: "dev", file: file)
        }
        #expect(throws: EvalError.unreadable(path: directory.path, reason: "no task folder holds test.jsonl")) {
            try EvalTask.load(directory: directory.path, split: "test")
        }
    }
}
