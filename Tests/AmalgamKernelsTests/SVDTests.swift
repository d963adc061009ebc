import AmalgamKernels
import Foundation
import Testing

@Suite("SVD through LAPACK, the rank policy, and Float64 conversions")
struct SVDTests {
    static func values(_ count: Int, seed: UInt64) -> [Double] {
        LinearAlgebraTests.values(count, seed: seed).map(Double.init)
    }

    /// U·diag(s)·Vᵀ over the first `inner` pairs.
    static func reconstruct(_ d: SingularValueDecomposition<Double>, inner: Int? = nil) -> [Double] {
        var out = [Double](repeating: 0, count: d.rows * d.columns)
        for i in 0..<d.rows {
            for j in 0..<d.columns {
                var sum = 0.0
                for p in 0..<(inner ?? d.rank) { sum += d.u[i * d.uColumns + p] * d.s[p] * d.vt[p * d.columns + j] }
                out[i * d.columns + j] = sum
            }
        }
        return out
    }

    static func maxDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
    }

    @Test("Thin SVDs of tall, wide and square matrices reconstruct them, with orthonormal vectors and descending values",
          arguments: [(7, 4), (4, 9), (6, 6), (1, 5)])
    func thin(_ shape: (Int, Int)) throws {
        let (m, n) = shape
        let a = Self.values(m * n, seed: UInt64(m * 31 + n))
        let d = try LinearAlgebra.svd(a, rows: m, columns: n)
        #expect(d.uColumns == min(m, n) && d.vtRows == min(m, n) && d.numericalRank == min(m, n))
        #expect(Self.maxDifference(Self.reconstruct(d), a) < 1e-13)
        #expect(zip(d.s, d.s.dropFirst()).allSatisfy { $0 >= $1 } && d.s.allSatisfy { $0 > 0 })
        for p in 0..<d.rank {
            for q in 0..<d.rank {
                let uu = (0..<m).reduce(0.0) { $0 + d.u[$1 * d.uColumns + p] * d.u[$1 * d.uColumns + q] }
                let vv = (0..<n).reduce(0.0) { $0 + d.vt[p * n + $1] * d.vt[q * n + $1] }
                #expect(abs(uu - (p == q ? 1 : 0)) < 1e-13 && abs(vv - (p == q ? 1 : 0)) < 1e-13)
            }
        }
        // Float32 gives the same singular values to float precision.
        let single = try LinearAlgebra.svd(a.map(Float.init), rows: m, columns: n)
        #expect(zip(single.s, d.s).allSatisfy { abs(Double($0) - $1) < 1e-5 })
    }

    @Test("Full SVDs have square U and Vᵀ and still reconstruct")
    func full() throws {
        let a = Self.values(5 * 3, seed: 9)
        let d = try LinearAlgebra.svd(a, rows: 5, columns: 3, mode: .full)
        #expect(d.uColumns == 5 && d.vtRows == 3 && d.u.count == 25)
        #expect(Self.maxDifference(Self.reconstruct(d), a) < 1e-13)
        // The extra columns of U are orthonormal too.
        var norm = 0.0
        for row in 0..<5 { norm += d.u[row * 5 + 4] * d.u[row * 5 + 4] }
        #expect(abs(norm - 1) < 1e-13)
    }

    @Test("Rank policy: zero singular values are exactly 0 and their vectors zero vectors")
    func rankDeficient() throws {
        // A rank-2 6×5 matrix: the sum of two outer products.
        let x = Self.values(6, seed: 1), y = Self.values(5, seed: 2), z = Self.values(6, seed: 3), w = Self.values(5, seed: 4)
        var a = [Double](repeating: 0, count: 30)
        for i in 0..<6 { for j in 0..<5 { a[i * 5 + j] = x[i] * y[j] + z[i] * w[j] } }
        let d = try LinearAlgebra.svd(a, rows: 6, columns: 5)
        #expect(d.numericalRank == 2)
        #expect(d.s[2...].allSatisfy { $0 == 0 })
        for p in 2..<5 {
            #expect((0..<6).allSatisfy { d.u[$0 * 5 + p] == 0 } && (0..<5).allSatisfy { d.vt[p * 5 + $0] == 0 })
        }
        #expect(Self.maxDifference(Self.reconstruct(d), a) < 1e-13)
        // The zero matrix has rank 0 and all-zero factors.
        let zero = try LinearAlgebra.svd([Double](repeating: 0, count: 12), rows: 3, columns: 4)
        #expect(zero.numericalRank == 0 && zero.u.allSatisfy { $0 == 0 } && zero.vt.allSatisfy { $0 == 0 })
    }

    @Test("Polar factor: orthonormal rows for full rank; the partial isometry over the range when rank-deficient")
    func polar() throws {
        let a = Self.values(3 * 5, seed: 11)
        let p = try LinearAlgebra.polar(a, rows: 3, columns: 5)
        for i in 0..<3 {
            for j in 0..<3 {
                let dot = (0..<5).reduce(0.0) { $0 + p[i * 5 + $1] * p[j * 5 + $1] }
                #expect(abs(dot - (i == j ? 1 : 0)) < 1e-13)
            }
        }
        // diag(3, 2, 0) rotated: its polar factor is the same rotation of diag(1, 1, 0), whatever
        // LAPACK picks for the null vectors.
        let c = cos(0.3), s = sin(0.3)
        let rotation = [c, -s, 0, s, c, 0, 0, 0, 1]
        let diagonal = [3.0, 0, 0, 0, 2, 0, 0, 0, 0]
        func multiply(_ x: [Double], _ y: [Double]) -> [Double] {
            var out = [Double](repeating: 0, count: 9)
            for i in 0..<3 { for j in 0..<3 { for k in 0..<3 { out[i * 3 + j] += x[i * 3 + k] * y[k * 3 + j] } } }
            return out
        }
        let polar = try LinearAlgebra.polar(multiply(rotation, diagonal), rows: 3, columns: 3)
        #expect(Self.maxDifference(polar, multiply(rotation, [1, 0, 0, 0, 1, 0, 0, 0, 0])) < 1e-14)
    }

    @Test("Non-finite input is an error, not a crash")
    func nonFinite() {
        #expect(throws: LinearAlgebraError.nonFinite(rows: 2, columns: 2)) {
            _ = try LinearAlgebra.svd([1, .nan, 0, 1] as [Double], rows: 2, columns: 2)
        }
    }

    @Test("Float64 values round once to BF16/F16/F32 (round-to-odd intermediate), and F64 round-trips")
    func doubleConversion() {
        // 1 + 2⁻⁸ + 2⁻³⁰ lies just above the BF16 midpoint 1 + 2⁻⁸; through a nearest Float32 it
        // would land on the midpoint and round down to 1.
        let value = 1 + 0x1p-8 + 0x1p-30
        let bf16 = Convert.decode(Convert.encode([value], as: .bfloat16).region, as: .bfloat16)
        #expect(bf16 == [1 + 0x1p-7])
        let f16 = Convert.decode(Convert.encode([1 + 0x1p-11 + 0x1p-40], as: .float16).region, as: .float16)
        #expect(f16 == [1 + 0x1p-10])
        let exact = [0.1, -3.25, 1e-300, .pi]
        #expect(Convert.decodeDoubles(Convert.encode(exact, as: .float64).region, as: .float64) == exact)
        #expect(Convert.decode(Convert.encode(exact, as: .float32).region, as: .float32) == exact.map(Float.init))
    }
}
