// Scoring a model in process: greedy generation with exact match, multiple choice by
// log-likelihood, and perplexity. The model is a `LanguageModel` in memory, so a caller can
// rewrite its parameters (a merge) and score again without touching the disk.

import AmalgamInference
import AmalgamKernels
import AmalgamTokenizer
import Foundation

/// When greedy generation stops.
public struct GenerationSettings: Sendable, Equatable {
    /// Generated tokens at most (the stop token is not counted).
    public var maxNewTokens: Int
    /// Stop before a token whose text contains a newline.
    public var stopAtNewline: Bool

    public init(maxNewTokens: Int = 16, stopAtNewline: Bool = true) {
        self.maxNewTokens = maxNewTokens
        self.stopAtNewline = stopAtNewline
    }
}

/// The outcome of one item.
public struct ItemResult: Sendable, Equatable {
    public var prompt: String
    public var expected: String
    public var prediction: String
    /// Generated ids without the stop token (empty for multiple choice).
    public var generatedIds: [Int]
    public var correct: Bool
}

/// The outcome of one task.
public struct TaskResult: Sendable {
    public var name: String
    public var split: String
    public var total: Int
    public var correct: Int
    public var accuracy: Double { total == 0 ? 0 : Double(correct) / Double(total) }
    /// Mean generated tokens per item (generation tasks; nil for multiple choice).
    public var meanResponseTokens: Double?
    public var items: [ItemResult]
    /// Generated ids over all items.
    public var generatedTokens: Int { items.reduce(0) { $0 + $1.generatedIds.count } }
}

/// Perplexity of a text.
public struct PerplexityResult: Sendable, Equatable {
    /// Tokens predicted (every token of each window but its first).
    public var scoredTokens: Int
    /// Mean negative log-likelihood per scored token, in nats.
    public var meanNegativeLogLikelihood: Double
    public var perplexity: Double { exp(meanNegativeLogLikelihood) }
}

public final class Evaluator {
    public let model: LanguageModel
    public let tokenizer: Tokenizer
    public var settings: GenerationSettings
    /// Sequences decoded together.
    public var batchSize: Int
    /// Cores to use for many prompts or windows: that many workers (data parallel), each on
    /// single-threaded BLAS, so results are the same bits at any thread count.
    public var threads: Int
    /// BLAS threads when only one worker runs (one prompt). Multi-threaded OpenBLAS may round
    /// differently from single-threaded, so the default (1) keeps results independent of `threads`;
    /// `amalgam generate` raises it for speed on big models.
    public var blasThreads = 1
    /// Ids that end generation: the config's eos ids, and (with `stopAtNewline`) every token whose text has a newline.
    public let stopIds: Set<Int>

    public init(model: LanguageModel, tokenizer: Tokenizer, settings: GenerationSettings = .init(), batchSize: Int = 32, threads: Int = 1) {
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.batchSize = max(1, batchSize)
        self.threads = max(1, threads)
        var stops = Set(model.config.eosTokenIds)
        if settings.stopAtNewline {
            for id in 0..<min(tokenizer.vocabularySize, model.config.vocabularySize) {
                if let text = try? tokenizer.decode([id]), text.contains("\n") { stops.insert(id) }
            }
        }
        stopIds = stops
    }

    /// The ids a prompt is fed as: the tokenizer's encoding with its special tokens (bos, where the
    /// tokenizer's post-processor adds one).
    public func promptIds(_ text: String) -> [Int] {
        tokenizer.encode(text, addSpecialTokens: true)
    }

