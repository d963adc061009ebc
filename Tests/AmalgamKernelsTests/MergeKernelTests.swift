import AmalgamKernels
import Testing

@Suite("Merge kernels against their reference twins")
struct MergeKernelTests {
    static func values(_ n: Int, seed: UInt64, levels: Int = 41) -> [Float] {
        var state = seed
        return (0..<n).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 33) % levels - levels / 2) / 8   // many exact ties and zeros
        }
    }

    @Test("absoluteDifference")
    func absolute() {
        let x = Self.values(67, seed: 2), b = Self.values(67, seed: 3)
        #expect(MergeKernels.absoluteDifference(x, b) == x.indices.map { abs(x[$0] - b[$0]) })
    }

    /// Every kind of keep rule, with the flags each one means for the task vector x − base.
    static func rules(_ x: [Float], _ base: [Float], variant: Int) -> (KeepRule, [Bool]) {
        let a = x.indices.map { abs(x[$0] - base[$0]) }
        switch variant {
        case 0: return (.all, a.map { _ in true })
        case 1:
            let flags = a.indices.map { $0 % 3 != 1 }
            return (.mask(flags), flags)
        case 2: return (.window(low: 0.5, keepLow: true, high: .infinity, keepHigh: true), a.map { $0 >= 0.5 })
        case 3: return (.window(low: 0.5, keepLow: false, high: .infinity, keepHigh: true), a.map { $0 > 0.5 })
        case 4: return (.window(low: 0.25, keepLow: false, high: 1.5, keepHigh: true), a.map { $0 > 0.25 && $0 <= 1.5 })
        case 5: return (.window(low: -.infinity, keepLow: true, high: 1, keepHigh: false), a.map { $0 < 1 })
        default: return (.window(low: .infinity, keepLow: false, high: .infinity, keepHigh: true), a.map { _ in false })
        }
    }

    @Test("taskVectorSum and taskVectorConsensus equal their references bit for bit, for every keep rule", arguments: [0, 1, 7, 67, 4097])
    func fused(n: Int) {
        var base = Self.values(n, seed: 4)
        var models = [Self.values(n, seed: 5), Self.values(n, seed: 6), Self.values(n, seed: 7)]
        // Negative zeros where the first two models equal the base: with negative scales both of
        // their entries are −0, and only a sum started at +0 gives the reference's +0 there.
        for i in stride(from: 0, to: n, by: 11) {
            base[i] = -0.0
            models[0][i] = -0.0
            models[1][i] = -0.0
        }
        let scales: [Float] = [-1, -0.5, 2], weights: [Float] = [1, 0.5, 2]
        for variant in 0..<8 {
            // Model k gets rule variant (variant + k) % 7, so every kind meets every position;
            // variant 7 keeps everything in every model (task arithmetic).
            let pairs = models.indices.map { k in Self.rules(models[k], base, variant: variant == 7 ? 0 : (variant + k) % 7) }
            let rules = pairs.map(\.0), keeps = pairs.map(\.1)
            // Every model count up to three (two models with every rule `.all` has a loop of its
            // own), compared bit for bit, so the signs of zeros count.
            for count in 0...models.count {
                var accumulator = [Float](repeating: 0, count: n)
                for k in 0..<count { accumulator = referenceAddScaledDifference(accumulator, models[k], base, scale: scales[k], keep: keeps[k]) }
                let sum = base.indices.map { base[$0] + 0.75 * accumulator[$0] }
                let fast = MergeKernels.taskVectorSum(base: base, models: Array(models.prefix(count)), rules: Array(rules.prefix(count)),
                                                      scales: Array(scales.prefix(count)), factor: 0.75)
                #expect(fast.map(\.bitPattern) == sum.map(\.bitPattern), "variant \(variant), \(count) models")
            }
            // Two models whose rules are `.all` or a lower cut (variants 2 and 7) have a loop of their own.
            for count in 1...models.count {
                let (xs, kept, ss, ws) = (Array(models.prefix(count)), Array(keeps.prefix(count)), Array(scales.prefix(count)), Array(weights.prefix(count)))
                for normalize in [true, false] {
                    let fast = MergeKernels.taskVectorConsensus(base: base, models: xs, rules: Array(rules.prefix(count)), scales: ss, weights: ws,
                                                                normalize: normalize, lambda: 0.9)
                    let slow = referenceSignConsensus(base: base, models: xs, keeps: kept, scales: ss, weights: ws,
                                                      normalize: normalize, lambda: 0.9)
                    #expect(fast.map(\.bitPattern) == slow.map(\.bitPattern), "variant \(variant), \(count) models, normalize \(normalize)")
                }
            }
        }
    }

    @Test("weightedSum equals an element-by-element Float64 sum rounded once, across strip boundaries", arguments: [0, 1, 7, 1023, 1025, 4097])
    func weightedSum(n: Int) {
        let models = [Self.values(n, seed: 9), Self.values(n, seed: 10), Self.values(n, seed: 11)]
        let weights = [0.3, -1.7, 1e-3]
        let expected = (0..<n).map { j in
            var sum = 0.0
            for k in models.indices { sum += weights[k] * Double(models[k][j]) }
            return Float(sum)
        }
        #expect(MergeKernels.weightedSum(models, weights: weights) == expected)
    }

    @Test("slerp's blend and its norms-and-dot reduction equal Float64 element-by-element references", arguments: [0, 1, 7, 1023, 1025, 4097])
    func slerpKernels(n: Int) {
        let a = Self.values(n, seed: 12), b = Self.values(n, seed: 13)
        #expect(MergeKernels.blend(a, b, 0.37, -1.25) == (0..<n).map { Float(0.37 * Double(a[$0]) + -1.25 * Double(b[$0])) })
        var aa = 0.0, bb = 0.0, ab = 0.0
        for j in 0..<n {
            aa += Double(a[j]) * Double(a[j])
            bb += Double(b[j]) * Double(b[j])
            ab += Double(a[j]) * Double(b[j])
        }
        let fast = MergeKernels.normsAndDot(a, b)
        // Only the order of the additions differs.
        let scale = max(aa, bb, 1e-300)
        #expect(abs(fast.aa - aa) <= 1e-13 * scale && abs(fast.bb - bb) <= 1e-13 * scale && abs(fast.ab - ab) <= 1e-13 * scale)
        #expect(n == 0 || fast.aa > 0)
    }

    @Test("windowMask equals the reference, ties at either or both bounds", arguments: [0, 1, 7, 67, 4097])
    func window(n: Int) {
        var magnitudes = Self.values(n, seed: 8, levels: 9).map { abs($0) }   // values 0, 1/8 … 4/8: heavy ties
        if n > 7 {
            magnitudes[5] = .infinity
            magnitudes[6] = .nan
        }
        // Ties on a bound all dropped, all kept, or split by index (the fast paths and the slow one).
        let lows: [(value: Float, dropFirst: Int)?] = [nil, (0.125, 0), (0.25, 3), (0.25, 1_000_000), (0, 1)]
        let highs: [(value: Float, keepFirst: Int)?] = [nil, (0.375, 2), (0.25, 5), (0.375, 0), (0.375, 1_000_000), (.infinity, 0)]
        for low in lows {
            for high in highs {
                #expect(MergeKernels.windowMask(magnitudes, low: low, high: high) == referenceWindowMask(magnitudes, low: low, high: high),
                        "low \(String(describing: low)), high \(String(describing: high))")
            }
        }
    }

    @Test("bracketCounts and selectRank agree with sorting", arguments: [1, 7, 4097])
    func bracketAndSelect(n: Int) {
        let magnitudes = Self.values(n, seed: 10, levels: 17).map { abs($0) } + [0, 1e-30, 3.5]
        let sorted = magnitudes.sorted()
        for rank in Set([0, magnitudes.count / 3, magnitudes.count - 1]) {
            #expect(MergeKernels.selectRank(magnitudes, rank: rank) == sorted[rank])
        }
        var between: [Double] = [1]
        let counts = MergeKernels.bracketCounts(magnitudes, low: 0.125, high: 0.5, between: &between)
        #expect(counts.below == magnitudes.filter { $0 < 0.125 }.count)
        #expect(counts.equalLow == magnitudes.filter { $0 == 0.125 }.count && counts.equalHigh == magnitudes.filter { $0 == 0.5 }.count)
        #expect(between == [1] + magnitudes.filter { $0 > 0.125 && $0 < 0.5 }.map(Double.init), "appended in index order")
        // The fused form over x − base gives the same counts and values (−0 differences count as +0).
        let base = Self.values(magnitudes.count, seed: 11)
        var signs = magnitudes.indices.map { $0 % 2 == 0 ? magnitudes[$0] : -magnitudes[$0] }
        if signs.count > 3 { signs[3] = -0.0 }
        let x = signs.indices.map { base[$0] + signs[$0] }
        let differences = x.indices.map { abs(x[$0] - base[$0]) }
        for (low, high): (Float, Float) in [(0.125, 0.5), (-1, 0.25), (0, .infinity)] {
            var expected: [Double] = [], fused: [Double] = []
            let plain = MergeKernels.bracketCounts(differences, low: low, high: high, between: &expected)
            let fast = MergeKernels.bracketCounts(differenceOf: x, base, low: low, high: high, between: &fused)
            #expect(fast == plain && fused == expected && fused.allSatisfy { $0.sign == .plus }, "bracket \(low)…\(high)")
        }
    }

    @Test("The 16-bit histograms count every value once")
    func histograms() {
        let magnitudes = Self.values(5000, seed: 9).map { abs($0) }
        var high = [Double](repeating: 0, count: 2 * 32_768)
        MergeKernels.histogramHigh16(magnitudes, into: &high, offset: 32_768)
        #expect(high.reduce(0, +) == 5000 && high[0..<32_768].allSatisfy { $0 == 0 })
        let top = magnitudes[0].bitPattern >> 16
        var low = [Double](repeating: 0, count: 65_536)
        MergeKernels.histogramLow16(magnitudes, top: top, into: &low, offset: 0)
        #expect(Int(low.reduce(0, +)) == magnitudes.filter { $0.bitPattern >> 16 == top }.count)
    }

    @Test("bernoulliMask draws exactly what the one-at-a-time stream draws", arguments: [0.0, 0.3, 0.5, 1.0])
    func bernoulli(p: Double) {
        let key: UInt64 = 0xDEAD_BEEF
        let mask = MergeKernels.bernoulliMask(key: key, start: 1000, count: 4097, probability: p)
        let expected = (0..<4097).map { j -> Bool in
            let bits = splitMix64(splitMix64(key &+ UInt64(1000 + j) &* 0x9E37_79B9_7F4A_7C15))
            return Double(bits >> 11) * 0x1p-53 < p
        }
        #expect(mask == expected)
    }

    @Test("maskedL1 sums all and kept magnitudes")
    func maskedL1() {
        let m = Self.values(1001, seed: 11).map { abs($0) }
        let keep = m.indices.map { $0 % 3 == 0 }
        let (total, kept) = MergeKernels.maskedL1(m, keep: keep)
        #expect(abs(total - m.reduce(0.0) { $0 + Double($1) }) < 1e-9)
        #expect(abs(kept - m.indices.filter { keep[$0] }.reduce(0.0) { $0 + Double(m[$1]) }) < 1e-9)
    }
}

