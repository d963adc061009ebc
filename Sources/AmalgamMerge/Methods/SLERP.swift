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

import Foundation

/// Spherical interpolation of two models.
public enum SLERP: MergeMethod {
    public static let name = "slerp"
    public static let summary = "Spherical interpolation between the base and one other model, one angle per tensor."
    public static let baseModel = BaseModelRequirement.required
    public static let modelCount = ModelCount.exactly(1)
    public static let parameters = [
        ParameterSpec("t", .global, doc: "interpolation factor: 0 gives the base, 1 the other model"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        guard let v0 = inputs.base, let v1 = inputs.models.first else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs the base and one other model")
        }
        return slerp(t: context.number("t") ?? 0, v0, v1)
    }

    static let dotThreshold = 0.9995

    /// SLERP of two flat vectors, mergekit's way.
    static func slerp(t: Double, _ v0: [Float], _ v1: [Float]) -> [Float] {
        var n0 = 0.0, n1 = 0.0, dot = 0.0
        for j in v0.indices {
            let a = Double(v0[j]), b = Double(v1[j])
            n0 += a * a
            n1 += b * b
            dot += a * b
        }
        n0 = n0.squareRoot()
        n1 = n1.squareRoot()
        let d = dot / ((n0 > 1e-8 ? n0 : 1) * (n1 > 1e-8 ? n1 : 1))
        let s0: Double, s1: Double
        if abs(d) > dotThreshold {
            s0 = 1 - t
            s1 = t
        } else {
            let theta = acos(d)
            let sinTheta = sin(theta)
            s0 = sin(theta - t * theta) / sinTheta
            s1 = sin(t * theta) / sinTheta
        }
        var out = [Float](repeating: 0, count: v0.count)
        for j in out.indices { out[j] = Float(s0 * Double(v0[j]) + s1 * Double(v1[j])) }
        return out
    }
}
