// Post-processors: the special tokens added around an encoded sequence (when asked for).

indirect enum PostProcessor: Sendable {
    case sequence([PostProcessor])
    /// Items of the `single` template: a special token's ids, or the sequence itself (`nil`).
    case template([[Int]?])
    case noChange

    init(_ node: JSONNode, resolve: (String) -> Int?) throws(TokenizerError) {
        let type = try node.type()
        switch type {
        case "Sequence":
            self = .sequence(try node["processors"].array().map { (n) throws(TokenizerError) in try PostProcessor(n, resolve: resolve) })
        case "ByteLevel":
            self = .noChange  // only adjusts offsets
        case "TemplateProcessing":
            var items: [[Int]?] = []
            for item in try node["single"].array() {
                if !item["Sequence"].isNull {
                    items.append(nil)
                } else if let name = try item["SpecialToken"]["id"].optionalString() {
                    let special = node["special_tokens"][name]
                    if let ids = special["ids"].value as? [Int] {
                        items.append(ids)
                    } else if let id = resolve(name) {
                        items.append([id])
                    } else {
                        throw item.malformed("special token \(name) is neither in special_tokens nor in the vocabulary")
                    }
                } else {
                    throw item.malformed("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
                }
            }
            self = .template(items)
        case "RobertaProcessing", "BertProcessing":
            let cls = try node["cls"].array(), sep = try node["sep"].array()
            guard cls.count == 2, sep.count == 2 else { throw node.malformed("cls and sep must be [token, id]") }
            self = .template([[try cls[1].int()], nil, [try sep[1].int()]])
        default:
            throw TokenizerError.unsupported(path: node.file, key: node.key, component: "post_processor \(type)")
        }
    }

    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .sequence(let steps): steps.reduce(ids) { $1.apply($0) }
        case .template(let items): items.flatMap { $0 ?? ids }
        case .noChange: ids
        }
    }
}
