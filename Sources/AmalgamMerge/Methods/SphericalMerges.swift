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
public enum NuSLERP: ChunkedMergeMethod {
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
        try mergeWhole(inputs, context: context)
    }

    /// Whole tensors: one pass for the two norms and the dot product. Rows along the last
    /// dimension lie inside every block (the kernel interpolates each); vectors along the first
    /// dimension (columns of the flattened matrix) get their sums in one pass, per column.
    public static func prepare(scan: TensorScanner, count n: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        guard context.perModel.count == 2 else {
            throw .badInputs(tensor: context.tensorName, method: name, reason: "needs exactly two models besides the base")
        }
        let w1 = context.number("weight", model: 0) ?? 0, w2 = context.number("weight", model: 1) ?? 0
        let t = abs(w1 + w2) < 1e-6 ? 0.5 : w2 / (w1 + w2)
        let flatten = context.flag("nuslerp_flatten") ?? true
        let rowWise = context.flag("nuslerp_row_wise") ?? false
        let dims = shape.dimensions
        if flatten || dims.count < 2 {
            let g = TensorGram.compute(scan, models: 2, subtractBase: hasBase)
            let (c0, c1) = coefficients(t, g[0][0], g[1][1], g[0][1])
            return LinearCombination(coefficients: [c0, c1], subtractBase: hasBase)
        }
        if !rowWise { return RowKernel(t: t, rowLength: max(dims.last ?? n, 1)) }
        // Column k holds elements k, k + rest, k + 2·rest, ...
        let rest = n / max(dims[0], 1)
        let sums = scan.sum(width: 3 * rest) { chunk, sums in
            let v = chunk.vectors(subtractBase: true)
            for j in v[0].indices {
                let column = (chunk.range.lowerBound + j) % rest
                sums[3 * column] += v[0][j] * v[0][j]
                sums[3 * column + 1] += v[1][j] * v[1][j]
                sums[3 * column + 2] += v[0][j] * v[1][j]
            }
        }
        let pairs = (0..<rest).map { k in coefficients(t, sums[3 * k], sums[3 * k + 1], sums[3 * k + 2]) }
        return ColumnKernel(c0: pairs.map(\.0), c1: pairs.map(\.1))
    }

    /// The coefficients of v0 and v1 from |v0|², |v1|², <v0, v1>.
    static func coefficients(_ t: Double, _ n0: Double, _ n1: Double, _ dot: Double) -> (Double, Double) {
        let cosine = min(max(dot / (max(n0.squareRoot(), 1e-7) * max(n1.squareRoot(), 1e-7)), -1), 1)
        let theta = acos(cosine)
        let sinTheta = sin(theta)
        if abs(sinTheta) < 1e-8 { return (1 - t, t) }
        return (sin((1 - t) * theta) / sinTheta, sin(t * theta) / sinTheta)
    }

    /// Rows along the last dimension, each interpolated on its own.
    struct RowKernel: ChunkKernel {
        let t: Double
        let rowLength: Int
        func merge(_ chunk: ChunkInputs) -> [Float] {
            let v = chunk.vectors(subtractBase: true)
            var out = [Float](repeating: 0, count: chunk.range.count)
            for start in stride(from: 0, to: out.count, by: rowLength) {
                let row = start..<min(start + rowLength, out.count)
                let g = TensorGram.of(v, over: row)
                let (c0, c1) = NuSLERP.coefficients(t, g[0][0], g[1][1], g[0][1])
                for j in row { out[j] = Float(c0 * v[0][j] + c1 * v[1][j] + Double(chunk.base?[j] ?? 0)) }
            }
            return out
        }
    }

    /// Vectors along the first dimension: coefficients per column.
    struct ColumnKernel: ChunkKernel {
        let c0: [Double], c1: [Double]
        func merge(_ chunk: ChunkInputs) -> [Float] {
            let v = chunk.vectors(subtractBase: true)
            let rest = c0.count
            return (0..<chunk.range.count).map { j in
                let column = (chunk.range.lowerBound + j) % rest
                return Float(c0[column] * v[0][j] + c1[column] * v[1][j] + Double(chunk.base?[j] ?? 0))
            }
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
public enum MultiSLERP: ChunkedMergeMethod {
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
        try mergeWhole(inputs, context: context)
    }

    /// The output is a linear combination of the x_i, whose coefficients follow from their Gram
    /// matrix (one pass): u_i = x_i/(|x_i| + eps) and m, m̂, τ are combinations of the x_i.
    public static func prepare(scan: TensorScanner, count n: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        let count = context.perModel.count
        let eps = context.number("eps") ?? 1e-8
        if count == 1 && !hasBase { return LinearCombination(coefficients: [1], subtractBase: false) }
        var weights = (0..<count).map { context.number("weight", model: $0) ?? 0 }
        if context.flag("normalize_weights") ?? true {
            let total = weights.reduce(0, +)
            guard total != 0 else { throw .numeric(tensor: context.tensorName, method: name, reason: "weights sum to 0, cannot normalize") }
            weights = weights.map { $0 / total }
        }
        let g = TensorGram.compute(scan, models: count, subtractBase: hasBase)
        let norms = (0..<count).map { g[$0][$0].squareRoot() }
        // u_i = x_i / (|x_i| + eps); m = Σ w_i u_i has coefficients α.
        let inverse = norms.map { 1 / ($0 + eps) }
        let alpha = (0..<count).map { weights[$0] * inverse[$0] }
        let mNorm = TensorGram.norm(g, alpha)
        if mNorm < eps {
            guard count == 2 else {
                throw .numeric(tensor: context.tensorName, method: name, reason: "the inputs cancel out (antipodal); multislerp is undefined")
            }
            return LinearCombination(coefficients: weights, subtractBase: hasBase)
        }
        let beta = alpha.map { $0 / mNorm }                                     // m̂
        // <u_i, m̂> = (G β)_i / (|x_i| + eps); τ = Σ w_i (u_i − <u_i, m̂> m̂).
        var projected = 0.0
        for i in 0..<count {
            var gBeta = 0.0
            for k in 0..<count { gBeta += g[i][k] * beta[k] }
            projected += weights[i] * gBeta * inverse[i]
        }
        let gamma = (0..<count).map { weights[$0] * inverse[$0] - projected * beta[$0] }
        let s = TensorGram.norm(g, gamma) + eps
        let scale = zip(weights, norms).reduce(0) { $0 + $1.0 * $1.1 }
        let coefficients = (0..<count).map { (beta[$0] * cos(s) + gamma[$0] * sin(s) / s) * scale }
        return LinearCombination(coefficients: coefficients, subtractBase: hasBase)
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
public enum Karcher: ChunkedMergeMethod {
    public static let name = "karcher"
    public static let summary = "Riemannian (Karcher) mean of the models on the sphere, equal weights."
    public static let baseModel = BaseModelRequirement.unused
    public static let modelCount = ModelCount.atLeast(1)
    public static let parameters = [
        ParameterSpec("max_iter", .global, default: .number(10), range: 1...10_000, doc: "iteration limit"),
        ParameterSpec("tol", .global, default: .number(1e-5), doc: "convergence and degeneracy tolerance"),
    ]

    public static func merge(_ inputs: MergeInputs, context: MergeContext) throws(MergeError) -> [Float] {
        try mergeWhole(inputs, context: context)
    }

    /// Every iterate u stays a combination Σ c_i û_i of the unit inputs, so the iteration runs on
    /// the coefficients c with inner products from the Gram matrix (one pass); the kernel then
    /// forms (Σ a_i n_i) Σ c_i û_i.
    public static func prepare(scan: TensorScanner, count n: Int, shape: Shape, hasBase: Bool, context: MergeContext) throws(MergeError) -> any ChunkKernel {
        let count = context.perModel.count
        if count == 1 { return LinearCombination(coefficients: [1], subtractBase: false) }
        let tol = context.number("tol") ?? 1e-5
        let iterations = Int(context.number("max_iter") ?? 10)
        let a = 1.0 / Double(count)
        let g = TensorGram.compute(scan, models: count, subtractBase: false)
        let norms = (0..<count).map { g[$0][$0].squareRoot() }
        let active = norms.indices.filter { norms[$0] > tol }
        guard !active.isEmpty else { return LinearCombination(coefficients: [Double](repeating: 0, count: count), subtractBase: false) }
        // Gram matrix of the unit vectors û_i = x_i / n_i (active inputs only; others get no weight).
        let units = (0..<count).map { i in (0..<count).map { k in active.contains(i) && active.contains(k) ? g[i][k] / (norms[i] * norms[k]) : 0 } }
        var c = (0..<count).map { active.contains($0) ? a : 0 }
        let length = TensorGram.norm(units, c)
        if length < tol {
            c = (0..<count).map { $0 == active[0] ? 1 : 0 }
        } else {
            c = c.map { $0 / length }
        }
        for _ in 0..<iterations {
            // T = Σ_i f_i (û_i − cos θ_i u), f_i = a θ_i / sin θ_i for θ_i ≥ tol.
            var tangent = [Double](repeating: 0, count: count)
            var pull = 0.0
            for i in active {
                var dot = 0.0
                for k in 0..<count { dot += units[i][k] * c[k] }
                let cosine = min(max(dot, -1), 1)
                let theta = acos(cosine)
                guard theta >= tol else { continue }
                let factor = a * theta / sin(theta)
                tangent[i] += factor
                pull += factor * cosine
            }
            for k in 0..<count { tangent[k] -= pull * c[k] }
            let size = TensorGram.norm(units, tangent)
            if size < tol { break }
            c = (0..<count).map { cos(size) * c[$0] + sin(size) * tangent[$0] / size }
            let length = TensorGram.norm(units, c)
            c = c.map { $0 / length }
        }
        let scale = norms.reduce(0) { $0 + a * $1 }
        return LinearCombination(coefficients: (0..<count).map { active.contains($0) ? scale * c[$0] / norms[$0] : 0 }, subtractBase: false)
    }
}
