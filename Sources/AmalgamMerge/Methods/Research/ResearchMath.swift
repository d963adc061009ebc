// Shared pieces of the research methods: sums and means of task vectors, exact model-wide order
// statistics (radix selection over streaming passes), PyTorch's Adam, block indices, and
// PyTorch-compatible sign and rounding rules.

import AmalgamCore
import AmalgamKernels
import Foundation

enum TaskVectors {
    /// Σ_t τ_t.
    static func sum(_ vectors: [[Double]]) -> [Double] {
        guard var total = vectors.first else { return [] }
        for vector in vectors.dropFirst() { for i in total.indices { total[i] += vector[i] } }
        return total
    }

    /// (1/T) Σ_t τ_t.
    static func mean(_ vectors: [[Double]]) -> [Double] {
        let scale = 1 / Double(max(vectors.count, 1))
        return sum(vectors).map { $0 * scale }
    }

    /// sign(x) with sign(0) = 0, as torch.sign.
    static func sign(_ x: Double) -> Double { x > 0 ? 1 : (x < 0 ? -1 : 0) }

    /// The number of elements of the model (or of the tensors `include` accepts).
    static func elementCount(_ model: ModelDescription, include: (String, Shape) -> Bool = { _, _ in true }) -> Int {
        model.tensors.reduce(0) { $0 + (include($1.name, $1.shape) ? $1.shape.elementCount : 0) }
    }

    /// Per task, the model-wide magnitude threshold that keeps the top `keep(d)` of its d entries
    /// over the tensors `include` accepts: the (d − keep)-th smallest |τ_t| (torch's
    /// `kthvalue(d − keep)`; every tie at it is kept by `|τ| ≥ threshold`). 0, which keeps
    /// everything, when keep ≥ d.
    static func topMagnitudeThresholds(_ scan: ModelScanner, keep: (Int) -> Int,
                                       include: @escaping @Sendable (String, Shape) -> Bool = { _, _ in true }) throws(MergeError) -> [Double] {
        let d = elementCount(scan.model, include: include)
        let kept = keep(d)
        let tasks = scan.model.modelCount
        guard kept < d else { return [Double](repeating: 0, count: tasks) }
        return try OrderStatistics.select(scan, ranks: [[Int]](repeating: [d - kept - 1], count: tasks)) { (tensor: TensorSet) throws(MergeError) -> [[Double]] in
            include(tensor.name, tensor.shape) ? tensor.taskVectors.map { $0.map(abs) } : [[Double]](repeating: [], count: tensor.models.count)
        }.map { $0[0] }
    }

    /// The first block index i in 0..<layers whose `.i.` appears in `name`, as LiNeS finds it.
    static func blockIndex(of name: String, layers: Int) -> Int? {
        (0..<max(layers, 0)).first { name.contains(".\($0).") }
    }
}

/// Exact order statistics of per-row value streams over the whole model.
///
/// Values map to 64-bit keys whose unsigned order is the numeric order. Each histogram pass
/// fixes the next 16 bits of every target's key; once a target's group is small enough, one
/// more pass collects the group's keys and selects the rank among them. Memory: a 65,536-bin histogram per target
/// and tensor in flight, or the collected group (at most `collectLimit` keys per target).
enum OrderStatistics {
    static let collectLimit = 1 << 22

    static func key(_ x: Double) -> UInt64 {
        let bits = x.bitPattern
        return x.sign == .minus ? ~bits : bits | (1 << 63)
    }

    static func value(_ key: UInt64) -> Double {
        key & (1 << 63) != 0 ? Double(bitPattern: key & ~(1 << 63)) : Double(bitPattern: ~key)
    }

    /// The key of ascending rank `k` in `keys` (sorted in place by ``MergeKernels/radixSort(_:)``).
    static func nth(_ keys: inout [UInt64], _ k: Int) -> UInt64 {
        precondition(k >= 0 && k < keys.count, "nth: rank \(k) outside \(keys.count) keys")
        MergeKernels.radixSort(&keys)
        return keys[k]
    }

    private struct Target: Sendable {
        var row: Int
        var rank: Int
        var prefix: UInt64 = 0
        var bits = 0
        var groupCount = Int.max
        var result: Double?
    }

    private enum Part: Sendable {
        case histogram([Int])
        case keys([UInt64])
    }

