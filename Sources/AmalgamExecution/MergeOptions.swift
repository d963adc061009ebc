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
    /// Target elements per chunk for chunked methods (rounded to whole rows): 1 Mi by default,
    /// 4 MiB of Float32 per input.
    public var chunkElements = 1 << 20

    public init() {}
}
