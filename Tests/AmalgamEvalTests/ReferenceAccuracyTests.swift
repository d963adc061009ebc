import AmalgamCore
import AmalgamEval
import AmalgamInference
import AmalgamMerge
import AmalgamTestSupport
import AmalgamTokenizer
import Foundation
import Testing

/// Scores every task item of both splits.
func scoreAllTasks(_ evaluator: Evaluator) throws -> [String: [String: TaskResult]] {
    var results: [String: [String: TaskResult]] = [:]
    for split in ["dev", "test"] {
        for task in try EvalTask.load(directory: Testbed.tasks, split: split) {
            results[task.name, default: [:]][split] = try evaluator.evaluate(task)
        }
    }
    return results
}

@Suite("The testbed's reference tables, reproduced in process")
struct ReferenceAccuracyTests {
    @Test("accuracy and mean generated tokens of every model on every task and split equal accuracy.json; every generated id equals predictions/",
          arguments: ["base"] + Testbed.expertNames)
    func accuracyTable(model name: String) throws {
        let evaluator = Evaluator(model: try LanguageModel(path: Testbed.model(name)), tokenizer: try Tokenizer(contentsOf: Testbed.model(name)))
        let data = try Data(contentsOf: URL(fileURLWithPath: Testbed.reference("accuracy.json")))
        let table = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: [String: [String: Any]]]])
        let results = try scoreAllTasks(evaluator)
        for task in Testbed.expertNames {
            for split in ["dev", "test"] {
                let expected = try #require(table[name]?[task]?[split])
                let result = try #require(results[task]?[split])
                #expect(result.total == expected["n"] as? Int)
                #expect(result.accuracy == expected["acc"] as? Double, "\(name) \(task) \(split)")
                let meanTokens = try #require(result.meanResponseTokens)
                #expect(abs(meanTokens - (expected["mean_gen_tokens"] as? Double ?? -1)) < 1e-9, "\(name) \(task) \(split) mean tokens")
            }
        }
        var mismatches: [String] = []
        for row in try Testbed.jsonLines(Testbed.reference("predictions/\(name).jsonl")) {
            let task = row["task"] as? String ?? "", split = row["split"] as? String ?? "", prompt = row["prompt"] as? String ?? ""
            let item = results[task]?[split]?.items.first { $0.prompt == prompt }
            if item?.generatedIds != row["gen_ids"] as? [Int] { mismatches.append("\(task)/\(split) \(prompt)") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.count) predictions differ: \(mismatches.prefix(5))")
    }
}

@Suite("Merges of the testbed experts, scored in process, reproduce merges.json")
struct MergeGridTests {
    /// Merges `experts` into `target` tensor by tensor with a registered method.
    static func merge(method: any MergeMethod.Type, base: LanguageModel, experts: [LanguageModel], into target: LanguageModel,
                      global: [String: ParameterValue], perModel: [String: ParameterValue]) throws {
        for name in base.parameterNames {
            let inputs = MergeInputs(
                base: base.parameter(name), models: experts.map { $0.parameter(name)! }, shape: Shape(base.parameterShapes[name]!)
            )
            let context = MergeContext(tensorName: name, global: global, perModel: Array(repeating: perModel, count: experts.count))
            try target.assignParameter(name, from: try method.merge(inputs, context: context))
        }
    }

    @Test("every task-arithmetic and TIES row, dev and test, to the item")
    func grid() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Testbed.reference("merges.json")))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rows = try #require(object["results"] as? [[String: Any]])
        let base = try LanguageModel(path: Testbed.model("base"))
        let experts = try Testbed.expertNames.map { try LanguageModel(path: Testbed.model($0)) }
        let target = try LanguageModel(path: Testbed.model("base"))  // rewritten in place for every row
        let evaluator = Evaluator(model: target, tokenizer: try Tokenizer(contentsOf: Testbed.model("base")))
        let registry = MergeMethodRegistry.builtIn
        var checked = 0
        for row in rows {
            let name = row["name"] as? String ?? ""
            let parts = name.split(separator: "_")
            let method: any MergeMethod.Type
            var global: [String: ParameterValue] = [:]
            var perModel: [String: ParameterValue] = ["weight": .number(1)]
            if parts.first == "ta", parts.count == 2, let lambda = Double(parts[1].dropFirst()) {
                method = try #require(registry.method(named: "task_arithmetic"))
                global = ["lambda": .number(lambda), "normalize": .bool(false)]
            } else if parts.first == "ties", parts.count == 3, let density = Double(parts[1].dropFirst()), let lambda = Double(parts[2].dropFirst()) {
                method = try #require(registry.method(named: "ties"))
                global = ["lambda": .number(lambda), "normalize": .bool(true)]
                perModel["density"] = .number(density)
            } else {
                continue
            }
            try Self.merge(method: method, base: base, experts: experts, into: target, global: global, perModel: perModel)
            let results = try scoreAllTasks(evaluator)
            for split in ["dev", "test"] {
                let expected = try #require(row[split] as? [String: Double])
                for task in Testbed.expertNames {
                    #expect(results[task]?[split]?.accuracy == expected[task], "\(name) \(task) \(split)")
                }
            }
            checked += 1
        }
        #expect(checked == 18)
    }
}
