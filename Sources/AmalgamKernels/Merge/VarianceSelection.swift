// The per-block loops of sce (Select, Calculate, Erase): task vectors in Float64, their
// population variance across models, zeroing outside the kept positions, and the weighted sign
// consensus. Loops run model by model over contiguous rows, so they vectorize; every position
// still combines its models in model order, so the values equal those of a position-by-position
// loop bit for bit (the twins in Reference/ReferenceMergeKernels.swift; the tests compare them).

extension MergeKernels {
    /// τ_i[j] = Double(x_i[j]) − Double(base[j]) for every model.
    public static func taskVectors(_ models: [[Float]], base: [Float]) -> [[Double]] {
        base.withUnsafeBufferPointer { bs in
            // SAFETY: mapRows checks that every row holds base.count elements.
            let b = bs.baseAddress
            return mapRows(models, count: bs.count) { x, j in Double(x[j]) - Double(b.unsafelyUnwrapped[j]) }
        }
    }

    /// Each row of n elements mapped element by element into a new Float64 row.
    @inline(__always)
    private static func mapRows<T>(_ rows: [[T]], count n: Int, _ element: (UnsafePointer<T>, Int) -> Double) -> [[Double]] {
        precondition(rows.allSatisfy { $0.count == n }, "row length mismatch")
        return rows.map { row in
            row.withUnsafeBufferPointer { rs in
                [Double](unsafeUninitializedCapacity: n) { out, initialized in
                    // SAFETY: out has capacity n; the row holds n elements (checked above).
                    if let o = out.baseAddress, let r = rs.baseAddress {
                        for j in 0..<n { o[j] = element(r, j) }
                    }
                    initialized = n
                }
            }
        }
    }

    /// sum[j] += Σ_i rows[i][j], rows in order (every row holds n elements).
    private static func addRows(_ rows: [[Double]], into sum: UnsafeMutablePointer<Double>, count n: Int) {
        for row in rows {
            row.withUnsafeBufferPointer { rs in
                // SAFETY: callers pass rows of n elements and a sum of n slots.
                guard let r = rs.baseAddress else { return }
                for j in 0..<n { sum[j] += r[j] }
            }
        }
    }

    /// Per position, the population variance of τ across models, in Float32:
    /// mean = (Σ_i τ_i)/m, then Σ_i (τ_i − mean)² / m.
    public static func populationVariances(_ tau: [[Double]]) -> [Float] {
        let m = tau.count, n = tau.first?.count ?? 0
        precondition(tau.allSatisfy { $0.count == n }, "populationVariances: length mismatch")
        var mean = [Double](repeating: 0, count: n), sum = [Double](repeating: 0, count: n)
        mean.withUnsafeMutableBufferPointer { ms in
            sum.withUnsafeMutableBufferPointer { ss in
                // SAFETY: mean, sum and every τ row hold n elements.
                guard let mp = ms.baseAddress, let sp = ss.baseAddress else { return }
                addRows(tau, into: mp, count: n)
                let count = Double(m)
                for j in 0..<n { mp[j] /= count }
                for t in tau {
                    t.withUnsafeBufferPointer { ts in
                        guard let tp = ts.baseAddress else { return }
                        for j in 0..<n {
                            let d = tp[j] - mp[j]
                            sp[j] += d * d
                        }
                    }
                }
            }
        }
        let count = Double(m)
        return sum.withUnsafeBufferPointer { ss in
            [Float](unsafeUninitializedCapacity: n) { out, initialized in
                // SAFETY: out has capacity n; ss holds n elements.
                if let o = out.baseAddress, let sp = ss.baseAddress {
                    for j in 0..<n { o[j] = Float(sp[j] / count) }
                }
                initialized = n
            }
        }
    }

    /// τ with every position whose flag is false set to 0.
    public static func keeping(_ tau: [[Double]], _ keep: [Bool]) -> [[Double]] {
        keep.withUnsafeBytes { ks in
            // SAFETY: ks holds keep.count one-byte flags (0 or 1) and mapRows checks every row has
            // that many elements. Masking the bits, not branching: the flags are random.
            let k = ks.baseAddress
            return mapRows(tau, count: ks.count) { t, j in
                Double(bitPattern: t[j].bitPattern & (0 &- UInt64(k.unsafelyUnwrapped.load(fromByteOffset: j, as: UInt8.self))))
            }
        }
    }

    /// sce's erase step and output: s = sign(Σ_i τ_i) (0 counts as +); a model agrees where
    /// τ_i ≠ 0 has that sign; `out = base + Σ_i w_i τ_i [agrees] / max(Σ_i w_i [agrees], 1e-6)`,
    /// in Float64, rounded once.
    public static func signConsensus(base: [Float], tau: [[Double]], weights: [Double]) -> [Float] {
        let n = base.count
        precondition(tau.count == weights.count && tau.allSatisfy { $0.count == n }, "signConsensus: length mismatch")
        var total = [Double](repeating: 0, count: n), merged = [Double](repeating: 0, count: n), divisor = [Double](repeating: 0, count: n)
        total.withUnsafeMutableBufferPointer { totals in
            merged.withUnsafeMutableBufferPointer { mergeds in
                divisor.withUnsafeMutableBufferPointer { divisors in
                    // SAFETY: every buffer and τ row holds n elements.
                    guard let s = totals.baseAddress, let mp = mergeds.baseAddress, let dp = divisors.baseAddress else { return }
                    addRows(tau, into: s, count: n)
                    for (i, t) in tau.enumerated() {
                        let weight = weights[i]
                        t.withUnsafeBufferPointer { ts in
                            guard let tp = ts.baseAddress else { return }
                            for j in 0..<n {
                                // Adding +0 leaves the sums' bits alone (they start at +0 and never
                                // become −0); masks, not branches, since agreement is random.
                                let t = tp[j]
                                let agrees = (t != 0 ? UInt64.max : 0) & ((t > 0) == (s[j] >= 0) ? UInt64.max : 0)
                                mp[j] += Double(bitPattern: (weight * t).bitPattern & agrees)
                                dp[j] += Double(bitPattern: weight.bitPattern & agrees)
                            }
                        }
                    }
                }
            }
        }
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            base.withUnsafeBufferPointer { bs in
                merged.withUnsafeBufferPointer { ms in
                    divisor.withUnsafeBufferPointer { ds in
                        // SAFETY: out has capacity n; base, merged and divisor hold n elements.
                        guard let o = out.baseAddress, let b = bs.baseAddress, let mp = ms.baseAddress, let dp = ds.baseAddress else { return }
                        for j in 0..<n { o[j] = Float(Double(b[j]) + mp[j] / max(dp[j], 1e-6)) }
                    }
                }
            }
            initialized = n
        }
    }
}
