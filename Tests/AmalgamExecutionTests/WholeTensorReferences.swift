// Plain whole-tensor twins of the methods that now stream in blocks (model_stock, nuslerp,
// multislerp, karcher, sce, ram, ramplus_tl, arcee_fusion): the direct formulas on whole
// Float64 copies, as the methods computed them before their chunked forms. The chunked forms
// reach the same numbers by other routes (Gram matrices, streaming order statistics), so the
// tests hold them to these.

import AmalgamCore
import Foundation

enum WholeTensorReference {
    static func taskVectors(_ base: [Float]?, _ models: [[Float]]) -> [[Double]] {
        models.map { model in model.indices.map { Double(model[$0]) - Double(base?[$0] ?? 0) } }
    }

    static func modelStock(base: [Float], models: [[Float]], rowLength: Int) -> [Float] {
        let n = Double(models.count)
        let tau = taskVectors(base, models)
        var out = [Float](repeating: 0, count: base.count)
        for rowStart in stride(from: 0, to: base.count, by: rowLength) {
            let row = rowStart..<min(rowStart + rowLength, base.count)
            var cosines = 0.0, pairs = 0
            for i in models.indices {
                for k in models.indices where k > i {
                    var dot = 0.0, ni = 0.0, nk = 0.0
                    for j in row {
                        dot += tau[i][j] * tau[k][j]
                        ni += tau[i][j] * tau[i][j]
                        nk += tau[k][j] * tau[k][j]
                    }
                    cosines += min(max(dot / max(ni.squareRoot() * nk.squareRoot(), 1e-6), -1), 1)
                    pairs += 1
                }
            }
            let c = cosines / Double(pairs)
            let t = n * c / (1 + (n - 1) * c)
            for j in row {
                let mean = models.reduce(0.0) { $0 + Double($1[j]) } / n
                out[j] = Float(t * mean + (1 - t) * Double(base[j]))
            }
        }
        return out
    }

    /// Vectors of `indices` interpolated with slerp's rule.
    static func nuslerp(base: [Float]?, models: [[Float]], t: Double, vectors: [[Int]]) -> [Float] {
        let v = taskVectors(base, models)
        var out = [Double](repeating: 0, count: models[0].count)
        for indices in vectors {
            var n0 = 0.0, n1 = 0.0, dot = 0.0
            for j in indices {
                n0 += v[0][j] * v[0][j]
                n1 += v[1][j] * v[1][j]
                dot += v[0][j] * v[1][j]
            }
            let theta = acos(min(max(dot / (max(n0.squareRoot(), 1e-7) * max(n1.squareRoot(), 1e-7)), -1), 1))
            for j in indices {
                out[j] = abs(sin(theta)) < 1e-8 ? (1 - t) * v[0][j] + t * v[1][j]
                    : (sin((1 - t) * theta) * v[0][j] + sin(t * theta) * v[1][j]) / sin(theta)
            }
        }
        return out.indices.map { Float(out[$0] + Double(base?[$0] ?? 0)) }
    }

