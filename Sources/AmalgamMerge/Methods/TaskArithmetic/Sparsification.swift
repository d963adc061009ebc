// Sparsification of task vectors, per tensor (mergekit's sparsify.py semantics, our code).
//
// - magnitude (TIES): keep the k = ⌊density·n⌋ largest |δ|. Linear-time selection of the k-th
//   largest magnitude, then a pass that keeps everything above it and, among exact ties at it,
//   the lowest indices (a deterministic rule; mergekit's unstable sort picks arbitrarily).
// - magnitudeOutliers (Model Breadcrumbs, arXiv 2312.06795): drop the n_top = ⌊γ·n⌋ largest and
//   the n_bot = n − ⌊density·n⌋ − n_top smallest |δ| (n_bot < 0 moves into n_top: density wins).
// - random (DARE, arXiv 2311.03099): keep each element with probability `density`.
// - dellaMagprune (DELLA, arXiv 2406.11617): per row, rank |δ| ascending, r = (rank−1)/(n−1),
//   keep with probability (density − ε) + 2ε·r.
// Rescaling (DARE, DELLA by default): multiply the kept elements by Σ|δ| / Σ|kept| (L1 match),
// skipped when either norm is below 1e-7.

import AmalgamCore

/// Which elements of a task vector survive.
enum Sparsification: Sendable {
    case none
    case magnitude
    case magnitudeOutliers
    case random
    case dellaMagprune

    /// Applies the rule in place; returns nothing, zeroing dropped elements.
    ///
    /// - Parameters:
    ///   - delta: the task vector (flattened tensor).
    ///   - rowLength: elements per row (DELLA works row-wise).
    func apply(to delta: inout [Float], density: Double, gamma: Double, epsilon: Double, rescale: Bool,
               rowLength: Int, random: SeededRandom) {
        let n = delta.count
        guard n > 0 else { return }
        let original = rescale ? l1Norm(delta) : 0
        switch self {
        case .none:
            return
        case .magnitude:
            guard density < 1 else { return }
            keepRankRange(&delta, dropSmallest: n - Int(density * Double(n)), dropLargest: 0)
        case .magnitudeOutliers:
            let keep = min(n, Int(density * Double(n)))
            var top = Int(gamma * Double(n))
            var bottom = n - keep - top
            if bottom < 0 {
                top += bottom
                bottom = 0
            }
            keepRankRange(&delta, dropSmallest: bottom, dropLargest: max(top, 0))
        case .random:
            guard density < 1 else { return }
            for j in delta.indices where random.uniformDouble(at: j) >= density { delta[j] = 0 }
        case .dellaMagprune:
            guard density < 1 else { return }
            dellaPrune(&delta, density: density, epsilon: epsilon, rowLength: rowLength, random: random)
        }
        if rescale {
            let kept = l1Norm(delta)
            if original >= 1e-7 && kept >= 1e-7 {
                let factor = original / kept
                for j in delta.indices { delta[j] = Float(Double(delta[j]) * factor) }
            }
        }
    }
}

/// Σ|x| in Float64.
func l1Norm(_ values: [Float]) -> Double {
    var sum = 0.0
    for v in values { sum += Double(abs(v)) }
    return sum
}

/// Zeroes the `dropSmallest` smallest and `dropLargest` largest magnitudes; ties at either cut
/// are resolved by index (the lower index counts as the smaller), so exactly that many go.
func keepRankRange(_ delta: inout [Float], dropSmallest: Int, dropLargest: Int) {
    let n = delta.count
    let low = max(0, min(dropSmallest, n))
    let high = max(low, n - max(0, dropLargest))
    if low == 0 && high == n { return }
    if low >= high {
        for j in delta.indices { delta[j] = 0 }
        return
    }
    let magnitudes = delta.map { abs($0) }
    // Keep ranks [low, high) in ascending (magnitude, index) order.
    var keep = [Bool](repeating: true, count: n)
    if low > 0 { markRank(magnitudes, count: low, smallest: true, into: &keep) }
    if high < n { markRank(magnitudes, count: n - high, smallest: false, into: &keep) }
    for j in delta.indices where !keep[j] { delta[j] = 0 }
}

/// Marks (sets false) the `count` smallest (or largest) magnitudes in (value, index) order.
private func markRank(_ magnitudes: [Float], count: Int, smallest: Bool, into keep: inout [Bool]) {
    // The threshold is the count-th smallest (or largest) value: linear-time selection.
    var scratch = magnitudes
    let k = smallest ? count - 1 : magnitudes.count - count
    let threshold = quickselect(&scratch, k)
    var strictly = 0
    for m in magnitudes where smallest ? m < threshold : m > threshold { strictly += 1 }
    var tiesToTake = count - strictly
    if smallest {
        for j in magnitudes.indices {
            if magnitudes[j] < threshold {
                keep[j] = false
            } else if magnitudes[j] == threshold && tiesToTake > 0 {
                keep[j] = false
                tiesToTake -= 1
            }
        }
    } else {
        // Among ties at the top cut, the higher indices rank larger: take them from the end.
        for j in magnitudes.indices.reversed() {
            if magnitudes[j] > threshold {
                keep[j] = false
            } else if magnitudes[j] == threshold && tiesToTake > 0 {
                keep[j] = false
                tiesToTake -= 1
            }
        }
    }
}

/// The k-th smallest value (0-based) of `values` (reordered), in expected linear time
/// (Hoare's selection with median-of-three pivots). No NaNs expected: magnitudes of finite deltas.
func quickselect(_ values: inout [Float], _ k: Int) -> Float {
    precondition(k >= 0 && k < values.count, "quickselect rank \(k) outside \(values.count)")
    var lo = 0, hi = values.count - 1
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        // median of three as pivot
        let a = values[lo], b = values[mid], c = values[hi]
        let pivot = max(min(a, b), min(max(a, b), c))
        var i = lo, j = hi
        while i <= j {
            while values[i] < pivot { i += 1 }
            while values[j] > pivot { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j {
            hi = j
        } else if k >= i {
            lo = i
        } else {
            return values[k]
        }
    }
    return values[k]
}

/// DELLA's rank-dependent random drop, row by row.
private func dellaPrune(_ delta: inout [Float], density: Double, epsilon: Double, rowLength: Int, random: SeededRandom) {
    let length = max(1, rowLength)
    for rowStart in stride(from: 0, to: delta.count, by: length) {
        let row = rowStart..<min(rowStart + length, delta.count)
        let order = row.sorted { (abs(delta[$0]), $0) < (abs(delta[$1]), $1) }   // ascending magnitude
        let span = Double(max(order.count - 1, 1))
        for (rank, j) in order.enumerated() {
            let r = order.count > 1 ? Double(rank) / span : 0
            let keep = (density - epsilon) + 2 * epsilon * min(max(r, 0), 1)
            if random.uniformDouble(at: j) >= keep { delta[j] = 0 }
        }
    }
}
