// The chunked form of a merge method, for tensors of any size in bounded memory.
//
// A method that is elementwise once a few per-tensor statistics are known (norms, dot products,
// magnitude thresholds) conforms to ChunkedMergeMethod. The executor cuts each tensor into
// blocks of whole rows (16 Ki elements by default, so a kernel's inputs and work arrays stay in
// the core's cache) and then:
//   1. calls prepare(scan:context:), which may run streaming passes over the blocks through
//      `scan` (in parallel; sums add up in a fixed order and per-block results come back in
//      block order, so everything is deterministic), and returns a kernel;
//   2. runs the kernel on every block, in parallel, writing the output in order.
// Memory is a few blocks per thread, whatever the tensor size.

import AmalgamCore

/// One block of a tensor's inputs, widened to Float32.
public struct ChunkInputs: Sendable {
    /// The elements covered: `[range.lowerBound, range.upperBound)` of the flattened tensor.
    public let range: Range<Int>
    public let base: [Float]?
    public let models: [[Float]]

    public init(range: Range<Int>, base: [Float]?, models: [[Float]]) {
        self.range = range
        self.base = base
        self.models = models
    }
}

/// Runs streaming passes over the blocks of the tensor being merged.
///
/// A block is the unit a kernel sees (a few thousand elements, whole rows, so every input stays
/// in cache). The executor cuts the tensor into the same blocks for every pass and for the merge,
/// so per-block results (``map(_:)``) can be looked up by block start in the kernel.
public struct TensorScanner: Sendable {
    /// Adds one block's contribution into the accumulator.
    public typealias Accumulate = @Sendable (_ block: ChunkInputs, _ accumulator: inout [Double]) -> Void

    private let accumulatePass: @Sendable (_ width: Int, _ body: @escaping Accumulate) -> [Double]
    private let mapPass: @Sendable (_ piece: Int?, _ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]]
    /// Blocks in the tensor.
    public let blockCount: Int

    /// - Parameters:
    ///   - blockCount: how many blocks the tensor has.
    ///   - sum: runs the body over every block (in parallel) into accumulators of `width`
    ///     zeros and adds them up in a fixed order (deterministic at any thread count).
    ///   - map: runs the body on every block (in parallel) and returns the results in block
    ///     order; with a `piece` length, on ``piece(of:index:length:)`` of every block only.
    public init(blockCount: Int, sum: @escaping @Sendable (_ width: Int, _ body: @escaping Accumulate) -> [Double],
                map: @escaping @Sendable (_ piece: Int?, _ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]]) {
        self.blockCount = blockCount
        accumulatePass = sum
        mapPass = map
    }

    /// A sequential scanner over the given blocks, in order (tests and whole-tensor forms).
    public init(blocks: [ChunkInputs]) {
        self.init(blockCount: blocks.count, sum: { width, body in
            var accumulator = [Double](repeating: 0, count: width)
            for block in blocks { body(block, &accumulator) }
            return accumulator
        }, map: { piece, body in
            blocks.enumerated().map { index, block in
                guard let piece else { return body(block) }
                let range = Self.piece(of: block.range, index: index, length: piece)
                let local = (range.lowerBound - block.range.lowerBound)..<(range.upperBound - block.range.lowerBound)
                return body(ChunkInputs(range: range, base: block.base.map { Array($0[local]) }, models: block.models.map { Array($0[local]) }))
            }
        })
    }

    /// A scanner over one block holding the whole tensor (the whole-tensor forms of chunked code).
    public static func single(_ chunk: ChunkInputs) -> TensorScanner { TensorScanner(blocks: [chunk]) }

    /// The part of block `index` (covering `block`) that a sample reads: `length` consecutive
    /// elements at an offset that varies from block to block (a fixed hash of the index, so
    /// every run reads the same elements), or the whole block when it is not longer.
    public static func piece(of block: Range<Int>, index: Int, length: Int) -> Range<Int> {
        guard length >= 0, length < block.count else { return block }
        let offset = Int((UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15) >> 33) % (block.count - length + 1)
        return (block.lowerBound + offset)..<(block.lowerBound + offset + length)
    }

    /// Per-block results, in block order.
    public func map(_ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]] { mapPass(nil, body) }

    /// A cheap sample that touches every block: `body` runs on a piece of each block (see
    /// ``piece(of:index:length:)``), sized so the pieces hold about `total` elements in all
    /// (at least one per block). Results come back in block order.
    public func sample(about total: Int, _ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]] {
        mapPass(max(1, (total + max(blockCount, 1) - 1) / max(blockCount, 1)), body)
    }

    /// Element-wise sums over all blocks: `body` adds each block's part into an accumulator of
    /// `width` entries (in place: a histogram costs nothing per block).
    public func sum(width: Int, _ body: @escaping Accumulate) -> [Double] { accumulatePass(width, body) }
}

/// The elementwise part of a merge: output values of one block.
public protocol ChunkKernel: Sendable {
    func merge(_ chunk: ChunkInputs) -> [Float]
}

/// A method with a chunked implementation.
public protocol ChunkedMergeMethod: MergeMethod {
    /// Gathers per-tensor statistics through `scan` and returns the kernel for this tensor.
    static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel
}

extension ChunkedMergeMethod {
    /// The whole-tensor form, by running the chunked form over one chunk.
    public static func mergeWhole(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        let chunk = ChunkInputs(range: 0..<inputs.count, base: inputs.base, models: inputs.models)
        return try prepare(scan: .single(chunk), count: inputs.count, shape: inputs.shape, hasBase: inputs.base != nil, context: context).merge(chunk)
    }
}
