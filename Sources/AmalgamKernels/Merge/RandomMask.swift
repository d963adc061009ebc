// Bernoulli keep-masks from a counter-based stream: element j is kept when
// u_j = (mix(mix(key + j·φ)) >> 11) · 2^-53 < probability, the same draw as
// AmalgamCore.SeededRandom.uniformDouble(at:) (whose mixing this file owns); also the packing
// of drawn masks kept between passes, and the radix sort behind DELLA's per-row ranks.

/// SplitMix64's finaliser (Steele, Lea, Flood 2014).
@inlinable
public func splitMix64(_ value: UInt64) -> UInt64 {
    var z = value
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

extension MergeKernels {
    /// Keep flags for elements `start ..< start + count` of the stream `key`.
    public static func bernoulliMask(key: UInt64, start: Int, count: Int, probability: Double) -> [Bool] {
        // u < p  ⟺  (bits >> 11) < p · 2^53 (a power-of-two scale: exact) ⟺  (bits >> 11) < ⌈p · 2^53⌉,
        // an integer compare (no conversion per element).
        let scaled = (min(max(probability, 0), 1) * 0x1p53).rounded(.up)
        let threshold = UInt64(scaled)
        return [Bool](unsafeUninitializedCapacity: count) { out, initialized in
            // SAFETY: out has capacity `count`; every index below is < count.
            guard let o = out.baseAddress else { return }
            for j in 0..<count {
                let index = UInt64(bitPattern: Int64(start &+ j))
                let bits = splitMix64(splitMix64(key &+ index &* 0x9E37_79B9_7F4A_7C15))
                o[j] = (bits >> 11) < threshold
            }
            initialized = count
        }
    }
}

extension MergeKernels {
    /// (Σ magnitudes, Σ magnitudes where keep), in Float64: the two norms of the L1 rescale.
    ///
    /// Eight running sums each (element j goes to sum j % 8), added together at the end: one
    /// chain of Float64 additions was latency-bound (4 cycles an element, 15% of a dare_ties run).
    /// The order depends only on the block, so the result does not depend on the thread count.
    public static func maskedL1(_ magnitudes: [Float], keep: [Bool]) -> (total: Double, kept: Double) {
        precondition(magnitudes.count == keep.count, "maskedL1: length mismatch")
        var totals = SIMD8<Double>(repeating: 0), keptSums = SIMD8<Double>(repeating: 0)
        var total = 0.0, kept = 0.0
        magnitudes.withUnsafeBufferPointer { ms in
            keep.withUnsafeBufferPointer { ks in
                // SAFETY: both buffers hold the same count (checked above); Bool is one byte, 0 or 1.
                guard let m = ms.baseAddress, let k = ks.baseAddress else { return }
                let bytes = UnsafeRawPointer(k)
                let n = ms.count, whole = n / 8 * 8
                for j in stride(from: 0, to: whole, by: 8) {
                    for l in 0..<8 {
                        let v = Double(m[j &+ l])
                        totals[l] += v
                        keptSums[l] += v * Double(bytes.load(fromByteOffset: j &+ l, as: UInt8.self))
                    }
                }
                for l in 0..<8 {
                    total += totals[l]
                    kept += keptSums[l]
                }
                for j in whole..<n {
                    let v = Double(m[j])
                    total += v
                    kept += v * Double(bytes.load(fromByteOffset: j, as: UInt8.self))
                }
            }
        }
        return (total, kept)
    }
}

extension MergeKernels {
    /// Keep flags packed 64 to a word (flag j is bit j % 64 of word j / 64).
    public static func packFlags(_ flags: [Bool]) -> [UInt64] {
        let n = flags.count
        return [UInt64](unsafeUninitializedCapacity: (n + 63) / 64) { words, initialized in
            flags.withUnsafeBytes { fs in
                // SAFETY: fs holds n one-byte flags (0 or 1); word w covers flags [64w, 64w + 64) ∩ [0, n);
                // the eight-byte loads of a whole word stay below 64w + 64 ≤ n.
                guard let f = fs.baseAddress, let out = words.baseAddress else { return }
                let whole = n / 64
                for w in 0..<whole {
                    var word: UInt64 = 0
                    for g in 0..<8 {
                        word |= gatherFlagBits(f.loadUnaligned(fromByteOffset: w &* 64 &+ g &* 8, as: UInt64.self)) << UInt64(g &* 8)
                    }
                    out[w] = word
                }
                if whole * 64 < n {
                    var word: UInt64 = 0
                    for k in 0..<(n - whole * 64) { word |= UInt64(f.load(fromByteOffset: whole * 64 + k, as: UInt8.self)) << UInt64(k) }
                    out[whole] = word
                }
            }
            initialized = (n + 63) / 64
        }
    }

    /// The eight one-byte flags (each 0 or 1) of a little-endian word as the low eight bits, flag
    /// k at bit k: the product places flag k at bit 56 + k, and no other partial product reaches
    /// bits 56...63 (checked for all 256 patterns by the round-trip test).
    @inline(__always)
    static func gatherFlagBits(_ eightFlags: UInt64) -> UInt64 {
        (UInt64(littleEndian: eightFlags) &* 0x0102_0408_1020_4080) >> 56
    }

    /// The low eight bits of `bits` as eight one-byte flags (0 or 1), bit k in byte k (little-endian
    /// memory order): bit k is isolated in byte k, at position k, and adding 0x7F to each byte
    /// carries into its top bit exactly when that bit was set.
    @inline(__always)
    static func spreadFlagBits(_ bits: UInt64) -> UInt64 {
        let isolated = (bits & 0xFF) &* 0x0101_0101_0101_0101 & 0x8040_2010_0804_0201
        return ((isolated &+ 0x7F7F_7F7F_7F7F_7F7F) >> 7 & 0x0101_0101_0101_0101).littleEndian
    }

    /// The first `count` flags of ``packFlags(_:)``'s words.
    public static func unpackFlags(_ words: [UInt64], count: Int) -> [Bool] {
        precondition(count <= words.count * 64, "unpackFlags: \(count) flags from \(words.count) words")
        return [Bool](unsafeUninitializedCapacity: count) { flags, initialized in
            words.withUnsafeBufferPointer { ws in
                // SAFETY: flags has room for count one-byte Bools, written as 0 or 1 (eight at a time
                // below count / 8 · 8); word j / 64 exists (checked above).
                guard let out = flags.baseAddress.map(UnsafeMutableRawPointer.init), let w = ws.baseAddress else { return }
                let groups = count / 8
                for g in 0..<groups {
                    out.storeBytes(of: spreadFlagBits(w[g >> 3] >> UInt64((g & 7) &* 8)), toByteOffset: g &* 8, as: UInt64.self)
                }
                for j in (groups * 8)..<count {
                    out.storeBytes(of: UInt8(truncatingIfNeeded: w[j >> 6] >> UInt64(j & 63) & 1), toByteOffset: j, as: UInt8.self)
                }
            }
            initialized = count
        }
    }

    /// Sorts `keys` ascending: LSD radix sort, 8 bits a pass, skipping the passes whose digit is
    /// the same in every key (for DELLA's per-row (|δ| bits, index) keys, faster than a
    /// comparison sort; the keys are distinct, so stability does not matter to the result).
    public static func radixSort(_ keys: inout [UInt64]) {
        let n = keys.count
        guard n > 1 else { return }
        var scratch = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: 256)
        var inScratch = false
        keys.withUnsafeMutableBufferPointer { a in
            scratch.withUnsafeMutableBufferPointer { b in
                counts.withUnsafeMutableBufferPointer { c in
                    // SAFETY: a and b hold n keys; c holds 256 counts indexed by a byte; every
                    // scatter position is a running offset below n.
                    guard var source = a.baseAddress, var target = b.baseAddress, let count = c.baseAddress else { return }
                    for shift in stride(from: UInt64(0), to: 64, by: 8) {
                        c.update(repeating: 0)
                        for j in 0..<n { count[Int(truncatingIfNeeded: source[j] >> shift & 0xFF)] += 1 }
                        if count[Int(truncatingIfNeeded: source[0] >> shift & 0xFF)] == n { continue }
                        var offset = 0
                        for digit in 0..<256 {
                            let c = count[digit]
                            count[digit] = offset
                            offset += c
                        }
                        for j in 0..<n {
                            let key = source[j]
                            let digit = Int(truncatingIfNeeded: key >> shift & 0xFF)
                            target[count[digit]] = key
                            count[digit] += 1
                        }
                        swap(&source, &target)
                        inScratch.toggle()
                    }
                }
            }
        }
        if inScratch { keys = scratch }
    }
}
