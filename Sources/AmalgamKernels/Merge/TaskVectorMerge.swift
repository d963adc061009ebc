// The task-vector merge of one block, fused: per model, one loop forms δ_i = x_i − base, decides
// which elements survive and adds the scaled survivors straight into the sum (or, for TIES sign
// consensus, into the running total and a per-model row); no |δ| arrays or per-model masks in
// between. Model-by-model loops over the cache-resident block beat one loop over
// elements with an inner loop over models (measured by Benchmarks/MergeKernelBenchmark): each loop
// has one rule kind and vectorizes. Two models kept whole or by a magnitude cut (task arithmetic,
// most TIES tensors) are the exception: one loop over both, written so that it vectorizes.
//
// Which elements survive is a `KeepRule` per model: all of them, a precomputed mask (random drops,
// index-ordered tie splits), or a magnitude window tested on the fly against |δ_i|. The counting
// loop of the rank selection (`bracketCounts`) lives here too, over stored magnitudes or over
// |x − base| directly.
// Products and sums are Float32 in model order, as the reference twins in
// Reference/ReferenceMergeKernels.swift compute them; the tests compare the two.

/// The vector type of the counting loop: eight lanes, one AVX2 register (the x86-64 build targets
/// AVX2, see Package.swift; on baseline SSE2 four lanes were faster, as eight cost a mask
/// repacking per comparison) and two NEON registers on arm64.
private typealias V<T: SIMDScalar> = SIMD8<T>
private let width = V<Float>.scalarCount
/// Elements per strip of the TIES consensus loops (its work rows then fit in L1).
private let consensusStrip = 1024

/// Which elements of one task vector survive, for one block.
public enum KeepRule: Sendable, Equatable {
    /// Every element.
    case all
    /// Elements whose flag is true (one flag per element of the block).
    case mask([Bool])
    /// Elements whose magnitude a = |δ| passes the window: dropped when a < low, a > high,
    /// a == low and not keepLow, or a == high and not keepHigh. A NaN magnitude is kept.
    /// Use −∞ / +∞ (with keep true) for a missing bound.
    case window(low: Float, keepLow: Bool, high: Float, keepHigh: Bool)
}

extension MergeKernels {
    /// A keep rule flattened for the hot loops.
    private struct FlatRule {
        enum Kind: UInt8 { case all, mask, below, window }
        var kind: Kind
        var mask: UnsafeRawPointer?
        /// `.below`: drop a < low (a ≤ t is a < t.nextUp for a finite t). `.window`: both bounds.
        var low: Float, high: Float
        var keepLow: Bool, keepHigh: Bool

        init(_ rule: KeepRule, mask: UnsafeRawPointer?) {
            self.mask = mask
            switch rule {
            case .all:
                (kind, low, high, keepLow, keepHigh) = (.all, 0, 0, true, true)
            case .mask:
                (kind, low, high, keepLow, keepHigh) = (.mask, 0, 0, true, true)
            case .window(let lo, let keepLo, let hi, let keepHi):
                if hi == .infinity && keepHi && lo.isFinite {
                    (kind, low, high, keepLow, keepHigh) = (.below, keepLo ? lo : lo.nextUp, hi, true, true)
                } else {
                    (kind, low, high, keepLow, keepHigh) = (.window, lo, hi, keepLo, keepHi)
                }
            }
        }

        /// Whether element j, whose task-vector entry is `d`, survives.
        @inline(__always)
        func keep(_ d: Float, at j: Int) -> Bool {
            switch kind {
            case .all:
                return true
            case .mask:
                // SAFETY: j < block length.
                return mask.unsafelyUnwrapped.load(fromByteOffset: j, as: UInt8.self) != 0
            case .below:
                return !(abs(d) < low)
            case .window:
                let a = abs(d)
                return !(a < low || a > high || (!keepLow && a == low) || (!keepHigh && a == high))
            }
        }
    }

