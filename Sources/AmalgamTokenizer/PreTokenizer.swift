// Pre-tokenizers: split normalized text into the words the BPE model sees, and (byte-level,
// metaspace) rewrite them into the model's alphabet.

/// A piece of text on its way through the pipeline. `atStart` is true when it begins at offset 0
/// of the original input (Metaspace's `prepend_scheme: first` looks at that).
struct Piece: Equatable {
    var text: String
    var atStart: Bool
}

/// How a split pattern's matches are kept (tokenizers' `SplitDelimiterBehavior`).
enum SplitBehavior: String, Sendable {
    case removed = "Removed"
    case isolated = "Isolated"
    case mergedWithPrevious = "MergedWithPrevious"
    case mergedWithNext = "MergedWithNext"
}

enum MetaspacePrepend: String, Sendable {
    case always, first, never
}

/// The byte-to-character alphabet of GPT-2 style byte-level BPE: printable Latin-1 bytes stand for
/// themselves, the other 68 bytes for the code points from U+0100 on.
enum ByteAlphabet {
    static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    static let bytes: [Unicode.Scalar: UInt8] = {
        var map: [Unicode.Scalar: UInt8] = [:]
        for (byte, scalar) in characters.enumerated() { map[scalar] = UInt8(byte) }
        return map
    }()

    static func encode(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for byte in text.utf8 { scalars.append(characters[Int(byte)]) }
        return String(scalars)
    }
}

/// The regex GPT-2's ByteLevel pre-tokenizer applies when `use_regex` is true.
let gpt2SplitPattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

