// Streaming writer for (optionally sharded) safetensors checkpoints.
//
// The caller declares every tensor up front (name, dtype, shape), which fixes the shard layout
// and every header before a byte of data is written; then hands over each tensor's bytes in the
// declared order. Only the tensor being written is in memory. Shards are bounded by a byte size:
// a new shard starts when the next tensor would push the current one past the bound (a tensor
// larger than the bound gets a shard of its own). One shard is `model.safetensors`; several are
// `model-0000k-of-0000n.safetensors` with `model.safetensors.index.json`.

import AmalgamCore
import AmalgamKernels
import Foundation

/// A tensor the writer will receive: its name, dtype and shape.
public struct PlannedTensor: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: Shape

    public init(name: String, dtype: DType, shape: Shape) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// Bytes of data.
    public var byteCount: Int { shape.elementCount * dtype.byteWidth }
}

/// Misuse of a ``CheckpointWriter`` (programmer errors surfaced as errors, not traps, so a
/// failing merge still cleans up).
public enum CheckpointWriterError: AmalgamDiagnostic, Equatable {
    case duplicatePlannedTensor(String)
    case unexpectedTensor(expected: String?, got: String)
    case wrongTensor(name: String, expected: String, got: String)
    case incomplete(missing: [String])

    public var location: DiagnosticLocation {
        switch self {
        case .duplicatePlannedTensor(let name), .unexpectedTensor(_, let name), .wrongTensor(let name, _, _):
            DiagnosticLocation(tensor: name)
        case .incomplete(let missing): DiagnosticLocation(tensor: missing.first)
        }
    }

    public var description: String {
        switch self {
        case .duplicatePlannedTensor(let name): "tensor '\(name)' is planned twice for the output"
        case .unexpectedTensor(let expected, let got):
            "tensor '\(got)' written out of order (expected \(expected.map { "'\($0)'" } ?? "no more tensors"))"
        case .wrongTensor(let name, let expected, let got): "tensor '\(name)': planned as \(expected), written as \(got)"
        case .incomplete(let missing): "output incomplete: \(missing.count) planned tensors not written (first '\(missing[0])')"
        }
    }
}

/// Writes a checkpoint into a staging folder, then moves it into place on ``finish()``.
public final class CheckpointWriter {
    /// The planned tensors, in write order.
    public let plan: [PlannedTensor]
    /// For each planned tensor, its shard number.
    public let shardOfTensor: [Int]
    /// Shard file names.
    public let shardNames: [String]
    private let metadata: [String: String]
    private let staging: StagedOutput
    private var next = 0
    private var currentShard: OutputFile?
    private var currentShardNumber = -1

    /// Plans the layout and opens the staging folder.
    ///
    /// - Parameters:
    ///   - destination: the output folder.
    ///   - tensors: every tensor, in the order they will be written.
    ///   - maxShardBytes: bound on each shard's tensor data; nil for a single file.
    ///   - metadata: the safetensors `__metadata__` (default `{"format": "pt"}`, which transformers expects).
    ///   - overwrite: replace an existing non-empty destination on success (`--force`).
    public init(
        destination: String, tensors: [PlannedTensor], maxShardBytes: Int?,
        metadata: [String: String] = ["format": "pt"], overwrite: Bool
    ) throws {
        var seen = Set<String>()
        for tensor in tensors where !seen.insert(tensor.name).inserted {
            throw CheckpointWriterError.duplicatePlannedTensor(tensor.name)
        }
        plan = tensors
        var assignment: [Int] = []
        var shardBytes = 0
        var shardCount = 0
        for tensor in tensors {
            if shardCount == 0 || (maxShardBytes.map { shardBytes > 0 && shardBytes + tensor.byteCount > $0 } ?? false) {
                shardCount += 1
                shardBytes = 0
            }
            shardBytes += tensor.byteCount
            assignment.append(shardCount - 1)
        }
        shardCount = max(shardCount, 1)
        shardOfTensor = assignment
        shardNames = shardCount == 1
            ? ["model.safetensors"]
            : (1...shardCount).map { "model-\(Self.pad($0))-of-\(Self.pad(shardCount)).safetensors" }
        self.metadata = metadata
        staging = try StagedOutput(destination: destination, overwrite: overwrite)
    }

    /// The destination folder (absolute).
    public var destination: String { staging.destination }

    /// The next tensor the writer expects, if any.
    public var nextTensor: PlannedTensor? { next < plan.count ? plan[next] : nil }

    /// Appends the next tensor's bytes.
    ///
    /// - Throws: ``CheckpointWriterError`` when `name`, dtype or shape differ from the plan;
    ///   ``FileError`` when the disk write fails.
    public func write(_ name: String, _ tensor: Tensor) throws {
        try append(name, dtype: tensor.dtype, shape: tensor.shape) { file throws(FileError) in try file.write(tensor.bytes) }
    }

