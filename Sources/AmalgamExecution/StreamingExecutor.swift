// Executes a MergePlan tensor by tensor: read the inputs (memory-mapped, widened to Float32,
// rounded to the recipe's compute dtype where it is narrower), run the method, round once to the
// output dtype, append to the output shard. Only one output tensor's inputs are in memory at a
// time; the output goes to a staging folder and is moved into place when complete.

import AmalgamCore
import AmalgamIO
import AmalgamKernels
import AmalgamMerge
import AmalgamRecipe
import Foundation

/// What the executor reports as it goes.
public enum MergeProgress: Sendable {
    case started(tensors: Int, bytes: Int)
    case tensorDone(index: Int, name: String, bytesDone: Int)
    case finished(seconds: Double)
}

/// Runs merge plans.
public struct StreamingExecutor: Sendable {
    public init() {}

    /// Merges `plan` into `output`.
    ///
    /// - Throws: ``MergeError``, ``FileError``, ``SafetensorsError``; the output is then left untouched.
    public func execute(_ plan: MergePlan, output: String, options: MergeOptions,
                        progress: (MergeProgress) -> Void = { _ in }) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        if let method = plan.method as? any WholeModelMergeMethod.Type {
            try executeWholeModel(plan, method: method, output: output, options: options, progress: progress)
            progress(.finished(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
            return
        }
        let planned = plan.tensors.map { PlannedTensor(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        let writer = try CheckpointWriter(destination: output, tensors: planned, maxShardBytes: options.maxShardBytes, overwrite: options.overwrite)
        progress(.started(tensors: plan.tensors.count, bytes: plan.outputBytes))
        var done = 0
        // With more than one thread, the statistics passes of the next chunked tensor run on a
        // background thread while this one merges and writes: they fill the cores the stream
        // leaves idle (its start and drain, the writer's system calls).
        // `ahead` is always the tensor after the one before.
        var ahead: Background<PreparedChunked>?
        let chunked = plan.method as? any ChunkedMergeMethod.Type
        do {
            for (index, tensor) in plan.tensors.enumerated() {
                if let chunked {
                    let prepared: PreparedChunked
                    if let pending = ahead {
                        ahead = nil
                        prepared = try pending.wait()
                    } else {
                        prepared = try prepareChunked(tensor, method: chunked, plan: plan, options: options)
                    }
                    if options.threads > 1, index + 1 < plan.tensors.count {
                        let step = plan.tensors[index + 1]
                        ahead = Background { try self.prepareChunked(step, method: chunked, plan: plan, options: options) }
                    }
                    try streamChunked(prepared, writer: writer, options: options)
                } else {
                    try merge(tensor, plan: plan, writer: writer, options: options)
                }
                done += tensor.outputBytes
                progress(.tensorDone(index: index, name: tensor.name, bytesDone: done))
            }
            try writeSideFiles(plan, writer: writer, options: options)
            try writer.finish()
        } catch {
            // The background work reads the inputs: let it finish before anything is released.
            _ = try? ahead?.wait()
            writer.abort()
            throw error
        }
        progress(.finished(seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9))
    }

    /// The merge context of one step.
    func context(_ step: MergeStep, options: MergeOptions) -> MergeContext {
        MergeContext(tensorName: step.name, global: step.global, perModel: step.perModel, seed: options.seed, threads: options.threads)
    }

    /// The whole-tensor inputs of one step.
    private func wholeInputs(_ step: MergeStep, plan: MergePlan, options: MergeOptions) throws -> MergeInputs {
        let count = step.shape.elementCount
        return MergeInputs(base: try step.base.map { try load($0, count: count, plan: plan, rounding: step.loadRounding, threads: options.threads) },
                           models: try step.models.map { try load($0, count: count, plan: plan, rounding: step.loadRounding, threads: options.threads) },
                           shape: step.shape)
    }

    /// A tensor of a method without a chunked form (passthrough): a copy, or whole-tensor inputs.
    private func merge(_ tensor: MergeStep, plan: MergePlan, writer: CheckpointWriter, options: MergeOptions) throws {
        // Fast path: a passthrough of one unscaled tensor in its own dtype is a file-to-file copy.
        if plan.method == Passthrough.self, tensor.models.count == 1, tensor.loadRounding == nil,
           (tensor.perModel.first?["scale"]?.number ?? 1) == 1 {
            let input = tensor.models[0]
            let checkpoint = plan.checkpoints[input.checkpoint]
            let info = checkpoint.info(input.tensorName)
            if info?.dtype == tensor.dtype, info?.shape == tensor.shape, input.tensorName == tensor.name {
                try writer.copy(tensor.name, from: checkpoint)
                return
            }
            if info?.dtype == tensor.dtype, info?.shape == tensor.shape {
                try writer.write(tensor.name, try checkpoint.tensor(named: input.tensorName))
                return
            }
        }
        let values = try plan.method.merge(wholeInputs(tensor, plan: plan, options: options),
                                           context: context(tensor, options: options))
        try writer.write(tensor.name, try Tensor(float32: values, shape: tensor.shape, dtype: tensor.dtype, threads: options.threads))
    }

    /// Elements per block: about `target`, a whole number of rows (DELLA works row by row).
    public static func chunkSize(for shape: Shape, target: Int = 1 << 14) -> Int {
        let row = max(shape.rank >= 2 ? shape.dimensions.dropFirst().reduce(1, *) : shape.elementCount, 1)
        return max(row, target / row * row)
    }

    /// A chunked tensor whose statistics passes have run: its kernel and how to load its blocks.
    struct PreparedChunked: Sendable {
        let step: MergeStep
        let kernel: any ChunkKernel
        let count: Int
        let blockSize: Int
        let blockCount: Int
        let blocksPerItem: Int
        let load: @Sendable (Int) -> ChunkInputs
    }

    /// The statistics passes of a chunked method, block by block, on all threads.
    ///
    /// Blocks (`options.chunkElements`, whole rows) are what kernels see; they are grouped into
    /// work items of about `options.workElements` for the threads. Both sizes depend only on the
    /// tensor shape and the options, never on the thread count, so results do not either.
    func prepareChunked(_ step: MergeStep, method: any ChunkedMergeMethod.Type, plan: MergePlan,
                        options: MergeOptions) throws -> PreparedChunked {
        let n = step.shape.elementCount
        let size = Self.chunkSize(for: step.shape, target: options.chunkElements)
        let blockCount = (n + size - 1) / size
        let blocksPerItem = max(1, options.workElements / size)
        let inputs = (step.base.map { [$0] } ?? []) + step.models
        let hasBase = step.base != nil
        let rounding = step.loadRounding
        // Inputs stay memory-mapped: multi-pass methods read each page several times, and the map
        // pays its faults once.
        let tensors = try inputs.map { try plan.checkpoints[$0.checkpoint].tensor(named: $0.tensorName) }
        let blockRange: @Sendable (Int) -> Range<Int> = { block in (block * size)..<min((block + 1) * size, n) }
        let loadRange: @Sendable (Range<Int>) -> ChunkInputs = { range in
            let values = tensors.map { Self.decode($0.bytes, $0.dtype, range, rounding) }
            return ChunkInputs(range: range, base: hasBase ? values[0] : nil, models: Array(values.dropFirst(hasBase ? 1 : 0)))
        }
        let load: @Sendable (Int) -> ChunkInputs = { loadRange(blockRange($0)) }
        let threads = options.threads
        let scanner = TensorScanner(blockCount: blockCount, sum: { width, body in
            let parts = Parallel.mapChunks(count: blockCount, chunkSize: blocksPerItem, threads: threads) { blocks in
                var accumulator = [Double](repeating: 0, count: width)
                for block in blocks { body(load(block), &accumulator) }
                return accumulator
            }
            guard var total = parts.first else { return [Double](repeating: 0, count: width) }
            for part in parts.dropFirst() { for k in total.indices { total[k] += part[k] } }
            return total
        }, map: { piece, body in
            Parallel.mapChunks(count: blockCount, chunkSize: blocksPerItem, threads: threads) { blocks in
                blocks.map { block in
                    body(piece.map { loadRange(TensorScanner.piece(of: blockRange(block), index: block, length: $0)) } ?? load(block))
                }
            }.flatMap { $0 }
        })
        let kernel = try method.prepare(scan: scanner, count: n, shape: step.shape, hasBase: hasBase,
                                        context: context(step, options: options))
        return PreparedChunked(step: step, kernel: kernel, count: n, blockSize: size, blockCount: blockCount,
                               blocksPerItem: blocksPerItem, load: load)
    }

    /// The merge of a prepared chunked tensor: work items merge on the worker threads while this
    /// thread writes finished ones in order.
    func streamChunked(_ prepared: PreparedChunked, writer: CheckpointWriter, options: MergeOptions) throws {
        let step = prepared.step
        let (n, size, blockCount, blocksPerItem) = (prepared.count, prepared.blockSize, prepared.blockCount, prepared.blocksPerItem)
        let kernel = prepared.kernel, load = prepared.load
        let format = step.dtype.format
        let itemCount = (blockCount + blocksPerItem - 1) / blocksPerItem
        let threads = options.threads
        try writer.writePieces(step.name, dtype: step.dtype, shape: step.shape) { emit in
            try Parallel.orderedStream(count: itemCount, threads: threads, lookahead: 2 * threads) { index in
                let blocks = (index * blocksPerItem)..<min((index + 1) * blocksPerItem, blockCount)
                let first = blocks.lowerBound * size, end = min(blocks.upperBound * size, n)
                let pieces = blocks.map { ($0 * size - first)..<(min(($0 + 1) * size, n) - first) }
                return Convert.encode(count: end - first, as: format, pieces: pieces) { k in
                    kernel.merge(load(blocks.lowerBound + k))
                }.region
            } consume: { _, piece in
                try emit(piece)
            }
        }
    }

    /// Elements `range` of stored bytes as Float32, rounded through `rounding` when narrower.
    static func decode(_ bytes: ByteRegion, _ dtype: DType, _ range: Range<Int>, _ rounding: DType?) -> [Float] {
        let values = Convert.decode(bytes, as: dtype.format, elements: range)
        guard let rounding, dtype != rounding, dtype.byteWidth >= rounding.byteWidth else { return values }
        return Convert.decode(Convert.encode(values, as: rounding.format).region, as: rounding.format)
    }

    /// Elements `range` of `tensor` as Float32, rounded through `rounding` when narrower.
    static func decode(_ tensor: Tensor, _ range: Range<Int>, _ rounding: DType?, threads: Int = 1) -> [Float] {
        let values = [Float](unsafeUninitializedCapacity: range.count) { buffer, initialized in
            Convert.decode(tensor.bytes, as: tensor.dtype.format, elements: range, into: buffer, threads: threads)
            initialized = range.count
        }
        guard let rounding, tensor.dtype != rounding, tensor.dtype.byteWidth >= rounding.byteWidth else { return values }
        return Convert.decode(Convert.encode(values, as: rounding.format, threads: threads).region, as: rounding.format, threads: threads)
    }

    /// The first `count` elements of an input (all of them, or the rows of an embedding that
    /// every input has) widened to Float32, first rounded to `rounding` when the recipe computes
    /// in a narrower dtype.
    private func load(_ input: PlannedInput, count: Int, plan: MergePlan, rounding: DType?, threads: Int) throws -> [Float] {
        let tensor = try plan.checkpoints[input.checkpoint].tensor(named: input.tensorName)
        return Self.decode(tensor, 0..<count, rounding, threads: threads)
    }

    /// config.json, tokenizer files, the recipe, the model card.
    func writeSideFiles(_ plan: MergePlan, writer: CheckpointWriter, options: MergeOptions) throws {
        if let config = plan.outputConfig { try writer.addFile(named: "config.json", contents: config) }
        var written: Set<String> = ["config.json"]
        if options.copyTokenizer, let donor = plan.tokenizerDonor, case .folder(let folder) = donor.source {
            for name in donor.auxiliaryFiles where !(name == "chat_template.jinja" && plan.recipe.chatTemplate != nil) {
                try writer.copyFile(from: (folder as NSString).appendingPathComponent(name), as: name)
                written.insert(name)
            }
        }
        if let template = plan.recipe.chatTemplate {
            try writer.addFile(named: "chat_template.jinja", contents: Array(template.utf8))
        }
        try writer.addFile(named: "amalgam-recipe.yaml", contents: Array(plan.recipe.text.utf8))
        if options.writeModelCard {
            try writer.addFile(named: "README.md", contents: Array(ModelCard(plan: plan, outputName: (writer.destination as NSString).lastPathComponent).text.utf8))
        }
    }
}
