import AmalgamCore
import AmalgamIO
import AmalgamKernels
import ArgumentParser
import Foundation

/// `amalgam reshard SRC OUT`: rewrite a checkpoint with new shard sizes, optionally in another dtype.
struct ReshardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reshard",
        abstract: "Rewrite a checkpoint into OUT with a new shard size (and optionally another float dtype).",
        discussion: """
            Streams one tensor at a time from the memory-mapped input. config.json and the tokenizer and \
            generation files are copied. OUT is built in a hidden folder beside it and moved into place \
            only when complete; an existing non-empty OUT is replaced only with --force.
            """
    )

    @Argument(help: "Input model folder, .safetensors file, or cached org/name[@revision].")
    var source: String

    @Argument(help: "Output folder.")
    var output: String

    @Option(name: .customLong("out-shard-size"), help: "Largest shard: bytes, or 500M, 5G, 5GB, 2GiB.")
    var outShardSize: String = "5G"

    @Option(name: .long, help: "Convert floating-point tensors to this dtype (float32, float16, bfloat16, float64).")
    var dtype: String?

    @Flag(name: .long, help: "Replace an existing non-empty output folder (only once the new one is complete).")
    var force = false

    @OptionGroup var threading: ThreadOptions

    func validate() throws {
        guard ByteCount.parse(outShardSize) != nil else {
            throw ValidationError("--out-shard-size '\(outShardSize)' is not a size (examples: 500M, 5G, 5GB, 1073741824)")
        }
        if let dtype {
            guard let parsed = DType(configName: dtype), parsed.isWritableFromFloat32 else {
                throw ValidationError("--dtype '\(dtype)' is not one of float32, float16, bfloat16, float64")
            }
        }
    }

    func run() throws {
        try AmalgamRuntime.run {
            let checkpoint = try Checkpoint(opening: source)
            let target = dtype.flatMap(DType.init(configName:))
            try Resharder(checkpoint: checkpoint, outputDType: target, threads: threading.resolvedThreads)
                .write(to: output, maxShardBytes: ByteCount.parse(outShardSize), overwrite: force)
        }
    }
}

/// Copies a checkpoint tensor by tensor into a new layout.
struct Resharder {
    let checkpoint: Checkpoint
    let outputDType: DType?
    let threads: Int

    func outputDType(of dtype: DType) -> DType {
        guard let outputDType, dtype.isFloatingPoint else { return dtype }
        return outputDType
    }

    func write(to destination: String, maxShardBytes: Int?, overwrite: Bool) throws {
        let inputFolder = URL(fileURLWithPath: checkpoint.path).standardizedFileURL.path
        if URL(fileURLWithPath: destination).standardizedFileURL.path == inputFolder {
            throw CheckpointError.outputIsInput(path: destination)
        }
        let plan = checkpoint.tensorNames.compactMap { name in
            checkpoint.info(name).map { PlannedTensor(name: name, dtype: outputDType(of: $0.dtype), shape: $0.shape) }
        }
        let writer = try CheckpointWriter(destination: destination, tensors: plan, maxShardBytes: maxShardBytes, overwrite: overwrite)
        let buffers = ConversionBuffers()
        do {
            for (index, planned) in plan.enumerated() {
                if index + 1 < plan.count && outputDType != nil { checkpoint.prefetch(plan[index + 1].name) }
                let tensor = try checkpoint.tensor(named: planned.name)
                if tensor.dtype == planned.dtype {
                    try writer.copy(planned.name, from: checkpoint)
                } else {
                    try writer.writePieces(planned.name, dtype: planned.dtype, shape: planned.shape) { emit in
                        try convertInPieces(tensor, to: planned.dtype, buffers: buffers, emit: emit)
                    }
                }
            }
            if case .folder(let folder) = checkpoint.source {
                if let config = checkpoint.config {
                    try writer.addFile(named: "config.json", contents: config.updatedJSON(layers: nil, dtype: outputDType))
                }
                for name in checkpoint.auxiliaryFiles {
                    try writer.copyFile(from: (folder as NSString).appendingPathComponent(name), as: name)
                }
            }
            try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }

    /// Elements converted per piece: 4 Mi (16 MiB of Float32), so memory stays bounded for any tensor.
    static let pieceElements = 1 << 22

    /// The two buffers conversion reuses for every piece of every tensor: allocated once per run,
    /// so memory stays flat (per-tensor allocations fragmented glibc's heap when worker threads
    /// were active, growing it by hundreds of MB on a 1.7 GB model).
    final class ConversionBuffers {
        lazy var decoded = [Float](repeating: 0, count: Resharder.pieceElements)   // only when converting
        let encoded = ScratchBytes()
    }

    /// Decodes `tensor` piece by piece and emits each piece re-encoded as `dtype` (rounded once).
    func convertInPieces(_ tensor: Tensor, to dtype: DType, buffers: ConversionBuffers, emit: (ByteRegion) throws -> Void) throws {
        let count = tensor.elementCount
        for start in stride(from: 0, to: count, by: Self.pieceElements) {
            let range = start..<min(start + Self.pieceElements, count)
            Convert.decode(tensor.bytes, as: tensor.dtype.format, elements: range, into: &buffers.decoded, threads: threads)
            buffers.encoded.refill(count: range.count * dtype.byteWidth) { bytes in
                Convert.encode(buffers.decoded[0..<range.count], as: dtype.format, into: bytes, threads: threads)
            }
            try emit(buffers.encoded.region)
        }
    }
}
