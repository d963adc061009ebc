// The spherical family beyond classic slerp: nuslerp, multislerp and karcher. All reductions in
// Float64; results rounded to Float32 once.

import AmalgamCore
import Foundation

// MARK: - nuslerp
//
// SLERP of two models, or of their task vectors when a (distinct) base is given, with the
// interpolation factor from the weights, t = w2 / (w1 + w2) (0.5 when |w1 + w2| < 1e-6).
// Vectors are whole tensors (nuslerp_flatten: true, the default) or rows: along the last
// dimension (row_wise: false) or along the first (row_wise: true).
//   cos θ = <v0/max(|v0|, 1e-7), v1/max(|v1|, 1e-7)> clamped to [−1, 1]
//   out   = (sin((1−t)θ) v0 + sin(tθ) v1) / sin θ;  (1−t) v0 + t v1 where |sin θ| < 1e-8

/// Weighted SLERP of two models or two task vectors.
public enum NuSLERP: MergeMethod {
    public static let name = "nuslerp"
    public static let summary = "SLERP with t from two model weights; of task vectors when a third model is the base; per tensor or per row."
    public static let baseModel = BaseModelRequirement.optional
    public static let modelCount = ModelCount.exactly(2)
    public static let parameters = [
        ParameterSpec("weight", .perModel, doc: "model weight; t = w2 / (w1 + w2)"),
        ParameterSpec("nuslerp_flatten", .global, .bool, default: .bool(true), doc: "interpolate whole tensors (false: rows)"),
        ParameterSpec("nuslerp_row_wise", .global, .bool, default: .bool(false), doc: "with flatten false: vectors along the first dimension"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        guard inputs.models.count == 2 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs exactly two models besides the base")
        }
        let w1 = context.number("weight", model: 0) ?? 0, w2 = context.number("weight", model: 1) ?? 0
        let t = abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2)
        let base = inputs.base
        let n = inputs.count
        var v0 = inputs.models[0].map(Double.init), v1 = inputs.models[1].map(Double.init)
        if let base {
            for j in 0..<n {
                v0[j] -= Double(base[j])
                v1[j] -= Double(base[j])
            }
        }
        var out = [Double](repeating: 0, count: n)
        let flatten = context.flag("nuslerp_flatten") ?? true
        let rowWise = context.flag("nuslerp_row_wise") ?? false
        let dims = inputs.shape.dimensions
        if flatten || dims.count < 2 {
            interpolate(t, v0, v1, indices: Array(0..<n), into: &out)
        } else if !rowWise {
            let length = dims.last ?? n
            for start in stride(from: 0, to: n, by: length) { interpolate(t, v0, v1, indices: Array(start..<start + length), into: &out) }
        } else {
            // Vectors along the first dimension: element (i, rest) for i in 0..<dims[0].
            let rest = n / max(dims[0], 1)
            for k in 0..<rest { interpolate(t, v0, v1, indices: (0..<dims[0]).map { $0 * rest + k }, into: &out) }
        }
        if let base { for j in 0..<n { out[j] += Double(base[j]) } }
        return out.map { Float($0) }
    }

    private static func interpolate(_ t: Double, _ v0: [Double], _ v1: [Double], indices: [Int], into out: inout [Double]) {
        var n0 = 0.0, n1 = 0.0, dot = 0.0
        for j in indices {
            n0 += v0[j] * v0[j]
            n1 += v1[j] * v1[j]
            dot += v0[j] * v1[j]
        }
        let cosine = min(max(dot / (max(n0.squareRoot(), 1e-7) * max(n1.squareRoot(), 1e-7)), -1), 1)
        let theta = acos(cosine)
        let sinTheta = sin(theta)
        for j in indices {
            out[j] = abs(sinTheta) < 1e-8
                ? (1 - t) * v0[j] + t * v1[j]
                : (sin((1 - t) * theta) * v0[j] + sin(t * theta) * v1[j]) / sinTheta
        }
    }
}

// MARK: - multislerp
//
// Barycentric interpolation on the hypersphere (goddard.blog "multislerp"), of task vectors when
// a base is given. With x_i the flattened inputs and w_i their weights (normalized to sum 1 by
// default):  u_i = x_i / (|x_i| + eps),  m = Σ w_i u_i  (|m| < eps: linear for two inputs, error
// otherwise),  m̂ = m/|m|,  τ = Σ w_i (u_i − <u_i, m̂> m̂),  s = |τ| + eps,
//   out = (m̂ cos s + τ sin s / s) · Σ w_i |x_i|   (+ base)

