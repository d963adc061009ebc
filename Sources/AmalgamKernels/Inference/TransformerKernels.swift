// The elementwise steps of a transformer forward pass, on row-major Float32 buffers: RMSNorm,
// rotary position embedding, the SiLU-gated product, masked softmax, residual adds and biases.
// Each function checks its ranges once, then runs over raw buffers.

import Foundation

public enum TransformerKernels {
    /// RMSNorm of each `width`-long row of `input` (rows = count / width), times `weight`, into
    /// `output` (which may be `input`'s copy). Sums of squares accumulate in Float64.
    public static func rmsNorm(_ input: [Float], weight: [Float], epsilon: Float, width: Int, into output: inout [Float]) {
        precondition(width > 0 && input.count % width == 0, "rmsNorm: \(input.count) values are not whole rows of \(width)")
        precondition(weight.count == width, "rmsNorm: weight has \(weight.count) values, rows have \(width)")
        if output.count != input.count { output = [Float](repeating: 0, count: input.count) }
        let rows = input.count / width
        input.withUnsafeBufferPointer { x in
            weight.withUnsafeBufferPointer { w in
                output.withUnsafeMutableBufferPointer { y in
                    for row in 0..<rows {
                        let base = row * width
                        var sum: Double = 0
                        for i in 0..<width {
                            let v = Double(x[base + i])
                            sum += v * v
                        }
                        let scale = Float(1 / (sum / Double(width) + Double(epsilon)).squareRoot())
                        for i in 0..<width { y[base + i] = w[i] * (x[base + i] * scale) }
                    }
                }
            }
        }
    }

    /// RMSNorm applied in place to each `width`-long segment of `values` (used per attention head).
    public static func rmsNormInPlace(_ values: inout [Float], weight: [Float], epsilon: Float, width: Int) {
        let copy = values
        rmsNorm(copy, weight: weight, epsilon: epsilon, width: width, into: &values)
    }

    /// Rotary position embedding in the "rotate half" convention, in place. `values` holds rows of
    /// `heads × headDim`; row r has position `positions[r]`. `cos`/`sin` are tables of
    /// `headDim / 2` values per position.
    public static func applyRotary(
        _ values: inout [Float], heads: Int, headDim: Int, positions: [Int], cos: [Float], sin: [Float]
    ) {
        let half = headDim / 2
        let rowWidth = heads * headDim
        precondition(headDim % 2 == 0 && values.count == positions.count * rowWidth, "applyRotary: shape mismatch")
        let maxPosition = positions.max() ?? -1
        precondition((maxPosition + 1) * half <= cos.count && cos.count == sin.count, "applyRotary: tables too short for position \(maxPosition)")
        values.withUnsafeMutableBufferPointer { v in
            cos.withUnsafeBufferPointer { c in
                sin.withUnsafeBufferPointer { s in
                    for (row, position) in positions.enumerated() {
                        let table = position * half
                        for head in 0..<heads {
                            let base = row * rowWidth + head * headDim
                            for i in 0..<half {
                                let x1 = v[base + i], x2 = v[base + i + half]
                                let cs = c[table + i], sn = s[table + i]
                                v[base + i] = x1 * cs - x2 * sn
                                v[base + i + half] = x2 * cs + x1 * sn
                            }
                        }
                    }
                }
            }
        }
    }

    /// `gate ← silu(gate) · up`, elementwise, where silu(x) = x / (1 + e^−x).
    public static func siluMultiply(_ gate: inout [Float], by up: [Float]) {
        precondition(gate.count == up.count, "siluMultiply: \(gate.count) and \(up.count) values")
        gate.withUnsafeMutableBufferPointer { g in
            up.withUnsafeBufferPointer { u in
                for i in 0..<g.count {
                    let x = g[i]
                    g[i] = x / (1 + Foundation.exp(-x)) * u[i]
                }
            }
        }
    }

    /// Softmax over `row`'s first `validCount` entries (entries from `validStart` on, i.e. the
    /// causal/sliding window), in place; entries outside `validStart..<validCount` become 0.
    public static func maskedSoftmax(_ scores: inout [Float], rowOffset: Int, validStart: Int, validCount: Int, rowLength: Int) {
        precondition(rowOffset >= 0 && rowOffset + rowLength <= scores.count, "maskedSoftmax: row outside storage")
        precondition(0 <= validStart && validStart < validCount && validCount <= rowLength, "maskedSoftmax: empty or bad window")
        scores.withUnsafeMutableBufferPointer { p in
            let row = p.baseAddress! + rowOffset
            var maximum = -Float.infinity
            for i in validStart..<validCount { maximum = Swift.max(maximum, row[i]) }
            var sum: Float = 0
            for i in validStart..<validCount {
                let e = Foundation.exp(row[i] - maximum)
                row[i] = e
                sum += e
            }
            let inverse = 1 / sum
            for i in 0..<validStart { row[i] = 0 }
            for i in validStart..<validCount { row[i] *= inverse }
            for i in validCount..<rowLength { row[i] = 0 }
        }
    }

