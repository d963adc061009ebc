import AmalgamKernels
import Foundation
import Testing

@Suite("BLAS products and transformer kernels")
struct LinearAlgebraTests {
    /// Deterministic pseudo-random values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(state >> 11) / Double(1 << 53) * 2 - 1)
        }
    }

    @Test("multiply equals the naive triple loop for every orientation, with offsets and strides")
    func multiplyMatchesNaive() {
        let m = 5, n = 7, k = 3
        for aT in [MatrixOrientation.asStored, .transposed] {
            for bT in [MatrixOrientation.asStored, .transposed] {
                // Stored shapes: a is m×k (or k×m), b is k×n (or n×k); both sit at an offset with padded rows.
                let aRows = aT == .asStored ? m : k, aCols = aT == .asStored ? k : m
                let bRows = bT == .asStored ? k : n, bCols = bT == .asStored ? n : k
                let a = Self.values(3 + aRows * (aCols + 2), seed: 1), b = Self.values(1 + bRows * (bCols + 1), seed: 2)
                let aLayout = MatrixLayout(rows: aRows, columns: aCols, offset: 3, stride: aCols + 2)
                let bLayout = MatrixLayout(rows: bRows, columns: bCols, offset: 1, stride: bCols + 1)
                var c = [Float](repeating: 0.5, count: 2 + m * (n + 4))
                let cLayout = MatrixLayout(rows: m, columns: n, offset: 2, stride: n + 4)
                BLAS.multiply(a, aLayout, aT, b, bLayout, bT, into: &c, cLayout, alpha: 2, beta: 0.5)
                for i in 0..<m {
                    for j in 0..<n {
                        var sum: Double = 0
                        for p in 0..<k {
                            let av = aT == .asStored ? a[3 + i * (aCols + 2) + p] : a[3 + p * (aCols + 2) + i]
                            let bv = bT == .asStored ? b[1 + p * (bCols + 1) + j] : b[1 + j * (bCols + 1) + p]
                            sum += Double(av) * Double(bv)
                        }
                        let expected = 2 * sum + 0.25
                        #expect(abs(Double(c[2 + i * (n + 4) + j]) - expected) < 1e-5)
                    }
                }
                // Padding between rows is untouched.
                #expect(c[2 + n] == 0.5 && c[0] == 0.5)
            }
        }
    }

    @Test("multiply in Float64, and an empty inner dimension scales c by beta")
    func doubleAndEmpty() {
        var c: [Double] = [0, 0, 0, 0]
        BLAS.multiply([1, 2, 3, 4], MatrixLayout(rows: 2, columns: 2), .asStored, [5, 6, 7, 8], MatrixLayout(rows: 2, columns: 2), .asStored,
                      into: &c, MatrixLayout(rows: 2, columns: 2))
        #expect(c == [19, 22, 43, 50])
        var d: [Float] = [1, 2, 3, 4]
        BLAS.multiply([], MatrixLayout(rows: 2, columns: 0), .asStored, [], MatrixLayout(rows: 0, columns: 2), .asStored,
                      into: &d, MatrixLayout(rows: 2, columns: 2), beta: 2)
        #expect(d == [2, 4, 6, 8])
    }

    @Test("rmsNorm, siluMultiply, masked softmax, rotary and log-softmax follow their formulas")
    func elementwise() {
        let x: [Float] = [1, -2, 3, 4, 0.5, -0.5]
        var y: [Float] = []
        TransformerKernels.rmsNorm(x, weight: [1, 2, 3], epsilon: 1e-6, width: 3, into: &y)
        let rms0 = ((1.0 + 4 + 9) / 3 + 1e-6).squareRoot()
        #expect(abs(Double(y[1]) - 2 * -2 / rms0) < 1e-6)
        let rms1 = ((16.0 + 0.25 + 0.25) / 3 + 1e-6).squareRoot()
        #expect(abs(Double(y[5]) - 3 * -0.5 / rms1) < 1e-6)

        var gate: [Float] = [0, 1, -3]
        TransformerKernels.siluMultiply(&gate, by: [5, 2, 1])
        #expect(gate[0] == 0 && abs(Double(gate[1]) - 2 / (1 + exp(-1.0))) < 1e-6 && abs(Double(gate[2]) - (-3 / (1 + exp(3.0)))) < 1e-6)

        var scores: [Float] = [9, 1, 2, 3, 9]
        TransformerKernels.maskedSoftmax(&scores, rowOffset: 0, validStart: 1, validCount: 3, rowLength: 5)
        let z = exp(1.0) + exp(2.0)
        #expect(scores[0] == 0 && scores[3] == 0 && scores[4] == 0)
        #expect(abs(Double(scores[1]) - exp(1.0) / z) < 1e-6 && abs(Double(scores[2]) - exp(2.0) / z) < 1e-6)

        // One head of dimension 4 at position 1 with angles (a, b): pairs (0, 2) and (1, 3) rotate.
        var v: [Float] = [1, 2, 3, 4]
        let a: Float = 0.3, b: Float = 0.7
        TransformerKernels.applyRotary(&v, heads: 1, headDim: 4, positions: [1], cos: [9, 9, cos(a), cos(b)], sin: [9, 9, sin(a), sin(b)])
        #expect(abs(v[0] - (1 * cos(a) - 3 * sin(a))) < 1e-6 && abs(v[2] - (3 * cos(a) + 1 * sin(a))) < 1e-6)
        #expect(abs(v[1] - (2 * cos(b) - 4 * sin(b))) < 1e-6 && abs(v[3] - (4 * cos(b) + 2 * sin(b))) < 1e-6)

        let logits: [Float] = [7, 1, 2, 3]
        let expected = 3 - log(exp(1.0) + exp(2.0) + exp(3.0))
        #expect(abs(TransformerKernels.logSoftmax(logits, in: 1..<4, at: 2) - expected) < 1e-12)
        #expect(TransformerKernels.argmax([1, 5, 5, 2], in: 0..<4) == 1)
    }
}
