// Methods that see the whole model: the research methods (TSV-M, Iso-C/CTS, TALL masks,
// Consensus, LiNeS, PCB, MagMax, OPCM, EMR, WUDI, DOGE-TA).
//
// They differ from mergekit's methods in three ways, and this protocol carries all three:
// - they compute in Float64 (SVDs and long reductions), so tensors arrive as [Double];
// - many need model-wide statistics first (a global top-k, global norms, per-task rescalers).
//   `statistics(_:)` runs as many streaming passes as it needs through a ``ModelScanner``,
//   which loads one tensor at a time (a few in parallel) and returns per-tensor results in
//   tensor order, so reductions are deterministic at any thread count;
// - some write one model per input model (TALL masks, EMR), plus a JSON report.
// The executor then calls `merge(_:statistics:)` for every tensor and writes the results.

import AmalgamCore
import AmalgamKernels

/// Which input models a pass reads; the base, when there is one, is always read. A pass that
/// needs one task vector then decodes two checkpoints instead of all of them.
public enum ModelSelection: Sendable, Equatable {
    case all
    /// These input positions only.
    case only([Int])

    public func includes(_ model: Int) -> Bool {
        switch self {
        case .all: return true
        case .only(let models): return models.contains(model)
        }
    }

    /// How many of `total` input models are read.
    public func count(of total: Int) -> Int {
        (0..<total).filter(includes).count
    }
}

/// One tensor of every input model (or of the selected ones), in Float64, with its resolved parameters.
public struct TensorSet: Sendable {
    /// Position in the model's tensor list (``ModelDescription/tensors``).
    public let index: Int
    public let shape: Shape
    public let base: [Double]?
    /// One array per input model, in input order; empty for a model the pass did not select
    /// (``ModelSelection``).
    public let models: [[Double]]
    /// The tensor name and its parameters (global and per-model, defaults applied).
    public let context: MergeContext

    public init(index: Int, shape: Shape, base: [Double]?, models: [[Double]], context: MergeContext) {
        self.index = index
        self.shape = shape
        self.base = base
        self.models = models
        self.context = context
    }

    public var name: String { context.tensorName }
    /// Elements.
    public var count: Int { shape.elementCount }
    /// True for 2-D tensors (the ones that get a method's matrix rule).
    public var isMatrix: Bool { shape.rank == 2 }
    /// (rows, columns) of a 2-D tensor.
    public var matrixSize: (rows: Int, columns: Int) { (shape.dimensions[0], shape.dimensions[1]) }

    /// The task vector of input `t`: model − base (the model itself when there is no base).
    public func taskVector(_ t: Int) -> [Double] {
        precondition(models[t].count == count, "TensorSet.taskVector: model \(t) of '\(name)' was not read in this pass")
        guard let base else { return models[t] }
        let model = models[t]
        return zip(model, base).map { $0 - $1 }
    }

    /// Every task vector, in input order.
    public var taskVectors: [[Double]] { models.indices.map(taskVector) }

    /// The base values (zeros when there is none).
    public var baseValues: [Double] { base ?? [Double](repeating: 0, count: count) }

    /// base + scale · delta.
    public func applying(_ delta: [Double], scale: Double = 1) -> [Double] {
        let base = baseValues
        return base.indices.map { base[$0] + scale * delta[$0] }
    }
}

/// What a whole-model method knows about the model before reading any tensor.
public struct ModelDescription: Sendable {
    /// Output tensor names and shapes, in output order.
    public let tensors: [(name: String, shape: Shape)]
    /// `num_hidden_layers` of the output, when known.
    public let layerCount: Int?
    /// Number of non-base input models.
    public let modelCount: Int

    public init(tensors: [(name: String, shape: Shape)], layerCount: Int?, modelCount: Int) {
        self.tensors = tensors
        self.layerCount = layerCount
        self.modelCount = modelCount
    }
}

/// Streams over every tensor of the model; the executor provides the loader.
public struct ModelScanner: Sendable {
    public let model: ModelDescription
    /// Worker threads (tensors in flight at once).
    public let threads: Int
    private let load: @Sendable (_ index: Int, _ threads: Int, _ models: ModelSelection) throws(MergeError) -> TensorSet

    /// Bytes of tensors in flight or waiting to be folded, beyond `2 · threads` tensors.
    public static let memoryBudget = 1 << 30

    /// - Parameter load: tensor `index` with the `models` selected (empty arrays for the others),
    ///   its context allowing `threads` threads.
    public init(model: ModelDescription, threads: Int,
                load: @escaping @Sendable (_ index: Int, _ threads: Int, _ models: ModelSelection) throws(MergeError) -> TensorSet) {
        self.model = model
        self.threads = max(threads, 1)
        self.load = load
    }

    /// Tensor `index` of the model, with the `models` selected; its context allows `threads`
    /// threads (for independent decompositions inside one tensor).
    public func tensor(_ index: Int, threads: Int = 1, models: ModelSelection = .all) throws(MergeError) -> TensorSet {
        try load(index, threads, models)
    }

    /// The thread share of tensor `index` when tensors are processed in order on `threads`
    /// workers: 1, except for the last few, which get the cores the finished workers free.
    public func threadShare(of index: Int) -> Int {
        max(1, threads - (model.tensors.count - 1 - index))
    }

