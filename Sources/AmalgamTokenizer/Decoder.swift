// Decoders: turn a list of token strings back into text.

indirect enum TokenDecoder: Sendable {
    case sequence([TokenDecoder])
    case byteLevel
    case metaspace(replacement: String, stripFirstSpace: Bool)
    case replace(TextPattern, String)
    case byteFallback
    case fuse
    case strip(content: Unicode.Scalar, start: Int, stop: Int)

    init(_ node: JSONNode) throws(TokenizerError) {
        let type = try node.type()
        switch type {
        case "Sequence":
            self = .sequence(try node["decoders"].array().map { (n) throws(TokenizerError) in try TokenDecoder(n) })
        case "ByteLevel": self = .byteLevel
        case "Metaspace":
            guard case .metaspace(let replacement, let prepend, _) = try PreTokenizer.metaspace(node) else { fatalError("unreachable") }
            self = .metaspace(replacement: replacement, stripFirstSpace: prepend != .never)
        case "Replace": self = .replace(try TextPattern(node["pattern"]), try node["content"].string())
        case "ByteFallback": self = .byteFallback
        case "Fuse": self = .fuse
        case "Strip":
            let content = try node["content"].string()
            guard content.unicodeScalars.count == 1, let scalar = content.unicodeScalars.first else {
                throw node["content"].malformed("Strip content must be one character")
            }
            self = .strip(content: scalar, start: try node["start"].int(default: 0), stop: try node["stop"].int(default: 0))
        default:
            throw TokenizerError.unsupported(path: node.file, key: node.key, component: "decoder \(type)")
        }
    }

    func decode(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let steps):
            return steps.reduce(tokens) { $1.decode($0) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                for scalar in token.unicodeScalars {
                    if let byte = ByteAlphabet.bytes[scalar] {
                        bytes.append(byte)
                    } else {
                        bytes.append(contentsOf: String(scalar).utf8)
                    }
                }
            }
            return [String(decoding: bytes, as: UTF8.self)]
        case .metaspace(let replacement, let stripFirstSpace):
            return tokens.enumerated().map { index, token in
                var text = TextPattern.literal(replacement).replacingAll(in: token, with: " ")
                if index == 0 && stripFirstSpace && text.unicodeScalars.first == " " {
                    text = String(text.unicodeScalars.dropFirst())
                }
                return text
            }
        case .replace(let pattern, let content):
            return tokens.map { pattern.replacingAll(in: $0, with: content) }
        case .byteFallback:
            var output: [String] = []
            var pending: [UInt8] = []
            func flush() {
                guard !pending.isEmpty else { return }
                if let text = String(validating: pending, as: UTF8.self) {
                    output.append(text)
                } else {
                    output.append(contentsOf: Array(repeating: "\u{FFFD}", count: pending.count))
                }
                pending = []
            }
            for token in tokens {
                if let byte = TokenDecoder.fallbackByte(token) {
                    pending.append(byte)
                } else {
                    flush()
                    output.append(token)
                }
            }
            flush()
            return output
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                var scalars = Array(token.unicodeScalars)
                var removed = 0
                while removed < start, scalars.first == content { scalars.removeFirst(); removed += 1 }
                removed = 0
                while removed < stop, scalars.last == content { scalars.removeLast(); removed += 1 }
                return String(String.UnicodeScalarView(scalars))
            }
        }
    }

    /// The byte of a `<0xXX>` token.
    static func fallbackByte(_ token: String) -> UInt8? {
        let scalars = Array(token.unicodeScalars)
        guard scalars.count == 6, token.hasPrefix("<0x"), token.hasSuffix(">") else { return nil }
        return UInt8(String(String.UnicodeScalarView(scalars[3..<5])), radix: 16)
    }
}
