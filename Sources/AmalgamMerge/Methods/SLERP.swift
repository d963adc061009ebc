// slerp: spherical linear interpolation between two models (Shoemake 1985), one angle per tensor.
//
//   v0 = base tensor, v1 = the other model's tensor (whole tensors as flat vectors)
//   d  = <v0/|v0|, v1/|v1|>   (a norm at or below 1e-8 leaves the vector unnormalised)
//   |d| > 0.9995:  out = (1 − t) v0 + t v1                     (nearly colinear: lerp)
//   else:          θ = arccos d,  out = sin((1−t)θ)/sin θ · v0 + sin(tθ)/sin θ · v1
//
// | parameter | scope  | default  |
// | t         | global | required |  (0 gives the base, 1 the other model; gradients and filters allowed)
//
// Reductions run in Float64. The base must be one of the two models (mergekit's rule).

import AmalgamCore
import AmalgamKernels

import Foundation

/// Spherical interpolation of two models.
public enum SLERP: ChunkedMergeMethod {
    public static let name = "slerp"
    public static let summary = "Spherical interpolation between the base and one other model, one angle per tensor."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.exactly(1)
    public static let parameters = [
        ParameterSpec("t", .global, doc: "interpolation factor: 0 gives the base, 1 the other model"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    static let dotThreshold = 0.9995

    public static func prepare(scan: TensorScanner, count: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        guard hasBase, context.perModel.count == 1 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and one other model")
        }
        let t = context.number("t") ?? 0
        // One pass: |v0|², |v1|², <v0, v1> in Float64.
        let sums = scan.sum(width: 3) { chunk, sums in
            guard let v0 = chunk.base else { return }
            let (n0, n1, dot) = MergeKernels.normsAndDot(v0, chunk.models[0])
            sums[0] += n0
            sums[1] += n1
            sums[2] += dot
        }
        let n0 = sums[0].squareRoot(), n1 = sums[1].squareRoot()
        let d = sums[2] / ((n0 > 1e-8 ? n0 : 1) * (n1 > 1e-8 ? n1 : 1))
        if abs(d) > dotThreshold { return Blend(s0: 1 - t, s1: t) }
        let theta = acos(d)
        return Blend(s0: sin(theta - t * theta) / sin(theta), s1: sin(t * theta) / sin(theta))
    }

    /// out = s0·v0 + s1·v1 on the un-normalised originals.
    struct Blend: ChunkKernel {
        let s0: Double, s1: Double
        func merge(_ chunk: ChunkInputs) -> [Float] {
            guard let v0 = chunk.base else { return [] }
            return MergeKernels.blend(v0, chunk.models[0], s0, s1)
        }
    }
}