/// Weighted spherical mean of several models or task vectors.
public enum MultiSLERP: MergeMethod {
    public static let name = "multislerp"
    public static let summary = "Spherical barycentric mean of any number of models (of task vectors with a base)."
    public static let baseModel = BaseModelRequirement.optional
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("weight", .perModel, doc: "barycentric weight"),
        ParameterSpec("normalize_weights", .global, .bool, default: .bool(true), doc: "divide the weights by their sum"),
        ParameterSpec("eps", .global, default: .number(1e-8), doc: "numerical floor"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        let n = inputs.count
        let eps = context.number("eps") ?? 1e-8
        if inputs.models.count == 1 && inputs.base == nil { return inputs.models[0] }
        var weights = inputs.models.indices.map { context.number("weight", model: $0) ?? 0 }
        if context.flag("normalize_weights") ?? true {
            let total = weights.reduce(0, +)
            guard total != 0 else { throw .numeric(tensor: context.tensorName, method: name, reason: "weights sum to 0, cannot normalize") }
            weights = weights.map { $0 / total }
        }
        let base = inputs.base.map { $0.map(Double.init) }
        let vectors: [[Double]] = inputs.models.map { model in
            (0..<n).map { Double(model[$0]) - (base?[$0] ?? 0) }
        }
        let norms = vectors.map { v in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let units = zip(vectors, norms).map { v, norm in v.map { $0 / (norm + eps) } }
        var m = [Double](repeating: 0, count: n)
        for (u, w) in zip(units, weights) { for j in 0..<n { m[j] += w * u[j] } }
        let mNorm = m.reduce(0) { $0 + $1 * $1 }.squareRoot()
        var out = [Double](repeating: 0, count: n)
        if mNorm < eps {
            guard vectors.count == 2 else {
                throw .numeric(tensor: context.tensorName, method: name, reason: "the inputs cancel out (antipodal); multislerp is undefined")
            }
            for j in 0..<n { out[j] = weights[0] * vectors[0][j] + weights[1] * vectors[1][j] }
        } else {
            let mHat = m.map { $0 / mNorm }
            var tau = [Double](repeating: 0, count: n)
            for (u, w) in zip(units, weights) {
                let projection = zip(u, mHat).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0..<n { tau[j] += w * (u[j] - projection * mHat[j]) }
            }
            let s = tau.reduce(0) { $0 + $1 * $1 }.squareRoot() + eps
            let scale = zip(weights, norms).reduce(0) { $0 + $1.0 * $1.1 }
            for j in 0..<n { out[j] = (mHat[j] * cos(s) + tau[j] * sin(s) / s) * scale }
        }
        return (0..<n).map { Float(out[$0] + (base?[$0] ?? 0)) }
    }
}

// MARK: - karcher
//
// The Riemannian (Karcher/Fréchet) mean on the unit sphere with equal weights a_i = 1/N; the
// recipe's weights and base are ignored (as in mergekit). n_i = |X_i|, û_i = X_i / n_i (inputs
// with n_i ≤ tol leave the direction average). u starts at the normalized mean of the û_i (û_0 if
// that mean is shorter than tol), then up to max_iter times:
//   T = Σ a_i θ_i / sin θ_i (û_i − cos θ_i u)  over θ_i = arccos <u, û_i> ≥ tol;  stop if |T| < tol;
//   u ← normalize(cos|T| u + sin|T| T/|T|).
// out = (Σ a_i n_i) u.

/// Karcher mean of the models.
public enum Karcher: MergeMethod {
    public static let name = "karcher"
    public static let summary = "Riemannian (Karcher) mean of the models on the sphere, equal weights."
    public static let baseModel = BaseModelRequirement.unused
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("max_iter", .global, default: .number(10), range: 1...10_000, doc: "iteration limit"),
        ParameterSpec("tol", .global, default: .number(1e-5), doc: "convergence and degeneracy tolerance"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        let n = inputs.count
        let count = inputs.models.count
        if count == 1 { return inputs.models[0] }
        let tol = context.number("tol") ?? 1e-5
        let iterations = Int(context.number("max_iter") ?? 10)
        let a = 1.0 / Double(count)
        let vectors = inputs.models.map { $0.map(Double.init) }
        let norms = vectors.map { v in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let active = norms.indices.filter { norms[$0] > tol }
        guard !active.isEmpty else { return [Float](repeating: 0, count: n) }
        let units = vectors.indices.map { i in norms[i] > tol ? vectors[i].map { $0 / norms[i] } : vectors[i] }
        var u = [Double](repeating: 0, count: n)
        for i in active { for j in 0..<n { u[j] += a * units[i][j] } }
        var length = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if length < tol {
            u = units[active[0]]
        } else {
            u = u.map { $0 / length }
        }
        for _ in 0..<iterations {
            var tangent = [Double](repeating: 0, count: n)
            for i in active {
                let cosine = min(max(zip(u, units[i]).reduce(0) { $0 + $1.0 * $1.1 }, -1), 1)
                let theta = acos(cosine)
                guard theta >= tol else { continue }
                let factor = a * theta / sin(theta)
                for j in 0..<n { tangent[j] += factor * (units[i][j] - cosine * u[j]) }
            }
            let size = tangent.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if size < tol { break }
            for j in 0..<n { u[j] = cos(size) * u[j] + sin(size) * tangent[j] / size }
            length = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
            u = u.map { $0 / length }
        }
        let scale = norms.reduce(0) { $0 + a * $1 }
        return u.map { Float(scale * $0) }
    }
}
