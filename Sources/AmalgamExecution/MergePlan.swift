import AmalgamCore
import AmalgamIO
import AmalgamMerge
import AmalgamRecipe

/// One input tensor of a merge step: which opened checkpoint, which tensor.
public struct PlannedInput: Sendable, Equatable {
    /// Index into ``MergePlan/checkpoints``.
    public let checkpoint: Int
    public let tensorName: String
}

/// One output tensor of a merge: its inputs and resolved parameters.
public struct MergeStep: Sendable {
    public let name: String
    public let shape: Shape
    /// Output dtype (rounded to once).
    public let dtype: DType
    public let base: PlannedInput?
    public let models: [PlannedInput]
    public let global: [String: ParameterValue]
    public let perModel: [[String: ParameterValue]]
    /// Round inputs to this dtype on load (a recipe `dtype` narrower than the stored one), else nil.
    public let loadRounding: DType?

    /// Bytes written.
    public var outputBytes: Int { shape.elementCount * dtype.byteWidth }
}

/// Everything a merge will do, decided from the recipe, config.json files and safetensors
/// headers alone. No tensor data has been read when a plan exists.
public struct MergePlan: Sendable {
    public let recipe: Recipe
    public let method: any MergeMethod.Type
    /// The opened inputs, in ``Recipe/modelReferences`` order.
    public let checkpoints: [Checkpoint]
    public let tensors: [MergeStep]
    /// Layers in the output (after slicing).
    public let outputLayers: Int?
    /// config.json for the output (updated), if the donor has one.
    public let outputConfig: [UInt8]?
    /// Where tokenizer and generation files come from.
    public let tokenizerDonor: Checkpoint?
    /// What the plan adapted and the user should know (embedding rows cut to a common size).
    public var notes: [String] = []

    /// Output bytes in all.
    public var outputBytes: Int { tensors.reduce(0) { $0 + $1.outputBytes } }

    /// Peak working memory of the executor in bytes (inputs are memory-mapped and not counted).
    ///
    /// Chunked methods: per thread, one block's inputs, working copies and output in Float32
    /// (blocks of `blockElements`) and a scan accumulator (up to 65,536 Float64 histogram bins per
    /// model, or per quartile for arcee_fusion's three), plus up to three work items' encoded
    /// output per thread in flight (items of `workElements`). Whole-tensor
    /// methods: the largest tensor's inputs and output in Float32 plus one Float64 working copy
    /// per model.
    /// Whole-model methods: per thread, the largest tensor's inputs in Float64 plus the method's
    /// work arrays (two more copies), the run-ahead results (at most 1 GiB), and the method's own
    /// additional memory (OPCM's running merge, WUDI's Gram matrices).
    public func peakMemoryEstimate(threads: Int, blockElements: Int = 1 << 14, workElements: Int = 1 << 20) -> Int {
        if let whole = method as? any WholeModelMergeMethod.Type {
            let description = ModelDescription(tensors: tensors.map { ($0.name, $0.shape) }, layerCount: outputLayers,
                                               modelCount: tensors.first?.models.count ?? 0)
            let inFlight = tensors.map { $0.shape.elementCount * 8 * ($0.models.count + 3) }.max() ?? 0
            let runAhead = min(ModelScanner.memoryBudget, tensors.reduce(0) { $0 + $1.shape.elementCount * 8 })
            return max(threads, 1) * inFlight + runAhead + whole.additionalMemory(description, threads: max(threads, 1))
        }
        let chunked = method is any ChunkedMergeMethod.Type
        return tensors.map { tensor in
            let n = tensor.shape.elementCount
            let inputs = tensor.models.count + (tensor.base == nil ? 0 : 1)
            if chunked {
                let block = min(n, blockElements), item = min(n, workElements), threads = max(threads, 1)
                return threads * ((2 * inputs + 4) * 4 * block + 65_536 * 8 * max(tensor.models.count, 3) + 3 * item * tensor.dtype.byteWidth)
            }
            return (inputs + 1) * 4 * n + tensor.models.count * 8 * n + tensor.outputBytes
        }.max() ?? 0
    }
}
