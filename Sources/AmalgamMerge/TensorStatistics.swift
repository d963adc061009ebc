// Per-tensor statistics for chunked methods, gathered through a TensorScanner in bounded memory:
// the Gram matrix of the inputs (or of their task vectors) and exact order statistics of a
// Float64 value per element.
//
// Methods whose output is a linear combination of the inputs with coefficients that depend only
// on inner products (slerp's family, multislerp, karcher, model_stock) need nothing but the Gram
// matrix: every norm, angle and projection follows from it, so one pass replaces the whole-tensor
// working copies.

import AmalgamCore
import Foundation

/// Per-block results that one streaming pass leaves for a later one (keyed by block start), when
/// the pass itself must stay a sum (so its reduction order, and its bits, do not change).
final class BlockMemo<Value: Sendable>: @unchecked Sendable {
    // SAFETY: `@unchecked Sendable` because `values` is read and written only with `lock` held.
    private let lock = NSLock()
    private var values: [Int: Value] = [:]

    func store(_ value: Value, at start: Int) { lock.withLock { values[start] = value } }
    /// The value stored for the block at `start`, removed (each is read once).
    func take(at start: Int) -> Value? { lock.withLock { values.removeValue(forKey: start) } }
}

extension ChunkInputs {
    /// The models of this block in Float64, minus the base when `subtractBase` and the block has one.
    func vectors(subtractBase: Bool) -> [[Double]] {
        guard subtractBase, let base else { return models.map { $0.map(Double.init) } }
        return models.map { model in model.indices.map { Double(model[$0]) - Double(base[$0]) } }
    }
}

/// Inner products over the whole tensor.
enum TensorGram {
    /// G[i][k] = Σ_j v_i[j]·v_k[j] over the tensor, in Float64, where v_i is model i, minus the
    /// base when `subtractBase` (see ``ChunkInputs/vectors(subtractBase:)``).
    static func compute(_ scan: TensorScanner, models m: Int, subtractBase: Bool) -> [[Double]] {
        let sums = scan.sum(width: m * m) { chunk, sums in
            let g = of(chunk.vectors(subtractBase: subtractBase), over: 0..<chunk.range.count)
            for i in 0..<m { for k in i..<m { sums[i * m + k] += g[i][k] } }
        }
        return (0..<m).map { i in (0..<m).map { k in sums[min(i, k) * m + max(i, k)] } }
    }

    /// The Gram matrix of `vectors` restricted to the elements `range` (a row, or a whole block).
    static func of(_ vectors: [[Double]], over range: Range<Int>) -> [[Double]] {
        let m = vectors.count
        var g = [[Double]](repeating: [Double](repeating: 0, count: m), count: m)
        for i in 0..<m {
            for k in i..<m {
                let a = vectors[i], b = vectors[k]
                var s = 0.0
                for j in range { s += a[j] * b[j] }
                g[i][k] = s
                g[k][i] = s
            }
        }
        return g
    }

    /// xᵀ G y.
    static func form(_ g: [[Double]], _ x: [Double], _ y: [Double]) -> Double {
        var total = 0.0
        for i in x.indices {
            var row = 0.0
            for k in y.indices { row += g[i][k] * y[k] }
            total += x[i] * row
        }
        return total
    }

    /// |Σ c_i v_i| from the Gram matrix (0 where rounding makes the square negative).
    static func norm(_ g: [[Double]], _ c: [Double]) -> Double { max(form(g, c, c), 0).squareRoot() }
}

/// Σ_i c_i v_i (+ the base when `addBase`), elementwise; the kernel of every method whose output
/// is a fixed linear combination of its inputs.
struct LinearCombination: ChunkKernel {
    /// Coefficients of the vectors (models, or task vectors when `subtractBase`).
    let coefficients: [Double]
    /// True when the vectors are task vectors: v_i = x_i − base, and the base is added back.
    let subtractBase: Bool

