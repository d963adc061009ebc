@testable import AmalgamCLI
import AmalgamTestSupport
import ArgumentParser
import Foundation
import Testing

@Suite("amalgam eval / tokenize / generate")
struct EvalCLITests {
    @Test("eval --json writes the documented object with the reference accuracies")
    func evalJSON() throws {
        let directory = TemporaryDirectory()
        let report = directory.child("report.json")
        let command = try EvalCommand.parse([Testbed.model("add"), "--tasks", Testbed.tasks, "--split", "dev", "--limit", "50", "--json", report, "--quiet"])
        try command.run()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        #expect(object["model"] as? String == Testbed.model("add"))
        let tasks = try #require(object["tasks"] as? [String: [String: Any]])
        #expect(Set(tasks.keys) == ["add", "rev", "sort", "upper"])
        let add = try #require(tasks["add"])
        #expect(add["split"] as? String == "dev" && add["total"] as? Int == 50 && add["correct"] as? Int == 49)
        #expect(add["accuracy"] as? Double == 0.98 && abs((add["mean_response_tokens"] as? Double ?? 0) - 3.56) < 1e-12)
    }

    @Test("eval of several models writes a list; perplexity joins the report")
    func severalModels() throws {
        let directory = TemporaryDirectory()
        let report = directory.child("report.json")
        let command = try EvalCommand.parse([
            Testbed.model("base"), Testbed.model("upper"), "--tasks", Testbed.tasks, "--limit", "5", "--json", report, "--quiet",
            "--perplexity", Fixtures.file("testbed/eval/perplexity.txt"),
        ])
        try command.run()
        let list = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [[String: Any]])
        #expect(list.count == 2)
        #expect((list[0]["perplexity"] as? [String: Any])?["tokens"] as? Int == 614)
        #expect(((list[1]["tasks"] as? [String: Any])?["upper"] as? [String: Any])?["total"] as? Int == 5)
    }

    @Test("argument errors are caught before any model is loaded")
    func validation() {
        #expect(throws: (any Error).self) { try EvalCommand.parse([Testbed.model("add")]) }
        #expect(throws: (any Error).self) { try EvalCommand.parse([Testbed.model("add"), "--tasks", "x", "--limit", "0"]) }
        #expect(throws: (any Error).self) { try TokenizeCommand.parse([Testbed.model("add")]) }
        #expect(throws: (any Error).self) { try TokenizeCommand.parse([Testbed.model("add"), "text", "--jsonl"]) }
        #expect(throws: (any Error).self) { try GenerateCommand.parse([Testbed.model("add"), "p", "--max-new-tokens", "0"]) }
        #expect(TokenizeCommand.quoted("Ġa\n\"") == "\"Ġa\\n\\\"\"")
    }
}

@Suite("Half-precision checkpoints for inference")
struct HalfPrecisionInferenceTests {
    @Test("a bf16 and an f16 copy of the testbed expert load (converted to Float32) and still solve its task", arguments: ["bfloat16", "float16"])
    func halfPrecision(dtype: String) throws {
        let directory = TemporaryDirectory()
        let output = directory.child("add-\(dtype)")
        let reshard = try ReshardCommand.parse([Testbed.model("add"), output, "--dtype", dtype])
        try reshard.run()
        let report = directory.child("report.json")
        let command = try EvalCommand.parse([output, "--tasks", Testbed.tasks, "--split", "dev", "--json", report, "--quiet"])
        try command.run()
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any])
        let add = try #require((object["tasks"] as? [String: [String: Any]])?["add"])
        // Rounding every weight to 8 (bf16) or 11 (f16) significant bits moves logits a little; the skill survives.
        #expect((add["accuracy"] as? Double ?? 0) >= 0.9, "\(dtype): \(add)")
    }
}
