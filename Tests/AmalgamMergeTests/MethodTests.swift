@testable import AmalgamMerge
import AmalgamCore
import Testing

/// A context with the given global and per-model parameters (defaults of `method` filled in).
func context(_ method: any MergeMethod.Type, global: [String: ParameterValue] = [:], perModel: [[String: ParameterValue]],
             seed: UInt64 = 0, name: String = "t") -> MergeContext {
    var g = global
    for spec in method.parameters where spec.scope == .global && g[spec.name] == nil { g[spec.name] = spec.defaultValue }
    let models = perModel.map { values in
        var m = values
        for spec in method.parameters where spec.scope == .perModel && m[spec.name] == nil { m[spec.name] = spec.defaultValue }
        return m
    }
    return MergeContext(tensorName: name, global: g, perModel: models, seed: seed)
}

@Suite("Merge methods, by hand")
struct MethodTests {
    @Test("linear: weights [1, 0] return the first model; normalize divides by the weight sum")
    func linear() throws {
        let inputs = MergeInputs(base: nil, models: [[1, 2, 3], [5, 6, 7]], shape: [3])
        #expect(try Linear.merge(inputs, context: context(Linear.self, perModel: [["weight": .number(1)], ["weight": .number(0)]])) == [1, 2, 3])
        // (1·1 + 3·5) / 4 = 4, (2 + 18) / 4 = 5, (3 + 21) / 4 = 6
        #expect(try Linear.merge(inputs, context: context(Linear.self, perModel: [["weight": .number(1)], ["weight": .number(3)]])) == [4, 5, 6])
        #expect(try Linear.merge(inputs, context: context(Linear.self, global: ["normalize": .bool(false)],
                                                          perModel: [["weight": .number(1)], ["weight": .number(3)]])) == [16, 20, 24])
        #expect(throws: MergeError.self) {
            try Linear.merge(inputs, context: context(Linear.self, perModel: [["weight": .number(1)], ["weight": .number(-1)]]))
        }
    }

    @Test("Merging N copies of one model returns that model", arguments: [1, 2, 5])
    func copies(n: Int) throws {
        let x: [Float] = [0.5, -1.25, 3, 0]
        let linear = try Linear.merge(MergeInputs(base: nil, models: Array(repeating: x, count: n), shape: [4]),
                                      context: context(Linear.self, perModel: Array(repeating: ["weight": .number(0.7)], count: n)))
        #expect(linear == x)
        let ties = try TIES.merge(MergeInputs(base: [0, 0, 0, 0], models: Array(repeating: x, count: n), shape: [4]),
                                  context: context(TIES.self, perModel: Array(repeating: ["weight": .number(1), "density": .number(1)], count: n)))
        #expect(ties == x)
    }

    @Test("SLERP at t = 0 and t = 1 returns the endpoints; orthogonal unit vectors at t = 1/2 give the 45° vector")
    func slerp() throws {
        let a: [Float] = [1, 0], b: [Float] = [0, 1]
        let inputs = MergeInputs(base: a, models: [b], shape: [2])
        #expect(try SLERP.merge(inputs, context: context(SLERP.self, global: ["t": .number(0)], perModel: [[:]])) == a)
        #expect(try SLERP.merge(inputs, context: context(SLERP.self, global: ["t": .number(1)], perModel: [[:]])) == b)
        let mid = try SLERP.merge(inputs, context: context(SLERP.self, global: ["t": .number(0.5)], perModel: [[:]]))
        #expect(abs(mid[0] - Float(0.5).squareRoot()) < 1e-6 && abs(mid[1] - Float(0.5).squareRoot()) < 1e-6)
        // Nearly parallel: plain lerp.
        let lerp = try SLERP.merge(MergeInputs(base: [1, 1], models: [[2, 2]], shape: [2]), context: context(SLERP.self, global: ["t": .number(0.25)], perModel: [[:]]))
        #expect(lerp == [1.25, 1.25])
    }

    @Test("task_arithmetic: base + λ Σ w δ")
    func taskArithmetic() throws {
        // base [1, 1]; δ1 = [1, -1], δ2 = [2, 2]; w = 0.5, 0.25; λ = 2 → base + 2·([0.5, -0.5] + [0.5, 0.5]) = [3, 1]
        let out = try TaskArithmetic.merge(MergeInputs(base: [1, 1], models: [[2, 0], [3, 3]], shape: [2]),
                                           context: context(TaskArithmetic.self, global: ["lambda": .number(2)],
                                                            perModel: [["weight": .number(0.5)], ["weight": .number(0.25)]]))
        #expect(out == [3, 1])
    }

    @Test("TIES: trim, elect, weighted disjoint mean")
    func ties() throws {
        // base 0. δ1 = [3, -1, 0.5, 2], δ2 = [-1, -2, 0.25, 4], density 0.5 keeps the top 2 of each:
        // δ1 → [3, 0, 0, 2], δ2 → [0, -2, 0, 4]. Weights 1 and 1: signs of the sums [3, -2, 0, 6] → +, −, +, +.
        // Agreeing: pos0 {3} → 3/1; pos1 {-2} → -2/1; pos2 none → 0; pos3 {2, 4} → 6/2 = 3.
        let out = try TIES.merge(MergeInputs(base: [0, 0, 0, 0], models: [[3, -1, 0.5, 2], [-1, -2, 0.25, 4]], shape: [4]),
                                 context: context(TIES.self, perModel: [["weight": .number(1), "density": .number(0.5)],
                                                                        ["weight": .number(1), "density": .number(0.5)]]))
        #expect(out == [3, -2, 0, 3])
    }

    @Test("TIES with density 1 and a single model equals task arithmetic")
    func tiesEqualsTaskArithmetic() throws {
        let inputs = MergeInputs(base: [1, 2, 3], models: [[0.5, 4, -3]], shape: [3])
        let ties = try TIES.merge(inputs, context: context(TIES.self, global: ["normalize": .bool(false)], perModel: [["weight": .number(0.8)]]))
        let ta = try TaskArithmetic.merge(inputs, context: context(TaskArithmetic.self, perModel: [["weight": .number(0.8)]]))
        #expect(ties == ta)
    }

    @Test("Magnitude trimming keeps exactly ⌊density·n⌋ entries, the largest, ties broken by index", arguments: [0.0, 0.1, 0.33, 0.5, 0.99])
    func magnitudeCount(density: Double) {
        var generator = SeededGenerator(seed: 3)
        // Non-zero integers in ±[1, 20]: many exact ties at any cut.
        let original = (0..<1001).map { _ in Float(Int.random(in: 1...20, using: &generator)) * (Bool.random(using: &generator) ? 1 : -1) }
        var delta = original
        Sparsification.magnitude.apply(to: &delta, density: density, gamma: 0, epsilon: 0, rescale: false, rowLength: 1001, random: SeededRandom(seed: 0, stream: ""))
        let keptIndices = delta.indices.filter { delta[$0] != 0 }
        #expect(keptIndices.count == Int(density * 1001))
        // Every kept magnitude is at least every dropped one; kept values are unchanged.
        let smallestKept = keptIndices.map { abs(original[$0]) }.min() ?? .infinity
        let largestDropped = delta.indices.filter { delta[$0] == 0 }.map { abs(original[$0]) }.max() ?? 0
        #expect(keptIndices.isEmpty || smallestKept >= largestDropped)
        #expect(keptIndices.allSatisfy { delta[$0] == original[$0] })
    }

    @Test("Breadcrumbs drops the top γ and the bottom, keeping density; γ = 0 keeps the top")
    func breadcrumbs() {
        var delta: [Float] = (1...10).map(Float.init)   // magnitudes 1..10
        // density 0.5, gamma 0.2: keep 5, drop top 2 (10, 9) and bottom 3 (1, 2, 3) → 4...8 stay
        Sparsification.magnitudeOutliers.apply(to: &delta, density: 0.5, gamma: 0.2, epsilon: 0, rescale: false, rowLength: 10, random: SeededRandom(seed: 0, stream: ""))
        #expect(delta == [0, 0, 0, 4, 5, 6, 7, 8, 0, 0])
        var keepTop: [Float] = (1...10).map(Float.init)
        Sparsification.magnitudeOutliers.apply(to: &keepTop, density: 0.3, gamma: 0, epsilon: 0, rescale: false, rowLength: 10, random: SeededRandom(seed: 0, stream: ""))
        #expect(keepTop == [0, 0, 0, 0, 0, 0, 0, 8, 9, 10], "mergekit would zero everything here")
    }

    @Test("DARE keeps about density of the elements and the L1 rescale restores the norm exactly", arguments: [0.1, 0.5, 0.9])
    func dareRescale(density: Double) {
        var generator = SeededGenerator(seed: 5)
        let original = (0..<20_000).map { _ in Float.random(in: -1...1, using: &generator) }
        var delta = original
        Sparsification.random.apply(to: &delta, density: density, gamma: 0, epsilon: 0, rescale: true, rowLength: 100, random: SeededRandom(seed: 9, stream: "x"))
        let kept = Double(delta.filter { $0 != 0 }.count) / 20_000
        #expect(abs(kept - density) < 0.02)
        #expect(abs(l1Norm(delta) - l1Norm(original)) < 1e-3 * l1Norm(original))
        // The mask: every kept element is the original times one common factor.
        let factor = l1Norm(original) / (original.indices.filter { delta[$0] != 0 }.reduce(0.0) { $0 + Double(abs(original[$1])) })
        for j in delta.indices where delta[j] != 0 { #expect(abs(Double(delta[j]) - Double(original[j]) * factor) < 1e-5) }
    }

    @Test("DARE and DELLA masks kept from the norm pass merge to the same bits as masks drawn again",
          arguments: ["dare_ties", "dare_linear", "della"])
    func keptMasksMatchRedrawn(method name: String) throws {
        let method = try #require(MergeMethodRegistry.builtIn.method(named: name) as? any ChunkedMergeMethod.Type)
        var generator = SeededGenerator(seed: 11)
        let (rows, columns) = (24, 100)
        let base = (0..<(rows * columns)).map { _ in Float.random(in: -1...1, using: &generator) }
        let models = (0..<2).map { _ in base.map { $0 + Float.random(in: -0.1...0.1, using: &generator) } }
        // Blocks of 4 rows, as the executor cuts them.
        let blocks = stride(from: 0, to: rows * columns, by: 4 * columns).map { start in
            let range = start..<(start + 4 * columns)
            return ChunkInputs(range: range, base: Array(base[range]), models: models.map { Array($0[range]) })
        }
        let perModel: [[String: ParameterValue]] = [["weight": .number(0.6), "density": .number(0.4)], ["weight": .number(0.4), "density": .number(0.7)]]
        let kernel = try method.prepare(scan: TensorScanner(blocks: blocks), count: rows * columns, shape: [rows, columns], hasBase: true,
                                        context: context(method, perModel: perModel, seed: 3))
        // The first merge of a block takes the kept masks; the second draws them again.
        for block in blocks {
            let first = kernel.merge(block), second = kernel.merge(block)
            #expect(first.map(\.bitPattern) == second.map(\.bitPattern), "block at \(block.range.lowerBound)")
            #expect(first != block.base, "the block changed")
        }
    }

    @Test("DELLA keeps large magnitudes more often than small ones")
    func dellaBias() {
        let original = (0..<10_000).map { Float($0 % 100 + 1) }   // 100 rows of magnitudes 1...100
        var delta = original
        Sparsification.dellaMagprune.apply(to: &delta, density: 0.5, gamma: 0, epsilon: 0.4, rescale: false, rowLength: 100, random: SeededRandom(seed: 1, stream: "d"))
        let small = delta.indices.filter { original[$0] <= 10 && delta[$0] != 0 }.count   // keep ≈ 0.1–0.18
        let large = delta.indices.filter { original[$0] > 90 && delta[$0] != 0 }.count   // keep ≈ 0.82–0.9
        #expect(small < 250 && large > 750, "small \(small), large \(large)")
    }

    @Test("The two-pass rank selection finds the exact ascending rank, ties by index", arguments: [1, 2, 7, 100, 1001])
    func rankSelection(n: Int) {
        var generator = SeededGenerator(seed: UInt64(n))
        let values = (0..<n).map { _ in Float(Int.random(in: 0...50, using: &generator)) * 0.125 }
        let sorted = values.sorted()
        let chunk = ChunkInputs(range: 0..<n, base: nil, models: [values])
        let scanner = TensorScanner.single(chunk)
        for rank in Set([0, n / 2, n - 1]) {
            let t = MagnitudeSelection.thresholds([.init(source: 0, rank: rank)], scan: scanner, magnitudes: { [$0.models[0]] })[0].0
            #expect(t.value == sorted[rank])
            #expect(t.below == sorted.filter { $0 < sorted[rank] }.count && t.equal == sorted.filter { $0 == sorted[rank] }.count)
        }
    }

    @Test("The sampled bracket gives the histogram passes' answer, ties and tie prefixes included, or none when it misses")
    func bracketedSelection() {
        var generator = SeededGenerator(seed: 33)
        let n = 300_000, size = 1_000
        // Source 0: heavy ties (41 levels). Source 1: continuous. Source 2: the sampled pieces
        // (437 of each block's 1,000 elements) hold only zeros, so the sample lies about the
        // rest: the bracket must miss the median.
        let tied = (0..<n).map { _ in Float(Int.random(in: 0...40, using: &generator)) * 0.25 }
        let smooth = (0..<n).map { _ in Float.random(in: 0..<1, using: &generator) }
        let pieceLength = (MagnitudeSelection.sampleSize + n / size - 1) / (n / size)
        let sampled = Set((0..<(n / size)).flatMap { b in TensorScanner.piece(of: (b * size)..<((b + 1) * size), index: b, length: pieceLength) })
        let skewed: [Float] = (0..<n).map { j in sampled.contains(j) ? 0 : Float(j % 97) + 1 }
        #expect(pieceLength == 437 && sampled.count == 437 * (n / size))
        #expect(Set((0..<10).map { TensorScanner.piece(of: 0..<1_000, index: $0, length: 437).lowerBound }).count > 5, "offsets vary by block")
        #expect(TensorScanner.piece(of: 5..<9, index: 3, length: 10) == 5..<9, "a short block is read whole")
        let blocks = stride(from: 0, to: n, by: size).map { start in
            ChunkInputs(range: start..<(start + size), base: nil,
                        models: [Array(tied[start..<(start + size)]), Array(smooth[start..<(start + size)]), Array(skewed[start..<(start + size)])])
        }
        let scanner = TensorScanner(blocks: blocks)
        let queries = [0, 1].flatMap { source in [0, 1, n / 3, n / 2, n - 1].map { MagnitudeSelection.Query(source: source, rank: $0) } }
        let fast = MagnitudeSelection.bracketed(queries, count: n, scan: scanner, magnitudes: { Array($0.models.prefix(2)) })
        let slow = MagnitudeSelection.histogramThresholds(queries, scan: scanner, magnitudes: { Array($0.models.prefix(2)) })
        #expect(fast.filter { $0 != nil }.count >= 6, "most brackets hit")
        for (q, answer) in fast.enumerated() {
            guard let answer else { continue }
            #expect(answer.0.value == slow[q].0.value && answer.0.below == slow[q].0.below && answer.0.equal == slow[q].0.equal,
                    "query \(q)")
            #expect(answer.1 == slow[q].1, "tie prefixes of query \(q)")
        }
        let miss = MagnitudeSelection.bracketed([.init(source: 2, rank: n / 2)], count: n, scan: scanner, magnitudes: { $0.models })
        #expect(miss[0] == nil, "a sample of zeros cannot bracket the median")
        let answered = MagnitudeSelection.thresholds([.init(source: 2, rank: n / 2)], count: n, scan: scanner, magnitudes: { $0.models })
        let sorted = skewed.sorted()
        #expect(answered[0].0.value == sorted[n / 2], "the histogram passes answer after a miss")
    }

    @Test("Chunked trimming equals whole-tensor trimming whatever the chunking (ties straddling chunks)")
    func chunkedTrimming() {
        var generator = SeededGenerator(seed: 21)
        let n = 10_000
        let values = (0..<n).map { _ in Float(Int.random(in: -8...8, using: &generator)) }   // heavy ties
        var whole = values
        Sparsification.magnitude.apply(to: &whole, density: 0.37, gamma: 0, epsilon: 0, rescale: false, rowLength: n, random: SeededRandom(seed: 0, stream: ""))
        for size in [97, 999, 4096] {
            let chunks = stride(from: 0, to: n, by: size).map { ChunkInputs(range: $0..<min($0 + size, n), base: nil, models: [Array(values[$0..<min($0 + size, n)])]) }
            let scanner = TensorScanner(blocks: chunks)
            let plan = Sparsification.magnitude.plan(count: n, density: 0.37, gamma: 0, epsilon: 0, rowLength: n, random: SeededRandom(seed: 0, stream: ""),
                                                     scan: scanner, magnitude: { $0.models[0].map { abs($0) } })
            var chunked: [Float] = []
            for chunk in chunks {
                let keep = plan.keep(magnitudes: chunk.models[0].map { abs($0) }, start: chunk.range.lowerBound)
                chunked += chunk.models[0].indices.map { keep[$0] ? chunk.models[0][$0] : 0 }
            }
            #expect(chunked == whole, "chunk size \(size)")
        }
    }

    @Test("model_stock with two orthogonal task vectors: t = 0, the base")
    func modelStock() throws {
        // d1 = [1, 0], d2 = [0, 1]: cos 0, t = 0 → base
        let out = try ModelStock.merge(MergeInputs(base: [1, 1], models: [[2, 1], [1, 2]], shape: [2]),
                                       context: context(ModelStock.self, perModel: [[:], [:]]))
        #expect(out == [1, 1])
        // identical task vectors: cos 1, t = 1 → mean of the models
        let same = try ModelStock.merge(MergeInputs(base: [0, 0], models: [[2, 4], [2, 4]], shape: [2]),
                                        context: context(ModelStock.self, perModel: [[:], [:]]))
        #expect(same == [2, 4])
    }

    @Test("nearswap takes the other model where it is close")
    func nearswap() throws {
        // t = 0.1: |a−b| = 0.05 → w = 1 (b); |a−b| = 1 → w = 0.1
        let out = try NearSwap.merge(MergeInputs(base: [0, 0], models: [[0.05, 1]], shape: [2]),
                                     context: context(NearSwap.self, global: ["t": .number(0.1)], perModel: [[:]]))
        #expect(out[0] == 0.05 && abs(out[1] - 0.1) < 1e-7)
    }

    @Test("ram: unique changes kept, shared ones averaged, tiny ones ignored; ramplus_tl scales unique ones")
    func ram() throws {
        // base 0; τ1 = [1, 2, 0, 1e-6], τ2 = [0, 4, 0, 0]: pos0 unique → 1; pos1 shared → 3; pos2 none; pos3 below ε.
        let inputs = MergeInputs(base: [0, 0, 0, 0], models: [[1, 2, 0, 1e-6], [0, 4, 0, 0]], shape: [4])
        #expect(try RAM.merge(inputs, context: context(RAM.self, perModel: [[:], [:]])) == [1, 3, 0, 0])
        // Model 1: 1 shared, 1 unique → ρ = 1, λ = 1 + 0.1·min(1, 0.2) = 1.02; unique pos0 → 1.02.
        let plus = try RAMPlusTL.merge(inputs, context: context(RAMPlusTL.self, perModel: [[:], [:]]))
        #expect(abs(plus[0] - 1.02) < 1e-6 && plus[1] == 3)
    }

    @Test("karcher of two orthogonal unit vectors is the 45° unit vector")
    func karcher() throws {
        let out = try Karcher.merge(MergeInputs(base: nil, models: [[1, 0], [0, 1]], shape: [2]), context: context(Karcher.self, perModel: [[:], [:]]))
        #expect(abs(out[0] - Float(0.5).squareRoot()) < 1e-6 && abs(out[1] - Float(0.5).squareRoot()) < 1e-6)
    }

    @Test("The registry suggests the closest name")
    func registry() {
        #expect(MergeMethodRegistry.builtIn.suggestion(for: "dare-ties") == "dare_ties")
        #expect(MergeMethodRegistry.builtIn.suggestion(for: "tie") == "ties")
        #expect(MergeMethodRegistry.builtIn.method(named: "linear") == Linear.self)
    }
}

@Suite("Tensor order statistics")
struct TensorOrderStatisticsTests {
    @Test("nth agrees with a full sort at every probed rank: distinct keys, heavy ties, sorted and reversed input")
    func nthMatchesSort() {
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
        let inputs: [[UInt64]] = [
            (0..<5000).map { _ in next() },
            (0..<5000).map { _ in next() % 7 },
            Array(0..<3000),
            Array((0..<3000).reversed()),
            [UInt64](repeating: 42, count: 1000),
            [9],
        ]
        for keys in inputs {
            let sorted = keys.sorted()
            for k in Set([0, keys.count / 3, keys.count / 2, keys.count - 1]) {
                var work = keys
                #expect(OrderStatistics.nth(&work, k) == sorted[k], "rank \(k) of \(keys.count)")
                #expect(work.sorted() == sorted, "nth only reorders")
            }
        }
    }
}
