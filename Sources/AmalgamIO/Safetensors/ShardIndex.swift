// model.safetensors.index.json, as transformers writes it:
//   {"metadata": {"total_size": <bytes>, ...}, "weight_map": {"<tensor name>": "<shard file>", ...}}

import Foundation

/// A parsed shard index: which shard file holds each tensor.
public struct ShardIndex: Sendable, Equatable {
    /// The standard file name.
    public static let fileName = "model.safetensors.index.json"

    /// Tensor name → shard file name (relative to the index's folder).
    public let weightMap: [String: String]
    /// The `metadata` object's scalar entries, as text (`total_size`, ...).
    public let metadata: [String: String]

    /// The distinct shard file names, sorted.
    public var shardNames: [String] { Array(Set(weightMap.values)).sorted() }

    public init(weightMap: [String: String], metadata: [String: String] = [:]) {
        self.weightMap = weightMap
        self.metadata = metadata
    }

    /// Parses index JSON.
    ///
    /// - Parameter path: the index file's path, for messages.
    /// - Throws: ``SafetensorsError/invalidIndex(file:reason:)``.
    public init(parsing bytes: [UInt8], path: String) throws(SafetensorsError) {
        let object: [String: Any]
        switch JSONText.object(from: bytes) {
        case .success(let parsed): object = parsed
        case .failure(.invalid(let reason)): throw .invalidIndex(file: path, reason: "not valid JSON: \(reason)")
        case .failure(.notObject): throw .invalidIndex(file: path, reason: "not a JSON object")
        }
        guard let map = object["weight_map"] as? [String: Any] else {
            throw .invalidIndex(file: path, reason: "missing \"weight_map\" object")
        }
        if let duplicate = JSONDuplicateKeys.first(in: bytes), duplicate.parent == "weight_map" {
            throw .invalidIndex(file: path, reason: "tensor '\(duplicate.key)' appears twice in weight_map")
        }
        var weightMap: [String: String] = [:]
        for (tensor, value) in map {
            guard let shard = value as? String, !shard.isEmpty else {
                throw .invalidIndex(file: path, reason: "weight_map entry for '\(tensor)' is not a file name")
            }
            guard !shard.contains("/"), !shard.contains("\\"), shard != ".", shard != ".." else {
                throw .invalidIndex(file: path, reason: "weight_map entry for '\(tensor)' names '\(shard)', which is not a file in the index's folder")
            }
            weightMap[tensor] = shard
        }
        var metadata: [String: String] = [:]
        if let meta = object["metadata"] as? [String: Any] {
            for (key, value) in meta { metadata[key] = "\(value)" }
        }
        self.weightMap = weightMap
        self.metadata = metadata
    }

    /// The index as pretty JSON with sorted keys (the layout transformers writes).
    public func encoded(totalSize: Int) -> [UInt8] {
        let object: [String: Any] = ["metadata": ["total_size": totalSize], "weight_map": weightMap]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return Array(data) + [UInt8(ascii: "\n")]
    }
}
