import AmalgamCore
import Foundation

/// A model checkpoint: its safetensors shards (validated, memory-mapped), config.json, and the
/// tokenizer and generation files a merged model should carry over.
///
/// ```swift
/// let checkpoint = try Checkpoint(opening: "~/models/llama-3-8b")
/// let q = try checkpoint.tensor(named: "model.layers.0.self_attn.q_proj.weight")
/// ```
public final class Checkpoint: Sendable {
    /// What the user passed.
    public let reference: String
    /// The resolved source.
    public let source: CheckpointSource
    /// config.json, when the source is a folder that has one.
    public let config: ModelConfig?
    /// The shards, in file-name order.
    public let shards: [SafetensorsFile]
    /// The index file's path, for sharded folders that have one.
    public let indexPath: String?
    /// Tensor names in natural order (layer 2 before layer 10).
    public let tensorNames: [String]
    /// Tokenizer and generation files present in the folder (file names).
    public let auxiliaryFiles: [String]
    private let locations: [String: Location]

    private struct Location: Sendable {
        let shard: Int
        let info: TensorInfo
    }

    /// File names carried over from a tokenizer source into a merged model.
    public static let auxiliaryFileNames = [
        "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "vocab.json",
        "merges.txt", "added_tokens.json", "generation_config.json", "chat_template.jinja", "chat_template.json",
    ]

    /// Opens a folder, a .safetensors file, or a cached `org/name[@revision]`, validating every header (and
    /// the index) before returning. No tensor data is read.
    ///
    /// - Throws: ``CheckpointError``, ``SafetensorsError`` or ``FileError``, naming the file and tensor.
    public convenience init(opening reference: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init(reference: reference, source: CheckpointLocator.resolve(reference, environment: environment))
    }

    /// Opens an already resolved source.
    public init(reference: String, source: CheckpointSource) throws {
        self.reference = reference
        self.source = source
        let fileManager = FileManager.default
        var shardPaths: [String]
        var index: ShardIndex?
        var indexPath: String?
        switch source {
        case .file(let path):
            shardPaths = [path]
            config = nil
            auxiliaryFiles = []
        case .folder(let folder):
            let names: [String]
            do {
                names = try fileManager.contentsOfDirectory(atPath: folder).sorted()
            } catch {
                throw FileError(path: folder, operation: .list, reason: error.localizedDescription)
            }
            func inFolder(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
            if names.contains("config.json") {
                let path = inFolder("config.json")
                config = try ModelConfig(parsing: Self.readBytes(path), path: path)
            } else {
                config = nil
            }
            auxiliaryFiles = Self.auxiliaryFileNames.filter(names.contains)
            if names.contains(ShardIndex.fileName) {
                let path = inFolder(ShardIndex.fileName)
                let parsed = try ShardIndex(parsing: Self.readBytes(path), path: path)
                for (tensor, shard) in parsed.weightMap.sorted(by: { $0.key < $1.key }) where !names.contains(shard) {
                    throw SafetensorsError.missingShard(index: path, shard: shard, tensor: tensor)
                }
                index = parsed
                indexPath = path
                shardPaths = parsed.shardNames.map(inFolder)
            } else if names.contains("model.safetensors") {
                shardPaths = [inFolder("model.safetensors")]
            } else {
                shardPaths = names.filter { $0.hasSuffix(".safetensors") }.map(inFolder)
                guard !shardPaths.isEmpty else {
                    throw CheckpointError.noSafetensors(folder: folder, hasPyTorchBin: names.contains { $0.hasSuffix(".bin") })
                }
            }
        }
        self.indexPath = indexPath
        shards = try shardPaths.map { try SafetensorsFile(path: $0) }

        var locations: [String: Location] = [:]
        for (shardNumber, shard) in shards.enumerated() {
            let shardName = (shard.path as NSString).lastPathComponent
            for info in shard.tensorInfos {
                if let index, let indexPath, index.weightMap[info.name] != shardName {
                    throw SafetensorsError.tensorNotInIndex(index: indexPath, shard: shardName, tensor: info.name)
                }
                if let existing = locations[info.name] {
                    throw SafetensorsError.duplicateTensorAcrossShards(
                        tensor: info.name, first: shards[existing.shard].path, second: shard.path)
                }
                locations[info.name] = Location(shard: shardNumber, info: info)
            }
        }
        if let index, let indexPath {
            for (tensor, shard) in index.weightMap.sorted(by: { $0.key < $1.key }) where locations[tensor] == nil {
                throw SafetensorsError.tensorNotInShard(index: indexPath, shard: shard, tensor: tensor)
            }
        }
        self.locations = locations
        tensorNames = locations.keys.sorted { TensorName($0) < TensorName($1) }
    }

    /// A readable name: the folder or file path.
    public var path: String {
        switch source {
        case .folder(let path), .file(let path): path
        }
    }

    /// The header entry of `name`, if present.
    public func info(_ name: String) -> TensorInfo? { locations[name]?.info }

    /// The shard file (path) holding `name`, if present.
    public func shardPath(of name: String) -> String? { locations[name].map { shards[$0.shard].path } }

    /// A view of tensor `name` (no data is read until its values are used).
    ///
    /// - Throws: ``SafetensorsError/tensorNotFound(checkpoint:tensor:suggestion:)``, with the closest name.
    public func tensor(named name: String) throws(SafetensorsError) -> Tensor {
        guard let location = locations[name] else {
            throw .tensorNotFound(checkpoint: path, tensor: name, suggestion: closestName(to: name, in: tensorNames))
        }
        return shards[location.shard].tensor(location.info)
    }

    /// The shard file and header entry of `name`, for in-kernel copies.
    func storage(of name: String) -> (file: SafetensorsFile, info: TensorInfo)? {
        locations[name].map { (shards[$0.shard], $0.info) }
    }

    /// Hints the kernel to read `name`'s bytes ahead of use.
    public func prefetch(_ name: String) {
        if let location = locations[name] { shards[location.shard].prefetch(location.info) }
    }

    /// Tells the kernel this process is done with `name`'s bytes for now: its mapped pages leave
    /// the resident set (they stay in the page cache; reading the tensor again faults them back).
    /// For callers that have copied a tensor's values out of the mapping.
    public func release(_ name: String) {
        if let location = locations[name] { shards[location.shard].release(location.info) }
    }

    /// Total bytes of tensor data.
    public var totalBytes: Int { locations.values.reduce(0) { $0 + $1.info.byteCount } }

    static func readBytes(_ path: String) throws(FileError) -> [UInt8] {
        do {
            return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw FileError(path: path, operation: .read, reason: error.localizedDescription)
        }
    }
}