    /// Tensors started ahead of their turn when the memory budget allows (see
    /// ``Parallel/orderedStream(count:threads:lookahead:budget:cost:resultCost:early:produce:consume:)``):
    /// those of at least four times the mean size (embeddings and output heads), which would
    /// otherwise leave the other workers idle when one comes late in the model.
    public var early: [Int] {
        let sizes = model.tensors.map { $0.shape.elementCount }
        guard threads > 1, !sizes.isEmpty else { return [] }
        let mean = Double(sizes.reduce(0, +)) / Double(sizes.count)
        return sizes.indices.filter { $0 >= 2 * threads && Double(sizes[$0]) >= 4 * mean }
    }

    /// The in-memory cost of tensor `index` with the base, the selected models and one result
    /// in Float64.
    public func cost(of index: Int, models: ModelSelection = .all) -> Int {
        model.tensors[index].shape.elementCount * 8 * (models.count(of: model.modelCount) + 2)
    }

    /// Folds `body`'s per-tensor results into `initial` in tensor order. Tensors are handed to
    /// `threads` workers as they free up; tensors in flight or waiting stay within `2 · threads`
    /// or ``memoryBudget`` bytes, which bounds memory. The first error (in tensor order) is rethrown.
    public func reduce<T: Sendable, R>(
        into initial: R, models: ModelSelection = .all, _ body: @escaping @Sendable (TensorSet) throws(MergeError) -> T,
        _ combine: (inout R, T) throws(MergeError) -> Void
    ) throws(MergeError) -> R {
        let load = self.load
        var result = initial
        var failure: MergeError?
        let shares = (0..<model.tensors.count).map(threadShare)
        let costs = (0..<model.tensors.count).map { cost(of: $0, models: models) }
        let resultCosts = model.tensors.map { $0.shape.elementCount * 8 }   // one Float64 result
        Parallel.orderedStream(count: model.tensors.count, threads: threads, lookahead: 2 * threads, budget: Self.memoryBudget,
                               cost: { costs[$0] }, resultCost: { resultCosts[$0] }, early: early, produce: { index -> Result<T, MergeError> in
            do throws(MergeError) { return .success(try body(load(index, shares[index], models))) } catch { return .failure(error) }
        }, consume: { _, part in
            guard failure == nil else { return }
            do throws(MergeError) { try combine(&result, part.get()) } catch { failure = error }
        })
        if let failure { throw failure }
        return result
    }

    /// `body` applied to every tensor; results in tensor order.
    public func map<T: Sendable>(models: ModelSelection = .all, _ body: @escaping @Sendable (TensorSet) throws(MergeError) -> T) throws(MergeError) -> [T] {
        try reduce(into: [T](), models: models, body) { (values: inout [T], value: T) throws(MergeError) in values.append(value) }
    }

    /// Element-wise sums of the per-tensor vectors, added in tensor order.
    public func sum(models: ModelSelection = .all, _ body: @escaping @Sendable (TensorSet) throws(MergeError) -> [Double]) throws(MergeError) -> [Double] {
        try reduce(into: [Double](), models: models, body) { (total: inout [Double], part: [Double]) throws(MergeError) in
            Self.add(part, into: &total)
        }
    }

    /// `total += part` element by element (`total` empty: becomes `part`); how ``sum(models:_:)``
    /// folds, for reductions that fold a sum beside other results.
    public static func add(_ part: [Double], into total: inout [Double]) {
        if total.isEmpty { total = part; return }
        precondition(part.count == total.count, "ModelScanner.sum: vectors of different lengths")
        for k in total.indices { total[k] += part[k] }
    }
}

/// A method that sees the whole model (see the file comment).
public protocol WholeModelMergeMethod: MergeMethod {
    /// What the statistics passes found; handed to every `merge` call.
    associatedtype Statistics: Sendable

    /// True when the method writes one model per input model (`OUT/<name>/`).
    static var writesOneModelPerInput: Bool { get }

    /// Model-wide statistics, from streaming passes through `scan`.
    static func statistics(_ scan: ModelScanner) throws(MergeError) -> Statistics

    /// The output values of one tensor: one array, or one per input model.
    static func merge(_ tensor: TensorSet, statistics: Statistics) throws(MergeError) -> [[Double]]

    /// The input models `merge` reads (every one unless a method says otherwise; the base is
    /// always read).
    static var mergeReads: ModelSelection { get }

    /// Per-task data for the user (kept fractions, rescalers), written as JSON beside the output.
    static func report(_ statistics: Statistics, modelNames: [String]) -> [String: ReportValue]?

    /// Memory the method needs beyond the tensors in flight (a whole-model state, large work
    /// matrices), in bytes, for `--dry-run`'s estimate.
    static func additionalMemory(_ model: ModelDescription, threads: Int) -> Int
}

/// A JSON value of a method report.
public enum ReportValue: Sendable, Equatable, Encodable {
    case number(Double)
    case text(String)
    case object([String: ReportValue])

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .text(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

extension WholeModelMergeMethod {
    public static var writesOneModelPerInput: Bool { false }
    public static var mergeReads: ModelSelection { .all }
    public static func report(_ statistics: Statistics, modelNames: [String]) -> [String: ReportValue]? { nil }
    public static func additionalMemory(_ model: ModelDescription, threads: Int) -> Int { 0 }

    /// The one-tensor form (the `MergeMethod` requirement), for methods whose statistics are
    /// trivially per tensor; whole-model methods always run through the executor.
    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        throw .badInputs(tensor: context.tensorName, method: name, reason: "a whole-model method runs through the streaming executor only")
    }
}

/// Methods without model-wide statistics.
extension WholeModelMergeMethod where Statistics == Void {
    public static func statistics(_ scan: ModelScanner) throws(MergeError) {}
}