    func merge(_ chunk: ChunkInputs) -> [Float] {
        let n = chunk.range.count
        var out = [Double](repeating: 0, count: n)
        for (i, model) in chunk.models.enumerated() where coefficients[i] != 0 {
            let c = coefficients[i]
            if subtractBase, let base = chunk.base {
                for j in 0..<n { out[j] += c * (Double(model[j]) - Double(base[j])) }
            } else {
                for j in 0..<n { out[j] += c * Double(model[j]) }
            }
        }
        if subtractBase, let base = chunk.base { for j in 0..<n { out[j] += Double(base[j]) } }
        return out.map { Float($0) }
    }
}

/// Exact order statistics of one Float64 value per element over a whole tensor.
///
/// Values map to 64-bit keys whose unsigned order is the numeric order (``OrderStatistics/key(_:)``).
/// Each histogram pass (65,536 bins per target) fixes the next 16 bits of a target's key; once
/// the group sharing the fixed prefix holds at most `collectLimit` values, one more pass collects
/// them and selects the rank (``OrderStatistics/nth(_:_:)``). Typically two passes; never more than five.
enum TensorOrderStatistics {
    static let collectLimit = 1 << 20

    private struct Target {
        var rank: Int
        var prefix: UInt64 = 0
        var bits = 0
        var groupCount = Int.max
        var result: Double?
    }

    /// The values of the given 0-based ascending ranks among the `count` values `values` yields
    /// (one per element of each block).
    static func select(_ scan: TensorScanner, count: Int, ranks: [Int], collectLimit: Int = Self.collectLimit,
                       values: @escaping @Sendable (ChunkInputs) -> [Double]) -> [Double] {
        precondition(ranks.allSatisfy { $0 >= 0 && $0 < count }, "order statistics: rank outside 0..<\(count)")
        var targets = ranks.map { Target(rank: $0, groupCount: count) }
        while targets.contains(where: { $0.result == nil }) {
            let open = targets.indices.filter { targets[$0].result == nil }
            let collect = open.filter { targets[$0].groupCount <= collectLimit }
            if !collect.isEmpty {
                let filters = collect.map { (prefix: targets[$0].prefix, bits: targets[$0].bits) }
                let parts = scan.map { chunk in
                    let block = values(chunk)
                    // Per target: how many values match its prefix, then those values.
                    var out: [Double] = []
                    for filter in filters {
                        let matching = block.filter { filter.bits == 0 || OrderStatistics.key($0) >> UInt64(64 - filter.bits) == filter.prefix }
                        out.append(Double(matching.count))
                        out += matching
                    }
                    return out
                }
                var groups = [[UInt64]](repeating: [], count: collect.count)
                for part in parts {
                    var cursor = 0
                    for t in collect.indices {
                        let length = Int(part[cursor])
                        groups[t] += part[(cursor + 1)..<(cursor + 1 + length)].map(OrderStatistics.key)
                        cursor += 1 + length
                    }
                }
                for (t, index) in collect.enumerated() {
                    targets[index].result = OrderStatistics.value(OrderStatistics.nth(&groups[t], targets[index].rank))
                }
                continue
            }
            let filters = open.map { (prefix: targets[$0].prefix, bits: targets[$0].bits) }
            let bins = 1 << 16
            let histograms = scan.sum(width: bins * open.count) { chunk, sums in
                let keys = values(chunk).map(OrderStatistics.key)
                for (t, filter) in filters.enumerated() {
                    let digitShift = UInt64(48 - filter.bits)
                    for k in keys where filter.bits == 0 || k >> UInt64(64 - filter.bits) == filter.prefix {
                        sums[t * bins + Int((k >> digitShift) & 0xFFFF)] += 1
                    }
                }
            }
            for (t, index) in open.enumerated() {
                var remaining = targets[index].rank, digit = 0
                while Double(remaining) >= histograms[t * bins + digit] {
                    remaining -= Int(histograms[t * bins + digit])
                    digit += 1
                }
                targets[index].prefix = targets[index].prefix << 16 | UInt64(digit)
                targets[index].bits += 16
                targets[index].rank = remaining
                targets[index].groupCount = Int(histograms[t * bins + digit])
                if targets[index].bits == 64 { targets[index].result = OrderStatistics.value(targets[index].prefix) }
            }
        }
        return targets.map { $0.result! }
    }
}
