import AmalgamKernels
import Foundation
import Testing

/// The Gram-matrix shortcuts (leading triplets, the certified thin SVD, polar factors and their
/// transforms) against the LAPACK SVD they stand in for.
@Suite("Decompositions through the Gram matrix")
struct GramDecompositionTests {
    static func values(_ count: Int, seed: UInt64) -> [Double] { SVDTests.values(count, seed: seed) }

    static func multiply(_ a: [Double], _ m: Int, _ k: Int, _ b: [Double], _ n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for p in 0..<k { let x = a[i * k + p]; for j in 0..<n { out[i * n + j] += x * b[p * n + j] } } }
        return out
    }

    /// U·diag(s)·Vᵀ for orthonormal U (m×r) and V (n×r) from SVDs of random matrices, with
    /// singular values spread geometrically from 1 down to 1/κ.
    static func conditioned(_ m: Int, _ n: Int, kappa: Double, seed: UInt64) throws -> [Double] {
        let r = min(m, n)
        return try withSingularValues(m, n, (0..<r).map { pow(kappa, -Double($0) / Double(max(r - 1, 1))) }, seed: seed)
    }

    /// U·diag(s)·Vᵀ for random orthonormal U (m×r) and V (n×r), r = min(m, n) = s.count.
    static func withSingularValues(_ m: Int, _ n: Int, _ s: [Double], seed: UInt64) throws -> [Double] {
        let r = min(m, n)
        let left = try LinearAlgebra.svd(values(m * r, seed: seed), rows: m, columns: r)
        let right = try LinearAlgebra.svd(values(r * n, seed: seed + 1), rows: r, columns: n)
        var scaled = left.u
        for i in 0..<m { for j in 0..<r { scaled[i * r + j] *= s[j] } }
        return multiply(scaled, m, r, right.vt, n)
    }

    /// Singular values spread from 1 down to ½, except the last, 1/κ: a spectrum whose Gram
    /// matrix loses the small triplet (max|UᵀU − I| ≈ 10⁻⁶ at κ = 10⁵, measured in numpy) but
    /// whose first-order repair is exact to rounding (the small value is far from the others).
    static func oneSmall(_ m: Int, _ n: Int, kappa: Double, seed: UInt64) throws -> [Double] {
        let r = min(m, n)
        var s = [Double](repeating: 0, count: r)
        for j in 0..<r { s[j] = 1 - 0.5 * Double(j) / Double(max(r - 1, 1)) }
        s[r - 1] = 1 / kappa
        return try withSingularValues(m, n, s, seed: seed)
    }

    /// max|UᵀU − I| and max|VᵀV − I| of a thin decomposition, the larger.
    static func orthonormalityDefect(_ d: SingularValueDecomposition<Double>) -> Double {
        let (m, n, r) = (d.rows, d.columns, d.rank)
        var largest = 0.0
        for p in 0..<r {
            for q in p..<r {
                let uu = (0..<m).reduce(0.0) { $0 + d.u[$1 * d.uColumns + p] * d.u[$1 * d.uColumns + q] }
                let vv = (0..<n).reduce(0.0) { $0 + d.vt[p * n + $1] * d.vt[q * n + $1] }
                largest = max(largest, abs(uu - (p == q ? 1 : 0)), abs(vv - (p == q ? 1 : 0)))
            }
        }
        return largest
    }

    /// The rank-one term u_i·σ_i·v_iᵀ (sign-invariant) of triplet i.
    static func term(_ d: SingularValueDecomposition<Double>, _ i: Int) -> [Double] {
        var out = [Double](repeating: 0, count: d.rows * d.columns)
        for r in 0..<d.rows { for c in 0..<d.columns { out[r * d.columns + c] = d.u[r * d.uColumns + i] * d.s[i] * d.vt[i * d.columns + c] } }
        return out
    }

    @Test("Leading triplets from the Gram matrix (a subset of its eigenpairs) match the SVD's, tall and wide",
          arguments: [(80, 50, 12), (40, 70, 9), (30, 30, 30), (25, 10, 1)])
    func leadingTriplets(_ shape: (Int, Int, Int)) throws {
        let (m, n, k) = shape
        let a = try Self.conditioned(m, n, kappa: 20, seed: UInt64(m + 7 * n))
        let top = try LinearAlgebra.topSingularTriplets(a, rows: m, columns: n, count: k)
        let full = try LinearAlgebra.svd(a, rows: m, columns: n)
        #expect(top.uColumns == k && top.vtRows == k && top.numericalRank == k)
        for i in 0..<k {
            #expect(abs(top.s[i] - full.s[i]) < 1e-13)
            #expect(SVDTests.maxDifference(Self.term(top, i), Self.term(full, i)) < 1e-11)
        }
    }

    @Test("Leading triplets of a block-diagonal matrix (its Gram matrix splits, so the selected eigenvectors come from MRRR) match the SVD's")
    func leadingTripletsOfSplitGram() throws {
        // Two conditioned blocks on the diagonal, singular values interleaved between them.
        let (m, n) = (50, 36)
        let upper = try Self.conditioned(30, 20, kappa: 20, seed: 3), lower = try Self.conditioned(20, 16, kappa: 15, seed: 4)
        var a = [Double](repeating: 0, count: m * n)
        for r in 0..<30 { for c in 0..<20 { a[r * n + c] = upper[r * 20 + c] } }
        for r in 0..<20 { for c in 0..<16 { a[(30 + r) * n + 20 + c] = 0.9 * lower[r * 16 + c] } }
        let top = try LinearAlgebra.topSingularTriplets(a, rows: m, columns: n, count: 10)
        let full = try LinearAlgebra.svd(a, rows: m, columns: n)
        for i in 0..<10 {
            #expect(abs(top.s[i] - full.s[i]) < 1e-13)
            #expect(SVDTests.maxDifference(Self.term(top, i), Self.term(full, i)) < 1e-11)
        }
    }

    @Test("The certified Gram SVD: well-conditioned matrices match LAPACK's; a graded spectrum to κ = 10⁶ (past the repair's reach) or reduced rank gets LAPACK's",
          arguments: [(60, 40), (35, 64), (48, 48)])
    func certifiedSVD(_ shape: (Int, Int)) throws {
        let (m, n) = shape
        let r = min(m, n)
        let a = try Self.conditioned(m, n, kappa: 50, seed: UInt64(3 * m + n))
        let gram = try LinearAlgebra.svdViaGram(a, rows: m, columns: n)
        let lapack = try LinearAlgebra.svd(a, rows: m, columns: n)
        #expect(gram.numericalRank == r)
        #expect(SVDTests.maxDifference(SVDTests.reconstruct(gram), a) < 1e-14)
        #expect(zip(gram.s, lapack.s).allSatisfy { abs($0 - $1) < 1e-14 })
        // Orthonormal to the bound the method certifies (64·r·ε; LAPACK's own are within ε·r).
        #expect(Self.orthonormalityDefect(gram) < 64 * Double(r) * Double.ulpOfOne)
        for i in 0..<r { #expect(SVDTests.maxDifference(Self.term(gram, i), Self.term(lapack, i)) < 1e-12) }
        // Ill-conditioned: the answer is LAPACK's own, bit for bit.
        let graded = try Self.conditioned(m, n, kappa: 1e6, seed: UInt64(m + n))
        let fallback = try LinearAlgebra.svdViaGram(graded, rows: m, columns: n)
        let reference = try LinearAlgebra.svd(graded, rows: m, columns: n)
        #expect(fallback.u == reference.u && fallback.s == reference.s && fallback.vt == reference.vt)
        // Rank-deficient: LAPACK's, with the rank policy's zero triplets.
        var deficient = [Double](repeating: 0, count: m * n)
        let x = Self.values(m, seed: 5), y = Self.values(n, seed: 6)
        for i in 0..<m { for j in 0..<n { deficient[i * n + j] = x[i] * y[j] } }
        let rankOne = try LinearAlgebra.svdViaGram(deficient, rows: m, columns: n)
        #expect(rankOne.numericalRank == 1 && rankOne.s[1...].allSatisfy { $0 == 0 })
    }

    @Test("Past the plain check's reach the certified Gram SVD repairs its triplets (one first-order Jacobi step) instead of calling LAPACK",
          arguments: [(48, 48, false), (70, 30, false), (20, 45, false), (48, 48, true), (60, 40, true), (30, 52, true)])
    func repairedTriplets(_ shape: (Int, Int, Bool)) throws {
        // One small singular value at κ = 10⁵ (the repair rotates by about 10⁻¹⁴ there), or a
        // graded spectrum at κ = 10⁴ (rotations up to about 10⁻⁹, which a skipped update of
        // either side would leave in the reconstruction).
        let (m, n, graded) = shape
        let r = min(m, n)
        let a = graded ? try Self.conditioned(m, n, kappa: 1e4, seed: UInt64(5 * m + n)) : try Self.oneSmall(m, n, kappa: 1e5, seed: UInt64(5 * m + n))
        let gram = try LinearAlgebra.svdViaGram(a, rows: m, columns: n)
        let lapack = try LinearAlgebra.svd(a, rows: m, columns: n)
        // Not LAPACK's answer (which the repair's failure would return)...
        #expect(gram.u != lapack.u || gram.vt != lapack.vt)
        // ...but an SVD of A to working accuracy: orthonormal on both sides, A reconstructed, and
        // the same values and rank-one terms, the small triplet included.
        #expect(gram.numericalRank == r)
        #expect(Self.orthonormalityDefect(gram) < 64 * Double(r) * Double.ulpOfOne)
        #expect(SVDTests.maxDifference(SVDTests.reconstruct(gram), a) < 1e-14)
        #expect(zip(gram.s, lapack.s).allSatisfy { abs($0 - $1) < 1e-14 })
        for i in 0..<r { #expect(SVDTests.maxDifference(Self.term(gram, i), Self.term(lapack, i)) < 1e-12) }
        // The polar factor past κ = 10⁴ comes from the same repaired triplets, not from LAPACK.
        guard !graded else { return }
        let exact = LinearAlgebra.product(lapack.u, rows: m, inner: r, uStride: lapack.uColumns, lapack.vt, columns: n)
        let polar = try LinearAlgebra.polar(a, rows: m, columns: n)
        #expect(polar != exact)
        // A non-square polar factor moves by up to about ε·κ under rounding (its sensitivity is
        // 1/σ_min): measured 2.2·10⁻¹² (70×30) and 1.4·10⁻¹² (20×45) from LAPACK's, 2.4·10⁻¹⁵ square.
        #expect(SVDTests.maxDifference(polar, exact) < (m == n ? 1e-13 : 1e-10))
    }

    @Test("Polar factors at κ from 1 to 10⁸ match the SVD's P·Qᵀ; a transform is offered only when no check needs the factor",
          arguments: [1.0, 500, 3e3, 1e5, 1e8])
    func polarFactors(_ kappa: Double) throws {
        for (m, n) in [(48, 48), (70, 30), (20, 45)] {
            let a = try Self.conditioned(m, n, kappa: kappa, seed: UInt64(m * n) + UInt64(kappa.exponent))
            let d = try LinearAlgebra.svd(a, rows: m, columns: n)
            let exact = LinearAlgebra.product(d.u, rows: m, inner: d.numericalRank, uStride: d.uColumns, d.vt, columns: n)
            let plain = try LinearAlgebra.polar(a, rows: m, columns: n)
            #expect(SVDTests.maxDifference(plain, exact) < 1e-11, "κ \(kappa), \(m)×\(n)")
            switch try LinearAlgebra.polarFactor(a, rows: m, columns: n, allowTransform: true) {
            case .factor(let x):
                #expect(kappa > 1e3, "a well-conditioned matrix should offer its transform")
                #expect(SVDTests.maxDifference(x, exact) < 1e-11)
            case .transform(let w):
                #expect(kappa <= 1e3)
                #expect(w.count == min(m, n) * min(m, n))
                #expect(SVDTests.maxDifference(LinearAlgebra.applyTransform(w, to: a, rows: m, columns: n), exact) < 1e-11)
            }
        }
    }
}
