// The forward pass of a Llama-family decoder, written out step by step. Shapes in comments use
// R = rows in this step (the new tokens of every sequence in the batch, concatenated), H = hidden
// size, Q = heads × head_dim, KV = key/value heads × head_dim, M = intermediate size, V = vocab,
// T = cached positions of one sequence after this step.
//
// The one hot spot is matrix multiplication, done by BLAS (`BLAS.multiply`); everything else is
// linear in R and runs in `TransformerKernels`.

import AmalgamKernels
import Foundation

/// One sequence's part of a forward step: its new tokens and its cache (which already holds its
/// earlier positions and receives the new ones).
public struct SequenceStep {
    public var tokens: [Int]
    public var cache: KVCache

    public init(tokens: [Int], cache: KVCache) {
        self.tokens = tokens
        self.cache = cache
    }
}

/// Which positions' logits a forward step returns.
public enum LogitRows: Sendable {
    /// The last new token of each sequence (generation).
    case last
    /// Every new token (scoring, perplexity).
    case all
}

extension LanguageModel {
    /// Runs the new tokens of every sequence through the network, appends their keys and values
    /// to the caches, and returns logits per sequence: `[rows × V]` flattened, rows as `LogitRows` says.
    public func forward(_ batch: [SequenceStep], logits selection: LogitRows) throws(InferenceError) -> [[Float]] {
        let c = config
        let H = c.hiddenSize, Q = c.queryWidth, KV = c.keyValueWidth, M = c.intermediateSize, V = c.vocabularySize
        let headDim = c.headDimension
        let groupSize = c.headCount / c.keyValueHeadCount
        for step in batch {
            if step.tokens.isEmpty { continue }
            if let bad = step.tokens.first(where: { $0 < 0 || $0 >= V }) { throw .tokenOutOfRange(id: bad, vocabularySize: V) }
            if step.cache.count + step.tokens.count > c.maxPositions {
                throw .sequenceTooLong(length: step.cache.count + step.tokens.count, limit: c.maxPositions)
            }
        }

        // Row bookkeeping: where each sequence's rows start, and each row's position.
        var rowStart: [Int] = []
        var positions: [Int] = []
        for step in batch {
            rowStart.append(positions.count)
            positions.append(contentsOf: (0..<step.tokens.count).map { step.cache.count + $0 })
        }
        let R = positions.count
        guard R > 0 else { return batch.map { _ in [] } }

        // Rotary tables for these rows: cos/sin of position × frequency, [R × headDim/2].
        let half = headDim / 2
        var cosTable = [Float](repeating: 0, count: R * half), sinTable = cosTable
        for (row, position) in positions.enumerated() {
            for i in 0..<half {
                let angle = Float(position) * rotaryFrequencies[i]
                cosTable[row * half + i] = Foundation.cos(angle)
                sinTable[row * half + i] = Foundation.sin(angle)
            }
        }
        let rowIndices = Array(0..<R)

        // x: [R × H], the embedding rows of the new tokens.
        var x = [Float](repeating: 0, count: R * H)
        let embeddingTable = storage[embedding]
        var row = 0
        for step in batch {
            for token in step.tokens {
                x.replaceSubrange(row * H..<(row + 1) * H, with: embeddingTable[token * H..<(token + 1) * H])
                row += 1
            }
        }

        var normed = [Float](repeating: 0, count: R * H)
        for (layerIndex, layer) in layers.enumerated() {
            // --- Attention block ---
            TransformerKernels.rmsNorm(x, weight: storage[layer.inputNorm], epsilon: c.rmsNormEpsilon, width: H, into: &normed)
            var queries = linear(normed, rows: R, inFeatures: H, outFeatures: Q, weight: layer.query, bias: layer.queryBias)  // [R × Q]
            var keys = linear(normed, rows: R, inFeatures: H, outFeatures: KV, weight: layer.key, bias: layer.keyBias)       // [R × KV]
            let values = linear(normed, rows: R, inFeatures: H, outFeatures: KV, weight: layer.value, bias: layer.valueBias) // [R × KV]
            if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm {
                TransformerKernels.rmsNormInPlace(&queries, weight: storage[queryNorm], epsilon: c.rmsNormEpsilon, width: headDim)
                TransformerKernels.rmsNormInPlace(&keys, weight: storage[keyNorm], epsilon: c.rmsNormEpsilon, width: headDim)
            }
            TransformerKernels.applyRotary(&queries, heads: c.headCount, headDim: headDim, positions: rowIndices, cos: cosTable, sin: sinTable)
            TransformerKernels.applyRotary(&keys, heads: c.keyValueHeadCount, headDim: headDim, positions: rowIndices, cos: cosTable, sin: sinTable)

            var attended = [Float](repeating: 0, count: R * Q)  // [R × Q], heads side by side
            let scale = 1 / Float(headDim).squareRoot()
            for (sequence, step) in batch.enumerated() where !step.tokens.isEmpty {
                let first = rowStart[sequence], n = step.tokens.count
                step.cache.append(layer: layerIndex, keys: keys[first * KV..<(first + n) * KV], values: values[first * KV..<(first + n) * KV])
                let T = step.cache.count + n
                let cachedKeys = step.cache.keys[layerIndex], cachedValues = step.cache.values[layerIndex]  // [T × KV]
                if n * T * headDim <= Self.directAttentionLimit {
                    // Short sequences (decoding, short prompts): direct loops beat BLAS call overheads.
                    var scratch = [Float](repeating: 0, count: T)
                    for head in 0..<c.headCount {
                        let kvHead = head / groupSize
                        TransformerKernels.attendDirect(
                            queries: queries, queryOffset: first * Q + head * headDim, queryStride: Q, rows: n,
                            keys: cachedKeys, values: cachedValues, keyValueOffset: kvHead * headDim, keyValueStride: KV,
                            headDim: headDim, scale: scale, firstPosition: step.cache.count, window: c.slidingWindow,
                            scratch: &scratch, into: &attended, outputOffset: first * Q + head * headDim, outputStride: Q
                        )
                    }
                    continue
                }
                var scores = [Float](repeating: 0, count: n * T)                                            // [n × T]
                for head in 0..<c.headCount {
                    let kvHead = head / groupSize
                    // scores = q_head · k_head^T / √d   ([n × d] · [d × T])
                    BLAS.multiply(
                        queries, MatrixLayout(rows: n, columns: headDim, offset: first * Q + head * headDim, stride: Q), .asStored,
                        cachedKeys, MatrixLayout(rows: T, columns: headDim, offset: kvHead * headDim, stride: KV), .transposed,
                        into: &scores, MatrixLayout(rows: n, columns: T), alpha: scale
                    )
                    // Causal (and sliding-window) softmax: row t sees positions ≤ its own.
                    for t in 0..<n {
                        let position = step.cache.count + t
                        let windowStart = c.slidingWindow.map { max(0, position - $0 + 1) } ?? 0
                        TransformerKernels.maskedSoftmax(&scores, rowOffset: t * T, validStart: windowStart, validCount: position + 1, rowLength: T)
                    }
                    // out_head = softmax · v_head   ([n × T] · [T × d]) into the head's columns
                    BLAS.multiply(
                        scores, MatrixLayout(rows: n, columns: T), .asStored,
                        cachedValues, MatrixLayout(rows: T, columns: headDim, offset: kvHead * headDim, stride: KV), .asStored,
                        into: &attended, MatrixLayout(rows: n, columns: headDim, offset: first * Q + head * headDim, stride: Q)
                    )
                }
            }
            let attentionOutput = linear(attended, rows: R, inFeatures: Q, outFeatures: H, weight: layer.output, bias: layer.outputBias)  // [R × H]
            TransformerKernels.add(attentionOutput, into: &x)

            // --- MLP block: down(silu(gate(x)) · up(x)) ---
            TransformerKernels.rmsNorm(x, weight: storage[layer.postAttentionNorm], epsilon: c.rmsNormEpsilon, width: H, into: &normed)
            var gate = linear(normed, rows: R, inFeatures: H, outFeatures: M, weight: layer.gate, bias: layer.gateBias)  // [R × M]
            let up = linear(normed, rows: R, inFeatures: H, outFeatures: M, weight: layer.up, bias: layer.upBias)        // [R × M]
            TransformerKernels.siluMultiply(&gate, by: up)
            let mlpOutput = linear(gate, rows: R, inFeatures: M, outFeatures: H, weight: layer.down, bias: layer.downBias)  // [R × H]
            TransformerKernels.add(mlpOutput, into: &x)
        }
        for step in batch { step.cache.advance(by: step.tokens.count) }

        // Final norm and the vocabulary projection, only for the rows asked for.
        var selected: [(sequence: Int, rows: Range<Int>)] = []
        for (sequence, step) in batch.enumerated() {
            let first = rowStart[sequence], n = step.tokens.count
            switch selection {
            case .all: selected.append((sequence, first..<(first + n)))
            case .last: selected.append((sequence, n == 0 ? first..<first : (first + n - 1)..<(first + n)))
            }
        }
        var finalRows: [Float] = []
        finalRows.reserveCapacity(selected.reduce(0) { $0 + $1.rows.count } * H)
        for entry in selected { finalRows.append(contentsOf: x[(entry.rows.lowerBound * H)..<(entry.rows.upperBound * H)]) }
        let selectedCount = finalRows.count / H
        var finalNormed = [Float](repeating: 0, count: finalRows.count)
        TransformerKernels.rmsNorm(finalRows, weight: storage[finalNorm], epsilon: c.rmsNormEpsilon, width: H, into: &finalNormed)
        let allLogits = linear(finalNormed, rows: selectedCount, inFeatures: H, outFeatures: V, weight: head, bias: nil)  // [rows × V]
        var output: [[Float]] = []
        var offset = 0
        for entry in selected {
            output.append(Array(allLogits[(offset * V)..<((offset + entry.rows.count) * V)]))
            offset += entry.rows.count
        }
        return output
    }

    /// Attention problems up to this many multiply-adds per head (rows × positions × head_dim)
    /// use direct loops instead of two BLAS calls.
    static var directAttentionLimit: Int { 1 << 16 }

    /// `x · Wᵀ (+ b)`: [rows × in] · [in × out] → [rows × out], with W stored [out × in] as in the checkpoint.
    private func linear(_ x: [Float], rows: Int, inFeatures: Int, outFeatures: Int, weight: Int, bias: Int?) -> [Float] {
        var y = [Float](repeating: 0, count: rows * outFeatures)
        BLAS.multiply(
            x, MatrixLayout(rows: rows, columns: inFeatures), .asStored,
            storage[weight], MatrixLayout(rows: outFeatures, columns: inFeatures), .transposed,
            into: &y, MatrixLayout(rows: rows, columns: outFeatures)
        )
        if let bias { TransformerKernels.addBias(storage[bias], to: &y) }
        return y
    }
}
