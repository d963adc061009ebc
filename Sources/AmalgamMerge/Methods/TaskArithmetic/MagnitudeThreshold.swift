// Exact rank selection over a whole tensor, for TIES and breadcrumbs trimming at any tensor size
// (linear time, bounded memory).
//
// Magnitudes |δ| are non-negative floats, whose bit patterns sort like the values.
//
// Large tensors first try a bracket (a sample, then one pass): a short piece of every block, about
// 128 Ki values in all, gives two values `low` ≤ `high` whose ranks, with high probability,
// enclose the wanted one; one full pass then counts the elements below `low`, equal
// to `low` and equal to `high` per block, and keeps the few values strictly between them. The
// rank is then resolved exactly from those counts and values (a heavy tie at a bound costs no
// memory: it is counted, not kept). If the wanted rank falls outside the bracket, the
// histogram passes below answer instead, so the result never depends on the sample.
//
// Histogram passes: pass 1 histograms the top 16 bits of every |δ|'s pattern; the bin holding the
// element of rank r (ascending) is found by a running count. Pass 2 histograms the low 16 bits
// of the elements in that bin, which pins the exact value. Ties at the threshold are broken by
// index (lower index ranks lower), which a third pass turns into per-block offsets when ties
// straddle the cut.

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

/// Bracket counts of one source's magnitudes in one block (see `MergeKernels.bracketCounts`):
/// the fused form for sources whose magnitudes need not be materialised.
typealias BracketCounter = @Sendable (_ block: ChunkInputs, _ source: Int, _ low: Float, _ high: Float,
                                      _ between: inout [Double]) -> (below: Int, equalLow: Int, equalHigh: Int)

enum MagnitudeSelection {
    /// One rank query: the ascending-rank-`rank` value of source `source`'s magnitudes.
    struct Query: Sendable {
        let source: Int
        let rank: Int
    }

    /// Tensors at least this large try the sampled bracket first.
    static let bracketMinimum = 1 << 20
    /// Values per source in the bracket's sample.
    static let sampleSize = 1 << 17

