// The elementwise hot loops of the merge methods, over Float32 buffers.
//
// Numerics: products and sums in Float32, each output rounded once to the output dtype by the
// caller; the handful of terms per element (one per input model) keeps the Float32 error at a
// few ulps, far inside every golden tolerance. Each kernel has a plain twin in
// Reference/ReferenceMergeKernels.swift, and the tests compare them at awkward lengths.

/// Elementwise merge kernels.
public enum MergeKernels {
    /// `accumulator[j] += scale · (x[j] − base[j])`, only where `keep[j]` when a mask is given.
    public static func addScaledDifference(_ accumulator: inout [Float], _ x: [Float], _ base: [Float], scale: Float, keep: [Bool]? = nil) {
        precondition(x.count == accumulator.count && base.count == accumulator.count && (keep?.count ?? x.count) == x.count,
                     "addScaledDifference: length mismatch")
        accumulator.withUnsafeMutableBufferPointer { acc in
            x.withUnsafeBufferPointer { xs in
                base.withUnsafeBufferPointer { bs in
                    // SAFETY: all buffers hold acc.count elements (checked above).
                    guard let a = acc.baseAddress, let xp = xs.baseAddress, let bp = bs.baseAddress else { return }
                    if let keep {
                        keep.withUnsafeBufferPointer { ks in
                            guard let k = ks.baseAddress else { return }
                            // Branch-free: multiply by the flag's byte, 0 or 1.
                            let bytes = UnsafeRawPointer(k)
                            for j in 0..<acc.count { a[j] += scale * (xp[j] - bp[j]) * Float(bytes.load(fromByteOffset: j, as: UInt8.self)) }
                        }
                    } else {
                        for j in 0..<acc.count { a[j] += scale * (xp[j] - bp[j]) }
                    }
                }
            }
        }
    }

    /// `out[j] = base[j] + factor · accumulator[j]`.
    public static func offset(_ base: [Float], by accumulator: [Float], factor: Float) -> [Float] {
        precondition(base.count == accumulator.count, "offset: length mismatch")
        return [Float](unsafeUninitializedCapacity: base.count) { out, initialized in
            base.withUnsafeBufferPointer { bs in
                accumulator.withUnsafeBufferPointer { acc in
                    // SAFETY: out has capacity base.count; the inputs hold base.count elements.
                    guard let o = out.baseAddress, let b = bs.baseAddress, let a = acc.baseAddress else { return }
                    for j in 0..<bs.count { o[j] = b[j] + factor * a[j] }
                }
            }
            initialized = base.count
        }
    }

    /// TIES sign consensus, fused: with W_i = keep_i · scale_i · (x_i − base),
    /// s = sign(Σ_i W_i) (0 counts as +); merged = Σ_i W_i·[sign W_i = s]; divisor = Σ_i w_i·[…]
    /// (0 → 1); `out = base + lambda · (normalize ? merged / divisor : merged)`.
    /// `keeps[i] == nil` keeps every element of model i.
    public static func signConsensus(base: [Float], models: [[Float]], keeps: [[Bool]?], scales: [Float], weights: [Float],
                                     normalize: Bool, lambda: Float) -> [Float] {
        let n = base.count
        precondition(models.count == keeps.count && models.count == scales.count && models.count == weights.count
                     && models.allSatisfy { $0.count == n } && keeps.allSatisfy { ($0?.count ?? n) == n }, "signConsensus: length mismatch")
        // W_i, materialized once per model.
        let weighted = models.indices.map { maskedScaledDifference(models[$0], base, keep: keeps[$0], scale: scales[$0]) }
        var total = [Float](repeating: 0, count: n)
        var merged = [Float](repeating: 0, count: n)
        var divisor = [Float](repeating: 0, count: n)
        total.withUnsafeMutableBufferPointer { tp in
            merged.withUnsafeMutableBufferPointer { mp in
                divisor.withUnsafeMutableBufferPointer { dp in
                    // SAFETY: every buffer holds n elements (checked above).
                    guard let t = tp.baseAddress, let m = mp.baseAddress, let d = dp.baseAddress else { return }
                    for w in weighted {
                        w.withUnsafeBufferPointer { wp in
                            guard let x = wp.baseAddress else { return }
                            for j in 0..<n { t[j] += x[j] }
                        }
                    }
                    for (w, weight) in zip(weighted, weights) {
                        w.withUnsafeBufferPointer { wp in
                            guard let x = wp.baseAddress else { return }
                            for j in 0..<n {
                                // Branch-free: x agrees with the elected sign when x·s > 0,
                                // s = +1 for a total ≥ 0 (zeros never agree).
                                let signed = t[j] >= 0 ? x[j] : -x[j]
                                m[j] += signed > 0 ? x[j] : 0
                                d[j] += signed > 0 ? weight : 0
                            }
                        }
                    }
                }
            }
        }
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            base.withUnsafeBufferPointer { bs in
                merged.withUnsafeBufferPointer { mp in
                    divisor.withUnsafeBufferPointer { dp in
                        // SAFETY: out has capacity n; the inputs hold n elements.
                        guard let o = out.baseAddress, let b = bs.baseAddress, let m = mp.baseAddress, let d = dp.baseAddress else { return }
                        for j in 0..<n {
                            let div: Float = d[j] == 0 ? 1 : d[j]
                            o[j] = b[j] + lambda * (normalize ? m[j] / div : m[j])
                        }
                    }
                }
            }
            initialized = n
        }
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
        var lowSeen = 0, highSeen = 0
        return [Bool](unsafeUninitializedCapacity: n) { out, initialized in
            magnitudes.withUnsafeBufferPointer { ms in
                // SAFETY: out has capacity n; ms holds n elements.
                guard let o = out.baseAddress, let m = ms.baseAddress else { return }
                // Pass 1, branch-free: strictly inside the bounds.
                var ties = false
                for j in 0..<n {
                    let v = m[j]
                    o[j] = min(v - lowValue, highValue - v) > 0
                    ties = ties || v == lowValue || v == highValue
                }
                guard ties else { return }
                // Pass 2: elements on a bound, in index order.
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
                    o[j] = keep
                }
            }
            initialized = n
        }
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

    /// `scale · (x − base)`, with dropped elements (keep[j] false) zero.
    public static func maskedScaledDifference(_ x: [Float], _ base: [Float], keep: [Bool]?, scale: Float) -> [Float] {
        precondition(x.count == base.count && (keep?.count ?? x.count) == x.count, "maskedScaledDifference: length mismatch")
        let n = x.count
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            x.withUnsafeBufferPointer { xs in
                base.withUnsafeBufferPointer { bs in
                    // SAFETY: out has capacity n; x, base (and keep) hold n elements.
                    guard let o = out.baseAddress, let xp = xs.baseAddress, let bp = bs.baseAddress else { return }
                    if let keep {
                        keep.withUnsafeBufferPointer { ks in
                            guard let k = ks.baseAddress else { return }
                            // Branch-free (a branch per element mispredicts on random masks): multiply
                            // by the flag's byte, 0 or 1. A dropped negative delta becomes −0, which
                            // adds and compares like 0.
                            let bytes = UnsafeRawPointer(k)
                            for j in 0..<n { o[j] = scale * (xp[j] - bp[j]) * Float(bytes.load(fromByteOffset: j, as: UInt8.self)) }
                        }
                    } else {
                        for j in 0..<n { o[j] = scale * (xp[j] - bp[j]) }
                    }
                }
            }
            initialized = n
        }
    }
}
