// Sparsification of task vectors, per tensor (mergekit's sparsify.py semantics, our code).
//
// - magnitude (TIES): keep the k = ⌊density·n⌋ largest |δ|.
// - magnitudeOutliers (Model Breadcrumbs, arXiv 2312.06795): drop the n_top = ⌊γ·n⌋ largest and
//   the n_bot = n − ⌊density·n⌋ − n_top smallest |δ| (n_bot < 0 moves into n_top: density wins).
// - random (DARE, arXiv 2311.03099): keep element j when u(seed, tensor, model, j) < density.
// - dellaMagprune (DELLA, arXiv 2406.11617): per row, rank |δ| ascending, r = (rank−1)/(n−1),
//   keep when u(…, j) < (density − ε) + 2ε·r.
// Magnitude cuts are exact ranks in (|δ|, index) order (MagnitudeThreshold.swift): ties at a cut
// go by index, deterministically (mergekit's unstable sort picks arbitrarily among ties).
// Rescaling (DARE, DELLA by default): the kept elements are multiplied by Σ|δ| / Σ|kept|
// (L1 match), skipped when either norm is below 1e-7; both sums in Float64.

import AmalgamCore
import AmalgamKernels

/// Which elements of a task vector survive.
enum Sparsification: Sendable {
    case none
    case magnitude
    case magnitudeOutliers
    case random
    case dellaMagprune

    /// The keep rules of every model's task vector for one tensor, with all magnitude cuts found
    /// in the same streaming passes.
    ///
    /// - Parameter counter: fused bracket counts of model i's magnitudes (optional; see `BracketCounter`).
    func plans(count n: Int, densities: [Double], gammas: [Double], epsilons: [Double], rowLength: Int, randoms: [SeededRandom],
               scan: TensorScanner, magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]],
               counter: BracketCounter? = nil) -> [SparsificationPlan] {
        var cuts: [(dropLow: Int, dropHigh: Int)?] = []
        for (density, gamma) in zip(densities, gammas) {
            switch self {
            case .magnitude where density < 1:
                cuts.append((n - Int(density * Double(n)), 0))
            case .magnitudeOutliers:
                let keep = min(n, Int(density * Double(n)))
                var top = Int(gamma * Double(n))
                var bottom = n - keep - top
                if bottom < 0 {
                    top += bottom
                    bottom = 0
                }
                cuts.append((bottom, max(top, 0)))
            default:
                cuts.append(nil)
            }
        }
        let needed = cuts.indices.filter { cuts[$0] != nil }
        var remapped: BracketCounter?
        if let counter {
            remapped = { chunk, source, low, high, between in counter(chunk, needed[source], low, high, &between) }
        }
        let found = RankWindow.make(count: n, cuts: needed.compactMap { cuts[$0] }, scan: scan,
                                    magnitudes: { chunk in let all = magnitudes(chunk); return needed.map { all[$0] } },
                                    counter: remapped)
        var windows = [RankWindow?](repeating: nil, count: cuts.count)
        for (k, i) in needed.enumerated() { windows[i] = found[k] }
        return densities.indices.map { i in
            SparsificationPlan(rule: self, density: densities[i], epsilon: epsilons[i], rowLength: max(rowLength, 1), random: randoms[i], window: windows[i])
        }
    }

    /// The keep rule of one task vector for one tensor.
    func plan(count n: Int, density: Double, gamma: Double, epsilon: Double, rowLength: Int, random: SeededRandom,
              scan: TensorScanner, magnitude: @escaping @Sendable (ChunkInputs) -> [Float]) -> SparsificationPlan {
        plans(count: n, densities: [density], gammas: [gamma], epsilons: [epsilon], rowLength: rowLength, randoms: [random],
              scan: scan, magnitudes: { [magnitude($0)] })[0]
    }

    /// Whole-tensor form: zeroes dropped elements of `delta` in place, then L1-rescales when asked.
    func apply(to delta: inout [Float], density: Double, gamma: Double, epsilon: Double, rescale: Bool, rowLength: Int, random: SeededRandom) {
        let values = delta
        let chunk = ChunkInputs(range: 0..<values.count, base: nil, models: [values])
        let scanner = TensorScanner.single(chunk)
        let plan = plan(count: values.count, density: density, gamma: gamma, epsilon: epsilon, rowLength: rowLength, random: random,
                        scan: scanner, magnitude: { chunk in chunk.models[0].map { abs($0) } })
        let keep = plan.keep(magnitudes: values.map { abs($0) }, start: 0)
        var kept = 0.0, total = 0.0
        for j in delta.indices {
            total += Double(abs(values[j]))
            if keep[j] { kept += Double(abs(values[j])) } else { delta[j] = 0 }
        }
        if rescale, total >= 1e-7, kept >= 1e-7 {
            let factor = total / kept
            for j in delta.indices { delta[j] = Float(Double(delta[j]) * factor) }
        }
    }
}

