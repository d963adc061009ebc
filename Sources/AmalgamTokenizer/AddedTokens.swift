// Added tokens: literal strings (special tokens such as `<|eos|>`, and user additions) that are cut
// out of the input before the model sees it, leftmost-longest first.

struct AddedToken: Sendable, Equatable {
    var id: Int
    var content: String
    var singleWord: Bool
    var leftStrip: Bool
    var rightStrip: Bool
    var normalized: Bool
    var special: Bool

    init(_ node: JSONNode) throws(TokenizerError) {
        id = try node["id"].int()
        content = try node["content"].string()
        singleWord = try node["single_word"].bool(default: false)
        leftStrip = try node["lstrip"].bool(default: false)
        rightStrip = try node["rstrip"].bool(default: false)
        normalized = try node["normalized"].bool(default: false)
        special = try node["special"].bool(default: false)
        if content.isEmpty { throw node["content"].malformed("an added token cannot be empty") }
    }
}

/// A run of input that is either ordinary text or one added token.
enum Segment: Equatable {
    case text(String, atStart: Bool)
    case token(Int)
}

/// Finds added tokens in text.
struct AddedTokenMatcher: Sendable {
    private let tokens: [(scalars: [Unicode.Scalar], token: AddedToken)]
    private let firstScalars: Set<Unicode.Scalar>

    init(_ tokens: [AddedToken]) {
        self.tokens = tokens.map { (Array($0.content.unicodeScalars), $0) }.sorted { $0.scalars.count > $1.scalars.count }
        firstScalars = Set(self.tokens.compactMap(\.scalars.first))
    }

    var isEmpty: Bool { tokens.isEmpty }

    /// Splits `text` (which starts the input when `atStart`) around every added token.
    func split(_ text: String, atStart: Bool) -> [Segment] {
        guard !tokens.isEmpty else { return text.isEmpty ? [] : [.text(text, atStart: atStart)] }
        let scalars = Array(text.unicodeScalars)
        var segments: [Segment] = []
        var textStart = 0
        var position = 0
        while position < scalars.count {
            guard firstScalars.contains(scalars[position]), let (token, length) = longestMatch(scalars, at: position) else {
                position += 1
                continue
            }
            var matchStart = position, matchEnd = position + length
            if token.leftStrip { while matchStart > textStart, scalars[matchStart - 1].properties.isWhitespace { matchStart -= 1 } }
            if token.rightStrip { while matchEnd < scalars.count, scalars[matchEnd].properties.isWhitespace { matchEnd += 1 } }
            if matchStart > textStart {
                segments.append(.text(String(String.UnicodeScalarView(scalars[textStart..<matchStart])), atStart: atStart && textStart == 0))
            }
            segments.append(.token(token.id))
            textStart = matchEnd
            position = matchEnd
        }
        if textStart < scalars.count {
            segments.append(.text(String(String.UnicodeScalarView(scalars[textStart...])), atStart: atStart && textStart == 0))
        }
        return segments
    }

    private func longestMatch(_ scalars: [Unicode.Scalar], at position: Int) -> (AddedToken, Int)? {
        for (pattern, token) in tokens where pattern.count <= scalars.count - position {
            guard scalars[position..<(position + pattern.count)].elementsEqual(pattern) else { continue }
            if token.singleWord {
                let end = position + pattern.count
                let before = position > 0 ? scalars[position - 1] : nil
                let after = end < scalars.count ? scalars[end] : nil
                if let before, Self.isWordScalar(before) { continue }
                if let after, Self.isWordScalar(after) { continue }
            }
            return (token, pattern.count)
        }
        return nil
    }

    private static func isWordScalar(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isAlphabetic || scalar.properties.numericType != nil || scalar == "_"
    }
}
