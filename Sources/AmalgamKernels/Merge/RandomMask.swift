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
                let index = UInt64(bitPattern: Int64(start + j))
                let bits = splitMix64(splitMix64(key &+ index &* 0x9E37_79B9_7F4A_7C15))
                o[j] = (bits >> 11) < threshold
            }
            initialized = count
        }
    }
}

extension MergeKernels {
    /// (Σ magnitudes, Σ magnitudes where keep), in Float64: the two norms of the L1 rescale.
    public static func maskedL1(_ magnitudes: [Float], keep: [Bool]) -> (total: Double, kept: Double) {
        precondition(magnitudes.count == keep.count, "maskedL1: length mismatch")
        var total = 0.0, kept = 0.0
        magnitudes.withUnsafeBufferPointer { ms in
            keep.withUnsafeBufferPointer { ks in
                // SAFETY: both buffers hold the same count (checked above); Bool is one byte, 0 or 1.
                guard let m = ms.baseAddress, let k = ks.baseAddress else { return }
                let bytes = UnsafeRawPointer(k)
                for j in 0..<ms.count {
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
                // SAFETY: fs holds n one-byte flags (0 or 1); word w covers flags [64w, 64w + 64) ∩ [0, n).
                guard let f = fs.baseAddress, let out = words.baseAddress else { return }
                for w in 0..<((n + 63) / 64) {
                    var word: UInt64 = 0
                    for k in 0..<min(64, n - w * 64) { word |= UInt64(f.load(fromByteOffset: w * 64 + k, as: UInt8.self)) << UInt64(k) }
                    out[w] = word
                }
            }
            initialized = (n + 63) / 64
        }
    }

    /// The first `count` flags of ``packFlags(_:)``'s words.
    public static func unpackFlags(_ words: [UInt64], count: Int) -> [Bool] {
        precondition(count <= words.count * 64, "unpackFlags: \(count) flags from \(words.count) words")
        return [Bool](unsafeUninitializedCapacity: count) { flags, initialized in
            words.withUnsafeBufferPointer { ws in
                // SAFETY: flags has room for count one-byte Bools, written as 0 or 1; word j / 64
                // exists (checked above).
                guard let out = flags.baseAddress.map(UnsafeMutableRawPointer.init), let w = ws.baseAddress else { return }
                for j in 0..<count { out.storeBytes(of: UInt8(truncatingIfNeeded: w[j >> 6] >> UInt64(j & 63) & 1), toByteOffset: j, as: UInt8.self) }
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
