// Normalizers: text rewrites applied to each piece of input between added tokens.

import Foundation

/// A string pattern in tokenizer.json: a literal (`{"String": ...}`) or a regex (`{"Regex": ...}`).
enum TextPattern: @unchecked Sendable {
    case literal(String)
    case regex(Regex<AnyRegexOutput>, source: String)

    init(_ node: JSONNode) throws(TokenizerError) {
        if let literal = try node["String"].optionalString() {
            self = .literal(literal)
        } else if let source = try node["Regex"].optionalString() {
            do {
                self = .regex(try Regex(source).matchingSemantics(.unicodeScalar), source: source)
            } catch {
                throw node.malformed("regex \(source) does not compile: \(error)")
            }
        } else {
            throw node.malformed("expected {\"String\": ...} or {\"Regex\": ...}")
        }
    }

    /// Ranges of every non-overlapping match, left to right, in unicode-scalar semantics.
    func matches(in text: String) -> [Range<String.Index>] {
        switch self {
        case .literal(let literal):
            guard !literal.isEmpty else { return [] }
            var ranges: [Range<String.Index>] = []
            var start = text.startIndex
            let scalars = text.unicodeScalars
            let needle = Array(literal.unicodeScalars)
            while start < text.endIndex {
                guard let found = scalars[start...].firstRange(of: needle) else { break }
                ranges.append(found)
                start = found.upperBound
            }
            return ranges
        case .regex(let regex, _):
            return text.matches(of: regex).map(\.range).filter { !$0.isEmpty }
        }
    }

    func replacingAll(in text: String, with content: String) -> String {
        let ranges = matches(in: text)
        guard !ranges.isEmpty else { return text }
        var result = String.UnicodeScalarView()
        var cursor = text.startIndex
        for range in ranges {
            result.append(contentsOf: text.unicodeScalars[cursor..<range.lowerBound])
            result.append(contentsOf: content.unicodeScalars)
            cursor = range.upperBound
        }
        result.append(contentsOf: text.unicodeScalars[cursor...])
        return String(result)
    }
}

/// One normalizer step.
indirect enum Normalizer: Sendable {
    case sequence([Normalizer])
    case prepend(String)
    case replace(TextPattern, String)
    case nfc, nfd, nfkc, nfkd
    case lowercase
    case strip(left: Bool, right: Bool)

    init(_ node: JSONNode) throws(TokenizerError) {
        let type = try node.type()
        switch type {
        case "Sequence":
            self = .sequence(try node["normalizers"].array().map { (n) throws(TokenizerError) in try Normalizer(n) })
        case "Prepend": self = .prepend(try node["prepend"].string())
        case "Replace": self = .replace(try TextPattern(node["pattern"]), try node["content"].string())
        case "NFC": self = .nfc
        case "NFD": self = .nfd
        case "NFKC": self = .nfkc
        case "NFKD": self = .nfkd
        case "Lowercase": self = .lowercase
        case "Strip": self = .strip(left: try node["strip_left"].bool(default: true), right: try node["strip_right"].bool(default: true))
        default:
            throw TokenizerError.unsupported(path: node.file, key: node.key, component: "normalizer \(type)")
        }
    }

    func apply(_ text: String) -> String {
        switch self {
        case .sequence(let steps): return steps.reduce(text) { $1.apply($0) }
        case .prepend(let prefix): return text.isEmpty ? text : prefix + text
        case .replace(let pattern, let content): return pattern.replacingAll(in: text, with: content)
        case .nfc: return text.precomposedStringWithCanonicalMapping
        case .nfd: return text.decomposedStringWithCanonicalMapping
        case .nfkc: return text.precomposedStringWithCompatibilityMapping
        case .nfkd: return text.decomposedStringWithCompatibilityMapping
        case .lowercase: return text.lowercased()
        case .strip(let left, let right):
            var scalars = Substring(text).unicodeScalars[...]
            if left { while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() } }
            if right { while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() } }
            return String(String.UnicodeScalarView(scalars))
        }
    }
}
