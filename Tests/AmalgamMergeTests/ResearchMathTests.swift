@testable import AmalgamMerge
import AmalgamCore
import AmalgamKernels
import Testing

@Suite("Research method building blocks")
struct ResearchMathTests {
    static func values(_ count: Int, seed: UInt64) -> [Double] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53) * 2 - 1
        }
    }

    @Test("Slot reconstructions are sign-invariant: flipping (u_i, v_i) together changes nothing")
    func signInvariance() throws {
        let (m, n) = (6, 9)
        let tasks = (0..<3).map { Self.values(m * n, seed: UInt64(10 + $0)) }
        func reconstruct(flipping flip: Set<Int>) throws -> [Double] {
            var cat = Matrices.Concatenation(rows: m, columns: n)
            for (t, task) in tasks.enumerated() {
                var d = try LinearAlgebra.svd(task, rows: m, columns: n)
                for i in 0..<2 where flip.contains(t * 2 + i) {
                    for row in 0..<m { d.u[row * d.uColumns + i].negate() }
                    for column in 0..<n { d.vt[i * n + column].negate() }
                }
                for i in 0..<2 { cat.place(d, index: i, slot: t * 2 + i) }
            }
            return try cat.reconstruct(tensor: "t", method: "test")
        }
        let plain = try reconstruct(flipping: [])
        let flipped = try reconstruct(flipping: [0, 3, 5])
        #expect(zip(plain, flipped).allSatisfy { abs($0 - $1) < 1e-12 })
        // Flipping only u_i (not v_i) does change the result: the check can fail.
        var cat = Matrices.Concatenation(rows: m, columns: n)
        for (t, task) in tasks.enumerated() {
            var d = try LinearAlgebra.svd(task, rows: m, columns: n)
            if t == 0 { for row in 0..<m { d.u[row * d.uColumns].negate() } }
            for i in 0..<2 { cat.place(d, index: i, slot: t * 2 + i) }
        }
        let broken = try cat.reconstruct(tensor: "t", method: "test")
        #expect(zip(plain, broken).contains { abs($0 - $1) > 1e-3 })
    }

    /// Iso-CTS's task-specific triplets through the complement of the common basis (m ≤ n)
    /// against the formed residual τ_t − U_c·U_cᵀ·τ_t: every rank-one term σ_i·u_i·v_iᵀ (free of
    /// the sign choice) agrees to 1e-10 of the largest entry of τ. A tall matrix (no complete
    /// basis) and a rank-deficient Σ τ take the formed residual either way.
    @Test("Iso-CTS specific subspaces: the complement route equals the formed residual", arguments: [[24, 24], [16, 40], [40, 16]])
    func isoCTSComplement(shape: [Int]) throws {
        let (m, n, tasks) = (shape[0], shape[1], 3)
        let taskVectors = (0..<tasks).map { Self.values(m * n, seed: UInt64(40 + $0)) }
        let sum = (0..<(m * n)).map { i in taskVectors.reduce(0) { $0 + $1[i] } }
        let common = try LinearAlgebra.svd(sum, rows: m, columns: n)
        let (c, p) = IsoCTS.subspaceSizes(rank: min(m, n), tasks: tasks, fraction: 0.8)
        #expect(c > 0 && p > 0)
        let fast = try IsoCTS.specificTriplets(taskVectors, common: common, rows: m, columns: n, commonDimensions: c, perTask: p, threads: 2, tensor: "t")
        let formed = try IsoCTS.specificTriplets(taskVectors, common: common, rows: m, columns: n, commonDimensions: c, perTask: p, threads: 2, tensor: "t",
                                                 allowComplement: false)
        let scale = taskVectors.flatMap { $0 }.map(abs).max() ?? 1
        var worst = 0.0
        for t in 0..<tasks {
            let (a, b) = (fast.triplets[t], formed.triplets[t])
            let (ua, ub) = (fast.left[t], formed.left[t])
            for i in 0..<p {
                #expect(abs(a.s[i] - b.s[i]) <= 1e-12 * scale)
                for row in 0..<m {
                    for column in 0..<n {
                        let x = a.s[i] * ua[row * a.uColumns + i] * a.vt[i * n + column]
                        let y = b.s[i] * ub[row * b.uColumns + i] * b.vt[i * n + column]
                        worst = max(worst, abs(x - y))
                    }
                }
            }
        }
        #expect(worst <= 1e-10 * scale, "largest difference \(worst)")
        #expect(formed.complementBasis == nil)
        guard m <= n else {
            #expect(fast.complementBasis == nil, "a tall matrix has no complete left basis")
            return
        }
        // The left polar factor from the small (m − c)-sized problem equals the polar factor of
        // the whole concatenation [U_⊥·A_1, …, U_⊥·A_T, U_c].
        var concatenated = [Double](repeating: 0, count: m * m)
        for row in 0..<m {
            for t in 0..<tasks { for i in 0..<p { concatenated[row * m + t * p + i] = fast.left[t][row * fast.triplets[t].uColumns + i] } }
            for j in 0..<c { concatenated[row * m + tasks * p + j] = common.u[row * common.uColumns + j] }
        }
        let whole = try LinearAlgebra.polar(concatenated, rows: m, columns: m)
        let small = try #require(try IsoCTS.leftPolarOnComplement(fast, common: common, rows: m, commonDimensions: c, perTask: p, tensor: "t"))
        #expect(try IsoCTS.leftPolarOnComplement(formed, common: common, rows: m, commonDimensions: c, perTask: p, tensor: "t") == nil)
        #expect(zip(whole, small).allSatisfy { abs($0 - $1) <= 1e-10 }, "largest difference \(zip(whole, small).map { abs($0 - $1) }.max() ?? 0)")
    }

    @Test("Model-wide order statistics are exact, for signed values, ties, and groups that need several passes")
    func orderStatistics() throws {
        // Three "tensors" of one row; values with many exact ties and both signs.
        let parts: [[Double]] = [
            (0..<5000).map { Double(($0 * 7919) % 101 - 50) / 8 },
            (0..<3000).map { Double(($0 * 104_729) % 37) * -0.5 },
            [0, -0.0, 1e-300, -1e300, 3],
        ]
        let all = parts.flatMap { $0 }.sorted()
        let model = ModelDescription(tensors: parts.indices.map { ("t\($0)", Shape([parts[$0].count])) }, layerCount: nil, modelCount: 1)
        let context = MergeContext(tensorName: "t", global: [:], perModel: [[:]])
        let scan = ModelScanner(model: model, threads: 2) { index, _, _ in
            TensorSet(index: index, shape: Shape([parts[index].count]), base: nil, models: [parts[index]], context: context)
        }
        let ranks = [0, 1, 17, 2500, 4000, all.count / 2, all.count - 2, all.count - 1]
        for limit in [OrderStatistics.collectLimit, 100, 0] {  // 0: four histogram passes, no collection
            let selected = try OrderStatistics.select(scan, ranks: [ranks], collectLimit: limit) { (tensor: TensorSet) throws(MergeError) -> [[Double]] in tensor.models }
            #expect(selected[0] == ranks.map { all[$0] }, "collect limit \(limit)")
        }
        #expect(OrderStatistics.value(OrderStatistics.key(-2.5)) == -2.5)
        #expect(OrderStatistics.key(-1) < OrderStatistics.key(-0.5) && OrderStatistics.key(-0.5) < OrderStatistics.key(0.25))
    }

    @Test("Adam matches PyTorch's update on a hand-checked first step")
    func adam() {
        // The first bias-corrected step is lr · g / (|g| + ε·…) ≈ lr · sign(g).
        var x = [1.0, -2.0, 0.0]
        var optimizer = Adam(count: 3, learningRate: 0.1)
        optimizer.update(&x, gradient: [2, -4, 0])
        #expect(abs(x[0] - 0.9) < 1e-7 && abs(x[1] - (-1.9)) < 1e-7 && x[2] == 0)
    }
}