    /// Appends the next tensor by copying it unchanged from `checkpoint`, inside the kernel where
    /// the platform allows (no user-space copy): the fast path for tensors a merge passes through.
    ///
    /// - Throws: as ``write(_:_:)``, and ``SafetensorsError/tensorNotFound(checkpoint:tensor:suggestion:)``.
    public func copy(_ name: String, from checkpoint: Checkpoint) throws {
        guard let (file, info) = checkpoint.storage(of: name) else {
            _ = try checkpoint.tensor(named: name)   // throws the not-found error with a suggestion
            return
        }
        try append(name, dtype: info.dtype, shape: info.shape) { output throws(FileError) in
            try output.copy(from: file.file, offset: file.fileOffset(of: info), length: info.byteCount)
        }
    }

    /// Appends the next tensor in pieces: `produce` calls `emit` with consecutive byte runs
    /// that together make the whole tensor. Memory stays at one piece, whatever the tensor size.
    ///
    /// - Throws: as ``write(_:_:)``, and ``CheckpointWriterError/wrongTensor(name:expected:got:)``
    ///   when the pieces do not add up to the planned size.
    public func writePieces(_ name: String, dtype: DType, shape: Shape, _ produce: (_ emit: (ByteRegion) throws -> Void) throws -> Void) throws {
        var emitted = 0
        var failure: (any Error)?
        try append(name, dtype: dtype, shape: shape) { file throws(FileError) in
            do {
                try produce { piece in
                    try file.write(piece)
                    emitted += piece.count
                }
            } catch let error as FileError {
                throw error
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        let expected = shape.elementCount * dtype.byteWidth
        guard emitted == expected else {
            throw CheckpointWriterError.wrongTensor(name: name, expected: "\(expected) bytes", got: "\(emitted) bytes")
        }
    }

    private func append(_ name: String, dtype: DType, shape: Shape, _ body: (OutputFile) throws(FileError) -> Void) throws {
        guard next < plan.count, plan[next].name == name else {
            throw CheckpointWriterError.unexpectedTensor(expected: nextTensor?.name, got: name)
        }
        let planned = plan[next]
        guard planned.dtype == dtype, planned.shape == shape else {
            throw CheckpointWriterError.wrongTensor(
                name: name, expected: "\(planned.dtype) \(planned.shape)", got: "\(dtype) \(shape)")
        }
        let shard = shardOfTensor[next]
        if shard != currentShardNumber {
            try currentShard?.close()
            let file = try OutputFile(creating: staging.path(for: shardNames[shard]))
            let header = headerBytes(forShard: shard)
            try file.reserve(header.count + plan.indices.filter { shardOfTensor[$0] == shard }.reduce(0) { $0 + plan[$1].byteCount })
            try file.write(header)
            currentShard = file
            currentShardNumber = shard
        }
        if let currentShard { try body(currentShard) }
        next += 1
    }

    /// Adds a small file (config.json, tokenizer files, a model card) to the output.
    public func addFile(named name: String, contents: [UInt8]) throws {
        let file = try OutputFile(creating: staging.path(for: name))
        try file.write(contents)
        try file.close()
    }

    /// Copies a file into the output under `name`.
    public func copyFile(from source: String, as name: String) throws {
        try addFile(named: name, contents: Checkpoint.readBytes(source))
    }

    /// Closes the last shard, writes the index (when sharded), and moves the output into place.
    ///
    /// - Throws: ``CheckpointWriterError/incomplete(missing:)`` when tensors are missing.
    public func finish() throws {
        guard next == plan.count else {
            throw CheckpointWriterError.incomplete(missing: plan[next...].map(\.name))
        }
        if plan.isEmpty {
            let file = try OutputFile(creating: staging.path(for: shardNames[0]))
            try file.write(headerBytes(forShard: 0))
            currentShard = file
        }
        try currentShard?.close()
        currentShard = nil
        if shardNames.count > 1 {
            var weightMap: [String: String] = [:]
            for (tensor, shard) in zip(plan, shardOfTensor) { weightMap[tensor.name] = shardNames[shard] }
            let total = plan.reduce(0) { $0 + $1.byteCount }
            try addFile(named: ShardIndex.fileName, contents: ShardIndex(weightMap: weightMap).encoded(totalSize: total))
        }
        try staging.commit()
    }

    /// Abandons the output: the staging folder is deleted and the destination is untouched.
    public func abort() {
        currentShard = nil
        staging.discard()
    }

    /// The 8-byte length and the JSON header (space-padded to a multiple of 8) of one shard.
    func headerBytes(forShard shard: Int) -> [UInt8] {
        var object: [String: Any] = [:]
        if !metadata.isEmpty { object["__metadata__"] = metadata }
        var offset = 0
        for (tensor, owner) in zip(plan, shardOfTensor) where owner == shard {
            object[tensor.name] = [
                "dtype": tensor.dtype.rawValue,
                "shape": tensor.shape.dimensions,
                "data_offsets": [offset, offset + tensor.byteCount],
            ] as [String: Any]
            offset += tensor.byteCount
        }
        var json = Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8))
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        let length = UInt64(json.count)
        return (0..<8).map { UInt8(truncatingIfNeeded: length >> (8 * $0)) } + json
    }

    private static func pad(_ n: Int) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}
