// The elementwise hot loops of the merge methods, over Float32 buffers.
//
// Numerics: products and sums in Float32, each output rounded once to the output dtype by the
// caller; the handful of terms per element (one per input model) keeps the Float32 error at a
// few ulps, far inside every golden tolerance. Each kernel has a plain twin in
// Reference/ReferenceMergeKernels.swift, and the tests compare them at awkward lengths.

/// Elementwise merge kernels.
public enum MergeKernels {
    /// Σ_i weights[i] · tensors[i][j], accumulated in Float64 in model order and rounded to Float32
    /// once. The running sums are kept per strip of 1,024 elements (8 KiB, in L1) and each loop runs
    /// model by model over the strip, so the loops vectorize; the sums are the same as element by
    /// element.
    public static func weightedSum(_ tensors: [[Float]], weights: [Double]) -> [Float] {
        precondition(tensors.count == weights.count, "weightedSum: \(tensors.count) tensors, \(weights.count) weights")
        guard let n = tensors.first?.count else { return [] }
        precondition(tensors.allSatisfy { $0.count == n }, "weightedSum: length mismatch")
        let strip = 1024
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            withModelPointers(tensors) { xs in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: strip) { sums in
                    // SAFETY: out has capacity n and every tensor holds n elements (checked above);
                    // sums holds one strip.
                    guard let o = out.baseAddress, let s = sums.baseAddress else { return }
                    for start in stride(from: 0, to: n, by: strip) {
                        let count = min(strip, n - start)
                        s.update(repeating: 0, count: count)
                        for (i, weight) in weights.enumerated() {
                            let x = xs[i] + start
                            for j in 0..<count { s[j] += weight * Double(x[j]) }
                        }
                        let os = o + start
                        for j in 0..<count { os[j] = Float(s[j]) }
                    }
                }
            }
            initialized = n
        }
    }

    /// s0·a[j] + s1·b[j] in Float64, rounded to Float32 once (slerp's blend).
    public static func blend(_ a: [Float], _ b: [Float], _ s0: Double, _ s1: Double) -> [Float] {
        precondition(a.count == b.count, "blend: length mismatch")
        return [Float](unsafeUninitializedCapacity: a.count) { out, initialized in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    // SAFETY: out has capacity a.count; a and b hold a.count elements.
                    guard let o = out.baseAddress, let x = ap.baseAddress, let y = bp.baseAddress else { return }
                    for j in 0..<ap.count { o[j] = Float(s0 * Double(x[j]) + s1 * Double(y[j])) }
                }
            }
            initialized = a.count
        }
    }

    /// (Σ a², Σ b², Σ a·b) in Float64. Each sum is kept in eight running partial sums (lane j
    /// mod 8), added up at the end; the order depends only on the block, never on threads. The
    /// inputs are widened per 1,024-element strip first (a loop that vectorizes; widening inside
    /// the vector loop went lane by lane).
    public static func normsAndDot(_ a: [Float], _ b: [Float]) -> (aa: Double, bb: Double, ab: Double) {
        precondition(a.count == b.count, "normsAndDot: length mismatch")
        typealias V = SIMD4<Double>
        let strip = 1024
        var aa = (V(), V()), bb = (V(), V()), ab = (V(), V())
        var tail = (0.0, 0.0, 0.0)
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * strip) { wide in
                    // SAFETY: a and b hold ap.count elements; wide holds two strips; the vector
                    // loop stops at a multiple of 8 within the strip.
                    guard let x = ap.baseAddress, let y = bp.baseAddress, let p = wide.baseAddress else { return }
                    let q = p + strip
                    let n = ap.count
                    for start in stride(from: 0, to: n, by: strip) {
                        let count = min(strip, n - start)
                        let xs = x + start, ys = y + start
                        for j in 0..<count { p[j] = Double(xs[j]) }
                        for j in 0..<count { q[j] = Double(ys[j]) }
                        let whole = count / 8 * 8
                        let pr = UnsafeRawPointer(p), qr = UnsafeRawPointer(q)
                        for j in stride(from: 0, to: whole, by: 8) {
                            let u0 = pr.loadUnaligned(fromByteOffset: j * 8, as: V.self)
                            let u1 = pr.loadUnaligned(fromByteOffset: j * 8 + 32, as: V.self)
                            let v0 = qr.loadUnaligned(fromByteOffset: j * 8, as: V.self)
                            let v1 = qr.loadUnaligned(fromByteOffset: j * 8 + 32, as: V.self)
                            aa.0 += u0 * u0; aa.1 += u1 * u1
                            bb.0 += v0 * v0; bb.1 += v1 * v1
                            ab.0 += u0 * v0; ab.1 += u1 * v1
                        }
                        for j in whole..<count {
                            tail.0 += p[j] * p[j]
                            tail.1 += q[j] * q[j]
                            tail.2 += p[j] * q[j]
                        }
                    }
                }
            }
        }
        return ((aa.0 + aa.1).sum() + tail.0, (bb.0 + bb.1).sum() + tail.1, (ab.0 + ab.1).sum() + tail.2)
    }

    /// |x − base|, elementwise.
    public static func absoluteDifference(_ x: [Float], _ base: [Float]) -> [Float] {
        precondition(x.count == base.count, "absoluteDifference: length mismatch")
        return [Float](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { xs in
                base.withUnsafeBufferPointer { bs in
                    // SAFETY: out has capacity x.count; both inputs hold x.count elements.
                    guard let o = out.baseAddress, let xp = xs.baseAddress, let bp = bs.baseAddress else { return }
                    for j in 0..<xs.count { o[j] = abs(xp[j] - bp[j]) }
                }
            }
            initialized = x.count
        }
    }

    /// Keep flags of a rank window over magnitudes. Elements below `low.value` or above
    /// `high.value` are dropped. Of the elements equal to `low.value`, the first `low.dropFirst`
    /// (in index order) are dropped; of those equal to `high.value`, only the first
    /// `high.keepFirst` are kept. An element equal to both bounds must pass both rules.
    public static func windowMask(_ magnitudes: [Float], low: (value: Float, dropFirst: Int)?, high: (value: Float, keepFirst: Int)?) -> [Bool] {
        let n = magnitudes.count
        let lowValue = low?.value ?? -.infinity, highValue = high?.value ?? .infinity
        let dropFirst = low?.dropFirst ?? 0, keepFirst = high?.keepFirst ?? 0
        let hasLow = low != nil, hasHigh = high != nil
        return [Bool](unsafeUninitializedCapacity: n) { out, initialized in
            magnitudes.withUnsafeBufferPointer { ms in
                // SAFETY: out has capacity n; ms holds n elements. Flags are written as their
                // bytes (0 or 1), which is how Bool is stored.
                guard let m = ms.baseAddress, let o = out.baseAddress else { return }
                let flags = UnsafeMutableRawPointer(o)
                // Pass 1 (vectorizes): strictly inside the bounds, and how many sit on each bound.
                // A missing bound is NaN, which compares false with everything: nothing lies on
                // or beyond it. NaN magnitudes are kept, as the reference keeps them.
                let lowBound: Float = hasLow ? lowValue : .nan, highBound: Float = hasHigh ? highValue : .nan
                let lo = SIMD8<Float>(repeating: lowBound), hi = SIMD8<Float>(repeating: highBound)
                let zero = SIMD8<Int32>(repeating: 0)
                var lowCounts = zero, highCounts = zero
                let whole = n / 8 * 8
                for j in stride(from: 0, to: whole, by: 8) {
                    let v = UnsafeRawPointer(m + j).loadUnaligned(as: SIMD8<Float>.self)
                    let outside = (v .<= lo) .| (v .>= hi)
                    let bytes = SIMD8<UInt8>(truncatingIfNeeded: SIMD8<Int32>(repeating: 1).replacing(with: 0, where: outside))
                    flags.storeBytes(of: bytes, toByteOffset: j, as: SIMD8<UInt8>.self)
                    lowCounts &+= zero.replacing(with: 1, where: v .== lo)
                    highCounts &+= zero.replacing(with: 1, where: v .== hi)
                }
                var lowTies = Int(lowCounts.wrappedSum()), highTies = Int(highCounts.wrappedSum())
                for j in whole..<n {
                    let v = m[j]
                    flags.storeBytes(of: v <= lowBound || v >= highBound ? 0 : 1, toByteOffset: j, as: UInt8.self)
                    lowTies += v == lowBound ? 1 : 0
                    highTies += v == highBound ? 1 : 0
                }
                // Elements on a bound: all dropped, all kept, or (rarely) split by index.
                let lowAll = hasLow && lowTies > 0 && dropFirst == 0
                let lowSplit = hasLow && lowTies > 0 && dropFirst > 0 && dropFirst < lowTies
                let highAll = hasHigh && highTies > 0 && keepFirst >= highTies
                let highSplit = hasHigh && highTies > 0 && keepFirst > 0 && keepFirst < highTies
                if (hasLow && hasHigh && lowValue == highValue && lowTies > 0) || lowSplit || highSplit {
                    var lowSeen = 0, highSeen = 0
                    for j in 0..<n where m[j] == lowValue || m[j] == highValue {
                        let v = m[j]
                        var keep = true
                        if hasLow && v == lowValue {
                            keep = keep && lowSeen >= dropFirst
                            lowSeen += 1
                        }
                        if hasHigh && v == highValue {
                            keep = keep && highSeen < keepFirst
                            highSeen += 1
                        }
                        flags.storeBytes(of: keep ? 1 : 0, toByteOffset: j, as: UInt8.self)
                    }
                    return
                }
                if lowAll {
                    for j in 0..<n where m[j] == lowValue { flags.storeBytes(of: 1, toByteOffset: j, as: UInt8.self) }
                }
                if highAll {
                    for j in 0..<n where m[j] == highValue { flags.storeBytes(of: 1, toByteOffset: j, as: UInt8.self) }
                }
            }
            initialized = n
        }
    }

    /// The value of ascending rank `rank` among non-negative floats (no NaN), in linear time: a
    /// histogram of the top 16 bits of the bit patterns (which sort like the values), then one
    /// of the low 16 bits inside the bin that holds the rank.
    public static func selectRank(_ values: [Float], rank: Int) -> Float {
        precondition(rank >= 0 && rank < values.count, "selectRank: rank \(rank) outside \(values.count) values")
        var high = [Int](repeating: 0, count: 1 << 16)
        for x in values { high[Int(x.bitPattern >> 16)] += 1 }
        var seen = 0, top = 0
        while seen + high[top] <= rank {
            seen += high[top]
            top += 1
        }
        var low = [Int](repeating: 0, count: 1 << 16)
        for x in values where Int(x.bitPattern >> 16) == top { low[Int(x.bitPattern & 0xFFFF)] += 1 }
        var bottom = 0
        while seen + low[bottom] <= rank {
            seen += low[bottom]
            bottom += 1
        }
        return Float(bitPattern: UInt32(top) << 16 | UInt32(bottom))
    }

    /// Adds a histogram of the top 16 bits of each value's bit pattern into `bins[offset...]`.
    public static func histogramHigh16(_ values: [Float], into bins: inout [Double], offset: Int) {
        precondition(offset >= 0 && offset + 65_536 <= bins.count || offset + 32_768 <= bins.count, "histogram bins too small")
        bins.withUnsafeMutableBufferPointer { bp in
            values.withUnsafeBufferPointer { vs in
                // SAFETY: values are non-negative magnitudes, so their top 16 bits are < 32,768,
                // inside bins[offset ..< offset + 32,768] (checked above).
                guard let b = bp.baseAddress, let v = vs.baseAddress else { return }
                for j in 0..<vs.count { b[offset + Int(v[j].bitPattern >> 16 & 0x7FFF)] += 1 }
            }
        }
    }

    /// Adds a histogram of the low 16 bits of the values whose top 16 bits equal `top`.
    public static func histogramLow16(_ values: [Float], top: UInt32, into bins: inout [Double], offset: Int) {
        precondition(offset >= 0 && offset + 65_536 <= bins.count, "histogram bins too small")
        bins.withUnsafeMutableBufferPointer { bp in
            values.withUnsafeBufferPointer { vs in
                // SAFETY: the low 16 bits index bins[offset ..< offset + 65,536] (checked above).
                guard let b = bp.baseAddress, let v = vs.baseAddress else { return }
                for j in 0..<vs.count where v[j].bitPattern >> 16 == top { b[offset + Int(v[j].bitPattern & 0xFFFF)] += 1 }
            }
        }
    }
}
