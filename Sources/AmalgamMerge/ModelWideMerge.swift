// Two method shapes beyond "one tensor in, one tensor out", for the research methods:
//
// - ModelStatisticsMethod: the merge of a tensor needs statistics of the whole model (a global
//   top-k over all task vectors, norms across tensors, per-task rescalers). The executor runs
//   `modelStatisticsPasses` streaming passes over every tensor first; each pass sums the
//   per-tensor vectors in tensor order (deterministic) and hands all earlier passes' totals to
//   the next; the merge then sees every pass's totals in `MergeContext.modelStatistics`.
// - PerModelOutputMethod: the method writes one model per input model (TALL masks, EMR), as
//   `OUT/<name>/` where <name> is the last path component of the input.

/// A method that needs model-wide statistics before merging.
public protocol ModelStatisticsMethod: MergeMethod {
    /// Number of statistics passes over the whole model (each may use the previous ones' totals).
    static var modelStatisticsPasses: Int { get }

    /// One tensor's contribution to pass `pass`; the executor sums these over all tensors.
    /// Every tensor must return a vector of the same length within a pass.
    ///
    /// - Parameter previous: totals of the passes before `pass`.
    static func tensorStatistics(pass: Int, previous: [[Double]], _ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Double]
}

extension ModelStatisticsMethod {
    public static var modelStatisticsPasses: Int { 1 }
}

/// A method that produces one output model per input model.
public protocol PerModelOutputMethod: MergeMethod {
    /// One output tensor per non-base input model, in input order.
    static func mergePerModel(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [[Float]]
}