@Suite("sce kernels against their reference twins")
struct VarianceSelectionKernelTests {
    @Test("taskVectors, populationVariances, keeping and signConsensus match their twins bit for bit", arguments: [1, 2, 3])
    func matchPlainLoops(models m: Int) {
        let n = 1031
        let base = MergeKernelTests.values(n, seed: 1)
        let xs = (0..<m).map { MergeKernelTests.values(n, seed: 10 + UInt64($0), levels: 9) }
        let tau = MergeKernels.taskVectors(xs, base: base)
        #expect(tau == xs.map { x in (0..<n).map { Double(x[$0]) - Double(base[$0]) } })

        #expect(MergeKernels.populationVariances(tau) == referencePopulationVariances(tau))

        let keep = (0..<n).map { ($0 * 7919) % 5 < 3 }
        let kept = MergeKernels.keeping(tau, keep)
        #expect(kept == tau.map { t in (0..<n).map { keep[$0] ? t[$0] : 0 } })
        #expect(kept.allSatisfy { t in t.indices.allSatisfy { keep[$0] || t[$0].bitPattern == 0 } }, "dropped positions are +0")

        let weights = (0..<m).map { 0.25 + Double($0) * 0.5 }
        let fast = MergeKernels.signConsensus(base: base, tau: kept, weights: weights)
        #expect(fast.map(\.bitPattern) == referenceSCEConsensus(base: base, tau: kept, weights: weights).map(\.bitPattern))
    }
}