    /// Greedy continuations of `prompts`, decoded `batchSize` at a time; `progress` gets the
    /// number of prompts finished so far. With `threads` > 1 and enough prompts, contiguous shards
    /// of the prompts decode on separate cores with single-threaded BLAS (data parallel); otherwise
    /// one decoder uses a multi-threaded BLAS. Results do not depend on the split: each
    /// sequence's arithmetic is its own (see the batch-size test).
    public func generate(_ prompts: [[Int]], progress: ((Int) -> Void)? = nil) throws -> [[Int]] {
        let decoder = GreedyDecoder(model: model, stopIds: stopIds, settings: settings, batchSize: batchSize)
        let workers = min(threads, prompts.count / max(1, min(batchSize, 8)))
        if workers <= 1 {
            BLAS.setThreads(blasThreads)
            return try decoder.generate(prompts, progress: progress)
        }
        BLAS.setThreads(1)
        // Rounds of `workers` batches, so progress advances as rounds finish.
        var results: [[Int]] = []
        results.reserveCapacity(prompts.count)
        let roundSize = workers * batchSize
        for roundStart in stride(from: 0, to: prompts.count, by: roundSize) {
            let round = Array(prompts[roundStart..<min(roundStart + roundSize, prompts.count)])
            let shardSize = (round.count + workers - 1) / workers
            let outcomes = Parallel.mapChunks(count: round.count, chunkSize: shardSize, threads: workers) { range in
                Result { try decoder.generate(Array(round[range])) }
            }
            for outcome in outcomes { results.append(contentsOf: try outcome.get()) }
            progress?(results.count)
        }
        return results
    }

    /// Scores `task` (its first `limit` items when given).
    public func evaluate(_ task: EvalTask, limit: Int? = nil, progress: ((Int) -> Void)? = nil) throws -> TaskResult {
        let items = limit.map { Array(task.items.prefix($0)) } ?? task.items
        var results: [ItemResult] = Array(repeating: ItemResult(prompt: "", expected: "", prediction: "", generatedIds: [], correct: false), count: items.count)

        let generationIndices = items.indices.filter { if case .generation = items[$0] { true } else { false } }
        let generated = try generate(generationIndices.map { promptIds(items[$0].prompt) }) { progress?($0) }
        for (index, ids) in zip(generationIndices, generated) {
            guard case .generation(let prompt, let answer) = items[index] else { continue }
            let prediction = try tokenizer.decode(ids)
            results[index] = ItemResult(
                prompt: prompt, expected: answer, prediction: prediction, generatedIds: ids,
                correct: Self.firstLineTrimmed(prediction) == Self.firstLineTrimmed(answer)
            )
        }
        var finished = generationIndices.count
        for index in items.indices {
            guard case .multipleChoice(let prompt, let choices, let answerIndex) = items[index] else { continue }
            let scores = try choiceLogLikelihoods(prompt: prompt, choices: choices)
            let best = scores.indices.max { scores[$0] < scores[$1] || (scores[$0] == scores[$1] && $0 > $1) } ?? 0
            results[index] = ItemResult(prompt: prompt, expected: choices[answerIndex], prediction: choices[best], generatedIds: [], correct: best == answerIndex)
            finished += 1
            progress?(finished)
        }
        let generatedTokens = generated.reduce(0) { $0 + $1.count }
        return TaskResult(
            name: task.name, split: task.split, total: items.count, correct: results.filter(\.correct).count,
            meanResponseTokens: generationIndices.isEmpty ? nil : Double(generatedTokens) / Double(generationIndices.count),
            items: results
        )
    }

    /// Sum of log-probabilities of each choice's tokens as a continuation of the prompt. The
    /// continuation is what encoding prompt+choice adds after the prompt's own encoding.
    public func choiceLogLikelihoods(prompt: String, choices: [String]) throws -> [Double] {
        BLAS.setThreads(blasThreads)
        let context = promptIds(prompt)
        let sequences = choices.map { choice -> (whole: [Int], continuationStart: Int) in
            let whole = promptIds(prompt + choice)
            if whole.count > context.count && Array(whole.prefix(context.count)) == context { return (whole, context.count) }
            return (context + tokenizer.encode(choice), context.count)
        }
        let steps = sequences.map { SequenceStep(tokens: $0.whole, cache: KVCache(config: model.config)) }
        let logits = try model.forward(steps, logits: .all)
        let vocabulary = model.config.vocabularySize
        return zip(sequences, logits).map { sequence, rows in
            Self.logLikelihood(of: sequence.whole, from: sequence.continuationStart, logits: rows, vocabulary: vocabulary)
        }
    }