    /// Answers every query, all sources at once: by the sampled bracket for tensors of at least
    /// ``bracketMinimum`` elements (`count`), by histogram passes otherwise or when the bracket
    /// misses. Both give the same answer.
    ///
    /// - Parameter magnitudes: per block, the magnitudes of every source (one array per source).
    /// - Returns: per query, the threshold and, when ties at it straddle the rank, the tie prefix per block.
    /// - Parameter counter: the bracket counts of a source without its magnitude array (optional).
    static func thresholds(_ queries: [Query], count: Int? = nil, scan: TensorScanner,
                           magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]],
                           counter: BracketCounter? = nil) -> [(RankThreshold, [Int: Int])] {
        guard !queries.isEmpty else { return [] }
        var answers = [(RankThreshold, [Int: Int])?](repeating: nil, count: queries.count)
        if let count, count >= bracketMinimum {
            answers = bracketed(queries, count: count, scan: scan, magnitudes: magnitudes, counter: counter)
        }
        let missing = queries.indices.filter { answers[$0] == nil }
        if !missing.isEmpty {
            let found = histogramThresholds(missing.map { queries[$0] }, scan: scan, magnitudes: magnitudes)
            for (k, q) in missing.enumerated() { answers[q] = found[k] }
        }
        return answers.map { $0! }
    }

    /// The sampled bracket (see the file header): an answer per query, nil where the rank fell
    /// outside its bracket.
    static func bracketed(_ queries: [Query], count n: Int, scan: TensorScanner,
                          magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]],
                          counter: BracketCounter? = nil) -> [(RankThreshold, [Int: Int])?] {
        let sources = (queries.map(\.source).max() ?? 0) + 1
        // Sample: a short piece of every block, about 128 Ki values per source (only the pieces
        // are decoded).
        let parts = scan.sample(about: sampleSize) { chunk in magnitudes(chunk).flatMap { $0.map(Double.init) } }
        var samples = [[Float]](repeating: [], count: sources)
        for s in 0..<sources {
            samples[s].reserveCapacity(parts.reduce(0) { $0 + $1.count / sources })
            for part in parts {
                let each = part.count / sources
                for j in (s * each)..<((s + 1) * each) { samples[s].append(Float(part[j])) }
            }
        }
        // Brackets: sample quantiles at p ± δ, δ = 6 standard errors of a sample quantile (≥ 0.1%).
        var bounds: [(low: Float, high: Float)] = []
        for query in queries {
            let sample = samples[query.source]
            let k = sample.count
            guard k > 0 else { return [(RankThreshold, [Int: Int])?](repeating: nil, count: queries.count) }
            let p = Double(query.rank) / Double(n)
            let delta = max(6 * (p * (1 - p) / Double(k)).squareRoot(), 0.001)
            let lowIndex = Int(((p - delta) * Double(k)).rounded(.down)), highIndex = Int(((p + delta) * Double(k)).rounded(.up))
            let low: Float = lowIndex < 0 ? -1 : MergeKernels.selectRank(sample, rank: min(lowIndex, k - 1))
            let high: Float = highIndex >= k ? .infinity : MergeKernels.selectRank(sample, rank: highIndex)
            bounds.append((low, high))
        }
        // One pass: per block and query, [below, equal low, equal high, m, m values between].
        let sourceOf = queries.map(\.source), frozen = bounds
        let counts: BracketCounter = counter ?? { chunk, source, low, high, between in
            MergeKernels.bracketCounts(magnitudes(chunk)[source], low: low, high: high, between: &between)
        }
        let blocks = scan.map { chunk in
            var out: [Double] = [Double(chunk.range.lowerBound)]
            for (q, bound) in frozen.enumerated() {
                var between: [Double] = []
                let counts = counts(chunk, sourceOf[q], bound.low, bound.high, &between)
                out += [Double(counts.below), Double(counts.equalLow), Double(counts.equalHigh), Double(between.count)]
                out += between
            }
            return out
        }
        // Resolve each query exactly from the counts.
        var perBlock = [[(below: Int, equalLow: Int, equalHigh: Int, between: ArraySlice<Double>)]](repeating: [], count: queries.count)
        var starts: [Int] = []
        for block in blocks {
            starts.append(Int(block[0]))
            var at = 1
            for q in queries.indices {
                let m = Int(block[at + 3])
                perBlock[q].append((Int(block[at]), Int(block[at + 1]), Int(block[at + 2]), block[(at + 4)..<(at + 4 + m)]))
                at += 4 + m
            }
        }
        return queries.indices.map { q -> (RankThreshold, [Int: Int])? in
            let rows = perBlock[q], rank = queries[q].rank, bound = bounds[q]
            let below = rows.reduce(0) { $0 + $1.below }, equalLow = rows.reduce(0) { $0 + $1.equalLow }
            let equalHigh = bound.low == bound.high ? 0 : rows.reduce(0) { $0 + $1.equalHigh }
            let between = rows.flatMap { $0.between.map { Float($0) } }
            let threshold: RankThreshold
            let tiesIn: ((below: Int, equalLow: Int, equalHigh: Int, between: ArraySlice<Double>)) -> Int
            if rank < below {
                return nil
            } else if rank < below + equalLow {
                threshold = RankThreshold(value: bound.low, below: below, equal: equalLow)
                tiesIn = { $0.equalLow }
            } else if rank < below + equalLow + between.count {
                let value = MergeKernels.selectRank(between, rank: rank - below - equalLow)
                threshold = RankThreshold(value: value, below: below + equalLow + between.filter { $0 < value }.count,
                                          equal: between.filter { $0 == value }.count)
                tiesIn = { row in row.between.filter { $0 == Double(value) }.count }
            } else if rank < below + equalLow + between.count + equalHigh {
                threshold = RankThreshold(value: bound.high, below: below + equalLow + between.count, equal: equalHigh)
                tiesIn = { $0.equalHigh }
            } else {
                return nil
            }
            var prefix: [Int: Int] = [:]
            if threshold.below < rank {
                var running = 0
                for (k, row) in rows.enumerated() {
                    prefix[starts[k]] = running
                    running += tiesIn(row)
                }
            }
            return (threshold, prefix)
        }
    }

    /// The histogram passes (see the file header).
    static func histogramThresholds(_ queries: [Query], scan: TensorScanner,
                                    magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]]) -> [(RankThreshold, [Int: Int])] {
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
                     magnitudes: @escaping @Sendable (ChunkInputs) -> [[Float]], counter: BracketCounter? = nil) -> [RankWindow] {
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
        let answers = MagnitudeSelection.thresholds(queries, count: n, scan: scan, magnitudes: magnitudes, counter: counter)
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

    /// The keep rule of a block of `count` elements from `chunkStart` as a magnitude window, or nil
    /// when ties at a bound split inside the block (index order decides; use ``keep(_:chunkStart:)``).
    func rule(chunkStart: Int, count: Int) -> KeepRule? {
        if dropAll { return .mask([Bool](repeating: false, count: count)) }
        var lowValue: Float = -.infinity, keepLow = true, highValue: Float = .infinity, keepHigh = true
        if let cut = low {
            // The tied elements still to drop when the block starts: none (all kept), all (≥ the block), or a split.
            let dropFirst = max(0, cut.tiedDropped - (cut.tiePrefix[chunkStart] ?? 0))
            guard dropFirst == 0 || dropFirst >= count else { return nil }
            lowValue = cut.threshold.value
            keepLow = dropFirst == 0
        }
        if let cut = high {
            // The tied elements still to keep: none, all, or a split.
            let keepFirst = max(0, (cut.threshold.equal - cut.tiedDropped) - (cut.tiePrefix[chunkStart] ?? 0))
            guard keepFirst == 0 || keepFirst >= count else { return nil }
            highValue = cut.threshold.value
            keepHigh = keepFirst > 0
        }
        return .window(low: lowValue, keepLow: keepLow, high: highValue, keepHigh: keepHigh)
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
