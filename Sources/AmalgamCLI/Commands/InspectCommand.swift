import AmalgamIO
import ArgumentParser

/// `amalgam inspect PATH`: the tensors of a checkpoint, and a summary.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a checkpoint's tensors (name, dtype, shape, parameters, bytes, shard) and summarize it.",
        discussion: """
            PATH is a model folder (single or sharded safetensors), one .safetensors file, or an \
            org/name[@revision] already in the local Hugging Face cache. Every header is validated; \
            no tensor data is read unless --stats is given.
            """
    )

    @Argument(help: "Model folder, .safetensors file, or cached org/name[@revision].")
    var path: String

    @Flag(name: .long, help: "Print one JSON object {\"summary\": {...}, \"tensors\": [...]} instead of the table.")
    var json = false

    @Flag(name: .long, help: "Add per-tensor min, max, mean, std and NaN/Inf counts (reads every tensor, on all cores).")
    var stats = false

    @OptionGroup var threading: ThreadOptions

    func run() throws {
        try AmalgamRuntime.run {
            let checkpoint = try Checkpoint(opening: path)
            let report = try InspectReport(checkpoint: checkpoint, statistics: stats, threads: threading.resolvedThreads)
            print(json ? try report.json() : report.text())
        }
    }
}
