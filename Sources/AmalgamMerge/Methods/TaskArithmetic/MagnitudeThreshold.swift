// Exact rank selection over a whole tensor in two streaming passes, for TIES and breadcrumbs
// trimming at any tensor size (linear time, O(1) memory per chunk).
//
// Magnitudes |δ| are non-negative floats, whose bit patterns sort like the values. Pass 1
// histograms the top 16 bits of every |δ|'s pattern; the bin holding the element of rank r
// (ascending) is found by a running count. Pass 2 histograms the low 16 bits of the elements in
// that bin, which pins the exact value. Ties at the threshold are broken by index (lower index
// ranks lower), which a third pass turns into per-chunk offsets when ties straddle the cut.

import AmalgamCore

/// The value of ascending rank `rank` among the magnitudes, with tie bookkeeping.
struct RankThreshold: Sendable {
    /// The threshold magnitude.
    let value: Float
    /// Elements strictly below `value`.
    let below: Int
    /// Elements equal to `value`.
    let equal: Int
}

enum MagnitudeSelection {
    /// The ascending-rank-`rank` magnitude of `magnitude(chunk)` over the whole tensor.
    static func threshold(rank: Int, scan: TensorScanner, magnitude: @escaping @Sendable (ChunkInputs) -> [Float]) -> RankThreshold {
        // Pass 1: top 16 bits (sign bit is 0 for magnitudes, so 32,768 bins suffice).
        let high = scan.sum { chunk in
            var bins = [Double](repeating: 0, count: 32_768)
            for m in magnitude(chunk) { bins[Int(m.bitPattern >> 16)] += 1 }
            return bins
        }
        var seen = 0
        var topBin = 0
        for (bin, count) in high.enumerated() {
            if seen + Int(count) > rank {
                topBin = bin
                break
            }
            seen += Int(count)
        }
        let belowTopBin = seen
        // Pass 2: low 16 bits within that bin.
        let binIndex = UInt32(topBin)
        let low = scan.sum { chunk in
            var bins = [Double](repeating: 0, count: 65_536)
            for m in magnitude(chunk) where m.bitPattern >> 16 == binIndex { bins[Int(m.bitPattern & 0xFFFF)] += 1 }
            return bins
        }
        var running = belowTopBin
        for (bin, count) in low.enumerated() where count > 0 {
            if running + Int(count) > rank {
                return RankThreshold(value: Float(bitPattern: binIndex << 16 | UInt32(bin)), below: running, equal: Int(count))
            }
            running += Int(count)
        }
        preconditionFailure("rank \(rank) beyond the tensor")
    }

    /// For each chunk, how many elements equal to `value` come before it (prefix counts), so that
    /// chunks can break ties by global index independently.
    static func tiePrefix(value: Float, scan: TensorScanner, magnitude: @escaping @Sendable (ChunkInputs) -> [Float]) -> [Int: Int] {
        let parts = scan.map { chunk in
            [Double(chunk.range.lowerBound), Double(magnitude(chunk).filter { $0 == value }.count)]
        }
        var prefix: [Int: Int] = [:]
        var running = 0
        for part in parts {
            prefix[Int(part[0])] = running
            running += Int(part[1])
        }
        return prefix
    }
}

/// A keep rule over one model's task vector: keep ranks [dropLow, n − dropHigh) in (|δ|, index) order.
struct RankWindow: Sendable {
    struct Cut: Sendable {
        let threshold: RankThreshold
        /// How many of the tied elements fall on the dropped side.
        let tiedDropped: Int
        /// Per-chunk count of tied elements before the chunk.
        let tiePrefix: [Int: Int]
    }

    /// Everything with rank < dropLow goes (nil: nothing dropped at the bottom).
    let low: Cut?
    /// Everything with rank ≥ n − dropHigh goes (nil: nothing dropped at the top).
    let high: Cut?
    /// Drop everything (the window is empty).
    let dropAll: Bool

    static func make(count n: Int, dropLow: Int, dropHigh: Int, scan: TensorScanner,
                     magnitude: @escaping @Sendable (ChunkInputs) -> [Float]) -> RankWindow {
        let lowCount = max(0, min(dropLow, n)), highCount = max(0, min(dropHigh, n - lowCount))
        if lowCount + highCount >= n { return RankWindow(low: nil, high: nil, dropAll: n > 0) }
        func cut(rank: Int, droppedBelow: Bool) -> Cut {
            let t = MagnitudeSelection.threshold(rank: rank, scan: scan, magnitude: magnitude)
            // Bottom cut at rank r: ranks < r dropped → tied elements with tie-rank < r − below are dropped.
            // Top cut at rank r: ranks ≥ r dropped → tied elements with tie-rank ≥ r − below are dropped.
            let tiedBelowCut = rank - t.below
            let prefix = (tiedBelowCut > 0 && tiedBelowCut < t.equal) ? MagnitudeSelection.tiePrefix(value: t.value, scan: scan, magnitude: magnitude) : [:]
            return Cut(threshold: t, tiedDropped: droppedBelow ? tiedBelowCut : t.equal - tiedBelowCut, tiePrefix: prefix)
        }
        return RankWindow(low: lowCount > 0 ? cut(rank: lowCount, droppedBelow: true) : nil,
                          high: highCount > 0 ? cut(rank: n - highCount, droppedBelow: false) : nil,
                          dropAll: false)
    }

    /// Keep flags for one chunk's magnitudes (indices in tensor order).
    func keep(_ magnitudes: [Float], chunkStart: Int) -> [Bool] {
        if dropAll { return [Bool](repeating: false, count: magnitudes.count) }
        var flags = [Bool](repeating: true, count: magnitudes.count)
        if let low {
            var tieIndex = low.tiePrefix[chunkStart] ?? 0
            let v = low.threshold.value
            for (j, m) in magnitudes.enumerated() {
                if m < v {
                    flags[j] = false
                } else if m == v {
                    if low.tiePrefix.isEmpty ? low.tiedDropped >= low.threshold.equal : tieIndex < low.tiedDropped { flags[j] = false }
                    tieIndex += 1
                }
            }
        }
        if let high {
            var tieIndex = high.tiePrefix[chunkStart] ?? 0
            let v = high.threshold.value
            let keptTies = high.threshold.equal - high.tiedDropped
            for (j, m) in magnitudes.enumerated() {
                if m > v {
                    flags[j] = false
                } else if m == v {
                    if high.tiePrefix.isEmpty ? keptTies == 0 : tieIndex >= keptTies { flags[j] = false }
                    tieIndex += 1
                }
            }
        }
        return flags
    }
}
