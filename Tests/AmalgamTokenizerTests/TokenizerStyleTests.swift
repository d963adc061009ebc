import AmalgamTestSupport
import AmalgamTokenizer
import Foundation
import Testing

/// Tokenizers of each supported style, built with Hugging Face `tokenizers`
/// (Scripts/goldens/tokenizer_goldens.py), with that library's ids and decodes.
@Suite("tokenizer.json styles against Hugging Face tokenizers")
struct TokenizerStyleTests {
    @Test("ids, tokens, special tokens and decodes match", arguments: ["gpt2", "llama3", "qwen2", "llama2", "mistral"])
    func style(_ style: String) throws {
        let folder = Fixtures.file("tokenizers/\(style)")
        let tokenizer = try Tokenizer(contentsOf: folder)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(folder)/expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try #require(root["cases"] as? [[String: Any]])
        #expect(cases.count > 30)
        for entry in cases {
            let text = try #require(entry["text"] as? String)
            let ids = tokenizer.encode(text)
            #expect(ids == entry["ids"] as? [Int], "\(style): ids of \(text.debugDescription)")
            #expect(try tokenizer.tokens(ids) == entry["tokens"] as? [String], "\(style): tokens of \(text.debugDescription)")
            let withSpecial = tokenizer.encode(text, addSpecialTokens: true)
            #expect(withSpecial == entry["ids_with_special"] as? [Int], "\(style): special ids of \(text.debugDescription)")
            #expect(try tokenizer.decode(ids) == entry["decode"] as? String, "\(style): decode of \(text.debugDescription)")
            #expect(try tokenizer.decode(withSpecial, skipSpecialTokens: true) == entry["decode_skip_special"] as? String,
                    "\(style): decode without specials of \(text.debugDescription)")
        }
    }

    @Test("an unsupported component is refused with its name and JSON path")
    func unsupportedComponent() throws {
        let folder = Fixtures.file("tokenizers/gpt2")
        var json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/tokenizer.json"))) as? [String: Any])
        json["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [["type": "BertPreTokenizer"]]]
        let data = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: TokenizerError.unsupported(path: "t.json", key: "pre_tokenizer.pretokenizers[0]", component: "pre_tokenizer BertPreTokenizer")) {
            try Tokenizer(json: data, path: "t.json")
        }
        json["pre_tokenizer"] = NSNull()
        var model = try #require(json["model"] as? [String: Any])
        model["type"] = "WordPiece"
        json["model"] = model
        let wordPiece = try JSONSerialization.data(withJSONObject: json)
        #expect(throws: TokenizerError.unsupported(path: "t.json", key: "model", component: "model WordPiece (only BPE is implemented)")) {
            try Tokenizer(json: wordPiece, path: "t.json")
        }
        #expect((try? Tokenizer(json: Data("[1]".utf8), path: "t.json")) == nil)
        #expect(throws: TokenizerError.unreadable(path: "/nonexistent/tokenizer.json", reason: "no such file")) {
            try Tokenizer(contentsOf: "/nonexistent/tokenizer.json")
        }
    }
}
