// A Hugging Face `tokenizer.json`, read into an encoder/decoder: added tokens, normalizer,
// pre-tokenizer, BPE model, post-processor and decoder, each as the `tokenizers` library applies
// them. Anything this file does not implement is refused with an error naming the component.

import Foundation

public struct Tokenizer: Sendable {
    /// Where the tokenizer was read from.
    public let path: String
    /// Vocabulary size including added tokens (the largest id plus one).
    public let vocabularySize: Int

    private let model: BPEModel
    private let normalizer: Normalizer?
    private let preTokenizer: PreTokenizer?
    private let postProcessor: PostProcessor?
    private let decoder: TokenDecoder?
    private let addedTokens: [AddedToken]
    private let rawMatcher: AddedTokenMatcher
    private let normalizedMatcher: AddedTokenMatcher
    private let idToToken: [Int: String]
    private let specialIds: Set<Int>

    /// Loads `tokenizer.json`, or the `tokenizer.json` inside a model folder.
    public init(contentsOf path: String) throws(TokenizerError) {
        var isDirectory: ObjCBool = false
        var file = path
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = (path as NSString).appendingPathComponent("tokenizer.json")
        }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw .unreadable(path: file, reason: FileManager.default.fileExists(atPath: file) ? "cannot read the file" : "no such file")
        }
        try self.init(json: data, path: file)
    }

    /// Parses the JSON text of a `tokenizer.json`; `path` names it in errors.
    public init(json data: Data, path: String) throws(TokenizerError) {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw .unreadable(path: path, reason: "not valid JSON (\(error.localizedDescription))")
        }
        let root = JSONNode(object, key: "", file: path)
        _ = try root.object()
        self.path = path
        model = try BPEModel(root["model"])
        normalizer = root["normalizer"].isNull ? nil : try Normalizer(root["normalizer"])
        preTokenizer = root["pre_tokenizer"].isNull ? nil : try PreTokenizer(root["pre_tokenizer"])
        decoder = root["decoder"].isNull ? nil : try TokenDecoder(root["decoder"])
        for key in ["truncation", "padding"] where !root[key].isNull {
            throw TokenizerError.unsupported(path: path, key: key, component: "\(key) settings")
        }
        let added = root["added_tokens"].isNull ? [] : try root["added_tokens"].array().map { (n) throws(TokenizerError) in try AddedToken(n) }
        addedTokens = added
        rawMatcher = AddedTokenMatcher(added.filter { !$0.normalized })
        normalizedMatcher = AddedTokenMatcher(added.filter(\.normalized))
        var reverse: [Int: String] = [:]
        for (token, id) in model.vocabulary { reverse[id] = token }
        for token in added { reverse[token.id] = token.content }
        idToToken = reverse
        specialIds = Set(added.filter(\.special).map(\.id))
        vocabularySize = (reverse.keys.max() ?? -1) + 1
        let vocabulary = model.vocabulary
        let addedIds = Dictionary(added.map { ($0.content, $0.id) }, uniquingKeysWith: { first, _ in first })
        postProcessor = root["post_processor"].isNull ? nil : try PostProcessor(root["post_processor"]) { addedIds[$0] ?? vocabulary[$0] }
    }

    /// Token ids of `text`; special tokens from the post-processor only when `addSpecialTokens`.
    public func encode(_ text: String, addSpecialTokens: Bool = false) -> [Int] {
        var ids: [Int] = []
        for segment in rawMatcher.split(text, atStart: true) {
            switch segment {
            case .token(let id): ids.append(id)
            case .text(let raw, let atStart):
                let normalized = normalizer?.apply(raw) ?? raw
                for inner in normalizedMatcher.split(normalized, atStart: atStart) {
                    switch inner {
                    case .token(let id): ids.append(id)
                    case .text(let piece, let pieceAtStart):
                        let words = preTokenizer?.apply([Piece(text: piece, atStart: pieceAtStart)]) ?? [Piece(text: piece, atStart: pieceAtStart)]
                        for word in words { ids.append(contentsOf: model.tokenize(word.text)) }
                    }
                }
            }
        }
        if addSpecialTokens, let postProcessor { ids = postProcessor.apply(ids) }
        return ids
    }

    /// The vocabulary string of each id (byte-level tokens show their mapped characters, e.g. `Ġ`).
    public func tokens(_ ids: [Int]) throws(TokenizerError) -> [String] {
        try ids.map { (id) throws(TokenizerError) in
            guard let token = idToToken[id] else { throw TokenizerError.unknownId(id) }
            return token
        }
    }

    /// The id of a vocabulary string or added token.
    public func id(of token: String) -> Int? {
        addedTokens.first { $0.content == token }?.id ?? model.vocabulary[token]
    }

    /// Whether `id` is a special added token.
    public func isSpecial(_ id: Int) -> Bool { specialIds.contains(id) }

    /// Text of `ids`; special tokens are left out when `skipSpecialTokens`.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) throws(TokenizerError) -> String {
        let kept = skipSpecialTokens ? ids.filter { !specialIds.contains($0) } : ids
        let pieces = try tokens(kept)
        guard let decoder else { return pieces.joined(separator: " ") }
        return decoder.decode(pieces).joined()
    }
}