indirect enum PreTokenizer: Sendable {
    case sequence([PreTokenizer])
    case split(TextPattern, SplitBehavior)
    case byteLevel(addPrefixSpace: Bool, split: TextPattern?)
    case metaspace(replacement: String, prepend: MetaspacePrepend, split: Bool)
    case digits(individual: Bool)
    case whitespaceSplit
    case whitespace

    init(_ node: JSONNode) throws(TokenizerError) {
        let type = try node.type()
        switch type {
        case "Sequence":
            self = .sequence(try node["pretokenizers"].array().map { (n) throws(TokenizerError) in try PreTokenizer(n) })
        case "Split":
            if try node["invert"].bool(default: false) {
                throw TokenizerError.unsupported(path: node.file, key: node.key + ".invert", component: "Split with invert: true")
            }
            let name = try node["behavior"].string()
            guard let behavior = SplitBehavior(rawValue: name) else {
                throw TokenizerError.unsupported(path: node.file, key: node.key + ".behavior", component: "Split behavior \(name)")
            }
            self = .split(try TextPattern(node["pattern"]), behavior)
        case "ByteLevel":
            let useRegex = try node["use_regex"].bool(default: true)
            self = .byteLevel(
                addPrefixSpace: try node["add_prefix_space"].bool(default: true),
                split: useRegex ? try TextPattern(JSONNode(["Regex": gpt2SplitPattern], key: node.key, file: node.file)) : nil
            )
        case "Metaspace":
            self = try PreTokenizer.metaspace(node)
        case "Digits": self = .digits(individual: try node["individual_digits"].bool(default: false))
        case "WhitespaceSplit": self = .whitespaceSplit
        case "Whitespace": self = .whitespace
        default:
            throw TokenizerError.unsupported(path: node.file, key: node.key, component: "pre_tokenizer \(type)")
        }
    }

    static func metaspace(_ node: JSONNode) throws(TokenizerError) -> PreTokenizer {
        let replacement = try node["replacement"].optionalString() ?? "▁"
        var prepend = MetaspacePrepend.always
        if let scheme = try node["prepend_scheme"].optionalString() {
            guard let parsed = MetaspacePrepend(rawValue: scheme) else {
                throw node["prepend_scheme"].malformed("expected always, first or never, got \(scheme)")
            }
            prepend = parsed
        } else if !node["add_prefix_space"].isNull {
            prepend = try node["add_prefix_space"].bool(default: true) ? .always : .never
        }
        return .metaspace(replacement: replacement, prepend: prepend, split: try node["split"].bool(default: true))
    }

    func apply(_ pieces: [Piece]) -> [Piece] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(pieces) { $1.apply($0) }
        case .split(let pattern, let behavior):
            return pieces.flatMap { split($0, at: pattern.matches(in: $0.text), behavior) }
        case .byteLevel(let addPrefixSpace, let pattern):
            return pieces.flatMap { piece -> [Piece] in
                var piece = piece
                if addPrefixSpace && piece.text.unicodeScalars.first != " " { piece.text = " " + piece.text }
                let words = pattern.map { split(piece, at: $0.matches(in: piece.text), .isolated) } ?? [piece]
                return words.map { Piece(text: ByteAlphabet.encode($0.text), atStart: $0.atStart) }
            }
        case .metaspace(let replacement, let prepend, let splitWords):
            return pieces.flatMap { piece -> [Piece] in
                var piece = piece
                piece.text = TextPattern.literal(" ").replacingAll(in: piece.text, with: replacement)
                let shouldPrepend = prepend == .always || (prepend == .first && piece.atStart)
                if shouldPrepend && !piece.text.unicodeScalars.starts(with: replacement.unicodeScalars) { piece.text = replacement + piece.text }
                guard splitWords else { return [piece] }
                return split(piece, at: TextPattern.literal(replacement).matches(in: piece.text), .mergedWithNext)
            }
        case .digits(let individual):
            let pattern = try! TextPattern(JSONNode(["Regex": individual ? #"\p{N}"# : #"\p{N}+"#], key: "", file: ""))
            return pieces.flatMap { split($0, at: pattern.matches(in: $0.text), .isolated) }
        case .whitespaceSplit:
            let pattern = try! TextPattern(JSONNode(["Regex": #"\s+"#], key: "", file: ""))
            return pieces.flatMap { split($0, at: pattern.matches(in: $0.text), .removed) }
        case .whitespace:
            let pattern = try! TextPattern(JSONNode(["Regex": #"\w+|[^\w\s]+"#], key: "", file: ""))
            return pieces.flatMap { piece in
                pattern.matches(in: piece.text).map {
                    Piece(text: String(piece.text.unicodeScalars[$0]), atStart: piece.atStart && $0.lowerBound == piece.text.startIndex)
                }
            }
        }
    }

    /// Cuts `piece` at `matches` and keeps the delimiters as `behavior` says. Empty pieces are dropped.
    private func split(_ piece: Piece, at matches: [Range<String.Index>], _ behavior: SplitBehavior) -> [Piece] {
        let text = piece.text
        var segments: [(range: Range<String.Index>, isMatch: Bool)] = []
        var cursor = text.startIndex
        for match in matches {
            if cursor < match.lowerBound { segments.append((cursor..<match.lowerBound, false)) }
            segments.append((match, true))
            cursor = match.upperBound
        }
        if cursor < text.endIndex { segments.append((cursor..<text.endIndex, false)) }

        var ranges: [Range<String.Index>] = []
        switch behavior {
        case .isolated:
            ranges = segments.map(\.range)
        case .removed:
            ranges = segments.filter { !$0.isMatch }.map(\.range)
        case .mergedWithPrevious:
            for segment in segments {
                if segment.isMatch, let last = ranges.last {
                    ranges[ranges.count - 1] = last.lowerBound..<segment.range.upperBound
                } else {
                    ranges.append(segment.range)
                }
            }
        case .mergedWithNext:
            var pendingStart: String.Index?
            for segment in segments {
                if segment.isMatch {
                    if let start = pendingStart { ranges.append(start..<segment.range.lowerBound) }
                    pendingStart = segment.range.lowerBound
                } else {
                    ranges.append((pendingStart ?? segment.range.lowerBound)..<segment.range.upperBound)
                    pendingStart = nil
                }
            }
            if let start = pendingStart { ranges.append(start..<text.endIndex) }
        }
        return ranges.filter { !$0.isEmpty }.map {
            Piece(text: String(text.unicodeScalars[$0]), atStart: piece.atStart && $0.lowerBound == text.startIndex)
        }
    }
}
