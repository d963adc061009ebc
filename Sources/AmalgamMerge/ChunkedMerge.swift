// The chunked form of a merge method, for tensors of any size in bounded memory.
//
// A method that is elementwise once a few per-tensor statistics are known (norms, dot products,
// magnitude thresholds) conforms to ChunkedMergeMethod. The executor then:
//   1. calls prepare(scan:context:), which may run streaming passes over the tensor through
//      `scan` (each pass sees every chunk, in parallel, and gets the chunk results back in chunk
//      order, so reductions are deterministic), and returns a kernel;
//   2. runs the kernel on every chunk, in parallel, writing output chunks in order.
// Memory is a few chunks per thread, whatever the tensor size.

import AmalgamCore

/// One chunk of a tensor's inputs, widened to Float32.
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

/// Runs a streaming pass over every chunk of the tensor being merged.
public struct TensorScanner: Sendable {
    private let pass: @Sendable (@escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]]

    /// - Parameter pass: runs the body on every chunk (in parallel) and returns results in chunk order.
    public init(_ pass: @escaping @Sendable (@escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]]) {
        self.pass = pass
    }

    /// A scanner over one chunk holding the whole tensor (the whole-tensor forms of chunked code).
    public static func single(_ chunk: ChunkInputs) -> TensorScanner {
        TensorScanner { body in [body(chunk)] }
    }

    /// Per-chunk results, in chunk order.
    public func map(_ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [[Double]] { pass(body) }

    /// Element-wise sums of the per-chunk result vectors, added in chunk order (deterministic).
    public func sum(_ body: @escaping @Sendable (ChunkInputs) -> [Double]) -> [Double] {
        let parts = map(body)
        guard var total = parts.first else { return [] }
        for part in parts.dropFirst() { for k in total.indices { total[k] += part[k] } }
        return total
    }
}

/// The elementwise part of a merge: output values of one chunk.
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
