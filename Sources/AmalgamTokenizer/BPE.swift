import Foundation

// The BPE model: characters of a word become vocabulary symbols, then adjacent pairs merge in the
// order of the merge list (lowest rank first, leftmost first on equal rank) until none applies.

struct BPEModel: Sendable {
    let vocabulary: [String: Int]
    /// (left id, right id) → (rank, merged id).
    let merges: [PairKey: Merge]
    let unknownId: Int?
    let fuseUnknown: Bool
    let byteFallback: Bool
    let ignoreMerges: Bool
    /// `<0xXX>` token ids, when byte fallback is on.
    let byteTokens: [Int?]

    struct PairKey: Hashable, Sendable {
        var left: Int32
        var right: Int32
    }

    struct Merge: Sendable, Equatable {
        var rank: Int32
        var merged: Int32
    }

    init(_ node: JSONNode) throws(TokenizerError) {
        let type = try node.type()
        guard type == "BPE" else {
            throw TokenizerError.unsupported(path: node.file, key: node.key, component: "model \(type) (only BPE is implemented)")
        }
        if !node["dropout"].isNull, let dropout = node["dropout"].value as? Double, dropout > 0 {
            throw TokenizerError.unsupported(path: node.file, key: node.key + ".dropout", component: "BPE dropout \(dropout)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where try !(node[key].optionalString() ?? "").isEmpty {
            throw TokenizerError.unsupported(path: node.file, key: "\(node.key).\(key)", component: "BPE \(key)")
        }
        guard let vocab = node["vocab"].value as? [String: Any] else { throw node["vocab"].malformed("expected an object of token → id") }
        var vocabulary: [String: Int] = [:]
        vocabulary.reserveCapacity(vocab.count)
        for (token, id) in vocab {
            vocabulary[token] = try JSONNode(id, key: "\(node.key).vocab.\(token)", file: node.file).int()
        }
        self.vocabulary = vocabulary

        var merges: [PairKey: Merge] = [:]
        for (rank, entry) in try node["merges"].array().enumerated() {
            let pair: [String]
            if let text = entry.value as? String {
                pair = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            } else if let list = entry.value as? [String] {
                pair = list
            } else {
                throw entry.malformed("expected \"a b\" or [\"a\", \"b\"]")
            }
            guard pair.count == 2 else { throw entry.malformed("a merge needs exactly two symbols") }
            guard let left = vocabulary[pair[0]], let right = vocabulary[pair[1]] else {
                throw entry.malformed("merge \(pair) uses a symbol missing from the vocabulary")
            }
            guard let merged = vocabulary[pair[0] + pair[1]] else {
                throw entry.malformed("merge result \(pair[0] + pair[1]) is missing from the vocabulary")
            }
            let key = PairKey(left: Int32(left), right: Int32(right))
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), merged: Int32(merged)) }
        }
        self.merges = merges

        if let unknown = try node["unk_token"].optionalString() {
            guard let id = vocabulary[unknown] else { throw node["unk_token"].malformed("unk_token \(unknown) is not in the vocabulary") }
            unknownId = id
        } else {
            unknownId = nil
        }
        fuseUnknown = try node["fuse_unk"].bool(default: false)
        byteFallback = try node["byte_fallback"].bool(default: false)
        ignoreMerges = try node["ignore_merges"].bool(default: false)
        byteTokens = (0..<256).map { vocabulary[String(format: "<0x%02X>", $0)] }
    }

    /// Token ids of one pre-tokenized word.
    func tokenize(_ word: String) -> [Int] {
        if ignoreMerges, let id = vocabulary[word] { return [id] }
        var symbols: [Int32] = []
        var previousWasUnknown = false
        for scalar in word.unicodeScalars {
            if let id = vocabulary[String(scalar)] {
                symbols.append(Int32(id))
                previousWasUnknown = false
                continue
            }
            if byteFallback {
                let ids = String(scalar).utf8.map { byteTokens[Int($0)] }
                if ids.allSatisfy({ $0 != nil }) {
                    symbols.append(contentsOf: ids.map { Int32($0!) })
                    previousWasUnknown = false
                    continue
                }
            }
            guard let unknownId else { continue }  // tokenizers drops characters it cannot represent
            if !(fuseUnknown && previousWasUnknown) { symbols.append(Int32(unknownId)) }
            previousWasUnknown = true
        }
        return merge(symbols).map(Int.init)
    }

    /// Applies merges with a heap keyed by (rank, position), as tokenizers does.
    private func merge(_ ids: [Int32]) -> [Int32] {
        guard ids.count > 1 else { return ids }
        var id = ids
        var next = Array(1...ids.count).map { $0 == ids.count ? -1 : $0 }
        var previous = (0..<ids.count).map { $0 - 1 }
        var alive = [Bool](repeating: true, count: ids.count)
        var heap = MergeHeap()
        for position in 0..<(ids.count - 1) {
            if let merge = merges[PairKey(left: id[position], right: id[position + 1])] {
                heap.push(.init(rank: merge.rank, position: Int32(position), merged: merge.merged))
            }
        }
        while let top = heap.pop() {
            let position = Int(top.position)
            guard alive[position] else { continue }
            let right = next[position]
            guard right >= 0, let merge = merges[PairKey(left: id[position], right: id[right])], merge.merged == top.merged else { continue }
            id[position] = merge.merged
            alive[right] = false
            next[position] = next[right]
            if next[right] >= 0 { previous[next[right]] = position }
            let before = previous[position]
            if before >= 0, let m = merges[PairKey(left: id[before], right: id[position])] {
                heap.push(.init(rank: m.rank, position: Int32(before), merged: m.merged))
            }
            let after = next[position]
            if after >= 0, let m = merges[PairKey(left: id[position], right: id[after])] {
                heap.push(.init(rank: m.rank, position: Int32(position), merged: m.merged))
            }
        }
        var result: [Int32] = []
        var cursor = 0
        while cursor >= 0 {
            result.append(id[cursor])
            cursor = next[cursor]
        }
        return result
    }
}

/// A binary min-heap of pending merges ordered by rank, then position.
struct MergeHeap {
    struct Entry {
        var rank: Int32
        var position: Int32
        var merged: Int32

        func precedes(_ other: Entry) -> Bool {
            rank != other.rank ? rank < other.rank : position < other.position
        }
    }

    private var entries: [Entry] = []

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[child].precedes(entries[parent]) else { break }
            entries.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Entry? {
        guard let first = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var best = parent
                if left < entries.count && entries[left].precedes(entries[best]) { best = left }
                if right < entries.count && entries[right].precedes(entries[best]) { best = right }
                if best == parent { break }
                entries.swapAt(parent, best)
                parent = best
            }
        }
        return first
    }
}
