// Task files: one folder per task holding `<split>.jsonl`, each line a generation item
// (`{"prompt", "answer"}`) or a multiple-choice item (`{"prompt", "choices", "answer_index"}`).

import Foundation

/// One scored item.
public enum TaskItem: Sendable, Equatable {
    /// Greedy generation scored by exact match of the first line, whitespace-trimmed.
    case generation(prompt: String, answer: String)
    /// The choice with the highest log-likelihood as a continuation of the prompt wins.
    case multipleChoice(prompt: String, choices: [String], answerIndex: Int)

    public var prompt: String {
        switch self {
        case .generation(let prompt, _), .multipleChoice(let prompt, _, _): prompt
        }
    }
}

/// A named set of items from one JSONL file.
public struct EvalTask: Sendable {
    public var name: String
    public var split: String
    public var items: [TaskItem]
    public var path: String

    public init(name: String, split: String, items: [TaskItem], path: String = "") {
        self.name = name
        self.split = split
        self.items = items
        self.path = path
    }

    /// Reads `<file>`: one JSON object per non-empty line.
    public init(name: String, split: String, file: String) throws(EvalError) {
        guard let data = FileManager.default.contents(atPath: file) else { throw .unreadable(path: file, reason: "no such file") }
        guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(path: file, reason: "not UTF-8 text") }
        var items: [TaskItem] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let where_ = "\(file):\(index + 1)"
            guard let object = (try? JSONSerialization.jsonObject(with: Data(trimmed.utf8))) as? [String: Any] else {
                throw .badItem(location: where_, reason: "not a JSON object")
            }
            guard let prompt = object["prompt"] as? String else { throw .badItem(location: where_, reason: "\"prompt\" must be a string") }
            if let choices = object["choices"] {
                guard let list = choices as? [String], !list.isEmpty else {
                    throw .badItem(location: where_, reason: "\"choices\" must be a non-empty list of strings")
                }
                guard let answer = object["answer_index"] as? Int, list.indices.contains(answer) else {
                    throw .badItem(location: where_, reason: "\"answer_index\" must be an integer in 0..<\(list.count)")
                }
                items.append(.multipleChoice(prompt: prompt, choices: list, answerIndex: answer))
            } else {
                guard let answer = object["answer"] as? String else {
                    throw .badItem(location: where_, reason: "needs \"answer\" (generation) or \"choices\" and \"answer_index\" (multiple choice)")
                }
                items.append(.generation(prompt: prompt, answer: answer))
            }
        }
        self.init(name: name, split: split, items: items, path: file)
    }

    /// Every task folder in `directory` that has `<split>.jsonl`, sorted by name.
    public static func load(directory: String, split: String) throws(EvalError) -> [EvalTask] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .unreadable(path: directory, reason: "not a folder of task folders")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var tasks: [EvalTask] = []
        for name in names {
            let file = (directory as NSString).appendingPathComponent("\(name)/\(split).jsonl")
            if FileManager.default.fileExists(atPath: file) { tasks.append(try EvalTask(name: name, split: split, file: file)) }
        }
        if tasks.isEmpty { throw .unreadable(path: directory, reason: "no task folder holds \(split).jsonl") }
        return tasks
    }
}

public enum EvalError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case badItem(location: String, reason: String)
    case emptyText(path: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): \(reason)"
        case .badItem(let location, let reason): "\(location): \(reason)"
        case .emptyText(let path): "\(path): the text encodes to fewer than two tokens; nothing to score"
        }
    }
}
