import AmalgamTokenizer
import ArgumentParser
import Foundation

/// `amalgam tokenize PATH [TEXT]`: token ids and strings of a text, or ids of JSON lines on stdin.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Encode text with a model's tokenizer.json and show the ids and token strings.",
        discussion: """
            PATH is a model folder or a tokenizer.json file. With TEXT, prints the ids as a JSON \
            array, then one line per token: id and token string. With --jsonl, reads standard \
            input, one JSON string per line, and prints one JSON array of ids per line. Special \
            tokens (bos, ...) are added only with --add-special.
            """
    )

    @Argument(help: "Model folder or tokenizer.json.")
    var path: String

    @Argument(help: "The text to encode (omit with --jsonl).")
    var text: String?

    @Flag(name: .long, help: "Read JSON strings from standard input, one per line; print one JSON array of ids per line.")
    var jsonl = false

    @Flag(name: .long, help: "Add the special tokens the tokenizer's post-processor adds (for example bos).")
    var addSpecial = false

    func validate() throws {
        if jsonl && text != nil { throw ValidationError("give TEXT or --jsonl, not both") }
        if !jsonl && text == nil { throw ValidationError("missing TEXT (or pass --jsonl to read standard input)") }
    }

    func run() throws {
        try AmalgamRuntime.run {
            let tokenizer = try Tokenizer(contentsOf: path)
            if let text {
                let ids = tokenizer.encode(text, addSpecialTokens: addSpecial)
                print("[" + ids.map(String.init).joined(separator: ", ") + "]")
                for (id, token) in zip(ids, try tokenizer.tokens(ids)) {
                    print("\(id)\t\(Self.quoted(token))")
                }
                return
            }
            var lineNumber = 0
            while let line = readLine(strippingNewline: true) {
                lineNumber += 1
                if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
                guard let string = (try? JSONSerialization.jsonObject(with: Data(line.utf8), options: [.fragmentsAllowed])) as? String else {
                    throw ValidationError("standard input line \(lineNumber): expected one JSON string, got \(line.prefix(60))")
                }
                print("[" + tokenizer.encode(string, addSpecialTokens: addSpecial).map(String.init).joined(separator: ", ") + "]")
            }
        }
    }

    /// A JSON string literal (control characters escaped, non-ASCII kept).
    static func quoted(_ token: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [token], options: [.withoutEscapingSlashes])) ?? Data()
        let array = String(decoding: data, as: UTF8.self)
        return String(array.dropFirst().dropLast())
    }
}
