import AmalgamTestSupport
import AmalgamTokenizer
import Foundation
import Testing

@Suite("Testbed tokenizer (byte-level BPE, Qwen2 split regex)")
struct TestbedTokenizerTests {
    let tokenizer: Tokenizer

    init() throws {
        tokenizer = try Tokenizer(contentsOf: Testbed.model("base"))
    }

    @Test("ids, token strings and decodes of the 62 reference strings match transformers exactly")
    func referenceStrings() throws {
        let rows = try Testbed.jsonLines(Testbed.reference("tokens.jsonl"))
        #expect(rows.count == 62)
        for row in rows {
            let text = try #require(row["text"] as? String)
            let ids = tokenizer.encode(text)
            #expect(ids == row["ids"] as? [Int], "ids of \(text.debugDescription)")
            #expect(try tokenizer.tokens(ids) == row["tokens"] as? [String], "tokens of \(text.debugDescription)")
            #expect(try tokenizer.decode(ids) == row["decode"] as? String, "decode of \(text.debugDescription)")
            #expect(try tokenizer.decode(ids, skipSpecialTokens: true) == row["decode_skip_special"] as? String)
        }
    }

    @Test("the README's examples, and the post-processor's bos on request")
    func readmeExamples() throws {
        #expect(tokenizer.encode("add 23 45 =") == [299, 223, 20, 21, 223, 22, 23, 259])
        #expect(tokenizer.encode("\n") == [201])
        #expect(tokenizer.encode("add 23 45 =", addSpecialTokens: true) == [0, 299, 223, 20, 21, 223, 22, 23, 259])
        #expect(tokenizer.encode("<|bos|>add<|eos|>") == [0, 299, 1])
        #expect(try tokenizer.decode([0, 299, 1], skipSpecialTokens: true) == "add")
        #expect(tokenizer.vocabularySize == 384)
    }

    @Test("encode then decode gives the text back, unicode included")
    func roundTrips() throws {
        for text in ["", "sort q b x m =", "Hello, World!  two  spaces\n\nand lines\r\n", "naïve café — 東京 🙂", "tabs\tand 12345 digits"] {
            #expect(try tokenizer.decode(tokenizer.encode(text)) == text)
        }
    }

    @Test("an unknown id is an error")
    func unknownId() {
        #expect(throws: TokenizerError.unknownId(9999)) { try tokenizer.decode([9999]) }
    }
}