    /// Perplexity of `text` in consecutive windows of at most `window` tokens (the model's
    /// positions by default); each window predicts its tokens after the first. Windows run on
    /// `threads` cores; each window's log-likelihood is summed alone and the sums are added in
    /// window order, so the result does not depend on the thread count.
    public func perplexity(of text: String, window: Int? = nil, path: String = "text") throws -> PerplexityResult {
        let ids = promptIds(text)
        guard ids.count >= 2 else { throw EvalError.emptyText(path: path) }
        let size = max(2, min(window ?? model.config.maxPositions, model.config.maxPositions))
        let windows = stride(from: 0, to: ids.count, by: size).map { Array(ids[$0..<min($0 + size, ids.count)]) }.filter { $0.count >= 2 }
        let model = self.model
        let workers = min(threads, windows.count)
        BLAS.setThreads(workers > 1 ? 1 : blasThreads)
        let perWindow = Parallel.mapChunks(count: windows.count, chunkSize: 1, threads: max(1, workers)) { range -> Result<Double, any Error> in
            Result {
                let chunk = windows[range.lowerBound]
                let rows = try model.forward([SequenceStep(tokens: chunk, cache: KVCache(config: model.config))], logits: .all)[0]
                return -Self.logLikelihood(of: chunk, from: 1, logits: rows, vocabulary: model.config.vocabularySize)
            }
        }
        var total = 0.0
        for value in perWindow { total += try value.get() }
        let scored = windows.reduce(0) { $0 + $1.count - 1 }
        return PerplexityResult(scoredTokens: scored, meanNegativeLogLikelihood: total / Double(scored))
    }

    /// Σ log p(tokens[i] | tokens[..<i]) for i in start..<tokens.count, where `logits` row i − 1
    /// (`vocabulary` wide) is the distribution after tokens[..<i].
    static func logLikelihood(of tokens: [Int], from start: Int, logits: [Float], vocabulary: Int) -> Double {
        var total = 0.0
        for position in start..<tokens.count {
            let row = (position - 1) * vocabulary
            total += TransformerKernels.logSoftmax(logits, in: row..<(row + vocabulary), at: tokens[position])
        }
        return total
    }

    /// The first line of `text` with surrounding whitespace removed (Python's `split("\n")[0].strip()`).
    public static func firstLineTrimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        let end = scalars.firstIndex(of: "\n") ?? scalars.endIndex
        return String(scalars[..<end]).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Batched greedy decoding of a list of prompts on the calling thread.
struct GreedyDecoder: Sendable {
    let model: LanguageModel
    let stopIds: Set<Int>
    let settings: GenerationSettings
    let batchSize: Int

    func generate(_ prompts: [[Int]], progress: ((Int) -> Void)? = nil) throws -> [[Int]] {
        var results: [[Int]] = Array(repeating: [], count: prompts.count)
        var done = 0
        for batchStart in stride(from: 0, to: prompts.count, by: batchSize) {
            let indices = Array(batchStart..<min(batchStart + batchSize, prompts.count))
            let caches = indices.map { KVCache(config: model.config, reservingPositions: prompts[$0].count + settings.maxNewTokens) }
            var active = Array(indices.indices)
            var logits = try model.forward(indices.indices.map { SequenceStep(tokens: prompts[indices[$0]], cache: caches[$0]) }, logits: .last)
            var rowOf = Dictionary(uniqueKeysWithValues: active.enumerated().map { ($1, $0) })
            while !active.isEmpty && settings.maxNewTokens > 0 {
                var next: [(slot: Int, token: Int)] = []
                for slot in active {
                    let row = logits[rowOf[slot]!]
                    let token = TransformerKernels.argmax(row, in: 0..<row.count)
                    if stopIds.contains(token) { continue }
                    results[indices[slot]].append(token)
                    if results[indices[slot]].count < settings.maxNewTokens { next.append((slot, token)) }
                }
                active = next.map(\.slot)
                if active.isEmpty { break }
                rowOf = Dictionary(uniqueKeysWithValues: active.enumerated().map { ($1, $0) })
                logits = try model.forward(next.map { SequenceStep(tokens: [$0.token], cache: caches[$0.slot]) }, logits: .last)
            }
            done += indices.count
            progress?(done)
        }
        return results
    }
}