    /// For each row and each requested 0-based rank in `ranks[row]`, the value of that rank among
    /// all values `values` yields for the row over every tensor (in the same shape as `ranks`).
    static func select(_ scan: ModelScanner, ranks: [[Int]], collectLimit: Int = OrderStatistics.collectLimit,
                       values: @escaping @Sendable (TensorSet) throws(MergeError) -> [[Double]]) throws(MergeError) -> [[Double]] {
        var targets: [Target] = []
        for (row, rowRanks) in ranks.enumerated() {
            for rank in rowRanks { targets.append(Target(row: row, rank: rank)) }
        }
        while targets.contains(where: { $0.result == nil }) {
            let pending = targets
            let parts = try scan.reduce(into: [Part?](repeating: nil, count: pending.count), { (tensor: TensorSet) throws(MergeError) -> [Part?] in
                let rows = try values(tensor)
                return pending.map { target -> Part? in
                    guard target.result == nil else { return nil }
                    let row = target.row < rows.count ? rows[target.row] : []
                    let shift = UInt64(64 - target.bits)
                    let matches: (UInt64) -> Bool = target.bits == 0 ? { _ in true } : { $0 >> shift == target.prefix }
                    if target.groupCount <= collectLimit {
                        return .keys(row.lazy.map(key).filter(matches))
                    }
                    var histogram = [Int](repeating: 0, count: 1 << 16)
                    let digitShift = UInt64(48 - target.bits)
                    for x in row {
                        let k = key(x)
                        if matches(k) { histogram[Int((k >> digitShift) & 0xFFFF)] += 1 }
                    }
                    return .histogram(histogram)
                }
            }, { (totals: inout [Part?], parts: [Part?]) throws(MergeError) in
                for (index, part) in parts.enumerated() {
                    switch (totals[index], part) {
                    case (nil, let part): totals[index] = part
                    case (.histogram(var total)?, .histogram(let add)?):
                        for bin in total.indices { total[bin] += add[bin] }
                        totals[index] = .histogram(total)
                    case (.keys(var total)?, .keys(let add)?):
                        total += add
                        totals[index] = .keys(total)
                    default: break
                    }
                }
            })
            for index in targets.indices where targets[index].result == nil {
                switch parts[index] {
                case .histogram(let histogram)?:
                    var remaining = targets[index].rank
                    guard remaining >= 0, remaining < histogram.reduce(0, +) else {
                        throw .badInputs(tensor: "(whole model)", method: "order statistics",
                                         reason: "rank \(targets[index].rank) outside the \(histogram.reduce(0, +)) values of row \(targets[index].row)")
                    }
                    var digit = 0
                    while remaining >= histogram[digit] {
                        remaining -= histogram[digit]
                        digit += 1
                    }
                    targets[index].prefix = targets[index].prefix << 16 | UInt64(digit)
                    targets[index].bits += 16
                    targets[index].rank = remaining
                    targets[index].groupCount = histogram[digit]
                    if targets[index].bits == 64 { targets[index].result = value(targets[index].prefix) }
                case .keys(var keys)?:
                    targets[index].result = value(nth(&keys, targets[index].rank))
                case nil:
                    throw .badInputs(tensor: "(whole model)", method: "order statistics", reason: "no values for row \(targets[index].row)")
                }
            }
        }
        var results: [[Double]] = []
        var index = 0
        for rowRanks in ranks {
            results.append(rowRanks.map { _ in defer { index += 1 }; return targets[index].result! })
        }
        return results
    }
}

/// PyTorch's Adam (no weight decay, no amsgrad) on a flat parameter vector.
struct Adam {
    let learningRate: Double
    let beta1 = 0.9
    let beta2 = 0.999
    let epsilon = 1e-8
    private var m: [Double]
    private var v: [Double]
    private var step = 0

    init(count: Int, learningRate: Double) {
        self.learningRate = learningRate
        m = [Double](repeating: 0, count: count)
        v = [Double](repeating: 0, count: count)
    }

    /// One step: x ← x − lr/(1−β1ᵏ) · m / (√v/√(1−β2ᵏ) + ε).
    mutating func update(_ x: inout [Double], gradient g: [Double]) {
        step += 1
        let correction1 = 1 - pow(beta1, Double(step))
        let correction2 = (1 - pow(beta2, Double(step))).squareRoot()
        let stepSize = learningRate / correction1
        for i in x.indices {
            m[i] += (1 - beta1) * (g[i] - m[i])  // torch's lerp form
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i]
            x[i] -= stepSize * m[i] / (v[i].squareRoot() / correction2 + epsilon)
        }
    }
}
