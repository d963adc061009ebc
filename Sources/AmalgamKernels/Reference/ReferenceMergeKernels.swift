// Plain twins of MergeKernels, one element at a time, written for reading.

/// Reference: `acc[j] + scale · (x[j] − base[j])` where kept (everywhere without a mask).
public func referenceAddScaledDifference(_ accumulator: [Float], _ x: [Float], _ base: [Float], scale: Float, keep: [Bool]? = nil) -> [Float] {
    accumulator.indices.map { (keep?[$0] ?? true) ? accumulator[$0] + scale * (x[$0] - base[$0]) : accumulator[$0] }
}

/// Reference: TIES sign consensus (see MergeKernels.taskVectorConsensus).
public func referenceSignConsensus(base: [Float], models: [[Float]], keeps: [[Bool]?], scales: [Float], weights: [Float],
                                   normalize: Bool, lambda: Float) -> [Float] {
    let weighted = models.indices.map { i in base.indices.map { j in (keeps[i]?[j] ?? true) ? scales[i] * (models[i][j] - base[j]) : 0 } }
    return base.indices.map { j in
        var total: Float = 0
        for w in weighted { total += w[j] }
        var merged: Float = 0, divisor: Float = 0
        for (w, weight) in zip(weighted, weights) where w[j] != 0 && (w[j] > 0) == (total >= 0) {
            merged += w[j]
            divisor += weight
        }
        if divisor == 0 { divisor = 1 }
        return base[j] + lambda * (normalize ? merged / divisor : merged)
    }
}

/// Reference: the rank-window mask (see MergeKernels.windowMask).
public func referenceWindowMask(_ magnitudes: [Float], low: (value: Float, dropFirst: Int)?, high: (value: Float, keepFirst: Int)?) -> [Bool] {
    var lowSeen = 0, highSeen = 0
    return magnitudes.map { v in
        var keep = true
        if let low {
            if v < low.value { keep = false }
            if v == low.value {
                if lowSeen < low.dropFirst { keep = false }
                lowSeen += 1
            }
        }
        if let high {
            if v > high.value { keep = false }
            if v == high.value {
                if highSeen >= high.keepFirst { keep = false }
                highSeen += 1
            }
        }
        return keep
    }
}

/// Reference: sce's population variance per position (see MergeKernels.populationVariances).
public func referencePopulationVariances(_ tau: [[Double]]) -> [Float] {
    let m = tau.count
    return (0..<(tau.first?.count ?? 0)).map { j in
        var mean = 0.0
        for i in 0..<m { mean += tau[i][j] }
        mean /= Double(m)
        var sum = 0.0
        for i in 0..<m { sum += (tau[i][j] - mean) * (tau[i][j] - mean) }
        return Float(sum / Double(m))
    }
}

/// Reference: sce's weighted sign consensus (see MergeKernels.signConsensus).
public func referenceSCEConsensus(base: [Float], tau: [[Double]], weights: [Double]) -> [Float] {
    base.indices.map { j in
        var sum = 0.0
        for t in tau { sum += t[j] }
        var merged = 0.0, divisor = 0.0
        for (i, t) in tau.enumerated() where t[j] != 0 && (t[j] > 0) == (sum >= 0) {
            merged += weights[i] * t[j]
            divisor += weights[i]
        }
        return Float(Double(base[j]) + merged / max(divisor, 1e-6))
    }
}
