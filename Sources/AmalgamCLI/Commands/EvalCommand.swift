import AmalgamEval
import AmalgamIO
import AmalgamInference
import AmalgamKernels
import AmalgamTokenizer
import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `amalgam eval MODEL --tasks DIR`: accuracy and response length per task, and perplexity.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Score a model on task files (greedy exact match, multiple choice) and text (perplexity).",
        discussion: """
            DIR holds one folder per task with <split>.jsonl. A line {"prompt", "answer"} is \
            scored by greedy generation: the prompt is encoded with the tokenizer's special tokens \
            (bos), generation stops before eos or a token containing a newline, or after \
            --max-new-tokens, and the first line of the output, whitespace-trimmed, must equal the \
            answer's. A line {"prompt", "choices", "answer_index"} is scored by the log-likelihood \
            of each choice as a continuation of the prompt. --perplexity FILE adds the perplexity \
            of a text file, in windows of the model's context length. With several models, one \
            table compares their accuracies (and --json writes a list of per-model objects).
            """
    )

    @Argument(help: "Model folders, .safetensors files, or cached org/name[@revision] (several give one comparison table).")
    var models: [String]

    @Option(name: .long, help: "Folder of task folders, each with <split>.jsonl.")
    var tasks: String?

    @Option(name: .long, help: "Which file of each task to score.")
    var split = "test"

    @Option(name: .long, help: "Score only the first N items of each task.")
    var limit: Int?

    @Option(name: .long, help: "Write {\"model\", \"tasks\": {name: {split, total, correct, accuracy, mean_response_tokens}}} to FILE.")
    var json: String?

    @Option(name: .long, help: "Write every item (model, task, split, prompt, answer, prediction, gen_ids, correct) as JSON lines to FILE.")
    var predictions: String?

    @Option(name: .long, help: "Also report the perplexity of this text file.")
    var perplexity: String?

    @Option(name: .long, help: "Most tokens generated per item.")
    var maxNewTokens = 16

    @Option(name: .long, help: "Prompts decoded together.")
    var batchSize = 32

    @Flag(name: .long, help: "No progress line.")
    var quiet = false

    @OptionGroup var threading: ThreadOptions

    func validate() throws {
        if tasks == nil && perplexity == nil { throw ValidationError("nothing to score: pass --tasks DIR and/or --perplexity FILE") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
        if maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
        if batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
    }

    func run() throws {
        try AmalgamRuntime.run {
            let taskList = try tasks.map { (dir) throws(EvalError) in try EvalTask.load(directory: dir, split: split) } ?? []
            let perplexityText: String? = try perplexity.map { path in
                guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                    throw EvalError.unreadable(path: path, reason: "cannot read it as UTF-8 text")
                }
                return text
            }
            var reports: [ModelReport] = []
            for model in models {
                reports.append(try evaluate(model, tasks: taskList, text: perplexityText))
            }
            if reports.count > 1 { print(Self.comparison(reports, tasks: taskList.map(\.name))) }
            if let json { try Self.writeJSON(json, reports: reports, perplexityFile: perplexity) }
            if let predictions { try Self.writePredictions(predictions, reports: reports) }
        }
    }

    /// One model's results.
    struct ModelReport {
        var model: String
        var results: [TaskResult]
        var perplexity: PerplexityResult?
        var loadSeconds: Double
        var evalSeconds: Double
    }

    private func evaluate(_ model: String, tasks taskList: [EvalTask], text: String?) throws -> ModelReport {
        let loadStart = DispatchTime.now().uptimeNanoseconds
        // Headers and the tokenizer first, so a missing tokenizer fails before any weights are read.
        let checkpoint = try Checkpoint(opening: model)
        let tokenizer = try Tokenizer(contentsOf: LanguageModel.folder(of: checkpoint))
        let languageModel = try LanguageModel(checkpoint: checkpoint, threads: threading.resolvedThreads)
        let evaluator = Evaluator(
            model: languageModel, tokenizer: tokenizer,
            settings: GenerationSettings(maxNewTokens: maxNewTokens, stopAtNewline: true), batchSize: batchSize,
            threads: threading.resolvedThreads
        )
        let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9

        var results: [TaskResult] = []
        let start = DispatchTime.now().uptimeNanoseconds
        for task in taskList {
            let count = limit.map { min($0, task.items.count) } ?? task.items.count
            let progress = EvalProgress(task: task.name, total: count, quiet: quiet)
            results.append(try evaluator.evaluate(task, limit: limit) { progress.update($0) })
            progress.finish()
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        if !results.isEmpty {
            if models.count == 1 {
                var table = TextTable([("task", .left), ("split", .left), ("items", .right), ("correct", .right), ("accuracy", .right), ("mean response tokens", .right)])
                for result in results {
                    table.append([
                        result.name, result.split, String(result.total), String(result.correct),
                        String(format: "%.1f%%", result.accuracy * 100),
                        result.meanResponseTokens.map { String(format: "%.2f", $0) } ?? "-",
                    ])
                }
                print(languageModel.name)
                print(table.rendered())
            }
            let prompts = results.reduce(0) { $0 + $1.total }
            let generated = results.reduce(0) { $0 + $1.generatedTokens }
            if !quiet {
                AmalgamRuntime.printError(String(
                    format: "%@: load %.2f s; %d items in %.2f s (%.1f prompts/s, %.1f generated tokens/s)",
                    languageModel.name, loadSeconds, prompts, seconds, Double(prompts) / max(seconds, 1e-9), Double(generated) / max(seconds, 1e-9)
                ))
            }
        }
        var perplexityResult: PerplexityResult?
        if let text, let path = perplexity {
            let result = try evaluator.perplexity(of: text, path: path)
            perplexityResult = result
            print(String(format: "%@: perplexity of %@: %.4f over %d tokens (mean NLL %.5f nats)",
                         languageModel.name, path, result.perplexity, result.scoredTokens, result.meanNegativeLogLikelihood))
        }
        return ModelReport(model: languageModel.name, results: results, perplexity: perplexityResult, loadSeconds: loadSeconds, evalSeconds: seconds)
    }

    /// Models as rows, tasks as columns (accuracy %, and mean response tokens in brackets).
    static func comparison(_ reports: [ModelReport], tasks: [String]) -> String {
        var columns: [(String, TextTable.Alignment)] = [("model", .left)]
        columns += tasks.map { ($0, .right) }
        columns.append(("mean", .right))
        var table = TextTable(columns)
        for report in reports {
            var row = [report.model]
            for name in tasks {
                guard let result = report.results.first(where: { $0.name == name }) else { row.append("-"); continue }
                let tokens = result.meanResponseTokens.map { String(format: " (%.1f)", $0) } ?? ""
                row.append(String(format: "%.1f%%", result.accuracy * 100) + tokens)
            }
            let mean = report.results.isEmpty ? 0 : report.results.reduce(0) { $0 + $1.accuracy } / Double(report.results.count)
            row.append(String(format: "%.1f%%", mean * 100))
            table.append(row)
        }
        return "accuracy (mean response tokens)\n" + table.rendered()
    }

    static func writeJSON(_ path: String, reports: [ModelReport], perplexityFile: String?) throws {
        let objects = reports.map { report -> [String: Any] in
            var tasks: [String: Any] = [:]
            for result in report.results {
                tasks[result.name] = [
                    "split": result.split, "total": result.total, "correct": result.correct, "accuracy": result.accuracy,
                    "mean_response_tokens": result.meanResponseTokens.map { $0 as Any } ?? NSNull(),
                ] as [String: Any]
            }
            let prompts = report.results.reduce(0) { $0 + $1.total }
            let generated = report.results.reduce(0) { $0 + $1.generatedTokens }
            var object: [String: Any] = [
                "model": report.model, "tasks": tasks,
                "timing": ["load_seconds": report.loadSeconds, "eval_seconds": report.evalSeconds, "prompts": prompts, "generated_tokens": generated],
            ]
            if let perplexity = report.perplexity, let perplexityFile {
                object["perplexity"] = [
                    "file": perplexityFile, "tokens": perplexity.scoredTokens, "perplexity": perplexity.perplexity,
                    "mean_nll": perplexity.meanNegativeLogLikelihood,
                ] as [String: Any]
            }
            return object
        }
        let root: Any = objects.count == 1 ? objects[0] : objects
        let data = try JSONSerialization.data(withJSONObject: root, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        guard FileManager.default.createFile(atPath: path, contents: data + Data("\n".utf8)) else {
            throw EvalError.unreadable(path: path, reason: "cannot write the JSON report here")
        }
    }
}

extension EvalCommand {
    static func writePredictions(_ path: String, reports: [ModelReport]) throws {
        var text = ""
        for report in reports {
            for result in report.results {
                for item in result.items {
                    let object: [String: Any] = [
                        "model": report.model, "task": result.name, "split": result.split, "prompt": item.prompt,
                        "answer": item.expected, "prediction": item.prediction, "gen_ids": item.generatedIds, "correct": item.correct,
                    ]
                    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                    text += String(decoding: data, as: UTF8.self) + "\n"
                }
            }
        }
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw EvalError.unreadable(path: path, reason: "cannot write the predictions here")
        }
    }
}

/// Items scored so far: a rewritten line on a terminal, nothing otherwise (the table follows).
final class EvalProgress {
    private let task: String
    private let total: Int
    private let enabled: Bool
    private let start = DispatchTime.now().uptimeNanoseconds

    init(task: String, total: Int, quiet: Bool) {
        self.task = task
        self.total = total
        enabled = !quiet && isatty(STDERR_FILENO) != 0
    }

    func update(_ done: Int) {
        guard enabled else { return }
        let seconds = max(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9, 1e-9)
        let rate = Double(done) / seconds
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 24
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        let line = String(format: "%@ %@ %d/%d %.1f items/s ETA %.0fs", task, bar, done, total, rate, eta)
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
