// Exact rank selection over a whole tensor in two streaming passes, for TIES and breadcrumbs
// trimming at any tensor size (linear time, O(1) memory per chunk).
//
// Magnitudes |δ| are non-negative floats, whose bit patterns sort like the values. Pass 1
// histograms the top 16 bits of every |δ|'s pattern; the bin holding the element of rank r
// (ascending) is found by a running count. Pass 2 histograms the low 16 bits of the elements in
// that bin, which pins the exact value. Ties at the threshold are broken by index (lower index
// ranks lower), which a third pass turns into per-block offsets when ties straddle the cut.

import AmalgamCore
import AmalgamKernels

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
    /// One rank query: the ascending-rank-`rank` value of source `source`'s magnitudes.
    struct Query: Sendable {
        let source: Int
        let rank: Int
    }

    /// Answers every query in two passes (three when ties straddle a cut), all sources at once.
    ///
    /// - Parameter magnitudes: per chunk, the magnitudes of every source (one array per source).
    /// - Returns: per query, the threshold and, when ties at it straddle the rank, the tie prefix per chunk.
    static func thresholds(_ queries: [Query], scan: TensorScanner,
                           magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]]) -> [(RankThreshold, [Int: Int])] {
        guard !queries.isEmpty else { return [] }
        let sources = (queries.map(\.source).max() ?? 0) + 1
        // Pass 1: top 16 bits of every source's magnitudes (32,768 bins per source).
        let high = scan.sum(width: 32_768 * sources) { chunk, bins in
            for (s, values) in magnitudes(chunk).enumerated() { MergeKernels.histogramHigh16(values, into: &bins, offset: s * 32_768) }
        }
        var topBins: [UInt32] = [], belowBins: [Int] = []
        for query in queries {
            var seen = 0, found = 0
            for bin in 0..<32_768 {
                let count = Int(high[query.source * 32_768 + bin])
                if seen + count > query.rank {
                    found = bin
                    break
                }
                seen += count
            }
            topBins.append(UInt32(found))
            belowBins.append(seen)
        }
        // Pass 2: low 16 bits inside each query's bin (65,536 bins per query).
        let bins = topBins, sourceOf = queries.map(\.source)
        let low = scan.sum(width: 65_536 * bins.count) { chunk, out in
            let values = magnitudes(chunk)
            for (q, bin) in bins.enumerated() { MergeKernels.histogramLow16(values[sourceOf[q]], top: bin, into: &out, offset: q * 65_536) }
        }
        var thresholds: [RankThreshold] = []
        for (q, query) in queries.enumerated() {
            var running = belowBins[q]
            var result: RankThreshold?
            for bin in 0..<65_536 {
                let count = Int(low[q * 65_536 + bin])
                guard count > 0 else { continue }
                if running + count > query.rank {
                    result = RankThreshold(value: Float(bitPattern: bins[q] << 16 | UInt32(bin)), below: running, equal: count)
                    break
                }
                running += count
            }
            guard let result else { preconditionFailure("rank \(query.rank) beyond the tensor") }
            thresholds.append(result)
        }
        // Pass 3, only for cuts that split a run of ties: tied elements before each chunk.
        let straddling = queries.indices.filter { thresholds[$0].below < queries[$0].rank }
        var prefixes = [[Int: Int]](repeating: [:], count: queries.count)
        if !straddling.isEmpty {
            let values = straddling.map { thresholds[$0].value }, sources = straddling.map { queries[$0].source }
            let parts = scan.map { chunk in
                let all = magnitudes(chunk)
                return [Double(chunk.range.lowerBound)] + zip(values, sources).map { value, s in Double(all[s].filter { $0 == value }.count) }
            }
            for (k, q) in straddling.enumerated() {
                var running = 0
                for part in parts {
                    prefixes[q][Int(part[0])] = running
                    running += Int(part[k + 1])
                }
            }
        }
        return queries.indices.map { (thresholds[$0], prefixes[$0]) }
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

    /// Windows for several sources at once: `cuts[s]` = (dropLow, dropHigh) of source s.
    static func make(count n: Int, cuts: [(dropLow: Int, dropHigh: Int)], scan: TensorScanner,
                     magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]]) -> [RankWindow] {
        var queries: [MagnitudeSelection.Query] = []
        var layout: [(low: Int?, high: Int?, dropAll: Bool)] = []
        for (source, cut) in cuts.enumerated() {
            let lowCount = max(0, min(cut.dropLow, n)), highCount = max(0, min(cut.dropHigh, n - lowCount))
            if lowCount + highCount >= n {
                layout.append((nil, nil, n > 0))
                continue
            }
            var entry: (low: Int?, high: Int?, dropAll: Bool) = (nil, nil, false)
            if lowCount > 0 {
                entry.low = queries.count
                queries.append(.init(source: source, rank: lowCount))
            }
            if highCount > 0 {
                entry.high = queries.count
                queries.append(.init(source: source, rank: n - highCount))
            }
            layout.append(entry)
        }
        let answers = MagnitudeSelection.thresholds(queries, scan: scan, magnitudes: magnitudes)
        return layout.map { entry in
            func cut(_ q: Int, droppedBelow: Bool) -> Cut {
                let (t, prefix) = answers[q]
                let tiedBelowCut = queries[q].rank - t.below
                return Cut(threshold: t, tiedDropped: droppedBelow ? tiedBelowCut : t.equal - tiedBelowCut, tiePrefix: prefix)
            }
            return RankWindow(low: entry.low.map { cut($0, droppedBelow: true) }, high: entry.high.map { cut($0, droppedBelow: false) },
                              dropAll: entry.dropAll)
        }
    }

    /// One source's window.
    static func make(count n: Int, dropLow: Int, dropHigh: Int, scan: TensorScanner,
                     magnitude: @escaping @Sendable (ChunkInputs) -> [Float]) -> RankWindow {
        make(count: n, cuts: [(dropLow, dropHigh)], scan: scan, magnitudes: { [magnitude($0)] })[0]
    }

    /// Keep flags for one chunk's magnitudes (indices in tensor order).
    func keep(_ magnitudes: [Float], chunkStart: Int) -> [Bool] {
        if dropAll { return [Bool](repeating: false, count: magnitudes.count) }
        // Global tie ranks become local counts through the tied elements before this chunk.
        let lowBound = low.map { cut in
            (value: cut.threshold.value, dropFirst: max(0, cut.tiedDropped - (cut.tiePrefix[chunkStart] ?? 0)))
        }
        let highBound = high.map { cut in
            (value: cut.threshold.value, keepFirst: max(0, (cut.threshold.equal - cut.tiedDropped) - (cut.tiePrefix[chunkStart] ?? 0)))
        }
        return MergeKernels.windowMask(magnitudes, low: lowBound, high: highBound)
    }
}