    /// `target[i] += addend[i]`.
    public static func add(_ addend: [Float], into target: inout [Float]) {
        precondition(addend.count == target.count, "add: \(addend.count) and \(target.count) values")
        target.withUnsafeMutableBufferPointer { t in
            addend.withUnsafeBufferPointer { a in
                for i in 0..<t.count { t[i] += a[i] }
            }
        }
    }

    /// Adds `bias` to every `bias.count`-wide row of `values`.
    public static func addBias(_ bias: [Float], to values: inout [Float]) {
        let width = bias.count
        precondition(width > 0 && values.count % width == 0, "addBias: \(values.count) values are not rows of \(width)")
        values.withUnsafeMutableBufferPointer { v in
            bias.withUnsafeBufferPointer { b in
                var base = 0
                while base < v.count {
                    for i in 0..<width { v[base + i] += b[i] }
                    base += width
                }
            }
        }
    }

    /// Index of the largest value in `values[range]` (the first one on ties), relative to the range start.
    public static func argmax(_ values: [Float], in range: Range<Int>) -> Int {
        precondition(!range.isEmpty && range.upperBound <= values.count, "argmax: bad range")
        var best = range.lowerBound
        var bestValue = values[best]
        for i in range where values[i] > bestValue {
            best = i
            bestValue = values[i]
        }
        return best - range.lowerBound
    }

    /// log-softmax of `values[range]` evaluated at `index` (relative): `x_i − log Σ exp x_j`, in Float64.
    public static func logSoftmax(_ values: [Float], in range: Range<Int>, at index: Int) -> Double {
        precondition(!range.isEmpty && range.upperBound <= values.count && index < range.count, "logSoftmax: bad range")
        var maximum = -Double.infinity
        for i in range { maximum = Swift.max(maximum, Double(values[i])) }
        var sum: Double = 0
        for i in range { sum += Foundation.exp(Double(values[i]) - maximum) }
        return Double(values[range.lowerBound + index]) - maximum - Foundation.log(sum)
    }

    /// Causal attention of one head for short sequences, by direct loops (for small problems BLAS
    /// call and packing overheads dominate). Row t of the `rows` queries sits at position
    /// `firstPosition + t` and attends to cached positions `max(0, p − window + 1)...p`; the
    /// result row goes to `output`. `scratch` must hold at least `firstPosition + rows` values.
    public static func attendDirect(
        queries: [Float], queryOffset: Int, queryStride: Int, rows: Int,
        keys: [Float], values: [Float], keyValueOffset: Int, keyValueStride: Int,
        headDim: Int, scale: Float, firstPosition: Int, window: Int?,
        scratch: inout [Float], into output: inout [Float], outputOffset: Int, outputStride: Int
    ) {
        let positions = firstPosition + rows
        precondition(rows >= 0 && headDim > 0 && scratch.count >= positions, "attendDirect: bad sizes")
        precondition(rows == 0 || queryOffset + (rows - 1) * queryStride + headDim <= queries.count, "attendDirect: queries out of range")
        precondition(positions == 0 || keyValueOffset + (positions - 1) * keyValueStride + headDim <= min(keys.count, values.count),
                     "attendDirect: keys/values out of range")
        precondition(rows == 0 || outputOffset + (rows - 1) * outputStride + headDim <= output.count, "attendDirect: output out of range")
        queries.withUnsafeBufferPointer { q in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    scratch.withUnsafeMutableBufferPointer { p in
                        output.withUnsafeMutableBufferPointer { o in
                            for t in 0..<rows {
                                let position = firstPosition + t
                                let start = window.map { Swift.max(0, position - $0 + 1) } ?? 0
                                let qRow = q.baseAddress! + queryOffset + t * queryStride
                                var maximum = -Float.infinity
                                for s in start...position {
                                    let kRow = k.baseAddress! + keyValueOffset + s * keyValueStride
                                    var dot: Float = 0
                                    for i in 0..<headDim { dot += qRow[i] * kRow[i] }
                                    let score = dot * scale
                                    p[s] = score
                                    maximum = Swift.max(maximum, score)
                                }
                                var sum: Float = 0
                                for s in start...position {
                                    let e = Foundation.exp(p[s] - maximum)
                                    p[s] = e
                                    sum += e
                                }
                                let inverse = 1 / sum
                                let oRow = o.baseAddress! + outputOffset + t * outputStride
                                for i in 0..<headDim { oRow[i] = 0 }
                                for s in start...position {
                                    let weight = p[s] * inverse
                                    let vRow = v.baseAddress! + keyValueOffset + s * keyValueStride
                                    for i in 0..<headDim { oRow[i] += weight * vRow[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