    /// Runs `body` with the rules flattened (mask buffers pinned for the duration).
    private static func withFlatRules<R>(_ rules: [KeepRule], count n: Int, _ body: (UnsafePointer<FlatRule>) -> R) -> R {
        var flat: [FlatRule] = []
        flat.reserveCapacity(rules.count)
        // Each mask stays pinned (its closure still open) while `body` runs.
        func pin(_ k: Int) -> R {
            if k == rules.count { return flat.withUnsafeBufferPointer { body($0.baseAddress.unsafelyUnwrapped) } }
            guard case .mask(let flags) = rules[k] else {
                flat.append(FlatRule(rules[k], mask: nil))
                return pin(k + 1)
            }
            precondition(flags.count == n, "KeepRule.mask: \(flags.count) flags for \(n) elements")
            return flags.withUnsafeBytes { bytes in
                // An empty block has a nil base address; nothing is read then.
                flat.append(FlatRule(rules[k], mask: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 0x10).unsafelyUnwrapped))
                return pin(k + 1)
            }
        }
        return pin(0)
    }

    /// Runs `body` with the models' base addresses.
    static func withModelPointers<R>(_ models: [[Float]], _ body: (UnsafePointer<UnsafePointer<Float>>) -> R) -> R {
        var pointers: [UnsafePointer<Float>] = []
        func pin(_ k: Int) -> R {
            if k == models.count { return pointers.withUnsafeBufferPointer { body($0.baseAddress.unsafelyUnwrapped) } }
            return models[k].withUnsafeBufferPointer { buffer in
                // An empty block has a nil base address; nothing is read then.
                pointers.append(buffer.baseAddress ?? UnsafePointer(bitPattern: 0x10).unsafelyUnwrapped)
                return pin(k + 1)
            }
        }
        return pin(0)
    }

    /// Calls `body(j, keep(j) ? scale · (x[j] − base[j]) : 0)` for every j, one loop per rule kind
    /// (each inlines and vectorizes).
    @inline(__always)
    private static func forEachKept(_ rule: FlatRule, _ x: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count n: Int,
                                    scale s: Float, _ body: (Int, Float) -> Void) {
        // SAFETY: x and b hold n elements; a mask holds n bytes.
        switch rule.kind {
        case .all:
            for j in 0..<n { body(j, s * (x[j] - b[j])) }
        case .mask:
            let mask = rule.mask.unsafelyUnwrapped
            for j in 0..<n {
                let d = x[j] - b[j]
                body(j, mask.load(fromByteOffset: j, as: UInt8.self) != 0 ? s * d : 0)
            }
        case .below:
            let cut = rule.low
            for j in 0..<n {
                let d = x[j] - b[j]
                body(j, abs(d) < cut ? 0 : s * d)
            }
        case .window:
            for j in 0..<n {
                let d = x[j] - b[j]
                body(j, rule.keep(d, at: j) ? s * d : 0)
            }
        }
    }

    /// Pins a block's buffers for a fused loop: `body(out, base, models, rules, work)` with n-element
    /// output (to be filled), base and models, the flattened rules, and `workCount` zeroed floats.
    private static func withBlock(base: [Float], models: [[Float]], rules: [KeepRule], workCount: Int,
                                  _ body: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<UnsafePointer<Float>>,
                                           UnsafePointer<FlatRule>, UnsafeMutablePointer<Float>) -> Void) -> [Float] {
        let n = base.count
        precondition(rules.count == models.count && models.allSatisfy { $0.count == n }, "task-vector kernel: length mismatch")
        var work = [Float](repeating: 0, count: max(workCount, 1))
        return withFlatRules(rules, count: n) { flat in
            withModelPointers(models) { xs in
                work.withUnsafeMutableBufferPointer { wp in
                    [Float](unsafeUninitializedCapacity: n) { out, initialized in
                        base.withUnsafeBufferPointer { bs in
                            // SAFETY: out has capacity n; base and every model hold n elements (checked
                            // above); work holds workCount floats. An empty block runs no loop.
                            guard let o = out.baseAddress, let b = bs.baseAddress, let w = wp.baseAddress else { return }
                            body(o, b, xs, flat, w)
                        }
                        initialized = n
                    }
                }
            }
        }
    }

    /// `out = base + factor · Σ_i scales[i] · keep_i · (x_i − base)`, the sum taken in model order
    /// (task arithmetic, DARE, breadcrumbs, DELLA without consensus).
    public static func taskVectorSum(base: [Float], models: [[Float]], rules: [KeepRule], scales: [Float], factor: Float) -> [Float] {
        let n = base.count, m = models.count
        precondition(scales.count == m, "taskVectorSum: \(scales.count) scales for \(m) models")
        // The running sum per strip of `consensusStrip` elements, so it stays in L1.
        let strip = min(n, consensusStrip)
        // The first model's loop starts the sum (0 + v, as adding to a zeroed row would) and the
        // last one's finishes the output, so two models take two loops, not four.
        return withBlock(base: base, models: models, rules: rules, workCount: strip) { o, b, xs, flat, acc in
            // Task arithmetic of two models, the common case: one loop, the same operations in
            // the same order (0.13 against 0.23 ns per element, `MergeKernelBenchmark`).
            if m == 2, flat[0].kind == .all, flat[1].kind == .all {
                let (x0, x1, s0, s1) = (xs[0], xs[1], scales[0], scales[1])
                for j in 0..<n { o[j] = b[j] + factor * ((0 + s0 * (x0[j] - b[j])) + s1 * (x1[j] - b[j])) }
                return
            }
            for start in stride(from: 0, to: n, by: max(strip, 1)) {
                let count = min(strip, n - start)
                let bs = b + start, os = o + start
                guard m > 0 else {
                    for j in 0..<count { os[j] = bs[j] + factor * 0 }
                    continue
                }
                for i in 0..<m {
                    var rule = flat[i]
                    rule.mask = rule.mask.map { $0 + start }
                    let x = xs[i] + start
                    switch (i == 0, i == m - 1) {
                    case (true, true): forEachKept(rule, x, bs, count: count, scale: scales[i]) { j, v in os[j] = bs[j] + factor * (0 + v) }
                    case (true, false): forEachKept(rule, x, bs, count: count, scale: scales[i]) { j, v in acc[j] = 0 + v }
                    case (false, false): forEachKept(rule, x, bs, count: count, scale: scales[i]) { j, v in acc[j] += v }
                    case (false, true): forEachKept(rule, x, bs, count: count, scale: scales[i]) { j, v in os[j] = bs[j] + factor * (acc[j] + v) }
                    }
                }
            }
        }
    }

    /// ``taskVectorConsensus(base:models:rules:scales:weights:normalize:lambda:)`` for two models
    /// whose rules keep |δ| ≥ cut (a cut of 0 keeps everything, NaN included, as `.all` does).
    /// Sums start at +0 and add in model order, exactly as the general loops do. The choices are
    /// bit masks, not conditional expressions: written with `? :` the loop compiled to branches
    /// and ran at 1.4 ns per element; with masks it vectorizes (`MergeKernelBenchmark`).
    @inline(__always)
    private static func twoModelConsensus(_ o: UnsafeMutablePointer<Float>, _ b: UnsafePointer<Float>, _ x0: UnsafePointer<Float>,
                                          _ x1: UnsafePointer<Float>, count n: Int, cuts: (Float, Float), scales: (Float, Float),
                                          weights: (Float, Float), normalize: Bool, lambda: Float) {
        /// All ones when `condition` holds, else zero.
        @inline(__always) func ones(_ condition: Bool) -> UInt32 { 0 &- UInt32(condition ? 1 : 0) }
        /// `x` where `mask` is all ones, +0 where it is zero.
        @inline(__always) func kept(_ x: Float, _ mask: UInt32) -> Float { Float(bitPattern: x.bitPattern & mask) }
        let (c0, c1, s0, s1, u0, u1) = (cuts.0, cuts.1, scales.0, scales.1, weights.0, weights.1)
        let one = Float(1).bitPattern
        // SAFETY: every pointer holds n elements.
        for j in 0..<n {
            let d0 = x0[j] - b[j], d1 = x1[j] - b[j]
            let w0 = kept(s0 * d0, ones(!(abs(d0) < c0))), w1 = kept(s1 * d1, ones(!(abs(d1) < c1)))
            let total = (0 + w0) + w1
            // W agrees with the elected sign when W·s > 0: W itself, or −W (sign bit flipped) when total < 0.
            let flip = ones(!(total >= 0)) & 0x8000_0000
            let agree0 = ones(Float(bitPattern: w0.bitPattern ^ flip) > 0), agree1 = ones(Float(bitPattern: w1.bitPattern ^ flip) > 0)
            let merged = (0 + kept(w0, agree0)) + kept(w1, agree1)
            let divisor = (0 + kept(u0, agree0)) + kept(u1, agree1)
            let zero = ones(divisor == 0)
            let div = Float(bitPattern: (divisor.bitPattern & ~zero) | (one & zero))
            o[j] = b[j] + lambda * (normalize ? merged / div : merged)
        }
    }

    /// TIES sign consensus over the surviving task-vector entries W_i = keep_i · scales[i] · (x_i − base):
    /// s = sign(Σ_i W_i) (0 counts as +); merged = Σ_i W_i·[sign W_i = s] (zeros never agree);
    /// divisor = Σ_i weights[i]·[…] (0 → 1); `out = base + lambda · (normalize ? merged / divisor : merged)`.
    public static func taskVectorConsensus(base: [Float], models: [[Float]], rules: [KeepRule], scales: [Float], weights: [Float],
                                           normalize: Bool, lambda: Float) -> [Float] {
        let n = base.count, m = models.count
        precondition(scales.count == m && weights.count == m, "taskVectorConsensus: \(scales.count) scales, \(weights.count) weights for \(m) models")
        // Work, per strip of `consensusStrip` elements (so it stays in L1): the total, merged and
        // divisor rows, then W_i per model.
        let strip = min(n, consensusStrip)
        return withBlock(base: base, models: models, rules: rules, workCount: (3 + m) * strip) { o, b, xs, flat, t in
            // TIES of two models whose survivors are all elements or a magnitude cut (every
            // tensor but those with ties at the cut): one loop, the same operations in the same
            // order as the strips below.
            if m == 2, flat[0].kind == .all || flat[0].kind == .below, flat[1].kind == .all || flat[1].kind == .below {
                twoModelConsensus(o, b, xs[0], xs[1], count: n, cuts: (flat[0].kind == .all ? 0 : flat[0].low, flat[1].kind == .all ? 0 : flat[1].low),
                                  scales: (scales[0], scales[1]), weights: (weights[0], weights[1]), normalize: normalize, lambda: lambda)
                return
            }
            let merged = t + strip, divisor = t + 2 * strip
            for start in stride(from: 0, to: n, by: max(strip, 1)) {
                let count = min(strip, n - start)
                t.update(repeating: 0, count: 3 * strip)
                let bs = b + start
                for i in 0..<m {
                    let w = t + (3 + i) * strip
                    var rule = flat[i]
                    rule.mask = rule.mask.map { $0 + start }
                    forEachKept(rule, xs[i] + start, bs, count: count, scale: scales[i]) { j, v in
                        w[j] = v
                        t[j] += v
                    }
                }
                for i in 0..<m {
                    let w = t + (3 + i) * strip, weight = weights[i]
                    for j in 0..<count {
                        // W agrees with the elected sign when W·s > 0, s = +1 for a total ≥ 0.
                        let signed = t[j] >= 0 ? w[j] : -w[j]
                        merged[j] += signed > 0 ? w[j] : 0
                        divisor[j] += signed > 0 ? weight : 0
                    }
                }
                let os = o + start
                for j in 0..<count {
                    let div: Float = divisor[j] == 0 ? 1 : divisor[j]
                    os[j] = bs[j] + lambda * (normalize ? merged[j] / div : merged[j])
                }
            }
        }
    }

    /// Counts of `values` below `low`, equal to `low` and equal to `high`, and the values strictly
    /// between the two appended to `between` (in index order). For the bracketed rank selection.
    public static func bracketCounts(_ values: [Float], low: Float, high: Float, between: inout [Double]) -> (below: Int, equalLow: Int, equalHigh: Int) {
        values.withUnsafeBufferPointer { vs in
            // SAFETY: countBracket reads indices below vs.count only (whole vectors, then the tail).
            guard let v = vs.baseAddress else { return (0, 0, 0) }
            return countBracket(v, count: vs.count, low: low, high: high, between: &between)
        }
    }

    /// ``bracketCounts(_:low:high:between:)`` of the magnitudes |x − base|.
    ///
    /// The magnitudes are written out first (one block, in L2) and then counted: on AVX2 that is
    /// 0.24 ns per element against 0.38 ns for a loop that computes each vector of magnitudes as it
    /// counts (`MergeKernelBenchmark`; the lane extraction of the few values inside the bracket
    /// spills the computed vector on every iteration).
    public static func bracketCounts(differenceOf x: [Float], _ base: [Float], low: Float, high: Float,
                                     between: inout [Double]) -> (below: Int, equalLow: Int, equalHigh: Int) {
        precondition(x.count == base.count, "bracketCounts: length mismatch")
        return bracketCounts(absoluteDifference(x, base), low: low, high: high, between: &between)
    }

    /// The counting loop of ``bracketCounts(_:low:high:between:)`` over the n values at `v`.
    @inline(__always)
    private static func countBracket(_ v: UnsafePointer<Float>, count n: Int, low: Float, high: Float,
                                     between: inout [Double]) -> (below: Int, equalLow: Int, equalHigh: Int) {
        // Values strictly inside go to a scratch buffer first (no array growth in the loop), found
        // through a lane bitmask so the common group with none costs no branch per lane.
        // SAFETY: the scratch holds n values, at most n are stored, and only the first insideCount
        // (all written) are read; it is freed on return.
        let inside = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
        defer { inside.deallocate() }
        var insideCount = 0
        let lo = V<Float>(repeating: low), hi = V<Float>(repeating: high), zero = V<Int32>(repeating: 0)
        let lanes = V<Int32>((0..<width).map { Int32(1) << Int32($0) })
        var bl = zero, el = zero, eh = zero
        let whole = n / width * width
        for j in stride(from: 0, to: whole, by: width) {
            let a = UnsafeRawPointer(v + j).loadUnaligned(as: V<Float>.self)
            bl &+= zero.replacing(with: 1, where: a .< lo)
            el &+= zero.replacing(with: 1, where: a .== lo)
            eh &+= zero.replacing(with: 1, where: a .== hi)
            var bits = UInt32(zero.replacing(with: lanes, where: (a .> lo) .& (a .< hi)).wrappedSum())
            while bits != 0 {
                inside[insideCount] = a[Int(bits.trailingZeroBitCount)]
                insideCount += 1
                bits &= bits &- 1
            }
        }
        var below = Int(bl.wrappedSum()), equalLow = Int(el.wrappedSum()), equalHigh = Int(eh.wrappedSum())
        for j in whole..<n {
            let a = v[j]
            below += a < low ? 1 : 0
            equalLow += a == low ? 1 : 0
            equalHigh += a == high ? 1 : 0
            if a > low && a < high {
                inside[insideCount] = a
                insideCount += 1
            }
        }
        between.reserveCapacity(between.count + insideCount)
        for k in 0..<insideCount { between.append(Double(inside[k])) }
        return (below, equalLow, equalHigh)
    }
}
