/// Options of `amalgam merge` that are not in the recipe.
public struct MergeOptions: Sendable {
    /// Largest output shard in bytes (nil: one file).
    public var maxShardBytes: Int? = 5_000_000_000
    /// Replace an existing non-empty output (only once the new one is complete).
    public var overwrite = false
    /// Threads for conversions and methods.
    public var threads = 1
    /// Seed of randomized methods.
    public var seed: UInt64 = 0
    /// Copy tokenizer and generation files from the tokenizer source.
    public var copyTokenizer = true
    /// Write README.md (model card).
    public var writeModelCard = true
    /// Allow inputs whose architectures differ.
    public var allowCrimes = false
    /// Target elements per block for chunked methods (rounded to whole rows): 16 Ki by default,
    /// 64 KiB of Float32 per input, so a kernel's inputs and work arrays stay in the core's cache.
    public var chunkElements = 1 << 14
    /// Target elements per work item handed to a thread (a whole number of blocks): 1 Mi.
    public var workElements = 1 << 20

    public init() {}
}
