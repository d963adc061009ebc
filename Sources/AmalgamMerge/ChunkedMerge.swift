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
    private let mapPass: @Sendable (_ stride: Int, _ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]]

    /// - Parameters:
    ///   - sum: runs the body over every block (in parallel) into accumulators of `width`
    ///     zeros and adds them up in a fixed order (deterministic at any thread count).
    ///   - map: runs the body on blocks 0, stride, 2·stride, … (in parallel) and returns the
    ///     results in block order.
    public init(sum: @escaping @Sendable (_ width: Int, _ body: @escaping Accumulate) -> [Double],
                map: @escaping @Sendable (_ stride: Int, _ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]]) {
        accumulatePass = sum
        mapPass = map
    }

    /// A sequential scanner over the given blocks, in order (tests and whole-tensor forms).
    public init(blocks: [ChunkInputs]) {
        self.init(sum: { width, body in
            var accumulator = [Double](repeating: 0, count: width)
            for block in blocks { body(block, &accumulator) }
            return accumulator
        }, map: { stride, body in Swift.stride(from: 0, to: blocks.count, by: stride).map { body(blocks[$0]) } })
    }

    /// A scanner over one block holding the whole tensor (the whole-tensor forms of chunked code).
    public static func single(_ chunk: ChunkInputs) -> TensorScanner { TensorScanner(blocks: [chunk]) }

    /// Per-block results, in block order.
    public func map(_ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]] { mapPass(1, body) }

    /// Per-block results of every `stride`-th block (blocks 0, stride, 2·stride, …), in block
    /// order: a cheap sample of the tensor.
    public func sample(every stride: Int, _ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]] {
        mapPass(max(stride, 1), body)
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