/// One model's keep rule for one tensor.
struct SparsificationPlan: Sendable {
    let rule: Sparsification
    let density: Double
    let epsilon: Double
    let rowLength: Int
    let random: SeededRandom
    let window: RankWindow?

    /// Whether keep flags depend on the magnitudes |δ| (else only on positions).
    var needsMagnitudes: Bool { rule == .magnitude || rule == .magnitudeOutliers || rule == .dellaMagprune }

    /// Whether every element is kept (no sparsification at this density).
    var keepsAll: Bool {
        switch rule {
        case .none: true
        case .magnitude, .magnitudeOutliers: window == nil
        case .random, .dellaMagprune: density >= 1
        }
    }

    /// The keep rule of one block for the fused kernels: a magnitude window where the cut allows,
    /// else the keep flags. `magnitudes` (|δ| of the block) is read only when flags need it.
    func keepRule(count: Int, magnitudes: @autoclosure () -> [Float], start: Int) -> KeepRule {
        if keepsAll { return .all }
        if let window, rule == .magnitude || rule == .magnitudeOutliers, let fused = window.rule(chunkStart: start, count: count) {
            return fused
        }
        return .mask(keep(magnitudes: needsMagnitudes ? magnitudes() : [Float](repeating: 0, count: count), start: start))
    }

    /// Keep flags for elements `start ..< start + magnitudes.count`, given their |δ|.
    /// For DELLA the chunk must start and end on row boundaries.
    func keep(magnitudes: [Float], start: Int) -> [Bool] {
        let count = magnitudes.count
        switch rule {
        case .none:
            return [Bool](repeating: true, count: count)
        case .magnitude, .magnitudeOutliers:
            return window?.keep(magnitudes, chunkStart: start) ?? [Bool](repeating: true, count: count)
        case .random:
            guard density < 1 else { return [Bool](repeating: true, count: count) }
            return MergeKernels.bernoulliMask(key: random.key, start: start, count: count, probability: density)
        case .dellaMagprune:
            guard density < 1 else { return [Bool](repeating: true, count: count) }
            var flags = [Bool](repeating: false, count: count)
            for rowStart in stride(from: 0, to: count, by: rowLength) {
                let row = rowStart..<min(rowStart + rowLength, count)
                // (|δ|, index) order as one integer sort: magnitudes are non-negative, so their
                // bit patterns order like their values; the low 32 bits hold the index in the row.
                var order = row.map { UInt64(magnitudes[$0].bitPattern) << 32 | UInt64($0 - rowStart) }
                MergeKernels.radixSort(&order)
                let span = Double(max(order.count - 1, 1))
                for (rank, key) in order.enumerated() {
                    let j = rowStart + Int(key & 0xFFFF_FFFF)
                    let r = order.count > 1 ? Double(rank) / span : 0
                    let probability = (density - epsilon) + 2 * epsilon * min(max(r, 0), 1)
                    flags[j] = random.uniformDouble(at: start + j) < probability
                }
            }
            return flags
        }
    }
}

/// Σ|x| in Float64.
func l1Norm(_ values: [Float]) -> Double {
    var sum = 0.0
    for v in values { sum += Double(abs(v)) }
    return sum
}
