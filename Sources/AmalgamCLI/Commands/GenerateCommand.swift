import AmalgamEval
import AmalgamIO
import AmalgamInference
import AmalgamKernels
import AmalgamTokenizer
import ArgumentParser
import Foundation

/// `amalgam generate MODEL PROMPT`: greedy continuation, for a person to try a model.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a model, greedily (argmax at every step).",
        discussion: """
            MODEL is a model folder, .safetensors file (with config.json and tokenizer.json beside \
            it) or a cached org/name[@revision]. Llama, Mistral, Qwen2 and Qwen3 checkpoints run; \
            weights are converted to Float32 on load. Generation stops at the model's eos token or \
            after --max-new-tokens tokens.
            """
    )

    @Argument(help: "Model folder, .safetensors file, or cached org/name[@revision].")
    var model: String

    @Argument(help: "The prompt text (the tokenizer's special tokens, such as bos, are added).")
    var prompt: String

    @Option(name: .long, help: "Most tokens to generate.")
    var maxNewTokens = 64

    @Flag(name: .long, help: "Also stop before a token that contains a newline.")
    var stopAtNewline = false

    @OptionGroup var threading: ThreadOptions

    func validate() throws {
        if maxNewTokens < 1 { throw ValidationError("--max-new-tokens must be at least 1, got \(maxNewTokens)") }
    }

    func run() throws {
        try AmalgamRuntime.run {
            BLAS.setThreads(threading.resolvedThreads)
            // Headers and the tokenizer first, so a missing tokenizer fails before any weights are read.
            let checkpoint = try Checkpoint(opening: model)
            let tokenizer = try Tokenizer(contentsOf: LanguageModel.folder(of: checkpoint))
            let languageModel = try LanguageModel(checkpoint: checkpoint, threads: threading.resolvedThreads)
            let evaluator = Evaluator(
                model: languageModel, tokenizer: tokenizer,
                settings: GenerationSettings(maxNewTokens: maxNewTokens, stopAtNewline: stopAtNewline), batchSize: 1,
                threads: threading.resolvedThreads
            )
            evaluator.blasThreads = threading.resolvedThreads  // one prompt: BLAS uses the cores
            let start = DispatchTime.now().uptimeNanoseconds
            let ids = try evaluator.generate([evaluator.promptIds(prompt)])[0]
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            print(prompt + (try tokenizer.decode(ids, skipSpecialTokens: true)))
            AmalgamRuntime.printError(String(format: "%d tokens in %.3f s (%.1f tokens/s)", ids.count, seconds, Double(ids.count) / max(seconds, 1e-9)))
        }
    }
}