@Suite("Radix sort")
struct RadixSortTests {
    @Test("radixSort equals sorted() on random, repeated, narrow and presorted keys", arguments: [0, 1, 2, 7, 300, 5000])
    func matchesSorted(count: Int) {
        var state: UInt64 = 99
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
        let inputs: [[UInt64]] = [
            (0..<count).map { _ in next() },
            (0..<count).map { _ in next() % 5 },
            (0..<count).map { UInt64($0 % 13) << 40 | UInt64($0) },   // most digits equal in every key
            (0..<count).map { UInt64($0) },
            (0..<count).map { UInt64(count - $0) << 32 },
        ]
        for keys in inputs {
            var sorted = keys
            MergeKernels.radixSort(&sorted)
            #expect(sorted == keys.sorted())
        }
    }
}

@Suite("Packed keep flags")
struct PackedFlagsTests {
    @Test("unpackFlags(packFlags(f)) == f, and bit j of word j/64 is flag j", arguments: [0, 1, 63, 64, 65, 1000])
    func roundTrip(count: Int) {
        let flags = (0..<count).map { ($0 * 2_654_435_761) % 7 < 3 }
        let words = MergeKernels.packFlags(flags)
        #expect(words.count == (count + 63) / 64)
        #expect(MergeKernels.unpackFlags(words, count: count) == flags)
        for j in 0..<count { #expect((words[j / 64] >> UInt64(j % 64) & 1 == 1) == flags[j]) }
    }

    @Test("every pattern of eight flags packs to its byte and unpacks back, at every byte of a word")
    func allBytePatterns() {
        // Group g = 256·shift + p (flags [8g, 8g + 8)) holds pattern (p + shift) mod 256 in byte
        // lane p mod 8 of its word: over the eight shifts every pattern meets every lane.
        var flags: [Bool] = []
        for shift in 0..<8 {
            for p in 0..<256 { flags += (0..<8).map { ((p + shift) & 255) >> $0 & 1 == 1 } }
        }
        let words = MergeKernels.packFlags(flags)
        for j in flags.indices { #expect((words[j / 64] >> UInt64(j % 64) & 1 == 1) == flags[j], "flag \(j)") }
        #expect(MergeKernels.unpackFlags(words, count: flags.count) == flags)
        // Counts that end inside a group of eight.
        #expect(MergeKernels.unpackFlags(words, count: 77) == Array(flags[0..<77]))
    }
}