    static func multislerp(base: [Float]?, models: [[Float]], weights raw: [Double], eps: Double = 1e-8) -> [Float] {
        let n = models[0].count
        let total = raw.reduce(0, +)
        let weights = raw.map { $0 / total }
        let vectors = taskVectors(base, models)
        let norms = vectors.map { v in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let units = zip(vectors, norms).map { v, norm in v.map { $0 / (norm + eps) } }
        var m = [Double](repeating: 0, count: n)
        for (u, w) in zip(units, weights) { for j in 0..<n { m[j] += w * u[j] } }
        let mNorm = m.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let mHat = m.map { $0 / mNorm }
        var tau = [Double](repeating: 0, count: n)
        for (u, w) in zip(units, weights) {
            let projection = zip(u, mHat).reduce(0) { $0 + $1.0 * $1.1 }
            for j in 0..<n { tau[j] += w * (u[j] - projection * mHat[j]) }
        }
        let s = tau.reduce(0) { $0 + $1 * $1 }.squareRoot() + eps
        let scale = zip(weights, norms).reduce(0) { $0 + $1.0 * $1.1 }
        return (0..<n).map { Float((mHat[$0] * cos(s) + tau[$0] * sin(s) / s) * scale + Double(base?[$0] ?? 0)) }
    }

    static func karcher(models: [[Float]], tol: Double = 1e-5, iterations: Int = 10) -> [Float] {
        let n = models[0].count, a = 1.0 / Double(models.count)
        let vectors = taskVectors(nil, models)
        let norms = vectors.map { v in v.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        let units = vectors.indices.map { i in vectors[i].map { $0 / norms[i] } }
        var u = [Double](repeating: 0, count: n)
        for unit in units { for j in 0..<n { u[j] += a * unit[j] } }
        var length = u.reduce(0) { $0 + $1 * $1 }.squareRoot()
        u = u.map { $0 / length }
        for _ in 0..<iterations {
            var tangent = [Double](repeating: 0, count: n)
            for unit in units {
                let cosine = min(max(zip(u, unit).reduce(0) { $0 + $1.0 * $1.1 }, -1), 1)
                let theta = acos(cosine)
                guard theta >= tol else { continue }
                for j in 0..<n { tangent[j] += a * theta / sin(theta) * (unit[j] - cosine * u[j]) }
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

    /// With select_topk < 1 the kept positions are the `keep` largest Float32 variances, ties by index.
    static func sce(base: [Float], models: [[Float]], topk: Double) -> [Float] {
        let n = base.count, m = models.count
        var tau = taskVectors(base, models)
        if topk < 1 {
            let variance: [Float] = (0..<n).map { j in
                let mean = (0..<m).reduce(0.0) { $0 + tau[$1][j] } / Double(m)
                return Float((0..<m).reduce(0.0) { $0 + (tau[$1][j] - mean) * (tau[$1][j] - mean) } / Double(m))
            }
            let keep = Int(Double(variance.filter { $0 != 0 }.count) * topk)
            // Descending variance, ascending index among ties: the first `keep` stay.
            let order = (0..<n).sorted { variance[$0] != variance[$1] ? variance[$0] > variance[$1] : $0 > $1 }
            var kept = [Bool](repeating: false, count: n)
            for j in order.prefix(keep) { kept[j] = true }
            for i in 0..<m { for j in 0..<n where !kept[j] { tau[i][j] = 0 } }
        }
        var weights = tau.map { t in t.reduce(0) { $0 + $1 * $1 } / Double(n) }
        let total = weights.reduce(0, +)
        weights = total < 1e-6 ? weights.map { _ in 1 / Double(m) } : weights.map { $0 / total }
        return (0..<n).map { j in
            let positive = (0..<m).reduce(0.0) { $0 + tau[$1][j] } >= 0
            var merged = 0.0, divisor = 0.0
            for i in 0..<m where tau[i][j] != 0 && (tau[i][j] > 0) == positive {
                merged += weights[i] * tau[i][j]
                divisor += weights[i]
            }
            return Float(Double(base[j]) + merged / max(divisor, 1e-6))
        }
    }

    static func ram(base: [Float], models: [[Float]], epsilon: Double = 1e-5, rescale: (r: Double, alpha: Double)?) -> [Float] {
        let n = base.count
        let tau = taskVectors(base, models)
        let counts = (0..<n).map { j in tau.filter { abs($0[j]) > epsilon }.count }
        let lambdas: [Double] = tau.map { t in
            guard let rescale else { return 1 }
            let shared = (0..<n).filter { abs(t[$0]) > epsilon && counts[$0] > 1 }.count
            let unique = (0..<n).filter { abs(t[$0]) > epsilon && counts[$0] == 1 }.count
            return 1 + rescale.r * min(max(Double(shared) / max(Double(unique), epsilon), 0), rescale.alpha)
        }
        return (0..<n).map { j in
            var sum = 0.0
            for (i, t) in tau.enumerated() where abs(t[j]) > epsilon { sum += counts[j] == 1 ? lambdas[i] * t[j] : t[j] }
            return Float(Double(base[j]) + (counts[j] > 1 ? sum / Double(counts[j]) : sum))
        }
    }

    /// Quartiles by full sort (the element at ⌊q·(n−1)⌋).
    static func arceeFusion(base: [Float], model: [Float], rowLength: Int) -> [Float] {
        let n = base.count
        func softmax(_ values: [Float], _ row: Range<Int>) -> [Double] {
            let peak = row.map { Double(values[$0]) }.max() ?? 0
            let exps = row.map { exp(Double(values[$0]) - peak) }
            let total = exps.reduce(0, +)
            return exps.map { $0 / total }
        }
        // Each row's KL divergence, then every element's |δ| times its row's.
        let divergences = stride(from: 0, to: n, by: rowLength).map { start in
            let row = start..<min(start + rowLength, n)
            return zip(softmax(model, row), softmax(base, row)).reduce(0.0) { $0 + ($1.0 + 1e-8) * log(($1.0 + 1e-8) / ($1.1 + 1e-8)) }
        }
        let importance = (0..<n).map { abs(Double(model[$0]) - Double(base[$0])) * divergences[$0 / rowLength] }
        let sorted = importance.sorted()
        func quantile(_ q: Double) -> Double { sorted[Int(q * Double(n - 1))] }
        let threshold = quantile(0.5) + 1.5 * (quantile(0.75) - quantile(0.25))
        return (0..<n).map { importance[$0] >= threshold ? model[$0] : base[$0] }
    }
}
